"""NoC model speed and saturation: flit-router-hops per CPU second of synthetic traffic, and
accepted throughput with one and two virtual channels, beside BookSim2.

    python scripts/bench_noc.py [--quick] [--json FILE]
    python scripts/bench.py --only noc

Each speed row runs ``socdbg.models.traffic.run_traffic`` (traffic generation and statistics
included) on a mesh with the default router (1-cycle router and link delay, 8-flit buffers, XY
routing): uniform random traffic, a warm-up then the measured cycles. ``run_traffic`` takes the
cycle-by-cycle arrays (socdbg.models.noc.cycles, compiled by numba) when numba is installed.
The figure is accepted flits x routers crossed (the same definition as the BookSim2 reference
figures of issue 19: flit-router-hops, the ejection crossing included) over the CPU time of
the run, median over seeded runs. Past saturation the run goes on until every packet created
in the window is delivered (the source queues hold the rest; run_traffic's drain).

``noc.engine_speedup_*`` are paired ratios in one run: CPU time of the event-driven mesh (the
reference) over the cycle arrays, same seed, same results (tests/test_noc_cycles.py proves them
equal). ``noc.saturation_8x8_*vc`` is accepted throughput at 0.8 offered as a fraction of the
channel-load bound 4/k. BookSim2's figures (issue 19, measured on this machine class with
matched configurations) are constants printed beside the rows, not measured here: no BookSim2
build is looked for.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import Rows, row, standalone

from socdbg.models.noc import Mesh
from socdbg.models.traffic import TrafficStats, channel_load_bound, run_traffic, uniform

TARGET = 2_000_000.0  # flit-router-hops per CPU second (issue 19)
#: (side, offered, flits) -> BookSim2 flit-router-hops per CPU second (issue 19), when known
BOOKSIM2 = {(8, 0.1, 1): 810_000.0, (8, 0.1, 4): 1_030_000.0, (16, 0.1, 4): 820_000.0}
#: virtual channels -> BookSim2's 8x8 uniform saturation, fraction of the 4/k bound (issue 19)
BOOKSIM2_SATURATION = {1: 0.68, 2: 0.80}
ROWS = [  # name, side, offered rate, packet flits, VCs, measured cycles (full, quick)
    ("noc.flit_hops_8x8_1flit", 8, 0.1, 1, 1, (5_000, 2_000)),
    ("noc.flit_hops_8x8_4flit", 8, 0.1, 4, 1, (5_000, 2_000)),
    ("noc.flit_hops_16x16_1flit", 16, 0.1, 1, 1, (2_000, 1_000)),
    ("noc.flit_hops_16x16_4flit", 16, 0.1, 4, 1, (2_000, 1_000)),
    ("noc.flit_hops_8x8_1flit_sat", 8, 0.8, 1, 1, (1_000, 500)),
    ("noc.flit_hops_8x8_4flit_sat", 8, 0.8, 4, 1, (1_000, 500)),
    ("noc.flit_hops_16x16_1flit_sat", 16, 0.8, 1, 1, (500, 300)),
    ("noc.flit_hops_16x16_4flit_sat", 16, 0.8, 4, 1, (500, 300)),
    ("noc.flit_hops_8x8_4flit_sat_2vc", 8, 0.8, 4, 2, (1_000, 500)),
]
WARMUP = 500


def _one(side: int, rate: float, flits: int, cycles: int, seed: int, vcs: int = 1,
         engine: str = "auto") -> tuple[float, TrafficStats]:
    """(cpu seconds, statistics) of one run."""
    mesh = Mesh(side, side, vcs=vcs)
    cpu0 = time.process_time()
    stats = run_traffic(mesh, "uniform", rate, cycles=cycles, warmup=WARMUP,
                        packet_flits=flits, seed=seed, engine=engine)
    return time.process_time() - cpu0, stats


def _warm_up() -> None:
    """Compile (the first time; numba caches it) and warm up the kernel; not counted."""
    for vcs in (1, 2):
        _one(4, 0.1, 4, 300, seed=99, vcs=vcs)


def bench_flit_hops(quick: bool) -> Rows:
    """Flit-router-hops per CPU second, uniform traffic, below and past saturation."""
    runs = 3 if quick else 5
    _warm_up()
    out: Rows = []
    for name, side, rate, flits, vcs, (full, short) in ROWS:
        cycles = short if quick else full
        samples = []
        stats = None
        for seed in range(runs):
            cpu, stats = _one(side, rate, flits, cycles, seed, vcs)
            samples.append(stats.flit_hops / cpu)
        assert stats is not None
        ref = BOOKSIM2.get((side, rate, flits)) if vcs == 1 else None
        med = statistics.median(samples)
        beside = (f"BookSim2 {ref:,.0f} ({med / ref:.1f}x)" if ref
                  else "BookSim2: no reference figure")
        out.append(row(name, samples, "hops/s", TARGET,
                       f"{side}x{side} uniform {rate} offered, {flits}-flit packets, {vcs} VC, "
                       f"{WARMUP}+{cycles} cycles, ~{stats.flit_hops:,} hops a run, accepted "
                       f"{stats.accepted:.3f} flits/node/cycle, ran to cycle "
                       f"{stats.end_cycle:,}; {beside}", higher_is_better=True))
    return out


def bench_saturation(quick: bool) -> Rows:
    """Accepted throughput at 0.8 offered on 8x8 uniform, 4-flit packets, over the 4/k bound,
    with one and two virtual channels, beside BookSim2's."""
    cycles = 1_500 if quick else 3_000
    out: Rows = []
    for vcs in (1, 2):
        fractions = []
        for seed in range(3):
            mesh = Mesh(8, 8, vcs=vcs)
            stats = run_traffic(mesh, uniform(), 0.8, cycles=cycles, warmup=1_000, seed=seed)
            fractions.append(stats.accepted / channel_load_bound(mesh, uniform()))
        ref = BOOKSIM2_SATURATION[vcs]
        out.append(row(f"noc.saturation_8x8_{vcs}vc", fractions, "of 4/k", None,
                       f"8x8 uniform 0.8 offered, 4-flit packets, 8-flit buffers per VC, "
                       f"{vcs} VC, 1000+{cycles} cycles; BookSim2 {ref:.2f} "
                       f"({statistics.median(fractions) / ref:.3f}x)", higher_is_better=True))
    return out


def bench_engine_speedup(quick: bool) -> Rows:
    """CPU time of the event-driven mesh over the cycle arrays, paired by seed."""
    runs = 3
    _warm_up()
    out: Rows = []
    for side, rate, flits, cycles in ((8, 0.1, 4, 2_000), (8, 0.8, 1, 500)):
        ratios = []
        for seed in range(runs):
            fast, a = _one(side, rate, flits, cycles, seed, engine="cycles")
            slow, b = _one(side, rate, flits, cycles, seed, engine="events")
            assert a == b, "the engines disagree"
            ratios.append(slow / fast)
        out.append(row(f"noc.engine_speedup_{side}x{side}_{flits}flit_{rate}", ratios, "x",
                       None, f"{side}x{side} uniform {rate} offered, {flits}-flit packets, "
                       f"{WARMUP}+{cycles} cycles: events over cycles, same seed, same "
                       "statistics; median of per-pair ratios", higher_is_better=True))
    return out


def _all(quick: bool) -> Rows:
    return bench_flit_hops(quick) + bench_saturation(quick) + bench_engine_speedup(quick)


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", _all))
