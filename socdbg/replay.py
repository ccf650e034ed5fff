"""``socdbg run``: run a script unattended, report FILE:LINE failures, a summary line, an
optional JUnit report, and (``--check``) the field-level table of recorded-vs-observed
mismatches."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from socdbg.commands.registry import Output
from socdbg.commands.script import Outcome, ScriptError, ScriptRunner, junit_xml
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, UsageError

if TYPE_CHECKING:
    from socdbg.targets.base import Target


def parse_defines(defines: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in defines:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"--define '{item}' is not NAME=VALUE")
        out[name.strip()] = value
    return out


def run_script(session: Session, script: str, defines: tuple[str, ...], keep_going: bool,
               dry_run: bool, check: bool, junit: str | None, quiet: bool) -> int:
    """Run ``script``; returns the exit status (0 passed, 1 failed)."""
    session.variables.update(parse_defines(defines))
    if not dry_run:
        return _run(session, Path(script), keep_going, check, junit, quiet)
    saved = session.target
    was_dry = session.dry_run
    saved_wrap, saved_guard = session.wrap_target, session.command_guard
    try:
        writes = _dry_run(session)
        return _run(session, Path(script), keep_going, check, junit, quiet, writes)
    finally:  # the shell goes on with the real target
        session.use_target(saved)
        session.wrap_target, session.command_guard = saved_wrap, saved_guard
        session.dry_run = was_dry


def _dry_run(session: Session) -> list[str]:
    """Put a dry-run view in front of the session's target (and of every target the script
    opens), and the command-level dry-run policy (from the commands' metadata) in front of
    every line; returns the list the would-be changes are described into (the runner prints
    them in place of the line's output)."""
    writes: list[str] = []
    from socdbg.commands.dispatch import dry_run_guard
    from socdbg.targets.dryrun import DryRunTarget

    def report(address: int, data: bytes) -> None:
        reg = session.map.at(address)
        name = f" ({reg.path})" if reg is not None and reg.address == address else ""
        value = int.from_bytes(data, "little") if len(data) <= 8 else None
        shown = f"{value:#0{len(data) * 2 + 2}x}" if value is not None else \
            f"{len(data)} bytes"
        writes.append(f"dry-run: would write {address:#x}{name} <- {shown}")

    def report_other(text: str) -> None:
        writes.append(f"dry-run: {text}")

    def dry(target: Target) -> Target:
        return DryRunTarget(target, report, report_other)

    session.use_target(dry(session.target))
    session.wrap_target = dry  # and every target a script opens (target, --target)
    session.dry_run = True
    session.command_guard = dry_run_guard(session)
    return writes


def _run(session: Session, path: Path, keep_going: bool, check: bool, junit: str | None,
         quiet: bool, writes: list[str] | None = None) -> int:
    console = session.presenter.console

    def show(outcome: Outcome, output: Output | None) -> None:
        if writes:  # a dry run: the writes the line would do, once, instead of its output
            if not quiet:
                for line in writes:
                    console.print(line, style="yellow", markup=False, highlight=False)
            writes.clear()
        elif not quiet and outcome.ok:
            session.presenter.emit(output)
        if not outcome.ok:
            console.print(f"[bold red]{outcome.where}:[/bold red] {outcome.message}",
                          markup=True, highlight=False)

    runner = ScriptRunner(session, keep_going=keep_going, show=show)
    try:
        result = runner.run(path)
    except ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if junit:
            _write_junit(junit, runner, path, error=str(exc))
        return 1
    except SocdbgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if check:
        _mismatches(session, runner.result.outcomes)
    if junit:
        _write_junit(junit, runner, path)
    tail = " (stopped at the first failure)" if result.stopped else ""
    console.print(f"{path.name}: {result.summary()}{tail}", highlight=False)
    return 0 if result.passed else 1


def _mismatches(session: Session, outcomes: list[Outcome]) -> None:
    from socdbg.render.checks import Mismatch, MismatchTable

    rows = []
    for o in outcomes:
        d = o.data
        if o.ok or not isinstance(d, dict) or "register" not in d or d.get("mask"):
            continue
        rows.append(Mismatch(o.where, d["register"], d.get("field"), d["expected"],
                             d["value"] if d.get("field") is None else _field(session, d)))
    if rows:
        session.presenter.console.print(MismatchTable(session.map, rows))


def _field(session: Session, d: dict[str, object]) -> int:
    reg = session.map.get(str(d["register"]))
    fld = reg.field(str(d["field"]))
    assert fld is not None
    value = d["value"]
    assert isinstance(value, int)
    return fld.extract(value)


def _write_junit(target: str, runner: ScriptRunner, path: Path, error: str | None = None
                 ) -> None:
    import os
    import tempfile

    result = runner.result
    if error is not None:
        result.outcomes.append(Outcome(str(path), "(script)", False, error, error=True))
    data = junit_xml(result, path.name)
    out = Path(target)
    fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, out)
