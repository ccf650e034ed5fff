"""The script runner: :class:`ScriptRunner` runs a script's lines in a session after the
pre-run check (socdbg/commands/precheck.py) of the file and of every file it sources; and
``socdbg run`` (:func:`run_script`): unattended, with FILE:LINE failures, a summary line, an
optional JUnit report, a dry run, and (``--check``) the field-level table of
recorded-vs-observed mismatches."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from socdbg.commands.dispatch import execute, split_line, variables
from socdbg.commands.lexer import Deferred
from socdbg.commands.output import Output
from socdbg.commands.precheck import check_meaning, check_readable, parse_only
from socdbg.commands.registry import commands
from socdbg.commands.scriptfile import (
    MAX_DEPTH,
    NESTING,
    Outcome,
    RunResult,
    ScriptError,
    ScriptLine,
    check_nesting,
    enter_script,
    is_check,
    junit_xml,
    nested_path,
    read_script,
    script_stack,
)
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError, UsageError, did_you_mean

if TYPE_CHECKING:
    from socdbg.targets.base import Target


class ScriptRunner:
    def __init__(self, session: Session, keep_going: bool = False, quiet: bool = False,
                 show: Callable[[Outcome, Output | None], None] | None = None) -> None:
        self.session = session
        self.keep_going = keep_going
        self.quiet = quiet
        self.show = show
        self.result = RunResult()
        self._heights: dict[Path, int] = {}
        #: variables the pre-run check knows: their value, or None when it depends on
        #: something only the run knows
        self._known: dict[str, str | None] = {}
        self._known_from_session = False

    def run(self, path: Path) -> RunResult:
        self._run_file(path, None)
        return self.result

    # --- one file ----------------------------------------------------------------------
    def _run_file(self, path: Path, caller: ScriptLine | None) -> bool:
        where = caller.where if caller else str(path)
        stack = script_stack(self.session)
        enter_script(self.session, path, where)
        try:
            if not self._known_from_session:  # this runner's first file
                self._known = dict(self.session.variables)
                self._known_from_session = True
            self._precheck(path.resolve(), list(stack), where)
            lines = read_script(path)
            saved_dir = self.session.scripts.folder
            try:
                for line in lines:
                    self.session.scripts.folder = path.parent
                    if not self._run_line(line, path):
                        return False
            finally:
                self.session.scripts.folder = saved_dir
        finally:
            stack.pop()
        return True

    def _precheck(self, path: Path, chain: list[Path], where: str) -> int:
        """Check ``path`` and every file it sources or runs, without touching the target;
        returns how deep its nesting goes (1: none)."""
        if path in self._heights:
            return self._heights[path]
        lines = read_script(path)
        height = 1
        for line in lines:
            nested = self._check_line(line, path)
            if nested is None:
                continue
            resolved = nested.resolve()
            check_nesting(chain, resolved, line.where)
            below = self._precheck(resolved, [*chain, resolved], line.where)
            if len(chain) + below > MAX_DEPTH:
                raise ScriptError(f"{line.where}: scripts nested more than {MAX_DEPTH} deep",
                                  "source and run nest at most this deep")
            height = max(height, below + 1)
        self._heights[path] = height
        return height

    def _check_line(self, line: ScriptLine, path: Path) -> Path | None:
        """Check one line; returns the file it sources or runs, if any (to check as well)."""
        table = commands()
        try:
            try:
                words = split_line(line.text, self._lookup)
            except Deferred:  # a variable only the run can know: checked when it runs
                first = line.text.split(None, 2)
                if len(first) > 1 and first[0] == "set":
                    self._known[first[1]] = None
                return None
            if not words:
                return None
            cmd = table.get(words[0])
            if cmd is None:
                raise UsageError(f"unknown command '{words[0]}'",
                                 did_you_mean(words[0], table) or "type help")
            if words[0] == "echo":
                return None
            params = parse_only(cmd, words)
            if params is None:
                return None
            if words[0] == "set":
                if params.get("name") and params.get("value"):
                    self._known[params["name"]] = " ".join(params["value"])
                return None
            if words[0] in NESTING:
                key = "path" if words[0] == "source" else "script"
                nested = nested_path(self.session, params[key], path)
                check_readable(nested, f"{words[0]}")
                if words[0] == "run":
                    self._known.update(parse_defines(params["defines"]))
                return nested
            check_meaning(self.session, words[0], params, path)
        except SocdbgError as exc:
            raise ScriptError(f"{line.where}: {exc.message}", exc.hint) from None
        return None

    def _lookup(self, name: str) -> str:
        """``${NAME}`` in the pre-run check: the value a ``set`` line before it gives, or a
        --define; unknown names are errors now, not after the first lines ran."""
        if name not in self._known:
            raise UsageError(f"undefined variable '{name}'",
                             did_you_mean(name, self._known) or "set NAME VALUE defines one")
        value = self._known[name]
        if value is None:
            raise Deferred(name)
        return value

    def _run_line(self, line: ScriptLine, path: Path) -> bool:
        t0 = time.monotonic()
        try:
            words = split_line(line.text, variables(self.session))
        except SocdbgError as exc:
            self._record(Outcome(line.where, line.text, False, str(exc), 0.0, error=True),
                         None, fatal=True)
            return False
        if words and words[0] == "source":
            try:
                params = parse_only(commands()["source"], words)
            except SocdbgError as exc:
                raise ScriptError(f"{line.where}: {exc.message}", exc.hint) from None
            assert params is not None
            nested = nested_path(self.session, params["path"], path)
            try:
                check_readable(nested, "source")
            except SocdbgError as exc:
                raise ScriptError(f"{line.where}: {exc.message}", exc.hint) from None
            saved, self.keep_going = self.keep_going, self.keep_going or params["keep_going"]
            try:
                return self._run_file(nested, line)
            finally:
                self.keep_going = saved
        check = is_check(words)
        dry = self.session.dry_run
        try:
            output = execute(self.session, line.text)
        except TargetError as exc:
            return self._record(Outcome(line.where, line.text, False, str(exc),
                                        time.monotonic() - t0, check, error=True), None,
                                fatal=not self.keep_going)
        except SocdbgError as exc:
            self._record(Outcome(line.where, line.text, False, str(exc),
                                 time.monotonic() - t0, check, error=True), None, fatal=True)
            return False
        ok = output is None or output.ok
        message = "" if ok or output is None else (output.text or "failed")
        return self._record(Outcome(line.where, line.text, ok, message, time.monotonic() - t0,
                                    check, data=output.data if output else None,
                                    unchecked=check and dry and _not_held(output)), output,
                            fatal=not ok and not self.keep_going)

    def _record(self, outcome: Outcome, output: Output | None, fatal: bool) -> bool:
        self.result.outcomes.append(outcome)
        if self.show is not None:
            self.show(outcome, output)
        if fatal:
            self.result.stopped = True
            return False
        return True


def _not_held(output: Output | None) -> bool:
    data = output.data if output is not None else None
    return isinstance(data, dict) and data.get("held") is False


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
