"""The event-driven router of the mesh: its per-cycle work on the kernel and the max-plus
recurrences of every worm at every router (the timing is in socdbg.models.noc.mesh's
docstring). :class:`Router` is mixed into :class:`socdbg.models.noc.mesh.Mesh`, which owns the
state declared here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from socdbg.models.kernel import Event, Kernel
from socdbg.models.noc.geometry import _RR_ORDER, NEVER, PORTS

if TYPE_CHECKING:
    from socdbg.models.events import SimEvents

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


class Router:
    """The router model: per-cycle work (requests, grants, deliveries) on the kernel's heap and
    the recurrences that compute when each flit leaves each router."""

    router_delay: int
    link_delay: int
    buffer_depth: int
    inject_delay: int
    eject_delay: int
    events: SimEvents
    _kernel: Kernel
    _cal: dict[int, tuple[_Cycle, Event]]
    _sources: list[_Source]
    _inflight: dict[_Worm, None]
    _refill: Refill | None
    _delivered: int
    _version: int

    def _worm(self, src: int, dst: int, flits: int, created: int,
              on_delivered: Callable[[int], None] | None) -> _Worm:
        raise NotImplementedError  # the mesh makes worms (it owns the routes)

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

    # --- the recurrences ---------------------------------------------------------------------
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
