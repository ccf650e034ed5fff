"""Target wrappers leak nothing: the dry run changes no state and the read-only view refuses
every change, on the simulator, on a real QEMU behind its gdbstub, and on a simulator behind
``socdbg serve`` (simulated time and monitor lines over gdb://).

For each operation that changes state (memory and register writes, load, load --set-pc,
CPU register writes, stepi, resume, halt, reset, monitor commands, breakpoints, backdoor
writes, simulated time) the command runs through ``execute`` on a Session whose target is
the wrapper; the state is then read back through the plain target underneath and compared
with what it was before. The wrappers' allow-list itself is checked too: nothing of the inner
target that is not listed is reachable.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import firmware_build as fb
import gdb_support as gs
import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.scriptrun import run_script
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError
from socdbg.regmap import RegMap
from socdbg.safety import is_live, live_policy
from socdbg.targets.base import (
    CAP_DRY_RUN,
    CAP_LIVE,
    CAP_LIVE_POLICY,
    CAP_WRITE,
    CoreRegisters,
    HasMap,
    Resettable,
    RunControl,
    SimTime,
    Target,
)
from socdbg.targets.dryrun import DryRunTarget
from socdbg.targets.gdb import GdbTarget
from socdbg.targets.readonly import ReadOnlyTarget
from socdbg.targets.recorder import RecordingTarget
from socdbg.targets.sim import SimTarget
from socdbg.targets.wrapper import OPERATIONS

SRAM = 0x1000_0000
SCRATCH = 0x4000_0008  # sysctrl.scratch


def dry(inner: Target) -> DryRunTarget:
    return DryRunTarget(inner, lambda address, data: None, lambda text: None)


def read_only(inner: Target) -> ReadOnlyTarget:
    return ReadOnlyTarget(inner, "read-only for the test")


def wrapped_session(wrapper: Target, map_files: list[str] | None = None) -> Session:
    session = Session(out=io.StringIO(), width=120, map_files=map_files)
    session.use_target(wrapper)
    return session


# --------------------------------------------------------------------------------------------
# the allow-list
# --------------------------------------------------------------------------------------------
def test_a_wrapper_has_exactly_the_listed_operations_its_inner_target_has(
        ref_map: RegMap) -> None:
    sim = SimTarget(ref_map)
    for view in (dry(sim), read_only(sim), RecordingTarget(sim)):
        assert isinstance(view, SimTime) and isinstance(view, HasMap)
        assert isinstance(view, Resettable)
        assert not isinstance(view, RunControl) and not isinstance(view, CoreRegisters)
        for name in ("regs", "kernel", "models", "memories", "options", "run_until",
                     "memory_at", "enable_writes", "__getattr__"):
            assert not hasattr(view, name), f"{type(view).__name__} leaks {name}"
        assert view.regmap is sim.regmap  # type: ignore[attr-defined]
    assert not hasattr(dry(sim), "max_read")  # the simulator has none


def test_every_listed_operation_is_classified() -> None:
    changes = {op.name for op in OPERATIONS if op.changes}
    assert changes == {"step", "run_until_text", "write_core_register", "halt", "resume",
                       "step_instruction", "breakpoint", "monitor", "reset",
                       "backdoor_write"}


def test_dry_run_of_a_live_target_is_not_live_but_keeps_the_policy(ref_map: RegMap) -> None:
    live = read_only(SimTarget(ref_map))  # any target: give it the live capabilities
    live.capabilities = frozenset({CAP_LIVE, CAP_WRITE})
    view = dry(live)
    assert CAP_LIVE not in view.capabilities and not is_live(view)
    assert {CAP_DRY_RUN, CAP_LIVE_POLICY, CAP_WRITE} <= view.capabilities
    assert live_policy(view) and live_policy(live) and is_live(live)
    plain = dry(SimTarget(ref_map))
    assert CAP_LIVE_POLICY not in plain.capabilities and not live_policy(plain)
    assert live_policy(dry(view))  # a dry run of a dry run of a live target still is


# --------------------------------------------------------------------------------------------
# the simulator
# --------------------------------------------------------------------------------------------
def sim_state(sim: SimTarget) -> dict[str, Any]:
    return {"now": sim.now, "regs": {r.path: sim.regs.peek(r) for r in sim.regmap},
            "sram": sim.read_block(SRAM, 0x200)}


def prepared_sim(ref_map: RegMap) -> SimTarget:
    """A simulator whose reset would show: scratch and a DMA channel programmed."""
    sim = SimTarget(ref_map)
    sim.write(SCRATCH, (0x5CA1AB1E).to_bytes(4, "little"))
    sim.write(0x4001_0108, (0x1000_0000).to_bytes(8, "little"))  # dma.ch[0].src
    return sim


SIM_LINES = [
    "write sysctrl.scratch 5",
    "write dma.ch[0].ctrl en=1 mode=SINGLE start=1",
    "poke sram 0x1234",
    "poke -w 64 sram+8 0x1122334455667788",
    "LOAD",
    "reset",
    "step 100",
    "step --until sysctrl.cycle >= 500 --max-cycles 1000",
    "sleep 0.000001",
]


def _line(line: str, fw: fb.Images) -> str:
    return f"load {fw.soc.path}" if line == "LOAD" else line


@pytest.mark.parametrize("line", SIM_LINES)
def test_dry_run_changes_nothing_on_the_simulator(ref_map: RegMap, fw: fb.Images,
                                                  line: str) -> None:
    sim = prepared_sim(ref_map)
    before = sim_state(sim)
    view = dry(sim)
    session = wrapped_session(view)
    try:
        # a dry run may fail (step --until: no time passes); it must not change anything
        with contextlib.suppress(SocdbgError):
            execute(session, _line(line, fw))
    finally:
        session.close()
    assert view.changes, f"{line}: the dry run reported nothing"
    assert sim_state(sim) == before, f"{line}: the dry run changed the simulator"


@pytest.mark.parametrize("line", SIM_LINES)
def test_read_only_view_refuses_every_change_on_the_simulator(ref_map: RegMap,
                                                              fw: fb.Images,
                                                              line: str) -> None:
    sim = prepared_sim(ref_map)
    before = sim_state(sim)
    session = wrapped_session(read_only(sim))
    try:
        with pytest.raises(SocdbgError, match="read-only"):
            execute(session, _line(line, fw))
    finally:
        session.close()
    assert sim_state(sim) == before


def test_backdoor_writes_are_reported_or_refused(ref_map: RegMap) -> None:
    sim = prepared_sim(ref_map)
    before = sim_state(sim)
    view = dry(sim)
    view.backdoor_write(0x4003_0010, 5, 0xFFFF)  # type: ignore[attr-defined]
    assert view.changes == [("backdoor_write", 0x4003_0010, 5, 0xFFFF)]
    with pytest.raises(SocdbgError, match="backdoor write at 0x40030010 refused"):
        read_only(sim).backdoor_write(0x4003_0010, 5, 0xFFFF)  # type: ignore[attr-defined]
    assert sim_state(sim) == before


def test_butr_through_a_read_only_view_uses_no_backdoor(ref_map: RegMap) -> None:
    sim = prepared_sim(ref_map)
    before = sim_state(sim)
    session = wrapped_session(read_only(sim))
    try:
        out = execute(session, "butr --json hbm.ecc_err_cnt")
    finally:
        session.close()
    assert out is not None
    statuses = {c["check"]: c["status"] for c in out.data["checks"]}
    assert "fail" not in statuses.values(), out.data  # nothing was refused: nothing tried
    assert statuses["read-only"] == "skip"
    assert sim_state(sim) == before


def test_socdbg_run_dry_run_script_leaves_the_simulator_as_it_was(
        ref_map: RegMap, fw: fb.Images, tmp_path: Path) -> None:
    script = tmp_path / "all.sdbg"
    script.write_text("\n".join(_line(line, fw) for line in SIM_LINES) + "\n")
    out = io.StringIO()
    session = Session(out=out, width=200)
    sim = prepared_sim(ref_map)
    session.use_target(sim)
    before = sim_state(sim)
    try:
        status = run_script(session, str(script), (), keep_going=True, dry_run=True,
                            check=False, junit=None, quiet=False)
    finally:
        session.close()
    text = out.getvalue()
    assert status == 0, text
    # the command-level policy (from the registry's metadata) reports and skips them; the
    # dry-run view underneath would refuse them anyway (the tests above)
    assert "dry-run: skipped reset: it changes the target's state" in text
    # step 100 and step --until
    assert text.count("dry-run: skipped step: it advances simulated time") == 2
    assert sim_state(sim) == before


def test_a_dry_run_script_cannot_step_outside_by_opening_another_target(
        ref_map: RegMap, tmp_path: Path) -> None:
    """``target SPEC`` and ``--target`` in a dry-run script open targets behind the dry run
    too: the writes after them are reported, not performed."""
    script = tmp_path / "escape.sdbg"
    script.write_text("target sim\nwrite sysctrl.scratch 0x55\nreset\n"
                      "dump --target sim -o " + str(tmp_path / "d.json") + "\n")
    out = io.StringIO()
    session = Session(out=out, width=200)
    try:
        real = session.target
        status = run_script(session, str(script), (), keep_going=False, dry_run=True,
                            check=False, junit=None, quiet=False)
        text = out.getvalue()
        assert status == 0, text
        # switching the target is a change of state: the command-level policy skips it, so
        # the script goes on behind the dry-run view of the target it started with
        assert "dry-run: skipped target: it changes the target's state" in text
        assert "dry-run: would write 0x40000008 (sysctrl.scratch) <- 0x00000055" in text
        assert "dry-run: skipped reset: it changes the target's state" in text
        assert session.target is real  # the shell goes on with the real target
        assert not isinstance(real, DryRunTarget)
        assert real.read(SCRATCH, 4) == bytes(4)  # reset value: nothing written
    finally:
        session.close()


# --------------------------------------------------------------------------------------------
# QEMU behind its gdbstub
# --------------------------------------------------------------------------------------------
UART_SCR = 0x1000_0007


@pytest.fixture(scope="module")
def virt(tmp_path_factory: pytest.TempPathFactory) -> fb.Firmware:
    return gs.virt_firmware(tmp_path_factory)


@pytest.fixture(scope="module")
def machine(virt: fb.Firmware) -> Iterator[GdbTarget]:
    """One halted QEMU for the module: neither wrapper may change it, and each test compares
    its state before and after. Markers a reset, a load or a register write would undo: a0,
    the UART's scratch register and the firmware's ``counter`` (0x1234 in the image)."""
    with gs.qemu(virt.path) as q:
        target = GdbTarget(gs.HOST, q.port)
        try:
            target.write_core_register("a0", 0x5555)
            target.write(UART_SCR, b"\x33")
            target.write(virt.addr("counter"), (0xDEADBEEF).to_bytes(4, "little"))
            yield target
        finally:
            target.close()


def cpu_state(t: GdbTarget, virt: fb.Firmware) -> dict[str, Any]:
    was_running = t.running
    if was_running:
        t.halt()
    return {"running": was_running, "pc": t.read_core_register("pc"),
            "a0": t.read_core_register("a0"), "scr": t.read(UART_SCR, 1),
            "counter": t.read(virt.addr("counter"), 4), "ram": t.read_block(gs.RAM, 0x100)}


QEMU_LINES = [
    "write uart.scr 0x5a",
    f"poke -w 32 {gs.RAM:#x} 0x12345678",
    "LOAD",
    "LOAD --set-pc",
    f"core pc {gs.RAM:#x}",
    "core a0 0x1234",
    "stepi",
    "stepi 3",
    "resume",
    "halt",
    "reset",
    "monitor system_reset",
]


def _qline(line: str, virt: fb.Firmware) -> str:
    return line.replace("LOAD", f"load {virt.path}") if line.startswith("LOAD") else line


def _leave(session: Session) -> None:
    session.close(keep_target=True)  # the machine outlives the session that borrowed it


@pytest.mark.slow
@pytest.mark.parametrize("line", QEMU_LINES)
def test_dry_run_changes_nothing_on_qemu(machine: GdbTarget, virt: fb.Firmware,
                                         line: str) -> None:
    before = cpu_state(machine, virt)
    assert before["pc"] == gs.RESET_PC and before["a0"] == 0x5555 and not before["running"]
    view = dry(machine)
    session = wrapped_session(view, [str(gs.VIRT_RDL)])
    try:
        execute(session, _qline(line, virt))
    finally:
        _leave(session)
    assert view.changes, f"{line}: the dry run reported nothing"
    assert cpu_state(machine, virt) == before, f"{line}: the dry run changed the machine"


@pytest.mark.slow
@pytest.mark.parametrize("line", QEMU_LINES)
def test_read_only_view_refuses_every_change_on_qemu(machine: GdbTarget, virt: fb.Firmware,
                                                     line: str) -> None:
    before = cpu_state(machine, virt)
    session = wrapped_session(read_only(machine), [str(gs.VIRT_RDL)])
    try:
        with pytest.raises(SocdbgError, match="read-only"):
            execute(session, _qline(line, virt))
    finally:
        _leave(session)
    assert cpu_state(machine, virt) == before


@pytest.mark.slow
def test_breakpoints_are_not_planted_through_either_wrapper(virt: fb.Firmware) -> None:
    with gs.qemu(virt.path) as q:
        target = GdbTarget(gs.HOST, q.port)
        try:
            packet = f"Z0,{virt.addr('main'):x},4".encode()
            assert dry(target).breakpoint(packet) == b""  # type: ignore[attr-defined]
            with pytest.raises(SocdbgError, match="breakpoint refused"):
                read_only(target).breakpoint(packet)  # type: ignore[attr-defined]
            # had either planted it, the CPU would stop at main; it runs on to done
            target.resume()
            assert not gs.wait_for(lambda: target.poll_stop() is not None, timeout=0.5)
            target.halt()
            assert 0 <= target.read_core_register("pc") - virt.addr("done") < 8
        finally:
            target.close()


# --------------------------------------------------------------------------------------------
# a simulator behind socdbg serve: simulated time and monitor lines over gdb://
# --------------------------------------------------------------------------------------------
SERVED_LINES = [
    "step 100",
    "sleep 0.000001",
    "step --until sysctrl.cycle >= 500 --max-cycles 1000",
    "monitor reset",
    "write sysctrl.scratch 5",
    "monitor write sysctrl.scratch 7",
    "monitor step 10",
]


@pytest.fixture(scope="module")
def served() -> Iterator[GdbTarget]:
    with gs.serve(["--allow-writes"]) as server:
        target = GdbTarget(gs.HOST, server.port)
        try:
            target.write(SCRATCH, (0x5CA1AB1E).to_bytes(4, "little"))  # a reset would show
            target.step(1000)
            yield target
        finally:
            target.close()


def served_state(t: GdbTarget) -> dict[str, Any]:
    return {"now": t.now, "scratch": t.read(SCRATCH, 4), "sram": t.read_block(SRAM, 0x40)}


@pytest.mark.slow
@pytest.mark.parametrize("line", SERVED_LINES)
def test_dry_run_changes_nothing_on_a_served_simulator(served: GdbTarget, line: str) -> None:
    before = served_state(served)
    assert before["now"] >= 1000
    view = dry(served)
    session = wrapped_session(view)
    try:
        with contextlib.suppress(SocdbgError):
            execute(session, line)
    finally:
        _leave(session)
    assert view.changes, f"{line}: the dry run reported nothing"
    assert served_state(served) == before, f"{line}: the dry run changed the server"


@pytest.mark.slow
@pytest.mark.parametrize("line", SERVED_LINES)
def test_read_only_view_refuses_every_change_on_a_served_simulator(served: GdbTarget,
                                                                   line: str) -> None:
    before = served_state(served)
    session = wrapped_session(read_only(served))
    try:
        with pytest.raises(SocdbgError, match="read-only"):
            execute(session, line)
    finally:
        _leave(session)
    assert served_state(served) == before
