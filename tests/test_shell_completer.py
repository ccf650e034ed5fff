"""Tab completion: ShellCompleter(Session()) fed prompt_toolkit Documents."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prompt_toolkit.completion import CompleteEvent, Completion
from prompt_toolkit.document import Document

from socdbg.commands.session import Session
from socdbg.shell.completer import ShellCompleter


@pytest.fixture(scope="module")
def completer(_socdbg_session_env: None) -> Iterator[ShellCompleter]:
    session = Session()
    yield ShellCompleter(session)
    session.close()


@pytest.fixture(scope="module")
def completer_8x8(_socdbg_session_env: None) -> Iterator[ShellCompleter]:
    session = Session(target="sim:mesh=8x8")
    yield ShellCompleter(session)
    session.close()


def complete(c: ShellCompleter, text: str, cursor: int | None = None) -> list[Completion]:
    doc = Document(text, len(text) if cursor is None else cursor)
    return list(c.get_completions(doc, CompleteEvent(completion_requested=True)))


def texts(c: ShellCompleter, text: str) -> list[str]:
    return [x.text for x in complete(c, text)]


def applied(c: ShellCompleter, text: str) -> list[str]:
    """The line after accepting each completion."""
    return [text[: len(text) + x.start_position] + x.text for x in complete(c, text)]


# --- commands --------------------------------------------------------------------------------
def test_command_names(completer: ShellCompleter) -> None:
    names = texts(completer, "")
    assert {"read", "write", "peek", "poke", "regs", "find", "info", "target", "help", "step",
            "quit", "exit"} <= set(names)
    assert len(names) == len(set(names))
    re_ = texts(completer, "re")
    assert {"read", "regs"} <= set(re_) and all(t.startswith("re") for t in re_)
    assert texts(completer, "RE") == re_
    assert applied(completer, "wri") == ["write"]
    assert "quit" in texts(completer, "qu")
    assert all(x.start_position == -2 for x in complete(completer, "re"))


def test_command_names_carry_their_short_help(completer: ShellCompleter) -> None:
    (read,) = complete(completer, "rea")
    assert "Read and decode registers" in read.display_meta_text


def test_regs_subcommands(completer: ShellCompleter) -> None:
    assert {"find", "list", "show"} <= set(texts(completer, "regs "))
    assert applied(completer, "regs sh") == ["regs show"]


# --- register paths --------------------------------------------------------------------------
def test_top_level_blocks(completer: ShellCompleter) -> None:
    top = texts(completer, "read ")
    assert {"sysctrl.", "intc.", "dma.", "noc.", "hbm.", "pcie.", "mailbox."} == set(top)
    assert applied(completer, "read dm") == ["read dma."]
    assert applied(completer, "read SYS") == ["read sysctrl."]


def test_paths_segment_by_segment(completer: ShellCompleter) -> None:
    dma = texts(completer, "read dma.")
    elements = [t for t in dma if t.startswith("ch[") and t != "ch[*]."]
    assert elements == ["ch[0].", "ch[1].", "ch[2].", "ch[3]."]
    assert {"global_ctrl", "global_status", "ch[*]."} <= set(dma)
    assert set(texts(completer, "read dma.c")) == {"ch[0].", "ch[1].", "ch[2].", "ch[3].",
                                                   "ch[*]."}
    assert applied(completer, "read dma.ch[2].st") == ["read dma.ch[2].status"]
    assert set(texts(completer, "read dma.ch[0].")) == {
        "ctrl", "status", "src", "dst", "len", "desc_count", "desc_base", "ring_head",
        "ring_tail", "bytes_done"}
    assert applied(completer, "read sysctrl.chip_i") == ["read sysctrl.chip_id"]


def test_registers_show_their_name(completer: ShellCompleter) -> None:
    (chip,) = complete(completer, "read sysctrl.chip_")
    assert chip.display_meta_text == "Chip Identification"


def test_fields_after_a_register_and_a_dot(completer: ShellCompleter) -> None:
    assert texts(completer, "read dma.ch[0].status.") == ["busy", "done", "err", "err_code"]
    assert texts(completer, "read dma.ch[0].status.d") == ["done"]
    assert applied(completer, "write dma.ch[0].ctrl.mo") == ["write dma.ch[0].ctrl.mode"]
    (done,) = complete(completer, "regs show dma.ch[0].status.do")
    assert "[1]" in done.display_meta_text


def test_paths_continue_after_a_star_index(completer: ShellCompleter) -> None:
    assert "status" in texts(completer, "read dma.ch[*].")


def test_assignments_after_a_glob_use_the_first_match(completer: ShellCompleter) -> None:
    assert texts(completer, "write dma.ch[*].ctrl m") == ["mode="]


def test_mesh_8x8_collapses_long_arrays(completer_8x8: ShellCompleter) -> None:
    noc = texts(completer_8x8, "read noc.")
    assert not [t for t in noc if re.match(r"router\[\d", t)]  # 64 routers: not listed
    assert "router[" in noc
    sixes = texts(completer_8x8, "read noc.router[6")
    assert {"router[6].", "router[60].", "router[63]."} <= set(sixes)
    assert "router[5]." not in sixes
    assert texts(completer_8x8, "read noc.router[63].co") == ["coord"]


def test_paths_come_from_the_targets_own_map(tiny_rdl: Path) -> None:
    session = Session(target=f"sim:{tiny_rdl}")
    try:
        c = ShellCompleter(session)
        assert sorted(texts(c, "read ")) == ["ctrl", "ident", "status"]
        assert texts(c, "write ctrl ") == ["go=", "color="]
        assert texts(c, "write ctrl color=") == ["RED", "GREEN", "BLUE"]
        assert texts(c, "read sysctrl.") == []
    finally:
        session.close()


# --- write: FIELD= and enum values -----------------------------------------------------------
def test_write_offers_writable_fields_with_equals(completer: ShellCompleter) -> None:
    assert texts(completer, "write dma.ch[0].ctrl ") == ["en=", "start=", "mode=", "irq_en=",
                                                         "reduce="]
    assert texts(completer, "write dma.ch[0].status ") == ["done=", "err="]  # busy is r
    assert texts(completer, "write sysctrl.chip_id ") == []
    assert texts(completer, "write intc.test_set m") == ["mbox="]
    assert texts(completer, "write dma.ch[0].ctrl en=1 ") == ["en=", "start=", "mode=",
                                                              "irq_en=", "reduce="]


def test_enum_names_after_field_equals(completer: ShellCompleter) -> None:
    assert texts(completer, "write dma.ch[0].ctrl mode=") == ["SINGLE", "CHAIN", "RING"]
    assert texts(completer, "write dma.ch[0].ctrl mode=r") == ["RING"]
    assert texts(completer, "write dma.ch[0].ctrl MODE=Ri") == ["RING"]
    assert texts(completer, "write dma.ch[0].ctrl mode=x") == []
    assert texts(completer, "write dma.ch[0].ctrl en=") == []  # no enum
    assert applied(completer, "write dma.ch[0].ctrl en=1 mode=ch") == [
        "write dma.ch[0].ctrl en=1 mode=CHAIN"]
    speeds = texts(completer, "write pcie.link_ctrl target_speed=gen")
    assert speeds == ["GEN1", "GEN2", "GEN3", "GEN4", "GEN5"]
    (ring,) = complete(completer, "write dma.ch[0].ctrl mode=RI")
    assert ring.display_meta_text.startswith("2")


# --- addresses, options, targets -------------------------------------------------------------
def test_peek_completes_memories_and_ampersand_paths(completer: ShellCompleter) -> None:
    plain = texts(completer, "peek ")
    assert {"sram", "dram", "sysctrl.", "dma."} <= set(plain)
    amp = texts(completer, "peek &")
    assert {"&sram", "&dram", "&dma.", "&sysctrl."} <= set(amp)
    assert applied(completer, "peek &dma.ch[1].l") == ["peek &dma.ch[1].len"]
    assert applied(completer, "poke &dm") == ["poke &dma."]
    assert "sram" in texts(completer, "poke s")
    assert set(texts(completer, "peek &sysctrl.p")) == {"&sysctrl.pll_ctrl",
                                                         "&sysctrl.pll_status"}


def test_options(completer: ShellCompleter) -> None:
    read_opts = texts(completer, "read --")
    assert "--json" in read_opts and all(o.startswith("--") for o in read_opts)
    assert texts(completer, "read dma --j") == ["--json"]
    assert {"--json", "--limit"} <= set(texts(completer, "regs list --"))
    assert "--width" in texts(completer, "peek --")
    # after an option that takes a value, a path is completed again
    assert "sram" in texts(completer, "peek --width 8 ")


def test_targets(completer: ShellCompleter) -> None:
    assert "sim" in texts(completer, "target ")
    assert texts(completer, "target S") == ["sim"]
    (sim,) = complete(completer, "target si")
    assert "model" in sim.display_meta_text


@pytest.mark.parametrize("text", [
    "frob ", "frob dma.", "regs frob ", "read ][..", "read dma.ch[0].status.done.x",
    "write nosuch.reg ", "write nosuch.reg mode=", "write dma.ch[0].ctrl nosuch=",
    "read dma.ch[99].", "peek &&", "read 'dma.c", "write dma.ch[0].ctrl mode==",
    "info ", "step ", "read dma.ch[0].status extra ",
])
def test_unknown_or_garbage_yields_no_completions(completer: ShellCompleter, text: str
                                                  ) -> None:
    assert texts(completer, text) == []


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_arbitrary_text_never_raises(completer: ShellCompleter, text: str) -> None:
    for cursor in {0, len(text) // 2, len(text)}:
        complete(completer, text, cursor)


WORDS = ["read", "write", "peek", "poke", "regs", "list", "show", "target", "help", "--json",
         "--width", "-w", "dma.", "ch[", "ch[*].", "[*]", "]", ".", "=", "&", "mode=", "RING",
         "status", "sram+", " ", "'", '"', "\\", "#", "\t", "[", "0x10", "*", "?", "[0:3]"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=4), max_size=8))
def test_command_like_text_never_raises(completer: ShellCompleter, parts: list[str]) -> None:
    text = "".join(parts)
    for c in complete(completer, text):
        assert -c.start_position <= len(text)
