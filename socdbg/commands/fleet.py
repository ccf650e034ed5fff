"""``fleet run`` (a script on every target of a targets file, in parallel on Dask), ``fleet
dump`` (a dump of every target) and ``fleet index`` (dumps into one Parquet table for
``query``). docs/fleet.md is the guide; the engine is :mod:`socdbg.fleet`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from socdbg.commands.registry import Effects, Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError

if TYPE_CHECKING:
    from socdbg.fleet.engine import ClusterOptions, Progress, TargetResult
    from socdbg.fleet.targets import FleetTarget

_STYLE = {"passed": "green", "failed": "red", "error": "red", "unreachable": "yellow",
          "cancelled": "yellow"}


def _cluster_options(f: Any) -> Any:
    for option in reversed((
        click.option("--targets", "targets_file", required=True, metavar="FILE",
                     type=click.Path(dir_okay=False),
                     help="The targets: one target string per line, optional NAME and "
                          "LABELS columns (docs/fleet.md)."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="Use this Dask scheduler (tcp://HOST:8786); default: a local "
                          "cluster on this machine."),
        click.option("--workers", type=click.IntRange(1, 256), default=4, show_default=True,
                     help="Worker processes of the local cluster."),
        click.option("--per-host", type=click.IntRange(1, 1024), default=4,
                     show_default=True, help="Targets at once on one host (gdb:// host)."),
        click.option("--timeout", type=click.FloatRange(0.1, 3600), default=10.0,
                     show_default=True, metavar="SECONDS",
                     help="Connect and per-access time limit of a gdb:// target: one that "
                          "does not answer is unreachable."),
    )):
        f = option(f)
    return f


def _load(targets_file: str, timeout: float) -> list[FleetTarget]:
    from dataclasses import replace

    from socdbg.fleet.targets import read_targets, with_timeout

    return [replace(t, spec=with_timeout(t.spec, timeout)) for t in read_targets(targets_file)]


def _options(scheduler: str | None, workers: int, per_host: int, n: int) -> ClusterOptions:
    from socdbg.fleet.engine import ClusterOptions

    return ClusterOptions(scheduler, min(workers, n), per_host)


@click.group("fleet", help="Run a script or take a dump on every target of a list, in "
             "parallel on Dask distributed; index dumps for query (docs/fleet.md).")
def fleet() -> None:
    pass


@fleet.command("run", help="Run SCRIPT on every target of --targets FILE in parallel, as "
               "socdbg run does on one; a summary table (target, result, failing FILE:LINE, "
               "reason, duration). Live targets (gdb://, mmio:) are read-only unless "
               "--allow-writes. Exit status 1 if any target failed or was unreachable.")
@click.argument("script", type=click.Path(dir_okay=False))
@_cluster_options
@click.option("--junit", type=click.Path(dir_okay=False),
              help="Write a JUnit XML report: one test case per target.")
@click.option("--allow-writes", is_flag=True,
              help="Let the script write to live targets (asks once, listing them).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before --allow-writes.")
@session_command
def fleet_run(session: Session, script: str, targets_file: str, scheduler: str | None,
              workers: int, per_host: int, timeout: float, as_json: bool, junit: str | None,
              allow_writes: bool, yes: bool) -> Output:
    from socdbg.commands.fleet_tasks import run_script
    from socdbg.commands.precheck import check_readable

    path = Path(script).resolve()
    check_readable(path, "script")
    targets = _load(targets_file, timeout)
    writes = allow_writes or session.allow_writes
    if writes:
        _confirm(targets, yes or session.yes)
    args = (str(path), writes, session.map_files, dict(session.variables))
    results = _run(session, targets, run_script, args,
                   _options(scheduler, workers, per_host, len(targets)), as_json)
    if junit:
        from socdbg.fleet.report import junit_xml

        _write(Path(junit), junit_xml(results, path.name))
    return _summary(results, path.name)


@fleet.command("dump", help="Take a dump of every target of --targets FILE into DIR, one "
               "file per target named NAME-TIME.json.gz (the target's name made safe for a "
               "file name). Read-to-clear registers are skipped unless "
               "--include-side-effects.")
@_cluster_options
@click.option("-o", "--output", "folder", required=True, metavar="DIR",
              type=click.Path(file_okay=False), help="Folder for the dumps (created).")
@click.option("--include-side-effects", is_flag=True,
              help="Also read registers whose reads change state (ECC counters that clear "
                   "on read, ...).")
@session_command
def fleet_dump(session: Session, targets_file: str, scheduler: str | None, workers: int,
               per_host: int, timeout: float, as_json: bool, folder: str,
               include_side_effects: bool) -> Output:
    from socdbg.commands.fleet_tasks import take_dump

    targets = _load(targets_file, timeout)
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"fleet dump: cannot create {folder}: {exc.strerror or exc}") \
            from None
    args = (str(out.resolve()), include_side_effects, session.map_files)
    results = _run(session, targets, take_dump, args,
                   _options(scheduler, workers, per_host, len(targets)), as_json)
    return _summary(results, "dump")


def _run(session: Session, targets: list[FleetTarget], task: Any, args: tuple[Any, ...],
         options: ClusterOptions, as_json: bool) -> list[TargetResult]:
    from socdbg.fleet.engine import run_fleet

    with _progress(session, len(targets), as_json) as progress:
        return run_fleet(targets, task, args, options, progress)


@contextlib.contextmanager
def _progress(session: Session, total: int, as_json: bool) -> Iterator[Progress | None]:
    """done / failed / running on a terminal (rich, on standard error); nothing elsewhere."""
    if as_json or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    def line(done: Sequence[TargetResult], running: int) -> Text:
        failed = sum(1 for r in done if not r.ok)
        return Text.assemble(("fleet: ", "bold"), f"{len(done)}/{total} done, ",
                             (f"{failed} failed", "red" if failed else ""),
                             f", {running} running")

    with Live(line([], 0), console=Console(stderr=True), transient=True,
              refresh_per_second=8) as live:
        def update(done: list[TargetResult], n: int, running: int) -> None:
            live.update(line(done, running))

        yield update


def _confirm(targets: list[FleetTarget], yes: bool) -> None:
    live = [t for t in targets if t.live]
    if not live or yes:
        return
    listing = "\n".join(f"  {t.name}  {t.spec}" for t in live)
    if not sys.stdin.isatty():
        raise UsageError(f"fleet run --allow-writes: {len(live)} live targets; confirm "
                         "with --yes", "scripts and pipes cannot answer the question")
    click.echo(f"The script may write to these {len(live)} live targets:\n{listing}",
               err=True)
    if not click.confirm("Allow writes to all of them?", default=False, err=True):
        raise UsageError("fleet run: not confirmed: nothing was run")


def _summary(results: list[TargetResult], what: str) -> Output:
    from socdbg.fleet.report import exit_status

    counts = {k: sum(1 for r in results if r.result == k) for k in _STYLE}
    tail = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    title = f"{what}: {len(results)} targets: {tail}"

    def render() -> Any:
        from rich.table import Table

        where = any(r.where for r in results)
        table = Table(title=title, title_justify="left", show_lines=False)
        for col in ("target", "result", *(["where"] if where else []), "reason", "seconds"):
            table.add_column(col, justify="right" if col == "seconds" else "left",
                             overflow="fold")
        for r in results:
            file = Path(str(r.data["file"])).name if "file" in r.data else ""
            table.add_row(r.name, f"[{_STYLE.get(r.result, '')}]{r.result}[/]",
                          *([r.where] if where else []), r.reason or file,
                          f"{r.seconds:.2f}")
        return table

    return Output(data={"targets": [r.to_json() for r in results], "summary": counts},
                  render=render, ok=exit_status(results) == 0)


def _write(path: Path, data: bytes) -> None:
    from socdbg.regmap.cache import write_atomic

    try:
        write_atomic(path, [data])
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


@fleet.command("index", help="Put the dumps in DIR (and its subfolders) into one Parquet "
               "table for query: one row per field and per register. Incremental: only "
               "dumps not indexed yet (or changed) are read.")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
@click.option("-o", "--output", required=True, metavar="FILE.parquet",
              type=click.Path(dir_okay=False), help="The index file (updated in place).")
@session_command
def fleet_index(session: Session, folder: str, output: str, as_json: bool) -> Output:
    from socdbg.fleet.index import update_index

    stats = update_index(Path(folder), Path(output))
    text = (f"{output}: {stats.added} dumps added, {stats.replaced} replaced, "
            f"{stats.unchanged} unchanged, {stats.rejected} refused "
            f"({stats.dumps} dumps, {stats.rows:,} rows)")
    lines = [text, *(f"refused: {why}" for why in stats.problems[:20])]
    return Output(data=stats.to_json(), text="\n".join(lines), ok=not stats.problems)


register(fleet, Meta("postmortem", subcommands={
    "run": Meta("postmortem", json=True, reads_files=("script", "targets_file"),
                writes_files=("junit",),
                decide=lambda p: Effects(writes=bool(p.get("allow_writes")))),
    "dump": Meta("postmortem", json=True, reads_files=("targets_file",), writes_files=("folder",)),
    "index": Meta("postmortem", json=True, reads_files=("folder",), writes_files=("output",)),
}))
