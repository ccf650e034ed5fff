"""The pieces of the IP-XACT reader that look at single elements: what the standard's words
mean, errors that know their element, texts, and the document's parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from socdbg.errors import did_you_mean
from socdbg.regmap.model import ACCESS_NAMES, MODIFIED_WRITE_VALUES, Access, OnWrite
from socdbg.regmap.sv_expr import ExprError, evaluate

if TYPE_CHECKING:
    from lxml.etree import _Element as Element

_ACCESS = {**ACCESS_NAMES, "no-access": Access.NA}
#: modifiedWriteValue -> onwrite. ``modify``: the hardware stores something other than what
#: was written, and the standard does not say what; socdbg marks the field ``wuser``, so it is
#: never assumed to read back what was written.
_ON_WRITE: dict[str, OnWrite | None] = {
    **MODIFIED_WRITE_VALUES,
    "modify": OnWrite.WUSER,
}
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
    """The document's parameters, each evaluated on first use, and the user's overrides.

    A key is a 2014 ``parameterId``, a parameter's ``name``, or a 2009 ``spirit:id`` (on a
    parameter's ``value`` or on any configurable element, such as a ``baseAddress``). A value
    is the element's text (an expression), or the override given for its key, or, for a 2009
    element with ``spirit:dependency``, that XPath expression when it only uses ``id('X')``,
    numbers, ``+ - *``, ``div``, ``mod`` and parentheses (else the text, with a warning)."""

    def __init__(self, root: Element, overrides: Mapping[str, str] | None = None) -> None:
        self.by_key: dict[str, Element] = {}
        params = list(root.iter("parameter", "modelParameter"))
        for p in params:
            pid = _attr(p, "parameterId")
            if pid:
                self.by_key.setdefault(pid, p)
        for el in root.iter():  # 2009: configurable elements (and parameter values) carry ids
            for key, value in el.attrib.items():
                if str(key).endswith("}id") and "spirit" in str(key).lower() and value:
                    self.by_key.setdefault(str(value).strip(), el)
        for p in params:
            name = _text(p.find("name"))
            if name:
                self.by_key.setdefault(name, p)
        self.values: dict[str, int] = {}
        self.active: list[str] = []
        self.warnings: list[tuple[Element, str]] = []
        self.overrides: dict[Element, str] = {}
        for key, text in (overrides or {}).items():
            found = self.by_key.get(key)
            if found is None:
                raise _Bad(root, f"no parameter '{key}' to set",
                           did_you_mean(key, self.by_key) or
                           ("parameters: " + ", ".join(sorted(self.by_key)[:20])
                            if self.by_key else "the component has no parameters"))
            holder = _holder(found)
            if holder is None:
                raise _Bad(found, f"parameter '{key}' has no <value> to set")
            self.overrides[holder] = text
            resolve = (_attr(found, "resolve") or _attr(holder, "resolve") or "").strip()
            if resolve not in ("user", "generated"):
                self.warnings.append((holder, f"{key} is resolve="
                                              f"{resolve or 'immediate'} (fixed) in the file: "
                                              f"set to {text} as asked"))

    def expr(self, el: Element) -> str:
        """The expression that gives ``el``'s value (an override, a dependency, its text)."""
        found = self.overrides.get(el)
        if found is not None:
            return found
        dep = _attr(el, "dependency")
        if dep is not None and (_attr(el, "resolve") or "dependent") == "dependent":
            expr = _xpath_expr(dep)
            if expr is not None:
                return expr
            self.warnings.append((el, f"dependency '{dep.strip()}' is not evaluated: "
                                      f"read as the value written ({(el.text or '').strip()})"))
        return el.text or ""

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
        holder = _holder(el)
        if holder is None:
            raise ExprError(f"parameter '{name}' has no <value>")
        self.active.append(name)
        try:
            value = evaluate(self.expr(holder), self.value)
        except ExprError as exc:
            raise ExprError(f"parameter '{name}': {exc}") from None
        finally:
            self.active.pop()
        self.values[name] = value
        return value


def _holder(el: Element) -> Element | None:
    """The element whose text is a key's value: a parameter's ``value``, else the element."""
    if el.tag in ("parameter", "modelParameter"):
        return el.find("value")
    return el


_XPATH_ID = re.compile(r"""id\(\s*['"]([A-Za-z_][\w]*)['"]\s*\)""")
_XPATH_OK = re.compile(r"[\s\d()+*/%@-]*")


def _xpath_expr(dep: str) -> str | None:
    """A 2009 ``spirit:dependency`` in the expression syntax, or None when it uses more of
    XPath than ``id('X')``, numbers, ``+ - *``, ``div``, ``mod`` and parentheses."""
    names: list[str] = []

    def mark(m: re.Match[str]) -> str:
        names.append(m.group(1))
        return f"@{len(names) - 1}@"

    text = _XPATH_ID.sub(mark, dep)
    text = re.sub(r"\bdiv\b", "/", text)
    text = re.sub(r"\bmod\b", "%", text)
    if not text.strip() or not _XPATH_OK.fullmatch(text):
        return None
    return re.sub(r"@(\d+)@", lambda m: names[int(m.group(1))], text)
