"""A channel's reduce op, and a segment that names a global address (a multi-chip system,
docs/multichip.md): handed whole to the system's port, which times it across the links,
moves (or reduces) the bytes when the last one lands, and calls back; bytes_done then
advances by the segment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from socdbg.models.dma_transfer import ChannelState, ErrCode, RemotePort
from socdbg.models.reduce import ReduceOp

if TYPE_CHECKING:
    from socdbg.models.descriptor import Descriptor
    from socdbg.models.events import SimEvents
    from socdbg.models.regfile import RegisterFile
    from socdbg.regmap import Field, Register


class _Engine(Protocol):
    events: SimEvents

    def note(self, channel: int, what: str, value: int = 0) -> None: ...


class Channel(Protocol):
    """What this module needs of a channel (socdbg.models.dma_channel.Channel)."""

    gen: int
    index: int
    state: ChannelState
    bytes_done: int
    f_reduce: Field | None
    r_ctrl: Register
    regs: RegisterFile

    @property
    def engine(self) -> _Engine: ...

    def set_bytes(self, n: int) -> None: ...

    def segment_finished(self, desc: Descriptor | None) -> None: ...

    def error(self, code: ErrCode) -> None: ...


def segment_op(ch: Channel, desc: Descriptor | None) -> ReduceOp:
    """A segment's reduce op: its descriptor's ctrl bits [6:4], else the channel's
    ctrl.reduce (single mode); an undefined op is a plain copy."""
    if desc is not None:
        raw = desc.reduce
    elif ch.f_reduce is not None:
        raw = ch.f_reduce.extract(ch.regs.peek(ch.r_ctrl))
    else:
        raw = 0
    return ReduceOp(raw) if raw in tuple(ReduceOp) else ReduceOp.NONE


def start_remote(ch: Channel, port: RemotePort, src: int, dst: int, length: int,
                 desc: Descriptor | None, op: ReduceOp) -> None:
    gen = ch.gen
    ch.state = ChannelState.MOVE
    ch.engine.note(ch.index, "remote", length)

    def done() -> None:
        if gen != ch.gen:
            return
        ch.set_bytes(ch.bytes_done + length)
        if ch.engine.events.dma:
            ch.engine.note(ch.index, "bytes", ch.bytes_done)
        ch.segment_finished(desc)

    if not port.start(ch.index, src, dst, length, op, lambda: gen == ch.gen, done):
        ch.error(ErrCode.UNMAPPED)
