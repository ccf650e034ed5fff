"""What a DMA transfer is made of: the engine's constants, modes and error codes, the ports it
talks through, and the pieces of work a channel moves (segments and chunks).

Shared by the engine (socdbg.models.dma), a channel's state machine
(socdbg.models.dma_channel) and the closed-form flows (socdbg.models.dma_flow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from socdbg.models.descriptor import Descriptor
from socdbg.models.memory import SparseMemory
from socdbg.models.reduce import ReduceOp
from socdbg.regmap import Field, Register

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

MASK32 = 0xFFFF_FFFF


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
    """What the engine raises interrupts through (socdbg.models.blocks.Interrupts)."""

    def raise_(self, source: str) -> None: ...


class NocPort(Protocol):
    """The NoC as the engine sees it: send one packet of ``flits`` flits; ``on_delivered`` gets
    the cycle its tail flit was ejected at the destination."""

    def send(self, src_node: int, dst_node: int, flits: int,
             on_delivered: Callable[[int], None]) -> None: ...


class RemotePort(Protocol):
    """The system a chip's engine hands segments naming global addresses to
    (socdbg.models.system.fabric.ChipPort)."""

    def covers(self, src: int, dst: int) -> bool: ...

    def start(self, channel: int, src: int, dst: int, length: int, op: ReduceOp,
              alive: Callable[[], bool], done: Callable[[], None]) -> bool: ...


@dataclass
class Segment:
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
    op: int = 0  # socdbg.models.reduce.ReduceOp: 0 copies, else dst = dst op src


@dataclass
class Chunk:
    """Part of a segment moved as one unit: bytes_done advances when it completes."""

    offset: int
    length: int
    sent: int = 0  # bytes handed to the NoC
    in_flight: int = 0  # packets sent and not delivered


class ChannelState(IntEnum):
    """Where a channel's state machine is (socdbg.models.dma_channel)."""

    IDLE = 0
    FETCH = 1  # reading a descriptor
    MOVE = 2  # moving a segment
    WAIT = 3  # ring empty: waiting for ring_tail
    STOP = 4  # stop requested: waiting for chunks in flight


def field_of(reg: Register, name: str) -> Field:
    """``reg``'s field ``name``; a map without it is a bug of the reference SoC's map."""
    fld = reg.field(name)
    if fld is None:
        raise KeyError(f"{reg.path}.{name}")
    return fld
