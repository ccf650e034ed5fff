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

#: The index's columns, in order (docs/fleet.md describes them).
COLUMNS = ("dump", "target", "capture_time", "map_name", "map_identity", "register",
           "address", "field", "value", "enum", "captured", "skipped_why", "dump_size",
           "dump_mtime_ns", "dump_sha256")


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


@dataclass
class Columns:
    """Index rows being gathered, column by column (numpy arrays, joined when written)."""

    parts: dict[str, list[np.ndarray[Any, Any]]] = field(
        default_factory=lambda: {c: [] for c in COLUMNS})

    def add(self, **arrays: np.ndarray[Any, Any]) -> None:
        for name in COLUMNS:
            self.parts[name].append(arrays[name])

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        return {c: np.concatenate(v) for c, v in self.parts.items()}

    def write_parquet(self, path: str) -> None:
        import duckdb

        rows = self.arrays()  # noqa: F841 - DuckDB reads the local by name
        con = duckdb.connect()
        try:
            con.execute(
                "COPY (SELECT dump, target, TRY_CAST(capture_time AS TIMESTAMPTZ) AS "
                "capture_time, map_name, map_identity, register, address, field, "
                "CASE WHEN captured THEN value END AS value, enum, captured, skipped_why, "
                "dump_size, dump_mtime_ns, dump_sha256 FROM rows) "
                f"TO '{path.replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)")
        finally:
            con.close()


def decode_dump(out: Columns, dump: Dump, file: FileId, sha256: str) -> None:
    """Add the rows of one dump: each register of its map (value, or not captured and why),
    then each field (value and enum member name)."""
    lay = layout(dump)
    nregs = len(lay.registers)
    values = np.zeros(nregs, dtype=np.uint64)
    captured = np.zeros(nregs, dtype=bool)
    why = np.full(nregs, "not in the dump", dtype=object)
    for path, (_, _, value) in dump.registers.items():
        i = lay.position.get(path)
        if i is not None:
            values[i] = value
            captured[i] = True
            why[i] = None
    for path, reason in dump.skipped:
        i = lay.position.get(path)
        if i is not None and not captured[i]:
            why[i] = reason
    fvalues = (values[lay.field_reg] >> lay.field_lsb) & lay.field_mask
    fcaptured = captured[lay.field_reg]
    enum = np.full(len(fvalues), None, dtype=object)
    for k, members in lay.enums.items():
        if fcaptured[k]:
            enum[k] = members.get(int(fvalues[k]))
    n = lay.rows
    name = name_from_file(file.path.rsplit("/", 1)[-1]) or dump.target

    def same(value: object) -> np.ndarray[Any, Any]:
        return np.full(n, value, dtype=object)

    out.add(dump=same(file.path), target=same(name), capture_time=same(dump.wall_time),
            map_name=same(dump.map_name), map_identity=same(dump.map_identity),
            register=np.concatenate([np.array(lay.registers, dtype=object),
                                     np.array(lay.registers, dtype=object)[lay.field_reg]]),
            address=np.concatenate([lay.addresses, lay.addresses[lay.field_reg]]),
            field=np.concatenate([np.full(nregs, None, dtype=object), lay.field_names]),
            value=np.concatenate([values, fvalues]),
            enum=np.concatenate([np.full(nregs, None, dtype=object), enum]),
            captured=np.concatenate([captured, fcaptured]),
            skipped_why=np.concatenate([why, why[lay.field_reg]]),
            dump_size=np.full(n, file.size, dtype=np.int64),
            dump_mtime_ns=np.full(n, file.mtime_ns, dtype=np.int64),
            dump_sha256=same(sha256))
