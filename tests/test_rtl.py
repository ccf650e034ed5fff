"""The rtl: target: register RTL from the map (PeakRDL-regblock), run by Verilator.

One build of the blocks the bring-up script uses (2x2 NoC, so it stays small) is made once per
test session into the session's cache; a second build from a mutated RDL (sysctrl only) checks
that BUTR and run --compare catch a wrong reset and a stuck field.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import TargetError
from socdbg.targets.rtl.harness import Harness

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = "sysctrl,intc,hbm,noc,dma,mailbox"
RTL = f"rtl:{BLOCKS},mesh=2x2"
SIM = "sim:mesh=2x2"


def socdbg(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=dict(os.environ))


@pytest.fixture(scope="session")
def rtl_built(_socdbg_session_env: None) -> str:
    """Build the RTL once for the session (in the session's cache); the target string."""
    session = Session(target=RTL, out=io.StringIO())
    try:
        assert session.target.spec == RTL
    finally:
        session.close()
    return RTL


@pytest.fixture
def rtl(rtl_built: str) -> Iterator[Session]:
    session = Session(target=rtl_built, out=io.StringIO())
    yield session
    session.close()


def test_bringup_output_is_the_simulators_line_by_line(rtl_built: str) -> None:
    sim = socdbg("-t", SIM, "run", "scripts/bringup.sdbg")
    rtl = socdbg("-t", rtl_built, "run", "scripts/bringup.sdbg")
    assert sim.returncode == 0, sim.stdout + sim.stderr
    assert rtl.returncode == 0, rtl.stdout + rtl.stderr
    assert rtl.stdout.splitlines() == sim.stdout.splitlines()
    # the DMA loopback ran on the RTL's registers, at the model's timing (a 2x2 mesh)
    for line in ("sysctrl.pll_status.lock == 1 after 2,000 cycles",
                 "hbm.train_status.done == 1 after 3,500 cycles",
                 "dma.ch[0].status.done == 1 after 7 cycles", "ok: intc.pending.dma_ch0 == 1",
                 "ok: 16 bytes at 0x10001000 match", "ok: intc.pending == 0"):
        assert line in rtl.stdout.splitlines()


def test_dma_selftest_and_a_reset_mid_transfer_agree_with_the_model(rtl_built: str,
                                                                     tmp_path: Path) -> None:
    """Every mode and error of the engine (dma_selftest.sdbg) and a chip reset while a
    transfer runs: run --compare finds no access that differs."""
    out = socdbg("run", "--compare", rtl_built, SIM, "scripts/dma_selftest.sdbg")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert re.search(r"no difference: \d+ accesses agree", out.stdout), out.stdout[-2000:]
    script = tmp_path / "reset.sdbg"
    script.write_text("\n".join([
        "write sysctrl.pll_ctrl en=1", "poll sysctrl.pll_status.lock == 1",
        "write sysctrl.rst_ctrl dma_rst=0 noc_rst=0", "write dma.global_ctrl enable=1",
        "write intc.enable dma_ch1=1", "poke sram+0x2000 0x1122334455667788 -w 64",
        "write dma.ch[1].src 0x10002000", "write dma.ch[1].dst 0x80004000",
        "write dma.ch[1].len 0x4000", "write dma.ch[1].ctrl en=1 irq_en=1 start=1",
        "step 3", "read dma.ch[1].status", "read dma.global_status", "reset",
        "read dma.ch[1].status", "read dma.global_status", "read intc.status", "step 100000",
        "read dma.ch[1].status", "read dma.ch[1].bytes_done", "read intc.pending",
        "peek dram+0x4000 -w 64", ""]))
    out = socdbg("run", "--compare", rtl_built, SIM, str(script))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert re.search(r"no difference: \d+ accesses agree", out.stdout), out.stdout[-2000:]


def test_a_poll_that_times_out_or_ends_where_the_model_acts_is_the_simulators(
        rtl_built: str, tmp_path: Path) -> None:
    """A poll whose time runs out with the DMA model coupled stops (it once checked the last
    cycle again forever), and polls that end exactly where the model acts (busy falls, done
    rises) report the simulator's cycles."""
    script = tmp_path / "polls.sdbg"
    script.write_text("\n".join([
        "poll dma.ch[0].status.done == 1 --timeout 0.00001",
        "write sysctrl.pll_ctrl en=1", "poll sysctrl.pll_status.lock == 1",
        "write sysctrl.rst_ctrl dma_rst=0 noc_rst=0", "write dma.global_ctrl enable=1",
        "write dma.ch[3].src 0x10000000", "write dma.ch[3].dst 0x80000000",
        "write dma.ch[3].len 0x400", "write dma.ch[3].ctrl en=1 start=1",
        "poll dma.ch[3].status.busy == 0", "poll dma.ch[3].status.done == 1 --timeout 0.00001",
        "poll dma.ch[3].status.done == 0 --timeout 0.00001", ""]))
    sim = socdbg("-t", SIM, "run", "--keep-going", str(script))
    rtl = socdbg("-t", rtl_built, "run", "--keep-going", str(script), timeout=120)
    assert rtl.stdout.splitlines() == sim.stdout.splitlines()
    text = " ".join(rtl.stdout.split())  # long lines wrap
    assert text.count("timeout after 10,000 cycles: expected") == 2, text
    assert "done == 0, got 1" in text and "3 checks passed, 2 failed" in text, text
    assert rtl.returncode == sim.returncode == 1


def test_the_rtl_holds_what_the_engine_drives(rtl: Session) -> None:
    """busy while the transfer runs, then done (sticky until software clears it), the
    byte count, and the interrupt source: all read from the RTL's own registers."""
    for line in ("write sysctrl.pll_ctrl en=1", "step 2000",
                 "write sysctrl.rst_ctrl dma_rst=0 noc_rst=0", "write dma.global_ctrl enable=1",
                 "write dma.ch[2].src 0x10000000", "write dma.ch[2].dst 0x80000000",
                 "write dma.ch[2].len 0x1000", "write dma.ch[2].ctrl en=1 irq_en=1 start=1"):
        execute(rtl, line)
    status = execute(rtl, "read --json dma.ch[2].status").data["fields"]
    assert (status["busy"], status["done"]) == (1, 0)
    execute(rtl, "poll dma.ch[2].status.done == 1")
    assert execute(rtl, "read --json dma.ch[2].bytes_done").data["value"] == 0x1000
    assert execute(rtl, "read --json intc.status").data["fields"]["dma_ch2"] == 1
    execute(rtl, "step 50")
    assert execute(rtl, "read --json dma.ch[2].status").data["fields"]["done"] == 1
    execute(rtl, "write dma.ch[2].status done=1")
    status = execute(rtl, "read --json dma.ch[2].status").data["fields"]
    assert (status["busy"], status["done"]) == (0, 0)


def test_butr_passes_on_every_register_the_rtl_implements(rtl_built: str) -> None:
    globs = [f"{b}.*" for b in BLOCKS.split(",")]
    out = socdbg("-t", rtl_built, "butr", *globs)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    last = out.stdout.splitlines()[-1]
    assert re.match(r"\d+ checks passed, 0 failed \(\d+ registers tested", last), last
    doc = json.loads(socdbg("-t", rtl_built, "butr", "--json", "intc.*").stdout)
    assert doc["fail"] == 0 and doc["pass"] > 0
    # what the RTL cannot support: setting hardware-owned bits through a backdoor
    skipped = {c["check"] for c in doc["checks"] if c["status"] == "skip"
               and c["detail"] == "the bit is clear and only the hardware can set it"}
    assert "w1c mbox" in skipped


def test_wide_registers_follow_the_rdl_low_word_latches_high_word_commits(rtl: Session
                                                                          ) -> None:
    t = rtl.target
    src = rtl.map.get("dma.ch[1].src")
    t.write(src.address, (0x1000).to_bytes(4, "little"))
    assert t.read(src.address, 4) == bytes(4)  # buffered: nothing committed yet
    t.write(src.address + 4, (2).to_bytes(4, "little"))
    assert int.from_bytes(t.read(src.address, 8), "little") == 0x2_0000_1000
    execute(rtl, "write sysctrl.pll_ctrl en=1")
    execute(rtl, "step 2010")
    cycle = rtl.map.get("sysctrl.cycle")
    low = int.from_bytes(t.read(cycle.address, 4), "little")
    assert low == 10
    execute(rtl, "step 0x100000000")  # the counter moves on; the latched high word does not
    assert t.read(cycle.address + 4, 4) == bytes(4)
    assert int.from_bytes(t.read(cycle.address, 8), "little") == 10 + (1 << 32)


def test_unmapped_and_unbuilt_addresses_are_bus_errors(rtl: Session) -> None:
    t = rtl.target
    with pytest.raises(TargetError, match="bus error: read of 4 byte"):
        t.read(0x4000_000C, 4)  # a hole in sysctrl
    with pytest.raises(TargetError, match="bus error"):
        t.read(0x4004_0000, 4)  # pcie: not in this build
    with pytest.raises(TargetError, match="bus error"):
        t.write(0x5000_0000, bytes(4))  # nothing there
    assert t.read(0x4000_0000, 4) == (0x5D0C0A01).to_bytes(4, "little")  # still alive


def test_memory_accesses_and_their_errors_are_the_simulators(rtl: Session) -> None:
    """The memory side is the simulator's code (targets/simbus.py): the same bytes back, the
    same checks, word for word the same errors, and a failed access writes nothing."""
    sim = Session(target=SIM, out=io.StringIO())
    try:
        sram = next(m for m in rtl.map.memories if m.path == "sram")
        end = sram.address + sram.size
        bad: list[tuple[str, int, int | bytes]] = [
            ("read_block", end - 8, 16), ("write_block", end - 4, bytes(8)),  # past the end
            ("read", end - 4, 3), ("write", end - 6, bytes(4))]  # not a bus access
        errors: list[list[str]] = []
        for t in (rtl.target, sim.target):
            t.write(end - 8, b"\x11" * 8)
            t.write_block(end - 64, b"\x22" * 56)
            assert t.read_block(end - 64, 64) == b"\x22" * 56 + b"\x11" * 8
            got = []
            for op, address, arg in bad:
                with pytest.raises(TargetError) as info:
                    getattr(t, op)(address, arg)
                got.append(str(info.value))
            assert t.read(end - 8, 8) == b"\x11" * 8  # the failed writes left the end alone
            errors.append(got)
        assert errors[0] == errors[1]
        assert f"bus error: access of 16 byte(s) at {end - 8:#x}: runs past the end of memory" \
            in errors[0][0]
    finally:
        sim.close()


def test_interrupt_pending_is_status_and_enable_and_doorbells_raise_mbox(rtl: Session
                                                                         ) -> None:
    execute(rtl, "write sysctrl.rst_ctrl mailbox_rst=0")
    execute(rtl, "write mailbox.doorbell db3=1")
    assert execute(rtl, "read --json mailbox.doorbell_status").data["value"] == 1 << 3
    status = execute(rtl, "read --json intc.status").data["value"]
    assert status == 1 << 20  # mbox
    assert execute(rtl, "read --json intc.pending").data["value"] == 0
    execute(rtl, "write intc.enable mbox=1")
    assert execute(rtl, "read --json intc.pending").data["value"] == 1 << 20
    execute(rtl, "write intc.test_set dma_ch1=1")
    assert execute(rtl, "read --json intc.status").data["value"] == (1 << 20) | (1 << 1)
    execute(rtl, "write intc.status mbox=1")
    assert execute(rtl, "read --json intc.pending").data["value"] == 0


def test_reset_returns_registers_to_reset_and_keeps_time(rtl: Session) -> None:
    execute(rtl, "write sysctrl.scratch 0x1234")
    execute(rtl, "step 5")
    now = rtl.target.now  # type: ignore[attr-defined]
    execute(rtl, "reset")
    assert execute(rtl, "read --json sysctrl.scratch").data["value"] == 0
    assert rtl.target.now == now  # type: ignore[attr-defined]


def test_a_dead_harness_is_an_error_never_a_value(rtl: Session) -> None:
    t = rtl.target
    t.harness.proc.kill()  # type: ignore[attr-defined]
    t.harness.proc.wait()  # type: ignore[attr-defined]
    with pytest.raises(TargetError, match="harness died"):
        t.read(0x4000_0000, 4)


def _fake(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "fake-harness"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return exe


def test_harness_answers_are_checked(tmp_path: Path) -> None:
    h = Harness(_fake(tmp_path, "echo ready; read x; echo 'd 123456789abc'; sleep 5"))
    with pytest.raises(TargetError, match="answered"):
        h.ask(["r 40000000"])
    h.close()
    with pytest.raises(TargetError, match="did not start"):
        Harness(_fake(tmp_path, "echo hello"))
    h = Harness(_fake(tmp_path, "echo ready; sleep 30"))
    with pytest.raises(TargetError, match=r"did not answer within 0\.5 s"):
        h.ask(["r 40000000"], seconds=0.5)
    h = Harness(_fake(tmp_path, "echo ready; head -c 5000 /dev/zero | tr '\\0' x; sleep 5"))
    with pytest.raises(TargetError, match="overlong"):
        h.ask(["r 40000000"])
    h.close()


def test_the_model_timings_are_the_functional_models() -> None:
    from socdbg.models import blocks as soc
    from socdbg.targets.rtl import top

    assert (top.PLL_LOCK_CYCLES, top.HBM_PHASE_CYCLES) == (soc.PLL_LOCK_CYCLES,
                                                           soc.HBM_PHASE_CYCLES)
    assert top.HBM_PHASES == soc.HbmTraining.PHASES


def test_a_second_open_uses_the_cache(rtl_built: str, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    from socdbg.targets.rtl import build

    def refuse(*args: object) -> None:
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(build, "_build_in", refuse)
    session = Session(target=rtl_built, out=io.StringIO())
    try:
        assert execute(session, "read --json sysctrl.chip_id").data["value"] == 0x5D0C0A01
    finally:
        session.close()


# --- a mutated RDL: a wrong reset and a stuck field, caught by BUTR and by compare ----------
@pytest.fixture(scope="session")
def mutated(tmp_path_factory: pytest.TempPathFactory, _socdbg_session_env: None) -> Path:
    d = tmp_path_factory.mktemp("mutated")
    for f in (ROOT / "registers").glob("*.rdl"):
        (d / f.name).write_text(f.read_text())
    text = (d / "sysctrl.rdl").read_text()
    stuck = text.replace("sw = rw; hw = na;\n        } value[31:0] = 0;",
                         "sw = r; hw = na;\n        } value[31:0] = 0;")  # scratch: stuck
    wrong = stuck.replace("} stepping[7:0] = 1;", "} stepping[7:0] = 2;")  # revision reset
    assert wrong != stuck != text
    (d / "sysctrl.rdl").write_text(wrong)
    return d / "soc.rdl"


def test_butr_names_the_wrong_reset_and_the_stuck_field(mutated: Path) -> None:
    out = socdbg("--map", str(ROOT / "registers" / "soc.rdl"), "-t", f"rtl:{mutated},sysctrl",
                 "butr", "sysctrl.*")
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout
    assert re.search(r"sysctrl\.revision\s+reset\s+fail", text), text
    assert "stepping" in text
    assert re.search(r"sysctrl\.scratch\s+walk value\s+fail", text), text


def test_compare_names_register_and_field(mutated: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.sdbg"
    script.write_text("expect sysctrl.chip_id == 0x5d0c0a01\nread sysctrl.revision\n"
                      "write sysctrl.scratch 0x55\nread sysctrl.scratch\n")
    out = socdbg("--map", str(ROOT / "registers" / "soc.rdl"), "run", "--compare",
                 f"rtl:{mutated},sysctrl", "sim", str(script))
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"first difference, access 2: {script}:2: read sysctrl.revision" in out.stdout
    assert "read of sysctrl.revision at 0x40000004" in out.stdout
    assert "fields: stepping (rtl:" in out.stdout and " 2, sim 1)" in out.stdout
