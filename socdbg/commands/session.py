"""The session every command runs in: the map, the target (opened on first use), the console.

The REPL keeps one session for its whole life; a one-shot CLI call and a script run make one
each. Nothing here is imported eagerly that a one-shot ``regs`` or ``read`` does not need.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from socdbg.errors import MapError, SocdbgError, TargetError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from socdbg.commands.meta import Parsed
    from socdbg.commands.output import Output
    from socdbg.regmap import RegMap
    from socdbg.targets.base import Target

DEFAULT_TARGET = "sim"


class Session:
    def __init__(self, target: str | None = None, map_files: Sequence[str] | None = None,
                 debug: bool = False, out: TextIO | None = None, width: int | None = None,
                 color: bool | None = None, allow_writes: bool = False, yes: bool = False,
                 force_unsafe: bool = False, map_format: str | None = None,
                 pager: bool = True, strict: bool = False) -> None:
        self.target_spec = target or DEFAULT_TARGET
        self.pager = pager  # long output on a terminal goes through a pager (socdbg/pager.py)
        # the live-target write policy (socdbg/safety.py): --allow-writes, --yes,
        # --force-unsafe, and the interactive shell's confirmation question
        self.allow_writes = allow_writes
        self.yes = yes
        self.force_unsafe = force_unsafe
        self.ask: Callable[[str, str], str] | None = None
        self.map_files = list(map_files) if map_files else None
        self.map_format = map_format  # --format: rdl, svd or ipxact; None guesses per file
        self.strict = strict  # --strict: a map the loader had to repair is refused
        self.debug = debug
        self._out = out
        self._width = width
        self._color = color
        self._map: RegMap | None = None
        self._target: Target | None = None
        self._console: Console | None = None
        self.target_locked: str | None = None  # why the target may not change (a server)
        #: put in front of every target the session opens from now on (the dry run of
        #: ``socdbg run --dry-run``), so ``target``, ``dump --target`` and ``butr --target``
        #: in a script cannot step outside it
        self.wrap_target: Callable[[Target], Target] | None = None
        self.state: dict[str, Any] = {}  # per-session state of commands (symbols, recording)
        # decides, from the parsed command and its metadata, whether a line may run (the
        # server's read-only policy, the dry run): raise to refuse, return an Output to use
        # instead of running it, None to run it
        self.command_guard: Callable[[Parsed], Output | None] | None = None
        self._owns_target = True  # False in a fork: the target is its parent's to close

    # --- the map ---------------------------------------------------------------------------
    def load_map(self, files: Sequence[str] | None = None,
                 defines: Mapping[str, str] | None = None) -> RegMap:
        """Load a map through the cache: ``files`` or the session's map (--map or the
        reference SoC), with optional preprocessor ``defines``."""
        from socdbg.regmap import load_map, reference_map_path

        chosen = list(files) if files else self.map_files
        if not chosen:
            ref = reference_map_path()
            if not ref.is_file():
                raise MapError(f"the reference map {ref} is missing",
                               "pass --map FILE.rdl, or install socdbg from its source tree")
            chosen = [str(ref)]
        includes = sorted({str(Path(f).resolve().parent) for f in chosen})
        return load_map(chosen, includes, defines, format=None if files else self.map_format)

    @property
    def map(self) -> RegMap:
        """The map commands resolve paths in: --map when given (with the target's defines,
        e.g. sim:mesh=8x8); else the target's own map (``sim:PATH.rdl``, ``sim:mesh=...``,
        a dump); else the reference SoC. An explicit --map over a ``sim:OTHER.rdl`` target is
        how a model (or a chip) is checked against the map under test."""
        if self._map is None:
            if self.map_files is not None:
                loaded = self.load_map(None, self._target_defines())
            elif self._target_names_map():
                from socdbg.targets.base import HasMap

                tgt = self.target
                loaded = tgt.regmap if isinstance(tgt, HasMap) else self.load_map()
            else:
                loaded = self.load_map()
            self._check(loaded)
            self._map = loaded
        return self._map

    def _check(self, regmap: RegMap) -> None:
        """Refuse a repaired map under --strict; else say its warnings once."""
        if self.strict:
            regmap.refuse_repairs("--strict refuses what socdbg would repair")
        _announce(regmap)

    def _target_defines(self) -> dict[str, str]:
        from socdbg.targets.base import split_spec

        name, arg = split_spec(self.target_spec)
        if name != "sim" or not arg:
            return {}
        from socdbg.targets.sim import mesh_defines, parse_options

        return mesh_defines(parse_options(arg)[1])

    def _target_names_map(self) -> bool:
        from socdbg.targets.base import split_spec

        name, arg = split_spec(self.target_spec)
        return (name in ("sim", "dump", "rtl") and bool(arg)) or self._target is not None

    # --- the target ------------------------------------------------------------------------
    @property
    def target(self) -> Target:
        if self._target is None:
            from socdbg.targets.base import open_target

            target = open_target(self.target_spec, self._loader_for_target)
            if self.allow_writes:
                from socdbg.safety import arm

                try:
                    arm(target, self)
                except SocdbgError:
                    target.close()
                    raise
            if self.wrap_target is not None:
                target = self.wrap_target(target)
            self._target = target
        return self._target

    def _loader_for_target(self, files: Sequence[str] | None = None,
                           defines: Mapping[str, str] | None = None) -> RegMap:
        if files:  # the target names its own map (sim:PATH.rdl)
            return self.load_map(files, defines)
        if defines:
            return self.load_map(None, defines)
        return self.map if self._map is not None else self._base_map()

    def _base_map(self) -> RegMap:
        loaded = self.load_map()
        self._check(loaded)
        self._map = loaded
        return self._map

    def _check_unlocked(self) -> None:
        if self.target_locked:
            raise UsageError(f"the target cannot be changed here: {self.target_locked}")

    def use_target(self, target: Target) -> None:
        """Replace the open target with ``target`` (a wrapper of it, e.g. read-only)."""
        self._target = target

    @property
    def has_target(self) -> bool:
        return self._target is not None

    def switch_target(self, spec: str) -> None:
        """Close the current target and open ``spec`` (the map follows it if it names one)."""
        self._check_unlocked()
        old_target, old_spec, old_map = self._target, self.target_spec, self._map
        self.target_spec = spec
        self._target = None
        if self.map_files is None:
            self._map = None
        try:
            _ = self.target
            _ = self.map
        except SocdbgError:
            self._target, self.target_spec, self._map = old_target, old_spec, old_map
            raise
        if old_target is not None:
            old_target.close()

    @contextlib.contextmanager
    def scoped_target(self, spec: str | None) -> Iterator[None]:
        """Use target ``spec`` for one command (``dump --target T``), then put the session's
        own target back; with None, do nothing."""
        if not spec:
            yield
            return
        self._check_unlocked()
        saved = (self._target, self.target_spec, self._map)
        self._target, self.target_spec = None, spec
        if self.map_files is None:
            self._map = None
        try:
            yield
        finally:
            if self._target is not None:
                with contextlib.suppress(TargetError):
                    self._target.close()
            self._target, self.target_spec, self._map = saved

    def fork(self) -> Session:
        """A session on this one's map and open target with its own command state
        (variables, recording, trace, script folder): one per client of ``socdbg serve``.
        Closing it leaves the target open."""
        child = Session(self.target_spec, self.map_files, self.debug,
                        allow_writes=self.allow_writes, yes=self.yes,
                        force_unsafe=self.force_unsafe, map_format=self.map_format,
                        strict=self.strict)
        child._map = self.map
        child._target = self.target
        child._owns_target = False
        child.target_locked = self.target_locked
        return child

    def close(self) -> None:
        for hook in self.state.pop("on_close", {}).values():  # e.g. finish an open trace
            hook()
        if not self._owns_target:
            self._target = None
        if self._target is not None:
            with contextlib.suppress(TargetError):
                self._target.close()
            self._target = None

    # --- output ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def capture(self, width: int = 100, limit: int | None = None) -> Iterator[io.StringIO]:
        """Send everything commands print into a string (``monitor`` output of the server);
        past ``limit`` characters the rest is dropped and ``buf.truncated`` is set."""
        saved = (self._out, self._console, self._width, self._color)
        buf = io.StringIO() if limit is None else CappedBuffer(limit)
        self._out, self._console, self._width, self._color = buf, None, width, False
        try:
            yield buf
        finally:
            self._out, self._console, self._width, self._color = saved

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = self._out or sys.stdout
            width = self._width
            if width is None and not stream.isatty() and "COLUMNS" not in os.environ:
                width = 120  # piped into a file or a pager: do not squeeze tables to 80
            self._console = Console(file=stream, width=width,
                                    force_terminal=self._color,
                                    # None lets rich honour NO_COLOR
                                    no_color=True if self._color is False else None,
                                    highlight=False, soft_wrap=False, emoji=False)
        return self._console

    @property
    def color_lines(self) -> bool:
        """Whether streamed plain lines (``peek``) carry ANSI colours: on a terminal, unless
        colour is off for this session or NO_COLOR is set."""
        stream = self._out or sys.stdout
        if self._color is not None:
            return self._color
        return stream.isatty() and not os.environ.get("NO_COLOR")

    def emit(self, output: Output | None) -> None:
        """Show a command's output: JSON for --json, else its rich view or text."""
        if output is None:
            return
        stream = self._out or sys.stdout
        if output.as_json:
            stream.write(json.dumps(output.data, indent=2, default=_json_default) + "\n")
            stream.flush()
            return
        if output.stream is not None:
            if self._console is not None:
                self._console.file.flush()
            self._show(output.stream, stream)
        elif output.render is not None:
            self._print(output.render(), stream)
        elif output.text is not None:
            # plain text needs no rich (a one-shot write should not pay for importing it)
            if self._console is not None:
                self._console.file.flush()
            colour = not output.ok and self._color is not False and stream.isatty()
            text = f"\033[1;31m{output.text}\033[0m" if colour else output.text
            self._show([text], stream)

    def _show(self, lines: Iterable[str], stream: TextIO) -> None:
        """Plain lines: through the pager when they outgrow the terminal, else as they are
        (into a pipe: no trailing spaces)."""
        if stream.isatty():  # the pager (and subprocess) only for a terminal
            import shutil

            from socdbg.pager import pager_command, show

            height = shutil.get_terminal_size().lines - 1
            show(lines, stream, height, pager_command(not self.pager))
            return
        for line in lines:
            stream.write("\n".join(part.rstrip() for part in line.split("\n")) + "\n")
        stream.flush()

    def _print(self, renderable: Any, stream: TextIO) -> None:
        """A rich view: on a terminal, through the pager when taller than the screen; into a
        pipe as plain text (no trailing spaces, no box drawing)."""
        from socdbg.pager import pager_command, plain

        console = self.console
        if console.is_terminal:
            pager = pager_command(not self.pager)
            if pager is None:
                console.print(renderable)
                return
            with console.capture() as cap:
                console.print(renderable)
            from socdbg.pager import show

            show([cap.get().rstrip("\n")], console.file, console.height - 1, pager)
            return
        with console.capture() as cap:
            console.print(renderable)
        console.file.write(plain(cap.get()))
        console.file.flush()


class CappedBuffer(io.StringIO):
    """A StringIO that keeps the first ``limit`` characters written and drops the rest."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.truncated = False

    def write(self, s: str) -> int:
        room = self.limit - self.tell()
        if len(s) > room:
            self.truncated = True
            if room > 0:
                super().write(s[:room])
            return len(s)
        return super().write(s)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _announce(regmap: RegMap) -> None:
    """Say on stderr, once per map a session loads, what its loader repaired or approximated
    (``info`` lists it again)."""
    for warning in regmap.warnings:
        print(f"warning: {warning}", file=sys.stderr)
