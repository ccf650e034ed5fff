"""The reference SoC's 4-channel DMA engine, driven only through its registers.

Software programs a channel (``src``/``dst``/``len``, or descriptors at ``desc_base``) and
writes ``ctrl.start = 1``; the engine moves real bytes between the simulator's memories in
chunks, on the simulation kernel, at ``bytes_per_cycle``. Without a NoC a chunk takes
``ceil(bytes / bytes_per_cycle)`` cycles; with one, every chunk travels as packets from the
source memory's node to the destination memory's node and completes when its last packet is
delivered. Channels share nothing but the NoC. The descriptor format, the timing and every
decision the RDL leaves open are written down in docs/dma.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

from socdbg.models.descriptor import (
    DESC_IRQ,
    DESC_LAST,
    DESC_MAGIC,
    DESC_SIZE,
    Descriptor,
    encode_descriptor,
)
from socdbg.models.dma_flow import FlowPlan
from socdbg.models.events import TraceEntry
from socdbg.models.kernel import Event
from socdbg.models.memory import SparseMemory
from socdbg.models.noc.mesh import MESH_PRIORITY as _MESH_PRIORITY
from socdbg.regmap import Field, Register

if TYPE_CHECKING:
    from socdbg.models.context import SimContext
    from socdbg.models.noc.mesh import Mesh

# the descriptor codec lives in socdbg.models.descriptor; these names stay importable here
__all__ = ["ALIGN", "CHUNK_BYTES", "DESC_IRQ", "DESC_LAST", "DESC_MAGIC", "DESC_SIZE",
           "FLIT_BYTES", "MAX_OUTSTANDING", "PACKET_BYTES", "Channel", "Descriptor",
           "DmaEngine", "ErrCode", "Mode", "TraceEntry", "encode_descriptor"]

#: src, dst and len must be multiples of this (dma.src/dst/len descriptions).
ALIGN = 8
#: Bytes per chunk, the unit the engine schedules and bytes_done advances by: four 4 KiB
#: AXI bursts (one kernel event per chunk in coarse mode).
CHUNK_BYTES = 16384
#: Payload bytes per NoC packet, and payload bytes per flit (no separate header flit).
PACKET_BYTES = 256
FLIT_BYTES = 32
#: Chunks a channel may have in flight on the NoC before it stalls (AXI outstanding limit).
MAX_OUTSTANDING = 4

_MASK32 = 0xFFFF_FFFF


class Mode(IntEnum):
    SINGLE = 0
    CHAIN = 1
    RING = 2


class ErrCode(IntEnum):
    NONE = 0
    UNMAPPED = 1
    MISALIGNED = 2
    ZERO_LEN = 3
    BAD_DESC = 4


class IrqSink(Protocol):
    """What the engine raises interrupts through (socdbg.models.soc.Interrupts)."""

    def raise_(self, source: str) -> None: ...


class NocPort(Protocol):
    """The NoC as the engine sees it: send one packet of ``flits`` flits; ``on_delivered`` gets
    the cycle its tail flit was ejected at the destination."""

    def send(self, src_node: int, dst_node: int, flits: int,
             on_delivered: Callable[[int], None]) -> None: ...


# --------------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------------
def _fld(reg: Register, name: str) -> Field:
    fld = reg.field(name)
    if fld is None:
        raise KeyError(f"{reg.path}.{name}")
    return fld


def default_node_of(sim: SimContext) -> Callable[[int], int]:
    """sram (and any memory not named dram) at node 0, dram at the mesh's last node
    (``noc.mesh_dim.x * y - 1``); addresses outside memory map to node 0."""
    nodes = 1
    dim = sim.regmap.find("noc.mesh_dim")
    if dim is not None:
        value = sim.regs.peek(dim)
        x = _fld(dim, "x").extract(value) if dim.field("x") else 1
        y = _fld(dim, "y").extract(value) if dim.field("y") else 1
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

    def __init__(self, sim: SimContext, irq: IrqSink | None = None, noc: NocPort | None = None,
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
        self.events = sim.events
        rmap = sim.regmap
        regs = sim.regs
        self._gctrl = rmap.get("dma.global_ctrl")
        self._gstatus = rmap.get("dma.global_status")
        self._g_enable = _fld(self._gctrl, "enable")
        self._g_soft_rst = _fld(self._gctrl, "soft_rst")
        self._g_busy = _fld(self._gstatus, "ch_busy")
        self._g_err = _fld(self._gstatus, "ch_err")
        self._g_idle = _fld(self._gstatus, "idle")
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

    def reset(self) -> None:
        """Chip reset (the register file has already gone back to its reset values)."""
        for ch in self.channels:
            ch.abort()
        self.refresh_gates()
        self.update_status()


@dataclass
class _Segment:
    """One contiguous transfer: single mode's registers, or one descriptor."""

    src: int
    dst: int
    length: int
    src_mem: SparseMemory
    dst_mem: SparseMemory
    desc: Descriptor | None
    src_node: int = 0
    dst_node: int = 0
    issued: int = 0  # bytes whose read has been scheduled
    completed: int = 0  # bytes written at the destination
    outstanding: int = 0  # chunks issued and not complete
    base_time: int = 0  # the port streams from (base_time, base_bytes) at bytes_per_cycle
    base_bytes: int = 0
    stalled: bool = False


@dataclass
class _Chunk:
    """Part of a segment moved as one unit: bytes_done advances when it completes."""

    offset: int
    length: int
    sent: int = 0  # bytes handed to the NoC
    in_flight: int = 0  # packets sent and not delivered


class _State(IntEnum):
    IDLE = 0
    FETCH = 1  # reading a descriptor
    MOVE = 2  # moving a segment
    WAIT = 3  # ring empty: waiting for ring_tail
    STOP = 4  # stop requested: waiting for chunks in flight


class Channel:
    """One channel's state machine (``dma.ch[n]``)."""

    def __init__(self, engine: DmaEngine, index: int) -> None:
        self.engine = engine
        self.index = index
        self.source = f"dma_ch{index}"
        rmap = engine.sim.regmap
        self.regs = engine.sim.regs
        self.kernel = engine.sim.kernel
        p = f"dma.ch[{index}]"
        self.r_ctrl = rmap.get(f"{p}.ctrl")
        self.r_status = rmap.get(f"{p}.status")
        self.r_src = rmap.get(f"{p}.src")
        self.r_dst = rmap.get(f"{p}.dst")
        self.r_len = rmap.get(f"{p}.len")
        self.r_count = rmap.get(f"{p}.desc_count")
        self.r_base = rmap.get(f"{p}.desc_base")
        self.r_head = rmap.get(f"{p}.ring_head")
        self.r_tail = rmap.get(f"{p}.ring_tail")
        self.r_bytes = rmap.get(f"{p}.bytes_done")
        self.f_en = _fld(self.r_ctrl, "en")
        self.f_start = _fld(self.r_ctrl, "start")
        self.f_mode = _fld(self.r_ctrl, "mode")
        self.f_irq_en = _fld(self.r_ctrl, "irq_en")
        self.f_busy = _fld(self.r_status, "busy")
        self.f_done = _fld(self.r_status, "done")
        self.f_err = _fld(self.r_status, "err")
        self.f_code = _fld(self.r_status, "err_code")
        self.f_count = _fld(self.r_count, "count")
        self.f_head = _fld(self.r_head, "head")
        self.f_tail = _fld(self.r_tail, "tail")
        self.state = _State.IDLE
        self.mode = Mode.SINGLE
        self.gen = 0  # bumped by start and abort: stale callbacks see another generation
        self.bytes_done = 0
        self.seg: _Segment | None = None
        self.pending: Event | None = None
        self.desc_addr = 0  # chain: address of the next descriptor
        self.desc_seen = 0  # chain: descriptors completed
        self.desc_count = 0
        self.desc_base = 0
        self.moved_since_drain = False
        self.gate_en = False
        self.flow: _ChannelFlow | None = None  # the segment moving as a flow, if it is
        self.regs.on_write(self.r_ctrl.path, self._ctrl_written)
        self.regs.on_write(self.r_tail.path, self._tail_written)
        self.regs.on_write(self.r_status.path, lambda *_: engine.update_status())

    # --- register views ------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.state != _State.IDLE

    def err_set(self) -> bool:
        return bool(self.f_err.extract(self.regs.peek(self.r_status)))

    def may_run(self) -> bool:
        eng = self.engine
        return self.gate_en and eng.gate_enable and not eng.gate_reset

    def _set_status(self, **fields: int) -> None:
        value = mask = 0
        for name, v in fields.items():
            fld = getattr(self, f"f_{name}")
            value = fld.insert(value, v)
            mask |= fld.mask
        self.regs.hw_write(self.r_status, value, mask)

    def _set_bytes(self, n: int) -> None:
        self.bytes_done = n & _MASK32
        self.regs.hw_write(self.r_bytes, self.bytes_done)

    def _irq(self) -> None:
        irq = self.engine.irq
        if irq is not None and self.f_irq_en.extract(self.regs.peek(self.r_ctrl)):
            irq.raise_(self.source)
            self.engine.note(self.index, "irq")

    # --- software writes -----------------------------------------------------------------
    def _ctrl_written(self, reg: Register, old: int, new: int) -> None:
        eng = self.engine
        eng.settle()
        self.gate_en = bool(self.f_en.extract(new))
        if eng.gate_reset:
            return
        if self.f_en.extract(old) and not self.f_en.extract(new):
            self.disabled()
        if not self.f_start.extract(new):
            return
        if not self.gate_en or not eng.gate_enable:
            eng.note(self.index, "start ignored: disabled")
        elif self.active:
            eng.note(self.index, "start ignored: busy")
        elif self.err_set():
            eng.note(self.index, "start ignored: err set")
        elif self.f_mode.extract(new) not in tuple(Mode):
            eng.note(self.index, "start ignored: bad mode", self.f_mode.extract(new))
        else:
            self.start(Mode(self.f_mode.extract(new)))

    def _tail_written(self, reg: Register, old: int, new: int) -> None:
        self.engine.settle()
        if self.state == _State.WAIT and not self.engine.gate_reset:
            self._ring_next()

    def disabled(self) -> None:
        """ctrl.en or global_ctrl.enable went to 0: a waiting ring stops now; a transfer
        stops at its next chunk boundary (or after its descriptor fetch)."""
        if self.state == _State.WAIT:
            self._stopped()

    # --- life cycle ----------------------------------------------------------------------
    def start(self, mode: Mode) -> None:
        self.engine.refresh_gates()
        self.gen += 1
        self.mode = mode
        self.seg = None
        self.moved_since_drain = False
        self._set_bytes(0)
        self._set_status(busy=1)
        self.state = _State.MOVE
        self.engine.update_status()
        self.engine.note(self.index, "start", int(mode))
        if mode == Mode.SINGLE:
            regs = self.regs
            self._begin(regs.peek(self.r_src), regs.peek(self.r_dst),
                        regs.peek(self.r_len), None)
            return
        self.desc_count = self.f_count.extract(self.regs.peek(self.r_count))
        self.desc_base = self.regs.peek(self.r_base) & ~(DESC_SIZE - 1)
        if self.desc_count == 0:
            self._error(ErrCode.BAD_DESC)
        elif mode == Mode.CHAIN:
            self.desc_addr = self.desc_base
            self.desc_seen = 0
            self._fetch(self.desc_addr)
        else:
            self._ring_next()

    def abort(self) -> None:
        """Drop everything at once (soft reset, DMA reset, chip reset)."""
        if self.flow is not None:
            self.flow.mesh.settle()  # its packets stay in the mesh, as on the packet path
        if self.flow is not None:  # (the mesh was reset: its packets are gone)
            self.flow.release()
            self.flow = None
        self.gen += 1
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        self.seg = None
        self.state = _State.IDLE

    def _finish(self) -> None:
        self.state = _State.IDLE
        self.seg = None
        self.pending = None

    def _done(self) -> None:
        self._finish()
        self._set_status(busy=0, done=1)
        self.engine.update_status()
        self.engine.note(self.index, "done", self.bytes_done)
        self._irq()

    def _error(self, code: ErrCode) -> None:
        self._finish()
        self._set_status(busy=0, err=1, code=int(code))
        self.engine.update_status()
        self.engine.note(self.index, "err", int(code))
        self._irq()

    def _stopped(self) -> None:
        self._finish()
        self._set_status(busy=0)
        self.engine.update_status()
        self.engine.note(self.index, "stopped", self.bytes_done)

    # --- descriptors ---------------------------------------------------------------------
    def _fetch(self, address: int) -> None:
        """Read a descriptor: ceil(64 / bytes_per_cycle) cycles, then check and run it."""
        self.state = _State.FETCH
        gen = self.gen
        cycles = -(-DESC_SIZE // self.engine.bytes_per_cycle)
        self.engine.note(self.index, "fetch", address)
        self.pending = self.kernel.schedule(cycles, lambda: self._fetched(gen, address))

    def _fetched(self, gen: int, address: int) -> None:
        if gen != self.gen:
            return
        self.pending = None
        if not self.may_run():
            self._stopped()
            return
        mem = self.engine.region(address, DESC_SIZE) if address % DESC_SIZE == 0 else None
        desc = Descriptor.decode(mem.read(address, DESC_SIZE)) if mem is not None else None
        if desc is None:
            self._error(ErrCode.BAD_DESC)
            return
        self._begin(desc.src, desc.dst, desc.length, desc)

    def _desc_finished(self, desc: Descriptor) -> None:
        if self.mode == Mode.CHAIN:
            self.desc_seen += 1
            if desc.last:
                if desc.irq:
                    self.engine.note(self.index, "desc irq", self.desc_seen - 1)
                self._done()  # raises the interrupt once, for both reasons
                return
            if desc.irq:
                self._irq()
            if self.desc_seen >= self.desc_count:
                self._error(ErrCode.BAD_DESC)  # longer than desc_count: a loop, or no last
            elif not self.may_run():
                self._stopped()
            else:
                self.desc_addr = desc.next
                self._fetch(desc.next)
            return
        # ring
        head = (self.f_head.extract(self.regs.peek(self.r_head)) + 1) % self.desc_count
        self.regs.hw_write(self.r_head, self.f_head.insert(0, head))
        self.engine.note(self.index, "head", head)
        self.moved_since_drain = True
        if desc.irq:
            self._irq()
        self._ring_next()

    def _ring_next(self) -> None:
        if not self.may_run():
            self._stopped()
            return
        head = self.f_head.extract(self.regs.peek(self.r_head))
        tail = self.f_tail.extract(self.regs.peek(self.r_tail))
        if head >= self.desc_count or tail >= self.desc_count:
            self._error(ErrCode.BAD_DESC)
            return
        if head == tail:
            if self.state != _State.WAIT:
                self.state = _State.WAIT
                self.engine.note(self.index, "ring empty", head)
            if self.moved_since_drain:
                self.moved_since_drain = False
                self._set_status(done=1)
                self.engine.note(self.index, "done", self.bytes_done)
                self._irq()
            return
        self._fetch(self.desc_base + head * DESC_SIZE)

    # --- data movement -------------------------------------------------------------------
    def _begin(self, src: int, dst: int, length: int, desc: Descriptor | None) -> None:
        """Check a segment (ZERO_LEN, MISALIGNED, UNMAPPED in that order) and start it."""
        if length == 0:
            self._error(ErrCode.ZERO_LEN)
            return
        if (src | dst | length) % ALIGN:
            self._error(ErrCode.MISALIGNED)
            return
        eng = self.engine
        src_mem = eng.region(src, length)
        dst_mem = eng.region(dst, length)
        if src_mem is None or dst_mem is None:
            self._error(ErrCode.UNMAPPED)
            return
        seg = _Segment(src, dst, length, src_mem, dst_mem, desc,
                       base_time=self.kernel.now)
        if eng.noc is not None:
            seg.src_node, seg.dst_node = eng.node_of(src), eng.node_of(dst)
        self.seg = seg
        self.state = _State.MOVE
        eng.note(self.index, "move", length)
        if not self._flow(seg):
            self._pump()

    def _flow(self, seg: _Segment) -> bool:
        """Move the segment as a flow when the channel has the mesh to itself (every other
        channel idle, nothing on the mesh): socdbg.models.dma_flow."""
        from socdbg.models.noc.mesh import Mesh

        eng = self.engine
        noc = eng.noc
        if not isinstance(noc, Mesh) or not eng.flows or not noc.flow_ready():
            return False
        if any(ch.state != _State.IDLE for ch in eng.channels if ch is not self):
            return False
        plan = FlowPlan(self.kernel.now, seg.length, chunk_bytes=eng.chunk_bytes,
                        packet_bytes=eng.packet_bytes, flit_bytes=eng.flit_bytes,
                        bytes_per_cycle=eng.bytes_per_cycle, max_outstanding=MAX_OUTSTANDING,
                        hops=len(noc.route(seg.src_node, seg.dst_node)),
                        router_delay=noc.router_delay, link_delay=noc.link_delay)
        self.flow = _ChannelFlow(self, noc, seg, plan)
        noc.begin_flow(self.flow)
        self.flow.hook()
        seg.issued = seg.length  # the packet path's _pump has nothing to issue
        seg.outstanding = len(plan.chunks)
        self.flow.schedule_next()
        return True

    def _pump(self) -> None:
        """Issue the next chunk if the port may: checks en/enable/reset at the boundary."""
        seg = self.seg
        assert seg is not None
        if seg.issued >= seg.length:
            return
        if self.state == _State.STOP or not self.may_run():
            self.state = _State.STOP
            if seg.outstanding == 0:
                self._stopped()
            return
        noc = self.engine.noc
        if noc is not None and seg.outstanding >= MAX_OUTSTANDING:
            seg.stalled = True
            return
        offset = seg.issued
        n = min(self.engine.chunk_bytes, seg.length - offset)
        seg.issued += n
        seg.outstanding += 1
        gen = self.gen
        if noc is None:
            now = self.kernel.now
            delay = max(self._read_end(seg, offset + n),
                        self.engine.link_reserve(now, n) - now)
            self.pending = self.kernel.schedule(delay, lambda: self._chunk_done(gen, offset, n))
        else:
            self._packet(gen, noc, seg, _Chunk(offset, n))

    def _read_end(self, seg: _Segment, upto: int) -> int:
        """Delay until the port, streaming at bytes_per_cycle, has read the segment up to
        ``upto``."""
        bpc = self.engine.bytes_per_cycle
        due = seg.base_time + -(-(upto - seg.base_bytes) // bpc)
        return max(0, due - self.kernel.now)

    def _packet(self, gen: int, noc: NocPort, seg: _Segment, chunk: _Chunk) -> None:
        """Send the chunk's next packet once the port has read it, then the one after."""
        pos = chunk.offset + chunk.sent
        size = min(self.engine.packet_bytes, chunk.length - chunk.sent)

        def send() -> None:
            if gen != self.gen:
                return
            self.pending = None
            chunk.sent += size
            chunk.in_flight += 1
            noc.send(seg.src_node, seg.dst_node, -(-size // self.engine.flit_bytes),
                     lambda cycle: self._delivered(gen, chunk, cycle))
            if chunk.sent < chunk.length:
                self._packet(gen, noc, seg, chunk)
            elif self.seg is seg:  # (a NoC delivering at once may have finished it)
                self._pump()

        self.pending = self.kernel.schedule(self._read_end(seg, pos + size), send)

    def _delivered(self, gen: int, chunk: _Chunk, cycle: int) -> None:
        if gen != self.gen:
            return
        now = self.kernel.now
        if cycle > now:  # a NoC that knows the ejection cycle ahead of time
            self.kernel.schedule(cycle - now, lambda: self._delivered(gen, chunk, cycle))
            return
        chunk.in_flight -= 1
        if chunk.in_flight == 0 and chunk.sent == chunk.length:
            self._chunk_done(gen, chunk.offset, chunk.length)

    def _chunk_done(self, gen: int, offset: int, n: int) -> None:
        """The chunk's bytes land at the destination: bytes_done advances."""
        seg = self.seg
        if gen != self.gen or seg is None:
            return
        seg.dst_mem.write(seg.dst + offset, seg.src_mem.read(seg.src + offset, n))
        seg.completed += n
        seg.outstanding -= 1
        self._set_bytes(self.bytes_done + n)
        if self.engine.events.dma:
            self.engine.note(self.index, "bytes", self.bytes_done)
        if seg.completed >= seg.length:
            self.seg = None
            if seg.desc is None:
                self._done()
            elif self.state == _State.STOP:
                self._stopped()
            else:
                self._desc_finished(seg.desc)
            return
        if self.state == _State.STOP:
            if seg.outstanding == 0:
                self._stopped()
            return
        if self.engine.noc is None:
            self._pump()  # the port streams on: no re-basing, so no rounding creeps in
        elif seg.stalled:
            seg.stalled = False
            seg.base_time, seg.base_bytes = self.kernel.now, seg.issued
            self._pump()


class _ChannelFlow:
    """A channel's segment moving as a flow: one kernel event per chunk completion, at the
    mesh's priority (where the last delivery of the chunk would run on the packet path)."""

    def __init__(self, ch: Channel, mesh: Mesh, seg: _Segment, plan: FlowPlan) -> None:
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
            ch._chunk_done(self.gen, c.offset, c.length)
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
        ch._set_bytes(ch.bytes_done + c.length)
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
        issued: list[_Chunk] = []

        def callback(chunk: _Chunk) -> Callable[[int], None]:
            def delivered(cycle: int) -> None:
                if live:
                    ch._delivered(gen, chunk, cycle)
                else:  # completed on the flow already
                    chunk.in_flight -= 1

            return delivered

        def sends(at: Callable[[int], None]) -> None:
            prev = None
            for cp in plan.chunks:
                resumed = prev is not None and prev.resume_at is not None
                if cp.issued_at > (mesh_done if resumed else now):
                    break
                chunk = _Chunk(cp.offset, cp.length)
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
            ch._packet(gen, mesh, seg, tail)
