"""The compiled-map cache: every run loads the map from here; sources are compiled only when
one of them (or an include, or the compiler) changed.

An entry is keyed by what was asked for (source paths, include paths, defines, top) and holds
the SHA-256 of every file the compile read plus the compiler's version. A warm load re-hashes
those files (kilobytes), checks the compiler version without importing it, and unpickles a few
flat columns. A stale or unreadable entry is rebuilt, never trusted. Writes are atomic.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import pickle
import tempfile
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
    spec = importlib.util.find_spec("systemrdl")
    if spec is None or not spec.submodule_search_locations:
        return "missing"
    about = Path(next(iter(spec.submodule_search_locations))) / "__about__.py"
    try:
        return hashlib.sha256(about.read_bytes()).hexdigest()[:16]
    except OSError:
        return "unknown"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _request_key(sources: Sequence[Path], include_paths: Sequence[Path],
                 defines: Mapping[str, str], top: str) -> str:
    blob = json.dumps([CACHE_FORMAT, [str(p) for p in sources],
                       [str(p) for p in include_paths], sorted(defines.items()), top])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _identity(deps: Sequence[tuple[str, str]], defines: Mapping[str, str], top: str) -> str:
    """The map's identity: the content of every source, the defines and the top; not where the
    files happen to live, so the same map checked out elsewhere has the same identity."""
    h = hashlib.sha256()
    for path, digest in deps:
        h.update(Path(path).name.encode() + b"\0" + digest.encode() + b"\0")
    h.update(json.dumps([sorted(defines.items()), top]).encode())
    return h.hexdigest()


def load_map(
    sources: Sequence[Path | str],
    include_paths: Sequence[Path | str] = (),
    defines: Mapping[str, str] | None = None,
    top: str | None = None,
    *,
    use_cache: bool = True,
) -> RegMap:
    """Load a register map from SystemRDL sources, through the cache."""
    srcs = [Path(s).resolve() for s in sources]
    incs = [Path(p).resolve() for p in include_paths]
    for s in srcs:
        if not s.is_file():
            raise MapError(f"{s}: no such register description file")
    defs = dict(defines or {})
    key = _request_key(srcs, incs, defs, top or "")
    entry = cache_dir() / f"map-{key}.pkl"
    version = compiler_version()
    if use_cache:
        cached = _read_entry(entry, version)
        if cached is not None:
            return cached
    return _rebuild(srcs, incs, defs, top, entry, version, use_cache)


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


def _rebuild(srcs: list[Path], incs: list[Path], defs: dict[str, str], top: str | None,
             entry: Path, version: str, write: bool) -> RegMap:
    from socdbg.regmap.rdl import compile_rdl_files

    regmap, files = compile_rdl_files(srcs, incs, defs, top)
    deps = [(str(p), _digest(p)) for p in files if p.is_file()]
    regmap.source = MapSource(tuple(str(s) for s in srcs), _identity(deps, defs, top or ""),
                              tuple(sorted(defs.items())), top or "",
                              tuple(path for path, _ in deps))
    if write:
        header = {"format": CACHE_FORMAT, "compiler": version, "deps": deps}
        _write_atomic(entry, header, regmap)
    return regmap


def _write_atomic(entry: Path, header: dict[str, object], regmap: RegMap) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
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
