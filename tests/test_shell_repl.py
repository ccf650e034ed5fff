"""The interactive shell: piped input, prompt_toolkit driven through a pipe, and a real
pseudo-terminal with pexpect."""

from __future__ import annotations

import io
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prompt_toolkit.application.current import AppSession, create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from socdbg.commands.session import Session
from socdbg.shell.repl import Shell, history_path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeTty(io.StringIO):
    """Standard input that says it is a terminal (the shell picks its mode from that)."""

    def isatty(self) -> bool:
        return True


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


@pytest.fixture
def piped(capsys: pytest.CaptureFixture[str]
          ) -> Callable[[str], tuple[int, list[str], list[str]]]:
    """Run the shell in-process on a text as if piped in: (exit status, output lines,
    error lines). Errors of piped commands go to standard error, one line each."""

    def run(text: str) -> tuple[int, list[str], list[str]]:
        capsys.readouterr()
        out = io.StringIO()
        session = Session(out=out, width=120)
        try:
            rc = Shell(session, stdin=io.StringIO(text)).run()
        finally:
            session.close()
        captured = capsys.readouterr()
        return rc, _lines(out.getvalue()) + _lines(captured.out), captured.err.splitlines()

    return run


Piped = Callable[[str], tuple[int, list[str], list[str]]]


# --- (a) piped input -------------------------------------------------------------------------
def test_history_path_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("SOCDBG_HISTORY", str(tmp_path / "h"))
    assert history_path() == tmp_path / "h"
    monkeypatch.delenv("SOCDBG_HISTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert history_path() == tmp_path / "state" / "socdbg" / "history"


def test_piped_commands_run_in_order(piped: Piped) -> None:
    rc, lines, errors = piped("write sysctrl.scratch 5\n"
                      "read sysctrl.scratch.value\n"
                      "# a comment\n"
                      "\n"
                      "write sysctrl.scratch value=6   # trailing comment\n"
                      "read sysctrl.scratch.value\n")
    assert rc == 0 and errors == []
    assert [line.split("  (")[0] for line in lines] == [
        "sysctrl.scratch <- 0x00000005", "sysctrl.scratch.value = 0x5",
        "sysctrl.scratch <- 0x00000006", "sysctrl.scratch.value = 0x6"]


def test_piped_errors_are_one_line_and_the_shell_goes_on(piped: Piped) -> None:
    rc, lines, errors = piped("read dma.ch[0].stauts\n"
                              "frobnicate\n"
                              "write dma.ch[0].ctrl mode=RINGG\n"
                              "read sysctrl.chip_id.part\n"
                              "write intc.status bogus=1\n")
    assert rc == 1
    assert lines == ["sysctrl.chip_id.part = 0xa01"]
    assert len(errors) == 4
    assert errors[0] == ("error: no register 'dma.ch[0].stauts' in dma.ch[0] "
                         "(did you mean 'status'?)")
    assert errors[1].startswith("error: unknown command 'frobnicate'")
    assert errors[2] == ("error: dma.ch[0].ctrl.mode: 'RINGG' is not a value of dma_mode_e "
                         "(did you mean 'RING'?)")
    # a long error (its hint lists nine fields) is still one line
    assert errors[3].startswith("error: intc.status has no field 'bogus' (fields: dma_ch0")
    assert errors[3].endswith("mbox)")


def test_piped_usage_errors_are_one_line(piped: Piped) -> None:
    rc, lines, errors = piped("write sysctrl.scratch\nread\n")
    assert rc == 1 and lines == []
    assert len(errors) == 2
    assert all(line.startswith("error: ") for line in errors)
    assert "help write" in errors[0]


@pytest.mark.parametrize("word", ["quit", "exit", "  quit  "])
def test_quit_stops_reading(piped: Piped, word: str) -> None:
    rc, lines, errors = piped(f"read sysctrl.chip_id.vendor\n{word}\n"
                              "read sysctrl.chip_id.part\nfrobnicate\n")
    assert rc == 0 and errors == []
    assert lines == ["sysctrl.chip_id.vendor = 0x5d0c"]


def test_quit_after_a_failure_still_reports_it(piped: Piped) -> None:
    rc, _, errors = piped("frobnicate\nquit\n")
    assert rc == 1 and len(errors) == 1


def test_simulated_time_carries_over_between_lines(piped: Piped) -> None:
    rc, lines, errors = piped("write sysctrl.pll_ctrl en=1\n"
                      "step 1999\n"
                      "read sysctrl.pll_status.lock\n"
                      "step\n"
                      "read sysctrl.pll_status.lock\n")
    assert rc == 0 and errors == []
    assert lines[1:] == ["cycle 1,999", "sysctrl.pll_status.lock = 0", "cycle 2,000",
                         "sysctrl.pll_status.lock = 1"]


def test_target_switch_in_the_shell(piped: Piped) -> None:
    rc, lines, errors = piped("write sysctrl.scratch 9\n"
                      "target sim:mesh=99x99\n"
                      "read sysctrl.scratch.value\n"
                      "target sim:mesh=8x8\n"
                      "read noc.mesh_dim.x\n"
                      "read sysctrl.scratch.value\n"
                      "target\n")
    assert rc == 1
    assert len(errors) == 1 and errors[0].startswith("error: sim target: mesh '99x99'")
    assert lines[1] == "sysctrl.scratch.value = 0x9"  # a failed switch keeps the old target
    assert lines[2:] == ["target sim:mesh=8x8", "noc.mesh_dim.x = 0x8",
                         "sysctrl.scratch.value = 0x0", "target sim:mesh=8x8"]


def test_regs_map_option_in_the_shell_is_for_that_command_only(piped: Piped,
                                                               tiny_rdl: Path) -> None:
    rc, lines, errors = piped(f"regs --map {tiny_rdl} list\n"
                              "read sysctrl.chip_id.vendor\n")
    assert [line.split()[0] for line in lines[1:4]] == ["ident", "ctrl", "status"]
    assert lines[-1] == "sysctrl.chip_id.vendor = 0x5d0c"
    assert rc == 0 and errors == []


@pytest.mark.slow
def test_piped_process_exit_status(python: str, child_env: dict[str, str]) -> None:
    good = subprocess.run([python, "-m", "socdbg", "shell"], input="read sysctrl.chip_id\n",
                          capture_output=True, text=True, env=child_env, timeout=60, check=False)
    assert good.returncode == 0, good.stderr
    assert "0x5d0c0a01" in good.stdout
    bad = subprocess.run([python, "-m", "socdbg", "shell"],
                         input="read dma.ch[0].stauts\nread sysctrl.scratch.value\nquit\n"
                               "read sysctrl.chip_id\n",
                         capture_output=True, text=True, env=child_env, timeout=60, check=False)
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == ["sysctrl.scratch.value = 0x0"]
    assert bad.stderr.splitlines() == ["error: no register 'dma.ch[0].stauts' in dma.ch[0] "
                                       "(did you mean 'status'?)"]


# --- (b) prompt_toolkit through a pipe -------------------------------------------------------
class Typist:
    """Types into a prompt_toolkit pipe input from a thread; can wait until the line being
    edited reads a given text (so a Tab completion has been applied before Enter)."""

    def __init__(self, pipe: object, app_session: AppSession) -> None:
        self.pipe = pipe
        self.app_session = app_session
        self.failure: str | None = None

    def buffer_text(self) -> str | None:
        app = self.app_session.app
        if app is None or not app.is_running:
            return None
        return app.current_buffer.text

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def type(self, text: str, then: str | None = None) -> None:
        """Send ``text``; with ``then``, wait until the edited line equals it."""
        self.wait_for(lambda: self.buffer_text() is not None, "a prompt")
        self.pipe.send_text(text)  # type: ignore[attr-defined]
        if then is not None:
            self.wait_for(lambda: self.buffer_text() == then, f"the line to read {then!r}")

    def enter(self) -> None:
        self.type("\r")
        self.wait_for(lambda: self.buffer_text() in (None, ""), "the next prompt")


def drive_shell(script: Callable[[Typist], None]) -> tuple[int, str]:
    """Run ``Shell.run`` on a pipe input typed by ``script``; (exit status,
    everything the session printed)."""
    out = io.StringIO()
    session = Session(out=out, width=100)
    result: dict[str, int] = {}
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()) as app:
        typist = Typist(pipe, app)

        def feed() -> None:
            try:
                script(typist)
            except BaseException as exc:
                typist.failure = f"{type(exc).__name__}: {exc}"
            finally:
                # make sure the shell ends whatever happened
                for _ in range(50):
                    if "rc" in result:
                        break
                    try:
                        pipe.send_text("\x04")
                    except OSError:
                        break
                    time.sleep(0.1)

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        result["rc"] = Shell(session, stdin=FakeTty()).run()
        thread.join(timeout=15)
    assert typist.failure is None, typist.failure + "\n" + out.getvalue()
    return result["rc"], out.getvalue()


def test_interactive_tab_completion_and_commands(history_file: Path) -> None:
    def script(t: Typist) -> None:
        t.type("read sysctrl.chip_i")
        t.type("\t", then="read sysctrl.chip_id")
        t.enter()
        t.type("write dma.ch[0].ctrl mode=ri")
        t.type("\t", then="write dma.ch[0].ctrl mode=RING")
        t.enter()
        t.type("read dma.ch[0].ctrl.mo\t", then="read dma.ch[0].ctrl.mode")
        t.enter()
        t.type("\x04")

    rc, out = drive_shell(script)
    assert rc == 0
    assert "socdbg" in out.splitlines()[0] and "Ctrl-D to quit" in out.splitlines()[0]
    assert "sysctrl.chip_id  0x40000000  = 0x5d0c0a01" in out
    assert "dma.ch[0].ctrl <- 0x00000020  (" in out and "mode=RING" in out
    assert "dma.ch[0].ctrl.mode = RING (2)" in out
    history = history_file.read_text()
    for line in ("+read sysctrl.chip_id", "+write dma.ch[0].ctrl mode=RING",
                 "+read dma.ch[0].ctrl.mode"):
        assert line in history.splitlines()


def test_interactive_ctrl_c_clears_the_line_and_errors_keep_the_shell() -> None:
    def script(t: Typist) -> None:
        t.type("write sysctrl.scratch 0xbad", then="write sysctrl.scratch 0xbad")
        t.type("\x03")
        t.wait_for(lambda: t.buffer_text() == "", "a cleared line")
        t.type("read dma.ch[0].stauts")
        t.enter()
        t.type("read sysctrl.scratch.value")
        t.enter()
        t.type("quit")
        t.enter()

    rc, out = drive_shell(script)
    assert rc == 0
    assert "0xbad" not in out  # the interrupted line never ran
    assert "error: no register 'dma.ch[0].stauts' in dma.ch[0] (did you mean 'status'?)" in out
    assert "sysctrl.scratch.value = 0x0" in out


# --- (c) a real pseudo-terminal --------------------------------------------------------------
@pytest.mark.slow
def test_shell_in_a_pseudo_terminal(python: str, child_env: dict[str, str],
                                    history_file: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    # pexpect does not answer prompt_toolkit's cursor-position requests; without this every
    # prompt waits a second for the answer
    env = dict(child_env, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn(python, ["-m", "socdbg", "shell"], env=env, encoding="utf-8",
                          timeout=10, dimensions=(40, 120))
    prompt = "socdbg:sim>"
    try:
        child.expect_exact(prompt)
        child.send("read sysctrl.chip_")
        child.expect_exact("chip_")
        child.send("\t")
        child.expect_exact("id")  # the completion is on the line before Enter is pressed
        child.send("\r")
        child.expect_exact("0x5d0c0a01")
        child.expect_exact(prompt)

        child.sendline("write sysctrl.pll_ctrl en=1")
        child.expect_exact("en=1")
        child.expect_exact(prompt)
        child.sendline("step 5000")
        child.expect_exact("cycle 5,000")
        child.expect_exact(prompt)
        child.sendline("read sysctrl.pll_status.lock")
        child.expect_exact("sysctrl.pll_status.lock = 1")
        child.expect_exact(prompt)

        child.send("write sysctrl.scratch 0x77")
        child.sendcontrol("c")  # at the prompt: clears the line, the shell stays
        child.expect_exact(prompt)
        assert child.isalive()
        child.sendline("read sysctrl.scratch.value")
        child.expect(r"sysctrl\.scratch\.value = (0x[0-9a-f]+)")
        assert child.match.group(1) == "0x0"
        child.expect_exact(prompt)

        child.sendline("read dma.ch[0].stauts")
        child.expect_exact("did you mean")
        child.expect_exact(prompt)

        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, ANSI.sub("", child.before or "")
    finally:
        if child.isalive():
            child.terminate(force=True)
    history = history_file.read_text().splitlines()
    for line in ("+read sysctrl.chip_id", "+write sysctrl.pll_ctrl en=1", "+step 5000",
                 "+read sysctrl.pll_status.lock"):
        assert line in history
    assert "+write sysctrl.scratch 0x77" not in history
    assert "+read dma.ch[0].stauts" not in history  # a failed line is not kept
