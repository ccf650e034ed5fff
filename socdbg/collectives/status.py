"""What a multi-chip system's links and DMA channels are doing, and what a stalled collective
waits on, from registers alone (so it works on a simulator, through ``socdbg serve`` and on a
``dump:`` of a system).

Per chip it reads ``c2c.id`` and ``c2c.topo`` (tied off: which chip, the topology), every link
port's ``status``, ``bw``, ``latency``, ``fault``, ``credits`` and its counters, and every DMA
channel's ``ctrl``, ``status``, ``dst``, ``len`` and ``bytes_done``, and ``c2c.dma_stall``.
Registers whose read has a side effect (``rclr`` counters) are never read.

A channel that reads ``busy`` is waiting. Its destination is the chip its ``dst`` names
(``(i + 1) << 32``; a local address is its own chip), its route the one the system takes
(the topology's shortest path with its tie-break, socdbg.models.system.topology, from the
tied-off ``topo`` register). The verdict names the first cause found, in this order: the
channel is stalled (``dma_stall``); a link on the route is not up at both ends (with its
state and ``fault.down``); a link on the route runs at reduced bandwidth or has CRC errors
(it is slow, not stuck); else the transfer is moving (``bytes_done`` of ``len``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from socdbg.access import read_register
from socdbg.errors import TargetError
from socdbg.regmap import Register, RegMap

if TYPE_CHECKING:
    from socdbg.targets.base import Target

#: A bulk register reader: (target, registers in address order) -> {path: value}.
ReadMany = Callable[["Target", list[Register]], dict[str, int]]

GLOBAL_SHIFT = 32
STATES = ("DOWN", "TRAINING", "UP", "FAILED")
TOPOLOGIES = ("ring", "torus", "mesh", "fc")
PORT_REGS = ("status", "bw", "latency", "fault", "credits", "tx_flits", "rx_flits", "tx_bytes",
             "rx_bytes", "crc_err", "replay")
CHANNEL_REGS = ("ctrl", "status", "dst", "len", "bytes_done")


@dataclass(frozen=True)
class Link:
    """One port of one chip, as its registers read."""

    chip: int
    port: int
    state: str
    connected: bool
    peer_chip: int
    peer_port: int
    bw: int
    latency: int
    down: bool
    bw_pct: int
    crc_every: int
    credits: int
    tx_bytes: int
    rx_bytes: int
    tx_flits: int
    crc_err: int
    replay: int

    @property
    def name(self) -> str:
        return f"chip[{self.chip}].c2c.port[{self.port}]"

    @property
    def faults(self) -> list[str]:
        out = []
        if self.down:
            out.append("down")
        if self.bw_pct:
            out.append(f"bw {self.bw_pct}%")
        if self.crc_every:
            out.append(f"crc every {self.crc_every}")
        return out


@dataclass(frozen=True)
class Channel:
    chip: int
    channel: int
    busy: bool
    done: bool
    err: bool
    err_code: int
    dst: int
    length: int
    bytes_done: int
    reduce: int
    stalled: bool

    @property
    def name(self) -> str:
        return f"chip[{self.chip}].dma.ch[{self.channel}]"

    @property
    def dst_chip(self) -> int:
        return self.chip if self.dst >> GLOBAL_SHIFT == 0 else (self.dst >> GLOBAL_SHIFT) - 1


@dataclass(frozen=True)
class Wait:
    """A busy channel, the links on its way, and why it does not finish."""

    channel: Channel
    route: list[Link]
    cause: str  # stalled | link-down | slow | moving
    reason: str


@dataclass
class SystemView:
    chips: int
    topology: str
    dims: tuple[int, int]
    links: list[Link] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)

    def link(self, chip: int, port: int) -> Link | None:
        for link in self.links:
            if link.chip == chip and link.port == port:
                return link
        return None

    def route(self, src: int, dst: int) -> list[Link]:
        """The links a transfer from ``src`` to ``dst`` crosses (the system's routing)."""
        if src == dst or not (0 <= src < self.chips and 0 <= dst < self.chips):
            return []
        from socdbg.models.options import Topology
        from socdbg.models.system.topology import Wiring

        kind = self.topology if self.topology in TOPOLOGIES else "ring"
        wiring = Wiring(self.chips, Topology(kind, self.dims))  # type: ignore[arg-type]
        try:
            hops = wiring.route(src, dst)
        except (KeyError, AssertionError):  # a mesh's missing edge, a bad tie-off
            return []
        out = []
        for hop in hops:
            link = self.link(hop.chip, hop.port)
            if link is not None:
                out.append(link)
        return out

    def waits(self) -> list[Wait]:
        out = []
        for ch in self.channels:
            if ch.busy:
                out.append(self._verdict(ch))
        return out

    def _verdict(self, ch: Channel) -> Wait:
        route = self.route(ch.chip, ch.dst_chip)
        progress = f"{ch.bytes_done:,} of {ch.length:,} bytes"
        if ch.stalled:
            return Wait(ch, route, "stalled", f"{ch.name} is stalled "
                        f"(chip[{ch.chip}].c2c.dma_stall.ch bit {ch.channel}); {progress}")
        for link in route:
            peer = self.link(link.peer_chip, link.peer_port)
            ends = [e for e in (link, peer) if e is not None and e.state != "UP"]
            if ends or link.down or (peer is not None and peer.down):
                bad = ends[0] if ends else (link if link.down else peer)
                assert bad is not None
                why = f"state {bad.state}" + (", fault.down = 1" if bad.down else "")
                return Wait(ch, route, "link-down",
                            f"{ch.name} -> chip {ch.dst_chip} waits on link {link.name} -> "
                            f"chip {link.peer_chip}: {bad.name} {why}; {progress}")
        for link in route:
            # CRC errors count where the packet arrives, replays where it leaves
            peer = self.link(link.peer_chip, link.peer_port)
            errors = link.crc_err + (peer.crc_err if peer is not None else 0)
            slow = list(link.faults)
            if errors or link.replay:
                slow.append(f"{errors} CRC errors, {link.replay} replays")
            if slow:
                return Wait(ch, route, "slow",
                            f"{ch.name} -> chip {ch.dst_chip} is slowed by link {link.name}: "
                            f"{', '.join(slow)}; {progress}")
        return Wait(ch, route, "moving", f"{ch.name} -> chip {ch.dst_chip} is moving: "
                    f"{progress}")


def _reg(rmap: RegMap, path: str) -> Register:
    reg = rmap.find(path)
    if reg is None:
        raise TargetError(f"this map has no {path}",
                          "a multi-chip system map is needed (sim:chips=N, or a dump of one)")
    return reg


def _fields(reg: Register, value: int) -> dict[str, int]:
    return {f.name: f.extract(value) for f in reg.fields}


def count_chips(rmap: RegMap) -> int:
    n = 0
    while rmap.find(f"chip[{n}].c2c.id") is not None:
        n += 1
    return n


def read_system(target: Target, rmap: RegMap, chips: Sequence[int] | None = None,
                read: ReadMany | None = None) -> SystemView:
    """Read the link and DMA registers of ``chips`` (default: all) into a :class:`SystemView`.
    ``read`` reads many registers at once (block reads where the target coalesces)."""
    total = count_chips(rmap)
    if total == 0:
        _reg(rmap, "chip[0].c2c.id")
    chosen = list(range(total)) if chips is None else list(chips)
    for c in chosen:
        if not 0 <= c < total:
            raise TargetError(f"the system has no chip {c} (chips 0..{total - 1})")
    regs: list[Register] = []
    for c in chosen:
        regs += [_reg(rmap, f"chip[{c}].c2c.{name}") for name in ("id", "topo", "dma_stall")]
        p = 0
        while rmap.find(f"chip[{c}].c2c.port[{p}].status") is not None:
            regs += [_reg(rmap, f"chip[{c}].c2c.port[{p}].{name}") for name in PORT_REGS]
            p += 1
        n = 0
        while rmap.find(f"chip[{c}].dma.ch[{n}].ctrl") is not None:
            regs += [_reg(rmap, f"chip[{c}].dma.ch[{n}].{name}") for name in CHANNEL_REGS]
            n += 1
    safe = [r for r in regs if not r.layout.read_side_effect]
    safe.sort(key=lambda r: r.address)
    values = read(target, safe) if read is not None else {
        r.path: read_register(target, r) for r in safe}
    byreg = {r.path: r for r in safe}

    def get(path: str) -> dict[str, int]:
        reg = byreg.get(path)
        return _fields(reg, values[path]) if reg is not None else {}

    topo = get(f"chip[{chosen[0]}].c2c.topo") if chosen else {}
    kind = topo.get("kind", 0)
    view = SystemView(total, TOPOLOGIES[kind] if kind < len(TOPOLOGIES) else "ring",
                      (topo.get("dim_x", 0), topo.get("dim_y", 0)))
    for c in chosen:
        stall = get(f"chip[{c}].c2c.dma_stall").get("ch", 0)
        p = 0
        while f"chip[{c}].c2c.port[{p}].status" in byreg:
            base = f"chip[{c}].c2c.port[{p}]."
            st, fault = get(base + "status"), get(base + "fault")

            def one(name: str, base: str = base) -> int:
                return values.get(base + name, 0)

            view.links.append(Link(
                c, p, STATES[st.get("state", 0) & 3], bool(st.get("connected", 0)),
                st.get("peer_chip", 0), st.get("peer_port", 0),
                get(base + "bw").get("bytes_per_cycle", 0) or 1,
                get(base + "latency").get("cycles", 0), bool(fault.get("down", 0)),
                fault.get("bw_pct", 0), fault.get("crc_every", 0),
                get(base + "credits").get("avail", 0), one("tx_bytes"), one("rx_bytes"),
                one("tx_flits"), one("crc_err"), one("replay")))
            p += 1
        n = 0
        while f"chip[{c}].dma.ch[{n}].status" in byreg:
            base = f"chip[{c}].dma.ch[{n}]."
            st, ctrl = get(base + "status"), get(base + "ctrl")
            view.channels.append(Channel(
                c, n, bool(st.get("busy", 0)), bool(st.get("done", 0)),
                bool(st.get("err", 0)), st.get("err_code", 0), values.get(base + "dst", 0),
                values.get(base + "len", 0), values.get(base + "bytes_done", 0),
                ctrl.get("reduce", 0), bool(stall >> n & 1)))
            n += 1
    return view
