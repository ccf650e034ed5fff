"""A symbol table held as columns of the ELF symbol table itself (indexed by table row), with
two indexes built on first use: by name (a dict of rows, on the first name lookup; ``len``
before that counts the names with a set) and by address (sorted, bisect; on the first address
lookup). :class:`Symbol` objects are made
only for the symbols a lookup returns. The ELF reader (:mod:`socdbg.firmware.elf`) fills it
straight from the table's bytes.

Reading an image and looking up nothing (``load``, which says how many symbols it has) pays
for neither index; the first lookup of each kind pays for its own (scripts/bench_firmware.py
reports both first lookups beside the read)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from itertools import compress
from operator import eq, itemgetter
from pathlib import Path
from typing import NamedTuple, TypeVar

_T = TypeVar("_T")

STT_NAMES = {0: "notype", 1: "object", 2: "func", 3: "section", 4: "file", 5: "common",
             6: "tls", 10: "ifunc"}
STB_NAMES = {0: "local", 1: "global", 2: "weak", 10: "unique"}
SHN_ABS = 0xFFF1
LOCATED = (0, 1, 2)  # notype, object, func: the kinds an address resolves to
_KINDS = tuple(STT_NAMES.get(t, str(t)) for t in range(16))
_BINDS = tuple(STB_NAMES.get(b, str(b)) for b in range(16))


class Symbol(NamedTuple):
    """One symbol (a NamedTuple: made per lookup, so cheap to build)."""

    name: str
    address: int
    size: int
    kind: str
    bind: str
    section: str
    image: str
    file: str = ""  # source file of a local symbol (its STT_FILE), "" when unknown or global

    @property
    def qualified(self) -> str:
        """``'file.c'::name`` for a local symbol with a known file, else ``name``."""
        return f"'{self.file}'::{self.name}" if self.file and self.bind == "local" \
            else self.name


class Columns(NamedTuple):
    """The symbol table's columns, one entry per table row (row 0 is the null symbol):
    name offsets into ``strings``, values, sizes, st_info, section indices; then ``wanted``
    and ``located``, one byte (0 or 1) per row: the rows that are symbols, and the rows whose
    kind an address resolves to (notype, object, func)."""

    offsets: Sequence[int]
    values: Sequence[int]
    sizes: Sequence[int]
    infos: Sequence[int]
    shndx: Sequence[int]
    strings: bytes
    wanted: bytes
    located: bytes


EMPTY = Columns([], [], [], [], [], b"", b"", b"")


def _rank(bind: int, size: int) -> int:
    """Which of several same-named symbols a bare name means: global or weak over local,
    then sized over unsized."""
    return (0 if bind == 0 else 2) + (1 if size else 0)


def _dense(flags: bytes) -> bool:
    """Whether every row but the first (the null symbol) has its flag (one byte per row, 0 or
    1), as in a table of nothing but named symbols."""
    return flags[:1] != b"\1" and flags.find(0, 1) < 0


def _rows(flags: bytes) -> Sequence[int]:
    """The rows whose flag is 1: a range when that is every row but the first."""
    if _dense(flags):
        return range(1, len(flags))
    return list(compress(range(len(flags)), flags))


def _as_list(column: Sequence[int]) -> list[int]:
    """A column as a list (a view's items are slower to read than a list's)."""
    return column.tolist() if isinstance(column, memoryview) else list(column)


def _pick(column: Sequence[_T], rows: list[int]) -> list[_T]:
    """``[column[r] for r in rows]`` at C speed."""
    if len(rows) < 2:
        return [column[r] for r in rows]
    return list(itemgetter(*rows)(column))


class SymbolTable:
    """Symbols of one image: ``names`` (one per wanted row, in table order) and the table's
    :class:`Columns`. By name: a dict of table rows, built on first use; by address: rows
    sorted by address for bisect, built on first use. ``Symbol`` objects are built per
    lookup."""

    def __init__(self, names: list[str], columns: Columns,
                 file_of: Sequence[str] | _Files, section_names: list[str],
                 image: str) -> None:
        self._names, self._cols = names, columns
        self._values, self._sizes, self._infos = columns.values, columns.sizes, columns.infos
        self._shndx = columns.shndx
        # every row but the null one a symbol: the name of row r is names[r - 1]
        self._dense = _dense(columns.wanted)
        self._file_of = file_of
        self._section_names, self._image = section_names, image
        self._made: dict[int, Symbol] = {}  # table row -> the Symbol made for it
        self._named: dict[str, Symbol] = {}  # name -> what lookup(name) gave
        self._index: dict[str, int] | None = None  # name -> the row lookup(name) gives
        #: name -> every row with that name, only for names that repeat
        self._repeats: dict[str, list[int]] = {}
        self._distinct: int | None = None  # how many names, before the index is built
        # by address (built on first use): rows, their addresses and sizes, in address order
        self._syms: list[int] = []
        self._addrs: list[int] | None = None
        self._ssizes: list[int] = []

    def __len__(self) -> int:
        """How many distinct names (a count of the names, without building the index)."""
        if self._index is not None:
            return len(self._index)
        if self._distinct is None:
            self._distinct = len(set(self._names))
        return self._distinct

    def _by_name(self) -> dict[str, int]:
        index = self._index
        if index is not None:
            return index
        names = self._names
        rows = _rows(self._cols.wanted)
        index = dict(zip(names, rows, strict=True))
        repeats: dict[str, list[int]] = {}
        if len(index) != len(names):
            infos, sizes = self._infos, self._sizes
            for name, row in zip(names, rows, strict=True):
                if index[name] != row:
                    repeats.setdefault(name, []).append(row)
            for name, more in repeats.items():
                more.append(index[name])
                more.sort()
                index[name] = max(more, key=lambda r: (_rank(infos[r] >> 4, sizes[r]), -r))
        # both complete before either is seen (two threads may build the index at once)
        self._repeats = repeats
        self._index = index
        return index

    def _by_address(self) -> list[int]:
        """Addresses of the data and code symbols with a name, in (address, -size) order
        (and their rows in ``_syms``, sizes in ``_ssizes``)."""
        addrs = self._addrs
        if addrs is not None:
            return addrs
        cols = self._cols
        count = len(cols.wanted)
        both = (int.from_bytes(cols.wanted, "big") & int.from_bytes(cols.located, "big")
                ).to_bytes(count, "big")
        located = list(_rows(both))
        if "" in (self._index if self._index is not None else self._names):
            strings, offsets = cols.strings, cols.offsets
            located = [r for r in located if strings[offsets[r]]]  # a name, not its NUL
        # sort by address (the table is mostly in address order already: runs timsort takes
        # whole), then the few runs of equal addresses by size, largest first (stable)
        values, sizes = _as_list(self._values), _as_list(self._sizes)  # faster to read
        located.sort(key=values.__getitem__)
        addrs = _pick(values, located)
        del values
        same = bytes(map(eq, addrs[1:], addrs))  # same[k]: addrs[k + 1] == addrs[k]
        i = same.find(1)
        while i >= 0:
            start, stop = i, i + 2
            while stop < len(addrs) and addrs[stop] == addrs[start]:
                stop += 1
            if stop - start == 2:
                a, b = located[start], located[start + 1]
                if sizes[b] > sizes[a]:
                    located[start], located[start + 1] = b, a
            else:
                located[start:stop] = sorted(located[start:stop], key=sizes.__getitem__,
                                             reverse=True)
            i = same.find(1, stop)
        self._syms = located
        self._ssizes = _pick(sizes, located)  # sizes in address order
        self._addrs = addrs  # last: set means built
        return addrs

    def _symbol(self, row: int, name: str | None = None) -> Symbol:
        """The Symbol of table row ``row`` (``name``: its name, when the caller has it)."""
        sym = self._made.get(row)
        if sym is not None:
            return sym
        info, shndx = self._infos[row], self._shndx[row]
        section = ("*ABS*" if shndx == SHN_ABS else self._section_names[shndx]
                   if shndx < len(self._section_names) else "?")
        if name is None and self._dense:
            name = self._names[row - 1]
        elif name is None:
            # the reader has read this name already: inside the table, NUL-terminated
            strings, at = self._cols.strings, self._cols.offsets[row]
            name = strings[at : strings.index(b"\0", at)].decode("utf-8", "replace")
        sym = Symbol(name, self._values[row], self._sizes[row], _KINDS[info & 0xF],
                     _BINDS[info >> 4], section, self._image, self._file_of[row])
        self._made[row] = sym
        return sym

    def lookup(self, name: str) -> Symbol | None:
        """The symbol a bare ``name`` means: the global one when there is one (else the
        sized one); :meth:`candidates` says whether others share the name."""
        sym = self._named.get(name)
        if sym is None:
            index = self._index
            row = (index if index is not None else self._by_name()).get(name)
            if row is None:
                return None
            sym = self._named[name] = self._symbol(row, name)
        return sym

    def candidates(self, name: str) -> list[Symbol]:
        """Every symbol called ``name``, the one :meth:`lookup` gives first."""
        index = self._by_name()
        rows = self._repeats.get(name)
        if rows is None:
            row = index.get(name)
            return [] if row is None else [self._symbol(row, name)]
        first = index[name]
        return [self._symbol(r, name) for r in [first] + [r for r in rows if r != first]]

    def ambiguous(self, name: str) -> list[Symbol]:
        """The candidates when a bare ``name`` cannot say which symbol it means: several
        symbols at different addresses and no single global among them; else []."""
        self._by_name()
        rows = self._repeats.get(name)
        if rows is None:
            return []
        globals_ = [r for r in rows if self._infos[r] >> 4 != 0]
        if len(globals_) == 1 or len({self._values[r] for r in rows}) == 1:
            return []
        return self.candidates(name)

    def in_file(self, file: str, name: str) -> Symbol | None:
        """The symbol ``name`` local to source ``file`` (its full name, or its last path
        component)."""
        for sym in self.candidates(name):
            if sym.file and (sym.file == file or Path(sym.file).name == file):
                return sym
        return None

    def files(self, name: str) -> list[str]:
        return [s.file for s in self.candidates(name) if s.file]

    def containing(self, address: int) -> tuple[Symbol, int] | None:
        """The symbol whose [address, address+size) holds ``address`` (or, for unsized
        symbols, the nearest one at or below it) and the offset into it."""
        addrs = self._addrs
        if addrs is None:
            addrs = self._by_address()
        i = bisect.bisect_right(addrs, address) - 1
        best = -1
        sizes = self._ssizes
        j = i
        while j >= 0 and j > i - 64:
            size = sizes[j]
            if size and address < addrs[j] + size:  # addrs[j] <= address by the bisect
                r = self._syms[j]
                return self._made.get(r) or self._symbol(r), address - addrs[j]
            if best < 0 and not size:
                best = j
            j -= 1
        if best >= 0 and addrs[best] == addrs[i]:
            r = self._syms[best]
            return self._symbol(r), address - addrs[best]
        return None

    def names(self) -> list[str]:
        return list(self._by_name())

    @property
    def by_name(self) -> dict[str, Symbol]:
        """name -> the symbol :meth:`lookup` gives (builds every Symbol: for tests/tools)."""
        return {n: self._symbol(r, n) for n, r in self._by_name().items()}


class _Files:
    """The source file of each symbol (by table row), looked up when a Symbol is made: the
    STT_FILE symbol before a local one (``rows``: the table rows of the STT_FILE symbols,
    ``names`` their names; locals come before ``first_global``)."""

    __slots__ = ("_first_global", "_names", "_rows")

    def __init__(self, rows: list[int], names: list[str], first_global: int) -> None:
        self._rows, self._names = rows, names
        self._first_global = first_global

    def __getitem__(self, row: int) -> str:
        if not self._rows or row >= self._first_global:
            return ""
        i = bisect.bisect_right(self._rows, row) - 1
        return self._names[i] if i >= 0 else ""
