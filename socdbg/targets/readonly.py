"""A read-only view of any target: every write is refused before it reaches the backend."""

from __future__ import annotations

from typing import Any

from socdbg.errors import TargetError
from socdbg.targets.base import CAP_WRITE, Target


class ReadOnlyTarget:
    """Wraps a target; reads and everything else pass through, writes raise TargetError."""

    def __init__(self, inner: Target, hint: str) -> None:
        self.inner = inner
        self.hint = hint
        self.spec = inner.spec
        self.capabilities = inner.capabilities - {CAP_WRITE}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read(self, address: int, size: int) -> bytes:
        return self.inner.read(address, size)

    def read_block(self, address: int, size: int) -> bytes:
        return self.inner.read_block(address, size)

    def _refuse(self, address: int, size: int) -> TargetError:
        return TargetError(f"write of {size} byte(s) at {address:#x} refused: "
                           f"{self.spec} is read-only", self.hint)

    def write(self, address: int, data: bytes) -> None:
        raise self._refuse(address, len(data))

    def write_block(self, address: int, data: bytes) -> None:
        raise self._refuse(address, len(data))

    def write_core_register(self, name: str, value: int) -> None:
        raise TargetError(f"write of CPU register {name} refused: {self.spec} is read-only",
                          self.hint)

    def close(self) -> None:
        self.inner.close()
