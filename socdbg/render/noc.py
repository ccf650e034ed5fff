"""The NoC mesh as a heat map, and the report of a synthetic traffic run.

The grid has the routers at even positions (column ``2x``, row ``2y``, row 0 at the top: North
is ``y - 1``) and the links between them: a horizontal link cell shows the value of each
direction (``→`` the E output of the router on its left, ``←`` the W output of the one on its
right), a vertical one likewise (``↓`` S of the router above, ``↑`` N of the one below). Each
router cell shows its LOCAL value. Every number is coloured by its fraction of the busiest
value shown. A mesh too wide for the console is drawn with one shade character per direction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

#: (upper bound of the fraction of the busiest value, style, shade character)
_SCALE = ((0.25, "blue", "░"), (0.5, "green", "▒"), (0.75, "yellow", "▓"),
          (0.999999, "red", "█"), (float("inf"), "bold red", "█"))


def _grade(value: float, top: float) -> tuple[str, str]:
    """(style, shade character) of ``value`` against the busiest value ``top``."""
    if value <= 0 or top <= 0:
        return "dim", "·"
    frac = value / top
    for bound, style, shade in _SCALE:
        if frac <= bound:
            return style, shade
    return _SCALE[-1][1], _SCALE[-1][2]  # pragma: no cover - the last bound is infinite


def format_value(value: float, integer: bool) -> str:
    """A compact number: counts with k/M suffixes, rates with two decimals (``<.01`` for a
    rate that is not zero but rounds to it)."""
    if value == 0:
        return "0"
    if not integer:
        text = f"{value:.2f}"
        return "<.01" if text == "0.00" else text
    n = int(value)
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.0f}k" if n >= 100_000 else f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


class NocHeatMap:
    """``links[(router, direction)]``: the value of the link leaving ``router`` towards
    ``direction`` (N, E, S, W); ``local[router]``: the router's LOCAL value."""

    def __init__(self, size_x: int, size_y: int, links: Mapping[tuple[int, str], float],
                 local: Sequence[float], *, title: str, unit: str, local_label: str,
                 integer: bool) -> None:
        self.size_x = size_x
        self.size_y = size_y
        self.links = links
        self.local = local
        self.title = title
        self.unit = unit
        self.local_label = local_label
        self.integer = integer
        self.top = max([*links.values(), *local, 0])

    # --- cells -------------------------------------------------------------------------------
    def _num(self, arrow: str, value: float) -> Text:
        style, _ = _grade(value, self.top)
        return Text(arrow + format_value(value, self.integer), style=style)

    def _router(self, node: int) -> Text:
        text = Text(f"R{node}", style="bold")
        text.append("\n")
        text.append_text(self._num("L", self.local[node]))
        return text

    def _pair(self, first: tuple[str, float], second: tuple[str, float]) -> Text:
        text = self._num(*first)
        text.append("\n")
        text.append_text(self._num(*second))
        return text

    def _cells(self) -> list[list[Text]]:
        X, Y = self.size_x, self.size_y
        rows: list[list[Text]] = []
        for gy in range(2 * Y - 1):
            row: list[Text] = []
            for gx in range(2 * X - 1):
                x, y = gx // 2, gy // 2
                node = y * X + x
                if gx % 2 == 0 and gy % 2 == 0:
                    row.append(self._router(node))
                elif gy % 2 == 0:  # between (x, y) and (x + 1, y)
                    row.append(self._pair(("→", self.links.get((node, "E"), 0)),
                                          ("←", self.links.get((node + 1, "W"), 0))))
                elif gx % 2 == 0:  # between (x, y) and (x, y + 1)
                    row.append(self._pair(("↓", self.links.get((node, "S"), 0)),
                                          ("↑", self.links.get((node + X, "N"), 0))))
                else:
                    row.append(Text(""))
            rows.append(row)
        return rows

    def _shade(self, value: float) -> Text:
        style, shade = _grade(value, self.top)
        return Text(shade, style=style)

    def _compact(self) -> Table:
        X, Y = self.size_x, self.size_y
        table = Table.grid(padding=(0, 1))
        for _ in range(2 * X - 1):
            table.add_column(no_wrap=True)
        for gy in range(2 * Y - 1):
            cells: list[Text] = []
            for gx in range(2 * X - 1):
                x, y = gx // 2, gy // 2
                node = y * X + x
                if gx % 2 == 0 and gy % 2 == 0:
                    cells.append(Text.assemble(("o", "bold"), self._shade(self.local[node])))
                elif gy % 2 == 0:
                    cells.append(Text.assemble(self._shade(self.links.get((node, "E"), 0)),
                                               self._shade(self.links.get((node + 1, "W"), 0))))
                elif gx % 2 == 0:
                    cells.append(Text.assemble(self._shade(self.links.get((node, "S"), 0)),
                                               self._shade(self.links.get((node + X, "N"),
                                                                          0))))
                else:
                    cells.append(Text("  "))
            table.add_row(*cells)
        return table

    def _busiest(self, n: int = 4) -> Text:
        ranked = sorted(((v, k) for k, v in self.links.items() if v > 0),
                        key=lambda item: (-item[0], item[1]))[:n]
        if not ranked:
            return Text("no traffic on any link", style="dim")
        text = Text("busiest links: ", style="dim")
        for i, (value, (node, direction)) in enumerate(ranked):
            if i:
                text.append(", ")
            text.append(f"R{node} {direction} ")
            text.append(format_value(value, self.integer), style=_grade(value, self.top)[0])
        return text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        cells = self._cells()
        widths = [max(max(len(line) for line in row[c].plain.split("\n")) for row in cells)
                  for c in range(len(cells[0]))]
        full = sum(widths) + 2 * len(widths) + 4 <= options.max_width
        parts: list[Any] = [Text(self.title, style="bold")]
        if full:
            table = Table.grid(padding=(0, 2))
            table.add_column(style="cyan", no_wrap=True)
            for _ in widths:
                table.add_column(no_wrap=True)
            table.add_row("", *[Text(f"x{c // 2}", style="cyan") if c % 2 == 0 else ""
                                for c in range(len(widths))])
            for gy, row in enumerate(cells):
                table.add_row(f"y{gy // 2}" if gy % 2 == 0 else "", *row)
            parts.append(table)
            parts.append(Text(f"→ E  ← W  ↓ S  ↑ N (North is y-1), in {self.unit}; "
                              f"L: {self.local_label}", style="dim"))
        else:
            parts.append(self._compact())
            parts.append(Text(f"o· a router, shaded by its {self.local_label}; link cells: E "
                              "then W, or S then N (North is y-1); shades of the busiest "
                              f"({format_value(self.top, self.integer)} {self.unit}): · 0  "
                              "░ ≤25%  ▒ ≤50%  ▓ ≤75%  █ >75%", style="dim"))
        parts.append(self._busiest())
        yield Group(*parts)


class TrafficReport:
    """``noc traffic``: the statistics of the run, then its link utilisation heat map."""

    def __init__(self, stats: Mapping[str, Any], heat: NocHeatMap) -> None:
        self.stats = stats
        self.heat = heat

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        s = self.stats
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(style="dim")
        pct = s["accepted_pct_of_bound"]
        table.add_row("offered", f"{s['offered']:.3f}", "flits/node/cycle")
        table.add_row("injected", f"{s['injected']:.3f}", "flits/node/cycle, created in the "
                      "window")
        table.add_row("accepted", f"{s['accepted']:.3f}", "flits/node/cycle, ejected in the "
                      "window")
        table.add_row("bound", f"{s['bound']:.3f}",
                      f"channel-load bound of {s['pattern']} traffic on these routes")
        table.add_row("accepted/bound", Text(f"{pct:.1f}%", style="bold"), "")
        table.add_row("latency mean", f"{s['latency_mean']:.1f}",
                      f"cycles, over {s['packets']:,} packets")
        table.add_row("latency p99", str(s["latency_p99"]), f"cycles (max {s['latency_max']})")
        undelivered = s["undelivered"]
        table.add_row("undelivered", Text(str(undelivered),
                                          style="bold yellow" if undelivered else ""),
                      "past saturation: latencies are lower bounds" if undelivered else "")
        mesh = s["mesh"]
        head = Text.assemble(
            (f"{s['pattern']} traffic", "bold"),
            f", {mesh['x']}x{mesh['y']} mesh ({s['routing']}, {s['buffer_depth']}-flit "
            f"buffers, router {s['router_delay']} + link {s['link_delay']} cycles), "
            f"{s['packet_flits']}-flit packets, seed {s['seed']}\n"
            f"warm-up {s['warmup']:,} cycles, then {s['cycles']:,} cycles measured")
        yield Group(head, table, Text(""), self.heat)
