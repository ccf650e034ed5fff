"""The walk of the IP-XACT reader: a memory map's banks, address blocks, register files,
registers, fields and enumerations into layouts and register columns."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from socdbg.errors import did_you_mean
from socdbg.regmap.ipxact_elements import (
    _ACCESS,
    _ON_WRITE,
    _attr,
    _Bad,
    _clean,
    _Params,
    _text,
)
from socdbg.regmap.model import (
    ACCESS_HINT,
    ADDRESS_LIMIT,
    LIMIT_HINT,
    MAX_REGISTER_BITS,
    MODIFIED_WRITE_HINT,
    READ_ACTIONS,
    USAGE_HINT,
    USAGE_ORDER,
    Access,
    EnumMember,
    Field,
    FieldEnum,
    Layout,
    Memory,
    max_registers,
    too_many,
)
from socdbg.regmap.sv_expr import ExprError, evaluate

if TYPE_CHECKING:
    from lxml.etree import _Element as Element


class _Reader:
    def __init__(self, root: Element, params: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.params = _Params(root, params)
        self.layouts: list[Layout] = []
        self.layout_ids: dict[Layout, int] = {}
        self.paths: list[str] = []
        self.addrs: list[int] = []
        self.lidx: list[int] = []
        self.mems: list[Memory] = []
        self.aub = 8
        self.limit = max_registers()
        #: elements of the register files around the current item, multiplied: an empty
        #: array of arrays still costs a loop per element, so it counts against the limit
        self.outer = 1

    # --- numbers --------------------------------------------------------------------------
    def number(self, el: Element) -> int:
        try:
            return evaluate(self.params.expr(el), self.params.value)
        except ExprError as exc:
            raise _Bad(el, str(exc)) from None

    def present(self, el: Element) -> bool:
        """False for an element whose 2014 ``isPresent`` expression is 0."""
        found = el.find("isPresent")
        return found is None or self.number(found) != 0

    def opt(self, parent: Element, tag: str, default: int | None = None) -> int | None:
        el = parent.find(tag)
        return default if el is None else self.number(el)

    def need(self, parent: Element, tag: str) -> int:
        el = parent.find(tag)
        if el is None:
            raise _Bad(parent, f"<{parent.tag}> has no <{tag}>")
        return self.number(el)

    def name(self, el: Element) -> str:
        name = _text(el.find("name"))
        if not name:
            raise _Bad(el, f"<{el.tag}> has no <name>")
        return name

    def dims(self, el: Element, name: str) -> list[int]:
        dims = [self.number(d) for d in el.findall("dim")]
        total = 1
        for d, d_el in zip(dims, el.findall("dim"), strict=True):
            if d < 1:
                raise _Bad(d_el, f"dim {d} is not positive")
            total *= d
            if total > self.limit:
                shape = "".join(f"[{x}]" for x in dims)
                raise _Bad(d_el, f"{name}{shape} has {math.prod(dims):,} elements, more than "
                                 f"the limit of {self.limit:,} registers", LIMIT_HINT)
        return dims

    # --- the walk -------------------------------------------------------------------------
    def memory_map(self, mm: Element, remap: str | None = None) -> None:
        """The memory map's own blocks and banks (its default state); with ``remap``, also
        those of its ``memoryRemap`` for that remap state."""
        aub_el = mm.find("addressUnitBits")
        if aub_el is not None:
            self.aub = self.number(aub_el)
            if self.aub < 8 or self.aub % 8 or self.aub > MAX_REGISTER_BITS:
                raise _Bad(aub_el, f"addressUnitBits {self.aub} is not a multiple of 8 "
                                   f"(8 to {MAX_REGISTER_BITS})")
        self.contents(mm)
        remaps = [r for r in mm.findall("memoryRemap") if self.present(r)]
        if remap is None:
            return
        states = {(_attr(r, "state") or "").strip(): r for r in remaps}
        chosen = states.get(remap)
        if chosen is None:
            raise _Bad(mm, f"no memoryRemap for remap state '{remap}'",
                       did_you_mean(remap, states) or
                       ("remap states: " + ", ".join(sorted(states)) if states else
                        "this memoryMap has no memoryRemap"))
        self.contents(chosen)

    def contents(self, holder: Element) -> None:
        for child in holder:
            if not self.present(child):
                continue
            if child.tag == "addressBlock":
                self.block(child, None)
            elif child.tag == "bank":
                self.bank(child, None, "")

    def unit(self) -> int:
        return self.aub // 8

    def bank(self, el: Element, base: int | None, prefix: str) -> None:
        at = self.need(el, "baseAddress") * self.unit() if base is None else base
        serial = (_attr(el, "bankAlignment") or "").strip().lower() != "parallel"
        access = el.find("access")
        for child in el:
            if child.tag not in ("addressBlock", "bank") or not self.present(child):
                continue
            if child.tag == "bank":
                self.bank(child, at, prefix)
                span = self._bank_span(child)
            else:
                span = self.block(child, at, access)
            if serial:
                at += span

    def _bank_span(self, el: Element) -> int:
        serial = (_attr(el, "bankAlignment") or "").strip().lower() != "parallel"
        spans = [self._bank_span(c) if c.tag == "bank" else self.need(c, "range") * self.unit()
                 for c in el if c.tag in ("addressBlock", "bank")]
        return sum(spans) if serial else max(spans, default=0)

    def block(self, el: Element, base: int | None, bank_access: Element | None = None) -> int:
        """Read one addressBlock at ``base`` (from a bank) or its own baseAddress; returns its
        span in bytes."""
        name = self.name(el)
        at = self.need(el, "baseAddress") * self.unit() if base is None else base
        span = self.need(el, "range") * self.unit()
        width = self.need(el, "width")
        if at < 0 or span < 0:
            raise _Bad(el, f"{name}: negative offset or range")
        if at + span > ADDRESS_LIMIT:
            raise _Bad(el, f"{name} at 0x{at:x} ends beyond the 64-bit address space")
        if not 0 < width <= MAX_REGISTER_BITS:
            width_el = el.find("width")
            raise _Bad(width_el if width_el is not None else el,
                       f"width {width} is not 1 to {MAX_REGISTER_BITS}")
        usage = _text(el.find("usage")).lower() or "register"
        access_el = el.find("access")
        access = self.access(access_el if access_el is not None else bank_access, Access.RW)
        if usage == "reserved":
            return span
        items = [c for c in el if c.tag in ("register", "registerFile") and self.present(c)]
        if usage == "memory" and not items:
            bits = span * 8
            if width % 8 or bits % width:
                raise _Bad(el, f"memory {name}: range {span} bytes is not whole {width}-bit "
                               "words")
            self.mems.append(Memory(name, at, bits // width, width, access, _clean(
                el.find("description"))))
            return span
        self.items(items, name + ".", at, access, width)
        return span

    def access(self, el: Element | None, default: Access) -> Access:
        if el is None:
            return default
        found = _ACCESS.get(_text(el).lower())
        if found is None:
            raise _Bad(el, f"unknown access '{_text(el)}'", ACCESS_HINT)
        return found

    def items(self, items: Sequence[Element], prefix: str, base: int, access: Access,
              bus: int) -> None:
        for item in items:
            if item.tag == "register":
                self.register(item, prefix, base, access, bus)
            else:
                self.register_file(item, prefix, base, access, bus)

    def _elements(self, el: Element, name: str, base: int, stride: int
                  ) -> list[tuple[str, int]]:
        dims = self.dims(el, name)
        offset_el = el.find("addressOffset")
        if offset_el is None:
            raise _Bad(el, f"<{el.tag}> {name} has no <addressOffset>")
        offset = self.number(offset_el)
        if offset < 0:
            raise _Bad(offset_el, f"{name}: negative offset {offset}")
        start = base + offset * self.unit()
        count = math.prod(dims)
        if start + count * stride > ADDRESS_LIMIT:
            raise _Bad(offset_el, f"{name} at 0x{start:x} ends beyond the 64-bit address "
                                  "space")
        total = max(len(self.paths) + count, self.outer * count)
        if total > self.limit:
            message = too_many(total, f"{el.tag} {name}")
            raise _Bad(el, message or "too many registers", LIMIT_HINT)
        if not dims:
            return [(name, start)]
        out: list[tuple[str, int]] = []
        for k in range(count):
            idx: list[int] = []
            rest = k
            for d in reversed(dims):
                idx.append(rest % d)
                rest //= d
            idx.reverse()
            out.append((name + "".join(f"[{i}]" for i in idx), start + k * stride))
        return out

    def register_file(self, el: Element, prefix: str, base: int, access: Access,
                      bus: int) -> None:
        name = self.name(el)
        stride = self.need(el, "range") * self.unit()
        if stride < 0:
            raise _Bad(el, f"{name}: negative range")
        children = [c for c in el if c.tag in ("register", "registerFile") and self.present(c)]
        access = self.access(el.find("access"), access)
        elements = self._elements(el, name, base, stride)
        outer = self.outer
        self.outer = outer * len(elements)
        try:
            for path, at in elements:
                self.items(children, prefix + path + ".", at, access, bus)
        finally:
            self.outer = outer

    def register(self, el: Element, prefix: str, base: int, access: Access, bus: int) -> None:
        name = self.name(el)
        width = self.need(el, "size")
        size_el = el.find("size")
        if not 0 < width <= MAX_REGISTER_BITS:
            raise _Bad(size_el if size_el is not None else el,
                       f"size {width} is not 1 to {MAX_REGISTER_BITS}")
        stored = -(-width // 8) * 8  # a 12-bit register occupies 16 bits of bytes
        units = -(-width // self.aub)
        idx = self.layout(el, name, width, stored, self.access(el.find("access"), access), bus)
        for path, at in self._elements(el, name, base, units * self.unit()):
            self.paths.append(prefix + path)
            self.addrs.append(at)
            self.lidx.append(idx)
        for alt in el.iter("alternateRegister"):
            if not self.present(alt):
                continue
            alt_name = self.name(alt)
            alt_idx = self.layout(alt, alt_name, width, stored,
                                  self.access(alt.find("access"), access), bus)
            for path, at in self._elements_like(el, alt_name, base, units * self.unit()):
                self.paths.append(prefix + path)
                self.addrs.append(at)
                self.lidx.append(alt_idx)

    def _elements_like(self, el: Element, name: str, base: int, stride: int
                       ) -> list[tuple[str, int]]:
        reg_name = self.name(el)
        return [(name + path[len(reg_name):], at)
                for path, at in self._elements(el, reg_name, base, stride)]

    def layout(self, el: Element, name: str, width: int, stored: int, access: Access,
               bus: int) -> int:
        reset_value, reset_mask = 0, 0
        reset_el = el.find("reset")  # 1685-2009: the register's reset, with an optional mask
        if reset_el is not None:
            value_el = reset_el.find("value")
            if value_el is None:
                raise _Bad(reset_el, "<reset> has no <value>")
            reset_value = self.number(value_el)
            reset_mask = self.opt(reset_el, "mask", (1 << width) - 1) or 0
        fields: list[Field] = []
        for f_el in el.findall("field"):
            if not self.present(f_el):
                continue
            fields.append(self.field(f_el, width, access, reset_value, reset_mask))
        if not fields:
            full = (1 << width) - 1
            fields.append(Field(name, 0, width - 1, sw=access,
                                reset=reset_value & full if reset_mask & full == full and
                                reset_el is not None else None))
        fields.sort(key=lambda f: f.lsb)
        for a, b in itertools.pairwise(fields):
            if b.lsb <= a.msb:
                raise _Bad(el, f"{name}: fields {a.name} {a.bits} and {b.name} {b.bits} "
                               "overlap")
        display = _clean(el.find("displayName"))
        layout = Layout(name=display or name, width=stored,
                        accesswidth=bus if stored > bus and stored % bus == 0 else stored,
                        fields=tuple(fields), description=_clean(el.find("description")))
        found = self.layout_ids.get(layout)
        if found is None:
            found = self.layout_ids[layout] = len(self.layouts)
            self.layouts.append(layout)
        return found

    def field(self, el: Element, width: int, access: Access, reg_reset: int,
              reg_mask: int) -> Field:
        name = self.name(el)
        lsb = self.need(el, "bitOffset")
        bits = self.need(el, "bitWidth")
        if lsb < 0 or bits < 1:
            raise _Bad(el, f"bitOffset {lsb} / bitWidth {bits}: not a bit range")
        msb = lsb + bits - 1
        if msb >= width:
            raise _Bad(el, f"bits [{msb}:{lsb}] do not fit the {width}-bit register")
        fmask = (1 << bits) - 1
        reset: int | None = None
        resets = el.find("resets")
        if resets is not None:  # 1685-2014: the field's own reset, with an optional mask
            chosen = None
            for r in resets.findall("reset"):
                ref = (_attr(r, "resetTypeRef") or "").strip().upper()
                if not ref or ref == "HARD":
                    chosen = r
                    break
            if chosen is not None:
                value_el = chosen.find("value")
                if value_el is None:
                    raise _Bad(chosen, "<reset> has no <value>")
                value = self.number(value_el)
                mask = self.opt(chosen, "mask", fmask) or 0
                if mask & fmask == fmask:
                    reset = value & fmask
        elif (reg_mask >> lsb) & fmask == fmask:
            reset = (reg_reset >> lsb) & fmask
        sw = self.access(el.find("access"), access)
        onwrite = None
        mwv = el.find("modifiedWriteValue")
        if mwv is not None:
            key = _text(mwv).lower()
            if key not in _ON_WRITE:
                raise _Bad(mwv, f"unknown modifiedWriteValue '{_text(mwv)}'",
                           MODIFIED_WRITE_HINT)
            onwrite = _ON_WRITE[key]
        onread = None
        ra = el.find("readAction")
        if ra is not None:
            # ``modify`` (a change the standard leaves open) is ``ruser``: a read with a side
            # effect, skipped by dumps unless asked
            found = READ_ACTIONS.get(_text(ra).lower())
            if found is None:
                raise _Bad(ra, f"unknown readAction '{_text(ra)}'", "one of clear, set, modify")
            onread = found
        enum = None
        evs = el.find("enumeratedValues")
        if evs is not None:
            enum = self.enum(evs, name, fmask)
        return Field(name, lsb, msb, sw=sw, onread=onread, onwrite=onwrite, reset=reset,
                     enum=enum, description=_clean(el.find("description")))

    def enum(self, evs: Element, field_name: str, limit: int) -> FieldEnum | None:
        """Members in usage order (read-write, read, write), each (name, value) once: a read
        decodes to the first name of a value; a write accepts every name."""
        entries: list[tuple[int, int, EnumMember]] = []
        for n, ev in enumerate(evs.findall("enumeratedValue")):
            usage = (_attr(ev, "usage") or "read-write").strip().lower()
            order = USAGE_ORDER.get(usage)
            if order is None:
                raise _Bad(ev, f"unknown usage '{usage}'", USAGE_HINT)
            value_el = ev.find("value")
            if value_el is None:
                raise _Bad(ev, "<enumeratedValue> has no <value>")
            value = self.number(value_el)
            if not 0 <= value <= limit:
                continue  # a value the field cannot hold never reads back: left out
            entries.append((order, n, EnumMember(self.name(ev), value,
                                                 _clean(ev.find("description")))))
        entries.sort(key=lambda e: (e[0], e[1]))
        members: list[EnumMember] = []
        seen: set[tuple[str, int]] = set()
        for _, _, m in entries:
            key = (m.name.lower(), m.value)
            if key not in seen:
                seen.add(key)
                members.append(m)
        if not members:
            return None
        return FieldEnum(_attr(evs, "name") or _text(evs.find("name")) or field_name,
                         tuple(members))
