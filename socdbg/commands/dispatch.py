"""Run one command line (as typed in the REPL or read from a script) through the registry."""

from __future__ import annotations

import click

from socdbg.commands import lexer
from socdbg.commands.lexer import Lookup
from socdbg.commands.registry import Output, commands
from socdbg.commands.session import Session
from socdbg.errors import UsageError, did_you_mean

#: click >= 8.2 raises this for a group invoked alone (8.1 prints the help and exits 0).
_NO_ARGS_IS_HELP: type[Exception] = getattr(click.exceptions, "NoArgsIsHelpError",
                                            type("_Never", (Exception,), {}))
#: Words the REPL itself handles.
QUIT_WORDS = ("quit", "exit")


def variables(session: Session) -> Lookup:
    """The lookup of ``${NAME}``: the session's variables (``set NAME VALUE``, ``--define``)."""
    table: dict[str, str] = session.state.get("vars", {})

    def lookup(name: str) -> str:
        if name not in table:
            raise UsageError(f"undefined variable '{name}'",
                             did_you_mean(name, table) or "set NAME VALUE defines one")
        return table[name]

    return lookup


def split_line(line: str, lookup: Lookup | None = None) -> list[str]:
    """The words of a command line (:mod:`socdbg.commands.lexer`: POSIX shell quoting,
    ``#`` comments, ``${NAME}`` variables through ``lookup``)."""
    return lexer.split(line, lookup)


def execute(session: Session, line: str) -> Output | None:
    """Parse and run one command line; returns the command's Output (None for a blank line).

    Raises SocdbgError for every user mistake, including click's usage errors, so callers
    need one ``except``.
    """
    words = split_line(line, variables(session))
    if not words:
        return None
    name, args = words[0], words[1:]
    table = commands()
    cmd = table.get(name)
    if cmd is None:
        raise UsageError(f"unknown command '{name}'",
                         did_you_mean(name, [*table, *QUIT_WORDS]) or "type help")
    try:
        result = cmd.main(args=args, prog_name=name, standalone_mode=False, obj=session)
    except click.exceptions.Exit:
        return None
    except _NO_ARGS_IS_HELP as exc:  # a group alone (record): its usage, as click prints it
        assert isinstance(exc, click.UsageError) and exc.ctx is not None
        return Output(text=exc.ctx.get_help())
    except click.UsageError as exc:
        raise UsageError(f"{name}: {exc.format_message()}",
                         f"help {name} shows the usage") from None
    except click.ClickException as exc:
        raise UsageError(f"{name}: {exc.format_message()}") from None
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None
    output = result if isinstance(result, Output) else None
    recorder = session.state.get("recorder")
    if recorder is not None:
        recorder.record(words, output)
    return output
