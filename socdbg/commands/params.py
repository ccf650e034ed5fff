"""Parameter types shared by commands. They parse nothing the session must resolve (paths
need the map); they tell the completer what a position holds."""

from __future__ import annotations

import click


class RegisterGlob(click.ParamType):  # type: ignore[type-arg]
    """A register path or glob: ``dma.ch[0].status``, ``dma.ch[*].status``, ``dma``."""

    name = "PATH|GLOB"
    completes = "register"


class RegisterPath(click.ParamType):  # type: ignore[type-arg]
    """One register path, optionally with a field: ``dma.ch[0].status[.done]``."""

    name = "PATH"
    completes = "register"

    def convert(self, value: str, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from socdbg.errors import UsageError
        from socdbg.regmap.regmap import is_glob

        if is_glob(value):
            where = ctx.command_path if ctx is not None else "this command"
            raise UsageError(f"{where}: '{value}' is a glob, and a glob is not allowed here: "
                             "name one register",
                             f"regs list '{value}' lists the registers it matches")
        return value


class Assignment(click.ParamType):  # type: ignore[type-arg]
    """``FIELD=VALUE`` or a whole value."""

    name = "VALUE|FIELD=VALUE"
    completes = "assignment"


class Address(click.ParamType):  # type: ignore[type-arg]
    """An address: an integer in any base, ``&register.path``, or a register path."""

    name = "ADDR"
    completes = "address"


class TargetSpec(click.ParamType):  # type: ignore[type-arg]
    name = "TARGET"
    completes = "target"


class CommandName(click.ParamType):  # type: ignore[type-arg]
    name = "COMMAND"
    completes = "command"


REGISTER_GLOB = RegisterGlob()
REGISTER_PATH = RegisterPath()
ASSIGNMENT = Assignment()
ADDRESS = Address()
TARGET = TargetSpec()
COMMAND = CommandName()

def target_files(spec: str | None) -> tuple[str, ...]:
    """The host files a target string opens, for the commands' metadata: a dump or map file
    (``dump:FILE``, ``sim:MAP.rdl``), a device (``mmio:``, ``pci:``, ``uio:``); none for
    ``sim``, ``sim:mesh=8x8`` or a network target (``gdb://HOST:PORT``)."""
    from socdbg.targets.base import opens_files

    return (spec,) if spec and opens_files(spec) else ()


WIDTH = click.Choice(["8", "16", "32", "64"])
