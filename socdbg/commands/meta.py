"""Command metadata, a leaf module: a command's :class:`Meta` (declared when it is
registered), the :class:`Effects` of one invocation, and a :class:`Parsed` command line.
The registry (socdbg.commands.registry) fills and parses them; the session, the server's
policy and the dry run read them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Help categories, in the order ``help`` and docs/commands.md list them.
CATEGORIES: dict[str, str] = {
    "registers": "Registers and memory",
    "map": "The register map",
    "simulation": "Simulated time",
    "views": "Views",
    "checks": "Checks and scripts",
    "firmware": "Firmware",
    "cpu": "CPU and connection",
    "postmortem": "Dumps and tests",
    "session": "Session",
}


@dataclass(frozen=True)
class Effects:
    """What one parsed command line does besides reading the target.

    ``writes``: writes target memory or registers (through ``Target.write``, so a dry run's
    wrapper can report them); ``controls``: any other change of the target's state (reset,
    CPU run control or CPU registers, reconnecting, switching the target, the stub's own
    monitor); ``time``: advances simulated time on a target that has it; ``reads_files`` /
    ``writes_files``: host paths the command reads / writes."""

    writes: bool = False
    controls: bool = False
    time: bool = False
    reads_files: tuple[str, ...] = ()
    writes_files: tuple[str, ...] = ()

    @property
    def host_files(self) -> tuple[str, ...]:
        return self.reads_files + self.writes_files

    def __or__(self, other: Effects) -> Effects:
        return Effects(self.writes or other.writes, self.controls or other.controls,
                       self.time or other.time, self.reads_files + other.reads_files,
                       self.writes_files + other.writes_files)


Decide = Callable[[Mapping[str, Any]], Effects]


@dataclass(frozen=True)
class Meta:
    """A command's metadata, declared when it is registered.

    ``writes``/``controls``/``time`` hold whatever the parameters (see :class:`Effects`);
    ``reads_files``/``writes_files`` name the PARAMETERS (click's param names, e.g.
    ``"junit"``) whose values are host paths read/written when given; ``decide`` adds what
    depends on parameter values (``expect mem ADDR == FILE``, ``core NAME VALUE``);
    ``subcommands`` holds the metadata of a group's subcommands (the group's own is added).
    ``own_dry_run``: the command handles ``socdbg run --dry-run`` itself and changes nothing
    then (``poll`` reads once instead of waiting). ``json``: the command's Output carries
    JSON-able ``data``, so :func:`~socdbg.commands.registry.register` gives it ``--json``
    (a command never declares that option itself). ``cli_only``: a command of the
    ``socdbg`` command line alone (``shell``, ``serve``), not of the shell or scripts; it is
    registered in the same table so no two commands share a name."""

    category: str
    writes: bool = False
    controls: bool = False
    time: bool = False
    reads_files: tuple[str, ...] = ()
    writes_files: tuple[str, ...] = ()
    decide: Decide | None = None
    subcommands: Mapping[str, Meta] = field(default_factory=dict)
    own_dry_run: bool = False
    json: bool = False
    cli_only: bool = False

    def effects(self, params: Mapping[str, Any]) -> Effects:
        """The effects of one invocation with these parsed parameters."""
        out = Effects(self.writes, self.controls, self.time,
                      _paths(params, self.reads_files), _paths(params, self.writes_files))
        if self.decide is not None:
            out = out | self.decide(params)
        return out


def _paths(params: Mapping[str, Any], names: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        value = params.get(name)
        if isinstance(value, tuple | list):
            out += [str(v) for v in value if v]
        elif value:
            out.append(str(value))
    return tuple(out)


@dataclass(frozen=True)
class Parsed:
    """One command line parsed by click without running it: the command path (``["trace",
    "start"]``), each level's parameters, and what the line would do."""

    path: tuple[str, ...]
    params: tuple[Mapping[str, Any], ...]
    effects: Effects
    metas: tuple[Meta, ...]

    @property
    def name(self) -> str:
        return " ".join(self.path)
