"""The bring-up scripts in scripts/ pass on the simulator and, with the same output, through
`socdbg serve` and the gdb target (a fresh server per script)."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import gdb_support as gs
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["bringup.sdbg", "dma_selftest.sdbg", "noc_smoke.sdbg"]


def socdbg(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=cwd)


@pytest.fixture
def server() -> Iterator[str]:
    """`socdbg serve --allow-writes` on a free loopback port; stopped whatever happens."""
    with gs.serve(["--allow-writes"]) as served:
        yield served.url

@pytest.mark.parametrize("script", SCRIPTS)
def test_script_passes_on_the_simulator(script: str, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    res = socdbg("run", f"scripts/{script}", "--junit", str(report))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    assert re.search(rf"{script}: \d+ checks passed, 0 failed \(\d+ lines run\)\n", res.stdout)
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) > 0
    assert suite.get("failures") == "0" and suite.get("errors") == "0"


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_gives_the_same_output_through_serve(script: str, server: str) -> None:
    local = socdbg("run", f"scripts/{script}")
    remote = socdbg("run", f"scripts/{script}", "--target", server)
    assert remote.returncode == 0, remote.stdout[-2000:] + remote.stderr
    assert remote.stdout == local.stdout


def test_a_failing_script_names_the_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.sdbg"
    script.write_text("expect sysctrl.chip_id == 0x5d0c0a01\n"
                      "expect dma.ch[0].status.done == 1\n"
                      "echo not reached\n")
    res = socdbg("run", str(script), cwd=tmp_path)
    assert res.returncode == 1
    assert "bad.sdbg:2: expected dma.ch[0].status.done == 1, got 0" in res.stdout
    assert "not reached" not in res.stdout


def test_a_typo_stops_the_script_before_any_access(tmp_path: Path) -> None:
    script = tmp_path / "typo.sdbg"
    script.write_text("write sysctrl.scratch 0x1234\nwrite sysctrl.scrach 1\n")
    res = socdbg("run", str(script), cwd=tmp_path)
    assert res.returncode == 1
    assert "typo.sdbg:2:" in res.stderr and "did you mean 'scratch'" in res.stderr
    assert "0x1234" not in res.stdout  # line 1 never ran: the file is checked first


#: A shell session that uses every command that works on a simulator and through socdbg
#: serve (reads, writes, memory, time, checks, variables, nested scripts, views, dumps, diff,
#: stubs, butr), recorded with record start/stop. Not here: load/sym (need a cross-built
#: ELF: tests/test_firmware_load.py), halt/resume/stepi/core/monitor/reconnect (a CPU behind
#: gdb: tests/test_gdb_qemu.py), trace and noc traffic (a local simulator only).
SESSION = r"""record start rec.sdbg
read sysctrl.chip_id
read sysctrl.chip_id.part
read dma.ch[*].status
write sysctrl.scratch 7
reset
expect sysctrl.scratch == 0
write sysctrl.scratch "8'h2a"
write sysctrl.pll_ctrl en=1
step 10
step --until 'sysctrl.pll_status.lock == 1'
step --until 'sysctrl.cycle & 0xff == 0x10'
poll sysctrl.pll_status.lock == 1 --timeout 0.001
expect sysctrl.pll_status.lock == 1
expect sysctrl.cycle & 0xff == 0x10
peek sram 4
poke sram+0x10 0xdeadbeef
peek sram+0x10
expect mem sram+0x10 == 'ef be ad de'
set WHO "a b # c"
echo hello ${WHO} 'it'"'"'s' $5 \# é
source inner.sdbg
run nested.sdbg
sleep 0.000001
write sysctrl.rst_ctrl noc_rst=0 dma_rst=0
write dma.ch[0].len 256
dma
noc
find scratch
info
regs show sysctrl.scratch
help read
dump -o d1.json --force
dump -o d2.json --force --memory sram+0x20
diff d1.json d2.json
stubs -o chip.pyi
butr sysctrl.scratch --skip-reset --allow-writes
read sysctrl.scratch
record stop
"""


def test_a_recorded_session_replays_the_same_on_the_sim_and_through_serve(
        tmp_path: Path, server: str) -> None:
    (tmp_path / "inner.sdbg").write_text("expect sysctrl.scratch == 0x2a\n"
                                         'echo "inner: ${WHO}"\n')
    (tmp_path / "nested.sdbg").write_text("read sysctrl.revision\n")
    shell = subprocess.run([sys.executable, "-m", "socdbg", "shell"], input=SESSION,
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert shell.returncode == 0, shell.stdout[-2000:] + shell.stderr
    recorded = (tmp_path / "rec.sdbg").read_text()
    assert "write sysctrl.scratch 8'h2a" in recorded and "run nested" not in recorded
    assert "echo hello 'a b # c' \"it's\" '$5' '#' é" in recorded
    local = socdbg("run", "rec.sdbg", cwd=tmp_path)
    assert local.returncode == 0, local.stdout[-2000:] + local.stderr
    remote = socdbg("run", "rec.sdbg", "--target", server, cwd=tmp_path)
    assert remote.returncode == 0, remote.stdout[-2000:] + remote.stderr
    assert remote.stdout == local.stdout
    assert re.search(r"rec.sdbg: \d+ checks passed, 0 failed \(\d+ lines run\)\n$",
                     local.stdout)
