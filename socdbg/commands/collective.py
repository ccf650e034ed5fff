"""``collective``: run all-reduce, reduce-scatter, all-gather and all-to-all on a multi-chip
simulator by programming the chips' DMA engines through their registers, and print
nccl-tests' columns; ``collective status`` (or ``why``) says from registers alone which chip,
link and DMA channel a collective is waiting on.

The planning, the runner and the numerical check are socdbg.collectives; the table and the
status text socdbg.render.links.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, UsageError
from socdbg.regmap import parse_int

if TYPE_CHECKING:
    from socdbg.collectives.status import SystemView
    from socdbg.regmap import RegMap

COLLECTIVES = ("allreduce", "reducescatter", "allgather", "alltoall")
HELP = {
    "allreduce": "every chip ends with the element-wise sum of all chips' buffers "
                 "(ring, or rhd: recursive halving and doubling)",
    "reducescatter": "chip r ends with the sum of block r of every chip (ring)",
    "allgather": "every chip ends with block r of chip r, for every r (ring)",
    "alltoall": "block j of chip r goes to block r of chip j (pairwise)",
}


def parse_chips(text: str | None, total: int, least: int = 2) -> list[int]:
    """``0-7``, ``0,2,4-6`` or None (every chip of the system); at least ``least``."""
    if text is None:
        return list(range(total))
    out: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\w+)\s*(?:-\s*(\w+)\s*)?", part)
        lo = parse_int(m.group(1)) if m else None
        hi = parse_int(m.group(2)) if m and m.group(2) else lo
        if lo is None or hi is None or lo > hi:
            raise UsageError(f"--chips: '{part}' is not a chip or a range such as 0-7")
        if hi >= total:
            raise UsageError(f"--chips: the system has chips 0..{total - 1}, not {hi}")
        out += [c for c in range(lo, hi + 1) if c not in out]
    if len(out) < least:
        raise UsageError(f"--chips: at least {least} chips are needed")
    return out


def system_chips(rmap: RegMap) -> int:
    """How many chips the map's multi-chip system has (chip[N].c2c); a usage error on any
    other map, before the target is touched."""
    from socdbg.collectives.status import count_chips

    total = count_chips(rmap)
    if total == 0:
        raise UsageError("this map is not a multi-chip system (no chip[0].c2c)",
                         "open one: sim:chips=8,topology=ring (or, to look, a dump of one)")
    return total


#: The ``--chips`` option of the commands that show the system (status, why, links).
chips_option = click.option("--chips", default=None, metavar="LIST",
                            help="Only these chips (0-7, 0,2,4).")


@click.group("collective", help="Collectives over the chips of a multi-chip simulator, "
             "run by programming their DMA engines through registers and checked against "
             "numpy, reported in nccl-tests' columns (size, count, type, time, algbw, busbw); "
             "collective status shows what a stalled one waits on.")
def collective() -> None:
    pass


def _make(name: str) -> click.Command:
    @collective.command(name, help=f"{name}: {HELP[name]}. One row per size: "
                        "--sizes 1K..1G doubles from 1 KiB to 1 GiB (--step-factor N).")
    @click.option("--chips", default=None, metavar="LIST",
                  help="The chips taking part: 0-7, 0,2,4 (default: every chip).")
    @click.option("--sizes", "-b", default="1M", show_default=True, metavar="SIZES",
                  help="Message sizes in bytes: 4K, 1K..1G, 4K,1M,64M.")
    @click.option("--step-factor", "-f", default=2, show_default=True, type=int,
                  help="A range's multiplier.")
    @click.option("--type", "dtype", type=click.Choice(["fp32", "bf16"]), default="fp32",
                  show_default=True, help="Element type (the DMA's reduce op).")
    @click.option("--algo", default=None, help="Algorithm (allreduce: ring or rhd).")
    @click.option("--channel", default=0, show_default=True, type=int,
                  help="The DMA channel each chip uses.")
    @click.option("--init", "init", is_flag=True,
                  help="Bring the chips up first: DMA and NoC out of reset, DMA enabled, "
                  "every connected link trained.")
    @click.option("--timeout", "max_cycles", default=None, metavar="CYCLES",
                  help="Give up on a step after this many cycles (default: 4 per byte of "
                  "its largest transfer, plus 1,000,000).")
    @click.option("--no-check", "no_check", is_flag=True,
                  help="Skip the comparison with numpy (#wrong shows N/A).")
    @session_command
    def run(session: Session, chips: str | None, sizes: str, step_factor: int, dtype: str,
            algo: str | None, channel: int, init: bool, max_cycles: str | None,
            no_check: bool) -> Output:
        return _run(session, name, chips, sizes, step_factor, dtype, algo, channel, init,
                    max_cycles, no_check)

    return run


def _run(session: Session, name: str, chips_text: str | None, sizes_text: str,
         factor: int, dtype: str, algo: str | None, channel: int, init: bool,
         max_text: str | None, no_check: bool) -> Output:
    from socdbg.collectives import api
    from socdbg.collectives.report import parse_sizes
    from socdbg.render.links import nccl_table

    # everything checked before the first access
    rmap = session.map
    chips = parse_chips(chips_text, system_chips(rmap))
    sizes = parse_sizes(sizes_text, factor)
    if isinstance(sizes, str):
        raise UsageError(f"--sizes: {sizes}")
    max_cycles = None
    if max_text is not None:
        max_cycles = parse_int(max_text)
        if max_cycles is None or max_cycles < 1:
            raise UsageError(f"--timeout '{max_text}' is not a cycle count")
    plans = [api.make_plan(name, len(chips), size, dtype, algo) for size in sizes]
    algorithm = plans[0].algorithm
    if session.dry_run:
        return Output(data={"collective": name, "dry_run": True, "chips": chips,
                            "sizes": [p.nbytes for p in plans]},
                      text=f"dry-run: {name} ({algorithm}) on {len(chips)} chips, "
                      f"{len(plans)} size(s): not run")
    from socdbg.access import require_writes

    target = session.target
    require_writes(target, f"collective {name}")
    runner = api.runner_for(target, rmap, chips, channel)
    for p in plans:
        runner.system.check_fits(p)
    failed = api.bring_up(runner, rmap) if init else []
    rows: list[Any] = []
    error: SocdbgError | None = None
    for p in plans:
        try:
            row, _, _ = api.run_plan(runner, p, dtype, max_cycles=max_cycles,
                                     verify=not no_check)
        except SocdbgError as exc:
            error = exc
            break
        rows.append(row)
    table = nccl_table(name, algorithm, chips, rows, name in ("allreduce", "reducescatter"))
    data: dict[str, Any] = {"collective": name, "algorithm": algorithm, "chips": chips,
                            "type": dtype, "rows": [r.as_dict() for r in rows]}
    notes = [f"links that did not come up: {', '.join(failed)}"] if failed else []
    if error is not None:
        data["error"] = error.message
        notes.append(f"error: {error.message}")
        if error.hint:
            notes.append(f"hint: {error.hint}")
    wrong = sum(r.wrong or 0 for r in rows)
    if wrong:
        notes.append(f"{wrong} elements differ from numpy's result")
    return Output(data=data, ok=error is None and not wrong,
                  text="\n".join([table, *notes]))


for _name in COLLECTIVES:
    _make(_name)


# --------------------------------------------------------------------------------------------
# status
# --------------------------------------------------------------------------------------------
def read_view(session: Session, chips: str | None) -> SystemView:
    """The system's links and channels, read through the session's target (block reads
    where it coalesces)."""
    from socdbg.access import read_values
    from socdbg.collectives.status import read_system

    rmap = session.map
    total = system_chips(rmap)
    chosen = None if chips is None else parse_chips(chips, total, least=1)
    return read_system(session.target, rmap, chosen, read_values)


def _status(session: Session, chips: str | None) -> Output:
    from socdbg.render.links import status_text

    view = read_view(session, chips)
    waits = view.waits()
    data = {"chips": view.chips, "topology": view.topology,
            "waiting": [{"channel": w.channel.name, "dst_chip": w.channel.dst_chip,
                         "cause": w.cause, "reason": w.reason,
                         "route": [link.name for link in w.route],
                         "bytes_done": w.channel.bytes_done, "len": w.channel.length}
                        for w in waits],
            "errors": [ch.name for ch in view.channels if ch.err],
            "links": [{"link": link.name, "state": link.state, "faults": link.faults,
                       "crc_err": link.crc_err} for link in view.links
                      if link.connected and (link.state != "UP" or link.faults
                                             or link.crc_err)]}
    return Output(data=data, text=status_text(view, waits))


@collective.command("status", help="What a collective waits on, from registers only (works "
                    "on a dump: and through socdbg serve): each busy DMA channel, where it "
                    "sends, the links on its route and the first cause found (a stalled "
                    "channel, a link down, a slow link), then every link not healthy.")
@chips_option
@session_command
def status(session: Session, chips: str | None) -> Output:
    return _status(session, chips)


@collective.command("why", help="The same as collective status.")
@chips_option
@session_command
def why(session: Session, chips: str | None) -> Output:
    return _status(session, chips)


_RUNS = Meta("views", json=True, writes=True, time=True, own_dry_run=True)
register(collective, Meta("views",
                          subcommands={**dict.fromkeys(COLLECTIVES, _RUNS),
                                       "status": Meta("views", json=True),
                                       "why": Meta("views", json=True)}))
