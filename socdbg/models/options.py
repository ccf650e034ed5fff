"""The ``sim:`` target's options, parsed and checked once into a typed object.

``sim:my.rdl,mesh=8x8,dma_bw=64,noc=coarse,noc_buf=4``: every model reads the typed
:class:`SimOptions`, never the option strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from socdbg.errors import TargetError

KNOWN_OPTIONS = ("mesh", "dma_bw", "noc", "noc_buf", "noc_vcs", "noc_router_delay",
                 "noc_link_delay", "noc_inject_delay", "noc_eject_delay", "chips", "topology")
#: The NoC timing knobs: option -> (default, low, high, what it is).
NOC_DELAYS = {
    "noc_router_delay": (1, 1, 16, "router pipeline depth in cycles"),
    "noc_link_delay": (1, 1, 16, "link (channel) latency in cycles"),
    "noc_inject_delay": (0, 0, 16, "injection channel latency in cycles"),
    "noc_eject_delay": (0, 0, 16, "ejection channel latency in cycles"),
}
#: The NoC's default input buffer depth in flits (socdbg.models.noc.DEFAULT_BUFFER_DEPTH).
DEFAULT_NOC_BUF = 8
MAX_MESH_SIDE = 16
#: Virtual channels per input port, at most (socdbg.models.noc.MAX_VCS).
MAX_NOC_VCS = 8
#: The most chips a system may have (64 is the largest size the benchmarks run).
MAX_CHIPS = 256


@dataclass(frozen=True)
class Topology:
    """How the chips are joined: ``ring``, ``torus`` (dims AxB), ``mesh`` (dims AxB) or
    ``fc`` (every chip to every other)."""

    kind: Literal["ring", "torus", "mesh", "fc"] = "ring"
    dims: tuple[int, int] = (0, 0)

    def ports(self, chips: int) -> int:
        """Link ports per chip (at least 1, so the block always has a port array)."""
        if self.kind == "ring":
            return 2
        if self.kind == "fc":
            return max(1, chips - 1)
        return 4

    @property
    def text(self) -> str:
        if self.kind in ("torus", "mesh"):
            return f"{self.kind}={self.dims[0]}x{self.dims[1]}"
        return self.kind


def _system(options: Mapping[str, str]) -> tuple[int | None, Topology]:
    text = options.get("chips")
    topo_text = options.get("topology")
    if text is None:
        if topo_text is not None:
            raise TargetError("sim target: topology needs chips=N",
                              "for example sim:chips=8,topology=ring")
        return None, Topology()
    if not (text.isdigit() and 1 <= int(text) <= MAX_CHIPS):
        raise TargetError(f"sim target: chips '{text}' is not 1..{MAX_CHIPS}",
                          "for example sim:chips=8,topology=ring")
    chips = int(text)
    kind, _, dims = (topo_text or "ring").lower().partition("=")
    if kind in ("ring", "fc") and not dims:
        return chips, Topology("ring" if kind == "ring" else "fc")
    if kind in ("torus", "mesh"):
        a, sep, b = dims.partition("x")
        if sep and a.isdigit() and b.isdigit() and int(a) >= 1 and int(b) >= 1:
            if int(a) * int(b) != chips:
                raise TargetError(f"sim target: topology {kind}={dims} has {int(a) * int(b)} "
                                  f"chips, not {chips}", f"chips={int(a) * int(b)}")
            return chips, Topology("torus" if kind == "torus" else "mesh", (int(a), int(b)))
    raise TargetError(f"sim target: topology '{topo_text}' is not ring, torus=AxB, mesh=AxB "
                      "or fc", "for example topology=torus=4x2 with chips=8")


@dataclass(frozen=True)
class SimOptions:
    """``mesh``: (x, y) when given (the map is generated with that NoC size). ``dma_bw``: the
    DMA port's bytes per cycle. ``noc``: ``"mesh"`` (DMA data crosses the simulated mesh) or
    ``"coarse"`` (the engine's own timing, no mesh). ``noc_buf``: router input buffer depth in
    flits (per virtual channel). ``noc_vcs``: virtual channels per input port (synthetic
    traffic, ``noc traffic``, runs with them; DMA packets use one). ``noc_router_delay``,
    ``noc_link_delay``, ``noc_inject_delay``, ``noc_eject_delay``: the mesh's timing
    (docs/models.md, Matching BookSim2)."""

    mesh: tuple[int, int] | None = None
    dma_bw: int = 32
    noc: Literal["mesh", "coarse"] = "mesh"
    noc_buf: int = DEFAULT_NOC_BUF
    noc_vcs: int = 1
    noc_router_delay: int = 1
    noc_link_delay: int = 1
    noc_inject_delay: int = 0
    noc_eject_delay: int = 0
    #: ``chips=N``: a system of N reference SoCs (None: one chip, the plain SoC map), joined
    #: by chip-to-chip links in ``topology`` (socdbg.models.system.topology, docs/multichip.md).
    chips: int | None = None
    topology: Topology = Topology()

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> SimOptions:
        """Check every option; a bad one is a TargetError naming it, with a hint."""
        unknown = [k for k in options if k not in KNOWN_OPTIONS]
        if unknown:
            raise TargetError(f"sim target: unknown option '{unknown[0]}'",
                              "options: " + ", ".join(KNOWN_OPTIONS))
        mesh: tuple[int, int] | None = None
        text = options.get("mesh")
        if text is not None:
            x, sep, y = text.lower().partition("x")
            if not (sep and x.isdigit() and y.isdigit()) or not (
                    1 <= int(x) <= MAX_MESH_SIDE and 1 <= int(y) <= MAX_MESH_SIDE):
                raise TargetError(f"sim target: mesh '{text}' is not XxY with sides 1..16",
                                  "for example sim:mesh=8x8 or sim:mesh=4x2")
            mesh = (int(x), int(y))
        bw = options.get("dma_bw", "32")
        if not (bw.isdigit() and 1 <= int(bw) <= 4096):
            raise TargetError(f"sim target: dma_bw '{bw}' is not 1..4096 bytes per cycle")
        noc = options.get("noc", "mesh")
        if noc not in ("mesh", "coarse"):
            raise TargetError(f"sim target: noc '{noc}' is not mesh or coarse",
                              "noc=coarse moves DMA data without simulating the mesh")
        buf = options.get("noc_buf", str(DEFAULT_NOC_BUF))
        if not (buf.isdigit() and 1 <= int(buf) <= 64):
            raise TargetError(f"sim target: noc_buf '{buf}' is not 1..64 flits")
        vcs = options.get("noc_vcs", "1")
        if not (vcs.isdigit() and 1 <= int(vcs) <= MAX_NOC_VCS):
            raise TargetError(f"sim target: noc_vcs '{vcs}' is not 1..{MAX_NOC_VCS}",
                              "virtual channels per router input port, e.g. sim:noc_vcs=2")
        delays: dict[str, int] = {}
        for name, (default, low, high, what) in NOC_DELAYS.items():
            text = options.get(name, str(default))
            if not (text.isdigit() and low <= int(text) <= high):
                raise TargetError(f"sim target: {name} '{text}' is not {low}..{high}",
                                  f"{name} is the NoC's {what}")
            delays[name] = int(text)
        chips, topology = _system(options)
        return cls(mesh=mesh, dma_bw=int(bw), noc="coarse" if noc == "coarse" else "mesh",
                   noc_buf=int(buf), noc_vcs=int(vcs), noc_router_delay=delays["noc_router_delay"],
                   noc_link_delay=delays["noc_link_delay"],
                   noc_inject_delay=delays["noc_inject_delay"],
                   noc_eject_delay=delays["noc_eject_delay"], chips=chips, topology=topology)

    def defines(self) -> dict[str, str]:
        """The map generator's defines these options ask for: the NoC size; for a system,
        the chip count and the link ports per chip."""
        out = self.chip_defines()
        if self.chips is not None:
            out["CHIPS"] = str(self.chips)
        return out

    def chip_defines(self) -> dict[str, str]:
        """The defines of one chip's map (registers/soc.rdl): the NoC size; in a system also
        the number of chip-to-chip link ports."""
        out = {} if self.mesh is None else {"MESH_X": str(self.mesh[0]),
                                            "MESH_Y": str(self.mesh[1])}
        if self.chips is not None:
            out["C2C_PORTS"] = str(self.topology.ports(self.chips))
        return out
