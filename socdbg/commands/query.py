"""``query "SQL"``: DuckDB SQL over dumps (a ``fields``, a ``registers`` and a ``dumps``
view), from a Parquet index (``fleet index``) or from dump files read now."""

from __future__ import annotations

import csv
import datetime
import io
import json
from typing import Any

import click

from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError

MAX_ROWS_SHOWN = 10_000  # rows of a table on the screen (csv and json get them all)


@click.command("query", help="Run DuckDB SQL over dumps: the views fields (one row per field "
               "of every dump), registers and dumps; from --index FILE.parquet (fleet index) "
               "or --dumps GLOB (read now). docs/fleet.md has worked examples.")
@click.argument("sql")
@click.option("--index", metavar="FILE.parquet", type=click.Path(dir_okay=False),
              help="The index fleet index wrote.")
@click.option("--dumps", metavar="GLOB", help="Dump files to read now ('dumps/*.json.gz').")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table", show_default=True, help="Output form.")
@session_command
def query_cmd(session: Session, sql: str, index: str | None, dumps: str | None,
              fmt: str) -> Output:
    from socdbg.fleet.query import connect, run_query

    if (index is None) == (dumps is None):
        raise UsageError("query: give --index FILE.parquet or --dumps GLOB (one of them)")
    con = connect(index, dumps)
    try:
        names, rows = run_query(con, sql)
    finally:
        con.close()
    data = [dict(zip(names, (_plain(v) for v in row), strict=True)) for row in rows]
    if fmt == "json":
        return Output(data=data, as_json=True)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[_text(v) for v in row] for row in rows])
        return Output(data=data, text=buf.getvalue().rstrip("\n"))

    def render() -> Any:
        from rich.table import Table

        table = Table(show_edge=False, pad_edge=False, caption=f"{len(rows)} rows"
                      + (f", first {MAX_ROWS_SHOWN} shown" if len(rows) > MAX_ROWS_SHOWN
                         else ""), caption_justify="left")
        for name in names:
            table.add_column(name, overflow="fold")
        for row in rows[:MAX_ROWS_SHOWN]:
            table.add_row(*(_text(v) for v in row))
        return table

    return Output(data=data, render=render)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    plain = _plain(value)
    return plain if isinstance(plain, str) else json.dumps(plain)


register(query_cmd, Meta("postmortem", reads_files=("index",)))
