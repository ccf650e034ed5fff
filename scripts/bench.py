"""socdbg benchmarks: one table of medians over repeated runs, each against its target.

    python scripts/bench.py                  # every benchmark, full repetitions
    python scripts/bench.py --quick          # fewer repetitions
    python scripts/bench.py --only map,cli.read_startup --json figures.json
    python scripts/bench.py --list

Benchmarks report, they do not fail: the exit status is 0 whatever the figures (a missed
target shows as ``MISS``, a broken benchmark as ``error: ...`` in its row, and the others
still run). Every row a benchmark produced is shown, a missed one too, and a row with a field
:class:`benchrows.Row` does not know is an error row, never trimmed.

Everything runs against a private temporary cache folder (``SOCDBG_CACHE_DIR`` is set for this
process and every child), so the user's map cache is never read or written.

The benchmarks live in ``scripts/bench_*.py``, this file only runs them. Each such file
exposes functions ``bench_NAME(quick)`` that return or yield rows (:class:`benchrows.Row`, or
dicts with its fields); they register as ``FILE.NAME`` (bench_map.py: bench_cold_compile ->
map.cold_compile), so a new figure needs no edit of this file. A function may declare
``requires = ("group.name", ...)``: benchmarks ``--only`` must run first (for a ratio).
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import inspect
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/: the shared benchrows
from benchrows import BenchError, Row, fmt, to_rows

HERE = Path(__file__).resolve().parent


@dataclass
class Benchmark:
    name: str
    help: str
    fn: Callable[[bool], Any]
    requires: tuple[str, ...] = ()


BENCHMARKS: dict[str, Benchmark] = {}


def register(name: str, help: str, fn: Callable[[bool], Any],
             requires: Sequence[str] = ()) -> None:
    if name in BENCHMARKS:
        raise RuntimeError(f"benchmark '{name}' is registered twice")
    BENCHMARKS[name] = Benchmark(name, help, fn, tuple(requires))


def _register_files() -> None:
    for path in sorted(HERE.glob("bench_*.py")):
        group = path.stem.removeprefix("bench_")
        try:  # imported under its own name: bench_shell.py may import bench_map
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = sys.modules.get(path.stem) or importlib.util.module_from_spec(spec)
            if path.stem not in sys.modules:
                sys.modules[path.stem] = module
                spec.loader.exec_module(module)
        except Exception as exc:  # a broken file is one error row, not a broken harness
            sys.modules.pop(path.stem, None)
            msg = f"{type(exc).__name__}: {exc}"

            def broken(quick: bool, msg: str = msg) -> Any:
                raise BenchError(msg)

            register(group, f"scripts/{path.name} (failed to import)", broken)
            continue
        for fname, fn in inspect.getmembers(module, inspect.isfunction):
            if not fname.startswith("bench_") or fn.__module__ != module.__name__:
                continue
            if list(inspect.signature(fn).parameters)[:1] != ["quick"]:
                continue
            name = f"{group}.{fname.removeprefix('bench_').removeprefix(group + '_')}"
            doc = (fn.__doc__ or "").strip().split("\n")[0]
            register(name, doc or f"scripts/{path.name}: {fname}", fn,
                     getattr(fn, "requires", ()))


_register_files()


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


def run_all(names: Sequence[str], quick: bool, progress: bool) -> list[Row]:
    """Every row of every benchmark named, in order; a benchmark that raises keeps the rows
    it produced and gets an error row for the rest."""
    rows: list[Row] = []
    for name in names:
        bench = BENCHMARKS[name]
        if progress:
            print(f"  {name} ...", end="", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        produced = 0
        try:
            result = bench.fn(quick)
            for row in to_rows(result):  # one by one: a failure keeps the rows before it
                rows.append(row)
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
        cache = root / "cache"
        cache.mkdir()
        os.environ["SOCDBG_CACHE_DIR"] = str(cache)  # never the user's cache
        os.environ["SOCDBG_BENCH_CACHE"] = str(cache)
        print(f"socdbg benchmarks ({'quick' if args.quick else 'full'}), temp {root}",
              file=sys.stderr)
        rows = run_all(names, args.quick, progress=True)
    finally:
        if saved_cache is None:
            os.environ.pop("SOCDBG_CACHE_DIR", None)
        else:
            os.environ["SOCDBG_CACHE_DIR"] = saved_cache
        os.environ.pop("SOCDBG_BENCH_CACHE", None)
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
              )
    print(render(rows, header))

    if args.json:
        doc = {
            "meta": {"quick": args.quick, "python": platform.python_version(),
                     "executable": sys.executable, "machine": platform.machine(),
                     "cpus": os.cpu_count(), "commit": commit, "seconds": round(elapsed, 1),
                     "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
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
