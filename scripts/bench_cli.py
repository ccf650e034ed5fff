"""Command-line start-up: whole-process time of a one-shot `socdbg -t sim read`, beside a bare
interpreter and the import of socdbg.cli (interleaved runs, so drifts in machine load hit all
three alike).

    python scripts/bench_cli.py [--quick] [--json FILE]
    python scripts/bench.py --only cli
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchrows import BenchError, Row, ratio_row, run_python, standalone, timed_row


def bench_read_startup(quick: bool) -> Iterator[Row]:
    """Whole-process time of `socdbg -t sim read sysctrl.chip_id`, beside `python -c pass`
    and `python -c 'import socdbg.cli'`"""
    read = ("-m", "socdbg", "-t", "sim", "read", "sysctrl.chip_id")
    cases = {
        "cli.read_startup": read,
        "cli.python_bare": ("-c", "pass"),
        "cli.import_socdbg_cli": ("-c", "import socdbg.cli"),
    }
    _, out = run_python(*read)  # warms the reference map into the private cache
    if "chip_id" not in out:
        raise BenchError(f"unexpected output from socdbg read: {out.strip()[:80]!r}")
    n = 5 if quick else 25
    walls: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(n):  # interleaved, so drifts in machine load hit all three alike
        for name, args in cases.items():
            walls[name].append(run_python(*args)[0])
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


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", lambda quick: list(bench_read_startup(quick))))
