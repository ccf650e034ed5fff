"""The collectives' Python API: run one collective of one size on a system target and get
nccl-tests' row for it, the numerical check included.

    from socdbg.collectives.api import run_collective
    row, result = run_collective(target, rmap, "allreduce", 1 << 20, chips=range(8))

Inputs are small integers as floats (exact in fp32 and bf16 whatever the order of the
additions), written into each chip's ``send`` buffer by the host (block writes, as over
PCIe). Up to :data:`FULL_CHECK` bytes over all chips every element is written and checked;
above it (the 1 GiB benchmarks) the first :data:`WINDOW` bytes of each chip's block are, and
the rest of the buffers is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from socdbg.access import read_register, write_register
from socdbg.collectives import reference as ref
from socdbg.collectives.plan import Plan, PlanError, plan
from socdbg.collectives.report import Row, count_for
from socdbg.collectives.run import Result, Runner, System
from socdbg.errors import UsageError
from socdbg.regmap import Register

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from socdbg.regmap import RegMap
    from socdbg.targets.base import Target

FULL_CHECK = 64 << 20
WINDOW = 4096
#: Cycles link training may take (the model trains in 2,000).
TRAIN_BUDGET = 1_000_000


def sim_kernel(target: object) -> Any:
    """The simulation kernel behind ``target`` (through wrappers), or None."""
    from socdbg.targets.wrapper import behind

    def kernel_of(t: object) -> Any:
        kernel = getattr(t, "kernel", None)
        return kernel if kernel is not None and hasattr(kernel, "run_until") else None

    return behind(target, kernel_of)


def runner_for(target: Target, rmap: RegMap, chips: Iterable[int], channel: int = 0
               ) -> Runner:
    """A runner on a local simulator of a system (UsageError on any other target)."""
    kernel = sim_kernel(target)
    if kernel is None:
        raise UsageError(f"collective: target {target.spec} is not a simulator in this "
                         "process", "collectives run on sim:chips=N targets")
    system = System(rmap, list(chips), channel)

    def quiet(start: int, end: int) -> None:
        return None  # DMA status changes only at events: nothing happens in a quiet gap

    def wait(condition: Callable[[], bool], max_cycles: int) -> bool:
        return bool(kernel.run_until(condition, max_cycles, quiet))

    return Runner(target, system, wait, lambda: int(kernel.now))


@dataclass(frozen=True)
class Check:
    """What the check compared: elements per block per chip, and how many differ."""

    window: int
    compared: int
    wrong: int


def make_plan(collective: str, ranks: int, size: int, dtype: str,
              algorithm: str | None = None) -> Plan:
    if dtype not in ref.TYPES:
        raise UsageError(f"collective: no type '{dtype}'", f"types: {', '.join(ref.TYPES)}")
    elem = ref.TYPES[dtype]
    try:
        return plan(collective, ranks, count_for(size, elem, ranks), elem, algorithm)
    except PlanError as exc:
        raise UsageError(f"collective: {exc}") from None


def load(runner: Runner, p: Plan, dtype: str, seed: int = 0) -> NDArray[np.float32]:
    """Write every chip's input; returns them as (rank, block, window) floats."""
    import numpy as np

    n, k = p.ranks, p.count // p.ranks
    window = k if p.nbytes * n <= FULL_CHECK else min(k, max(1, WINDOW // p.elem))
    rng = np.random.default_rng(seed)
    data = rng.integers(-4, 5, size=(n, n, window)).astype(np.float32)
    send = runner.system.buffer(p, "send")
    for r in range(n):
        if window == k:
            runner.write_buffer(r, send, ref.encode(dtype, data[r].reshape(-1)))
            continue
        for b in range(n):
            runner.write_buffer(r, send + b * k * p.elem, ref.encode(dtype, data[r][b]))
    return data


def expected(collective: str, data: NDArray[np.float32]) -> NDArray[np.float32]:
    """(rank, block, window) -> what each rank's result buffer holds there: all-reduce the
    sum, reduce-scatter the sum in the rank's own block (the rest is not compared), all-gather
    block b from rank b, all-to-all block b of rank j from block j of rank b."""
    import numpy as np

    n = data.shape[0]
    if collective in ("allreduce", "reducescatter"):
        return np.broadcast_to(data.sum(axis=0, dtype=np.float32), data.shape).copy()
    if collective == "allgather":
        one = np.stack([data[b][b] for b in range(n)])
        return np.broadcast_to(one, data.shape).copy()
    return data.transpose(1, 0, 2).copy()


def check(runner: Runner, p: Plan, dtype: str, data: NDArray[np.float32]) -> Check:
    import numpy as np

    n, k = p.ranks, p.count // p.ranks
    window = data.shape[2]
    want = expected(p.collective, data)
    out = "recv" if "recv" in p.buffers else "send"
    base = runner.system.buffer(p, out)
    wrong = compared = 0
    for r in range(n):
        blocks = [r] if p.collective == "reducescatter" else range(n)
        for b in blocks:
            raw = runner.read_buffer(r, base + b * k * p.elem, window * p.elem)
            got = ref.decode(dtype, raw)
            wrong += int(np.count_nonzero(got != want[r][b]))
            compared += window
    return Check(window, compared, wrong)


def run_collective(target: Target, rmap: RegMap, collective: str, size: int,
                   chips: Iterable[int], dtype: str = "fp32", algorithm: str | None = None,
                   channel: int = 0, seed: int = 0, max_cycles: int | None = None,
                   verify: bool = True) -> tuple[Row, Result, Check | None]:
    """Plan, load, run and check one collective; nccl-tests' row for it. Raises UsageError
    (nothing written) for a plan that cannot be, TargetError for a map that is not a system,
    CollectiveTimeout for a run that stalls."""
    runner = runner_for(target, rmap, chips, channel)
    p = make_plan(collective, runner.system.ranks, size, dtype, algorithm)
    runner.system.check_fits(p)
    return run_plan(runner, p, dtype, seed, max_cycles, verify)


def run_plan(runner: Runner, p: Plan, dtype: str, seed: int = 0,
             max_cycles: int | None = None, verify: bool = True
             ) -> tuple[Row, Result, Check | None]:
    """Load, run and check a plan checked to fit (``runner.system.check_fits``)."""
    data = load(runner, p, dtype, seed)
    result = runner.run(p, dtype, max_cycles)
    checked = check(runner, p, dtype, data) if verify else None
    if checked is not None:
        result.wrong = checked.wrong
    row = Row.of(p.collective, p.ranks, p.count, p.elem, dtype, result.cycles,
                 None if checked is None else checked.wrong)
    return row, result, checked


def bring_up(runner: Runner, rmap: RegMap) -> list[str]:
    """What firmware does before a collective, through registers: take each chip's DMA and
    NoC out of reset, enable its DMA, train every connected link port that is not up, and
    wait for the training to end. Returns the ports that did not come up (their names)."""
    target = runner.target
    trained: list[tuple[str, Register]] = []
    for chip in runner.system.chips:
        rst = rmap.find(f"chip[{chip}].sysctrl.rst_ctrl")
        if rst is not None:
            value = read_register(target, rst)
            for name in ("dma_rst", "noc_rst"):
                fld = rst.field(name)
                if fld is not None:
                    value = fld.insert(value, 0)
            write_register(target, rst, value)
        gctrl = rmap.get(f"chip[{chip}].dma.global_ctrl")
        enable = gctrl.field("enable")
        if enable is not None:
            write_register(target, gctrl, enable.insert(0, 1))
        port = 0
        while (status := rmap.find(f"chip[{chip}].c2c.port[{port}].status")) is not None:
            fields = {f.name: f.extract(read_register(target, status)) for f in status.fields}
            if fields.get("connected") and fields.get("state") != 2:
                ctrl = rmap.get(f"chip[{chip}].c2c.port[{port}].ctrl")
                train = ctrl.field("train")
                if train is not None:
                    write_register(target, ctrl, train.insert(0, 1))
                    trained.append((f"chip[{chip}].c2c.port[{port}]", status))
            port += 1
    state = [status.field("state") for _, status in trained]

    def settled() -> bool:
        return all(f is None or f.extract(read_register(target, s)) not in (0, 1)
                   for (_, s), f in zip(trained, state, strict=True))

    runner.wait(settled, TRAIN_BUDGET)
    return [name for (name, s), f in zip(trained, state, strict=True)
            if f is not None and f.extract(read_register(target, s)) != 2]
