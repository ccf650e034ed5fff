"""``noc`` on a multi-chip system: ``--chip N`` reads ``chip[N].noc.*`` through the same code
path as on one chip, so the heat map of the chosen chip is the same on the simulator, in a
dump of the system and through ``socdbg serve``; a bad ``--chip`` is one line naming the
chips there are, and reads nothing."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, UsageError
from socdbg.server import ServeOptions, make_server
from socdbg.targets.recorder import RecordingTarget

ROOT = Path(__file__).resolve().parent.parent
SPEC = "sim:chips=2,topology=ring"
#: 4 KiB from sram (node 0) to dram (node 15 of the 4x4 mesh) on chip 1's channel 0.
DMA_ON_CHIP_1 = """
write chip[1].sysctrl.rst_ctrl dma_rst=0 noc_rst=0
write chip[1].dma.global_ctrl enable=1
write chip[1].dma.ch[0].src 0x10000000
write chip[1].dma.ch[0].dst 0x80000000
write chip[1].dma.ch[0].len 0x1000
write chip[1].dma.ch[0].ctrl en=1 mode=SINGLE start=1
step --until chip[1].dma.ch[0].status.done == 1
step 50
"""
FLITS = 0x1000 // 32
#: The XY route from node 0 to node 15: east along row 0, then south down column 3.
ROUTE = {(0, "E"), (1, "E"), (2, "E"), (3, "S"), (7, "S"), (11, "S")}


def run(session: Session, line: str) -> Any:
    output = execute(session, line)
    assert output is not None
    return output


def data(session: Session, line: str) -> Any:
    return run(session, line + " --json").data


def shown(session: Session, line: str) -> str:
    out = session.presenter.out
    assert isinstance(out, io.StringIO)
    out.seek(0)
    out.truncate()
    session.presenter.emit(run(session, line))
    return out.getvalue()


def error(session: Session, line: str) -> SocdbgError:
    with pytest.raises(SocdbgError) as info:
        execute(session, line)
    exc = info.value
    assert "\n" not in str(exc), str(exc)
    return exc


def lit(view: dict[str, Any]) -> dict[tuple[int, str], int]:
    return {(link["from"], link["dir"]): link["flits"] for link in view["links"]
            if link["flits"]}


@pytest.fixture
def system() -> Iterator[Session]:
    s = Session(out=io.StringIO(), width=120, target=SPEC)
    for line in DMA_ON_CHIP_1.strip().splitlines():
        execute(s, line)
    yield s
    s.close()


def test_noc_shows_the_chosen_chips_counters(system: Session) -> None:
    one = data(system, "noc --chip 1 --since reset")
    assert one["chip"] == 1 and one["mesh"] == {"x": 4, "y": 4}
    assert lit(one) == dict.fromkeys(ROUTE, FLITS)
    ejected = {r["router"]: r["ports"]["LOCAL"]["flits"] for r in one["routers"]}
    assert ejected == {i: FLITS if i == 15 else 0 for i in range(16)}
    cycle = one["cycle"]
    assert cycle == system.target.now  # type: ignore[attr-defined]
    assert one["max"] == pytest.approx(FLITS / cycle)
    # chip 0 (the default) moved nothing; its window is its own, not chip 1's last view
    zero = data(system, "noc")
    assert zero["chip"] == 0 and lit(zero) == {} and zero["max"] == 0
    assert zero["window"]["since"] == "since the simulator started"
    text = shown(system, "noc --chip 1 --since reset")
    assert "chip[1].noc 4x4 mesh: flits per cycle" in text
    assert f"R0   →{FLITS / cycle:.2f}" in text


def test_noc_on_a_dump_of_the_system(system: Session, tmp_path: Path) -> None:
    path = tmp_path / "system.json"
    run(system, f"dump -o {path}")
    dumped = Session(target=f"dump:{path}", out=io.StringIO(), width=120)
    try:
        view = data(dumped, "noc --chip 1")
        assert view["cycle"] is None and view["unit"] == "flits"
        assert lit(view) == dict.fromkeys(ROUTE, FLITS)
        assert lit(data(dumped, "noc")) == {}
        assert f"R0   →{FLITS}" in shown(dumped, "noc --chip 1")
        assert "--chip '5': the system has chips 0..1" in error(dumped, "noc --chip 5").message
    finally:
        dumped.close()


def test_noc_of_a_system_through_serve(system: Session) -> None:
    srv, _ = make_server(system, "127.0.0.1", 0, options=ServeOptions())
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    port = srv.server_address[1]
    client = Session(target=f"gdb://127.0.0.1:{port}", out=io.StringIO(), width=120)
    # the stub does not say it is a system: the client opens the system's map
    mapped = Session(target=f"gdb://127.0.0.1:{port}", out=io.StringIO(), width=120,
                     map_files=[str(ROOT / "registers" / "system.rdl")])
    try:
        exc = error(client, "noc --chip 1")
        assert "one chip" in exc.message and "--map registers/system.rdl" in str(exc.hint)
        view = data(mapped, "noc --chip 1")
        assert lit(view) == dict.fromkeys(ROUTE, FLITS)
        assert view["cycle"] == system.target.now  # type: ignore[attr-defined]
    finally:
        mapped.close()
        client.close()
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize(("line", "message", "hint"), [
    ("noc --chip 2", "--chip '2': the system has chips 0..1", "noc --chip 1"),
    ("noc --chip -1", "--chip '-1': the system has chips 0..1", "did you mean '1'"),
    ("noc --chip one", "--chip 'one': the system has chips 0..1", "noc --chip 1"),
])
def test_a_bad_chip_is_one_line_and_reads_nothing(system: Session, line: str, message: str,
                                                  hint: str) -> None:
    rec = RecordingTarget(system.target)
    system._target = rec
    exc = error(system, line)
    assert isinstance(exc, UsageError)
    assert exc.message == message and exc.hint is not None and hint in exc.hint
    assert rec.log == []


def test_chip_on_a_single_chip_map() -> None:
    one = Session(out=io.StringIO(), target="sim")
    try:
        exc = error(one, "noc --chip 0")
        assert "not a multi-chip system" in exc.message
    finally:
        one.close()


def test_traffic_and_trace_on_a_system(system: Session, tmp_path: Path) -> None:
    before = data(system, "noc --chip 1")
    out = data(system, "noc traffic uniform 0.05 --cycles 200 --warmup 50")
    assert out["mesh"] == {"x": 4, "y": 4} and out["accepted"] > 0
    assert data(system, "noc --chip 1")["routers"] == before["routers"]  # chips untouched
    exc = error(system, f"trace start {tmp_path / 'x.vcd'}")
    assert "FILE.json" in str(exc)
