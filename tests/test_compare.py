"""run --compare A B: one script on two targets, the first access that differs."""

from __future__ import annotations

import io
from pathlib import Path

from socdbg.commands.compare import Access, Trace, first_difference
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.regmap import RegMap

ROOT = Path(__file__).resolve().parents[1]


def test_the_same_target_twice_agrees() -> None:
    buf = io.StringIO()
    session = Session(out=buf)
    out = execute(session, f"run --compare sim sim {ROOT / 'scripts' / 'bringup.sdbg'}")
    assert out is not None and out.ok
    assert "no difference: " in buf.getvalue()


def test_a_timing_difference_names_the_line_and_both_results() -> None:
    buf = io.StringIO()
    session = Session(out=buf)
    out = execute(session, f"run --compare sim sim:mesh=2x2 {ROOT / 'scripts' / 'bringup.sdbg'}")
    assert out is not None and not out.ok
    text = buf.getvalue()
    assert "bringup.sdbg:45: poll dma.ch[0].status.done == 1 --timeout 0.001" in text
    assert "  sim: until dma.ch[0].status.done == 1: held after 15 cycles" in text
    assert "  sim:mesh=2x2: until dma.ch[0].status.done == 1: held after 7 cycles" in text


def test_a_data_difference_names_register_and_fields(ref_map: RegMap) -> None:
    reg = ref_map.get("dma.ch[0].status")
    a, b = Trace("A"), Trace("B")
    a.accesses.append(Access("s.sdbg:1: x", "read", 0x4000_0000, 12, bytes(12)))
    b.accesses.append(Access("s.sdbg:1: x", "read", 0x4000_0000, 12, bytes(12)))
    a.accesses.append(Access("s.sdbg:2: read dma.ch[0].status", "read", reg.address, 4,
                             (0x2).to_bytes(4, "little")))
    b.accesses.append(Access("s.sdbg:2: read dma.ch[0].status", "read", reg.address, 4,
                             (0x104).to_bytes(4, "little")))
    diff = first_difference(ref_map, a, b)
    assert diff is not None and diff.index == 1
    assert diff.register == "dma.ch[0].status"
    assert diff.fields == ("dma.ch[0].status.done", "dma.ch[0].status.err",
                           "dma.ch[0].status.err_code")
    assert "done (A 1, B 0)" in diff.text and "err_code (A NONE, B UNMAPPED)" in diff.text
    b.accesses.append(Access("s.sdbg:3: step 1", "time", 0, 0, text="step 1"))
    a.accesses[1] = b.accesses[1]
    diff = first_difference(ref_map, a, b)
    assert diff is not None and "only B went on: step 1" in diff.text
    assert first_difference(ref_map, a, a) is None
