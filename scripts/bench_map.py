"""Map benchmarks: compile and load the generated 100k-register map (cold, warm, memory) and
look registers up in it (by path, by address, by glob).

    python scripts/bench_map.py [--quick] [--json FILE]
    python scripts/bench.py --only map

Process-level figures start a fresh ``sys.executable`` per repetition, so interpreter
start-up and import costs are counted the way a user pays them; every map cache is private
to the run (never the user's).
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchrows import BenchError, Row, private_cache, ratio_row, run_python, standalone, timed_row

HERE = Path(__file__).resolve().parent
BIG_BLOCKS, BIG_PORTS, BIG_REGS = 1000, 10, 10  # 100,000 registers


class _Context:
    """The generated map (written once per process), fresh cache folders and child runs."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.root = Path(tempfile.mkdtemp(prefix="socdbg-bench-map-"))
        self.cache = private_cache()  # the warm cache
        self.figures: dict[str, Row] = {}
        self._big_map: Path | None = None
        self._regmap: Any = None
        self._counter = 0

    def runs(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def figure(self, name: str) -> Row | None:
        return self.figures.get(name)

    def fresh_dir(self, stem: str) -> Path:
        self._counter += 1
        d = self.root / f"{stem}-{self._counter}"
        d.mkdir()
        return d

    @property
    def big_map(self) -> Path:
        """The generated map's .rdl file."""
        if self._big_map is None:
            spec = importlib.util.spec_from_file_location("gen_big_map", HERE / "gen_big_map.py")
            if spec is None or spec.loader is None:
                raise BenchError(f"cannot load {HERE / 'gen_big_map.py'}")
            gen = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(gen)
            path = self.root / "big" / "big.rdl"
            gen.write(path, BIG_BLOCKS, BIG_PORTS, BIG_REGS)
            self._big_map = path
        return self._big_map

    def warm_cache(self) -> None:
        """Make sure the warm cache holds the big map (compiled in a child if needed)."""
        self.load_child()

    def load_child(self, cache: Path | None = None) -> tuple[float, dict[str, Any]]:
        """Load the big map in a fresh process (through ``cache``, else the warm cache):
        (wall seconds, the child's figures), checked to hold every register."""
        wall, res = self.py_json("-c", _CHILD_LOAD, str(self.big_map), cache=cache)
        n = BIG_BLOCKS * BIG_PORTS * BIG_REGS
        if res.get("n") != n:
            raise BenchError(f"the child loaded {res.get('n')} registers, not {n}")
        return wall, res

    @property
    def regmap(self) -> Any:
        """The big map loaded in this process (through the warm cache)."""
        if self._regmap is None:
            from socdbg.regmap import load_map

            self._regmap = load_map([self.big_map])
            n = BIG_BLOCKS * BIG_PORTS * BIG_REGS
            if len(self._regmap) != n:
                raise BenchError(f"the generated map has {len(self._regmap)} registers, not {n}")
        return self._regmap

    def py(self, *args: str, cache: Path | None = None) -> tuple[float, str]:
        return run_python(*args, cache=cache or self.cache, cwd=self.root)

    def py_json(self, *args: str, cache: Path | None = None) -> tuple[float, dict[str, Any]]:
        wall, out = self.py(*args, cache=cache)
        lines = out.strip().splitlines()
        if not lines:
            raise BenchError(f"no output from the child (python {' '.join(args[:1])})")
        return wall, json.loads(lines[-1])


_CONTEXT: list[_Context] = []


def _bench(quick: bool) -> _Context:
    if not _CONTEXT:
        import atexit

        ctx = _Context(quick)
        atexit.register(shutil.rmtree, ctx.root, ignore_errors=True)
        _CONTEXT.append(ctx)
    return _CONTEXT[0]


#: Child: import socdbg.regmap, load the map in argv[1] through the cache in $SOCDBG_CACHE_DIR,
#: print one JSON line: seconds for the import and the load, VmRSS (kB) before and after the
#: load, peak RSS, the register count.
_CHILD_LOAD = """
import json, sys, time
def _status():
    out = {}
    try:
        with open('/proc/self/status') as fh:
            for line in fh:
                k, _, v = line.partition(':')
                if k in ('VmRSS', 'VmHWM'):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out
t0 = time.perf_counter()
import socdbg.regmap
t1 = time.perf_counter()
base = _status()
t2 = time.perf_counter()
m = socdbg.regmap.load_map([sys.argv[1]])
t3 = time.perf_counter()
after = _status()
print(json.dumps({'import': t1 - t0, 'load': t3 - t2, 'n': len(m),
                  'rss_base': base.get('VmRSS'), 'rss': after.get('VmRSS'),
                  'hwm': after.get('VmHWM')}))
"""


def bench_cold_compile(quick: bool) -> Iterator[Row]:
    """compile the generated 100k-register map with an empty cache (compile + walk + write cache),
    fresh process per run; also in-process"""
    ctx = _bench(quick)
    path = str(ctx.big_map)
    n = ctx.runs(11, 3)
    ctx.load_child(ctx.fresh_dir("cold"))  # warm the page cache
    loads: list[float] = []
    walls: list[float] = []
    for _ in range(n):
        wall, res = ctx.load_child(ctx.fresh_dir("cold"))
        loads.append(res["load"])
        walls.append(wall)
    cold = timed_row("map.cold_compile", loads, "ms", scale=1e3,
                     note="load_map() in a fresh process, empty cache; incl. systemrdl import")
    ctx.figures[cold.name] = cold
    yield cold
    yield timed_row("map.cold_compile.process", walls, "ms", scale=1e3,
                    note="whole process: python start + import + compile + exit")

    # in-process: systemrdl is already imported after the first run, so this is the compile,
    # the walk and the cache write alone
    from socdbg.regmap import load_map

    inproc: list[float] = []
    saved = os.environ.get("SOCDBG_CACHE_DIR")
    try:
        for i in range(n + 1):
            os.environ["SOCDBG_CACHE_DIR"] = str(ctx.fresh_dir("cold-inproc"))
            gc.collect()
            t0 = time.perf_counter()
            load_map([path])
            dt = time.perf_counter() - t0
            if i:  # the first one imports systemrdl
                inproc.append(dt)
    finally:
        if saved is not None:
            os.environ["SOCDBG_CACHE_DIR"] = saved
    yield timed_row("map.cold_compile.inproc", inproc, "ms", scale=1e3,
                    note="in this process, compiler already imported")


def bench_warm_load(quick: bool) -> Iterator[Row]:
    """load the 100k map from the warm cache in a fresh process; ratio to the cold compile"""
    ctx = _bench(quick)
    ctx.warm_cache()
    n = ctx.runs(25, 5)
    loads: list[float] = []
    walls: list[float] = []
    for _ in range(n):
        wall, res = ctx.load_child()
        loads.append(res["load"])
        walls.append(wall)
    warm = timed_row("map.warm_load", loads, "ms", 250.0, scale=1e3,
                     note="load_map() in a fresh process, warm cache")
    yield warm
    yield timed_row("map.warm_load.process", walls, "ms", scale=1e3,
                    note="whole process: python start + import + load + exit")
    yield ratio_row("map.warm/cold", warm, ctx.figure("map.cold_compile"), "%", 5.0,
                    note="map.warm_load / map.cold_compile")


bench_warm_load.requires = ("map.cold_compile",)  # type: ignore[attr-defined]


def bench_rss(quick: bool) -> Iterator[Row]:
    """resident memory of a process holding the 100k map, minus the bare interpreter with
    socdbg.regmap imported"""
    ctx = _bench(quick)
    ctx.warm_cache()
    n = ctx.runs(5, 3)
    deltas: list[float] = []
    bases: list[float] = []
    for _ in range(n):
        _, res = ctx.load_child()
        if res.get("rss") is None or res.get("rss_base") is None:
            raise BenchError("VmRSS not available (/proc/self/status missing?)")
        deltas.append((res["rss"] - res["rss_base"]) / 1024)
        bases.append(res["rss_base"] / 1024)
    yield timed_row("map.rss", deltas, "MB", 150.0,
                    note=f"VmRSS after warm load - baseline "
                         f"({statistics.median(bases):.1f} MB)")
    # the cold path once, for reference: the compiler's tree is the peak
    _, res = ctx.load_child(ctx.fresh_dir("rss-cold"))
    yield Row("map.rss.cold_compile", (res["rss"] - res["rss_base"]) / 1024, "MB", None, 1,
              f"after a cold compile; peak VmHWM {res['hwm'] / 1024:.0f} MB total")


def _per_call(fn: Callable[[Any], Any], inputs: Sequence[Any], repeats: int) -> list[float]:
    """Seconds per call of ``fn`` over ``inputs``, one figure per repeat."""
    out = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        for x in inputs:
            fn(x)
        out.append((time.perf_counter() - t0) / len(inputs))
    return out


def bench_lookup_path(quick: bool) -> Iterator[Row]:
    """find() a random register path in the 100k map"""
    ctx = _bench(quick)
    rmap = ctx.regmap
    rng = random.Random(1)
    every = rmap.paths  # a list built per call: take it once
    paths = [rng.choice(every) for _ in range(20_000)]
    upper = [p.upper() for p in paths[:5000]]
    missing = 0
    for p in paths[:100]:
        if rmap.find(p) is None:
            missing += 1
    if missing:
        raise BenchError(f"{missing} of 100 sampled paths not found")
    reps = ctx.runs(7, 3)
    yield timed_row("lookup.path", _per_call(rmap.find, paths, reps), "µs", 20.0, scale=1e6,
                    note=f"{len(paths)} random paths per run")
    yield timed_row("lookup.path.upper_case", _per_call(rmap.find, upper, reps), "µs", 20.0,
                    scale=1e6, note="the same, typed in upper case")


def bench_lookup_address(quick: bool) -> Iterator[Row]:
    """at() the register holding a random byte address in the 100k map"""
    ctx = _bench(quick)
    rmap = ctx.regmap
    rng = random.Random(2)
    addrs = []
    for _ in range(20_000):
        reg = rmap[rng.randrange(len(rmap))]
        addrs.append(reg.address + rng.randrange(reg.layout.size))
    if any(rmap.at(a) is None for a in addrs[:100]):
        raise BenchError("a sampled address holds no register")
    reps = ctx.runs(7, 3)
    yield timed_row("lookup.address", _per_call(rmap.at, addrs, reps), "µs", 20.0, scale=1e6,
                    note=f"{len(addrs)} random addresses per run")


GLOBS = ("blk[*].port[3].r7", "*.r1", "blk[12].*")


def bench_lookup_glob(quick: bool) -> Iterator[Row]:
    """glob() over the 100k map (reported, no target)"""
    ctx = _bench(quick)
    rmap = ctx.regmap
    reps = ctx.runs(7, 3)
    for pattern in GLOBS:
        hits = len(rmap.glob(pattern))
        yield timed_row(f"lookup.glob {pattern}", _per_call(rmap.glob, [pattern], reps), "ms",
                        scale=1e3, note=f"{hits} matches")


def _all(quick: bool) -> Iterator[Row]:
    for fn in (bench_cold_compile, bench_warm_load, bench_rss, bench_lookup_path,
               bench_lookup_address, bench_lookup_glob):
        yield from fn(quick)


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", _all))
