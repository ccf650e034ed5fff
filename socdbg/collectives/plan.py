"""Collective algorithms as plans: which chip's DMA moves which bytes to which chip, step by
step. Pure: no target, no simulator, no numpy; the executor (socdbg.collectives.run) turns a
plan into register writes, the reference (socdbg.collectives.reference) says what the buffers
must hold afterwards.

A collective works on ``count`` elements of ``elem`` bytes on each of ``n`` ranks (rank ``r``
is the ``r``-th chip of the set it runs on). The elements are cut into ``n`` blocks (NCCL's
chunking: block ``b`` holds elements ``[b * count // n, (b + 1) * count // n)``). Every rank
has a ``send`` buffer and, for the collectives that need one, a ``recv`` buffer; offsets in a
:class:`Transfer` are byte offsets into them. The transfers of one :class:`Step` run at the
same time, each on its source rank's DMA; a step starts when the one before it has finished
on every rank (a barrier, as the flag waits of a collective library are).

Algorithms (results as in NCCL; ``+`` is the element-wise sum):

``allreduce`` / ``ring``
    reduce-scatter then all-gather around the ring, in place in ``send``: 2(n-1) steps, each
    rank sending one block per step to the next rank (reduce-writes, then plain writes).
``allreduce`` / ``rhd``
    recursive halving (reduce-scatter) then recursive doubling (all-gather) between partners
    ``r ^ d``: 2 log2(n) steps, n a power of two; step k of the halving moves n/2^(k+1) blocks.
``reducescatter`` / ``ring``
    the first half of the ring all-reduce, in place: rank ``r`` ends with the sum of block
    ``r`` in its own block ``r``.
``allgather`` / ``ring``
    rank ``r``'s block ``r`` goes round the ring: n-1 steps, in place.
``alltoall`` / ``pairwise``
    block ``j`` of rank ``r``'s ``send`` goes to block ``r`` of rank ``j``'s ``recv``: in step
    ``s`` rank ``r`` sends to ``(r + s) % n``; step 0 is each rank's copy of its own block,
    then n-1 steps over the links. ``count`` must be a multiple of n (equal blocks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Collective -> its algorithms (the first is the default).
ALGORITHMS: dict[str, tuple[str, ...]] = {
    "allreduce": ("ring", "rhd"),
    "reducescatter": ("ring",),
    "allgather": ("ring",),
    "alltoall": ("pairwise",),
}
#: Short names people type, nccl-tests' binaries' names included.
ALIASES = {"all_reduce": "allreduce", "reduce_scatter": "reducescatter",
           "all_gather": "allgather", "all_to_all": "alltoall", "a2a": "alltoall",
           "ar": "allreduce", "rs": "reducescatter", "ag": "allgather",
           "recursive-halving": "rhd", "halving-doubling": "rhd"}


@dataclass(frozen=True)
class Transfer:
    """One DMA transfer: ``length`` bytes from rank ``src``'s buffer ``src_buf`` at
    ``src_off`` to rank ``dst``'s ``dst_buf`` at ``dst_off``; ``reduce``: added element-wise
    to what is there (the DMA's write-with-reduce) instead of overwriting it."""

    src: int
    src_buf: str
    src_off: int
    dst: int
    dst_buf: str
    dst_off: int
    length: int
    reduce: bool = False


@dataclass(frozen=True)
class Step:
    transfers: tuple[Transfer, ...]


@dataclass(frozen=True)
class Plan:
    """A collective ready to run: its steps and what it needs of every rank."""

    collective: str
    algorithm: str
    ranks: int
    count: int
    elem: int
    steps: tuple[Step, ...]
    #: Buffers each rank needs, with their sizes in bytes.
    buffers: dict[str, int] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """The message size as nccl-tests reports it (``size``): count * element bytes."""
        return self.count * self.elem

    @property
    def transfers(self) -> int:
        return sum(len(s.transfers) for s in self.steps)

    def bytes_sent(self, rank: int) -> int:
        return sum(t.length for s in self.steps for t in s.transfers if t.src == rank)


class PlanError(ValueError):
    """A collective that cannot be planned (the caller makes it a user error)."""


def block(count: int, n: int, b: int) -> tuple[int, int]:
    """Block ``b`` of ``count`` elements cut ``n`` ways: (first element, element count)."""
    lo, hi = b * count // n, (b + 1) * count // n
    return lo, hi - lo


def canonical(collective: str) -> str:
    name = collective.lower().replace("-", "_")
    name = ALIASES.get(name, name).replace("_", "")
    if name not in ALGORITHMS:
        raise PlanError(f"no collective '{collective}'")
    return name


def plan(collective: str, ranks: int, count: int, elem: int, algorithm: str | None = None
         ) -> Plan:
    """The plan of ``collective`` over ``ranks`` ranks of ``count`` elements of ``elem``
    bytes each (``count`` per rank: the size nccl-tests reports; for all-gather the output is
    ``count`` elements made of n blocks, for reduce-scatter the input)."""
    name = canonical(collective)
    algos = ALGORITHMS[name]
    algo = algos[0] if algorithm is None else ALIASES.get(algorithm, algorithm)
    if algo not in algos:
        raise PlanError(f"{name} has no algorithm '{algorithm}' (it has {', '.join(algos)})")
    if ranks < 2:
        raise PlanError(f"a collective needs at least 2 chips, not {ranks}")
    if count < ranks:
        raise PlanError(f"{count} elements cannot be cut into {ranks} blocks")
    if elem < 1:
        raise PlanError("an element has at least one byte")
    if algo == "rhd" and ranks & (ranks - 1):
        raise PlanError(f"recursive halving needs a power-of-two number of chips, not {ranks}")
    if name == "alltoall" and count % ranks:
        raise PlanError(f"all-to-all sends equal blocks: {count} elements are not a multiple "
                        f"of {ranks} chips")
    nbytes = count * elem
    if name == "allreduce":
        steps = _ring_rs(ranks, count, elem) + _ring_ag(ranks, count, elem, 1) \
            if algo == "ring" else _rhd(ranks, count, elem)
        return Plan(name, algo, ranks, count, elem, tuple(steps), {"send": nbytes})
    if name == "reducescatter":
        return Plan(name, algo, ranks, count, elem, tuple(_ring_rs(ranks, count, elem, 1)),
                    {"send": nbytes})
    if name == "allgather":
        return Plan(name, algo, ranks, count, elem, tuple(_ring_ag(ranks, count, elem, 0)),
                    {"send": nbytes})
    return Plan(name, algo, ranks, count, elem, tuple(_pairwise(ranks, count, elem)),
                {"send": nbytes, "recv": nbytes})


def _span(count: int, n: int, elem: int, b: int) -> tuple[int, int]:
    lo, k = block(count, n, b % n)
    return lo * elem, k * elem


def _ring_rs(n: int, count: int, elem: int, shift: int = 0) -> list[Step]:
    """Reduce-scatter round the ring: in step s rank r reduce-writes block (r - s - shift)
    into rank r + 1. With shift 0 rank r ends owning block r + 1 (all-reduce's order); with
    shift 1 it ends owning block r (NCCL's reduce-scatter)."""
    steps = []
    for s in range(n - 1):
        out = []
        for r in range(n):
            off, length = _span(count, n, elem, r - s - shift)
            if length:
                out.append(Transfer(r, "send", off, (r + 1) % n, "send", off, length, True))
        steps.append(Step(tuple(out)))
    return steps


def _ring_ag(n: int, count: int, elem: int, owned: int) -> list[Step]:
    """All-gather round the ring, rank r starting with block r + owned: in step s it sends
    block (r + owned - s) to rank r + 1."""
    steps = []
    for s in range(n - 1):
        out = []
        for r in range(n):
            off, length = _span(count, n, elem, r + owned - s)
            if length:
                out.append(Transfer(r, "send", off, (r + 1) % n, "send", off, length))
        steps.append(Step(tuple(out)))
    return steps


def _rhd(n: int, count: int, elem: int) -> list[Step]:
    """Recursive halving then doubling. Each rank keeps a window of blocks [lo, hi); at
    distance d it gives its partner r ^ d the half the partner keeps."""
    windows = [(0, n) for _ in range(n)]
    halving: list[Step] = []
    history: list[list[tuple[int, int]]] = []
    d = n // 2
    while d >= 1:
        out = []
        history.append(list(windows))
        new = list(windows)
        for r in range(n):
            lo, hi = windows[r]
            mid = (lo + hi) // 2
            keep_low = (r & d) == 0
            give = (mid, hi) if keep_low else (lo, mid)
            new[r] = (lo, mid) if keep_low else (mid, hi)
            off, length = _blocks(count, n, elem, *give)
            if length:
                out.append(Transfer(r, "send", off, r ^ d, "send", off, length, True))
        windows = new
        halving.append(Step(tuple(out)))
        d //= 2
    doubling: list[Step] = []
    d = 1
    for before in reversed(history):
        out = []
        for r in range(n):
            off, length = _blocks(count, n, elem, *windows[r])
            if length:
                out.append(Transfer(r, "send", off, r ^ d, "send", off, length))
        windows = before
        doubling.append(Step(tuple(out)))
        d *= 2
    return halving + doubling


def _blocks(count: int, n: int, elem: int, lo: int, hi: int) -> tuple[int, int]:
    """Blocks [lo, hi) as one byte range."""
    first, _ = block(count, n, lo)
    last, k = block(count, n, hi - 1)
    return first * elem, (last + k - first) * elem


def _pairwise(n: int, count: int, elem: int) -> list[Step]:
    steps = []
    for s in range(n):
        out = []
        for r in range(n):
            j = (r + s) % n
            src_off, length = _span(count, n, elem, j)
            dst_off, _ = _span(count, n, elem, r)
            if length:
                out.append(Transfer(r, "send", src_off, j, "recv", dst_off, length))
        steps.append(Step(tuple(out)))
    return steps
