"""Evaluating register conditions against a target (the language is in regmap.conditions)."""

from __future__ import annotations

from socdbg.access import read_register
from socdbg.regmap import Decoded, decode
from socdbg.regmap.conditions import Condition, parse_condition
from socdbg.targets.base import Target, has_time

__all__ = ["Condition", "evaluate", "parse_condition", "wait_for"]


def evaluate(target: Target, cond: Condition) -> tuple[bool, Decoded]:
    raw = read_register(target, cond.register)
    return cond.holds(raw), decode(cond.register, raw)


def wait_for(target: Target, cond: Condition, max_cycles: int) -> bool:
    """Advance simulated time until ``cond`` holds (at most ``max_cycles``); the simulator
    evaluates the condition itself, locally or behind socdbg serve."""
    assert has_time(target)
    return bool(target.run_until_text(cond.text, max_cycles))  # type: ignore[attr-defined]
