"""The one small protocol every backend implements, and the target-string registry.

A backend sees integer addresses and bytes only. ``read``/``write`` are single accesses of
exactly ``size`` bytes (1, 2, 4 or 8) at an aligned address; ``read_block``/``write_block`` move
memory-like bulk data and may be split however the backend likes. Optional abilities (halt,
step, reset, core registers, simulated time, block-coalescing of register reads) are declared in
``capabilities`` and implemented by the matching optional protocol, never stubbed.

Backends register through the ``socdbg.targets`` entry-point group; a name offered twice is an
error when the registry is first read. Opening a target imports only its backend's module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeGuard, runtime_checkable

from socdbg.errors import TargetError, did_you_mean

if TYPE_CHECKING:
    from socdbg.regmap import RegMap

#: Capability names a target may declare.
CAP_TIME = "time"  # simulated time: SimTime protocol (step, run_until, now)
CAP_HALT = "halt"  # halt/resume a CPU
CAP_STEP = "step"
CAP_RESET = "reset"
CAP_CORE_REGS = "core-registers"
#: read_block over a run of adjacent registers performs one access per register at the
#: register's access width (never split, never merged): socdbg/access.py groups such runs.
CAP_COALESCE = "coalesce"
CAP_WRITE = "write"  # writes are possible at all (a dump is read-only)
#: A record of a target, not a target (a postmortem dump): never written, whatever the
#: options; RECORD_HINT says so when a write is refused.
CAP_RECORD = "dump"
RECORD_HINT = "a dump is a record: it is never written"
CAP_SIMULATOR = "simulator"  # a model, not hardware: self-tests may write freely
#: Live silicon (``mmio``, ``pci``, ``uio``): writes reach a real chip, so the write policy of
#: socdbg/safety.py applies (read-only unless --allow-writes, confirmation, unsafe_write).
CAP_LIVE = "live"
#: The dry-run view of ``socdbg run --dry-run``: writes and every other change of state are
#: reported, not performed (socdbg/targets/dryrun.py). It never declares ``live``.
CAP_DRY_RUN = "dry-run"
#: A dry run of a live target: nothing is written, so nobody is asked, but every refusal of
#: the live write policy (read-only without --allow-writes, unsafe_write without
#: --force-unsafe) still applies, so the dry run fails where the real run would.
CAP_LIVE_POLICY = "live-policy"


@runtime_checkable
class Target(Protocol):
    spec: str
    capabilities: frozenset[str]

    def read(self, address: int, size: int) -> bytes: ...

    def write(self, address: int, data: bytes) -> None: ...

    def read_block(self, address: int, size: int) -> bytes: ...

    def write_block(self, address: int, data: bytes) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class SimTime(Protocol):
    """A target with simulated time (capability ``time``).

    ``run_until_text`` takes a condition in the command language (``PATH[.FIELD] OP VALUE``)
    so that a remote simulator (``socdbg serve``) can evaluate it where the model runs and
    give exactly the answer the local simulator would.
    """

    @property
    def now(self) -> int: ...

    def step(self, cycles: int = 1) -> None: ...

    def run_until_text(self, condition: str, max_cycles: int) -> bool: ...


def has_time(target: object) -> TypeGuard[SimTime]:
    """True for targets whose time is simulated (local or behind socdbg serve): a
    :class:`SimTime` that says so in its capabilities."""
    caps: frozenset[str] = getattr(target, "capabilities", frozenset())
    return CAP_TIME in caps and isinstance(target, SimTime)


# --- capability protocols of bulk reads (socdbg/access.py plans with them) -------------------
class AccessLayout(Protocol):
    """What a backend that follows the map for its block transfers is given instead of the
    map (socdbg/access_plan.py ``MapLayout``): addresses and sizes, never registers."""

    def block_accesses(self, op: str, address: int, size: int) -> list[tuple[int, int]]:
        """The single accesses (address, size) of a block ``op`` ("read" or "write")."""
        ...

    def name_at(self, address: int) -> str:
        """What lies at ``address``, for messages: `` (dma.ch[0].ctrl)``, or ``""``."""
        ...


@runtime_checkable
class BlockLimits(Protocol):
    """A target whose single block transfer has a largest size (a gdb stub's packet)."""

    @property
    def max_read(self) -> int: ...


@runtime_checkable
class RangeReads(Protocol):
    """A target that reads a list of (address, size) block ranges in few round trips
    (behind ``socdbg serve``): one result per range, a failed range is its TargetError."""

    def read_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes | TargetError]: ...


@runtime_checkable
class AccessReads(Protocol):
    """A target that performs a list of single accesses, each exactly as given (never split
    or merged), several in flight (a gdb stub): one result per access, a failed access is
    its TargetError."""

    def read_accesses(self, accesses: Sequence[tuple[int, int]]
                      ) -> list[bytes | TargetError]: ...


@runtime_checkable
class CoreRegisters(Protocol):
    """A target with a CPU whose registers can be read and written (``core-registers``)."""

    def core_register_names(self) -> list[str]: ...

    def read_core_register(self, name: str) -> int: ...

    def write_core_register(self, name: str, value: int) -> None: ...


class CoreRegInfo(Protocol):
    name: str
    regnum: int
    bits: int


@runtime_checkable
class CpuDescription(Protocol):
    """A CPU target that can describe itself in GDB's target-description XML."""

    def core_registers(self) -> Sequence[CoreRegInfo]: ...

    def target_description(self, annex: str) -> bytes: ...


@runtime_checkable
class RunControl(Protocol):
    """A target with a CPU that can be halted, resumed and single-stepped (``halt``)."""

    running: bool

    def halt(self) -> object: ...

    def resume(self) -> None: ...

    def step_instruction(self) -> object: ...


@runtime_checkable
class Monitor(Protocol):
    """A target that passes text commands to its stub (GDB ``monitor``)."""

    def monitor(self, command: str) -> str: ...


@runtime_checkable
class Reconnectable(Protocol):
    def reconnect(self) -> None: ...


@runtime_checkable
class Resettable(Protocol):
    def reset(self) -> None: ...


@runtime_checkable
class HasMap(Protocol):
    """A target built on a map of its own (the simulator of ``sim:PATH.rdl``, a dump)."""

    regmap: RegMap


class MapLoader(Protocol):
    def __call__(self, files: Sequence[str] | None = None,
                 defines: Mapping[str, str] | None = None) -> RegMap: ...


@dataclass(frozen=True)
class Completions:
    """What a target string typed so far may become: whole target strings to offer
    (``choices``), and file names after ``files_after`` (``dump:``) when it is set."""

    choices: tuple[str, ...] = ()
    files_after: str | None = None


def no_map(arg: str) -> bool:
    """The default of :attr:`Backend.brings_map`: the target uses the session's map."""
    return False


def no_defines(arg: str) -> dict[str, str]:
    """The default of :attr:`Backend.map_defines`: the target string sets no defines."""
    return {}


def no_completions(typed: str) -> Completions:
    """The default of :attr:`Backend.complete`: nothing beyond the backend's name."""
    return Completions()


def no_files(arg: str) -> bool:
    """The default of :attr:`Backend.opens_files`: the target opens no file of this host."""
    return False


@dataclass(frozen=True)
class Backend:
    """A registered backend: everything socdbg knows about one kind of target string lives
    here, so the session, the completer and the commands never look at a target string.

    ``open(arg, load_map)`` gets the text after ``name:`` (or after ``name://``) and a
    function that loads a map (the session's map when called with no files); it parses its
    own syntax and raises a TargetError naming what is wrong. ``describe`` is one line for
    ``info`` and the docs, ``example`` a target string. The rest have defaults, for a backend
    that uses the session's map and offers nothing to complete:

    * ``brings_map(arg)``: the target has a map of its own (``sim:PATH.rdl``, ``dump:FILE``),
      which the session uses (through :class:`HasMap`) unless ``--map`` is given;
    * ``map_defines(arg)``: defines the target string sets on the session's map
      (``sim:mesh=8x8`` sets MESH_X and MESH_Y);
      (neither is asked for a bare name: ``sim`` alone uses the session's map as it is)
    * ``complete(typed)``: completions for the whole target string typed so far;
    * ``opens_files(arg)``: the target opens a file or device of this host (the commands'
      metadata: a command naming such a target touches host files);
    * ``alone``: the name alone is a target string (``sim``), offered without a colon.
    """

    name: str
    open: Callable[[str, MapLoader], Target]
    describe: str
    example: str
    brings_map: Callable[[str], bool] = no_map
    map_defines: Callable[[str], dict[str, str]] = no_defines
    complete: Callable[[str], Completions] = no_completions
    opens_files: Callable[[str], bool] = no_files
    alone: bool = False


def split_spec(spec: str) -> tuple[str, str]:
    """``gdb://host:1234`` -> (``gdb``, ``host:1234``); ``sim:mesh=8x8`` -> (``sim``, ...)."""
    name, sep, rest = spec.partition(":")
    if not sep:
        return spec, ""
    return name, rest[2:] if rest.startswith("//") else rest


#: The backends of this package, as their ``socdbg.targets`` entry points name them (a test
#: checks this against pyproject.toml). A target string naming one of these imports that one
#: module only; reading the entry points (importlib.metadata, ~30 ms) is for other names.
BUILTIN: dict[str, str] = {
    "sim": "socdbg.targets.sim:BACKEND",
    "gdb": "socdbg.targets.gdb:BACKEND",
    "dump": "socdbg.targets.dump:BACKEND",
    "mmio": "socdbg.targets.mmio:MMIO_BACKEND",
    "pci": "socdbg.targets.mmio:PCI_BACKEND",
    "uio": "socdbg.targets.mmio:UIO_BACKEND",
    "rtl": "socdbg.targets.rtl:BACKEND",
}


def _load_ref(ref: str) -> Backend:
    import importlib

    module, _, attr = ref.partition(":")
    backend = getattr(importlib.import_module(module), attr)
    if not isinstance(backend, Backend):
        raise TargetError(f"entry point {ref} is not a socdbg Backend")
    return backend


@functools.cache
def backend(name: str) -> Backend | None:
    """The backend called ``name``, importing its module only; None when nothing offers it."""
    if name in BUILTIN:
        return _load_ref(BUILTIN[name])
    return backends().get(name)


@functools.cache
def backends() -> dict[str, Backend]:
    """Every backend offered through the ``socdbg.targets`` entry points, by name (imports
    them all: for listings and did-you-mean, not for opening one)."""
    from importlib.metadata import entry_points

    found: dict[str, Backend] = {}
    refs: dict[str, str] = {}
    for name, ref in BUILTIN.items():
        found[name], refs[name] = _load_ref(ref), ref
    for ep in entry_points(group="socdbg.targets"):
        if refs.get(ep.name) == ep.value:  # this package's own entry point
            continue
        loaded = ep.load()
        if not isinstance(loaded, Backend):
            raise TargetError(f"entry point {ep.value} is not a socdbg Backend")
        if loaded.name in found:
            raise TargetError(f"target backend '{loaded.name}' is registered twice",
                              f"{ep.value} and {refs[loaded.name]} both offer it")
        found[loaded.name], refs[loaded.name] = loaded, ep.value
    return found


def backend_of(spec: str) -> tuple[Backend | None, str]:
    """The backend a target string names (None when nothing offers it) and its argument."""
    name, arg = split_spec(spec.strip())
    return backend(name), arg


def brings_map(spec: str) -> bool:
    """Whether the target ``spec`` names has a map of its own (:attr:`Backend.brings_map`).
    A name without an argument (``sim``) uses the session's map: no backend is imported."""
    name, arg = split_spec(spec.strip())
    found = backend(name) if arg else None
    return found is not None and found.brings_map(arg)


def map_defines(spec: str) -> dict[str, str]:
    """The defines ``spec`` sets on the session's map (:attr:`Backend.map_defines`); none
    for a name without an argument."""
    name, arg = split_spec(spec.strip())
    found = backend(name) if arg else None
    return found.map_defines(arg) if found is not None else {}


def opens_files(spec: str) -> bool:
    """Whether the target ``spec`` names opens a host file (:attr:`Backend.opens_files`)."""
    found, arg = backend_of(spec)
    return found is not None and found.opens_files(arg)


def complete_target(typed: str) -> tuple[list[tuple[str, str]], str | None]:
    """Completions of a target string typed so far: (candidate, description) pairs, and the
    prefix after which file names complete (or None). Before a colon, the backends' names."""
    if ":" not in typed:
        return [(n if b.alone else f"{n}:", b.describe)
                for n, b in sorted(backends().items())], None
    found = backend(typed.partition(":")[0])
    if found is None:
        return [], None
    offer = found.complete(typed)
    return [(c, "") for c in offer.choices], offer.files_after


def open_target(spec: str, load_map: MapLoader) -> Target:
    name, arg = split_spec(spec.strip())
    found = backend(name)
    if found is None:
        table = backends()
        raise TargetError(f"unknown target '{spec}'",
                          did_you_mean(name, table) or "targets: " + ", ".join(
                              b.example for b in table.values()))
    return found.open(arg, load_map)

