"""The access primitive of live targets: a :class:`Window`, a file region mapped with ``mmap``,
read and written one aligned load or store of exactly 1, 2, 4 or 8 bytes at a time (the
module docstring of socdbg/targets/mmio/__init__.py says why that is one bus access)."""

from __future__ import annotations

import mmap
import os
import stat
from typing import Literal

from socdbg.errors import TargetError
from socdbg.targets.mmio.permissions import access_denied, map_refused

FORMATS: dict[int, Literal["B", "H", "I", "Q"]] = {1: "B", 2: "H", 4: "I", 8: "Q"}
PAGE = mmap.PAGESIZE


class Window:
    """A file region mapped into memory: the only code that touches the mapping.

    ``load``/``store`` perform one access of ``size`` bytes at ``offset`` bytes into the window
    (see the module docstring for why it is one). Callers check bounds and alignment; the
    typed views raise IndexError rather than touch anything outside the mapping.
    """

    def __init__(self, path: str, offset: int, size: int, writable: bool = False) -> None:
        if size <= 0:
            raise TargetError(f"{path}: the window size must be positive")
        self.path = path
        self.offset = offset  # file offset of the window's first byte
        self.size = size
        self.writable = False
        self._delta = offset % PAGE  # the window's start inside the first mapped page
        self._mm: mmap.mmap | None = None
        self._views: dict[int, memoryview[int]] = {}
        self._base: memoryview[int] | None = None
        self._open(writable)

    @property
    def length(self) -> int:
        """Bytes mapped: the window plus the part of its first page before it."""
        return self._delta + self.size

    def _open(self, writable: bool) -> None:
        flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_SYNC | getattr(
            os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags)
        except PermissionError:
            raise access_denied(self.path, writable) from None
        except FileNotFoundError:
            raise TargetError(f"{self.path}: no such file") from None
        except OSError as exc:
            raise TargetError(f"cannot open {self.path}: {exc.strerror or exc}") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_size < self.offset + self.size:
                # mapping past the end of a file maps pages that fault (SIGBUS) when touched
                raise TargetError(
                    f"{self.path} is {st.st_size:#x} bytes: the window "
                    f"{self.offset:#x}+{self.size:#x} runs past its end",
                    "a BAR's resource file is exactly the BAR's size; check OFFSET+SIZE")
            prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
            try:
                mm = mmap.mmap(fd, self.length, mmap.MAP_SHARED, prot,
                               offset=self.offset - self._delta)
            except OSError as exc:
                raise map_refused(self.path, self.offset, self.size, exc) from None
        finally:
            os.close(fd)
        self._mm = mm
        self._base = memoryview(mm)
        self._views = {n: self._base[: len(mm) // n * n].cast(fmt)
                       for n, fmt in FORMATS.items()}
        self.writable = writable

    def reopen(self, writable: bool) -> None:
        """Map the same region again, read-write or read-only (``--allow-writes``)."""
        if writable == self.writable:
            return
        old = (self._mm, self._base, self._views)
        self._mm, self._base, self._views = None, None, {}
        try:
            self._open(writable)
        except TargetError:
            self._mm, self._base, self._views = old
            raise
        _release(*old)

    def load(self, offset: int, size: int) -> int:
        """One ``size``-byte load at ``offset`` into the window."""
        pos = self._delta + offset
        return int(self._views[size][pos // size])

    def store(self, offset: int, size: int, value: int) -> None:
        """One ``size``-byte store of ``value`` at ``offset`` into the window."""
        pos = self._delta + offset
        self._views[size][pos // size] = value

    def aligned(self, offset: int, size: int) -> bool:
        """True when the access is naturally aligned on the bus (file offset, which on
        ``/dev/mem`` is the physical address and in a BAR the offset from its aligned base)."""
        return (self.offset + offset) % size == 0


    @property
    def mapped(self) -> bool:
        """Whether the window holds a mapping (False once closed)."""
        return self._mm is not None

    def close(self) -> None:
        mm, base, views = self._mm, self._base, self._views
        self._mm, self._base, self._views = None, None, {}
        _release(mm, base, views)


def _release(mm: mmap.mmap | None, base: memoryview[int] | None,
             views: dict[int, memoryview[int]]) -> None:
    for view in views.values():
        view.release()
    if base is not None:
        base.release()
    if mm is not None:
        mm.close()
