"""NoC model speed: simulated flit-hops per wall-clock second.

    python scripts/bench_noc.py [--quick]

The workload: an 8x8 mesh (default router: 1-cycle router and link delay, 4-flit buffers, XY
routing), uniform random traffic at 0.1 flits/node/cycle in 4-flit packets, a 1000-cycle
warm-up then ``cycles`` measured cycles, through ``socdbg.models.traffic.run_traffic``
(traffic generation and statistics included in the time). A flit-hop is one flit crossing one
router, the ejection crossing included (the ``hops`` of the latency formula in
socdbg/models/noc.py); the figure counts every crossing simulated during the run.

:func:`bench_flit_hops` returns a plain dict for scripts/bench.py. Its main figure is higher-is-
better (``higher_is_better``); ``inverse`` holds the same measurement as microseconds per
flit-hop, lower-is-better, for a table whose targets are upper bounds.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from socdbg.models.noc import Mesh
from socdbg.models.traffic import run_traffic

TARGET = 1_000_000.0  # flit-hops per second
RATE = 0.1
PACKET_FLITS = 4
WARMUP = 1000


def _one(cycles: int, seed: int) -> tuple[float, float, int, float]:
    """(wall seconds, cpu seconds, flit-hops, accepted rate) of one run."""
    mesh = Mesh(8, 8)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    stats = run_traffic(mesh, "uniform", RATE, cycles=cycles, warmup=WARMUP,
                        packet_flits=PACKET_FLITS, seed=seed)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return wall, cpu, stats.flit_hops, stats.accepted


def bench_flit_hops(quick: bool) -> dict[str, Any]:
    """Median flit-hops per wall-clock second over several seeded runs."""
    runs = 3 if quick else 7
    cycles = 5_000 if quick else 20_000
    _one(1_000, seed=99)  # warm up the interpreter and allocator; not counted
    walls: list[float] = []
    cpus: list[float] = []
    accepted: list[float] = []
    hops = 0
    for seed in range(runs):
        wall, cpu, hops, acc = _one(cycles, seed)
        walls.append(hops / wall)
        cpus.append(hops / cpu)
        accepted.append(acc)
    if not all(abs(a - RATE) < 0.1 * RATE for a in accepted):
        raise RuntimeError(f"accepted throughput {accepted} is not the offered {RATE}: the "
                           "benchmark does not measure what it says")
    median = statistics.median(walls)
    note = (f"8x8 XY, uniform {RATE} flits/node/cycle, {PACKET_FLITS}-flit packets, "
            f"{WARMUP}+{cycles} cycles, ~{hops:,} flit-hops per run; "
            f"min {min(walls):,.0f} max {max(walls):,.0f}; "
            f"cpu-time median {statistics.median(cpus):,.0f}")
    return {
        "name": "noc.flit_hops",
        "value": median,
        "unit": "flit-hops/s",
        "target": TARGET,
        "higher_is_better": True,
        "runs": runs,
        "samples": walls,
        "note": note,
        "cpu_value": statistics.median(cpus),
        "inverse": {
            "name": "noc.flit_hop_time",
            "value": 1e6 / median,
            "unit": "µs",
            "target": 1e6 / TARGET,
            "samples": [1e6 / v for v in walls],
        },
    }


def main(argv: list[str]) -> int:
    result = bench_flit_hops("--quick" in argv)
    verdict = "pass" if result["value"] >= result["target"] else "MISS"
    print(f"{result['name']}: {result['value']:,.0f} {result['unit']} "
          f"(target >= {result['target']:,.0f}: {verdict}; {result['runs']} runs)")
    print(f"  {result['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
