"""Views of script results: the field-level table of recorded-vs-observed mismatches."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from socdbg.regmap import RegMap, decode
from socdbg.render.regs import pin_widths


class Mismatch:
    """One failed register check: where, register, expected (recorded) and observed."""

    def __init__(self, where: str, path: str, field: str | None, expected: int,
                 observed: int) -> None:
        self.where, self.path, self.field = where, path, field
        self.expected, self.observed = expected, observed


class MismatchTable:
    """Every mismatch, field by field: a register check that failed is split into the fields
    that differ, with enum names, so the difference between two targets reads directly."""

    def __init__(self, rmap: RegMap, mismatches: Sequence[Mismatch]) -> None:
        self.rmap = rmap
        self.mismatches = mismatches

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        out = []
        for m in self.mismatches:
            reg = self.rmap.find(m.path)
            if reg is None or m.field is not None:
                out.append((m.where, m.path, m.field or "", hex(m.expected), hex(m.observed)))
                continue
            want, got = decode(reg, m.expected), decode(reg, m.observed)
            for a, b in zip(want.fields, got.fields, strict=True):
                if a.value != b.value:
                    out.append((m.where, reg.path, a.field.name, a.text, b.text))
            reserved = (m.expected ^ m.observed) & ~reg.layout.field_mask
            if reserved:
                out.append((m.where, reg.path, "(reserved)", hex(m.expected & reserved),
                            hex(m.observed & reserved)))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left",
                      title=f"{len(self.mismatches)} check(s) differ")
        for name in ("where", "register", "field", "recorded", "observed"):
            table.add_column(name, no_wrap=True)
        for where, path, fld, want, got in self.rows():
            table.add_row(where, path, fld, Text(want, style="green"), Text(got, style="red"))
        yield pin_widths(table, options.max_width)
