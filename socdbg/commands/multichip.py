"""The multi-chip system's links and faults.

``links`` shows every chip-to-chip link port from its registers alone (state, bandwidth,
latency, bytes sent, utilisation, CRC errors and replays, injected faults), so it works on a
simulator, through ``socdbg serve`` and on a dump. ``fault`` injects what breaks real
systems into the simulator's model (a link down, a link at reduced bandwidth, CRC errors, a
stalled DMA channel) and lists what is injected; it changes the model's state, so only on a
simulator in this process.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from socdbg.commands.collective import chips_option, read_view
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.regmap import parse_int
from socdbg.targets.base import has_time

if TYPE_CHECKING:
    from socdbg.collectives.status import SystemView

#: How many views of the link counters a session keeps (``links`` rates since the last).
SNAPSHOTS = 16


# --------------------------------------------------------------------------------------------
# links
# --------------------------------------------------------------------------------------------
@click.command("links", help="The chip-to-chip links from their registers: where each port "
               "goes, its state, bandwidth (bytes/cycle) and latency, the bytes it sent, its "
               "utilisation since the last links view (or since the start; simulated "
               "targets), its CRC errors and replays, and the faults injected on it. Works "
               "on a dump.")
@chips_option
@session_command
def links(session: Session, chips: str | None) -> Output:
    from socdbg.render.links import link_table

    view = read_view(session, chips)
    util: dict[tuple[int, int], float] | None = None
    window = "(no simulated time: counts since reset)"
    target = session.target
    if has_time(target):
        now = target.now
        sent = {(link.chip, link.port): link.tx_bytes for link in view.links}
        views: list[tuple[int, dict[tuple[int, int], int]]] = session.link_views
        reset_at = int(getattr(target, "reset_at", 0))
        earlier = [(c, v) for c, v in views if reset_at <= c < now]
        start, base = earlier[-1] if earlier else (reset_at, {})
        cycles = max(now - start, 1)
        util = {key: (n - base.get(key, 0)) / (cycles * link.bw)
                for link in view.links for key, n in [((link.chip, link.port),
                                                       link.tx_bytes)]}
        window = f"over cycles {start:,}..{now:,}"
        views.append((now, sent))
        del views[:-SNAPSHOTS]
    data: dict[str, Any] = {
        "chips": view.chips, "topology": view.topology, "window": window,
        "links": [{"link": link.name, "chip": link.chip, "port": link.port,
                   "peer_chip": link.peer_chip, "peer_port": link.peer_port,
                   "state": link.state, "bw": link.bw, "latency": link.latency,
                   "tx_bytes": link.tx_bytes, "rx_bytes": link.rx_bytes,
                   "crc_err": link.crc_err, "replay": link.replay, "faults": link.faults,
                   "util": None if util is None else util.get((link.chip, link.port))}
                  for link in view.links if link.connected]}
    return Output(data=data, text=link_table(view, util, window))


# --------------------------------------------------------------------------------------------
# fault
# --------------------------------------------------------------------------------------------
def _system(session: Session) -> Any:
    """The model of the session's multi-chip simulator (its fault hooks)."""
    from socdbg.targets.wrapper import behind

    def system_of(t: object) -> Any:
        system = getattr(t, "system", None)
        return system if system is not None and hasattr(system, "link_fault") else None

    found = behind(session.target, system_of)
    if found is not None:
        return found
    raise UsageError(f"fault: target {session.target_spec} is not a multi-chip simulator",
                     "faults are injected into the model: sim:chips=N,topology=...")


def _pair(text: str, what: str, system: Any) -> tuple[int, int]:
    """``3:0`` or ``chip[3].c2c.port[0]`` / ``chip[3].dma.ch[0]``: (chip, index)."""
    m = re.fullmatch(r"\s*(\d+)\s*[:.]\s*(\d+)\s*", text) or re.fullmatch(
        r"\s*chip\[(\d+)\]\.(?:c2c\.port|dma\.ch)\[(\d+)\]\s*", text)
    if m is None:
        raise UsageError(f"fault: '{text}' is not a {what} (CHIP:{what.upper()}, such as 3:0)")
    chip, index = int(m.group(1)), int(m.group(2))
    chips = len(system.chips)
    if chip >= chips:
        raise UsageError(f"fault: the system has chips 0..{chips - 1}, not {chip}")
    limit = system.links[chip].ports if what == "port" else 8
    if index >= limit:
        raise UsageError(f"fault: chip {chip} has {what}s 0..{limit - 1}, not {index}")
    return chip, index


@click.group("fault", invoke_without_command=True,
             help="Inject faults into a multi-chip simulator's model: fault link CHIP:PORT "
             "down | bw PERCENT | crc EVERY | clear; fault dma CHIP:CH stall | clear; "
             "fault clear (all). fault alone lists what is injected (from the c2c.port[p]."
             "fault and c2c.dma_stall registers). A link held down fails training and stops "
             "its traffic; clearing it needs a retrain (c2c.port[p].ctrl.train=1).")
@session_command
def fault(session: Session) -> Output | None:
    if click.get_current_context().invoked_subcommand is not None:
        return None
    return _listing(read_view(session, None))


def _listing(view: SystemView) -> Output:
    rows = [{"link": link.name, "faults": link.faults} for link in view.links if link.faults]
    stalls = [ch.name for ch in view.channels if ch.stalled]
    lines = [f"{r['link']}: {', '.join(r['faults'])}" for r in rows]
    lines += [f"{name}: stalled" for name in stalls]
    return Output(data={"links": rows, "stalled": stalls},
                  text="\n".join(lines) or "no faults injected")


@fault.command("link", help="Fault one link port: down (held down: training fails, traffic "
               "stops), bw PERCENT (runs at that percentage of its bandwidth), crc EVERY "
               "(every n-th packet fails its CRC and is replayed), clear.")
@click.argument("port", metavar="CHIP:PORT")
@click.argument("what", type=click.Choice(["down", "bw", "crc", "clear"]))
@click.argument("value", required=False, metavar="[N]")
@session_command
def fault_link(session: Session, port: str, what: str, value: str | None) -> Output:
    from socdbg.models.system.links import PortFault

    system = _system(session)
    chip, index = _pair(port, "port", system)
    n = None
    if what in ("bw", "crc"):
        n = parse_int(value or "")
        high = 99 if what == "bw" else 0xFFFF
        if n is None or not 1 <= n <= high:
            raise UsageError(f"fault link {port} {what}: '{value or ''}' must be 1..{high}",
                             "bw 25 runs the link at 25%; crc 100 fails every 100th packet")
    elif value is not None:
        raise UsageError(f"fault link {port} {what} takes no value")
    current = system.links[chip].faults[index]
    new = PortFault() if what == "clear" else PortFault(
        down=what == "down" or current.down,
        bw_pct=n if what == "bw" and n is not None else current.bw_pct,
        crc_every=n if what == "crc" and n is not None else current.crc_every)
    system.link_fault(chip, index, new)
    name = f"chip[{chip}].c2c.port[{index}]"
    peer = system.wiring.peer.get((chip, index))
    to = f" (to chip {peer[0]})" if peer else ""
    text = f"{name}{to}: " + ("faults cleared" if what == "clear" else
                              {"down": "held down", "bw": f"at {n}% bandwidth",
                               "crc": f"every {n}th packet fails its CRC"}[what])
    return Output(data={"link": name, "down": new.down, "bw_pct": new.bw_pct,
                        "crc_every": new.crc_every}, text=text)


@fault.command("dma", help="Stall one DMA channel (it stays busy and moves no data), or "
               "clear the stall.")
@click.argument("channel", metavar="CHIP:CH")
@click.argument("what", type=click.Choice(["stall", "clear"]))
@session_command
def fault_dma(session: Session, channel: str, what: str) -> Output:
    system = _system(session)
    chip, index = _pair(channel, "channel", system)
    system.dma_stall(chip, index, what == "stall")
    name = f"chip[{chip}].dma.ch[{index}]"
    return Output(data={"channel": name, "stalled": what == "stall"},
                  text=f"{name}: {'stalled' if what == 'stall' else 'released'}")


@fault.command("clear", help="Clear every injected fault (links held down stay down until "
               "retrained).")
@session_command
def fault_clear(session: Session) -> Output:
    from socdbg.models.system.links import PortFault

    system = _system(session)
    cleared = 0
    for chip, block in enumerate(system.links):
        for port, current in enumerate(block.faults):
            if current != PortFault():
                system.link_fault(chip, port, PortFault())
                cleared += 1
        for channel in range(8):
            if block.stalled >> channel & 1:
                system.dma_stall(chip, channel, False)
                cleared += 1
    return Output(data={"cleared": cleared}, text=f"{cleared} fault(s) cleared")


register(links, Meta("views", json=True))
_CHANGES = Meta("simulation", json=True, controls=True)
register(fault, Meta("simulation", json=True, subcommands={"link": _CHANGES, "dma": _CHANGES,
                                                 "clear": _CHANGES}))
