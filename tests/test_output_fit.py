"""Output that fits: views rendered at 60, 80 and 160 columns keep every value and field
token whole and their key columns; cut text ends with an ellipsis; a pipe gets no trailing
spaces and no box drawing; long output on a terminal goes through the pager (which can be
turned off); NO_COLOR is honoured; a long target does not eat the prompt."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from socdbg.cli import cli
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.render.regs import shorten
from socdbg.shell.repl import Shell, short_target

WIDTHS = (60, 80, 160)
BOX = re.compile("[\u2500-\u259f]")


@pytest.fixture(scope="module")
def session(_socdbg_session_env: None) -> Iterator[Session]:
    s = Session()
    for line in ("write sysctrl.rst_ctrl dma_rst=0", "write dma.global_ctrl enable=1",
                 "write dma.ch[1].ctrl en=1"):
        execute(s, line)
    yield s
    s.close()


def render(session: Session, line: str, width: int) -> str:
    out = execute(session, line)
    assert out is not None and out.render is not None
    console = Console(file=io.StringIO(), width=width)
    console.print(out.render())
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(len(row) <= width for row in text.splitlines()), text
    return str(text)


@pytest.mark.parametrize("width", WIDTHS)
def test_register_view_keeps_tokens_and_cuts_descriptions_at_words(session: Session,
                                                                   width: int) -> None:
    text = render(session, "read dma.ch[0].status", width)
    words = text.split()
    for token in ("[10:8]", "err_code", "NONE", "(0)", "busy", "sw=rw", "hw=w", "woclr"):
        assert token in words, (token, text)
    reg = session.map.get("dma.ch[0].status")
    for f in reg.fields:
        row = next(r for r in text.splitlines() if f" {f.name} " in r)
        shown = row.split("  ")[-1].strip()
        if shown and shown not in ("0", "NONE (0)"):
            assert f.description.startswith(shown) or (
                shown.endswith("…") and f.description.startswith(shown[:-1])), (shown, text)
            if shown.endswith("…"):  # cut after a whole word
                assert f.description[len(shown) - 1] in " ,;.", shown


@pytest.mark.parametrize("width", WIDTHS)
def test_many_registers_never_split_a_field_token(session: Session, width: int) -> None:
    text = render(session, "read dma.ch[0]", width)
    words = text.split()
    for d in execute(session, "read --json dma.ch[0]").data:  # type: ignore[union-attr]
        assert d["path"] in words
        for name, value in d["fields"].items():
            shown = value.get("enum") if isinstance(value, dict) else None
            token = f"{name}={shown}" if shown else f"{name}="
            assert any(w.startswith(token) for w in words), (token, text)


@pytest.mark.parametrize("width", WIDTHS)
def test_dma_view_keeps_channel_and_state(session: Session, width: int) -> None:
    text = render(session, "dma", width)
    rows = [r.split() for r in text.splitlines()]
    table = [r for r in rows if r and r[0] in ("0", "1", "2", "3")]
    assert [r[0] for r in table] == ["0", "1", "2", "3"]
    assert [r[1] for r in table] == ["off", "idle", "off", "off"]
    assert "a start would be ignored: the channel is disabled" in " ".join(text.split())


def test_dma_view_says_why_a_start_is_ignored() -> None:
    s = Session()
    try:
        out = execute(s, "dma")
        assert out is not None
        assert {c["blocked"] for c in out.data} == {
            "the DMA engine is held in reset (sysctrl.rst_ctrl.dma_rst = 1)"}
        execute(s, "write sysctrl.rst_ctrl dma_rst=0")
        assert {c["blocked"] for c in execute(s, "dma").data} == {  # type: ignore[union-attr]
            "the engine is disabled (dma.global_ctrl.enable = 0)"}
    finally:
        s.close()


def test_shorten() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("Set by hardware when the channel stops", 14) == "Set by…"
    assert shorten("abcdefghijklmnop", 8) == "abcdefg…"


# --- pipes, colour, pager --------------------------------------------------------------------
def test_piped_output_has_no_box_drawing_or_trailing_spaces() -> None:
    for args in (["dma"], ["read", "sysctrl.chip_id"], ["regs", "show", "dma.ch[0].ctrl"],
                 ["peek", "sram", "6"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert not BOX.search(result.output), result.output
        assert all(line == line.rstrip() for line in result.output.splitlines()), args


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    s = Session(out=Tty())
    s.presenter.emit(execute(s, "read sysctrl.chip_id"))
    assert "\x1b[3" not in s.presenter.out.getvalue()  # type: ignore[union-attr]
    assert not s.presenter.color_lines


def paged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, line: str, pager: bool = True
          ) -> tuple[str, str]:
    """(what the terminal got, what the pager got) for ``line`` on a 10-line terminal."""
    got = tmp_path / "paged.txt"
    monkeypatch.setenv("SOCDBG_PAGER", f"sh -c 'cat > {got}'")
    monkeypatch.setenv("LINES", "10")
    monkeypatch.setenv("COLUMNS", "100")
    out = Tty()
    s = Session(out=out, pager=pager, target="sim:mesh=16x16")
    try:
        s.presenter.emit(execute(s, line, stream=True))
    finally:
        s.close()
    return out.getvalue(), got.read_text() if got.exists() else ""


def test_long_output_on_a_terminal_goes_through_the_pager(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    screen, pager = paged(monkeypatch, tmp_path, "read noc")
    assert screen == "" and pager.count("\n") > 1000  # a 16x16 mesh: not on the screen
    screen, pager = paged(monkeypatch, tmp_path, "peek -w 32 sram 4096")
    assert screen == "" and pager.count("\n") == 1024


def test_short_output_and_no_pager_print_directly(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    screen, pager = paged(monkeypatch, tmp_path, "read sysctrl.chip_id")
    assert "0x5d0c0a01" in screen and pager == ""
    screen, pager = paged(monkeypatch, tmp_path, "peek -w 32 sram 4096", pager=False)
    assert screen.count("\n") == 1024 and pager == ""
    monkeypatch.setenv("SOCDBG_PAGER", "off")
    out = Tty()
    s = Session(out=out)
    s.presenter.emit(execute(s, "peek -w 32 sram 4096", stream=True))
    assert out.getvalue().count("\n") == 1024


# --- the prompt --------------------------------------------------------------------------------
def test_a_long_target_does_not_eat_the_prompt() -> None:
    assert short_target("sim") == "sim"
    assert short_target("sim:mesh=16x16") == "sim:mesh=16x16"
    assert short_target("dump:/very/long/folder/name/run-42.json.gz") == "dump:run-42.json.gz"
    assert short_target("gdb://buildserver.example.com:3333") == "gdb:…er.example.com:3333"
    long = "dump:/x/" + "a" * 60 + ".json"
    assert len(short_target(long)) <= 24 and short_target(long).endswith(".json")
    shell = Shell(Session(target="dump:/very/long/folder/name/run-42.json.gz"))
    assert shell.prompt_text() == "socdbg:dump:run-42.json.gz> "
    assert "/very/long/folder/name/run-42.json.gz" in shell.toolbar()


@pytest.mark.parametrize("width", WIDTHS)
def test_register_layout_never_splits_an_enum_token(session: Session, width: int) -> None:
    text = render(session, "regs show dma.ch[0].status", width)
    words = text.split()
    for token in ("NONE=0", "UNMAPPED=1", "MISALIGNED=2", "ZERO_LEN=3", "BAD_DESC=4",
                  "err_code", "sw=rw", "woclr", "[10:8]"):
        assert token in words, (token, text)
    assert "Write 1 to clear." in " ".join(words)
