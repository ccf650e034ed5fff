"""The interactive shell: a prompt_toolkit session over the command registry.

``Shell(session).run()`` owns the loop: Ctrl-C at the prompt clears the line, Ctrl-C during a
command cancels it and keeps the shell, Ctrl-D (or ``quit``) leaves. When standard input is not
a terminal the same loop reads lines without prompt_toolkit, so commands can be piped in.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from socdbg.commands.dispatch import QUIT_WORDS, execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

    from socdbg.shell.completer import ShellCompleter
    from socdbg.shell.history import ShellHistory


def history_path() -> Path:
    """``$XDG_STATE_HOME/socdbg/history`` (default ``~/.local/state/socdbg/history``)."""
    explicit = os.environ.get("SOCDBG_HISTORY")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "socdbg" / "history"


#: A target string longer than this is shortened in the prompt (the toolbar and ``info``
#: show it whole).
PROMPT_TARGET_MAX = 24


def short_target(spec: str) -> str:
    """The target as the prompt shows it: short strings as they are; a long one as its
    backend and the last part of its argument (a file's name, not its folder), cut with …
    when that is still long: ``dump:/very/long/path/run-42.json.gz`` -> ``dump:run-42.json.gz``."""
    if len(spec) <= PROMPT_TARGET_MAX:
        return spec
    name, sep, arg = spec.partition(":")
    if not sep:
        return spec[: PROMPT_TARGET_MAX - 1] + "…"
    arg = arg.removeprefix("//")
    tail = arg.rstrip("/").rsplit("/", 1)[-1] or arg
    short = f"{name}:{tail}"
    if len(short) > PROMPT_TARGET_MAX:
        keep = PROMPT_TARGET_MAX - len(name) - 2
        short = f"{name}:…{tail[-keep:]}"
    return short


class Shell:
    def __init__(self, session: Session, stdin: TextIO | None = None) -> None:
        self.session = session
        self.stdin = stdin or sys.stdin
        self.failures = 0
        self.interactive = False  # True inside the prompt_toolkit loop

    # --- one line ----------------------------------------------------------------------------
    def run_line(self, line: str) -> bool:
        """Run one line; False when the user asked to quit."""
        stripped = line.strip()
        if stripped in QUIT_WORDS:
            return False
        try:
            output = execute(self.session, line, stream=True)
            self.session.presenter.emit(output)
            if output is not None and not output.ok:
                self.failures += 1
        except KeyboardInterrupt as exc:  # a Stopped says where the work stopped
            where = f": {exc}" if str(exc) else ""
            self.session.presenter.console.print(f"[yellow]cancelled[/yellow]{where}",
                                                 markup=True, highlight=False)
        except SocdbgError as exc:
            self.failures += 1
            self.error(exc)
        except Exception as exc:  # a bug: say so, keep the shell
            self.failures += 1
            if self.session.debug:
                traceback.print_exc()
            else:
                self.session.presenter.console.print(
                    f"[red]internal error:[/red] {type(exc).__name__}: {exc} "
                    "[dim](run with --debug for the traceback)[/dim]", markup=True)
        return True

    def error(self, exc: SocdbgError) -> None:
        """One red line; on stderr when commands come from a pipe, as for one-shot use."""
        from rich.text import Text

        if self.session.debug:
            traceback.print_exc()
        line = Text.assemble(("error: ", "bold red"), exc.message)
        if exc.hint:
            line.append(f" ({exc.hint})", style="dim")
        if self.interactive:
            self.session.presenter.console.print(line, soft_wrap=True)
        else:
            sys.stdout.flush()
            print(line.plain, file=sys.stderr, flush=True)

    # --- loops -------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until quit or end of input; returns the exit status (1 if any command failed
        when reading from a pipe)."""
        if not self.stdin.isatty():
            return self._run_piped()
        return self._run_interactive()

    def _run_piped(self) -> int:
        pending = ""
        for raw in self.stdin:
            line = raw.rstrip("\n")
            if line.rstrip().endswith("\\"):  # continued on the next line, as in scripts
                pending += line.rstrip()[:-1] + " "
                continue
            line, pending = pending + line, ""
            if not self.run_line(line):
                return 1 if self.failures else 0
        if pending.strip():
            self.run_line(pending)
        return 1 if self.failures else 0

    def prompt_session(self, completer: ShellCompleter, history: ShellHistory,
                       **io: Any) -> PromptSession[str]:
        """The prompt: completion, history search by prefix on Up, grey suggestions from
        lines that ran, a trailing backslash continuing the line. ``io`` passes ``input``
        and ``output`` (tests drive the shell through a pipe)."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.filters import Condition
        from prompt_toolkit.key_binding import KeyBindings

        from socdbg.shell.history import SuggestFromGoodHistory

        keys = KeyBindings()

        @Condition
        def continued() -> bool:
            from prompt_toolkit.application import get_app

            doc = get_app().current_buffer.document
            return doc.is_cursor_at_the_end and doc.text.endswith("\\")

        @keys.add("enter", filter=continued)
        def _(event: Any) -> None:
            event.current_buffer.insert_text("\n")

        return PromptSession(
            history=history,
            completer=completer,
            auto_suggest=SuggestFromGoodHistory(),
            enable_history_search=True,
            complete_while_typing=False,
            bottom_toolbar=self.toolbar,
            key_bindings=keys,
            prompt_continuation=lambda width, line, wrap: "." * (width - 1) + " ",
            **io,
        )

    def _run_interactive(self, **io: Any) -> int:
        from socdbg.shell.completer import ShellCompleter
        from socdbg.shell.history import ShellHistory, join_continued

        hist_file = history_path()
        try:
            hist_file.parent.mkdir(parents=True, exist_ok=True)
            history = ShellHistory(hist_file)
        except OSError:
            history = ShellHistory(None)
        completer = ShellCompleter(self.session)
        prompt = self.prompt_session(completer, history, **io)
        self.interactive = True
        self.session.ask = self.ask  # live-target writes are confirmed (socdbg/safety.py)
        self.greet()
        self._warm(completer)
        while True:
            try:
                line = prompt.prompt(self.prompt_text())
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            failures = self.failures
            go_on = self.run_line(join_continued(line))
            history.settle(self.failures == failures)
            if not go_on:
                break
        self.session.close()
        return 0

    def _warm(self, completer: ShellCompleter) -> None:
        """Build the completer's index of a loaded map in the background, so the first Tab
        on a 100k-register map is as quick as the others."""
        if not self.session.has_target:
            return
        import contextlib
        import threading

        def warm() -> None:
            with contextlib.suppress(SocdbgError):
                completer.warm()

        threading.Thread(target=warm, name="socdbg-complete-warm", daemon=True).start()

    def ask(self, message: str, question: str) -> str:
        """Show ``message`` and return the answer to ``question`` (a write to live hardware
        waiting for confirmation); Ctrl-C and Ctrl-D answer with nothing, which is no."""
        from prompt_toolkit import prompt

        self.session.presenter.console.print(message, markup=False, highlight=False, soft_wrap=True)
        try:
            return prompt(question)
        except (KeyboardInterrupt, EOFError):
            return ""

    def greet(self) -> None:
        from socdbg import __version__

        console = self.session.presenter.console
        console.print(f"[bold]socdbg {__version__}[/bold]  type [bold]help[/bold] for "
                      "commands, Tab to complete, Ctrl-D to quit")
        try:
            target = self.session.target
            rmap = self.session.map
            console.print(f"target [cyan]{target.spec}[/cyan], map [cyan]{rmap.name}[/cyan] "
                          f"({len(rmap)} registers)")
        except SocdbgError as exc:
            self.error(exc)

    def prompt_text(self) -> str:
        return f"socdbg:{short_target(self.session.target_spec)}> "

    def toolbar(self) -> str:
        from socdbg.targets.base import has_time

        parts = [f" target: {self.session.target_spec}"]
        if self.session.has_target:
            try:
                rmap = self.session.map
                parts.append(f"map: {rmap.name} ({len(rmap)} regs)")
                target = self.session.target
                if has_time(target):
                    parts.append(f"cycle: {target.now:,}")
            except SocdbgError:
                pass
        return "  |  ".join(parts)
