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

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from socdbg.models.kernel import Event, Kernel
from socdbg.models.noc.binding import MeshRegisters
from socdbg.models.noc.counters import NocCounters, counters_at
from socdbg.models.noc.geometry import (
    _RR_ORDER,
    DEFAULT_BUFFER_DEPTH,
    LOCAL,
    MAX_VCS,
    NEVER,
    OPPOSITE,
    PORTS,
    ROUTINGS,
    Geometry,
    _check_int,
    _check_routing,
)

if TYPE_CHECKING:
    from socdbg.models.events import SimEvents
    from socdbg.models.regfile import RegisterFile


class Flow(Protocol):
    """A model's closed-form stream of packets on an otherwise idle mesh."""

    def materialise(self) -> None:
        """Turn the stream into the packets the mesh would hold now (with :meth:`Mesh.send`
        on a replay kernel, see :meth:`Mesh.replay`), and go on packet by packet."""

#: Kernel priority of the mesh's per-cycle work: after every ordinary event of the cycle (a
#: DMA sending a packet in cycle t is seen by the mesh's work of cycle t).
MESH_PRIORITY: Final = 1 << 20


class _Buffer:
    """One input port's FIFO, as the numbers the recurrences need.

    Flits are numbered in the order they enter; ``ring[n % depth]`` holds the cycle flit ``n``
    leaves, ``ndep`` how many leaving cycles are known (they are known in FIFO order), ``last``
    the latest of them.
    """

    __slots__ = ("credit_waiter", "head_waiters", "index", "last", "ndep", "port", "ring",
                 "seq", "stall")

    def __init__(self, index: int, depth: int) -> None:
        self.index = index
        self.port = index % PORTS
        self.ring = [NEVER] * depth
        self.ndep = 0
        self.last = -1
        self.seq = 0  # number given to the next flit to enter
        self.stall = 0  # stall cycles of flits whose leaving cycle is known
        self.credit_waiter: tuple[_Worm, int] | None = None  # the sender out of credits
        self.head_waiters: deque[tuple[_Worm, int]] = deque()  # heads behind an older worm


class _Output:
    """One output port: the worm holding it, the heads requesting it, round-robin state."""

    __slots__ = ("arb_at", "flits", "free_at", "holder", "index", "nreq", "req", "rr")

    def __init__(self, index: int) -> None:
        self.index = index
        self.holder: _Worm | None = None
        self.free_at = 0  # first cycle a new worm may be granted (when holder is None)
        self.req: list[tuple[_Worm, int] | None] = [None] * PORTS  # by input port
        self.nreq = 0
        self.rr = 0  # input port that has priority next
        self.arb_at = -1  # cycle of the latest arbitration event scheduled
        self.flits = 0  # flits whose crossing cycle is known


#: A lazy source's refill (see Mesh.set_source): node -> (dst, flits, created, on_delivered).
Refill = Callable[[int], "tuple[int, int, int, Callable[[int], None] | None] | None"]


class _Worm:
    """A packet in flight, and the cycles its flits cross each router on its route."""

    __slots__ = ("alloc", "base", "bufs", "created", "deps", "dst", "flits", "inj", "last",
                 "on_delivered", "outs", "q", "src")

    def __init__(self, src: int, dst: int, flits: int, created: int,
                 on_delivered: Callable[[int], None] | None,
                 route: tuple[tuple[_Buffer, ...], tuple[_Output, ...]]) -> None:
        self.src = src
        self.dst = dst
        self.flits = flits
        self.created = created
        self.on_delivered = on_delivered
        self.bufs, self.outs = route
        hops = len(self.outs)
        self.last = hops - 1  # index of the destination router's hop
        self.alloc = [-1] * hops  # cycle the output of each hop was granted
        self.base = [0] * hops  # number of the head flit in each hop's input buffer
        self.q = [-1] * hops  # cycle the head became ready at each hop
        self.deps: list[list[int]] = [[] for _ in range(hops)]  # leaving cycles per hop
        self.inj: list[int] = []  # injection cycle of each flit


class _Cycle:
    """The events of one cycle, run in this order: heads requesting outputs (one per worm per
    router), then grants of outputs freed this cycle, then deliveries.
    Each list runs in the order its events were scheduled."""

    __slots__ = ("arbitrate", "deliver", "request")

    def __init__(self) -> None:
        self.request: list[tuple[_Worm, int]] = []
        self.arbitrate: list[_Output] = []
        self.deliver: list[_Worm] = []


class _Source:
    """A node's network interface: the source queue and the last injection cycle."""

    __slots__ = ("last_inj", "queue")

    def __init__(self) -> None:
        self.queue: deque[_Worm] = deque()
        self.last_inj = -1


class Mesh(Geometry):
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
        self._cal: dict[int, tuple[_Cycle, Event]] = {}
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

    def _cycle(self, t: int) -> _Cycle:
        """The work of cycle ``t`` (created, and scheduled on the kernel, on first use)."""
        entry = self._cal.get(t)
        if entry is None:
            c = _Cycle()
            kernel = self._kernel
            self._cal[t] = (c, kernel.schedule(t - kernel.now, self._worker(t),
                                               MESH_PRIORITY))
            return c
        return entry[0]

    def _worker(self, t: int) -> Callable[[], None]:
        return lambda: self._work(t)

    def _work(self, t: int) -> None:
        """Cycle ``t``'s work, in this order: heads requesting outputs, grants of outputs
        freed this cycle, deliveries."""
        self._version += 1
        c = self._cal[t][0]
        if c.request:
            ready: list[_Output] = []  # outputs free now that got a request
            for entry in c.request:
                w, h = entry
                o = w.outs[h]
                o.req[w.bufs[h].port] = entry
                o.nreq += 1
                if o.holder is None:
                    at = o.free_at
                    if at <= t:
                        if o.arb_at != t:
                            o.arb_at = t
                            ready.append(o)
                    elif o.arb_at != at:
                        o.arb_at = at
                        self._cycle(at).arbitrate.append(o)
            # every request of cycle t is in: grant (outputs are independent)
            for o in ready:
                self._arbitrate(t, o)
        for o in c.arbitrate:
            self._arbitrate(t, o)
        for w in c.deliver:
            self._deliver(t, w)
        if self._cal.get(t, (None,))[0] is c:  # (unless a reset in a callback dropped it)
            del self._cal[t]

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
        return counters_at(self)

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

    # --- the router model ------------------------------------------------------------------
    def _arbitrate(self, t: int, o: _Output) -> None:
        if o.holder is not None or not o.nreq or o.free_at > t:
            return
        req = o.req
        for p in _RR_ORDER[o.rr]:
            entry = req[p]
            if entry is not None:
                break
        else:  # pragma: no cover - nreq says there is one
            return
        req[p] = None
        o.nreq -= 1
        o.rr = p + 1 if p < PORTS - 1 else 0
        w, h = entry
        o.holder = w
        w.alloc[h] = t
        if h < w.last:
            nb = w.bufs[h + 1]
            w.base[h + 1] = nb.seq
            nb.seq += w.flits
        self._run(w, h)

    def _deliver(self, t: int, w: _Worm) -> None:
        del self._inflight[w]
        self._delivered += 1
        if w.on_delivered is not None:
            w.on_delivered(t)

    def _head_arrive(self, w: _Worm, h: int) -> None:
        b = w.bufs[h]
        if b.ndep == w.base[h]:
            self._head_ready(w, h)
        else:
            b.head_waiters.append((w, h))

    def _head_ready(self, w: _Worm, h: int) -> None:
        """The head of ``w`` is at the front of hop ``h``'s buffer: it requests its output
        once its router delay is over and the flit ahead of it has left."""
        b = w.bufs[h]
        q = (w.deps[h - 1][0] + self.link_delay if h else w.inj[0]) + self.router_delay
        if b.last >= q:
            q = b.last + 1
        w.q[h] = q
        entry = self._cal.get(q)
        (entry[0] if entry is not None else self._cycle(q)).request.append((w, h))

    def _run(self, w: _Worm, h: int) -> None:
        """Compute every leaving cycle that has become computable, starting at (w, h).

        Hop ``h`` of worm ``w`` is blocked until its output is granted (``alloc``), on flits
        not yet arrived (the hop before), or on a downstream credit (``credit_waiter``); a
        head also waits until the worm ahead of it in the FIFO has gone (``head_waiters``).
        Whatever unblocks one of these pushes it back on the work list.
        """
        R = self.router_delay
        L = self.link_delay
        B = self.buffer_depth
        cycle = self._cycle
        head_ready = self._head_ready
        head_arrive = self._head_arrive
        depart = self.events.noc_depart if self.events.noc_depart.subscribers else None
        work = [(w, h)]
        pop = work.pop
        push = work.append
        while work:
            w, h = pop()
            if h < 0:
                self._inject(w, push)
                continue
            deps = w.deps[h]
            j = len(deps)
            F = w.flits
            T = w.alloc[h]
            if j == F or T < 0:
                continue
            if h:
                arr = w.deps[h - 1]
                lat = L + R
            else:
                arr = w.inj
                lat = R
            na = len(arr)
            if j >= na:
                continue
            buf = w.bufs[h]
            ring = buf.ring
            last = buf.last
            nofs = w.base[h]  # flit j is number nofs + j in this buffer
            j0 = j
            stall = 0
            add = deps.append
            if h < w.last:
                nb = w.bufs[h + 1]
                nring = nb.ring
                # flit j needs the slot freed by downstream flit mofs + j (its leaving cycle
                # is known below nb.ndep; negative numbers are slots never used, and the ring
                # still holds NEVER for them)
                mofs = w.base[h + 1] - B
                jmax = nb.ndep - mofs
                if jmax > na:
                    jmax = na
                elif jmax < na:
                    nb.credit_waiter = (w, h)
                if j >= jmax:
                    continue
                if j == 0:  # the head: granted at T (>= its ready cycle q)
                    d = nring[mofs % B] + L
                    if d < T:
                        d = T
                    stall = d - w.q[h]
                    ring[nofs % B] = d
                    add(d)
                    last = d
                    j = 1
                first = j
                for j in range(first, jmax):
                    r = arr[j] + lat
                    if last >= r:
                        r = last + 1
                    d = nring[(mofs + j) % B] + L
                    if d <= r:
                        d = r
                    else:
                        stall += d - r
                    ring[(nofs + j) % B] = d
                    add(d)
                    last = d
                j = jmax
            else:  # the destination router: ejection never waits for a credit
                if j == 0:
                    stall = T - w.q[h]
                    last = T
                    ring[nofs % B] = T
                    add(T)
                    j = 1
                first = j
                for j in range(first, na):
                    r = arr[j] + lat
                    if last >= r:
                        r = last + 1
                    ring[(nofs + j) % B] = r
                    add(r)
                    last = r
                j = na
            k = j - j0
            if not k:
                continue
            buf.last = last
            nd = buf.ndep = buf.ndep + k
            buf.stall += stall
            o = w.outs[h]
            o.flits += k
            if depart is not None:
                depart.emit(o.index // PORTS, o.index % PORTS, deps[j0:j])
            waiter = buf.credit_waiter
            if waiter is not None:
                buf.credit_waiter = None
                push(waiter)
            hw = buf.head_waiters
            if hw:
                w2, h2 = hw[0]
                if w2.base[h2] == nd:  # the worm behind this one now heads the FIFO
                    hw.popleft()
                    head_ready(w2, h2)
            if h < w.last:
                if j0 == 0:  # the head reached the next router
                    head_arrive(w, h + 1)
                elif w.alloc[h + 1] >= 0:
                    push((w, h + 1))
            if j == F:  # the tail has crossed: release the output
                o.holder = None
                o.free_at = last + 1
                if o.nreq:
                    o.arb_at = last + 1
                    cycle(last + 1).arbitrate.append(o)
                if h == w.last:
                    cycle(last + L + self.eject_delay).deliver.append(w)

    def _inject(self, w: _Worm, push: Callable[[tuple[_Worm, int]], None]) -> None:
        """The network interface writes ``w``'s flits into the LOCAL input buffer."""
        inj = w.inj
        j = len(inj)
        F = w.flits
        if j == F:
            return
        B = self.buffer_depth
        src = self._sources[w.src]
        lb = w.bufs[0]
        ring = lb.ring
        t_last = src.last_inj
        mofs = w.base[0] - B
        jmax = lb.ndep - mofs
        if jmax >= F:
            jmax = F
        else:
            lb.credit_waiter = (w, -1)
        if j >= jmax:
            return
        j0 = j
        if j == 0:
            t = ring[mofs % B] + 1
            if t <= t_last:
                t = t_last + 1
            if t < w.created + self.inject_delay:
                t = w.created + self.inject_delay
            inj.append(t)
            t_last = t
            j = 1
        first = j
        for j in range(first, jmax):
            t = ring[(mofs + j) % B] + 1
            if t <= t_last:
                t = t_last + 1
            inj.append(t)
            t_last = t
        j = jmax
        src.last_inj = t_last
        if j0 == 0:
            self._head_arrive(w, 0)
        elif w.alloc[0] >= 0:
            push((w, 0))
        if j == F:
            queue = src.queue
            queue.popleft()
            if not queue and self._refill is not None:
                more = self._refill(w.src)
                if more is not None:
                    dst, flits, created, cb = more
                    if created > self._kernel.now:
                        raise ValueError(f"a refilled packet was created in the future "
                                         f"({created} > {self._kernel.now})")
                    queue.append(self._worm(w.src, dst, flits, created, cb))
            if queue:
                nxt = queue[0]
                nxt.base[0] = lb.seq
                lb.seq += nxt.flits
                push((nxt, -1))

