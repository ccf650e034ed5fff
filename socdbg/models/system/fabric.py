"""The system: N chips on one clock, joined by links, moving remote DMA data.

A DMA descriptor whose source or destination is a global address (chip i's space at
(i + 1) << 32) is handed by the chip's engine to its :class:`ChipPort`. The transfer waits
until every link on its route (socdbg.models.system.topology) is up at both ends and its
channel is not stalled, then crosses the servers of socdbg.models.system.timing: the engine's
read port (``dma_bw``), then each link (its ``bw`` and ``latency`` registers, injected
faults), with the NoC of each chip it crosses adding its hop latency. Links are shared:
each direction of a link is busy until the last transfer's last packet has left it, and a
transfer that finds a link busy is timed packet by packet. When the last byte lands the
data is copied (or reduced into the destination) and the channel goes on. A link that drops
under a transfer sends it back to waiting; it starts again, whole, once the link is
retrained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from socdbg.models.context import SimContext
from socdbg.models.events import Signal
from socdbg.models.kernel import Event, Kernel
from socdbg.models.memory import SparseMemory
from socdbg.models.reduce import ReduceOp, reduce_into
from socdbg.models.system.links import LinkBlock, PortFault
from socdbg.models.system.timing import LINK_FLIT, LINK_PACKET, Server, Timing, times
from socdbg.models.system.topology import GLOBAL_BASE, Hop, Wiring, chip_of

#: (first cycle, last cycle, chip, port, bytes): one transfer's use of one link direction.
LinkEntry = tuple[int, int, int, int, int]


@dataclass(eq=False)
class _Transfer:
    engine: int  # the chip whose DMA channel runs it
    channel: int
    src_chip: int
    src: int
    dst_chip: int
    dst: int
    length: int
    op: ReduceOp
    alive: Callable[[], bool]
    done: Callable[[], None]
    hops: list[Hop] = field(default_factory=list)
    event: Event | None = None
    timing: Timing | None = None
    start: int = 0


class System:
    """The chips' contexts (one shared kernel), their link blocks and the transfers."""

    def __init__(self, kernel: Kernel, chips: Sequence[SimContext], wiring: Wiring) -> None:
        self.kernel = kernel
        self.chips = list(chips)
        self.wiring = wiring
        self._ready = False
        self.links = [LinkBlock(ctx, i, wiring, self._changed) for i, ctx in enumerate(chips)]
        for ctx, block in zip(chips, self.links, strict=True):
            ctx.behaviours.append(block)
        self.free: dict[tuple[int, int], int] = {}  # (chip, port) -> cycle its tx is free
        self.waiting: list[_Transfer] = []
        self.moving: list[_Transfer] = []
        #: every link use, reported when the transfer lands (timelines subscribe)
        self.link_events: Signal[[LinkEntry]] = Signal()
        self.ports = [ChipPort(self, i) for i in range(len(chips))]
        #: (mesh width, nodes) of each chip's NoC: tied off, read once
        self.meshes = [_mesh(ctx) for ctx in chips]
        for ctx, port in zip(chips, self.ports, strict=True):
            if ctx.dma is not None:
                ctx.dma.remote = port
        self._ready = True

    # --- faults (the fault command's API) -------------------------------------------------
    def link_fault(self, chip: int, port: int, fault: PortFault) -> None:
        """Inject ``fault`` on ``chip``'s ``port`` (a default PortFault clears it)."""
        self._port_check(chip, port)
        self.links[chip].set_fault(port, fault)

    def dma_stall(self, chip: int, channel: int, stalled: bool = True) -> None:
        """Stall (or release) ``chip``'s DMA channel: it stays busy and moves nothing."""
        if not 0 <= chip < len(self.chips) or not 0 <= channel < 8:
            raise IndexError(f"chip {chip} channel {channel}")
        self.links[chip].set_stall(channel, stalled)
        dma = self.chips[chip].dma
        if dma is not None:
            dma.set_stalled(self.links[chip].stalled)

    def _port_check(self, chip: int, port: int) -> None:
        if not 0 <= chip < len(self.chips) or not 0 <= port < self.links[chip].ports:
            raise IndexError(f"chip {chip} port {port}")

    # --- transfers ------------------------------------------------------------------------
    def link_up(self, hop: Hop) -> bool:
        return self.links[hop.chip].up(hop.port) and self.links[hop.peer].up(hop.peer_port)

    def _blocked(self, tr: _Transfer) -> bool:
        stalled = self.links[tr.engine].stalled >> tr.channel & 1
        return bool(stalled) or not all(self.link_up(h) for h in tr.hops)

    def submit(self, tr: _Transfer) -> None:
        tr.hops = self.wiring.route(tr.src_chip, tr.dst_chip)
        if self._blocked(tr):
            self.waiting.append(tr)
        else:
            self._launch(tr)

    def _launch(self, tr: _Transfer) -> None:
        now = self.kernel.now
        t0 = now
        if tr.engine != tr.src_chip:  # a remote read: the request crosses to the source
            t0 += sum(self.links[h.chip].latency(h.port)
                      for h in self.wiring.route(tr.engine, tr.src_chip))
        servers = self._servers(tr)
        timing = times(t0, tr.length, servers)
        for h, hop in enumerate(tr.hops):
            self.free[(hop.chip, hop.port)] = timing.departs[h + 1]
        tr.timing, tr.start = timing, t0
        tr.event = self.kernel.schedule(max(0, timing.finish - now), lambda: self._landed(tr))
        self.moving.append(tr)

    def _servers(self, tr: _Transfer) -> list[Server]:
        src_ctx = self.chips[tr.src_chip]
        bw = self.chips[tr.engine].options.dma_bw
        src_node = _mem_node(src_ctx, tr.src)
        if not tr.hops:
            return [Server(bw, self._noc(tr.src_chip, src_node, _mem_node(src_ctx, tr.dst)))]
        first = self._port_node(tr.src_chip, tr.hops[0].port)
        out = [Server(bw, self._noc(tr.src_chip, src_node, first))]
        for i, hop in enumerate(tr.hops):
            block = self.links[hop.chip]
            there = (self._port_node(hop.peer, tr.hops[i + 1].port) if i + 1 < len(tr.hops)
                     else _mem_node(self.chips[hop.peer], tr.dst))
            after = self._noc(hop.peer, self._port_node(hop.peer, hop.peer_port), there)
            out.append(Server(block.rate(hop.port), block.latency(hop.port) + after,
                              block.faults[hop.port].crc_every,
                              self.free.get((hop.chip, hop.port), 0)))
        return out

    def _noc(self, chip: int, a: int, b: int) -> int:
        """NoC cycles on ``chip`` from node a to node b: (hops + 1) router delays plus hops
        link delays."""
        size_x, _ = self.meshes[chip]
        hops = abs(a % size_x - b % size_x) + abs(a // size_x - b // size_x)
        opts = self.chips[chip].options
        return (hops + 1) * opts.noc_router_delay + hops * opts.noc_link_delay

    def _port_node(self, chip: int, port: int) -> int:
        """c2c port p sits at NoC node ``nodes - 1 - p % nodes`` (counting back from the
        last)."""
        _, nodes = self.meshes[chip]
        return nodes - 1 - port % nodes

    def _landed(self, tr: _Transfer) -> None:
        tr.event = None
        if tr in self.moving:
            self.moving.remove(tr)
        if not tr.alive():
            return
        if self.links[tr.engine].stalled >> tr.channel & 1:
            self.waiting.append(tr)  # the data is there; the stalled channel holds it
            return
        self._deliver(tr)

    def _deliver(self, tr: _Transfer) -> None:
        src_mem = _memory(self.chips[tr.src_chip], tr.src, tr.length)
        dst_mem = _memory(self.chips[tr.dst_chip], tr.dst, tr.length)
        assert src_mem is not None and dst_mem is not None  # checked when it began
        reduce_into(dst_mem, tr.dst, src_mem, tr.src, tr.length, tr.op)
        timing = tr.timing
        if timing is not None:
            flits = -(-tr.length // LINK_FLIT)
            for h, hop in enumerate(tr.hops):
                replays = timing.replays[h + 1]
                resent = replays * (LINK_PACKET // LINK_FLIT)  # a replay resends its packet
                self.links[hop.chip].count_tx(hop.port, tr.length, flits + resent, replays)
                self.links[hop.peer].count_rx(hop.peer_port, tr.length, flits, replays)
                if self.link_events:
                    self.link_events.emit((tr.start, timing.departs[h + 1], hop.chip,
                                           hop.port, tr.length))
        tr.done()

    def _changed(self) -> None:
        """A port changed state or a stall changed: drop transfers whose link went down,
        start (or finish) those that may go on now, in the order they came."""
        if not self._ready:
            return
        for tr in list(self.moving):
            if not all(self.link_up(h) for h in tr.hops):
                if tr.event is not None:
                    tr.event.cancel()
                    tr.event = None
                self.moving.remove(tr)
                tr.timing = None
                self.waiting.append(tr)
        waiting, self.waiting = self.waiting, []
        for tr in waiting:
            if not tr.alive():
                continue
            if self._blocked(tr):
                self.waiting.append(tr)
            elif tr.timing is not None:  # landed while its channel was stalled
                self._deliver(tr)
            else:
                self._launch(tr)


class ChipPort:
    """What one chip's DMA engine sees of the system: global addresses and transfers."""

    def __init__(self, system: System, chip: int) -> None:
        self.system = system
        self.chip = chip

    @staticmethod
    def covers(src: int, dst: int) -> bool:
        """Whether a segment names a global address (and so goes through the system)."""
        return src >= GLOBAL_BASE or dst >= GLOBAL_BASE

    def resolve(self, address: int, length: int) -> tuple[int, int] | None:
        """(chip, local address) of a segment end, or None when no memory holds it all."""
        chip, local = chip_of(address)
        chip = self.chip if chip is None else chip
        if chip >= len(self.system.chips):
            return None
        if _memory(self.system.chips[chip], local, length) is None:
            return None
        return chip, local

    def start(self, channel: int, src: int, dst: int, length: int, op: ReduceOp,
              alive: Callable[[], bool], done: Callable[[], None]) -> bool:
        """Begin a transfer; False (nothing started) when an end is unmapped."""
        s = self.resolve(src, length)
        d = self.resolve(dst, length)
        if s is None or d is None:
            return False
        self.system.submit(_Transfer(self.chip, channel, s[0], s[1], d[0], d[1], length, op,
                                     alive, done))
        return True


def _memory(ctx: SimContext, address: int, length: int) -> SparseMemory | None:
    for _, store in ctx.memories:
        if store.base <= address and address + length <= store.base + store.size:
            return store
    return None


def _mesh(ctx: SimContext) -> tuple[int, int]:
    """(mesh width, nodes) of a chip's NoC."""
    if ctx.regmap.find("noc.mesh_dim") is None:
        return 1, 1
    x = max(1, ctx.regs.field("noc.mesh_dim", "x"))
    y = max(1, ctx.regs.field("noc.mesh_dim", "y"))
    return x, x * y


def _mem_node(ctx: SimContext, address: int) -> int:
    dma = ctx.dma
    return dma.node_of(address) if dma is not None else 0
