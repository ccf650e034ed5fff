"""The routers' port counters, computed from the recurrences' results.

Totals kept by the mesh may include crossings decided for cycles still ahead;
:func:`counters_at` takes whatever lies after the current cycle back out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from socdbg.models.noc.geometry import PORTS

if TYPE_CHECKING:
    from socdbg.models.noc.mesh import Mesh


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


def counters_at(mesh: Mesh) -> NocCounters:
    """Every router's port counters as of the end of ``mesh.now``."""
    t = mesh.now
    flits = [o.flits for o in mesh._outs]
    stalls = [b.stall for b in mesh._bufs]
    occ = [0] * len(mesh._bufs)
    R = mesh.router_delay
    L = mesh.link_delay
    for w in mesh._inflight:
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
    rows = range(mesh.nodes)
    return NocCounters(
        cycle=t,
        flits=tuple(tuple(flits[i * X:(i + 1) * X]) for i in rows),
        stalls=tuple(tuple(stalls[i * X:(i + 1) * X]) for i in rows),
        buf_occ=tuple(tuple(occ[i * X:(i + 1) * X]) for i in rows),
    )

