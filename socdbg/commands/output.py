"""What a command returns: :class:`Output`, a leaf module (the session, the registry, the
front ends and every command use it; it imports nothing of socdbg's)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Output:
    """What a command produced: ``render()`` builds a rich renderable (rich is imported only
    then), ``data`` is the plain JSON-able value, ``ok`` False makes scripts and the CLI fail."""

    data: Any = None
    render: Callable[[], Any] | None = None
    ok: bool = True
    text: str | None = None
    as_json: bool = False
    #: lines shown as they are produced (``peek``); iterating again replays them, and the
    #: work done while iterating completes ``data``
    stream: Iterable[str] | None = None

    def settle(self) -> None:
        """Finish a streamed output's work without showing it, so ``data`` is complete."""
        if self.stream is not None:
            for _ in self.stream:
                pass
