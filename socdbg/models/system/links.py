"""One chip's c2c block (registers/c2c.rdl): its place in the system, link training and
the per-port counters and injected faults.

Writing ``c2c.port[p].ctrl.train`` takes the port through TRAINING (``TRAIN_CYCLES``) to UP
when the package wires it to a neighbour and no fault holds it down, else to FAILED. A link
carries traffic when both of its ends are UP. Faults (:class:`PortFault`) are physical, so
they survive a chip reset and always show in ``c2c.port[p].fault``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from socdbg.models.context import SimContext
from socdbg.models.kernel import Event
from socdbg.models.system.topology import Wiring
from socdbg.regmap import Field, Register

#: Cycles from a train request to UP (or FAILED).
TRAIN_CYCLES = 2000
#: Credits (flits) a trained port advertises.
LINK_CREDITS = 256
STATE_DOWN, STATE_TRAINING, STATE_UP, STATE_FAILED = 0, 1, 2, 3
_KIND = {"ring": 0, "torus": 1, "mesh": 2, "fc": 3}


@dataclass
class PortFault:
    """What is injected on one port: held down, running at ``bw_pct`` percent of its
    bandwidth (0: full), every ``crc_every``-th packet failing its CRC (0: none)."""

    down: bool = False
    bw_pct: int = 0
    crc_every: int = 0


class LinkBlock:
    """The c2c registers of chip ``chip``; ``changed`` is called when a port's state
    changes (the system restarts transfers waiting for a link)."""

    def __init__(self, sim: SimContext, chip: int, wiring: Wiring,
                 changed: Callable[[], None]) -> None:
        self.sim = sim
        self.chip = chip
        self.wiring = wiring
        self.changed = changed
        self.faults = [PortFault() for _ in range(wiring.ports)]
        self.stalled = 0  # bit n: dma.ch[n] stalled
        self._pending: dict[int, Event] = {}
        self.ports = 0
        while sim.regmap.find(f"c2c.port[{self.ports}].ctrl") is not None:
            self.ports += 1
        self._regs = [_PortRegs(sim, p) for p in range(self.ports)]
        for p in range(self.ports):
            sim.regs.on_write(f"c2c.port[{p}].ctrl", self._ctrl_hook(p))
        self._tie_off()

    def _tie_off(self) -> None:
        regs = self.sim.regs
        topo = self.wiring.topology
        regs.hw_set("c2c.id", index=self.chip, count=self.wiring.chips)
        regs.hw_set("c2c.topo", kind=_KIND[topo.kind], dim_x=topo.dims[0], dim_y=topo.dims[1],
                    ports=self.ports)
        regs.hw_set("c2c.dma_stall", ch=self.stalled)
        for p in range(self.ports):
            peer = self.wiring.peer.get((self.chip, p))
            if peer is not None:
                regs.hw_set(f"c2c.port[{p}].status", connected=1, peer_chip=peer[0],
                            peer_port=peer[1])
            self._show_fault(p)

    # --- training ------------------------------------------------------------------------
    def _ctrl_hook(self, port: int) -> Callable[[Register, int, int], None]:
        def written(reg: Register, old: int, new: int) -> None:
            self._ctrl_written(port, new)

        return written

    def _ctrl_written(self, port: int, new: int) -> None:
        if not new & 1:
            return
        old = self._pending.pop(port, None)
        if old is not None:
            old.cancel()
        was_up = self.state(port) == STATE_UP
        self._set_state(port, STATE_TRAINING)
        self._pending[port] = self.sim.kernel.schedule(TRAIN_CYCLES,
                                                       lambda: self._trained(port))
        if was_up:
            self.changed()

    def _trained(self, port: int) -> None:
        self._pending.pop(port, None)
        ok = (self.chip, port) in self.wiring.peer and not self.faults[port].down
        self._set_state(port, STATE_UP if ok else STATE_FAILED)
        self.changed()

    def _set_state(self, port: int, state: int) -> None:
        up = int(state == STATE_UP)
        self.sim.regs.hw_set(f"c2c.port[{port}].status", state=state, up=up)
        self.sim.regs.hw_set(f"c2c.port[{port}].credits", avail=LINK_CREDITS if up else 0)

    def state(self, port: int) -> int:
        r = self._regs[port]
        return r.f_state.extract(self.sim.regs.peek(r.status))

    def up(self, port: int) -> bool:
        return port < self.ports and self.state(port) == STATE_UP

    # --- what transfers see ---------------------------------------------------------------
    def rate(self, port: int) -> int:
        """Bytes per cycle: ``bw`` scaled by an injected ``bw_pct``; at least 1."""
        r = self._regs[port]
        bw = max(1, r.f_bw.extract(self.sim.regs.peek(r.bw)))
        pct = self.faults[port].bw_pct
        return max(1, bw * pct // 100) if pct else bw

    def latency(self, port: int) -> int:
        r = self._regs[port]
        return r.f_latency.extract(self.sim.regs.peek(r.latency))

    def count_tx(self, port: int, nbytes: int, flits: int, replays: int) -> None:
        r = self._regs[port]
        r.add(r.tx_bytes, nbytes)
        r.add(r.tx_flits, flits)
        r.add(r.replay, replays)

    def count_rx(self, port: int, nbytes: int, flits: int, crc_errors: int) -> None:
        r = self._regs[port]
        r.add(r.rx_bytes, nbytes)
        r.add(r.rx_flits, flits)
        r.add(r.crc_err, crc_errors)

    # --- faults ---------------------------------------------------------------------------
    def set_fault(self, port: int, fault: PortFault) -> None:
        """Inject (or clear, with a default PortFault) faults on ``port``. A link held down
        drops at once (state FAILED): traffic over it stalls until it is retrained."""
        self.faults[port] = fault
        self._show_fault(port)
        if fault.down and self.state(port) in (STATE_UP, STATE_TRAINING):
            pending = self._pending.pop(port, None)
            if pending is not None:
                pending.cancel()
            self._set_state(port, STATE_FAILED)
        self.changed()

    def _show_fault(self, port: int) -> None:
        f = self.faults[port]
        self.sim.regs.hw_set(f"c2c.port[{port}].fault", down=int(f.down),
                             bw_pct=min(f.bw_pct, 127), crc_every=min(f.crc_every, 0xFFFF))

    def set_stall(self, channel: int, stalled: bool) -> None:
        bit = 1 << channel
        self.stalled = (self.stalled | bit) if stalled else (self.stalled & ~bit)
        self.sim.regs.hw_set("c2c.dma_stall", ch=self.stalled & 0xFF)
        self.changed()

    def reset(self) -> None:
        for event in self._pending.values():
            event.cancel()
        self._pending.clear()
        self._tie_off()
        self.changed()


class _PortRegs:
    def __init__(self, sim: SimContext, port: int) -> None:
        self.sim = sim
        get = sim.regmap.get
        self.tx_bytes = get(f"c2c.port[{port}].tx_bytes")
        self.rx_bytes = get(f"c2c.port[{port}].rx_bytes")
        self.tx_flits = get(f"c2c.port[{port}].tx_flits")
        self.rx_flits = get(f"c2c.port[{port}].rx_flits")
        self.crc_err = get(f"c2c.port[{port}].crc_err")
        self.replay = get(f"c2c.port[{port}].replay")
        self.status = get(f"c2c.port[{port}].status")
        self.bw = get(f"c2c.port[{port}].bw")
        self.latency = get(f"c2c.port[{port}].latency")
        self.f_state = _field(self.status, "state")
        self.f_bw = _field(self.bw, "bytes_per_cycle")
        self.f_latency = _field(self.latency, "cycles")

    def add(self, reg: Register, n: int) -> None:
        if n:
            mask = (1 << reg.width) - 1
            self.sim.regs.hw_write(reg, (self.sim.regs.peek(reg) + n) & mask)


def _field(reg: Register, name: str) -> Field:
    fld = reg.field(name)
    if fld is None:
        raise KeyError(f"{reg.path}.{name}")
    return fld
