"""The one tokenizer of the command language: the shell, scripts and recordings split lines
here, and recordings write lines with :func:`join`, its inverse.

The rules are POSIX shell quoting, with two additions for register work:

- words are separated by ASCII blanks (space, tab, CR, form feed, vertical tab); any other
  character, non-ASCII spaces included, is part of a word;
- ``'...'`` is literal; ``"..."`` is literal except that ``\\`` escapes ``$ " \\ `` and a
  backtick, and ``${NAME}`` is replaced; outside quotes ``\\`` escapes any character;
- ``#`` at the start of a word (outside quotes) starts a comment to the end of the line;
- ``${NAME}`` (outside single quotes) is replaced by the variable's value, inside the word it
  appears in: it never splits into several words, and quotes in the value are not re-read;
- a Verilog literal with a size (``8'h2a``, ``data=16'd5``) needs no quotes: a ``'`` after
  a run of digits that starts a word (or follows ``=``, ``,`` ...) and is followed by a base
  letter and digits up to the end of the word is part of the word.

A line never contains a line break: scripts split lines on ``\\n`` and ``\\r\\n`` before
they get here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from socdbg.errors import UsageError

BLANKS = " \t\r\f\v\n"
#: What may follow an unquoted size + ``'``: [s] base letter, digits, then the end of word.
_VERILOG_TAIL = re.compile(r"[sS]?[hHdDbBoO][0-9a-fA-F_xXzZ?]+(?=[\s,;)\]}]|$)")
_DIGITS_BEFORE = re.compile(r"(?:^|[^\w'\\])\d+$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Characters that never need quoting in a word.
_SAFE = re.compile(r"[\w@%+=:,./\-\[\]*?&!<>|~^]+", re.ASCII)

Lookup = Callable[[str], str]


class Deferred(Exception):
    """Raised by a lookup that cannot resolve variables yet (the pre-run check)."""


def split(line: str, lookup: Lookup | None = None) -> list[str]:
    """The words of one command line. ``lookup(NAME)`` gives a variable's value (raise
    UsageError for an unknown one); without it ``${NAME}`` is an error."""
    words: list[str] = []
    buf: list[str] = []
    raw: list[str] = []  # the word as typed so far (for the Verilog rule)
    in_word = False
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in BLANKS:
            if in_word:
                words.append("".join(buf))
                buf, raw, in_word = [], [], False
            i += 1
            continue
        if c == "#" and not in_word:
            break
        in_word = True
        if c == "'":
            rawtext = "".join(raw)
            tail = _VERILOG_TAIL.match(line, i + 1)
            if tail is not None and _DIGITS_BEFORE.search(rawtext):
                buf.append("'")
                raw.append("'")
                i += 1
                continue
            end = line.find("'", i + 1)
            if end < 0:
                raise _unclosed("'")
            buf.append(line[i + 1:end])
            raw.append(line[i:end + 1])
            i = end + 1
        elif c == '"':
            i = _double(line, i + 1, buf, lookup)
            raw.append('"')
        elif c == "\\":
            if i + 1 >= n:
                raise UsageError("cannot parse the line: it ends with a backslash",
                                 "quote it: '\\'")
            buf.append(line[i + 1])
            raw.append(line[i:i + 2])
            i += 2
        elif c == "$" and line.startswith("${", i):
            value, i = _variable(line, i, lookup)
            buf.append(value)
            raw.append("$")
        else:
            buf.append(c)
            raw.append(c)
            i += 1
    if in_word:
        words.append("".join(buf))
    return words


def _double(line: str, i: int, buf: list[str], lookup: Lookup | None) -> int:
    """Read a double-quoted part starting after its ``"``; returns the index after it."""
    n = len(line)
    while i < n:
        c = line[i]
        if c == '"':
            return i + 1
        if c == "\\" and i + 1 < n and line[i + 1] in '$"\\`':
            buf.append(line[i + 1])
            i += 2
        elif c == "$" and line.startswith("${", i):
            value, i = _variable(line, i, lookup)
            buf.append(value)
        else:
            buf.append(c)
            i += 1
    raise _unclosed('"')


def _variable(line: str, i: int, lookup: Lookup | None) -> tuple[str, int]:
    end = line.find("}", i + 2)
    if end < 0:
        raise UsageError("cannot parse the line: '${' without a closing '}'",
                         "write ${NAME}, or quote a literal $ as '$' or \\$")
    name = line[i + 2:end]
    if not _NAME.fullmatch(name):
        raise UsageError(f"'${{{name}}}' is not a variable name",
                         "letters, digits and _, not starting with a digit")
    if lookup is None:
        raise UsageError(f"undefined variable '{name}'", "set NAME VALUE defines one")
    return lookup(name), end + 1


def _unclosed(quote: str) -> UsageError:
    return UsageError(f"cannot parse the line: no closing quotation ({quote})",
                      "check the quotes")


def quote(word: str) -> str:
    """``word`` as :func:`split` reads it back: bare when it can be, else quoted."""
    if word and _SAFE.fullmatch(word) and not word.startswith("#"):
        return word
    if word and "$" not in word and "\\" not in word and _reads_back(word):
        return word  # a Verilog literal such as 8'h2a
    if "'" not in word:
        return f"'{word}'"
    if not any(c in word for c in '"\\$`'):
        return f'"{word}"'
    return "'" + word.replace("'", "'\\''") + "'"


def _reads_back(word: str) -> bool:
    try:
        return split(word) == [word]
    except UsageError:
        return False


def join(words: list[str]) -> str:
    """One command line whose :func:`split` gives ``words`` back."""
    for w in words:
        if "\n" in w:
            raise UsageError("a word with a line break cannot be written on one line")
    return " ".join(quote(w) for w in words)
