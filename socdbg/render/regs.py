"""Rich views of the register map itself (no target): lists, one register's layout, finds.

Views implement ``__rich_console__``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from socdbg.regmap import Field, Memory, Register


def pin_widths(table: Table, total: int | None = None) -> Table:
    """Keep narrow columns (paths, addresses, values) whole and give the last column (a
    description) what is left of ``total`` cells, so tables stay one line per row."""
    used = 0
    for col in table.columns[:-1]:
        cells = [Text.from_markup(c) if isinstance(c, str) else c for c in col.cells]
        widths = [c.cell_len for c in cells if isinstance(c, Text)]
        header = Text.from_markup(col.header) if isinstance(col.header, str) else None
        col.min_width = max([*widths, header.cell_len if header else 0])
        used += col.min_width + 1
    if total is not None and table.columns:
        table.columns[-1].max_width = max(12, total - used)
    return table


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


class RegisterList:
    """``regs list``: one row per register (and memory regions)."""

    def __init__(self, regs: Sequence[Register], memories: Sequence[Memory] = (),
                 total: int | None = None) -> None:
        self.regs = regs
        self.memories = memories
        self.total = total

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("register", no_wrap=True)
        table.add_column("address", style="cyan", no_wrap=True)
        table.add_column("bits", justify="right", no_wrap=True)
        table.add_column("reset", style="magenta", no_wrap=True)
        table.add_column("description", overflow="ellipsis", no_wrap=True)
        for r in self.regs:
            table.add_row(r.path, addr_text(r.address), str(r.width), register_reset(r),
                          r.description)
        for m in self.memories:
            table.add_row(Text(m.path, style="green"), addr_text(m.address),
                          str(m.width), "", f"memory, {size_text(m.size)}")
        yield pin_widths(table, options.max_width)
        shown = len(self.regs)
        if self.total is not None and self.total > shown:
            yield Text(f"... {shown} of {self.total} registers shown", style="dim")


def size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


class RegisterLayout:
    """``regs show``: a register's address, width, reset and one row per field."""

    def __init__(self, reg: Register) -> None:
        self.reg = reg

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        r = self.reg
        flags = [name for name, on in (("unsafe_read", r.layout.unsafe_read),
                                       ("unsafe_write", r.layout.unsafe_write),
                                       ("write_effects", r.layout.write_effects)) if on]
        head = Text.assemble(
            (r.path, "bold"), "  ", (addr_text(r.address), "cyan"),
            f"  {r.width} bits",
            f" (accessed {r.accesswidth})" if r.accesswidth != r.width else "",
            "  reset ", (register_reset(r), "magenta"),
            ("  " + " ".join(flags), "yellow") if flags else "",
        )
        parts: list[Any] = [head]
        if r.name and r.name != r.path.rsplit(".", 1)[-1]:
            parts.append(Text(r.name, style="italic"))
        if r.description:
            parts.append(Text(r.description, style="dim"))
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("bits", justify="right", style="cyan", no_wrap=True)
        table.add_column("field", no_wrap=True)
        table.add_column("access", no_wrap=True)
        table.add_column("effects", style="yellow", no_wrap=True)
        table.add_column("reset", style="magenta", no_wrap=True)
        table.add_column("values / description", overflow="fold")
        for f in sorted(r.fields, key=lambda f: -f.lsb):
            desc = enum_text(f)
            if f.description:
                desc = f"{desc}  {f.description}" if desc else f.description
            table.add_row(f.bits, f.name, access_text(f), f.effects, reset_text(f), desc)
        parts.append(pin_widths(table, options.max_width))
        yield Group(*parts)


class SearchResults:
    """``regs find`` / ``find``: matches and why they matched."""

    def __init__(self, hits: Sequence[tuple[Register, str]], memories: Sequence[Memory] = (),
                 text: str = "") -> None:
        self.hits = hits
        self.memories = memories
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.hits and not self.memories:
            yield Text(f"nothing matches '{self.text}'", style="yellow")
            return
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("register", no_wrap=True)
        table.add_column("address", style="cyan", no_wrap=True)
        table.add_column("matched", overflow="ellipsis", no_wrap=True)
        for reg, why in self.hits:
            table.add_row(reg.path, addr_text(reg.address), why)
        for m in self.memories:
            table.add_row(Text(m.path, style="green"), addr_text(m.address), "memory")
        yield pin_widths(table, options.max_width)


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
