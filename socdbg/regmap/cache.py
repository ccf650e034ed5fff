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
any loader (no lxml, systemrdl or peakrdl), and unpickles a few flat columns. A stale or
unreadable entry is rebuilt, never trusted. Writes are atomic.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import marshal
import os
import pickle
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from socdbg.errors import MapError
from socdbg.regmap.model import MapSource
from socdbg.regmap.regmap import RegMap

#: Bump when the pickled model changes shape.
CACHE_FORMAT = 5


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


def _module_version(name: str) -> str:
    """A hash of one of our loader modules: editing the loader invalidates what it built."""
    try:
        return hashlib.sha256((Path(__file__).parent / f"{name}.py").read_bytes()).hexdigest()[:16]
    except OSError:
        return "unknown"


def loader_version(fmt: str) -> str:
    """What an entry of format ``fmt`` was built with; a different value rebuilds it.

    SystemRDL: systemrdl-compiler's version (as always). SVD: socdbg's SVD loader and the
    Python (its layouts are stored marshal'ed). IP-XACT: systemrdl-compiler, peakrdl-ipxact
    and socdbg's importer and walker."""
    if fmt == "svd":
        return (f"svd:{_module_version('svd')}:marshal{marshal.version}:"
                f"py{sys.version_info[0]}.{sys.version_info[1]}")
    if fmt == "ipxact":
        return (f"ipxact:{compiler_version()}:{_package_version('peakrdl_ipxact')}:"
                f"{_module_version('ipxact')}:{_module_version('rdl')}")
    return compiler_version()


# --- formats ----------------------------------------------------------------------------------
FORMATS = ("rdl", "svd", "ipxact")
#: IP-XACT and its SPIRIT predecessors, as peakrdl-ipxact accepts them.
_IPXACT_NS = re.compile(r"https?://www\.(spiritconsortium\.org/XMLSchema/SPIRIT|accellera\.org/"
                        r"XMLSchema/(spirit/1685-2009|IPXACT))", re.IGNORECASE)
_PROLOG = re.compile(r"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(\[.*?\])?\s*>)", re.DOTALL)
_ROOT = re.compile(r"<([A-Za-z_][\w.-]*)(?::([A-Za-z_][\w.-]*))?([^>]*)>", re.DOTALL)
_XMLNS = re.compile(r"""xmlns(?::([\w.-]+))?\s*=\s*["']([^"']*)["']""")


def xml_root(path: Path) -> tuple[str, str]:
    """(local name, namespace URI) of an XML file's root element, read from its first 64 KiB
    without an XML parser; ("", "") when there is none to be found there."""
    with path.open("rb") as fh:
        head = fh.read(65536)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    pos = 0
    while (prolog := _PROLOG.match(text, pos)) is not None:  # declaration, comments, doctype
        pos = prolog.end()
    while pos < len(text) and text[pos].isspace():
        pos += 1
    m = _ROOT.match(text, pos)
    if m is None:
        return "", ""
    prefix, local = (m.group(1), m.group(2)) if m.group(2) else (None, m.group(1))
    namespaces = {p or None: uri for p, uri in _XMLNS.findall(m.group(3))}
    return local, namespaces.get(prefix, "")


def detect_format(path: Path, requested: str | None = None) -> str:
    """The format of one map file: ``requested`` when given; else by extension: ``.rdl`` is
    SystemRDL, ``.svd`` CMSIS-SVD, and ``.xml`` IP-XACT when its root is an IP-XACT or SPIRIT
    ``component``, CMSIS-SVD when it is a ``device`` (vendors ship SVD as .xml too); any other
    extension is SystemRDL, as before there were other formats."""
    if requested is not None:
        if requested not in FORMATS:
            raise MapError(f"unknown map format '{requested}'", "one of " + ", ".join(FORMATS))
        return requested
    suffix = path.suffix.lower()
    if suffix == ".svd":
        return "svd"
    if suffix != ".xml":
        return "rdl"
    try:
        local, uri = xml_root(path)
    except OSError as exc:
        raise MapError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if local == "component" and _IPXACT_NS.match(uri):
        return "ipxact"
    if local == "device":
        return "svd"
    found = f"<{local}>" + (f" in namespace {uri}" if uri else "") if local else "no root element"
    raise MapError(f"{path}: not a register description socdbg reads: found {found}",
                   "an .xml map is an IP-XACT <ipxact:component> (or <spirit:component>) or a "
                   "CMSIS-SVD <device>; --format rdl|svd|ipxact overrides the guess")


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


def map_format(sources: Sequence[Path], requested: str | None = None) -> str:
    """The one format of a request's sources (see :func:`detect_format`)."""
    formats = {detect_format(s, requested) for s in sources}
    if len(formats) > 1:
        listed = ", ".join(f"{s.name} ({detect_format(s)})" for s in sources)
        raise MapError(f"the map files are in different formats: {listed}",
                       "several files make one map only in SystemRDL")
    fmt = formats.pop() if formats else "rdl"
    if fmt != "rdl" and len(sources) > 1:
        raise MapError(f"a {'CMSIS-SVD' if fmt == 'svd' else 'IP-XACT'} map is one file; "
                       f"got {len(sources)}")
    return fmt


def load_map(
    sources: Sequence[Path | str],
    include_paths: Sequence[Path | str] = (),
    defines: Mapping[str, str] | None = None,
    top: str | None = None,
    *,
    use_cache: bool = True,
    format: str | None = None,
) -> RegMap:
    """Load a register map through the cache: SystemRDL sources (compiled together), one
    CMSIS-SVD file or one IP-XACT file. ``format`` (``rdl``, ``svd``, ``ipxact``) overrides
    what the file names and contents suggest (:func:`detect_format`). Include paths and
    defines only mean something to SystemRDL."""
    srcs = [Path(s).resolve() for s in sources]
    incs = [Path(p).resolve() for p in include_paths]
    for s in srcs:
        if not s.is_file():
            raise MapError(f"{s}: no such register description file")
    fmt = map_format(srcs, format)
    defs = dict(defines or {})
    key = _request_key(srcs, incs, defs, top or "", fmt)
    entry = cache_dir() / f"map-{key}.pkl"
    version = loader_version(fmt)
    if use_cache:
        cached = _read_entry(entry, version)
        if cached is not None:
            return cached
    return _rebuild(srcs, incs, defs, top, entry, version, use_cache, fmt)


def _read_entry(entry: Path, version: str) -> RegMap | None:
    try:
        with entry.open("rb") as fh:
            header = pickle.load(fh)
            if (not isinstance(header, dict) or header.get("format") != CACHE_FORMAT
                    or header.get("compiler") != version):
                return None
            for path, digest in header["deps"]:
                if _digest(Path(path)) != digest:
                    return None
            regmap = pickle.load(fh)
    except Exception:  # a missing, truncated or foreign file: rebuild it
        return None
    return regmap if isinstance(regmap, RegMap) else None


def _compile(fmt: str, srcs: list[Path], incs: list[Path], defs: dict[str, str],
             top: str | None) -> tuple[RegMap, list[Path]]:
    """Build the map with the format's loader; (map, every file it read)."""
    if fmt == "svd":
        from socdbg.regmap.svd import load_svd

        return load_svd(srcs[0]), [srcs[0]]
    if fmt == "ipxact":
        from socdbg.regmap.ipxact import compile_ipxact_files

        return compile_ipxact_files(srcs, top)
    from socdbg.regmap.rdl import compile_rdl_files

    return compile_rdl_files(srcs, incs, defs, top)


def _rebuild(srcs: list[Path], incs: list[Path], defs: dict[str, str], top: str | None,
             entry: Path, version: str, write: bool, fmt: str = "rdl") -> RegMap:
    regmap, files = _compile(fmt, srcs, incs, defs, top)
    deps = [(str(p), _digest(p)) for p in files if p.is_file()]
    regmap.source = MapSource(tuple(str(s) for s in srcs),
                              _identity(deps, defs, top or "", fmt),
                              tuple(sorted(defs.items())), top or "",
                              tuple(path for path, _ in deps))
    if write:
        header = {"format": CACHE_FORMAT, "compiler": version, "deps": deps}
        _write_atomic(entry, header, regmap)
    return regmap


def _write_atomic(entry: Path, header: dict[str, object], regmap: RegMap) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # only when writing an entry: a warm load does not pay for it

        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.name, suffix=".tmp")
    except OSError:
        return  # a read-only cache folder costs speed, not correctness
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(header, fh, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(regmap, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, entry)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
