"""Rich views of the register map itself (no target): lists, one register's layout, finds.

Views implement ``__rich_console__``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from socdbg.regmap import Memory, Register
from socdbg.render.plain import (
    access_text,
    addr_text,
    enum_text,
    register_reset,
    reset_text,
    size_text,
)


def pin_widths(table: Table, total: int | None = None) -> Table:
    """Keep narrow columns (paths, addresses, values, fields) whole and give the last column
    (a description) what is left of ``total`` cells, so tables stay one line per row. A
    description that must be cut (a no-wrap column) ends at a word, with an ellipsis."""
    _, right, _, left = table.padding
    used = 0 if table.pad_edge else -left
    for col in table.columns[:-1]:
        cells = [Text.from_markup(c, emoji=False) if isinstance(c, str) else c
                 for c in col.cells]
        widths = [c.cell_len for c in cells if isinstance(c, Text)]
        header = (Text.from_markup(col.header, emoji=False) if isinstance(col.header, str)
                  else None)
        col.min_width = max([*widths, header.cell_len if header else 0])
        used += col.min_width + left + right
    if total is not None and table.columns:
        last = table.columns[-1]
        room = max(12, total - used - (right if table.pad_edge else 0) - 1)
        last.max_width = room
        if last.no_wrap:
            last._cells = [shorten(c, room) if isinstance(c, str) else c for c in last._cells]
    return table


def stacked(table: Table) -> Group:
    """``table`` without its last column, that column's text under each row instead (wrapped
    at spaces, indented): how a table with a long last column fits a narrow terminal."""
    cols = table.columns[:-1]

    def text(cell: Any, style: str = "") -> Text:
        t = Text.from_markup(cell, emoji=False) if isinstance(cell, str) else Text(str(cell))
        if isinstance(cell, Text):
            t = cell.copy()
        if style:
            t.stylize(style)
        return t

    widths = [max([text(h).cell_len for h in [c.header]] + [text(x).cell_len for x in c._cells])
              for c in cols]

    def line(cells: list[Text]) -> Text:
        out = Text()
        for i, (cell, col, w) in enumerate(zip(cells, cols, widths, strict=True)):
            if i:
                out.append("  ")
            pad = " " * (w - cell.cell_len)
            out.append_text(Text(pad) + cell if col.justify == "right" else cell + Text(pad))
        out.rstrip()
        return out

    rows: list[Any] = []
    if table.show_header:
        rows.append(line([text(c.header, str(table.header_style or "")) for c in cols]))
    last = table.columns[-1]
    for cells in zip(*(c._cells for c in cols), last._cells, strict=True):
        rows.append(line([text(x, str(c.style or "")) for x, c in zip(cells[:-1], cols,
                                                                          strict=True)]))
        below = text(cells[-1], str(last.style or ""))
        if below.plain.strip():
            rows.append(Padding(below, (0, 0, 0, 4)))
    return Group(*rows)


def longest_word(table: Table) -> int:
    """The widest word of the last column (a token a fold must not split)."""
    last = table.columns[-1]
    return max((len(w) for c in last._cells
                for w in (c.plain if isinstance(c, Text) else str(c)).split()), default=0)


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, cut after a whole word and ended with ``…``."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= 3 and text[width - 1] != " ":
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


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
        pin_widths(table, options.max_width)
        if (table.columns[-1].max_width or 0) >= max(longest_word(table), 24):
            parts.append(table)
        else:  # too narrow: each field's values and description go under its row, whole
            parts.append(stacked(table))
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







