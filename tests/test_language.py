"""The command language means one thing everywhere: ``run SCRIPT`` runs a script (command
line, shell, scripts), ``step N`` / ``step --until`` advance simulated time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from socdbg.cli import main
from socdbg.commands.dispatch import execute
from socdbg.commands.registry import commands
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError


@pytest.fixture
def session() -> Session:
    return Session(target="sim", out=io.StringIO(), width=100, color=False)


def out_of(session: Session) -> str:
    stream = session._out
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def test_run_is_the_script_runner_everywhere(session: Session, tmp_path: Path) -> None:
    assert "run" in commands() and "SCRIPT" in commands()["run"].collect_usage_pieces(
        commands()["run"].make_context("run", ["x"]))
    script = tmp_path / "pll.sdbg"
    script.write_text("write sysctrl.pll_ctrl en=1\n"
                      "step --until sysctrl.pll_status.lock == 1\n")
    output = execute(session, f"run {script}")
    assert output is not None and output.ok
    assert "pll_status.lock == 1 after 2,000 cycles" in out_of(session)


def test_run_in_the_shell_with_dry_run_keeps_the_real_target(session: Session,
                                                             tmp_path: Path) -> None:
    script = tmp_path / "w.sdbg"
    script.write_text("write sysctrl.scratch 0x1234\n")
    real = session.target
    execute(session, f"run --dry-run {script}")
    assert session.target is real and "dry_run" not in session.state
    read = execute(session, "read sysctrl.scratch --json")
    assert read is not None and read.data["value"] == 0


def test_step_until_advances_to_the_condition(session: Session) -> None:
    execute(session, "write sysctrl.pll_ctrl en=1")
    out = execute(session, "step --until 'sysctrl.pll_status.lock == 1' --max-cycles 5000")
    assert out is not None and out.ok and out.data["cycle"] == 2000
    out = execute(session, "step --until sysctrl.cycle == 9999999 --max-cycles 10")
    assert out is not None and not out.ok and "timeout after 10 cycles" in (out.text or "")


@pytest.mark.parametrize(("line", "message"), [
    ("step -5", "a cycle count must be positive"),
    ("step 0", "a cycle count must be positive"),
    ("step 3 4", "one cycle count"),
    ("step --bogus", "no such option: --bogus"),
])
def test_step_messages(session: Session, line: str, message: str) -> None:
    with pytest.raises(SocdbgError, match=message):
        execute(session, line)


def test_socdbg_run_until_is_gone(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--until", "sysctrl.cycle == 5"])
    assert exc.value.code != 0
    assert "--until" in capsys.readouterr().err
