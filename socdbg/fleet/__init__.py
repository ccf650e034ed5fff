"""Fleet operations: a script or a dump on every target of a list, in parallel on Dask
distributed (:mod:`socdbg.fleet.engine`), and DuckDB SQL over many dumps through a Parquet
index (:mod:`socdbg.fleet.index`, :mod:`socdbg.fleet.query`). docs/fleet.md is the user's guide.

Dask and DuckDB are the optional extra ``socdbg[fleet]``: they are imported only by the code
that uses them, and :func:`need` turns their absence into one line saying how to install them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from socdbg.errors import UsageError

INSTALL = "pip install 'socdbg[fleet]'"


def need(module: str) -> ModuleType:
    """Import ``module`` (``distributed``, ``duckdb``), or fail with how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"{module} is not installed: fleet commands need the 'fleet' extra",
                         INSTALL) from None
