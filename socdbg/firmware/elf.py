"""ELF images: loadable segments and the symbol table.

The headers, program headers and section headers are read with ``struct`` (no pyelftools on
this path: importing it costs more than reading a 100,000-symbol table). The symbol table is
decoded into columns straight from its bytes (strided memoryviews in the machine's byte
order, one ``struct.unpack`` in the other); :class:`Symbol` objects are made only for the
symbols a lookup returns. Every size, offset and count read from the file is checked against
the file before it is used; any malformed input becomes one :class:`FirmwareError` line.

Local symbols carry the source file they come from: the ``STT_FILE`` symbol that precedes them
in the symbol table (as the assembler and linker order them), so two ``static`` functions with
one name can be told apart (``'uart.c'::init``).
"""

from __future__ import annotations

import bisect
import struct
import sys
from collections.abc import Sequence
from itertools import accumulate, compress, repeat
from operator import add, itemgetter
from pathlib import Path
from typing import NamedTuple, TypeVar

from socdbg.errors import SocdbgError

_T = TypeVar("_T")

SHT_SYMTAB = 2
SHT_DYNSYM = 11
SHT_NOBITS = 8
PT_LOAD = 1
STT_NAMES = {0: "notype", 1: "object", 2: "func", 3: "section", 4: "file", 5: "common",
             6: "tls", 10: "ifunc"}
STT_SECTION, STT_FILE = 3, 4
_SYM64 = "IBBHQQ"  # Elf64_Sym: name, info, other, shndx, value, size
_SYM32 = "IIIBBH"  # Elf32_Sym: name, value, size, info, other, shndx
STB_NAMES = {0: "local", 1: "global", 2: "weak", 10: "unique"}
SHN_UNDEF, SHN_ABS = 0, 0xFFF1
_LOCATED = (0, 1, 2)  # notype, object, func: the kinds an address resolves to
_MACHINES = {0: "EM_NONE", 3: "EM_386", 8: "EM_MIPS", 20: "EM_PPC", 21: "EM_PPC64",
             40: "EM_ARM", 62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV"}
_KINDS = tuple(STT_NAMES.get(t, str(t)) for t in range(16))
_BINDS = tuple(STB_NAMES.get(b, str(b)) for b in range(16))
_NONZERO = bytes([0] + [1] * 255)
_ZERO = bytes([1] + [0] * 255)  # 0/1 flags inverted
_WANTED = bytes(0 if b & 0xF in (STT_SECTION, STT_FILE) else 1 for b in range(256))
_LOCATED_TYPES = bytes(1 if b & 0xF in _LOCATED else 0 for b in range(256))
_FILES = bytes(1 if b & 0xF == STT_FILE else 0 for b in range(256))
MAX_HEADERS = 65535  # e_phnum / e_shnum are 16-bit; extended numbering is refused


class FirmwareError(SocdbgError):
    """An ELF file is missing, not an ELF, truncated, corrupt or unusable."""


class Segment:
    """One loadable segment. (A slotted class, not a dataclass: importing dataclasses costs
    a one-shot command more than reading a 100,000-symbol table's columns.)"""

    __slots__ = ("address", "data", "flags", "index", "memsz")

    def __init__(self, index: int, address: int, data: bytes, memsz: int, flags: int) -> None:
        self.index = index
        self.address = address  # load (physical) address
        self.data = data  # file bytes
        self.memsz = memsz  # bytes in memory: data then zero fill
        self.flags = flags

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Segment) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __hash__(self) -> int:
        return hash((self.index, self.address, self.data, self.memsz, self.flags))

    def __repr__(self) -> str:
        return (f"Segment(index={self.index}, address={self.address:#x}, "
                f"data=<{len(self.data)} bytes>, memsz={self.memsz:#x}, flags={self.flags})")

    @property
    def end(self) -> int:
        return self.address + self.memsz

    @property
    def perms(self) -> str:
        return "".join(c if self.flags & bit else "-" for c, bit in (("r", 4), ("w", 2),
                                                                    ("x", 1)))


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


def _rank(bind: int, size: int) -> int:
    """Which of several same-named symbols a bare name means: global or weak over local,
    then sized over unsized."""
    return (0 if bind == 0 else 2) + (1 if size else 0)


def _pick(column: Sequence[_T], rows: list[int]) -> list[_T]:
    """``[column[r] for r in rows]`` at C speed."""
    if len(rows) < 2:
        return [column[r] for r in rows]
    return list(itemgetter(*rows)(column))


class SymbolTable:
    """Symbols of one image, held as columns: by name (dict of row numbers) and by address
    (sorted, bisect). ``Symbol`` objects are built per lookup."""

    def __init__(self, names: list[str], values: list[int], sizes: list[int],
                 infos: list[int], shndx: list[int], file_of: Sequence[str] | _Files,
                 section_names: list[str], image: str,
                 located: list[int] | None = None) -> None:
        self._names, self._values, self._sizes = names, values, sizes
        self._infos, self._shndx, self._file_of = infos, shndx, file_of
        self._section_names, self._image = section_names, image
        self._made: dict[int, Symbol] = {}  # row -> the Symbol made for it
        self._named: dict[str, Symbol] = {}  # name -> what lookup(name) gave
        rows = range(len(names))
        index = dict(zip(names, rows, strict=True))
        self._index = index
        #: name -> every row with that name, only for names that repeat
        self._repeats: dict[str, list[int]] = {}
        if len(index) != len(names):
            for name, row in zip(names, rows, strict=True):
                if index[name] != row:
                    self._repeats.setdefault(name, []).append(row)
            for name, more in self._repeats.items():
                more.append(index[name])
                more.sort()
                index[name] = max(more, key=lambda r: (_rank(infos[r] >> 4, sizes[r]), -r))
        # by address: only data and code symbols with a name
        if located is None:
            located = [r for r, info in zip(rows, infos, strict=True) if info & 0xF in _LOCATED]
        if "" in index:
            located = [r for r in located if names[r]]
        # (address, -size) order: by size, largest first, then (a stable sort) by address
        located.sort(key=sizes.__getitem__, reverse=True)
        located.sort(key=values.__getitem__)
        addrs = _pick(values, located)
        self._syms = located
        self._addrs = addrs
        self._ssizes = _pick(sizes, located)  # sizes in address order

    def __len__(self) -> int:
        return len(self._index)

    def _symbol(self, row: int) -> Symbol:
        sym = self._made.get(row)
        if sym is not None:
            return sym
        info, shndx = self._infos[row], self._shndx[row]
        section = ("*ABS*" if shndx == SHN_ABS else self._section_names[shndx]
                   if shndx < len(self._section_names) else "?")
        sym = Symbol(self._names[row], self._values[row], self._sizes[row],
                     _KINDS[info & 0xF], _BINDS[info >> 4], section, self._image,
                     self._file_of[row])
        self._made[row] = sym
        return sym

    def lookup(self, name: str) -> Symbol | None:
        """The symbol a bare ``name`` means: the global one when there is one (else the
        sized one); :meth:`candidates` says whether others share the name."""
        sym = self._named.get(name)
        if sym is None:
            row = self._index.get(name)
            if row is None:
                return None
            sym = self._named[name] = self._symbol(row)
        return sym

    def candidates(self, name: str) -> list[Symbol]:
        """Every symbol called ``name``, the one :meth:`lookup` gives first."""
        rows = self._repeats.get(name)
        if rows is None:
            row = self._index.get(name)
            return [] if row is None else [self._symbol(row)]
        first = self._index[name]
        return [self._symbol(r) for r in [first] + [r for r in rows if r != first]]

    def ambiguous(self, name: str) -> list[Symbol]:
        """The candidates when a bare ``name`` cannot say which symbol it means: several
        symbols at different addresses and no single global among them; else []."""
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
        return list(self._index)

    @property
    def by_name(self) -> dict[str, Symbol]:
        """name -> the symbol :meth:`lookup` gives (builds every Symbol: for tests/tools)."""
        return {n: self._symbol(r) for n, r in self._index.items()}


class ElfImage(NamedTuple):
    path: str
    name: str
    elfclass: int
    little_endian: bool
    e_machine: int
    entry: int
    segments: tuple[Segment, ...]
    symbols: SymbolTable

    @property
    def machine(self) -> str:
        """``EM_RISCV``: pyelftools' name for ``e_machine``."""
        known = _MACHINES.get(self.e_machine)
        if known is not None:
            return known
        from elftools.elf.enums import ENUM_E_MACHINE

        return next((k for k, v in ENUM_E_MACHINE.items() if v == self.e_machine),
                    str(self.e_machine))

    @property
    def size(self) -> int:
        return sum(s.memsz for s in self.segments)

    def covers(self, address: int) -> bool:
        """True when ``address`` lies in one of the image's loadable segments."""
        return any(s.address <= address < s.end for s in self.segments)


def read_elf(path: str | Path) -> ElfImage:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FirmwareError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise FirmwareError(f"{p}: is a directory, not an ELF file") from None
    except OSError as exc:
        raise FirmwareError(f"{p}: cannot read: {exc.strerror}") from None
    return parse_elf(raw, str(p))


def parse_elf(raw: bytes, name: str) -> ElfImage:
    """Parse an ELF image from bytes; every defect becomes one FirmwareError line."""
    if len(raw) < 16 or raw[:4] != b"\x7fELF":
        raise FirmwareError(f"{name}: not an ELF file (no \\x7fELF magic)")
    if raw[4] not in (1, 2):
        raise FirmwareError(f"{name}: unsupported ELF class {raw[4]} (expected 32- or 64-bit)")
    if raw[5] not in (1, 2):
        raise FirmwareError(f"{name}: unsupported ELF data encoding {raw[5]}")
    try:
        return _parse(raw, name)
    except (struct.error, ValueError, IndexError, KeyError, OverflowError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FirmwareError(f"{name}: corrupt or truncated ELF ({detail[:120]})") from None


def _table(raw: bytes, name: str, what: str, off: int, num: int, entsize: int,
           need: int) -> list[int]:
    """Offsets of ``num`` entries of ``entsize`` bytes at ``off``, all inside the file."""
    if num == 0:
        return []
    if num > MAX_HEADERS or entsize < need:
        raise FirmwareError(f"{name}: corrupt or truncated ELF ({what}: {num} entries of "
                            f"{entsize} bytes)")
    if off + num * entsize > len(raw):
        raise FirmwareError(f"{name}: corrupt or truncated ELF ({what} run past the end of "
                            f"the file)")
    return [off + i * entsize for i in range(num)]


class _Section(NamedTuple):
    name: int
    type: int
    offset: int
    size: int
    link: int
    info: int


def _parse(raw: bytes, name: str) -> ElfImage:
    is64 = raw[4] == 2
    end = "<" if raw[5] == 1 else ">"
    ehdr = end + ("16sHHIQQQIHHHHHH" if is64 else "16sHHIIIIIHHHHHH")
    if len(raw) < struct.calcsize(ehdr):
        raise FirmwareError(f"{name}: corrupt or truncated ELF (file ends inside the ELF "
                            f"header)")
    (_ident, _type, machine, _version, entry, phoff, shoff, _flags, _ehsize, phentsize, phnum,
     shentsize, shnum, shstrndx) = struct.unpack_from(ehdr, raw)
    ph_fmt = end + ("IIQQQQQQ" if is64 else "IIIIIIII")
    segments = []
    for i, at in enumerate(_table(raw, name, "program headers", phoff, phnum, phentsize,
                                  struct.calcsize(ph_fmt))):
        if is64:
            p_type, flags, off, _vaddr, paddr, filesz, memsz, _align = \
                struct.unpack_from(ph_fmt, raw, at)
        else:
            p_type, off, _vaddr, paddr, filesz, memsz, flags, _align = \
                struct.unpack_from(ph_fmt, raw, at)
        if p_type != PT_LOAD or memsz == 0:
            continue
        if filesz > memsz:
            raise FirmwareError(f"{name}: segment {i} has p_filesz {filesz:#x} > p_memsz "
                                f"{memsz:#x}")
        if off + filesz > len(raw):
            raise FirmwareError(f"{name}: segment {i} runs past the end of the file "
                                f"(truncated?)")
        segments.append(Segment(i, paddr, raw[off : off + filesz], memsz, flags))
    sh_fmt = end + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    sections: list[_Section] = []
    for at in _table(raw, name, "section headers", shoff, shnum, shentsize,
                     struct.calcsize(sh_fmt)):
        sh_name, sh_type, _f, _a, off, size, link, info, _al, _es = \
            struct.unpack_from(sh_fmt, raw, at)
        if sh_type != SHT_NOBITS and off + size > len(raw):
            raise FirmwareError(f"{name}: corrupt or truncated ELF (section {len(sections)} "
                                f"runs past the end of the file)")
        sections.append(_Section(sh_name, sh_type, off, size, link, info))
    image = Path(name).name
    symbols = _symbols(raw, is64, end, sections, shstrndx, name, image)
    return ElfImage(name, image, 64 if is64 else 32, end == "<", machine, entry,
                    tuple(segments), symbols)


def _strings(data: bytes) -> dict[int, str]:
    """Offset -> string for every NUL-terminated string of a string table (a name that
    starts inside another, a linker-merged suffix, is found with :func:`_string_at`)."""
    parts = data.split(b"\0")
    parts.pop()  # after the last NUL: empty, or an unterminated tail that names nothing
    # the i-th string starts after the i strings and i NULs before it
    starts = map(add, accumulate(map(len, parts), initial=0), range(len(parts)))
    if data.isascii():
        text = data.decode("ascii").split("\0")
        return dict(zip(starts, text, strict=False))
    return {at: p.decode("utf-8", "replace") for at, p in zip(starts, parts, strict=False)}


def _names(data: bytes, offsets: list[int], name: str) -> list[str]:
    """The string at each offset of a string table. An ASCII table (nearly all) is decoded
    once and each name sliced out of it up to its NUL; else every string of the table is
    decoded once (:func:`_strings`). A name that runs past the table is a FirmwareError."""
    if data.isascii():
        text = data.decode("ascii")
        find = text.index
        try:
            return [text[at : find("\0", at)] for at in offsets]
        except ValueError:
            pass  # an offset past the table, or no NUL after it: said below
    got = _strings(data).get
    found: list[str | None] = list(map(got, offsets))
    return [n if n is not None else _string_at(data, at, name)
            for n, at in zip(found, offsets, strict=True)]


def _string_at(data: bytes, at: int, name: str) -> str:
    stop = data.find(b"\0", at)
    if at >= len(data) or stop < 0:
        raise FirmwareError(f"{name}: symbol name runs past the string table")
    return data[at:stop].decode("utf-8", "replace")


def _symbols(raw: bytes, is64: bool, end: str, sections: list[_Section], shstrndx: int,
             name: str, image: str) -> SymbolTable:
    table = next((s for s in sections if s.type == SHT_SYMTAB), None)
    if table is None:
        table = next((s for s in sections if s.type == SHT_DYNSYM), None)
    names_of_sections = _section_names(raw, sections, shstrndx)
    if table is None:
        return SymbolTable([], [], [], [], [], [], names_of_sections, image)
    if not 0 <= table.link < len(sections):
        raise FirmwareError(f"{name}: corrupt or truncated ELF (symbol table links to "
                            f"missing section {table.link})")
    strtab = sections[table.link]
    if strtab.offset + strtab.size > len(raw) or table.offset + table.size > len(raw):
        raise FirmwareError(f"{name}: symbol table runs past the end of the file (truncated?)")
    strings = raw[strtab.offset : strtab.offset + strtab.size]
    fmt = _SYM64 if is64 else _SYM32
    entsize = struct.calcsize("<" + fmt)
    count = table.size // entsize  # bounded by the file's size (checked above)
    # filters as byte columns (one byte per entry), so no Python loop runs per symbol
    body = raw[table.offset : table.offset + count * entsize]
    nidx, values, sizes, infos, shndx = _columns(body, is64, end, count)
    at_name, at_info, at_shndx = (0, 4, 6) if is64 else (0, 12, 14)
    info_col = body[at_info::entsize]
    named = _any_nonzero(count, *(body[at_name + k :: entsize] for k in range(4)))
    defined = _any_nonzero(count, body[at_shndx::entsize], body[at_shndx + 1 :: entsize])
    wanted = _both(count, _both(count, named, defined), info_col.translate(_WANTED))
    wanted = b"\0" + wanted[1:]  # entry 0 is the null symbol
    offsets = list(compress(nidx, wanted))
    names = _names(strings, offsets, name)
    if strings.startswith(b"$") or b"\0$" in strings:  # mapping symbols ($x, $d): hidden
        dollar = bytes(map(str.startswith, names, repeat("$")))
        if any(dollar):
            hidden = bytearray(wanted)
            for r in compress(compress(range(count), wanted), dollar):
                hidden[r] = 0
            wanted = bytes(hidden)
            names = list(compress(names, dollar.translate(_ZERO)))
    keep = list(compress(range(count), wanted))
    located = list(compress(range(len(keep)), compress(info_col.translate(_LOCATED_TYPES),
                                                       wanted)))
    # locals belong to the STT_FILE symbol before them; sh_info is the first global
    first_global = min(table.info, count)
    file_rows = list(compress(range(first_global), info_col[:first_global].translate(_FILES)))
    files = _Files(file_rows, _names(strings, [nidx[r] for r in file_rows], name), keep,
                   first_global)
    return SymbolTable(names, list(compress(values, wanted)), list(compress(sizes, wanted)),
                       list(compress(infos, wanted)), list(compress(shndx, wanted)), files,
                       names_of_sections, image, located)


def _columns(body: bytes, is64: bool, end: str, count: int, views: bool | None = None
             ) -> tuple[Sequence[int], Sequence[int], Sequence[int], Sequence[int],
                        Sequence[int]]:
    """(name offsets, values, sizes, infos, section indices) of ``count`` symbols. In the
    machine's own byte order each column is a strided view of the table, copied out at C
    speed; else one ``struct.unpack`` (``views`` forces one or the other, for tests)."""
    if not count:
        return [], [], [], [], []
    if views is None:
        views = (end == "<") == (sys.byteorder == "little")
    if views:
        mv = memoryview(body)
        words = mv.cast("I")
        halves = mv.cast("H")
        if is64:  # Elf64_Sym: name I, info B, other B, shndx H, value Q, size Q (24 bytes)
            quads = mv.cast("Q")
            return (words[0::6].tolist(), quads[1::3].tolist(), quads[2::3].tolist(),
                    list(body[4::24]), halves[3::12].tolist())
        # Elf32_Sym: name I, value I, size I, info B, other B, shndx H (16 bytes)
        return (words[0::4].tolist(), words[1::4].tolist(), words[2::4].tolist(),
                list(body[12::16]), halves[7::8].tolist())
    fmt = _SYM64 if is64 else _SYM32
    flat = struct.unpack_from(end + fmt * count, body)
    if is64:
        return flat[0::6], flat[4::6], flat[5::6], flat[1::6], flat[3::6]
    return flat[0::6], flat[1::6], flat[2::6], flat[3::6], flat[5::6]


class _Files:
    """The source file of each symbol (by table row), looked up when a Symbol is made: the
    STT_FILE symbol before a local one."""

    __slots__ = ("_first_global", "_keep", "_names", "_rows")

    def __init__(self, rows: list[int], names: list[str], keep: list[int],
                 first_global: int) -> None:
        self._rows, self._names, self._keep = rows, names, keep
        self._first_global = first_global

    def __getitem__(self, row: int) -> str:
        r = self._keep[row]
        if not self._rows or r >= self._first_global:
            return ""
        i = bisect.bisect_right(self._rows, r) - 1
        return self._names[i] if i >= 0 else ""


def _any_nonzero(count: int, *columns: bytes) -> bytes:
    """One byte per entry: 1 where any of the byte ``columns`` is non-zero."""
    acc = 0
    for col in columns:
        acc |= int.from_bytes(col, "big")
    return acc.to_bytes(count, "big").translate(_NONZERO)


def _both(count: int, a: bytes, b: bytes) -> bytes:
    """Bytewise AND of two 0/1 columns."""
    return (int.from_bytes(a, "big") & int.from_bytes(b, "big")).to_bytes(count, "big")


def _section_names(raw: bytes, sections: list[_Section], idx: int) -> list[str]:
    if not 0 <= idx < len(sections):
        return ["?"] * len(sections)
    hdr = sections[idx]
    if hdr.offset + hdr.size > len(raw):
        return ["?"] * len(sections)
    data = raw[hdr.offset : hdr.offset + hdr.size]
    names = []
    for s in sections:
        start = s.name
        stop = data.find(b"\0", start) if start < len(data) else -1
        names.append(data[start:stop].decode("utf-8", "replace") if stop >= 0 else "?")
    return names
