"""The symbol-table reader (columns straight from the table's bytes) against pyelftools: on
the compiled test firmware, and on generated tables of both ELF classes and byte orders
(hypothesis), where both of its paths (strided views, struct) must also agree."""

from __future__ import annotations

import io
import struct
from collections import Counter

import firmware_build as fb
from elftools.elf.elffile import ELFFile
from hypothesis import example, given, settings
from hypothesis import strategies as st

from socdbg.firmware import elf as elf_mod
from socdbg.firmware import read_elf
from socdbg.firmware.elf import parse_elf

Row = tuple[str, int, int, str, str, str, str]


def _ours(image: elf_mod.ElfImage) -> Counter[Row]:
    table = image.symbols
    return Counter((s.name, s.address, s.size, s.kind, s.bind, s.section, s.file)
                   for name in table.names() for s in table.candidates(name))


def _pyelftools(data: bytes) -> Counter[Row]:
    ef = ELFFile(io.BytesIO(data))
    symtab = ef.get_section_by_name(".symtab") or ef.get_section_by_name(".dynsym")
    kinds = {"STT_NOTYPE": "notype", "STT_OBJECT": "object", "STT_FUNC": "func",
             "STT_COMMON": "common", "STT_TLS": "tls", "STT_GNU_IFUNC": "ifunc",
             "STT_LOOS": "ifunc"}  # 10: STT_GNU_IFUNC, named by the OS range
    binds = {"STB_LOCAL": "local", "STB_GLOBAL": "global", "STB_WEAK": "weak",
             "STB_GNU_UNIQUE": "unique"}
    out: Counter[Row] = Counter()
    if symtab is None:
        return out
    first_global = symtab["sh_info"]
    file = ""
    for i, sym in enumerate(symtab.iter_symbols()):
        kind = sym["st_info"]["type"]
        if kind == "STT_FILE":
            file = sym.name
            continue
        shndx = sym["st_shndx"]
        if (i == 0 or not sym.name or shndx == "SHN_UNDEF" or kind == "STT_SECTION"
                or sym.name.startswith("$")):
            continue
        section = ("*ABS*" if shndx == "SHN_ABS" else
                   ef.get_section(shndx).name if isinstance(shndx, int) and
                   shndx < ef.num_sections() else "?")
        bind = binds.get(sym["st_info"]["bind"], sym["st_info"]["bind"])
        out[(sym.name, sym["st_value"], sym["st_size"], kinds.get(kind, kind), bind, section,
             file if i < first_global else "")] += 1
    return out


def test_every_test_image_reads_as_pyelftools_reads_it(fw: fb.Images) -> None:
    assert fw.by_name
    for image in fw.by_name.values():
        data = image.path.read_bytes()
        ours = _ours(read_elf(image.path))
        assert ours == _pyelftools(data), image.path.name
        assert sum(ours.values()) >= 5


# --- generated tables -------------------------------------------------------------------------
_NAMES = st.text(alphabet="abc_$.9é", min_size=0, max_size=6)
_SYMBOL = st.tuples(_NAMES, st.integers(0, (1 << 32) - 1), st.integers(0, 1 << 20),
                    st.sampled_from([0, 1, 2, 3, 4, 5, 6, 10]), st.sampled_from([0, 1, 2]),
                    st.sampled_from([0, 1, 2, 0xFFF1]))


def _elf(symbols: list[tuple[str, int, int, int, int, int]], is64: bool, little: bool
         ) -> bytes:
    """An ELF with sections: null, .text, .data, .symtab, .strtab, .shstrtab; locals first
    (sh_info = the first global), as linkers write them."""
    e = "<" if little else ">"
    ordered = [s for s in symbols if s[4] == 0] + [s for s in symbols if s[4] != 0]
    strtab = bytearray(b"\0")
    entries = [b"\0" * (24 if is64 else 16)]
    for name, value, size, kind, bind, shndx in ordered:
        at = len(strtab) if name else 0
        if name:
            strtab += name.encode() + b"\0"
        info = bind << 4 | kind
        entries.append(struct.pack(e + "IBBHQQ", at, info, 0, shndx, value, size) if is64
                       else struct.pack(e + "IIIBBH", at, value, size, info, 0, shndx))
    first_global = 1 + sum(1 for s in ordered if s[4] == 0)
    shstr = b"\0.text\0.data\0.symtab\0.strtab\0.shstrtab\0"
    symtab = b"".join(entries)
    ehsize, shentsize = (64, 64) if is64 else (52, 40)
    body = bytearray(b"\0" * ehsize)
    offsets = []
    for blob in (symtab, bytes(strtab), shstr):
        offsets.append(len(body))
        body += blob
    shoff = len(body)
    sh = "IIQQQQIIQQ" if is64 else "IIIIIIIIII"
    sections = [(0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                (1, 1, 6, 0x1000, 0, 0, 0, 0, 4, 0),
                (7, 1, 3, 0x2000, 0, 0, 0, 0, 4, 0),
                (13, 2, 0, 0, offsets[0], len(symtab), 4, first_global, 8, 24 if is64 else 16),
                (21, 3, 0, 0, offsets[1], len(strtab), 0, 0, 1, 0),
                (29, 3, 0, 0, offsets[2], len(shstr), 0, 0, 1, 0)]
    for s in sections:
        body += struct.pack(e + sh, *s)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if little else 2, 1]) + b"\0" * 9
    hdr = (struct.pack(e + "16sHHIQQQIHHHHHH", ident, 2, 243, 1, 0, 0, shoff, 0, ehsize, 56,
                       0, shentsize, len(sections), 5) if is64 else
           struct.pack(e + "16sHHIIIIIHHHHHH", ident, 2, 243, 1, 0, 0, shoff, 0, ehsize, 32,
                       0, shentsize, len(sections), 5))
    body[:ehsize] = hdr
    return bytes(body)


@settings(max_examples=60, deadline=None)
@given(symbols=st.lists(_SYMBOL, max_size=40), is64=st.booleans(), little=st.booleans())
def test_generated_tables_read_as_pyelftools_reads_them(
        symbols: list[tuple[str, int, int, int, int, int]], is64: bool, little: bool) -> None:
    data = _elf(symbols, is64, little)
    image = parse_elf(data, "gen.elf")
    assert _ours(image) == _pyelftools(data)
    if symbols:  # a lookup of each name gives one of its candidates
        name = symbols[0][0]
        found = image.symbols.lookup(name)
        assert found is None or found in image.symbols.candidates(name)


@settings(max_examples=60, deadline=None)
@given(symbols=st.lists(_SYMBOL, min_size=1, max_size=30), is64=st.booleans())
def test_the_strided_view_and_struct_paths_agree(
        symbols: list[tuple[str, int, int, int, int, int]], is64: bool) -> None:
    import sys

    end = "<" if sys.byteorder == "little" else ">"
    data = _elf(symbols, is64, sys.byteorder == "little")
    entsize = 24 if is64 else 16
    count = len(symbols) + 1
    start = 64 if is64 else 52  # the table follows the ELF header in _elf
    body = data[start : start + count * entsize]
    fast = elf_mod._columns(body, is64, end, count, views=True)
    slow = elf_mod._columns(body, is64, end, count, views=False)
    assert [list(c) for c in fast] == [list(c) for c in slow]
    ordered = [s for s in symbols if s[4] == 0] + [s for s in symbols if s[4] != 0]
    assert list(fast[1]) == [0] + [s[1] for s in ordered]  # values, in table order
    assert list(fast[2]) == [0] + [s[2] for s in ordered]  # sizes
    assert list(fast[4]) == [0] + [s[5] for s in ordered]  # section indices


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.text(alphabet="ab_.9", min_size=1, max_size=5), min_size=1,
                      max_size=30),
       share=st.booleans(), data=st.data())
def test_names_in_one_split_agree_with_the_per_offset_read(
        names: list[str], share: bool, data: st.DataObject) -> None:
    """The one-split path gives what the per-offset path gives, and declines (None) a
    table whose strings are shared or out of order."""
    table = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    offsets = [0]  # the null symbol
    at = 1
    for n in names:
        offsets.append(at)
        at += len(n) + 1
    if share:  # a linker's merged suffix: the last symbol names a tail of the first string
        offsets.append(offsets[1] + len(names[0]) - 1)
    count = len(offsets)
    named = b"\0" + b"\1" * (count - 1)
    wanted = b"\0" + bytes(data.draw(st.lists(st.sampled_from([0, 1]), min_size=count - 1,
                                              max_size=count - 1)))
    got = elf_mod._names_in_order(table, offsets, named, wanted)
    slow = elf_mod._names(table, [o for o, w in zip(offsets, wanted, strict=True) if w], "t")
    if share:
        assert got is None
    else:
        assert got == slow


@settings(max_examples=200, deadline=None)
@given(names=st.lists(st.text(alphabet="ab_.9", min_size=0, max_size=4), min_size=1,
                      max_size=12),
       data=st.data())
def test_names_in_one_split_never_differ_from_the_per_offset_read(
        names: list[str], data: st.DataObject) -> None:
    """Any offsets at all (shared, reordered, inside a string, past the table, as many as the
    strings or not): the one-split path gives what the per-offset path gives, or declines."""
    table = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    starts = [1]
    for n in names[:-1]:
        starts.append(starts[-1] + len(n) + 1)
    count = data.draw(st.sampled_from([len(names)]) | st.integers(1, len(names) + 3),
                      label="count")
    anywhere = st.sampled_from(starts) | st.integers(0, len(table) + 2)
    offsets = [0, *data.draw(st.lists(anywhere, min_size=count, max_size=count),
                             label="offsets")]
    named = bytes(1 if o else 0 for o in offsets)
    wanted = b"\0" + bytes(data.draw(st.lists(st.sampled_from([0, 1]), min_size=count,
                                              max_size=count), label="wanted"))
    wanted = bytes(w & m for w, m in zip(wanted, named, strict=True))
    got = elf_mod._names_in_order(table, offsets, named, wanted)
    try:
        slow: list[str] | None = elf_mod._names(
            table, [o for o, w in zip(offsets, wanted, strict=True) if w], "t")
    except elf_mod.FirmwareError:
        slow = None
    assert got is None or got == slow


_TIED = st.tuples(st.sampled_from(["a", "b", "c", "$x", ""]), st.integers(0, 6),
                  st.integers(0, 3), st.sampled_from([0, 1, 2, 3, 4]), st.sampled_from([0, 1]),
                  st.sampled_from([0, 1, 0xFFF1]))


@settings(max_examples=100, deadline=None)
@given(symbols=st.lists(_TIED, max_size=40), little=st.booleans())
@example(symbols=[("a", 1, 2, 2, 1, 1), ("b", 1, 3, 2, 1, 1), ("c", 1, 3, 1, 1, 1),
                  ("a", 1, 0, 0, 0, 1)], little=True)  # a run of 4: sizes 3, 3, 2, 0
@example(symbols=[("a", 2, 1, 2, 1, 1), ("b", 2, 1, 1, 1, 1), ("c", 2, 3, 1, 1, 1),
                  ("a", 5, 1, 0, 1, 1), ("b", 5, 1, 1, 1, 1)], little=True)  # runs of 3, 2
def test_the_address_index_is_by_address_then_largest_first(
        symbols: list[tuple[str, int, int, int, int, int]], little: bool) -> None:
    """Few addresses, so many ties: the index by address holds the named, defined data and
    code symbols, by address, then size (largest first), then table order."""
    data = _elf(symbols, True, little)
    table = parse_elf(data, "tied.elf").symbols
    table.containing(0)  # builds the index
    got = [(s.address, s.size, s.name) for s in map(table._symbol, table._syms)]
    ordered = [s for s in symbols if s[4] == 0] + [s for s in symbols if s[4] != 0]
    rows = [(value, size, name, i) for i, (name, value, size, kind, _, shndx)
            in enumerate(ordered)
            if name and not name.startswith("$") and shndx != 0 and kind in (0, 1, 2)]
    assert got == [(v, s, n) for v, s, n, _ in sorted(rows, key=lambda r: (r[0], -r[1], r[3]))]


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.text(alphabet="ab_é", min_size=0, max_size=5), min_size=1,
                      max_size=20),
       data=st.data())
def test_many_names_read_at_once_as_each_alone(names: list[str], data: st.DataObject) -> None:
    """From 256 names on, :func:`_names` decodes the table once (sliced if ASCII, else every
    string once): the same names as decoding each alone, for shared suffixes too."""
    table = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    offsets = data.draw(st.lists(st.integers(0, len(table) - 1), min_size=256, max_size=300))
    assert elf_mod._names(table, offsets, "t") == \
        [elf_mod._string_at(table, at, "t") for at in offsets]
