"""``noc`` on a multi-chip system: ``--chip N`` reads ``chip[N].noc.*`` through the same code
path as on one chip, so the heat map of the chosen chip is the same on the simulator, in a
dump of the system and through ``socdbg serve``; a bad ``--chip`` is one line naming the
chips there are, and reads nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import session_support as ss
from session_support import error, run, script, serving, shown

from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.targets.recorder import RecordingTarget

ROOT = Path(__file__).resolve().parent.parent
SPEC = "sim:chips=2,topology=ring"
DMA_ON_CHIP_1 = ss.dma_4k(chip=1)  # 4 KiB from sram (node 0) to dram (node 15), on chip 1
FLITS = ss.DMA_4K_FLITS
ROUTE = ss.DMA_4K_ROUTE  # the XY route: east along row 0, then south down column 3


def data(session: Session, line: str) -> Any:
    return run(session, line + " --json").data


def lit(view: dict[str, Any]) -> dict[tuple[int, str], int]:
    return {(link["from"], link["dir"]): link["flits"] for link in view["links"]
            if link["flits"]}


@pytest.fixture
def system() -> Iterator[Session]:
    s = Session(out=io.StringIO(), width=120, target=SPEC)
    script(s, DMA_ON_CHIP_1)
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
    with serving(system) as port:
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
