"""The pieces of the CMSIS-SVD reader that look at single elements: the tables of what SVD's
words mean, errors that know their element, texts, numbers and the ``derivedFrom`` view."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from socdbg.regmap.model import (
    ACCESS_HINT,
    ACCESS_NAMES,
    MODIFIED_WRITE_HINT,
    MODIFIED_WRITE_VALUES,
    READ_ACTIONS,
    Access,
    OnRead,
)
from socdbg.regmap.svd_numbers import int_text

if TYPE_CHECKING:
    from lxml.etree import _Element as Element

#: Register size when neither the register nor anything above it gives one (SVD's default).
DEFAULT_SIZE = 32
#: An ``isDefault`` enumerated value is expanded into one member per value the others leave
#: unnamed when there are at most this many such values; otherwise it is dropped.
MAX_DEFAULT_MEMBERS = 16
#: The first word of a warning about a vendor slip socdbg repaired; ``--strict`` (and BUTR)
#: refuse a map with any.
REPAIRED = "repaired:"
#: The longest chain of ``derivedFrom`` one element may sit at the end of.
MAX_DERIVED_DEPTH = 64

#: ``read`` and ``write`` are not in the schema, but in vendor files: read as what they mean.
_ACCESS = {**ACCESS_NAMES, "read": Access.R, "write": Access.W}
_ACCESS_TEXT = {k: v.value for k, v in _ACCESS.items()}
_ON_WRITE = {
    **MODIFIED_WRITE_VALUES,
    "modify": None,  # the written value is stored: a plain write
}
_ON_READ = {**READ_ACTIONS, "modifyexternal": OnRead.RUSER}
_BIT_RANGE = re.compile(r"\[\s*(\d+)\s*:\s*(\d+)\s*\]")
_NAMED = frozenset(("peripheral", "cluster", "register", "field", "enumeratedValues",
                    "enumeratedValue"))


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


def _number(el: Element) -> int:
    try:
        return int_text(el.text or "")
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


class _View:
    """An element seen through ``derivedFrom``: its own children over the inherited ones.

    ``items`` are the repeated children: registers and clusters of a peripheral or cluster,
    fields of a register, enumeratedValues of a field, enumeratedValue of an enumeratedValues.
    ``key`` identifies the items (a tuple of elements, kept alive by the key)."""

    __slots__ = ("el", "items", "key", "kids")

    def __init__(self, el: Element, kids: dict[str, Element], items: list[Element]) -> None:
        self.el, self.kids, self.items = el, kids, items
        self.key = tuple(items)


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


def _access(el: Element) -> Access:
    found = _ACCESS.get(_text(el).lower())
    if found is None:
        raise _Bad(el, f"unknown access '{_text(el)}'", ACCESS_HINT)
    return found


def _onwrite(el: Element) -> str | None:
    key = _text(el).lower()
    if key not in _ON_WRITE:
        raise _Bad(el, f"unknown modifiedWriteValues '{_text(el)}'", MODIFIED_WRITE_HINT)
    found = _ON_WRITE[key]
    return found.value if found is not None else None


def _onread(el: Element) -> str:
    found = _ON_READ.get(_text(el).lower())
    if found is None:
        raise _Bad(el, f"unknown readAction '{_text(el)}'",
                   "one of clear, set, modify, modifyExternal")
    return found.value


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
