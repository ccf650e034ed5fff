"""The simulator target: an in-process functional model of any register map.

Target strings: ``sim`` (the session's map, by default the reference SoC), ``sim:PATH.rdl``
(a simulator of another map), ``sim:mesh=8x8`` (the reference SoC with another NoC size);
options combine with commas: ``sim:my.rdl,mesh=2x2``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from socdbg.access_plan import bus_bytes
from socdbg.errors import TargetError
from socdbg.models.context import Behaviour, SimContext
from socdbg.models.kernel import Kernel
from socdbg.models.memory import SparseMemory
from socdbg.models.options import KNOWN_OPTIONS, SimOptions
from socdbg.regmap import Register, RegMap
from socdbg.targets.base import (
    CAP_COALESCE,
    CAP_RESET,
    CAP_SIMULATOR,
    CAP_TIME,
    CAP_WRITE,
    Backend,
    Completions,
    MapLoader,
    Target,
)
from socdbg.targets.simbus import KernelTime, SimulatedBus, bus_error

if TYPE_CHECKING:
    from socdbg.models.regfile import RegisterFile


class SimTarget(KernelTime, SimulatedBus):
    """Registers with map-driven semantics, sparse memories and a cycle clock."""

    regs: RegisterFile

    def __init__(self, regmap: RegMap, spec: str = "sim",
                 options: SimOptions | Mapping[str, str] | None = None,
                 kernel: Kernel | None = None) -> None:
        self.spec = spec
        self.regmap = regmap
        if not isinstance(options, SimOptions):
            options = SimOptions.parse(options or {})
        self.options = options
        self.capabilities = frozenset({CAP_TIME, CAP_SIMULATOR, CAP_COALESCE, CAP_WRITE,
                                       CAP_RESET})
        #: What the models see: registers, kernel, memories, options, events.
        self.context = SimContext(regmap, options, kernel=kernel or Kernel())
        self.kernel = self.context.kernel
        self.regs = self.context.regs
        self.memories = self.context.memories
        self.reset_at = 0  # the cycle of the last chip reset (noc counts rates from it)
        from socdbg.models.blocks import attach

        attach(self.context)

    @property
    def models(self) -> list[Behaviour]:
        """The behaviours attached (chip reset resets them in this order)."""
        return self.context.behaviours

    def reset(self) -> None:
        """Chip reset: registers to their reset values; memories keep their contents."""
        self.reset_at = self.kernel.now
        self.regs.reset()
        for model in self.models:
            model.reset()

    # --- memory ----------------------------------------------------------------------------
    def memory_at(self, address: int) -> SparseMemory | None:
        return self.context.memory_at(address)

    def close(self) -> None:
        pass

    # --- internals -------------------------------------------------------------------------
    def _registers(self, address: int, size: int, op: str,
                   want: Callable[[Register], bool]) -> list[Register]:
        regs = self.regmap.in_range(address, address + size)
        # registers sharing an address (a read-only and a write-only one): keep the one the
        # access is for
        chosen: dict[int, Register] = {}
        for r in regs:
            if r.address not in chosen or (want(r) and not want(chosen[r.address])):
                chosen[r.address] = r
        out = sorted(chosen.values(), key=lambda r: r.address)
        pos = address
        for r in out:
            if r.address > pos:
                break
            # a 24-bit register is a 32-bit bus access: its top byte is the register's too
            pos = max(pos, r.address + max(r.size, bus_bytes(r.width)))
        if not out or pos < address + size:
            raise bus_error(op, address, size, "no register or memory there",
                             self._nearest(address))
        return out

    def _read(self, address: int, size: int) -> bytes:
        span = self._memory_span(address, size)
        if span is not None:
            return span[1].read(address, size)
        regs = self._registers(address, size, "read", lambda r: r.layout.readable)
        out = bytearray(size)
        for r in regs:
            lo, hi = max(address, r.address), min(address + size, r.end)
            lanes = ((1 << ((hi - lo) * 8)) - 1) << ((lo - r.address) * 8)
            value = self.regs.sw_read(r, lanes)
            raw = value.to_bytes(r.size, "little")
            out[lo - address : hi - address] = raw[lo - r.address : hi - r.address]
        return bytes(out)

    def _write(self, address: int, data: bytes) -> None:
        size = len(data)
        if self._write_memory(address, data):
            return
        regs = self._registers(address, size, "write", lambda r: r.layout.writable)
        for r in regs:
            lo, hi = max(address, r.address), min(address + size, r.end)
            lanes = ((1 << ((hi - lo) * 8)) - 1) << ((lo - r.address) * 8)
            raw = bytearray(r.size)
            raw[lo - r.address : hi - r.address] = data[lo - address : hi - address]
            self.regs.sw_write(r, int.from_bytes(raw, "little"), lanes)




def parse_options(arg: str) -> tuple[str | None, dict[str, str]]:
    """``my.rdl,mesh=8x8`` -> (``my.rdl``, {"mesh": "8x8"})."""
    path: str | None = None
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        key, eq, value = part.partition("=")
        if eq:
            options[key.strip().lower()] = value.strip()
        elif path is None:
            path = part
        else:
            raise TargetError(f"sim target: two maps given ('{path}' and '{part}')")
    return path, options


def mesh_defines(options: Mapping[str, str]) -> dict[str, str]:
    return SimOptions.parse({"mesh": options["mesh"]} if "mesh" in options else {}).defines()


__all__ = ["KNOWN_OPTIONS", "SimTarget", "open_sim", "parse_options"]


def open_sim(arg: str, load_map: MapLoader) -> Target:
    path, raw = parse_options(arg)
    options = SimOptions.parse(raw)  # checked once, before any map is loaded
    if options.chips is not None:
        if path:
            raise TargetError(f"sim target: chips=N simulates the reference SoC, not '{path}'",
                              "drop the map, or drop chips=")
        from socdbg.targets.system import SystemTarget, load_system_maps

        system_map, chip_map = load_system_maps(options, load_map)
        kernel = Kernel()
        spec = "sim:" + arg
        chips = [SimTarget(chip_map, f"{spec}#chip{i}", options, kernel=kernel)
                 for i in range(options.chips)]
        return SystemTarget(system_map, chips, kernel, options, spec)
    defines = options.defines()
    files: Sequence[str] | None = [path] if path else None
    regmap = load_map(files, defines) if (files or defines) else load_map()
    spec = "sim" + (":" + arg if arg else "")
    return SimTarget(regmap, spec, options)


def _brings_map(arg: str) -> bool:
    return bool(arg)  # sim:PATH.rdl, sim:mesh=8x8: a map of the target's own


def _map_defines(arg: str) -> dict[str, str]:
    return mesh_defines(parse_options(arg)[1]) if arg else {}


def _complete(typed: str) -> Completions:
    import glob

    return Completions(("sim:mesh=4x4", "sim:mesh=8x8", "sim:mesh=16x16",
                        *(f"sim:{p}" for p in sorted(glob.glob("*.rdl")))))


def _opens_files(arg: str) -> bool:
    return bool(arg) and "=" not in arg  # sim:MAP.rdl reads the map file


BACKEND = Backend(
    name="sim",
    open=open_sim,
    describe="in-process functional model of the map (default: the reference SoC)",
    example="sim, sim:PATH.rdl, sim:mesh=8x8, sim:chips=8,topology=ring",
    brings_map=_brings_map,
    map_defines=_map_defines,
    complete=_complete,
    opens_files=_opens_files,
    alone=True,
)
