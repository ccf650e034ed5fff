"""Collectives on the multi-chip simulator: the wall time of a 64-chip 1 GiB ring all-reduce,
and nccl-tests' busbw over a sweep of sizes.

    python scripts/bench_collective.py [--quick] [--json FILE]

``collective.allreduce_64x1GiB_wall`` runs ``socdbg.collectives.api.run_collective`` on
``sim:chips=64,topology=ring`` (bring-up done before the clock starts): 126 steps, every chip
programming its DMA through registers each step, the data checked in windows (the first
4 KiB of each chip's block; the rest of the 1 GiB buffers stays zero and sparse). The goal
is under 30 s (issue 23). Its note gives the simulated time, busbw, and the ratio to the
alpha-beta model 2(N-1)(alpha + S/(N*B)).

``collective.busbw_8chip_SIZE`` rows are one nccl-tests sweep (ring all-reduce, fp32) on
``sim:chips=8,topology=ring`` with the default links (B = 32 bytes a cycle, alpha = 200
cycles): busbw in GB/s at 1 GHz, higher is better, with no target (it approaches B, 32 GB/s,
for large messages; docs/models.md explains the small ones).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import Rows, row, standalone

WALL_TARGET = 30.0
#: Default link latency (alpha, cycles) and bandwidth (B, bytes a cycle): registers/c2c.rdl.
ALPHA, BW = 200, 32


def _system(chips: int) -> tuple[Any, Any]:
    import io

    from socdbg.collectives import api
    from socdbg.commands.session import Session

    session = Session(out=io.StringIO(), target=f"sim:chips={chips},topology=ring")
    target, rmap = session.target, session.map
    failed = api.bring_up(api.runner_for(target, rmap, range(chips)), rmap)
    if failed:
        raise RuntimeError(f"links did not come up: {failed}")
    return target, rmap


def model_cycles(chips: int, nbytes: int) -> float:
    return 2 * (chips - 1) * (ALPHA + nbytes / (chips * BW))


def bench_allreduce_64x1GiB(quick: bool) -> dict[str, Any]:
    from socdbg.collectives.api import run_collective

    chips, size = 64, 1 << 30
    target, rmap = _system(chips)
    t0 = time.perf_counter()
    r, result, check = run_collective(target, rmap, "allreduce", size, range(chips), "fp32")
    wall = time.perf_counter() - t0
    assert check is not None
    ratio = result.cycles / model_cycles(chips, r.size)
    return row("collective.allreduce_64x1GiB_wall", [wall], "s", WALL_TARGET,
               f"ring all-reduce of {r.size:,} bytes on 64 chips: {result.cycles:,} cycles "
               f"simulated ({r.time_us / 1e3:.1f} ms at 1 GHz), busbw {r.busbw:.2f} GB/s, "
               f"{ratio:.4f} x the alpha-beta model, {check.wrong} wrong of "
               f"{check.compared:,} checked")


def bench_busbw_sweep(quick: bool) -> Rows:
    from socdbg.collectives.api import run_collective

    chips = 8
    target, rmap = _system(chips)
    top = 1 << (24 if quick else 28)
    out: Rows = []
    size = 1 << 10
    while size <= top:
        t0 = time.perf_counter()
        r, result, check = run_collective(target, rmap, "allreduce", size, range(chips))
        wall = time.perf_counter() - t0
        assert check is not None
        ratio = result.cycles / model_cycles(chips, r.size)
        label = f"{size >> 20}M" if size >= 1 << 20 else f"{size >> 10}K"
        out.append(row(f"collective.busbw_8chip_{label}", [r.busbw], "GB/s", None,
                       f"ring all-reduce fp32, {r.size:,} B: {r.time_us:,.1f} us simulated, "
                       f"algbw {r.algbw:.2f} GB/s, {ratio:.3f} x alpha-beta, wall "
                       f"{wall:.2f} s, {check.wrong} wrong", higher_is_better=True))
        size *= 4
    return out


def _all(quick: bool) -> Rows:
    return [*bench_busbw_sweep(quick), bench_allreduce_64x1GiB(quick)]


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", _all))
