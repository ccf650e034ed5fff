"""Where a command's text goes: a pager when it is longer than the terminal, plain lines
when it goes into a pipe or a file.

On a terminal, output taller than the screen is shown through ``less -R`` (as git and
pgcli do), or through ``$SOCDBG_PAGER`` when set; ``SOCDBG_PAGER=off`` (or an empty
value, or ``socdbg --no-pager``) turns paging off. The pager is started only once the
output has proved longer than a screen, so a streamed output (``peek``) is read no further
than the pager asks for: quitting ``less`` stops the reads.

Into a pipe, lines carry no trailing spaces and no box-drawing characters.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from typing import IO

#: box drawing (U+2500..U+257F) as plain ASCII (block elements, the shades of a heat map,
#: carry meaning and stay)
_ASCII = {cp: ("-" if cp in (0x2500, 0x2501, 0x2504, 0x2505, 0x2508, 0x2509, 0x254C, 0x254D,
                             0x2550, 0x2574, 0x2576, 0x2578, 0x257A, 0x257C, 0x257E)
               else "|" if cp in (0x2502, 0x2503, 0x2506, 0x2507, 0x250A, 0x250B, 0x254E,
                                  0x254F, 0x2551, 0x2575, 0x2577, 0x2579, 0x257B, 0x257D,
                                  0x257F)
               else "+")
          for cp in range(0x2500, 0x2580)}


def plain(text: str) -> str:
    """``text`` for a pipe: box-drawing characters as ASCII, no trailing spaces."""
    lines = text.translate(_ASCII).split("\n")
    return "\n".join(line.rstrip() for line in lines)


def pager_command(disabled: bool = False) -> list[str] | None:
    """The pager to use on a terminal, or None when paging is off or no pager exists."""
    if disabled:
        return None
    chosen = os.environ.get("SOCDBG_PAGER")
    if chosen is not None:
        if chosen.strip().lower() in ("", "off", "no", "0", "cat"):
            return None
        words = shlex.split(chosen)
    else:
        words = ["less", "-R"]
    return words if words and shutil.which(words[0]) else None


def show(lines: Iterable[str], stream: IO[str], height: int, pager: list[str] | None
         ) -> None:
    """Write ``lines`` (each without its newline) to ``stream``; once more than ``height``
    lines have come and a ``pager`` is given, send them all through the pager instead."""
    it = iter(lines)
    head: list[str] = []
    for line in it:
        head.extend(line.split("\n"))
        if pager is not None and len(head) > height:
            _page(head, it, pager, stream)
            return
    if head:
        stream.write("\n".join(head) + "\n")
    stream.flush()


def _page(head: list[str], rest: Iterable[str], pager: list[str], stream: IO[str]) -> None:
    stream.flush()
    env = dict(os.environ)
    env.setdefault("LESS", "-R")
    try:
        proc = subprocess.Popen(pager, stdin=subprocess.PIPE, text=True, env=env,
                                encoding="utf-8", errors="replace")
    except OSError:  # the pager went away: print instead
        stream.write("\n".join(head) + "\n")
        for line in rest:
            stream.write(line + "\n")
        stream.flush()
        return
    assert proc.stdin is not None
    try:
        proc.stdin.write("\n".join(head) + "\n")
        for line in rest:
            proc.stdin.write(line + "\n")
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the user quit the pager: the rest is not wanted (nor read)
    except KeyboardInterrupt:
        proc.terminate()
        raise
    finally:
        proc.wait()
