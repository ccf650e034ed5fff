"""Helpers shared by scripts/bench.py and the scripts/bench_*.py benchmark files: the one row
type (:class:`Row`; a benchmark may also return dicts with its fields, made by :func:`row`),
timing, and the table a file prints when run on its own."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

Rows = list[dict[str, Any]]


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


ROW_FIELDS = frozenset(f.name for f in fields(Row))


class BenchError(Exception):
    """A benchmark could not measure what it measures (shown as ``error: ...``)."""


def to_rows(result: Any) -> Iterator[Row]:
    """Rows from what a benchmark returned or yielded: Row objects, or dicts with Row's
    fields. A dict with a field Row does not know is refused (an error row naming the
    fields), never silently trimmed: a figure nobody sees is a bug."""
    items: Iterable[Any] = result if isinstance(result, (list, tuple, Iterator)) else [result]
    for item in items:
        if isinstance(item, Row):
            yield item
            continue
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            yield Row(str(item)[:40], error="a benchmark row must be a Row or a dict with a name")
            continue
        unknown = sorted(set(item) - ROW_FIELDS)
        if unknown:
            yield Row(item["name"], error="unknown row field(s): " + ", ".join(unknown)
                      + " (a figure goes in a row of its own)")
            continue
        yield Row(**item)


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


def row(name: str, samples: Sequence[float], unit: str, target: float | None, note: str,
        higher_is_better: bool = False) -> dict[str, Any]:
    """A median over ``samples``, with their spread in the note."""
    vals = list(samples)
    spread = f"min {min(vals):.4g} max {max(vals):.4g}; " if len(vals) > 1 else ""
    out: dict[str, Any] = {"name": name, "value": statistics.median(vals), "unit": unit,
                           "target": target, "runs": len(vals), "note": spread + note,
                           "samples": vals}
    if higher_is_better:
        out["higher_is_better"] = True
    return out


def ratio(name: str, num: dict[str, Any], den: dict[str, Any], target: float | None,
          note: str) -> dict[str, Any]:
    """``num / den``, higher is better (a speedup)."""
    return {"name": name, "value": num["value"] / den["value"], "unit": "x", "target": target,
            "runs": None, "note": note, "samples": [], "higher_is_better": True}


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def private_cache() -> Path:
    """``$SOCDBG_CACHE_DIR``, pointed at a temporary folder of this process (removed at exit)
    unless the runner already did: benchmarks never read or write the user's map cache."""
    import atexit
    import os
    import shutil
    import tempfile

    found = os.environ.get("SOCDBG_BENCH_CACHE")
    if found:
        return Path(found)
    folder = tempfile.mkdtemp(prefix="socdbg-bench-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["SOCDBG_CACHE_DIR"] = os.environ["SOCDBG_BENCH_CACHE"] = folder
    return Path(folder)


def run_python(*args: str, cache: Path | None = None, cwd: Path | None = None,
               timeout: float = 300.0) -> tuple[float, str]:
    """Run ``sys.executable ARGS`` with the benchmark cache (or ``cache``); return (wall
    seconds, stdout). A non-zero exit is a :class:`BenchError` with the end of stderr."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env["SOCDBG_CACHE_DIR"] = str(cache or private_cache())
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        shown = " ".join("<code>" if "\n" in a else a if len(a) < 40 else "..." + a[-30:]
                         for a in args)
        raise BenchError(f"'python {shown}' exited {proc.returncode}: {tail}")
    return wall, proc.stdout


def standalone(doc: str, run: Callable[[bool], Any], argv: list[str] | None = None) -> int:
    """``python scripts/bench_X.py [--quick] [--json FILE]``: run and print the rows (Row
    objects or dicts; an unknown field is an error row here too)."""
    from dataclasses import asdict

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", metavar="FILE", help="also write the rows to FILE as JSON")
    args = ap.parse_args(argv)
    rows = list(to_rows(run(args.quick)))
    width = max(len(r.name) for r in rows)
    for r in rows:
        if r.error is not None:
            print(f"{r.name:<{width}}  error: {r.error}")
            continue
        target = "" if r.target is None else \
            f"{'>=' if r.higher_is_better else '<='} {r.target:g} {r.unit}"
        value = f"{r.value:>10.4g}" if r.value is not None else f"{'-':>10}"
        print(f"{r.name:<{width}}  {value} {r.unit:<5} {target:<14} {r.verdict:<5} {r.note}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2,
                                              ensure_ascii=False) + "\n", encoding="utf-8")
    return 0
