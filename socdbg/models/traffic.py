"""Synthetic traffic for the mesh NoC model, and the statistics of a run.

Every node is an independent Bernoulli source: in each cycle it creates a packet of
``packet_flits`` flits with probability ``rate / packet_flits`` (so ``rate`` is the offered load
in flits per node per cycle, at most 1), drawn as geometric gaps between packets from one seeded
``random.Random``. Packets wait in the node's unbounded source queue until the network accepts
them, so the latency of a packet counts from the cycle it was created.

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
from collections.abc import Callable
from dataclasses import dataclass

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
                on_cycle: Callable[[int], None] | None = None) -> TrafficStats:
    """Offer ``rate`` flits/node/cycle of ``pattern`` traffic to an idle, standalone ``mesh``
    for ``warmup + cycles`` cycles and measure the last ``cycles`` (see the module docstring).
    The mesh keeps the traffic still in flight at the end (``mesh.run_until_idle()``).
    ``on_cycle(cycles_run)`` is told about progress now and then (a progress bar)."""
    pat = Pattern(pattern) if isinstance(pattern, str) else pattern
    if isinstance(packet_flits, bool) or not isinstance(packet_flits, int) or packet_flits < 1:
        raise ValueError(f"a packet needs at least one flit, got packet_flits={packet_flits!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be 0..1 flits per node per cycle, got {rate}")
    if cycles < 1 or warmup < 0:
        raise ValueError("cycles must be >= 1 and warmup >= 0")
    if mesh.busy:
        raise ValueError("run_traffic needs an idle mesh")
    rng = random.Random(seed)
    pick = pat.picker(mesh, rng)
    p = rate / packet_flits
    t0 = mesh.now
    start = t0 + warmup
    end = start + cycles
    limit = end + (4 * (warmup + cycles) if drain is None else drain)
    nodes = mesh.nodes

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
        if stage == 1:
            measured += 1
            send(node, pick(node), packet_flits, recorder(t))
        else:
            send(node, pick(node), packet_flits)
        slot = advance_slot(slot)
    if stage < 1:
        run_to(max(mesh.now, start - 1))
        snap_start = mesh.counters()
    if stage < 2:
        run_to(max(mesh.now, end - 1))
        snap_end = mesh.counters()
    final = mesh.counters()

    latencies.sort()
    a, b = snap_start, snap_end
    accepted = sum(b.flits[i][LOCAL] - a.flits[i][LOCAL] for i in range(nodes))
    util = tuple(tuple((b.flits[i][q] - a.flits[i][q]) / cycles for q in range(PORTS))
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
        end_cycle=mesh.now,
        flit_hops=final.total_flits() - base.total_flits(),
    )
