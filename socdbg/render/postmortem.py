"""Views of postmortem diffs."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from socdbg.postmortem import FieldChange
from socdbg.render.plain import addr_text
from socdbg.render.regs import pin_widths


class DiffView:
    def __init__(self, a: str, b: str, changes: Sequence[FieldChange], only_a: Sequence[str],
                 only_b: Sequence[str], notes: Sequence[str], memory: Sequence[str] = (),
                 memory_differs: bool = False) -> None:
        self.a, self.b = a, b
        self.changes, self.only_a, self.only_b, self.notes = changes, only_a, only_b, notes
        self.memory, self.memory_differs = memory, memory_differs

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for note in self.notes:
            yield Text(f"note: {note}", style="yellow")
        if not (self.changes or self.only_a or self.only_b):
            for line in self.memory:
                yield Text(line, style="yellow")
            same = "no register differences" if self.memory_differs else "no differences"
            yield Text(f"{same} between {self.a} and {self.b}", style="green")
            return
        if self.changes:
            # the sides as A and B with a legend: file paths as headers would push the value
            # columns off a narrow table
            yield Text(f"A = {self.a}", style="red")
            yield Text(f"B = {self.b}", style="green")
            regs = len({c.register for c in self.changes})
            table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left",
                          title=f"{regs} register(s) differ")
            table.add_column("register", no_wrap=True)
            table.add_column("address", style="cyan", no_wrap=True)
            table.add_column("field", no_wrap=True)
            table.add_column("A", no_wrap=True, style="red")
            table.add_column("B", no_wrap=True, style="green")
            last = None
            for c in self.changes:
                first = c.register != last
                last = c.register
                table.add_row(c.register if first else "",
                              addr_text(c.address) if first and c.address >= 0 else "",
                              c.field, c.old, c.new)
            yield pin_widths(table, options.max_width)
        for path in self.only_a:
            yield Text(f"only in {self.a}: {path}", style="yellow")
        for path in self.only_b:
            yield Text(f"only in {self.b}: {path}", style="yellow")
        for line in self.memory:
            yield Text(line, style="yellow")
