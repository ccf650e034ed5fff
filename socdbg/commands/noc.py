"""The NoC commands (the simulator's waveform trace is socdbg/commands/tracing.py).

``noc`` draws the mesh as a heat map from register reads alone (``noc.mesh_dim`` and the
``noc.router[i].port[p]`` counters), so it works on the simulator, through ``socdbg serve`` and
on a dump. ``noc traffic`` runs synthetic traffic on a standalone copy of the simulator's mesh.

Links and counters: the link from router ``i`` towards direction ``d`` (N, E, S, W; North is
``y - 1``) carries the flits counted by ``router[i].port[d].flits`` (an output port) and ends in
the input buffer ``port[opposite d]`` of the neighbour, whose ``stalls`` (cycles the flit at its
head was ready and could not leave) and ``buf_occ`` are the link's stalls and occupancy. A
router's LOCAL value is the flits it ejected (LOCAL output), or its injection buffer's stalls or
occupancy (LOCAL input).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeVar

import click

from socdbg.access import read_register, read_values
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import TargetError, UsageError, did_you_mean
from socdbg.regmap import RegMap, parse_int
from socdbg.targets.base import Target, has_time

if TYPE_CHECKING:
    from socdbg.models.noc import Mesh
    from socdbg.models.traffic import Pattern, TrafficStats
    from socdbg.render.noc import NocHeatMap
    from socdbg.targets.sim import SimTarget
    from socdbg.targets.system import SystemTarget

_T = TypeVar("_T")

PORT_NAMES = ("N", "E", "S", "W", "LOCAL")
LOCAL = 4
#: The input port a flit arrives on after leaving through output port ``p``.
OPPOSITE = (2, 3, 0, 1, 4)
COUNTERS = ("flits", "stalls", "buf_occ")
METRICS = {"flits": "flits", "stalls": "stalls", "occupancy": "buf_occ"}
#: Per metric: (unit with simulated time, unit without, what a router's LOCAL value is).
UNITS = {
    "flits": ("flits/cycle", "flits", "flits ejected (LOCAL out)"),
    "stalls": ("stall cycles/cycle", "stall cycles", "stall cycles at injection (LOCAL in)"),
    "occupancy": ("flits", "flits", "flits waiting to be injected (LOCAL in)"),
}
PATTERNS = ("uniform", "transpose", "hotspot")
MAX_BLOCK = 0x1000
MAX_CYCLES = 10_000_000
#: The most chips ``noc --chip`` looks for in a system map.
MAX_CHIPS = 1024


# --------------------------------------------------------------------------------------------
# the mesh's geometry, from the registers
# --------------------------------------------------------------------------------------------
def neighbour(size_x: int, size_y: int, node: int, port: int) -> int | None:
    """The router on the other side of output ``port`` of ``node`` (None at an edge)."""
    x, y = node % size_x, node // size_x
    if port == 0:
        return node - size_x if y > 0 else None
    if port == 1:
        return node + 1 if x < size_x - 1 else None
    if port == 2:
        return node + size_x if y < size_y - 1 else None
    if port == 3:
        return node - 1 if x > 0 else None
    return None


def _has_noc(rmap: RegMap, prefix: str) -> bool:
    return (rmap.find(f"{prefix}noc.mesh_dim") is not None
            and rmap.find(f"{prefix}noc.router[0].port[0].flits") is not None)


def chip_prefix(rmap: RegMap, chip: str | None) -> str:
    """The path prefix of the NoC ``noc`` shows: ``""`` on a chip's map, ``chip[N].`` on a
    multi-chip system's (``--chip N``, default 0), checked against the map's chips."""
    if _has_noc(rmap, ""):
        if chip is not None:
            raise UsageError(f"--chip {chip}: this map is one chip, not a multi-chip system",
                             "leave --chip out; on a socdbg serve of a system, open it with "
                             "--map registers/system.rdl")
        return ""
    if not _has_noc(rmap, "chip[0]."):
        raise UsageError("this map has no NoC (noc.mesh_dim and noc.router[N].port[P])",
                         "the noc command needs the reference SoC's noc block")
    total = 1
    while total < MAX_CHIPS and _has_noc(rmap, f"chip[{total}]."):
        total += 1
    n = 0 if chip is None else parse_int(chip)
    if n is None or not 0 <= n < total:
        near = did_you_mean(chip or "", [str(i) for i in range(total)])
        raise UsageError(f"--chip '{chip}': the system has chips 0..{total - 1}",
                         near or f"e.g. noc --chip {total - 1}")
    return f"chip[{n}]."


def read_mesh_dim(session: Session, prefix: str = "") -> tuple[int, int]:
    """The mesh size the chip reports in ``noc.mesh_dim``, checked against the map."""
    rmap = session.map
    dim = rmap.get(f"{prefix}noc.mesh_dim")
    value = read_register(session.target, dim)
    fx, fy = dim.field("x"), dim.field("y")
    size_x = fx.extract(value) if fx is not None else value & 0xFF
    size_y = fy.extract(value) if fy is not None else (value >> 8) & 0xFF
    last = size_x * size_y - 1
    if size_x < 1 or size_y < 1 \
            or rmap.find(f"{prefix}noc.router[{last}].port[4].buf_occ") is None \
            or rmap.find(f"{prefix}noc.router[{last + 1}].coord") is not None:
        routers = 0
        while rmap.find(f"{prefix}noc.router[{routers}].coord") is not None:
            routers += 1
        raise TargetError(f"{prefix}noc.mesh_dim reads {size_x}x{size_y}, the map has {routers} "
                          "routers", f"use the map built with MESH_X={size_x} MESH_Y={size_y} "
                          f"(sim:mesh={size_x}x{size_y}, or --map with those defines)")
    return size_x, size_y


def _cycles(session: Session) -> int | None:
    target = session.target
    if has_time(target):
        return target.now
    return None


def heat_map(size_x: int, size_y: int, links: dict[tuple[int, str], float],
             local: list[float], **kwargs: Any) -> NocHeatMap:
    from socdbg.render.noc import NocHeatMap

    return NocHeatMap(size_x, size_y, links, local, **kwargs)


# --------------------------------------------------------------------------------------------
# noc
# --------------------------------------------------------------------------------------------
@click.group("noc", invoke_without_command=True,
             help="The NoC mesh as a heat map: routers at even grid positions, the links "
             "between them with their flits (or stalls, or buffer occupancy) in each direction, "
             "coloured by intensity relative to the busiest. Per cycle when the target has "
             "simulated time, raw counts otherwise. Read from the noc registers only, so it "
             "works on a simulator, a GDB stub and a dump.")
@click.option("--metric", type=click.Choice(list(METRICS)), default="flits", show_default=True,
              help="flits: flits out of each port; stalls: stall cycles at the input buffer "
              "the link feeds; occupancy: flits in that buffer now.")
@click.option("--since", "since", default=None, metavar="CYCLE|reset|last",
              help="Rates over the cycles since CYCLE (from the newest view of the counters "
              "at or before it), since the last reset, or since the last noc (default: the "
              "last noc in this session, else the last reset).")
@click.option("--chip", "chip", default=None, metavar="N",
              help="On a multi-chip system: the chip whose NoC to show (default 0).")
@session_command
def noc(session: Session, metric: str, since: str | None, chip: str | None
        ) -> Output | None:
    if click.get_current_context().invoked_subcommand is not None:
        return None
    rmap = session.map
    prefix = chip_prefix(rmap, chip)
    size_x, size_y = read_mesh_dim(session, prefix)
    nodes = size_x * size_y
    regs = sorted((rmap.get(f"{prefix}noc.router[{i}].port[{p}].{kind}")
                   for i in range(nodes) for p in range(5) for kind in COUNTERS),
                  key=lambda r: r.address)
    if since is not None and since not in ("reset", "last") and parse_int(since) is None:
        raise UsageError(f"--since '{since}' is not a cycle, 'reset' or 'last'")
    values = read_values(session.target, regs, MAX_BLOCK)
    cycle = _cycles(session)
    per_cycle = cycle is not None and metric != "occupancy"
    window: dict[str, Any] | None = None
    counts = values
    if cycle is not None and metric != "occupancy":  # occupancy: a level now, no window
        start, base, why = _window(session, values, cycle, since, prefix)
        window = {"from": start, "to": cycle, "cycles": cycle - start, "since": why}
        counts = {k: v - base.get(k, 0) for k, v in values.items()}
        _remember(session, cycle, values)
    scale = 1.0 / max(window["cycles"] if window else 0, 1)
    kind = METRICS[metric]

    def count(node: int, port: int, what: str) -> int:
        return values[f"{prefix}noc.router[{node}].port[{port}].{what}"]

    def in_window(node: int, port: int, what: str) -> int:
        return counts[f"{prefix}noc.router[{node}].port[{port}].{what}"]

    def shown(raw: int) -> float:
        return raw * scale if per_cycle else raw

    routers: list[dict[str, Any]] = []
    local: list[float] = []
    for i in range(nodes):
        ports = {PORT_NAMES[p]: {c: count(i, p, c) for c in COUNTERS} for p in range(5)}
        value = shown(in_window(i, LOCAL, kind))
        routers.append({"router": i, "x": i % size_x, "y": i // size_x, "ports": ports,
                        "local": value})
        local.append(value)
    links: list[dict[str, Any]] = []
    heat: dict[tuple[int, str], float] = {}
    for i in range(nodes):
        for p in range(4):
            j = neighbour(size_x, size_y, i, p)
            if j is None:
                continue
            entry: dict[str, Any] = {
                "from": i, "to": j, "dir": PORT_NAMES[p], "flits": count(i, p, "flits"),
                "stalls": count(j, OPPOSITE[p], "stalls"),
                "buf_occ": count(j, OPPOSITE[p], "buf_occ")}
            entry["value"] = shown(in_window(i, p, kind) if kind == "flits"
                                   else in_window(j, OPPOSITE[p], kind))
            links.append(entry)
            heat[(i, PORT_NAMES[p])] = entry["value"]
    unit = UNITS[metric][0 if per_cycle else 1]
    data = {"mesh": {"x": size_x, "y": size_y}, "metric": metric, "unit": unit,
            **({"chip": int(prefix[5:-2])} if prefix else {}),
            "cycle": cycle, "window": window, "max": max([*heat.values(), *local, 0]),
            "routers": routers, "links": links}

    def render() -> object:
        what = {"flits": "flits", "stalls": "stall cycles", "occupancy": "flits buffered"}[
            metric]
        if metric == "occupancy":
            when = f" at cycle {cycle:,}" if cycle is not None else " when captured"
        elif per_cycle and window is not None:
            when = (f" per cycle over cycles {window['from']:,}..{window['to']:,} "
                    f"({window['cycles']:,}, {window['since']})")
        else:
            when = " since reset (counts: the target has no simulated time)"
        title = f"{prefix}noc {size_x}x{size_y} mesh: {what}{when}" if prefix \
            else f"NoC {size_x}x{size_y} mesh: {what}{when}"
        return heat_map(size_x, size_y, heat, local, title=title, unit=unit,
                        local_label=UNITS[metric][2], integer=not per_cycle)

    return Output(data=data, render=render)


#: How many views of the counters a session keeps for ``noc --since``.
SNAPSHOTS = 64


def _window(session: Session, values: dict[str, int], now: int, since: str | None,
            prefix: str = "") -> tuple[int, dict[str, int], str]:
    """(first cycle, the counters then, why) of the window ``noc`` shows rates over.

    The counters are cleared by a reset, so from the last reset they count from zero; from
    an earlier ``noc`` they count from that view (kept per session), which only holds while
    no reset came in between. On a system, only the views of the same chip count.
    """
    reset_at = _reset_cycle(session)
    same_chip = f"{prefix}noc.router[0].port[0].flits"
    views: list[tuple[int, dict[str, int]]] = [  # an empty window would show nothing
        (c, v) for c, v in session.noc_views if reset_at <= c < now and same_chip in v]
    if since is None:
        since = "last" if views else "reset"
    if since == "last" and views:
        c, v = views[-1]
        return c, v, "since the last noc"
    if since in ("reset", "last"):
        return reset_at, {}, "since reset" if reset_at else "since the simulator started"
    wanted = parse_int(since) or 0
    if wanted > now:
        raise UsageError(f"--since {wanted:,} is in the future (cycle {now:,})")
    earlier = [(c, v) for c, v in views if c <= wanted]
    if earlier and earlier[-1][0] >= reset_at:
        c, v = earlier[-1]
        return c, v, f"since the noc at cycle {c:,}"
    if wanted < reset_at:
        raise UsageError(f"--since {wanted:,} is before the last reset (cycle {reset_at:,}), "
                         "which cleared the counters", f"--since reset counts from {reset_at:,}")
    return reset_at, {}, ("since reset: no view of the counters at cycle "
                          f"{wanted:,} (a noc then keeps one)")


def _reset_cycle(session: Session) -> int:
    sim = local_sim(session.target) or local_system(session.target)
    return int(getattr(sim, "reset_at", 0)) if sim is not None else 0


def _remember(session: Session, cycle: int, values: dict[str, int]) -> None:
    views = session.noc_views
    views.append((cycle, dict(values)))
    del views[:-SNAPSHOTS]


# --------------------------------------------------------------------------------------------
# noc traffic
# --------------------------------------------------------------------------------------------
def _count(text: str, what: str, low: int, high: int = MAX_CYCLES) -> int:
    n = parse_int(text)
    if n is None or not low <= n <= high:
        raise UsageError(f"{what} '{text}' must be an integer {low}..{high:,}")
    return n


def _fraction(text: str, what: str, hint: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise UsageError(f"{what} '{text}' is not in 0..1", hint)
    return value


def _behind(target: Target, kind: type[_T]) -> _T | None:
    """The ``kind`` target behind ``target`` (through wrappers), or None."""
    from socdbg.targets.wrapper import behind

    return behind(target, lambda t: t if isinstance(t, kind) else None)


def local_sim(target: Target) -> SimTarget | None:
    """The SimTarget behind ``target`` (through read-only and dry-run wrappers), or None."""
    from socdbg.targets.sim import SimTarget

    return _behind(target, SimTarget)


def local_system(target: Target) -> SystemTarget | None:
    """The multi-chip SystemTarget behind ``target`` (through wrappers), or None."""
    from socdbg.targets.system import SystemTarget

    return _behind(target, SystemTarget)


def sim_mesh(session: Session, command: str) -> Mesh:
    """The mesh of the session's simulator (a simulator in this process only); on a
    multi-chip system, chip 0's (every chip is built with the same mesh options)."""
    system = local_system(session.target)
    if system is not None and system.chips:
        mesh = system.chips[0].context.mesh
        if mesh is None:
            raise UsageError(f"{command}: the chips of {session.target.spec} have no NoC mesh")
        return mesh
    sim = local_sim(session.target)
    if sim is None:
        raise UsageError(f"{command}: target {session.target.spec} is not a simulator",
                         "it copies the simulator's mesh: use a sim target (sim:mesh=8x8), "
                         f"or 'monitor {command} ...' on a socdbg serve of one")
    mesh = sim.context.mesh
    if mesh is None:
        raise UsageError(f"{command}: the simulator of {sim.regmap.name} has no NoC mesh",
                         "the reference SoC has one (sim, sim:mesh=XxY)")
    return mesh


def traffic_data(stats: TrafficStats, mesh: Mesh, params: dict[str, Any],
                 pattern: Pattern | None = None) -> dict[str, Any]:
    """The JSON of ``noc traffic``: the mesh, the run's parameters, the statistics. ``bound``
    is the pattern's channel-load bound on the mesh's routes (uniform when not given)."""
    from socdbg.models.traffic import Pattern, channel_load_bound

    k = max(mesh.size_x, mesh.size_y)
    bound = channel_load_bound(mesh, pattern or Pattern("uniform"))
    return {
        "pattern": stats.pattern,
        "mesh": {"x": mesh.size_x, "y": mesh.size_y},
        "routing": mesh.routing,
        "buffer_depth": mesh.buffer_depth,
        "router_delay": mesh.router_delay,
        "link_delay": mesh.link_delay,
        "inject_delay": mesh.inject_delay,
        "eject_delay": mesh.eject_delay,
        **params,
        "offered": stats.offered,
        "injected": stats.injected,
        "accepted": stats.accepted,
        "k": k,
        "bound": bound,
        "accepted_pct_of_bound": 100.0 * stats.accepted / bound,
        "latency_mean": stats.latency_mean,
        "latency_p99": stats.latency_p99,
        "latency_max": stats.latency_max,
        "packets": stats.packets,
        "undelivered": stats.undelivered,
        "max_link_util": stats.max_link_util,
        "end_cycle": stats.end_cycle,
        "flit_hops": stats.flit_hops,
        "link_util": [list(row) for row in stats.link_util],
    }


@noc.command("traffic", context_settings={"ignore_unknown_options": True},
             help="Run synthetic traffic on a standalone copy of the simulator's mesh (same "
             "size, delays, buffer depth and routing; the chip's own state is not touched) "
             "and show throughput, latency and link utilisation. PATTERN: uniform, "
             "transpose (square meshes) or hotspot (with --node and --fraction); RATE: offered "
             "flits per node per cycle, 0..1.")
@click.argument("pattern", metavar="PATTERN")
@click.argument("rate", metavar="RATE")
@click.option("--cycles", required=True, metavar="N", help="Cycles measured.")
@click.option("--warmup", default="1000", show_default=True, metavar="W",
              help="Cycles run before measuring (at least 1).")
@click.option("--packet", default="4", show_default=True, metavar="FLITS",
              help="Flits per packet.")
@click.option("--seed", default="0", show_default=True, metavar="S", help="Random seed.")
@click.option("--node", default=None, metavar="N", help="hotspot: the hot node.")
@click.option("--fraction", default=None, metavar="F",
              help="hotspot: the fraction of packets sent to it, 0..1.")
@session_command
def noc_traffic(session: Session, pattern: str, rate: str, cycles: str, warmup: str,
                packet: str, seed: str, node: str | None, fraction: str | None
                ) -> Output:
    from socdbg.models.noc import Mesh
    from socdbg.models.traffic import Pattern, run_traffic

    if pattern not in PATTERNS:
        raise UsageError(f"unknown traffic pattern '{pattern}'",
                         did_you_mean(pattern, PATTERNS) or "patterns: " + ", ".join(PATTERNS))
    offered = _fraction(rate, "rate", "flits per node per cycle")
    n_cycles = _count(cycles, "--cycles", 1)
    n_warmup = _count(warmup, "--warmup", 1)  # run_traffic cannot start measuring at 0
    flits = _count(packet, "--packet", 1, 1024)
    n_seed = _count(seed, "--seed", 0, 2**63)
    hot, frac = 0, 0.0
    if pattern == "hotspot":
        if node is None or fraction is None:
            raise UsageError("hotspot traffic needs --node N and --fraction F",
                             "e.g. noc traffic hotspot 0.1 --cycles 2000 --node 0 "
                             "--fraction 0.2")
        hot = _count(node, "--node", 0, 255)
        frac = _fraction(fraction, "--fraction", "the share of packets sent to --node")
    elif node is not None or fraction is not None:
        raise UsageError("--node and --fraction are for hotspot traffic only")
    chip = sim_mesh(session, "noc traffic")
    mesh = Mesh(chip.size_x, chip.size_y, router_delay=chip.router_delay,
                link_delay=chip.link_delay, buffer_depth=chip.buffer_depth,
                routing=chip.routing, inject_delay=chip.inject_delay,
                eject_delay=chip.eject_delay, vcs=chip.vcs)
    pat = Pattern(pattern, hot, frac)
    try:
        pat.check(mesh)
    except ValueError as exc:
        side = max(mesh.size_x, mesh.size_y)
        hint = f"for example sim:mesh={side}x{side}" if pattern == "transpose" else None
        raise UsageError(f"noc traffic: {exc}", hint) from None
    from socdbg.render.progress import progress

    total = n_warmup + n_cycles
    with progress(session.presenter.console, total, "noc traffic", 20_000, "cycles") as moved:
        shown = [0]

        def on_cycle(ran: int) -> None:
            ran = min(ran, total)
            moved(ran - shown[0])
            shown[0] = ran

        stats = run_traffic(mesh, pat, offered, cycles=n_cycles, warmup=n_warmup,
                            packet_flits=flits, seed=n_seed, on_cycle=on_cycle)
    params: dict[str, Any] = {"packet_flits": flits, "seed": n_seed, "warmup": n_warmup,
                              "cycles": n_cycles}
    if pattern == "hotspot":
        params |= {"node": hot, "fraction": frac}
    data = traffic_data(stats, mesh, params, pat)

    def render() -> object:
        from socdbg.render.noc import TrafficReport

        links = {(i, PORT_NAMES[p]): stats.link_util[i][p]
                 for i in range(mesh.nodes) for p in range(4)
                 if mesh.neighbour(i, p) is not None}
        local = [stats.link_util[i][LOCAL] for i in range(mesh.nodes)]
        heat = heat_map(mesh.size_x, mesh.size_y, links, local,
                        title="link utilisation in the measured window, flits/cycle",
                        unit="flits/cycle", local_label="flits ejected (LOCAL out)",
                        integer=False)
        return TrafficReport(data, heat)

    return Output(data=data, render=render)


# noc traffic runs on a standalone copy of the mesh: the chip's state is not touched
register(noc, Meta("views", json=True, subcommands={"traffic": Meta("views", json=True)}))
