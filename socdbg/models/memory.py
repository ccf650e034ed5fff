"""Sparse byte storage for memories: pages are allocated on first write, unwritten bytes read
as zero, and copies move whole slices (never a Python loop per byte)."""

from __future__ import annotations

from collections.abc import Callable

PAGE_BITS = 16
PAGE = 1 << PAGE_BITS


class SparseMemory:
    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.size = size
        self._pages: dict[int, bytearray] = {}
        #: Work to finish before any access (a DMA flow's copies not yet made): called, in
        #: order, by every read and write.
        self.settlers: list[Callable[[], None]] = []

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
        if self.settlers:
            self.settle()
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
        if self.settlers:
            self.settle()
        offset = address - self.base
        if offset < 0 or offset + len(data) > self.size:
            raise IndexError(address)
        view = memoryview(data)
        for page, start, n, at in self._spans(offset, len(data)):
            buf = self._pages.get(page)
            if buf is None:
                buf = self._pages[page] = bytearray(PAGE)
            buf[start : start + n] = view[at : at + n]

    def has_page(self, page: int) -> bool:
        """Whether page ``page`` (offset >> PAGE_BITS) was ever written."""
        return page in self._pages

    def settle(self) -> None:
        for settler in tuple(self.settlers):
            settler()

    def copy_from(self, src: SparseMemory, src_address: int, address: int, length: int) -> None:
        """Copy ``length`` bytes from ``src`` (``src`` may be this memory, the ranges must not
        overlap) page slice to page slice, with no intermediate buffer."""
        if src.settlers:
            src.settle()
        if self.settlers:
            self.settle()
        soff = src_address - src.base
        doff = address - self.base
        if length <= 0:
            return
        if soff < 0 or soff + length > src.size or doff < 0 or doff + length > self.size:
            raise IndexError(address)
        done = 0
        while done < length:
            sp, ss = (soff + done) >> PAGE_BITS, (soff + done) & (PAGE - 1)
            dp, ds = (doff + done) >> PAGE_BITS, (doff + done) & (PAGE - 1)
            n = min(PAGE - ss, PAGE - ds, length - done)
            sbuf = src._pages.get(sp)
            dbuf = self._pages.get(dp)
            if dbuf is None:
                if sbuf is None:
                    done += n
                    continue
                dbuf = self._pages[dp] = bytearray(PAGE)
            if sbuf is None:
                dbuf[ds : ds + n] = bytes(n)
            else:
                dbuf[ds : ds + n] = memoryview(sbuf)[ss : ss + n]
            done += n
