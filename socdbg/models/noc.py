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
  (delivered to the tile) in cycle ``c + L``.
* Injection: each node has an unbounded source queue of packets; the network interface writes
  at most one flit per cycle into the LOCAL input buffer, packets in order, a packet's head no
  earlier than the cycle it was sent, and only into a free slot (a slot freed in cycle ``c`` is
  reusable in cycle ``c + 1``). "Injected" means written into that buffer.

Routing is dimension order, XY (all of X first, then Y) or YX, fixed per packet when it is sent.

Latency
-------
A packet's latency is the cycle its tail flit is ejected minus the cycle it was sent (so it
includes any wait in the source queue; a lone packet is injected in the cycle it is sent).
``hops`` counts the routers the packet crosses: the Manhattan distance ``D`` between source and
destination plus one (the destination router, whose output is the ejection link); each hop costs
one router delay and one link delay. For a packet alone in the mesh, **exactly**::

    latency = (D + 1) * (router_delay + link_delay) + (flits - 1)

provided ``buffer_depth >= router_delay + 2 * link_delay`` (the credit round trip); with
shallower buffers a stream of flits is throttled to ``buffer_depth`` flits per round trip and
lone packets longer than ``buffer_depth`` take longer. A "flit-hop" is one flit crossing one
router, the ejection crossing included.

Simulation
----------
Event driven and exact (the tests check it flit for flit, counters included, against a
cycle-by-cycle reference): the only decisions taken in time order are output grants, one event
per worm per router, kept in a calendar of per-cycle event lists. Everything else (the cycle
each flit leaves each router) is a max-plus recurrence on values already known::

    leave[h][j] = max(arrive[h][j] + R, leave[h][j-1] + 1, credit[h][j])   (body flits)
    leave[h][0] = max(granted[h], credit[h][0])                            (the head)

computed as soon as its inputs are known, possibly for cycles still ahead. A worm of ``flits``
flits costs one event and ``flits`` small arithmetic steps per router; no flit is visited once
per cycle. When an input is not known yet (a credit from a worm still blocked downstream, say)
the computation parks and is resumed by whatever makes it known. Counters are kept as totals
that may include cycles ahead; ``counters()`` subtracts whatever lies after the current cycle.

Kernel integration: ``attach(kernel)`` makes the mesh follow ``kernel.now`` and registers a
ticker only while it has events pending, so an idle mesh costs nothing and ``run_until`` jumps.
``send`` is the port other models use; ``on_delivered(cycle)`` runs from the ticker in the
ejection cycle. Without a kernel, ``run(cycles)`` / ``run_to(cycle)`` drive the mesh.
Not modelled: ``noc.ctrl.en`` (the mesh always forwards), ``noc.status.err``.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from socdbg.models.kernel import Kernel
    from socdbg.models.regfile import RegisterFile
    from socdbg.regmap import Register

N: Final = 0
E: Final = 1
S: Final = 2
W: Final = 3
LOCAL: Final = 4
PORTS: Final = 5
PORT_NAMES: Final = ("N", "E", "S", "W", "LOCAL")
#: The input port a flit arrives on after leaving through output port ``p``.
OPPOSITE: Final = (S, W, N, E, LOCAL)
ROUTINGS: Final = ("XY", "YX")
MAX_DIM: Final = 16
#: Leaving cycle of the flits before the first (their slots have always been free).
NEVER: Final = -(1 << 40)


_RR_ORDER: Final = tuple(tuple((start + k) % PORTS for k in range(PORTS))
                         for start in range(PORTS))


#: Input buffer depth in flits. Eight, not four: with 4-flit buffers a single-channel
#: wormhole router saturates at 58% of the 8x8 channel-load bound (head-of-line blocking);
#: with 8 it reaches 67%, inside the 60-100% band the reference SoC is specified for.
DEFAULT_BUFFER_DEPTH = 8


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
    router), then grants of outputs freed this cycle, then plain calls, then deliveries.
    Each list runs in the order its events were scheduled."""

    __slots__ = ("arbitrate", "call", "deliver", "request")

    def __init__(self) -> None:
        self.request: list[tuple[_Worm, int]] = []
        self.arbitrate: list[_Output] = []
        self.call: list[Callable[[], None]] = []
        self.deliver: list[_Worm] = []


class _Source:
    """A node's network interface: the source queue and the last injection cycle."""

    __slots__ = ("last_inj", "queue")

    def __init__(self) -> None:
        self.queue: deque[_Worm] = deque()
        self.last_inj = -1


@dataclass(frozen=True)
class NocCounters:
    """The per-router, per-port counters at the end of ``cycle``, indexed ``[router][port]``.

    ``flits``: flits that left through that output port. ``stalls``: cycles the flit at the
    front of that input port's buffer had finished its router delay but could not leave (its
    output held by another worm or lost arbitration, or no downstream credit). ``buf_occ``:
    flits in that input port's buffer.
    """

    cycle: int
    flits: tuple[tuple[int, ...], ...]
    stalls: tuple[tuple[int, ...], ...]
    buf_occ: tuple[tuple[int, ...], ...]

    @property
    def idle(self) -> bool:
        """No flit buffered anywhere."""
        return not any(any(row) for row in self.buf_occ)

    def total_flits(self) -> int:
        return sum(sum(row) for row in self.flits)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {span}, got {value}")
    return value


def _check_routing(routing: str) -> str:
    name = routing.upper() if isinstance(routing, str) else routing
    if name not in ROUTINGS:
        raise ValueError(f"routing must be 'XY' or 'YX', not {routing!r}")
    return str(name)


class Mesh:
    """A ``size_x`` by ``size_y`` wormhole mesh (see the module docstring for the timing)."""

    def __init__(self, size_x: int, size_y: int, router_delay: int = 1, link_delay: int = 1,
                 buffer_depth: int = DEFAULT_BUFFER_DEPTH, routing: str = "XY") -> None:
        _check_int("size_x", size_x, 1)
        _check_int("size_y", size_y, 1)
        if size_x > MAX_DIM or size_y > MAX_DIM:
            raise ValueError(f"mesh {size_x}x{size_y} is larger than the NoC supports "
                             f"({MAX_DIM}x{MAX_DIM} at most)")
        self.size_x = size_x
        self.size_y = size_y
        self.nodes = size_x * size_y
        self.router_delay = _check_int("router_delay", router_delay, 1)
        self.link_delay = _check_int("link_delay", link_delay, 1)
        self.buffer_depth = _check_int("buffer_depth", buffer_depth, 1)
        self._routing = _check_routing(routing)
        #: Observer of flit departures (a waveform tracer), when set: ``on_depart(router,
        #: port, cycles)`` gets the cycles, ascending, in which flits leave ``router`` through
        #: output ``port``, as soon as they are known: possibly ahead of ``now``, never behind.
        self.on_depart: Callable[[int, int, list[int]], None] | None = None
        self._kernel: Kernel | None = None
        self._ticker: int | None = None
        self._now = 0
        self._version = 0
        self._clear()

    def _clear(self) -> None:
        cells = self.nodes * PORTS
        self._bufs = [_Buffer(i, self.buffer_depth) for i in range(cells)]
        self._outs = [_Output(i) for i in range(cells)]
        self._sources = [_Source() for _ in range(self.nodes)]
        self._routes: dict[str, list[tuple[tuple[_Buffer, ...], tuple[_Output, ...]] | None]] = {
            name: [None] * (self.nodes * self.nodes) for name in ROUTINGS}
        # the event calendar: cycle -> its events, and a heap of the cycles that have any
        self._cal: dict[int, _Cycle] = {}
        self._times: list[int] = []
        self._inflight: dict[_Worm, None] = {}
        self._sent = 0
        self._delivered = 0
        self._version += 1
        self._counter_cache: tuple[tuple[int, int], NocCounters] | None = None

    # --- geometry --------------------------------------------------------------------------
    def node(self, x: int, y: int) -> int:
        """The node at column ``x``, row ``y``."""
        if not (0 <= x < self.size_x and 0 <= y < self.size_y):
            raise ValueError(f"({x}, {y}) is outside the {self.size_x}x{self.size_y} mesh")
        return y * self.size_x + x

    def coords(self, node: int) -> tuple[int, int]:
        """(x, y) of ``node``."""
        self._check_node("node", node)
        return node % self.size_x, node // self.size_x

    def neighbour(self, node: int, port: int) -> int | None:
        """The router on the other side of output ``port`` (None at the edge or for LOCAL)."""
        x, y = self.coords(node)
        if port == N:
            return node - self.size_x if y > 0 else None
        if port == S:
            return node + self.size_x if y < self.size_y - 1 else None
        if port == E:
            return node + 1 if x < self.size_x - 1 else None
        if port == W:
            return node - 1 if x > 0 else None
        return None

    def hops(self, src: int, dst: int) -> int:
        """Routers a packet from ``src`` to ``dst`` crosses: Manhattan distance + 1."""
        (sx, sy), (dx, dy) = self.coords(src), self.coords(dst)
        return abs(sx - dx) + abs(sy - dy) + 1

    def route(self, src: int, dst: int, routing: str | None = None) -> list[tuple[int, int]]:
        """The (router, output port) pairs a packet crosses, ending with (dst, LOCAL)."""
        self._check_node("src_node", src)
        self._check_node("dst_node", dst)
        order = self._routing if routing is None else _check_routing(routing)
        x, y = src % self.size_x, src // self.size_x
        dx, dy = dst % self.size_x, dst // self.size_x
        out: list[tuple[int, int]] = []
        while True:
            node = y * self.size_x + x
            if order == "XY":
                port = (E if dx > x else W) if x != dx else (S if dy > y else N) if y != dy \
                    else LOCAL
            else:
                port = (S if dy > y else N) if y != dy else (E if dx > x else W) if x != dx \
                    else LOCAL
            out.append((node, port))
            if port == LOCAL:
                return out
            if port == E:
                x += 1
            elif port == W:
                x -= 1
            elif port == S:
                y += 1
            else:
                y -= 1

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

    def _check_node(self, name: str, node: object) -> None:
        if isinstance(node, bool) or not isinstance(node, int):
            raise ValueError(f"{name} must be a node number, not {node!r}")
        if not 0 <= node < self.nodes:
            raise ValueError(f"{name} {node} is out of range: the {self.size_x}x{self.size_y} "
                             f"mesh has nodes 0..{self.nodes - 1}")

    # --- state -----------------------------------------------------------------------------
    @property
    def now(self) -> int:
        """The current cycle: the kernel's when attached, else the last cycle run to."""
        if self._kernel is not None:
            return max(self._kernel.now, self._now)
        return self._now

    @property
    def routing(self) -> str:
        """``"XY"`` or ``"YX"``; may be changed only while no packet is in flight."""
        return self._routing

    @routing.setter
    def routing(self, value: str) -> None:
        name = _check_routing(value)
        if name != self._routing and self._inflight:
            raise RuntimeError(f"cannot switch routing to {name} with {len(self._inflight)} "
                               "packets in flight; wait until the mesh is idle")
        self._routing = name

    @property
    def in_flight(self) -> int:
        """Packets sent and not yet delivered (source queues included)."""
        return len(self._inflight)

    @property
    def busy(self) -> bool:
        return bool(self._inflight)

    @property
    def deadlocked(self) -> bool:
        """Packets in flight and nothing left that could move them (mixed routings can do
        this; pure XY or pure YX cannot)."""
        return bool(self._inflight) and not self._times

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def delivered(self) -> int:
        return self._delivered

    def reset(self) -> None:
        """Drop every packet (their ``on_delivered`` never runs) and zero the counters."""
        self._clear()
        self._sync_ticker()

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
        kernel = self._kernel
        if kernel is not None and kernel.now > self._now:
            self._now = kernel.now
        route = self._routes[self._routing][src_node * nodes + dst_node]
        if route is None:
            route = self._route(src_node, dst_node)
        w = _Worm(src_node, dst_node, flits, self._now, on_delivered, route)
        self._inflight[w] = None
        self._sent += 1
        self._version += 1
        queue = self._sources[src_node].queue
        queue.append(w)
        if len(queue) == 1:
            lb = route[0][0]
            w.base[0] = lb.seq
            lb.seq += flits
            self._run(w, -1)
        if kernel is not None:
            self._sync_ticker()

    # --- running ---------------------------------------------------------------------------
    def run_to(self, cycle: int) -> None:
        """Run every event up to and including ``cycle`` (standalone use)."""
        if self._kernel is not None:
            raise RuntimeError("the mesh is attached to a kernel: step the kernel instead")
        if cycle < self._now:
            raise ValueError(f"cycle {cycle} is in the past (now {self._now})")
        self._advance(cycle)

    def run(self, cycles: int) -> None:
        """Run ``cycles`` more cycles (standalone use)."""
        self.run_to(self._now + _check_int("cycles", cycles, 0))

    def run_until_idle(self, max_cycles: int = 1_000_000) -> bool:
        """Run until every packet is delivered or ``max_cycles`` pass; returns whether idle."""
        limit = self._now + max_cycles
        while self._inflight and self._times and self._times[0] <= limit:
            self.run_to(self._times[0])
        if not self._inflight:
            return True
        self.run_to(limit)
        return not self._inflight

    def call_at(self, cycle: int, action: Callable[[], None]) -> None:
        """Run ``action()`` in ``cycle`` (standalone drivers such as traffic generators)."""
        if cycle < self.now:
            raise ValueError(f"cycle {cycle} is in the past (now {self.now})")
        self._cycle(cycle).call.append(action)
        self._sync_ticker()

    def _cycle(self, t: int) -> _Cycle:
        """The events of cycle ``t`` (created on first use)."""
        c = self._cal.get(t)
        if c is None:
            c = self._cal[t] = _Cycle()
            heapq.heappush(self._times, t)
        return c

    def _advance(self, until: int) -> None:
        times = self._times
        if not times or times[0] > until:
            if until > self._now:
                self._now = until
            return
        self._version += 1
        cal = self._cal
        pop = heapq.heappop
        while times and times[0] <= until:
            t = times[0]
            self._now = t
            c = cal[t]
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
            calls = c.call
            i = 0
            while i < len(calls):  # a call may schedule another for this cycle
                calls[i]()
                i += 1
            for w in c.deliver:
                self._deliver(t, w)
            while i < len(calls):  # ... and so may a delivery
                calls[i]()
                i += 1
            pop(times)
            del cal[t]
        if until > self._now:
            self._now = until

    # --- kernel ----------------------------------------------------------------------------
    def attach(self, kernel: Kernel) -> None:
        """Follow ``kernel`` time from now on; a ticker runs only while events are pending."""
        if self._kernel is not None:
            raise RuntimeError("the mesh is already attached to a kernel")
        if kernel.now < self._now and self._times:
            raise ValueError(f"kernel time {kernel.now} is behind the mesh ({self._now})")
        if kernel.now > self._now:
            self._advance(kernel.now)  # catch up with whatever ran standalone
        self._kernel = kernel
        self._now = max(self._now, kernel.now)
        self._sync_ticker()

    def detach(self) -> None:
        if self._kernel is not None and self._ticker is not None:
            self._kernel.remove_ticker(self._ticker)
        self._ticker = None
        self._kernel = None

    @property
    def ticking(self) -> bool:
        """Whether the mesh has a ticker registered with its kernel."""
        return self._ticker is not None

    def _sync_ticker(self) -> None:
        kernel = self._kernel
        if kernel is None:
            return
        if self._times and self._ticker is None:
            self._ticker = kernel.add_ticker(self._tick)
        elif not self._times and self._ticker is not None:
            kernel.remove_ticker(self._ticker)
            self._ticker = None

    def _tick(self, cycle: int) -> None:
        times = self._times
        if times and times[0] <= cycle:
            self._advance(cycle)
        elif cycle > self._now:
            self._now = cycle
        if not times:
            self._sync_ticker()

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
        b = w.bufs[h]
        q = (w.deps[h - 1][0] + self.link_delay if h else w.inj[0]) + self.router_delay
        if b.last >= q:
            q = b.last + 1
        w.q[h] = q
        self._cycle(q).request.append((w, h))

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
        cal = self._cal
        cycle = self._cycle
        depart = self.on_depart
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
                depart(o.index // PORTS, o.index % PORTS, deps[j0:j])
            waiter = buf.credit_waiter
            if waiter is not None:
                buf.credit_waiter = None
                push(waiter)
            hw = buf.head_waiters
            if hw:
                w2, h2 = hw[0]
                if w2.base[h2] == nd:  # the worm behind this one now heads the FIFO
                    hw.popleft()
                    q = (w2.deps[h2 - 1][0] + L if h2 else w2.inj[0]) + R
                    if last >= q:
                        q = last + 1
                    w2.q[h2] = q
                    ev = cal.get(q)
                    if ev is None:
                        ev = cycle(q)
                    ev.request.append((w2, h2))
            if h < w.last:
                if j0 == 0:  # the head reached the next router
                    h1 = h + 1
                    b1 = w.bufs[h1]
                    if b1.ndep == w.base[h1]:
                        q = deps[0] + L + R
                        if b1.last >= q:
                            q = b1.last + 1
                        w.q[h1] = q
                        ev = cal.get(q)
                        if ev is None:
                            ev = cycle(q)
                        ev.request.append((w, h1))
                    else:
                        b1.head_waiters.append((w, h1))
                elif w.alloc[h + 1] >= 0:
                    push((w, h + 1))
            if j == F:  # the tail has crossed: release the output
                o.holder = None
                o.free_at = last + 1
                if o.nreq:
                    o.arb_at = last + 1
                    cycle(last + 1).arbitrate.append(o)
                if h == w.last:
                    cycle(last + L).deliver.append(w)

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
            if t < w.created:
                t = w.created
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
            if queue:
                nxt = queue[0]
                nxt.base[0] = lb.seq
                lb.seq += nxt.flits
                push((nxt, -1))

    # --- counters --------------------------------------------------------------------------
    def counters(self) -> NocCounters:
        """Every router's port counters as of the end of the current cycle."""
        t = self.now
        flits = [o.flits for o in self._outs]
        stalls = [b.stall for b in self._bufs]
        occ = [0] * len(self._bufs)
        R = self.router_delay
        L = self.link_delay
        for w in self._inflight:
            for h in range(w.last + 1):
                if h:
                    arr = w.deps[h - 1]
                    lat = L
                else:
                    arr = w.inj
                    lat = 0
                na = len(arr)
                if not na:
                    break
                deps = w.deps[h]
                k = len(deps)
                b = w.bufs[h].index
                o = w.outs[h].index
                arrived = na
                while arrived and arr[arrived - 1] + lat > t:
                    arrived -= 1
                gone = k
                while gone and deps[gone - 1] > t:
                    gone -= 1
                occ[b] += arrived - gone
                for j in range(gone, k):  # crossings after t: take them back out
                    d = deps[j]
                    r = w.q[h] if j == 0 else max(arr[j] + lat + R, deps[j - 1] + 1)
                    flits[o] -= 1
                    stalls[b] -= d - r - max(0, min(d, t + 1) - r)
                if k < na:  # the first flit still waiting here
                    if k == 0:
                        r = w.q[h]
                        if r < 0:
                            continue
                    else:
                        r = max(arr[k] + lat + R, deps[k - 1] + 1)
                    if r <= t:
                        stalls[b] += t + 1 - r
        X = PORTS
        rows = range(self.nodes)
        return NocCounters(
            cycle=t,
            flits=tuple(tuple(flits[i * X:(i + 1) * X]) for i in rows),
            stalls=tuple(tuple(stalls[i * X:(i + 1) * X]) for i in rows),
            buf_occ=tuple(tuple(occ[i * X:(i + 1) * X]) for i in rows),
        )

    def _cached_counters(self) -> NocCounters:
        key = (self.now, self._version)
        if self._counter_cache is None or self._counter_cache[0] != key:
            self._counter_cache = (key, self.counters())
        return self._counter_cache[1]

    # --- registers -------------------------------------------------------------------------
    def publish(self, regs: RegisterFile) -> None:
        """Write every ``noc.router[i].port[p].flits/stalls/buf_occ`` and ``noc.status.idle``
        from the current counters (through ``regs.hw_write``)."""
        c = self._cached_counters()
        for i in range(self.nodes):
            for p in range(PORTS):
                base = f"noc.router[{i}].port[{p}]"
                regs.hw_write(f"{base}.flits", c.flits[i][p] & 0xFFFF_FFFF)
                regs.hw_write(f"{base}.stalls", c.stalls[i][p] & 0xFFFF_FFFF)
                regs.hw_write(f"{base}.buf_occ", min(c.buf_occ[i][p], 0x1F))
        if regs.regmap.find("noc.status") is not None:
            self._write_idle(regs, regs.regmap.get("noc.status"), c)

    def bind(self, regs: RegisterFile) -> None:
        """Refresh the counter registers lazily: each ``noc.router[i].port[p].*`` register and
        ``noc.status`` is recomputed when software reads it (an ``on_read`` hook), never per
        cycle. A software write of ``noc.ctrl.routing`` switches routing for packets sent
        afterwards (as the hardware does; with traffic in flight that can deadlock)."""
        rmap = regs.regmap
        dim = rmap.find("noc.mesh_dim")
        if dim is not None:
            mx, my = dim.layout.reset & 0xFF, (dim.layout.reset >> 8) & 0xFF
            if (mx, my) != (self.size_x, self.size_y):
                raise ValueError(f"the register map describes a {mx}x{my} mesh, the model is "
                                 f"{self.size_x}x{self.size_y}")
        kinds = ("flits", "stalls", "buf_occ")
        for i in range(self.nodes):
            for p in range(PORTS):
                for kind in kinds:
                    path = f"noc.router[{i}].port[{p}].{kind}"
                    if rmap.find(path) is None:
                        raise ValueError(f"the register map has no {path}")
                    regs.on_read(path, self._reader(regs, kind, i, p), slope=self._slope)
        if rmap.find("noc.status") is not None:
            regs.on_read("noc.status", lambda reg: self._write_idle(
                regs, reg, self._cached_counters()), slope=self._slope)
        ctrl = rmap.find("noc.ctrl")
        if ctrl is not None and ctrl.field("routing") is not None:
            regs.on_write("noc.ctrl", self._ctrl_written)

    def _slope(self) -> int | None:
        """Between kernel events the counters hold while no ticker runs (nothing in flight);
        with traffic in flight the kernel checks every cycle anyway."""
        return None if self.ticking else 0

    def _reader(self, regs: RegisterFile, kind: str, i: int, p: int
                ) -> Callable[[Register], None]:
        def refresh(reg: Register) -> None:
            c = self._cached_counters()
            if kind == "flits":
                value = c.flits[i][p] & 0xFFFF_FFFF
            elif kind == "stalls":
                value = c.stalls[i][p] & 0xFFFF_FFFF
            else:
                value = min(c.buf_occ[i][p], 0x1F)
            regs.hw_write(reg, value)

        return refresh

    @staticmethod
    def _write_idle(regs: RegisterFile, reg: Register, c: NocCounters) -> None:
        fld = reg.field("idle")
        if fld is not None:
            regs.hw_write(reg, fld.insert(0, int(c.idle)), fld.mask)

    def _ctrl_written(self, reg: Register, old: int, new: int) -> None:
        fld = reg.field("routing")
        assert fld is not None
        value = fld.extract(new)
        if value < len(ROUTINGS):
            self._routing = ROUTINGS[value]
