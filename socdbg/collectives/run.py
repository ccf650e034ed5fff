"""Run a collective plan on a multi-chip target by programming each chip's DMA through its
registers, as a collective library's firmware would, and check the result against numpy.

The target is a system (``sim:chips=N``): its map holds ``chip[i]`` of the reference SoC and
chip ``i``'s address space is also at ``(i + 1) << 32`` (docs/multichip.md). For every
transfer of a step the source chip's channel gets ``src`` (a local address), ``dst`` (the
destination chip's global address, or a local one when it is the same chip), ``len`` and
``ctrl = en | start | mode SINGLE | reduce OP``; the step ends when every channel it started
reads ``status.done`` (or ``err``), and the done bits are cleared (write 1) before the next.
Buffers live in each chip's DRAM: ``send`` at its start, ``recv`` after it (8-byte aligned).

Only register and memory accesses reach the target; simulated time passes in the kernel's
``run_until`` between the status reads (time jumps from event to event: the status registers
change only at events). A step that does not end within its cycle budget raises
:class:`CollectiveTimeout` naming what it waits for; the chips are left as they are, so
``collective status`` and ``socdbg dump`` see the stall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from socdbg.access import read_register, write_register
from socdbg.collectives.plan import Plan, Transfer
from socdbg.errors import SocdbgError, TargetError
from socdbg.regmap import Field, Register, RegMap

if TYPE_CHECKING:
    from socdbg.targets.base import Target

GLOBAL_SHIFT = 32
#: The reduce op in ``dma.ch[n].ctrl.reduce`` per element type (registers/dma.rdl).
REDUCE_OPS = {"fp32": 1, "bf16": 2}
#: Each step may take this many cycles per byte its largest transfer moves, plus the margin:
#: a link at 1% of 32 bytes a cycle still finishes; a link that is down does not.
CYCLES_PER_BYTE = 4
MARGIN = 1_000_000


class CollectiveTimeout(SocdbgError):
    """A step did not finish in its cycle budget: the message names the chips, channels and
    links it waits on."""

    def __init__(self, message: str, waiting: list[Waiting], hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.waiting = waiting


@dataclass(frozen=True)
class Waiting:
    """One DMA channel a stalled step waits on, and where its bytes were going."""

    chip: int
    channel: int
    dst_chip: int
    bytes_done: int
    length: int

    @property
    def text(self) -> str:
        return (f"chip[{self.chip}].dma.ch[{self.channel}] -> chip {self.dst_chip}: "
                f"{self.bytes_done:,} of {self.length:,} bytes")


@dataclass
class _Channel:
    ctrl: Register
    status: Register
    src: Register
    dst: Register
    length: Register
    bytes_done: Register
    f_done: Field
    f_err: Field


@dataclass
class Result:
    """A run: simulated cycles from the first start to the last done, per step."""

    plan: Plan
    cycles: int
    step_cycles: list[int] = field(default_factory=list)
    wrong: int | None = None


class System:
    """The chips of a system map a collective runs on, resolved before any access: every
    register it writes, the DRAM window of each chip."""

    def __init__(self, rmap: RegMap, chips: Sequence[int], channel: int = 0) -> None:
        self.rmap = rmap
        self.chips = list(chips)
        self.channel = channel
        self.ch: list[_Channel] = []
        self.dram: list[tuple[int, int]] = []  # per rank: (local base, size)
        self._global: list[int] = []
        memories = {m.path: m for m in rmap.memories}
        for chip in self.chips:
            p = f"chip[{chip}].dma.ch[{channel}]"
            if rmap.find(f"{p}.ctrl") is None:
                if rmap.find("chip[0].dma.ch[0].ctrl") is None:
                    raise TargetError("this map is not a multi-chip system (no chip[0].dma)",
                                      "open a system: sim:chips=8,topology=ring")
                raise TargetError(f"the system has no {p}", "check --chips and --channel")
            status = rmap.get(f"{p}.status")
            ctrl = rmap.get(f"{p}.ctrl")
            self.ch.append(_Channel(ctrl, status, rmap.get(f"{p}.src"), rmap.get(f"{p}.dst"),
                                    rmap.get(f"{p}.len"), rmap.get(f"{p}.bytes_done"),
                                    _field(status, "done"), _field(status, "err")))
            mem = memories.get(f"chip[{chip}].dram")
            if mem is None:
                raise TargetError(f"the system has no chip[{chip}].dram")
            base = (chip + 1) << GLOBAL_SHIFT
            self._global.append(base)
            self.dram.append((mem.address - base, mem.size))

    @property
    def ranks(self) -> int:
        return len(self.chips)

    def buffer(self, plan: Plan, name: str) -> int:
        """The local address of buffer ``name`` (send, then recv, from DRAM's start)."""
        offset = 0
        for buf, size in plan.buffers.items():
            if buf == name:
                return self.dram[0][0] + offset
            offset += -(-size // 4096) * 4096
        raise KeyError(name)

    def check_fits(self, plan: Plan) -> None:
        """The plan's buffers fit each chip's DRAM, and its DMA can reduce if it must."""
        if any(t.reduce for s in plan.steps for t in s.transfers) and \
                self.ch[0].ctrl.field("reduce") is None:
            raise TargetError(f"{self.ch[0].ctrl.path} has no reduce field",
                              "the DMA's write-with-reduce mode is needed (docs/dma.md)")
        need = sum(-(-size // 4096) * 4096 for size in plan.buffers.values())
        room = min(size for _, size in self.dram)
        if need > room:
            raise TargetError(f"{plan.collective} of {plan.nbytes:,} bytes needs {need:,} "
                              f"bytes of DRAM per chip, a chip has {room:,}",
                              "use a smaller size")

    def global_address(self, rank: int, local: int) -> int:
        return self._global[rank] | local


def _field(reg: Register, name: str) -> Field:
    fld = reg.field(name)
    if fld is None:
        raise TargetError(f"{reg.path} has no field {name}")
    return fld


Waiter = Callable[[Callable[[], bool], int], bool]


class Runner:
    """Runs plans on ``system`` through ``target``; ``wait(condition, max_cycles)`` advances
    simulated time until the condition holds, and ``now()`` reads the cycle."""

    def __init__(self, target: Target, system: System, wait: Waiter,
                 now: Callable[[], int]) -> None:
        self.target = target
        self.system = system
        self.wait = wait
        self.now = now

    # --- memory ------------------------------------------------------------------------------
    def write_buffer(self, rank: int, local: int, data: bytes) -> None:
        address = self.system.global_address(rank, local)
        self.target.write_block(address, data)

    def read_buffer(self, rank: int, local: int, size: int) -> bytes:
        address = self.system.global_address(rank, local)
        data = self.target.read_block(address, size)
        if len(data) != size:
            raise TargetError(f"short read of chip {self.system.chips[rank]}'s buffer")
        return data

    # --- the DMA -----------------------------------------------------------------------------
    def _start(self, plan: Plan, t: Transfer, op: int) -> _Channel:
        sysm = self.system
        ch = sysm.ch[t.src]
        src = sysm.buffer(plan, t.src_buf) + t.src_off
        local_dst = sysm.buffer(plan, t.dst_buf) + t.dst_off
        dst = local_dst if t.dst == t.src else sysm.global_address(t.dst, local_dst)
        target = self.target
        write_register(target, ch.src, src)
        write_register(target, ch.dst, dst)
        write_register(target, ch.length, t.length)
        value = 0
        fields = [("en", 1), ("start", 1), ("mode", 0)]
        if t.reduce or ch.ctrl.field("reduce") is not None:
            fields.append(("reduce", op if t.reduce else 0))
        for name, v in fields:
            value = _field(ch.ctrl, name).insert(value, v)
        write_register(target, ch.ctrl, value)
        return ch

    def run(self, plan: Plan, dtype: str, max_cycles: int | None = None) -> Result:
        """Every step of ``plan``; the data must be in place (:meth:`load`)."""
        op = REDUCE_OPS[dtype]
        # a done or err left by an earlier transfer would make a channel ignore its start
        # (err) or end a step at once (done): clear both (write 1) on every channel first
        for ch in self.system.ch:
            write_register(self.target, ch.status, ch.f_done.insert(ch.f_err.insert(0, 1), 1))
        first = self.now()
        result = Result(plan, 0)
        for index, step in enumerate(plan.steps):
            begin = self.now()
            started = [(t, self._start(plan, t, op)) for t in step.transfers]
            longest = max((t.length for t in step.transfers), default=0)
            budget = max_cycles if max_cycles is not None else \
                CYCLES_PER_BYTE * longest + MARGIN
            finished = self._all_done([ch for _, ch in started])
            if not self.wait(finished, budget):
                raise self._timeout(plan, index, started, budget)
            result.step_cycles.append(self.now() - begin)
            self._finish_step(plan, index, started)
        result.cycles = self.now() - first
        return result

    def _all_done(self, channels: list[_Channel]) -> Callable[[], bool]:
        """A condition: every channel reads done (or err). The channels are read in order
        from the first not yet seen done, so each event costs one read while it waits."""
        target = self.target
        cursor = 0

        def finished() -> bool:
            nonlocal cursor
            while cursor < len(channels):
                ch = channels[cursor]
                value = read_register(target, ch.status)
                if not (ch.f_done.extract(value) or ch.f_err.extract(value)):
                    return False
                cursor += 1
            return True

        return finished

    def _finish_step(self, plan: Plan, index: int, started: list[tuple[Transfer, _Channel]]
                     ) -> None:
        """Check each channel ended done, not err, and clear its done bit (write 1)."""
        for t, ch in started:
            value = read_register(self.target, ch.status)
            if ch.f_err.extract(value):
                raise TargetError(f"{plan.collective} step {index}: {ch.status.path} reads "
                                  f"err (err_code {value >> 8 & 0x7}) on the transfer to chip "
                                  f"{self.system.chips[t.dst]}",
                                  "docs/dma.md lists the error codes")
            write_register(self.target, ch.status, ch.f_done.insert(0, 1))

    def _timeout(self, plan: Plan, index: int, started: list[tuple[Transfer, _Channel]],
                 budget: int) -> CollectiveTimeout:
        waiting = []
        for t, ch in started:
            value = read_register(self.target, ch.status)
            if ch.f_done.extract(value) or ch.f_err.extract(value):
                continue
            waiting.append(Waiting(self.system.chips[t.src], self.system.channel,
                                   self.system.chips[t.dst],
                                   read_register(self.target, ch.bytes_done), t.length))
        shown = "; ".join(w.text for w in waiting[:4])
        more = f" (and {len(waiting) - 4} more)" if len(waiting) > 4 else ""
        return CollectiveTimeout(
            f"{plan.collective} timed out in step {index + 1} of {len(plan.steps)} after "
            f"{budget:,} cycles, waiting on {shown}{more}", waiting,
            "collective status says which link and channel hold it up")
