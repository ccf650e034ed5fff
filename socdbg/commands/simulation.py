"""Commands for simulated time: ``step`` and ``run --until``."""

from __future__ import annotations

import click

from socdbg.commands.conditions import advance, evaluate, parse_condition, wait_for
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.regmap import parse_int
from socdbg.targets.base import SimTime, has_time

DEFAULT_MAX_CYCLES = 10_000_000


def sim_target(session: Session, command: str) -> SimTime:
    target = session.target
    if not has_time(target) or not isinstance(target, SimTime):
        raise UsageError(f"{command}: target {session.target_spec} has no simulated time",
                         "it works on sim targets")
    return target


def cycles_arg(text: str, what: str = "cycle count") -> int:
    n = parse_int(text)
    if n is None or n < 0:
        raise UsageError(f"'{text}' is not a {what}")
    return n


@click.command("step", help="Advance simulated time by N cycles (default 1).")
@click.argument("cycles", required=False, default="1")
@session_command
def step_cmd(session: Session, cycles: str) -> Output:
    n = cycles_arg(cycles)
    target = sim_target(session, "step")
    advance(target, n, session)
    return Output(data={"cycle": target.now}, text=f"cycle {target.now:,}")


@click.command("run", help="Run simulated time until a condition holds: run --until "
               "'dma.ch[0].status.done == 1' [--max-cycles N]. Fails if it does not hold "
               "within the limit.")
@click.option("--until", "until", required=True, metavar="CONDITION",
              help="PATH[.FIELD] OP VALUE (OP: == != < <= > >=), or PATH & MASK == VALUE.")
@click.option("--max-cycles", default=str(DEFAULT_MAX_CYCLES), show_default=True,
              help="Give up after this many cycles.")
@click.argument("rest", nargs=-1)
@session_command
def run_cmd(session: Session, until: str, max_cycles: str, rest: tuple[str, ...]) -> Output:
    cond = parse_condition(session.map, [until, *rest])
    limit = cycles_arg(max_cycles, "cycle limit")
    target = sim_target(session, "run")
    sim = session.target
    if session.state.get("dry_run"):  # no time passes in a dry run: say what would happen
        held_now, decoded_now = evaluate(sim, cond)
        note = "holds now" if held_now else f"would run: {cond.failure(decoded_now)}"
        return Output(data={"condition": cond.text, "dry_run": True, "held": held_now},
                      text=f"dry-run: run --until {cond.text}: {note}")
    start = target.now
    held = wait_for(sim, cond, limit, session)
    ok, decoded = evaluate(sim, cond)
    elapsed = target.now - start
    data = {"condition": cond.text, "held": held and ok, "cycle": target.now,
            "elapsed": elapsed}
    if held and ok:
        return Output(data=data, text=f"{cond.text} after {elapsed:,} cycles "
                      f"(cycle {target.now:,})")
    return Output(data=data, ok=False,
                  text=f"timeout after {elapsed:,} cycles: {cond.failure(decoded)}")


register(step_cmd, Meta("simulation", time=True))
register(run_cmd, Meta("simulation", time=True))
