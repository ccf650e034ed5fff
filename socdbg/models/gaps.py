"""Quiet gaps between kernel events: when does a register condition start to hold?

``run_until`` jumps from event to event; in between only time-driven registers (a cycle
counter) change. :func:`gap_solver` answers for a condition on one register, from the
register file's slope (socdbg.models.regfile), without stepping cycle by cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from socdbg.regmap import Register

if TYPE_CHECKING:
    from socdbg.models.kernel import GapSolver, Unknown
    from socdbg.regmap.conditions import Condition


class SolvableRegisters(Protocol):
    """What a gap solver reads: the register file (or a system's view of its chips')."""

    def slope(self, reg: Register) -> int | None: ...

    def refresh(self, reg: Register) -> int: ...

    def readable_bits(self, reg: Register) -> int | None: ...


def gap_solver(regs: SolvableRegisters, cond: Condition) -> GapSolver:
    """The first cycle of a quiet gap where ``cond`` holds, computed, not searched: a
    register that holds cannot start to hold; one that counts is solved bit by bit."""
    from socdbg.models.kernel import UNKNOWN
    from socdbg.regmap.conditions import first_count

    reg = cond.register

    def in_gap(start: int, end: int) -> int | Unknown | None:
        slope = regs.slope(reg)
        if slope == 0:
            return None  # the condition was false at start and nothing changes
        bits = cond.bits()
        readable = regs.readable_bits(reg)
        if slope != 1 or bits is None or readable is None:
            return UNKNOWN
        keep, shift = bits
        first = first_count(regs.refresh(reg) + 1, end - start, reg.width,
                            keep & readable, shift, cond.op, cond.value)
        return None if first is None else start + 1 + first

    return in_gap
