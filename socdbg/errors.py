"""The one exception root and its children.

Every error a user can cause is a :class:`SocdbgError`: the REPL prints it as one red line
(message, then hint) and goes on; the CLI prints it and exits non-zero. Anything else is a bug
and shows a traceback only with ``--debug``.

This module is a leaf: it imports nothing of ours, so every layer (the register model included)
may raise these without pointing an import up the house.
"""

from __future__ import annotations

from collections.abc import Iterable


class SocdbgError(Exception):
    """A user-facing error: a one-line message plus an optional hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class MapError(SocdbgError):
    """A register description could not be compiled or loaded.

    Its message quotes the file (names, values, an XML parser's excerpt), so it is made one
    printable line: a hostile map cannot break the line or send terminal escape sequences."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(one_line(message), one_line(hint) if hint is not None else None)


def one_line(text: str) -> str:
    """``text`` with line breaks, tabs and other control characters made single spaces."""
    if text.isprintable():
        return text
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


class PathError(SocdbgError):
    """A register path, glob or field name does not resolve."""


class EncodeError(SocdbgError):
    """A value does not fit, names an unknown enum member, or writes a read-only field."""


class TargetError(SocdbgError):
    """A target could not be opened, or an access failed (bus error, timeout, refused)."""


class UsageError(SocdbgError):
    """A command line (typed, scripted or from argv) is malformed."""


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The choices closest to ``word``, case-insensitively, best first."""
    import difflib  # here, not at the top: every socdbg import loads this module

    lowered: dict[str, str] = {}
    for choice in choices:
        lowered.setdefault(choice.lower(), choice)
    key = word.lower()
    found = difflib.get_close_matches(key, list(lowered), n=n, cutoff=0.6)
    if not found:
        return []
    # only the best and those about as close: 'raed' suggests 'read', not also 'trace'
    best = difflib.SequenceMatcher(None, key, found[0]).ratio()
    found = [f for f in found if difflib.SequenceMatcher(None, key, f).ratio() >= best - 0.05]
    return [lowered[f] for f in found]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint such as ``did you mean 'status'?``, or None when nothing is close."""
    found = close_matches(word, choices)
    if not found:
        return None
    return "did you mean " + " or ".join(f"'{f}'" for f in found) + "?"
