"""A target in front of another, forwarding by allow-list.

A wrapper (the read-only view, the dry run, the recorders of the tests and benches) offers the
:class:`~socdbg.targets.base.Target` protocol, plus each operation of :data:`OPERATIONS` that
the inner target has, and nothing else: an attribute of the inner target that is not listed
here is not reachable through a wrapper. A new ability of a backend therefore stays hidden
behind every wrapper until it is listed here with its class (observing or changing state), and
the read-only view and the dry run decide what to do with it.

Each operation goes through one of two hooks, so a subclass decides per class of operation,
not per method: :meth:`TargetWrapper._observe` (reads of memory, registers and state) and
:meth:`TargetWrapper._change` (memory writes, CPU register writes, run control, reset, backdoor
writes, simulated time, monitor commands, breakpoints). The defaults pass the call through.

Optional operations are present on a wrapper exactly when the inner target has them, so
``isinstance(wrapper, RunControl)`` answers as it would for the inner target. A wrapper
instance is of a subclass made for that set of operations (one per wrapper class and set).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar, cast

from socdbg.targets.base import Target

T = TypeVar("T")


@dataclass(frozen=True)
class Operation:
    """One optional operation a wrapper may forward. ``changes``: it changes the target's
    state (or may: a monitor command). ``attribute``: read as an attribute, not called."""

    name: str
    changes: bool
    attribute: bool = False
    what: str = ""  # for messages: "reset", "instruction step"...


#: Every optional operation a wrapper forwards (the Target protocol itself is always there).
OPERATIONS: tuple[Operation, ...] = (
    # bulk reads and transfer sizes (postmortem capture, noc)
    Operation("read_ranges", False),
    Operation("max_read", False, attribute=True),
    Operation("max_write", False, attribute=True),
    # the target's own map (HasMap)
    Operation("regmap", False, attribute=True),
    # simulated time (SimTime)
    Operation("now", False, attribute=True),
    Operation("step", True, what="simulated time step"),
    Operation("run_until_text", True, what="simulated run"),
    # CPU registers (CoreRegisters, CpuDescription)
    Operation("core_register_names", False),
    Operation("read_core_register", False),
    Operation("core_registers", False),
    Operation("target_description", False),
    Operation("write_core_register", True, what="CPU register write"),
    # run control (RunControl)
    Operation("running", False, attribute=True),
    Operation("poll_stop", False),
    Operation("halt", True, what="halt"),
    Operation("resume", True, what="resume"),
    Operation("step_instruction", True, what="instruction step"),
    Operation("breakpoint", True, what="breakpoint"),
    # the stub's monitor: any text, so it may change anything
    Operation("monitor", True, what="monitor command"),
    Operation("reset", True, what="reset"),
    # the simulator's hardware-side write (BUTR arms w1c and rclr fields with it)
    Operation("backdoor_write", True, what="backdoor write"),
    # re-opening the connection changes nothing on the target
    Operation("reconnect", False),
)
BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}

#: The Target protocol's own operations, and whether each changes state.
CORE_OPERATIONS: dict[str, bool] = {"read": False, "read_block": False, "write": True,
                                    "write_block": True}

_MISSING = object()


def behind(target: object, found: Callable[[object], T | None]) -> T | None:
    """The first ``found(t)`` that is not None, for ``target`` and the targets behind it
    (each wrapper's ``inner``: read-only view, dry run, recorders; at most 8 deep)."""
    seen: object = target
    for _ in range(8):
        hit = found(seen)
        if hit is not None:
            return hit
        seen = getattr(seen, "inner", None)
        if seen is None:
            return None
    return None


def has_operation(target: object, name: str) -> bool:
    """Whether ``target`` has ``name``, without evaluating it (a property such as ``now`` of
    a gdb target without simulated time raises when read)."""
    return inspect.getattr_static(target, name, _MISSING) is not _MISSING


def _forwarder(op: Operation) -> type:
    """A one-member mixin that forwards ``op`` through the matching hook."""
    name = op.name
    hook = "_change" if op.changes else "_observe"
    member: Any
    if op.attribute:
        def get(self: TargetWrapper) -> Any:
            return getattr(self, hook)(name, (), lambda: getattr(self.inner, name))

        member = property(get)
    else:
        def call(self: TargetWrapper, *args: Any) -> Any:
            return getattr(self, hook)(name, args, lambda: getattr(self.inner, name)(*args))

        call.__name__ = call.__qualname__ = name
        member = call
    return type(f"_Forward_{name}", (), {name: member, "__slots__": ()})


_MIXINS: dict[str, type] = {op.name: _forwarder(op) for op in OPERATIONS}


class TargetWrapper:
    """Forwards the Target protocol and the inner target's operations from
    :data:`OPERATIONS` through :meth:`_observe` and :meth:`_change`."""

    _classes: ClassVar[dict[tuple[type, tuple[str, ...]], type]] = {}

    def __new__(cls, inner: Target, *args: Any, **kwargs: Any) -> Self:
        names = tuple(op.name for op in OPERATIONS
                      if has_operation(inner, op.name) and not hasattr(cls, op.name))
        klass = TargetWrapper._classes.get((cls, names))
        if klass is None:
            klass = type(cls.__name__, (cls, *(_MIXINS[n] for n in names)),
                         {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
            TargetWrapper._classes[(cls, names)] = klass
        return cast(Self, object.__new__(klass))

    def __init__(self, inner: Target) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.capabilities = inner.capabilities

    # --- hooks ----------------------------------------------------------------------------
    def _observe(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        """A read of memory, registers or state: performed as is unless overridden."""
        return perform()

    def _change(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        """An operation that changes state: performed as is unless overridden."""
        return perform()

    # --- the Target protocol --------------------------------------------------------------
    def read(self, address: int, size: int) -> bytes:
        return self._observe("read", (address, size), lambda: self.inner.read(address, size))

    def write(self, address: int, data: bytes) -> None:
        self._change("write", (address, data), lambda: self.inner.write(address, data))

    def read_block(self, address: int, size: int) -> bytes:
        return self._observe("read_block", (address, size),
                             lambda: self.inner.read_block(address, size))

    def write_block(self, address: int, data: bytes) -> None:
        self._change("write_block", (address, data),
                     lambda: self.inner.write_block(address, data))

    def close(self) -> None:
        self.inner.close()


def describe_operation(op: str, args: tuple[Any, ...]) -> str:
    """``write of 4 byte(s) at 0x40000008``, ``reset``, ``write of CPU register pc``: what an
    operation would do, for refusals and dry-run reports."""
    if op in ("write", "write_block") and len(args) == 2:
        return f"write of {len(args[1])} byte(s) at {args[0]:#x}"
    if op == "write_core_register" and len(args) == 2:
        return f"write of CPU register {args[0]}"
    if op == "backdoor_write" and args:
        return f"backdoor write at {args[0]:#x}"
    if op == "step" and args:
        return f"step of {args[0]:,} simulated cycles"
    if op == "run_until_text" and len(args) == 2:
        return f"simulated run until {args[0]} (at most {args[1]:,} cycles)"
    if op == "monitor" and args:
        return f"monitor command '{args[0]}'"
    found = BY_NAME.get(op)
    return found.what if found is not None and found.what else op
