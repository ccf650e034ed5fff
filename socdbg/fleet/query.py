"""DuckDB SQL over dumps: a ``fields`` view (one row per field of every dump), a ``registers``
view (one per register) and a ``dumps`` view (one per dump), over a Parquet index written by
``fleet index`` or over dump files read now (``--dumps GLOB``)."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from socdbg.errors import UsageError
from socdbg.fleet import need

MAX_GLOB = 100_000  # dump files one --dumps reads

_META = ("dump, target, capture_time, map_name, map_identity")
VIEWS = {
    "fields": f"SELECT {_META}, register, address, field, value, enum, captured, skipped_why "
              "FROM rows WHERE field IS NOT NULL",
    "registers": f"SELECT {_META}, register, address, value, captured, skipped_why "
                 "FROM rows WHERE field IS NULL",
    "dumps": f"SELECT DISTINCT {_META}, dump_size, dump_sha256 FROM rows WHERE field IS NULL",
}


def connect(index: str | None, dumps: str | None) -> Any:
    """A DuckDB connection with the views over ``index`` (a Parquet file) or the dump files
    ``dumps`` matches (read and decoded now)."""
    duckdb = need("duckdb")
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        if index is not None:
            if not Path(index).is_file():
                raise UsageError(f"--index {index}: no such file",
                                 "socdbg fleet index DIR -o FILE.parquet writes one")
            quoted = str(Path(index).resolve()).replace("'", "''")
            con.execute(f"CREATE VIEW rows AS SELECT * FROM read_parquet('{quoted}')")
        else:
            _load_dumps(con, dumps or "")
        for name, sql in VIEWS.items():
            con.execute(f"CREATE VIEW {name} AS {sql}")
        # the SQL reads the dumps and nothing else: no other file, no COPY TO, no ATTACH
        if index is not None:
            con.execute(f"SET allowed_paths = ['{quoted}']")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except Exception:
        con.close()
        raise
    return con


def _load_dumps(con: Any, pattern: str) -> None:
    from socdbg.fleet.decode import Columns, FileId, decode_dump
    from socdbg.postmortem import read_dump

    files = sorted(glob.iglob(pattern, recursive=True))[:MAX_GLOB + 1]
    if len(files) > MAX_GLOB:
        raise UsageError(f"--dumps {pattern}: more than {MAX_GLOB} files",
                         "index them with fleet index and query the index")
    files = [f for f in files if Path(f).is_file()]
    if not files:
        raise UsageError(f"--dumps {pattern}: no dump files match")
    columns = Columns()
    for f in files:
        p = Path(f).resolve()
        st = p.stat()
        dump = read_dump(p)
        decode_dump(columns, dump, FileId(str(p), st.st_size, st.st_mtime_ns), dump.sha256)
    columns.create_table(con, "rows")


def run_query(con: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows; a DuckDB error is one line."""
    duckdb = need("duckdb")
    try:
        cur = con.execute(sql)
        if cur.description is None:
            return [], []
        names = [d[0] for d in cur.description]
        return names, cur.fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"query: {first}",
                         "views: fields, registers, dumps (docs/fleet.md)") from None
