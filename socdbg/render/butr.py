"""The BUTR report: failures field by field, skips with their reasons, a summary."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from socdbg.butr import FAIL, PASS, SKIP, Report
from socdbg.render.regs import pin_widths

STYLE = {PASS: "green", FAIL: "bold red", SKIP: "yellow"}


class ButrView:
    def __init__(self, report: Report, registers: int, show_all: bool = False) -> None:
        self.report = report
        self.registers = registers
        self.show_all = show_all

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        shown = [c for c in self.report.checks if self.show_all or c.status == FAIL]
        if shown:
            table = Table(box=None, pad_edge=False, header_style="bold")
            for name in ("register", "check", "result", "field", "expected", "observed",
                         "why"):
                table.add_column(name, no_wrap=name != "why")
            for c in shown:
                rows = c.fields or [("", "", "")]
                for i, (f, e, g) in enumerate(rows):
                    table.add_row(c.register if i == 0 else "", c.check if i == 0 else "",
                                  Text(c.status, style=STYLE[c.status]) if i == 0 else "",
                                  f, e, g, c.detail if i == 0 else "")
            yield pin_widths(table, options.max_width)
        r = self.report
        # the summary of every runner: N checks passed, M failed (what ran)
        passed = r.count(PASS)
        summary = Text(f"{passed} {'check' if passed == 1 else 'checks'} passed", style="green")
        summary.append(", ")
        summary.append(f"{r.count(FAIL)} failed", style="bold red" if r.count(FAIL) else "")
        registers = f"{self.registers} {'register' if self.registers == 1 else 'registers'}"
        summary.append(f" ({registers} tested, {r.count(SKIP)} skipped")
        if not self.show_all and r.count(SKIP):
            summary.append("; --all lists every check and why", style="dim")
        summary.append(")")
        yield summary
        if any(c.check == "reset" and c.status == FAIL for c in r.checks):
            yield Text("reset checks compare with the values after reset: after the chip has "
                       "run, use --skip-reset", style="dim")
