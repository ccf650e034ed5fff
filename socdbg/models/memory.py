"""Sparse byte storage for memories: pages are allocated on first write, unwritten bytes read
as zero, and copies move whole slices (never a Python loop per byte)."""

from __future__ import annotations

PAGE_BITS = 16
PAGE = 1 << PAGE_BITS


class SparseMemory:
    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.size = size
        self._pages: dict[int, bytearray] = {}

    def _spans(self, offset: int, length: int) -> list[tuple[int, int, int, int]]:
        """(page, start in page, length, start in buffer) for a byte range."""
        out = []
        done = 0
        while done < length:
            pos = offset + done
            page, start = pos >> PAGE_BITS, pos & (PAGE - 1)
            n = min(PAGE - start, length - done)
            out.append((page, start, n, done))
            done += n
        return out

    def read(self, address: int, length: int) -> bytes:
        offset = address - self.base
        if length <= 0:
            return b""
        if offset < 0 or offset + length > self.size:
            raise IndexError(address)
        out = bytearray(length)
        for page, start, n, at in self._spans(offset, length):
            buf = self._pages.get(page)
            if buf is not None:
                out[at : at + n] = buf[start : start + n]
        return bytes(out)

    def write(self, address: int, data: bytes | bytearray | memoryview) -> None:
        offset = address - self.base
        if offset < 0 or offset + len(data) > self.size:
            raise IndexError(address)
        view = memoryview(data)
        for page, start, n, at in self._spans(offset, len(data)):
            buf = self._pages.get(page)
            if buf is None:
                buf = self._pages[page] = bytearray(PAGE)
            buf[start : start + n] = view[at : at + n]

    @property
    def resident(self) -> int:
        """Bytes of backing storage allocated so far."""
        return len(self._pages) * PAGE
