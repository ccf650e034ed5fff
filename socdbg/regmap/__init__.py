"""The register model: map, registers, fields, lookups, value codec and the map cache.

Imports nothing of socdbg's but the leaf ``socdbg.errors``.
"""

from __future__ import annotations

from pathlib import Path

from socdbg.regmap.cache import load_map
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

__all__ = [
    "Access", "Decoded", "EnumMember", "Field", "FieldEnum", "FieldValue", "Layout",
    "MapSource", "Memory", "OnRead", "OnWrite", "RegMap", "Register", "decode", "encode",
    "load_map", "parse_int", "reference_map_path",
]


def reference_map_path() -> Path:
    """``registers/soc.rdl`` of the source tree socdbg runs from (installed with ``pip -e``)."""
    return Path(__file__).resolve().parents[2] / "registers" / "soc.rdl"
