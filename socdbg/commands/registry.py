"""The command registry: every user command is a click command registered here once.

The CLI adds them all to its group (one-shot use), the REPL and the script runner look them up
by name and invoke them with the same session object. A duplicate name fails at import.
A command returns an :class:`Output`: something to render for people and data for ``--json``.

Every command also declares :class:`Meta`: its help category, whether it changes the target's
state, which of its parameters name files on the host, and whether it answers ``--json``
(:func:`register` adds that option from the metadata; no command declares it itself).
:func:`parse` turns a command line into click's params and :class:`Effects`; the server's
read-only policy, the dry run's command policy, the help grouping and docs/commands.md derive
from the metadata, never from the raw text of a line.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from socdbg.commands.meta import CATEGORIES as CATEGORIES
from socdbg.commands.meta import Effects as Effects
from socdbg.commands.meta import Meta as Meta
from socdbg.commands.meta import Parsed as Parsed
from socdbg.commands.output import Output as Output

if TYPE_CHECKING:
    from socdbg.commands.session import Session

_REGISTRY: dict[str, click.Command] = {}
_META: dict[str, Meta] = {}

F = TypeVar("F", bound=Callable[..., Any])


def register(cmd: click.Command, meta: Meta) -> click.Command:
    """Add a click command (or group) with its metadata to the registry; a duplicate name,
    an unknown category, or a group subcommand without metadata is a bug."""
    assert cmd.name is not None
    if cmd.name in _REGISTRY:
        raise RuntimeError(f"command '{cmd.name}' is registered twice")
    _check_meta(cmd, meta)
    _help_flags(cmd)
    _json_flags(cmd, meta)
    _REGISTRY[cmd.name] = cmd
    _META[cmd.name] = meta
    return cmd


def _check_meta(cmd: click.Command, meta: Meta) -> None:
    if meta.category not in CATEGORIES:
        raise RuntimeError(f"command '{cmd.name}': unknown category '{meta.category}'")
    names = {p.name for p in cmd.params}
    if "as_json" in names or any("--json" in getattr(p, "opts", ()) for p in cmd.params):
        raise RuntimeError(f"command '{cmd.name}' declares its own --json: say "
                           "Meta(json=True) and register() adds it")
    for pname in (*meta.reads_files, *meta.writes_files):
        if pname not in names:
            raise RuntimeError(f"command '{cmd.name}': metadata names no parameter '{pname}'")
    if isinstance(cmd, click.Group):
        missing = set(cmd.commands) - set(meta.subcommands)
        if missing:
            raise RuntimeError(f"command '{cmd.name}': subcommands without metadata: "
                               f"{', '.join(sorted(missing))}")
        for sub_name, sub in cmd.commands.items():
            _check_meta(sub, meta.subcommands[sub_name])


#: The one ``--json`` option, added by :func:`register` to every command (and subcommand)
#: whose metadata says ``json=True``.
JSON_HELP = "Print machine-readable JSON."


def _json_flags(cmd: click.Command, meta: Meta) -> None:
    if meta.json:
        cmd.params.append(click.Option(["--json", "as_json"], is_flag=True, help=JSON_HELP))
    if isinstance(cmd, click.Group):
        for sub_name, sub in cmd.commands.items():
            _json_flags(sub, meta.subcommands[sub_name])


@contextlib.contextmanager
def scratch() -> Iterator[None]:
    """Commands registered inside the block are dropped at its end, so a test or a doc
    example can register a command without it staying in every later session."""
    _load()
    saved = dict(_REGISTRY), dict(_META)
    try:
        yield
    finally:
        _REGISTRY.clear()
        _REGISTRY.update(saved[0])
        _META.clear()
        _META.update(saved[1])


def metadata(name: str) -> Meta | None:
    """The metadata a command was registered with (None: no such command)."""
    _load()
    return _META.get(name)


def group_rest(ctx: click.Context) -> list[str]:
    """A group's words after its own options: the subcommand's name and arguments. click 8.1
    keeps the name in ``protected_args``, 8.2 to 8.x in ``_protected_args`` (the public name
    is a deprecated property there, so the instance's own attributes are read), click 9 in
    ``args``."""
    own = vars(ctx)
    protected = own.get("_protected_args", own.get("protected_args", ()))
    return [*protected, *ctx.args]


def parse(words: list[str]) -> Parsed:
    """Parse ``words`` (a split command line) with click, as running it would, and work out
    its effects from the metadata. Raises click's usage errors (and ``click.exceptions.Exit``
    for ``--help``, after printing the help); nothing runs."""
    _load()
    name, args = words[0], list(words[1:])
    cmd = _REGISTRY[name]
    meta = _META[name]
    path, params, metas = [name], [], [meta]
    effects = Effects()
    while True:
        with cmd.make_context(path[-1], args, resilient_parsing=False) as ctx:
            values = dict(ctx.params)
            rest = group_rest(ctx) if isinstance(cmd, click.Group) else []
        params.append(values)
        effects = effects | meta.effects(values)
        if not isinstance(cmd, click.Group) or not rest:
            break
        sub = cmd.get_command(ctx, rest[0])
        if sub is None or rest[0] not in meta.subcommands:
            raise click.UsageError(f"No such command '{rest[0]}'.")
        path.append(rest[0])
        cmd, meta, args = sub, meta.subcommands[rest[0]], rest[1:]
        metas.append(meta)
    return Parsed(tuple(path), tuple(params), effects, tuple(metas))


def _help_flags(cmd: click.Command) -> None:
    """``-h`` as well as ``--help``, in the REPL as on the command line."""
    if cmd.add_help_option:
        cmd.context_settings.setdefault("help_option_names", ["-h", "--help"])
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _help_flags(sub)


#: The order of ``help`` and of docs/commands.md: by module, in this order, then in each
#: module's own order. Independent of which module happened to be imported first.
MODULES = ("registers_rw", "memory", "regs", "info", "simulation", "dma", "noc", "tracing",
           "checks", "script", "record", "firmware", "cpu", "postmortem", "butr", "stubs",
           "collective", "multichip", "fleet", "query")

#: The module that registers each command, so a one-shot ``socdbg dump`` imports that module
#: first rather than the ten before it in MODULES. Only a shortcut: a command missing here (or
#: a stale entry) is still found by the scan in MODULES order; tests/test_startup.py checks
#: that the table is exact.
HOMES = {
    "read": "registers_rw", "write": "registers_rw", "peek": "memory", "poke": "memory",
    "find": "regs", "regs": "regs", **dict.fromkeys(("info", "target", "help"), "info"),
    "step": "simulation", "dma": "dma", "noc": "noc", "trace": "tracing",
    **dict.fromkeys(("poll", "expect", "echo", "sleep", "set"), "checks"),
    "source": "script", "run": "script", "record": "record", "load": "firmware",
    "sym": "firmware",
    **dict.fromkeys(("halt", "resume", "stepi", "core", "monitor", "reconnect", "reset"),
                    "cpu"),
    "dump": "postmortem", "diff": "postmortem", "butr": "butr", "stubs": "stubs",
    "collective": "collective", "links": "multichip", "fault": "multichip",
    "fleet": "fleet", "query": "query",
}


def cli_commands() -> dict[str, click.Command]:
    """The commands only the ``socdbg`` command line has (``Meta(cli_only=True)``: ``shell``,
    ``serve``), registered by socdbg.cli in the same table as the rest."""
    return {name: cmd for name, cmd in _REGISTRY.items() if _META[name].cli_only}


def categories() -> dict[str, list[str]]:
    """Command names by help category, in the order of :data:`CATEGORIES` and of
    :func:`commands`; categories without commands are left out."""
    table = commands()
    out: dict[str, list[str]] = {}
    for cat in CATEGORIES:
        names = [n for n in table if _META[n].category == cat]
        if names:
            out[cat] = names
    return out


def commands() -> dict[str, click.Command]:
    """Every registered command, by name (imports the command modules on first use)."""
    _load()
    names = [name for name in _REGISTRY if not _META[name].cli_only]

    def rank(name: str) -> tuple[int, int]:
        module = (_REGISTRY[name].callback.__module__ if _REGISTRY[name].callback else "")
        short = module.rsplit(".", 1)[-1]
        return (MODULES.index(short) if short in MODULES else len(MODULES), names.index(name))

    return {name: _REGISTRY[name] for name in sorted(names, key=rank)}


def get(name: str) -> click.Command | None:
    _load()
    return _visible(name)


def _visible(name: str) -> click.Command | None:
    """``name``'s command unless it belongs to the command line alone."""
    meta = _META.get(name)
    return None if meta is None or meta.cli_only else _REGISTRY[name]


def lookup(name: str) -> click.Command | None:
    """The command ``name``, importing its module (:data:`HOMES`), else command modules in
    help order only until one has registered it: a one-shot ``socdbg dump`` does not import
    every command module."""
    import importlib

    home = HOMES.get(name)
    if home is not None and name not in _REGISTRY:
        importlib.import_module(f"socdbg.commands.{home}")
    for module in MODULES:
        if name in _REGISTRY:
            break
        importlib.import_module(f"socdbg.commands.{module}")
    return _visible(name)


@functools.cache
def _load() -> None:
    # Each module registers its commands at import (the help order is MODULES).
    import importlib

    for module in MODULES:
        importlib.import_module(f"socdbg.commands.{module}")


def session_command(fn: F) -> F:
    """Decorator for a click callback: pass the :class:`Session` first and hand its Output
    back to the caller (click's ``standalone_mode=False`` returns the callback's value).

    The ``--json`` flag :func:`register` adds is handled here: the Output is marked for JSON;
    only a callback with an ``as_json`` parameter (``peek``, which does not stream then) is
    told."""
    import inspect

    wants_json = "as_json" in inspect.signature(fn).parameters

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = click.get_current_context().find_object(_session_type())
        if session is None:  # pragma: no cover - a wiring bug
            raise RuntimeError("command invoked without a session")
        as_json = kwargs.pop("as_json", False) if not wants_json else kwargs.get("as_json")
        result = fn(session, *args, **kwargs)
        if isinstance(result, Output) and as_json:
            result.as_json = True
        return result

    return wrapper  # type: ignore[return-value]


def _session_type() -> type[Session]:
    from socdbg.commands.session import Session

    return Session
