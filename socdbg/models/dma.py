"""The reference SoC's 4-channel DMA engine, driven only through its registers.

Software programs a channel (``src``/``dst``/``len``, or descriptors at ``desc_base``) and
writes ``ctrl.start = 1``; the engine moves real bytes between the simulator's memories in
chunks, on the simulation kernel, at ``bytes_per_cycle``. Without a NoC a chunk takes
``ceil(bytes / bytes_per_cycle)`` cycles; with one, every chunk travels as packets from the
source memory's node to the destination memory's node and completes when its last packet is
delivered. Channels share nothing but the NoC. The descriptor format, the timing and every
decision the RDL leaves open are written down in docs/dma.md.

This module holds the engine: the global registers, resets, gates and the port model every
channel shares. A channel's state machine is socdbg.models.dma_channel, the closed-form flows
socdbg.models.dma_flow, the transfer vocabulary socdbg.models.dma_transfer and the descriptor
codec socdbg.models.descriptor; the names below stay importable from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from socdbg.models.descriptor import (
    DESC_IRQ,
    DESC_LAST,
    DESC_MAGIC,
    DESC_SIZE,
    Descriptor,
    encode_descriptor,
)
from socdbg.models.dma_channel import Channel, ChannelSim
from socdbg.models.dma_flow import ChannelFlow, FlowPlan
from socdbg.models.dma_transfer import (
    ALIGN,
    CHUNK_BYTES,
    FLIT_BYTES,
    MAX_OUTSTANDING,
    PACKET_BYTES,
    ChannelState,
    ErrCode,
    IrqSink,
    Mode,
    NocPort,
    RemotePort,
    Segment,
    field_of,
)
from socdbg.models.events import TraceEntry
from socdbg.models.memory import SparseMemory
from socdbg.regmap import Register

if TYPE_CHECKING:
    from socdbg.models.events import SimEvents
    from socdbg.regmap import Memory

__all__ = ["ALIGN", "CHUNK_BYTES", "DESC_IRQ", "DESC_LAST", "DESC_MAGIC", "DESC_SIZE",
           "FLIT_BYTES", "MAX_OUTSTANDING", "PACKET_BYTES", "Channel", "Descriptor",
           "DmaEngine", "ErrCode", "IrqSink", "Mode", "NocPort", "TraceEntry",
           "encode_descriptor"]


class EngineSim(ChannelSim, Protocol):
    """What the engine needs of the simulation context (socdbg.models.context.SimContext,
    which holds the engine: this protocol keeps the import one way): the register map and
    file and the kernel its channels use, plus the memories it moves bytes between and the
    event signals it reports on."""

    @property
    def memories(self) -> Sequence[tuple[Memory, SparseMemory]]: ...
    @property
    def events(self) -> SimEvents: ...


def default_node_of(sim: EngineSim) -> Callable[[int], int]:
    """sram (and any memory not named dram) at node 0, dram at the mesh's last node
    (``noc.mesh_dim.x * y - 1``); addresses outside memory map to node 0."""
    nodes = 1
    dim = sim.regmap.find("noc.mesh_dim")
    if dim is not None:
        value = sim.regs.peek(dim)
        x = field_of(dim, "x").extract(value) if dim.field("x") else 1
        y = field_of(dim, "y").extract(value) if dim.field("y") else 1
        nodes = max(1, x) * max(1, y)
    spans = [(m.address, m.end, nodes - 1 if m.path.lower() == "dram" else 0)
             for m, _ in sim.memories]

    def node_of(address: int) -> int:
        for lo, hi, node in spans:
            if lo <= address < hi:
                return node
        return 0

    return node_of


class DmaEngine:
    """All channels of ``dma``: hooks on its registers, work on the sim's kernel.

    ``noc``, ``node_of``, ``bytes_per_cycle``, ``chunk_bytes``, ``packet_bytes`` and
    ``flit_bytes`` are plain attributes read as the engine goes, so they may be changed on an
    idle engine (tests plug a NoC into an engine the SoC attached). Every state transition
    is reported on ``sim.events.dma`` as (cycle, channel, what, value).
    """

    def __init__(self, sim: EngineSim, irq: IrqSink | None = None, noc: NocPort | None = None,
                 bytes_per_cycle: int = 32, node_of: Callable[[int], int] | None = None,
                 chunk_bytes: int = CHUNK_BYTES, packet_bytes: int = PACKET_BYTES,
                 flit_bytes: int = FLIT_BYTES) -> None:
        if bytes_per_cycle < 1 or chunk_bytes < ALIGN or chunk_bytes % ALIGN:
            raise ValueError("bytes_per_cycle >= 1 and chunk_bytes a multiple of 8 needed")
        if packet_bytes < 1 or flit_bytes < 1:
            raise ValueError("packet_bytes and flit_bytes must be >= 1")
        self.sim = sim
        self.irq = irq
        self.noc = noc
        self.bytes_per_cycle = bytes_per_cycle
        self.chunk_bytes = chunk_bytes
        self.packet_bytes = packet_bytes
        self.flit_bytes = flit_bytes
        #: Coarse mode's model of the engine's tile link (one flit of ``flit_bytes`` a
        #: cycle, shared by every channel, as the mesh's injection port is): the cycle it
        #: is next free. See :meth:`link_reserve`.
        self.link_free = 0
        self.node_of = node_of or default_node_of(sim)
        #: Whether a segment may move as a flow (closed-form timing) while its channel has
        #: the mesh to itself; off, every segment goes packet by packet (the reference).
        self.flows = True
        #: The system's port for segments naming a global address (a multi-chip system
        #: sets it: socdbg.models.system.fabric.ChipPort); None on a lone chip.
        self.remote: RemotePort | None = None
        #: Bit n: channel n stalled by fault injection (see :meth:`set_stalled`).
        self.stalled = 0
        self.events = sim.events
        rmap = sim.regmap
        regs = sim.regs
        self._gctrl = rmap.get("dma.global_ctrl")
        self._gstatus = rmap.get("dma.global_status")
        self._g_enable = field_of(self._gctrl, "enable")
        self._g_soft_rst = field_of(self._gctrl, "soft_rst")
        self._g_busy = field_of(self._gstatus, "ch_busy")
        self._g_err = field_of(self._gstatus, "ch_err")
        self._g_idle = field_of(self._gstatus, "idle")
        self._rst = rmap.find("sysctrl.rst_ctrl")
        self._dma_rst = self._rst.field("dma_rst") if self._rst is not None else None
        self._dma_regs = rmap.select("dma")
        # the gates every chunk boundary checks, mirrored from the registers by the hooks
        self.gate_enable = False
        self.gate_reset = False
        self.channels: list[Channel] = []
        while rmap.find(f"dma.ch[{len(self.channels)}].ctrl") is not None:
            self.channels.append(Channel(self, len(self.channels)))
        regs.on_write(self._gctrl.path, self._global_written)
        if self._rst is not None and self._dma_rst is not None:
            regs.on_write(self._rst.path, self._reset_written)
        self.refresh_gates()

    # --- shared services -----------------------------------------------------------------
    def in_reset(self) -> bool:
        if self._rst is None or self._dma_rst is None:
            return False
        return bool(self._dma_rst.extract(self.sim.regs.peek(self._rst)))

    def enabled(self) -> bool:
        return bool(self._g_enable.extract(self.sim.regs.peek(self._gctrl)))

    def refresh_gates(self) -> None:
        """Re-read sysctrl.rst_ctrl.dma_rst, global_ctrl.enable and every ctrl.en."""
        self.gate_reset = self.in_reset()
        self.gate_enable = self.enabled()
        for ch in self.channels:
            ch.gate_en = bool(ch.f_en.extract(self.sim.regs.peek(ch.r_ctrl)))

    def region(self, address: int, length: int) -> SparseMemory | None:
        """The memory holding all of [address, address + length), or None."""
        for _, store in self.sim.memories:
            if store.base <= address and address + length <= store.base + store.size:
                return store
        return None

    def note(self, channel: int, what: str, value: int = 0) -> None:
        if self.events.dma:
            self.events.dma.emit((self.sim.kernel.now, channel, what, value))

    def update_status(self) -> None:
        """Drive global_status from the channels: ch_busy, ch_err, idle."""
        busy = err = 0
        for ch in self.channels:
            if ch.active:
                busy |= 1 << ch.index
            if ch.err_set():
                err |= 1 << ch.index
        value = self._g_busy.insert(0, busy)
        value = self._g_err.insert(value, err)
        value = self._g_idle.insert(value, 0 if busy else 1)
        self.sim.regs.hw_write(self._gstatus, value)

    def settle(self) -> None:
        """Turn a channel's flow (a segment timed in closed form) into packets, before a
        register write changes what the engine does next."""
        for ch in self.channels:
            if ch.flow is not None:
                ch.flow.mesh.settle()

    # --- hooks ---------------------------------------------------------------------------
    def _global_written(self, reg: Register, old: int, new: int) -> None:
        self.settle()
        self.gate_enable = bool(self._g_enable.extract(new))
        if self.gate_reset:
            return
        if self._g_soft_rst.extract(new):
            self._reset_registers(channels_only=True)
            return
        if self._g_enable.extract(old) and not self._g_enable.extract(new):
            for ch in self.channels:
                ch.disabled()

    def _reset_written(self, reg: Register, old: int, new: int) -> None:
        assert self._dma_rst is not None
        self.settle()
        self.gate_reset = bool(self._dma_rst.extract(new))
        if self._dma_rst.extract(new) and not self._dma_rst.extract(old):
            self._reset_registers(channels_only=False)

    def _reset_registers(self, channels_only: bool) -> None:
        for ch in self.channels:
            ch.abort()
        for reg in self._dma_regs:
            if channels_only and not reg.path.startswith("dma.ch["):
                continue
            self.sim.regs.hw_write(reg, reg.layout.reset)
        self.refresh_gates()
        self.update_status()
        self.note(-1, "soft_rst" if channels_only else "dma_rst")

    def link_flits(self, n: int) -> int:
        """Flits the ``n`` bytes of a chunk take as packets of ``packet_bytes``."""
        per_packet = -(-self.packet_bytes // self.flit_bytes)
        full, rest = divmod(n, self.packet_bytes)
        return full * per_packet + -(-rest // self.flit_bytes)

    def link_reserve(self, now: int, n: int) -> int:
        """Coarse mode: the cycle the engine's link has carried a chunk of ``n`` bytes
        issued at ``now``. The port model is one decision for both paths: each channel's
        port reads at ``bytes_per_cycle``, and all channels leave the tile over one link of
        one flit a cycle (over the mesh that link is the router's injection port), so a
        lone transfer moves at ``min(bytes_per_cycle, flit_bytes)`` bytes a cycle either
        way. Chunks share the link first come, first served."""
        end = max(now, self.link_free) + self.link_flits(n)
        self.link_free = end
        return end

    def start_flow(self, ch: Channel, seg: Segment) -> bool:
        """Move ``ch``'s segment as a flow when the channel has the mesh to itself (every
        other channel idle, nothing on the mesh): socdbg.models.dma_flow."""
        from socdbg.models.noc.mesh import Mesh

        eng = self
        noc = eng.noc
        if seg.op or not isinstance(noc, Mesh) or not eng.flows or not noc.flow_ready():
            return False
        if any(other.state != ChannelState.IDLE for other in eng.channels if other is not ch):
            return False
        plan = FlowPlan(ch.kernel.now, seg.length, chunk_bytes=eng.chunk_bytes,
                        packet_bytes=eng.packet_bytes, flit_bytes=eng.flit_bytes,
                        bytes_per_cycle=eng.bytes_per_cycle, max_outstanding=MAX_OUTSTANDING,
                        hops=len(noc.route(seg.src_node, seg.dst_node)),
                        router_delay=noc.router_delay, link_delay=noc.link_delay)
        flow = ChannelFlow(ch, noc, seg, plan)
        ch.flow = flow
        noc.begin_flow(flow)
        flow.hook()
        seg.issued = seg.length  # the packet path's _pump has nothing to issue
        seg.outstanding = len(plan.chunks)
        flow.schedule_next()
        return True

    def set_stalled(self, mask: int) -> None:
        """Stall the channels of ``mask``'s bits (fault injection): a stalled channel takes
        its next segment and holds it, busy, moving nothing; released, it goes on."""
        self.stalled = mask
        for ch in self.channels:
            if not mask >> ch.index & 1:
                ch.release()

    def reset(self) -> None:
        """Chip reset (the register file has already gone back to its reset values)."""
        for ch in self.channels:
            ch.abort()
        self.refresh_gates()
        self.update_status()
