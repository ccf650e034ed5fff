"""A small deterministic simulation kernel: a cycle clock and a heap of scheduled events.

Events are ordered by (cycle, priority, sequence number), so two runs of the same program give
the same trace. Per-cycle processes ("tickers") run once every cycle while registered; with
none, ``run_until`` jumps straight from one event to the next.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final


@dataclass(order=True)
class Event:
    time: int
    priority: int
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Kernel:
    def __init__(self) -> None:
        self.now = 0
        self._heap: list[Event] = []
        self._seq = itertools.count()
        self._tickers: dict[int, Callable[[int], None]] = {}
        self._ticker_ids = itertools.count()
        #: True while an event's action runs (models that settle deferred work ask whether
        #: the rest of the current cycle is still to come).
        self.firing = False

    # --- scheduling ----------------------------------------------------------------------
    def schedule(self, delay: int, action: Callable[[], None], priority: int = 0) -> Event:
        """Run ``action`` ``delay`` cycles from now (0 = later in this cycle)."""
        if delay < 0:
            raise ValueError("cannot schedule in the past")
        ev = Event(self.now + delay, priority, next(self._seq), action)
        heapq.heappush(self._heap, ev)
        return ev

    @property
    def ticking(self) -> int:
        """How many per-cycle tickers are attached (0: the kernel jumps from event to event)."""
        return len(self._tickers)

    def add_ticker(self, tick: Callable[[int], None]) -> int:
        """Call ``tick(cycle)`` at the end of every cycle until removed; returns a handle."""
        handle = next(self._ticker_ids)
        self._tickers[handle] = tick
        return handle

    def remove_ticker(self, handle: int) -> None:
        self._tickers.pop(handle, None)

    def peek(self) -> int | None:
        """Cycle of the next pending event, or None."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].time if self._heap else None

    # --- running -------------------------------------------------------------------------
    def _fire_due(self) -> None:
        heap = self._heap
        while heap and heap[0].time <= self.now:
            ev = heapq.heappop(heap)
            if not ev.cancelled:
                self.firing = True
                ev.action()
                self.firing = False

    def step(self, cycles: int = 1) -> None:
        """Advance ``cycles`` cycles, firing every event due on the way."""
        target = self.now + cycles
        self._fire_due()
        while self.now < target:
            if self._tickers:
                self.now += 1
                self._fire_due()
                for tick in list(self._tickers.values()):
                    tick(self.now)
            else:
                nxt = self.peek()
                self.now = target if nxt is None or nxt > target else max(nxt, self.now + 1)
                self._fire_due()

    def run_until(self, condition: Callable[[], bool], max_cycles: int,
                  in_gap: GapSolver | None = None) -> bool:
        """Advance until ``condition()`` holds or ``max_cycles`` pass; returns whether it held.
        It stops at the first cycle where the condition holds, the cycle a cycle-by-cycle
        stepper would stop at.

        With tickers the condition is checked every cycle. Without, time jumps from event to
        event; in a quiet gap between events nothing but time changes, so a condition can
        only change through registers that are functions of time (a cycle counter).
        ``in_gap(start, end)`` (called with ``now == start``) answers for the cycles
        ``start+1..end``: the first where the condition holds, None when it holds in none,
        or :data:`UNKNOWN`; without an answer the gap is checked cycle by cycle.
        """
        limit = self.now + max_cycles
        self._fire_due()
        if condition():
            return True
        while self.now < limit:
            if self._tickers:
                self.step(1)
                if condition():
                    return True
                continue
            nxt = self.peek()
            quiet_end = limit if nxt is None else min(nxt - 1, limit)
            if quiet_end > self.now:
                answer = UNKNOWN if in_gap is None else in_gap(self.now, quiet_end)
                if answer is UNKNOWN:
                    for cycle in range(self.now + 1, quiet_end + 1):
                        self.now = cycle
                        if condition():
                            return True
                elif answer is not None:
                    assert isinstance(answer, int) and self.now < answer <= quiet_end
                    self.now = answer
                    return True
                self.now = quiet_end
            if nxt is None or nxt > limit:
                self.now = limit
                break
            self.now = nxt
            self._fire_due()
            if condition():
                return True
        return condition()


class Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


#: A gap solver's answer when it cannot tell: the kernel checks the gap cycle by cycle.
UNKNOWN: Final = Unknown()
GapSolver = Callable[[int, int], "int | Unknown | None"]
