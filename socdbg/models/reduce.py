"""The DMA's write-with-reduce: the engine reads dst, adds src, writes dst (docs/dma.md).

Ops (``dma.ch[n].ctrl.reduce`` and descriptor ctrl bits [6:4]): 0 NONE (a plain copy),
1 FP32_ADD (IEEE binary32, round to nearest even), 2 BF16_ADD (bfloat16 operands widened to
binary32, added, rounded to nearest even back to bfloat16; NaN stays a quiet NaN),
3 INT32_ADD (wrapping). Little-endian elements. The arithmetic is numpy's, whole pages at a
time; pages that were never written on either side (zeros) are left alone, as 0 + 0 = 0.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from socdbg.models.memory import PAGE, PAGE_BITS, SparseMemory

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class ReduceOp(IntEnum):
    NONE = 0
    FP32_ADD = 1
    BF16_ADD = 2
    INT32_ADD = 3


#: Element size in bytes of each op (lengths and addresses are 8-byte aligned anyway).
ELEMENT = {ReduceOp.NONE: 1, ReduceOp.FP32_ADD: 4, ReduceOp.BF16_ADD: 2, ReduceOp.INT32_ADD: 4}


def bf16_to_f32(raw: NDArray[np.uint16]) -> NDArray[np.float32]:
    import numpy as np

    return (raw.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(values: NDArray[np.float32]) -> NDArray[np.uint16]:
    """Round to nearest even; NaN becomes the quiet NaN 0x7FC0 (with its sign)."""
    import numpy as np

    bits = values.view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) >> 16
    nan = np.isnan(values)
    quiet = ((bits >> 16) & np.uint32(0x8000)) | np.uint32(0x7FC0)
    return np.where(nan, quiet, rounded).astype(np.uint16)


def combine(op: ReduceOp, dst: bytes, src: bytes) -> bytes:
    """``dst op src`` over two equal byte strings."""
    import numpy as np

    if op == ReduceOp.FP32_ADD:
        a = np.frombuffer(dst, dtype="<f4")
        b = np.frombuffer(src, dtype="<f4")
        with np.errstate(all="ignore"):
            return bytes((a + b).astype("<f4").tobytes())
    if op == ReduceOp.BF16_ADD:
        x = bf16_to_f32(np.frombuffer(dst, dtype="<u2"))
        y = bf16_to_f32(np.frombuffer(src, dtype="<u2"))
        with np.errstate(all="ignore"):
            return f32_to_bf16((x + y).astype(np.float32)).astype("<u2").tobytes()
    if op == ReduceOp.INT32_ADD:
        a = np.frombuffer(dst, dtype="<u4")
        b = np.frombuffer(src, dtype="<u4")
        return bytes((a + b).astype("<u4").tobytes())
    return src


def reduce_into(dst_mem: SparseMemory, dst: int, src_mem: SparseMemory, src: int,
                length: int, op: ReduceOp) -> None:
    """dst[0:length] = dst op src (a copy for NONE). The ranges must not overlap."""
    if op == ReduceOp.NONE:
        dst_mem.copy_from(src_mem, src, dst, length)
        return
    done = 0
    while done < length:
        # step in runs that stay inside one page on both sides
        n = min(length - done, PAGE - ((src + done - src_mem.base) & (PAGE - 1)),
                PAGE - ((dst + done - dst_mem.base) & (PAGE - 1)))
        if _written(src_mem, src + done) or _written(dst_mem, dst + done):
            out = combine(op, dst_mem.read(dst + done, n), src_mem.read(src + done, n))
            dst_mem.write(dst + done, out)
        done += n


def _written(mem: SparseMemory, address: int) -> bool:
    if mem.settlers:
        mem.settle()
    return mem.has_page((address - mem.base) >> PAGE_BITS)
