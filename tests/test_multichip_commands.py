"""The multi-chip commands on a 4-chip ring: ``links`` from registers, ``fault`` into the
model and back out through the registers, ``collective`` refusing what it cannot run before
touching the target, and ``trace`` of a system as a timeline."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, UsageError
from socdbg.targets.recorder import RecordingTarget

SPEC = "sim:chips=4,topology=ring"


@pytest.fixture
def system() -> Iterator[Session]:
    s = Session(out=io.StringIO(), width=120, target=SPEC)
    yield s
    s.close()


def run(session: Session, line: str) -> Any:
    out = execute(session, line)
    assert out is not None
    return out


def data(session: Session, line: str) -> Any:
    return run(session, line + " --json").data


def bring_up(session: Session) -> None:
    """Every link trained, through the registers (what collective --init does)."""
    for chip in range(4):
        for port in range(2):
            execute(session, f"write chip[{chip}].c2c.port[{port}].ctrl train=1")
    execute(session, "step 2500")


def test_links_from_registers(system: Session) -> None:
    before = data(system, "links")
    assert [(x["link"], x["peer_chip"], x["state"]) for x in before["links"][:2]] == [
        ("chip[0].c2c.port[0]", 1, "DOWN"), ("chip[0].c2c.port[1]", 3, "DOWN")]
    bring_up(system)
    after = data(system, "links")
    assert {x["state"] for x in after["links"]} == {"UP"} and len(after["links"]) == 8
    assert all(x["bw"] == 32 and x["latency"] == 200 and x["util"] == 0 for x in after["links"])
    text = run(system, "links --chips 1").text
    assert "chip[1].c2c.port[0]" in text and "chip[0]" not in text.split("\n", 2)[2]


def test_faults_go_into_the_model_and_read_back(system: Session) -> None:
    bring_up(system)
    assert run(system, "fault").text == "no faults injected"
    assert run(system, "fault link 1:0 down").text == "chip[1].c2c.port[0] (to chip 2): held down"
    run(system, "fault link chip[2].c2c.port[1] bw 25")
    run(system, "fault link 3:0 crc 50")
    run(system, "fault dma 0:2 stall")
    listed = data(system, "fault")
    assert listed == {"links": [{"link": "chip[1].c2c.port[0]", "faults": ["down"]},
                                {"link": "chip[2].c2c.port[1]", "faults": ["bw 25%"]},
                                {"link": "chip[3].c2c.port[0]", "faults": ["crc every 50"]}],
                      "stalled": ["chip[0].dma.ch[2]"]}
    # the registers say so: the fault register and the link's state
    assert data(system, "read chip[1].c2c.port[0].fault.down")["value"] == 1
    assert data(system, "read chip[0].c2c.dma_stall.ch")["value"] == 0b100
    links = {x["link"]: x for x in data(system, "links")["links"]}
    assert links["chip[1].c2c.port[0]"]["state"] == "FAILED"
    assert links["chip[2].c2c.port[1]"]["faults"] == ["bw 25%"]
    status = data(system, "collective status")
    assert {x["link"] for x in status["links"]} >= {"chip[1].c2c.port[0]",
                                                    "chip[2].c2c.port[1]"}
    assert run(system, "fault clear").text == "4 fault(s) cleared"
    assert run(system, "fault").text == "no faults injected"


@pytest.mark.parametrize(("line", "message"), [
    ("fault link 9:0 down", "chips 0..3, not 9"),
    ("fault link 1:2 down", "ports 0..1, not 2"),
    ("fault link 1:0 bw 0", "must be 1..99"),
    ("fault link 1:0 bw 100", "must be 1..99"),
    ("fault link 1:0 down 3", "takes no value"),
    ("fault link x down", "is not a port"),
    ("fault dma 1:8 stall", "channels 0..7, not 8"),
])
def test_bad_faults_change_nothing(system: Session, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        execute(system, line)
    assert run(system, "fault").text == "no faults injected"


def test_fault_needs_a_system() -> None:
    one = Session(out=io.StringIO(), target="sim")
    try:
        with pytest.raises(UsageError, match="not a multi-chip simulator"):
            execute(one, "fault link 0:0 down")
        with pytest.raises(UsageError, match="not a multi-chip system"):
            execute(one, "collective allreduce")
        with pytest.raises(UsageError, match="not a multi-chip system"):
            execute(one, "links")
    finally:
        one.close()


@pytest.mark.parametrize(("line", "message"), [
    ("collective allreduce --chips 0-4", "chips 0..3, not 4"),
    ("collective allreduce --chips 2", "at least 2 chips"),
    ("collective allreduce --sizes 1M..1K", "must go up"),
    ("collective allreduce --sizes lots", "not a size"),
    ("collective allreduce --algo rhd --chips 0-2", "power-of-two"),
    ("collective allgather --algo rhd", "no algorithm 'rhd'"),
    ("collective allreduce --timeout 0", "not a cycle count"),
    ("collective alltoall --sizes 1G", "needs 2,147,483,648 bytes of DRAM"),
])
def test_collectives_refused_before_any_access(system: Session, line: str,
                                               message: str) -> None:
    rec = RecordingTarget(system.target)
    system.use_target(rec)
    with pytest.raises(SocdbgError, match=message):
        execute(system, line)
    assert rec.changes() == []


def test_a_system_timeline_has_a_track_per_chip_channel_and_link(system: Session,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "system.json"
    execute(system, f"trace start {path}")
    bring_up(system)
    execute(system, "trace stop")
    doc = json.loads(path.read_text())
    names = {(e["pid"], e["args"]["name"]) for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] in ("process_name", "thread_name")}
    assert {(c, f"chip {c}") for c in range(4)} <= names
    assert {(c, f"dma.ch[{n}]") for c in range(4) for n in range(4)} <= names
    assert (0, "c2c.port[0] -> chip 1") in names and (0, "c2c.port[1] -> chip 3") in names
    with pytest.raises(UsageError, match="timeline"):
        execute(system, f"trace start {tmp_path / 'system.vcd'}")


def test_a_timeline_of_a_collective_shows_every_byte_on_its_link(system: Session,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    execute(system, f"trace start {path}")
    out = run(system, "collective allreduce --init --sizes 256K")
    assert out.ok
    execute(system, "trace stop")
    events = json.loads(path.read_text())["traceEvents"]
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
               if e["ph"] == "M" and e["name"] == "thread_name"}
    sent: dict[str, int] = {}
    for e in events:
        if e["ph"] == "X" and threads[(e["pid"], e["tid"])].startswith("c2c.port"):
            port = threads[(e["pid"], e["tid"])].split()[0]
            key = f"chip[{e['pid']}].{port}"
            sent[key] = sent.get(key, 0) + e["args"]["bytes"]
            assert e["name"] == "to chip " + threads[(e["pid"], e["tid"])].split()[-1]
    links = {x["link"]: x["tx_bytes"] for x in data(system, "links")["links"]}
    assert sent == {k: v for k, v in links.items() if v}
    assert sent == {f"chip[{c}].c2c.port[0]": 6 * (256 << 10) // 4 for c in range(4)}
    moves = [e for e in events if e["ph"] == "X" and e["name"] == "MOVE"]
    assert {e["pid"] for e in moves} == {0, 1, 2, 3} and len(moves) == 4 * 6
