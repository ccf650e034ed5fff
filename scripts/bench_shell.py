"""Shell output benchmarks: `peek` rendering rate into a pipe, and how soon its first line
arrives.

    python scripts/bench_shell.py [--quick] [--json FILE]

``peek dram 1048576`` (8 MiB of 64-bit words) runs in this process on the simulator, as the
shell runs it (``execute(..., stream=True)`` then ``Session.emit``), writing into an OS pipe
that a thread drains. The rate is peeked bytes over the wall time from the command to the
last line; the first-line figure is when the reader saw its first byte, as a fraction of
the whole run (streamed output shows long before the read completes).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchrows import Rows, row, standalone

COMMAND = "peek dram 1048576"
PEEKED = 1048576 * 8


def _one_run() -> tuple[float, float, int]:
    """(seconds, seconds to the first byte, bytes of text) of one streamed peek."""
    from socdbg.commands.dispatch import execute
    from socdbg.commands.session import Session

    rfd, wfd = os.pipe()
    first: list[float] = []
    got = [0]

    def drain() -> None:
        with os.fdopen(rfd, "rb") as reader:
            while True:
                chunk = reader.read1(1 << 16)
                if not chunk:
                    return
                if not first:
                    first.append(time.perf_counter())
                got[0] += len(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    with os.fdopen(wfd, "w", encoding="utf-8") as out:
        session = Session(out=out, color=False)
        execute(session, "peek dram 2")  # opens the simulator and loads the map: not timed
        t0 = time.perf_counter()
        session.presenter.emit(execute(session, COMMAND, stream=True))
        out.flush()
        t1 = time.perf_counter()
        session.close()
    reader.join()
    return t1 - t0, (first[0] - t0) if first else t1 - t0, got[0]


def bench_peek_rate(quick: bool) -> Rows:
    """`peek dram 1048576` rendered into a pipe: MB/s of peeked memory"""
    n = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-shell-") as cache:
        os.environ.setdefault("SOCDBG_CACHE_DIR", cache)
        runs = [_one_run() for _ in range(n)]
    rates = [PEEKED / 1e6 / wall for wall, _, _ in runs]
    firsts = [first * 1e3 for _, first, _ in runs]
    share = [first / wall * 100 for wall, first, _ in runs]
    text = runs[-1][2]
    return [
        row("shell.peek_rate", rates, "MB/s", 10.0,
            f"{COMMAND}: {PEEKED >> 20} MiB peeked, {text / 1e6:.0f} MB of text to a pipe",
            higher_is_better=True),
        row("shell.peek_first_line", firsts, "ms", None,
            f"first byte on the pipe; {min(share):.1f}-{max(share):.1f}% of the run"),
    ]


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", bench_peek_rate))
