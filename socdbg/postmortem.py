"""Postmortem dumps: capture a whole chip's registers (and chosen memory) once, study it
offline, diff two captures field by field.

The file is JSON (gzip-compressed when the name ends in ``.gz``), versioned, self-contained
(it embeds the register description sources, so it decodes years later without the source
tree) and written atomically. A target failure midway still writes what was read, marked
incomplete with the failed address ranges. docs/postmortem.md describes the format.

A dump is untrusted input: it may come from anyone. The reader checks every value's type and
range, bounds decompression by the sizes the file declares (and absolute caps) before it
inflates anything, refuses source names that are not plain relative names, recomputes the map
identity from the embedded sources, and compiles those sources with the Perl preprocessor
refused, in a cache folder nothing escapes. Whatever is wrong ends in one :class:`DumpError`.

Register reads are coalesced when the target declares ``coalesce``: runs of adjacent
registers that may be read are fetched with one block read each (the target still performs
one access per register at the register's width), split around holes, around registers that
must not be read and at the target's largest block.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socdbg.errors import SocdbgError, TargetError
from socdbg.regmap import Register, RegMap
from socdbg.targets.base import CAP_COALESCE, Target, has_time
from socdbg.version import __version__

FORMAT = "socdbg-dump"
VERSION = 1
MAX_BLOCK = 0x10000  # largest coalesced read unless the target says less (max_read)
#: Largest dump document (the JSON text, after gzip) socdbg writes or reads.
MAX_DOCUMENT = 64 << 20
#: Largest total of memory bytes in one dump, captured or read.
MAX_MEMORY = 256 << 20
#: Deflate's largest ratio (a run of one byte): a stream declaring more is lying.
MAX_RATIO = 1032
MAX_SOURCES = 1000
MAX_NAME = 255  # characters in a source name (and in each of its folder parts)
MAX_PATH = 1024  # characters in a register path
_NAME_PART = re.compile(r"[^\W][\w.+-]*")
_HEX_IDENTITY = re.compile(r"[0-9a-f]{64}")


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
    file: str = field(default="", compare=False)  # where it was read from, for messages

    @property
    def complete(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        doc = self._document()
        doc["memories"] = [{"address": addr, "size": len(data),
                            "zlib_base64": base64.b64encode(_deflate(data)).decode()}
                           for addr, data in self.memories]
        return doc

    def json_chunks(self) -> list[bytes]:
        """``json.dumps(self.to_json(), separators=(",", ":")).encode()``, byte for byte, in
        pieces: each memory's base64 text is the bytes b64encode made (ASCII that JSON never
        escapes), not copied into a str, scanned for escapes and encoded again (a MiB of
        memory is 1.4 MB of text)."""
        out: list[bytes] = []
        sep = b"{"
        for key, value in self._document().items():
            out.append(sep + json.dumps(key).encode() + b":")
            sep = b","
            if key != "memories":
                out.append(json.dumps(value, separators=(",", ":")).encode())
                continue
            out.append(b"[")
            for i, (addr, data) in enumerate(self.memories):
                out.append(b'%s{"address":%d,"size":%d,"zlib_base64":"'
                           % (b"," if i else b"", addr, len(data)))
                out.append(base64.b64encode(_deflate(data)))
                out.append(b'"}')
            out.append(b"]")
        out.append(b"}")
        return out

    def _document(self) -> dict[str, Any]:
        """The document without its memories (``"memories"`` holds its place, None)."""
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
            "memories": None,
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
        data, error = _read_memory(target, addr, size)
        if data:
            mems.append((addr, data))
        if error is not None:
            failed.append((addr + len(data), addr + size, error))
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
    if not has_time(target):
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


def _read_memory(target: Target, addr: int, size: int) -> tuple[bytes, str | None]:
    """Read a memory range in steps; (what was read, why the rest was not, or None). A range
    that fails partway keeps the steps read before the failure."""
    out = bytearray()
    step = 1 << 20
    for off in range(0, size, step):
        try:
            got = target.read_block(addr + off, min(step, size - off))
        except TargetError as exc:
            return bytes(out), exc.message
        out += got[: min(step, size - off)]
        if len(got) < min(step, size - off):
            return bytes(out), f"short read ({len(got)} of {min(step, size - off)} bytes)"
    return bytes(out), None


def embed_sources(rmap: RegMap) -> list[dict[str, str]]:
    """The map's files as {name, text}, named relative to the first source's folder (files
    from elsewhere go under ``include/``); the first entry is the top source."""
    from socdbg.regmap.cache import dependencies

    files = dependencies(rmap)
    if not files:
        return []
    home = files[0].parent
    out = []
    names: set[str] = set()
    for f in files:
        try:
            name = f.relative_to(home).as_posix()
        except ValueError:
            name = f.name  # an include from elsewhere: beside the top file
        try:  # the bytes as they are (no newline translation): the identity hashes them
            text = f.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return []  # not embeddable: the reader decodes it with the session's map
        if source_name_problem(name) is not None or name in names:
            return []
        names.add(name)
        out.append({"name": name, "text": text})
    return out


def source_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an embedded map source's name, or None: a name is one or more
    plain parts joined by ``/`` (``soc.rdl``, ``qemu_virt/clint.rdl``), each starting with a
    letter, digit or ``_`` and made of those and ``.+-``; no absolute path, ``..``, ``.``,
    hidden name, backslash, NUL or control character; at most 8 parts of 255 characters."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long (at most {MAX_NAME})"
    parts = name.split("/")
    if len(parts) > 8:
        return "has more than 8 folder levels"
    for part in parts:
        if not _NAME_PART.fullmatch(part):
            return "is not a plain relative file name"
    return None


# --- files ------------------------------------------------------------------------------------
def write_dump(dump: Dump, path: str | Path) -> None:
    """Write atomically: a temporary file in the same folder, fsync, rename. Temporary files a
    killed earlier write to the same path left behind are removed first."""
    from socdbg.regmap.cache import write_atomic

    out = Path(path)
    chunks = dump.json_chunks()
    size = sum(len(c) for c in chunks)
    if size > MAX_DOCUMENT:
        raise DumpError(f"{out}: the dump would be {size >> 20} MiB of JSON, more than "
                        f"socdbg reads ({MAX_DOCUMENT >> 20} MiB)", "capture less --memory")
    if out.suffix == ".gz":
        chunks = [gzip.compress(b"".join(chunks), 6)]
    umask = os.umask(0)
    os.umask(umask)
    try:  # as an ordinary new file, not mkstemp's 0600
        write_atomic(out, chunks, mode=0o666 & ~umask)
    except OSError as exc:
        raise DumpError(f"{out}: cannot write: {exc.strerror or exc}") from None


class _Bad(Exception):
    """What is wrong with a dump document (becomes a DumpError naming the file); ``kind``
    comes first in the message (``corrupt dump: ...``) unless empty."""

    def __init__(self, message: str, kind: str = "corrupt dump", hint: str | None = None
                 ) -> None:
        super().__init__(f"{kind}: {message}" if kind else message)
        self.hint = hint


def read_dump(path: str | Path) -> Dump:
    """Read and check a dump file. Anything wrong with it is one DumpError naming the file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:  # in steps: read(n) would allocate n bytes up front
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_DOCUMENT and (chunk := fh.read(1 << 20)):
                chunks.append(chunk)
                size += len(chunk)
        raw = b"".join(chunks)
    except FileNotFoundError:
        raise DumpError(f"{p}: no such dump file") from None
    except OSError as exc:
        raise DumpError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_DOCUMENT:
        raise DumpError(f"{p}: more than {MAX_DOCUMENT >> 20} MiB, larger than any dump "
                        "socdbg writes")
    if (raw.strip() and not b"\x1f\x8b".startswith(raw[:2])
            and raw.lstrip()[:1] != b"{"):  # neither gzip nor a JSON object: not ours
        raise DumpError(f"{p}: not a socdbg dump",
                        "a dump is the .json or .json.gz file that dump -o writes")
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = _gunzip(raw)
        try:
            doc = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise _Bad(f"truncated or corrupt dump ({_one_line(exc)})", "") from None
        dump = _parse(doc)
    except _Bad as exc:
        raise DumpError(f"{p}: {exc}", exc.hint) from None
    dump.file = str(p)
    return dump


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:80]


def _gunzip(raw: bytes) -> bytes:
    """Inflate a gzip file, no further than the size its trailer declares, which must be
    possible for its compressed size and within :data:`MAX_DOCUMENT`."""
    if len(raw) < 18:
        raise _Bad("truncated or corrupt gzip stream", "")
    declared = int.from_bytes(raw[-4:], "little")
    if declared > MAX_DOCUMENT:
        raise _Bad(f"truncated or corrupt gzip stream: it declares {declared} bytes "
                   f"uncompressed, more than a dump socdbg reads ({MAX_DOCUMENT >> 20} MiB)", "")
    if declared > MAX_RATIO * len(raw):
        raise _Bad(f"truncated or corrupt gzip stream: it declares {declared} bytes "
                   f"uncompressed from {len(raw)}, more than gzip can hold", "")
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(raw, declared + 1)
    except zlib.error as exc:
        raise _Bad(f"corrupt gzip stream ({_one_line(exc)})", "") from None
    if len(data) > declared:
        raise _Bad(f"corrupt gzip stream: it inflates to more than the {declared} bytes "
                   "it declares", "")
    if not inflater.eof:
        raise _Bad("truncated or corrupt gzip stream", "")
    if inflater.unused_data:
        raise _Bad("corrupt gzip stream: data after its end", "")
    if len(data) != declared:
        raise _Bad(f"corrupt gzip stream: it inflates to {len(data)} bytes, not the "
                   f"{declared} it declares", "")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a dump can hold")


def _int(value: Any, what: str, low: int = 0, high: int = 1 << 64) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _Bad(f"{what} is {_show(value)}, not an integer in {low}..{high:#x}")
    return value


def _str(value: Any, what: str, limit: int = 1 << 20) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{what} is {_show(value)}, not a string")
    if len(value) > limit:
        raise _Bad(f"{what} is {len(value)} characters long (at most {limit})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad(f"{what} is not valid text (a lone surrogate)") from None
    return value


def _list(value: Any, what: str, width: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(f"{what} is {_show(value)}, not a list")
    if width is not None and len(value) != width:
        raise _Bad(f"{what} has {len(value)} items, not {width}")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"{what} is {_show(value)}, not an object")
    return value


def _show(value: Any) -> str:
    """A short, one-line rendering of a value for a message."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        value = value[:40]
    return " ".join(json.dumps(value).split())[:48]


def _name(value: Any, what: str) -> str:
    text = _str(value, what, MAX_PATH)
    if not text or "\0" in text or not text.isprintable():
        raise _Bad(f"{what} {_show(text)} is empty or holds NUL or control characters")
    return text


def _parse(doc: Any) -> Dump:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _Bad("not a socdbg dump", "")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _Bad(f"unknown dump format version {_show(version)}", "",
                   f"this socdbg reads version 1 to {VERSION}")
    if version > VERSION:
        raise _Bad(f"dump format version {version} is newer than this socdbg reads "
                   f"({VERSION})", "", "upgrade socdbg")
    for key in ("map", "registers", "target", "wall_time", "memories", "failed"):
        if key not in doc:
            raise _Bad(f"'{key}' is missing")
    m = _dict(doc["map"], "map")
    for key in ("name", "identity", "defines", "sources"):
        if key not in m:
            raise _Bad(f"'map.{key}' is missing")
    name = _str(m["name"], "map.name", MAX_PATH)
    identity = _str(m["identity"], "map.identity", 64)
    if identity and not _HEX_IDENTITY.fullmatch(identity):
        raise _Bad(f"map.identity {_show(identity)} is not 64 hex digits")
    defines = {_str(k, "a map.defines name", MAX_PATH): _str(v, f"map.defines.{k}")
               for k, v in _dict(m["defines"], "map.defines").items()}
    top = _str(m.get("top", ""), "map.top", MAX_PATH)
    sources = _sources(m["sources"])
    if sources:
        recomputed = _embedded_identity(sources, defines, top)
        if identity and identity != recomputed:
            raise _Bad(f"map.identity {identity[:12]} does not match the embedded map sources "
                       f"({recomputed[:12]}): the file was edited")
        identity = recomputed
    regs: dict[str, tuple[int, int, int]] = {}
    for i, entry in enumerate(_list(doc["registers"], "registers")):
        path, addr, size, value = _list(entry, f"registers[{i}]", 4)
        path = _name(path, f"registers[{i}] path")
        if path in regs:
            raise _Bad(f"register {path} is listed twice")
        regs[path] = _register_entry(path, addr, size, value)
    mems = _memories(_list(doc["memories"], "memories"))
    failed = []
    for i, entry in enumerate(_list(doc["failed"], "failed")):
        a, b, why = _list(entry, f"failed[{i}]", 3)
        start, end = _int(a, f"failed[{i}] start"), _int(b, f"failed[{i}] end")
        if end < start:
            raise _Bad(f"failed[{i}] ends ({end:#x}) before it starts ({start:#x})")
        failed.append((start, end, _str(why, f"failed[{i}] reason", 4096)))
    skipped = []
    for i, entry in enumerate(_list(doc.get("skipped", []), "skipped")):
        a, b = _list(entry, f"skipped[{i}]", 2)
        skipped.append((_name(a, f"skipped[{i}] path"), _str(b, f"skipped[{i}] reason", 4096)))
    cycle = doc.get("cycle")
    if cycle is not None:
        cycle = _int(cycle, "cycle")
    return Dump(name, identity, sources, defines, top,
                _str(doc["target"], "target", 4096), _str(doc["wall_time"], "wall_time", 100),
                cycle, regs, mems, failed, skipped,
                _str(doc.get("socdbg", "?"), "socdbg", 100))


def _sources(value: Any) -> list[dict[str, str]]:
    items = _list(value, "map.sources")
    if len(items) > MAX_SOURCES:
        raise _Bad(f"map.sources has {len(items)} files (at most {MAX_SOURCES})")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        x = _dict(item, f"map.sources[{i}]")
        name = _str(x.get("name"), f"map.sources[{i}].name", 4096)
        text = _str(x.get("text"), f"map.sources[{i}].text", MAX_DOCUMENT)
        problem = source_name_problem(name)
        if problem is not None:
            raise _Bad(f"map source name {_show(name)} {problem}")
        if name in seen:
            raise _Bad(f"map source {name} is embedded twice")
        seen.add(name)
        out.append({"name": name, "text": text})
    return out


def _embedded_identity(sources: list[dict[str, str]], defines: dict[str, str],
                       top: str) -> str:
    """The identity of the map the embedded sources make, computed here (as the cache computes
    it for a map compiled from files with these names and contents)."""
    from socdbg.errors import MapError
    from socdbg.regmap.cache import format_of_text, identity_of

    try:
        fmt = format_of_text(sources[0]["name"], sources[0]["text"])
    except MapError as exc:
        raise _Bad(f"map source {exc.message}") from None
    return identity_of([(s["name"].rsplit("/", 1)[-1], s["text"].encode("utf-8"))
                        for s in sources], defines, top, fmt)


def _memories(items: list[Any]) -> list[tuple[int, bytes]]:
    """Check every declared size (against the compressed size and the cap) before inflating
    any; then inflate each no further than it declares."""
    plan: list[tuple[int, int, bytes]] = []
    total = 0
    for i, item in enumerate(items):
        x = _dict(item, f"memories[{i}]")
        addr = _int(x.get("address"), f"memories[{i}].address")
        size = _int(x.get("size"), f"memories[{i}].size", 1, MAX_MEMORY)
        if addr + size > 1 << 64:
            raise _Bad(f"memories[{i}] runs past the end of the address space")
        text = _str(x.get("zlib_base64"), f"memories[{i}].zlib_base64", MAX_DOCUMENT)
        try:
            packed = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _Bad(f"memories[{i}].zlib_base64 is not base64") from None
        if size > MAX_RATIO * len(packed) + 64:
            raise _Bad(f"memory at {addr:#x} declares {size} bytes from {len(packed)} "
                       "compressed: more than zlib can hold")
        total += size
        if total > MAX_MEMORY:
            raise _Bad(f"the memories declare more than {MAX_MEMORY >> 20} MiB in all")
        plan.append((addr, size, packed))
    out = []
    for addr, size, packed in plan:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(packed, size + 1)
        except zlib.error as exc:
            raise _Bad(f"memory at {addr:#x}: corrupt data ({_one_line(exc)})") from None
        if inflater.eof and inflater.unused_data:
            raise _Bad(f"memory at {addr:#x}: data after its compressed stream")
        if len(data) != size or not inflater.eof:
            got = f"more than {size}" if len(data) > size else (
                f"{len(data)}" if inflater.eof else "a truncated stream of")
            raise _Bad(f"memory at {addr:#x} has {got} bytes, not {size}")
        out.append((addr, data))
    return out


def _register_entry(path: str, address: Any, size: Any, value: Any) -> tuple[int, int, int]:
    a = _int(address, f"register {path} address")
    n = _int(size, f"register {path} size", 1, 64)
    text = _str(value, f"register {path} value", 2 + 2 * n + 2)
    try:
        v = int(text, 16)
    except ValueError:
        raise _Bad(f"register {path} value {_show(text)} is not a hex number") from None
    if not 0 <= v < 1 << (8 * n):
        raise _Bad(f"register {path}: value {text} does not fit in {n} bytes")
    return a, n, v


def dump_map(dump: Dump, load_map: Callable[..., RegMap]) -> RegMap:
    """The dump's own map, rebuilt from the sources it embeds, in a folder of the cache named
    by the identity recomputed from them (so it compiles once). Nothing is written outside that
    folder, and the sources compile without the Perl preprocessor and includes from elsewhere.
    """
    from socdbg.regmap.cache import cache_dir, write_atomic

    where = dump.file or "the dump"
    if not dump.map_sources:
        raise DumpError(f"{where} embeds no map sources", "open it with --map FILE.rdl")
    try:
        identity = _embedded_identity(dump.map_sources, dump.map_defines, dump.map_top)
        for src in dump.map_sources:
            problem = source_name_problem(src["name"])
            if problem is not None:
                raise _Bad(f"map source name {_show(src['name'])} {problem}")
    except _Bad as exc:
        raise DumpError(f"{where}: {exc}") from None
    if dump.map_identity and dump.map_identity != identity:
        raise DumpError(f"{where}: map.identity {dump.map_identity[:12]} does not match the "
                        f"embedded map sources ({identity[:12]})")
    root = cache_dir()
    folder = root / f"dump-map-{identity[:32]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        real = folder.resolve()
        if real.parent != root.resolve():
            raise DumpError(f"{folder} is not a folder of the map cache {root}")
        for src in dump.map_sources:
            target = folder.joinpath(*src["name"].split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.resolve().is_relative_to(real):
                raise DumpError(f"{where}: map source {src['name']} would land outside "
                                f"{folder}")
            data = src["text"].encode("utf-8")
            if target.is_symlink() or not target.is_file() or target.read_bytes() != data:
                write_atomic(target, [data])
    except OSError as exc:
        raise DumpError(f"{where}: cannot rebuild its map in {folder}: "
                        f"{exc.strerror or exc}") from None
    top = folder.joinpath(*dump.map_sources[0]["name"].split("/"))
    return load_map([str(top)], [str(folder)], dump.map_defines, dump.map_top or None,
                    untrusted=True)


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
