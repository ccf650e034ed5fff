"""The cycle-by-cycle array model of the mesh (socdbg.models.noc.cycles), the fast path of
synthetic traffic, against the event-driven mesh it must equal with one virtual channel:
every delivery (the latency of every measured packet), every counter, the cycle the run
stopped at; and what virtual channels change."""

from __future__ import annotations

import math
import random

import pytest

from socdbg.models.noc import Mesh
from socdbg.models.noc.cycles_run import run_slots
from socdbg.models.options import SimOptions
from socdbg.models.traffic import (
    Pattern,
    channel_load_bound,
    hotspot,
    run_traffic,
    transpose,
    uniform,
)


def _both(kw: dict[str, object], pattern: Pattern, rate: float, flits: int, seed: int,
          cycles: int = 150, warmup: int = 40) -> None:
    runs = []
    for engine in ("events", "cycles"):
        mesh = Mesh(**kw)  # type: ignore[arg-type]
        stats = run_traffic(mesh, pattern, rate, cycles=cycles, warmup=warmup,
                            packet_flits=flits, seed=seed, engine=engine)
        runs.append((stats, mesh))
    (ev, mesh), (cy, _) = runs
    assert cy == ev
    assert cy.latencies == ev.latencies  # every measured delivery, not just the summary
    # every counter at the end of the run: the same slot loop on the arrays directly
    nodes = mesh.nodes
    p = rate / flits
    limit = warmup + cycles + 4 * (warmup + cycles)
    rng = random.Random(seed)
    pattern.picker(mesh, rng)  # (draws nothing: the kernel draws the same numbers)
    got = run_slots(mesh.size_x, mesh.size_y, vcs=1, buffer_depth=mesh.buffer_depth,
                    router_delay=mesh.router_delay, link_delay=mesh.link_delay,
                    inject_delay=mesh.inject_delay, eject_delay=mesh.eject_delay,
                    routing=mesh.routing, pattern=pattern.name, hotspot=pattern.hotspot,
                    fraction=pattern.fraction, packet_flits=flits, rate_p=p, rng=rng, t0=0,
                    start=warmup, end=warmup + cycles, horizon=(limit + 1) * nodes)
    ref = mesh.counters()
    assert got.end_cycle == ref.cycle == ev.end_cycle
    assert got.flits == [f for row in ref.flits for f in row]
    assert got.stalls == [s for row in ref.stalls for s in row]
    assert sorted(got.latencies) == list(ev.latencies)


@pytest.mark.parametrize("seed", range(12))
def test_one_vc_equals_the_event_driven_mesh_on_random_mixes(seed: int) -> None:
    r = random.Random(1000 + seed)
    side_x, side_y = r.randint(2, 6), r.randint(1, 6)
    name = r.choice(["uniform", "uniform", "transpose", "hotspot"])
    if name == "transpose":
        side_y = side_x
    nodes = side_x * side_y
    pattern = {"uniform": uniform(), "transpose": transpose(),
               "hotspot": hotspot(r.randrange(nodes), r.choice([0.2, 0.5]))}[name]
    kw: dict[str, object] = {
        "size_x": side_x, "size_y": side_y, "router_delay": r.randint(1, 3),
        "link_delay": r.randint(1, 3), "buffer_depth": r.choice([1, 2, 3, 4, 8]),
        "routing": r.choice(["XY", "YX"]), "inject_delay": r.choice([0, 0, 1, 2]),
        "eject_delay": r.choice([0, 0, 1, 3])}
    _both(kw, pattern, r.choice([0.05, 0.2, 0.5, 0.9, 1.0]), r.randint(1, 6), seed)


@pytest.mark.parametrize(("rate", "flits"), [(0.1, 1), (0.1, 4), (0.8, 1), (0.8, 4)])
def test_one_vc_equals_the_event_driven_mesh_8x8(rate: float, flits: int) -> None:
    """The benchmark's configurations, below and past saturation."""
    _both({"size_x": 8, "size_y": 8}, uniform(), rate, flits, seed=5, cycles=200)


def test_auto_takes_the_cycles_and_leaves_the_mesh_alone() -> None:
    mesh = Mesh(4, 4)
    stats = run_traffic(mesh, "uniform", 0.3, cycles=100, warmup=20)
    assert mesh.sent == 0 and mesh.now == 0  # the arrays ran it, not the mesh
    assert stats == run_traffic(Mesh(4, 4), "uniform", 0.3, cycles=100, warmup=20,
                                engine="events")


def test_progress_is_reported_from_the_kernel() -> None:
    seen: list[int] = []
    run_traffic(Mesh(4, 4), "uniform", 0.1, cycles=5000, warmup=1000, on_cycle=seen.append,
                engine="cycles")
    assert seen == sorted(seen) and len(seen) >= 4 and seen[-1] >= 5000


def test_two_virtual_channels_lift_saturation_as_booksim2_shows() -> None:
    """8x8 uniform, 4-flit packets, 8-flit buffers: one VC saturates at about 0.68 of the
    channel-load bound 4/k, two VCs at about 0.80 (BookSim2's figures, issue 19)."""
    got = {}
    for vcs in (1, 2):
        mesh = Mesh(8, 8, vcs=vcs)
        stats = run_traffic(mesh, "uniform", 0.8, cycles=1500, warmup=500, seed=1)
        got[vcs] = stats.accepted / channel_load_bound(mesh, uniform())
    assert 0.64 <= got[1] <= 0.71
    assert 0.76 <= got[2] <= 0.84


def test_virtual_channels_keep_zero_load_latency() -> None:
    """A lone packet does not care how many VCs there are: the latency formula holds (at
    this load nearly every packet is alone; transpose sends 4 of 16 nodes nowhere)."""
    for vcs in (1, 2, 4):
        mesh = Mesh(4, 4, vcs=vcs, router_delay=2, link_delay=1)
        stats = run_traffic(mesh, "transpose", 0.004, cycles=3000, warmup=10, packet_flits=3,
                            seed=2)
        R, L = 2, 1
        allowed = {(h + 1) * (R + L) + 2 for h in range(0, 7)}  # D + 1 routers, 3 flits
        alone = [lat for lat in stats.latencies if lat in allowed]
        assert stats.packets > 20 and len(alone) >= 0.9 * stats.packets


def test_virtual_channels_are_deterministic_and_only_on_the_cycles() -> None:
    a = run_traffic(Mesh(6, 6, vcs=3), hotspot(7, 0.3), 0.5, cycles=300, warmup=50, seed=4)
    b = run_traffic(Mesh(6, 6, vcs=3), hotspot(7, 0.3), 0.5, cycles=300, warmup=50, seed=4)
    assert a == b and a.latencies == b.latencies
    with pytest.raises(ValueError, match="one virtual channel"):
        run_traffic(Mesh(4, 4, vcs=2), "uniform", 0.1, 10, 10, engine="events")
    with pytest.raises(ValueError, match=r"vcs must be 1\.\.8"):
        Mesh(4, 4, vcs=9)
    with pytest.raises(ValueError, match="engine"):
        run_traffic(Mesh(4, 4), "uniform", 0.1, 10, 10, engine="fast")


def test_noc_vcs_option() -> None:
    from socdbg.errors import TargetError

    assert SimOptions.parse({"noc_vcs": "2"}).noc_vcs == 2
    assert SimOptions.parse({}).noc_vcs == 1
    for bad in ("0", "9", "two"):
        with pytest.raises(TargetError, match="noc_vcs"):
            SimOptions.parse({"noc_vcs": bad})


def test_noc_traffic_runs_with_the_sims_vcs() -> None:
    import io

    from socdbg.commands.dispatch import execute
    from socdbg.commands.session import Session

    s = Session(target="sim:mesh=8x8,noc_vcs=2", out=io.StringIO())
    got = execute(s, "noc traffic uniform 0.8 --cycles 600 --warmup 200 --json").data
    ref = run_traffic(Mesh(8, 8, vcs=2), "uniform", 0.8, cycles=600, warmup=200)
    assert got["accepted"] == pytest.approx(ref.accepted)
    assert not math.isnan(got["accepted"])


def test_the_plain_python_path_gives_the_same_and_so_does_another_process() -> None:
    """Without numba (NUMBA_DISABLE_JIT runs the same functions as plain Python) and in
    another process with another hash seed, the cycle model gives the same numbers."""
    import json
    import os
    import subprocess
    import sys

    code = ("import json; from socdbg.models.noc import Mesh; "
            "from socdbg.models.traffic import run_traffic; "
            "s = [run_traffic(Mesh(3, 3, vcs=v, buffer_depth=2), 'uniform', 0.6, 120, 30, 3, "
            "seed=8, engine='cycles') for v in (1, 2)]; "
            "print(json.dumps([[x.latencies, x.end_cycle, x.flit_hops, x.link_util] "
            "for x in s]))")
    got = []
    for env in ({"NUMBA_DISABLE_JIT": "1", "PYTHONHASHSEED": "1"}, {"PYTHONHASHSEED": "2"}):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True, timeout=300)
        got.append(json.loads(out.stdout))
    assert got[0] == got[1]
    ref = run_traffic(Mesh(3, 3, buffer_depth=2), "uniform", 0.6, 120, 30, 3, seed=8,
                      engine="events")
    assert got[0][0] == json.loads(json.dumps([list(ref.latencies), ref.end_cycle,
                                               ref.flit_hops, ref.link_util]))
