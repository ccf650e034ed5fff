"""The live target: map addresses on a :class:`~socdbg.targets.mmio.window.Window`, single
accesses anywhere in it, block transfers that follow the map (one access per register at its
access width, memory in aligned words), writes only after ``--allow-writes``."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from socdbg.errors import TargetError
from socdbg.targets.base import CAP_COALESCE, CAP_LIVE, CAP_WRITE, AccessLayout
from socdbg.targets.mmio.window import FORMATS as _FORMATS
from socdbg.targets.mmio.window import Window


@dataclass(frozen=True)
class _Access:
    address: int  # map address
    size: int


class MmioTarget:
    """A window of the chip's address space mapped from a file (``/dev/mem``, a BAR, UIO)."""

    def __init__(self, spec: str, window: Window, base: int, layout: AccessLayout,
                 where: str) -> None:
        self.spec = spec
        self.window = window
        self.base = base  # map address of the window's first byte
        #: which single accesses make up a block transfer (the map's, as addresses and sizes)
        self.layout = layout
        self.where = where  # what the window is, for errors: "BAR0 of 0000:03:00.0 (1 MiB)"
        self.capabilities = self._caps()

    def _caps(self) -> frozenset[str]:
        caps = {CAP_LIVE, CAP_COALESCE}
        if self.window.writable:
            caps.add(CAP_WRITE)
        return frozenset(caps)

    @property
    def end(self) -> int:
        return self.base + self.window.size

    @property
    def window_text(self) -> str:
        return f"{self.base:#x}..{self.end - 1:#x}, {self.where}"

    def enable_writes(self) -> None:
        """Map the window read-write (the session does this for ``--allow-writes``)."""
        self.window.reopen(writable=True)
        self.capabilities = self._caps()

    # --- checks --------------------------------------------------------------------------
    def _offset(self, op: str, address: int, size: int) -> int:
        """Window offset of a single access, after every check."""
        if size not in _FORMATS:
            raise TargetError(f"{op} of {size} bytes at {address:#x}: sizes are 1, 2, 4 or 8")
        off = address - self.base
        if off < 0 or off + size > self.window.size:
            raise self._outside(op, address, size)
        if address % size or not self.window.aligned(off, size):
            raise TargetError(f"misaligned {size * 8}-bit {op} at {address:#x}",
                              f"align to {size} bytes")
        return off

    def _outside(self, op: str, address: int, size: int) -> TargetError:
        name = self.layout.name_at(address)
        return TargetError(
            f"{op} of {size} byte(s) at {address:#x}{name} is outside the window of "
            f"{self.spec}: {self.window_text}",
            "open a target whose window holds it: another BAR or UIO map, or @ADDR to "
            "place this one")

    def _writable(self, address: int, size: int) -> None:
        if not self.window.writable:
            raise TargetError(f"write of {size} byte(s) at {address:#x} refused: {self.spec} "
                              "is open read-only", "writes to live hardware need "
                              "socdbg --allow-writes")

    # --- Target --------------------------------------------------------------------------
    def read(self, address: int, size: int) -> bytes:
        off = self._offset("read", address, size)
        return self.window.load(off, size).to_bytes(size, sys.byteorder)

    def write(self, address: int, data: bytes) -> None:
        size = len(data)
        off = self._offset("write", address, size)
        self._writable(address, size)
        self.window.store(off, size, int.from_bytes(data, sys.byteorder))

    def read_block(self, address: int, size: int) -> bytes:
        plan = self.plan_block("read", address, size)
        out = bytearray()
        for acc in plan:
            out += self.window.load(acc.address - self.base, acc.size).to_bytes(
                acc.size, sys.byteorder)
        return bytes(out)

    def write_block(self, address: int, data: bytes) -> None:
        plan = self.plan_block("write", address, len(data))
        self._writable(address, len(data))
        for acc in plan:
            pos = acc.address - address
            self.window.store(acc.address - self.base, acc.size,
                              int.from_bytes(data[pos : pos + acc.size], sys.byteorder))

    def close(self) -> None:
        self.window.close()

    # --- blocks --------------------------------------------------------------------------
    def plan_block(self, op: str, address: int, size: int) -> list[_Access]:
        """The single accesses of a block transfer, all checked before the first one: as the
        layout plans them (each register at its access width, memory in aligned words up to
        the memory's width)."""
        if size <= 0:
            return []
        plan = [_Access(a, n) for a, n in self.layout.block_accesses(op, address, size)]
        for acc in plan:
            self._offset(op, acc.address, acc.size)
        return plan
