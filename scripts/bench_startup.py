"""Start-up of a one-shot command, as a user pays it: `socdbg -t sim read sysctrl.chip_id`
against `python -c "import click"`, whole process, bytecode cache allowed.

    python scripts/bench_startup.py [--quick] [--json FILE]

Paired alternating runs (read, click, read, click, ...) so drifts in machine load hit both
alike; the figure is the median of the per-pair ratios. PYTHONDONTWRITEBYTECODE is removed
from the children's environment and one warm-up run of each fills the bytecode cache, so
the figure is what a user with an installed socdbg sees, not the cost of compiling it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchrows import Rows, row, standalone

ROOT = Path(__file__).resolve().parent.parent
READ = ("-m", "socdbg", "-t", "sim", "read", "sysctrl.chip_id")
CLICK = ("-c", "import click")


def _env(cache: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["SOCDBG_CACHE_DIR"] = cache
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    return env


def _wall(args: tuple[str, ...], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace').strip()[-200:]}")
    return wall


def bench_read_vs_click(quick: bool) -> Rows:
    """`socdbg -t sim read sysctrl.chip_id` / `python -c "import click"`, paired runs"""
    n = 7 if quick else 25
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-startup-") as cache:
        env = _env(cache)
        _wall(READ, env)  # fills the map cache and the bytecode cache
        _wall(CLICK, env)
        reads: list[float] = []
        clicks: list[float] = []
        ratios: list[float] = []
        for _ in range(n):
            r = _wall(READ, env)
            c = _wall(CLICK, env)
            reads.append(r * 1e3)
            clicks.append(c * 1e3)
            ratios.append(r / c)
    return [
        row("startup.read_vs_click", ratios, "x", 2.5,
            f"median of {n} per-pair ratios; read {statistics.median(reads):.0f} ms, "
            f"import click {statistics.median(clicks):.0f} ms (medians)"),
        row("startup.read", reads, "ms", None, "socdbg -t sim read sysctrl.chip_id, warm"),
        row("startup.import_click", clicks, "ms", None, "python -c 'import click'"),
    ]


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", lambda quick: bench_read_vs_click(quick)))
