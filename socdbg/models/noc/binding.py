"""The NoC's register binding, a block behaviour like the others: the counter registers
``noc.router[i].port[p].flits/stalls/buf_occ`` and ``noc.status.idle`` are recomputed when
software reads them (never per cycle); ``noc.ctrl.routing`` switches the routing of packets
sent afterwards; chip reset empties the mesh."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from socdbg.models.noc.counters import NocCounters
from socdbg.models.noc.geometry import PORTS, ROUTINGS

if TYPE_CHECKING:
    from socdbg.models.regfile import RegisterFile
    from socdbg.regmap import Register


class BoundMesh(Protocol):
    """What the binding needs of the mesh (socdbg.models.noc.mesh.Mesh, which makes its
    binding: this protocol keeps the import one way)."""

    @property
    def size_x(self) -> int: ...
    @property
    def size_y(self) -> int: ...
    @property
    def nodes(self) -> int: ...
    @property
    def now(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def quiet(self) -> bool: ...

    def counters(self) -> NocCounters: ...
    def settle(self) -> None: ...
    def switch_routing(self, routing: str) -> None: ...
    def reset(self) -> None: ...


class MeshRegisters:
    """``mesh``'s counters behind ``regs``."""

    def __init__(self, mesh: BoundMesh, regs: RegisterFile) -> None:
        self.mesh = mesh
        self.regs = regs
        self._cache: tuple[tuple[int, int], NocCounters] | None = None

    def counters(self) -> NocCounters:
        """The mesh's counters, computed once per cycle and mesh state."""
        mesh = self.mesh
        key = (mesh.now, mesh.version)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, mesh.counters())
        return self._cache[1]

    def publish(self) -> None:
        """Write every ``noc.router[i].port[p].flits/stalls/buf_occ`` and ``noc.status.idle``
        from the current counters (through ``regs.hw_write``)."""
        regs = self.regs
        c = self.counters()
        for i in range(self.mesh.nodes):
            for p in range(PORTS):
                base = f"noc.router[{i}].port[{p}]"
                regs.hw_write(f"{base}.flits", c.flits[i][p] & 0xFFFF_FFFF)
                regs.hw_write(f"{base}.stalls", c.stalls[i][p] & 0xFFFF_FFFF)
                regs.hw_write(f"{base}.buf_occ", min(c.buf_occ[i][p], 0x1F))
        if regs.regmap.find("noc.status") is not None:
            self._write_idle(regs, regs.regmap.get("noc.status"), c)

    def bind(self) -> None:
        """Refresh the counter registers lazily: each ``noc.router[i].port[p].*`` register and
        ``noc.status`` is recomputed when software reads it (an ``on_read`` hook), never per
        cycle. A software write of ``noc.ctrl.routing`` switches routing for packets sent
        afterwards (as the hardware does; with traffic in flight that can deadlock)."""
        regs = self.regs
        rmap = regs.regmap
        mesh = self.mesh
        dim = rmap.find("noc.mesh_dim")
        if dim is not None:
            mx, my = dim.layout.reset & 0xFF, (dim.layout.reset >> 8) & 0xFF
            if (mx, my) != (mesh.size_x, mesh.size_y):
                raise ValueError(f"the register map describes a {mx}x{my} mesh, the model is "
                                 f"{mesh.size_x}x{mesh.size_y}")
        kinds = ("flits", "stalls", "buf_occ")
        for i in range(mesh.nodes):
            for p in range(PORTS):
                for kind in kinds:
                    path = f"noc.router[{i}].port[{p}].{kind}"
                    if rmap.find(path) is None:
                        raise ValueError(f"the register map has no {path}")
                    regs.on_read(path, self._reader(regs, kind, i, p), slope=self._slope)
        if rmap.find("noc.status") is not None:
            regs.on_read("noc.status", lambda reg: self._write_idle(
                regs, reg, self.counters()), slope=self._slope)
        ctrl = rmap.find("noc.ctrl")
        if ctrl is not None and ctrl.field("routing") is not None:
            regs.on_write("noc.ctrl", self._ctrl_written)

    def _slope(self) -> int | None:
        """Between kernel events the counters hold while the mesh is quiet; with traffic in
        flight (or a flow) they move with time, so the kernel checks every cycle."""
        return 0 if self.mesh.quiet else None

    def _reader(self, regs: RegisterFile, kind: str, i: int, p: int
                ) -> Callable[[Register], None]:
        def refresh(reg: Register) -> None:
            c = self.counters()
            if kind == "flits":
                value = c.flits[i][p] & 0xFFFF_FFFF
            elif kind == "stalls":
                value = c.stalls[i][p] & 0xFFFF_FFFF
            else:
                value = min(c.buf_occ[i][p], 0x1F)
            regs.hw_write(reg, value)

        return refresh

    @staticmethod
    def _write_idle(regs: RegisterFile, reg: Register, c: NocCounters) -> None:
        fld = reg.field("idle")
        if fld is not None:
            regs.hw_write(reg, fld.insert(0, int(c.idle)), fld.mask)

    def _ctrl_written(self, reg: Register, old: int, new: int) -> None:
        fld = reg.field("routing")
        assert fld is not None
        self.mesh.settle()
        value = fld.extract(new)
        if value < len(ROUTINGS):
            self.mesh.switch_routing(ROUTINGS[value])

    def reset(self) -> None:
        """Chip reset empties the mesh."""
        self.mesh.reset()
