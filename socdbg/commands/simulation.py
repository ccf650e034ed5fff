"""Simulated time: ``step N`` and ``step --until CONDITION``."""

from __future__ import annotations

from collections.abc import Sequence

import click

from socdbg.commands.conditions import Condition, advance, evaluate, parse_condition, wait_for
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.regmap import parse_int
from socdbg.targets.base import SimTime, has_time

DEFAULT_MAX_CYCLES = 10_000_000


def sim_target(session: Session, command: str) -> SimTime:
    target = session.target
    if has_time(target):
        return target
    raise UsageError(f"{command}: target {session.target_spec} has no simulated time",
                     "it works on sim targets")


def cycles_arg(text: str, what: str = "cycle count") -> int:
    n = parse_int(text)
    if n is None or n < 0:
        raise UsageError(f"'{text}' is not a {what}")
    return n


def count_arg(text: str) -> int:
    """``step N``: a positive number of cycles."""
    n = parse_int(text)
    if n is None:
        raise UsageError(f"step: '{text}' is not a cycle count",
                         "step N advances N cycles; step --until CONDITION waits")
    if n <= 0:
        raise UsageError(f"step: a cycle count must be positive, not {text}",
                         "simulated time only goes forward")
    return n


@click.command("step", help="Advance simulated time: by N cycles (default 1), or until a "
               "condition holds: step --until 'dma.ch[0].status.done == 1' [--max-cycles N] "
               "(fails if it does not hold within the limit).",
               context_settings={"ignore_unknown_options": True})
@click.option("--until", "until", metavar="CONDITION",
              help="PATH[.FIELD] OP VALUE (OP: == != < <= > >=), or PATH & MASK == VALUE. "
                   "Stops at the first cycle where it holds.")
@click.option("--max-cycles", default=str(DEFAULT_MAX_CYCLES), show_default=True, metavar="N",
              help="With --until: give up after this many cycles.")
@click.argument("words", nargs=-1, metavar="N")
@session_command
def step_cmd(session: Session, until: str | None, max_cycles: str,
             words: tuple[str, ...]) -> Output:
    plan = check_step(session, until, max_cycles, words)
    if isinstance(plan, int):
        target = sim_target(session, "step")
        advance(target, plan, session)
        return Output(data={"cycle": target.now}, text=f"cycle {target.now:,}")
    cond, limit = plan
    target = sim_target(session, "step")
    sim = session.target
    if session.dry_run:  # no time passes in a dry run: say what would happen
        held_now, decoded_now = evaluate(sim, cond)
        note = "holds now" if held_now else f"would run: {cond.failure(decoded_now)}"
        return Output(data={"condition": cond.text, "dry_run": True, "held": held_now},
                      text=f"dry-run: step --until {cond.text}: {note}")
    start = target.now
    held = wait_for(target, cond, limit, session)
    ok, decoded = evaluate(sim, cond)
    elapsed = target.now - start
    data = {"condition": cond.text, "held": held and ok, "cycle": target.now,
            "elapsed": elapsed}
    if held and ok:
        return Output(data=data, text=f"{cond.text} after {elapsed:,} cycles "
                      f"(cycle {target.now:,})")
    return Output(data=data, ok=False,
                  text=f"timeout after {elapsed:,} cycles: {cond.failure(decoded)}")


def check_step(session: Session, until: str | None, max_cycles: str,
               words: Sequence[str]) -> int | tuple[Condition, int]:
    """Everything ``step`` can check without the target: a cycle count, or a condition and
    a cycle limit."""
    for word in words:
        if word.startswith("-") and parse_int(word) is None:
            raise UsageError(f"step: no such option: {word}", "help step shows the usage")
    if until is None:
        if len(words) > 1:
            raise UsageError(f"step: one cycle count, not {' '.join(words)}",
                             "step --until CONDITION waits for a condition")
        return count_arg(words[0]) if words else 1
    return parse_condition(session.map, [until, *words]), cycles_arg(max_cycles, "cycle limit")


register(step_cmd, Meta("simulation", time=True))
