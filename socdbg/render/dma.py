"""The DMA view: one row per channel (state, mode, addresses, progress) and why a start
would be ignored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.box import HEAVY_HEAD
from rich.console import Console, ConsoleOptions, RenderResult
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from socdbg.render.plain import addr_text


def channel_state(ch: dict[str, Any]) -> Text:
    if ch.get("enabled") is None and ch.get("blocked"):
        return Text("reset", style="bold yellow")
    if ch["error"] is not None:
        return Text(f"ERROR {ch['error']}", style="bold red")
    if ch["busy"]:
        return Text("busy", style="bold yellow")
    if ch["done"]:
        return Text("done", style="green")
    return Text("idle" if ch["enabled"] else "off", style="dim")


class DmaView:
    """One row per channel. Columns are dropped from the right, least needed first
    (progress bar, destination, source), so the channel number and its state stay readable
    at 60 columns; below the table, why a start on each channel would be ignored."""

    #: (header, importance): lower importance goes first when the width runs out
    COLUMNS = (("ch", 0), ("state", 0), ("mode", 1), ("source", 4), ("destination", 3),
               ("progress", 5), ("bytes", 2))

    def __init__(self, channels: Sequence[dict[str, Any]]) -> None:
        self.channels = channels

    def _cells(self, ch: dict[str, Any], terminal: bool) -> dict[str, Any]:
        if ch.get("enabled") is None:
            return {"ch": str(ch["channel"]), "state": channel_state(ch)}
        total = ch["len"] if ch["mode"] == "SINGLE" else max(ch["len"], ch["bytes_done"])
        mode = str(ch["mode"])
        if "ring_head" in ch:
            mode += f" {ch['ring_head']}->{ch['ring_tail']}/{ch['desc_count']}"
        return {"ch": str(ch["channel"]), "state": channel_state(ch), "mode": mode,
                "source": addr_text(ch["src"]), "destination": addr_text(ch["dst"]),
                "progress": ProgressBar(total=max(total, 1),
                                        completed=min(ch["bytes_done"], max(total, 1)),
                                        width=20) if terminal else
                f"{100 * min(ch['bytes_done'], max(total, 1)) // max(total, 1)}%",
                "bytes": f"{ch['bytes_done']}/{ch['len']}"}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        terminal = console.is_terminal  # a pipe gets no box drawing and no bar
        rows = [self._cells(ch, terminal) for ch in self.channels]

        def width(name: str) -> int:
            cells = [r[name] for r in rows if name in r]
            texts = [len(c) if isinstance(c, str | Text) else 20 for c in cells]
            # a box costs 3 cells per column, no box the 2 cells of padding
            return max([len(name), *texts])

        chosen = [name for name, _ in self.COLUMNS if any(name in r for r in rows)]
        drop = sorted((imp, name) for name, imp in self.COLUMNS if imp > 0 and name in chosen)
        while chosen and sum(width(n) + 3 for n in chosen) + 1 > options.max_width and drop:
            chosen.remove(drop.pop()[1])
        table = Table(header_style="bold", pad_edge=False, box=HEAVY_HEAD if terminal else None)
        for name in chosen:
            table.add_column(name, no_wrap=True, min_width=min(width(name), 14)
                             if name in ("ch", "state") else None,
                             overflow="ellipsis")
        for r in rows:
            table.add_row(*(r.get(name, "") for name in chosen))
        yield table
        reasons: dict[str, list[int]] = {}
        for ch in self.channels:
            if ch.get("blocked"):
                reasons.setdefault(ch["blocked"], []).append(ch["channel"])
        for why, chans in reasons.items():
            which = (f"ch {chans[0]}" if len(chans) == 1
                     else f"ch {chans[0]}-{chans[-1]}" if chans == list(range(chans[0],
                                                                          chans[-1] + 1))
                     else "ch " + ",".join(map(str, chans)))
            yield Text.assemble((f"{which}: ", "bold"), "a start would be ignored: ",
                                (why, "yellow"))
