"""The ``rtl:`` target: the map's register RTL (PeakRDL-regblock), compiled by Verilator.

Target strings: ``rtl`` (every block of the session's map), ``rtl:sysctrl,intc`` (only those
blocks: a smaller, faster build), ``rtl:PATH.rdl`` (another map), ``rtl:mesh=2x2`` (the
reference SoC with another NoC size, as ``sim:mesh=2x2``); parts combine with commas.
Registers are the RTL's; the memories of the map (``sram``, ``dram``) are plain sparse
memories on the Python side, as on the simulator. Time is simulated: ``step`` advances the
clock the hardware side sees; bus transfers take none. When the build has the DMA block, the
functional model's DMA engine drives its hardware inputs (coupling.py), so DMA transfers run
and move data between the memories as on the simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from socdbg.errors import TargetError
from socdbg.models.memory import SparseMemory
from socdbg.models.options import SimOptions
from socdbg.regmap import RegMap
from socdbg.targets.base import (
    CAP_COALESCE,
    CAP_RESET,
    CAP_SIMULATOR,
    CAP_TIME,
    CAP_WRITE,
    MapLoader,
)
from socdbg.targets.rtl.coupling import Coupling
from socdbg.targets.rtl.harness import CYCLES_PER_SECOND, TIMEOUT, Harness
from socdbg.targets.simbus import SimulatedBus, bus_error

_OPS = {"==": 0, "!=": 1, "<=": 2, ">=": 3, "<": 4, ">": 5}


class RtlTarget(SimulatedBus):
    """Registers in Verilated RTL behind one 32-bit APB; memories in Python."""

    def __init__(self, regmap: RegMap, exe: Path, spec: str = "rtl",
                 blocks: Sequence[str] = (), options: SimOptions | None = None) -> None:
        from socdbg.targets.rtl.build import SIDEBAND

        self.spec = spec
        self.regmap = regmap
        self.blocks = tuple(blocks)
        self.capabilities = frozenset({CAP_TIME, CAP_SIMULATOR, CAP_WRITE, CAP_RESET,
                                       CAP_COALESCE})
        self._now = 0
        self.harness = Harness(exe, "rtl")
        try:
            #: The functional model driving the DMA block (None: no DMA block in the build).
            self.coupling = Coupling.open(regmap, options or SimOptions(), self.harness,
                                          exe.parent / SIDEBAND)
        except BaseException:
            self.harness.close()
            raise
        self.memories = (self.coupling.model.context.memories if self.coupling is not None
                         else [(m, SparseMemory(m.address, m.size)) for m in regmap.memories])

    # --- SimTime ---------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self._now

    def step(self, cycles: int = 1) -> None:
        if cycles < 0:
            raise TargetError("rtl: cannot step backwards")
        end = self._now + cycles
        while True:
            stop = end if self.coupling is None else self.coupling.next_stop(end)
            left = stop - self._now
            while left > 0:  # the harness takes at most 64-bit hex; keep requests modest
                n = min(left, 1 << 48)
                self._now = self._time(self.harness.ask([f"s {n:x}"])[0])
                left -= n
            if self.coupling is None:
                return
            self.coupling.advance_to(self._now)
            if self._now >= end:
                return

    def run_until_text(self, condition: str, max_cycles: int) -> bool:
        """Advance until the condition holds, checking now and after every cycle (the cycle
        the functional model stops at); the harness evaluates it between cycles."""
        from socdbg.regmap.conditions import parse_condition

        cond = parse_condition(self.regmap, condition)
        reg = cond.register
        bits = cond.bits()
        if reg.width > 32 or bits is None or reg.address % 4:
            return self._run_until_slow(condition, max_cycles)
        keep, shift = bits
        keep = (keep >> ((reg.address % 4) * 8)) & 0xFFFFFFFF
        request = f"u {reg.address:x} {keep:x} {shift:x} {_OPS[cond.op]:x} {cond.value:x}"
        end = self._now + max(0, max_cycles)
        while True:
            # up to the next cycle where the DMA model acts, checked there before it acts
            stop = end if self.coupling is None else self.coupling.next_stop(end)
            ans = self.harness.ask([f"{request} {stop - self._now:x}"],
                                   TIMEOUT + (stop - self._now) / CYCLES_PER_SECOND)[0]
            if ans.startswith("e"):
                raise TargetError(f"rtl: bus error reading {reg.path} at {reg.address:#x}: "
                                  f"{ans[2:]}")
            parts = ans.split()
            if len(parts) != 3:
                raise TargetError(f"rtl: unexpected answer {ans!r} to a run-until")
            self._now = int(parts[2], 16)
            if self.coupling is None:
                return parts[1] == "1"
            # the check at this cycle saw the model's values of the cycle before: when the
            # model changes them here, check this cycle again
            stale = self.coupling.advance_to(self._now)
            if parts[1] == "1":
                return True
            if self._now >= end and not stale:
                return False

    def _run_until_slow(self, condition: str, max_cycles: int) -> bool:
        from socdbg.regmap.conditions import parse_condition

        cond = parse_condition(self.regmap, condition)
        reg = cond.register
        for i in range(max_cycles + 1):
            raw = int.from_bytes(b"".join(self.read(a, 4) for a in range(reg.address, reg.end, 4)),
                                 "little")
            if cond.holds(raw):
                return True
            if i < max_cycles:
                self.step(1)
        return False

    def reset(self) -> None:
        """Chip reset: the RTL's reset; memories keep their contents, the clock goes on."""
        self._expect(self.harness.ask(["x"]), "reset")
        if self.coupling is not None:
            self.coupling.reset()

    def close(self) -> None:
        self.harness.close()

    # --- internals -------------------------------------------------------------------------
    def _read(self, address: int, size: int) -> bytes:
        span = self._memory_span(address, size)
        if span is not None:
            return span[1].read(address, size)
        first = address & ~3
        words = range(first, address + size, 4)
        answers = self.harness.ask([f"r {a:x}" for a in words])
        out = bytearray()
        for a, ans in zip(words, answers, strict=True):
            if not ans.startswith("d "):
                raise bus_error("read", address, size, f"the RTL answered {ans[2:] or ans}"
                                 f" at {a:#x}", self._nearest(a))
            out += int(ans[2:], 16).to_bytes(4, "little")
        skip = address - first
        return bytes(out[skip : skip + size])

    def _write(self, address: int, data: bytes) -> None:
        size = len(data)
        if self._write_memory(address, data):
            return
        requests: list[str] = []
        pos = address
        while pos < address + size:
            word = pos & ~3
            end = min(word + 4, address + size)
            value = 0
            strb = 0
            for b in range(pos, end):
                value |= data[b - address] << ((b - word) * 8)
                strb |= 1 << (b - word)
            requests.append(f"w {word:x} {value:x} {strb:x}")
            pos = end
        answers = self.harness.ask(requests)
        for req, ans in zip(requests, answers, strict=True):
            if ans != "k":
                a = int(req.split()[1], 16)
                raise bus_error("write", address, size, f"the RTL answered {ans[2:] or ans}"
                                 f" at {a:#x}", self._nearest(a))
        if self.coupling is not None:
            self.coupling.wrote(address, data)

    def _time(self, ans: str) -> int:
        if not ans.startswith("t "):
            raise TargetError(f"rtl: unexpected answer {ans!r} to a step")
        return int(ans[2:], 16)

    @staticmethod
    def _expect(answers: list[str], what: str) -> None:
        if answers != ["k"]:
            raise TargetError(f"rtl: {what} failed: {answers[0][:40]!r}")




def parse_arg(arg: str) -> tuple[str | None, list[str], dict[str, str]]:
    """``my.rdl,sysctrl,intc,mesh=2x2`` -> (``my.rdl``, [``sysctrl``, ``intc``],
    {``mesh``: ``2x2``})."""
    path: str | None = None
    blocks: list[str] = []
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        key, eq, value = part.partition("=")
        if eq:
            if key.strip().lower() != "mesh":
                raise TargetError(f"rtl target: unknown option '{key.strip()}'",
                                  "the one option is mesh=XxY (the NoC size, as for sim)")
            options["mesh"] = value.strip()
        elif part.endswith(".rdl") or "/" in part:
            if path is not None:
                raise TargetError(f"rtl target: two maps given ('{path}' and '{part}')")
            path = part
        elif part.isidentifier():
            blocks.append(part)
        else:
            raise TargetError(f"rtl target: '{part}' is neither a .rdl file nor a block name",
                              "rtl, rtl:BLOCK,BLOCK, rtl:PATH.rdl, rtl:mesh=2x2")
    return path, blocks, options


def open_rtl(arg: str, load_map: MapLoader) -> RtlTarget:
    from socdbg.models.options import SimOptions
    from socdbg.targets.rtl.build import build, recipe_for

    path, blocks, options = parse_arg(arg)
    defines = SimOptions.parse(options).defines()  # checked before any build
    files: list[str] | None = [path] if path else None
    regmap = load_map(files, defines) if (files or defines) else load_map()
    src = regmap.source
    if not src.files or not all(f.endswith(".rdl") for f in src.files):
        raise TargetError("rtl: the map is not SystemRDL",
                          "the RTL is generated from SystemRDL; give rtl:PATH.rdl")
    dim = regmap.find("noc.mesh_dim")
    mesh_x = max(1, dim.layout.reset & 0xFF) if dim is not None else 0
    exe = build(recipe_for(src.files, src.deps, src.defines, src.top, blocks, mesh_x))
    return RtlTarget(regmap, exe, "rtl" + (":" + arg if arg else ""), blocks,
                     SimOptions.parse(options))
