"""The routers' port counters, computed from the recurrences' results.

Totals kept by the mesh may include crossings decided for cycles still ahead;
:func:`counters_at` takes whatever lies after the current cycle back out. It is given the
router state it reads (the mesh calls it with its own), so this module knows the routers
and not the mesh that holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socdbg.models.noc.geometry import PORTS

if TYPE_CHECKING:
    from socdbg.models.noc.router import _Buffer, _Output, _Worm


@dataclass(frozen=True)
class NocCounters:
    """The per-router, per-port counters at the end of ``cycle``, indexed ``[router][port]``.

    ``flits``: flits that left through that output port. ``stalls``: cycles the flit at the
    front of that input port's buffer had finished its router delay but could not leave (its
    output held by another worm or lost arbitration, or no downstream credit). ``buf_occ``:
    flits in that input port's buffer.
    """

    cycle: int
    flits: tuple[tuple[int, ...], ...]
    stalls: tuple[tuple[int, ...], ...]
    buf_occ: tuple[tuple[int, ...], ...]

    @property
    def idle(self) -> bool:
        """No flit buffered anywhere."""
        return not any(any(row) for row in self.buf_occ)

    def total_flits(self) -> int:
        return sum(sum(row) for row in self.flits)


def counters_at(t: int, nodes: int, outs: Sequence[_Output], bufs: Sequence[_Buffer],
                inflight: Iterable[_Worm], router_delay: int, link_delay: int) -> NocCounters:
    """Every router's port counters as of the end of cycle ``t``, from the ``nodes * PORTS``
    outputs and input buffers and the worms in flight of a mesh with those delays."""
    flits = [o.flits for o in outs]
    stalls = [b.stall for b in bufs]
    occ = [0] * len(bufs)
    R = router_delay
    L = link_delay
    for w in inflight:
        for h in range(w.last + 1):
            if h:
                arr = w.deps[h - 1]
                lat = L
            else:
                arr = w.inj
                lat = 0
            na = len(arr)
            if not na:
                break
            deps = w.deps[h]
            k = len(deps)
            b = w.bufs[h].index
            o = w.outs[h].index
            arrived = na
            while arrived and arr[arrived - 1] + lat > t:
                arrived -= 1
            gone = k
            while gone and deps[gone - 1] > t:
                gone -= 1
            occ[b] += arrived - gone
            for j in range(gone, k):  # crossings after t: take them back out
                d = deps[j]
                r = w.q[h] if j == 0 else max(arr[j] + lat + R, deps[j - 1] + 1)
                flits[o] -= 1
                stalls[b] -= d - r - max(0, min(d, t + 1) - r)
            if k < na:  # the first flit still waiting here
                if k == 0:
                    r = w.q[h]
                    if r < 0:
                        continue
                else:
                    r = max(arr[k] + lat + R, deps[k - 1] + 1)
                if r <= t:
                    stalls[b] += t + 1 - r
    X = PORTS
    rows = range(nodes)
    return NocCounters(
        cycle=t,
        flits=tuple(tuple(flits[i * X:(i + 1) * X]) for i in rows),
        stalls=tuple(tuple(stalls[i * X:(i + 1) * X]) for i in rows),
        buf_occ=tuple(tuple(occ[i * X:(i + 1) * X]) for i in rows),
    )

