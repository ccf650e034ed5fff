"""Helpers shared by the scripts/bench_*.py benchmark files: result rows (dicts with the
fields of bench.py's ``Row``), timing, and the table a file prints when run on its own."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Rows = list[dict[str, Any]]


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


def verdict(r: dict[str, Any]) -> str:
    if r.get("target") is None or r.get("value") is None:
        return "-"
    ok = r["value"] >= r["target"] if r.get("higher_is_better") else r["value"] <= r["target"]
    return "pass" if ok else "MISS"


def standalone(doc: str, run: Callable[[bool], Rows], argv: list[str] | None = None) -> int:
    """``python scripts/bench_X.py [--quick] [--json FILE]``: run and print the rows."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", metavar="FILE", help="also write the rows to FILE as JSON")
    args = ap.parse_args(argv)
    rows = run(args.quick)
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        target = "" if r["target"] is None else \
            f"{'>=' if r.get('higher_is_better') else '<='} {r['target']:g} {r['unit']}"
        value = f"{r['value']:>10.4g}" if r.get("value") is not None else f"{'-':>10}"
        print(f"{r['name']:<{width}}  {value} {r['unit']:<5} {target:<14} "
              f"{verdict(r):<5} {r['note']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    return 0
