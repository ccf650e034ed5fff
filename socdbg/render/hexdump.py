"""``peek``'s hexdump layout as plain lines: address, words, ASCII, labels. No rich, and
formatted a chunk at a time (one ``bytes.hex`` and one ``translate`` per chunk), so megabytes
render at pipe speed and the first lines show while later chunks are still being read.

    0x10000000  0x44434241  0x00000000  0x00000000  0x00000000  ABCD............  sram+0x0

A row holds 16 bytes (one word when words are wider). Rows of one dump share one layout:
a short last row is padded so its ASCII column lines up with the rows above.
"""

from __future__ import annotations

import array
import sys
from collections.abc import Iterator, Mapping

#: bytes 0x20..0x7e as themselves, every other byte as "."
_PRINTABLE = bytes(b if 32 <= b < 127 else ord(".") for b in range(256))
_TYPECODE = {2: "H", 4: "I", 8: "Q"}

#: ANSI styles of the colour form (terminal only; NO_COLOR turns them off upstream)
CYAN, DIM, GREEN, OFF = "\033[36m", "\033[2m", "\033[32m", "\033[0m"


def addr_text(address: int) -> str:
    return f"0x{address:08x}" if address < 1 << 32 else f"0x{address:016x}"


def words_per_row(size: int) -> int:
    return max(1, 16 // size)


def _big_endian(raw: bytes, size: int) -> bytes:
    """``raw``'s little-endian words with their bytes reversed, so ``.hex()`` reads as the
    words' values."""
    if size == 1:
        return raw
    words = array.array(_TYPECODE[size])
    if words.itemsize != size:  # pragma: no cover - platforms where the C types differ
        return b"".join(raw[i : i + size][::-1] for i in range(0, len(raw), size))
    words.frombytes(raw)
    if sys.byteorder == "little":
        words.byteswap()
    return words.tobytes()


def word_hex(raw: bytes, size: int) -> list[str]:
    """Every little-endian word of ``raw`` as fixed-width hex digits, without ``0x``."""
    return _big_endian(raw, size).hex(" ", size).split(" ") if raw else []


class HexLayout:
    """One dump's layout: the word size, the words per row, and whether to colour."""

    def __init__(self, size: int, count: int, color: bool = False) -> None:
        self.size = size
        self.per_row = min(words_per_row(size), max(1, count))
        self.color = color
        self._blank = " " * (size * 2 + 4)  # "  0x" + digits

    def lines(self, address: int, raw: bytes, labels: Mapping[int, str] | None = None
              ) -> Iterator[str]:
        """The rows of ``raw`` (whole words, starting at ``address``, on a row boundary of
        this dump), with the names ``labels`` gives to addresses inside each row. Yields
        blocks of rows joined by newlines: the full rows, then a short last row."""
        size, per_row = self.size, self.per_row
        row_bytes = size * per_row
        full = len(raw) // row_bytes
        cyan, dim, green, off = (CYAN, DIM, GREEN, OFF) if self.color else ("", "", "", "")
        names: dict[int, list[str]] = {}
        for at in sorted(labels or ()):
            if address <= at < address + len(raw):
                names.setdefault((at - address) // row_bytes, []).append(labels[at])  # type: ignore[index]
        if full:
            block = self._full_rows(address, raw[: full * row_bytes], full)
            if names.keys() & range(full):
                rows = block.split("\n")
                for idx, row_names in names.items():
                    if idx < full:
                        rows[idx] += f"  {green}{' '.join(row_names)}{off}"
                block = "\n".join(rows)
            yield block
        if full * row_bytes < len(raw):  # a short last row, padded to the columns above
            end = address + full * row_bytes
            row = word_hex(raw[full * row_bytes :], size)
            cells = "".join("  0x" + h for h in row) + self._blank * (per_row - len(row))
            ascii_ = raw[full * row_bytes :].translate(_PRINTABLE).decode("latin-1")
            line = f"{cyan}{addr_text(end)}{off}{cells}  {dim}"
            if full in names:
                yield (f"{line}{ascii_:<{row_bytes}}{off}  "
                       f"{green}{' '.join(names[full])}{off}")
            elif self.color:
                yield f"{line}{ascii_}{off}"
            else:
                yield f"{line}{ascii_}".rstrip()

    def _full_rows(self, address: int, raw: bytes, full: int) -> str:
        """``full`` whole rows, built column by column: the constant text of a row repeated,
        then each character position filled for every row at once with a strided slice (a
        few dozen C-level copies per chunk instead of a format per row)."""
        size, per_row = self.size, self.per_row
        row_bytes = size * per_row
        cyan, dim, off = (CYAN, DIM, OFF) if self.color else ("", "", "")
        digits = 8 if address + len(raw) <= 1 << 32 else 16
        # the row's constant text, and where its variable characters go
        parts: list[str] = [cyan, "0x"]
        addr_at = len("".join(parts))
        parts += ["0" * digits, off]
        word_at: list[int] = []
        for _ in range(per_row):
            parts.append("  0x")
            word_at.append(len("".join(parts)))
            parts.append("0" * (size * 2))
        parts += ["  ", dim]
        text_at = len("".join(parts))
        parts += ["." * row_bytes, off, "\n"]
        template = "".join(parts).encode("ascii")
        width = len(template)
        out = bytearray(template * full)
        addrs = array.array("I" if digits == 8 else "Q",
                            range(address, address + full * row_bytes, row_bytes))
        if sys.byteorder == "little":
            addrs.byteswap()
        addr_hex = addrs.tobytes().hex().encode("ascii")
        for d in range(digits):
            out[addr_at + d :: width] = addr_hex[d::digits]
        words_hex = _big_endian(raw, size).hex().encode("ascii")
        step = row_bytes * 2
        for j in range(per_row):
            for d in range(size * 2):
                out[word_at[j] + d :: width] = words_hex[j * size * 2 + d :: step]
        text = raw.translate(_PRINTABLE)
        for c in range(row_bytes):
            out[text_at + c :: width] = text[c::row_bytes]
        return out[:-1].decode("latin-1")
