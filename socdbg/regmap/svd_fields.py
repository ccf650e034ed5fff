"""Fields and enumerated values of the CMSIS-SVD reader (a part of :class:`_Loader`).

A large vendor file has tens of thousands of fields and enumerated values, so a field is read
in one pass over its children's texts; only a field with a problem goes back to its elements,
to say which one is wrong (``file:line``) or what was repaired."""

from __future__ import annotations

from typing import TYPE_CHECKING

from socdbg.regmap.model import USAGE_HINT, USAGE_ORDER
from socdbg.regmap.packed import FieldRecord, Packer
from socdbg.regmap.svd_elements import (
    _ACCESS_TEXT,
    _BIT_RANGE,
    _ON_READ,
    _ON_WRITE,
    MAX_DEFAULT_MEMBERS,
    REPAIRED,
    _access,
    _Bad,
    _clean,
    _kids,
    _onread,
    _onwrite,
    _text,
    _View,
)
from socdbg.regmap.svd_numbers import int_text, parse_enum_value

if TYPE_CHECKING:
    from lxml.etree import _Element as Element


class _FieldReader:
    """The field and enum half of the walk; :class:`socdbg.regmap.svd_walk._Loader` is the
    other half and provides ``view`` (derivedFrom) and ``elements`` (dim)."""

    packer: Packer
    _enums: dict[tuple[object, ...], int]

    def warn(self, el: Element, message: str) -> None:
        raise NotImplementedError

    def view(self, el: Element) -> _View:
        raise NotImplementedError

    def elements(self, view: _View, name: str) -> list[tuple[str, int, str | None]]:
        raise NotImplementedError

    # --- fields ---------------------------------------------------------------------------
    def field(self, el: Element, width: int, access: str, onread: str | None,
              onwrite: str | None, reset_value: int, known: int, out: list[FieldRecord]
              ) -> None:
        """Record one field (or each element of a field array) in ``out``: its texts are read
        in one pass (a derived field's through its ``derivedFrom`` view); what is wrong with
        it is reported at the element that says it."""
        view: _View | None = None
        texts: dict[str, str | None] = {}
        evs: list[Element] = []
        if el.get("derivedFrom") is not None:
            view = self.view(el)
            texts = {tag: kid.text for tag, kid in view.kids.items()}
            evs = view.items
        else:
            for child in el:
                tag = child.tag
                if tag == "enumeratedValues":
                    evs.append(child)
                elif tag not in texts:
                    texts[tag] = child.text
        name = texts.get("name")
        if name is None:
            raise _Bad(el, "<field> has no <name>")
        name = name.strip()
        bits = self._bits(el, view, texts)
        if bits is None:
            return
        lsb, msb = bits
        dim = "dim" in texts
        if msb >= width and lsb < width and not dim:
            self.warn(el, f"{REPAIRED} bits [{msb}:{lsb}] do not fit the {width}-bit register: "
                          f"read as [{width - 1}:{lsb}]")
            msb = width - 1
        elif lsb >= width:
            self.warn(el, f"{REPAIRED} bits [{msb}:{lsb}] are outside the {width}-bit "
                          "register: field left out")
            return
        text = texts.get("access")
        if text is not None:
            found = _ACCESS_TEXT.get(text.strip().lower())
            access = found if found is not None else _access(_kid(el, view, "access")).value
        text = texts.get("modifiedWriteValues")
        if text is not None:
            key = text.strip().lower()
            if key in _ON_WRITE:
                ow = _ON_WRITE[key]
                onwrite = ow.value if ow is not None else None
            else:
                onwrite = _onwrite(_kid(el, view, "modifiedWriteValues"))
        text = texts.get("readAction")
        if text is not None:
            orr = _ON_READ.get(text.strip().lower())
            onread = orr.value if orr is not None else _onread(_kid(el, view, "readAction"))
        desc = _clean(texts.get("description"))
        if msb >= width:
            raise _Bad(el, f"bits [{msb}:{lsb}] do not fit the {width}-bit register")
        enum = self.enum(evs, msb - lsb + 1, name) if evs else -1
        if not dim:
            fmask = ((1 << (msb - lsb + 1)) - 1) << lsb
            reset = (reset_value & fmask) >> lsb if known & fmask == fmask else None
            out.append((name, lsb, msb, access, onread, onwrite, reset, enum, desc))
            return
        for fname, delta, subst in self.elements(view or self.view(el), name):
            lo, hi = lsb + delta, msb + delta
            if hi >= width:
                raise _Bad(el, f"{fname}: bits [{hi}:{lo}] do not fit the {width}-bit "
                               "register")
            fmask = ((1 << (hi - lo + 1)) - 1) << lo
            reset = (reset_value & fmask) >> lo if known & fmask == fmask else None
            out.append((fname, lo, hi, access, onread, onwrite, reset, enum,
                        desc.replace("%s", subst) if subst else desc))

    def _bits(self, el: Element, view: _View | None, texts: dict[str, str | None]
              ) -> tuple[int, int] | None:
        """(lsb, msb) from bitOffset/bitWidth, lsb/msb or bitRange ``[msb:lsb]``; None for a
        field of no bits (``bitWidth 0``: left out, with a warning)."""
        off = texts.get("bitOffset")
        if off is not None:
            lsb = _int(el, view, "bitOffset", off)
            wid = texts.get("bitWidth")
            nbits = _int(el, view, "bitWidth", wid) if wid is not None else 1
            if nbits <= 0:
                at = _kid(el, view, "bitWidth" if wid is not None else "bitOffset")
                if nbits < 0:
                    raise _Bad(at, f"bitWidth {nbits} is not positive")
                self.warn(at, f"{REPAIRED} bitWidth 0: field left out")
                return None
            return lsb, lsb + nbits - 1
        lo_t, hi_t = texts.get("lsb"), texts.get("msb")
        if lo_t is not None and hi_t is not None:
            lsb, msb = _int(el, view, "lsb", lo_t), _int(el, view, "msb", hi_t)
            if msb < lsb:
                self.warn(_kid(el, view, "msb"), f"{REPAIRED} msb {msb} is below lsb {lsb}: "
                                                 f"read as bits [{lsb}:{msb}]")
                lsb, msb = msb, lsb
            return lsb, msb
        rng = texts.get("bitRange")
        if rng is not None:
            rng = rng.strip()
            m = _BIT_RANGE.fullmatch(rng)
            if m is None:
                raise _Bad(_kid(el, view, "bitRange"), f"bitRange '{rng}' is not [msb:lsb]")
            msb, lsb = int(m.group(1)), int(m.group(2))
            if msb < lsb:
                self.warn(_kid(el, view, "bitRange"), f"{REPAIRED} bitRange '{rng}' has msb "
                                                      f"below lsb: read as [{lsb}:{msb}]")
                lsb, msb = msb, lsb
            return lsb, msb
        raise _Bad(el, "<field> has no bit position",
                   "give bitOffset and bitWidth, lsb and msb, or bitRange [msb:lsb]")

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
        order = USAGE_ORDER.get(usage)
        if order is None:
            raise _Bad(usage_el if usage_el is not None else ev_el,
                       f"unknown usage '{usage}'", USAGE_HINT)
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


def _kid(el: Element, view: _View | None, tag: str) -> Element:
    """The child element that holds ``tag``'s text (for an error or a warning)."""
    return (view.kids if view is not None else _kids(el))[tag]


def _int(el: Element, view: _View | None, tag: str, text: str) -> int:
    try:
        return int_text(text)
    except ValueError as exc:
        raise _Bad(_kid(el, view, tag), str(exc)) from None
