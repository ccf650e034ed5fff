"""The ``source`` and ``run`` commands: scripts (``.sdbg``), one shell command per line.
The file format is socdbg/commands/scriptfile.py, the runner socdbg/commands/scriptrun.py."""

from __future__ import annotations

import click

from socdbg.commands.params import target_files
from socdbg.commands.registry import Effects, Meta, Output, register, session_command
from socdbg.commands.scriptfile import Outcome, nested_path
from socdbg.commands.scriptrun import ScriptRunner, parse_defines, run_script
from socdbg.commands.session import Session


@click.command("source", help="Run a script file in this session, line by line, as if its "
               "lines were typed (checked first, like socdbg run).")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--keep-going", is_flag=True, help="Go on after a failed check.")
@session_command
def source_cmd(session: Session, path: str, keep_going: bool) -> Output:
    script = nested_path(session, path, None)

    def show(outcome: Outcome, output: Output | None) -> None:
        session.presenter.emit(output)
        if not outcome.ok:
            session.presenter.console.print(f"[red]{outcome.where}:[/red] {outcome.message}",
                                            markup=True, highlight=False)

    result = ScriptRunner(session, keep_going=keep_going, show=show).run(script)
    return Output(data={"lines": len(result.outcomes), "checks_passed": result.checks_passed,
                        "failed": len(result.failures)},
                  ok=result.passed, text=f"{script.name}: {result.summary()}")


@click.command("run", help="Run a script (.sdbg) unattended: every line is checked before the "
               "first one runs; prints the failures as FILE:LINE and a summary of the checks. "
               "Fails (exit status 1 on the command line) when a line failed.")
@click.argument("script", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target_opt", metavar="TARGET",
              help="Target to run on (overrides socdbg -t; in the shell, for this script "
                   "only).")
@click.option("--define", "-D", "defines", multiple=True, metavar="NAME=VALUE",
              help="Set a ${NAME} variable (repeatable).")
@click.option("--keep-going", is_flag=True, help="Go on after a failed check.")
@click.option("--dry-run", is_flag=True,
              help="Perform reads, print writes instead of performing them.")
@click.option("--check", is_flag=True,
              help="Replay a recording: go on after mismatches, then list them field by "
                   "field.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report.")
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and the summary.")
@click.option("--compare", nargs=2, metavar="TARGET TARGET", default=None,
              help="Run the script on both targets and report the first register access "
                   "whose result differs, by register and field (e.g. --compare rtl sim).")
@session_command
def run_cmd(session: Session, script: str, target_opt: str | None, defines: tuple[str, ...],
            keep_going: bool, dry_run: bool, check: bool, junit: str | None,
            quiet: bool, compare: tuple[str, str] | None = None) -> Output:
    path = nested_path(session, script, None)
    if compare:
        from socdbg.commands.compare import compare_script

        session.variables.update(parse_defines(defines))
        rc = compare_script(session, str(path), *compare)
        return Output(data={"script": str(path), "same": rc == 0}, ok=rc == 0)
    if target_opt and target_opt != session.target_spec:
        with session.scoped_target(target_opt):
            rc = run_script(session, str(path), defines, keep_going or check, dry_run, check,
                            junit, quiet)
    else:
        rc = run_script(session, str(path), defines, keep_going or check, dry_run, check,
                        junit, quiet)
    return Output(data={"script": str(path), "passed": rc == 0}, ok=rc == 0)


# each line of the script is checked on its own when it runs
register(source_cmd, Meta("checks", reads_files=("path",)))
register(run_cmd, Meta("checks", reads_files=("script",), writes_files=("junit",),
                       decide=lambda p: Effects(controls=bool(p.get("target_opt")),
                                                reads_files=target_files(p.get("target_opt")))))
