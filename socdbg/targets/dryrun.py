"""The dry-run view of ``socdbg run --dry-run``: reads are performed; every operation that
changes state is reported and not performed.

Not performed, only reported: memory writes (``load`` included), CPU register writes (``core pc
...``, ``load --set-pc``), halt, resume, ``stepi``, breakpoints, monitor commands, reset,
backdoor writes and simulated time (``step``, ``sleep``, ``wait``). Each answers as a target
that did nothing would: ``step`` leaves the clock where it is, ``run_until_text`` checks its
condition once, now, without advancing time, ``halt`` and ``stepi`` return a stop that says
nothing happened, ``monitor`` returns no text.

Capabilities: the inner target's, less ``live`` (nothing reaches the hardware, so nobody is
asked), plus ``dry-run``, plus ``live-policy`` for a dry run of a live target: the refusals of
the live write policy (socdbg/safety.py) still apply, so a dry run fails where the real run
would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from socdbg.targets.base import CAP_DRY_RUN, CAP_LIVE, CAP_LIVE_POLICY, Target
from socdbg.targets.wrapper import TargetWrapper, describe_operation

T = TypeVar("T")


@dataclass(frozen=True)
class DryStop:
    """What ``halt`` and ``stepi`` return in a dry run: nothing stopped."""

    text: str = "dry run: the CPU was not touched"


class DryRunTarget(TargetWrapper):
    """``report_write(address, data)`` is told of each memory write, ``report(text)`` of every
    other change; ``changes`` lists them all as ``(operation, *arguments)``."""

    def __init__(self, inner: Target, report_write: Callable[[int, bytes], None],
                 report: Callable[[str], None] | None = None) -> None:
        super().__init__(inner)
        self.report_write = report_write
        self.report = report
        self.writes: list[tuple[int, bytes]] = []
        self.changes: list[tuple[Any, ...]] = []
        caps = inner.capabilities
        policy = {CAP_LIVE_POLICY} if caps & {CAP_LIVE, CAP_LIVE_POLICY} else set()
        self.capabilities = (caps - {CAP_LIVE}) | {CAP_DRY_RUN} | policy

    def _change(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        self.changes.append((op, *args))
        if op in ("write", "write_block"):
            address, data = args
            self.writes.append((address, bytes(data)))
            self.report_write(address, bytes(data))
            return cast(T, None)
        result: Any = None
        note = "not performed"
        if op == "run_until_text":
            # the condition is checked once, now: no time passes
            result = self.inner.run_until_text(args[0], 0)  # type: ignore[attr-defined]
            note = f"not run; the condition {'holds' if result else 'does not hold'} now"
        elif op in ("halt", "step_instruction"):
            result = DryStop()
        elif op == "monitor":
            result = ""
            note = "not sent"
        elif op == "breakpoint":
            result = b""  # "not supported": nothing is planted
        if self.report is not None:
            self.report(f"{describe_operation(op, args)}: {note}")
        return cast(T, result)
