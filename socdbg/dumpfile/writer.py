"""Writing a dump file (atomically, bounded) and the map it embeds: the sources taken from a
loaded map, and the map rebuilt from a dump's sources in a folder of the map cache."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

from socdbg.dumpfile.model import MAX_DOCUMENT, Dump, DumpError, source_name_problem
from socdbg.dumpfile.reader import _Bad, _embedded_identity, _show
from socdbg.regmap import RegMap


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
