"""Block views: DMA channels, the NoC mesh."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from socdbg.render.plain import addr_text


def channel_state(ch: dict[str, Any]) -> Text:
    if ch["error"] is not None:
        return Text(f"ERROR {ch['error']}", style="bold red")
    if ch["busy"]:
        return Text("busy", style="bold yellow")
    if ch["done"]:
        return Text("done", style="green")
    return Text("idle" if ch["enabled"] else "off", style="dim")


class DmaView:
    def __init__(self, channels: Sequence[dict[str, Any]]) -> None:
        self.channels = channels

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(header_style="bold", pad_edge=False)
        for name in ("ch", "state", "mode", "source", "destination", "progress", "bytes"):
            table.add_column(name, no_wrap=True)
        for ch in self.channels:
            total = ch["len"] if ch["mode"] == "SINGLE" else max(ch["len"], ch["bytes_done"])
            bar = ProgressBar(total=max(total, 1), completed=min(ch["bytes_done"],
                                                               max(total, 1)), width=20)
            mode = str(ch["mode"])
            if "ring_head" in ch:
                mode += f" {ch['ring_head']}->{ch['ring_tail']}/{ch['desc_count']}"
            table.add_row(str(ch["channel"]), channel_state(ch), mode, addr_text(ch["src"]),
                          addr_text(ch["dst"]), bar, f"{ch['bytes_done']}/{ch['len']}")
        yield table
