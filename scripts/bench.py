"""socdbg benchmarks: one table of medians over repeated runs, each against its target.

    python scripts/bench.py                  # every benchmark, full repetitions (~1 min)
    python scripts/bench.py --quick          # fewer repetitions (~15 s)
    python scripts/bench.py --only map,cli.read_startup --json figures.json
    python scripts/bench.py --list

Benchmarks report, they do not fail: the exit status is 0 whatever the figures (a missed
target shows as ``MISS``, a broken benchmark as ``error: ...`` in its row, and the others
still run).

Everything runs against a private temporary cache folder (``SOCDBG_CACHE_DIR`` is set for this
process and every child), so the user's map cache is never read or written. Process-level
figures start a fresh ``sys.executable`` per repetition, so interpreter start-up and import
costs are counted the way a user pays them.

Adding a benchmark: write a generator that takes the :class:`Context` and yields
:class:`Row` objects, and register it with ``@benchmark("group.name", "what it measures")``.
``ctx.runs(full, quick)`` gives the repetition count, ``ctx.big_map`` / ``ctx.regmap`` give
the generated 100k-register map (as a file, and loaded in this process), ``ctx.py(...)`` times
a child interpreter, and ``ctx.figure(name)`` returns a row an earlier benchmark produced
(declare it with ``requires=`` so ``--only`` runs it first).
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIG_BLOCKS, BIG_PORTS, BIG_REGS = 1000, 10, 10  # 100,000 registers


# --------------------------------------------------------------------------------------------
# rows and the registry
# --------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the table. ``value`` is the median; ``target`` an upper bound (lower is
    better), a lower bound when ``higher_is_better`` (throughput, speedups), or None when
    the figure is reported without a target."""

    name: str
    value: float | None = None
    unit: str = ""
    target: float | None = None
    runs: int | None = None
    note: str = ""
    error: str | None = None
    samples: list[float] = field(default_factory=list)
    higher_is_better: bool = False

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "error"
        if self.target is None or self.value is None:
            return "-"
        if self.higher_is_better:
            return "pass" if self.value >= self.target else "MISS"
        return "pass" if self.value <= self.target else "MISS"


BenchFn = Callable[["Context"], Iterator[Row]]


@dataclass
class Benchmark:
    name: str
    help: str
    fn: BenchFn
    requires: tuple[str, ...] = ()


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, help: str = "", requires: Sequence[str] = ()
              ) -> Callable[[BenchFn], BenchFn]:
    """Register a benchmark: a generator of :class:`Row` taking the :class:`Context`."""

    def deco(fn: BenchFn) -> BenchFn:
        if name in BENCHMARKS:
            raise RuntimeError(f"benchmark '{name}' is registered twice")
        BENCHMARKS[name] = Benchmark(name, help or (fn.__doc__ or "").strip().split("\n")[0],
                                     fn, tuple(requires))
        return fn

    return deco


class BenchError(Exception):
    """A benchmark could not measure what it measures (shown as ``error: ...``)."""


def timed_row(name: str, samples: Sequence[float], unit: str, target: float | None = None,
              note: str = "", scale: float = 1.0) -> Row:
    """A row holding the median of ``samples`` (seconds, or any unit) times ``scale``."""
    vals = [s * scale for s in samples]
    spread = f"min {fmt(min(vals))} max {fmt(max(vals))}" if len(vals) > 1 else ""
    return Row(name, statistics.median(vals), unit, target, len(vals),
               "; ".join(x for x in (spread, note) if x), samples=vals)


def ratio_row(name: str, num: Row | None, den: Row | None, unit: str = "x",
              target: float | None = None, note: str = "") -> Row:
    """A row comparing two medians side by side: ``num / den`` (times 100 for ``%``)."""
    if num is None or num.value is None:
        return Row(name, unit=unit, target=target, error=f"needs {num.name if num else 'a figure'}")
    if den is None or den.value is None:
        return Row(name, unit=unit, target=target, error=f"needs {den.name if den else 'a figure'}")
    if den.value == 0:
        return Row(name, unit=unit, target=target, error=f"{den.name} is zero")
    r = num.value / den.value * (100.0 if unit == "%" else 1.0)
    return Row(name, r, unit, target, None, note or f"{num.name} / {den.name}")


# --------------------------------------------------------------------------------------------
# the context every benchmark runs in
# --------------------------------------------------------------------------------------------
class Context:
    def __init__(self, root: Path, quick: bool) -> None:
        self.root = root
        self.quick = quick
        self.cache = root / "cache"  # the warm cache; SOCDBG_CACHE_DIR points here
        self.cache.mkdir()
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

    def env(self, cache: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["SOCDBG_CACHE_DIR"] = str(cache or self.cache)
        return env

    # --- the generated 100k map --------------------------------------------------------
    @property
    def big_map(self) -> Path:
        """The generated map's .rdl file (written once per bench run)."""
        if self._big_map is None:
            gen = _load_generator()
            path = self.root / "big" / "big.rdl"
            gen.write(path, BIG_BLOCKS, BIG_PORTS, BIG_REGS)
            self._big_map = path
        return self._big_map

    def warm_cache(self) -> None:
        """Make sure the warm cache holds the big map (compiled in a child if needed)."""
        self.py("-c", _CHILD_LOAD, str(self.big_map))

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

    # --- child interpreters ------------------------------------------------------------
    def py(self, *args: str, cache: Path | None = None, timeout: float = 300.0
           ) -> tuple[float, str]:
        """Run ``sys.executable ARGS``; return (wall seconds, stdout). Fails on a non-zero
        exit with the end of stderr."""
        cmd = [sys.executable, *args]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env(cache),
                              cwd=self.root, timeout=timeout, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            shown = " ".join("<code>" if "\n" in a else a if len(a) < 40 else "..." + a[-30:]
                             for a in args)
            raise BenchError(f"'python {shown}' exited {proc.returncode}: {tail}")
        return wall, proc.stdout

    def py_json(self, *args: str, cache: Path | None = None) -> tuple[float, dict[str, Any]]:
        wall, out = self.py(*args, cache=cache)
        lines = out.strip().splitlines()
        if not lines:
            raise BenchError(f"no output from the child (python {' '.join(args[:1])})")
        return wall, json.loads(lines[-1])


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_big_map", HERE / "gen_big_map.py")
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {HERE / 'gen_big_map.py'}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


def _checked(res: dict[str, Any]) -> dict[str, Any]:
    n = BIG_BLOCKS * BIG_PORTS * BIG_REGS
    if res.get("n") != n:
        raise BenchError(f"the child loaded {res.get('n')} registers, not {n}")
    return res


# --------------------------------------------------------------------------------------------
# map: compile, load, memory
# --------------------------------------------------------------------------------------------
@benchmark("map.cold_compile", "compile the generated 100k-register map with an empty cache "
           "(compile + walk + write cache), fresh process per run; also in-process")
def bench_cold_compile(ctx: Context) -> Iterator[Row]:
    path = str(ctx.big_map)
    n = ctx.runs(11, 3)
    ctx.py("-c", _CHILD_LOAD, path, cache=ctx.fresh_dir("cold"))  # warm the page cache
    loads: list[float] = []
    walls: list[float] = []
    for _ in range(n):
        wall, res = ctx.py_json("-c", _CHILD_LOAD, path, cache=ctx.fresh_dir("cold"))
        _checked(res)
        loads.append(res["load"])
        walls.append(wall)
    yield timed_row("map.cold_compile", loads, "ms", scale=1e3,
                    note="load_map() in a fresh process, empty cache; incl. systemrdl import")
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


@benchmark("map.warm_load", "load the 100k map from the warm cache in a fresh process; "
           "ratio to the cold compile", requires=("map.cold_compile",))
def bench_warm_load(ctx: Context) -> Iterator[Row]:
    path = str(ctx.big_map)
    ctx.warm_cache()
    n = ctx.runs(25, 5)
    loads: list[float] = []
    walls: list[float] = []
    for _ in range(n):
        wall, res = ctx.py_json("-c", _CHILD_LOAD, path)
        _checked(res)
        loads.append(res["load"])
        walls.append(wall)
    warm = timed_row("map.warm_load", loads, "ms", 250.0, scale=1e3,
                     note="load_map() in a fresh process, warm cache")
    yield warm
    yield timed_row("map.warm_load.process", walls, "ms", scale=1e3,
                    note="whole process: python start + import + load + exit")
    yield ratio_row("map.warm/cold", warm, ctx.figure("map.cold_compile"), "%", 5.0,
                    note="map.warm_load / map.cold_compile")


@benchmark("map.rss", "resident memory of a process holding the 100k map, minus the bare "
           "interpreter with socdbg.regmap imported")
def bench_rss(ctx: Context) -> Iterator[Row]:
    path = str(ctx.big_map)
    ctx.warm_cache()
    n = ctx.runs(5, 3)
    deltas: list[float] = []
    bases: list[float] = []
    for _ in range(n):
        _, res = ctx.py_json("-c", _CHILD_LOAD, path)
        _checked(res)
        if res.get("rss") is None or res.get("rss_base") is None:
            raise BenchError("VmRSS not available (/proc/self/status missing?)")
        deltas.append((res["rss"] - res["rss_base"]) / 1024)
        bases.append(res["rss_base"] / 1024)
    yield timed_row("map.rss", deltas, "MB", 150.0,
                    note=f"VmRSS after warm load - baseline "
                         f"({statistics.median(bases):.1f} MB)")
    # the cold path once, for reference: the compiler's tree is the peak
    _, res = ctx.py_json("-c", _CHILD_LOAD, path, cache=ctx.fresh_dir("rss-cold"))
    _checked(res)
    yield Row("map.rss.cold_compile", (res["rss"] - res["rss_base"]) / 1024, "MB", None, 1,
              f"after a cold compile; peak VmHWM {res['hwm'] / 1024:.0f} MB total")


# --------------------------------------------------------------------------------------------
# lookups on the loaded map
# --------------------------------------------------------------------------------------------
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


@benchmark("lookup.path", "find() a random register path in the 100k map")
def bench_lookup_path(ctx: Context) -> Iterator[Row]:
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


@benchmark("lookup.address", "at() the register holding a random byte address in the 100k map")
def bench_lookup_address(ctx: Context) -> Iterator[Row]:
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


@benchmark("lookup.glob", "glob() over the 100k map (reported, no target)")
def bench_lookup_glob(ctx: Context) -> Iterator[Row]:
    rmap = ctx.regmap
    reps = ctx.runs(7, 3)
    for pattern in GLOBS:
        hits = len(rmap.glob(pattern))
        yield timed_row(f"lookup.glob {pattern}", _per_call(rmap.glob, [pattern], reps), "ms",
                        scale=1e3, note=f"{hits} matches")


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------
@benchmark("cli.read_startup", "whole-process time of `socdbg -t sim read sysctrl.chip_id`, "
           "beside `python -c pass` and `python -c 'import socdbg.cli'`")
def bench_cli_read(ctx: Context) -> Iterator[Row]:
    read = ("-m", "socdbg", "-t", "sim", "read", "sysctrl.chip_id")
    cases = {
        "cli.read_startup": read,
        "cli.python_bare": ("-c", "pass"),
        "cli.import_socdbg_cli": ("-c", "import socdbg.cli"),
    }
    _, out = ctx.py(*read)  # warms the reference map into the private cache
    if "chip_id" not in out:
        raise BenchError(f"unexpected output from socdbg read: {out.strip()[:80]!r}")
    n = ctx.runs(25, 5)
    walls: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(n):  # interleaved, so drifts in machine load hit all three alike
        for name, args in cases.items():
            walls[name].append(ctx.py(*args)[0])
    rows = {
        "cli.read_startup": timed_row("cli.read_startup", walls["cli.read_startup"], "ms",
                                      300.0, scale=1e3, note="warm map cache"),
        "cli.python_bare": timed_row("cli.python_bare", walls["cli.python_bare"], "ms",
                                     scale=1e3, note="python -c pass"),
        "cli.import_socdbg_cli": timed_row("cli.import_socdbg_cli",
                                           walls["cli.import_socdbg_cli"], "ms", scale=1e3,
                                           note="python -c 'import socdbg.cli'"),
    }
    yield from rows.values()
    yield ratio_row("cli.read/bare", rows["cli.read_startup"], rows["cli.python_bare"], "x")
    yield ratio_row("cli.import/bare", rows["cli.import_socdbg_cli"], rows["cli.python_bare"],
                    "x")


# --------------------------------------------------------------------------------------------
# the shell
# --------------------------------------------------------------------------------------------
#: Lines typed one character at a time; every prefix is one keystroke.
TYPED = (
    "read blk[12].port[3].r",
    "write blk[999].port[9].r1 mode=RU",
    "peek &blk[5].port[2].r3",
    # substring and subsequence (fuzzy) matches over all 100k paths, conditions, options
    "read 999].port[9].r",
    "expect blk[3].port[1].r1.state == RU",
    "dump --include blk[7].po",
)


@benchmark("shell.complete", "completion latency per keystroke on the 100k map "
           "(socdbg.shell.completer.ShellCompleter)")
def bench_shell_complete(ctx: Context) -> Iterator[Row]:
    try:
        from socdbg.shell.completer import ShellCompleter
    except ModuleNotFoundError as exc:
        if exc.name and "socdbg.shell.completer".startswith(exc.name):
            yield Row("shell.complete", unit="ms", target=10.0,
                      error="not available (no socdbg.shell.completer)")
            return
        raise
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from socdbg.commands.session import Session

    big = str(ctx.big_map)
    _ = Session(map_files=[big]).map  # a throwaway session warms the cache
    n = ctx.runs(7, 2)
    per_key: dict[str, list[float]] = {}
    for _ in range(n):
        # constructed as its docstring says: ShellCompleter(session). The session loads its
        # map on first use; that load is paid before timing, as the shell does at start-up.
        session = Session(map_files=[big])
        _ = session.map
        completer = ShellCompleter(session)
        warm = getattr(completer, "warm", None)
        if warm is not None:  # the shell builds the fuzzy index at start-up, too
            warm()
        for line in TYPED:
            for i in range(1, len(line) + 1):
                doc = Document(line[:i])
                t0 = time.perf_counter()
                list(completer.get_completions(doc, CompleteEvent()))
                per_key.setdefault(line[:i], []).append(time.perf_counter() - t0)
    medians = {k: statistics.median(v) for k, v in per_key.items()}
    worst_key = max(medians, key=medians.__getitem__)
    yield Row("shell.complete", statistics.median(medians.values()) * 1e3, "ms", 10.0, n,
              f"median keystroke of {len(medians)} ({len(TYPED)} lines typed), "
              f"each the median of {n} runs")
    over = sum(v > 0.010 for v in medians.values())
    yield Row("shell.complete.worst", medians[worst_key] * 1e3, "ms", 10.0, n,
              f"slowest keystroke: {worst_key!r}; {over} of {len(medians)} over 10 ms")


# --------------------------------------------------------------------------------------------
# running and printing
# --------------------------------------------------------------------------------------------
# --- benchmarks kept in scripts/bench_*.py ---------------------------------------------------
# Each such file exposes functions ``bench_NAME(quick) -> dict | list[dict]`` whose dicts carry
# Row's fields. They register here as ``FILE.NAME`` (bench_dma.py: bench_dma_bytes ->
# dma.dma_bytes), so a new figure needs no edit of this file.
_ROW_FIELDS = {"name", "value", "unit", "target", "runs", "note", "error", "samples",
               "higher_is_better"}


def _to_rows(result: Any) -> Iterator[Row]:
    """Rows from a plugin's dicts. A dict with a field Row does not know is refused (an error
    row naming the fields), never silently trimmed: a figure nobody sees is a bug."""
    for item in result if isinstance(result, list) else [result]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            yield Row(str(item)[:40], error="a benchmark row must be a dict with a name")
            continue
        unknown = sorted(set(item) - _ROW_FIELDS)
        if unknown:
            yield Row(item["name"], error="unknown row field(s): " + ", ".join(unknown)
                      + " (a figure goes in a row of its own)")
            continue
        yield Row(**item)


def _register_plugins() -> None:
    import importlib.util
    import inspect

    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("bench_*.py")):
        group = path.stem.removeprefix("bench_")
        spec = importlib.util.spec_from_file_location(f"socdbg_bench_{group}", path)
        if spec is None or spec.loader is None:
            continue
        try:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception as exc:  # a broken file is one error row, not a broken harness
            msg = f"{type(exc).__name__}: {exc}"

            def broken(ctx: Context, msg: str = msg) -> Iterator[Row]:
                raise BenchError(msg)
                yield  # pragma: no cover

            benchmark(group, f"scripts/{path.name} (failed to import)")(broken)
            continue
        for fname, fn in inspect.getmembers(module, inspect.isfunction):
            if not fname.startswith("bench_") or fn.__module__ != module.__name__:
                continue
            params = inspect.signature(fn).parameters
            if list(params)[:1] != ["quick"]:
                continue
            name = f"{group}.{fname.removeprefix('bench_').removeprefix(group + '_')}"

            def run(ctx: Context, fn: Any = fn) -> Iterator[Row]:
                yield from _to_rows(fn(ctx.quick))

            doc = (fn.__doc__ or "").strip().split("\n")[0]
            benchmark(name, doc or f"scripts/{path.name}: {fname}")(run)


_register_plugins()


def fmt(v: float | None) -> str:
    if v is None:
        return ""
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def select(spec: str | None) -> tuple[list[str], list[str]]:
    """Benchmark names to run (dependencies first) and the names that matched nothing.

    A name is an exact benchmark, a group (``map`` selects ``map.*``) or an fnmatch pattern.
    """
    if not spec:
        return list(BENCHMARKS), []
    chosen: list[str] = []
    unknown: list[str] = []
    for word in (w.strip() for w in spec.split(",")):
        if not word:
            continue
        hits = [n for n in BENCHMARKS if n == word or n.startswith(word + ".")
                or fnmatch.fnmatchcase(n, word)]
        if not hits:
            unknown.append(word)
        chosen.extend(h for h in hits if h not in chosen)
    ordered: list[str] = []

    def add(name: str) -> None:
        for dep in BENCHMARKS[name].requires:
            if dep in BENCHMARKS:
                add(dep)
        if name not in ordered:
            ordered.append(name)

    for name in chosen:
        add(name)
    return ordered, unknown


def run_all(ctx: Context, names: Sequence[str], progress: bool) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        bench = BENCHMARKS[name]
        if progress:
            print(f"  {name} ...", end="", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        produced = 0
        try:
            for row in bench.fn(ctx):
                rows.append(row)
                ctx.figures[row.name] = row
                produced += 1
        except Exception as exc:
            msg = str(exc).strip() or type(exc).__name__
            if not isinstance(exc, BenchError):
                msg = f"{type(exc).__name__}: {msg}"
            label = name if produced == 0 else f"{name} (rest)"
            rows.append(Row(label, error=msg.splitlines()[0][:160]))
        if progress:
            print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return rows


def render(rows: Sequence[Row], header: str) -> str:
    head = ("benchmark", "median", "unit", "target", "result", "runs", "notes")
    table: list[tuple[str, ...]] = []
    for r in rows:
        if r.error is not None:
            table.append((r.name, f"error: {r.error}"))
            continue
        bound = ">=" if r.higher_is_better else "<="
        target = f"{bound} {fmt(r.target)} {r.unit}" if r.target is not None else ""
        table.append((r.name, fmt(r.value), r.unit, target, r.verdict,
                      str(r.runs) if r.runs else "", r.note))
    widths = [len(h) for h in head]
    for t in table:
        widths[0] = max(widths[0], len(t[0]))
        if len(t) == len(head):
            for i, cell in enumerate(t):
                widths[i] = max(widths[i], len(cell))
    right = {1, 5}

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1:
                out.append(cell)
            elif i in right:
                out.append(cell.rjust(widths[i]))
            else:
                out.append(cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [header, "", line(head), line(["-" * w for w in widths])]
    for t in table:
        if len(t) == len(head):
            lines.append(line(t))
        else:
            lines.append(t[0].ljust(widths[0]) + "  " + t[1])
    missed = [r.name for r in rows if r.verdict == "MISS"]
    errors = [r.name for r in rows if r.error is not None]
    lines.append("")
    lines.append(f"{sum(r.verdict == 'pass' for r in rows)} pass, {len(missed)} miss"
                 + (f" ({', '.join(missed)})" if missed else "")
                 + f", {len(errors)} error{'s' * (len(errors) != 1)}"
                 + (f" ({', '.join(errors)})" if errors else ""))
    return "\n".join(lines)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=HERE, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", metavar="NAME[,NAME]",
                    help="run only these benchmarks (a name, a group such as 'map', or a glob)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer repetitions (minutes: the cmsis-svd and NoC rows dominate)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary folder (generated map, caches) and print it")
    args = ap.parse_args(argv)

    if args.list:
        width = max(len(n) for n in BENCHMARKS)
        for name, b in BENCHMARKS.items():
            print(f"{name:<{width}}  {b.help}")
        return 0

    names, unknown = select(args.only)
    root = Path(tempfile.mkdtemp(prefix="socdbg-bench-"))
    saved_cache = os.environ.get("SOCDBG_CACHE_DIR")
    started = time.perf_counter()
    try:
        ctx = Context(root, args.quick)
        os.environ["SOCDBG_CACHE_DIR"] = str(ctx.cache)  # never the user's cache
        print(f"socdbg benchmarks ({'quick' if args.quick else 'full'}), temp {root}",
              file=sys.stderr)
        rows = run_all(ctx, names, progress=True)
    finally:
        if saved_cache is None:
            os.environ.pop("SOCDBG_CACHE_DIR", None)
        else:
            os.environ["SOCDBG_CACHE_DIR"] = saved_cache
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    for word in unknown:
        rows.append(Row(word, error="unknown benchmark (see --list)"))
    elapsed = time.perf_counter() - started

    commit = _git_commit()
    header = (f"socdbg benchmarks: {'quick' if args.quick else 'full'} run, values are medians "
              f"over the repetitions in 'runs'; {elapsed:.0f} s total\n"
              f"python {platform.python_version()} ({sys.executable}), {platform.machine()}, "
              f"{os.cpu_count()} CPUs" + (f", commit {commit}" if commit else "")
              + f"; map: {BIG_BLOCKS} x {BIG_PORTS} x {BIG_REGS} = "
              f"{BIG_BLOCKS * BIG_PORTS * BIG_REGS:,} registers")
    print(render(rows, header))

    if args.json:
        doc = {
            "meta": {"quick": args.quick, "python": platform.python_version(),
                     "executable": sys.executable, "machine": platform.machine(),
                     "cpus": os.cpu_count(), "commit": commit, "seconds": round(elapsed, 1),
                     "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "registers": BIG_BLOCKS * BIG_PORTS * BIG_REGS},
            "rows": [dict(asdict(r), verdict=r.verdict) for r in rows],
        }
        try:
            Path(args.json).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write {args.json}: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
