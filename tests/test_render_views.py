"""Every rich view of socdbg/render/ rendered into a captured console (rich's own test style:
``Console(file=io.StringIO(), width=100)``), asserting on the text a user reads. The views are
built from real commands on the simulator where a command makes them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.postmortem import FieldChange
from socdbg.regmap import RegMap
from socdbg.render.checks import Mismatch, MismatchTable
from socdbg.render.postmortem import DiffView


def shown(renderable: Any) -> str:
    console = Console(file=io.StringIO(), width=100)
    console.print(renderable)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session(target="sim", out=io.StringIO())
    try:
        yield s
    finally:
        s.close()


def view(session: Session, line: str) -> str:
    out = execute(session, line)
    assert out is not None and out.render is not None, f"{line}: no rich view"
    return shown(out.render())


def test_register_value_lists_each_field_with_its_bits(session: Session) -> None:
    text = view(session, "read sysctrl.chip_id")
    assert text.startswith("sysctrl.chip_id  0x40000000  = 0x5d0c0a01")
    assert "[31:16]  vendor" in text and "0x5d0c (23820)" in text
    assert " [15:0]  part" in text and "0xa01 (2561)" in text


def test_register_values_is_one_row_per_register(session: Session) -> None:
    execute(session, "write dma.ch[2].status done=1")  # woclr: writing 1 clears, stays 0
    text = view(session, "read dma.ch[*].status")
    rows = [ln for ln in text.splitlines() if ln.startswith("dma.ch[")]
    assert [r.split()[0] for r in rows] == [f"dma.ch[{i}].status" for i in range(4)]
    assert "0x400101c4" in rows[3] and "err_code=NONE err=0 done=0 busy=0" in rows[3]


def test_register_list_and_layout(session: Session) -> None:
    listing = view(session, "regs list dma.ch[0].*")
    assert listing.splitlines()[0].split()[:4] == ["register", "address", "bits", "reset"]
    assert "dma.ch[0].src         0x40010108    64  0x0000000000000000" in listing
    layout = view(session, "regs show dma.ch[0].status")
    assert layout.startswith("dma.ch[0].status  0x40010104  32 bits  reset 0x00000000")
    assert "NONE=0 UNMAPPED=1 MISALIGNED=2 ZERO_LEN=3" in layout
    assert "woclr" in layout and max(len(ln) for ln in layout.splitlines()) <= 100


def test_search_results_say_what_matched(session: Session) -> None:
    text = view(session, "find chip_id")
    assert text.splitlines()[1].split() == ["sysctrl.chip_id", "0x40000000", "path"]


def test_dma_view_says_why_a_start_would_be_ignored(session: Session) -> None:
    text = view(session, "dma")
    assert [ln.split() for ln in text.splitlines()[1:5]] == [[str(i), "reset"]
                                                            for i in range(4)]
    assert "the DMA engine is held in reset (sysctrl.rst_ctrl.dma_rst = 1)" in text


def test_noc_heat_map_and_traffic_report(session: Session) -> None:
    heat = view(session, "noc")
    assert heat.startswith("NoC 4x4 mesh: flits per cycle")
    assert "y3  R12  →0  R13  →0  R14  →0  R15" in heat and "no traffic on any link" in heat
    report = view(session, "noc traffic uniform 0.05 --cycles 200 --warmup 10")
    assert report.startswith("uniform traffic, 4x4 mesh")
    assert "offered           0.050    flits/node/cycle" in report
    assert "link utilisation in the measured window" in report and "busiest links:" in report


def test_butr_view_lists_the_checks_with_all(session: Session) -> None:
    summary = view(session, "butr sysctrl")
    assert summary.strip().startswith("12 checks passed, 0 failed (7 registers tested")
    listed = view(session, "butr sysctrl --all")
    assert listed.splitlines()[0].split()[:3] == ["register", "check", "result"]
    assert "sysctrl.revision    read-only   pass" in listed


def test_diff_view_shows_field_changes_and_one_sided_registers() -> None:
    change = FieldChange("dma.ch[0].ctrl", 0x40010100, "enable", "0", "1")
    text = shown(DiffView("a.json", "b.json", [change], ["gone.reg"], [], ["a note"]))
    assert "1 register(s) differ" in text and "A = a.json" in text
    assert "dma.ch[0].ctrl  0x40010100  enable  0  1" in text
    assert "only in a.json: gone.reg" in text and "note: a note" in text


def test_mismatch_table_splits_a_register_into_its_fields(ref_map: RegMap) -> None:
    rows = [Mismatch("t.sdbg:3", "sysctrl.chip_id", None, 0x5D0C0A01, 0x5D0C0A02)]
    text = shown(MismatchTable(ref_map, rows))
    assert "t.sdbg:3  sysctrl.chip_id  part   0xa01     0xa02" in text
    assert "vendor" not in text  # the field that matches is not a mismatch
