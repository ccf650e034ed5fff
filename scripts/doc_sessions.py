"""Run the console sessions shown in README.md and docs/*.md and compare their output.

    python scripts/doc_sessions.py                 # check every page; exit 1 on a difference
    python scripts/doc_sessions.py docs/tutorial.md
    python scripts/doc_sessions.py --update        # rewrite the expected output in place

A page shows a session in a fenced block whose info string starts with ``console``::

    ```console
    $ socdbg read sysctrl.scratch.value        <- a system-shell command (bash, page's folder)
    sysctrl.scratch.value = 0x0                 <- its output: stdout and stderr, in order
    socdbg:sim> step 10                         <- a line typed at the socdbg shell prompt
    cycle 10
    ```

Rules (docs/architecture.md, "Executable documentation", says why):

* ``$ CMD`` lines run in one bash per page (variables and ``cd`` carry over), in a
  temporary folder (``registers``, ``scripts`` and ``tests`` of the repository are linked
  into it), stdout and stderr merged in the order a terminal shows them. A line ending in
  ``\\`` continues on the next line.
* ``socdbg:TARGET> LINE`` lines are typed into one ``socdbg -t TARGET shell`` per page (or
  the ``$ socdbg [OPTIONS] shell`` line just before them, which is not run on its own), fed on
  standard input; the session (its simulated time, its registers) carries on from block to
  block, like the tutorial's, until a ``$`` line, a block ``console new-session``, or a
  prompt of another target that no ``target`` command led to.
* ``console norun=terminal`` (a picture of a Tab completion menu, which needs a real
  terminal), ``console norun=hardware`` (live silicon, root) and ``console norun=example``
  (code the page tells you to write) and ``console norun=cluster`` (commands run on the hosts
  of a Dask cluster) are shown and not run; no other reason is accepted.
* ``console background port=P[,P2]`` holds one ``$`` line that starts a server the reader
  leaves running in another terminal (``socdbg serve``, QEMU). It is started when the page
  reaches it, waited for until it accepts connections on its ports, and stopped when the page
  ends. A background block on a port a running server of the page holds stops that one first
  (the reader's Ctrl-C: a server restarted with other flags, a new QEMU). A socdbg session open
  before a background block goes on after it (``reconnect`` to a restarted QEMU). ``port``
  (on any console block) names port numbers the page uses: each run picks a free port for each
  and writes it in the commands, and the output shows the page's number again.
* ``console tty`` holds ``$ socdbg ... shell``, the greeting and the first prompt: it runs
  on a pseudo-terminal (the greeting is only printed there), and Ctrl-D leaves.
* A block ``LANG file=NAME`` (an .sdbg script, a list of commands) is not run: its text is
  written to NAME in the page's folder before the page's sessions run.
* In expected output, a line that is just ``...`` matches any number of lines and ``...``
  inside a line matches any text (doctest's ELLIPSIS): use it for times and paths only.
  Trailing spaces are not compared.
* Any other block that shows a ``$ socdbg`` line or a ``socdbg:...>`` prompt is an error: a
  session cannot hide in a ``text`` block.

``--update`` replaces the output of every command whose output no longer matches with what the
tool printed now, and keeps the text (and its ``...``) where it still matches, so that after a
change of output ``git diff docs/`` shows exactly what changed for review.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Pages whose sessions are not converted yet, and why (each one is a known gap, not a rule).
NOT_YET: dict[str, str] = {}
PAGES = tuple(p for p in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
              if str(p.relative_to(ROOT)) not in NOT_YET)
NORUN_REASONS = ("terminal", "hardware", "example", "cluster")
ELLIPSIS = "..."
TIMEOUT = 300.0
#: Entries of the repository linked into each page's working folder.
LINKED = ("registers", "scripts", "tests")
#: What the shell is told to print between two typed lines; never part of real output.
_MARK = "@@doc-session-mark@@"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")
_PROMPT = re.compile(r"^socdbg:(?P<target>[^\s>]+)> ?(?P<line>.*)$")
#: ``$ socdbg``, ``$ sudo socdbg``, ``$ VAR=x socdbg``, ``$ ... | socdbg``, or a shell prompt.
_SESSION_LINE = re.compile(
    r"^(\$ (.*[|;&(]\s*)?(sudo\s+)?([A-Za-z_]\w*=\S*\s+)*socdbg\b|socdbg:[^\s>]+>)")


#: ``$ socdbg [GLOBAL OPTIONS] shell``: starts the session the following prompts type into.
_SHELL_START = re.compile(r"^socdbg(\s+[^\s<>|;&]+)*\s+shell\s*$")


class DocError(Exception):
    """A page that breaks the rules above (not a difference in output)."""


@dataclass
class Command:
    kind: str  # "$" (system shell) or "socdbg" (typed at the shell prompt)
    text: str  # the command without its prompt
    target: str  # the prompt's target, for "socdbg"
    prompt_lines: list[str]  # the command as written, prompt included (one line or more)
    expected: list[str]  # output lines as written
    actual: list[str] | None = None


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    end: int  # 0-based index of the closing fence
    indent: str
    info: str
    lines: list[str]  # content, indent removed
    commands: list[Command] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def attrs(self) -> dict[str, str]:
        out = {}
        for word in self.info.split()[1:]:
            key, _, value = word.partition("=")
            out[key] = value
        return out

    @property
    def name(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.kind == "console" and "norun" not in self.attrs


# --- parsing ---------------------------------------------------------------------------------
def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    text = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(text):
        m = _FENCE.match(text[i])
        if not m:
            i += 1
            continue
        indent, ticks, info = m.group("indent"), m.group("ticks"), m.group("info").strip()
        j = i + 1
        while j < len(text) and text[j].strip() != ticks:
            j += 1
        if j == len(text):
            raise DocError(f"{page.name}:{i + 1}: unclosed code block")
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                for ln in text[i + 1 : j]]
        out.append(Block(page, i + 1, j, indent, info, body))
        i = j + 1
    for block in out:
        check_kind(block)
        if block.runs:
            block.commands = parse_session(block)
    return out


def check_kind(block: Block) -> None:
    if block.kind == "console":
        reason = block.attrs.get("norun")
        if reason is not None and reason not in NORUN_REASONS:
            raise DocError(f"{block.name}: norun={reason!r}: the reasons are "
                           + ", ".join(NORUN_REASONS))
        unknown = set(block.attrs) - {"norun", "new-session", "background", "port", "tty"}
        if unknown:
            raise DocError(f"{block.name}: unknown console option(s) {sorted(unknown)}")
        return
    for ln in block.lines:
        if _SESSION_LINE.match(ln):
            raise DocError(f"{block.name}: a ```{block.kind} block shows a session line "
                           f"({ln.strip()!r}); make it ```console (run and compared) or "
                           "```console norun=terminal|hardware")


def parse_session(block: Block) -> list[Command]:
    cmds: list[Command] = []
    lines = block.lines
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("$ "):
            raw = [ln]
            text = ln[2:]
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                raw.append(lines[i])
                text = text + "\n" + lines[i]
            cmds.append(Command("$", text, "", raw, []))
        elif (m := _PROMPT.match(ln)) is not None:
            cmds.append(Command("socdbg", m.group("line"), m.group("target"), [ln], []))
        elif not cmds:
            raise DocError(f"{block.name}: output before the first command: {ln!r}")
        else:
            cmds[-1].expected.append(ln)
        i += 1
    if not cmds:
        raise DocError(f"{block.name}: a console block with no command")
    return cmds


# --- running ---------------------------------------------------------------------------------
def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SOCDBG_TARGET", "COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR",
                        "PYTHONSTARTUP", "SOCDBG_HISTORY")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env.setdefault("SOCDBG_CACHE_DIR", str(home / "cache"))
    env["XDG_STATE_HOME"] = str(home / "state")
    env["XDG_CACHE_HOME"] = str(home / "xdg-cache")
    env["TERM"] = "dumb"
    return env


def _clean(text: str) -> list[str]:
    lines = [ln.rstrip() for ln in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def run_page(page_blocks: Sequence[Block], workdir: Path) -> None:
    """Run every session of one page in order; fills ``Command.actual``."""
    for ln in LINKED:
        link = workdir / ln
        if not link.exists():
            link.symlink_to(ROOT / ln)
    env = environment(workdir)
    ports: dict[str, str] = {}  # port written on the page -> free port used for this run
    servers: list[Background] = []

    def local(text: str) -> str:
        for doc_port, port in ports.items():
            text = re.sub(rf"\b{doc_port}\b", port, text)
        return text

    def as_documented(lines: list[str]) -> list[str]:
        for doc_port, port in ports.items():
            lines = [re.sub(rf"\b{port}\b", doc_port, ln) for ln in lines]
        return lines

    try:
        _run_blocks(page_blocks, workdir, env, ports, servers, local, as_documented)
    finally:
        for server in servers:
            server.stop()


def _run_blocks(page_blocks: Sequence[Block], workdir: Path, env: dict[str, str],
                ports: dict[str, str], servers: list[Background],
                local: Callable[[str], str],
                as_documented: Callable[[list[str]], list[str]]) -> None:
    pending: list[Command] = []  # shell lines of the current socdbg session, not run yet
    shell: ShellSession | None = None  # the session, once a background block made it start
    last: list[Command] = []  # the last line typed into the current session
    bash: Bash | None = None
    shell_argv: list[str] = []  # from a `$ socdbg ... shell` line, for the next session
    running: dict[str, Background] = {}  # port written on the page -> its server

    def advance() -> None:
        """Type the pending lines into the session (started if need be); it stays open."""
        nonlocal shell
        if not pending:
            return
        if shell is None:
            argv = list(shell_argv) or ["socdbg", "-t", local(pending[0].target), "shell"]
            shell = ShellSession(argv, workdir, env)
        shell.run(pending, local)
        for c in pending:
            c.actual = as_documented(c.actual or [])
        last[:] = pending[-1:]
        pending.clear()

    def flush() -> None:
        nonlocal shell
        if not pending and shell is None:
            return
        if pending and shell is None:
            run_shell(pending, workdir, env, local, shell_argv)
            for c in pending:
                c.actual = as_documented(c.actual or [])
            last[:] = pending[-1:]
            pending.clear()
        advance()
        if shell is not None:
            rest = shell.close()
            if rest and last:
                last[0].actual = [*(last[0].actual or []), *as_documented(rest)]
            shell = None
        shell_argv.clear()
        last.clear()

    for block in page_blocks:
        if "port" in block.attrs:
            for doc_port in block.attrs["port"].split(","):
                if not doc_port.isdigit():
                    raise DocError(f"{block.name}: port={doc_port!r} is not a port number")
                ports.setdefault(doc_port, str(free_port()))
        if "file" in block.attrs:
            name = block.attrs["file"]
            if "/" in name or name.startswith("."):
                raise DocError(f"{block.name}: file={name!r} must be a plain file name")
            (workdir / name).write_text("\n".join(block.lines) + "\n", encoding="utf-8")
        if not block.runs:
            continue
        if "new-session" in block.attrs:
            flush()
        if "tty" in block.attrs:
            flush()
            run_tty(block, workdir, env, local)
            continue
        if "background" in block.attrs:
            # started in another terminal: a socdbg session of this one goes on across it
            advance()
            if len(block.commands) != 1 or block.commands[0].kind != "$":
                raise DocError(f"{block.name}: a background block holds one $ command")
            own = block.attrs.get("port", "").split(",") if block.attrs.get("port") else []
            for doc_port in own:  # the reader stops (Ctrl-C) what holds the port, restarts it
                if doc_port in running:
                    running.pop(doc_port).stop()
            cmd = block.commands[0]
            server = Background(local(cmd.text), workdir, env,
                                [int(ports[p]) for p in own] or [int(p) for p in ports.values()])
            servers.append(server)
            running.update(dict.fromkeys(own, server))
            cmd.actual = as_documented(server.wait_ready(len(cmd.expected)))
            continue
        for cmd in block.commands:
            if cmd.kind == "socdbg":
                previous = (pending or last)[-1:]
                if previous and cmd.target != previous[0].target and not re.match(
                        r"target\s", previous[0].text):
                    flush()  # another target's prompt, not reached with `target`: a new shell
                pending.append(cmd)
                continue
            flush()
            shell_argv.clear()
            if _SHELL_START.match(cmd.text):
                # the prompts that follow are typed into this shell; on a pipe it prints
                # nothing before them
                shell_argv.extend(shlex.split(local(cmd.text)))
                cmd.actual = []
                continue
            if bash is None:
                bash = Bash(workdir, env)
            cmd.actual = as_documented(bash.run(local(cmd.text)))
    flush()
    if bash is not None:
        bash.close()


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>]")


def run_tty(block: Block, workdir: Path, env: dict[str, str],
            local: Callable[[str], str]) -> None:
    """``console tty``: ``$ socdbg ... shell`` and the first prompt, on a pseudo-terminal
    120 columns wide, as a reader sees them (the greeting); Ctrl-D leaves."""
    import pexpect

    if (len(block.commands) != 2 or block.commands[0].kind != "$"
            or block.commands[1].kind != "socdbg" or block.commands[1].text):
        raise DocError(f"{block.name}: a tty block is one `$ ... shell` line, its output and "
                       "the first prompt, with nothing typed")
    start, prompt = block.commands
    tty_env = dict(env, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn("bash", ["-c", f"exec {local(start.text)}"], cwd=str(workdir),
                          env=tty_env, encoding="utf-8", timeout=60, dimensions=(40, 120))
    import time

    raw, text, found = "", "", None
    deadline = time.monotonic() + 60.0
    try:
        while found is None and time.monotonic() < deadline:
            try:
                raw += child.read_nonblocking(65536, timeout=0.5)
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                break
            text = _ANSI.sub("", raw).replace("\r", "")
            found = re.search(r"^socdbg:[^\s>]+>", text, re.MULTILINE)
        if found is not None:
            child.sendeof()
            child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)
    if found is None:
        start.actual = [*_clean(text), "<no prompt>"]
        prompt.actual = []
        return
    start.actual = _clean(text[: found.start()])
    seen = found.group(0)
    prompt.actual = [] if seen == prompt.prompt_lines[0].rstrip() else [f"<prompt {seen!r}>"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Background:
    """A server the reader starts in another terminal (``socdbg serve``, QEMU): started
    before the page's next commands, stopped when the page ends, whatever happens."""

    def __init__(self, command: str, workdir: Path, env: dict[str, str],
                 ports: list[int]) -> None:
        self.log = workdir / f".background-{id(self)}.log"
        self.ports = ports
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=workdir,
                                         env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> list[str]:
        return _clean(self.log.read_text(encoding="utf-8", errors="replace"))

    def wait_ready(self, lines: int) -> list[str]:
        """Wait until one of the page's ports accepts connections and ``lines`` lines are out."""
        import socket
        import time

        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and self.proc.poll() is None:
            listening = False
            for port in self.ports:
                with socket.socket() as sock:
                    sock.settimeout(0.2)
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        listening = True
            if listening and len(self.output()) >= lines:
                return self.output()
            time.sleep(0.1)
        return [*self.output(), "<the server did not start>"]

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Bash:
    """One bash per page, as in a terminal: variables and ``cd`` carry over between ``$``
    lines. Each command reads /dev/null and writes stdout and stderr to one pipe, in order."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile"], cwd=workdir, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.count = 0

    def run(self, command: str) -> list[str]:
        import select
        import time

        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.count += 1
        mark = f"{_MARK}{self.count}".encode()
        # keep the command's status for a following `echo $?`
        script = (f"{{ {command}\n}} </dev/null 2>&1; __doc_status=$?\n"
                  f"printf '\\n%s\\n' '{mark.decode()}'; (exit $__doc_status)\n")
        self.proc.stdin.write(script.encode())
        self.proc.stdin.flush()
        out = b""
        deadline = time.monotonic() + TIMEOUT
        fd = self.proc.stdout.fileno()
        while b"\n" + mark + b"\n" not in out:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.close()
                return [*_clean(out.decode(errors="replace")), f"<timed out after {TIMEOUT}s>"]
            chunk = os.read(fd, 65536)
            if not chunk:
                return [*_clean(out.decode(errors="replace")), "<bash exited>"]
            out += chunk
        return _clean(out.split(b"\n" + mark + b"\n")[0].decode(errors="replace"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def run_shell(cmds: Sequence[Command], workdir: Path, env: dict[str, str],
              local: Callable[[str], str] = lambda text: text,
              argv: Sequence[str] | None = None) -> None:
    """Type ``cmds`` into one ``socdbg shell`` (``argv``, by default ``socdbg -t TARGET
    shell`` with the first prompt's target) and split its output by command."""
    stdin = "".join(f"{local(c.text)}\necho {_MARK}\n" for c in cmds)
    argv = list(argv) if argv else ["socdbg", "-t", local(cmds[0].target), "shell"]
    proc = subprocess.run(argv, cwd=workdir, env=env, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT, check=False)
    parts = proc.stdout.split(_MARK + "\n")
    for i, cmd in enumerate(cmds):
        cmd.actual = _clean(parts[i]) if i < len(parts) else ["<the shell stopped here>"]
    if len(parts) > len(cmds) + 1 or (len(parts) == len(cmds) + 1 and parts[-1].strip()):
        cmds[-1].actual = [*(cmds[-1].actual or []), *_clean(_MARK.join(parts[len(cmds):]))]


class ShellSession:
    """A ``socdbg shell`` on a pipe that stays open while the page goes on in another
    terminal (a ``background`` block between two of its blocks: QEMU restarted under it)."""

    def __init__(self, argv: Sequence[str], workdir: Path, env: dict[str, str]) -> None:
        # unbuffered, so that each line's output arrives before the next line is typed
        self.proc = subprocess.Popen(list(argv), cwd=workdir, env=dict(env, PYTHONUNBUFFERED="1"),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out = b""

    def run(self, cmds: Sequence[Command], local: Callable[[str], str]) -> None:
        import select
        import time

        assert self.proc.stdin is not None and self.proc.stdout is not None
        mark = (_MARK + "\n").encode()
        fd = self.proc.stdout.fileno()
        for cmd in cmds:
            try:
                self.proc.stdin.write(f"{local(cmd.text)}\necho {_MARK}\n".encode())
                self.proc.stdin.flush()
            except BrokenPipeError:
                cmd.actual = ["<the shell stopped here>"]
                continue
            deadline = time.monotonic() + TIMEOUT
            while mark not in self.out:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.out += chunk
            if mark not in self.out:
                cmd.actual = [*_clean(self.out.decode(errors="replace")),
                              "<the shell stopped here>"]
                self.out = b""
                continue
            head, self.out = self.out.split(mark, 1)
            cmd.actual = _clean(head.decode(errors="replace"))

    def close(self) -> list[str]:
        """End of input; what the shell printed after the last line's output."""
        assert self.proc.stdout is not None
        try:
            rest, _ = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
        return _clean((self.out + (rest or b"")).decode(errors="replace"))


# --- comparing -------------------------------------------------------------------------------
def line_matches(pattern: str, line: str) -> bool:
    if ELLIPSIS not in pattern:
        return pattern == line
    regex = ".*".join(re.escape(part) for part in pattern.split(ELLIPSIS))
    return re.fullmatch(regex, line) is not None


def matches(expected: Sequence[str], actual: Sequence[str]) -> bool:
    """``expected`` (with ``...`` lines and ``...`` inside lines) against ``actual``."""
    exp = [ln.rstrip() for ln in expected]
    while exp and not exp[-1]:
        exp.pop()
    memo: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        key = (i, j)
        if key not in memo:
            if i == len(exp):
                memo[key] = j == len(actual)
            elif exp[i] == ELLIPSIS:
                memo[key] = any(go(i + 1, k) for k in range(j, len(actual) + 1))
            else:
                memo[key] = j < len(actual) and line_matches(exp[i], actual[j]) and go(i + 1,
                                                                                         j + 1)
        return memo[key]

    return go(0, 0)


def differences(block: Block) -> list[str]:
    """One report per command of ``block`` whose output does not match."""
    import difflib

    out = []
    for cmd in block.commands:
        actual = cmd.actual if cmd.actual is not None else ["<not run>"]
        if not matches(cmd.expected, actual):
            diff = difflib.unified_diff(cmd.expected, actual, "documented", "printed now",
                                        lineterm="", n=2)
            out.append(f"{block.name}: {cmd.prompt_lines[0]}\n" + "\n".join(diff))
    return out


def updated_page(page: Path, page_blocks: Sequence[Block]) -> str:
    """The page's text with every non-matching command output replaced."""
    text = page.read_text(encoding="utf-8").splitlines()
    for block in reversed(page_blocks):
        if not block.runs:
            continue
        body: list[str] = []
        for cmd in block.commands:
            body.extend(cmd.prompt_lines)
            actual = cmd.actual if cmd.actual is not None else []
            body.extend(cmd.expected if matches(cmd.expected, actual) else actual)
        text[block.line : block.end] = [block.indent + ln if ln else ln for ln in body]
    return "\n".join(text) + "\n"


@dataclass
class PageRun:
    page: Path
    blocks: list[Block]


def run(pages: Sequence[Path]) -> Iterator[PageRun]:
    for page in pages:
        page_blocks = blocks(page)
        if any(b.runs for b in page_blocks):
            with tempfile.TemporaryDirectory(prefix="socdbg-doc-") as tmp:
                run_page(page_blocks, Path(tmp))
        yield PageRun(page, page_blocks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", type=Path, help="default: README.md and docs/*.md")
    parser.add_argument("--update", action="store_true",
                        help="rewrite the output of commands that no longer match")
    args = parser.parse_args(argv)
    pages = [p.resolve() for p in args.pages] or list(PAGES)
    status = 0
    try:
        for result in run(pages):
            problems = [d for b in result.blocks if b.runs for d in differences(b)]
            if args.update and problems:
                result.page.write_text(updated_page(result.page, result.blocks),
                                       encoding="utf-8")
                print(f"updated {result.page.relative_to(ROOT)} ({len(problems)} outputs)")
            elif problems:
                status = 1
                print("\n\n".join(problems))
    except DocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    if shutil.which("socdbg") is None:
        sys.exit("error: socdbg is not on PATH (python3 -m pip install -e .)")
    sys.exit(main())
