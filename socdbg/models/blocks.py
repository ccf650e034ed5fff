"""Hardware behaviour of the reference SoC's simple blocks, plugged into the register file.

One small class per behaviour. Each applies only when the map has the registers it drives,
so a simulator of any other map gets plain register semantics and nothing invented.
Timings are in core clock cycles and documented in docs/models.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from socdbg.models.context import Behaviour, SimContext
from socdbg.models.kernel import Event
from socdbg.regmap import Register, RegMap

if TYPE_CHECKING:
    from socdbg.models.noc import Mesh, MeshRegisters

__all__ = ["Behaviour", "SimContext", "attach", "attach_mesh"]

PLL_LOCK_CYCLES = 2000
HBM_PHASE_CYCLES = 500
PCIE_STATE_CYCLES = 1000


def _has(regmap: RegMap, *paths: str) -> bool:
    return all(regmap.find(p) is not None for p in paths)


def _field(sim: SimContext, path: str, name: str) -> int:
    return sim.regs.field(path, name)


class CycleCounter:
    """``sysctrl.cycle`` counts core clock cycles since the PLL locked (since reset when the
    map has no PLL); it holds its value while the PLL is unlocked."""

    PATH = "sysctrl.cycle"

    def __init__(self, sim: SimContext, pll: Pll | None) -> None:
        self.sim = sim
        self.pll = pll
        self.origin = sim.kernel.now
        sim.regs.on_read(self.PATH, self._refresh, slope=self._slope)

    def _refresh(self, reg: Register) -> None:
        if self.pll is None:
            self.sim.regs.hw_write(reg, self.sim.kernel.now - self.origin)
        elif self.pll.locked_at is not None:
            self.sim.regs.hw_write(reg, self.pll.held + self.sim.kernel.now - self.pll.locked_at)
        else:
            self.sim.regs.hw_write(reg, self.pll.held)

    def _slope(self) -> int:
        """It counts while the PLL is locked (always without a PLL), else it holds."""
        return 1 if self.pll is None or self.pll.locked_at is not None else 0

    def reset(self) -> None:
        self.origin = self.sim.kernel.now


class Interrupts:
    """``intc``: sources set w1c status bits; pending = status & enable; test_set injects."""

    def __init__(self, sim: SimContext) -> None:
        self.sim = sim
        regs = sim.regs
        regs.on_write("intc.status", lambda *_: self.update())
        regs.on_write("intc.enable", lambda *_: self.update())
        regs.on_write("intc.test_set", self._test_set)

    def _test_set(self, reg: Register, old: int, new: int) -> None:
        status = self.sim.regmap.get("intc.status")
        self.sim.regs.hw_write(status, new, new)
        self.update()

    def raise_(self, source: str) -> None:
        status = self.sim.regmap.get("intc.status")
        fld = status.field(source)
        if fld is None:
            raise KeyError(f"intc.status.{source}")
        self.sim.regs.hw_write(status, fld.mask, fld.mask)
        self.update()

    def update(self) -> None:
        regs = self.sim.regs
        regs.hw_write("intc.pending", regs.peek("intc.status") & regs.peek("intc.enable"))

    def reset(self) -> None:
        pass


class Pll:
    """``sysctrl.pll_ctrl.en`` 0->1 locks the PLL ``PLL_LOCK_CYCLES`` later; 1->0 unlocks
    (counting a lost lock if it was locked)."""

    def __init__(self, sim: SimContext) -> None:
        self.sim = sim
        self._pending: Event | None = None
        self.locked_at: int | None = None
        self.held = 0  # cycles counted in earlier locked periods (the counter holds)
        sim.regs.on_write("sysctrl.pll_ctrl", self._written)

    def _written(self, reg: Register, old: int, new: int) -> None:
        en = reg.field("en")
        refdiv = reg.field("refdiv")
        assert en is not None
        was, now = en.extract(old), en.extract(new)
        if now and not was:
            if refdiv is not None and refdiv.extract(new) == 0:
                return  # refdiv 0 is invalid: the PLL never locks
            self._pending = self.sim.kernel.schedule(PLL_LOCK_CYCLES, self._lock)
        elif was and not now:
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
            if _field(self.sim, "sysctrl.pll_status", "lock"):
                lost = _field(self.sim, "sysctrl.pll_status", "lock_lost_cnt")
                self.sim.regs.hw_set("sysctrl.pll_status", lock=0,
                                     lock_lost_cnt=min(lost + 1, 0xFF))
            if self.locked_at is not None:
                self.held += self.sim.kernel.now - self.locked_at
            self.locked_at = None

    def _lock(self) -> None:
        self._pending = None
        self.locked_at = self.sim.kernel.now
        self.sim.regs.hw_set("sysctrl.pll_status", lock=1)

    def reset(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.locked_at = None
        self.held = 0


def _in_reset(sim: SimContext, block: str) -> bool:
    if sim.regmap.find("sysctrl.rst_ctrl") is None:
        return False
    return bool(_field(sim, "sysctrl.rst_ctrl", f"{block}_rst"))


class HbmTraining:
    """``hbm.train_ctrl.start`` runs the training phases, ``HBM_PHASE_CYCLES`` each, then sets
    done and raises intc ``hbm_train_done``. Ignored while hbm is held in reset; fails at once
    (fail=1) if the PLL is not locked."""

    PHASES = 7  # PHY_INIT .. LANE_REPAIR, then DONE (8)

    def __init__(self, sim: SimContext, irq: Interrupts | None) -> None:
        self.sim = sim
        self.irq = irq
        self._pending: Event | None = None
        sim.regs.on_write("hbm.train_ctrl", self._written)
        if sim.regmap.find("sysctrl.rst_ctrl") is not None:
            sim.regs.on_write("sysctrl.rst_ctrl", self._reset_written)

    def _reset_written(self, reg: Register, old: int, new: int) -> None:
        fld = reg.field("hbm_rst")
        if fld is not None and fld.extract(new) and not fld.extract(old):
            self.reset()  # asserting the block reset aborts training and clears its state
            self.sim.regs.hw_set("hbm.train_status", done=0, busy=0, fail=0, phase=0)

    def _written(self, reg: Register, old: int, new: int) -> None:
        start = reg.field("start")
        assert start is not None
        if not start.extract(new) or self._pending is not None or _in_reset(self.sim, "hbm"):
            return
        if self.sim.regmap.find("sysctrl.pll_status") and not _field(
                self.sim, "sysctrl.pll_status", "lock"):
            # no core clock: training fails at once; done and the interrupt say so
            self.sim.regs.hw_set("hbm.train_status", done=1, busy=0, fail=1, phase=0)
            if self.irq is not None:
                self.irq.raise_("hbm_train_done")
            return
        self.sim.regs.hw_set("hbm.train_status", done=0, busy=1, fail=0, phase=1)
        self._pending = self.sim.kernel.schedule(HBM_PHASE_CYCLES, lambda: self._advance(1))

    def _advance(self, phase: int) -> None:
        if phase < self.PHASES:
            self.sim.regs.hw_set("hbm.train_status", phase=phase + 1)
            self._pending = self.sim.kernel.schedule(HBM_PHASE_CYCLES,
                                                     lambda: self._advance(phase + 1))
            return
        self._pending = None
        self.sim.regs.hw_set("hbm.train_status", done=1, busy=0, phase=8)
        if self.irq is not None:
            self.irq.raise_("hbm_train_done")

    def reset(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


class PcieLink:
    """Releasing ``pcie_rst`` trains the link through DETECT, POLLING, CONFIG to L0
    (``PCIE_STATE_CYCLES`` each) at x16 and the target speed; raises intc ``pcie_link``."""

    def __init__(self, sim: SimContext, irq: Interrupts | None) -> None:
        self.sim = sim
        self.irq = irq
        self._pending: Event | None = None
        sim.regs.on_write("sysctrl.rst_ctrl", self._reset_written)
        sim.regs.on_write("pcie.link_ctrl", self._ctrl_written)

    def _reset_written(self, reg: Register, old: int, new: int) -> None:
        fld = reg.field("pcie_rst")
        assert fld is not None
        if fld.extract(old) and not fld.extract(new):
            self._train(0)
        elif fld.extract(new) and not fld.extract(old):
            was_up = _field(self.sim, "pcie.link_status", "up")
            self.reset()
            self.sim.regs.hw_set("pcie.link_status", up=0, ltssm=0)
            if was_up and self.irq is not None:
                self.irq.raise_("pcie_link")  # the link went down

    def _ctrl_written(self, reg: Register, old: int, new: int) -> None:
        retrain = reg.field("retrain")
        assert retrain is not None
        if retrain.extract(new) and not _in_reset(self.sim, "pcie"):
            self._train(4)  # RECOVERY, then back through the states to L0

    def _train(self, first_state: int) -> None:
        self.reset()
        self.sim.regs.hw_set("pcie.link_status", up=0, ltssm=first_state)
        self._pending = self.sim.kernel.schedule(PCIE_STATE_CYCLES, lambda: self._advance(1))

    def _advance(self, state: int) -> None:
        if state < 3:
            self.sim.regs.hw_set("pcie.link_status", ltssm=state)
            self._pending = self.sim.kernel.schedule(PCIE_STATE_CYCLES,
                                                     lambda: self._advance(state + 1))
            return
        self._pending = None
        speed = _field(self.sim, "pcie.link_ctrl", "target_speed") or 1
        self.sim.regs.hw_set("pcie.link_status", up=1, ltssm=3, width=16,
                             speed=min(max(speed, 1), 5))
        if self.irq is not None:
            self.irq.raise_("pcie_link")

    def reset(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


class Mailbox:
    """A doorbell write sets the matching sticky ``doorbell_status`` bit and raises intc."""

    def __init__(self, sim: SimContext, irq: Interrupts | None) -> None:
        self.sim = sim
        self.irq = irq
        sim.regs.on_write("mailbox.doorbell", self._rang)

    def _rang(self, reg: Register, old: int, new: int) -> None:
        if not new or _in_reset(self.sim, "mailbox"):
            return
        self.sim.regs.hw_write("mailbox.doorbell_status", new, new)
        if self.irq is not None:
            self.irq.raise_("mailbox")

    def reset(self) -> None:
        pass


class NocCoordinates:
    """Each router's ``coord`` is tied off to its mesh position (row-major, x fastest)."""

    def __init__(self, sim: SimContext) -> None:
        self.sim = sim
        self.reset()

    def reset(self) -> None:
        regs = self.sim.regs
        dim = self.sim.regmap.get("noc.mesh_dim")
        size_x = max(1, dim.layout.reset & 0xFF)
        i = 0
        while True:
            path = f"noc.router[{i}].coord"
            if self.sim.regmap.find(path) is None:
                break
            regs.hw_set(path, x=i % size_x, y=i // size_x)
            i += 1


def attach(sim: SimContext) -> list[Behaviour]:
    """Attach the behaviours whose registers this map has to ``sim`` (``sim.behaviours``,
    ``sim.dma``, ``sim.mesh``); returns the behaviours."""
    rmap = sim.regmap
    out = sim.behaviours
    irq = Interrupts(sim) if _has(rmap, "intc.status", "intc.enable", "intc.pending",
                                  "intc.test_set") else None
    if irq is not None:
        out.append(irq)
    pll = Pll(sim) if _has(rmap, "sysctrl.pll_ctrl", "sysctrl.pll_status") else None
    if pll is not None:
        out.append(pll)
    if _has(rmap, "sysctrl.cycle"):
        out.append(CycleCounter(sim, pll))
    if _has(rmap, "hbm.train_ctrl", "hbm.train_status"):
        out.append(HbmTraining(sim, irq))
    if _has(rmap, "sysctrl.rst_ctrl", "pcie.link_status", "pcie.link_ctrl"):
        out.append(PcieLink(sim, irq))
    if _has(rmap, "mailbox.doorbell", "mailbox.doorbell_status"):
        out.append(Mailbox(sim, irq))
    if _has(rmap, "noc.mesh_dim", "noc.router[0].coord"):
        out.append(NocCoordinates(sim))
    if _has(rmap, "noc.mesh_dim", "noc.router[0].coord", "noc.ctrl"):
        sim.mesh, registers = attach_mesh(sim)
        out.append(registers)  # chip reset empties the mesh
    if _has(rmap, "dma.global_ctrl", "dma.global_status", "dma.ch[0].ctrl"):
        from socdbg.models.dma import DmaEngine

        coarse = sim.options.noc == "coarse"
        sim.dma = DmaEngine(sim, irq=irq, noc=None if coarse else sim.mesh,
                            bytes_per_cycle=sim.options.dma_bw)
        out.append(sim.dma)
    return out


def attach_mesh(sim: SimContext) -> tuple[Mesh, MeshRegisters]:
    """The NoC mesh of the size in ``noc.mesh_dim``, on the sim's clock, its counters behind
    the ``noc.router[i].port[p]`` registers (recomputed when software reads them)."""
    from socdbg.models.noc import Mesh

    dim = sim.regmap.get("noc.mesh_dim")
    size_x = max(1, sim.regs.field(dim.path, "x"))
    size_y = max(1, sim.regs.field(dim.path, "y"))
    routing = "YX" if sim.regs.field("noc.ctrl", "routing") == 1 else "XY"
    opts = sim.options
    mesh = Mesh(size_x, size_y, router_delay=opts.noc_router_delay,
                link_delay=opts.noc_link_delay, buffer_depth=opts.noc_buf, routing=routing,
                events=sim.events, inject_delay=opts.noc_inject_delay,
                eject_delay=opts.noc_eject_delay, vcs=opts.noc_vcs)
    mesh.attach(sim.kernel)
    return mesh, mesh.bind(sim.regs)
