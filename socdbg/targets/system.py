"""The simulator of a multi-chip system: ``sim:chips=N,topology=ring|torus=AxB|mesh=AxB|fc``.

The debugger sees one map (registers/system.rdl: ``chip[N]`` of the reference SoC, chip i
at (i + 1) << 32); underneath, every chip is a whole reference-SoC simulator (its own map,
registers, memories and models) on one shared clock, and socdbg.models.system joins them.
An access at a system address goes to the chip the address names, at the local address.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from socdbg.errors import TargetError
from socdbg.models.context import Behaviour, SimContext
from socdbg.models.kernel import Kernel
from socdbg.models.memory import SparseMemory
from socdbg.models.options import SimOptions
from socdbg.models.regfile import RegisterFile
from socdbg.models.system.fabric import System
from socdbg.models.system.topology import GLOBAL_BASE, Wiring, chip_of
from socdbg.regmap import Register, RegMap
from socdbg.targets.base import CAP_COALESCE, CAP_RESET, CAP_SIMULATOR, CAP_TIME, CAP_WRITE
from socdbg.targets.simbus import KernelTime

if TYPE_CHECKING:
    from socdbg.targets.base import MapLoader

#: How the system map is found: next to the reference SoC's soc.rdl.
SYSTEM_RDL = "system.rdl"


class ChipSim(Protocol):
    """One chip's simulator (socdbg.targets.sim.SimTarget on the system's kernel)."""

    regmap: RegMap
    regs: RegisterFile
    context: SimContext

    @property
    def models(self) -> list[Behaviour]: ...

    def reset(self) -> None: ...

    def memory_at(self, address: int) -> SparseMemory | None: ...

    def read(self, address: int, size: int) -> bytes: ...

    def write(self, address: int, data: bytes) -> None: ...

    def read_block(self, address: int, size: int) -> bytes: ...

    def write_block(self, address: int, data: bytes) -> None: ...


class SystemRegisters:
    """The system map's registers, each served by its chip's register file."""

    def __init__(self, target: SystemTarget) -> None:
        self.target = target
        self._cache: dict[str, tuple[ChipSim, Register]] = {}

    def chip_register(self, reg: Register) -> tuple[ChipSim, Register]:
        hit = self._cache.get(reg.path)
        if hit is None:
            chip, _ = chip_of(reg.address)
            prefix = f"chip[{chip}]."
            if chip is None or not reg.path.startswith(prefix):
                raise TargetError(f"{reg.path} is not a register of a chip")
            sim = self.target.chips[chip]
            hit = self._cache[reg.path] = (sim, sim.regmap.get(reg.path[len(prefix):]))
        return hit

    def sw_read(self, reg: Register, lanes: int | None = None) -> int:
        sim, local = self.chip_register(reg)
        return sim.regs.sw_read(local, lanes)

    def peek(self, reg: Register) -> int:
        sim, local = self.chip_register(reg)
        return sim.regs.peek(local)

    def hw_write(self, reg: Register, value: int, mask: int | None = None) -> None:
        sim, local = self.chip_register(reg)
        sim.regs.hw_write(local, value, mask)

    def slope(self, reg: Register) -> int | None:
        sim, local = self.chip_register(reg)
        return sim.regs.slope(local)

    def refresh(self, reg: Register) -> int:
        sim, local = self.chip_register(reg)
        return sim.regs.refresh(local)

    def readable_bits(self, reg: Register) -> int | None:
        sim, local = self.chip_register(reg)
        return sim.regs.readable_bits(local)


class SystemTarget(KernelTime):
    """N reference-SoC simulators on one kernel, behind the system map."""

    regs: SystemRegisters

    def __init__(self, regmap: RegMap, chips: Sequence[ChipSim], kernel: Kernel,
                 options: SimOptions, spec: str = "sim") -> None:
        self.spec = spec
        self.regmap = regmap
        self.options = options
        self.capabilities = frozenset({CAP_TIME, CAP_SIMULATOR, CAP_COALESCE, CAP_WRITE,
                                       CAP_RESET})
        self.kernel = kernel
        self.chips = list(chips)
        self.wiring = Wiring(len(chips), options.topology)
        self.system = System(self.kernel, [c.context for c in self.chips], self.wiring)
        self.regs = SystemRegisters(self)
        self.reset_at = 0

    @property
    def models(self) -> list[Behaviour]:
        return [m for chip in self.chips for m in chip.models]

    def reset(self) -> None:
        """Every chip's reset (links drop: their ports are registers)."""
        self.reset_at = self.kernel.now
        for chip in self.chips:
            chip.reset()

    # --- memory and access -----------------------------------------------------------------
    def _chip(self, address: int, size: int) -> tuple[ChipSim, int]:
        chip, local = chip_of(address)
        if chip is None or chip >= len(self.chips):
            raise TargetError(
                f"bus error: access of {size} byte(s) at {address:#x}: no chip there",
                f"chip i is at (i + 1) << 32: chip[0] at {GLOBAL_BASE:#x}, "
                f"chip[{len(self.chips) - 1}] at {len(self.chips) << 32:#x}")
        if local + size > GLOBAL_BASE:
            raise TargetError(f"bus error: access of {size} byte(s) at {address:#x} "
                              "crosses a chip boundary")
        return self.chips[chip], local

    def memory_at(self, address: int) -> SparseMemory | None:
        chip, local = chip_of(address)
        if chip is None or chip >= len(self.chips):
            return None
        return self.chips[chip].memory_at(local)

    def read(self, address: int, size: int) -> bytes:
        sim, local = self._chip(address, size)
        return sim.read(local, size)

    def write(self, address: int, data: bytes) -> None:
        sim, local = self._chip(address, len(data))
        sim.write(local, data)

    def read_block(self, address: int, size: int) -> bytes:
        sim, local = self._chip(address, size)
        return sim.read_block(local, size)

    def write_block(self, address: int, data: bytes) -> None:
        sim, local = self._chip(address, len(data))
        sim.write_block(local, data)

    def close(self) -> None:
        pass


def system_map_path(chip_map: Path) -> Path:
    return chip_map.parent / SYSTEM_RDL


def load_system_maps(options: SimOptions, load_map: MapLoader) -> tuple[RegMap, RegMap]:
    """The system map (registers/system.rdl with ``options.chips`` chips) and one chip's
    (registers/soc.rdl), with the defines the options ask for."""
    from socdbg.regmap import reference_map_path

    soc = reference_map_path()
    system = system_map_path(soc)
    if not system.is_file():
        raise TargetError(f"the system map {system} is missing",
                          "install socdbg from its source tree")
    return (load_map([str(system)], options.defines()),
            load_map([str(soc)], options.chip_defines()))


__all__ = ["ChipSim", "SystemRegisters", "SystemTarget", "load_system_maps"]
