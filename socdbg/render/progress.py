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
def counted(total: int, label: str, unit: str = "items") -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)`` that only counts (no bar, no console, so no rich): a Ctrl-C inside
    the block becomes :class:`Stopped`, saying how far the work got."""
    done = [0]

    def count(n: int) -> None:
        done[0] += n

    try:
        yield count
    except Stopped:
        raise
    except KeyboardInterrupt:
        raise Stopped(f"{label}: stopped after {done[0]:,} of {total:,} {unit}") from None


@contextmanager
def progress(console: Console, total: int, label: str, minimum: int, unit: str = "items"
             ) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``. ``unit="bytes"`` shows sizes and a transfer speed, ``"cycles"``
    simulated cycles. A Ctrl-C inside the block becomes :class:`Stopped`, saying how far the
    work got (``load fw.elf: stopped after 1,048,576 of 4,194,304 bytes``)."""
    if total < minimum or not console.is_terminal:
        with counted(total, label, unit) as advance:
            yield advance
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
                  console=console, transient=True) as bar, \
            counted(total, label, unit) as count:
        task = bar.add_task(label, total=total)

        def shown(n: int) -> None:
            count(n)
            bar.advance(task, n)

        yield shown
