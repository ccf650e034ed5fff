"""Which format a map file is in: the one asked for, else the format registered for its
extension, else (``.xml``) the one that claims its root element, read from the first 64 KiB
as text without an XML parser."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from socdbg.errors import MapError
from socdbg.regmap import formats

#: The built-in formats' names (``formats.names()`` adds those of other packages).
FORMATS = tuple(formats.BUILTIN)
_PROLOG = re.compile(r"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(\[.*?\])?\s*>)", re.DOTALL)
_ROOT = re.compile(r"<([A-Za-z_][\w.-]*)(?::([A-Za-z_][\w.-]*))?([^>]*)>", re.DOTALL)
_XMLNS = re.compile(r"""xmlns(?::([\w.-]+))?\s*=\s*["']([^"']*)["']""")


def xml_root(path: Path) -> tuple[str, str]:
    """(local name, namespace URI) of an XML file's root element, read from its first 64 KiB
    without an XML parser; ("", "") when there is none to be found there."""
    with path.open("rb") as fh:
        head = fh.read(65536)
    return _xml_root_text(head.decode("utf-8", errors="replace"))


def _xml_root_text(text: str) -> tuple[str, str]:
    text = text.lstrip("\ufeff")
    pos = 0
    while (prolog := _PROLOG.match(text, pos)) is not None:  # declaration, comments, doctype
        pos = prolog.end()
    while pos < len(text) and text[pos].isspace():
        pos += 1
    m = _ROOT.match(text, pos)
    if m is None:
        return "", ""
    prefix, local = (m.group(1), m.group(2)) if m.group(2) else (None, m.group(1))
    namespaces = {p or None: uri for p, uri in _XMLNS.findall(m.group(3))}
    return local, namespaces.get(prefix, "")


def detect_format(path: Path, requested: str | None = None) -> str:
    """The format of one map file: ``requested`` when given; else the format registered for
    its extension (``.rdl`` SystemRDL, ``.svd`` CMSIS-SVD); for ``.xml`` the format that
    claims its root element (an IP-XACT or SPIRIT ``component``, a CMSIS-SVD ``device``:
    vendors ship SVD as .xml too); any other extension is SystemRDL, as before there were
    other formats."""
    if requested is not None:
        return formats.get(requested).name
    return _format_for(str(path), lambda: xml_root(path))


def _format_for(name: str, root: Callable[[], tuple[str, str]]) -> str:
    suffix = Path(name).suffix.lower()
    claimed = formats.by_suffix(suffix)
    if claimed is not None:
        return claimed.name
    if suffix != ".xml":
        return formats.FALLBACK
    try:
        local, uri = root()
    except OSError as exc:
        raise MapError(f"{name}: cannot read: {exc.strerror or exc}") from None
    claimed = formats.by_xml_root(local, uri)
    if claimed is not None:
        return claimed.name
    found = f"<{local}>" + (f" in namespace {uri}" if uri else "") if local else "no root element"
    raise MapError(f"{name}: not a register description socdbg reads: found {found}",
                   formats.xml_hint())


def map_format(sources: Sequence[Path], requested: str | None = None) -> str:
    """The one format of a request's sources (see :func:`detect_format`)."""
    found = {detect_format(s, requested) for s in sources}
    if len(found) > 1:
        listed = ", ".join(f"{s.name} ({detect_format(s)})" for s in sources)
        raise MapError(f"the map files are in different formats: {listed}",
                       "several files make one map only in SystemRDL")
    fmt = found.pop() if found else formats.FALLBACK
    title = formats.get(fmt)
    if title.one_file and len(sources) > 1:
        raise MapError(f"a {title.title} map is one file; got {len(sources)}")
    return fmt


def format_of_text(name: str, text: str) -> str:
    """:func:`detect_format` for a file given as name and text (no file needed)."""
    return _format_for(name, lambda: _xml_root_text(text[:65536]))
