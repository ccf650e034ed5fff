"""The real prompt_toolkit prompt of the shell, driven through a pipe (create_pipe_input):
Tab completion in each context, history search by prefix on Up, suggestions only from lines
that ran, de-duplicated history, and a trailing backslash continuing the line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_shell_repl import Typist, drive_shell

from socdbg.commands.session import Session
from socdbg.shell.history import ShellHistory, SuggestFromGoodHistory, join_continued
from socdbg.shell.repl import Shell

UP, TAB, ENTER = "\x1b[A", "\t", "\r"


@pytest.fixture
def history_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "history"
    monkeypatch.setenv("SOCDBG_HISTORY", str(path))
    return path


def drive(*steps: tuple[str, str | None]) -> str:
    """Type each (keys, expected line) step into the real shell prompt, waiting until the
    line being edited reads ``expected`` (None: press Enter and wait for the next prompt);
    returns what the commands printed."""

    def script(t: Typist) -> None:
        for keys, expected in steps:
            if expected is None:
                t.type(keys)
                t.enter()
            else:
                t.type(keys, then=expected)

    _, out = drive_shell(script)
    return out


def history_lines(path: Path) -> list[str]:
    return [line[1:] for line in path.read_text().splitlines() if line.startswith("+")]


# --- completion through the prompt ----------------------------------------------------------
@pytest.mark.parametrize("typed,line,ran", [
    ("read chip" + TAB, "read sysctrl.chip_id", "0x5d0c0a01"),  # substring
    ("read sysctrl.chi" + TAB, "read sysctrl.chip_id", "0x5d0c0a01"),  # prefix
    ("expect sysctrl.chip_id.ven" + TAB, "expect sysctrl.chip_id.vendor",
     "ok: sysctrl.chip_id.vendor == 0x5d0c"),
    ("expect dma.ch[0].status.err_code == UNM" + TAB,
     "expect dma.ch[0].status.err_code == UNMAPPED", "dma.ch[0].status.err_code"),
    ("poll sysctrl.pll_status.lo" + TAB, "poll sysctrl.pll_status.lock", "lock"),
    ("peek &sysctrl.chip" + TAB, "peek &sysctrl.chip_id", "0x40000000  0x5d0c0a01"),
    ("dump --include sysctrl.chip" + TAB, "dump --include sysctrl.chip_id", "1 register"),
])
def test_tab_completes_in_context(history_file: Path, typed: str, line: str,
                                  ran: str) -> None:
    rest = {"expect sysctrl.chip_id.vendor": " == 0x5d0c",
            "poll sysctrl.pll_status.lock": " == 0 --timeout 0.001",
            "dump --include sysctrl.chip_id": f" -o {history_file.parent / 'd.json'}"}
    out = drive((typed, line), (rest.get(line, ""), None))
    assert ran in out


def test_tab_completes_file_arguments(history_file: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bringup_script.sdbg").write_text("echo sourced-it\n")
    out = drive(("source bringup_s" + TAB, "source bringup_script.sdbg"), ("", None))
    assert "sourced-it" in out


# --- history ---------------------------------------------------------------------------------
def test_up_searches_history_by_prefix(history_file: Path) -> None:
    history_file.write_text("\n# t\n+read sysctrl.chip_id\n\n# t\n+info\n")
    out = drive(("rea" + UP, "read sysctrl.chip_id"), ("", None))  # not "info", the newest
    assert "0x5d0c0a01" in out


def test_failed_lines_are_not_kept(history_file: Path) -> None:
    drive(("read sysctrl.chip_id", None), ("red sysctrl.chip_id", None),
          ("read sysctrl.nope", None))
    assert history_lines(history_file) == ["read sysctrl.chip_id"]


def test_suggestions_skip_failed_lines() -> None:
    from prompt_toolkit.buffer import Buffer
    from prompt_toolkit.document import Document

    history = ShellHistory(None)
    for line, ok in [("read sysctrl.chip_id", True), ("read sysctrl.chip_idd", False)]:
        history.append_string(line)
        history.settle(ok)
    buffer = Buffer(history=history)
    suggestion = SuggestFromGoodHistory().get_suggestion(buffer, Document("read sys"))
    assert suggestion is not None and suggestion.text == "ctrl.chip_id"


def test_history_is_deduplicated(history_file: Path) -> None:
    history_file.write_text("".join(f"\n# t\n+{line}\n" for line in
                                    ["info", "read sysctrl.chip_id", "info"]))
    history = ShellHistory(history_file)
    assert list(history.load_history_strings()) == ["info", "read sysctrl.chip_id"]
    history.append_string("read sysctrl.chip_id")
    assert history._loaded_strings[:1] == ["read sysctrl.chip_id"]
    assert history._loaded_strings.count("read sysctrl.chip_id") == 1


# --- continuation ----------------------------------------------------------------------------
def test_trailing_backslash_continues_the_line(history_file: Path) -> None:
    out = drive(("read \\" + ENTER, "read \\\n"), ("sysctrl.chip_id", None))
    assert "0x5d0c0a01" in out
    assert history_lines(history_file) == ["read \\", "sysctrl.chip_id"]


def test_join_continued() -> None:
    assert join_continued("poll sysctrl.pll_status.lock \\\n== 1") == \
        "poll sysctrl.pll_status.lock  == 1"
    assert join_continued("echo a\\b") == "echo a\\b"


def test_piped_shell_joins_continued_lines() -> None:
    out = io.StringIO()
    shell = Shell(Session(out=out, color=False), stdin=io.StringIO("read \\\n"
                                                                     "sysctrl.chip_id\n"))
    assert shell.run() == 0
    assert "0x5d0c0a01" in out.getvalue()
