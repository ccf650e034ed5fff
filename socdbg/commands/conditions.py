"""Evaluating register conditions against a target (the language is in regmap.conditions)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from socdbg.access import read_register
from socdbg.regmap import Decoded, RegMap, decode
from socdbg.regmap.conditions import Condition, parse_condition
from socdbg.regmap.regmap import is_glob
from socdbg.render.progress import Stopped, progress
from socdbg.targets.base import SimTime, Target

if TYPE_CHECKING:
    from socdbg.commands.session import Session

__all__ = ["Condition", "advance", "evaluate", "expand_conditions", "parse_condition",
           "wait_for"]

#: Long runs advance in slices of this many cycles, so a terminal shows progress and
#: Ctrl-C lands between slices, where the simulator is consistent and the cycle is known.
SLICE = 100_000
#: Runs shorter than this show no progress bar.
SHOWN = 1_000_000


def expand_conditions(rmap: RegMap, words: Sequence[str]) -> list[Condition]:
    """The conditions of ``PATH OP VALUE``; a glob PATH (``chip[*].c2c.port[*].status.up``)
    gives one condition per register it matches, in address order."""
    joined = " ".join(words)
    m = re.match(r"\s*([^\s&=!<>]+)(.*)", joined, re.S)
    if m is None or not is_glob(m.group(1)):
        return [parse_condition(rmap, joined)]
    regs, fld, _ = rmap.select_with_field(m.group(1))
    tail = f".{fld.name}" if fld is not None else ""
    return [parse_condition(rmap, f"{r.path}{tail}{m.group(2)}") for r in regs]


def evaluate(target: Target, cond: Condition) -> tuple[bool, Decoded]:
    raw = read_register(target, cond.register)
    return cond.holds(raw), decode(cond.register, raw)


def wait_for(target: SimTime, cond: Condition, max_cycles: int,
             session: Session | None = None) -> bool:
    """Advance simulated time until ``cond`` holds (at most ``max_cycles``); the simulator
    evaluates the condition itself, locally or behind socdbg serve. With a ``session``, a
    long run goes in slices with a progress bar on a terminal, and Ctrl-C says where it
    stopped (:class:`Stopped`)."""
    run = target.run_until_text
    if session is None or max_cycles <= SLICE:
        return bool(run(cond.text, max_cycles))
    start = target.now
    try:
        with progress(session.presenter.console, max_cycles, f"until {cond.text}", SHOWN,
                      unit="cycles") as moved:
            done = 0
            while done < max_cycles:
                if run(cond.text, min(SLICE, max_cycles - done)):
                    return True
                step = target.now - start - done
                if step <= 0:
                    return False
                moved(step)
                done += step
    except KeyboardInterrupt:
        raise Stopped(f"stopped at cycle {target.now:,} after {target.now - start:,} of "
                      f"{max_cycles:,} cycles; {cond.text} did not hold yet") from None
    return False


def advance(target: SimTime, cycles: int, session: Session | None = None) -> None:
    """``step`` ``cycles``: in slices with a progress bar on a terminal when long, and
    Ctrl-C saying where it stopped (:class:`Stopped`)."""
    if session is None or cycles <= SLICE:
        target.step(cycles)
        return
    start = target.now
    try:
        with progress(session.presenter.console, cycles, "step", SHOWN, unit="cycles") as moved:
            done = 0
            while done < cycles:
                n = min(SLICE, cycles - done)
                target.step(n)
                moved(n)
                done += n
    except KeyboardInterrupt:
        raise Stopped(f"stopped at cycle {target.now:,} after {target.now - start:,} of "
                      f"{cycles:,} cycles") from None
