"""Reading a dump file: every value's type and range checked, decompression bounded by the
sizes the file declares (and absolute caps) before anything is inflated, source names checked
and the map identity recomputed from the embedded sources. Whatever is wrong ends in one
:class:`DumpError` naming the file."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

from socdbg.dumpfile.model import (
    _HEX_IDENTITY,
    FORMAT,
    MAX_DOCUMENT,
    MAX_MEMORY,
    MAX_PATH,
    MAX_RATIO,
    MAX_SOURCES,
    VERSION,
    Dump,
    DumpError,
    source_name_problem,
)


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
    digest = hashlib.sha256(raw).hexdigest()
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
    dump.sha256 = digest
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
