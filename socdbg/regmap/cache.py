"""The compiled-map cache: every run loads the map from here; sources are compiled only when
one of them (or an include, or the compiler) changed.

It serves every register description format: SystemRDL (``.rdl``), CMSIS-SVD (``.svd``) and
IP-XACT (``.xml``). The format comes from the caller (``format=``, the CLI's ``--format``) or
from the file: :func:`detect_format` looks at the extension and, for ``.xml``, at the root
element, reading the first kilobytes as text.

An entry is keyed by what was asked for (source paths, include paths, defines, top, format)
and holds the SHA-256 of every file the compile read plus the loader's version (for SystemRDL,
systemrdl-compiler's; for SVD, a hash of socdbg's SVD loader; for IP-XACT both compilers'
and socdbg's walker). A warm load re-hashes those files, checks the version without importing
any loader (no lxml, systemrdl or peakrdl), and reads a few flat columns. A stale or
unreadable entry is rebuilt, never trusted. Writes are atomic.

An entry is data only, never pickle or marshal: a magic line, a JSON head (format, loader
version, dependencies and the sizes of the sections that follow), a JSON section with the map's
name, source, memories and layouts, then raw integer columns (``array`` bytes) and the
newline-joined register paths, then an HMAC-SHA256 of all that under a random key the cache
folder keeps (``key``, mode 0600). Loading one cannot run code, whoever wrote the file; one
this cache did not write (its MAC does not verify), that does not parse, or whose columns do
not fit together is a miss, and the map is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.util
import json
import os
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from socdbg.errors import MapError
from socdbg.regmap import formats
from socdbg.regmap.atomic import remove_stale_tmp, write_atomic
from socdbg.regmap.detect import (
    FORMATS,
    detect_format,
    format_of_text,
    map_format,
    xml_root,
)
from socdbg.regmap.model import (
    Access,
    EnumMember,
    Field,
    FieldEnum,
    Layout,
    MapSource,
    Memory,
    OnRead,
    OnWrite,
)
from socdbg.regmap.regmap import RegMap
from socdbg.regmap.stored import as_bool, as_int, as_str

#: Bump when the stored model changes shape (7: data-only entries; fields with swacc
#: read as OnRead.SWACC).
CACHE_FORMAT = 7
#: The first bytes of every entry.
MAGIC = b"socdbg-map-cache\n"
__all__ = ["CACHE_FORMAT", "FORMATS", "MAGIC", "cache_dir", "compiler_version", "dependencies",
           "detect_format", "format_of_text", "identity_of", "load_map", "loader_version",
           "map_format", "remove_stale_tmp", "write_atomic", "xml_root"]
#: An entry larger than this is not read (a map of a million registers is ~60 MB).
MAX_ENTRY = 1 << 30


def dependencies(regmap: RegMap) -> list[Path]:
    """Every file a map was compiled from: its sources, then the files they included."""
    return [Path(p) for p in (regmap.source.deps or regmap.source.files)]


def cache_dir() -> Path:
    """``$SOCDBG_CACHE_DIR``, else ``$XDG_CACHE_HOME/socdbg``, else ``~/.cache/socdbg``."""
    explicit = os.environ.get("SOCDBG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "socdbg"


def compiler_version() -> str:
    """systemrdl-compiler's version, read from its ``__about__.py`` without importing it."""
    return _package_version("systemrdl")


def _package_version(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return "missing"
    about = Path(next(iter(spec.submodule_search_locations))) / "__about__.py"
    try:
        return hashlib.sha256(about.read_bytes()).hexdigest()[:16]
    except OSError:
        return "unknown"


def loader_version(fmt: str) -> str:
    """What an entry of format ``fmt`` was built with; a different value rebuilds it (the
    format's ``version``: for SystemRDL systemrdl-compiler's version, for socdbg's own
    readers a hash of their source)."""
    return formats.get(fmt).loader_version()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _request_key(sources: Sequence[Path], include_paths: Sequence[Path],
                 defines: Mapping[str, str], top: str, fmt: str = "rdl") -> str:
    request: list[object] = [CACHE_FORMAT, [str(p) for p in sources],
                             [str(p) for p in include_paths], sorted(defines.items()), top]
    if fmt != "rdl":
        request.append(fmt)
    blob = json.dumps(request)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _identity(deps: Sequence[tuple[str, str]], defines: Mapping[str, str], top: str,
              fmt: str = "rdl") -> str:
    """The map's identity: the content of every source, the defines and the top (and the
    format, for other formats than SystemRDL); not where the files happen to live, so the same
    map checked out elsewhere has the same identity."""
    h = hashlib.sha256()
    for path, digest in deps:
        h.update(Path(path).name.encode() + b"\0" + digest.encode() + b"\0")
    h.update(json.dumps([sorted(defines.items()), top]).encode())
    if fmt != "rdl":
        h.update(b"\0format=" + fmt.encode())
    return h.hexdigest()


def load_map(
    sources: Sequence[Path | str],
    include_paths: Sequence[Path | str] = (),
    defines: Mapping[str, str] | None = None,
    top: str | None = None,
    *,
    use_cache: bool = True,
    format: str | None = None,
    untrusted: bool = False,
) -> RegMap:
    """Load a register map through the cache: SystemRDL sources (compiled together), one
    CMSIS-SVD file or one IP-XACT file. ``format`` (``rdl``, ``svd``, ``ipxact``) overrides
    what the file names and contents suggest (:func:`detect_format`). Include paths only mean
    something to SystemRDL; ``defines`` are SystemRDL's preprocessor defines and IP-XACT's
    parameter values (plus ``remap``, the remap state). A source may carry such settings
    itself: ``comp.xml,WIDTH=16,remap=boot`` (:func:`formats.split_source`).

    ``untrusted`` is for sources that came from elsewhere (a dump's embedded map): SystemRDL is
    compiled with the Perl preprocessor refused, and every file the compiler reads must lie in
    the include folders given."""
    split = [formats.split_source(s) for s in sources]
    srcs = [path.resolve() for path, _ in split]
    incs = [Path(p).resolve() for p in include_paths]
    for s in srcs:
        if not s.is_file():
            raise MapError(f"{s}: no such register description file")
    fmt = map_format(srcs, format)
    defs = dict(defines or {})
    for path, settings in split:
        if settings and not formats.get(fmt).defines:
            raise MapError(f"{path}: a {formats.get(fmt).title} map takes no NAME=VALUE "
                           f"settings ({', '.join(settings)})")
        defs.update(settings)
    key = _request_key(srcs, incs, defs, top or "", fmt)
    entry = cache_dir() / f"map-{key}.map"
    version = loader_version(fmt)
    if use_cache:
        cached = _read_entry(entry, version)
        if cached is not None:
            return cached
    return _rebuild(srcs, incs, defs, top, entry, version, use_cache, fmt, untrusted)


def identity_of(files: Sequence[tuple[str, bytes]], defines: Mapping[str, str], top: str,
                fmt: str = "rdl") -> str:
    """The identity a map compiled from ``files`` ((name, content) in dependency order: the
    sources, then their includes) would have; see :func:`_identity`."""
    return _identity([(name, hashlib.sha256(data).hexdigest()) for name, data in files],
                     defines, top, fmt)


# --- entries: data only --------------------------------------------------------------------
def _read_entry(entry: Path, version: str) -> RegMap | None:
    """The map an entry holds, or None when it is missing, stale, foreign or damaged. Nothing
    in the file is executed. Only an entry this cache wrote is decoded: its last 32 bytes are
    an HMAC-SHA256 of the rest under the cache's own key (:func:`_cache_key`), so a planted or
    damaged file is a miss before any of it is parsed; every value is still type-checked."""
    try:
        key = _cache_key(entry.parent, create=False)
        if key is None or entry.stat().st_size > MAX_ENTRY:
            return None
        data = entry.read_bytes()
        body, mac = memoryview(data)[:-32], data[-32:]  # views: no 4 MB copies
        if len(data) < len(MAGIC) + 36 or not data.startswith(MAGIC) or not hmac.compare_digest(
                hmac.digest(key, body, "sha256"), mac):
            return None
        start = len(MAGIC) + 4
        end = start + int.from_bytes(body[len(MAGIC) : start], "little")
        head = json.loads(bytes(body[start:end]))
        if (not isinstance(head, dict) or head.get("format") != CACHE_FORMAT
                or head.get("compiler") != version or head.get("byteorder") != sys.byteorder):
            return None
        for path, digest in head["deps"]:
            if _digest(Path(path)) != digest:
                return None
        sections: dict[str, memoryview] = {}
        for name, length in head["sections"]:
            if not isinstance(length, int) or length < 0 or end + length > len(body):
                return None
            sections[str(name)] = body[end : end + length]
            end += length
        return _decode(sections)
    except Exception:  # a missing, truncated, foreign or damaged file: rebuild it
        return None


def _cache_key(folder: Path, create: bool) -> bytes | None:
    """The cache folder's secret (32 random bytes in ``key``, readable by its owner only), made
    on the first write; None when there is none (nothing in the folder is then trusted)."""
    path = folder / "key"
    try:
        with path.open("rb") as fh:
            key = fh.read(33)
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    except OSError:
        return None
    if not create:
        return None
    key = os.urandom(32)
    write_atomic(path, [key], mode=0o600)
    return key


def _write_entry(entry: Path, version: str, deps: list[tuple[str, str]],
                 regmap: RegMap) -> None:
    sections = _encode(regmap)
    head = {"format": CACHE_FORMAT, "compiler": version, "byteorder": sys.byteorder,
            "deps": deps, "sections": [[name, len(data)] for name, data in sections]}
    blob = json.dumps(head).encode()
    chunks = [MAGIC, len(blob).to_bytes(4, "little"), blob, *(data for _, data in sections)]
    with contextlib.suppress(OSError):  # a read-only cache folder costs speed, not correctness
        entry.parent.mkdir(parents=True, exist_ok=True)
        key = _cache_key(entry.parent, create=True)
        if key is None:
            return
        mac = hmac.new(key, digestmod="sha256")
        for chunk in chunks:
            mac.update(chunk)
        write_atomic(entry, [*chunks, mac.digest()])


def _encode(regmap: RegMap) -> list[tuple[str, bytes]]:
    state = regmap.__getstate__()
    src: MapSource = state["source"]
    meta: dict[str, Any] = {
        "name": state["name"],
        "source": [list(src.files), src.identity, [list(d) for d in src.defines], src.top,
                   list(src.deps)],
        "memories": [[m.path, m.address, m.entries, m.width, str(m.sw), m.description,
                      m.unsafe_read, m.unsafe_write] for m in state["memories"]],
        "lower": state["lower"],
        "max_size": state["max_size"],
        "warnings": list(state["warnings"]),
    }
    out: list[tuple[str, bytes]] = []
    layouts = state["layouts"]
    columns = getattr(layouts, "columns", None)
    if columns is not None:  # an SVD map's packed layouts: stored as they are
        blob, ends, enum_blob, enum_ends, max_size = columns()
        meta["packed"] = max_size
        out += [("layouts", blob), ("layout_ends", _q(ends)), ("enums", enum_blob),
                ("enum_ends", _q(enum_ends))]
    else:
        meta["layouts"], meta["enums"] = _layout_records(layouts)
    out += [("paths", state["paths"].encode()), ("addrs", _q(state["addrs"])),
            ("lidx", _i(state["lidx"])), ("lc_order", _i(state["lc_order"])),
            ("aidx", _i(state["aidx"]))]
    return [("meta", json.dumps(meta, separators=(",", ":")).encode()), *out]


def _q(column: Iterable[int]) -> bytes:
    return (column if isinstance(column, array) and column.typecode == "Q"
            else array("Q", column)).tobytes()


def _i(column: Iterable[int]) -> bytes:
    return (column if isinstance(column, array) and column.typecode == "I"
            else array("I", column)).tobytes()


def _layout_records(layouts: Sequence[Layout]) -> tuple[list[Any], list[Any]]:
    enums: list[Any] = []
    enum_ids: dict[FieldEnum, int] = {}
    records: list[Any] = []
    for lay in layouts:
        fields = []
        for f in lay.fields:
            eid = -1
            if f.enum is not None:
                eid = enum_ids.setdefault(f.enum, len(enums))
                if eid == len(enums):
                    enums.append([f.enum.name, [[m.name, m.value, m.description]
                                                for m in f.enum.members]])
            fields.append([f.name, f.lsb, f.msb, str(f.sw), str(f.hw),
                           None if f.onread is None else str(f.onread),
                           None if f.onwrite is None else str(f.onwrite),
                           f.singlepulse, f.counter, f.reset, eid, f.description, f.msb0])
        records.append([lay.name, lay.width, lay.accesswidth, lay.description,
                        lay.unsafe_read, lay.unsafe_write, lay.write_effects, fields])
    return records, enums


def _layouts_from(records: list[Any], enum_records: list[Any]) -> tuple[Layout, ...]:
    enums = [FieldEnum(as_str(name), tuple(EnumMember(as_str(n), as_int(v, -(1 << 64)), as_str(d))
                                         for n, v, d in members))
             for name, members in enum_records]
    out = []
    for name, width, accesswidth, desc, ur, uw, we, fields in records:
        out.append(Layout(
            as_str(name), as_int(width), as_int(accesswidth),
            tuple(Field(as_str(fn), as_int(lsb), as_int(msb), Access(sw), Access(hw),
                        None if onr is None else OnRead(onr),
                        None if onw is None else OnWrite(onw),
                        as_bool(sp), as_bool(counter), None if reset is None else as_int(reset),
                        None if as_int(eid, -1) < 0 else enums[eid], as_str(fdesc), as_bool(msb0))
                  for fn, lsb, msb, sw, hw, onr, onw, sp, counter, reset, eid, fdesc, msb0
                  in fields),
            as_str(desc), as_bool(ur), as_bool(uw), as_bool(we)))
    return tuple(out)


def _column(data: bytes | memoryview, typecode: str) -> array[int]:
    col = array(typecode)
    col.frombytes(data)
    return col


def _below(column: array[int], raw: bytes | memoryview, bound: int) -> bool:
    """Every value of a uint32 ``column`` (``raw`` its bytes) is below ``bound``. Layout
    indices are mostly below 256: then four byte-string operations check them, not a loop."""
    if bound <= 256 and column.itemsize == 4:
        low = 0 if sys.byteorder == "little" else 3
        raw = bytes(raw)
        high = b"".join(raw[i::4] for i in range(4) if i != low)
        return high.count(0) == len(high) and not raw[low::4].translate(
            None, bytes(range(bound)))
    return max(column) < bound


def _decode(sections: dict[str, memoryview]) -> RegMap | None:
    meta = json.loads(bytes(sections["meta"]))
    files, identity, defines, top, deps = meta["source"]
    source = MapSource(tuple(map(as_str, files)), as_str(identity),
                       tuple((as_str(k), as_str(v)) for k, v in defines), as_str(top),
                       tuple(map(as_str, deps)))
    memories = tuple(Memory(as_str(p), as_int(a), as_int(e), as_int(w), Access(sw), as_str(d),
                            as_bool(ur), as_bool(uw))
                     for p, a, e, w, sw, d, ur, uw in meta["memories"])
    layouts: Sequence[Layout]
    if "packed" in meta:
        from socdbg.regmap.packed import PackedLayouts

        layouts = PackedLayouts.from_columns(
            bytes(sections["layouts"]), _column(sections["layout_ends"], "Q"),
            bytes(sections["enums"]),
            _column(sections["enum_ends"], "Q"), as_int(meta["packed"]))
    else:
        layouts = _layouts_from(meta["layouts"], meta["enums"])
    blob = str(sections["paths"], "utf-8")
    addrs = _column(sections["addrs"], "Q")
    n = len(addrs)
    lidx, lc_order, aidx = (_column(sections[k], "I") for k in ("lidx", "lc_order", "aidx"))
    if not len(lidx) == len(lc_order) == len(aidx) == n or (n > 0) != bool(blob):
        return None
    if n and not _below(lidx, sections["lidx"], len(layouts)):
        return None
    regmap = RegMap.__new__(RegMap)
    regmap.__setstate__({
        "name": as_str(meta["name"]), "source": source, "layouts": layouts, "paths": blob,
        "lower": as_bool(meta["lower"]), "addrs": addrs, "lidx": lidx, "memories": memories,
        "lc_order": lc_order, "aidx": aidx, "max_size": as_int(meta["max_size"]),
        "warnings": tuple(map(as_str, meta.get("warnings", []))),
    })
    return regmap if len(regmap._spaths) == n else None


def _rebuild(srcs: list[Path], incs: list[Path], defs: dict[str, str], top: str | None,
             entry: Path, version: str, write: bool, fmt: str = "rdl",
             untrusted: bool = False) -> RegMap:
    regmap, files = formats.get(fmt).build(formats.MapRequest(
        tuple(srcs), tuple(incs), defs, top, untrusted))
    deps = [(str(p), _digest(p)) for p in files if p.is_file()]
    regmap.source = MapSource(tuple(str(s) for s in srcs),
                              _identity(deps, defs, top or "", fmt),
                              tuple(sorted(defs.items())), top or "",
                              tuple(path for path, _ in deps))
    if write:
        _write_entry(entry, version, deps, regmap)
    return regmap
