"""The 2D mesh network-on-chip (the timing model is in :mod:`socdbg.models.noc.mesh`).

``geometry``: nodes, ports, routes. ``mesh``: the routers' recurrences on the kernel.
``counters``: the port counters. ``binding``: the counter and control registers.
"""

from socdbg.models.noc.binding import MeshRegisters
from socdbg.models.noc.counters import NocCounters
from socdbg.models.noc.geometry import (
    DEFAULT_BUFFER_DEPTH,
    LOCAL,
    MAX_DIM,
    NEVER,
    OPPOSITE,
    PORT_NAMES,
    PORTS,
    ROUTINGS,
    E,
    Geometry,
    N,
    S,
    W,
)
from socdbg.models.noc.mesh import MESH_PRIORITY, Mesh

__all__ = ["DEFAULT_BUFFER_DEPTH", "LOCAL", "MAX_DIM", "MESH_PRIORITY", "NEVER", "OPPOSITE",
           "PORTS", "PORT_NAMES", "ROUTINGS", "E", "Geometry", "Mesh", "MeshRegisters", "N",
           "NocCounters", "S", "W"]
