"""How a session shows things: the rich console, a command's Output as text, a view or JSON,
the pager on a terminal, and capturing all of it into a string (``monitor`` output of the
server). One per session (``session.presenter``); rich is imported only when a view needs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

    from socdbg.commands.output import Output


class Presenter:
    """``out``: the stream (default stdout); ``width``: the console's width (default: the
    terminal's, 120 into a pipe); ``color``: force colour on or off (None: a terminal has it
    unless NO_COLOR); ``pager``: long output on a terminal goes through a pager
    (socdbg/pager.py)."""

    def __init__(self, out: TextIO | None = None, width: int | None = None,
                 color: bool | None = None, pager: bool = True) -> None:
        self.pager = pager
        self._out = out
        self._width = width
        self._color = color
        self._console: Console | None = None

    @property
    def out(self) -> TextIO:
        """The stream everything is shown on."""
        return self._out or sys.stdout

    @contextlib.contextmanager
    def capture(self, width: int = 100, limit: int | None = None) -> Iterator[io.StringIO]:
        """Send everything commands print into a string (``monitor`` output of the server);
        past ``limit`` characters the rest is dropped and ``buf.truncated`` is set."""
        saved = (self._out, self._console, self._width, self._color)
        buf = io.StringIO() if limit is None else CappedBuffer(limit)
        self._out, self._console, self._width, self._color = buf, None, width, False
        try:
            yield buf
        finally:
            self._out, self._console, self._width, self._color = saved

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = self.out
            width = self._width
            if width is None and not stream.isatty() and "COLUMNS" not in os.environ:
                width = 120  # piped into a file or a pager: do not squeeze tables to 80
            self._console = Console(file=stream, width=width,
                                    force_terminal=self._color,
                                    # None lets rich honour NO_COLOR
                                    no_color=True if self._color is False else None,
                                    highlight=False, soft_wrap=False, emoji=False)
        return self._console

    @property
    def color_lines(self) -> bool:
        """Whether streamed plain lines (``peek``) carry ANSI colours: on a terminal, unless
        colour is off for this session or NO_COLOR is set."""
        if self._color is not None:
            return self._color
        return self.out.isatty() and not os.environ.get("NO_COLOR")

    def emit(self, output: Output | None) -> None:
        """Show a command's output: JSON for --json, else its rich view or text."""
        if output is None:
            return
        stream = self.out
        if output.as_json:
            stream.write(json.dumps(output.data, indent=2, default=_json_default) + "\n")
            stream.flush()
            return
        if output.stream is not None:
            if self._console is not None:
                self._console.file.flush()
            self._show(output.stream, stream)
        elif output.render is not None:
            self._print(output.render(), stream)
        elif output.text is not None:
            # plain text needs no rich (a one-shot write should not pay for importing it)
            if self._console is not None:
                self._console.file.flush()
            colour = not output.ok and self._color is not False and stream.isatty()
            text = f"\033[1;31m{output.text}\033[0m" if colour else output.text
            self._show([text], stream)

    def _show(self, lines: Iterable[str], stream: TextIO) -> None:
        """Plain lines: through the pager when they outgrow the terminal, else as they are
        (into a pipe: no trailing spaces)."""
        if stream.isatty():  # the pager (and subprocess) only for a terminal
            import shutil

            from socdbg.pager import pager_command, show

            height = shutil.get_terminal_size().lines - 1
            show(lines, stream, height, pager_command(not self.pager))
            return
        for line in lines:
            stream.write("\n".join(part.rstrip() for part in line.split("\n")) + "\n")
        stream.flush()

    def _print(self, renderable: Any, stream: TextIO) -> None:
        """A rich view: on a terminal, through the pager when taller than the screen; into a
        pipe as plain text (no trailing spaces, no box drawing)."""
        from socdbg.pager import pager_command, plain

        console = self.console
        if console.is_terminal:
            pager = pager_command(not self.pager)
            if pager is None:
                console.print(renderable)
                return
            with console.capture() as cap:
                console.print(renderable)
            from socdbg.pager import show

            show([cap.get().rstrip("\n")], console.file, console.height - 1, pager)
            return
        with console.capture() as cap:
            console.print(renderable)
        console.file.write(plain(cap.get()))
        console.file.flush()


class CappedBuffer(io.StringIO):
    """A StringIO that keeps the first ``limit`` characters written and drops the rest."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.truncated = False

    def write(self, s: str) -> int:
        room = self.limit - self.tell()
        if len(s) > room:
            self.truncated = True
            if room > 0:
                super().write(s[:room])
            return len(s)
        return super().write(s)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
