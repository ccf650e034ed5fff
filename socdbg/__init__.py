"""socdbg: an interactive register-level debug shell for SoC and ML-accelerator bring-up.

``socdbg.connect(target, map)`` opens the Python API (see socdbg.api); it is imported on
first use so the command line starts fast.
"""

from typing import Any

from socdbg.version import __version__ as __version__


def connect(target: str = "sim", map: Any = None, debug: bool = False,
            allow_writes: bool = False, force_unsafe: bool = False) -> Any:
    """Open a target with a map and return a :class:`socdbg.api.Chip` (see socdbg.api)."""
    from socdbg.api import connect as _connect

    return _connect(target, map, debug, allow_writes, force_unsafe)
