"""socdbg's version, a leaf module: what files it writes (dumps, VCD traces) record, without
importing the package's public API (``socdbg/__init__`` re-exports it as ``__version__``)."""

__version__ = "0.1.0"
