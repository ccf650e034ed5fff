"""The command registry: every user command is a click command registered here once.

The CLI adds them all to its group (one-shot use), the REPL and the script runner look them up
by name and invoke them with the same session object. A duplicate name fails at import.
A command returns an :class:`Output`: something to render for people and data for ``--json``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from socdbg.commands.session import Session

_REGISTRY: dict[str, click.Command] = {}

F = TypeVar("F", bound=Callable[..., Any])


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


def register(cmd: click.Command) -> click.Command:
    """Add a click command (or group) to the registry; a duplicate name is a bug."""
    assert cmd.name is not None
    if cmd.name in _REGISTRY:
        raise RuntimeError(f"command '{cmd.name}' is registered twice")
    _help_flags(cmd)
    _REGISTRY[cmd.name] = cmd
    return cmd


def _help_flags(cmd: click.Command) -> None:
    """``-h`` as well as ``--help``, in the REPL as on the command line."""
    if cmd.add_help_option:
        cmd.context_settings.setdefault("help_option_names", ["-h", "--help"])
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _help_flags(sub)


#: The order of ``help`` and of docs/commands.md: by module, in this order, then in each
#: module's own order. Independent of which module happened to be imported first.
MODULES = ("core", "regs", "simulation", "views", "noc", "checks", "script", "record",
           "firmware", "cpu", "postmortem", "butr", "api_stubs")


def commands() -> dict[str, click.Command]:
    """Every registered command, by name (imports the command modules on first use)."""
    _load()
    names = list(_REGISTRY)

    def rank(name: str) -> tuple[int, int]:
        module = (_REGISTRY[name].callback.__module__ if _REGISTRY[name].callback else "")
        short = module.rsplit(".", 1)[-1]
        return (MODULES.index(short) if short in MODULES else len(MODULES), names.index(name))

    return {name: _REGISTRY[name] for name in sorted(names, key=rank)}


def get(name: str) -> click.Command | None:
    _load()
    return _REGISTRY.get(name)


def lookup(name: str) -> click.Command | None:
    """The command ``name``, importing command modules (in help order) only until one has
    registered it: a one-shot ``socdbg read`` does not import every command module."""
    import importlib

    for module in MODULES:
        if name in _REGISTRY:
            break
        importlib.import_module(f"socdbg.commands.{module}")
    return _REGISTRY.get(name)


@functools.cache
def _load() -> None:
    # Each module registers its commands at import (the help order is MODULES).
    import importlib

    for module in MODULES:
        importlib.import_module(f"socdbg.commands.{module}")


def session_command(fn: F) -> F:
    """Decorator for a click callback: pass the :class:`Session` first and hand its Output
    back to the caller (click's ``standalone_mode=False`` returns the callback's value)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = click.get_current_context().find_object(_session_type())
        if session is None:  # pragma: no cover - a wiring bug
            raise RuntimeError("command invoked without a session")
        result = fn(session, *args, **kwargs)
        if isinstance(result, Output) and kwargs.get("as_json"):
            result.as_json = True
        return result

    return wrapper  # type: ignore[return-value]


def _session_type() -> type[Session]:
    from socdbg.commands.session import Session

    return Session
