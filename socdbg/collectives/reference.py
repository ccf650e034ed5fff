"""What the buffers hold: element codecs (fp32, bf16), the expected result of a collective
computed with numpy from the inputs alone, and a plan applied to numpy buffers (the plan's
meaning without a simulator, for tests of the planner)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from socdbg.collectives.plan import Plan

    F32 = NDArray[np.float32]

#: Element types: name -> bytes per element.
TYPES = {"fp32": 4, "bf16": 2}
ALIASES = {"float": "fp32", "float32": "fp32", "f32": "fp32", "bfloat16": "bf16"}


def elem_bytes(dtype: str) -> int:
    return TYPES[dtype]


def decode(dtype: str, raw: bytes) -> F32:
    """Little-endian elements as float32 (bf16 widened exactly)."""
    if dtype == "fp32":
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    half = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << np.uint32(16)
    return half.view(np.float32)


def encode(dtype: str, values: F32) -> bytes:
    """float32 values as little-endian elements (bf16 rounded to nearest even)."""
    v = np.ascontiguousarray(values, dtype=np.float32)
    if dtype == "fp32":
        return v.astype("<f4").tobytes()
    u = v.view(np.uint32)
    rounded = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return rounded.astype("<u2").tobytes()


def inputs(ranks: int, count: int, seed: int = 0) -> list[F32]:
    """Each rank's input: small integers (-4..4) as floats, so every partial sum of up to 64
    ranks is exact in fp32 and in bf16 and the check does not depend on the order the
    additions happen in."""
    rng = np.random.default_rng(seed)
    return [rng.integers(-4, 5, size=count).astype(np.float32) for _ in range(ranks)]


def expected(collective: str, data: Sequence[F32]) -> dict[str, list[F32]]:
    """What every rank's buffers hold after ``collective`` on inputs ``data`` (one array of
    ``count`` elements per rank, in ``send``): buffer name -> one array per rank. Only the
    bytes a collective defines are compared: reduce-scatter defines a rank's own block."""
    n = len(data)
    count = len(data[0])
    if collective == "allreduce":
        total: F32 = np.sum(np.stack(data), axis=0, dtype=np.float32)
        return {"send": [total.copy() for _ in range(n)]}
    if collective == "reducescatter":
        whole: F32 = np.sum(np.stack(data), axis=0, dtype=np.float32)
        return {"send": [whole[slice(*_bounds(count, n, r))] for r in range(n)]}
    if collective == "allgather":
        out = np.empty(count, dtype=np.float32)
        for r in range(n):
            lo, hi = _bounds(count, n, r)
            out[lo:hi] = data[r][lo:hi]
        return {"send": [out.copy() for _ in range(n)]}
    if collective == "alltoall":
        k = count // n
        return {"recv": [np.concatenate([data[r][j * k:(j + 1) * k] for r in range(n)])
                         for j in range(n)]}
    raise ValueError(collective)


def _bounds(count: int, n: int, b: int) -> tuple[int, int]:
    return b * count // n, (b + 1) * count // n


def region(collective: str, count: int, n: int, rank: int) -> tuple[int, int]:
    """The elements of a rank's result buffer the collective defines: [first, end)."""
    if collective == "reducescatter":
        return _bounds(count, n, rank)
    return 0, count


def apply(plan: Plan, data: Sequence[F32]) -> dict[str, list[F32]]:
    """Run ``plan`` on numpy buffers, step by step, every transfer of a step reading the
    buffers as they were before the step (as concurrent DMAs do when the plan has no hazard)."""
    e = plan.elem
    bufs = {name: [np.zeros(size // e, dtype=np.float32) for _ in range(plan.ranks)]
            for name, size in plan.buffers.items()}
    for r in range(plan.ranks):
        bufs["send"][r][:] = data[r]
    for step in plan.steps:
        reads = [bufs[t.src_buf][t.src][t.src_off // e:(t.src_off + t.length) // e].copy()
                 for t in step.transfers]
        for t, values in zip(step.transfers, reads, strict=True):
            dst = bufs[t.dst_buf][t.dst]
            lo, hi = t.dst_off // e, (t.dst_off + t.length) // e
            dst[lo:hi] = dst[lo:hi] + values if t.reduce else values
    return bufs


def hazards(plan: Plan) -> list[str]:
    """Transfers of one step that write bytes another transfer of that step reads or writes
    (a plan with none gives the same result however the DMAs interleave)."""
    out = []
    for i, step in enumerate(plan.steps):
        spans = [(t.src, t.src_buf, t.src_off, t.src_off + t.length, False)
                 for t in step.transfers]
        spans += [(t.dst, t.dst_buf, t.dst_off, t.dst_off + t.length, True)
                  for t in step.transfers]
        for a in range(len(spans)):
            for b in range(a + 1, len(spans)):
                ra, ba, la, ha, wa = spans[a]
                rb, bb, lb, hb, wb = spans[b]
                if (wa or wb) and ra == rb and ba == bb and la < hb and lb < ha:
                    out.append(f"step {i}: rank {ra} {ba}[{max(la, lb)}:{min(ha, hb)}]")
    return out
