"""Register paths as text: normalising, globs (``dma.ch[*].status``, ``[0:3]`` ranges), and
the renaming of duplicate paths the loaders share."""

from __future__ import annotations

import re

from socdbg.errors import PathError

_WS = re.compile(r"\s+")
_GLOB_CHARS = re.compile(r"[*?]|\[\s*\*\s*\]|\[\s*\d+\s*:\s*\d+\s*\]")


class IndexRangeError(PathError):
    """An ``[a:b]`` that reaches past the array it indexes."""


def normalize_path(path: str) -> str:
    """Lower-case a path and drop white space: ``DMA.CH[ 2 ].Status`` -> ``dma.ch[2].status``."""
    return _WS.sub("", path).lower()


def is_glob(pattern: str) -> bool:
    return _GLOB_CHARS.search(pattern) is not None


def glob_regex(pattern: str) -> tuple[str, re.Pattern[str], list[tuple[int, int]]]:
    """Translate a register glob into (literal prefix, compiled regex over lower-cased paths,
    index ranges). Each ``[a:b]`` is a capture group whose number the caller checks against
    its range, so a wide range costs no more than a narrow one.

    ``*`` matches any run of characters (dots too), ``?`` one character, ``[*]`` any index and
    ``[a:b]`` an index from a to b inclusive, as in a Verilog part select.
    """
    pat = normalize_path(pattern)
    out: list[str] = []
    prefix: list[str] = []
    ranges: list[tuple[int, int]] = []
    literal = True
    i = 0
    while i < len(pat):
        c = pat[i]
        if c == "[":
            close = pat.find("]", i)
            if close < 0:
                raise PathError(f"unclosed '[' in '{pattern}'")
            inner = pat[i + 1 : close]
            if inner == "*":
                out.append(r"\[\d+\]")
                literal = False
            elif ":" in inner:
                lo_s, _, hi_s = inner.partition(":")
                if not (lo_s.isdigit() and hi_s.isdigit()):
                    raise PathError(f"bad index range '[{inner}]' in '{pattern}'",
                                    "write a range as [first:last], e.g. [0:3]")
                lo, hi = int(lo_s), int(hi_s)
                if lo > hi:
                    raise PathError(f"reversed index range '[{inner}]' in '{pattern}'",
                                    f"write [{hi}:{lo}]: ranges go from first to last")
                out.append(r"\[(\d+)\]")
                ranges.append((lo, hi))
                literal = False
            elif inner.isdigit():
                out.append(re.escape(f"[{int(inner)}]"))
                if literal:
                    prefix.append(f"[{int(inner)}]")
            else:
                raise PathError(f"bad index '[{inner}]' in '{pattern}'",
                                "an index is a number, '*' or a range such as 0:3")
            i = close + 1
            continue
        if c == "*":
            out.append(".*")
            literal = False
        elif c == "?":
            out.append(".")
            literal = False
        else:
            out.append(re.escape(c))
            if literal:
                prefix.append(c)
        i += 1
    return "".join(prefix), re.compile("".join(out)), ranges


def rename_duplicates(paths: list[str]) -> None:
    """Paths are case-insensitive; a second register of the same path (vendor files have a few,
    mostly ``Reserved``) becomes ``NAME_2``, a third ``NAME_3``, in document order."""
    seen: dict[str, int] = {}
    for i, p in enumerate(paths):
        key = p.lower()
        if key not in seen:
            seen[key] = 1
            continue
        n = seen[key]
        while True:
            n += 1
            candidate = f"{p}_{n}"
            if candidate.lower() not in seen:
                break
        seen[key] = n
        seen[candidate.lower()] = 1
        paths[i] = candidate
