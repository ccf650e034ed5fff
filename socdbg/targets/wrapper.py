"""A target in front of another: every access and attribute passes through to the inner
target unless a subclass overrides it. Read-only views, dry runs and test recorders are
wrappers that override only what they change."""

from __future__ import annotations

from typing import Any

from socdbg.targets.base import Target


class TargetWrapper:
    def __init__(self, inner: Target) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.capabilities = inner.capabilities

    def __getattr__(self, name: str) -> Any:
        # optional abilities (time, CPU, map, max_read...) are the inner target's
        return getattr(self.inner, name)

    def read(self, address: int, size: int) -> bytes:
        return self.inner.read(address, size)

    def write(self, address: int, data: bytes) -> None:
        self.inner.write(address, data)

    def read_block(self, address: int, size: int) -> bytes:
        return self.inner.read_block(address, size)

    def write_block(self, address: int, data: bytes) -> None:
        self.inner.write_block(address, data)

    def close(self) -> None:
        self.inner.close()
