"""A recording view of a target, for tests and benchmarks: every call passes through and is
logged, whatever it is.

The log holds one ``(operation, *arguments)`` tuple per call of the Target protocol or of an
operation of the wrapper allow-list (socdbg/targets/wrapper.py): ``("read", 0x40000000, 4)``,
``("write", 0x40000008, b"...")``, ``("reset",)``, ``("write_core_register", "pc", 0x1000)``,
``("step", 100)``. Attribute reads (``regmap``, ``now``, ``running``, ``max_read``) are not
calls and are not logged. A "validation touches nothing" test asserts the whole log is empty,
so a reset or a CPU register write leaks as surely as a memory write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from socdbg.targets.base import Target
from socdbg.targets.wrapper import BY_NAME, CORE_OPERATIONS, TargetWrapper

T = TypeVar("T")
Call = tuple[Any, ...]


def changes_state(call: Call) -> bool:
    """Whether a logged call is one that changes the target's state."""
    op = call[0]
    if op in CORE_OPERATIONS:
        return CORE_OPERATIONS[op]
    found = BY_NAME.get(op)
    return found is None or found.changes  # an unknown name counts as a change


class RecordingTarget(TargetWrapper):
    """Passes every call to ``inner`` and logs it in :attr:`log`."""

    def __init__(self, inner: Target, spec: str | None = None) -> None:
        super().__init__(inner)
        if spec is not None:
            self.spec = spec
        self.log: list[Call] = []

    def _record(self, op: str, args: tuple[Any, ...]) -> None:
        self.log.append((op, *(bytes(a) if isinstance(a, bytearray | memoryview) else a
                               for a in args)))

    def _observe(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        found = BY_NAME.get(op)
        if found is None or not found.attribute:
            self._record(op, args)
        return perform()

    def _change(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        self._record(op, args)
        return perform()

    def take(self) -> list[Call]:
        """The log so far, and a fresh one."""
        log, self.log = self.log, []
        return log

    def changes(self) -> list[Call]:
        """The logged calls that change state."""
        return [c for c in self.log if changes_state(c)]
