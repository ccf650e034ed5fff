"""IP-XACT loader through peakrdl-ipxact.

peakrdl-ipxact's importer turns an IP-XACT (IEEE 1685-2009/2014, and SPIRIT 1.4/1.5)
``component`` into systemrdl-compiler components: each ``memoryMap`` an addrmap, each
``addressBlock`` an addrmap (or a mem for ``usage`` memory), ``registerFile`` a regfile and
``register``/``field`` what they are. The elaborated tree is then walked by the SystemRDL
loader's walker, so both formats make the same model.

Only this module imports peakrdl_ipxact, and only the cache calls it, when a source has changed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from socdbg.errors import MapError
from socdbg.regmap.model import MAX_REGISTER_BITS, MapSource
from socdbg.regmap.rdl import _build, _register_udps
from socdbg.regmap.regmap import RegMap

#: Elements that count bits: a register or field wider than socdbg's widest register is refused
#: before the compiler allocates a number of that many bits.
_BIT_COUNTS = ("size", "width", "bitOffset", "bitWidth")


def compile_ipxact(sources: Sequence[Path], top: str | None = None,
                   source: MapSource | None = None) -> RegMap:
    """Import IP-XACT files into a :class:`RegMap`."""
    return compile_ipxact_files(sources, top, source)[0]


def compile_ipxact_files(sources: Sequence[Path], top: str | None = None,
                         source: MapSource | None = None) -> tuple[RegMap, list[Path]]:
    """:func:`compile_ipxact`, plus the files read (the sources: IP-XACT has no includes).

    The map is the last ``memoryMap`` of the last file unless ``top`` names another (as
    ``COMPONENT__MEMORYMAP``, the importer's name for it, or just ``MEMORYMAP``). Errors are one
    :class:`MapError` naming file:line where the importer or the XML parser gives one.
    """
    try:
        from peakrdl_ipxact import IPXACTImporter  # lazy: imports systemrdl too
    except ModuleNotFoundError:
        raise MapError(f"{sources[0] if sources else 'IP-XACT'}: reading IP-XACT needs "
                       "peakrdl-ipxact", "pip install 'socdbg[ipxact]' (or peakrdl-ipxact)"
                       ) from None
    from systemrdl.compiler import RDLCompiler
    from systemrdl.messages import MessagePrinter, RDLCompileError, Severity

    class _Collect(MessagePrinter):
        def __init__(self) -> None:
            self.errors: list[str] = []

        def print_message(self, severity: Any, text: str, src_ref: Any) -> None:
            if severity < Severity.ERROR:
                return
            where = ""
            path = getattr(src_ref, "path", None) if src_ref is not None else None
            line = getattr(src_ref, "line", None) if src_ref is not None else None
            if path and line:
                where = f"{path}:{line}: "
            elif path:
                where = f"{path}: "
            self.errors.append(where + text)

    class _Importer(IPXACTImporter):  # type: ignore[misc]
        """peakrdl-ipxact's importer, with a message for a number it cannot read (it raises
        a bare ValueError) naming the element."""

        def parse_integer(self, s: str) -> int:
            try:
                return int(super().parse_integer(s))
            except ValueError:
                raise ValueError(f"'{s.strip()}' is not a number") from None

        def flatten_element_values(self, el: Any) -> dict[str, Any]:
            try:
                values = dict(super().flatten_element_values(el))
                for key in _BIT_COUNTS:  # the compiler makes 1 << width of these
                    if isinstance(values.get(key), int) and not (
                            0 <= values[key] <= MAX_REGISTER_BITS):
                        raise ValueError(f"{key} {values[key]} is not 0 to {MAX_REGISTER_BITS}")
                return values
            except ValueError as exc:
                kind = str(el.tag).rsplit("}", 1)[-1]
                name = next((c.text for c in el if str(c.tag).endswith("}name")), None)
                raise ValueError(f"{kind} '{name}': {exc}" if name else f"{kind}: {exc}"
                                 ) from None

    printer = _Collect()
    compiler = RDLCompiler(message_printer=printer)
    _register_udps(compiler)
    files: list[Path] = []
    current = Path(sources[0]) if sources else Path("?")
    try:
        for src in sources:
            current = Path(src)
            if not current.is_file():
                raise MapError(f"{current}: no such register description file")
            _Importer(compiler).import_file(str(current))
            files.append(current.resolve())
        root = compiler.elaborate(top_def_name=_top_name(compiler, top)) if top else \
            compiler.elaborate()
    except RDLCompileError:
        first = printer.errors[0] if printer.errors else f"{current}: import failed"
        if not first.startswith(str(current)) and ": " not in first.split(" ", 1)[0]:
            first = f"{current}: {first}"
        more = len(printer.errors) - 1
        raise MapError(first, f"{more} more error(s)" if more > 0 else None) from None
    except MemoryError:  # one number of billions of bits in the compiler
        raise MapError(f"{current}: too large to compile") from None
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise MapError(f"{current}:{line}: not well-formed XML: {exc}") from None
    except (ValueError, TypeError, LookupError, AttributeError) as exc:
        # the importer trusts its input in places (a missing element, an unexpected name)
        what = str(exc) or type(exc).__name__
        raise MapError(f"{current}: not an IP-XACT register description socdbg can import: "
                       f"{what}") from None
    top_node = root.top
    regmap = _build(top_node, source or MapSource(tuple(str(s) for s in sources), "", (),
                                                  top or ""))
    # the importer names the memoryMap's addrmap COMPONENT__MEMORYMAP
    regmap.name = str(top_node.inst_name).rsplit("__", 1)[-1]
    return regmap, files


def _top_name(compiler: Any, top: str) -> str:
    """``top`` as the importer named it: a memoryMap called ``top`` of any component."""
    names = list(getattr(compiler.namespace, "type_ns_stack", [{}])[0])
    if top in names:
        return top
    for name in names:
        if str(name).endswith("__" + top):
            return str(name)
    return top
