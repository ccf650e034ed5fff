"""DMA engine benchmark: simulated DMA bytes moved per wall-clock second.

    python scripts/bench_dma.py            # full: 64 MiB dram->dram, 5 runs per mode
    python scripts/bench_dma.py --quick    # 16 MiB, 3 runs

``bench_dma_bytes(quick)`` is what scripts/bench.py calls. One run programs channel 0 through
its registers for a dram->dram copy, then steps the kernel (``run_until`` polling
``status.busy``, as a user script would) until the channel is done; the figure is bytes over
the wall time of the whole run, programming and kernel stepping included. The headline
``value`` is the coarse mode (no NoC, the SoC's default); the same copy through an idle
fixed-latency NoC is reported beside it. Higher is better: ``target`` is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

TARGET_GBPS = 1.0
NOC_LATENCY = 20
SRC = 0x8000_0000
DST = 0x8000_0000 + (256 << 20)


class IdleNoc:
    """A NoC with nothing else on it: every packet arrives ``latency + flits - 1`` cycles
    after it was sent."""

    def __init__(self, kernel: Any, latency: int = NOC_LATENCY) -> None:
        self.kernel = kernel
        self.latency = latency

    def send(self, src_node: int, dst_node: int, flits: int,
             on_delivered: Callable[[int], None]) -> None:
        due = self.kernel.now + self.latency + flits - 1
        self.kernel.schedule(due - self.kernel.now, lambda: on_delivered(due))


def _sim() -> tuple[Any, Any]:
    """The reference SoC simulator with a DMA engine (attached here unless the SoC has one),
    DMA out of reset and enabled."""
    from socdbg.access import write_register
    from socdbg.commands.session import Session
    from socdbg.models.dma import DmaEngine
    from socdbg.models.soc import Interrupts

    sim: Any = Session().target
    engine = next((m for m in sim.models if isinstance(m, DmaEngine)), None)
    if engine is None:
        irq = next((m for m in sim.models if isinstance(m, Interrupts)), None)
        engine = DmaEngine(sim, irq=irq)
        sim.models.append(engine)
    reg = sim.regmap.get
    write_register(sim, reg("sysctrl.rst_ctrl"), 0)
    write_register(sim, reg("dma.global_ctrl"), 1)
    return sim, engine


def _copy_once(sim: Any, size: int) -> float:
    """One dram->dram copy of ``size`` bytes on channel 0; returns wall seconds."""
    from socdbg.access import write_register

    reg = sim.regmap.get
    status = reg("dma.ch[0].status")
    busy = status.field("busy")
    done = status.field("done")
    peek = sim.regs.peek
    t0 = time.perf_counter()
    write_register(sim, status, done.mask)  # acknowledge the previous run
    write_register(sim, reg("dma.ch[0].src"), SRC)
    write_register(sim, reg("dma.ch[0].dst"), DST)
    write_register(sim, reg("dma.ch[0].len"), size)
    write_register(sim, reg("dma.ch[0].ctrl"), 0b11)  # en=1 start=1 mode=SINGLE
    ok = sim.run_until(lambda: not busy.extract(peek(status)), 1 << 40)
    wall = time.perf_counter() - t0
    if not ok or not done.extract(peek(status)):
        raise RuntimeError(f"the DMA copy did not finish: status {peek(status):#x}")
    return wall


def _measure(size: int, runs: int, noc: bool) -> tuple[list[float], int]:
    sim, engine = _sim()
    engine.noc = IdleNoc(sim.kernel) if noc else None
    src = sim.memory_at(SRC)
    src.write(SRC, random.Random(1).randbytes(size))
    _copy_once(sim, size)  # warm-up: allocates the destination pages
    samples = []
    cycles = 0
    for _ in range(runs):
        start = sim.now
        wall = _copy_once(sim, size)
        cycles = sim.now - start
        samples.append(size / wall / 1e9)
    if sim.memory_at(DST).read(DST, size) != src.read(SRC, size):
        raise RuntimeError("the destination does not hold the source bytes")
    return samples, cycles


def bench_dma_bytes(quick: bool) -> dict[str, Any]:
    """Simulated DMA bytes per wall-clock second (GB/s, median over runs)."""
    size = (16 if quick else 64) << 20
    runs = 3 if quick else 5
    coarse, coarse_cycles = _measure(size, runs, noc=False)
    noc_size = size // 16  # a packet per 256 bytes: far more events than the coarse mode
    noc, noc_cycles = _measure(noc_size, runs, noc=True)
    value = statistics.median(coarse)
    noc_value = statistics.median(noc)
    return {
        "name": "dma.bytes_per_s",
        "value": value,
        "unit": "GB/s",
        "target": TARGET_GBPS,
        "higher_is_better": True,
        "runs": runs,
        "samples": coarse,
        "noc_idle_value": noc_value,
        "noc_idle_samples": noc,
        "note": (f"{size >> 20} MiB dram->dram on ch0, run_until incl.; coarse "
                 f"{coarse_cycles} cycles; idle NoC (latency {NOC_LATENCY}, "
                 f"{noc_size >> 20} MiB) {noc_value:.3f} GB/s, {noc_cycles} cycles"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="16 MiB and 3 runs")
    args = ap.parse_args(argv)
    if "SOCDBG_CACHE_DIR" not in os.environ:  # never the user's map cache
        os.environ["SOCDBG_CACHE_DIR"] = tempfile.mkdtemp(prefix="socdbg-bench-dma-")
    print(json.dumps(bench_dma_bytes(args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
