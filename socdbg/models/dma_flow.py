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

from dataclasses import dataclass


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
