"""Which port of which chip is wired to which, and the route a transfer takes.

Ports per topology (registers/c2c.rdl): ``ring`` port 0 to chip i+1, port 1 to chip i-1;
``torus``/``mesh`` AxB (chip i at x = i % A, y = i // A) ports 0..3 = x+, x-, y+, y- (a torus
wraps, a mesh leaves its edge ports unconnected); ``fc`` port p to chip p (p < i) or p + 1.
Routes are shortest paths with a deterministic tie-break: on a ring and along each torus
dimension the + direction wins a tie; tori and meshes route x first, then y (dimension order).
"""

from __future__ import annotations

from dataclasses import dataclass

from socdbg.models.options import Topology

#: Chip i's address space appears at (i + 1) << GLOBAL_SHIFT in the system map.
GLOBAL_SHIFT = 32
GLOBAL_BASE = 1 << GLOBAL_SHIFT
LOCAL_MASK = GLOBAL_BASE - 1


def global_address(chip: int, local: int) -> int:
    """The system address of chip ``chip``'s local address ``local``."""
    return ((chip + 1) << GLOBAL_SHIFT) | (local & LOCAL_MASK)


def chip_of(address: int) -> tuple[int | None, int]:
    """(chip, local address) of a system address; chip None for a local (< 4 GiB) one."""
    if address < GLOBAL_BASE:
        return None, address
    return (address >> GLOBAL_SHIFT) - 1, address & LOCAL_MASK


@dataclass(frozen=True)
class Hop:
    """One link crossed: out of ``chip``'s ``port`` into ``peer``'s ``peer_port``."""

    chip: int
    port: int
    peer: int
    peer_port: int


class Wiring:
    """The links of ``chips`` chips joined in ``topology``."""

    def __init__(self, chips: int, topology: Topology) -> None:
        self.chips = chips
        self.topology = topology
        self.ports = topology.ports(chips)
        #: (chip, port) -> (peer chip, peer port), for every connected port
        self.peer: dict[tuple[int, int], tuple[int, int]] = {}
        for chip in range(chips):
            for port in range(self.ports):
                other = self._wire(chip, port)
                if other is not None:
                    self.peer[(chip, port)] = other

    def _wire(self, chip: int, port: int) -> tuple[int, int] | None:
        n, kind = self.chips, self.topology.kind
        if kind == "ring":
            if n < 2:
                return None
            return ((chip + 1) % n, 1) if port == 0 else ((chip - 1) % n, 0)
        if kind == "fc":
            peer = port if port < chip else port + 1
            if peer >= n:
                return None
            return peer, chip if chip < peer else chip - 1
        a, b = self.topology.dims
        x, y = chip % a, chip // a
        size, pos = (a, x) if port < 2 else (b, y)
        step = 1 if port % 2 == 0 else -1
        nxt = pos + step
        if kind == "mesh" and not 0 <= nxt < size:
            return None
        if size < 2:
            return None
        nxt %= size
        peer = (nxt + y * a) if port < 2 else (x + nxt * a)
        return peer, port ^ 1

    def route(self, src: int, dst: int) -> list[Hop]:
        """The links a transfer from chip ``src`` to chip ``dst`` crosses, in order."""
        hops: list[Hop] = []
        chip = src
        while chip != dst:
            port = self._next_port(chip, dst)
            peer, peer_port = self.peer[(chip, port)]
            hops.append(Hop(chip, port, peer, peer_port))
            chip = peer
        return hops

    def _next_port(self, chip: int, dst: int) -> int:
        kind = self.topology.kind
        if kind == "ring":
            return 0 if (dst - chip) % self.chips <= self.chips // 2 else 1
        if kind == "fc":
            return dst if dst < chip else dst - 1
        a, b = self.topology.dims
        for axis, (pos, want, size) in enumerate(((chip % a, dst % a, a),
                                                  (chip // a, dst // a, b))):
            if pos == want:
                continue
            if kind == "mesh":
                return 2 * axis + (0 if want > pos else 1)
            return 2 * axis + (0 if (want - pos) % size <= size // 2 else 1)
        raise AssertionError("no port: already there")
