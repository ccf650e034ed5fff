"""A dry-run view of a target: reads are performed, writes are reported and not performed."""

from __future__ import annotations

from collections.abc import Callable

from socdbg.targets.base import Target
from socdbg.targets.wrapper import TargetWrapper


class DryRunTarget(TargetWrapper):
    def __init__(self, inner: Target, report: Callable[[int, bytes], None]) -> None:
        super().__init__(inner)
        self.report = report
        self.writes: list[tuple[int, bytes]] = []

    def write(self, address: int, data: bytes) -> None:
        self.writes.append((address, data))
        self.report(address, data)

    def write_block(self, address: int, data: bytes) -> None:
        self.write(address, data)
