"""What the simulated targets share, written once.

:class:`SimulatedBus` is the Target protocol of a bus the debugger simulates (``sim:``,
``rtl:``): single accesses checked as a real bus would check them, block transfers as they
come, both served by the subclass's ``_read``/``_write``; the map's memories are sparse memories
on this side. :class:`KernelTime` is the simulated time of a target on the models' kernel
(``sim:`` and the multi-chip ``sim:chips=N``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from socdbg.access_plan import BUS_SIZES
from socdbg.errors import TargetError
from socdbg.models.gaps import SolvableRegisters, gap_solver

if TYPE_CHECKING:
    from socdbg.models.kernel import Kernel
    from socdbg.models.memory import SparseMemory
    from socdbg.regmap import Memory, Register, RegMap


def check_access(address: int, size: int) -> None:
    """A simulated bus access is 1, 2, 4 or 8 bytes, aligned to its size (sim:, rtl:)."""
    if size not in BUS_SIZES:
        raise TargetError(f"access of {size} bytes at {address:#x}: sizes are 1, 2, 4 or 8")
    if address % size:
        raise TargetError(f"misaligned {size * 8}-bit access at {address:#x}",
                          f"align to {size} bytes")


def bus_error(op: str, address: int, size: int, why: str, hint: str | None = None
              ) -> TargetError:
    """The one wording of a simulated bus error (sim:, rtl:)."""
    return TargetError(f"bus error: {op} of {size} byte(s) at {address:#x}: {why}", hint)


class SimulatedBus(ABC):
    """``read``/``write`` (1, 2, 4 or 8 aligned bytes) and ``read_block``/``write_block`` over
    the subclass's ``_read``/``_write``, with the memory lookup and the bus-error hint."""

    regmap: RegMap
    #: The map's memories and the sparse store behind each.
    memories: list[tuple[Memory, SparseMemory]]

    # --- Target ----------------------------------------------------------------------------
    def read(self, address: int, size: int) -> bytes:
        check_access(address, size)
        return self._read(address, size)

    def write(self, address: int, data: bytes) -> None:
        check_access(address, len(data))
        self._write(address, data)

    def read_block(self, address: int, size: int) -> bytes:
        return self._read(address, size)

    def write_block(self, address: int, data: bytes) -> None:
        self._write(address, data)

    @abstractmethod
    def _read(self, address: int, size: int) -> bytes:
        """Any number of bytes at any address: memory, registers, or a bus error."""

    @abstractmethod
    def _write(self, address: int, data: bytes) -> None:
        """Any number of bytes at any address: memory, registers, or a bus error."""

    # --- helpers of _read and _write -------------------------------------------------------
    def _memory_span(self, address: int, size: int) -> tuple[Memory, SparseMemory] | None:
        """The memory ``address`` is in and its store (None: not a memory); an access that
        starts in a memory and runs past its end is a bus error."""
        for mem, store in self.memories:
            if mem.contains(address):
                if address + size > store.base + store.size:
                    raise bus_error("access", address, size, "runs past the end of memory")
                return mem, store
        return None

    def _write_memory(self, address: int, data: bytes) -> bool:
        """Write ``data`` when ``address`` is in a memory (True); False: not a memory. A
        read-only memory is a bus error naming it."""
        span = self._memory_span(address, len(data))
        if span is None:
            return False
        mem, store = span
        if not mem.sw.writable:
            raise bus_error("write", address, len(data), f"{mem.path} is read-only memory")
        store.write(address, data)
        return True

    def _nearest(self, address: int) -> str | None:
        """A bus error's hint: the register at or just below ``address`` (within 0x100)."""
        before = self.regmap.in_range(max(0, address - 0x100), address + 1)
        if before:
            r = before[-1]
            return f"nearest register: {r.path} at {r.address:#x}"
        return None


class KernelRegisters(SolvableRegisters, Protocol):
    """The registers behind a kernel-timed target: a chip's register file, or the system's
    view of its chips' (socdbg.targets.system.SystemRegisters)."""

    def sw_read(self, reg: Register, lanes: int | None = None) -> int: ...

    def hw_write(self, reg: Register, value: int, mask: int | None = None) -> None: ...


class KernelTime:
    """Simulated time (the SimTime protocol) of a target whose models run on ``kernel``, and
    the hardware-side write self-tests use."""

    kernel: Kernel
    regmap: RegMap
    regs: KernelRegisters

    @property
    def now(self) -> int:
        return self.kernel.now

    def step(self, cycles: int = 1) -> None:
        self.kernel.step(cycles)

    def run_until(self, condition: Callable[[], bool], max_cycles: int) -> bool:
        return self.kernel.run_until(condition, max_cycles)

    def run_until_text(self, condition: str, max_cycles: int) -> bool:
        """Run until a condition in the command language holds (parsed against this map)."""
        from socdbg.regmap.conditions import parse_condition

        cond = parse_condition(self.regmap, condition)
        return self.kernel.run_until(lambda: cond.holds(self.regs.sw_read(cond.register)),
                                     max_cycles, gap_solver(self.regs, cond))

    def backdoor_write(self, address: int, value: int, mask: int) -> None:
        """Set register bits as the hardware would (self-tests use it to arm w1c and rclr
        fields, which software cannot set)."""
        reg = self.regmap.at(address)
        if reg is None or reg.address != address:
            raise TargetError(f"backdoor: no register at {address:#x}")
        self.regs.hw_write(reg, value, mask)


__all__ = ["KernelRegisters", "KernelTime", "SimulatedBus"]
