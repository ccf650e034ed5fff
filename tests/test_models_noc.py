"""The mesh NoC model (socdbg.models.noc) and its synthetic traffic (socdbg.models.traffic).

The event-driven model is checked flit for flit against ``RefMesh`` below: a slow,
cycle-by-cycle simulation of the same router written the obvious way (per-flit FIFOs, credit
counters, a round-robin arbiter per output). Then the fidelity facts: exact lone-packet
latency, saturation under uniform traffic, determinism, the links XY and YX routes use.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socdbg.models.kernel import Kernel
from socdbg.models.noc import LOCAL, MAX_DIM, OPPOSITE, PORTS, E, Mesh, N, NocCounters, S, W
from socdbg.models.traffic import (
    Pattern,
    TrafficStats,
    hotspot,
    percentile,
    run_traffic,
    transpose,
    uniform,
)
from socdbg.regmap import RegMap


# --- a cycle-by-cycle reference ----------------------------------------------------------------
class RefMesh:
    """Per cycle: arrivals, credit returns, injection, switch allocation, switch traversal,
    stall counting; exactly the rules in the socdbg.models.noc docstring."""

    def __init__(self, x: int, y: int, r: int, lk: int, b: int, routing: str) -> None:
        self.geo = Mesh(x, y, routing=routing)  # geometry and routes only
        self.r, self.lk = r, lk
        self.n = n = x * y
        self.buf: list[list[deque[list[int]]]] = [[deque() for _ in range(PORTS)]
                                                  for _ in range(n)]  # [pid, flit, arrival]
        self.credits = [[b] * PORTS for _ in range(n)]
        self.holder: list[list[int | None]] = [[None] * PORTS for _ in range(n)]
        self.rr = [[0] * PORTS for _ in range(n)]
        self.transit: dict[int, list[tuple[int, int, list[int]]]] = {}
        self.creturn: dict[int, list[tuple[int, int]]] = {}  # out -1: the node's interface
        self.ni: list[deque[list[int]]] = [deque() for _ in range(n)]  # pid, F, created, next
        self.ni_credits = [b] * n
        self.flits = [[0] * PORTS for _ in range(n)]
        self.stalls = [[0] * PORTS for _ in range(n)]
        self.route: dict[int, dict[int, int]] = {}
        self.size: dict[int, int] = {}
        self.eject: dict[int, int] = {}
        self.t = -1

    def send(self, pid: int, src: int, dst: int, flits: int, created: int) -> None:
        self.route[pid] = dict(self.geo.route(src, dst))
        self.size[pid] = flits
        self.ni[src].append([pid, flits, created, 0])

    def step(self) -> None:
        self.t += 1
        t, r, lk = self.t, self.r, self.lk
        for node, port, flit in self.transit.pop(t, ()):
            self.buf[node][port].append(flit)
        for node, out in self.creturn.pop(t, ()):
            if out < 0:
                self.ni_credits[node] += 1
            else:
                self.credits[node][out] += 1
        for node in range(self.n):
            q = self.ni[node]
            if q and q[0][2] <= t and self.ni_credits[node] > 0:
                pkt = q[0]
                self.buf[node][LOCAL].append([pkt[0], pkt[3], t])
                self.ni_credits[node] -= 1
                pkt[3] += 1
                if pkt[3] == pkt[1]:
                    q.popleft()
        for node in range(self.n):
            for out in range(PORTS):
                if self.holder[node][out] is not None:
                    continue
                for k in range(PORTS):
                    p = (self.rr[node][out] + k) % PORTS
                    b = self.buf[node][p]
                    if b and b[0][1] == 0 and b[0][2] + r <= t \
                            and self.route[b[0][0]][node] == out:
                        self.holder[node][out] = p
                        self.rr[node][out] = (p + 1) % PORTS
                        break
        moved = set()
        for node in range(self.n):
            for out in range(PORTS):
                p = self.holder[node][out]
                if p is None:
                    continue
                b = self.buf[node][p]
                if not b or b[0][2] + r > t or (out != LOCAL and not self.credits[node][out]):
                    continue
                pid, j, _ = b.popleft()
                moved.add((node, p))
                self.flits[node][out] += 1
                tail = j == self.size[pid] - 1
                if out == LOCAL:
                    if tail:
                        self.eject[pid] = t + lk
                else:
                    self.credits[node][out] -= 1
                    nxt = self.geo.neighbour(node, out)
                    assert nxt is not None
                    self.transit.setdefault(t + lk, []).append(
                        (nxt, OPPOSITE[out], [pid, j, t + lk]))
                if p == LOCAL:
                    self.creturn.setdefault(t + 1, []).append((node, -1))
                else:
                    up = self.geo.neighbour(node, p)
                    assert up is not None
                    self.creturn.setdefault(t + lk, []).append((up, OPPOSITE[p]))
                if tail:
                    self.holder[node][out] = None
        for node in range(self.n):
            for p in range(PORTS):
                b = self.buf[node][p]
                if b and (node, p) not in moved and b[0][2] + r <= t:
                    self.stalls[node][p] += 1

    def counters(self) -> tuple[object, ...]:
        return (tuple(map(tuple, self.flits)), tuple(map(tuple, self.stalls)),
                tuple(tuple(len(b) for b in row) for row in self.buf))


def _compare(x: int, y: int, r: int, lk: int, b: int, routing: str, packets: int,
             horizon: int, max_flits: int, seed: int, hot: int | None = None,
             inj: int = 0, ej: int = 0) -> int:
    """Run the same random packets through both models; every ejection cycle and, every few
    cycles, every counter must agree. Returns the number of cycles simulated. ``inj``/``ej``: the
    mesh's network-interface latencies, which must act as sending ``inj`` cycles later and
    delivering ``ej`` cycles later."""
    rng = random.Random(seed)
    todo = []
    for pid in range(packets):
        src = rng.randrange(x * y)
        dst = hot if hot is not None and rng.random() < 0.5 else rng.randrange(x * y)
        todo.append((rng.randrange(horizon), pid, src, dst, rng.randint(1, max_flits)))
    todo.sort()
    ref = RefMesh(x, y, r, lk, b, routing)
    mesh = Mesh(x, y, r, lk, b, routing, inject_delay=inj, eject_delay=ej)
    got: dict[int, list[int]] = {}
    i = t = 0
    while (i < len(todo) or mesh.busy or len(ref.eject) < packets
           or ref.t < max(ref.eject.values()) + ej):
        mesh.run_to(t)
        while i < len(todo) and todo[i][0] == t:
            _, pid, src, dst, flits = todo[i]
            mesh.send(src, dst, flits, lambda c, pid=pid: got.setdefault(pid, []).append(c))
            ref.send(pid, src, dst, flits, t + inj)
            i += 1
        ref.step()
        if t % 5 == 0:
            c = mesh.counters()
            assert c.cycle == t
            assert (c.flits, c.stalls, c.buf_occ) == ref.counters(), f"cycle {t}"
        t += 1
        assert t < 100_000, "did not drain"
    assert got == {pid: [c + ej] for pid, c in ref.eject.items()}
    return t


@pytest.mark.parametrize(("x", "y", "r", "lk", "b", "routing", "packets", "horizon", "flits"), [
    (4, 4, 1, 1, 4, "XY", 250, 250, 6),  # the default router, loaded
    (4, 4, 1, 1, 2, "XY", 200, 250, 6),  # buffers below the credit round trip
    (3, 5, 2, 1, 3, "YX", 200, 200, 8),
    (4, 3, 1, 2, 2, "YX", 250, 150, 5),
    (4, 4, 2, 3, 9, "XY", 250, 200, 12),
    (5, 2, 1, 1, 1, "XY", 200, 200, 3),  # one-flit buffers
    (1, 6, 1, 1, 4, "XY", 100, 100, 4),  # a line
])
def test_matches_cycle_by_cycle_reference(x: int, y: int, r: int, lk: int, b: int,
                                          routing: str, packets: int, horizon: int,
                                          flits: int) -> None:
    _compare(x, y, r, lk, b, routing, packets, horizon, flits, seed=x * 100 + b)


def test_matches_reference_under_hotspot_traffic() -> None:
    _compare(4, 4, 1, 1, 4, "XY", 300, 200, 5, seed=7, hot=5)


@pytest.mark.parametrize(("r", "lk", "b", "inj", "ej"), [
    (1, 1, 4, 1, 1),  # BookSim2's network-interface channels on the default router
    (3, 1, 5, 2, 0),
    (2, 2, 3, 0, 3),  # shallow buffers
])
def test_interface_latency_matches_the_reference_shifted(r: int, lk: int, b: int, inj: int,
                                                         ej: int) -> None:
    """Injection/ejection channel latency under load: every delivery and counter as the
    reference's with each packet sent ``inj`` cycles later, delivered ``ej`` cycles later."""
    _compare(4, 4, r, lk, b, "XY", 250, 200, 6, seed=31 + inj, inj=inj, ej=ej)


# --- lone packets --------------------------------------------------------------------------
def _lone_latency(mesh: Mesh, src: int, dst: int, flits: int) -> list[int]:
    start = mesh.now
    got: list[int] = []
    mesh.send(src, dst, flits, got.append)
    assert mesh.run_until_idle()
    return [c - start for c in got]


@pytest.mark.parametrize(("r", "lk", "extra"), [(1, 1, 0), (1, 1, 5), (2, 1, 0), (1, 3, 0),
                                                (4, 2, 1)])
@pytest.mark.parametrize("flits", [1, 2, 4, 7, 16])
@pytest.mark.parametrize("routing", ["XY", "YX"])
def test_lone_packet_latency_is_exact(r: int, lk: int, extra: int, flits: int,
                                      routing: str) -> None:
    mesh = Mesh(8, 8, r, lk, r + 2 * lk + extra, routing)
    for src, dst in [(0, 63), (63, 0), (9, 9), (7, 56), (27, 28), (12, 44)]:
        hops = mesh.hops(src, dst)
        assert _lone_latency(mesh, src, dst, flits) == [hops * (r + lk) + flits - 1]


@settings(max_examples=60, deadline=None)
@given(size_x=st.integers(1, 16), size_y=st.integers(1, 16), r=st.integers(1, 4),
       lk=st.integers(1, 4), extra=st.integers(0, 3), flits=st.integers(1, 20),
       routing=st.sampled_from(["XY", "YX"]), data=st.data())
def test_lone_packet_latency_random(size_x: int, size_y: int, r: int, lk: int, extra: int,
                                    flits: int, routing: str, data: st.DataObject) -> None:
    mesh = Mesh(size_x, size_y, r, lk, r + 2 * lk + extra, routing)
    src = data.draw(st.integers(0, mesh.nodes - 1))
    dst = data.draw(st.integers(0, mesh.nodes - 1))
    (sx, sy), (dx, dy) = mesh.coords(src), mesh.coords(dst)
    distance = abs(sx - dx) + abs(sy - dy)
    assert mesh.hops(src, dst) == distance + 1
    route = mesh.route(src, dst)
    assert len(route) == distance + 1 and route[-1] == (dst, LOCAL)
    assert _lone_latency(mesh, src, dst, flits) == [(distance + 1) * (r + lk) + flits - 1]
    c = mesh.counters()
    assert c.total_flits() == flits * (distance + 1)  # flit-hops, ejection included
    assert c.idle and not any(any(row) for row in c.stalls)


@settings(max_examples=60, deadline=None)
@given(size_x=st.integers(1, 16), size_y=st.integers(1, 16), r=st.integers(1, 6),
       lk=st.integers(1, 4), inj=st.integers(0, 4), ej=st.integers(0, 4),
       flits=st.integers(1, 12), data=st.data())
def test_zero_load_latency_with_the_fidelity_knobs(size_x: int, size_y: int, r: int, lk: int,
                                                   inj: int, ej: int, flits: int,
                                                   data: st.DataObject) -> None:
    """latency = inject + (D + 1) * (R + L) + (flits - 1) + eject, exactly (docs/models.md,
    Matching BookSim2)."""
    mesh = Mesh(size_x, size_y, r, lk, r + 2 * lk, inject_delay=inj, eject_delay=ej)
    src = data.draw(st.integers(0, mesh.nodes - 1))
    dst = data.draw(st.integers(0, mesh.nodes - 1))
    hops = mesh.hops(src, dst)
    assert _lone_latency(mesh, src, dst, flits) == [inj + hops * (r + lk) + flits - 1 + ej]
    assert not mesh.flow_ready() or (inj == ej == 0)


def test_shallow_buffers_throttle_a_lone_stream() -> None:
    """Below the credit round trip (R + 2L) a worm longer than the buffer slows down: one
    link passes at most ``buffer_depth`` flits per round trip."""
    mesh = Mesh(4, 1, router_delay=1, link_delay=2, buffer_depth=2)  # round trip 5
    (lat,) = _lone_latency(mesh, 0, 3, 10)
    assert lat > 4 * 3 + 9
    short = Mesh(4, 1, router_delay=1, link_delay=2, buffer_depth=2)
    assert _lone_latency(short, 0, 3, 2) == [4 * 3 + 1]  # no longer than the buffer: exact


# --- routes and counters -------------------------------------------------------------------
def _used_outputs(c: NocCounters) -> dict[tuple[int, int], int]:
    return {(i, p): n for i, row in enumerate(c.flits) for p, n in enumerate(row) if n}


def test_xy_and_yx_routes_use_the_right_links() -> None:
    mesh = Mesh(8, 8)
    src, dst = mesh.node(1, 6), mesh.node(5, 2)  # 4 east, 4 north
    mesh.send(src, dst, 3)
    mesh.run_until_idle()
    xy = {(mesh.node(x, 6), E): 3 for x in range(1, 5)}
    xy |= {(mesh.node(5, y), N): 3 for y in range(6, 2, -1)}
    xy[(dst, LOCAL)] = 3
    assert _used_outputs(mesh.counters()) == xy
    assert mesh.route(src, dst) == list(xy)

    mesh = Mesh(8, 8, routing="YX")
    mesh.send(src, dst, 3)
    mesh.run_until_idle()
    yx = {(mesh.node(1, y), N): 3 for y in range(6, 2, -1)}
    yx |= {(mesh.node(x, 2), E): 3 for x in range(1, 5)}
    yx[(dst, LOCAL)] = 3
    assert _used_outputs(mesh.counters()) == yx
    assert mesh.route(src, dst) == list(yx)


def test_west_and_south_and_edges() -> None:
    mesh = Mesh(3, 4)
    assert mesh.coords(5) == (2, 1)
    assert mesh.neighbour(0, N) is None and mesh.neighbour(0, W) is None
    assert mesh.neighbour(0, S) == 3 and mesh.neighbour(0, E) == 1
    assert mesh.neighbour(11, S) is None and mesh.neighbour(11, E) is None
    assert mesh.route(mesh.node(2, 0), mesh.node(0, 3)) == [
        (2, W), (1, W), (0, S), (3, S), (6, S), (9, LOCAL)]
    assert mesh.route(mesh.node(2, 0), mesh.node(0, 3), "YX") == [
        (2, S), (5, S), (8, S), (11, W), (10, W), (9, LOCAL)]


def test_contention_stalls_and_occupancy() -> None:
    """Two worms want router 1's E output in the same cycle: round robin grants the lower
    input port first (N=0 .. LOCAL=4 after the last winner); the loser's head waits, counted
    as stall cycles on its input port, while its body fills the buffer."""
    mesh = Mesh(3, 2)  # 0 1 2 / 3 4 5
    got: dict[str, int] = {}
    mesh.send(0, 2, 4, lambda c: got.setdefault("west", c))  # enters router 1 on W
    mesh.send(1, 2, 4, lambda c: got.setdefault("local", c))  # router 1's own tile
    mesh.run_to(2)
    # cycle 0 injects both heads; local head ready at 1 and granted at once; the west head
    # reaches router 1 at 2 and is ready at 3, but the output is held until the local tail
    # leaves at 4
    c = mesh.counters()
    assert c.flits[1][E] == 2 and c.buf_occ[1][LOCAL] == 1
    mesh.run_to(5)
    c = mesh.counters()
    assert c.flits[1][E] == 4 + 1  # the local worm, then the west head at 5
    assert c.stalls[1][W] == 2  # cycles 3 and 4
    assert mesh.run_until_idle()
    lone = 2 * 2 + 3  # local: 2 hops
    assert got["local"] == lone
    # the west head crossed router 1 at 5; router 2 (link 1 + router 1), ejection link 1,
    # then the three flits behind it
    assert got["west"] == 5 + 1 + 1 + 1 + 3
    c = mesh.counters()
    assert c.stalls[1][W] == 2 and c.idle and sum(map(sum, c.stalls)) == 2


def test_counters_exclude_cycles_ahead() -> None:
    """The model knows crossings before they happen; counters only show the past."""
    mesh = Mesh(4, 1)
    mesh.send(0, 3, 8)
    seen = []
    for t in range(0, 20):
        mesh.run_to(t)
        c = mesh.counters()
        seen.append((c.flits[0][E], c.flits[3][LOCAL], sum(map(sum, c.buf_occ))))
    # router 0's E output: flits leave at cycles 1..8
    assert [s[0] for s in seen] == [0, 1, 2, 3, 4, 5, 6, 7, 8] + [8] * 11
    # ejection output of router 3: head crosses at 1 + 3 * 2 = 7
    assert [s[1] for s in seen][6:16] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]
    assert seen[-1][2] == 0 and seen[3][2] > 0


# --- determinism and saturation ------------------------------------------------------------
def _trace(seed: int) -> list[tuple[int, int, int, int]]:
    mesh = Mesh(6, 6)
    rng = random.Random(seed)
    out: list[tuple[int, int, int, int]] = []
    for t in range(400):
        mesh.run_to(t)
        for node in range(mesh.nodes):
            if rng.random() < 0.06:
                dst = rng.randrange(mesh.nodes)
                mesh.send(node, dst, 3, lambda c, s=node, d=dst, t=t: out.append((t, s, d, c)))
    mesh.run_until_idle()
    return out


def test_same_program_same_trace() -> None:
    assert _trace(5) == _trace(5)
    assert _trace(5) != _trace(6)
    a = run_traffic(Mesh(8, 8), uniform(), 0.2, 800, 200, 4, seed=3)
    b = run_traffic(Mesh(8, 8), uniform(), 0.2, 800, 200, 4, seed=3)
    assert a == b
    assert run_traffic(Mesh(8, 8), uniform(), 0.2, 800, 200, 4, seed=4) != a


def test_uniform_traffic_saturates_below_the_channel_load_bound() -> None:
    """8x8, XY, uniform random, 4-flit packets into 8-flit buffers: the accepted throughput
    follows the offered load, then levels off at 60..100% of 4/k = 0.5 and never above."""
    bound = 4 / 8
    accepted = {}
    for rate in (0.1, 0.2, 0.3, 0.4, 0.5, 0.7):
        stats = run_traffic(Mesh(8, 8, buffer_depth=8), uniform(), rate, cycles=2000,
                            warmup=500, packet_flits=4, seed=11, drain=0)
        accepted[rate] = stats.accepted
        assert stats.accepted <= bound
        assert stats.accepted <= stats.injected * 1.02
        assert stats.max_link_util <= 1.0
    assert accepted[0.1] == pytest.approx(0.1, rel=0.05)
    assert accepted[0.2] == pytest.approx(0.2, rel=0.05)
    saturation = max(accepted.values())
    assert 0.6 * bound <= saturation <= bound
    assert accepted[0.7] >= 0.9 * saturation  # levels off, does not collapse


# --- the kernel ----------------------------------------------------------------------------
def test_idle_mesh_registers_no_ticker_and_lets_the_kernel_jump() -> None:
    kernel = Kernel()
    mesh = Mesh(4, 4)
    mesh.attach(kernel)
    assert not mesh.scheduled and not kernel.ticking
    kernel.step(1_000_000)  # nothing to do: one jump
    assert kernel.now == 1_000_000
    got: list[tuple[int, int]] = []
    kernel.schedule(10, lambda: mesh.send(0, 15, 4, lambda c: got.append((c, kernel.now))))
    kernel.step(5)
    assert not mesh.scheduled
    assert kernel.run_until(lambda: bool(got), 1000)
    due = 1_000_010 + mesh.hops(0, 15) * 2 + 3
    assert got == [(due, due)]  # called once, in the cycle the tail is ejected
    kernel.step(1)
    assert not mesh.scheduled and not kernel.ticking
    assert mesh.now == kernel.now
    kernel.step(10_000)
    assert got == [(due, due)]


def test_kernel_callbacks_can_send_more() -> None:
    """A DMA-like client: each delivery sends the next packet, from inside the ticker."""
    kernel = Kernel()
    mesh = Mesh(4, 4)
    mesh.attach(kernel)
    done: list[int] = []

    def delivered(cycle: int) -> None:
        done.append(cycle)
        if len(done) < 5:
            mesh.send(5, 10, 2, delivered)

    mesh.send(5, 10, 2, delivered)
    assert mesh.scheduled
    assert kernel.run_until(lambda: len(done) == 5, 10_000)
    lat = mesh.hops(5, 10) * 2 + 1
    assert done == [lat * (i + 1) for i in range(5)]
    kernel.step(1)
    assert not mesh.scheduled


def test_standalone_and_attached_give_the_same_cycles() -> None:
    pairs = [(0, 15, 3), (3, 12, 5), (15, 0, 2), (5, 6, 8), (12, 3, 1)]
    alone = Mesh(4, 4)
    a: list[int] = []
    for src, dst, n in pairs:
        alone.send(src, dst, n, a.append)
    alone.run_until_idle()
    kernel = Kernel()
    mesh = Mesh(4, 4)
    mesh.attach(kernel)
    b: list[int] = []
    for src, dst, n in pairs:
        mesh.send(src, dst, n, b.append)
    kernel.run_until(lambda: len(b) == len(pairs), 1000)
    assert a == b
    with pytest.raises(RuntimeError, match="kernel"):
        mesh.run(10)


# --- routing switch, reset, bad arguments --------------------------------------------------
def test_routing_switches_only_while_idle() -> None:
    mesh = Mesh(4, 4)
    mesh.send(0, 15, 4)
    with pytest.raises(RuntimeError, match="in flight"):
        mesh.routing = "YX"
    mesh.routing = "XY"  # no change is always fine
    mesh.run_until_idle()
    mesh.routing = "yx"
    assert mesh.routing == "YX"
    mesh.send(0, 5, 1)
    mesh.run_until_idle()
    assert mesh.counters().flits[0][S] == 1 and mesh.counters().flits[4][E] == 1


def test_reset_drops_traffic_and_counters() -> None:
    mesh = Mesh(4, 4)
    called: list[int] = []
    mesh.send(0, 15, 4, called.append)
    mesh.run(3)
    mesh.reset()
    assert not mesh.busy and mesh.counters().total_flits() == 0
    mesh.run(100)
    assert called == []


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Mesh(17, 4), "larger than the NoC supports"),
    (lambda: Mesh(16, 17), "larger than the NoC supports"),
    (lambda: Mesh(0, 4), "size_x must be >= 1"),
    (lambda: Mesh(4, 4, router_delay=0), "router_delay must be >= 1"),
    (lambda: Mesh(4, 4, link_delay=0), "link_delay must be >= 1"),
    (lambda: Mesh(4, 4, buffer_depth=0), "buffer_depth must be >= 1"),
    (lambda: Mesh(4, 4, routing="ZZ"), "routing must be 'XY' or 'YX'"),
    (lambda: Mesh(4, 4).send(16, 0, 1), r"src_node 16 is out of range.*0\.\.15"),
    (lambda: Mesh(4, 4).send(0, -1, 1), "dst_node -1 is out of range"),
    (lambda: Mesh(4, 4).send(0, 1, 0), "at least one flit"),
    (lambda: Mesh(4, 4).send(0, 1, 2.0), "at least one flit"),  # type: ignore[arg-type]
    (lambda: Mesh(4, 4).node(4, 0), "outside the 4x4 mesh"),
    (lambda: run_traffic(Mesh(4, 4), "uniform", 1.5, 10, 0), "rate must be 0..1"),
    (lambda: run_traffic(Mesh(4, 4), "spiral", 0.1, 10, 0), "unknown traffic pattern"),
    (lambda: run_traffic(Mesh(4, 2), transpose(), 0.1, 10, 0), "square mesh"),
    (lambda: run_traffic(Mesh(4, 4), hotspot(16, 0.5), 0.1, 10, 0), "hotspot node 16"),
    (lambda: run_traffic(Mesh(4, 4), uniform(), 0.1, 10, 0, packet_flits=0), "one flit"),
])
def test_bad_arguments_raise_value_error(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()
    assert MAX_DIM == 16


def test_the_largest_mesh_works() -> None:
    mesh = Mesh(16, 16)
    assert _lone_latency(mesh, 0, 255, 4) == [31 * 2 + 3]


# --- traffic patterns and statistics -------------------------------------------------------
def test_transpose_and_hotspot_patterns() -> None:
    mesh = Mesh(4, 4)
    pick = transpose().picker(mesh, random.Random(0))
    assert [pick(mesh.node(x, y)) for x, y in [(1, 2), (3, 0), (2, 2)]] == [
        mesh.node(2, 1), mesh.node(0, 3), mesh.node(2, 2)]
    spot = hotspot(6, 0.5).picker(mesh, random.Random(0))
    share = sum(spot(0) == 6 for _ in range(4000)) / 4000
    assert share == pytest.approx(0.5 + 0.5 / 16, abs=0.03)
    stats = run_traffic(Mesh(4, 4), hotspot(6, 0.5), 0.1, 1500, 300, 2, seed=1)
    ejected = [row[LOCAL] for row in stats.link_util]
    assert ejected.index(max(ejected)) == 6
    assert ejected[6] == pytest.approx(16 * 0.1 * (0.5 + 0.5 / 16), rel=0.15)


def test_traffic_stats() -> None:
    stats = run_traffic(Mesh(4, 4), "uniform", 0.15, 1500, 300, 4, seed=2)
    assert isinstance(stats, TrafficStats) and stats.pattern == "uniform"
    assert stats.undelivered == 0 and stats.packets > 0
    assert stats.injected == pytest.approx(0.15, rel=0.1)
    assert stats.accepted == pytest.approx(stats.injected, rel=0.05)
    assert 2 * 2 + 3 <= stats.latency_mean <= stats.latency_p99 <= stats.latency_max
    assert len(stats.link_util) == 16 and all(len(row) == PORTS for row in stats.link_util)
    assert 0 < stats.max_link_util <= 1
    assert stats.flit_hops > stats.accepted * 16 * 1500
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.pattern = "x"  # type: ignore[misc]
    assert percentile([], 99) == 0
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([5], 99) == 5
    assert Pattern("uniform") == uniform()


def test_warmup_is_excluded() -> None:
    """Packets created during warm-up are not measured; the window's rate is."""
    stats = run_traffic(Mesh(4, 4), uniform(), 0.2, 1000, 1000, 2, seed=9)
    assert stats.packets == pytest.approx(0.2 * 16 * 1000 / 2, rel=0.1)
    assert stats.end_cycle >= 2000


# --- registers -----------------------------------------------------------------------------
def test_registers_refresh_lazily_on_read(ref_map: RegMap) -> None:
    from socdbg.access import read_register
    from socdbg.targets.sim import SimTarget

    sim = SimTarget(ref_map)
    mesh = Mesh(4, 4)
    mesh.attach(sim.kernel)
    mesh.bind(sim.regs)
    path = "noc.router[1].port[1].flits"  # router 1's E output
    mesh.send(0, 3, 6)
    sim.kernel.step(30)
    assert sim.regs.peek(path) == 0  # nothing was written while the mesh ran
    assert read_register(sim, ref_map.get(path)) == 6
    assert sim.regs.peek(path) == 6
    assert read_register(sim, ref_map.get("noc.router[3].port[4].flits")) == 6
    assert read_register(sim, ref_map.get("noc.router[3].port[3].buf_occ")) == 0
    status = ref_map.get("noc.status")
    idle = status.field("idle")
    assert idle is not None
    assert idle.extract(read_register(sim, status)) == 1
    mesh.send(0, 3, 6)
    sim.kernel.step(3)
    assert idle.extract(read_register(sim, status)) == 0
    assert read_register(sim, ref_map.get("noc.router[0].port[4].buf_occ")) > 0


def test_publish_writes_every_counter(ref_map: RegMap) -> None:
    from socdbg.models.regfile import RegisterFile

    regs = RegisterFile(ref_map)
    mesh = Mesh(4, 4)
    mesh.send(0, 15, 3)
    mesh.send(15, 0, 2)
    mesh.send(4, 6, 5)
    mesh.send(5, 6, 5)
    mesh.run(5)
    mesh.publish(regs)
    c = mesh.counters()
    for i in range(16):
        for p in range(PORTS):
            base = f"noc.router[{i}].port[{p}]"
            assert regs.peek(f"{base}.flits") == c.flits[i][p]
            assert regs.peek(f"{base}.stalls") == c.stalls[i][p]
            assert regs.peek(f"{base}.buf_occ") == c.buf_occ[i][p]
    assert any(any(row) for row in c.buf_occ) and any(any(row) for row in c.stalls)


def test_routing_register_and_size_check(ref_map: RegMap) -> None:
    from socdbg.access import write_register
    from socdbg.targets.sim import SimTarget

    sim = SimTarget(ref_map)
    mesh = Mesh(4, 4)
    mesh.bind(sim.regs)
    ctrl = ref_map.get("noc.ctrl")
    routing = ctrl.field("routing")
    assert routing is not None
    write_register(sim, ctrl, routing.insert(0, 1))
    assert mesh.routing == "YX"
    write_register(sim, ctrl, 0)
    assert mesh.routing == "XY"
    with pytest.raises(ValueError, match="4x4 mesh, the model is 8x8"):
        Mesh(8, 8).bind(sim.regs)


def test_channel_load_bounds_per_pattern() -> None:
    from socdbg.models.traffic import channel_load_bound, hotspot, transpose, uniform

    assert channel_load_bound(Mesh(8, 8), uniform()) == pytest.approx(0.5)
    assert channel_load_bound(Mesh(16, 16), uniform()) == pytest.approx(0.25)
    assert channel_load_bound(Mesh(4, 4), uniform()) == 1.0  # the injection limit
    assert channel_load_bound(Mesh(8, 8), transpose()) == pytest.approx(1 / 7)
    assert channel_load_bound(Mesh(8, 8, routing="YX"), transpose()) == pytest.approx(1 / 7)
    assert channel_load_bound(Mesh(16, 16), transpose()) == pytest.approx(1 / 15)
    assert channel_load_bound(Mesh(8, 8), hotspot(9, 0.2)) == pytest.approx(1 / (64 * 0.2 + 0.8))
    # odd sides: the middle link carries (k - 1) / 2 * (k + 1) / 2 / k flits per unit offered
    assert channel_load_bound(Mesh(7, 7), uniform()) == pytest.approx(7 / 12)
    assert channel_load_bound(Mesh(9, 9), uniform()) == pytest.approx(9 / 20)


@pytest.mark.parametrize(("pattern", "rate", "flits"), [
    ("uniform", 0.8, 1), ("uniform", 0.8, 4), ("uniform", 0.3, 4), ("uniform", 0.1, 1),
    ("transpose", 0.5, 2), (hotspot(5, 0.3), 0.4, 3),
])
def test_lazy_sources_change_nothing_but_the_queues(pattern: Pattern | str, rate: float,
                                                    flits: int) -> None:
    """BookSim2-style lazy generation (packets handed over when the source queue empties)
    gives the same statistics, counters and cycles as handing every packet over when it is
    created; past saturation the mesh then holds at most one packet per source queue."""
    got = []
    for lazy in (True, False):
        mesh = Mesh(6, 6)
        stats = run_traffic(mesh, pattern, rate, cycles=200, warmup=50, packet_flits=flits,
                            seed=3, lazy=lazy, engine="events")
        queued = max(mesh.queued(n) for n in range(mesh.nodes))
        in_flight = mesh.in_flight
        assert mesh.run_until_idle(10**6)
        got.append((stats, mesh.counters().flits, mesh.now, mesh.sent, mesh.delivered))
        if lazy:
            assert queued <= 1
        elif rate >= 0.8:
            assert queued > 1 and in_flight > 2 * mesh.nodes
    assert got[0] == got[1]


def test_a_lazy_source_cannot_refill_from_the_future() -> None:
    mesh = Mesh(2, 1)
    mesh.set_source(lambda node: (1, 1, mesh.now + 5, None))
    with pytest.raises(ValueError, match="future"):
        mesh.send(0, 1, 1)  # injected at once: the refill comes in the same cycle
