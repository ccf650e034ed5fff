"""Synthetic traffic for the mesh NoC model, and the statistics of a run.

Every node is an independent Bernoulli source: in each cycle it creates a packet of
``packet_flits`` flits with probability ``rate / packet_flits`` (so ``rate`` is the offered load
in flits per node per cycle, at most 1), drawn as geometric gaps between packets from one seeded
``random.Random``. Packets wait in the node's unbounded source queue until the network accepts
them, so the latency of a packet counts from the cycle it was created. As in BookSim2, the
queue is lazy: the generator keeps the waiting packets (creation cycle and destination) and
hands the next one to the mesh when the node's previous packet is wholly injected
(``Mesh.set_source``), with the same cycles and statistics, so a run past saturation does not
build a mesh worm for every packet it cannot inject.

Destinations come from a :class:`Pattern`: ``uniform()`` (any node, the source included, with
equal probability: the traffic the channel-load bound ``4 / k`` of a k x k mesh is derived
for), ``transpose()`` ((x, y) sends to (y, x); square meshes), ``hotspot(node, fraction)``
(``fraction`` of the packets go to ``node``, the rest uniform).

:func:`run_traffic` runs ``warmup`` cycles, then measures ``cycles`` cycles: accepted
throughput and per-link utilisation from the flits that cross in that window, latency of the
packets created in it (the run goes on, traffic still flowing, until they are delivered or
``drain`` more cycles pass).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from socdbg.models.noc import LOCAL, PORTS, Mesh


@dataclass(frozen=True)
class Pattern:
    """A destination rule: ``pick(mesh, src, rng)`` gives the destination of a new packet."""

    name: str
    hotspot: int = 0
    fraction: float = 0.0

    def check(self, mesh: Mesh) -> None:
        if self.name not in PATTERNS:
            raise ValueError(f"unknown traffic pattern {self.name!r} "
                             f"(known: {', '.join(sorted(PATTERNS))})")
        if self.name == "transpose" and mesh.size_x != mesh.size_y:
            raise ValueError(f"transpose traffic needs a square mesh, not "
                             f"{mesh.size_x}x{mesh.size_y}")
        if self.name == "hotspot":
            if not 0 <= self.hotspot < mesh.nodes:
                raise ValueError(f"hotspot node {self.hotspot} is out of range: the mesh has "
                                 f"nodes 0..{mesh.nodes - 1}")
            if not 0.0 <= self.fraction <= 1.0:
                raise ValueError(f"hotspot fraction must be 0..1, got {self.fraction}")

    def picker(self, mesh: Mesh, rng: random.Random) -> Callable[[int], int]:
        """A fast ``src -> dst`` function for this mesh."""
        self.check(mesh)
        return PATTERNS[self.name](self, mesh, rng)


def _uniform(p: Pattern, mesh: Mesh, rng: random.Random) -> Callable[[int], int]:
    nodes = mesh.nodes
    rand = rng.random

    def pick(src: int) -> int:
        return int(rand() * nodes)

    return pick


def _transpose(p: Pattern, mesh: Mesh, rng: random.Random) -> Callable[[int], int]:
    k = mesh.size_x
    table = [(s % k) * k + s // k for s in range(mesh.nodes)]
    return table.__getitem__


def _hotspot(p: Pattern, mesh: Mesh, rng: random.Random) -> Callable[[int], int]:
    nodes, spot, frac = mesh.nodes, p.hotspot, p.fraction
    rand = rng.random

    def pick(src: int) -> int:
        if rand() < frac:
            return spot
        return int(rand() * nodes)

    return pick


#: Pattern name -> builder of its ``src -> dst`` function.
PATTERNS: dict[str, Callable[[Pattern, Mesh, random.Random], Callable[[int], int]]] = {
    "uniform": _uniform,
    "transpose": _transpose,
    "hotspot": _hotspot,
}


def channel_load_bound(mesh: Mesh, pattern: Pattern, routing: str | None = None) -> float:
    """The channel-load bound of ``pattern`` on ``mesh``: the offered rate (flits per node per
    cycle) at which the busiest channel, injection and ejection channels included, carries one
    flit per cycle, with the mesh's dimension-order routes. Uniform traffic on a k x k mesh with
    k even gives ``4 / k``; transpose on 8x8 with XY routes ``1 / 7``; a hotspot taking
    fraction ``h`` of the packets ``1 / (N * h + 1 - h)``, about ``1 / (N * h)``."""
    pattern.check(mesh)
    order = routing or mesh.routing
    sx, sy, nodes = mesh.size_x, mesh.size_y, mesh.nodes
    load = [0.0] * (nodes * PORTS)
    share = 1.0
    if pattern.name in ("uniform", "hotspot"):
        # uniform, in closed form: a link between columns c and c + 1 carries the flits of
        # the c + 1 nodes on one side of its row (of its column, for the second leg: every
        # node whose flits turn into it) to the X - c - 1 columns on the other
        share = 1.0 - pattern.fraction if pattern.name == "hotspot" else 1.0
        for node in range(nodes):
            x, y = node % sx, node // sx
            base = node * PORTS
            if x + 1 < sx:
                load[base + 1] = share * (x + 1) * (sx - x - 1) / sx  # E
                load[base + PORTS + 3] = load[base + 1]  # W, from the node to the east
            if y + 1 < sy:
                load[base + 2] = share * (y + 1) * (sy - y - 1) / sy  # S
                load[base + sx * PORTS + 0] = load[base + 2]  # N, from the node below
            load[base + LOCAL] = share
    pairs: list[tuple[int, int, float]] = []
    if pattern.name == "transpose":
        k = sx
        pairs = [(src, (src % k) * k + src // k, 1.0) for src in range(nodes)]
    elif pattern.name == "hotspot":
        pairs = [(src, pattern.hotspot, pattern.fraction) for src in range(nodes)]
    for src, dst, p in pairs:
        x, y = src % sx, src // sx
        x1, y1 = dst % sx, dst // sx
        legs = ((0, x1), (1, y1)) if order == "XY" else ((1, y1), (0, x1))
        for axis, goal in legs:
            while (x if axis == 0 else y) != goal:
                here = y * sx + x
                if axis == 0:
                    port, x = (1, x + 1) if goal > x else (3, x - 1)  # E / W
                else:
                    port, y = (2, y + 1) if goal > y else (0, y - 1)  # S / N
                load[here * PORTS + port] += p
        load[dst * PORTS + LOCAL] += p
    return 1.0 / max(1.0, max(load))  # each injection channel carries the offered rate


def uniform() -> Pattern:
    return Pattern("uniform")


def transpose() -> Pattern:
    return Pattern("transpose")


def hotspot(node: int, fraction: float) -> Pattern:
    return Pattern("hotspot", node, fraction)


@dataclass(frozen=True)
class TrafficStats:
    """What one :func:`run_traffic` measured. Rates are flits per node per cycle; latencies
    are cycles from packet creation to tail ejection, over the packets created in the
    measurement window that were delivered (``undelivered`` counts the others: non-zero means
    the mesh is past saturation and the latency figures are lower bounds)."""

    pattern: str
    offered: float  # the rate asked for
    injected: float  # flits created in the window
    accepted: float  # flits ejected in the window
    latency_mean: float
    latency_p99: int
    latency_max: int
    packets: int  # measured packets delivered
    undelivered: int
    link_util: tuple[tuple[float, ...], ...]  # [router][output port]: flits per cycle
    warmup: int
    cycles: int
    end_cycle: int  # the mesh cycle the run stopped at
    flit_hops: int  # router crossings simulated from start to end_cycle (all packets)
    #: The latency of every measured packet delivered, ascending (left out of ==).
    latencies: tuple[int, ...] = field(default=(), compare=False, repr=False)

    @property
    def max_link_util(self) -> float:
        """The busiest router-to-router link (LOCAL ejection ports left out)."""
        return max((u for row in self.link_util for p, u in enumerate(row) if p != LOCAL),
                   default=0.0)


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_traffic(mesh: Mesh, pattern: Pattern | str, rate: float, cycles: int, warmup: int,
                packet_flits: int = 4, seed: int = 0, drain: int | None = None,
                on_cycle: Callable[[int], None] | None = None,
                lazy: bool = True, engine: str = "auto") -> TrafficStats:
    """Offer ``rate`` flits/node/cycle of ``pattern`` traffic to an idle, standalone ``mesh``
    for ``warmup + cycles`` cycles and measure the last ``cycles`` (see the module docstring).
    The mesh keeps the traffic still in flight at the end (``mesh.run_until_idle()``).
    ``on_cycle(cycles_run)`` is told about progress now and then (a progress bar).
    ``lazy``: a node's packets are handed to the mesh only when its source queue empties, as
    BookSim2 generates them (``Mesh.set_source``: the same cycles, counters and statistics as
    handing every packet over when it is created, which ``lazy=False`` does; past saturation
    the mesh then holds at most one packet per node's source queue).

    ``engine``: ``"events"`` runs the packets on ``mesh`` (the reference); ``"cycles"`` runs
    the same router cycle by cycle on arrays (socdbg.models.noc.cycles, compiled by numba
    when installed; the only engine with virtual channels, ``mesh.vcs > 1``) and leaves
    ``mesh`` as it was: it only supplies the configuration. ``"auto"`` takes ``"cycles"``
    when the mesh has VCs, or when numba is installed and the mesh is fresh (nothing ever
    sent, nobody watching departures) and sources are lazy; else ``"events"``. Both give the
    same statistics (tests/test_noc_cycles.py)."""
    pat = Pattern(pattern) if isinstance(pattern, str) else pattern
    if isinstance(packet_flits, bool) or not isinstance(packet_flits, int) or packet_flits < 1:
        raise ValueError(f"a packet needs at least one flit, got packet_flits={packet_flits!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be 0..1 flits per node per cycle, got {rate}")
    if cycles < 1 or warmup < 0:
        raise ValueError("cycles must be >= 1 and warmup >= 0")
    if mesh.busy:
        raise ValueError("run_traffic needs an idle mesh")
    if engine not in ("auto", "events", "cycles"):
        raise ValueError(f"engine must be auto, events or cycles, not {engine!r}")
    rng = random.Random(seed)
    pick = pat.picker(mesh, rng)
    p = rate / packet_flits
    t0 = mesh.now
    start = t0 + warmup
    end = start + cycles
    limit = end + (4 * (warmup + cycles) if drain is None else drain)
    nodes = mesh.nodes
    if engine == "auto":
        from socdbg.models.noc.cycles import COMPILED

        fresh = mesh.sent == 0 and not mesh.events.noc_depart
        engine = "cycles" if mesh.vcs > 1 or (COMPILED and fresh and lazy) else "events"
    if engine == "cycles":
        return _run_cycles(mesh, pat, rate, cycles, warmup, packet_flits, rng, p, t0, start,
                           end, (limit + 1) * nodes, on_cycle)
    if mesh.vcs > 1:
        raise ValueError(f"the event-driven mesh models one virtual channel, not {mesh.vcs}: "
                         "run with engine='cycles'")

    # Every (cycle, node) slot is an independent Bernoulli(p) trial; walking the slots in
    # order (cycle-major) with geometric gaps between successes draws exactly that, in time
    # order, with one random number per packet.
    rand = rng.random
    log_q = math.log1p(-p) if 0.0 < p < 1.0 else 0.0
    slot = -1
    horizon = (limit + 1) * nodes

    def advance_slot(slot: int) -> int:
        if p >= 1.0:
            return slot + 1
        if p <= 0.0:
            return horizon
        return slot + 1 + int(math.log(1.0 - rand()) / log_q)

    latencies: list[int] = []
    record = latencies.append

    def recorder(created: int) -> Callable[[int], None]:
        return lambda cycle: record(cycle - created)

    measured = 0
    base = mesh.counters()
    send = mesh.send
    queued = mesh.queued
    pending: list[deque[tuple[int, int, Callable[[int], None] | None]]] = [
        deque() for _ in range(nodes)]

    def refill(node: int) -> tuple[int, int, int, Callable[[int], None] | None] | None:
        q = pending[node]
        if not q:
            return None
        created, dst, cb = q.popleft()
        return dst, packet_flits, created, cb

    if lazy:
        mesh.set_source(refill)
    run_to = mesh.run_to
    slot = advance_slot(t0 * nodes - 1)
    stage = 0  # 0 warm-up, 1 measuring, 2 draining
    snap_start = snap_end = base
    now = t0
    told = t0
    while slot < horizon:
        t, node = divmod(slot, nodes)
        if stage < 2 and t >= (start if stage == 0 else end):
            boundary = (start if stage == 0 else end) - 1
            if boundary >= mesh.now:  # with no warm-up the window opens at the first cycle
                run_to(boundary)
            if stage == 0:
                snap_start = mesh.counters()
            else:
                snap_end = mesh.counters()
            stage += 1
            continue
        if stage == 2 and len(latencies) == measured:
            break
        if t != now:
            run_to(t)
            now = t
            if on_cycle is not None and t >= told + 1024:
                told = t
                on_cycle(t - t0)
        dst = pick(node)
        cb: Callable[[int], None] | None = None
        if stage == 1:
            measured += 1
            cb = recorder(t)
        if lazy and (pending[node] or queued(node)):
            pending[node].append((t, dst, cb))
        else:
            send(node, dst, packet_flits, cb)
        slot = advance_slot(slot)
    if stage < 1:
        run_to(max(mesh.now, start - 1))
        snap_start = mesh.counters()
    if stage < 2:
        run_to(max(mesh.now, end - 1))
        snap_end = mesh.counters()
    final = mesh.counters()

    a0 = [f for row in snap_start.flits for f in row]
    b0 = [f for row in snap_end.flits for f in row]
    return _stats(pat, rate, packet_flits, warmup, cycles, nodes, latencies, measured, a0, b0,
                  mesh.now, final.total_flits() - base.total_flits())


def _stats(pat: Pattern, rate: float, packet_flits: int, warmup: int, cycles: int, nodes: int,
           latencies: list[int], measured: int, a: list[int], b: list[int], end_cycle: int,
           flit_hops: int) -> TrafficStats:
    """The statistics from the latencies of the measured packets and the output counters
    (``[node * PORTS + port]``) at the edges of the window."""
    latencies.sort()
    accepted = sum(b[i * PORTS + LOCAL] - a[i * PORTS + LOCAL] for i in range(nodes))
    util = tuple(tuple((b[i * PORTS + q] - a[i * PORTS + q]) / cycles for q in range(PORTS))
                 for i in range(nodes))
    return TrafficStats(
        pattern=pat.name,
        offered=rate,
        injected=measured * packet_flits / (nodes * cycles),
        accepted=accepted / (nodes * cycles),
        latency_mean=sum(latencies) / len(latencies) if latencies else 0.0,
        latency_p99=percentile(latencies, 99),
        latency_max=latencies[-1] if latencies else 0,
        packets=len(latencies),
        undelivered=measured - len(latencies),
        link_util=util,
        warmup=warmup,
        cycles=cycles,
        end_cycle=end_cycle,
        flit_hops=flit_hops,
        latencies=tuple(latencies),
    )


def _run_cycles(mesh: Mesh, pat: Pattern, rate: float, cycles: int, warmup: int,
                packet_flits: int, rng: random.Random, p: float, t0: int, start: int, end: int,
                horizon: int, on_cycle: Callable[[int], None] | None) -> TrafficStats:
    """run_traffic on the cycle-by-cycle arrays (socdbg.models.noc.cycles)."""
    from socdbg.models.noc.cycles_run import run_slots

    got = run_slots(mesh.size_x, mesh.size_y, vcs=mesh.vcs, buffer_depth=mesh.buffer_depth,
                    router_delay=mesh.router_delay, link_delay=mesh.link_delay,
                    inject_delay=mesh.inject_delay, eject_delay=mesh.eject_delay,
                    routing=mesh.routing, pattern=pat.name, hotspot=pat.hotspot,
                    fraction=pat.fraction, packet_flits=packet_flits, rate_p=p, rng=rng,
                    t0=t0, start=start, end=end, horizon=horizon, on_cycle=on_cycle)
    return _stats(pat, rate, packet_flits, warmup, cycles, mesh.nodes, got.latencies,
                  got.measured, got.start_flits, got.end_flits, got.end_cycle, got.flit_hops)
