"""How BUTR behaves around the checks: write_effects registers are left alone unless named
exactly; every register it wrote is restored; hardware (a target that is not a simulator) is
never written without --allow-writes; a dump works read-only; the JUnit XML, the JSON and the
exit status of ``socdbg butr`` say what happened."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gdb_support as gs
import pytest

from socdbg.access import read_register
from socdbg.butr import FAIL, PASS, SKIP, Butr
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.regmap import RegMap
from socdbg.targets.base import CAP_SIMULATOR
from socdbg.targets.sim import SimTarget

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures" / "butr"
RIGHT = FIXTURES / "right.rdl"
NO_WRITES = "writes to hardware need --allow-writes"


def sim_session(model: str = "right") -> Session:
    return Session(target=f"sim:{FIXTURES / (model + '.rdl')}", map_files=[str(RIGHT)],
                   out=io.StringIO(), width=200)


def butr(session: Session, line: str = "butr") -> dict[str, Any]:
    out = execute(session, line)
    assert out is not None
    data: dict[str, Any] = out.data
    return data


def checks(data: dict[str, Any], status: str | None = None) -> list[tuple[str, str, str]]:
    return [(c["register"], c["check"], c["detail"]) for c in data["checks"]
            if status is None or c["status"] == status]


class Hardware:
    """A target that is not a simulator (no ``simulator`` capability, no backdoor), in front
    of a SimTarget; records every write."""

    def __init__(self, sim: SimTarget) -> None:
        self.sim = sim
        self.spec = "hw:" + sim.spec
        self.capabilities = sim.capabilities - {CAP_SIMULATOR}
        self.regmap = sim.regmap
        self.writes: list[tuple[int, bytes]] = []

    def read(self, address: int, size: int) -> bytes:
        return self.sim.read(address, size)

    def read_block(self, address: int, size: int) -> bytes:
        return self.sim.read_block(address, size)

    def write(self, address: int, data: bytes) -> None:
        self.writes.append((address, bytes(data)))
        self.sim.write(address, data)

    def write_block(self, address: int, data: bytes) -> None:
        self.writes.append((address, bytes(data)))
        self.sim.write_block(address, data)

    def close(self) -> None:
        pass


def hardware_session(model: str = "right") -> tuple[Session, Hardware]:
    session = sim_session(model)
    sim = session.target
    assert isinstance(sim, SimTarget)
    hw = Hardware(sim)
    session.use_target(hw)
    return session, hw


def plain_reads(target: Any, rmap: RegMap) -> dict[str, int]:
    """Every register software can write and read without side effects, as software sees
    it."""
    return {r.path: read_register(target, r) for r in rmap
            if r.layout.writable and r.layout.readable and not r.layout.read_side_effect}


def scramble(sim: SimTarget, seed: int = 7) -> None:
    """Put every register (but write_effects ones) into a random non-reset state, as the
    hardware could: w1c bits set, counters counted, fields written."""
    rnd = random.Random(seed)
    for reg in sim.regmap:
        if not reg.layout.write_effects:
            sim.regs.hw_write(reg, rnd.getrandbits(reg.width) & reg.layout.field_mask)


# --- write_effects ---------------------------------------------------------------------------
def test_write_effects_registers_are_skipped_unless_named_exactly() -> None:
    session = sim_session()
    sim = session.target
    assert isinstance(sim, SimTarget)
    rings: list[int] = []
    sim.regs.on_write("doorbell", lambda reg, old, new: rings.append(new))
    for line in ("butr", "butr door*", "butr doorbell*", "butr *"):
        data = butr(session, line)
        assert ("doorbell", "all", "write_effects: writes act beyond the register; "
                "name it to test it") in checks(data, SKIP), line
    assert rings == []  # not one write reached the doorbell
    data = butr(session, "butr doorbell")
    assert checks(data) == [("doorbell", "reset", ""), ("doorbell", "reserved", ""),
                            ("doorbell", "walk ring", "16 patterns")]
    assert data["pass"] == 3 and data["fail"] == 0
    assert len(rings) > 16  # named: it was written
    # named together with a glob: the named one is tested, the glob still skips nothing else
    data = butr(session, "butr doorbell s*")
    assert {c[0] for c in checks(data, PASS)} == {"doorbell", "status", "scratch"}
    session.close()


def test_write_effects_on_the_reference_soc() -> None:
    session = Session(out=io.StringIO())
    data = butr(session, "butr dma.ch[*].ctrl")
    assert [c[1] for c in checks(data)] == ["all"] * 4
    data = butr(session, "butr dma.ch[2].ctrl")
    assert data["fail"] == 0 and data["skip"] == 0
    assert {c[1] for c in checks(data)} >= {"walk en", "walk mode", "singlepulse start"}
    session.close()


# --- restoring -------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["sim", f"sim:{RIGHT}"])
def test_every_register_reads_back_its_original_value(spec: str) -> None:
    session = Session(target=spec, out=io.StringIO())
    sim = session.target
    assert isinstance(sim, SimTarget)
    scramble(sim)
    rmap = session.map
    before = plain_reads(sim, rmap)
    stored = {r.path: sim.regs.peek(r) for r in rmap if not r.layout.write_effects}
    assert len(before) > 5
    data = butr(session, "butr --skip-reset")
    assert data["fail"] == 0, checks(data, FAIL)
    assert plain_reads(sim, rmap) == before
    if spec != "sim":  # the fixture has no models: the whole stored state is as it was
        # (the reference SoC's models refresh counters on reads, whoever reads them)
        after = {p: sim.regs.peek(rmap.get(p)) for p in stored}
        pulse = rmap.get("cmd").field("go")
        assert pulse is not None
        stored["cmd"] &= ~pulse.mask  # a singlepulse bit never stays set
        assert after == stored


def test_a_fresh_simulator_is_still_at_reset_after_butr() -> None:
    session = sim_session()
    sim = session.target
    assert isinstance(sim, SimTarget)
    butr(session)
    assert {r.path: sim.regs.peek(r) for r in session.map} == {
        r.path: r.layout.reset for r in session.map}
    assert butr(session)["fail"] == 0  # a second run still sees reset values
    session.close()


# --- hardware: writes only with --allow-writes -----------------------------------------------
def test_no_write_reaches_hardware_without_allow_writes() -> None:
    session, hw = hardware_session()
    data = butr(session)
    assert hw.writes == []
    assert data["fail"] == 0
    skipped = checks(data, SKIP)
    for reg, check in [("ctrl", "walk"), ("status", "read-only"), ("irq", "w1c"),
                       ("irq_en", "w1s"), ("cmd", "walk"), ("cmd", "singlepulse"),
                       ("scratch", "walk")]:
        assert (reg, check, NO_WRITES) in skipped
    # reading events would clear it on hardware: not even read unless named
    assert ("events", "all", "reading it changes hardware state; name it to test it") in skipped
    assert {c[:2] for c in checks(data, PASS)} == {
        (r, c) for r in ("ctrl", "status", "irq", "irq_en", "cmd") for c in ("reset", "reserved")
    } | {("scratch", "reset")}
    # the Butr class, used directly, is just as careful
    report = Butr(hw).run(list(session.map), set())
    assert hw.writes == []
    assert report.count(FAIL) == 0
    session.close()


def test_allow_writes_runs_the_write_checks_on_hardware() -> None:
    session, hw = hardware_session()
    before = plain_reads(hw, session.map)
    data = butr(session, "butr --allow-writes")
    assert hw.writes
    assert data["fail"] == 0
    assert NO_WRITES not in {c[2] for c in checks(data)}
    passed = {c[:2] for c in checks(data, PASS)}
    assert {("ctrl", "walk div"), ("status", "read-only"), ("cmd", "singlepulse go"),
            ("scratch", "walk data")} <= passed
    # without the simulator's backdoor: a clear w1c bit cannot be set, a w1s bit not cleared
    skipped = checks(data, SKIP)
    assert ("irq", "w1c done", "the bit is clear and only the hardware can set it") in skipped
    assert ("irq_en", "w1s mask", "software cannot clear it again on hardware") in skipped
    assert plain_reads(hw, session.map) == before
    session.close()


def test_hardware_catches_what_it_can_write_only_with_allow_writes() -> None:
    session, hw = hardware_session("wrong_stuck")
    assert butr(session)["fail"] == 0  # nothing written, so the stuck bit is not seen
    assert hw.writes == []
    report = Butr(hw, allow_writes=True).run(list(session.map), set())
    assert [(c.register, c.check, c.fields) for c in report.checks if c.status == FAIL] == [
        ("ctrl", "walk div", [("div", "0x1", "0x5")])]
    session.close()


def test_a_w1c_bit_already_set_on_hardware_is_tested() -> None:
    session, hw = hardware_session("wrong_w1c")
    hw.sim.regs.hw_set("irq", done=1)
    data = butr(session, "butr --allow-writes irq")
    session.close()
    assert [(c["check"], c["status"]) for c in data["checks"] if c["check"].startswith("w1c")
            ] == [("w1c done", FAIL), ("w1c err", SKIP)]


# --- live silicon: both switches -------------------------------------------------------------
def live_session(device: Path, rdl: Path | None, allow_writes: bool = False,
                 force_unsafe: bool = False, at: int = 0) -> Session:
    """An ``mmio`` target on a plain file (live silicon as far as socdbg knows)."""
    return Session(target=f"mmio:{device}@0+0x1000@{at:#x}",
                   map_files=[str(rdl)] if rdl else None, allow_writes=allow_writes,
                   force_unsafe=force_unsafe, out=io.StringIO())


def test_live_silicon_needs_the_global_and_the_butr_switch(tmp_path: Path) -> None:
    device = tmp_path / "device.bin"
    device.write_bytes(bytes(0x1000))
    read_only = live_session(device, RIGHT)
    data = butr(read_only, "butr --allow-writes --skip-reset")
    read_only.close()
    assert ("scratch", "walk", "the target is read-only") in checks(data, SKIP)
    writable = live_session(device, RIGHT, allow_writes=True)
    data = butr(writable, "butr --skip-reset")
    assert ("scratch", "walk", NO_WRITES) in checks(data, SKIP)
    assert device.read_bytes() == bytes(0x1000)
    data = butr(writable, "butr --allow-writes --skip-reset scratch")
    writable.close()
    assert checks(data) == [("scratch", "walk data", "64 patterns")]
    assert device.read_bytes() == bytes(0x1000)  # restored


def test_force_unsafe_lets_butr_write_unsafe_registers(tmp_path: Path) -> None:
    device = tmp_path / "soc.bin"
    device.write_bytes(bytes(0x1000))
    session = live_session(device, None, allow_writes=True, force_unsafe=True, at=0x4000_0000)
    assert execute(session, "write sysctrl.pll_ctrl en=1") is not None  # the shell may
    data = butr(session, "butr --allow-writes --skip-reset sysctrl.pll_ctrl")
    session.close()
    assert not [c for c in checks(data, SKIP) if "unsafe_write" in c[2]]
    assert ("sysctrl.pll_ctrl", "walk en", "2 patterns") in checks(data, PASS)


# --- a dump: read-only -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def dump_file(tmp_path_factory: pytest.TempPathFactory, _socdbg_session_env: None) -> Path:
    path = tmp_path_factory.mktemp("butr-dump") / "right.json.gz"
    session = sim_session()
    out = execute(session, f"dump -o {path}")
    session.close()
    assert out is not None and out.ok
    return path


def test_butr_on_a_dump_reads_and_never_writes(dump_file: Path) -> None:
    session = Session(target=f"dump:{dump_file}", out=io.StringIO(), width=200)
    data = butr(session)
    assert data["fail"] == 0
    assert data["target"] == f"dump:{dump_file}"
    assert ("ctrl", "walk", "the target is read-only") in checks(data, SKIP)
    assert ("status", "read-only", "the target is read-only") in checks(data, SKIP)
    assert {("ctrl", "reset"), ("ctrl", "reserved"), ("scratch", "reset")} <= {
        c[:2] for c in checks(data, PASS)}
    assert not checks(data, FAIL)
    # --allow-writes cannot make a dump writable
    again = butr(session, "butr --allow-writes")
    assert again["checks"] == data["checks"]
    buf = io.StringIO()
    shown = Session(out=buf, width=200)
    shown.use_target(session.target)
    shown.presenter.emit(execute(shown, "butr"))
    assert re.fullmatch(r"11 checks passed, 0 failed \(8 registers tested, 9 skipped; "
                        r"--all .*\)\n",
                        buf.getvalue())
    session.close()


# --- reports ---------------------------------------------------------------------------------
def test_junit_xml_counts(tmp_path: Path) -> None:
    report = tmp_path / "butr.xml"
    session = sim_session("wrong_w1c")
    data = butr(session, f"butr --junit {report}")
    session.close()
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert len(cases) == len(data["checks"]) == int(suite.get("tests", ""))
    assert len(failed) == data["fail"] == int(suite.get("failures", "")) == 1
    assert len(skipped) == data["skip"] == int(suite.get("skipped", "")) == 1
    assert suite.get("name") == f"butr sim:{FIXTURES / 'wrong_w1c.rdl'}"
    (case,) = failed
    assert (case.get("classname"), case.get("name")) == ("irq", "w1c done")
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "write-one-to-clear misbehaves"
    assert (failure.text or "").splitlines() == ["done: expected 0x1 after writing 0, got 0x0",
                                                 "done: expected 0 after writing 1, got 0x1"]
    (skip,) = skipped
    assert skip.get("classname") == "doorbell"
    skip_el = skip.find("skipped")
    assert skip_el is not None and "write_effects" in skip_el.get("message", "")


def test_junit_of_a_clean_run(tmp_path: Path) -> None:
    report = tmp_path / "butr.xml"
    session = sim_session()
    data = butr(session, f"butr --junit {report}")
    session.close()
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "")) == data["pass"] + data["skip"]
    assert not suite.findall(".//failure")


def socdbg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)


def test_json_shape(child_env: dict[str, str]) -> None:
    res = socdbg(child_env, "--map", str(RIGHT), "-t", f"sim:{FIXTURES / 'wrong_rclr.rdl'}",
                 "butr", "--json")
    assert res.returncode == 1, res.stderr
    data = json.loads(res.stdout)
    assert set(data) == {"target", "registers", "pass", "fail", "skip", "checks"}
    assert data["target"] == f"sim:{FIXTURES / 'wrong_rclr.rdl'}"
    assert (data["registers"], data["pass"], data["fail"], data["skip"]) == (8, 24, 1, 1)
    assert len(data["checks"]) == 26
    for c in data["checks"]:
        assert set(c) == {"register", "check", "status", "detail", "fields"}
        assert c["status"] in (PASS, FAIL, SKIP)
        for f in c["fields"]:
            assert set(f) == {"field", "expected", "observed"}
    (failure,) = [c for c in data["checks"] if c["status"] == FAIL]
    assert failure == {"register": "events", "check": "rclr count", "status": "fail",
                       "detail": "read-to-clear misbehaves",
                       "fields": [{"field": "count", "expected": "0 on the second read",
                                   "observed": "0xff"}]}


def test_exit_status(child_env: dict[str, str]) -> None:
    wrong = socdbg(child_env, "--map", str(RIGHT), "-t", f"sim:{FIXTURES / 'wrong_stuck.rdl'}",
                   "butr")
    assert wrong.returncode == 1, wrong.stderr
    assert "walk div  fail" in re.sub(r" {2,}", "  ", wrong.stdout)
    assert "1 failed" in wrong.stdout
    right = socdbg(child_env, "--map", str(RIGHT), "-t", f"sim:{RIGHT}", "butr")
    assert right.returncode == 0, right.stdout + right.stderr
    assert "0 failed" in right.stdout
    # the model alone, checked against its own map: its defect is invisible
    alone = socdbg(child_env, "-t", f"sim:{FIXTURES / 'wrong_stuck.rdl'}", "butr")
    assert alone.returncode == 0, alone.stdout


# --- through socdbg serve: hardware as far as BUTR knows -------------------------------------
@pytest.fixture
def served_wrong_model(child_env: dict[str, str]) -> Iterator[str]:
    """``socdbg -t sim:wrong_stuck.rdl serve --allow-writes`` on a free loopback port."""
    with gs.serve(["--allow-writes"], ["-t", f"sim:{FIXTURES / 'wrong_stuck.rdl'}"],
                  env=child_env) as served:
        yield served.url

def test_butr_through_serve_needs_allow_writes(served_wrong_model: str) -> None:
    session = Session(target=served_wrong_model, map_files=[str(RIGHT)], out=io.StringIO())
    data = butr(session)
    assert data["fail"] == 0
    assert ("ctrl", "walk", NO_WRITES) in checks(data, SKIP)
    data = butr(session, "butr --allow-writes")
    session.close()
    assert [(c["register"], c["check"], c["fields"]) for c in data["checks"]
            if c["status"] == FAIL] == [
        ("ctrl", "walk div", [{"field": "div", "expected": "0x1", "observed": "0x5"}])]


# --- known bugs ------------------------------------------------------------------------------
def test_a_skipped_write_only_register_is_never_written() -> None:
    shared = TESTS / "fixtures" / "rdl" / "shared_addr.rdl"
    session = Session(target=f"sim:{shared}", out=io.StringIO())
    sim = session.target
    assert isinstance(sim, SimTarget)
    sent: list[int] = []
    sim.regs.on_write("tx_data", lambda reg, old, new: sent.append(new))
    data = butr(session)
    session.close()
    assert ("tx_data", "all", "write-only: nothing can be read back") in checks(data, SKIP)
    assert sent == []
