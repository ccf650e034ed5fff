"""``trace start FILE.json``: a Chrome / Perfetto trace-event timeline of a simulator run.

The file is read back with json and checked for the shape Perfetto's and chrome://tracing's
JSON importers need (a ``traceEvents`` list; every event with ``ph``, ``pid``, ``tid`` or a
counter's ``pid``, ``ts`` in microseconds; ``process_name`` / ``thread_name`` metadata), and
its spans against what the simulator did: the DMA channel's MOVE span from the start cycle to
the done cycle, the NoC links of the route busy for exactly the flits the transfer took.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import session_support as ss

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.targets.sim import SimTarget

SETUP = """
step 2
write sysctrl.rst_ctrl dma_rst=0 noc_rst=0
write dma.global_ctrl enable=1
write dma.ch[0].src 0x10000000
write dma.ch[0].dst 0x80000000
write dma.ch[0].len 0x1000
"""
#: The XY route from sram (node 0) to dram (node 15) on the 4x4 mesh, into dram's router.
ROUTE = {f"noc.router[{r}].{d}" for r, d in ss.DMA_4K_ROUTE} | {"noc.router[15].LOCAL"}


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session(out=io.StringIO(), width=120)
    yield s
    s.close()


def run(session: Session, line: str) -> Any:
    return ss.run(session, line).data


def check_shape(doc: Any) -> list[dict[str, Any]]:
    """The JSON object format's rules, as the importers read them."""
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    assert doc["displayTimeUnit"] == "ns"
    events: list[dict[str, Any]] = doc["traceEvents"]
    for ev in events:
        assert ev["ph"] in {"M", "X", "i", "C"}, ev
        assert isinstance(ev["pid"], int) and isinstance(ev["name"], str)
        if ev["ph"] != "C":
            assert isinstance(ev["tid"], int), ev
        if ev["ph"] == "M":
            assert ev["name"] in {"process_name", "thread_name", "process_sort_index",
                                  "thread_sort_index"}
            assert isinstance(ev["args"], dict)
            continue
        assert isinstance(ev["ts"], int | float) and ev["ts"] >= 0
        if ev["ph"] == "X":
            assert isinstance(ev["dur"], int | float) and ev["dur"] >= 0
        if ev["ph"] == "i":
            assert ev["s"] == "t"
        if ev["ph"] == "C":
            assert all(isinstance(v, int | float) for v in ev["args"].values())
    return events


def thread_names(events: list[dict[str, Any]]) -> dict[tuple[int, int], str]:
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in events
            if e["ph"] == "M" and e["name"] == "thread_name"}


def test_a_dma_run_as_a_timeline(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    sim = session.target
    assert isinstance(sim, SimTarget)
    started = run(session, f"trace start {path} --json")
    assert started["dma_channels"] == 4 and started["noc_links"] == 64
    ss.script(session, SETUP)
    start = sim.now
    execute(session, "write dma.ch[0].ctrl en=1 mode=SINGLE start=1")
    done = run(session, "step --until 'dma.ch[0].status.done == 1'")["cycle"]
    execute(session, "step 10")
    stop = sim.now
    stopped = run(session, "trace stop --json")
    assert stopped["file"] == str(path) and not stopped["open"]

    events = check_shape(json.loads(path.read_text()))
    assert stopped["changes"] == sum(1 for e in events if e["ph"] != "M")
    procs = {e["pid"]: e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "process_name"}
    assert procs == {0: "chip 0"}
    names = thread_names(events)
    tids = {name: tid for (_, tid), name in names.items()}
    assert {f"dma.ch[{n}]" for n in range(4)} <= set(tids)
    assert len(names) == 4 + 64 and len(set(names.values())) == len(names)
    ch0 = tids["dma.ch[0]"]
    spans = [e for e in events if e["ph"] == "X" and e["tid"] == ch0]
    assert [(e["name"], e["ts"], e["ts"] + e["dur"]) for e in spans] == [
        ("MOVE", pytest.approx(start / 1000), pytest.approx(done / 1000))]
    assert spans[0]["args"]["bytes_done"] == 0x1000
    instants = [e["name"] for e in events if e["ph"] == "i" and e["tid"] == ch0]
    assert instants == ["start=SINGLE", "done=4096"]
    counter = [e["args"]["bytes"] for e in events
               if e["ph"] == "C" and e["name"] == "dma.ch[0].bytes_done"]
    assert counter[0] == 0 and counter[-1] == 0x1000
    # the NoC: the route's links carry every flit, in spans within the run; the rest nothing
    busy: dict[str, int] = {}
    for e in events:
        if e["ph"] == "X" and e["name"] == "busy":
            name = names[(e["pid"], e["tid"])]
            busy[name] = busy.get(name, 0) + e["args"]["flits"]
            assert round(e["dur"] * 1000) == e["args"]["flits"]
            assert start / 1000 <= e["ts"] and e["ts"] + e["dur"] <= stop / 1000
    assert busy == dict.fromkeys(ROUTE, ss.DMA_4K_FLITS)


def test_open_spans_close_at_the_stop(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    execute(session, f"trace start {path}")
    ss.script(session, SETUP)
    execute(session, "write dma.ch[0].len 0x100000")
    execute(session, "write dma.ch[0].ctrl en=1 mode=SINGLE start=1")
    execute(session, "step 500")
    stop = session.target.now  # type: ignore[attr-defined]
    execute(session, "trace stop")
    events = check_shape(json.loads(path.read_text()))
    moves = [e for e in events if e["ph"] == "X" and e["name"] == "MOVE"]
    assert len(moves) == 1 and moves[0]["args"]["open"] is True
    assert moves[0]["ts"] + moves[0]["dur"] == pytest.approx(stop / 1000)
    for e in events:
        if e["ph"] == "X" and e["name"] == "busy":
            assert e["ts"] + e["dur"] <= stop / 1000 + 1e-9


def test_a_timeline_needs_a_writable_file(session: Session, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write"):
        execute(session, f"trace start {tmp_path / 'no' / 'such.json'}")
    assert session.trace is None
