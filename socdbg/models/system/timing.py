"""How long a transfer takes through a chain of servers: closed form and packet level.

A transfer of ``length`` bytes moves as packets of :data:`LINK_PACKET` bytes (the last one
shorter) through servers in order: the DMA engine's read port, the source chip's NoC, each
link, the destination chip's NoC. Server h sends a packet of p bytes in ``ceil(p / rate_h)``
cycles (twice that for a packet that fails its CRC and is replayed), one packet at a time,
in order, starting once the packet has fully arrived (store and forward) and the server is
free; the packet then takes ``latency_h`` cycles to reach the next server. So, with
D[k][h] the cycle packet k leaves server h::

    D[k][h] = max(D[k-1][h], D[k][h-1] + latency[h-1], free[h]) + service[h](k)

and the transfer lands at D[n-1][H-1] + latency[H-1]. :func:`packet_times` evaluates that
recurrence for every packet (vectorised over packets, numpy); :func:`flow_times` gives the
same numbers in closed form when no server is busy at the start and no CRC errors are
injected, in O(H^2) whatever the length: the longest path through the (packet, server) grid
enters the last packet's row at some server c, so
``finish = t0 + sum(latency) + max_c [S_c + (n-2) M_c + l_c + sum_{j>c} l_j]`` with s/l the
full and last packets' service times, S_c and M_c the prefix sum and maximum of s. The tests
check the two against each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Bytes per link-layer packet.
LINK_PACKET = 256
#: Bytes per link flit (the flit counters count these).
LINK_FLIT = 32


@dataclass(frozen=True)
class Server:
    """One stage: ``rate`` bytes a cycle, ``latency`` cycles to the next stage, every
    ``crc_every``-th packet (0: none) replayed, and busy until ``free`` (a cycle)."""

    rate: int
    latency: int = 0
    crc_every: int = 0
    free: int = 0


@dataclass(frozen=True)
class Timing:
    """``finish``: the cycle the last byte lands; ``departs[h]``: the cycle the last packet
    leaves server h (it is busy until then); ``replays[h]``: packets server h sent twice."""

    finish: int
    departs: tuple[int, ...]
    replays: tuple[int, ...]


def packets(length: int) -> tuple[int, int]:
    """(number of packets, bytes in the last one)."""
    n = max(1, -(-length // LINK_PACKET))
    return n, length - (n - 1) * LINK_PACKET


def replayed(n: int, crc_every: int) -> int:
    return n // crc_every if crc_every > 0 else 0


def can_flow(t0: int, servers: Sequence[Server]) -> bool:
    """Whether :func:`flow_times` applies: every server free at ``t0``, no CRC errors."""
    return all(s.free <= t0 and s.crc_every == 0 for s in servers)


def flow_times(t0: int, length: int, servers: Sequence[Server]) -> Timing:
    """The closed form (see the module doc); requires :func:`can_flow`."""
    n, last = packets(length)
    full = [-(-LINK_PACKET // s.rate) for s in servers]
    tail = [-(-last // s.rate) for s in servers]
    departs: list[int] = []
    lat = 0
    for h in range(len(servers)):
        departs.append(t0 + lat + _longest(n, full[: h + 1], tail[: h + 1]))
        lat += servers[h].latency
    return Timing(departs[-1] + servers[-1].latency, tuple(departs),
                  tuple(0 for _ in servers))


def _longest(n: int, full: Sequence[int], tail: Sequence[int]) -> int:
    """The longest path's service time through servers 0..len-1 for n packets."""
    if n == 1:
        return sum(tail)
    best = 0
    prefix = 0
    peak = 0
    suffix = [0] * (len(tail) + 1)
    for j in range(len(tail) - 1, -1, -1):
        suffix[j] = suffix[j + 1] + tail[j]
    for c, s in enumerate(full):
        prefix += s
        peak = max(peak, s)
        best = max(best, prefix + (n - 2) * peak + tail[c] + suffix[c + 1])
    return best


def packet_times(t0: int, length: int, servers: Sequence[Server]) -> Timing:
    """The recurrence packet by packet (vectorised over the packets with numpy)."""
    import numpy as np

    n, last = packets(length)
    sizes = np.full(n, LINK_PACKET, dtype=np.int64)
    sizes[-1] = last
    arrive = np.full(n, t0, dtype=np.int64)
    departs: list[int] = []
    replays: list[int] = []
    for server in servers:
        service = -(-sizes // server.rate)
        if server.crc_every > 0:
            bad = (np.arange(1, n + 1) % server.crc_every) == 0
            service = service + np.where(bad, service, 0)
            replays.append(int(bad.sum()))
        else:
            replays.append(0)
        done = np.cumsum(service)
        before = np.concatenate(([0], done[:-1]))
        start = np.maximum(np.maximum.accumulate(arrive - before), server.free)
        depart = done + start
        departs.append(int(depart[-1]))
        arrive = depart + server.latency
    return Timing(int(arrive[-1]), tuple(departs), tuple(replays))


def times(t0: int, length: int, servers: Sequence[Server]) -> Timing:
    """The closed form when it applies, else the packet-level recurrence."""
    if can_flow(t0, servers):
        return flow_times(t0, length, servers)
    return packet_times(t0, length, servers)
