"""The rtl: target: build time (cold and cached) and register reads per second.

    python scripts/bench_rtl.py [--quick] [--json FILE]

``rtl.build_cold``: generate + Verilator build of the reference SoC's blocks (4x4 NoC; with
--quick only sysctrl,intc,hbm) into an empty cache folder, wall time. ``rtl.build_cached``:
opening the same target again (cache key, harness start, first answer). ``rtl.reads_*``:
register reads per second through the target, batched (one coalesced block read of many
registers per pipe round trip, as dumps and ``read`` of a glob do) against one read per call
(a round trip per register); paired alternating runs, the speedup is the median of the
per-pair ratios.
"""

from __future__ import annotations

import io
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import Rows, row, standalone

from socdbg.commands.session import Session

READS = 2049  # register reads per measured run (a multiple of 3)


def _open(spec: str) -> Session:
    session = Session(target=spec, out=io.StringIO())
    session.target  # noqa: B018  (opens, building when not cached)
    return session


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench_rtl(quick: bool) -> Rows:
    spec = "rtl:sysctrl,intc,hbm" if quick else "rtl"
    out: Rows = []
    saved = os.environ.get("SOCDBG_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="bench-rtl-") as cache:
        os.environ["SOCDBG_CACHE_DIR"] = cache
        try:
            t0 = time.perf_counter()
            cpu0 = _cpu()
            session = _open(spec)
            cold = time.perf_counter() - t0
            cpu = _cpu() - cpu0
            session.close()
            out.append(row("rtl.build_cold", [cold], "s", None,
                           f"{spec}: PeakRDL-regblock + Verilator 5.006 build, empty cache, "
                           f"wall time, {os.cpu_count()} CPUs (shared)"))
            out.append(row("rtl.build_cold_cpu", [cpu], "s", None,
                           f"{spec}: the same build's CPU time (this process and the "
                           "Verilator/g++ children), independent of other load"))
            cached = []
            for _ in range(3 if quick else 7):
                t0 = time.perf_counter()
                s = _open(spec)
                cached.append(time.perf_counter() - t0)
                s.close()
            out.append(row("rtl.build_cached", cached, "s", 1.0,
                           f"{spec}: second start, from the cache (key, harness start)"))
            session = _open(spec)
            try:
                out += _reads(session, quick)
            finally:
                session.close()
        finally:
            if saved is None:
                os.environ.pop("SOCDBG_CACHE_DIR", None)
            else:
                os.environ["SOCDBG_CACHE_DIR"] = saved
    return out


def _reads(session: Session, quick: bool) -> Rows:
    target = session.target
    base = 0x4000_0000  # sysctrl: chip_id, revision, scratch (12 readable bytes)
    addrs = [base + (i % 3) * 4 for i in range(READS)]

    def batched() -> float:
        t0 = time.perf_counter()
        for _ in range(READS // 3):
            target.read_block(base, 12)
        return time.perf_counter() - t0

    def single() -> float:
        t0 = time.perf_counter()
        for a in addrs:
            target.read(a, 4)
        return time.perf_counter() - t0

    batched(), single()  # warm up
    fast, slow, ratios = [], [], []
    for _ in range(3 if quick else 7):
        b, s = batched(), single()
        fast.append(READS / b)
        slow.append(READS / s)
        ratios.append(s / b)
    return [
        row("rtl.reads_batched", fast, "reads/s", None,
            f"{READS} register reads as coalesced block reads (3 registers each), "
            "each read a full APB transfer in the harness", higher_is_better=True),
        row("rtl.reads_single", slow, "reads/s", None,
            f"{READS} register reads, one target.read per register (a pipe round trip "
            "each)", higher_is_better=True),
        row("rtl.reads_speedup", ratios, "x", None,
            "batched over one-read-per-call, median of per-pair ratios; "
            f"median batched {statistics.median(fast):,.0f}/s", higher_is_better=True),
    ]


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", bench_rtl))
