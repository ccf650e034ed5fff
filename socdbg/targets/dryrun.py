"""A dry-run view of a target: reads are performed, writes are reported and not performed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from socdbg.targets.base import Target


class DryRunTarget:
    def __init__(self, inner: Target, report: Callable[[int, bytes], None]) -> None:
        self.inner = inner
        self.report = report
        self.spec = inner.spec
        self.capabilities = inner.capabilities
        self.writes: list[tuple[int, bytes]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read(self, address: int, size: int) -> bytes:
        return self.inner.read(address, size)

    def read_block(self, address: int, size: int) -> bytes:
        return self.inner.read_block(address, size)

    def write(self, address: int, data: bytes) -> None:
        self.writes.append((address, data))
        self.report(address, data)

    def write_block(self, address: int, data: bytes) -> None:
        self.writes.append((address, data))
        self.report(address, data)

    def close(self) -> None:
        self.inner.close()
