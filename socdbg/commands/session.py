"""The session every command runs in: the map, the target (opened on first use), the
commands' typed state (variables, dry run, recorder, trace, scripts, symbols) and the
:class:`~socdbg.commands.presenter.Presenter` that shows their output.

The REPL keeps one session for its whole life; a one-shot CLI call and a script run make one
each. Nothing here is imported eagerly that a one-shot ``regs`` or ``read`` does not need.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from socdbg.commands.presenter import Presenter
from socdbg.errors import MapError, SocdbgError, TargetError, UsageError

if TYPE_CHECKING:
    from socdbg.commands.meta import Parsed
    from socdbg.commands.output import Output
    from socdbg.firmware import ElfImage
    from socdbg.regmap import RegMap
    from socdbg.targets.base import Target
    from socdbg.timeline import PerfettoTrace
    from socdbg.trace import VcdTrace

DEFAULT_TARGET = "sim"


class CommandRecorder(Protocol):
    """What ``record start`` keeps in the session: told of every command line that ran."""

    def record(self, words: list[str], output: Output | None) -> None: ...


@dataclass
class Scripts:
    """The scripts running in a session: ``stack`` holds their files, outermost first
    (``source`` and ``run`` nest through it, so include cycles are seen across both);
    ``folder`` is the folder of the script whose line runs now (relative paths in it, e.g.
    ``expect mem ADDR == FILE``, resolve there), None outside a script."""

    stack: list[Path] = field(default_factory=list)
    folder: Path | None = None

    def resolve(self, name: str | Path) -> Path:
        """``name`` relative to the running script's folder (else the working folder)."""
        return (self.folder or Path(".")) / name


class Session:
    def __init__(self, target: str | None = None, map_files: Sequence[str] | None = None,
                 debug: bool = False, out: TextIO | None = None, width: int | None = None,
                 color: bool | None = None, allow_writes: bool = False, yes: bool = False,
                 force_unsafe: bool = False, map_format: str | None = None,
                 pager: bool = True, strict: bool = False) -> None:
        self.target_spec = target or DEFAULT_TARGET
        #: shows what commands produce: console, emit(), capture() (socdbg/commands/presenter)
        self.presenter = Presenter(out, width, color, pager)
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
        self._map: RegMap | None = None
        self._target: Target | None = None
        self.target_locked: str | None = None  # why the target may not change (a server)
        #: put in front of every target the session opens from now on (the dry run of
        #: ``socdbg run --dry-run``), so ``target``, ``dump --target`` and ``butr --target``
        #: in a script cannot step outside it
        self.wrap_target: Callable[[Target], Target] | None = None
        # --- the commands' own state (a fork starts with its own) ---
        self.variables: dict[str, str] = {}  # ${NAME}: set NAME VALUE, run --define
        self.dry_run = False  # inside socdbg run --dry-run: no time passes, nothing is written
        self.recorder: CommandRecorder | None = None  # record start FILE
        self.trace: VcdTrace | PerfettoTrace | None = None  # trace start FILE.vcd|FILE.json
        self.scripts = Scripts()  # the scripts running now (source, run)
        self.symbols: list[ElfImage] = []  # ELF images loaded (load, sym)
        #: the noc counters seen so far, (cycle, values) oldest first: noc --since
        self.noc_views: list[tuple[int, dict[str, int]]] = []
        #: ``links`` views so far: (cycle, bytes sent per (chip, port)), for utilisation
        self.link_views: list[tuple[int, dict[tuple[int, int], int]]] = []
        #: a one-shot CLI call: record start / trace start cannot outlive it
        self.one_shot = False
        #: run by close(), by name (e.g. finish an open trace)
        self.on_close: dict[str, Callable[[], None]] = {}
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
        from socdbg.targets.base import map_defines

        return map_defines(self.target_spec)

    def _target_names_map(self) -> bool:
        from socdbg.targets.base import brings_map

        return brings_map(self.target_spec) or self._target is not None

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

    def close(self, keep_target: bool = False) -> None:
        """Run the ``on_close`` hooks and close the target, unless the session borrowed it
        (a fork, or ``keep_target``: whoever lent it closes it)."""
        hooks, self.on_close = self.on_close, {}
        for hook in hooks.values():  # e.g. finish an open trace
            hook()
        if keep_target or not self._owns_target:
            self._target = None
        if self._target is not None:
            with contextlib.suppress(TargetError):
                self._target.close()
            self._target = None


def _announce(regmap: RegMap) -> None:
    """Say on stderr, once per map a session loads, what its loader repaired or approximated
    (``info`` lists it again)."""
    for warning in regmap.warnings:
        print(f"warning: {warning}", file=sys.stderr)
