"""The pre-run check of a script: every line is parsed by click and checked against the map
and the host's files before the first line touches the bus (:func:`check_meaning`), so a typo
on line 57 stops the run before line 1 runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from socdbg.commands.dispatch import _NO_ARGS_IS_HELP
from socdbg.commands.registry import group_rest
from socdbg.commands.session import Session
from socdbg.errors import UsageError, did_you_mean


def check_readable(path: Path, what: str) -> None:
    """A file a command will open exists and can be read (checked before a script runs)."""
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except FileNotFoundError:
        raise UsageError(f"{what}: no such file {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{what}: {path} is a folder, not a file") from None
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path}: {exc.strerror}") from None


def parse_only(cmd: click.Command, words: list[str]) -> dict[str, Any] | None:
    """Parse a command line with click without running it (usage errors become ours);
    returns the parsed parameters of the command, or of a group's subcommand under the key
    ``"_sub"`` as ``(NAME, PARAMS)`` (None for ``--help``)."""
    try:
        with cmd.make_context(words[0], list(words[1:]), resilient_parsing=False) as ctx:
            rest = group_rest(ctx) if isinstance(cmd, click.Group) else []
            if isinstance(cmd, click.Group) and rest:
                sub = cmd.get_command(ctx, rest[0])
                if sub is None:
                    raise UsageError(f"{words[0]}: no subcommand '{rest[0]}'",
                                     did_you_mean(rest[0], cmd.commands)
                                     or f"help {words[0]} lists them")
                inner = parse_only(sub, rest)
                if inner is None:
                    return None
                return {**ctx.params, "_sub": (rest[0], inner)}
            return dict(ctx.params)
    except click.exceptions.Exit:
        return None
    except _NO_ARGS_IS_HELP:
        names = ", ".join(getattr(cmd, "commands", {}))
        raise UsageError(f"{words[0]}: a subcommand is missing ({names})",
                         f"help {words[0]} shows the usage") from None
    except click.UsageError as exc:
        raise UsageError(f"{words[0]}: {exc.format_message()}",
                         f"help {words[0]} shows the usage") from None


Checker = Callable[[Session, dict[str, Any], Path], None]


def check_meaning(session: Session, name: str, params: dict[str, Any], script: Path) -> None:
    """What can be checked without touching the target: register paths, whole write plans
    (fields, values, enum names, access rights), conditions, numbers, hex bytes and the
    host files a command will read or overwrite. Addresses are not checked here: a script
    may load the firmware that defines their symbols."""
    checker = _CHECKERS.get(name)
    if checker is not None:
        checker(session, params, script)
    sub = params.get("_sub")
    if sub is not None:
        sub_checker = _CHECKERS.get(f"{name} {sub[0]}")
        if sub_checker is not None:
            sub_checker(session, sub[1], script)


def _check_write(session: Session, params: dict[str, Any], script: Path) -> None:
    from socdbg.commands.registers_rw import plan_write

    plan_write(session, params["pattern"], params["values"])


def _check_read(session: Session, params: dict[str, Any], script: Path) -> None:
    session.map.select_with_field(params["pattern"])


def _check_condition(session: Session, params: dict[str, Any], script: Path) -> None:
    from socdbg.commands.checks import expected_bytes, seconds
    from socdbg.commands.conditions import expand_conditions

    words = params.get("condition") or params.get("words") or ()
    if "timeout" in params:
        seconds(params["timeout"], "--timeout")
        seconds(params["interval"], "--interval")
    if words and words[0] == "mem":
        if len(words) < 4 or words[2] != "==":
            raise UsageError("expect mem ADDR == HEXBYTES|FILE",
                             "e.g. expect mem sram+0x100 == 'de ad be ef'")
        expected_bytes(" ".join(words[3:]), script.parent)
    elif words:
        expand_conditions(session.map, words)


def _check_step(session: Session, params: dict[str, Any], script: Path) -> None:
    from socdbg.commands.simulation import check_step

    check_step(session, params["until"], params["max_cycles"], params["words"])


def _check_sleep(session: Session, params: dict[str, Any], script: Path) -> None:
    from socdbg.commands.checks import seconds

    seconds(params["duration"], "sleep")


def _check_load(session: Session, params: dict[str, Any], script: Path) -> None:
    check_readable(Path(params["path"]), "load")


def _check_dump(session: Session, params: dict[str, Any], script: Path) -> None:
    from socdbg.commands.postmortem import check_output

    check_output(session, params.get("output"), params.get("force", False))


def _check_diff(session: Session, params: dict[str, Any], script: Path) -> None:
    for key in ("first", "second"):
        if params.get(key):
            check_readable(Path(params[key]), "diff")


_CHECKERS: dict[str, Checker] = {
    "write": _check_write, "read": _check_read, "poll": _check_condition,
    "expect": _check_condition, "step": _check_step, "sleep": _check_sleep,
    "load": _check_load, "dump": _check_dump, "diff": _check_diff,
}
