"""NoC model speed: flit-router-hops per CPU second of synthetic traffic, beside BookSim2.

    python scripts/bench_noc.py [--quick] [--json FILE]

Each row runs ``socdbg.models.traffic.run_traffic`` (traffic generation and statistics
included) on a mesh with the default router (1-cycle router and link delay, 8-flit buffers, XY
routing): uniform random traffic, a warm-up then the measured cycles. The figure is accepted
flits x routers crossed (the same definition as the BookSim2 reference figures of issue 19:
flit-router-hops, the ejection crossing included) over the CPU time of the run, median over
seeded runs. BookSim2's figures were measured on this machine class with matched 1-VC
configurations and are printed in each row's note; they are constants here, not measured.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import Rows, row, standalone

from socdbg.models.noc import Mesh
from socdbg.models.traffic import run_traffic

TARGET = 2_000_000.0  # flit-router-hops per CPU second (issue 19)
#: (side, offered, flits) -> BookSim2 flit-router-hops per CPU second (issue 19), when known
BOOKSIM2 = {(8, 0.1, 1): 810_000.0, (8, 0.1, 4): 1_030_000.0, (16, 0.1, 4): 820_000.0}
ROWS = [  # name, side, offered rate, packet flits, measured cycles (full, quick)
    ("noc.flit_hops_8x8_1flit", 8, 0.1, 1, (5_000, 2_000)),
    ("noc.flit_hops_8x8_4flit", 8, 0.1, 4, (5_000, 2_000)),
    ("noc.flit_hops_16x16_4flit", 16, 0.1, 4, (2_000, 1_000)),
    ("noc.flit_hops_8x8_4flit_sat", 8, 0.8, 4, (1_000, 500)),
    ("noc.flit_hops_8x8_1flit_sat", 8, 0.8, 1, (1_000, 500)),
    ("noc.flit_hops_16x16_1flit", 16, 0.1, 1, (2_000, 1_000)),
    ("noc.flit_hops_16x16_4flit_sat", 16, 0.8, 4, (500, 300)),
    ("noc.flit_hops_16x16_1flit_sat", 16, 0.8, 1, (500, 300)),
]
WARMUP = 500


def _one(side: int, rate: float, flits: int, cycles: int, seed: int,
         lazy: bool = True) -> tuple[float, int]:
    """(cpu seconds, flit-router-hops) of one run."""
    mesh = Mesh(side, side)
    cpu0 = time.process_time()
    stats = run_traffic(mesh, "uniform", rate, cycles=cycles, warmup=WARMUP,
                        packet_flits=flits, seed=seed, lazy=lazy)
    return time.process_time() - cpu0, stats.flit_hops


def bench_flit_hops(quick: bool) -> Rows:
    """Flit-router-hops per CPU second, uniform traffic, below and past saturation."""
    runs = 3 if quick else 5
    _one(8, 0.1, 4, 300, seed=99)  # warm up the interpreter and allocator; not counted
    out: Rows = []
    for name, side, rate, flits, (full, short) in ROWS:
        cycles = short if quick else full
        samples = []
        hops = 0
        for seed in range(runs):
            cpu, hops = _one(side, rate, flits, cycles, seed)
            samples.append(hops / cpu)
        ref = BOOKSIM2.get((side, rate, flits))
        beside = f"BookSim2 {ref:,.0f}" if ref else "BookSim2: no reference figure"
        out.append(row(name, samples, "hops/s", TARGET,
                       f"{side}x{side} uniform {rate} offered, {flits}-flit packets, "
                       f"{WARMUP}+{cycles} cycles, ~{hops:,} hops a run; {beside}; "
                       f"median {statistics.median(samples):,.0f}", higher_is_better=True))
    for flits in (1, 4):  # lazy sources (the default) against eager ones, paired by seed
        cycles = 500 if quick else 1_000
        ratios = []
        for seed in range(runs):
            lazy_cpu, _ = _one(8, 0.8, flits, cycles, seed)
            eager_cpu, _ = _one(8, 0.8, flits, cycles, seed, lazy=False)
            ratios.append(eager_cpu / lazy_cpu)
        out.append(row(f"noc.lazy_speedup_8x8_{flits}flit_sat", ratios, "x", None,
                       f"8x8 uniform 0.8 offered, {flits}-flit packets: CPU time with every "
                       "packet handed to the mesh when created over lazy sources (BookSim2's "
                       "way), same seed, same results; median of per-pair ratios",
                       higher_is_better=True))
    return out


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", bench_flit_hops))
