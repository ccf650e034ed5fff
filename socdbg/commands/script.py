"""Scripts (``.sdbg``): one shell command per line, run unattended.

Syntax: exactly the REPL's (one tokenizer, :mod:`socdbg.commands.lexer`), plus ``\\`` line
continuation and ``source FILE`` (relative to the including file). Lines end at ``\\n`` or
``\\r\\n`` only. Before a file's first line runs, every line of it, and of every file it
sources, is checked against the registry, the map and the host's files (lines that use
``${NAME}`` are checked when they run), so a typo on line 57 stops the run before line 1
touches the bus. Include cycles and nesting deeper than :data:`MAX_DEPTH` are refused, on the
resolved file name, whatever the line's spelling. Each failure names FILE:LINE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from socdbg.commands.dispatch import _NO_ARGS_IS_HELP, execute, split_line, variables
from socdbg.commands.lexer import BLANKS, Deferred
from socdbg.commands.params import target_files
from socdbg.commands.registry import (
    Effects,
    Meta,
    Output,
    commands,
    group_rest,
    register,
    session_command,
)
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError, UsageError, did_you_mean

#: The largest script file read.
MAX_SCRIPT = 16 << 20
#: Commands whose lines are checks: they count as test cases in JUnit reports (``step``
#: only with ``--until``).
CHECKS = ("expect", "poll")
#: How deep scripts may nest (``source`` and ``run`` inside scripts).
MAX_DEPTH = 16
#: Commands that run another script file.
NESTING = ("source", "run")


def is_check(words: list[str]) -> bool:
    """Whether a command line is a check: ``expect``, ``poll``, ``step --until``."""
    if not words:
        return False
    return words[0] in CHECKS or (words[0] == "step" and any(
        w == "--until" or w.startswith("--until=") for w in words[1:]))


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
    unchecked: bool = False  # a check in a dry run: reported, not really checked


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

    @property
    def checks_passed(self) -> int:
        return sum(1 for o in self.outcomes if o.check and o.ok and not o.unchecked)

    @property
    def unchecked(self) -> int:
        return sum(1 for o in self.outcomes if o.unchecked)

    def summary(self) -> str:
        """``N checks passed, M failed (K lines run)``; M counts failed checks and failed
        commands alike; a dry run adds the checks it could not really check."""
        return summary_line(self.checks_passed, len(self.failures), len(self.outcomes),
                            self.unchecked)


def summary_line(passed: int, failed: int, lines: int, unchecked: int = 0,
                 unit: str = "lines run") -> str:
    """The one summary of every runner (scripts, ``run --check``, ``butr``):
    ``N checks passed, M failed (K lines run)``."""
    text = (f"{passed} {'check' if passed == 1 else 'checks'} passed, {failed} failed "
            f"({lines} {unit.replace('lines', 'line') if lines == 1 else unit}")
    if unchecked:
        text += f"; {unchecked} not checked in the dry run"
    return text + ")"


class ScriptError(SocdbgError):
    """A script cannot be read or run (missing file, include cycle, bad line)."""


def read_script(path: Path) -> list[ScriptLine]:
    """Lines of a script with comments dropped and ``\\`` continuations joined; each keeps
    the number of its first physical line. Lines end at ``\\n`` or ``\\r\\n`` only: a form
    feed, NEL or U+2028 inside a line is part of it."""
    try:
        with path.open("rb") as fh:  # bounded: source /dev/zero must not eat the memory
            data = fh.read(MAX_SCRIPT + 1)
        if len(data) > MAX_SCRIPT:
            raise ScriptError(f"{path}: larger than {MAX_SCRIPT >> 20} MiB: not a script")
        raw = data.decode("utf-8")
    except FileNotFoundError:
        raise ScriptError(f"{path}: no such script") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"{path}: cannot read: {exc}") from None
    out: list[ScriptLine] = []
    pending = ""
    start = 0
    shown = _display(path)
    physical_lines = raw.split("\n")
    if physical_lines and physical_lines[-1] == "":
        physical_lines.pop()
    for number, physical in enumerate(physical_lines, 1):
        physical = physical.removesuffix("\r")
        text = physical.rstrip(BLANKS)
        if not pending:
            start = number
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        full = (pending + text).strip(BLANKS)
        pending = ""
        if full and not full.startswith("#"):
            out.append(ScriptLine(shown, start, full))
    tail = pending.strip(BLANKS)
    if tail and not tail.startswith("#"):  # a continuation left open at the end of the file
        out.append(ScriptLine(shown, start, tail))
    return out


def _display(path: Path) -> str:
    """A script's name as a user would type it: relative to the working folder if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def script_stack(session: Session) -> list[Path]:
    """The script files running in this session, outermost first (``source`` and ``run``
    nest through it, so include cycles are seen across both)."""
    stack: list[Path] = session.state.setdefault("script_stack", [])
    return stack


def nested_path(session: Session, name: str, including: Path | None) -> Path:
    """Where ``source NAME`` / ``run NAME`` finds its file: relative to the including
    script, else to the shell's working folder."""
    p = Path(name)
    if p.is_absolute():
        return p
    if including is not None:
        return including.parent / p
    return Path(session.state.get("script_dir", ".")) / p


def enter_script(session: Session, path: Path, where: str) -> None:
    """Push ``path`` on the session's script stack, refusing cycles and deep nesting."""
    stack = script_stack(session)
    resolved = path.resolve()
    check_nesting(stack, resolved, where)
    stack.append(resolved)


def check_nesting(chain: list[Path], resolved: Path, where: str) -> None:
    """Refuse ``resolved`` below ``chain`` (the scripts it runs inside) when it is one of
    them or nests too deep: the one rule for the pre-run check and the running script."""
    if resolved in chain:
        names = " -> ".join(p.name for p in [*chain, resolved])
        raise ScriptError(f"{where}: include cycle: {names}",
                          "a script cannot source or run itself, directly or not")
    if len(chain) >= MAX_DEPTH:
        raise ScriptError(f"{where}: scripts nested more than {MAX_DEPTH} deep "
                          f"({chain[0].name} -> ... -> {resolved.name})",
                          "source and run nest at most this deep")


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
                self._known = dict(self.session.state.get("vars", {}))
                self._known_from_session = True
            self._precheck(path.resolve(), list(stack), where)
            lines = read_script(path)
            saved_dir = self.session.state.get("script_dir")
            try:
                for line in lines:
                    self.session.state["script_dir"] = str(path.parent)
                    if not self._run_line(line, path):
                        return False
            finally:
                if saved_dir is None:
                    self.session.state.pop("script_dir", None)
                else:
                    self.session.state["script_dir"] = saved_dir
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
            params = _parse_only(cmd, words)
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
                    from socdbg.replay import parse_defines

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
                params = _parse_only(commands()["source"], words)
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
        dry = bool(self.session.state.get("dry_run"))
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


def _parse_only(cmd: click.Command, words: list[str]) -> dict[str, Any] | None:
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
                inner = _parse_only(sub, rest)
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
    from socdbg.commands.core import plan_write

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


@click.command("source", help="Run a script file in this session, line by line, as if its "
               "lines were typed (checked first, like socdbg run).")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--keep-going", is_flag=True, help="Go on after a failed check.")
@session_command
def source_cmd(session: Session, path: str, keep_going: bool) -> Output:
    script = nested_path(session, path, None)

    def show(outcome: Outcome, output: Output | None) -> None:
        session.emit(output)
        if not outcome.ok:
            session.console.print(f"[red]{outcome.where}:[/red] {outcome.message}",
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
@session_command
def run_cmd(session: Session, script: str, target_opt: str | None, defines: tuple[str, ...],
            keep_going: bool, dry_run: bool, check: bool, junit: str | None,
            quiet: bool) -> Output:
    from socdbg.replay import run_script

    path = nested_path(session, script, None)
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
