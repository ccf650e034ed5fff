"""The shell's history: de-duplicated, and a line is kept (in the file, and for grey
suggestions) only once it has run without an error.

prompt_toolkit appends a line to the history when it is accepted, before it runs; the shell
then calls :meth:`ShellHistory.settle` with the outcome. A failed or unknown command stays in
this session's Up-arrow history (to fix the typo) but is neither written to the file nor
suggested. Up with text typed searches the history by that prefix (``enable_history_search``
in the prompt session), as in ptpython.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit.auto_suggest import AutoSuggest, Suggestion
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.history import History

#: History files larger than this are read from their last bytes only.
MAX_READ = 4 << 20


class ShellHistory(History):
    """A history kept in ``path`` (or in memory when None), newest first, each line once."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.pending: str | None = None
        self.failed: set[str] = set()
        super().__init__()

    # --- loading -----------------------------------------------------------------------------
    def load_history_strings(self) -> Iterable[str]:
        if self.path is None:
            return []
        try:
            with open(self.path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - MAX_READ))
                raw = f.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        strings: list[str] = []
        lines: list[str] = []
        for line in raw.splitlines():
            if line.startswith("+"):
                lines.append(line[1:])
            else:
                if lines:
                    strings.append("\n".join(lines))
                lines = []
        if lines:
            strings.append("\n".join(lines))
        seen: set[str] = set()
        newest_first: list[str] = []
        for s in reversed(strings):
            if s not in seen:
                seen.add(s)
                newest_first.append(s)
        return newest_first

    # --- adding --------------------------------------------------------------------------------
    def append_string(self, string: str) -> None:
        """The line was accepted: first in the history (an older copy goes), written to the
        file once :meth:`settle` says it ran."""
        self._loaded_strings = [s for s in self._loaded_strings if s != string]
        self._loaded_strings.insert(0, string)
        self.pending = string

    def settle(self, ok: bool) -> None:
        string, self.pending = self.pending, None
        if string is None:
            return
        if ok:
            self.failed.discard(string)
            self.store_string(string)
        else:
            self.failed.add(string)

    def store_string(self, string: str) -> None:
        if self.path is None:
            return
        try:
            with open(self.path, "ab") as f:
                f.write(f"\n# {datetime.datetime.now()}\n".encode())
                for line in string.split("\n"):
                    f.write(f"+{line}\n".encode())
        except OSError:
            pass  # a read-only history file costs the history, not the shell

    def suggestable(self) -> list[str]:
        """Newest first, without the lines that failed in this session."""
        return [s for s in self._loaded_strings if s not in self.failed]


class SuggestFromGoodHistory(AutoSuggest):
    """prompt_toolkit's history suggestion (grey text), from lines that ran without an
    error only."""

    def get_suggestion(self, buffer: Buffer, document: Document) -> Suggestion | None:
        history = buffer.history
        text = document.text.rsplit("\n", 1)[-1]
        if not text.strip():
            return None
        strings = (history.suggestable() if isinstance(history, ShellHistory)
                   else list(reversed(list(history.get_strings()))))
        for string in strings:
            for line in reversed(string.splitlines()):
                if line.startswith(text) and line != text:
                    return Suggestion(line[len(text) :])
        return None


def join_continued(text: str) -> str:
    """Lines ending in a backslash joined with a space, as scripts join them."""
    return "\n".join(text.splitlines()).replace("\\\n", " ")
