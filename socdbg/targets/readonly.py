"""A read-only view of any target: reads pass; every operation that changes state is refused
before it reaches the backend.

Refused: memory writes, CPU register writes, halt, resume, instruction steps, breakpoints,
monitor commands (their text may do anything), reset, backdoor writes and simulated time.
What the view forwards at all is the allow-list of socdbg/targets/wrapper.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from socdbg.errors import TargetError
from socdbg.targets.base import CAP_WRITE, Target
from socdbg.targets.wrapper import TargetWrapper, describe_operation

T = TypeVar("T")


class ReadOnlyTarget(TargetWrapper):
    """Reads pass through; every change of state raises TargetError."""

    def __init__(self, inner: Target, hint: str) -> None:
        super().__init__(inner)
        self.hint = hint
        self.capabilities = inner.capabilities - {CAP_WRITE}

    def _change(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        raise TargetError(f"{describe_operation(op, args)} refused: {self.spec} is read-only",
                          self.hint)
