"""CMSIS-SVD loader: one ``<device>`` file into the register model.

The file is parsed once with lxml into a tree; the walk then visits each distinct register and
cluster definition once and expands arrays (``dim``) arithmetically, like the SystemRDL
walker: a definition becomes a template of (relative path, relative offset, layout), and every
array element, every peripheral that is ``derivedFrom`` it, reuses the template with an offset.

What SVD says and what socdbg makes of it:

* paths are ``PERIPHERAL.REGISTER`` and ``PERIPHERAL.CLUSTER.REGISTER`` in the file's own case;
  a name ending in ``[%s]`` is an array (``CH[%s]`` gives ``CH[0]``, ``CH[1]``...); any other
  ``%s`` is replaced by each ``dimIndex`` entry (``PIN%s`` gives ``PIN0``, ``PIN1``...);
* the register properties (``size``, ``access``, ``resetValue``, ``resetMask``) are inherited
  device -> peripheral -> cluster -> register; a field's access, ``modifiedWriteValues`` and
  ``readAction`` default to its register's;
* ``derivedFrom`` on peripherals, clusters, registers, fields and enumerated values copies the
  other element's children; the derived element's own children win, tag by tag, and its own
  registers (fields, enumerated values) replace inherited ones of the same name;
* a field's reset comes from its register's ``resetValue`` where ``resetMask`` covers all of the
  field's bits; a field wholly or partly outside the mask has an unknown reset;
* a register without fields gets one field of the register's name over all its bits.

Speed: a 24 MB vendor file has 35,000 fields and 45,000 enumerated values. Common fields are
read in one pass over their children's texts (:meth:`_Loader.quick_field`); anything unusual
goes the long way, which also reports what is wrong. Layouts are not built here: the walk
records them as compact JSON records and the map holds a :class:`PackedLayouts`, which builds
a register's :class:`Layout` the first time something looks at it. So neither a cold load nor
a warm one (which reads two byte strings) makes 100,000 frozen dataclasses up front. The
records are data only (JSON, never marshal or pickle): a cache entry cannot run code.

Only this module imports lxml, and only the cache calls it, when the source has changed.
docs/register-formats.md says what is read, what is approximated and what is not used.
"""

from __future__ import annotations

import gc
import itertools
import json
import re
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, overload

from socdbg.errors import MapError
from socdbg.regmap.model import (
    ADDRESS_LIMIT,
    LIMIT_HINT,
    MAX_REGISTER_BITS,
    Access,
    EnumMember,
    Field,
    FieldEnum,
    Layout,
    MapSource,
    OnRead,
    OnWrite,
    max_registers,
    too_many,
)
from socdbg.regmap.regmap import RegMap
from socdbg.regmap.stored import as_int, as_str

if TYPE_CHECKING:
    from lxml.etree import _Element as Element

#: Register size when neither the register nor anything above it gives one (SVD's default).
DEFAULT_SIZE = 32
#: Don't-care bits (``#1xx0``) an enumerated value may have; each one doubles its members.
MAX_DONT_CARE_BITS = 8
#: An ``isDefault`` enumerated value is expanded into one member per value the others leave
#: unnamed when there are at most this many such values; otherwise it is dropped.
MAX_DEFAULT_MEMBERS = 16
#: The first word of a warning about a vendor slip socdbg repaired; ``--strict`` (and BUTR)
#: refuse a map with any.
REPAIRED = "repaired:"
#: The longest chain of ``derivedFrom`` one element may sit at the end of.
MAX_DERIVED_DEPTH = 64

_ACCESS = {
    "read-only": Access.R,
    "write-only": Access.W,
    "read-write": Access.RW,
    "writeonce": Access.W1,
    "read-writeonce": Access.RW1,
    # not in the schema, but in vendor files: read as what they obviously mean
    "read": Access.R,
    "write": Access.W,
}
_ACCESS_TEXT = {k: v.value for k, v in _ACCESS.items()}
_ON_WRITE = {
    "onetoclear": OnWrite.WOCLR,
    "onetoset": OnWrite.WOSET,
    "onetotoggle": OnWrite.WOT,
    "zerotoclear": OnWrite.WZC,
    "zerotoset": OnWrite.WZS,
    "zerototoggle": OnWrite.WZT,
    "clear": OnWrite.WCLR,
    "set": OnWrite.WSET,
    "modify": None,  # the written value is stored: a plain write
}
_ON_READ = {
    "clear": OnRead.RCLR,
    "set": OnRead.RSET,
    "modify": OnRead.RUSER,
    "modifyexternal": OnRead.RUSER,
}
_USAGE_ORDER = {"read-write": 0, "read": 1, "write": 2}

_NUMBER = re.compile(r"\+?(?:0[xX]([0-9a-fA-F]+)|#([01]+)|0[bB]([01]+)|([0-9]+))([kKmMgGtT]?)")
_ENUM_VALUE = re.compile(r"\+?(?:0[xX]([0-9a-fA-F]+)|(?:#|0[bB])([01xX]+)|([0-9]+))")
_SCALE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_BIT_RANGE = re.compile(r"\[\s*(\d+)\s*:\s*(\d+)\s*\]")
_INDEX_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)")
_LETTER_RANGE = re.compile(r"([A-Za-z])\s*-\s*([A-Za-z])")
_NAMED = frozenset(("peripheral", "cluster", "register", "field", "enumeratedValues",
                    "enumeratedValue"))


# --------------------------------------------------------------------------------------------
# numbers
# --------------------------------------------------------------------------------------------
def parse_number(text: str) -> int:
    """A CMSIS-SVD ``scaledNonNegativeInteger``: ``42``, ``0x2A``, ``#101010`` (binary), with an
    optional ``k``/``M``/``G``/``T`` multiplier (powers of 1024). ``0b101010`` is accepted too.
    Raises ValueError for anything else."""
    t = text.strip()
    if t.isascii() and t.isdigit():
        return int(t)
    m = _NUMBER.fullmatch(t)
    if m is None:
        raise ValueError(f"'{t}' is not a number")
    hexa, binary, zero_b, dec, scale = m.groups()
    if hexa is not None:
        value = int(hexa, 16)
    elif binary is not None or zero_b is not None:
        value = int(binary or zero_b, 2)
    else:
        value = int(dec, 10)
    return value * _SCALE[scale.lower()]


def parse_enum_value(text: str) -> tuple[int, ...]:
    """An ``enumeratedValue`` value: every integer it stands for, ascending.

    ``#1x0`` (binary with don't-care ``x`` bits) stands for 0b100 and 0b110; ``0x1f`` and ``31``
    for one value each. Raises ValueError for anything else, or for more than
    :data:`MAX_DONT_CARE_BITS` don't-care bits."""
    t = text.strip()
    if t.isascii() and t.isdigit():
        return (int(t),)
    m = _ENUM_VALUE.fullmatch(t)
    if m is None:
        raise ValueError(f"'{t}' is not a value (decimal, 0x hex, or #binary with x bits)")
    hexa, binary, dec = m.groups()
    if hexa is not None:
        return (int(hexa, 16),)
    if dec is not None:
        return (int(dec, 10),)
    bits = binary.lower()
    free = [len(bits) - 1 - i for i, c in enumerate(bits) if c == "x"]
    if len(free) > MAX_DONT_CARE_BITS:
        raise ValueError(f"'{t}' has {len(free)} don't-care bits (at most "
                         f"{MAX_DONT_CARE_BITS})")
    base = int(bits.replace("x", "0"), 2)
    values = []
    for combo in range(1 << len(free)):
        v = base
        for k, bit in enumerate(free):
            if combo >> k & 1:
                v |= 1 << bit
        values.append(v)
    return tuple(sorted(values))


def parse_dim_index(text: str, most: int | None = None) -> list[str]:
    """``dimIndex``: ``A,B,C``, ``0-3`` (inclusive) or ``A-D``; a range of more than ``most``
    entries is refused before it is made."""
    t = text.strip()
    if "," in t:
        items = [s.strip() for s in t.split(",")]
        if all(items):
            return items
        raise ValueError(f"'{t}' has an empty entry")
    m = _INDEX_RANGE.fullmatch(t)
    if m is not None:
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo:
            raise ValueError(f"'{t}' runs backwards")
        if most is not None and hi - lo + 1 > most:
            raise ValueError(f"'{t}' has {hi - lo + 1:,} entries but dim is {most:,}")
        return [str(i) for i in range(lo, hi + 1)]
    m = _LETTER_RANGE.fullmatch(t)
    if m is not None:
        lo, hi = ord(m.group(1)), ord(m.group(2))
        if hi < lo:
            raise ValueError(f"'{t}' runs backwards")
        return [chr(c) for c in range(lo, hi + 1)]
    if t and re.fullmatch(r"[_0-9A-Za-z]+", t):
        return [t]
    raise ValueError(f"'{t}' is neither a list (A,B,C) nor a range (0-3)")


# --------------------------------------------------------------------------------------------
# errors that know where they are
# --------------------------------------------------------------------------------------------
class _Bad(Exception):
    """A problem at one element; becomes MapError(file:line: element path: message)."""

    def __init__(self, el: Element, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.el, self.message, self.hint = el, message, hint


def element_path(el: Element) -> str:
    """``/device/peripherals/peripheral[UART0]/registers/register[TXD]/addressOffset``."""
    parts: list[str] = []
    node: Element | None = el
    while node is not None:
        tag = node.tag if isinstance(node.tag, str) else "?"
        name = None
        if tag in _NAMED:
            name_el = node.find("name")
            if name_el is not None and name_el.text:
                name = name_el.text.strip()
        parts.append(f"{tag}[{name}]" if name else tag)
        node = node.getparent()
    return "/" + "/".join(reversed(parts))


def _text(el: Element) -> str:
    return (el.text or "").strip()


def _desc(el: Element | None) -> str:
    """An element's text with runs of white space (line breaks included) made one space."""
    return "" if el is None else _clean(el.text)


def _clean(t: str | None) -> str:
    if not t:
        return ""
    if "\n" in t or "  " in t or "\t" in t or "\r" in t:
        return " ".join(t.split())
    return t.strip()


def _int_text(t: str) -> int:
    """:func:`parse_number`, with the common forms (42 and 0x2A) first."""
    if t.isdigit() and t.isascii():
        return int(t)
    if t[:2] in ("0x", "0X") and t[2:].isalnum() and t.isascii():
        try:
            return int(t[2:], 16)
        except ValueError:
            pass  # a scaled number (0x10k) or not a number: parse_number tells
    return parse_number(t)


def _number(el: Element) -> int:
    try:
        return _int_text(el.text or "")
    except ValueError as exc:
        raise _Bad(el, str(exc)) from None


def _kids(el: Element) -> dict[str, Element]:
    """The first child element of each tag."""
    out: dict[str, Element] = {}
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag not in out:
            out[tag] = child
    return out


def _required(kids: dict[str, Element], tag: str, owner: Element) -> Element:
    found = kids.get(tag)
    if found is None:
        raise _Bad(owner, f"<{owner.tag}> has no <{tag}>")
    return found


def _norm(name: str) -> str:
    return name.replace("[%s]", "").replace("%s", "").strip().lower()


# --------------------------------------------------------------------------------------------
# layouts, packed
# --------------------------------------------------------------------------------------------
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


class _Packer:
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


# --------------------------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------------------------
class _Props(NamedTuple):
    """The register properties inherited device -> peripheral -> cluster -> register."""

    size: int | None
    access: Access | None
    reset_value: int | None
    reset_mask: int | None


class _View:
    """An element seen through ``derivedFrom``: its own children over the inherited ones.

    ``items`` are the repeated children: registers and clusters of a peripheral or cluster,
    fields of a register, enumeratedValues of a field, enumeratedValue of an enumeratedValues.
    ``key`` identifies the items (a tuple of elements, kept alive by the key)."""

    __slots__ = ("el", "items", "key", "kids")

    def __init__(self, el: Element, kids: dict[str, Element], items: list[Element]) -> None:
        self.el, self.kids, self.items = el, kids, items
        self.key = tuple(items)


class _Template:
    """Registers below a peripheral or cluster, relative to it; ``end`` is the first byte past
    the last of them."""

    __slots__ = ("addrs", "end", "lidx", "paths")

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.addrs: list[int] = []
        self.lidx: list[int] = []
        self.end = 0


#: tag -> (the child that wraps the repeated children, or None, and their tags)
_ITEMS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "peripheral": ("registers", ("register", "cluster")),
    "cluster": (None, ("register", "cluster")),
    "register": ("fields", ("field",)),
    "field": (None, ("enumeratedValues",)),
    "enumeratedValues": (None, ("enumeratedValue",)),
}


def _split(el: Element) -> tuple[dict[str, Element], list[Element]]:
    """(first child of each tag, the repeated children) in one pass where possible."""
    wrapper, item_tags = _ITEMS.get(str(el.tag), (None, ()))
    kids: dict[str, Element] = {}
    items: list[Element] = []
    for child in el:
        tag = child.tag
        if wrapper is None and tag in item_tags:
            items.append(child)
        elif tag not in kids:
            kids[tag] = child  # a comment or entity has a function for a tag: never looked up
    if wrapper is not None:
        holder = kids.get(wrapper)
        if holder is not None:
            items = [c for c in holder if c.tag in item_tags]
    return kids, items


class _Loader:
    def __init__(self, root: Element, quick: bool = True) -> None:
        self.root = root
        self.quick = quick  # False: every field through field() (tests compare the two)
        self.packer = _Packer()
        self._views: dict[Element, _View] = {}
        self._resolving: set[Element] = set()
        self._templates: dict[tuple[object, ...], _Template] = {}
        self._reg_layouts: dict[tuple[object, ...], int] = {}
        self._enums: dict[tuple[object, ...], int] = {}
        self._index: dict[str, dict[str, list[Element]]] = {}
        self._peripherals: dict[str, Element] = {}
        self.warnings: list[tuple[Element, str]] = []

    def warn(self, el: Element, message: str) -> None:
        """Note something repaired or approximated; the map carries it as a warning."""
        self.warnings.append((el, message))

    # --- derivedFrom ----------------------------------------------------------------------
    def view(self, el: Element) -> _View:
        if el.get("derivedFrom") is None:
            return _View(el, *_split(el))
        found = self._views.get(el)
        if found is not None:
            return found
        if el in self._resolving:
            raise _Bad(el, f"derivedFrom='{el.get('derivedFrom')}' is circular")
        if len(self._resolving) >= MAX_DERIVED_DEPTH:
            raise _Bad(el, f"derivedFrom='{el.get('derivedFrom')}' ends a chain of more "
                           f"than {MAX_DERIVED_DEPTH} derivedFrom")
        self._resolving.add(el)
        try:
            view = self._derived(el)
        finally:
            self._resolving.discard(el)
        self._views[el] = view
        return view

    def _derived(self, el: Element) -> _View:
        kids, own = _split(el)
        base = self.view(self._find(el, str(el.tag), str(el.get("derivedFrom")).strip()))
        merged = dict(base.kids)
        merged.update(kids)
        if not own:
            return _View(el, merged, base.items)
        mine = {_item_name(item) for item in own} - {None}
        items = [item for item in base.items if _item_name(item) not in mine]
        items.extend(own)
        return _View(el, merged, items)

    def _find(self, el: Element, tag: str, ref: str) -> Element:
        """The element ``derivedFrom=ref`` names: a peripheral by name, or a register, cluster,
        field or enumeratedValues by name or dotted path (``PERIPH.REG.FIELD.ENUM``), the
        nearest one to ``el`` when several match."""
        if tag == "peripheral":
            found = self._peripherals.get(ref)
            if found is None:
                found = self._peripherals.get(ref.lower())
            if found is None:
                raise _Bad(el, f"derivedFrom='{ref}': no peripheral of that name")
            return found
        parts = [_norm(p) for p in ref.split(".")]
        candidates = [c for c in self._named(tag).get(parts[-1], []) if c is not el]
        if len(parts) > 1:
            candidates = [c for c in candidates if _chain_ends_with(c, parts[:-1])]
        if not candidates:
            raise _Bad(el, f"derivedFrom='{ref}': no {tag} of that name")
        mine = set(_ancestors(el))
        return max(candidates, key=lambda c: sum(a in mine for a in _ancestors(c)))

    def _named(self, tag: str) -> dict[str, list[Element]]:
        found = self._index.get(tag)
        if found is None:
            found = {}
            for el in self.root.iter(tag):
                name = _item_name(el)
                if name is not None:
                    found.setdefault(name, []).append(el)
            self._index[tag] = found
        return found

    # --- the device -------------------------------------------------------------------------
    def build(self) -> tuple[str, list[str], array[int], array[int]]:
        root = self.root
        if root.tag != "device":
            raise _Bad(root, f"the root element is <{root.tag}>, not a CMSIS-SVD <device>")
        kids = _kids(root)
        name = _text(_required(kids, "name", root))
        aub = kids.get("addressUnitBits")
        if aub is not None and _number(aub) != 8:
            # Espressif's files say 32 and give byte offsets; other tools read them as bytes
            self.warn(aub, f"addressUnitBits {_text(aub)}: offsets and sizes are read as "
                           "bytes (addressUnitBits 8), as other tools read them")
        props = self.props(kids, _Props(None, None, None, None))
        holder = _required(kids, "peripherals", root)
        periphs = list(holder.iterchildren("peripheral"))
        for p in periphs:
            name_el = p.find("name")
            if name_el is None:
                raise _Bad(p, "<peripheral> has no <name>")
            pname = _text(name_el)
            self._peripherals.setdefault(pname, p)
            self._peripherals.setdefault(pname.lower(), p)
        paths: list[str] = []
        addrs = array("Q")
        lidx = array("I")
        for p in periphs:
            view = self.view(p)
            pkids = view.kids
            pname = _text(_required(pkids, "name", p))
            base_el = _required(pkids, "baseAddress", p)
            base = _number(base_el)
            pprops = self.props(pkids, props)
            tpl = self.template(view, pprops, 0)
            elements = self.elements(view, pname)
            if not tpl.paths:
                continue
            self.fits(p, pname, len(paths) + len(elements) * len(tpl.paths))
            if elements and base + elements[-1][1] + tpl.end > ADDRESS_LIMIT:
                raise _Bad(base_el, f"peripheral {elements[-1][0]} ends at 0x"
                                    f"{base + elements[-1][1] + tpl.end:x}, beyond the 64-bit "
                                    "address space")
            for ename, delta, _ in elements:
                pre = ename + "."
                at = base + delta
                paths.extend(pre + rel for rel in tpl.paths)
                addrs.extend(at + a for a in tpl.addrs)
                lidx.extend(tpl.lidx)
        return name, paths, addrs, lidx

    def props(self, kids: dict[str, Element], parent: _Props) -> _Props:
        if not ("size" in kids or "access" in kids or "resetValue" in kids
                or "resetMask" in kids):
            return parent
        size, access, value, mask = parent
        el = kids.get("size")
        if el is not None:
            size = _number(el)
            if size <= 0:
                raise _Bad(el, f"size {size} is not a whole number of bytes")
            if size % 8:
                rounded = size + 8 - size % 8
                self.warn(el, f"{REPAIRED} size {size} is not a whole number of bytes: read as "
                              f"{rounded}")
                size = rounded
            if size > MAX_REGISTER_BITS:
                raise _Bad(el, f"size {size} is wider than {MAX_REGISTER_BITS} bits")
        el = kids.get("access")
        if el is not None:
            access = _access(el)
        el = kids.get("resetValue")
        if el is not None:
            if _text(el).lower() == "0x":
                self.warn(el, f"{REPAIRED} resetValue '0x' has no digits: read as 0")
                value = 0
            else:
                value = _number(el)
        el = kids.get("resetMask")
        if el is not None:
            mask = _number(el)
        return _Props(size, access, value, mask)

    def elements(self, view: _View, name: str) -> list[tuple[str, int, str | None]]:
        """(name, offset from the first, %s substitution) for each element of a ``dim``."""
        kids = view.kids
        dim_el = kids.get("dim")
        if dim_el is None:
            if "%s" in name:
                raise _Bad(view.el, f"name '{name}' has %s but there is no <dim>")
            return [(name, 0, None)]
        count = _number(dim_el)
        if count > max_registers():
            raise _Bad(dim_el, f"dim {count:,} is above the limit of {max_registers():,} "
                               "elements", LIMIT_HINT)
        step_el = _required(kids, "dimIncrement", view.el)
        step = _number(step_el)
        if count and (count - 1) * step >= ADDRESS_LIMIT:
            raise _Bad(step_el, f"dimIncrement 0x{step:x} times dim {count} is beyond the "
                                "64-bit address space")
        if "[%s]" in name:
            return [(name.replace("[%s]", f"[{i}]"), i * step, None) for i in range(count)]
        if "%s" not in name:  # not in the schema: taken as an array
            return [(f"{name}[{i}]", i * step, None) for i in range(count)]
        index_el = kids.get("dimIndex")
        if index_el is None:
            labels = [str(i) for i in range(count)]
        else:
            try:
                labels = parse_dim_index(index_el.text or "", count)
            except ValueError as exc:
                raise _Bad(index_el, f"dimIndex {exc}") from None
            if len(labels) != count:
                raise _Bad(index_el, f"dimIndex has {len(labels)} entries but dim is {count}")
        return [(name.replace("%s", s), i * step, s) for i, s in enumerate(labels)]

    # --- peripherals and clusters: templates --------------------------------------------
    def template(self, view: _View, props: _Props, depth: int) -> _Template:
        key = (view.key, props)
        found = self._templates.get(key)
        if found is not None:
            return found
        if depth > MAX_DERIVED_DEPTH:
            raise _Bad(view.el, f"clusters are nested more than {MAX_DERIVED_DEPTH} deep")
        tpl = _Template()
        for item in view.items:
            iv = self.view(item)
            kids = iv.kids
            name = _text(_required(kids, "name", item))
            offset_el = _required(kids, "addressOffset", item)
            offset = _number(offset_el)
            iprops = self.props(kids, props)
            if item.tag == "register":
                elements = self.elements(iv, name)
                self.fits(item, name, len(tpl.paths) + len(elements))
                size = (iprops.size or DEFAULT_SIZE) // 8
                for ename, delta, subst in elements:
                    layout_name = ename if subst is not None else name.replace("[%s]", "")
                    tpl.paths.append(ename)
                    tpl.addrs.append(offset + delta)
                    tpl.lidx.append(self.register(iv, iprops, layout_name, subst))
                if elements:
                    tpl.end = max(tpl.end, offset + elements[-1][1] + size)
            else:
                sub = self.template(iv, iprops, depth + 1)
                if not sub.paths:
                    continue
                elements = self.elements(iv, name)
                self.fits(item, name, len(tpl.paths) + len(elements) * len(sub.paths))
                for ename, delta, _ in elements:
                    pre = ename + "."
                    at = offset + delta
                    tpl.paths.extend(pre + p for p in sub.paths)
                    tpl.addrs.extend(at + a for a in sub.addrs)
                    tpl.lidx.extend(sub.lidx)
                if elements:
                    tpl.end = max(tpl.end, offset + elements[-1][1] + sub.end)
            if tpl.end > ADDRESS_LIMIT:
                raise _Bad(offset_el, f"{name} ends at offset 0x{tpl.end:x}, beyond the "
                                      "64-bit address space")
        self._templates[key] = tpl
        return tpl

    def fits(self, el: Element, name: str, count: int) -> None:
        """Refuse to make ``count`` registers when that is above the limit."""
        message = too_many(count, f"{el.tag} {name}")
        if message is not None:
            raise _Bad(el, message, LIMIT_HINT)

    # --- registers ------------------------------------------------------------------------
    def register(self, view: _View, props: _Props, name: str, subst: str | None) -> int:
        key = (view.el, props, name)
        found = self._reg_layouts.get(key)
        if found is not None:
            return found
        kids = view.kids
        width = props.size or DEFAULT_SIZE
        desc = _desc(kids.get("description"))
        if subst is not None:
            desc = desc.replace("%s", subst)
        mwv_el = kids.get("modifiedWriteValues")
        ra_el = kids.get("readAction")
        onwrite = _onwrite(mwv_el) if mwv_el is not None else None
        onread = _onread(ra_el) if ra_el is not None else None
        access = (props.access or Access.RW).value
        known = 0 if props.reset_value is None else (
            (1 << width) - 1 if props.reset_mask is None
            else props.reset_mask & ((1 << width) - 1))
        reset_value = props.reset_value or 0
        fields: list[FieldRecord] = []
        if not view.items:
            reset = reset_value & known if known == (1 << width) - 1 else None
            fields.append((name, 0, width - 1, access, onread, onwrite, reset, -1, desc))
        for item in view.items:
            if not (self.quick and item.get("derivedFrom") is None and self.quick_field(
                    item, width, access, onread, onwrite, reset_value, known, fields)):
                self.field(self.view(item), width, access, onread, onwrite, reset_value,
                           known, fields)
        fields.sort(key=lambda f: f[1])
        idx = self.packer.layout(name, width, desc, tuple(fields))
        self._reg_layouts[key] = idx
        return idx

    # --- fields ---------------------------------------------------------------------------
    def quick_field(self, el: Element, width: int, access: str, onread: str | None,
                    onwrite: str | None, reset_value: int, known: int, out: list[FieldRecord]
                    ) -> bool:
        """The common field (no derivedFrom, no dim) from its texts, in one pass over its
        children: a large file has tens of thousands. False leaves the field to
        :meth:`field`, which reads it the long way and reports what is wrong with it."""
        name = desc = off = wid = lo_t = hi_t = rng = acc = mwv = ra = None
        evs: list[Element] = []
        for child in el:
            tag = child.tag
            if tag == "name":
                name = child.text
            elif tag == "description":
                desc = child.text
            elif tag == "bitOffset":
                off = child.text
            elif tag == "bitWidth":
                wid = child.text
            elif tag == "enumeratedValues":
                evs.append(child)
            elif tag == "access":
                acc = child.text
            elif tag == "lsb":
                lo_t = child.text
            elif tag == "msb":
                hi_t = child.text
            elif tag == "bitRange":
                rng = child.text
            elif tag == "modifiedWriteValues":
                mwv = child.text
            elif tag == "readAction":
                ra = child.text
            elif tag == "dim":
                return False
        if name is None:
            return False
        try:
            if off is not None:
                lsb = _int_text(off)
                msb = lsb + (_int_text(wid) if wid is not None else 1) - 1
            elif lo_t is not None and hi_t is not None:
                lsb, msb = _int_text(lo_t), _int_text(hi_t)
            elif rng is not None:
                m = _BIT_RANGE.fullmatch(rng.strip())
                if m is None:
                    return False
                msb, lsb = int(m.group(1)), int(m.group(2))
            else:
                return False
        except ValueError:
            return False
        if msb < lsb or msb >= width:
            return False
        if acc is not None:
            found = _ACCESS_TEXT.get(acc.strip().lower())
            if found is None:
                return False
            access = found
        if mwv is not None:
            key = mwv.strip().lower()
            if key not in _ON_WRITE:
                return False
            ow = _ON_WRITE[key]
            onwrite = ow.value if ow is not None else None
        if ra is not None:
            orr = _ON_READ.get(ra.strip().lower())
            if orr is None:
                return False
            onread = orr.value
        name = name.strip()
        enum = self.enum(evs, msb - lsb + 1, name) if evs else -1
        fmask = ((1 << (msb - lsb + 1)) - 1) << lsb
        reset = (reset_value & fmask) >> lsb if known & fmask == fmask else None
        out.append((name, lsb, msb, access, onread, onwrite, reset, enum, _clean(desc)))
        return True

    def field(self, view: _View, width: int, access: str, onread: str | None,
              onwrite: str | None, reset_value: int, known: int, out: list[FieldRecord]
              ) -> None:
        kids = view.kids
        el = view.el
        name_el = kids.get("name")
        if name_el is None:
            raise _Bad(el, "<field> has no <name>")
        name = _text(name_el)
        bits = _bits(view, self.warn)
        if bits is None:
            return
        lsb, msb = bits
        if msb >= width and lsb < width and "dim" not in kids:
            self.warn(el, f"{REPAIRED} bits [{msb}:{lsb}] do not fit the {width}-bit register: "
                          f"read as [{width - 1}:{lsb}]")
            msb = width - 1
        elif lsb >= width:
            self.warn(el, f"{REPAIRED} bits [{msb}:{lsb}] are outside the {width}-bit "
                          "register: field left out")
            return
        found = kids.get("access")
        if found is not None:
            text = _ACCESS_TEXT.get((found.text or "").strip().lower())
            access = text if text is not None else _access(found).value
        found = kids.get("modifiedWriteValues")
        if found is not None:
            onwrite = _onwrite(found)
        found = kids.get("readAction")
        if found is not None:
            onread = _onread(found)
        desc = _desc(kids.get("description"))
        if msb >= width:
            raise _Bad(el, f"bits [{msb}:{lsb}] do not fit the {width}-bit register")
        enum = self.enum(view.items, msb - lsb + 1, name) if view.items else -1
        if "dim" not in kids:
            fmask = ((1 << (msb - lsb + 1)) - 1) << lsb
            reset = (reset_value & fmask) >> lsb if known & fmask == fmask else None
            out.append((name, lsb, msb, access, onread, onwrite, reset, enum, desc))
            return
        for fname, delta, subst in self.elements(view, name):
            lo, hi = lsb + delta, msb + delta
            if hi >= width:
                raise _Bad(el, f"{fname}: bits [{hi}:{lo}] do not fit the {width}-bit "
                               "register")
            fmask = ((1 << (hi - lo + 1)) - 1) << lo
            reset = (reset_value & fmask) >> lo if known & fmask == fmask else None
            out.append((fname, lo, hi, access, onread, onwrite, reset, enum,
                        desc.replace("%s", subst) if subst else desc))

    # --- enumerated values -----------------------------------------------------------------
    def enum(self, items: list[Element], width: int, field_name: str) -> int:
        """The field's enum id, or -1: read-write values, then read values, then write values
        whose names are new (a read decodes to the first name of a value; a write accepts
        every name). An isDefault value names every value the others leave unnamed."""
        key = (tuple(items), width)
        found = self._enums.get(key)
        if found is not None:
            return found
        limit = (1 << width) - 1
        groups: list[tuple[int, int, str, list[tuple[str, tuple[int, ...], str]],
                          tuple[str, str] | None]] = []
        for n, ev_el in enumerate(items):
            groups.append(self._enum_group(ev_el, n))
        groups.sort(key=lambda g: (g[0], g[1]))
        members: list[tuple[str, int, str]] = []
        names: set[str] = set()
        values: set[int] = set()
        default: tuple[str, str] | None = None
        enum_name = ""
        for _, _, gname, entries, gdefault in groups:
            enum_name = enum_name or gname
            default = default or gdefault
            for mname, vals, desc in entries:
                for v in vals:
                    # a value the field cannot hold never reads back: left out
                    if v > limit or (v in values and mname in names):
                        continue
                    names.add(mname)
                    values.add(v)
                    members.append((mname, v, desc))
        if default is not None and (limit + 1) - len(values) <= MAX_DEFAULT_MEMBERS:
            members.extend((default[0], v, default[1]) for v in range(limit + 1)
                           if v not in values)
        idx = self.packer.enum(enum_name or field_name, members) if members else -1
        self._enums[key] = idx
        return idx

    def _enum_group(self, ev_el: Element, n: int
                    ) -> tuple[int, int, str, list[tuple[str, tuple[int, ...], str]],
                               tuple[str, str] | None]:
        """One enumeratedValues: (usage order, position, name, [(name, values, description)],
        the isDefault entry's (name, description) or None)."""
        if ev_el.get("derivedFrom") is not None:
            ev = self.view(ev_el)
            kids, items = ev.kids, ev.items
        else:
            kids, items = {}, []
            for child in ev_el:
                if child.tag == "enumeratedValue":
                    items.append(child)
                elif child.tag not in kids:
                    kids[child.tag] = child
        usage_el = kids.get("usage")
        usage = _text(usage_el).lower() if usage_el is not None else "read-write"
        order = _USAGE_ORDER.get(usage)
        if order is None:
            raise _Bad(usage_el if usage_el is not None else ev_el,
                       f"unknown usage '{usage}'", "one of read, write, read-write")
        name_el = kids.get("name")
        entries: list[tuple[str, tuple[int, ...], str]] = []
        default: tuple[str, str] | None = None
        for item in items:  # the hot loop of a large file: texts only, elements on errors
            mname = text = desc = flag = None
            for child in item:
                tag = child.tag
                if tag == "name":
                    mname = child.text
                elif tag == "value":
                    text = child.text
                elif tag == "description":
                    desc = child.text
                elif tag == "isDefault":
                    flag = child.text
            if mname is None:
                raise _Bad(item, "<enumeratedValue> has no <name>")
            mname = mname.strip()
            desc = _clean(desc)
            if flag is not None and flag.strip().lower() in ("true", "1"):
                if default is None:
                    default = (mname, desc)
                continue
            if text is None:
                raise _Bad(item, "<enumeratedValue> has no <value> (and is not isDefault)")
            vals: tuple[int, ...] | None = None
            if text.isdigit() and text.isascii():
                vals = (int(text),)
            elif text[:1] == "#" and len(text) > 1 and not text[1:].strip("01"):
                vals = (int(text[1:], 2),)
            elif text[:2] in ("0x", "0X") and text[2:].isalnum() and text.isascii():
                try:
                    vals = (int(text[2:], 16),)
                except ValueError:
                    vals = None
            if vals is None:
                try:
                    vals = parse_enum_value(text)
                except ValueError as exc:
                    value_el = item.find("value")
                    raise _Bad(item if value_el is None else value_el, str(exc)) from None
            entries.append((mname, vals, desc))
        return order, n, _text(name_el) if name_el is not None else "", entries, default


def _access(el: Element) -> Access:
    found = _ACCESS.get(_text(el).lower())
    if found is None:
        raise _Bad(el, f"unknown access '{_text(el)}'",
                   "one of read-only, write-only, read-write, writeOnce, read-writeOnce")
    return found


def _onwrite(el: Element) -> str | None:
    key = _text(el).lower()
    if key not in _ON_WRITE:
        raise _Bad(el, f"unknown modifiedWriteValues '{_text(el)}'",
                   "one of oneToClear, oneToSet, oneToToggle, zeroToClear, zeroToSet, "
                   "zeroToToggle, clear, set, modify")
    found = _ON_WRITE[key]
    return found.value if found is not None else None


def _onread(el: Element) -> str:
    found = _ON_READ.get(_text(el).lower())
    if found is None:
        raise _Bad(el, f"unknown readAction '{_text(el)}'",
                   "one of clear, set, modify, modifyExternal")
    return found.value


def _bits(view: _View, warn: Callable[[Element, str], None]) -> tuple[int, int] | None:
    """(lsb, msb) from bitOffset/bitWidth, lsb/msb or bitRange ``[msb:lsb]``; None for a field
    of no bits (``bitWidth 0``: left out, with a warning)."""
    kids = view.kids
    off = kids.get("bitOffset")
    if off is not None:
        wid = kids.get("bitWidth")
        lsb = _number(off)
        width = _number(wid) if wid is not None else 1
        if width < 0:
            raise _Bad(wid if wid is not None else off, f"bitWidth {width} is not positive")
        if width == 0:
            warn(wid if wid is not None else off, f"{REPAIRED} bitWidth 0: field left out")
            return None
        return lsb, lsb + width - 1
    lsb_el, msb_el = kids.get("lsb"), kids.get("msb")
    if lsb_el is not None and msb_el is not None:
        lsb, msb = _number(lsb_el), _number(msb_el)
        if msb < lsb:
            warn(msb_el, f"{REPAIRED} msb {msb} is below lsb {lsb}: read as bits "
                         f"[{lsb}:{msb}]")
            lsb, msb = msb, lsb
        return lsb, msb
    rng = kids.get("bitRange")
    if rng is not None:
        m = _BIT_RANGE.fullmatch(_text(rng))
        if m is None:
            raise _Bad(rng, f"bitRange '{_text(rng)}' is not [msb:lsb]")
        msb, lsb = int(m.group(1)), int(m.group(2))
        if msb < lsb:
            warn(rng, f"{REPAIRED} bitRange '{_text(rng)}' has msb below lsb: read as "
                      f"[{lsb}:{msb}]")
            lsb, msb = msb, lsb
        return lsb, msb
    raise _Bad(view.el, "<field> has no bit position",
               "give bitOffset and bitWidth, lsb and msb, or bitRange [msb:lsb]")


def _item_name(el: Element) -> str | None:
    name_el = el.find("name")
    return _norm(_text(name_el)) if name_el is not None else None


def _ancestors(el: Element) -> list[Element]:
    out = []
    node = el.getparent()
    while node is not None:
        out.append(node)
        node = node.getparent()
    return out


def _chain_ends_with(el: Element, parts: Sequence[str]) -> bool:
    """True when the names of ``el``'s named ancestors end with ``parts`` (normalised)."""
    chain = []
    for a in _ancestors(el):
        if a.tag in _NAMED:
            name = _item_name(a)
            if name is not None:
                chain.append(name)
    chain.reverse()
    return len(chain) >= len(parts) and chain[len(chain) - len(parts):] == list(parts)


# --------------------------------------------------------------------------------------------
# the entry point
# --------------------------------------------------------------------------------------------
def load_svd(path: Path | str, source: MapSource | None = None) -> RegMap:
    """Parse a CMSIS-SVD file into a :class:`RegMap`.

    A malformed file is one :class:`MapError`: ``FILE:LINE: /device/.../element: problem``.
    """
    from lxml import etree  # lazy: only a cold load pays for it

    path = Path(path)
    parser = etree.XMLParser(remove_comments=True, remove_pis=True, remove_blank_text=True,
                             huge_tree=True, resolve_entities=False, no_network=True)
    # The walk makes a great many short-lived objects and no cycles; the cyclic collector
    # would run hundreds of times for nothing (it doubles the time of a large file).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            tree = etree.parse(str(path), parser)
        except etree.XMLSyntaxError as exc:
            line = exc.lineno or (exc.position[0] if exc.position else 0)
            raise MapError(f"{path}:{line}: not well-formed XML: {exc.msg}") from None
        except OSError as exc:
            raise MapError(f"{path}: cannot read: {exc.strerror or exc}") from None
        root = tree.getroot()
        if isinstance(root.tag, str) and root.tag.startswith("{"):
            for el in root.iter():
                if isinstance(el.tag, str) and el.tag.startswith("{"):
                    el.tag = el.tag.split("}", 1)[1]
        loader = _Loader(root)
        try:
            name, paths, addrs, lidx = loader.build()
        except _Bad as exc:
            raise MapError(f"{path}:{exc.el.sourceline}: {element_path(exc.el)}: "
                           f"{exc.message}", exc.hint) from None
        _rename_duplicates(paths)
        warnings = tuple(f"{path}:{el.sourceline}: {element_path(el)}: {message}"
                         for el, message in loader.warnings)
        layouts = loader.packer.packed()
        del loader, root, tree
    finally:
        if was_enabled:
            gc.enable()
    regmap = RegMap(name, [], paths, addrs, lidx, [], source or MapSource((str(path),), ""))
    _use_packed(regmap, layouts)
    regmap.warnings = warnings
    return regmap


def _use_packed(regmap: RegMap, layouts: PackedLayouts) -> None:
    """Give the map its layouts without building them: RegMap only indexes and iterates its
    ``layouts``, so a lazy sequence serves (its constructor would build a tuple of them)."""
    regmap.layouts = layouts
    regmap._max_size = layouts.max_size


def _rename_duplicates(paths: list[str]) -> None:
    """Paths are case-insensitive; a second register of the same path (vendor files have a few,
    mostly ``Reserved``) becomes ``NAME_2``, a third ``NAME_3``, in document order."""
    seen: dict[str, int] = {}
    for i, p in enumerate(paths):
        key = p.lower()
        if key not in seen:
            seen[key] = 1
            continue
        n = seen[key]
        while True:
            n += 1
            candidate = f"{p}_{n}"
            if candidate.lower() not in seen:
                break
        seen[key] = n
        seen[candidate.lower()] = 1
        paths[i] = candidate
