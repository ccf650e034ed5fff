"""The ``socdbg`` command line: argv parsing only. Registry commands become subcommands for
one-shot use (``socdbg -t sim read sysctrl.chip_id``); ``shell`` hands off to the REPL."""

from __future__ import annotations

import sys
from typing import Any

import click

from socdbg import __version__
from socdbg.commands.dispatch import _NO_ARGS_IS_HELP
from socdbg.commands.registry import Meta, Output, cli_commands, commands, lookup, register
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError


class _Group(click.Group):
    """Subcommands come from the registry (loaded on demand), the CLI-only ones included:
    they are registered there too (``Meta(cli_only=True)``), so no name can mean two things."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(cli_commands()) | set(commands()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return cli_commands().get(name) or lookup(name)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from socdbg.errors import UsageError, did_you_mean

            raise UsageError(f"unknown command '{name}'",
                             did_you_mean(name, self.list_commands(ctx)) or "socdbg -h lists "
                             "the commands")
        return super().resolve_command(ctx, args)


class _MapFormatChoice(click.Choice[str]):
    """The --format choices: the map format registry's names, read only when --format is given
    or help is shown (the registry reads entry points)."""

    @property
    def choices(self) -> tuple[str, ...]:
        from socdbg.regmap.formats import names

        return tuple(names())

    @choices.setter
    def choices(self, _: object) -> None:
        pass


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-t", "--target", envvar="SOCDBG_TARGET", metavar="TARGET",
              help="Target string: sim (default), sim:PATH.rdl, sim:mesh=8x8, ...")
@click.option("--map", "map_files", multiple=True, metavar="FILE",
              help="Register map to use instead of the reference SoC: SystemRDL (.rdl), "
                   "CMSIS-SVD (.svd) or IP-XACT (.xml).")
@click.option("--format", "map_format", type=_MapFormatChoice(()),
              help="Format of the --map files; default: from each file's extension (and an "
                   ".xml file's root element).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--allow-writes", is_flag=True,
              help="Open live hardware (mmio, pci, uio targets) read-write; without it they "
                   "are read-only.")
@click.option("--yes", "-y", is_flag=True,
              help="Do not ask before each write to live hardware in the shell.")
@click.option("--force-unsafe", is_flag=True,
              help="Allow writes to registers the map marks unsafe_write without the extra "
                   "confirmation.")
@click.option("--strict", is_flag=True,
              help="Refuse a map with vendor slips socdbg would repair (a field wider than its "
                   "register, bitRange [7:8], ...) instead of loading it with warnings.")
@click.option("--no-pager", is_flag=True,
              help="Never page long output on a terminal (also: SOCDBG_PAGER=off).")
@click.version_option(__version__, prog_name="socdbg")
@click.pass_context
def cli(ctx: click.Context, target: str | None, map_files: tuple[str, ...],
        map_format: str | None, debug: bool, allow_writes: bool, yes: bool,
        force_unsafe: bool, strict: bool, no_pager: bool) -> None:
    """socdbg: a register-level debug shell for SoC bring-up."""
    ctx.obj = Session(target=target, map_files=list(map_files) or None, debug=debug,
                      allow_writes=allow_writes, yes=yes, force_unsafe=force_unsafe,
                      map_format=map_format, pager=not no_pager, strict=strict)
    if ctx.invoked_subcommand not in ("shell", "serve", "run"):
        ctx.obj.one_shot = True  # record start / trace start cannot outlive it
    ctx.call_on_close(ctx.obj.close)


@cli.result_callback()
@click.pass_context
def _emit(ctx: click.Context, /, result: Any, **_: Any) -> None:
    if isinstance(result, Output):
        ctx.obj.presenter.emit(result)
        if not result.ok:
            ctx.exit(1)


@click.command("shell", help="Start the interactive shell.")
@click.pass_obj
def shell_cmd(session: Session) -> None:
    from socdbg.shell.repl import Shell

    raise SystemExit(Shell(session).run())


@click.command("serve", help="Serve the target over the GDB Remote Serial Protocol, for "
             "gdb-multiarch (target remote HOST:PORT) and socdbg (-t gdb://HOST:PORT).")
@click.option("--port", type=click.IntRange(0, 65535), default=3333, show_default=True,
              help="TCP port (0 picks a free one).")
@click.option("--bind", default="127.0.0.1", show_default=True,
              help="Address to listen on (IPv4 or IPv6); loopback unless you say otherwise.")
@click.option("--allow-writes", is_flag=True,
              help="Let clients write memory and registers, reset, run the CPU and advance "
                   "simulated time.")
@click.option("--allow-host-files", is_flag=True,
              help="Let monitor commands read and write files on this host (source, load, "
                   "dump -o, trace start, record start, butr --junit...).")
@click.option("--max-request", type=click.IntRange(1, 1 << 24), default=0x10000,
              show_default=True, metavar="BYTES",
              help="Largest memory read one request may ask for.")
@click.option("--packet-size", type=click.IntRange(0x100, 1 << 20), default=0x4000,
              show_default=True, metavar="BYTES",
              help="Largest packet accepted (offered to clients as PacketSize).")
@click.option("--monitor-timeout", type=click.FloatRange(0, 86400, min_open=True),
              default=30.0, show_default=True, metavar="SECONDS",
              help="Time limit of one monitor command.")
@click.pass_obj
def serve_cmd(session: Session, port: int, bind: str, allow_writes: bool,
              allow_host_files: bool, max_request: int, packet_size: int,
              monitor_timeout: float) -> None:
    from socdbg.server import ServeOptions, serve

    options = ServeOptions(allow_writes=allow_writes, allow_host_files=allow_host_files,
                           max_request=max_request, packet_size=packet_size,
                           monitor_timeout=monitor_timeout)
    serve(session, bind, port, options=options, announce=lambda m: click.echo(m, err=True))


# the command line's own commands: in the registry's one table of names, never in the shell
register(shell_cmd, Meta("session", cli_only=True))
register(serve_cmd, Meta("session", cli_only=True))


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rc = cli.main(args=argv, prog_name="socdbg", standalone_mode=False)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except _NO_ARGS_IS_HELP as exc:  # socdbg or a group alone: usage, no "error:"
        assert isinstance(exc, click.UsageError)
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.UsageError as exc:
        # one line, like every other mistake: "error: peek: Invalid value for ..."
        where = exc.ctx.command_path if exc.ctx is not None else "socdbg"
        report_error(SocdbgError(f"{where}: {exc.format_message()}",
                                 f"{where} -h shows the usage"))
        raise SystemExit(1) from None
    except click.ClickException as exc:
        report_error(SocdbgError(exc.format_message()))
        raise SystemExit(1) from None
    except click.exceptions.Abort as exc:
        stopped = exc.__context__  # a Ctrl-C that says where long work stopped
        click.echo(f"cancelled: {stopped}" if isinstance(stopped, KeyboardInterrupt)
                   and str(stopped) else "aborted", err=True)
        raise SystemExit(130) from None
    except SocdbgError as exc:
        if debug:
            raise
        report_error(exc)
        raise SystemExit(1) from None
    except KeyboardInterrupt as exc:  # a Stopped says where the work stopped
        if str(exc):
            print(f"cancelled: {exc}", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(rc if isinstance(rc, int) else 0)


def report_error(exc: SocdbgError) -> None:
    """One red line on stderr: ``error: message`` and the hint, if any."""
    color = sys.stderr.isatty()
    red, dim, off = ("\033[31m", "\033[2m", "\033[0m") if color else ("", "", "")
    line = f"{red}error:{off} {exc.message}"
    if exc.hint:
        line += f" {dim}({exc.hint}){off}"
    print(line, file=sys.stderr)
