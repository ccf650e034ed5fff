"""The DMA engine's 64-byte in-memory descriptor: layout, magic, check word (docs/dma.md).

The codec only; the engine (socdbg.models.dma) reads descriptors through it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: Descriptor size and alignment in bytes (dma.desc_base: "Descriptors are 64 bytes and
#: 64-byte aligned").
DESC_SIZE = 64
#: Value of the descriptor's magic word (offset 0x38): "5D0C" (the vendor) "DE5C".
DESC_MAGIC = 0x5D0C_DE5C
#: Descriptor ``ctrl`` bit 0: raise intc dma_chN when this descriptor completes (with irq_en).
DESC_IRQ = 1 << 0
#: Descriptor ``ctrl`` bit 1: the chain ends after this descriptor (chain mode only).
DESC_LAST = 1 << 1
#: Descriptor ``ctrl`` bits [6:4]: the write-with-reduce op (socdbg.models.reduce.ReduceOp):
#: 0 copy, 1 fp32 add, 2 bf16 add, 3 int32 add.
DESC_REDUCE_SHIFT = 4
DESC_REDUCE_MASK = 0x7 << DESC_REDUCE_SHIFT
_DESC = struct.Struct("<QQIIQ24xII")
_WORDS = struct.Struct("<16I")


@dataclass(frozen=True)
class Descriptor:
    """One 64-byte in-memory descriptor (layout in docs/dma.md)."""

    src: int
    dst: int
    length: int
    ctrl: int = 0
    next: int = 0

    @property
    def irq(self) -> bool:
        return bool(self.ctrl & DESC_IRQ)

    @property
    def last(self) -> bool:
        return bool(self.ctrl & DESC_LAST)

    @property
    def reduce(self) -> int:
        return (self.ctrl & DESC_REDUCE_MASK) >> DESC_REDUCE_SHIFT

    def encode(self) -> bytes:
        """The descriptor's 64 bytes, magic and check word included."""
        head = _DESC.pack(self.src, self.dst, self.length, self.ctrl, self.next, DESC_MAGIC, 0)
        return head[:-4] + struct.pack("<I", _xor_words(head[:-4]))

    @classmethod
    def decode(cls, raw: bytes) -> Descriptor | None:
        """Parse 64 bytes; None when the magic or the check word is wrong."""
        if len(raw) != DESC_SIZE:
            return None
        src, dst, length, ctrl, nxt, magic, check = _DESC.unpack(raw)
        if magic != DESC_MAGIC or check != _xor_words(raw[:-4]):
            return None
        return cls(src, dst, length, ctrl, nxt)


def _xor_words(raw: bytes) -> int:
    """XOR of the little-endian 32-bit words of ``raw`` (15 words: the check word's value)."""
    acc = 0
    for w in _WORDS.unpack(raw + bytes(DESC_SIZE - len(raw))):
        acc ^= w
    return acc


def encode_descriptor(src: int, dst: int, length: int, *, irq: bool = False,
                      last: bool = False, next: int = 0, reduce: int = 0) -> bytes:
    """The 64 bytes of a descriptor, ready to write to memory (``reduce``: the op, 0..7)."""
    ctrl = ((DESC_IRQ if irq else 0) | (DESC_LAST if last else 0)
            | ((reduce << DESC_REDUCE_SHIFT) & DESC_REDUCE_MASK))
    return Descriptor(src, dst, length, ctrl, next).encode()
