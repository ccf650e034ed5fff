"""Access planning from the register map, below the targets: which single bus accesses (address,
size) read or write a register, a run of adjacent registers or a block of the address space.

socdbg/access.py performs the plans on a target; a backend that must follow the map for its
own block transfers (the live targets: a block never touches what the map does not describe)
is given a :class:`MapLayout`, an object that answers in addresses and sizes, and never sees a
register. The rule everywhere: a register is accessed at its own access width and alignment,
never split narrower; a register whose width is no bus width (24 bits) is one access of the
bus width that carries it (32 bits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from socdbg.errors import TargetError

if TYPE_CHECKING:
    from socdbg.regmap import Memory, Register, RegMap

BUS_SIZES = (1, 2, 4, 8)


def bus_bytes(bits: int) -> int:
    """Bytes of the bus access that carries ``bits``: the power of two (1, 2, 4 or 8) at
    least that wide. A 24-bit register is one 32-bit access; a 32-bit one, one 32-bit access."""
    size = 1
    while size * 8 < bits:
        size *= 2
    return size


def on_bus(reg: Register) -> bool:
    """Whether the register's access width is a bus width (8, 16, 32 or 64 bits)."""
    return reg.accesswidth in (8, 16, 32, 64)


def blockable(reg: Register) -> bool:
    """Whether a block read over ``reg``'s bytes is its accesses: a bus access width that
    divides the register (not a 24-bit register, nor one narrower than its access width)."""
    return on_bus(reg) and reg.width % reg.accesswidth == 0


def register_accesses(reg: Register) -> list[tuple[int, int]]:
    """The single accesses (address, size) of ``reg``, lowest address first: one per
    ``accesswidth`` chunk (one when the access width is the register width, as it is for
    almost every register). A register of a width that is no bus width (24 bits) is one
    access of the bus width that carries it (32 bits), which must be aligned."""
    if on_bus(reg):
        step = reg.accesswidth // 8
        return [(a, step) for a in range(reg.address, reg.end, step)]
    size = bus_bytes(reg.width)
    if size > 8 or reg.address % size:
        raise TargetError(f"{reg.path}: a {reg.width}-bit register at {reg.address:#x} "
                          "is no single aligned bus access",
                          "registers of 8, 16, 32 and 64 bits, or narrower ones at an "
                          "address aligned to the next of those, can be accessed")
    return [(reg.address, size)]


def plan_runs(regs: Sequence[Register], max_block: int) -> list[list[Register]]:
    """Group address-ordered registers into runs that touch (no hole between them), each at
    most ``max_block`` bytes. A register whose accesses are wider than its bytes (24 bits in
    a 32-bit access) is a run of its own."""
    runs: list[list[Register]] = []
    for reg in regs:
        if runs and blockable(reg):
            run = runs[-1]
            last = run[-1]
            if (reg.address == last.end and blockable(last)
                    and reg.end - run[0].address <= max_block):
                run.append(reg)
                continue
        runs.append([reg])
    return runs


class MapLayout:
    """The map as a block transfer sees it (the ``AccessLayout`` of targets/base.py): which
    single accesses make up a block, and what lies at an address, for messages."""

    def __init__(self, regmap: RegMap) -> None:
        self._map = regmap

    def name_at(self, address: int) -> str:
        """`` (dma.ch[0].ctrl)`` or `` (sram, 0x0..0xfff)`` for what is at ``address``; ``""``
        for nothing."""
        mem = self._map.memory_at(address)
        if mem is not None:
            return f" ({mem.path}, {mem.address:#x}..{mem.end - 1:#x})"
        reg = self._map.at(address)
        return f" ({reg.path})" if reg is not None else ""

    def lowest_address(self) -> int | None:
        """The lowest register address of the map (None for a map without registers)."""
        return self._map[0].address if len(self._map) else None

    def block_accesses(self, op: str, address: int, size: int) -> list[tuple[int, int]]:
        """The single accesses of a block transfer: each register at its access width,
        memory in aligned words up to the memory's width. A block that ends or starts inside
        a register, or covers addresses with neither, is refused."""
        plan: list[tuple[int, int]] = []
        pos, end = address, address + size
        while pos < end:
            mem = self._map.memory_at(pos)
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
            if not blockable(reg):
                raise TargetError(f"block {op} over {reg.path}: a {reg.width}-bit register "
                                  f"is one {bus_bytes(reg.width) * 8}-bit access of its own",
                                  "read and write it as a register")
            plan.extend(register_accesses(reg))
            pos = reg.end
        return plan

    def _register_at(self, op: str, pos: int) -> Register:
        regs = self._map.all_at(pos)
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


def _memory_words(mem: Memory, start: int, stop: int) -> list[tuple[int, int]]:
    """Naturally aligned accesses covering [start, stop), none wider than the memory's word."""
    word = max(1, min(8, mem.width // 8))
    out: list[tuple[int, int]] = []
    pos = start
    while pos < stop:
        n = word
        while n > 1 and (pos % n or pos + n > stop):
            n //= 2
        out.append((pos, n))
        pos += n
    return out
