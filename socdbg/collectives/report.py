"""nccl-tests' arithmetic: message sizes of a sweep, element counts, and the bandwidths.

``algbw`` is the message size over the time (GB/s, 1 GB = 1e9 bytes, as nccl-tests);
``busbw`` scales it by what each link must carry so that it compares with the link's own
bandwidth whatever the chip count: 2(n-1)/n for all-reduce, (n-1)/n for reduce-scatter,
all-gather and all-to-all (nccl-tests' doc/PERFORMANCE.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: DMA addresses and lengths are multiples of this (socdbg.models.dma.ALIGN).
ALIGN = 8
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
#: A sweep has at most this many sizes (a typo such as 1..1G by 1.0001 is refused).
MAX_SIZES = 64


def bus_factor(collective: str, n: int) -> float:
    if collective == "allreduce":
        return 2 * (n - 1) / n
    return (n - 1) / n


def parse_size(text: str) -> int | None:
    """``4096``, ``4K``, ``1M``, ``1G`` (powers of 1024; a trailing B allowed)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:I?B)?\s*", text.upper())
    if m is None:
        return None
    return int(m.group(1)) * _UNITS[m.group(2)]


def parse_sizes(text: str, factor: int = 2) -> list[int] | str:
    """``1K..1G`` (doubling, or multiplying by ``factor``), ``4K,1M,64M`` or one size; the
    sizes, or a message saying what is wrong."""
    if factor < 2:
        return f"step factor {factor}: it must be at least 2"
    if ".." in text:
        lo_text, _, hi_text = text.partition("..")
        lo, hi = parse_size(lo_text), parse_size(hi_text)
        if lo is None or hi is None:
            return f"'{text}' is not a size range (such as 1K..1G)"
        if lo < 1 or hi < lo:
            return f"'{text}': the range must go up from a size of at least 1 byte"
        out = []
        size = lo
        while size <= hi:
            out.append(size)
            size *= factor
            if len(out) > MAX_SIZES:
                return f"'{text}' has more than {MAX_SIZES} sizes"
        return out
    out = []
    for word in text.split(","):
        one = parse_size(word)
        if one is None or one < 1:
            return f"'{word}' is not a size (such as 4096, 4K, 1M, 1G)"
        out.append(one)
    if len(out) > MAX_SIZES:
        return f"more than {MAX_SIZES} sizes"
    return out


def count_for(size: int, elem: int, n: int) -> int:
    """The element count a message of ``size`` bytes runs with: rounded down to equal,
    DMA-aligned blocks per chip (nccl-tests rounds the count the same way); at least one
    aligned block per chip."""
    unit = n * max(1, ALIGN // elem)
    return max(unit, size // elem // unit * unit)


@dataclass(frozen=True)
class Row:
    """One line of the table: nccl-tests' out-of-place columns (time in microseconds)."""

    size: int
    count: int
    dtype: str
    time_us: float
    algbw: float
    busbw: float
    wrong: int | None  # elements that differ from numpy's; None: not checked

    @classmethod
    def of(cls, collective: str, n: int, count: int, elem: int, dtype: str, cycles: int,
           wrong: int | None, ns_per_cycle: float = 1.0) -> Row:
        size = count * elem
        seconds = cycles * ns_per_cycle * 1e-9
        algbw = size / seconds / 1e9 if seconds > 0 else 0.0
        return cls(size, count, dtype, seconds * 1e6, algbw,
                   algbw * bus_factor(collective, n), wrong)

    def as_dict(self) -> dict[str, object]:
        return {"size": self.size, "count": self.count, "type": self.dtype,
                "time_us": round(self.time_us, 3), "algbw": round(self.algbw, 3),
                "busbw": round(self.busbw, 3), "wrong": self.wrong}
