"""One DMA channel's state machine (``dma.ch[n]``): its registers, its life cycle (start,
done, error, stop), walking a descriptor chain or ring, and moving a segment chunk by chunk,
packet by packet over the NoC or at the engine's port rate without one.

The engine (socdbg.models.dma) owns the channels and what they share; a channel sees it
through :class:`ChannelHost`. A segment with the mesh to itself may move as a closed-form flow
instead (socdbg.models.dma_flow), which the engine starts and the channel sees as
:class:`ActiveFlow`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from socdbg.models.descriptor import DESC_SIZE, Descriptor
from socdbg.models.dma_remote import segment_op, start_remote
from socdbg.models.dma_transfer import (
    ALIGN,
    MASK32,
    MAX_OUTSTANDING,
    ChannelState,
    Chunk,
    ErrCode,
    IrqSink,
    Mode,
    NocPort,
    RemotePort,
    Segment,
    field_of,
)
from socdbg.models.kernel import Event
from socdbg.models.reduce import ReduceOp, reduce_into
from socdbg.regmap import Register

if TYPE_CHECKING:
    from socdbg.models.events import SimEvents
    from socdbg.models.kernel import Kernel
    from socdbg.models.memory import SparseMemory
    from socdbg.models.noc.mesh import Mesh
    from socdbg.models.regfile import RegisterFile
    from socdbg.regmap import RegMap


class ActiveFlow(Protocol):
    """A segment moving as a flow, as its channel sees it."""

    @property
    def mesh(self) -> Mesh: ...

    def release(self) -> None: ...


class ChannelSim(Protocol):
    """The parts of the simulation context (socdbg.models.context.SimContext) a channel uses."""

    @property
    def regmap(self) -> RegMap: ...
    @property
    def regs(self) -> RegisterFile: ...
    @property
    def kernel(self) -> Kernel: ...


class ChannelHost(Protocol):
    """What a channel needs of its engine (socdbg.models.dma.DmaEngine)."""

    @property
    def sim(self) -> ChannelSim: ...

    irq: IrqSink | None
    noc: NocPort | None
    node_of: Callable[[int], int]
    bytes_per_cycle: int
    chunk_bytes: int
    packet_bytes: int
    flit_bytes: int
    events: SimEvents
    remote: RemotePort | None
    stalled: int  # bit n: channel n stalled by fault injection
    gate_enable: bool
    gate_reset: bool

    def settle(self) -> None: ...
    def refresh_gates(self) -> None: ...
    def region(self, address: int, length: int) -> SparseMemory | None: ...
    def note(self, channel: int, what: str, value: int = 0) -> None: ...
    def update_status(self) -> None: ...
    def link_reserve(self, now: int, n: int) -> int: ...
    def start_flow(self, ch: Channel, seg: Segment) -> bool: ...


class Channel:
    """One channel's state machine (``dma.ch[n]``)."""

    def __init__(self, engine: ChannelHost, index: int) -> None:
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
        self.f_en = field_of(self.r_ctrl, "en")
        self.f_start = field_of(self.r_ctrl, "start")
        self.f_mode = field_of(self.r_ctrl, "mode")
        self.f_irq_en = field_of(self.r_ctrl, "irq_en")
        self.f_reduce = self.r_ctrl.field("reduce")  # (absent from older maps)
        #: a segment held back while the channel is stalled (fault injection)
        self.held: tuple[int, int, int, Descriptor | None] | None = None
        self.f_busy = field_of(self.r_status, "busy")
        self.f_done = field_of(self.r_status, "done")
        self.f_err = field_of(self.r_status, "err")
        self.f_code = field_of(self.r_status, "err_code")
        self.f_count = field_of(self.r_count, "count")
        self.f_head = field_of(self.r_head, "head")
        self.f_tail = field_of(self.r_tail, "tail")
        self.state = ChannelState.IDLE
        self.mode = Mode.SINGLE
        self.gen = 0  # bumped by start and abort: stale callbacks see another generation
        self.bytes_done = 0
        self.seg: Segment | None = None
        self.pending: Event | None = None
        self.desc_addr = 0  # chain: address of the next descriptor
        self.desc_seen = 0  # chain: descriptors completed
        self.desc_count = 0
        self.desc_base = 0
        self.moved_since_drain = False
        self.gate_en = False
        self.flow: ActiveFlow | None = None  # the segment moving as a flow, if it is
        self.regs.on_write(self.r_ctrl.path, self._ctrl_written)
        self.regs.on_write(self.r_tail.path, self._tail_written)
        self.regs.on_write(self.r_status.path, lambda *_: engine.update_status())

    # --- register views ------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.state != ChannelState.IDLE

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

    def set_bytes(self, n: int) -> None:
        self.bytes_done = n & MASK32
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
        if self.state == ChannelState.WAIT and not self.engine.gate_reset:
            self._ring_next()

    def disabled(self) -> None:
        """ctrl.en or global_ctrl.enable went to 0: a waiting ring stops now; a transfer
        stops at its next chunk boundary (or after its descriptor fetch)."""
        if self.state == ChannelState.WAIT:
            self._stopped()

    # --- life cycle ----------------------------------------------------------------------
    def start(self, mode: Mode) -> None:
        self.engine.refresh_gates()
        self.gen += 1
        self.mode = mode
        self.seg = None
        self.moved_since_drain = False
        self.set_bytes(0)
        self._set_status(busy=1)
        self.state = ChannelState.MOVE
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
        self.held = None
        self.state = ChannelState.IDLE

    def _finish(self) -> None:
        self.state = ChannelState.IDLE
        self.seg = None
        self.pending = None

    def _done(self) -> None:
        self._finish()
        self._set_status(busy=0, done=1)
        self.engine.update_status()
        self.engine.note(self.index, "done", self.bytes_done)
        self._irq()

    def error(self, code: ErrCode) -> None:
        self._error(code)

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
        self.state = ChannelState.FETCH
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
            if self.state != ChannelState.WAIT:
                self.state = ChannelState.WAIT
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
        """Check a segment (ZERO_LEN, MISALIGNED, UNMAPPED in that order) and start it: on
        this chip, or through the system when it names a global address."""
        if length == 0:
            self._error(ErrCode.ZERO_LEN)
            return
        if (src | dst | length) % ALIGN:
            self._error(ErrCode.MISALIGNED)
            return
        eng = self.engine
        op = segment_op(self, desc)
        if eng.remote is not None and eng.remote.covers(src, dst):
            start_remote(self, eng.remote, src, dst, length, desc, op)
            return
        src_mem = eng.region(src, length)
        dst_mem = eng.region(dst, length)
        if src_mem is None or dst_mem is None:
            self._error(ErrCode.UNMAPPED)
            return
        self.state = ChannelState.MOVE
        if eng.stalled >> self.index & 1:
            self.held = (src, dst, length, desc)  # busy, moving nothing, until released
            eng.note(self.index, "stalled", length)
            return
        seg = Segment(src, dst, length, src_mem, dst_mem, desc,
                       base_time=self.kernel.now, op=op)
        if eng.noc is not None:
            seg.src_node, seg.dst_node = eng.node_of(src), eng.node_of(dst)
        self.seg = seg
        eng.note(self.index, "move", length)
        if not eng.start_flow(self, seg):
            self._pump()

    def release(self) -> None:
        """The stall is lifted: the held segment starts now."""
        held, self.held = self.held, None
        if held is not None and self.state == ChannelState.MOVE:
            self._begin(*held)

    def _pump(self) -> None:
        """Issue the next chunk if the port may: checks en/enable/reset at the boundary."""
        seg = self.seg
        assert seg is not None
        if seg.issued >= seg.length:
            return
        if self.state == ChannelState.STOP or not self.may_run():
            self.state = ChannelState.STOP
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
            self.pending = self.kernel.schedule(delay, lambda: self.chunk_done(gen, offset, n))
        else:
            self.send_packets(gen, noc, seg, Chunk(offset, n))

    def _read_end(self, seg: Segment, upto: int) -> int:
        """Delay until the port, streaming at bytes_per_cycle, has read the segment up to
        ``upto``."""
        bpc = self.engine.bytes_per_cycle
        due = seg.base_time + -(-(upto - seg.base_bytes) // bpc)
        return max(0, due - self.kernel.now)

    def send_packets(self, gen: int, noc: NocPort, seg: Segment, chunk: Chunk) -> None:
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
                     lambda cycle: self.delivered(gen, chunk, cycle))
            if chunk.sent < chunk.length:
                self.send_packets(gen, noc, seg, chunk)
            elif self.seg is seg:  # (a NoC delivering at once may have finished it)
                self._pump()

        self.pending = self.kernel.schedule(self._read_end(seg, pos + size), send)

    def delivered(self, gen: int, chunk: Chunk, cycle: int) -> None:
        if gen != self.gen:
            return
        now = self.kernel.now
        if cycle > now:  # a NoC that knows the ejection cycle ahead of time
            self.kernel.schedule(cycle - now, lambda: self.delivered(gen, chunk, cycle))
            return
        chunk.in_flight -= 1
        if chunk.in_flight == 0 and chunk.sent == chunk.length:
            self.chunk_done(gen, chunk.offset, chunk.length)

    def chunk_done(self, gen: int, offset: int, n: int) -> None:
        """The chunk's bytes land at the destination: bytes_done advances."""
        seg = self.seg
        if gen != self.gen or seg is None:
            return
        if seg.op:
            reduce_into(seg.dst_mem, seg.dst + offset, seg.src_mem, seg.src + offset, n,
                        ReduceOp(seg.op))
        else:
            seg.dst_mem.write(seg.dst + offset, seg.src_mem.read(seg.src + offset, n))
        seg.completed += n
        seg.outstanding -= 1
        self.set_bytes(self.bytes_done + n)
        if self.engine.events.dma:
            self.engine.note(self.index, "bytes", self.bytes_done)
        if seg.completed >= seg.length:
            self.seg = None
            self.segment_finished(seg.desc)
            return
        if self.state == ChannelState.STOP:
            if seg.outstanding == 0:
                self._stopped()
            return
        if self.engine.noc is None:
            self._pump()  # the port streams on: no re-basing, so no rounding creeps in
        elif seg.stalled:
            seg.stalled = False
            seg.base_time, seg.base_bytes = self.kernel.now, seg.issued
            self._pump()

    def segment_finished(self, desc: Descriptor | None) -> None:
        """The last byte of a segment landed: the transfer, or the descriptor, is done."""
        if desc is None:
            self._done()
        elif self.state == ChannelState.STOP:
            self._stopped()
        else:
            self._desc_finished(desc)
