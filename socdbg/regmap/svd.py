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

Speed: a 24 MB vendor file has 35,000 fields and 45,000 enumerated values. A field is read in
one pass over its children's texts (:mod:`svd_fields`); only a field with a problem goes back
to its elements to say which. Layouts are not built here: the walk records them as compact
JSON records and the map holds a :class:`PackedLayouts` (:mod:`packed`), which builds a
register's :class:`Layout` the first time something looks at it. So neither a cold load nor
a warm one (which reads two byte strings) makes 100,000 frozen dataclasses up front. The
records are data only (JSON, never marshal or pickle): a cache entry cannot run code.

The reader is split along its seams: :mod:`svd_numbers` (SVD's numbers), :mod:`svd_elements`
(tables, element texts, errors), :mod:`svd_walk` (device, peripherals, clusters, registers),
:mod:`svd_fields` (fields and enumerated values), :mod:`packed` (the layout store).

Only this module imports lxml, and only the cache calls it, when the source has changed.
docs/register-formats.md says what is read, what is approximated and what is not used.
"""


from __future__ import annotations

import gc
from pathlib import Path

from socdbg.errors import MapError
from socdbg.regmap.model import MapSource
from socdbg.regmap.packed import PackedLayouts
from socdbg.regmap.paths import rename_duplicates
from socdbg.regmap.regmap import RegMap
from socdbg.regmap.svd_elements import REPAIRED, _Bad, _number, element_path
from socdbg.regmap.svd_numbers import (
    MAX_DONT_CARE_BITS,
    parse_dim_index,
    parse_enum_value,
    parse_number,
)
from socdbg.regmap.svd_walk import _Loader

__all__ = ["MAX_DONT_CARE_BITS", "REPAIRED", "PackedLayouts", "_Bad", "_Loader", "_number",
           "element_path", "load_svd", "parse_dim_index", "parse_enum_value", "parse_number"]


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
        rename_duplicates(paths)
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
