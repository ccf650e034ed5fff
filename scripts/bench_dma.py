"""DMA engine benchmark: simulated DMA bytes moved per wall-clock second, on the default path.

    python scripts/bench_dma.py            # full: 64 MiB, 5 runs
    python scripts/bench_dma.py --quick    # 16 MiB, 3 runs

``bench_dma_bytes(quick)`` is what scripts/bench.py calls. One run programs channel 0 through
its registers for a lone dram->dram SINGLE copy on the default ``sim`` (DMA data crosses the
simulated 4x4 mesh, where a transfer with the mesh to itself moves as a flow, cycle-exact: see
socdbg/models/dma_flow.py), then runs ``run_until_text("dma.ch[0].status.busy == 0")`` (what
``run --until`` does) until the channel is done; the figure is bytes over the wall time of the
whole run, programming and kernel included. Rows:

``dma.mesh_bytes_per_s``
    the headline: the default path (target >= 1 GB/s).
``dma.flow_vs_packets``
    the same copy (1 MiB) with flows on and with flows off (every packet through the mesh's
    routers: the path before flows), runs alternating, the median of the per-pair ratios.
``dma.packet_bytes_per_s``, ``dma.coarse_bytes_per_s``
    the packet path alone, and ``sim:noc=coarse`` (no mesh: the engine's own timing).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import Rows, row, standalone

TARGET_GBPS = 1.0
SRC = 0x8000_0000
DST = 0x8000_0000 + (256 << 20)


def _sim(target: str = "sim", flows: bool = True) -> Any:
    """A simulator with the DMA out of reset and enabled."""
    from socdbg.access import write_register
    from socdbg.commands.session import Session

    sim: Any = Session(target=target).target
    sim.context.dma.flows = flows
    reg = sim.regmap.get
    write_register(sim, reg("sysctrl.rst_ctrl"), 0)
    write_register(sim, reg("dma.global_ctrl"), 1)
    return sim


def _copy_once(sim: Any, size: int) -> float:
    """One dram->dram copy of ``size`` bytes on channel 0; returns wall seconds."""
    from socdbg.access import write_register

    reg = sim.regmap.get
    status = reg("dma.ch[0].status")
    done = status.field("done")
    t0 = time.perf_counter()
    write_register(sim, status, done.mask)  # acknowledge the previous run
    write_register(sim, reg("dma.ch[0].src"), SRC)
    write_register(sim, reg("dma.ch[0].dst"), DST)
    write_register(sim, reg("dma.ch[0].len"), size)
    write_register(sim, reg("dma.ch[0].ctrl"), 0b11)  # en=1 start=1 mode=SINGLE
    ok = sim.run_until_text("dma.ch[0].status.busy == 0", 1 << 40)
    wall = time.perf_counter() - t0
    if not ok or not done.extract(sim.regs.peek(status)):
        raise RuntimeError(f"the DMA copy did not finish: status {sim.regs.peek(status):#x}")
    return wall


def _prepared(size: int, target: str = "sim", flows: bool = True) -> Any:
    sim = _sim(target, flows)
    sim.memory_at(SRC).write(SRC, random.Random(1).randbytes(size))
    _copy_once(sim, size)  # warm-up: allocates the destination pages
    return sim


def _check(sim: Any, size: int) -> None:
    if sim.memory_at(DST).read(DST, size) != sim.memory_at(SRC).read(SRC, size):
        raise RuntimeError("the destination does not hold the source bytes")


def bench_dma_bytes(quick: bool) -> Rows:
    """Simulated DMA bytes per wall-clock second on the default sim (GB/s, median)."""
    size = (16 if quick else 64) << 20
    runs = 3 if quick else 5
    sim = _prepared(size)
    start = sim.now
    samples = [size / _copy_once(sim, size) / 1e9 for _ in range(runs)]
    cycles = (sim.now - start) // runs
    _check(sim, size)
    out = [row("dma.mesh_bytes_per_s", samples, "GB/s", TARGET_GBPS,
               f"{size >> 20} MiB dram->dram SINGLE on ch0 over the 4x4 mesh (default sim), "
               f"run --until incl.; {cycles:,} simulated cycles a copy", higher_is_better=True)]

    small = 1 << 20
    pairs = 3 if quick else 5
    flow_sim, packet_sim = _prepared(small), _prepared(small, flows=False)
    ratios, flow_s, packet_s = [], [], []
    for _ in range(pairs):  # alternating, paired
        a = _copy_once(flow_sim, small)
        b = _copy_once(packet_sim, small)
        flow_s.append(small / a / 1e9)
        packet_s.append(small / b / 1e9)
        ratios.append(b / a)
    if flow_sim.now != packet_sim.now:
        raise RuntimeError(f"flows and packets disagree: cycle {flow_sim.now:,} vs "
                           f"{packet_sim.now:,}")
    _check(packet_sim, small)
    out.append(row("dma.flow_vs_packets", ratios, "x", None,
                   f"1 MiB copies, flows on vs off, {pairs} alternating pairs, median of the "
                   f"per-pair ratios; same cycle count ({flow_sim.now:,})",
                   higher_is_better=True))
    out.append(row("dma.packet_bytes_per_s", packet_s, "GB/s", None,
                   "1 MiB, every packet through the routers (flows off: the path before "
                   "flows)", higher_is_better=True))

    coarse = _prepared(size, "sim:noc=coarse")
    coarse_s = [size / _copy_once(coarse, size) / 1e9 for _ in range(runs)]
    out.append(row("dma.coarse_bytes_per_s", coarse_s, "GB/s", None,
                   f"{size >> 20} MiB, sim:noc=coarse (no mesh)", higher_is_better=True))
    return out


if __name__ == "__main__":
    if "SOCDBG_CACHE_DIR" not in os.environ:  # never the user's map cache
        os.environ["SOCDBG_CACHE_DIR"] = tempfile.mkdtemp(prefix="socdbg-bench-dma-")
    sys.exit(standalone(__doc__ or "", bench_dma_bytes))
