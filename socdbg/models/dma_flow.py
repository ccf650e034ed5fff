"""A DMA segment over an otherwise idle mesh, timed in closed form: a *flow*.

Packet by packet, a channel streaming a segment over the mesh sends packet ``p`` in the cycle
its port has read it (``S_p = base_time + ceil((end_p - base_bytes) / bytes_per_cycle)``), the
network interface injects one flit per cycle in order, and, with the mesh to itself and buffers
at least one credit round trip deep (``buffer_depth >= R + 2L``), every flit crosses every
router without a stall: flit ``i`` injected in cycle ``inj_i`` leaves hop ``h`` in cycle
``inj_i + R + h(R + L)`` and the tail of a packet is ejected ``hops * (R + L)`` cycles after
its injection. A chunk completes when its last packet is delivered, so per chunk::

    e_last = max(e_prev + flits, max_p(S_p + flits from p to the end) - 1)
    done   = e_last + hops * (R + L)

(the first term: the interface still busy with earlier packets). With ``packet_bytes`` a
multiple of ``bytes_per_cycle`` the inner maximum is at the first or the last packet, so a
chunk costs a few operations; otherwise one per packet. The outstanding-chunk limit and the
re-basing of the port after a stall follow from the completion cycles, exactly as the packet
path decides them. The plan is made for the whole segment up front; the channel then runs
one kernel event per chunk, at the mesh's priority, doing what the last delivery of that chunk
does on the packet path.

Whenever anything else uses or observes the mesh (another packet, a counter read, a routing
change, a register write to the DMA), the mesh settles the flow: the packets sent so far are
replayed on the mesh from the cycle the flow began (:meth:`Mesh.replay`), the chunks in flight
become packet-path chunks, and the channel goes on packet by packet. Delivered whole, a flow
leaves the mesh in the state its packets would have (:meth:`Mesh.end_flow`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socdbg.models.dma_transfer import Chunk, Segment
from socdbg.models.kernel import Event
from socdbg.models.noc.mesh import MESH_PRIORITY as _MESH_PRIORITY

if TYPE_CHECKING:
    from socdbg.models.dma_channel import Channel
    from socdbg.models.noc.mesh import Mesh


@dataclass(slots=True)
class ChunkPlan:
    """One chunk of a flow: where it is, when it is issued, on which port base its packets
    are read, when its last packet is delivered."""

    offset: int
    length: int
    issued_at: int
    base_time: int
    base_bytes: int
    done_at: int
    #: the issue of the next chunk stalls (outstanding limit) until ``resume_at``
    resume_at: int | None = None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class FlowPlan:
    """The closed-form timing of one segment (see the module docstring)."""

    def __init__(self, start: int, length: int, *, chunk_bytes: int, packet_bytes: int,
                 flit_bytes: int, bytes_per_cycle: int, max_outstanding: int, hops: int,
                 router_delay: int, link_delay: int) -> None:
        self.start = start
        self.length = length
        self.chunk_bytes = chunk_bytes
        self.packet_bytes = packet_bytes
        self.flit_bytes = flit_bytes
        self.bpc = bytes_per_cycle
        self.transit = hops * (router_delay + link_delay)
        self.chunks: list[ChunkPlan] = []
        self.packets = 0
        self.flits = 0
        self._plan(max_outstanding)

    def packet_sizes(self, n: int) -> tuple[int, int, int]:
        """(full packets, their flits each, bytes of the last partial packet) of a chunk."""
        full, rem = divmod(n, self.packet_bytes)
        return full, _ceil_div(self.packet_bytes, self.flit_bytes), rem

    def sends(self, chunk: ChunkPlan) -> list[tuple[int, int, int]]:
        """(send cycle, bytes, flits) of each packet of ``chunk``."""
        out = []
        pos = 0
        P, bpc, FB = self.packet_bytes, self.bpc, self.flit_bytes
        while pos < chunk.length:
            size = min(P, chunk.length - pos)
            pos += size
            due = chunk.base_time + _ceil_div(chunk.offset + pos - chunk.base_bytes, bpc)
            out.append((due, size, _ceil_div(size, FB)))
        return out

    def _plan(self, max_outstanding: int) -> None:
        P, bpc, CB = self.packet_bytes, self.bpc, self.chunk_bytes
        base_t, base_b = self.start, 0
        issued_at = self.start
        e_prev: int | None = None
        done: list[int] = []
        issued = 0
        linear = P % bpc == 0
        # with whole chunks read in a whole number of cycles, a run of chunks spaced evenly
        # and unstalled repeats itself, shifted by that number (see _steady)
        step = CB // bpc if linear and CB % bpc == 0 else 0
        unstalled = 0  # chunks since the last stall
        sizes: dict[int, tuple[int, int, int, int, int]] = {}
        while issued < self.length:
            n = min(CB, self.length - issued)
            known = sizes.get(n)
            if known is None:
                full, fp, rem = self.packet_sizes(n)
                rem_f = _ceil_div(rem, self.flit_bytes)
                known = sizes[n] = (full, fp, rem, rem_f, full * fp + rem_f)
            full, fp, rem, rem_f, total = known
            k0 = issued - base_b
            if linear or full <= 1:
                best = None
                if full:
                    s0 = base_t + _ceil_div(k0 + P, bpc)
                    if full == 1 or P // bpc <= fp:  # non-increasing: the first packet
                        best = s0 + total - 1
                    else:  # increasing: the last full packet
                        best = s0 + (full - 1) * (P // bpc) + fp + rem_f - 1
                if rem:
                    s_rem = base_t + _ceil_div(k0 + n, bpc)
                    cand = s_rem + rem_f - 1
                    best = cand if best is None or cand > best else best
                assert best is not None
            else:
                best = -1
                left = total
                for p in range(full):
                    s = base_t + _ceil_div(k0 + (p + 1) * P, bpc)
                    if s + left - 1 > best:
                        best = s + left - 1
                    left -= fp
                if rem:
                    s = base_t + _ceil_div(k0 + n, bpc)
                    best = max(best, s + rem_f - 1)
            e_last = best if e_prev is None else max(best, e_prev + total)
            done_at = e_last + self.transit
            chunk = ChunkPlan(issued, n, issued_at, base_t, base_b, done_at)
            self.chunks.append(chunk)
            done.append(done_at)
            self.packets += full + (1 if rem else 0)
            self.flits += total
            e_prev = e_last
            issued += n
            if issued >= self.length:
                break
            # the last packet's send issues the next chunk, unless max_outstanding chunks
            # are still to complete (a completion in that same cycle comes after the send)
            s_last = base_t + _ceil_div(k0 + n, bpc)
            first_open = len(done)
            while first_open and done[first_open - 1] >= s_last:
                first_open -= 1
            if len(done) - first_open >= max_outstanding:
                chunk.resume_at = done[first_open]
                base_t, base_b = done[first_open], issued
                issued_at = done[first_open]
                unstalled = 0
                continue
            issued_at = s_last
            unstalled += 1
            if step and n == CB and unstalled > max_outstanding + 1 and all(
                    done[-i] - done[-i - 1] == step for i in range(1, max_outstanding + 2)):
                # steady: every further whole chunk is this one shifted by k * step (its
                # sends, its injection, its completion and its outstanding count alike)
                m = (self.length - issued) // CB
                for k in range(1, m + 1):
                    self.chunks.append(ChunkPlan(issued + (k - 1) * CB, CB,
                                                 s_last + (k - 1) * step, base_t, base_b,
                                                 done_at + k * step))
                done.extend(range(done_at + step, done_at + m * step + 1, step))
                self.packets += m * (full + (1 if rem else 0))
                self.flits += m * total
                e_prev = e_last + m * step
                issued += m * CB
                issued_at = s_last + m * step

    def chunk_flits(self, chunk: ChunkPlan) -> int:
        full, fp, rem = self.packet_sizes(chunk.length)
        return full * fp + _ceil_div(rem, self.flit_bytes)

    def tail(self, depth: int) -> list[tuple[int, int]]:
        """(injection cycle of the head, flits) of the last packets, at least ``depth`` flits
        of them (or all), oldest first."""
        chunks = self.chunks
        first = len(chunks) - 1
        got = self.chunk_flits(chunks[first])
        while first and got < depth:
            first -= 1
            got += self.chunk_flits(chunks[first])
        e_prev = self._e_before(first)
        inj: list[tuple[int, int]] = []
        for c in chunks[first:]:
            for due, _, f in self.sends(c):
                head = due if e_prev is None or due > e_prev else e_prev + 1
                inj.append((head, f))
                e_prev = head + f - 1
        return inj

    def _e_before(self, index: int) -> int | None:
        """Injection cycle of the last flit before chunk ``index``."""
        if index == 0:
            return None
        return self.chunks[index - 1].done_at - self.transit


class ChannelFlow:
    """A channel's segment moving as a flow: one kernel event per chunk completion, at the
    mesh's priority (where the last delivery of the chunk would run on the packet path)."""

    def __init__(self, ch: Channel, mesh: Mesh, seg: Segment, plan: FlowPlan) -> None:
        self.ch = ch
        self.mesh = mesh
        self.seg = seg
        self.plan = plan
        self.gen = ch.gen
        self.next = 0  # the next chunk to complete
        self.event: Event | None = None
        self.in_event = False  # inside its own chunk completion (at the mesh's priority)
        self.lazy = False
        self.copied = 0  # segment bytes copied to the destination
        self.landed = 0  # segment bytes completed (copied lazily when lazy)

    def schedule_next(self) -> None:
        kernel = self.ch.kernel
        due = self.plan.chunks[self.next].done_at
        self.event = kernel.schedule(due - kernel.now, self._chunk_done, _MESH_PRIORITY)
        self.ch.pending = self.event

    def _chunk_done(self) -> None:
        ch = self.ch
        if ch.gen != self.gen or ch.flow is not self:
            return
        plan, seg = self.plan, self.seg
        c = plan.chunks[self.next]
        self.next += 1
        if self.next == len(plan.chunks):  # delivered whole: the mesh as the packets left it
            ch.flow = None
            ch.pending = None
            self.mesh.end_flow(seg.src_node, seg.dst_node, plan.packets, plan.flits,
                               plan.tail(self.mesh.buffer_depth))
            self.release()
            ch.chunk_done(self.gen, c.offset, c.length)
            return
        self.schedule_next()
        # what the packet path's _chunk_done does for a chunk before the last, the copy
        # deferred until either memory is touched (SparseMemory.settlers)
        if self.lazy:
            self.landed = c.offset + c.length
        else:
            seg.dst_mem.write(seg.dst + c.offset, seg.src_mem.read(seg.src + c.offset,
                                                                    c.length))
        seg.completed += c.length
        seg.outstanding -= 1
        ch.set_bytes(ch.bytes_done + c.length)
        if ch.engine.events.dma.subscribers:
            self.in_event = True  # a subscriber looking at the mesh settles the flow here
            ch.engine.note(ch.index, "bytes", ch.bytes_done)
            self.in_event = False

    def hook(self) -> None:
        """Defer the copies while the segment's ranges do not overlap."""
        seg = self.seg
        self.lazy = (seg.src_mem is not seg.dst_mem or seg.src + seg.length <= seg.dst
                     or seg.dst + seg.length <= seg.src)
        if self.lazy:
            seg.src_mem.settlers.append(self.flush)
            if seg.dst_mem is not seg.src_mem:
                seg.dst_mem.settlers.append(self.flush)

    def flush(self) -> None:
        """Make the copies of the chunks completed so far."""
        start, end = self.copied, self.landed
        if start < end:
            self.copied = end  # (copy_from settles both memories: nothing left to redo)
            seg = self.seg
            seg.dst_mem.copy_from(seg.src_mem, seg.src + start, seg.dst + start, end - start)

    def release(self) -> None:
        """Make the deferred copies and stop deferring."""
        self.flush()
        seg = self.seg
        for mem in (seg.src_mem, seg.dst_mem):
            if self.flush in mem.settlers:
                mem.settlers.remove(self.flush)

    def materialise(self) -> None:
        """The packets sent so far, replayed on the mesh; the channel goes on per packet."""
        ch, mesh, seg, plan, gen = self.ch, self.mesh, self.seg, self.plan, self.gen
        if self.event is not None:
            self.event.cancel()
        self.release()
        ch.flow = None
        ch.pending = None
        kernel = ch.kernel
        now = kernel.now
        # mesh-priority work (the flow's completions among it) is done up to this cycle
        through_now = not kernel.firing or self.in_event
        mesh_done = now if through_now else now - 1
        live = False
        issued: list[Chunk] = []

        def callback(chunk: Chunk) -> Callable[[int], None]:
            def delivered(cycle: int) -> None:
                if live:
                    ch.delivered(gen, chunk, cycle)
                else:  # completed on the flow already
                    chunk.in_flight -= 1

            return delivered

        def sends(at: Callable[[int], None]) -> None:
            prev = None
            for cp in plan.chunks:
                resumed = prev is not None and prev.resume_at is not None
                if cp.issued_at > (mesh_done if resumed else now):
                    break
                chunk = Chunk(cp.offset, cp.length)
                issued.append(chunk)
                for due, size, flits in plan.sends(cp):
                    if due > now:
                        break
                    at(due)
                    chunk.sent += size
                    chunk.in_flight += 1
                    mesh.send(seg.src_node, seg.dst_node, flits, callback(chunk))
                prev = cp

        mesh.replay(plan.start, sends, through_now)
        live = True
        open_chunks = [c for c in issued if c.in_flight or c.sent < c.length]
        seg.issued = sum(c.length for c in issued)
        seg.outstanding = len(open_chunks)
        assert seg.completed == seg.issued - sum(c.length for c in open_chunks)
        last = plan.chunks[len(issued) - 1]
        seg.base_time, seg.base_bytes = last.base_time, last.base_bytes
        tail = issued[-1]
        seg.stalled = tail.sent == tail.length and seg.issued < seg.length
        if tail.sent < tail.length:
            ch.send_packets(gen, mesh, seg, tail)
