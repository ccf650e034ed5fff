"""The 2D mesh network-on-chip: wormhole routers with credit flow control, cycle-exact.

Topology and names
------------------
``Mesh(X, Y)`` has ``X * Y`` routers (each dimension 1..16). Router (node) ``n`` sits at
``x = n % X``, ``y = n // X`` (docs/chip.md). Each router has five input ports and five output
ports, numbered as in ``registers/noc.rdl``: 0 = N, 1 = E, 2 = S, 3 = W, 4 = LOCAL. docs/chip.md
does not say which way is north, so this model takes **N = y - 1** (row 0 is the top edge),
S = y + 1, E = x + 1, W = x - 1. An output port is named by the way the flit leaves (router 5's
E output feeds router 6); an input port by the side the flit comes in from (router 6's W
input). LOCAL input is the tile's injection port, LOCAL output its ejection port.

The router
----------
Wormhole flow control, one virtual channel: a packet is a worm of ``flits`` flits, head first,
tail last (a one-flit packet is both). Every input port has a FIFO of ``buffer_depth`` flits.
Timing, in cycles (``R`` = ``router_delay``, ``L`` = ``link_delay``, both >= 1):

* A flit that enters an input buffer in cycle ``a`` may leave the router (cross the switch onto
  its output link) in cycle ``a + R`` at the earliest, and only once the flit ahead of it in
  the same FIFO has left (in an earlier cycle). Every output link carries one flit per cycle.
* The head, once so *ready*, requests the output its route names. A free output is granted to
  one requesting head per cycle, round robin over the input ports (starting after the last
  winner); the worm then holds the output until its tail has crossed: the next worm can be
  granted the output in the cycle after the tail left. The head crosses in the cycle it is
  granted if it has a credit.
* Credits: a router output may send a flit only while the downstream input buffer has a free
  slot as the output sees it. A slot freed when a flit leaves the downstream buffer in cycle
  ``c`` is usable upstream from cycle ``c + L`` (credits travel back over the link). A flit
  leaving in cycle ``c`` enters the downstream buffer in cycle ``c + L``.
* The LOCAL output (ejection) always accepts: a flit leaving onto it in cycle ``c`` is ejected
  in cycle ``c + L`` and delivered to the tile ``eject_delay`` (default 0) cycles later.
* Injection: each node has an unbounded source queue of packets; the network interface writes
  at most one flit per cycle into the LOCAL input buffer, packets in order, a packet's head no
  earlier than ``inject_delay`` (default 0) cycles after it was sent, and only into a free
  slot (a slot freed in cycle ``c`` is reusable in cycle ``c + 1``). "Injected" means written
  into that buffer.

Routing is dimension order, XY (all of X first, then Y) or YX, fixed per packet when it is sent.

Latency
-------
A packet's latency is the cycle its tail flit is ejected minus the cycle it was sent (so it
includes any wait in the source queue; a lone packet is injected in the cycle it is sent).
``hops`` counts the routers the packet crosses: the Manhattan distance ``D`` between source and
destination plus one (the destination router, whose output is the ejection link); each hop costs
one router delay and one link delay. For a packet alone in the mesh, **exactly**::

    latency = (D + 1) * (router_delay + link_delay) + (flits - 1)

(plus ``inject_delay + eject_delay``, the network interface's channels)

provided ``buffer_depth >= router_delay + 2 * link_delay`` (the credit round trip); with
shallower buffers a stream of flits is throttled to ``buffer_depth`` flits per round trip and
lone packets longer than ``buffer_depth`` take longer. A "flit-hop" is one flit crossing one
router, the ejection crossing included.

Simulation
----------
Event driven and exact (the tests check it flit for flit, counters included, against a
cycle-by-cycle reference): the only decisions taken in time order are output grants, one event
per worm per router, gathered per cycle into one kernel event. Everything else (the cycle
each flit leaves each router) is a max-plus recurrence on values already known::

    leave[h][j] = max(arrive[h][j] + R, leave[h][j-1] + 1, credit[h][j])   (body flits)
    leave[h][0] = max(granted[h], credit[h][0])                            (the head)

computed as soon as its inputs are known, possibly for cycles still ahead. A worm of ``flits``
flits costs one event and ``flits`` small arithmetic steps per router; no flit is visited once
per cycle. When an input is not known yet (a credit from a worm still blocked downstream, say)
the computation parks and is resumed by whatever makes it known. Counters are kept as totals
that may include cycles ahead; ``counters()`` subtracts whatever lies after the current cycle.

Kernel integration: the mesh has no clock or ticker of its own. Each cycle with work pending
(requests, grants, deliveries) is one event on the kernel's heap, at ``MESH_PRIORITY`` so it
runs after the cycle's ordinary events; the kernel jumps from event to event even while
packets are in flight. ``attach(kernel)`` puts the work on the simulator's kernel; a
standalone mesh has a kernel of its own, driven by ``run(cycles)`` / ``run_to(cycle)``.
``send`` is the port other models use; ``on_delivered(cycle)`` runs in the ejection cycle.

Flows: a model that has the mesh to itself may time a stream of packets in closed form instead
of sending them (``flow_ready``, ``begin_flow``; the DMA engine does, socdbg.models.dma_flow).
Whatever uses or observes the mesh first settles the flow: the model replays the packets it
has sent so far (``replay``), so the mesh holds exactly what it would have. A flow delivered
whole is folded into the mesh's state by ``end_flow``.
Not modelled: ``noc.ctrl.en`` (the mesh always forwards), ``noc.status.err``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from socdbg.models.kernel import Kernel
from socdbg.models.noc.binding import MeshRegisters
from socdbg.models.noc.counters import NocCounters, counters_at
from socdbg.models.noc.geometry import (
    DEFAULT_BUFFER_DEPTH,
    LOCAL,
    MAX_VCS,
    OPPOSITE,
    PORTS,
    ROUTINGS,
    Geometry,
    _check_int,
    _check_routing,
)
from socdbg.models.noc.router import (
    MESH_PRIORITY,
    Refill,
    Router,
    _Buffer,
    _Output,
    _Source,
    _Worm,
)

if TYPE_CHECKING:
    from socdbg.models.events import SimEvents
    from socdbg.models.regfile import RegisterFile


class Flow(Protocol):
    """A model's closed-form stream of packets on an otherwise idle mesh."""

    def materialise(self) -> None:
        """Turn the stream into the packets the mesh would hold now (with :meth:`Mesh.send`
        on a replay kernel, see :meth:`Mesh.replay`), and go on packet by packet."""


__all__ = ["MESH_PRIORITY", "Flow", "Mesh", "Refill"]


class Mesh(Geometry, Router):
    """A ``size_x`` by ``size_y`` wormhole mesh (see the module docstring for the timing)."""

    def __init__(self, size_x: int, size_y: int, router_delay: int = 1, link_delay: int = 1,
                 buffer_depth: int = DEFAULT_BUFFER_DEPTH, routing: str = "XY",
                 events: SimEvents | None = None, inject_delay: int = 0,
                 eject_delay: int = 0, vcs: int = 1) -> None:
        super().__init__(size_x, size_y, routing)
        #: Virtual channels per input port. The event-driven router here models one; more
        #: are simulated by the cycle-by-cycle arrays (socdbg.models.noc.cycles) that
        #: synthetic traffic runs on (socdbg.models.traffic.run_traffic).
        self.vcs = _check_int("vcs", vcs, 1, MAX_VCS)
        self.router_delay = _check_int("router_delay", router_delay, 1)
        self.link_delay = _check_int("link_delay", link_delay, 1)
        #: Network-interface channel latencies (BookSim2's injection and ejection channels):
        #: a packet's head is injected no earlier than ``inject_delay`` cycles after it is
        #: sent, and a tail is delivered ``eject_delay`` cycles after it is ejected.
        self.inject_delay = _check_int("inject_delay", inject_delay, 0)
        self.eject_delay = _check_int("eject_delay", eject_delay, 0)
        self.buffer_depth = _check_int("buffer_depth", buffer_depth, 1)
        if events is None:
            from socdbg.models.events import SimEvents

            events = SimEvents()
        #: ``events.noc_depart`` reports flit departures (see socdbg.models.events).
        self.events = events
        #: The kernel the mesh's work is scheduled on: its own until :meth:`attach`.
        self._kernel = Kernel()
        self._attached = False
        self._version = 0
        self._registers: MeshRegisters | None = None
        #: A stream of packets another model times in closed form while it has the mesh to
        #: itself (see :meth:`begin_flow`); settled back into packets before anything else
        #: looks at or uses the mesh.
        self._flow: Flow | None = None
        self._clear()

    def _clear(self) -> None:
        cells = self.nodes * PORTS
        self._bufs = [_Buffer(i, self.buffer_depth) for i in range(cells)]
        self._outs = [_Output(i) for i in range(cells)]
        self._sources = [_Source() for _ in range(self.nodes)]
        self._routes: dict[str, list[tuple[tuple[_Buffer, ...], tuple[_Output, ...]] | None]] = {
            name: [None] * (self.nodes * self.nodes) for name in ROUTINGS}
        # the cycles with work pending: cycle -> its work and the kernel event that runs it
        self._cal = {}
        self._inflight: dict[_Worm, None] = {}
        self._refill: Refill | None = None
        self._sent = 0
        self._delivered = 0
        self._version += 1

    def _route(self, src: int, dst: int) -> tuple[tuple[_Buffer, ...], tuple[_Output, ...]]:
        """The input buffers and outputs of the route, cached per routing."""
        hops = self.route(src, dst)
        bufs = [self._bufs[src * PORTS + LOCAL]]
        for node, port in hops[:-1]:
            nxt = self.neighbour(node, port)
            assert nxt is not None
            bufs.append(self._bufs[nxt * PORTS + OPPOSITE[port]])
        outs = tuple(self._outs[node * PORTS + port] for node, port in hops)
        found = (tuple(bufs), outs)
        self._routes[self._routing][src * self.nodes + dst] = found
        return found

    # --- state ---------------------------------------------------------------------------
    @property
    def now(self) -> int:
        """The current cycle: the kernel's (the mesh's own kernel when standalone)."""
        return self._kernel.now

    @property
    def version(self) -> int:
        """Changes whenever the mesh's state may have changed (a counter cache's key)."""
        return self._version

    @property
    def routing(self) -> str:
        """``"XY"`` or ``"YX"``; may be changed only while no packet is in flight."""
        return self._routing

    @routing.setter
    def routing(self, value: str) -> None:
        name = _check_routing(value)
        self.settle()
        if name != self._routing and self._inflight:
            raise RuntimeError(f"cannot switch routing to {name} with {len(self._inflight)} "
                               "packets in flight; wait until the mesh is idle")
        self._routing = name

    def switch_routing(self, routing: str) -> None:
        """What a write of ``noc.ctrl.routing`` does: packets sent from now on take
        ``routing``'s routes, with traffic in flight or not (as on the hardware, that can
        deadlock; the :attr:`routing` setter refuses instead)."""
        name = _check_routing(routing)
        self.settle()
        self._routing = name

    @property
    def in_flight(self) -> int:
        """Packets sent and not yet delivered (source queues included)."""
        self.settle()
        return len(self._inflight)

    @property
    def busy(self) -> bool:
        self.settle()
        return bool(self._inflight)

    @property
    def quiet(self) -> bool:
        """Nothing in flight, scheduled or moving as a flow: the counters hold until the next
        kernel event. Asked without settling a flow (a condition check must not)."""
        return self._flow is None and not self._inflight and not self._cal

    @property
    def scheduled(self) -> bool:
        """Whether the mesh has work scheduled on its kernel (an idle mesh has none, so the
        kernel jumps from event to event)."""
        self.settle()
        return bool(self._cal)

    @property
    def sent(self) -> int:
        self.settle()
        return self._sent

    @property
    def delivered(self) -> int:
        self.settle()
        return self._delivered

    def reset(self) -> None:
        """Drop every packet (their ``on_delivered`` never runs) and zero the counters."""
        self._flow = None  # its packets go with the rest
        for _, ev in self._cal.values():
            ev.cancel()
        self._clear()

    # --- sending ---------------------------------------------------------------------------
    def send(self, src_node: int, dst_node: int, flits: int,
             on_delivered: Callable[[int], None] | None = None) -> None:
        """Queue a packet of ``flits`` flits at ``src_node`` for ``dst_node``, sent now.

        ``on_delivered(cycle)`` runs once, in the cycle the tail flit is ejected at
        ``dst_node`` (with that cycle).
        """
        nodes = self.nodes
        if type(src_node) is not int or not 0 <= src_node < nodes:
            self._check_node("src_node", src_node)
        if type(dst_node) is not int or not 0 <= dst_node < nodes:
            self._check_node("dst_node", dst_node)
        if type(flits) is not int or flits < 1:
            raise ValueError(f"a packet needs at least one flit, got flits={flits!r}")
        if on_delivered is not None and not callable(on_delivered):
            raise ValueError("on_delivered must be callable")
        if self._flow is not None:
            self.settle()
        w = self._worm(src_node, dst_node, flits, self._kernel.now, on_delivered)
        queue = self._sources[src_node].queue
        queue.append(w)
        if len(queue) == 1:
            lb = w.bufs[0]
            w.base[0] = lb.seq
            lb.seq += flits
            self._run(w, -1)

    def _worm(self, src: int, dst: int, flits: int, created: int,
              on_delivered: Callable[[int], None] | None) -> _Worm:
        route = self._routes[self._routing][src * self.nodes + dst]
        if route is None:
            route = self._route(src, dst)
        w = _Worm(src, dst, flits, created, on_delivered, route)
        self._inflight[w] = None
        self._sent += 1
        self._version += 1
        return w

    def queued(self, node: int) -> int:
        """Packets in ``node``'s source queue (sent, not wholly injected)."""
        return len(self._sources[node].queue)

    def set_source(self, refill: Refill | None) -> None:
        """A lazy source, as BookSim2 generates traffic: when a node's source queue empties
        (its last packet wholly injected), ``refill(node)`` may hand over the node's next
        packet, ``(dst, flits, created, on_delivered)`` with ``created`` no later than now,
        and it is queued exactly as if ``send`` had been called in cycle ``created``. So a
        generator keeps the packets that could not be injected yet to itself instead of the
        mesh holding every one (past saturation, an unbounded number). It stays set until
        replaced, or the mesh is reset; the caller checks what it returns."""
        self._refill = refill

    # --- running ---------------------------------------------------------------------------
    def run_to(self, cycle: int) -> None:
        """Run every event up to and including ``cycle`` (standalone use)."""
        if self._attached:
            raise RuntimeError("the mesh is attached to a kernel: step the kernel instead")
        if cycle < self.now:
            raise ValueError(f"cycle {cycle} is in the past (now {self.now})")
        self._kernel.step(cycle - self.now)

    def run(self, cycles: int) -> None:
        """Run ``cycles`` more cycles (standalone use)."""
        self.run_to(self.now + _check_int("cycles", cycles, 0))

    def run_until_idle(self, max_cycles: int = 1_000_000) -> bool:
        """Run until every packet is delivered or ``max_cycles`` pass; returns whether idle."""
        limit = self.now + max_cycles
        self.settle()
        while self._inflight and self._cal:
            nxt = min(self._cal)
            if nxt > limit:
                break
            self.run_to(nxt)
        if not self._inflight:
            return True
        self.run_to(limit)
        return not self._inflight

    # --- kernel ----------------------------------------------------------------------------
    def attach(self, kernel: Kernel) -> None:
        """Schedule the mesh's work on ``kernel`` from now on (work pending on the mesh's own
        kernel moves over; its clock catches up with ``kernel`` first)."""
        if self._attached:
            raise RuntimeError("the mesh is already attached to a kernel")
        self.settle()
        own = self._kernel
        if kernel.now < own.now and self._cal:
            raise ValueError(f"kernel time {kernel.now} is behind the mesh ({own.now})")
        if kernel.now > own.now:
            own.step(kernel.now - own.now)  # catch up with whatever ran standalone
        pending = sorted(self._cal.items())
        self._kernel = kernel
        self._attached = True
        self._cal = {}
        for t, (c, ev) in pending:
            ev.cancel()
            self._cal[t] = (c, kernel.schedule(max(0, t - kernel.now), self._worker(t),
                                               MESH_PRIORITY))

    # --- flows -----------------------------------------------------------------------------
    def flow_ready(self) -> bool:
        """Whether a model may time a stream of packets in closed form from now on: nothing
        in flight or scheduled, no other flow, nobody watching departures, and buffers deep
        enough that a lone stream is never throttled (``buffer_depth >= R + 2L``), and no
        network-interface latency (flows are timed without it)."""
        return (self._flow is None and not self._inflight and not self._cal
                and not self.events.noc_depart and not self.inject_delay
                and not self.eject_delay
                and self.buffer_depth >= self.router_delay + 2 * self.link_delay)

    def begin_flow(self, flow: Flow) -> None:
        """``flow`` has the mesh to itself until it ends (:meth:`end_flow`) or anything else
        uses or observes the mesh, which first calls ``flow.materialise()``."""
        assert self.flow_ready()
        self._flow = flow

    def settle(self) -> None:
        """Turn an active flow into packets (before anything else sees the mesh)."""
        flow = self._flow
        if flow is not None:
            self._flow = None
            flow.materialise()

    def replay(self, start: int, sends: Callable[[Callable[[int], None]], None],
               through_now: bool | None = None) -> None:
        """Rebuild the packets of a flow that began at cycle ``start`` (when the mesh was
        idle): ``sends(at)`` calls ``at(cycle)`` before each :meth:`send` to move a replay
        kernel to that cycle; then the replay runs up to now (through the current cycle's
        work unless the kernel is inside an event of this cycle; ``through_now`` overrides
        that) and its pending work moves to the real kernel. Deliveries up to then happen
        during the replay."""
        real = self._kernel
        now = real.now
        assert self._flow is None and not self._cal
        replay = Kernel()
        replay.now = start
        self._kernel = replay

        def at(cycle: int) -> None:
            if cycle > replay.now:
                if cycle - 1 > replay.now:
                    replay.step(cycle - 1 - replay.now)
                replay._fire_due()
                replay.now = cycle

        sends(at)
        if through_now is None:
            through_now = not real.firing
        if not through_now:  # the rest of this cycle (the mesh's work included) is to come
            at(now)
        else:
            replay.step(now - replay.now)
        pending = sorted(self._cal.items())
        self._kernel = real
        self._cal = {}
        for t, (c, ev) in pending:
            ev.cancel()
            self._cal[t] = (c, real.schedule(t - now, self._worker(t), MESH_PRIORITY))

    def end_flow(self, src: int, dst: int, packets: int, flits: int,
                 tail: list[tuple[int, int]]) -> None:
        """A flow's stream was delivered whole: put the mesh in the state the packets would
        have left it in. ``packets``/``flits``: totals; ``tail``: (injection cycle of the head,
        flits) of the last packets, covering at least ``buffer_depth`` flits (or all)."""
        self._flow = None
        R, L, B = self.router_delay, self.link_delay, self.buffer_depth
        route = self._routes[self._routing][src * self.nodes + dst]
        if route is None:
            route = self._route(src, dst)
        bufs, outs = route
        inj: list[int] = []
        for head, n in tail:
            inj.extend(range(head, head + n))
        inj = inj[-B:]
        last_head = tail[-1][0]
        for h, (buf, out) in enumerate(zip(bufs, outs, strict=True)):
            shift = R + h * (R + L)
            base = buf.seq + flits - len(inj)
            for k, t in enumerate(inj):
                buf.ring[(base + k) % B] = t + shift
            buf.seq += flits
            buf.ndep += flits
            buf.last = inj[-1] + shift
            out.flits += flits
            out.free_at = buf.last + 1
            out.rr = (buf.port + 1) % PORTS
            out.arb_at = last_head + shift
        self._sources[src].last_inj = inj[-1]
        self._sent += packets
        self._delivered += packets
        self._version += 1

    # --- counters and registers ------------------------------------------------------------
    def counters(self) -> NocCounters:
        """Every router's port counters as of the end of the current cycle."""
        self.settle()
        return counters_at(self.now, self.nodes, self._outs, self._bufs, self._inflight,
                           self.router_delay, self.link_delay)

    def bind(self, regs: RegisterFile) -> MeshRegisters:
        """Put the counters behind ``regs`` (see :class:`MeshRegisters`)."""
        self._registers = MeshRegisters(self, regs)
        self._registers.bind()
        return self._registers

    def publish(self, regs: RegisterFile) -> None:
        """Write every counter register now (through ``regs.hw_write``)."""
        registers = self._registers
        if registers is None or registers.regs is not regs:
            registers = MeshRegisters(self, regs)
        registers.publish()
