"""GDB Remote Serial Protocol benchmarks: socdbg's gdb target against a real QEMU 7.2, side
by side with gdb-multiarch on the same QEMU, and against ``socdbg serve``.

    python scripts/bench_gdb.py            # full repetitions
    python scripts/bench_gdb.py --quick    # fewer repetitions
    python scripts/bench_gdb.py --json figures.json

Every comparison is paired: the two sides run alternately, one after the other, and the
ratio row is the median of the per-pair ratios (a busy machine slows both sides of a pair).
Each side's own row is its median. Nothing compares an in-process read with a whole gdb
process: in-process figures meet gdb's net figures, whole processes meet whole processes.

* ``gdb.ram_1mib``: 1 MiB of guest RAM, in process: ``GdbTarget.read_block`` against gdb's
  time per MiB (one gdb run dumping the MiB several times, minus the same run dumping
  1 byte: gdb's start-up, connection and target description). Goal: >= 4x.
* ``gdb.cli_dump``: the same MiB from the command line, whole process against whole
  process: ``python -m socdbg -t gdb://... dump --exclude '*' --memory 0x80000000+1MiB -o
  F.json`` against ``gdb-multiarch -batch -ex 'target remote ...' -ex 'dump binary memory
  ...'``. Goal: >= 2x.
* ``gdb.read_latency``: one 32-bit read of virtio[0].magic: ``GdbTarget.read`` against
  ``inferior.read_memory`` in gdb's own Python (one gdb process, timed inside). Goal: socdbg
  / gdb <= 1.1.
* ``gdb.qemu_dump``: every register of the qemu_virt map a dump reads, from QEMU: one read
  per register (``access.read_register``) against the pipelined exact-width requests of
  ``dump`` (``GdbTarget.read_accesses``). Goal: >= 4x.
* ``gdb.serve_dump``: every register of the reference SoC a dump reads, through ``socdbg
  serve`` (simulator): one read per register, coalesced block reads, batched
  ``qSocdbg.read``. Reported without goals.

QEMU runs as ``qemu-system-riscv64 -M virt -nographic -bios none -kernel IMAGE -S -gdb
tcp:127.0.0.1:PORT -monitor none -serial none`` on a free port of 127.0.0.1, with an image
written here (a ``j .`` loop followed by 1 MiB of pseudo-random bytes, so the read data is
checkable); it and ``socdbg serve`` are always terminated at the end. Nothing else is started,
and only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/: the shared benchrows
from benchrows import ratio as _ratio
from benchrows import row as _row
from benchrows import standalone
from benchrows import timed as _timed

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
RAM = 0x8000_0000
MIB = 1 << 20
VIRTIO0_MAGIC = 0x1000_1000
MAGIC = 0x7472_6976
SPEEDUP_TARGET = 4.0  # socdbg at least 4x faster than gdb for 1 MiB (a lower bound)
CLI_TARGET = 2.0  # socdbg dump at least 2x faster than gdb's, whole process each
LATENCY_TARGET = 1.1  # one register read at most 1.1x gdb's latency
QEMU_DUMP_TARGET = 4.0  # pipelined whole-map dump at least 4x one read per register


# --------------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------------




def _ensure_cache() -> None:
    if "SOCDBG_CACHE_DIR" not in os.environ:  # never the user's map cache
        os.environ["SOCDBG_CACHE_DIR"] = tempfile.mkdtemp(prefix="socdbg-bench-gdb-")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found (bash scripts/test.sh installs it)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --------------------------------------------------------------------------------------------
# QEMU with a checkable image
# --------------------------------------------------------------------------------------------
def write_image(path: Path, payload: bytes) -> Path:
    """A minimal RISC-V ELF64 executable: one PT_LOAD at RAM holding ``j .`` then
    ``payload``."""
    code = struct.pack("<I", 0x0000006F) + bytes(12)  # jal x0, 0: spin here
    data = code + payload
    ehsize, phentsize, offset = 64, 56, 0x1000
    eh = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
          + struct.pack("<HHIQQQIHHHHHH", 2, 243, 1, RAM, ehsize, 0, 0, ehsize, phentsize, 1,
                        64, 0, 0))
    ph = struct.pack("<IIQQQQQQ", 1, 7, offset, RAM, RAM, len(data), len(data), 16)
    head = eh + ph
    path.write_bytes(head + bytes(offset - len(head)) + data)
    return path


@contextlib.contextmanager
def qemu(image: Path) -> Iterator[int]:
    """QEMU's virt machine halted at reset, its gdbstub on a free 127.0.0.1 port (yielded)."""
    exe = _tool("qemu-system-riscv64")
    for _attempt in range(5):
        port = _free_port()
        proc = subprocess.Popen([exe, "-M", "virt", "-nographic", "-bios", "none", "-kernel",
                                 str(image), "-S", "-gdb", f"tcp:{HOST}:{port}",
                                 "-monitor", "none", "-serial", "none"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                    break
                time.sleep(0.02)
            else:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr and \
                    proc.poll() is not None else ""
                if "in use" in err:
                    continue
                raise RuntimeError(f"QEMU did not open its gdbstub: {err.strip()}")
            yield port
            return
        finally:
            _stop(proc)
            if proc.stderr is not None:
                proc.stderr.close()
    raise RuntimeError("QEMU could not bind a port")


def _gdb_dump(port: int, out: Path, size: int, copies: int = 1) -> float:
    """Wall seconds of one gdb-multiarch process dumping ``size`` bytes of RAM into ``out``,
    ``copies`` times in a row (gdb's memory caches off, so each dump reads the target)."""
    cmd = [_tool("gdb-multiarch"), "-nx", "-batch", "-ex", "set code-cache off",
           "-ex", "set stack-cache off", "-ex", f"target remote {HOST}:{port}"]
    for _ in range(copies):
        cmd += ["-ex", f"dump binary memory {out} {RAM:#x} {RAM + size:#x}"]
    cmd += ["-ex", "disconnect"]  # no detach: the machine stays halted between runs
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size != size:
        raise RuntimeError(f"gdb dump failed: {(proc.stderr or proc.stdout).strip()[-200:]}")
    return wall


def _hang_up(target: Any) -> None:
    """Close the connection without detaching, as gdb's ``disconnect`` does: QEMU serves one
    client at a time, and a detach would let the machine run (and spin a core) between runs."""
    if target.conn is not None:
        target.conn.close()
        target.conn = None




# --------------------------------------------------------------------------------------------
# paired runs
# --------------------------------------------------------------------------------------------
def _pairs(name: str, ours: list[float], theirs: list[float], unit: str, scale: float,
           target: float | None, better: str, what_ours: str, what_theirs: str
           ) -> list[dict[str, Any]]:
    """Rows for paired alternating runs: each side's median, and the median of the
    per-pair ratios (``better``: "speedup" = theirs / ours, higher is better; "ratio" =
    ours / theirs, lower is better)."""
    if better == "speedup":
        ratios = [t / o for o, t in zip(ours, theirs, strict=True)]
        ratio = _row(f"{name}.speedup", ratios, "x", target,
                     "median of per-pair gdb / socdbg (higher: socdbg is faster)",
                     higher_is_better=True)
    else:
        ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
        ratio = _row(f"{name}.ratio", ratios, "x", target,
                     "median of per-pair socdbg / gdb (lower: socdbg is faster)")
    return [_row(f"{name}.socdbg", [v * scale for v in ours], unit, None, what_ours),
            _row(f"{name}.gdb", [v * scale for v in theirs], unit, None, what_theirs), ratio]


# --------------------------------------------------------------------------------------------
# 1 MiB of RAM: socdbg vs gdb, one QEMU
# --------------------------------------------------------------------------------------------
def bench_ram_1mib(quick: bool) -> list[dict[str, Any]]:
    """1 MiB of QEMU's RAM in process: socdbg's pipelined read_block against gdb's time per
    MiB (a gdb run dumping the MiB several times, minus the same run dumping 1 byte)."""
    from socdbg.targets.gdb import GdbTarget
    from socdbg.targets.rsp_connection import PIPELINE

    _ensure_cache()
    runs, copies = (3, 4) if quick else (7, 8)
    payload = random.Random(9).randbytes(MIB)
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-gdb-") as tmp:
        image = write_image(Path(tmp) / "image.elf", payload)
        want = image.read_bytes()[0x1000 : 0x1000 + MIB]
        dump = Path(tmp) / "dump.bin"
        with qemu(image) as port:
            ours, theirs = [], []
            packets = 0
            for i in range(runs + 1):  # the first round warms up, untimed
                target = GdbTarget(HOST, port)  # QEMU serves one client at a time
                try:
                    t0 = time.perf_counter()
                    got = target.read_block(RAM, MIB)
                    took = time.perf_counter() - t0
                    packets = -(-MIB // target.max_read)
                finally:
                    _hang_up(target)
                if got != want:
                    raise RuntimeError("socdbg read back other bytes than the image holds")
                t_byte = _gdb_dump(port, dump, 1)
                t_many = _gdb_dump(port, dump, MIB, copies)
                if i == 0 and dump.read_bytes() != want:
                    raise RuntimeError("gdb dumped other bytes than the image holds")
                if i:
                    ours.append(took)
                    theirs.append((t_many - t_byte) / copies)
    return _pairs("gdb.ram_1mib", ours, theirs, "ms", 1e3, SPEEDUP_TARGET, "speedup",
                  f"GdbTarget.read_block(0x80000000, 1 MiB): {packets} m packets, {PIPELINE} "
                  "in flight; connection set up before timing",
                  f"gdb-multiarch per MiB: (one run dumping 1 MiB {copies} times - the same "
                  "run dumping 1 byte) / " + str(copies))


# --------------------------------------------------------------------------------------------
# the same from the command line: whole process against whole process
# --------------------------------------------------------------------------------------------
def _socdbg_dump(port: int, out: Path, size: int) -> float:
    cmd = [sys.executable, "-m", "socdbg", "-t", f"gdb://{HOST}:{port}", "dump",
           "--exclude", "*", "--memory", f"{RAM:#x}+{size:#x}", "-o", str(out), "--force"]
    # as installed: compiled modules are kept (this machine's PYTHONDONTWRITEBYTECODE
    # would make every start compile socdbg from source)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300, check=False, cwd=REPO, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"socdbg dump failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return wall


def bench_cli_dump(quick: bool) -> list[dict[str, Any]]:
    """1 MiB of RAM from the command line: ``socdbg dump --memory`` against
    ``gdb-multiarch -batch ... dump binary memory``, each the whole process."""
    _ensure_cache()
    runs = 3 if quick else 7
    payload = random.Random(9).randbytes(MIB)
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-gdb-") as tmp:
        image = write_image(Path(tmp) / "image.elf", payload)
        want = image.read_bytes()[0x1000 : 0x1000 + MIB]
        ours_file, gdb_file = Path(tmp) / "dump.json", Path(tmp) / "dump.bin"
        with qemu(image) as port:
            ours, theirs = [], []
            for i in range(runs + 1):
                t_ours = _socdbg_dump(port, ours_file, MIB)
                t_gdb = _gdb_dump(port, gdb_file, MIB)
                if i == 0:
                    from socdbg.postmortem import read_dump

                    if read_dump(ours_file).memories != [(RAM, want)] or \
                            gdb_file.read_bytes() != want:
                        raise RuntimeError("a dump holds other bytes than the image")
                    continue
                ours.append(t_ours)
                theirs.append(t_gdb)
    return _pairs("gdb.cli_dump", ours, theirs, "s", 1.0, CLI_TARGET, "speedup",
                  "python -m socdbg -t gdb://... dump --exclude '*' --memory 0x80000000+1MiB "
                  "-o F.json (whole process; detaches at the end)",
                  "gdb-multiarch -nx -batch -ex 'target remote ...' -ex 'dump binary memory F "
                  "...' -ex disconnect (whole process)")


# --------------------------------------------------------------------------------------------
# one 32-bit register read: latency against gdb's
# --------------------------------------------------------------------------------------------
_GDB_LATENCY = """
import time, gdb
inf = gdb.selected_inferior()
inf.read_memory({addr}, 4)
t0 = time.perf_counter()
for _ in range({count}):
    inf.read_memory({addr}, 4)
print("LATENCY", (time.perf_counter() - t0) / {count})
"""


def _gdb_latency(port: int, script: Path, count: int) -> float:
    script.write_text(_GDB_LATENCY.format(addr=VIRTIO0_MAGIC, count=count), encoding="utf-8")
    cmd = [_tool("gdb-multiarch"), "-nx", "-batch", "-ex", f"target remote {HOST}:{port}",
           "-x", str(script), "-ex", "disconnect"]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300, check=False)
    m = re.search(r"LATENCY (\S+)", proc.stdout)
    if m is None:
        raise RuntimeError(f"gdb latency run failed: {(proc.stderr or proc.stdout)[-300:]}")
    return float(m.group(1))


def bench_register_latency(quick: bool) -> list[dict[str, Any]]:
    """One 32-bit read of virtio[0].magic from QEMU: socdbg's GdbTarget.read against gdb's
    ``inferior.read_memory`` (gdb's Python, in one gdb process), alternating."""
    from socdbg.targets.gdb import GdbTarget

    _ensure_cache()
    runs, count = (3, 500) if quick else (9, 2000)
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-gdb-") as tmp:
        image = write_image(Path(tmp) / "image.elf", b"")
        with qemu(image) as port:
            ours, theirs = [], []
            for i in range(runs + 1):
                target = GdbTarget(HOST, port)
                try:
                    if int.from_bytes(target.read(VIRTIO0_MAGIC, 4), "little") != MAGIC:
                        raise RuntimeError("virtio[0].magic did not read 0x74726976")
                    t = _timed(lambda tg=target: [tg.read(VIRTIO0_MAGIC, 4) for _ in range(count)])
                finally:
                    _hang_up(target)
                g = _gdb_latency(port, Path(tmp) / "latency.py", count)
                if i:
                    ours.append(t / count)
                    theirs.append(g)
    return _pairs("gdb.read_latency", ours, theirs, "us", 1e6, LATENCY_TARGET, "ratio",
                  f"GdbTarget.read(0x10001000, 4) x {count}: one m packet each",
                  f"gdb-multiarch Python inferior.read_memory(0x10001000, 4) x {count}")


# --------------------------------------------------------------------------------------------
# a whole-map register dump straight to QEMU
# --------------------------------------------------------------------------------------------
def bench_qemu_dump(quick: bool) -> list[dict[str, Any]]:
    """Every register of the qemu_virt map a dump reads, from QEMU: one read per register
    (access.read_register) against the pipelined exact-width requests ``dump`` sends
    (GdbTarget.read_accesses, as postmortem.capture calls it), alternating."""
    from socdbg.access import read_register
    from socdbg.postmortem import capture, dump_skip_reason
    from socdbg.regmap import load_map
    from socdbg.targets.gdb import GdbTarget

    _ensure_cache()
    runs = 3 if quick else 9
    rmap = load_map([str(REPO / "registers" / "qemu_virt.rdl")], [str(REPO / "registers")])
    regs = [r for r in rmap if dump_skip_reason(r, False) is None]
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-gdb-") as tmp:
        image = write_image(Path(tmp) / "image.elf", b"")
        with qemu(image) as port:
            target = GdbTarget(HOST, port)
            try:
                def single() -> dict[str, int]:
                    out = {}
                    for r in regs:
                        with contextlib.suppress(Exception):
                            out[r.path] = read_register(target, r)
                    return out

                plan = [(r, [(a, r.accesswidth // 8)
                             for a in range(r.address, r.end, r.accesswidth // 8)])
                        for r in regs]
                accesses = [acc for _, accs in plan for acc in accs]

                def pipelined() -> dict[str, int]:  # what dump's register pass does
                    got = target.read_accesses(accesses)
                    out, i = {}, 0
                    for r, accs in plan:
                        parts = got[i : i + len(accs)]
                        i += len(accs)
                        if not any(isinstance(p, Exception) for p in parts):
                            out[r.path] = int.from_bytes(b"".join(parts), "little")
                    return out

                d = capture(target, rmap, regs, [])  # dump itself gives the same registers
                if set(d.registers) != set(pipelined()):
                    raise RuntimeError("dump read other registers than the pipelined pass")

                # clocks and counters move between passes: compare the registers that hold
                want, got = single(), pipelined()
                steady = {p for p in want if p in got and want[p] == got[p]}
                if len(steady) < len(regs) // 2 or set(want) != set(got):
                    raise RuntimeError("pipelined reads gave other registers than single ones")
                ours, theirs = [], []
                for _ in range(runs):
                    theirs.append(_timed(single))
                    ours.append(_timed(pipelined))
            finally:
                target.close()
    rows = _pairs("gdb.qemu_dump", ours, theirs, "ms", 1e3, QEMU_DUMP_TARGET, "speedup",
                  f"{len(regs)} registers of qemu_virt (dump's selection) from QEMU: "
                  f"{len(accesses)} exact-width m requests pipelined (read_accesses)",
                  "the same registers, access.read_register one after the other")
    rows[1]["name"] = "gdb.qemu_dump.single"
    rows[2]["note"] = "median of per-pair single / pipelined (higher: pipelining helps more)"
    return rows


# --------------------------------------------------------------------------------------------
# a whole-chip register read through socdbg serve
# --------------------------------------------------------------------------------------------
_SERVING = re.compile(r" on (\S+):(\d+) \(")


@contextlib.contextmanager
def socdbg_serve(*args: str) -> Iterator[int]:
    """``python -m socdbg serve --port 0 ARGS`` (the simulator): the port it listens on."""
    proc = subprocess.Popen([sys.executable, "-m", "socdbg", "serve", "--port", "0", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = _SERVING.search(line)
        if m is None:
            raise RuntimeError(f"socdbg serve did not start: {line.strip()}")
        yield int(m.group(2))
    finally:
        _stop(proc)
        if proc.stderr is not None:
            proc.stderr.close()


def bench_serve_dump(quick: bool) -> list[dict[str, Any]]:
    """Every register a dump reads, through socdbg serve: one read each vs coalesced runs."""
    from socdbg.access import plan_runs, read_register
    from socdbg.commands.session import Session
    from socdbg.postmortem import dump_skip_reason
    from socdbg.targets.base import CAP_COALESCE
    from socdbg.targets.gdb import GdbTarget

    _ensure_cache()
    runs = 3 if quick else 7
    rmap = Session().map  # the reference SoC, as the server loads it
    regs = sorted((r for r in rmap if dump_skip_reason(r, False) is None),
                  key=lambda r: r.address)
    with socdbg_serve() as port:
        target = GdbTarget(HOST, port)
        try:
            if CAP_COALESCE not in target.capabilities:
                raise RuntimeError("the server does not offer coalesced block reads")
            blocks = plan_runs(regs, target.max_read)

            def single() -> dict[str, int]:
                return {r.path: read_register(target, r) for r in regs}

            def coalesced() -> dict[str, int]:
                out: dict[str, int] = {}
                for run in blocks:
                    if len(run) == 1:
                        out[run[0].path] = read_register(target, run[0])
                        continue
                    start = run[0].address
                    raw = target.read_block(start, run[-1].end - start)
                    for r in run:
                        off = r.address - start
                        out[r.path] = int.from_bytes(raw[off : off + r.size], "little")
                return out

            def batched() -> dict[str, int]:
                out: dict[str, int] = {}
                got = target.read_ranges([(run[0].address, run[-1].end - run[0].address)
                                          for run in blocks])
                for run, raw in zip(blocks, got, strict=True):
                    if isinstance(raw, Exception):
                        raise raw
                    for r in run:
                        off = r.address - run[0].address
                        out[r.path] = int.from_bytes(raw[off : off + r.size], "little")
                return out

            want = single()
            if coalesced() != want:
                raise RuntimeError("coalesced reads gave other values than single reads")
            # socdbg serve's batched read (qSocdbg.read), where the client and server have it
            has_batch = hasattr(target, "read_ranges") and \
                target.features.get("socdbg-batch") == "+"
            if has_batch and batched() != want:
                raise RuntimeError("batched reads gave other values than single reads")
            one, many, batch = [], [], []
            for _ in range(runs):
                one.append(_timed(single))
                many.append(_timed(coalesced))
                if has_batch:
                    batch.append(_timed(batched))
        finally:
            target.close()
    multi = sum(1 for run in blocks if len(run) > 1)
    one_row = _row("gdb.serve_dump.single", [t * 1e3 for t in one], "ms", None,
                   f"{len(regs)} registers of the reference SoC, one read each, through "
                   "socdbg serve (sim) + gdb target")
    many_row = _row("gdb.serve_dump.coalesced", [t * 1e3 for t in many], "ms", None,
                    f"the same as {len(blocks)} requests: read_block over {multi} runs of "
                    f"adjacent registers, {len(blocks) - multi} single reads")
    rows = [one_row, many_row,
            _ratio("gdb.serve_dump.speedup", one_row, many_row, None,
                   "single / coalesced (higher: coalescing helps more)")]
    if batch:
        batch_row = _row("gdb.serve_dump.batched", [t * 1e3 for t in batch], "ms", None,
                         f"the same {len(blocks)} ranges in qSocdbg.read packets "
                         "(GdbTarget.read_ranges): one round trip per packet")
        rows += [batch_row,
                 _ratio("gdb.serve_dump.speedup_batched", one_row, batch_row, None,
                        "single / batched (higher: batching helps more)")]
    return rows


BENCHMARKS: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "gdb.ram_1mib": bench_ram_1mib,
    "gdb.cli_dump": bench_cli_dump,
    "gdb.read_latency": bench_register_latency,
    "gdb.qemu_dump": bench_qemu_dump,
    "gdb.serve_dump": bench_serve_dump,
}


# --------------------------------------------------------------------------------------------


def _all(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, fn in BENCHMARKS.items():
        try:
            rows += fn(quick)
        except Exception as exc:  # report, do not fail: the other benchmarks still run
            rows.append({"name": name, "value": None, "unit": "", "target": None,
                         "runs": None, "note": f"error: {exc}", "samples": []})
    return rows


def main(argv: list[str] | None = None) -> int:
    _ensure_cache()
    return standalone(__doc__ or "", _all, argv)


if __name__ == "__main__":
    raise SystemExit(main())
