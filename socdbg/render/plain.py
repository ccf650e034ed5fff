"""Plain formatting and JSON forms of the register model: no rich, so --json output and
one-line results never import it. The rich views in render/ build on these."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from socdbg.regmap import Field, Memory, Register


def hex_width(value: int, bits: int) -> str:
    return f"0x{value:0{max(1, (bits + 3) // 4)}x}"


def addr_text(address: int) -> str:
    return f"0x{address:08x}" if address < 1 << 32 else f"0x{address:016x}"


def access_text(f: Field) -> str:
    return f"{f.sw}" if f.hw == f.sw else f"sw={f.sw} hw={f.hw}"


def reset_text(f: Field) -> str:
    if f.reset is None:
        return "?"
    if f.enum is not None:
        member = f.enum.by_value(f.reset)
        if member is not None:
            return f"{member.name} ({f.reset})"
    return str(f.reset) if f.width == 1 else hex(f.reset)


def register_reset(reg: Register) -> str:
    """Reset value in hex, with Verilog-style ``x`` nibbles where the reset is unknown."""
    layout = reg.layout
    digits = max(1, (reg.width + 3) // 4)
    known = layout.reset_mask | (~layout.field_mask & ((1 << reg.width) - 1))
    text = f"{layout.reset:0{digits}x}"
    out = []
    for i, ch in enumerate(text):
        shift = (digits - 1 - i) * 4
        out.append(ch if (known >> shift) & 0xF == 0xF else "x")
    return "0x" + "".join(out)


def enum_text(f: Field) -> str:
    if f.enum is None:
        return ""
    return " ".join(f"{m.name}={m.value}" for m in f.enum.members)


def size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


def layout_rows(reg: Register) -> Iterator[dict[str, Any]]:
    for f in reg.fields:
        yield field_json(f)


def field_json(f: Field) -> dict[str, Any]:
    return {
        "name": f.name,
        "lsb": f.lsb,
        "msb": f.msb,
        "sw": str(f.sw),
        "hw": str(f.hw),
        "onread": str(f.onread) if f.onread else None,
        "onwrite": str(f.onwrite) if f.onwrite else None,
        "singlepulse": f.singlepulse,
        "counter": f.counter,
        "reset": f.reset,
        "enum": ({"name": f.enum.name,
                  "members": [{"name": m.name, "value": m.value, "description": m.description}
                              for m in f.enum.members]} if f.enum else None),
        "description": f.description,
    }


def register_json(reg: Register, fields: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": reg.path,
        "address": reg.address,
        "width": reg.width,
        "accesswidth": reg.accesswidth,
        "reset": reg.layout.reset if reg.layout.reset_mask else None,
        "name": reg.name,
        "description": reg.description,
    }
    if fields:
        out["unsafe_read"] = reg.layout.unsafe_read
        out["unsafe_write"] = reg.layout.unsafe_write
        out["write_effects"] = reg.layout.write_effects
        out["fields"] = list(layout_rows(reg))
    return out


def memory_json(m: Memory) -> dict[str, Any]:
    return {"path": m.path, "address": m.address, "size": m.size, "width": m.width,
            "entries": m.entries, "sw": str(m.sw), "description": m.description}
