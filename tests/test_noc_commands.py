"""The ``noc`` heat map and ``noc traffic``.

``noc`` reads the mesh from registers only, so the same DMA run must look the same on the
simulator, through ``socdbg serve`` and the gdb target, and in a dump of it. ``noc traffic``
must give exactly the numbers of ``run_traffic`` on a mesh built like the simulator's, and leave
the simulator alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import session_support as ss
from session_support import error, run, script, serving, shown

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.models.noc import Mesh
from socdbg.models.traffic import hotspot, run_traffic
from socdbg.server import ServeOptions
from socdbg.targets.sim import SimTarget

DMA_RUN = ss.dma_4k()  # 4 KiB from sram (node 0) to dram (node 15 of the 4x4 mesh)
FLITS = ss.DMA_4K_FLITS
ROUTE = ss.DMA_4K_ROUTE  # the XY route: east along row 0, then south down column 3


def data(session: Session, line: str) -> Any:
    return run(session, line).data


def sim_of(session: Session) -> SimTarget:
    target = session.target
    target = getattr(target, "inner", target)  # a served simulator is wrapped read-only
    assert isinstance(target, SimTarget)
    return target


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session(out=io.StringIO(), width=120)
    yield s
    s.close()


@pytest.fixture
def after_dma(session: Session) -> Session:
    script(session, DMA_RUN)
    return session


# --- noc ---------------------------------------------------------------------------------------
def check_route(view: dict[str, Any]) -> None:
    lit = {(link["from"], link["dir"]): link["flits"] for link in view["links"]}
    assert {k for k, v in lit.items() if v} == ROUTE
    assert all(lit[k] == FLITS for k in ROUTE)
    ejected = {r["router"]: r["ports"]["LOCAL"]["flits"] for r in view["routers"]}
    assert ejected == {i: FLITS if i == 15 else 0 for i in range(16)}
    assert all(link["stalls"] == 0 and link["buf_occ"] == 0 for link in view["links"])


def test_noc_view_lights_the_dma_route(after_dma: Session) -> None:
    view = data(after_dma, "noc --json --since reset")
    check_route(view)
    cycle = sim_of(after_dma).now
    assert view["cycle"] == cycle and view["unit"] == "flits/cycle"
    for link in view["links"]:
        assert link["value"] == pytest.approx(link["flits"] / cycle)
    assert view["max"] == pytest.approx(FLITS / cycle)
    text = shown(after_dma, "noc")
    assert (f"NoC 4x4 mesh: flits per cycle over cycles 0..{cycle:,} ({cycle:,}, since the "
            "simulator started)") in text
    value = f"{FLITS / cycle:.2f}"
    assert f"R0   →{value}" in text and f"↓{value}" in text and f"L{value}" in text
    assert "North is y-1" in text and "busiest links: R0 E" in text


def test_noc_json_shape(after_dma: Session) -> None:
    view = data(after_dma, "noc --json --metric occupancy")
    assert view["mesh"] == {"x": 4, "y": 4}
    assert view["metric"] == "occupancy" and view["unit"] == "flits"
    assert len(view["routers"]) == 16
    assert len(view["links"]) == 2 * 3 * 4 * 2  # 3 links per row and column, both ways
    r5 = view["routers"][5]
    assert (r5["router"], r5["x"], r5["y"]) == (5, 1, 1)
    assert list(r5["ports"]) == ["N", "E", "S", "W", "LOCAL"]
    assert all(set(p) == {"flits", "stalls", "buf_occ"} for p in r5["ports"].values())
    north = next(link for link in view["links"] if link["from"] == 5 and link["dir"] == "N")
    assert north["to"] == 1  # North is y - 1
    assert {link["dir"] for link in view["links"] if link["from"] == 0} == {"E", "S"}


def test_noc_metrics_and_text(after_dma: Session) -> None:
    stalls = shown(after_dma, "noc --metric stalls")
    assert "stall cycles per cycle" in stalls and "no traffic on any link" in stalls
    occ = shown(after_dma, "noc --metric occupancy")
    assert "flits buffered at cycle" in occ
    assert isinstance(error(after_dma, "noc --metric heat"), UsageError)


def test_noc_view_on_a_dump(after_dma: Session, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    run(after_dma, f"dump -o {path}")
    dumped = Session(target=f"dump:{path}", out=io.StringIO(), width=120)
    try:
        view = data(dumped, "noc --json")
        check_route(view)
        assert view["cycle"] is None and view["unit"] == "flits"
        assert all(link["value"] == link["flits"] for link in view["links"])
        text = shown(dumped, "noc")
        assert "counts: the target has no simulated time" in text
        assert f"R0   →{FLITS}" in text
        exc = error(dumped, "noc traffic uniform 0.1 --cycles 10")
        assert "not a simulator" in exc.message and exc.hint and "sim:mesh" in exc.hint
    finally:
        dumped.close()


@pytest.fixture
def served(after_dma: Session) -> Iterator[tuple[Session, Session]]:
    """The DMA-run simulator behind an in-process socdbg serve, and a session on it."""
    # `monitor trace start` writes a file on the server's host: it needs --allow-host-files
    options = ServeOptions(allow_writes=True, allow_host_files=True)
    with serving(after_dma, options) as port:
        client = Session(target=f"gdb://127.0.0.1:{port}", out=io.StringIO(), width=120)
        try:
            yield after_dma, client
        finally:
            client.close()


def test_noc_view_through_serve(served: tuple[Session, Session], tmp_path: Path) -> None:
    host, client = served
    view = data(client, "noc --json")
    check_route(view)
    assert view["cycle"] == sim_of(host).now  # the served sim's time
    assert view == data(host, "noc --json")
    exc = error(client, "trace start x.vcd")
    assert "not a simulator" in exc.message and exc.hint and "monitor trace" in exc.hint
    # ... and the hint works: the server's own session traces its simulator
    vcd = tmp_path / "served.vcd"
    assert "tracing to" in data(client, f"monitor trace start {vcd}")["output"]
    assert "wrote" in data(client, "monitor trace stop")["output"]
    assert vcd.read_text().startswith("$comment")


def test_noc_needs_a_noc(tiny_rdl: Path) -> None:
    s = Session(target=f"sim:{tiny_rdl}", out=io.StringIO())
    try:
        assert "has no NoC" in error(s, "noc").message
        assert "not a simulator" not in error(s, "noc traffic uniform 0.1 --cycles 10").message
    finally:
        s.close()


# --- noc traffic -------------------------------------------------------------------------------
def stats_match(got: dict[str, Any], stats: Any) -> None:
    for name in ("offered", "injected", "accepted", "latency_mean", "latency_p99",
                 "latency_max", "packets", "undelivered", "end_cycle", "flit_hops"):
        assert got[name] == getattr(stats, name), name
    assert got["link_util"] == [list(row) for row in stats.link_util]


def test_traffic_agrees_with_run_traffic(session: Session) -> None:
    sim = sim_of(session)
    now = sim.now
    got = data(session, "noc traffic uniform 0.3 --cycles 600 --warmup 200 --seed 7 --json")
    stats_match(got, run_traffic(Mesh(4, 4), "uniform", 0.3, 600, 200, 4, seed=7))
    assert got["bound"] == 1.0 and got["k"] == 4
    assert got["accepted_pct_of_bound"] == pytest.approx(100 * got["accepted"])
    assert (got["routing"], got["buffer_depth"], got["packet_flits"]) == ("XY", 8, 4)
    # the chip's own mesh and clock are untouched
    mesh = sim.context.mesh
    assert sim.now == now and mesh.sent == 0 and mesh.counters().total_flits() == 0
    text = shown(session, "noc traffic uniform 0.3 --cycles 600 --warmup 200 --seed 7")
    assert "uniform traffic, 4x4 mesh (XY, 8-flit buffers" in text
    assert f"{got['accepted']:.3f}" in text and "channel-load bound" in text
    assert "link utilisation in the measured window" in text and "R15" in text


def test_traffic_copies_the_simulators_mesh() -> None:
    s = Session(target="sim:mesh=8x8,noc_buf=4", out=io.StringIO())
    try:
        execute(s, "write noc.ctrl routing=YX")
        got = data(s, "noc traffic hotspot 0.1 --cycles 300 --warmup 100 --packet 2 "
                      "--node 9 --fraction 0.25 --json")
        stats_match(got, run_traffic(Mesh(8, 8, buffer_depth=4, routing="YX"),
                                     hotspot(9, 0.25), 0.1, 300, 100, 2, seed=0))
        # the hotspot's ejection channel takes 64 * 0.25 + 0.75 flits per unit offered
        assert (got["routing"], got["buffer_depth"], got["k"]) == ("YX", 4, 8)
        assert got["bound"] == pytest.approx(1 / (64 * 0.25 + 0.75))
        assert (got["node"], got["fraction"]) == (9, 0.25)
        got = data(s, "noc traffic transpose 0.05 --cycles 200 --warmup 1 --json")
        stats_match(got, run_traffic(Mesh(8, 8, buffer_depth=4, routing="YX"), "transpose",
                                     0.05, 200, 1, 4, seed=0))
        assert got["bound"] == pytest.approx(1 / 7)
    finally:
        s.close()


BAD_TRAFFIC = [
    ("noc traffic unifrom 0.1 --cycles 10", "unknown traffic pattern 'unifrom'",
     "did you mean 'uniform'?"),
    ("noc traffic uniform 1.5 --cycles 10", "rate '1.5' is not in 0..1", None),
    ("noc traffic uniform -0.1 --cycles 10", "rate '-0.1' is not in 0..1", None),
    ("noc traffic uniform lots --cycles 10", "rate 'lots' is not in 0..1", None),
    ("noc traffic uniform nan --cycles 10", "rate 'nan' is not in 0..1", None),
    ("noc traffic uniform 0.1 --cycles 0", "--cycles '0' must be an integer", None),
    ("noc traffic uniform 0.1 --cycles 10 --packet 0", "--packet '0'", None),
    ("noc traffic uniform 0.1 --cycles 10 --warmup 0", "--warmup '0' must be", None),
    ("noc traffic uniform 0.1", "Missing option '--cycles'", "help noc"),
    ("noc traffic hotspot 0.1 --cycles 10", "hotspot traffic needs --node N and --fraction F",
     None),
    ("noc traffic hotspot 0.1 --cycles 10 --node 16 --fraction 0.5",
     "hotspot node 16 is out of range", None),
    ("noc traffic hotspot 0.1 --cycles 10 --node 1 --fraction 2", "--fraction '2'", None),
    ("noc traffic uniform 0.1 --cycles 10 --node 3", "for hotspot traffic only", None),
]


@pytest.mark.parametrize(("line", "message", "hint"), BAD_TRAFFIC)
def test_bad_traffic_arguments(session: Session, line: str, message: str,
                               hint: str | None) -> None:
    exc = error(session, line)
    assert message in exc.message
    if hint is not None:
        assert exc.hint is not None and hint in exc.hint
    mesh = sim_of(session).context.mesh
    assert mesh.sent == 0


def test_transpose_needs_a_square_mesh() -> None:
    s = Session(target="sim:mesh=4x2", out=io.StringIO())
    try:
        exc = error(s, "noc traffic transpose 0.1 --cycles 10")
        assert "transpose traffic needs a square mesh, not 4x2" in exc.message
        assert exc.hint == "for example sim:mesh=4x4"
        assert data(s, "noc --json")["mesh"] == {"x": 4, "y": 2}
    finally:
        s.close()


def test_wide_meshes_draw_compactly() -> None:
    s = Session(target="sim:mesh=16x16", out=io.StringIO(), width=100)
    try:
        script(s, DMA_RUN)
        text = shown(s, "noc")
        assert "NoC 16x16 mesh" in text and "█" in text and "░ ≤25%" in text
        assert max(len(line) for line in text.splitlines()) <= 100
        assert "busiest links: R0 E" in text
    finally:
        s.close()
