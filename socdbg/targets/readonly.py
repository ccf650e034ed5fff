"""A read-only view of any target: every write is refused before it reaches the backend."""

from __future__ import annotations

from socdbg.errors import TargetError
from socdbg.targets.base import CAP_WRITE, Target
from socdbg.targets.wrapper import TargetWrapper


class ReadOnlyTarget(TargetWrapper):
    """Reads and everything else pass through; writes raise TargetError."""

    def __init__(self, inner: Target, hint: str) -> None:
        super().__init__(inner)
        self.hint = hint
        self.capabilities = inner.capabilities - {CAP_WRITE}

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
