"""The register model: map, registers, fields, lookups, value codec and the map cache.

Maps come from SystemRDL, CMSIS-SVD or IP-XACT (``load_map`` picks the loader). The loaders
themselves (``load_svd``, ``compile_ipxact``) are imported on first use, so that importing this
package stays cheap. Imports nothing of socdbg's but the leaf ``socdbg.errors``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from socdbg.regmap.cache import FORMATS, detect_format, load_map
from socdbg.regmap.codec import Decoded, FieldValue, decode, encode, parse_int
from socdbg.regmap.model import (
    Access,
    EnumMember,
    Field,
    FieldEnum,
    Layout,
    MapSource,
    Memory,
    OnRead,
    OnWrite,
    Register,
)
from socdbg.regmap.regmap import RegMap

if TYPE_CHECKING:
    from socdbg.regmap.ipxact import compile_ipxact
    from socdbg.regmap.svd import load_svd

__all__ = [
    "FORMATS", "Access", "Decoded", "EnumMember", "Field", "FieldEnum", "FieldValue", "Layout",
    "MapSource", "Memory", "OnRead", "OnWrite", "RegMap", "Register", "compile_ipxact",
    "decode", "detect_format", "encode", "load_map", "load_svd", "parse_int",
    "reference_map_path",
]


def __getattr__(name: str) -> Any:
    if name == "load_svd":
        from socdbg.regmap.svd import load_svd

        return load_svd
    if name == "compile_ipxact":
        from socdbg.regmap.ipxact import compile_ipxact

        return compile_ipxact
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def reference_map_path() -> Path:
    """``registers/soc.rdl`` of the source tree socdbg runs from (installed with ``pip -e``)."""
    return Path(__file__).resolve().parents[2] / "registers" / "soc.rdl"
