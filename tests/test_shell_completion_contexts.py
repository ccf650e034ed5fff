"""Completion wherever a register, field, enum value, symbol or file can appear: conditions
(expect, poll, --until), dump --include/--exclude, addresses, file arguments, and
substring/subsequence matches over whole paths (pgcli's smart completion)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from socdbg.commands.registry import commands
from socdbg.commands.session import Session
from socdbg.shell.completer import PathIndex, ShellCompleter


@pytest.fixture(scope="module")
def completer(_socdbg_session_env: None) -> Iterator[ShellCompleter]:
    session = Session()
    yield ShellCompleter(session)
    session.close()


def texts(c: ShellCompleter, text: str) -> list[str]:
    doc = Document(text, len(text))
    return [x.text for x in c.get_completions(doc, CompleteEvent(completion_requested=True))]


def until_command() -> str:
    """The command that runs simulated time until a condition."""
    return "step"


# --- conditions ------------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["expect ", "poll ", "UNTIL --until "])
def test_condition_path_field_then_enum(completer: ShellCompleter, prefix: str) -> None:
    prefix = prefix.replace("UNTIL", until_command())
    assert texts(completer, prefix + "dma.ch[0].sta") == ["status"]
    assert texts(completer, prefix + "dma.ch[0].status.err_c") == ["err_code"]
    assert texts(completer, prefix + "dma.ch[0].status.err_code ")[:2] == ["==", "!="]
    assert texts(completer, prefix + "dma.ch[0].status.err_code == ") == [
        "NONE", "UNMAPPED", "MISALIGNED", "ZERO_LEN", "BAD_DESC"]
    assert texts(completer, prefix + "dma.ch[0].status.err_code != B") == ["BAD_DESC"]
    assert texts(completer, prefix + "dma.ch[0].status.err_code==MIS") == ["MISALIGNED"]
    # the value is typed: nothing more to offer
    assert texts(completer, prefix + "dma.ch[0].status.err_code == NONE ") == []


def test_condition_options_still_complete(completer: ShellCompleter) -> None:
    assert texts(completer, "poll sysctrl.pll_status.lock == 1 --ti") == ["--timeout"]
    step = until_command()
    assert "--until" in texts(completer, f"{step} --u")


def test_expect_mem_takes_an_address(completer: ShellCompleter) -> None:
    assert texts(completer, "expect mem sr") == ["sram"]


# --- register options and addresses ----------------------------------------------------------
@pytest.mark.parametrize("opt", ["--include", "--exclude"])
def test_dump_include_exclude(completer: ShellCompleter, opt: str) -> None:
    assert texts(completer, f"dump {opt} dm") == ["dma."]
    assert "ch[*]." in texts(completer, f"dump {opt} dma.c")


def test_peek_poke_addresses(completer: ShellCompleter) -> None:
    assert texts(completer, "peek &sysctrl.chip") == ["&sysctrl.chip_id"]
    assert texts(completer, "poke sysctrl.scr") == ["sysctrl.scratch"]
    assert texts(completer, "peek chip") == ["sysctrl.chip_id"]  # fuzzy, as an address
    assert texts(completer, "peek sr") == ["sram"]  # a unique prefix match stays unique


# --- fuzzy -------------------------------------------------------------------------------------
def test_substring_and_subsequence_matches(completer: ShellCompleter) -> None:
    assert texts(completer, "read chip") == ["sysctrl.chip_id"]
    assert texts(completer, "read chipid") == ["sysctrl.chip_id"]  # subsequence
    stat = texts(completer, "read stat")
    assert "dma.ch[0].status" in stat and "sysctrl.pll_status" in stat
    # where the text starts a segment ranks before where it sits inside one
    assert stat.index("dma.ch[0].status") < stat.index("sysctrl.pll_status")


def test_prefix_matches_come_first_and_alone(completer: ShellCompleter) -> None:
    assert texts(completer, "read dm") == ["dma."]
    assert texts(completer, "read sysctrl.chip") == ["chip_id"]


def test_path_index_ranks_and_limits() -> None:
    class Map:
        def __init__(self) -> None:
            self.paths = ["a.chip_id", "b.xchip", "c.chip", "d.c_h_i_p", "e.other"]
            self.memories: list[object] = []

    index = PathIndex(Map())  # type: ignore[arg-type]
    assert index.search("chip") == ["c.chip", "a.chip_id", "b.xchip", "d.c_h_i_p"]
    assert index.search("chip", limit=2) == ["c.chip", "a.chip_id"]
    assert index.search("zz") == []
    assert index.search("ch.") == []  # path-like text matches as a substring only


# --- files -------------------------------------------------------------------------------------
@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "fw.elf").write_bytes(b"")
    (tmp_path / "boot.sdbg").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("line,expected", [
    ("load f", "fw.elf"),
    ("source b", "boot.sdbg"),
    ("diff sub/", "sub/a.json"),
    ("diff sub/a.json f", "fw.elf"),
    ("trace start su", "sub"),
    ("record start b", "boot.sdbg"),
    ("dump -o su", "sub"),
    ("dump --output sub/", "sub/a.json"),
    ("target dump:sub/", "dump:sub/a.json"),
    ("butr --junit b", "boot.sdbg"),
    ("regs --map sub/", "sub/a.json"),  # an option of the group, before its subcommand
])
def test_file_arguments(completer: ShellCompleter, files: Path, line: str,
                        expected: str) -> None:
    assert expected in texts(completer, line)


def test_group_options_then_subcommands(completer: ShellCompleter, files: Path) -> None:
    assert texts(completer, "regs --") == ["--map"]
    assert texts(completer, "regs --map sub/a.json l") == ["list"]
    assert texts(completer, "regs --map sub/a.json show dm") == ["dma."]


def test_every_path_argument_completes_files(completer: ShellCompleter, files: Path) -> None:
    """Any command argument or option typed click.Path gets file names (a new command gets
    them by declaring its parameter)."""
    for name, cmd in commands().items():
        subs = cmd.commands.items() if isinstance(cmd, click.Group) else [("", cmd)]
        for sub_name, sub in subs:
            line = f"{name} {sub_name} ".replace("  ", " ")
            for p in sub.params:
                if not isinstance(p.type, click.Path):
                    continue
                if isinstance(p, click.Option):
                    typed = f"{line}{p.opts[-1]} f"
                else:
                    args = [a for a in sub.params if isinstance(a, click.Argument)]
                    typed = line + "sub/a.json " * args.index(p) + "f"
                assert "fw.elf" in texts(completer, typed), typed
