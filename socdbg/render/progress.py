"""The one progress bar of long commands (load, dump, butr): shown only on a terminal and
only for work large enough to be worth watching; silent otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported only when a bar is shown: commands load at start-up
    from rich.console import Console


class Stopped(KeyboardInterrupt):
    """Ctrl-C during long work, with where it stopped (``stopped at cycle 1,234,567 after
    ...``): the shell prints it after ``cancelled``, a one-shot command on stderr."""


@contextmanager
def progress(console: Console, total: int, label: str, minimum: int, unit: str = "items"
             ) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``. ``unit="bytes"`` shows sizes and a transfer speed, ``"cycles"``
    simulated cycles and their rate."""
    if total < minimum or not console.is_terminal:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TransferSpeedColumn,
    )

    columns = ([DownloadColumn(), TransferSpeedColumn()] if unit == "bytes"
               else [MofNCompleteColumn()])
    with Progress("[progress.description]{task.description}", BarColumn(), *columns,
                  console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
