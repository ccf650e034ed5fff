"""socdbg: an interactive register-level debug shell for SoC and ML-accelerator bring-up."""

__version__ = "0.1.0"
