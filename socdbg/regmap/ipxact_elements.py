"""The pieces of the IP-XACT reader that look at single elements: what the standard's words
mean, errors that know their element, texts, and the document's parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from socdbg.regmap.model import Access, OnRead, OnWrite
from socdbg.regmap.sv_expr import ExprError, evaluate

if TYPE_CHECKING:
    from lxml.etree import _Element as Element

_ACCESS = {
    "read-only": Access.R,
    "write-only": Access.W,
    "read-write": Access.RW,
    "writeonce": Access.W1,
    "read-writeonce": Access.RW1,
    "no-access": Access.NA,
}
#: modifiedWriteValue -> onwrite. ``modify``: the hardware stores something other than what
#: was written, and the standard does not say what; socdbg marks the field ``wuser``, so it is
#: never assumed to read back what was written.
_ON_WRITE: dict[str, OnWrite | None] = {
    "onetoclear": OnWrite.WOCLR,
    "onetoset": OnWrite.WOSET,
    "onetotoggle": OnWrite.WOT,
    "zerotoclear": OnWrite.WZC,
    "zerotoset": OnWrite.WZS,
    "zerototoggle": OnWrite.WZT,
    "clear": OnWrite.WCLR,
    "set": OnWrite.WSET,
    "modify": OnWrite.WUSER,
}
#: readAction -> onread; ``modify`` (the read changes the field in a way the standard leaves
#: open) is ``ruser``: a read with a side effect, skipped by dumps unless asked.
_ON_READ = {"clear": OnRead.RCLR, "set": OnRead.RSET, "modify": OnRead.RUSER}
_USAGE_ORDER = {"read-write": 0, "read": 1, "write": 2}
_NAMED = frozenset(("memoryMap", "addressBlock", "bank", "registerFile", "register", "field",
                    "enumeratedValue", "parameter", "alternateRegister"))
#: The most parameters one expression may pass through (a chain or a cycle).
MAX_PARAM_DEPTH = 32


class _Bad(Exception):
    def __init__(self, el: Element, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.el, self.message, self.hint = el, message, hint


def element_path(el: Element) -> str:
    """``memoryMap[soc]/addressBlock[dma]/register[ctrl]/field[en]`` for an element below a
    named one, from the memory map down."""
    parts: list[str] = []
    node: Element | None = el
    while node is not None:
        tag = node.tag if isinstance(node.tag, str) else "?"
        if tag == "component":
            break
        if tag in _NAMED:
            name = node.find("name")
            parts.append(f"{tag}[{_text(name)}]" if name is not None else tag)
        elif node is el:
            parts.append(tag)
        node = node.getparent()
    return "/".join(reversed(parts)) or str(el.tag)


def _attr(el: Element, name: str) -> str | None:
    """An attribute by its local name: 2014 writes ``usage``, 2009 ``spirit:usage``."""
    found = el.get(name)
    if found is not None:
        return str(found)
    tail = "}" + name
    for key, value in el.attrib.items():
        if str(key).endswith(tail):
            return str(value)
    return None


def _text(el: Element | None) -> str:
    return "" if el is None else (el.text or "").strip()


def _clean(el: Element | None) -> str:
    return "" if el is None else " ".join((el.text or "").split())


class _Params:
    """The document's parameters by ``parameterId`` and by name; each evaluated on first use."""

    def __init__(self, root: Element) -> None:
        self.by_key: dict[str, Element] = {}
        for p in root.iter("parameter"):
            pid = _attr(p, "parameterId")
            if pid:
                self.by_key.setdefault(pid, p)
        for p in root.iter("parameter"):
            name = _text(p.find("name"))
            if name:
                self.by_key.setdefault(name, p)
        self.values: dict[str, int] = {}
        self.active: list[str] = []

    def value(self, name: str) -> int:
        found = self.values.get(name)
        if found is not None:
            return found
        el = self.by_key.get(name)
        if el is None:
            raise ExprError(f"'{name}' is neither a number nor a parameter")
        if name in self.active:
            raise ExprError(f"parameter '{name}' refers to itself")
        if len(self.active) >= MAX_PARAM_DEPTH:
            raise ExprError(f"parameter '{name}' ends a chain of more than {MAX_PARAM_DEPTH}")
        value_el = el.find("value")
        if value_el is None:
            raise ExprError(f"parameter '{name}' has no <value>")
        self.active.append(name)
        try:
            value = evaluate(value_el.text or "", self.value)
        except ExprError as exc:
            raise ExprError(f"parameter '{name}': {exc}") from None
        finally:
            self.active.pop()
        self.values[name] = value
        return value


def _product(dims: Sequence[int]) -> int:
    out = 1
    for d in dims:
        out *= d
    return out
