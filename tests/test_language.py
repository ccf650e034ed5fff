"""The command language means one thing everywhere: ``run SCRIPT`` runs a script (command
line, shell, scripts), ``step N`` / ``step --until`` advance simulated time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socdbg.cli import main
from socdbg.commands.dispatch import execute, split_line
from socdbg.commands.record import Recorder
from socdbg.commands.registry import commands
from socdbg.commands.scriptfile import read_script
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError


@pytest.fixture
def session() -> Session:
    return Session(target="sim", out=io.StringIO(), width=100, color=False)


def out_of(session: Session) -> str:
    stream = session.presenter.out
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
    assert session.target is real and not session.dry_run
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


# --- one tokenizer -----------------------------------------------------------------------
WORD = st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)),
               max_size=12)
TRICKY = st.text(alphabet="ab8'h2a\"\\$#{} \t\r\f\v\x85\u2028\xa0é中=_-.[]*", max_size=12)


@given(st.lists(st.one_of(WORD, TRICKY, st.sampled_from(
    ["8'h2a", "data=16'd5", "'h2a", "#", "${X}", "$", "\\", "'", '"', "", " ", "a b"])),
    max_size=6))
@settings(max_examples=400, deadline=None)
def test_a_recorded_line_parses_back_to_the_same_command(tmp_path_factory: pytest.TempPathFactory,
                                                         words: list[str]) -> None:
    """Whatever a recording writes, reading the script gives the same words back."""
    folder = tmp_path_factory.mktemp("rec")
    path = folder / "rec.sdbg"
    session = Session(target="sim", out=io.StringIO())
    recorder = Recorder(path, session)
    recorder.record(["echo", *words], None)
    recorder.record(["write", "sysctrl.scratch", *words], None)
    recorder.close()
    lines = read_script(path)
    assert [split_line(ln.text) for ln in lines] == [["echo", *words],
                                                     ["write", "sysctrl.scratch", *words]]


@pytest.mark.parametrize(("line", "words"), [
    ("write sysctrl.scratch \"8'h2a\"", ["write", "sysctrl.scratch", "8'h2a"]),
    ("write sysctrl.scratch 8'h2a", ["write", "sysctrl.scratch", "8'h2a"]),
    ("write x data=16'd5 en=1", ["write", "x", "data=16'd5", "en=1"]),
    ("expect mem sram == 'de ad be ef'", ["expect", "mem", "sram", "==", "de ad be ef"]),
    ("echo a#b # comment", ["echo", "a#b"]),
    ("echo '# not a comment' \\# neither", ["echo", "# not a comment", "#", "neither"]),
    ('echo "a \\" \\$ \\\\ \\n"', ["echo", 'a " $ \\ \\n']),
    ("echo a\u2028b\xa0c", ["echo", "a\u2028b\xa0c"]),
    ("echo 'it''s'", ["echo", "its"]),
])
def test_posix_quoting(line: str, words: list[str]) -> None:
    assert split_line(line) == words


def test_variables_expand_inside_their_word_and_not_in_single_quotes() -> None:
    table = {"V": "a b", "Q": "'x"}
    look = table.__getitem__
    assert split_line("echo ${V} '${V}' \"${V}\" pre${Q}", look) == [
        "echo", "a b", "${V}", "a b", "pre'x"]
    with pytest.raises(SocdbgError, match="undefined variable 'W'"):
        split_line("echo ${W}")


def test_the_shell_writes_a_quoted_verilog_literal(session: Session, tmp_path: Path) -> None:
    rec = tmp_path / "s.sdbg"
    execute(session, f"record start {rec}")
    execute(session, "write sysctrl.scratch \"8'h2a\"")
    execute(session, "write sysctrl.scratch 16'h1234")
    execute(session, "read sysctrl.scratch")
    execute(session, "record stop")
    assert "8'h2a" in rec.read_text()
    replay = Session(target="sim", out=io.StringIO())
    out = execute(replay, f"run {rec}")
    assert out is not None and out.ok, out_of(replay)
    assert "1 check passed, 0 failed (3 lines run)" in out_of(replay)


# --- scripts: lines, source ----------------------------------------------------------------
def test_lines_end_at_newline_only(tmp_path: Path) -> None:
    path = tmp_path / "s.sdbg"
    path.write_bytes("echo a\u2028b\x0cc\x85d\r\necho 'x\ry'\necho e\\\r\n f\n".encode())
    texts = [ln.text for ln in read_script(path)]
    assert texts == ["echo a\u2028b\x0cc\x85d", "echo 'x\ry'", "echo e  f"]
    assert [ln.line for ln in read_script(path)] == [1, 2, 3]


def test_source_is_parsed_like_any_line(session: Session, tmp_path: Path) -> None:
    (tmp_path / "inner file.sdbg").write_text("expect sysctrl.scratch == 0\n"
                                              "expect sysctrl.scratch == 1\n"
                                              "echo after the failure\n")
    main_script = tmp_path / "main.sdbg"
    main_script.write_text("source 'inner file.sdbg' --keep-going  # a comment\n"
                           "echo done\n")
    out = execute(session, f"run {main_script} --keep-going")
    text = out_of(session)
    assert out is not None and not out.ok
    assert "after the failure" in text and "done" in text
    assert "main.sdbg: 1 check passed, 1 failed (4 lines run)" in text


@pytest.mark.parametrize("line", ['"source" self.sdbg', "${CMD} self.sdbg", "source ${ME}",
                                  "run self.sdbg"])
def test_include_cycles_are_found_on_the_resolved_command(tmp_path: Path, line: str,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    script = tmp_path / "self.sdbg"
    script.write_text(f"set CMD source\nset ME self.sdbg\n{line}\n")
    with pytest.raises(SystemExit) as exc:
        main(["run", str(script)])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "include cycle: self.sdbg -> self.sdbg" in err and "Traceback" not in err


def test_nesting_has_a_depth_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(40):
        (tmp_path / f"s{i}.sdbg").write_text(f"source s{i + 1}.sdbg\n")
    (tmp_path / "s40.sdbg").write_text("echo bottom\n")
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path / "s0.sdbg")])
    err = capsys.readouterr().err
    assert "nested more than 16 deep" in err and "RecursionError" not in err


# --- dry run ---------------------------------------------------------------------------------
def test_dry_run_prints_each_write_once_and_counts_no_unchecked_pass(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "w.sdbg"
    script.write_text("write sysctrl.scratch 0x1234\n"
                      "expect sysctrl.scratch == 0x1234\n"   # false: the write did not happen
                      "expect sysctrl.chip_id == 0x5d0c0a01\n"  # true: really read
                      "poll sysctrl.pll_status.lock == 1\n")  # would wait
    res = subprocess.run([sys.executable, "-m", "socdbg", "run", "--dry-run", str(script)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    writes = [ln for ln in lines if "0x40000008" in ln or "sysctrl.scratch <-" in ln]
    assert writes == ["dry-run: would write 0x40000008 (sysctrl.scratch) <- 0x00001234"]
    assert lines[-1] == ("w.sdbg: 1 check passed, 0 failed (4 lines run; 2 not checked in "
                         "the dry run)")
