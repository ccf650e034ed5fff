"""Dumps to index rows: the fields of every register decoded with numpy, one layout per map
identity (cached: all dumps of one map share it), built from the map the dump embeds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from socdbg.fleet.report import name_from_file

if TYPE_CHECKING:
    from socdbg.postmortem import Dump



@dataclass(frozen=True)
class FileId:
    """A dump file as the index knows it."""

    path: str
    size: int
    mtime_ns: int


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Layout:
    """Where each register and field of one map is, as arrays: the rows of one dump are
    ``registers`` then ``fields``, always in this order."""

    registers: list[str]
    position: dict[str, int]  # register path -> index in registers
    addresses: np.ndarray[Any, np.dtype[np.uint64]]
    field_reg: np.ndarray[Any, np.dtype[np.int64]]  # register index of each field
    field_names: np.ndarray[Any, np.dtype[np.object_]]
    field_lsb: np.ndarray[Any, np.dtype[np.uint64]]
    field_mask: np.ndarray[Any, np.dtype[np.uint64]]
    enums: dict[int, dict[int, str]]  # field index -> value -> member name

    @property
    def rows(self) -> int:
        return len(self.registers) + len(self.field_names)

    def table(self, identity: str) -> dict[str, np.ndarray[Any, Any]]:
        """The layout as rows (registers, then fields): register, address, field."""
        names = np.array(self.registers, dtype=object)
        n = self.rows
        return {"map_identity": np.full(n, identity, dtype=object),
                "row_no": np.arange(n, dtype=np.int64),
                "register": np.concatenate([names, names[self.field_reg]]),
                "address": np.concatenate([self.addresses, self.addresses[self.field_reg]]),
                "field": np.concatenate([np.full(len(names), None, dtype=object),
                                         self.field_names])}


_LAYOUTS: dict[str, Layout] = {}  # by map identity


def _layout_of(dump: Dump) -> Layout:
    from socdbg.postmortem import dump_map
    from socdbg.regmap import load_map

    rmap = dump_map(dump, load_map)
    regs = list(rmap)
    fields = [(i, f) for i, r in enumerate(regs) for f in r.fields]
    enums = {k: {m.value: m.name for m in f.enum.members}
             for k, (_, f) in enumerate(fields) if f.enum is not None}
    return Layout([r.path for r in regs], {r.path: i for i, r in enumerate(regs)},
                  np.array([r.address for r in regs], dtype=np.uint64),
                  np.array([i for i, _ in fields], dtype=np.int64),
                  np.array([f.name for _, f in fields], dtype=object),
                  np.array([f.lsb for _, f in fields], dtype=np.uint64),
                  np.array([(1 << f.width) - 1 for _, f in fields], dtype=np.uint64),
                  enums)


def layout(dump: Dump) -> Layout:
    """The layout of the dump's map (compiled from its embedded sources once per identity)."""
    found = _LAYOUTS.get(dump.map_identity)
    if found is None:
        found = _LAYOUTS[dump.map_identity] = _layout_of(dump)
    return found


#: The index rows from the tables :meth:`Columns.tables` hands DuckDB: the per-row values,
#: the per-dump facts, the per-map layout (register, address, field per row) and the texts
#: (enum member names, reasons a register was not captured) the rows refer to by number.
SELECT = ("SELECT d.dump, d.target, TRY_CAST(d.capture_time AS TIMESTAMPTZ) AS capture_time, "
          "d.map_name, d.map_identity, l.register, l.address, l.field, "
          "CASE WHEN r.captured THEN r.value END AS value, e.text AS enum, r.captured, "
          "w.text AS skipped_why, d.dump_size, d.dump_mtime_ns, d.dump_sha256 "
          "FROM rows r JOIN dumps d USING (dump_no) "
          "JOIN layouts l ON l.map_identity = d.map_identity AND l.row_no = r.row_no "
          "LEFT JOIN texts e ON e.text_no = r.enum_no "
          "LEFT JOIN texts w ON w.text_no = r.why_no")
NO_TEXT = -1


@dataclass
class Columns:
    """Index rows being gathered: per row only what differs between dumps (value, captured,
    the numbers of its enum name and of why it was not captured); the dump's own facts once
    per dump; the layout once per map. Picklable (a pool worker sends it back)."""

    values: list[np.ndarray[Any, Any]] = field(default_factory=list)
    captured: list[np.ndarray[Any, Any]] = field(default_factory=list)
    enum: list[np.ndarray[Any, Any]] = field(default_factory=list)
    why: list[np.ndarray[Any, Any]] = field(default_factory=list)
    dumps: list[tuple[str, str, str, str, str, int, int, str]] = field(default_factory=list)
    layouts: dict[str, Layout] = field(default_factory=dict)
    texts: dict[str, int] = field(default_factory=dict)

    def text(self, value: str) -> int:
        found = self.texts.get(value)
        if found is None:
            found = self.texts[value] = len(self.texts)
        return found

    def extend(self, other: Columns) -> None:
        remap = np.array([self.text(t) for t in other.texts] + [NO_TEXT], dtype=np.int32)
        self.values += other.values
        self.captured += other.captured
        self.enum += [remap[codes] for codes in other.enum]  # NO_TEXT (-1) stays -1
        self.why += [remap[codes] for codes in other.why]
        self.dumps += other.dumps
        self.layouts.update(other.layouts)

    def tables(self) -> dict[str, dict[str, Any]]:
        """rows, dumps, layouts and texts as dicts of numpy arrays, for DuckDB to read."""
        sizes = [len(v) for v in self.values]
        rows = {"dump_no": np.repeat(np.arange(len(sizes), dtype=np.int64), sizes),
                "row_no": np.concatenate([np.arange(n, dtype=np.int64) for n in sizes]),
                "value": np.concatenate(self.values),
                "captured": np.concatenate(self.captured),
                "enum_no": np.concatenate(self.enum), "why_no": np.concatenate(self.why)}
        cols = list(zip(*self.dumps, strict=True))
        dumps: dict[str, Any] = {"dump_no": np.arange(len(self.dumps), dtype=np.int64)}
        for i, name in enumerate(("dump", "target", "capture_time", "map_name",
                                  "map_identity")):
            dumps[name] = np.array(cols[i], dtype=object)
        dumps["dump_size"] = np.array(cols[5], dtype=np.int64)
        dumps["dump_mtime_ns"] = np.array(cols[6], dtype=np.int64)
        dumps["dump_sha256"] = np.array(cols[7], dtype=object)
        parts = [lay.table(identity) for identity, lay in self.layouts.items()]
        layouts = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        texts = {"text_no": np.arange(len(self.texts), dtype=np.int32),
                 "text": np.array(list(self.texts) or [""], dtype=object)[:len(self.texts)]}
        return {"rows": rows, "dumps": dumps, "layouts": layouts, "texts": texts}

    def _run(self, con: Any, sql: str) -> None:
        tables = self.tables()
        for name, table in tables.items():
            con.register(name, table)
        con.execute("SET enable_progress_bar = false")
        con.execute(sql)
        for name in tables:
            con.unregister(name)

    def write_parquet(self, path: str) -> None:
        import duckdb

        con = duckdb.connect()
        try:
            self._run(con, f"COPY ({SELECT}) TO '{path.replace(chr(39), chr(39) * 2)}' "
                      "(FORMAT parquet, COMPRESSION zstd)")
        finally:
            con.close()

    def create_table(self, con: Any, name: str) -> None:
        """The rows as table ``name`` of ``con`` (``query --dumps``)."""
        self._run(con, f"CREATE TABLE {name} AS {SELECT}")


def decode_dump(out: Columns, dump: Dump, file: FileId, sha256: str) -> None:
    """Add the rows of one dump: each register of its map (value, or not captured and why),
    then each field (value and enum member name)."""
    lay = layout(dump)
    out.layouts.setdefault(dump.map_identity, lay)
    nregs = len(lay.registers)
    values = np.zeros(nregs, dtype=np.uint64)
    captured = np.zeros(nregs, dtype=bool)
    position = lay.position
    for path, (_, _, value) in dump.registers.items():
        i = position.get(path)
        if i is not None:
            values[i] = value
            captured[i] = True
    why = np.where(captured, NO_TEXT, out.text("not in the dump")).astype(np.int32)
    for path, reason in dump.skipped:
        i = position.get(path)
        if i is not None and not captured[i]:
            why[i] = out.text(reason)
    fvalues = (values[lay.field_reg] >> lay.field_lsb) & lay.field_mask
    fcaptured = captured[lay.field_reg]
    enum = np.full(lay.rows, NO_TEXT, dtype=np.int32)
    for k, members in lay.enums.items():
        if fcaptured[k]:
            member = members.get(int(fvalues[k]))
            if member is not None:
                enum[nregs + k] = out.text(member)
    out.values.append(np.concatenate([values, fvalues]))
    out.captured.append(np.concatenate([captured, fcaptured]))
    out.enum.append(enum)
    out.why.append(np.concatenate([why, why[lay.field_reg]]))
    name = name_from_file(file.path.rsplit("/", 1)[-1]) or dump.target
    out.dumps.append((file.path, name, dump.wall_time, dump.map_name, dump.map_identity,
                      file.size, file.mtime_ns, sha256))
