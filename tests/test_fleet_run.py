"""``socdbg fleet run`` and ``fleet dump`` on a local Dask cluster against 16 ``socdbg serve``
simulators on loopback: 3 of them with a register pre-set (the script's ``expect`` fails on
them), and one target that accepts connections and never answers. The summary, the JUnit
report, the JSON and the exit status must be right; Ctrl-C cancels the run cleanly.

Every server is started on 127.0.0.1 with ``--port 0`` (all at once, so the module pays for
one start-up, not sixteen) and stopped whatever happens. Speed (wall time against
targets / workers x one run) is measured in scripts/bench_fleet.py, not here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gdb_support as gs
import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session

REPO = Path(__file__).resolve().parent.parent
SERVERS = 16
FAULTY = (3, 8, 13)  # servers whose sysctrl.scratch is pre-set to 0x1234
SCRIPT = "expect sysctrl.chip_id == 0x5d0c0a01\nexpect sysctrl.scratch == 0\n"


@dataclass
class Fleet:
    targets: Path
    script: Path
    names: list[str]
    dead: str


@contextlib.contextmanager
def servers(env: dict[str, str]) -> Iterator[list[int]]:
    """SERVERS ``socdbg serve`` processes (the faulty ones read-write), started together."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for i in range(SERVERS):
            extra = ["--allow-writes"] if i in FAULTY else []
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "socdbg", "serve", "--port", "0", *extra],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True, cwd=REPO, env=env))
        watchdog = threading.Timer(120, lambda: [p.kill() for p in procs])
        watchdog.start()
        ports = []
        try:
            for proc in procs:
                assert proc.stderr is not None
                m = None
                for line in proc.stderr:
                    m = gs._SERVING.search(line)
                    if m:
                        break
                assert m is not None, "socdbg serve did not start"
                ports.append(int(m["port"]))
                stream = proc.stderr
                threading.Thread(target=lambda s=stream: [None for _ in s], daemon=True).start()
        finally:
            watchdog.cancel()
        yield ports
    finally:
        for proc in procs:
            gs._stop(proc)


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A socket that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, _socdbg_session_env: None
          ) -> Iterator[Fleet]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    folder = tmp_path_factory.mktemp("fleet")
    with servers(env) as ports, silent_listener() as dead_port:
        for i in FAULTY:
            session = Session(target=f"gdb://127.0.0.1:{ports[i]}", out=io.StringIO())
            try:
                assert execute(session, "write sysctrl.scratch 0x1234").ok
            finally:
                session.close()
        lines = [f"gdb://127.0.0.1:{port}  board-{i:02d}  rack={'ab'[i % 2]}"
                 for i, port in enumerate(ports)]
        lines.append(f"gdb://127.0.0.1:{dead_port}  silent")
        targets = folder / "targets.txt"
        targets.write_text("# the bench\n" + "\n".join(lines) + "\n")
        script = folder / "check.sdbg"
        script.write_text(SCRIPT)
        yield Fleet(targets, script, [f"board-{i:02d}" for i in range(SERVERS)] + ["silent"],
                    f"gdb://127.0.0.1:{dead_port}")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300, check=False)


def test_fleet_run_summary_junit_json_and_exit_status(fleet: Fleet, tmp_path: Path) -> None:
    junit = tmp_path / "fleet.xml"
    proc = cli("fleet", "run", str(fleet.script), "--targets", str(fleet.targets),
               "--workers", "3", "--per-host", "6", "--timeout", "1", "--junit", str(junit),
               "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    results = {t["target"]: t for t in data["targets"]}
    assert list(results) == fleet.names  # the targets file's order
    assert data["summary"] == {"passed": SERVERS - len(FAULTY), "failed": len(FAULTY),
                               "error": 0, "unreachable": 1, "cancelled": 0}
    for i in FAULTY:
        r = results[f"board-{i:02d}"]
        assert (r["result"], r["where"]) == ("failed", f"{fleet.script}:2")
        assert "0x1234" in r["reason"]
    assert results["board-00"]["checks_passed"] == 2
    silent = results["silent"]
    assert silent["result"] == "unreachable" and silent["seconds"] < 30
    assert silent["reason"] == f"{fleet.dead}: no answer within 1 s"

    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        str(SERVERS + 1), str(len(FAULTY)), "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == fleet.names
    failure = cases["board-03"].find("failure")
    assert failure is not None and f"{fleet.script}:2" in (failure.get("message") or "")
    error = cases["silent"].find("error")
    assert error is not None and error.get("type") == "unreachable"
    assert cases["board-00"].find("failure") is None


def test_fleet_dump_then_index(fleet: Fleet, tmp_path: Path) -> None:
    few = tmp_path / "few.txt"
    lines = fleet.targets.read_text().splitlines()
    few.write_text("\n".join([lines[1], lines[4], lines[-1]]) + "\n")  # 00, 03, silent
    out = tmp_path / "dumps"
    proc = cli("fleet", "dump", "--targets", str(few), "-o", str(out), "--timeout", "1",
               "--workers", "2", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # silent is unreachable
    files = sorted(p.name for p in out.iterdir())
    assert [f.split("-2")[0] for f in files] == ["board-00", "board-03"]
    assert all(re.fullmatch(r"board-0[03]-\d{8}T\d{12}Z\.json\.gz", f) for f in files)
    # the summary table: one row per target, the dump file or why there is none
    assert "dump: 3 targets: 2 passed, 1 unreachable" in proc.stdout
    table = " ".join(proc.stdout.split())
    assert re.search(r"\| board-00 \| passed \| board-00-\d{8}T\d{12}Z.json.gz \|", table)
    assert re.search(r"\| silent \| unreachable \| gdb://127.0.0.1:\d+: no answer", table)
    index = tmp_path / "i.parquet"
    proc = cli("fleet", "index", str(out), "-o", str(index), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = cli("query", "SELECT target, value FROM fields WHERE register = 'sysctrl.scratch' "
               "ORDER BY target", "--index", str(index), "--format", "csv", cwd=tmp_path)
    assert proc.stdout.splitlines() == ["target,value", "board-00,0", "board-03,4660"]


def _ctrl_c_as_usual() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_cancels_the_whole_run(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    dump = tmp_path / "d.json"
    session = Session(target="sim", out=io.StringIO())
    try:
        assert execute(session, f"dump -o {dump} --include sysctrl.*").ok
    finally:
        session.close()
    (tmp_path / "t.txt").write_text(f"dump:{dump} one\ndump:{dump} two\n")
    # each task writes started.json, then sleeps
    (tmp_path / "slow.sdbg").write_text("dump -o started.json --force --include sysctrl.*\n"
                                        "sleep 600\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "socdbg", "fleet", "run", "slow.sdbg",
                             "--targets", "t.txt", "--workers", "2"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a suite started in the background by a shell without job control
                            # inherits SIGINT ignored; the user's socdbg has Ctrl-C as usual
                            preexec_fn=_ctrl_c_as_usual)
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (tmp_path / "started.json").exists():
                break
            time.sleep(0.2)
        assert (tmp_path / "started.json").exists(), "no task started"
        workers = parent.children(recursive=True)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130
        assert err.strip() == "cancelled: fleet run: 0 of 2 targets done, the rest cancelled"
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive  # the local cluster's processes are gone
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
