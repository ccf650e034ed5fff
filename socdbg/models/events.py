"""Simulator events, one observer mechanism for all of them.

A :class:`Signal` is a list of subscribers called in subscription order with the event's
arguments. :class:`SimEvents` holds one signal per kind of event the models report:

``reg_write(reg, old, new)``
    every software write to any register, after the register's own hooks (a waveform tracer,
    a recorder);
``dma(entry)``
    every DMA state change, as a :data:`~socdbg.models.dma.TraceEntry`
    ``(cycle, channel, what, value)``;
``noc_depart(router, port, cycles)``
    the cycles, ascending, in which flits leave ``router`` through output ``port``, as soon as
    the mesh knows them: possibly ahead of the kernel's clock, never behind it.

Subscribing costs the models nothing while a signal has no subscribers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, ParamSpec

if TYPE_CHECKING:
    from socdbg.regmap import Register

P = ParamSpec("P")

#: One DMA record: (cycle, channel, what, value); channel -1 is the whole engine.
TraceEntry = tuple[int, int, str, int]


class Signal(Generic[P]):
    """Subscribers of one kind of event."""

    __slots__ = ("subscribers",)

    def __init__(self) -> None:
        #: The subscribers, in order (read it to test for listeners on a hot path).
        self.subscribers: list[Callable[P, None]] = []

    def subscribe(self, subscriber: Callable[P, None]) -> Callable[P, None]:
        """Call ``subscriber`` on every event from now on; returns it (for unsubscribe)."""
        self.subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Callable[P, None]) -> None:
        """Stop calling ``subscriber`` (no error if it was not subscribed)."""
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for subscriber in tuple(self.subscribers):
            subscriber(*args, **kwargs)

    def __bool__(self) -> bool:
        """Whether anyone listens (models skip building an event nobody wants)."""
        return bool(self.subscribers)

    def __len__(self) -> int:
        return len(self.subscribers)


class SimEvents:
    """The signals of one simulator."""

    __slots__ = ("dma", "noc_depart", "reg_write")

    def __init__(self) -> None:
        self.reg_write: Signal[[Register, int, int]] = Signal()
        self.dma: Signal[[TraceEntry]] = Signal()
        self.noc_depart: Signal[[int, int, list[int]]] = Signal()
