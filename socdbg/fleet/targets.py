"""The targets file of a fleet: one target per line, an optional name and labels.

::

    # TARGET                  NAME       LABELS
    gdb://10.0.0.5:3333       board-05   rack=a,fw=2.1
    gdb://[fd00::7]:3333      board-07
    sim:mesh=4x4              model-4x4  sim
    dump:old/chip7.json.gz    chip7

Columns are separated by blanks; ``#`` starts a comment (at the start of a line or after a
blank). The name defaults to the target string; names are unique. Labels are a
comma-separated list of ``key=value`` or bare words.

The file is untrusted: every line is checked before anything connects (a known backend, a
well-formed ``gdb://HOST:PORT``, ``sim`` options the simulator knows, a ``dump:`` file that
exists and is a regular file; relative ``dump:`` and ``sim:`` map paths are relative to the
targets file). Each problem is one error naming FILE:LINE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from socdbg.errors import SocdbgError, TargetError, UsageError, did_you_mean
from socdbg.targets.base import BUILTIN, split_spec

MAX_FILE = 16 << 20  # bytes of a targets file
MAX_TARGETS = 100_000
MAX_LINE = 4096
MAX_NAME = 128
_GDB = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})"
                  r"(?:\?(?P<query>[A-Za-z0-9_.=&]*))?")
_GDB_OPTION = re.compile(r"timeout=\d+(\.\d*)?|phys=[01]")
_LABEL = re.compile(r"[A-Za-z0-9_.:/+-]+(=[A-Za-z0-9_.:/+-]*)?")
#: The backends whose targets are real hardware, or may be (a gdb stub): a fleet run against
#: them is read-only unless --allow-writes, confirmed once.
LIVE_BACKENDS = ("gdb", "mmio", "pci", "uio")


@dataclass(frozen=True)
class FleetTarget:
    """One line of a targets file."""

    spec: str
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    where: str = ""  # FILE:LINE

    @property
    def backend(self) -> str:
        return split_spec(self.spec)[0]

    @property
    def host(self) -> str | None:
        """The host whose debug connections this target uses (None: none, a simulator or a
        dump on the worker): per-host concurrency is bounded on it."""
        name, arg = split_spec(self.spec)
        if name == "gdb":
            m = _GDB.fullmatch(arg)
            return m.group("host").strip("[]").lower() if m else None
        if name in ("mmio", "pci", "uio"):
            return "localhost"
        return None

    @property
    def live(self) -> bool:
        return self.backend in LIVE_BACKENDS


def read_targets(path: str | Path) -> list[FleetTarget]:
    """Read and check a targets file; one :class:`UsageError` naming FILE:LINE for the first
    problem."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE + 1)
    except FileNotFoundError:
        raise UsageError(f"{p}: no such targets file") from None
    except OSError as exc:
        raise UsageError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE:
        raise UsageError(f"{p}: more than {MAX_FILE >> 20} MiB: not a targets file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise UsageError(f"{p}:{line}: not UTF-8 text") from None
    return parse_targets(text, str(p), p.parent)


def parse_targets(text: str, file: str, base: Path) -> list[FleetTarget]:
    out: list[FleetTarget] = []
    names: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), 1):
        where = f"{file}:{number}"
        if len(line) > MAX_LINE:
            raise UsageError(f"{where}: line longer than {MAX_LINE} characters")
        words = _strip_comment(line.rstrip("\r")).split()
        if not words:
            continue
        if len(words) > 3:
            raise UsageError(f"{where}: {len(words)} columns, expected TARGET [NAME [LABELS]]",
                             "labels are one column: key=value,key=value")
        if len(out) >= MAX_TARGETS:
            raise UsageError(f"{where}: more than {MAX_TARGETS} targets")
        spec = _check_spec(words[0], where, base)
        name = words[1] if len(words) > 1 else words[0]
        _check_name(name, where)
        if name in names:
            raise UsageError(f"{where}: target name '{name}' is used twice",
                             f"first at {names[name]}; names are unique")
        names[name] = where
        labels = _labels(words[2], where) if len(words) > 2 else {}
        out.append(FleetTarget(spec, name, labels, where))
    if not out:
        raise UsageError(f"{file}: no targets", "one target string per line")
    return out


def _strip_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    cut = re.search(r"\s#", line)
    return line[:cut.start()] if cut else line


def _check_name(name: str, where: str) -> None:
    if len(name) > MAX_NAME:
        raise UsageError(f"{where}: target name longer than {MAX_NAME} characters")
    if not name.isprintable():
        raise UsageError(f"{where}: target name {name!r} has control characters")


def _labels(text: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        if not _LABEL.fullmatch(item):
            raise UsageError(f"{where}: bad label '{item}'",
                             "labels are key=value or words of letters, digits and ._:/+-")
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _check_spec(spec: str, where: str, base: Path) -> str:
    name, arg = split_spec(spec)
    if name not in BUILTIN:
        from socdbg.targets.base import backends

        try:
            known = backends()
        except SocdbgError:
            known = {}
        if name not in known:
            raise UsageError(f"{where}: unknown target '{spec}'",
                             did_you_mean(name, [*BUILTIN, *known]) or
                             "targets: sim, gdb://HOST:PORT, mmio:..., dump:FILE")
        return spec
    if name == "gdb":
        return _check_gdb(spec, arg, where)
    if name == "dump":
        return "dump:" + str(_local_file(arg, where, base, "dump"))
    if name == "sim":
        return _check_sim(arg, where, base)
    return spec  # mmio, pci, uio: their own strings, checked when opened on the worker


def _check_gdb(spec: str, arg: str, where: str) -> str:
    m = _GDB.fullmatch(arg)
    if m is None:
        raise UsageError(f"{where}: bad gdb target '{spec}'", "expected gdb://HOST:PORT")
    if not 0 < int(m.group("port")) < 65536:
        raise UsageError(f"{where}: gdb target '{spec}': port out of range")
    for item in filter(None, (m.group("query") or "").split("&")):
        if not _GDB_OPTION.fullmatch(item):
            raise UsageError(f"{where}: gdb target '{spec}': bad option '{item}'",
                             "options: timeout=SECONDS, phys=0|1")
    return spec


def _check_sim(arg: str, where: str, base: Path) -> str:
    from socdbg.targets.sim import parse_options

    try:
        path, options = parse_options(arg)
        from socdbg.models.options import SimOptions

        SimOptions.parse(options)
    except TargetError as exc:
        raise UsageError(f"{where}: {exc.message}", exc.hint) from None
    if path is None:
        return "sim" + (":" + arg if arg else "")
    full = _local_file(path, where, base, "sim map")
    return "sim:" + ",".join([str(full), *(f"{k}={v}" for k, v in options.items())])


def _local_file(text: str, where: str, base: Path, what: str) -> Path:
    if not text or "\x00" in text:
        raise UsageError(f"{where}: {what} target needs a file name")
    path = Path(text)
    full = path if path.is_absolute() else base / path
    if not full.is_file():
        raise UsageError(f"{where}: {what} file {text} does not exist or is not a file")
    return full.resolve()


def with_timeout(spec: str, seconds: float) -> str:
    """``gdb://HOST:PORT`` with ``?timeout=SECONDS`` unless the line sets its own: every
    connect and access of a fleet task is bounded."""
    name, arg = split_spec(spec)
    if name != "gdb" or "timeout=" in arg:
        return spec
    return f"{spec}{'&' if '?' in arg else '?'}timeout={seconds:g}"
