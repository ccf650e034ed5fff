"""ELF images: loadable segments and the symbol table.

The headers, program headers and section headers are read with ``struct`` (no pyelftools on
this path: importing it costs more than reading a 100,000-symbol table). The symbol table is
decoded into columns straight from its bytes (strided memoryviews in the machine's byte
order, one ``struct.unpack`` in the other) and handed to the :class:`SymbolTable` as they are:
its indexes (by name, by address) are built on first use, and :class:`Symbol` objects are made
only for the symbols a lookup returns. Every size, offset and count read from the file is
checked against the file before it is used; any malformed input becomes one
:class:`FirmwareError` line.

Local symbols carry the source file they come from: the ``STT_FILE`` symbol that precedes them
in the symbol table (as the assembler and linker order them), so two ``static`` functions with
one name can be told apart (``'uart.c'::init``).
"""

from __future__ import annotations

import gc
import struct
import sys
from collections.abc import Sequence
from itertools import accumulate, compress, islice, repeat
from operator import add, itemgetter, lt
from pathlib import Path
from typing import NamedTuple

from socdbg.errors import SocdbgError
from socdbg.firmware.symtab import (
    EMPTY,
    LOCATED,
    STB_NAMES,
    STT_NAMES,
    Columns,
    Symbol,
    SymbolTable,
    _Files,
)

__all__ = ["STB_NAMES", "STT_NAMES", "ElfImage", "FirmwareError", "Segment", "Symbol",
           "SymbolTable", "parse_elf", "read_elf"]

SHT_SYMTAB = 2
SHT_DYNSYM = 11
SHT_NOBITS = 8
PT_LOAD = 1
STT_SECTION, STT_FILE = 3, 4
_SYM64 = "IBBHQQ"  # Elf64_Sym: name, info, other, shndx, value, size
_SYM32 = "IIIBBH"  # Elf32_Sym: name, value, size, info, other, shndx
_MACHINES = {0: "EM_NONE", 3: "EM_386", 8: "EM_MIPS", 20: "EM_PPC", 21: "EM_PPC64",
             40: "EM_ARM", 62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV"}
_NONZERO = bytes([0] + [1] * 255)
_ZERO = bytes([1] + [0] * 255)  # 0/1 flags inverted
_WANTED = bytes(0 if b & 0xF in (STT_SECTION, STT_FILE) else 1 for b in range(256))
_LOCATED_TYPES = bytes(1 if b & 0xF in LOCATED else 0 for b in range(256))
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
    # the parse makes a few hundred thousand objects and no reference cycles: the cyclic
    # collector, which would walk every young container again and again, is paused
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse(raw, name)
    except (struct.error, ValueError, IndexError, KeyError, OverflowError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FirmwareError(f"{name}: corrupt or truncated ELF ({detail[:120]})") from None
    finally:
        if collecting:
            gc.enable()


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
    decoded once (:func:`_strings`); a few names (source files) are each decoded alone. A
    name that runs past the table is a FirmwareError."""
    if len(offsets) < 256:
        return [_string_at(data, at, name) for at in offsets]
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


def _names_in_order(data: bytes, nidx: Sequence[int], named: bytes, wanted: bytes
                    ) -> list[str] | None:
    """The names of the ``wanted`` symbols in one ``split``, when the string table is its
    leading NUL and then exactly the name of each named symbol, in table order (a writer that
    neither shares nor reorders strings); else None, and :func:`_names` finds them."""
    if not data.isascii():
        return None
    parts = data.decode("ascii").split("\0")
    offsets = _kept(nidx, named)
    n = len(offsets)
    if not n or len(parts) != n + 2 or parts[0] or parts[-1]:
        return None
    # The n strings between the first NUL and the last start at the n places just after a
    # NUL but the last: n offsets in strictly increasing order that each point at such a
    # place are those n starts, in order. (Cheaper than summing the lengths of the strings:
    # no new int per string.)
    if not 0 < offsets[0] <= offsets[-1] < len(data) or \
            not all(map(lt, offsets, offsets[1:])):
        return None
    before = b"\1" + data  # before[at] is the byte before data[at]
    if any(itemgetter(*offsets)(before) if n > 1 else (before[offsets[0]],)):
        return None  # an offset inside a string: the strings are shared or out of order
    return list(compress(islice(parts, 1, n + 1), compress(wanted, named)))


def _kept(column: Sequence[int], flags: bytes) -> list[int]:
    """``list(compress(column, flags))``; a memoryview is read whole first (``tolist`` is a
    C loop; iterating a view is slower), and when only row 0 is dropped, sliced instead."""
    if isinstance(column, memoryview):
        if flags.find(0, 1) < 0 and flags[:1] == b"\0":
            return column[1:].tolist()
        column = column.tolist()
    return list(compress(column, flags))


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
        return SymbolTable([], EMPTY, [], names_of_sections, image)
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
    names = _names_in_order(strings, nidx, named, wanted)
    if names is None:
        names = _names(strings, _kept(nidx, wanted), name)
    # mapping symbols ($x, $d) are hidden (most tables have no '$' at all: one memchr)
    if b"$" in strings and (strings.startswith(b"$") or b"\0$" in strings):
        dollar = bytes(map(str.startswith, names, repeat("$")))
        if any(dollar):
            hidden = bytearray(wanted)
            for r in compress(compress(range(count), wanted), dollar):
                hidden[r] = 0
            wanted = bytes(hidden)
            names = list(compress(names, dollar.translate(_ZERO)))
    # locals belong to the STT_FILE symbol before them; sh_info is the first global
    first_global = min(table.info, count)
    file_rows = list(compress(range(first_global), info_col[:first_global].translate(_FILES)))
    files = _Files(file_rows, _names(strings, [nidx[r] for r in file_rows], name), first_global)
    # the columns stay as read (views of the table, indexed by table row): no per-symbol
    # list is made here, and the indexes by name and by address are built on first use
    return SymbolTable(names, Columns(nidx, values, sizes, infos, shndx, strings, wanted,
                                      info_col.translate(_LOCATED_TYPES)),
                       files, names_of_sections, image)


def _columns(body: bytes, is64: bool, end: str, count: int, views: bool | None = None
             ) -> tuple[Sequence[int], Sequence[int], Sequence[int], Sequence[int],
                        Sequence[int]]:
    """(name offsets, values, sizes, infos, section indices) of ``count`` symbols. In the
    machine's own byte order each column is a strided view of the table (read in place by the
    ``compress`` that keeps the wanted rows: no full-length list of ints is made); else one
    ``struct.unpack`` (``views`` forces one or the other, for tests)."""
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
            return words[0::6], quads[1::3], quads[2::3], body[4::24], halves[3::12]
        # Elf32_Sym: name I, value I, size I, info B, other B, shndx H (16 bytes)
        return words[0::4], words[1::4], words[2::4], body[12::16], halves[7::8]
    fmt = _SYM64 if is64 else _SYM32
    flat = struct.unpack_from(end + fmt * count, body)
    if is64:
        return flat[0::6], flat[4::6], flat[5::6], flat[1::6], flat[3::6]
    return flat[0::6], flat[1::6], flat[2::6], flat[3::6], flat[5::6]


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
