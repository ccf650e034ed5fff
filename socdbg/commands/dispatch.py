"""Run one command line (as typed in the REPL or read from a script) through the registry."""

from __future__ import annotations

from collections.abc import Callable

import click

from socdbg.commands import lexer
from socdbg.commands.lexer import Lookup
from socdbg.commands.registry import Output, Parsed, commands, parse
from socdbg.commands.session import Session
from socdbg.errors import UsageError, did_you_mean

#: click >= 8.2 raises this for a group invoked alone (8.1 prints the help and exits 0).
_NO_ARGS_IS_HELP: type[Exception] = getattr(click.exceptions, "NoArgsIsHelpError",
                                            type("_Never", (Exception,), {}))
#: Words the REPL itself handles.
QUIT_WORDS = ("quit", "exit")


def variables(session: Session) -> Lookup:
    """The lookup of ``${NAME}``: the session's variables (``set NAME VALUE``, ``--define``)."""
    table = session.variables

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


def execute(session: Session, line: str, stream: bool = False) -> Output | None:
    """Parse and run one command line; returns the command's Output (None for a blank line).

    With ``stream`` (the shell, which shows the output at once), a streamed output (``peek``)
    does its reads while it is shown; otherwise they are done here and ``data`` is complete.

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
        guard = session.command_guard
        replaced = guard(parse(words)) if guard is not None else None
        result = replaced if replaced is not None else cmd.main(
            args=args, prog_name=name, standalone_mode=False, obj=session)
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
    except click.exceptions.Abort as exc:  # click wraps Ctrl-C; keep a Stopped's report
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise exc.__context__ from None
        raise KeyboardInterrupt from None
    output = result if isinstance(result, Output) else None
    recorder = session.recorder
    if output is not None and (recorder is not None or not stream):
        output.settle()  # a streamed output's data is complete only once it has run
    if recorder is not None:
        recorder.record(words, output)
    return output


def dry_run_guard(session: Session) -> Callable[[Parsed], Output | None]:
    """The command-level policy of ``socdbg run --dry-run``: writes go to the dry-run view of
    the target, which reports them; a command that changes the target's state in any other
    way (reset, CPU control, simulated time) is reported and not run."""
    from socdbg.targets.base import has_time

    def guard(parsed: Parsed) -> Output | None:
        if any(m.own_dry_run for m in parsed.metas):
            return None
        eff = parsed.effects
        why = ("changes the target's state" if eff.controls else
               "advances simulated time" if eff.time and has_time(session.target) else None)
        if why is None:
            return None
        return Output(data={"dry_run": True, "skipped": parsed.name},
                      text=f"dry-run: skipped {parsed.name}: it {why}")

    return guard
