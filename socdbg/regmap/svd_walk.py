"""The walk of the CMSIS-SVD reader: the device, its peripherals, clusters and registers, each
distinct definition visited once; arrays (``dim``) and ``derivedFrom`` reuse a template of
(relative path, relative offset, layout) with an offset. Fields are :mod:`svd_fields`."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, NamedTuple

from socdbg.regmap.model import (
    ADDRESS_LIMIT,
    LIMIT_HINT,
    MAX_REGISTER_BITS,
    Access,
    max_registers,
    too_many,
)
from socdbg.regmap.packed import FieldRecord, Packer
from socdbg.regmap.svd_elements import (
    DEFAULT_SIZE,
    MAX_DERIVED_DEPTH,
    REPAIRED,
    _access,
    _ancestors,
    _Bad,
    _chain_ends_with,
    _desc,
    _item_name,
    _kids,
    _norm,
    _number,
    _onread,
    _onwrite,
    _required,
    _split,
    _text,
    _View,
)
from socdbg.regmap.svd_fields import _FieldReader
from socdbg.regmap.svd_numbers import parse_dim_index

if TYPE_CHECKING:
    from lxml.etree import _Element as Element


class _Props(NamedTuple):
    """The register properties inherited device -> peripheral -> cluster -> register."""

    size: int | None
    access: Access | None
    reset_value: int | None
    reset_mask: int | None


class _Template:
    """Registers below a peripheral or cluster, relative to it; ``end`` is the first byte past
    the last of them."""

    __slots__ = ("addrs", "end", "lidx", "paths")

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.addrs: list[int] = []
        self.lidx: list[int] = []
        self.end = 0


class _Loader(_FieldReader):
    def __init__(self, root: Element) -> None:
        self.root = root
        self.packer = Packer()
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
            self.field(item, width, access, onread, onwrite, reset_value, known, fields)
        fields.sort(key=lambda f: f[1])
        idx = self.packer.layout(name, width, desc, tuple(fields))
        self._reg_layouts[key] = idx
        return idx
