"""The live target: map addresses on a :class:`~socdbg.targets.mmio.window.Window`, single
accesses anywhere in it, block transfers that follow the map (one access per register at its
access width, memory in aligned words), writes only after ``--allow-writes``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socdbg.errors import TargetError
from socdbg.targets.base import CAP_COALESCE, CAP_LIVE, CAP_WRITE
from socdbg.targets.mmio.window import FORMATS as _FORMATS
from socdbg.targets.mmio.window import Window

if TYPE_CHECKING:
    from socdbg.regmap import Memory, Register, RegMap


@dataclass(frozen=True)
class _Access:
    address: int  # map address
    size: int


class MmioTarget:
    """A window of the chip's address space mapped from a file (``/dev/mem``, a BAR, UIO)."""

    def __init__(self, spec: str, window: Window, base: int, regmap: RegMap,
                 where: str) -> None:
        self.spec = spec
        self.window = window
        self.base = base  # map address of the window's first byte
        self.regmap = regmap
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
        name = ""
        mem = self.regmap.memory_at(address)
        reg = self.regmap.at(address)
        if mem is not None:
            name = f" ({mem.path}, {mem.address:#x}..{mem.end - 1:#x})"
        elif reg is not None:
            name = f" ({reg.path})"
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
        """The single accesses of a block transfer, all checked before the first one: each
        register at its access width, memory in aligned words up to the memory's width."""
        if size <= 0:
            return []
        plan: list[_Access] = []
        pos, end = address, address + size
        while pos < end:
            mem = self.regmap.memory_at(pos)
            if mem is not None:
                stop = min(end, mem.end)
                plan.extend(_memory_words(mem, pos, stop))
                pos = stop
                continue
            reg = self._register_at(op, pos)
            if reg.end > end:
                raise TargetError(f"block {op} {address:#x}+{size:#x} ends inside {reg.path} "
                                  f"({reg.address:#x}..{reg.end - 1:#x})",
                                  "registers are accessed whole")
            step = reg.accesswidth // 8
            plan.extend(_Access(a, step) for a in range(reg.address, reg.end, step))
            pos = reg.end
        for acc in plan:
            self._offset(op, acc.address, acc.size)
        return plan

    def _register_at(self, op: str, pos: int) -> Register:
        regs = self.regmap.all_at(pos)
        starting = [r for r in regs if r.address == pos]
        if starting:
            # a read-only and a write-only register may share an address: take the one the
            # access is for
            want = [r for r in starting if (r.layout.readable if op == "read"
                                             else r.layout.writable)]
            return (want or starting)[0]
        if regs:
            r = regs[0]
            raise TargetError(f"block {op} at {pos:#x} starts inside {r.path} "
                              f"({r.address:#x}..{r.end - 1:#x})", "registers are accessed whole")
        raise TargetError(f"block {op} at {pos:#x}: no register or memory there in the map",
                          "block transfers follow the map; peek/poke access single words "
                          "anywhere in the window")


def _memory_words(mem: Memory, start: int, stop: int) -> list[_Access]:
    """Naturally aligned accesses covering [start, stop), none wider than the memory's word."""
    word = max(1, min(8, mem.width // 8))
    out: list[_Access] = []
    pos = start
    while pos < stop:
        n = word
        while n > 1 and (pos % n or pos + n > stop):
            n //= 2
        out.append(_Access(pos, n))
        pos += n
    return out
