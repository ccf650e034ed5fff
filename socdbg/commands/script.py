"""Scripts (``.sdbg``): one shell command per line, run unattended.

Syntax: exactly the REPL's, plus ``#`` comments, ``\\`` line continuation and
``source FILE`` (relative to the including file, include cycles refused). Before a file's
first line runs, every line of it is parsed against the registry and the map (lines that use
``${NAME}`` are checked when they run), so a typo on line 57 stops the run before line 1
touches the bus. Each failure names FILE:LINE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from socdbg.commands.dispatch import execute, split_line
from socdbg.commands.registry import Output, commands, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError, UsageError, did_you_mean

#: Commands whose lines are checks: they count as test cases in JUnit reports (``step``
#: only with ``--until``).
CHECKS = ("expect", "poll")


@dataclass
class ScriptLine:
    file: str
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Outcome:
    where: str
    text: str
    ok: bool
    message: str = ""
    seconds: float = 0.0
    check: bool = False
    error: bool = False  # bad input or a target error, as opposed to a failed check
    data: Any = None


@dataclass
class RunResult:
    outcomes: list[Outcome] = field(default_factory=list)
    stopped: bool = False

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def passed(self) -> bool:
        return not self.failures and not self.stopped


class ScriptError(SocdbgError):
    """A script cannot be read or run (missing file, include cycle, bad line)."""


def read_script(path: Path) -> list[ScriptLine]:
    """Lines of a script with comments dropped and ``\\`` continuations joined; each keeps
    the number of its first physical line."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(f"{path}: no such script") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"{path}: cannot read: {exc}") from None
    out: list[ScriptLine] = []
    pending = ""
    start = 0
    for number, physical in enumerate(raw.splitlines(), 1):
        text = physical.rstrip()
        if not pending:
            start = number
        shown = _display(path)
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        full = (pending + text).strip()
        pending = ""
        if full and not full.startswith("#"):
            out.append(ScriptLine(shown, start, full))
    tail = pending.strip()
    if tail and not tail.startswith("#"):  # a continuation left open at the end of the file
        out.append(ScriptLine(_display(path), start, tail))
    return out


def _display(path: Path) -> str:
    """A script's name as a user would type it: relative to the working folder if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class ScriptRunner:
    def __init__(self, session: Session, keep_going: bool = False, quiet: bool = False,
                 show: Callable[[Outcome, Output | None], None] | None = None) -> None:
        self.session = session
        self.keep_going = keep_going
        self.quiet = quiet
        self.show = show
        self.result = RunResult()
        self._stack: list[Path] = []

    def run(self, path: Path) -> RunResult:
        self._run_file(path.resolve(), None)
        return self.result

    # --- one file ----------------------------------------------------------------------
    def _run_file(self, path: Path, caller: ScriptLine | None) -> bool:
        if path in self._stack:
            chain = " -> ".join(p.name for p in [*self._stack, path])
            raise ScriptError(f"{caller.where if caller else path}: include cycle: {chain}")
        lines = read_script(path)
        self._validate(lines)
        self._stack.append(path)
        saved_dir = self.session.state.get("script_dir")
        try:
            for line in lines:
                self.session.state["script_dir"] = str(path.parent)
                if not self._run_line(line, path):
                    return False
        finally:
            self._stack.pop()
            if saved_dir is None:
                self.session.state.pop("script_dir", None)
            else:
                self.session.state["script_dir"] = saved_dir
        return True

    def _validate(self, lines: list[ScriptLine]) -> None:
        """Parse every line that needs no variables: command, options, paths, values."""
        table = commands()
        for line in lines:
            if "${" in line.text:
                continue
            try:
                words = split_line(line.text)
                if not words:
                    continue
                cmd = table.get(words[0])
                if cmd is None:
                    raise UsageError(f"unknown command '{words[0]}'",
                                     did_you_mean(words[0], table))
                if words[0] in ("set", "source", "echo"):
                    continue
                params = _parse_only(cmd, words)
                if params is not None:
                    _check_meaning(self.session, words[0], params)
            except SocdbgError as exc:
                raise ScriptError(f"{line.where}: {exc.message}", exc.hint) from None

    def _run_line(self, line: ScriptLine, path: Path) -> bool:
        words = line.text.split(None, 1)
        if words[0] == "source":
            if len(words) < 2:
                raise ScriptError(f"{line.where}: source needs a FILE")
            from socdbg.commands.dispatch import substitute

            target = Path(substitute(self.session, words[1]).strip().strip("'\""))
            nested = target if target.is_absolute() else path.parent / target
            if not nested.is_file():
                raise ScriptError(f"{line.where}: source: no such file {nested}")
            return self._run_file(nested.resolve(), line)
        t0 = time.monotonic()
        check = words[0] in CHECKS or (words[0] == "step" and "--until" in line.text)
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
                                    check, data=output.data if output else None), output,
                            fatal=not ok and not self.keep_going)

    def _record(self, outcome: Outcome, output: Output | None, fatal: bool) -> bool:
        self.result.outcomes.append(outcome)
        if self.show is not None:
            self.show(outcome, output)
        if fatal:
            self.result.stopped = True
            return False
        return True


def _parse_only(cmd: click.Command, words: list[str]) -> dict[str, Any] | None:
    """Parse a command line with click without running it (usage errors become ours);
    returns the parsed parameters (None for a group)."""
    try:
        with cmd.make_context(words[0], list(words[1:]), resilient_parsing=False) as ctx:
            if isinstance(cmd, click.Group) and ctx.protected_args:
                sub = cmd.get_command(ctx, ctx.protected_args[0])
                if sub is None:
                    raise UsageError(f"{words[0]}: no subcommand '{ctx.protected_args[0]}'")
                _parse_only(sub, [ctx.protected_args[0], *ctx.args])
                return None
            return dict(ctx.params)
    except click.exceptions.Exit:
        return None
    except click.UsageError as exc:
        raise UsageError(f"{words[0]}: {exc.format_message()}",
                         f"help {words[0]} shows the usage") from None


def _check_meaning(session: Session, name: str, params: dict[str, Any]) -> None:
    """What can be checked against the map without touching the bus: register paths,
    whole write plans (fields, values, enum names, access rights) and conditions. Addresses
    are not checked here: a script may load the firmware that defines their symbols."""
    from socdbg.commands.core import plan_write
    from socdbg.regmap.conditions import parse_condition

    rmap = session.map
    if name == "write":
        plan_write(session, params["pattern"], params["values"])
    elif name == "read":
        rmap.select_with_field(params["pattern"])
    elif name in ("poll", "expect") and params.get("condition", params.get("words")):
        words = params.get("condition") or params.get("words")
        if words and words[0] != "mem":
            parse_condition(rmap, words)
    elif name == "step" and params.get("until"):
        parse_condition(rmap, [params["until"], *params.get("words", ())])


def junit_xml(result: RunResult, name: str) -> bytes:
    """A JUnit report: one test case per check line and per failing line."""
    import xml.etree.ElementTree as ET

    cases = [o for o in result.outcomes if o.check or not o.ok]
    suite = ET.Element("testsuite", name=name, tests=str(len(cases)),
                       failures=str(sum(1 for o in cases if not o.ok and not o.error)),
                       errors=str(sum(1 for o in cases if o.error)),
                       time=f"{sum(o.seconds for o in result.outcomes):.3f}")
    for o in cases:
        case = ET.SubElement(suite, "testcase", classname=name, name=f"{o.where}: {o.text}",
                             time=f"{o.seconds:.3f}")
        if not o.ok:
            tag = "error" if o.error else "failure"
            ET.SubElement(case, tag, message=o.message).text = f"{o.where}: {o.message}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


@click.command("source", help="Run a script file in this session, line by line.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--keep-going", is_flag=True, help="Go on after a failed check.")
@session_command
def source_cmd(session: Session, path: str, keep_going: bool) -> Output:
    base = Path(session.state.get("script_dir", "."))
    script = Path(path) if Path(path).is_absolute() else base / path

    def show(outcome: Outcome, output: Output | None) -> None:
        session.emit(output)
        if not outcome.ok:
            session.console.print(f"[red]{outcome.where}:[/red] {outcome.message}",
                                  markup=True, highlight=False)

    result = ScriptRunner(session, keep_going=keep_going, show=show).run(script)
    failed = len(result.failures)
    text = f"{script.name}: {len(result.outcomes)} lines, {failed} failed"
    return Output(data={"lines": len(result.outcomes), "failed": failed},
                  ok=result.passed, text=text)


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
@session_command
def run_cmd(session: Session, script: str, target_opt: str | None, defines: tuple[str, ...],
            keep_going: bool, dry_run: bool, check: bool, junit: str | None,
            quiet: bool) -> Output:
    from socdbg.replay import run_script

    base = Path(session.state.get("script_dir", "."))
    path = Path(script) if Path(script).is_absolute() else base / script
    if target_opt and target_opt != session.target_spec:
        with session.scoped_target(target_opt):
            rc = run_script(session, str(path), defines, keep_going or check, dry_run, check,
                            junit, quiet)
    else:
        rc = run_script(session, str(path), defines, keep_going or check, dry_run, check,
                        junit, quiet)
    return Output(data={"script": str(path), "passed": rc == 0}, ok=rc == 0)


register(source_cmd)
register(run_cmd)
