"""Every message of issue 17's list, one test each: what the user typed, what socdbg says."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from socdbg.cli import main
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError


@pytest.fixture
def session() -> Session:
    return Session(target="sim", out=io.StringIO(), width=100, color=False)


def error_of(session: Session, line: str) -> SocdbgError:
    with pytest.raises(SocdbgError) as exc:
        execute(session, line)
    return exc.value


def test_raed_suggests_only_read(session: Session) -> None:
    err = error_of(session, "raed sysctrl.scratch")
    assert err.message == "unknown command 'raed'" and err.hint == "did you mean 'read'?"


def test_a_misspelt_array_suggests_the_array_first(session: Session) -> None:
    err = error_of(session, "read dma.chan[0]")
    assert err.hint == "did you mean 'dma.ch[0]'?"
    err = error_of(session, "read dma.chan[2].status")
    assert err.hint == "did you mean 'dma.ch[2].status'?"


def test_step_count_must_be_positive(session: Session) -> None:
    assert "a cycle count must be positive" in error_of(session, "step -5").message


def test_two_values_are_one_value_or_pairs(session: Session) -> None:
    err = error_of(session, "write sysctrl.scratch 5 6")
    assert "give one value or FIELD=VALUE pairs" in err.message


def test_regs_show_refuses_a_glob(session: Session) -> None:
    err = error_of(session, "regs show 'dma.ch[*].ctrl'")
    assert "a glob is not allowed here" in err.message
    assert err.hint is not None and "regs list 'dma.ch[*].ctrl'" in err.hint


def test_a_file_that_is_not_a_dump_is_called_so(session: Session, tmp_path: Path) -> None:
    text = tmp_path / "hostname"
    text.write_text("lab-host-3\n")
    err = error_of(session, f"target dump:{text}")
    assert err.message == f"{text}: not a socdbg dump"


def test_index_range_names_the_valid_range(session: Session) -> None:
    err = error_of(session, "read dma.ch[2:9].status")
    assert "index range [2:9] is outside dma.ch: its indices are 0..3" in err.message
    assert "reversed index range" in error_of(session, "read dma.ch[3:1].status").message


# --- help and usage --------------------------------------------------------------------------
def test_help_of_a_subcommand(session: Session) -> None:
    out = execute(session, "help noc traffic")
    assert out is not None and (out.text or "").startswith("Usage: noc traffic [OPTIONS]")
    out = execute(session, "help regs show")
    assert out is not None and (out.text or "").startswith("Usage: regs show [OPTIONS] PATH")
    assert "did you mean 'traffic'" in (error_of(session, "help noc trafic").hint or "")


def test_help_of_a_group_lists_its_subcommands_and_their_options(session: Session) -> None:
    out = execute(session, "help noc")
    text = out.text if out is not None else ""
    assert text is not None and "Commands:\n  traffic" in text
    assert "Usage: noc traffic [OPTIONS] PATTERN RATE" in text and "--cycles N" in text


def test_a_group_alone_prints_its_usage_in_the_shell(session: Session) -> None:
    out = execute(session, "record")
    assert out is not None and (out.text or "").startswith("Usage: record [OPTIONS] COMMAND")


@pytest.mark.parametrize("args", [[], ["record"]])
def test_socdbg_alone_prints_usage_without_error(args: list[str]) -> None:
    res = subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                         text=True, timeout=60)
    import click

    ctx_rc = 2 if hasattr(click.exceptions, "NoArgsIsHelpError") else 0  # click's convention
    assert res.returncode == ctx_rc
    both = res.stdout + res.stderr
    assert "Usage: socdbg" in both and "error:" not in both


@pytest.mark.parametrize(("args", "what"), [(["record", "start", "x.sdbg"], "record"),
                                            (["trace", "start", "x.vcd"], "trace")])
def test_one_shot_record_and_trace_say_they_cannot_outlive_the_process(
        args: list[str], what: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 1
    assert f"{what} start: a one-shot command ends with its process" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing created


# --- dump -o and diff ------------------------------------------------------------------------
def test_dump_onto_an_existing_file_needs_force(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    out.write_text("keep me")
    err = error_of(session, f"dump -o {out}")
    assert err.message == f"dump: {out} exists" and err.hint == "add --force to overwrite it"
    assert out.read_text() == "keep me"
    assert execute(session, f"dump -o {out} --force") is not None
    assert out.read_text() != "keep me"


def test_the_shell_asks_before_overwriting_a_dump(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    out.write_text("keep me")
    questions: list[str] = []
    session.ask = lambda message, question: questions.append(message) or "n"  # type: ignore[func-returns-value]
    with pytest.raises(SocdbgError, match="not overwritten"):
        execute(session, f"dump -o {out}")
    assert questions == [f"{out} exists."] and out.read_text() == "keep me"
    session.ask = lambda message, question: "y"
    execute(session, f"dump -o {out}")
    assert out.read_text() != "keep me"


def test_diff_says_what_happened_to_memory(session: Session, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    execute(session, f"dump -o {a} --memory sram+0x10")
    execute(session, f"dump -o {b}")
    execute(session, "poke sram 0x12345678")
    execute(session, f"dump -o {c} --memory sram+0x10")
    out = execute(session, f"diff {a} {b} --json")
    assert out is not None
    assert any("captured only in" in n and str(a) in n for n in out.data["memory"])
    out = execute(session, f"diff {a} {c} --json")
    assert out is not None and out.data["differ"]
    assert any("differs: 4 bytes" in n for n in out.data["memory"])
    out = execute(session, f"diff {a} --json")
    assert out is not None
    assert any("not compared with a live target" in n for n in out.data["memory"])
