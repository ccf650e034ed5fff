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
#: Where the bring-up script needs the DMA engine, which exists only in the functional model.
DMA_POLL = "scripts/bringup.sdbg:45"


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


def test_bringup_output_is_the_simulators_line_by_line_up_to_the_dma_engine(
        rtl_built: str) -> None:
    sim = socdbg("-t", SIM, "run", "scripts/bringup.sdbg")
    rtl = socdbg("-t", rtl_built, "run", "scripts/bringup.sdbg")
    assert sim.returncode == 0, sim.stdout + sim.stderr
    s, r = sim.stdout.splitlines(), rtl.stdout.splitlines()
    same = next(i for i, (a, b) in enumerate(zip(s, r, strict=False)) if a != b)
    assert s[:same] == r[:same]
    # identify, clocks (PLL lock after 2,000 cycles), resets, HBM training (3,500 cycles),
    # NoC, and the DMA set-up writes: all equal
    for line in ("sysctrl.pll_status.lock == 1 after 2,000 cycles",
                 "hbm.train_status.done == 1 after 3,500 cycles",
                 "ok: intc.status.hbm_train_done == 1", "ok: noc.status.idle == 1",
                 "dma.ch[0].ctrl <- 0x00000103  (reduce=NONE irq_en=1 mode=SINGLE start=1 en=1)"):
        assert line in r[:same]
    # the one documented difference: no DMA engine in the RTL, so nothing sets done
    assert s[same] == "dma.ch[0].status.done == 1 after 7 cycles"  # a 2x2 mesh
    assert r[same].startswith(f"{DMA_POLL}: timeout after 1,000,000 cycles: expected "
                              "dma.ch[0].status.done == 1, got 0")
    assert rtl.returncode == 1


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
