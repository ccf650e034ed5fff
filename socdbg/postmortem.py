"""Postmortem dumps: capture a whole chip's registers (and chosen memory) once, study it
offline, diff two captures field by field.

The file is JSON (gzip-compressed when the name ends in ``.gz``), versioned, self-contained
(it embeds the register description sources, so it decodes years later without the source
tree) and written atomically. A target failure midway still writes what was read, marked
incomplete with the failed address ranges. docs/postmortem.md describes the format.

Register reads are coalesced when the target declares ``coalesce``: runs of adjacent
registers that may be read are fetched with one block read each (the target still performs
one access per register at the register's width), split around holes, around registers that
must not be read and at the target's largest block.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socdbg import __version__
from socdbg.errors import SocdbgError, TargetError
from socdbg.regmap import Register, RegMap
from socdbg.targets.base import CAP_COALESCE, CAP_TIME, SimTime, Target

FORMAT = "socdbg-dump"
VERSION = 1
MAX_BLOCK = 0x10000  # largest coalesced read unless the target says less (max_read)


class DumpError(SocdbgError):
    """A dump file is missing, truncated, corrupt or of a future version."""


@dataclass
class Dump:
    """A loaded (or freshly captured) dump."""

    map_name: str
    map_identity: str
    map_sources: list[dict[str, str]]  # {"name": file name, "text": RDL source}
    map_defines: dict[str, str]
    map_top: str
    target: str
    wall_time: str
    cycle: int | None
    registers: dict[str, tuple[int, int, int]]  # path -> (address, bytes, value)
    memories: list[tuple[int, bytes]] = field(default_factory=list)  # (address, data)
    failed: list[tuple[int, int, str]] = field(default_factory=list)  # [start, end), why
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    socdbg_version: str = __version__

    @property
    def complete(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "socdbg": self.socdbg_version,
            "complete": self.complete,
            "map": {"name": self.map_name, "identity": self.map_identity,
                    "defines": self.map_defines, "top": self.map_top,
                    "sources": self.map_sources},
            "target": self.target,
            "wall_time": self.wall_time,
            "cycle": self.cycle,
            "registers": [[path, addr, size, f"{value:#x}"]
                          for path, (addr, size, value) in self.registers.items()],
            "memories": [{"address": addr, "size": len(data),
                          "zlib_base64": base64.b64encode(_deflate(data)).decode()}
                         for addr, data in self.memories],
            "failed": [[start, end, why] for start, end, why in self.failed],
            "skipped": [[path, why] for path, why in self.skipped],
        }


def _deflate(data: bytes) -> bytes:
    """A zlib stream of ``data``: compressed when a sample shows it pays (RAM full of zeros
    or code), stored when it does not (random data costs zlib more than the read took)."""
    sample = data[: 1 << 16]
    if len(zlib.compress(sample, 1)) > 0.9 * len(sample):
        return zlib.compress(data, 0)
    return zlib.compress(data, 6)


# --- capture ----------------------------------------------------------------------------------
def dump_skip_reason(reg: Register, include_side_effects: bool) -> str | None:
    if not reg.layout.readable:
        return "write-only"
    if reg.layout.read_side_effect and not include_side_effects:
        return "read side effects" + (" (unsafe_read)" if reg.layout.unsafe_read else "")
    return None


def memory_skip_reason(rmap: RegMap, addr: int, size: int, include_side_effects: bool
                       ) -> str | None:
    """Why a memory range is not captured: it overlaps a memory the map marks unsafe_read,
    or registers whose reads have side effects (unless ``include_side_effects``)."""
    if include_side_effects:
        return None
    end = addr + size
    for mem in rmap.memories:
        if mem.unsafe_read and mem.address < end and addr < mem.end:
            return f"read side effects (unsafe_read memory {mem.path})"
    hits = [r.path for r in rmap.in_range(addr, end)
            if r.layout.read_side_effect or not r.layout.readable]
    if hits:
        more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
        return f"read side effects (covers {', '.join(hits[:3])}{more})"
    return None


def plan_runs(regs: Sequence[Register], max_block: int) -> list[list[Register]]:
    """Group address-ordered registers into runs that touch (no hole between them), each at
    most ``max_block`` bytes."""
    runs: list[list[Register]] = []
    for reg in regs:
        if runs:
            run = runs[-1]
            last = run[-1]
            if reg.address == last.end and reg.end - run[0].address <= max_block:
                run.append(reg)
                continue
        runs.append([reg])
    return runs


def capture(target: Target, rmap: RegMap, registers: Sequence[Register],
            memories: Sequence[tuple[int, int]], include_side_effects: bool = False,
            progress: Callable[[int], None] | None = None) -> Dump:
    """Read ``registers`` and memory ranges (address, size) from ``target`` into a Dump.

    Never raises for a failed access: the range goes into ``failed`` and the rest is read.
    """
    values: dict[str, tuple[int, int, int]] = {}
    failed: list[tuple[int, int, str]] = []
    skipped: list[tuple[str, str]] = []
    readable: list[Register] = []
    for reg in registers:
        why = dump_skip_reason(reg, include_side_effects)
        if why:
            skipped.append((reg.path, why))
        else:
            readable.append(reg)
    cycle = _cycle(target)  # first: a target that dies midway must not cost the whole dump
    coalesce = CAP_COALESCE in target.capabilities
    limit = min(MAX_BLOCK, int(getattr(target, "max_read", MAX_BLOCK))) if coalesce else 0
    runs = plan_runs(readable, limit) if coalesce else [[r] for r in readable]
    from socdbg.access import read_register

    batch = getattr(target, "read_ranges", None) if coalesce else None
    if batch is not None:  # behind socdbg serve: every run in as few round trips as can be
        try:
            results = batch([(run[0].address, run[-1].end - run[0].address) for run in runs])
        except TargetError as exc:
            results = [exc] * len(runs)
        for run, got in zip(runs, results, strict=True):
            _store(values, failed, run, got)
            if progress is not None:
                progress(len(run))
        runs = []
    accesses = getattr(target, "read_accesses", None) if not coalesce else None
    if accesses is not None and runs:  # a gdb stub: every register access pipelined
        _read_pipelined(accesses, [run[0] for run in runs], values, failed)
        if progress is not None:
            progress(len(runs))
        runs = []
    for run in runs:
        start, end = run[0].address, run[-1].end
        try:
            if len(run) == 1:
                reg = run[0]
                values[reg.path] = (reg.address, reg.size, read_register(target, reg))
            else:
                _store(values, failed, run, target.read_block(start, end - start))
        except TargetError as exc:
            failed.append((start, end, exc.message))
        if progress is not None:
            progress(len(run))
    mems: list[tuple[int, bytes]] = []
    for addr, size in memories:
        why = memory_skip_reason(rmap, addr, size, include_side_effects)
        if why:
            mem = rmap.memory_at(addr)
            whole = mem is not None and (mem.address, mem.size) == (addr, size)
            skipped.append((mem.path if whole and mem else f"{addr:#x}+{size:#x}", why))
            continue
        try:
            mems.append((addr, _read_memory(target, addr, size)))
        except TargetError as exc:
            failed.append((addr, addr + size, exc.message))
    sources = embed_sources(rmap)
    return Dump(rmap.name, rmap.identity, sources, dict(rmap.source.defines), rmap.source.top,
                target.spec, datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                cycle, values, mems, failed, skipped)


def _read_pipelined(read_accesses: Callable[[list[tuple[int, int]]], list[Any]],
                    regs: Sequence[Register], values: dict[str, tuple[int, int, int]],
                    failed: list[tuple[int, int, str]]) -> None:
    """Each register as its own accesses at its access width, lowest address first (as
    access.read_register does), all sent at once with several in flight."""
    plan = [(reg, [(a, reg.accesswidth // 8) for a in range(reg.address, reg.end,
                                                            reg.accesswidth // 8)])
            for reg in regs]
    try:
        got = read_accesses([acc for _, accs in plan for acc in accs])
    except TargetError as exc:
        failed.extend((reg.address, reg.end, exc.message) for reg, _ in plan)
        return
    i = 0
    for reg, accs in plan:
        parts = got[i : i + len(accs)]
        i += len(accs)
        bad = next((p for p in parts if isinstance(p, TargetError)), None)
        if bad is not None:
            failed.append((reg.address, reg.end, bad.message))
            continue
        values[reg.path] = (reg.address, reg.size, int.from_bytes(b"".join(parts), "little"))


def _cycle(target: Target) -> int | None:
    if CAP_TIME not in target.capabilities or not isinstance(target, SimTime):
        return None
    try:
        return target.now
    except TargetError:
        return None


def _store(values: dict[str, tuple[int, int, int]], failed: list[tuple[int, int, str]],
           run: Sequence[Register], got: bytes | TargetError) -> None:
    """Split a run's block of bytes into its registers (or record the run as failed)."""
    start, end = run[0].address, run[-1].end
    if isinstance(got, TargetError):
        failed.append((start, end, got.message))
        return
    if len(got) != end - start:
        failed.append((start, end, f"short block read ({len(got)} of {end - start} bytes)"))
        return
    for reg in run:
        off = reg.address - start
        values[reg.path] = (reg.address, reg.size,
                            int.from_bytes(got[off : off + reg.size], "little"))


def _read_memory(target: Target, addr: int, size: int) -> bytes:
    out = bytearray()
    step = 1 << 20
    for off in range(0, size, step):
        out += target.read_block(addr + off, min(step, size - off))
    return bytes(out)


def embed_sources(rmap: RegMap) -> list[dict[str, str]]:
    """The map's files as {name, text}, named relative to the first source's folder (files
    from elsewhere go under ``include/``); the first entry is the top source."""
    from socdbg.regmap.cache import dependencies

    files = dependencies(rmap)
    if not files:
        return []
    home = files[0].parent
    out = []
    for f in files:
        try:
            name = f.relative_to(home).as_posix()
        except ValueError:
            name = f.name  # an include from elsewhere: beside the top file
        try:
            out.append({"name": name, "text": f.read_text(encoding="utf-8")})
        except OSError:
            continue
    return out


# --- files ------------------------------------------------------------------------------------
def write_dump(dump: Dump, path: str | Path) -> None:
    """Write atomically: a temporary file in the same folder, fsync, rename."""
    out = Path(path)
    data = json.dumps(dump.to_json(), separators=(",", ":")).encode()
    if out.suffix == ".gz":
        data = gzip.compress(data, 6)
    folder = out.parent if str(out.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=out.name, suffix=".tmp")
    except OSError as exc:
        raise DumpError(f"{out}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DumpError(f"{out}: cannot write: {exc.strerror}") from None


def read_dump(path: str | Path) -> Dump:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise DumpError(f"{p}: no such dump file") from None
    except OSError as exc:
        raise DumpError(f"{p}: cannot read: {exc.strerror}") from None
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        doc = json.loads(raw, parse_constant=_no_constant)
    except (OSError, EOFError, ValueError, UnicodeDecodeError, zlib.error,
            RecursionError) as exc:
        raise DumpError(f"{p}: truncated or corrupt dump ({str(exc)[:80]})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DumpError(f"{p}: not a socdbg dump")
    version = doc.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise DumpError(f"{p}: dump format version {version} is newer than this socdbg reads "
                        f"({VERSION})", "upgrade socdbg")
    try:
        m = doc["map"]
        regs = {str(path_): _register_entry(path_, a, s, v)
                for path_, a, s, v in doc["registers"]}
        sources = m["sources"]
        if not isinstance(sources, list) or not all(
                isinstance(x, dict) and isinstance(x.get("name"), str)
                and isinstance(x.get("text"), str) for x in sources):
            raise ValueError("map.sources is not a list of {name, text}")
        mems = [(int(x["address"]), zlib.decompress(base64.b64decode(x["zlib_base64"])))
                for x in doc["memories"]]
        for (addr, data), x in zip(mems, doc["memories"], strict=True):
            if len(data) != int(x["size"]):
                raise ValueError(f"memory at {addr:#x} has {len(data)} bytes, not {x['size']}")
        return Dump(str(m["name"]), str(m["identity"]), list(sources),
                    dict(m["defines"]), str(m.get("top", "")), str(doc["target"]),
                    str(doc["wall_time"]), doc.get("cycle"), regs, mems,
                    [(int(a), int(b), str(w)) for a, b, w in doc["failed"]],
                    [(str(a), str(b)) for a, b in doc.get("skipped", [])],
                    str(doc.get("socdbg", "?")))
    except (KeyError, TypeError, ValueError, zlib.error, OverflowError) as exc:
        raise DumpError(f"{p}: corrupt dump ({type(exc).__name__}: {str(exc)[:80]})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a dump can hold")


def _register_entry(path: Any, address: Any, size: Any, value: Any) -> tuple[int, int, int]:
    a, n, v = int(address), int(size), int(value, 16)
    if a < 0 or not 0 < n <= 64 or not 0 <= v < 1 << (8 * n):
        raise ValueError(f"register {path}: address {a}, size {n} or value {v:#x} is invalid")
    return a, n, v


def dump_map(dump: Dump, load_map: Callable[..., RegMap]) -> RegMap:
    """The dump's own map, rebuilt from the sources it embeds (in a folder of the cache named
    by the map's identity, so it compiles once)."""
    from socdbg.regmap.cache import cache_dir

    if not dump.map_sources:
        raise DumpError("the dump embeds no map sources", "open it with --map FILE.rdl")
    folder = cache_dir() / f"dump-map-{dump.map_identity[:16]}"
    for src in dump.map_sources:
        name = Path(src["name"])
        if name.is_absolute() or ".." in name.parts:
            raise DumpError(f"the dump's map source name '{name}' is not a relative path")
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != src["text"]:
            target.write_text(src["text"], encoding="utf-8")
    top = folder / dump.map_sources[0]["name"]
    return load_map([str(top)], [str(folder)], dump.map_defines, dump.map_top or None)


# --- diff -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldChange:
    register: str
    address: int
    field: str
    old: str
    new: str


def diff_values(rmap: RegMap, old: dict[str, int], new: dict[str, int]
                ) -> tuple[list[FieldChange], list[str], list[str]]:
    """Field-by-field differences of register values by path; also the paths only in one."""
    from socdbg.regmap import decode

    changes: list[FieldChange] = []
    for path in sorted(set(old) & set(new), key=lambda p: _addr(rmap, p)):
        a, b = old[path], new[path]
        if a == b:
            continue
        reg = rmap.find(path)
        if reg is None:
            changes.append(FieldChange(path, -1, "(value)", hex(a), hex(b)))
            continue
        for fa, fb in zip(decode(reg, a).fields, decode(reg, b).fields, strict=True):
            if fa.value != fb.value:
                changes.append(FieldChange(reg.path, reg.address, fa.field.name, fa.text,
                                           fb.text))
        reserved = (a ^ b) & ~reg.layout.field_mask
        if reserved:
            changes.append(FieldChange(reg.path, reg.address, "(reserved)",
                                       hex(a & reserved), hex(b & reserved)))
    only_old = sorted(set(old) - set(new))
    only_new = sorted(set(new) - set(old))
    return changes, only_old, only_new


def _addr(rmap: RegMap, path: str) -> int:
    reg = rmap.find(path)
    return reg.address if reg is not None else -1
