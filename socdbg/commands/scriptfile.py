"""A script file (``.sdbg``) and the results of running one: reading it into lines, where
nested scripts are found and how deep they may nest, a run's outcomes, its summary line and
its JUnit report.

Syntax: exactly the REPL's (one tokenizer, :mod:`socdbg.commands.lexer`), plus ``\\`` line
continuation and ``source FILE`` (relative to the including file). Lines end at ``\\n`` or
``\\r\\n`` only. Include cycles and nesting deeper than :data:`MAX_DEPTH` are refused, on the
resolved file name, whatever the line's spelling. Each failure names FILE:LINE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socdbg.commands.lexer import BLANKS
from socdbg.errors import SocdbgError

if TYPE_CHECKING:
    from socdbg.commands.session import Session

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
    return session.scripts.stack


def nested_path(session: Session, name: str, including: Path | None) -> Path:
    """Where ``source NAME`` / ``run NAME`` finds its file: relative to the including
    script, else to the shell's working folder."""
    p = Path(name)
    if p.is_absolute():
        return p
    if including is not None:
        return including.parent / p
    return session.scripts.resolve(p)


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
