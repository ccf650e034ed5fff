"""Mesh geometry: node numbering, ports, neighbours and dimension-order routes.

Router (node) ``n`` sits at ``x = n % X``, ``y = n // X``; ports are numbered as in
``registers/noc.rdl``: 0 = N (y - 1), 1 = E, 2 = S, 3 = W, 4 = LOCAL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

N: Final = 0
E: Final = 1
S: Final = 2
W: Final = 3
LOCAL: Final = 4
PORTS: Final = 5
PORT_NAMES: Final = ("N", "E", "S", "W", "LOCAL")
#: The input port a flit arrives on after leaving through output port ``p``.
OPPOSITE: Final = (S, W, N, E, LOCAL)
ROUTINGS: Final = ("XY", "YX")
MAX_DIM: Final = 16
#: Virtual channels per input port, at most.
MAX_VCS: Final = 8
#: Leaving cycle of the flits before the first (their slots have always been free).
NEVER: Final = -(1 << 40)

#: Input buffer depth in flits. Eight, not four: with 4-flit buffers a single-channel
#: wormhole router saturates at 58% of the 8x8 channel-load bound (head-of-line blocking);
#: with 8 it reaches 67%, inside the 60-100% band the reference SoC is specified for.
DEFAULT_BUFFER_DEPTH: Final = 8

_RR_ORDER: Final = tuple(tuple((start + k) % PORTS for k in range(PORTS))
                         for start in range(PORTS))



def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {span}, got {value}")
    return value


def _check_routing(routing: str) -> str:
    name = routing.upper() if isinstance(routing, str) else routing
    if name not in ROUTINGS:
        raise ValueError(f"routing must be 'XY' or 'YX', not {routing!r}")
    return str(name)


class Geometry:
    """A ``size_x`` by ``size_y`` mesh's nodes, ports and routes."""

    def __init__(self, size_x: int, size_y: int, routing: str = "XY") -> None:
        _check_int("size_x", size_x, 1)
        _check_int("size_y", size_y, 1)
        if size_x > MAX_DIM or size_y > MAX_DIM:
            raise ValueError(f"mesh {size_x}x{size_y} is larger than the NoC supports "
                             f"({MAX_DIM}x{MAX_DIM} at most)")
        self.size_x = size_x
        self.size_y = size_y
        self.nodes = size_x * size_y
        self._routing = _check_routing(routing)

    # --- geometry --------------------------------------------------------------------------
    def node(self, x: int, y: int) -> int:
        """The node at column ``x``, row ``y``."""
        if not (0 <= x < self.size_x and 0 <= y < self.size_y):
            raise ValueError(f"({x}, {y}) is outside the {self.size_x}x{self.size_y} mesh")
        return y * self.size_x + x

    def coords(self, node: int) -> tuple[int, int]:
        """(x, y) of ``node``."""
        self._check_node("node", node)
        return node % self.size_x, node // self.size_x

    def neighbour(self, node: int, port: int) -> int | None:
        """The router on the other side of output ``port`` (None at the edge or for LOCAL)."""
        x, y = self.coords(node)
        if port == N:
            return node - self.size_x if y > 0 else None
        if port == S:
            return node + self.size_x if y < self.size_y - 1 else None
        if port == E:
            return node + 1 if x < self.size_x - 1 else None
        if port == W:
            return node - 1 if x > 0 else None
        return None

    def outputs(self) -> Iterator[tuple[int, int]]:
        """Every (router, output port) a flit can leave through, by router then port: the
        links to its neighbours and its LOCAL ejection port."""
        for node in range(self.nodes):
            for port in range(PORTS):
                if port == LOCAL or self.neighbour(node, port) is not None:
                    yield node, port

    def hops(self, src: int, dst: int) -> int:
        """Routers a packet from ``src`` to ``dst`` crosses: Manhattan distance + 1."""
        (sx, sy), (dx, dy) = self.coords(src), self.coords(dst)
        return abs(sx - dx) + abs(sy - dy) + 1

    def route(self, src: int, dst: int, routing: str | None = None) -> list[tuple[int, int]]:
        """The (router, output port) pairs a packet crosses, ending with (dst, LOCAL)."""
        self._check_node("src_node", src)
        self._check_node("dst_node", dst)
        order = self._routing if routing is None else _check_routing(routing)
        x, y = src % self.size_x, src // self.size_x
        dx, dy = dst % self.size_x, dst // self.size_x
        out: list[tuple[int, int]] = []
        while True:
            node = y * self.size_x + x
            if order == "XY":
                port = (E if dx > x else W) if x != dx else (S if dy > y else N) if y != dy \
                    else LOCAL
            else:
                port = (S if dy > y else N) if y != dy else (E if dx > x else W) if x != dx \
                    else LOCAL
            out.append((node, port))
            if port == LOCAL:
                return out
            if port == E:
                x += 1
            elif port == W:
                x -= 1
            elif port == S:
                y += 1
            else:
                y -= 1

    def _check_node(self, name: str, node: object) -> None:
        if isinstance(node, bool) or not isinstance(node, int):
            raise ValueError(f"{name} must be a node number, not {node!r}")
        if not 0 <= node < self.nodes:
            raise ValueError(f"{name} {node} is out of range: the {self.size_x}x{self.size_y} "
                             f"mesh has nodes 0..{self.nodes - 1}")
