"""ELF images: loadable segments and the symbol table.

pyelftools reads the headers and section table; the symbol table is decoded in bulk with
``struct.iter_unpack`` (pyelftools' per-symbol objects cost ~25 us each, so a 100,000-symbol
table would take seconds). Any malformed input becomes one :class:`FirmwareError` line.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socdbg.errors import SocdbgError

SHT_SYMTAB = 2
SHT_DYNSYM = 11
STT_NAMES = {0: "notype", 1: "object", 2: "func", 3: "section", 4: "file", 5: "common",
             6: "tls", 10: "ifunc"}
_SYM64 = "IBBHQQ"  # Elf64_Sym: name, info, other, shndx, value, size
_SYM32 = "IIIBBH"  # Elf32_Sym: name, value, size, info, other, shndx
STB_NAMES = {0: "local", 1: "global", 2: "weak", 10: "unique"}


class FirmwareError(SocdbgError):
    """An ELF file is missing, not an ELF, truncated, corrupt or unusable."""


@dataclass(frozen=True, slots=True)
class Segment:
    index: int
    address: int  # load (physical) address
    data: bytes  # file bytes
    memsz: int  # bytes in memory: data then zero fill
    flags: int

    @property
    def end(self) -> int:
        return self.address + self.memsz

    @property
    def perms(self) -> str:
        return "".join(c if self.flags & bit else "-" for c, bit in (("r", 4), ("w", 2),
                                                                    ("x", 1)))


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    address: int
    size: int
    kind: str
    bind: str
    section: str
    image: str


class SymbolTable:
    """Symbols of one image: by name (dict) and by address (sorted, bisect)."""

    def __init__(self, symbols: list[Symbol]) -> None:
        self.by_name: dict[str, Symbol] = {}
        for s in symbols:
            current = self.by_name.get(s.name)
            # prefer global over local and sized over unsized when names repeat
            if current is None or (current.bind == "local" and s.bind != "local") or (
                    current.size == 0 and s.size > 0 and current.bind == s.bind):
                self.by_name[s.name] = s
        located = sorted((s for s in symbols if s.kind in ("object", "func", "notype")
                          and s.name), key=lambda s: (s.address, -s.size))
        self._addrs = [s.address for s in located]
        self._syms = located

    def __len__(self) -> int:
        return len(self.by_name)

    def lookup(self, name: str) -> Symbol | None:
        return self.by_name.get(name)

    def containing(self, address: int) -> tuple[Symbol, int] | None:
        """The symbol whose [address, address+size) holds ``address`` (or, for unsized
        symbols, the nearest one at or below it) and the offset into it."""
        i = bisect.bisect_right(self._addrs, address) - 1
        best: Symbol | None = None
        j = i
        while j >= 0 and j > i - 64:
            s = self._syms[j]
            if s.size and s.address <= address < s.address + s.size:
                return s, address - s.address
            if best is None and not s.size:
                best = s
            j -= 1
        if best is not None and i >= 0 and best.address == self._syms[i].address:
            return best, address - best.address
        return None

    def names(self) -> list[str]:
        return list(self.by_name)


@dataclass(frozen=True)
class ElfImage:
    path: str
    name: str
    elfclass: int
    little_endian: bool
    machine: str
    entry: int
    segments: tuple[Segment, ...]
    symbols: SymbolTable

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
    from elftools.common.exceptions import ELFError
    from elftools.construct.core import ConstructError

    try:
        return _parse(raw, name)
    except (ELFError, ConstructError, struct.error, ValueError, IndexError, KeyError,
            OverflowError, EOFError) as exc:  # what pyelftools raises on corrupt input
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FirmwareError(f"{name}: corrupt or truncated ELF ({detail[:120]})") from None


def _parse(raw: bytes, name: str) -> ElfImage:
    import io

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(raw))
    segments = []
    for i in range(elf.num_segments()):
        seg = elf.get_segment(i)
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        off, filesz, memsz = seg["p_offset"], seg["p_filesz"], seg["p_memsz"]
        if filesz > memsz:
            raise FirmwareError(f"{name}: segment {i} has p_filesz {filesz:#x} > p_memsz "
                                f"{memsz:#x}")
        if off + filesz > len(raw):
            raise FirmwareError(f"{name}: segment {i} runs past the end of the file "
                                f"(truncated?)")
        segments.append(Segment(i, seg["p_paddr"], raw[off : off + filesz], memsz,
                                seg["p_flags"]))
    image = Path(name).name
    symbols = _symbols(elf, raw, name, image)
    return ElfImage(name, image, elf.elfclass, elf.little_endian,
                    str(elf["e_machine"]), elf["e_entry"], tuple(segments), symbols)


def _symbols(elf: Any, raw: bytes, name: str, image: str) -> SymbolTable:
    sections = [elf.get_section(i).header for i in range(elf.num_sections())]
    table = next((s for s in sections if s["sh_type"] in ("SHT_SYMTAB", SHT_SYMTAB)), None)
    if table is None:
        table = next((s for s in sections if s["sh_type"] in ("SHT_DYNSYM", SHT_DYNSYM)), None)
    if table is None:
        return SymbolTable([])
    link = table["sh_link"]
    if not 0 <= link < len(sections):
        raise FirmwareError(f"{name}: symbol table links to missing section {link}")
    strtab = sections[link]
    s_off, s_size = strtab["sh_offset"], strtab["sh_size"]
    t_off, t_size = table["sh_offset"], table["sh_size"]
    if s_off + s_size > len(raw) or t_off + t_size > len(raw):
        raise FirmwareError(f"{name}: symbol table runs past the end of the file (truncated?)")
    strings = raw[s_off : s_off + s_size]
    names_of_sections = _section_names(elf, raw, sections)
    end = "<" if elf.little_endian else ">"
    fmt = end + (_SYM64 if elf.elfclass == 64 else _SYM32)
    entsize = struct.calcsize(fmt)
    body = raw[t_off : t_off + (t_size // entsize) * entsize]
    out: list[Symbol] = []
    for entry in struct.iter_unpack(fmt, body):
        if elf.elfclass == 64:
            nidx, info, _other, shndx, value, size = entry
        else:
            nidx, value, size, info, _other, shndx = entry
        if not nidx:
            continue
        stop = strings.find(b"\0", nidx)
        if stop < 0:
            raise FirmwareError(f"{name}: symbol name runs past the string table")
        kind = STT_NAMES.get(info & 0xF, str(info & 0xF))
        if kind in ("file", "section"):
            continue
        if strings[nidx : nidx + 1] == b"$":  # mapping symbols ($x, $d, $xrv64i...): hidden
            continue
        section = ("*ABS*" if shndx == 0xFFF1 else "*UND*" if shndx == 0 else
                   names_of_sections[shndx] if shndx < len(names_of_sections) else "?")
        if section == "*UND*":
            continue
        out.append(Symbol(strings[nidx:stop].decode("utf-8", "replace"), value, size, kind,
                          STB_NAMES.get(info >> 4, str(info >> 4)), section, image))
    return SymbolTable(out)


def _section_names(elf: Any, raw: bytes, sections: list[Any]) -> list[str]:
    idx = elf["e_shstrndx"]
    if not 0 <= idx < len(sections):
        return ["?"] * len(sections)
    hdr = sections[idx]
    data = raw[hdr["sh_offset"] : hdr["sh_offset"] + hdr["sh_size"]]
    names = []
    for s in sections:
        start = s["sh_name"]
        stop = data.find(b"\0", start)
        names.append(data[start:stop].decode("utf-8", "replace") if stop >= 0 else "?")
    return names
