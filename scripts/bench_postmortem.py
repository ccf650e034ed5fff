"""Postmortem dump benchmarks: a dump through ``socdbg serve``, coalesced and not, and a dump of
a 100,000-register simulated map.

    python scripts/bench_postmortem.py            # full repetitions (~15 s)
    python scripts/bench_postmortem.py --quick    # fewer repetitions (~6 s)
    python scripts/bench_postmortem.py --json figures.json

``bench_dump_serve(quick)`` and ``bench_dump_100k(quick)`` are what scripts/bench.py calls
(as ``postmortem.dump_serve`` and ``postmortem.dump_100k``). Each returns a list of rows,
dicts with the fields of bench.py's ``Row`` (``name``, ``value`` (the median), ``unit``,
``target``, ``runs``, ``note``, ``samples``), plus ``higher_is_better: True`` on the speedup
rows, whose ``target`` is a lower bound (as in scripts/bench_dma.py); on every other row
``target`` is an upper bound, or None when the figure is reported without one.

* ``postmortem.dump_serve``: ``socdbg serve`` (read-only, the reference SoC simulator) runs in
  a child process on a free 127.0.0.1 port; this process connects with the gdb target and runs
  the ``dump`` command (``execute(session, "dump -o FILE")``: every readable register, JSON
  written) as the code does it, coalesced (the server declares ``coalesce``), and with the gdb
  target wrapped so that it does not declare ``coalesce`` (one RSP read per register access).
  The two are interleaved run by run. Beside the whole command, ``capture()`` alone (the reads)
  and the RSP memory-read packets each way.
* ``postmortem.dump_100k``: the map of scripts/gen_big_map.py (1000 x 10 x 10 registers) as
  ``sim:PATH.rdl``; the target is opened (map loaded, simulator built) before timing, then
  ``dump -o FILE.json.gz`` is timed. Beside it: the same to plain ``.json``, and reading the
  dump back (``read_dump``) and opening it as ``dump:FILE``.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/: the shared benchrows
from benchrows import ratio as _ratio
from benchrows import row as _row
from benchrows import standalone
from benchrows import timed as _timed

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVE_SPEEDUP_TARGET = 10.0  # coalesced dump vs one read per register, a lower bound
DUMP_100K_TARGET_S = 2.0
BIG = (1000, 10, 10)


# --------------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------------






def _ensure_cache() -> None:
    if "SOCDBG_CACHE_DIR" not in os.environ:  # never the user's map cache
        os.environ["SOCDBG_CACHE_DIR"] = tempfile.mkdtemp(prefix="socdbg-bench-pm-")


# --------------------------------------------------------------------------------------------
# a dump through socdbg serve
# --------------------------------------------------------------------------------------------
class _Server:
    """``python -m socdbg serve --port 0`` in a child process; ``spec`` is its gdb:// string."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "socdbg", "serve", "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env, cwd=REPO)
        try:
            self.spec = f"gdb://127.0.0.1:{self._port(60.0)}"
        except BaseException:
            self.stop()
            raise

    def _port(self, timeout: float) -> int:
        assert self.proc.stderr is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        seen = b""
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(self.proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            m = re.search(rb"on 127\.0\.0\.1:(\d+) ", seen)
            if m:
                return int(m.group(1))
        raise RuntimeError(f"socdbg serve did not announce its port: {seen[-200:]!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


from socdbg.targets.wrapper import TargetWrapper  # noqa: E402


class _NoCoalesce(TargetWrapper):
    """A target minus the ``coalesce`` capability: ``capture`` reads register by register."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.capabilities = inner.capabilities - {"coalesce"}


def _count_reads(conn: Any, fn: Callable[[], object]) -> int:
    """RSP memory-read packets (``m``/``x`` and batched ``qSocdbg.read``: each is one round
    trip) sent by ``conn`` while ``fn`` runs."""
    sent: list[bytes] = []
    real_request, real_many = conn.request, conn.request_many

    def request(payload: bytes, *a: Any, **kw: Any) -> bytes:
        sent.append(payload)
        return real_request(payload, *a, **kw)

    def request_many(payloads: Sequence[bytes], *a: Any, **kw: Any) -> list[bytes]:
        sent.extend(payloads)
        return real_many(payloads, *a, **kw)

    conn.request, conn.request_many = request, request_many
    try:
        fn()
    finally:
        del conn.request, conn.request_many
    return sum(1 for p in sent if p[:1] in (b"m", b"x") or p.startswith(b"qSocdbg.read:"))


def bench_dump_serve(quick: bool) -> list[dict[str, Any]]:
    """Dump of the reference SoC via socdbg serve + gdb://: coalesced vs one read per register.
    """
    from socdbg.commands.dispatch import execute
    from socdbg.commands.postmortem import select_registers
    from socdbg.commands.session import Session
    from socdbg.postmortem import capture, read_dump

    _ensure_cache()
    runs = 3 if quick else 9
    server = _Server()
    try:
        with tempfile.TemporaryDirectory(prefix="socdbg-bench-pm-") as tmp:
            coalesced = Session(target=server.spec, out=io.StringIO())
            gdb = coalesced.target
            if "coalesce" not in gdb.capabilities:
                raise RuntimeError(f"{server.spec} does not declare coalesce")
            single = Session(target=server.spec, out=io.StringIO())
            single.use_target(_NoCoalesce(single.target))
            rmap = coalesced.map
            regs = select_registers(rmap, (), ())
            out_a, out_b = Path(tmp) / "coalesced.json", Path(tmp) / "single.json"

            def dump_a() -> None:
                execute(coalesced, f"dump -o {out_a} --force")

            def dump_b() -> None:
                execute(single, f"dump -o {out_b} --force")

            dump_a()  # warm: imports, map sources read, connection
            dump_b()
            a, b = read_dump(out_a), read_dump(out_b)
            if not (a.complete and b.complete) or a.registers != b.registers:
                raise RuntimeError("the coalesced and per-register dumps differ")
            n_regs = len(a.registers)
            reads_a = _count_reads(gdb.conn, dump_a)
            reads_b = _count_reads(single.target.inner.conn, dump_b)
            whole_a: list[float] = []
            whole_b: list[float] = []
            cap_a: list[float] = []
            cap_b: list[float] = []
            for _ in range(runs):  # interleaved, so drifts in machine load hit both alike
                whole_a.append(_timed(dump_a))
                whole_b.append(_timed(dump_b))
                cap_a.append(_timed(lambda: capture(coalesced.target, rmap, regs, [])))
                cap_b.append(_timed(lambda: capture(single.target, rmap, regs, [])))
            coalesced.close()
            single.close()
    finally:
        server.stop()
    a_row = _row("postmortem.dump_serve.coalesced", [t * 1e3 for t in whole_a], "ms", None,
                 f"dump of the reference SoC ({n_regs} registers) through socdbg serve + "
                 f"gdb://, coalesced: {reads_a} RSP reads")
    b_row = _row("postmortem.dump_serve.per_register", [t * 1e3 for t in whole_b], "ms", None,
                 f"the same without the coalesce capability: {reads_b} RSP reads")
    ca_row = _row("postmortem.dump_serve.capture.coalesced", [t * 1e3 for t in cap_a], "ms",
                  None, "capture() alone: the register reads, coalesced")
    cb_row = _row("postmortem.dump_serve.capture.per_register", [t * 1e3 for t in cap_b], "ms",
                  None, "capture() alone, one read per register")
    return [
        a_row, b_row,
        _ratio("postmortem.dump_serve.speedup", b_row, a_row, SERVE_SPEEDUP_TARGET,
               "per_register / coalesced, whole dump command (higher is better)"),
        ca_row, cb_row,
        _ratio("postmortem.dump_serve.capture.speedup", cb_row, ca_row, None,
               "per_register / coalesced, reads only"),
        {"name": "postmortem.dump_serve.rsp_reads", "value": reads_b / reads_a, "unit": "x",
         "target": None, "runs": 1, "samples": [], "higher_is_better": True,
         "note": f"RSP memory reads per dump: {reads_b} per register / {reads_a} coalesced "
                 "(the best speedup one round trip per run allows)"},
    ]


# --------------------------------------------------------------------------------------------
# a dump of a 100k-register simulated map
# --------------------------------------------------------------------------------------------
def _gen_big_map(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("gen_big_map", HERE / "gen_big_map.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {HERE / 'gen_big_map.py'}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out: Path = mod.write(path, *BIG)
    return out


def bench_dump_100k(quick: bool) -> list[dict[str, Any]]:
    """``dump`` of a 100,000-register simulated map (sim:PATH.rdl) to .json.gz."""
    from socdbg.commands.dispatch import execute
    from socdbg.commands.session import Session
    from socdbg.postmortem import read_dump
    from socdbg.regmap import load_map
    from socdbg.targets.dump import open_dump

    _ensure_cache()
    runs = 2 if quick else 5
    n = BIG[0] * BIG[1] * BIG[2]
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-pm-") as tmp:
        rdl = _gen_big_map(Path(tmp) / "big.rdl")
        load_map([rdl])  # the compile is paid once, before timing (map.* measures it)
        session = Session(target=f"sim:{rdl}", out=io.StringIO())
        _ = session.target  # map loaded and simulator built before timing
        gz, plain = Path(tmp) / "big.json.gz", Path(tmp) / "big.json"
        out = execute(session, f"dump -o {gz} --force")  # warm-up and check
        if out is None or not out.ok or out.data["registers"] != n:
            raise RuntimeError(f"the dump of the big map is not complete: "
                               f"{out.data if out else None}")
        t_gz, cpu_gz, t_plain, t_read, t_open = [], [], [], [], []
        for _ in range(runs):
            cpu0 = time.process_time()
            t_gz.append(_timed(lambda: execute(session, f"dump -o {gz} --force")))
            cpu_gz.append(time.process_time() - cpu0)
            t_plain.append(_timed(lambda: execute(session, f"dump -o {plain} --force")))
            t_read.append(_timed(lambda: read_dump(gz)))
            t_open.append(_timed(lambda: open_dump(str(gz), None)))  # type: ignore[arg-type]
        if len(read_dump(gz).registers) != n:
            raise RuntimeError("the dump does not read back with every register")
        sizes = f"{gz.stat().st_size / 1e6:.2f} MB gz, {plain.stat().st_size / 1e6:.2f} MB json"
        session.close()
    return [
        _row("postmortem.dump_100k", t_gz, "s", DUMP_100K_TARGET_S,
             f"execute(session, 'dump -o FILE.json.gz') on sim:big.rdl ({n:,} registers, "
             f"runs of 10 between holes); {sizes}; cpu-time median "
             f"{statistics.median(cpu_gz):.3g} s"),
        _row("postmortem.dump_100k.plain_json", t_plain, "s", None,
             "the same to an uncompressed .json"),
        _row("postmortem.dump_100k.read_dump", t_read, "s", None,
             "read_dump() of the .json.gz"),
        _row("postmortem.dump_100k.open_target", t_open, "s", None,
             "open_dump(): read, rebuild the embedded map (cached), index the values"),
    ]


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    _ensure_cache()
    return standalone(__doc__ or "",
                      lambda quick: bench_dump_serve(quick) + bench_dump_100k(quick), argv)


if __name__ == "__main__":
    sys.exit(main())
