"""Layouts packed as JSON records, each built into a :class:`Layout` on first use.

The SVD reader records layouts here instead of building them, and the map cache stores the
records as they are: neither a cold load nor a warm one makes 100,000 frozen dataclasses up
front. The records are data only (JSON, never marshal or pickle): a cache entry cannot run
code, and every value read back is type-checked (:mod:`socdbg.regmap.stored`).
"""

from __future__ import annotations

import itertools
import json
from array import array
from collections.abc import Sequence
from typing import overload

from socdbg.errors import MapError
from socdbg.regmap.model import Access, EnumMember, Field, FieldEnum, Layout, OnRead, OnWrite
from socdbg.regmap.stored import as_int, as_str

#: A field as the walk records it: (name, lsb, msb, sw, onread, onwrite, reset, enum id or -1,
#: description); the enum id indexes the packed enums.
FieldRecord = tuple[str, int, int, str, str | None, str | None, int | None, int, str]


class PackedLayouts(Sequence[Layout]):
    """A map's layouts as JSON records, each built into a :class:`Layout` on first use.

    A large SVD file has tens of thousands of fields and enum members; creating (or
    unpickling) that many frozen dataclasses costs most of a second, while a warm load has a
    tenth of that. So the map holds two byte strings and their offsets, and a register's
    layout is decoded when something first looks at it. Enums are decoded once each and shared
    by every field that uses them.
    """

    __slots__ = ("_blob", "_built", "_ends", "_enum_blob", "_enum_ends", "_enums", "max_size")

    def __init__(self, blob: bytes, ends: array[int], enum_blob: bytes, enum_ends: array[int],
                 max_size: int) -> None:
        self._blob, self._ends = blob, ends
        self._enum_blob, self._enum_ends = enum_blob, enum_ends
        self.max_size = max_size
        self._built: list[Layout | None] = [None] * len(ends)
        self._enums: dict[int, FieldEnum] = {}

    def __reduce__(self) -> tuple[object, ...]:
        return (PackedLayouts, (self._blob, self._ends, self._enum_blob, self._enum_ends,
                                self.max_size))

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> Layout: ...

    @overload
    def __getitem__(self, index: slice) -> list[Layout]: ...

    def __getitem__(self, index: int | slice) -> Layout | list[Layout]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        found = self._built[index]
        if found is None:
            found = self._build(index % len(self._ends))
            self._built[index] = found
        return found

    def _build(self, i: int) -> Layout:
        start = self._ends[i - 1] if i else 0
        try:
            name, width, desc, fields = json.loads(self._blob[start:self._ends[i]])
            return Layout(name=as_str(name), width=as_int(width), accesswidth=as_int(width),
                          description=as_str(desc), fields=tuple(
                              Field(name=as_str(f[0]), lsb=as_int(f[1]), msb=as_int(f[2]),
                                    sw=Access(f[3]),
                                    onread=OnRead(f[4]) if f[4] else None,
                                    onwrite=OnWrite(f[5]) if f[5] else None,
                                    reset=None if f[6] is None else as_int(f[6]),
                                    enum=self._enum(f[7]) if as_int(f[7], -1) >= 0 else None,
                                    description=as_str(f[8]))
                              for f in fields))
        except (ValueError, TypeError, IndexError, KeyError, RecursionError):
            raise MapError(f"layout {i} of the cached map is corrupt",
                           "delete the map cache folder (socdbg rebuilds it)") from None

    def _enum(self, i: int) -> FieldEnum:
        found = self._enums.get(i)
        if found is None:
            start = self._enum_ends[i - 1] if i else 0
            name, members = json.loads(self._enum_blob[start:self._enum_ends[i]])
            found = FieldEnum(as_str(name), tuple(EnumMember(as_str(n), as_int(v), as_str(d))
                                              for n, v, d in members))
            self._enums[i] = found
        return found

    def columns(self) -> tuple[bytes, array[int], bytes, array[int], int]:
        """What the map cache stores: (layout records, their ends, enum records, their ends,
        largest register size in bytes)."""
        return self._blob, self._ends, self._enum_blob, self._enum_ends, self.max_size

    @classmethod
    def from_columns(cls, blob: bytes, ends: array[int], enum_blob: bytes,
                     enum_ends: array[int], max_size: int) -> PackedLayouts:
        """The inverse of :meth:`columns`, checking that every record lies inside its blob
        (a record itself is checked when it is first built)."""
        for e, b in ((ends, blob), (enum_ends, enum_blob)):
            if any(x > y for x, y in itertools.pairwise(e)) or (e and e[-1] > len(b)):
                raise ValueError("packed layout offsets out of order")
        if not 0 <= max_size <= 1 << 16:
            raise ValueError("packed layouts: bad largest size")
        return cls(blob, ends, enum_blob, enum_ends, max_size)


class Packer:
    """Collects layout and enum records, each distinct record once."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ids: dict[bytes, int] = {}
        self.enum_chunks: list[bytes] = []
        self.enum_ids: dict[bytes, int] = {}
        self.max_width = 0

    def layout(self, name: str, width: int, desc: str, fields: tuple[FieldRecord, ...]) -> int:
        blob = _record([name, width, desc, fields])
        idx = self.ids.get(blob)
        if idx is None:
            idx = self.ids[blob] = len(self.chunks)
            self.chunks.append(blob)
            self.max_width = max(self.max_width, width)
        return idx

    def enum(self, name: str, members: list[tuple[str, int, str]]) -> int:
        blob = _record([name, members])
        idx = self.enum_ids.get(blob)
        if idx is None:
            idx = self.enum_ids[blob] = len(self.enum_chunks)
            self.enum_chunks.append(blob)
        return idx

    def packed(self) -> PackedLayouts:
        return PackedLayouts(b"".join(self.chunks), _ends(self.chunks),
                             b"".join(self.enum_chunks), _ends(self.enum_chunks),
                             self.max_width // 8)


def _record(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _ends(chunks: list[bytes]) -> array[int]:
    out = array("Q")
    at = 0
    for c in chunks:
        at += len(c)
        out.append(at)
    return out
