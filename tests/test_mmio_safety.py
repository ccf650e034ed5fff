"""The live-target safety rules (socdbg/safety.py) on a pci: target backed by a file.

Read-only unless --allow-writes, and then zero accesses by a refused command; the shell's
confirmation (decoded old -> new per field, y/N) with a fake ``ask`` and through
prompt_toolkit; --yes; unsafe_write needing the word ``unsafe`` or --force-unsafe; scripts
that never ask; globs and dumps that skip unsafe_read registers, register files and memories;
the ``writes_allowed`` hook for BUTR.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prompt_toolkit.application.current import AppSession, create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from test_mmio_support import (
    BAR_SIZE,
    BASE,
    CLOCKS_A,
    ECC,
    FIFO_A,
    FIFO_B,
    PCI_SPEC,
    PLL,
    SCRATCH,
    SECRET,
    SRAM,
    Accesses,
    Backing,
    FakeAsk,
    live_sessions,
    pci_bar,
    record_accesses,
    write_map,
)

from socdbg.cli import main
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.dumpfile import read_dump
from socdbg.errors import TargetError
from socdbg.safety import NotConfirmed, WriteGate, writes_allowed
from socdbg.shell.repl import Shell
from socdbg.targets.sim import SimTarget

SPEC = PCI_SPEC


@pytest.fixture
def rdl(tmp_path: Path) -> Path:
    return write_map(tmp_path)


@pytest.fixture
def bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backing]:
    with pci_bar(tmp_path, monkeypatch) as b:
        yield b


@pytest.fixture
def acc(monkeypatch: pytest.MonkeyPatch) -> Accesses:
    return record_accesses(monkeypatch)


@pytest.fixture
def make(rdl: Path, bar: Backing) -> Iterator[Callable[..., Session]]:
    with live_sessions(rdl) as make:
        yield make


# --- read-only by default -------------------------------------------------------------------
@pytest.mark.parametrize("line", ["write dev.scratch 5", "write dev.ctrl en=1",
                                  "write dev.*l* 0", "poke dev.scratch 5", "poke 0x40000100 1",
                                  "poke dev.sram+4 1 -w 8"])
def test_read_only_by_default_refuses_before_any_access(make: Callable[..., Session],
                                                        acc: Accesses, bar: Backing,
                                                        line: str) -> None:
    session = make(FakeAsk())
    with pytest.raises(TargetError) as info:
        execute(session, line)
    assert info.value.message.endswith(f"live target {SPEC} is open read-only")
    assert info.value.hint is not None and "socdbg --allow-writes" in info.value.hint
    assert acc.take() == []  # not even the read of a read-modify-write
    assert bar.read(0, BAR_SIZE) == bytes(BAR_SIZE)


def test_one_shot_cli_is_read_only_without_allow_writes(
        rdl: Path, bar: Backing, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-t", SPEC, "--map", str(rdl), "write", "dev.scratch", "5"]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 1
    assert "is open read-only" in capsys.readouterr().err
    assert bar.word(SCRATCH - BASE) == 0
    with pytest.raises(SystemExit) as exit_:
        main(["--allow-writes", *argv])  # one-shot: --allow-writes is the consent
    assert exit_.value.code == 0
    assert bar.word(SCRATCH - BASE) == 5


def test_reads_work_read_only(make: Callable[..., Session], bar: Backing) -> None:
    bar.write(SCRATCH - BASE, (0x1234).to_bytes(4, "little"))
    out = execute(make(), "read dev.scratch.value")
    assert out is not None and out.text == "dev.scratch.value = 0x1234"


# --- the confirmation -----------------------------------------------------------------------
def test_the_shell_shows_the_decoded_change_and_asks(make: Callable[..., Session],
                                                     bar: Backing, acc: Accesses) -> None:
    bar.write(0, (0x42 << 16 | 1 << 1).to_bytes(4, "little"))  # gain 0x42, mode RUN
    ask = FakeAsk("y")
    session = make(ask, allow_writes=True)
    out = execute(session, "write dev.ctrl mode=SLEEP en=1")
    message, question = ask.shown[0]
    assert question == "Write? [y/N] "
    assert message.splitlines() == [
        f"write to live target {SPEC}:",
        "  dev.ctrl  0x40000000  0x00420002 -> 0x00420005",
        "      en    0 -> 1",
        "      mode  RUN (1) -> SLEEP (2)",
        "      gain  0x42",
    ]
    # read once (read-modify-write), then the single store after the answer
    assert acc.take() == [("load", 0, 4), ("store", 0, 4)]
    assert bar.word(0) == 0x00420005
    assert out is not None and out.text is not None and out.text.startswith("dev.ctrl <- ")


@pytest.mark.parametrize("answer", ["", "n", "no", "N", "yes please", "unsafe"])
def test_anything_but_yes_writes_nothing(make: Callable[..., Session], bar: Backing,
                                         acc: Accesses, answer: str) -> None:
    session = make(FakeAsk(answer), allow_writes=True)
    with pytest.raises(NotConfirmed, match="write: not confirmed, nothing written"):
        execute(session, "write dev.scratch 0x99")
    assert acc.stores() == []
    assert bar.word(SCRATCH - BASE) == 0


def test_a_glob_write_is_one_question_for_all_its_registers(make: Callable[..., Session],
                                                           bar: Backing) -> None:
    ask = FakeAsk("y")
    session = make(ask, allow_writes=True)
    execute(session, "write dev.fifo.* 7")
    message = ask.shown[0][0]
    assert len(ask.shown) == 1
    # unsafe_read registers: written, but their old value is not read for the display
    assert "  dev.fifo.a  0x40000040  ? -> 0x00000007" in message
    assert "(current value not read: reading it has side effects)" in message
    assert bar.word(FIFO_A - BASE) == bar.word(FIFO_B - BASE) == 7


def test_yes_skips_the_question(make: Callable[..., Session], bar: Backing) -> None:
    ask = FakeAsk()
    execute(make(ask, allow_writes=True, yes=True), "write dev.scratch 3")
    assert ask.shown == [] and bar.word(SCRATCH - BASE) == 3


def test_poke_is_confirmed_too(make: Callable[..., Session], bar: Backing) -> None:
    bar.write(SRAM - BASE + 8, (0xAB).to_bytes(4, "little"))
    ask = FakeAsk("y", "y", "y")
    session = make(ask, allow_writes=True)
    execute(session, "poke dev.sram+8 0xcd")
    execute(session, "poke &dev.scratch 0x11")
    execute(session, "poke 0x40000030 1")  # a hole between registers: raw, old value unread
    shown = [m.splitlines()[1:] for m, _ in ask.shown]
    assert shown[0] == ["  dev.sram+0x8  0x40001008  0x000000ab -> 0x000000cd"]
    assert shown[1] == ["  dev.scratch  0x40000004  0x00000000 -> 0x00000011",
                        "      value  0x0 -> 0x11"]
    assert shown[2] == ["  no register or memory in the map  0x40000030  ? -> 0x00000001",
                        "      (current value not read: not one whole register)"]
    assert bar.word(SRAM - BASE + 8) == 0xCD and bar.word(0x30) == 1


# --- unsafe_write ---------------------------------------------------------------------------
@pytest.mark.parametrize("line", ["write dev.pll en=1", "write dev.clocks.a 1",
                                  "write dev.*l* 0", "poke dev.pll 1", "poke 0x40000062 1 -w 8"])
def test_unsafe_write_without_a_person_needs_force(make: Callable[..., Session],
                                                   acc: Accesses, bar: Backing,
                                                   line: str) -> None:
    session = make(None, allow_writes=True, yes=True)
    with pytest.raises(TargetError, match="marked unsafe_write: writing on live hardware "
                                          "needs --force-unsafe"):
        execute(session, line)
    assert acc.take() == []
    forced = make(None, allow_writes=True, force_unsafe=True)
    execute(forced, line)
    assert acc.stores()


def test_unsafe_write_in_the_shell_needs_the_word(make: Callable[..., Session],
                                                  bar: Backing) -> None:
    ask = FakeAsk("y")
    session = make(ask, allow_writes=True, yes=True)  # --yes does not skip it
    with pytest.raises(NotConfirmed):
        execute(session, "write dev.pll div=4 en=1")
    message, question = ask.shown[0]
    assert "  dev.pll  0x40000024  0x00000000 -> 0x00000401  unsafe_write" in message
    assert message.endswith("dev.pll is marked unsafe_write in the map: writing can upset "
                            "the chip (clocks, resets, memory timing).")
    assert question == "Type 'unsafe' to write anyway, anything else cancels: "
    assert bar.word(PLL - BASE) == 0
    ask.answers.append(" Unsafe ")
    execute(session, "write dev.pll div=4 en=1")
    assert bar.word(PLL - BASE) == 0x401


def test_force_unsafe_leaves_the_ordinary_question(make: Callable[..., Session],
                                                   bar: Backing) -> None:
    ask = FakeAsk("y")
    execute(make(ask, allow_writes=True, force_unsafe=True), "write dev.clocks.a 9")
    assert ask.shown[0][1] == "Write? [y/N] "
    assert bar.word(CLOCKS_A - BASE) == 9
    quiet = FakeAsk()
    execute(make(quiet, allow_writes=True, force_unsafe=True, yes=True), "write dev.pll 1")
    assert quiet.shown == [] and bar.word(PLL - BASE) == 1


def test_simulators_are_not_live(rdl: Path) -> None:
    """Nothing of this applies to a simulator: no question, unsafe_write is harmless there."""
    ask = FakeAsk()
    session = Session(target=f"sim:{rdl}", out=io.StringIO())
    session.ask = ask
    execute(session, "write dev.pll en=1")
    assert ask.shown == []
    gate = WriteGate(session, session.target, "write", ["dev.pll"])
    assert not gate.asks and not gate.live


# --- the hook for BUTR ----------------------------------------------------------------------
def test_writes_allowed(make: Callable[..., Session]) -> None:
    ro = make().target
    rw = make(allow_writes=True).target
    rmap = make().map
    scratch, clocks = rmap.get("dev.scratch"), rmap.get("dev.clocks.a")
    assert writes_allowed(ro, scratch) == (f"live target {SPEC} is open read-only "
                                           "(socdbg --allow-writes)")
    assert writes_allowed(rw, scratch) is None
    assert writes_allowed(rw, clocks) == ("dev.clocks.a is marked unsafe_write: writing it "
                                          "on live hardware needs --force-unsafe")
    assert writes_allowed(rw, clocks, force_unsafe=True) is None
    assert writes_allowed(SimTarget(rmap), clocks) is None


# --- scripts never ask ----------------------------------------------------------------------
def test_scripts_need_allow_writes_and_never_ask(rdl: Path, bar: Backing, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "poke.sdbg"
    script.write_text("write dev.scratch 0x77\nread dev.scratch\n")
    base = ["-t", SPEC, "--map", str(rdl)]
    with pytest.raises(SystemExit) as exit_:
        main([*base, "run", str(script)])
    assert exit_.value.code == 1 and bar.word(SCRATCH - BASE) == 0
    assert "is open read-only" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit) as exit_:
        main(["--allow-writes", *base, "run", str(script)])
    assert exit_.value.code == 0 and bar.word(SCRATCH - BASE) == 0x77
    unsafe = tmp_path / "pll.sdbg"
    unsafe.write_text("write dev.pll en=1\n")
    with pytest.raises(SystemExit) as exit_:
        main(["--allow-writes", *base, "run", str(unsafe)])
    assert exit_.value.code == 1 and bar.word(PLL - BASE) == 0
    assert "needs --force-unsafe" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit) as exit_:
        main(["--allow-writes", "--force-unsafe", *base, "run", str(unsafe)])
    assert exit_.value.code == 0 and bar.word(PLL - BASE) == 1


def test_dry_run_reports_writes_and_asks_nothing(rdl: Path, bar: Backing, tmp_path: Path,
                                                 acc: Accesses,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "dry.sdbg"
    script.write_text("write dev.pll en=1\nwrite dev.scratch 5\n")
    with pytest.raises(SystemExit) as exit_:
        main(["--allow-writes", "--force-unsafe", "-t", SPEC, "--map", str(rdl), "run",
              "--dry-run", str(script)])
    out = " ".join(capsys.readouterr().out.split())
    assert exit_.value.code == 0, out
    assert "dry-run: would write 0x40000024 (dev.pll) <- 0x00000001" in out
    assert acc.stores() == [] and bar.read(0, BAR_SIZE) == bytes(BAR_SIZE)


@pytest.mark.parametrize(("options", "why"), [
    (["--allow-writes"], "needs --force-unsafe"),
    ([], "dry run of live target pci:"),
])
def test_a_dry_run_of_a_live_target_is_refused_where_the_real_run_would_be(
        rdl: Path, bar: Backing, tmp_path: Path, acc: Accesses,
        capsys: pytest.CaptureFixture[str], options: list[str], why: str) -> None:
    """Nothing is written and nobody is asked, but the policy's refusals stay: a dry run
    that passes predicts a real run that passes."""
    script = tmp_path / "dry.sdbg"
    script.write_text("write dev.scratch 5\nwrite dev.pll en=1\n")
    with pytest.raises(SystemExit) as exit_:
        main([*options, "-t", SPEC, "--map", str(rdl), "run", "--dry-run", str(script)])
    out = " ".join(capsys.readouterr().out.split())
    assert exit_.value.code == 1 and why in out, out
    assert acc.stores() == [] and bar.read(0, BAR_SIZE) == bytes(BAR_SIZE)


# --- unsafe_read: globs and dumps -----------------------------------------------------------
UNSAFE_READ = {ECC - BASE, FIFO_A - BASE, FIFO_B - BASE}


def test_globs_skip_unsafe_read_registers_and_register_files(make: Callable[..., Session],
                                                             acc: Accesses) -> None:
    out = execute(make(), "read dev")
    assert out is not None
    read = {d["path"] for d in out.data}
    assert {"dev.ecc", "dev.fifo.a", "dev.fifo.b"}.isdisjoint(read)
    assert {"dev.scratch", "dev.pll", "dev.clocks.a"} <= read
    assert not UNSAFE_READ & {off for off, _ in acc.loads()}
    execute(make(), "read dev.fifo.a")  # named exactly: read
    assert acc.loads()[-1] == (FIFO_A - BASE, 4)


def test_dumps_skip_unsafe_read_registers_and_memories(make: Callable[..., Session],
                                                       acc: Accesses, tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    out = execute(make(), f"dump -o {path} --memory dev.sram+0x10 --memory dev.secret "
                          f"--memory 0x40000020+8 --memory 0x40000060+4")
    assert out is not None and out.ok
    dump = read_dump(path)
    assert dict(dump.skipped) == {
        "dev.ecc": "read side effects (unsafe_read)",
        "dev.fifo.a": "read side effects (unsafe_read)",
        "dev.fifo.b": "read side effects (unsafe_read)",
        "dev.secret": "read side effects (unsafe_read memory dev.secret)",
        "0x40000020+0x8": "read side effects (covers dev.ecc)",
    }
    assert [a for a, _ in dump.memories] == [SRAM, 0x40000060]
    touched = {off for off, _ in acc.loads()}
    assert not touched & (UNSAFE_READ | set(range(SECRET - BASE, SECRET - BASE + 0x40)))
    execute(make(), f"dump -o {path} --force --include-side-effects --memory dev.secret")
    assert "dev.ecc" in read_dump(path).registers and len(read_dump(path).memories) == 1


# --- the confirmation through the real shell --------------------------------------------------
class Typist:
    def __init__(self, pipe: object, app_session: AppSession, out: io.StringIO) -> None:
        self.pipe, self.app_session, self.out = pipe, app_session, out
        self.failure: str | None = None

    def running(self) -> bool:
        app = self.app_session.app
        return app is not None and app.is_running and app.current_buffer.text == ""

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def line(self, text: str, shown: str | None = None) -> None:
        """Wait for an empty prompt (and ``shown`` in the output), then type a line."""
        if shown is not None:
            self.wait_for(lambda: shown in self.out.getvalue(), repr(shown))
        self.wait_for(self.running, "a prompt")
        self.pipe.send_text(text + "\r")  # type: ignore[attr-defined]


def test_confirmation_in_the_interactive_shell(rdl: Path, bar: Backing) -> None:
    out = io.StringIO()
    session = Session(target=SPEC, map_files=[str(rdl)], out=out, width=120,
                      allow_writes=True)
    result: dict[str, int] = {}
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()) as app:
        typist = Typist(pipe, app, out)

        def script() -> None:
            try:
                typist.line("write dev.scratch 0x5", shown=f"target {SPEC}")
                typist.line("y", shown="      value  0x0 -> 0x5")
                typist.line("write dev.scratch 0x6", shown="dev.scratch <- 0x00000005")
                typist.line("n", shown="      value  0x5 -> 0x6")
                typist.line("quit", shown="not confirmed")
            except BaseException as exc:
                typist.failure = f"{type(exc).__name__}: {exc}"
            finally:
                for _ in range(50):
                    if "rc" in result:
                        break
                    pipe.send_text("\x04")
                    time.sleep(0.1)

        thread = threading.Thread(target=script, daemon=True)
        thread.start()
        result["rc"] = Shell(session, stdin=_Tty()).run()  # a terminal: the interactive loop
        thread.join(timeout=15)
    text = out.getvalue()
    assert typist.failure is None, typist.failure + "\n" + text
    assert bar.word(SCRATCH - BASE) == 5
    assert f"write to live target {SPEC}:\n  dev.scratch  0x40000004  0x00000000 -> " \
           "0x00000005\n      value  0x0 -> 0x5" in text
    assert "error: write: not confirmed, nothing written" in text


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True
