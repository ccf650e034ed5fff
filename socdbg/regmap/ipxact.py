"""IP-XACT reader: one IEEE 1685-2009 or 1685-2014 ``component`` into the register model.

socdbg reads IP-XACT itself, with lxml, as it reads CMSIS-SVD: no detour through SystemRDL,
so components that SystemRDL's rules would refuse (24-bit registers, a read-only and a
write-only register at one offset, ``modify`` side effects) load as the standard describes them.
peakrdl-ipxact is only a cross-check in the tests.

What is read (docs/register-formats.md is the user's list):

* ``memoryMap`` (the last one, or the one ``top`` names) with ``addressUnitBits`` (a multiple
  of 8); ``addressBlock`` (``usage`` memory becomes a memory, ``reserved`` is skipped);
  ``bank`` (serial: blocks one after the other; parallel: every block at the bank's address);
* ``registerFile`` (nested, ``dim``, stride ``range``) and ``register`` (``dim``, stride its
  size), paths ``BLOCK.FILE[i].REG[j]``; the first element of a multi-``dim`` array is
  ``REG[0][0]``;
* ``field``: ``bitOffset``, ``bitWidth``, ``access`` (inherited block -> register -> field),
  ``modifiedWriteValue``, ``readAction``, ``enumeratedValues``; a register without fields
  gets one field of the register's name over all its bits;
* resets: the 2009 register ``reset`` (``value``, ``mask``) and the 2014 field
  ``resets/reset`` (``value``, ``mask``); a field's reset is known only where every one of
  its bits is masked in;
* numbers: every numeric element is a SystemVerilog-style expression (:mod:`sv_expr`) that may
  name a ``parameter`` (by ``parameterId`` or name) of the component or any element above.

Only this module imports lxml for IP-XACT, and only the cache calls it, when the source changed.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from socdbg.errors import MapError, did_you_mean
from socdbg.regmap.ipxact_elements import _attr, _Bad, _text, element_path
from socdbg.regmap.ipxact_walk import _Reader
from socdbg.regmap.model import MapSource
from socdbg.regmap.paths import rename_duplicates
from socdbg.regmap.regmap import RegMap

if TYPE_CHECKING:
    from lxml.etree import _Element as Element

__all__ = ["REMAP_KEY", "compile_ipxact", "compile_ipxact_files", "element_path"]

#: The setting that chooses a remap state (``--map comp.xml,remap=STATE``); every other
#: setting is a parameter.
REMAP_KEY = "remap"


def _pick(root: Element, top: str | None) -> Element:
    maps = [m for mms in root.findall("memoryMaps") for m in mms.findall("memoryMap")]
    if not maps:
        raise _Bad(root, "the component has no memoryMaps/memoryMap")
    if not top:
        return maps[-1]
    comp = _text(root.find("name"))
    names = [_text(m.find("name")) for m in maps]
    for m, n in zip(maps, names, strict=True):
        if top in (n, f"{comp}__{n}"):
            return m
    raise _Bad(root, f"no memoryMap '{top}'",
               did_you_mean(top, names) or f"one of {', '.join(names)}")


def compile_ipxact(sources: Sequence[Path], top: str | None = None,
                   source: MapSource | None = None,
                   params: Mapping[str, str] | None = None) -> RegMap:
    """Read an IP-XACT file into a :class:`RegMap`."""
    return compile_ipxact_files(sources, top, source, params)[0]


def compile_ipxact_files(sources: Sequence[Path], top: str | None = None,
                         source: MapSource | None = None,
                         params: Mapping[str, str] | None = None
                         ) -> tuple[RegMap, list[Path]]:
    """:func:`compile_ipxact`, plus the files read (the one source: IP-XACT has no includes).

    The map is the last ``memoryMap`` unless ``top`` names another (``MEMORYMAP`` or
    ``COMPONENT__MEMORYMAP``). ``params`` sets parameters (``NAME=EXPRESSION``, by
    ``parameterId``, name or 2009 ``spirit:id``) in place of the file's defaults; the key
    ``remap`` chooses a remap state, whose ``memoryRemap`` blocks are added to the memory
    map's own. Errors are one :class:`MapError`:
    ``FILE:LINE: memoryMap[m]/addressBlock[b]/register[r]/field[f]: problem``.
    """
    from lxml import etree  # lazy: only a cold load pays for it

    if len(sources) != 1:
        raise MapError(f"an IP-XACT map is one file, not {len(sources)}")
    path = Path(sources[0])
    if not path.is_file():
        raise MapError(f"{path}: no such register description file")
    settings = dict(params or {})
    remap = settings.pop(REMAP_KEY, None)
    parser = etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False,
                             no_network=True, huge_tree=False)
    try:
        tree = etree.parse(str(path), parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else 0)
        raise MapError(f"{path}:{line}: not well-formed XML: {exc.msg}") from None
    except OSError as exc:
        raise MapError(f"{path}: cannot read: {exc.strerror or exc}") from None
    root = tree.getroot()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    notes: list[tuple[Element, str]] = []
    try:
        if root.tag != "component":
            raise _Bad(root, f"<{root.tag}> is not an IP-XACT <component>")
        reader = _Reader(root, settings)
        mm = _pick(root, top)
        name = reader.name(mm)
        reader.memory_map(mm, remap)
        states = [(_attr(r, "state") or "").strip() for r in mm.findall("memoryRemap")]
        if states and remap is None:
            notes.append((mm, f"remap states {', '.join(states)}: the map shows the default "
                              "state (--map FILE,remap=STATE adds that state's memoryRemap)"))
    except _Bad as exc:
        raise MapError(f"{path}:{exc.el.sourceline}: {element_path(exc.el)}: {exc.message}",
                       exc.hint) from None
    except RecursionError:
        raise MapError(f"{path}: nested too deeply") from None
    rename_duplicates(reader.paths)
    settings_given = tuple(sorted((params or {}).items()))
    regmap = RegMap(name, reader.layouts, reader.paths, array("Q", reader.addrs),
                    array("I", reader.lidx), reader.mems,
                    source or MapSource((str(path),), "", settings_given, top or ""))
    regmap.warnings = tuple(f"{path}:{el.sourceline}: {element_path(el)}: {message}"
                            for el, message in [*reader.params.warnings, *notes])
    return regmap, [path.resolve()]
