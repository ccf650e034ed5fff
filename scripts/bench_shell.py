"""Shell benchmarks: `peek` rendering rate into a pipe, how soon its first line arrives, and
completion latency per keystroke on the generated 100k-register map.

    python scripts/bench_shell.py [--quick] [--json FILE]

``peek dram 1048576`` (8 MiB of 64-bit words) runs in this process on the simulator, as the
shell runs it (``execute(..., stream=True)`` then ``Session.emit``), writing into an OS pipe
that a thread drains. The rate is peeked bytes over the wall time from the command to the
last line; the first-line figure is when the reader saw its first byte, as a fraction of
the whole run (streamed output shows long before the read completes).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchrows import Row, Rows, row, standalone

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


def bench_complete(quick: bool) -> Iterator[Row]:
    """Completion latency per keystroke on the 100k map (socdbg.shell.completer.ShellCompleter)"""
    from bench_map import _bench  # the generated 100k map, shared with the map benchmarks

    ctx = _bench(quick)
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


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", lambda quick: [*bench_peek_rate(quick),
                                                      *bench_complete(quick)]))
