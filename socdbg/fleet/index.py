"""Dumps into one Parquet table for ``socdbg query``.

One row per register and one per field of every dump::

    dump, target, capture_time, map_name, map_identity, register, address,
    field (NULL on the register's own row), value (NULL when not captured), enum,
    captured, skipped_why, dump_size, dump_mtime_ns, dump_sha256

Dumps are read with the postmortem reader (every check of an untrusted dump applies); the
fields are decoded with numpy, one layout per map identity (all dumps of one map share it),
built from the map the dump embeds. Indexing is incremental: which dumps are in the index is
read back from the index itself (path, size, mtime, SHA-256), so the file and its bookkeeping
cannot disagree; only new or changed dumps are read. Many new dumps are read by a pool of
processes, each writing a part file that DuckDB merges with the old index into the new one,
which replaces the old atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socdbg.errors import SocdbgError, UsageError
from socdbg.fleet import need
from socdbg.fleet.decode import Columns, FileId, decode_dump, file_sha256

SUFFIXES = (".json", ".json.gz")
MAX_DUMPS = 1_000_000  # files one index run considers
POOL_MIN = 64  # new dumps before reading them in a pool of processes
CHUNK = 256  # dumps per part file


@dataclass
class IndexStats:
    dumps: int = 0  # in the index after this run
    rows: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"dumps": self.dumps, "rows": self.rows, "added": self.added,
                "replaced": self.replaced, "unchanged": self.unchanged,
                "rejected": self.rejected, "problems": self.problems}


def find_dumps(folder: Path) -> list[FileId]:
    """Regular files named ``*.json`` / ``*.json.gz`` in ``folder`` and below (links are
    not followed), sorted by path."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    out: list[FileId] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(SUFFIXES):
                continue
            p = Path(root) / name
            st = p.lstat()
            if not p.is_symlink() and p.is_file():
                out.append(FileId(str(p.resolve()), st.st_size, st.st_mtime_ns))
            if len(out) > MAX_DUMPS:
                raise UsageError(f"{folder}: more than {MAX_DUMPS} dumps in one index run")
    return out


def indexed(con: Any, index: Path) -> dict[str, tuple[int, int, str]]:
    """The dumps already in ``index``: path -> (size, mtime_ns, sha256)."""
    if not index.exists():
        return {}
    try:
        rows = con.execute("SELECT DISTINCT dump, dump_size, dump_mtime_ns, dump_sha256 "
                           "FROM read_parquet(?)", [str(index)]).fetchall()
    except Exception as exc:  # duckdb.Error: not one of our indexes
        raise UsageError(f"{index}: not a socdbg index: {_one_line(exc)}",
                         "give a new file name, or the file fleet index wrote") from None
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def update_index(folder: Path, index: Path, workers: int | None = None) -> IndexStats:
    """Add the dumps of ``folder`` that are new or changed to ``index`` (created if needed)."""
    duckdb = need("duckdb")
    stats = IndexStats()
    files = find_dumps(folder)
    con = duckdb.connect()
    try:
        known = indexed(con, index)
    finally:
        con.close()  # no DuckDB threads while the pool forks
    todo: list[FileId] = []
    replace: list[str] = []
    for f in files:
        old = known.get(f.path)
        if old is not None and old[:2] == (f.size, f.mtime_ns):
            stats.unchanged += 1
        elif old is not None and old[2] == file_sha256(f.path):
            stats.unchanged += 1  # touched, not changed: keep its rows
        else:
            todo.append(f)
            if old is not None:
                replace.append(f.path)
    columns, problems, added = read_dumps(todo, workers)
    stats.problems = problems
    stats.rejected = len(problems)
    stats.replaced = sum(1 for p in replace if p in added)
    stats.added = len(added) - stats.replaced
    con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="socdbg-index-",
                                         dir=index.parent if str(index.parent) else ".") as tmp:
            part = None
            if columns.dumps:
                part = str(Path(tmp) / "new.parquet")
                columns.write_parquet(part)
            if part and not index.exists():  # a new index: the new rows are all of it
                os.replace(part, index)
            elif part or (replace and index.exists()):
                _merge(con, index, [part] if part else [], sorted(added), Path(tmp))
        if index.exists():
            stats.dumps, stats.rows = con.execute(
                "SELECT count(DISTINCT dump), count(*) FROM read_parquet(?)",
                [str(index)]).fetchone()
    finally:
        con.close()
    return stats


def _merge(con: Any, index: Path, parts: list[str], replaced: list[str], tmp: Path) -> None:
    out = tmp / "index.parquet"
    sources = []
    params: list[Any] = []
    if index.exists():
        sources.append("SELECT * FROM read_parquet(?) WHERE NOT list_contains(?, dump)")
        params += [str(index), replaced]
    if parts:
        sources.append("SELECT * FROM read_parquet(?)")
        params.append(parts)
    sql = " UNION ALL ".join(sources)
    con.execute("SET enable_progress_bar = false")
    con.execute(f"COPY ({sql}) TO '{_quote(out)}' "
                "(FORMAT parquet, COMPRESSION zstd)", params)
    os.replace(out, index)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def read_dumps(todo: Sequence[FileId], workers: int | None = None
               ) -> tuple[Columns, list[str], set[str]]:
    """Read and decode ``todo``: in this process when they are few, else in a pool of
    processes (forked where the system can: they start at once and inherit the layouts)."""
    import multiprocessing

    n = workers if workers is not None else min(os.cpu_count() or 1, 8)
    columns = Columns()
    problems: list[str] = []
    added: set[str] = set()
    if len(todo) < POOL_MIN or n <= 1:
        results = [read_chunk(list(todo))]
    else:
        read_chunk(list(todo[:1]))  # the first map's layout, before the workers start
        size = max(16, min(CHUNK, len(todo) // (n * 4) + 1))
        chunks = [list(todo[i:i + size]) for i in range(0, len(todo), size)]
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context(method)) as pool:
            results = list(pool.map(read_chunk, chunks))
    for part, bad, done in results:
        columns.extend(part)
        problems += bad
        added.update(done)
    return columns, problems, added


def read_chunk(files: list[FileId]) -> tuple[Columns, list[str], list[str]]:
    """Read and decode ``files`` (in a pool worker or here): the rows, the problems (one line
    each), the dumps read."""
    from socdbg.postmortem import read_dump

    columns = Columns()
    problems: list[str] = []
    done: list[str] = []
    for f in files:
        try:
            dump = read_dump(f.path)
            decode_dump(columns, dump, f, dump.sha256)  # the bytes it was read from
        except SocdbgError as exc:
            problems.append(exc.message)
            continue
        except OSError as exc:
            problems.append(f"{f.path}: {exc.strerror or exc}")
            continue
        done.append(f.path)
    return columns, problems, done


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
