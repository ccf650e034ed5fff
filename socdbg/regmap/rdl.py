"""SystemRDL 2.0 loader through systemrdl-compiler.

The elaborated tree is walked without unrolling arrays: each distinct block is walked once into
a template of (relative path, relative address, layout), and array elements reuse it with an
offset. Unrolling a 100k-register map node by node takes seconds; this takes a fraction of one.
Only this module imports systemrdl, and only the cache calls it, when a source has changed.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from array import array
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from socdbg.errors import MapError
from socdbg.regmap.model import (
    ADDRESS_LIMIT,
    LIMIT_HINT,
    MAX_REGISTER_BITS,
    Access,
    EnumMember,
    Field,
    FieldEnum,
    Layout,
    MapSource,
    Memory,
    OnRead,
    OnWrite,
    max_registers,
    too_many,
)
from socdbg.regmap.regmap import RegMap

#: User-defined properties socdbg understands (declared in registers/udp.rdl).
UDP_FLAGS = ("unsafe_read", "unsafe_write", "write_effects")
#: The most text Verilog-style macros (`` `define ``) may expand to in one compile: a 700-byte
#: file of nested macros otherwise expands to gigabytes and runs for minutes.
MAX_MACRO_TEXT = 16 << 20

#: The policy of the compile running in this context: (Perl preprocessor allowed, folders
#: every included file must lie in, or None for anywhere). See :func:`_install_guards`.
_POLICY: ContextVar[tuple[bool, tuple[str, ...] | None]] = ContextVar(
    "socdbg_rdl_policy", default=(True, None))


def compile_rdl_files(
    sources: Sequence[Path],
    include_paths: Sequence[Path] = (),
    defines: Mapping[str, str] | None = None,
    top: str | None = None,
    source: MapSource | None = None,
    *,
    allow_perl: bool = True,
    confine: Sequence[Path] | None = None,
) -> tuple[RegMap, list[Path]]:
    """Compile and elaborate SystemRDL sources into a :class:`RegMap`, and list every file
    the compiler read (sources, then the files the preprocessor included, as the compiler
    itself resolved them). A compile error becomes one :class:`MapError` naming file:line and
    the compiler's message.

    ``allow_perl=False`` refuses the Perl preprocessor (``<% ... %>``) with a compile error
    instead of running Perl; ``confine`` refuses an include outside those folders before it is
    read. Both are for sources from elsewhere (a dump's embedded map). A user's own map may use
    Perl; systemrdl-compiler gives it a few seconds, and running over is one MapError."""
    from systemrdl.compiler import RDLCompiler  # lazy: 0.1 s to import
    from systemrdl.messages import MessagePrinter, RDLCompileError, Severity

    class _Collect(MessagePrinter):
        def __init__(self) -> None:
            self.errors: list[str] = []

        def print_message(self, severity: Any, text: str, src_ref: Any) -> None:
            if severity < Severity.ERROR:
                return
            if src_ref is None and text.endswith("aborted due to previous errors"):
                if not self.errors:
                    self.errors.append(text)
                return
            where = ""
            if src_ref is not None:
                path = getattr(src_ref, "path", None)
                line = getattr(src_ref, "line", None)
                if path and line:
                    where = f"{path}:{line}: "
                elif path:
                    where = f"{path}: "
            self.errors.append(where + " ".join(text.split()))  # one line, always

    printer = _Collect()
    compiler = RDLCompiler(message_printer=printer)
    _register_udps(compiler)
    _bound_macros()
    incl = [str(p) for p in include_paths]
    files: dict[Path, None] = {}
    perl_guarded = _install_guards()
    if not allow_perl and not perl_guarded:  # systemrdl changed: refuse any Perl tag at all
        for src in sources:
            if b"<%" in Path(src).read_bytes():
                raise MapError(f"{src}: Perl preprocessor tags (<% %>) are not run in a map "
                               "from elsewhere")
    policy = _POLICY.set((allow_perl, None if confine is None
                          else tuple(os.path.realpath(c) for c in confine)))
    try:
        for src in sources:
            if not Path(src).is_file():
                raise MapError(f"{src}: no such register description file")
            info = compiler.compile_file(str(src), incl_search_paths=incl,
                                         defines=dict(defines or {}))
            files[Path(src).resolve()] = None
            for included in sorted(info.included_files):
                files.setdefault(Path(included).resolve(), None)
        root = compiler.elaborate(top_def_name=top) if top else compiler.elaborate()
    except RDLCompileError:
        first = printer.errors[0] if printer.errors else "compile failed"
        more = len(printer.errors) - 1
        raise MapError(first, f"{more} more error(s)" if more > 0 else None) from None
    except (ValueError, TypeError) as exc:  # e.g. an unknown top name
        raise MapError(f"{sources[-1]}: {exc}") from None
    except subprocess.TimeoutExpired as exc:
        raise MapError(f"{sources[-1]}: the Perl preprocessor (<% %>) did not finish within "
                       f"{exc.timeout:g} s", "look for an endless loop in a <% %> block"
                       ) from None
    except MemoryError:  # one number of billions of bits (a regwidth, a field) in the compiler
        raise MapError(f"{sources[-1]}: too large to compile (a register or field of billions "
                       "of bits?)") from None
    except _MacroBomb as exc:
        raise MapError(f"{exc}macros expand to more than {MAX_MACRO_TEXT >> 20} MiB of text"
                       ) from None
    finally:
        _POLICY.reset(policy)
    regmap = _build(root.top, source or MapSource(tuple(str(s) for s in sources), "", (),
                                                  top or ""))
    return regmap, list(files)


def _install_guards() -> bool:
    """Wrap systemrdl-compiler's Perl preprocessor once, so that the compile's policy
    (:data:`_POLICY`) decides whether ``<% %>`` runs Perl and where an include may come from.
    False when the compiler no longer has the methods wrapped (the caller then refuses Perl
    tags itself)."""
    try:
        from systemrdl.preprocessor.perl_preprocessor import PerlPreprocessor
        from systemrdl.source_ref import FileSourceRef
    except ImportError:
        return False
    run = getattr(PerlPreprocessor, "run_perl_miniscript", None)
    parse = getattr(PerlPreprocessor, "parse_include", None)
    if run is None or parse is None:
        return False
    if getattr(run, "_socdbg_guard", False):
        return True

    def run_perl_miniscript(self: Any, segments: Any) -> Any:
        if not _POLICY.get()[0]:
            self.env.msg.fatal("Perl preprocessor tags (<% %>) are not run in a map from "
                               "elsewhere (a dump's embedded map)", FileSourceRef(self.path))
        return run(self, segments)

    def parse_include(self: Any, start: int) -> Any:
        end, path = parse(self, start)
        folders = _POLICY.get()[1]
        if folders is not None:
            real = os.path.realpath(path)
            if not any(os.path.commonpath([real, f]) == f for f in folders):
                self.env.msg.fatal(f"include of '{path}' is outside the map's own folder",
                                   FileSourceRef(self.path))
        return end, path

    run_perl_miniscript._socdbg_guard = True  # type: ignore[attr-defined]
    setattr(PerlPreprocessor, "run_perl_miniscript", run_perl_miniscript)  # noqa: B010
    setattr(PerlPreprocessor, "parse_include", parse_include)  # noqa: B010
    return True
class _MacroBomb(Exception):
    """Macro expansion went over :data:`MAX_MACRO_TEXT`; the message is ``FILE:LINE: ``."""


_macro_text = [0]


def _bound_macros() -> None:
    """Count what systemrdl-compiler's Verilog preprocessor expands macros to, from zero, and
    stop it above :data:`MAX_MACRO_TEXT`. Its macro renderer is wrapped once (it offers no
    hook); a compiler without it is left as it is."""
    _macro_text[0] = 0
    try:
        from systemrdl.preprocessor.verilog_preprocessor import Macro
    except ImportError:
        return
    render = getattr(Macro, "render_macro", None)
    if render is None or getattr(render, "_socdbg_bounded", False):
        return

    def bounded(self: Any, parent: Any, argv: Any, src_ref: Any) -> Any:
        text = render(self, parent, argv, src_ref)
        _macro_text[0] += len(text)
        if _macro_text[0] > MAX_MACRO_TEXT:
            path, line = getattr(src_ref, "path", None), getattr(src_ref, "line", None)
            raise _MacroBomb(f"{path}:{line}: " if path and line else f"{path}: " if path
                             else "")
        return text

    bounded._socdbg_bounded = True  # type: ignore[attr-defined]
    setattr(Macro, "render_macro", bounded)  # noqa: B010 (mypy: a method is not assignable)


def _register_udps(compiler: Any) -> None:
    from systemrdl.component import Addrmap, Mem, Reg, Regfile
    from systemrdl.udp import UDPDefinition

    for flag in UDP_FLAGS:
        comps = {Reg, Regfile, Addrmap} | ({Mem} if flag != "write_effects" else set())
        udp = type(f"UDP_{flag}", (UDPDefinition,),
                   {"name": flag, "valid_components": comps, "valid_type": bool})
        compiler.register_udp(udp, soft=True)


class _Walker:
    def __init__(self) -> None:
        self.layouts: list[Layout] = []
        self._layout_ids: dict[Layout, int] = {}
        self._enums: dict[int, FieldEnum] = {}
        self._templates: dict[tuple[int, tuple[bool, ...]], _Template] = {}

    def layout_index(self, layout: Layout) -> int:
        idx = self._layout_ids.get(layout)
        if idx is None:
            idx = len(self.layouts)
            self.layouts.append(layout)
            self._layout_ids[layout] = idx
        return idx

    def enum(self, enum_cls: Any) -> FieldEnum:
        key = id(enum_cls)
        found = self._enums.get(key)
        if found is None:
            members = tuple(
                EnumMember(m.name, int(m.value), _text(m.rdl_desc)) for m in enum_cls
            )
            found = FieldEnum(enum_cls.type_name if hasattr(enum_cls, "type_name")
                              else enum_cls.__name__, members)
            self._enums[key] = found
        return found

    def field(self, node: Any) -> Field:
        reset = node.get_property("reset")
        enc = node.get_property("encode")
        onread = node.get_property("onread")
        onwrite = node.get_property("onwrite")
        # swacc (a strobe to the hardware on every software read) is folded into onread, so
        # everything that skips read side effects skips it, and the cached layout carries it
        swacc = onread is None and bool(node.get_property("swacc"))
        return Field(
            name=node.inst_name,
            lsb=node.low,
            msb=node.high,
            sw=Access(node.get_property("sw").name),
            hw=Access(node.get_property("hw").name),
            onread=(OnRead(onread.name) if onread is not None
                    else OnRead.SWACC if swacc else None),
            onwrite=OnWrite(onwrite.name) if onwrite is not None else None,
            singlepulse=bool(node.get_property("singlepulse")),
            counter=bool(node.get_property("counter")),
            reset=reset if isinstance(reset, int) and not isinstance(reset, bool) else None,
            enum=self.enum(enc) if enc is not None else None,
            description=_text(node.get_property("desc")),
            msb0=node.msb < node.lsb,
        )

    def template(self, node: Any, flags: tuple[bool, ...]) -> _Template:
        """Registers and memories below a block, relative to the block."""
        key = (id(node.inst), flags)
        found = self._templates.get(key)
        if found is not None:
            return found
        from systemrdl.node import AddrmapNode, MemNode, RegfileNode, RegNode

        tpl = _Template()
        for child in node.children(unroll=False):
            if not isinstance(child, RegNode | RegfileNode | AddrmapNode | MemNode):
                continue
            cflags = tuple(f or bool(_prop(child, name)) for f, name in zip(flags, UDP_FLAGS,
                                                                            strict=True))
            if isinstance(child, RegNode):
                li = self.reg_layout(child, cflags)
                size = self.layouts[li].size
                count = 1
            elif isinstance(child, MemNode):
                size = _mem(child, "", 0, cflags).size
                count = 1
            else:
                sub = self.template(child, cflags)
                size = sub.end
                count = len(sub.regs) + len(sub.mems)
                if not count:
                    continue
            n = _element_count(child)
            message = too_many(len(tpl.regs) + len(tpl.mems) + n * count,
                               f"{_kind(child)} {child.inst_name}")
            if message is not None:
                raise MapError(_where(child) + message, LIMIT_HINT)
            first, stride = child.raw_address_offset, (child.array_stride or 0) if n > 1 else 0
            if first < 0 or stride < 0:
                raise MapError(f"{_where(child)}{child.inst_name} has a negative "
                               f"{'offset' if first < 0 else 'array stride'}")
            last = first + (n - 1) * stride
            if last + size > ADDRESS_LIMIT:
                raise MapError(f"{_where(child)}{child.inst_name} ends at offset "
                               f"0x{last + size:x}, beyond the 64-bit address space")
            tpl.end = max(tpl.end, last + size)
            for suffix, offset in _elements(child):
                name = child.inst_name + suffix
                if isinstance(child, RegNode):
                    tpl.regs.append((name, offset, li))
                elif isinstance(child, MemNode):
                    tpl.mems.append(_mem(child, name, offset, cflags))
                else:
                    pre = name + "."
                    tpl.regs.extend((pre + p, offset + a, li) for p, a, li in sub.regs)
                    tpl.mems.extend(
                        Memory(pre + m.path, offset + m.address, m.entries, m.width, m.sw,
                               m.description, m.unsafe_read, m.unsafe_write) for m in sub.mems)
        self._templates[key] = tpl
        return tpl

    def reg_layout(self, node: Any, flags: tuple[bool, ...]) -> int:
        width = int(node.get_property("regwidth"))
        if width > MAX_REGISTER_BITS:
            raise MapError(f"{_where(node)}register {node.inst_name} is {width} bits wide, "
                           f"wider than {MAX_REGISTER_BITS}")
        fields = tuple(sorted((self.field(f) for f in node.fields()), key=lambda f: f.lsb))
        layout = Layout(
            name=_text(node.get_property("name")) or node.inst_name,
            width=int(node.get_property("regwidth")),
            accesswidth=int(node.get_property("accesswidth")),
            fields=fields,
            description=_text(node.get_property("desc")),
            unsafe_read=flags[0],
            unsafe_write=flags[1],
            write_effects=flags[2],
        )
        return self.layout_index(layout)


class _Template:
    """Registers and memories below a block, relative to it; ``end`` is the first byte past
    the last of them."""

    __slots__ = ("end", "mems", "regs")

    def __init__(self) -> None:
        self.regs: list[tuple[str, int, int]] = []
        self.mems: list[Memory] = []
        self.end = 0


def _element_count(node: Any) -> int:
    """How many elements an instance stands for (1 unless it is an array), refused above the
    register limit before anything is made of them."""
    if not node.is_array:
        return 1
    count = 1
    for d in node.array_dimensions:
        if int(d) < 1:
            raise MapError(f"{_where(node)}array {node.inst_name} has a dimension of {d}")
        count *= int(d)
    if count > max_registers():
        dims = "".join(f"[{d}]" for d in node.array_dimensions)
        raise MapError(f"{_where(node)}array {node.inst_name}{dims} has {count:,} elements, "
                       f"more than the limit of {max_registers():,}", LIMIT_HINT)
    return count


def _kind(node: Any) -> str:
    return str(type(node).__name__).removesuffix("Node").lower()


def _where(node: Any) -> str:
    """``FILE:LINE: `` of the instance's declaration, or ``FILE: `` or nothing."""
    ref = getattr(getattr(node, "inst", None), "inst_src_ref", None)
    path = getattr(ref, "path", None)
    line = getattr(ref, "line", None)
    if path and line:
        return f"{path}:{line}: "
    return f"{path}: " if path else ""


def _elements(node: Any) -> Iterable[tuple[str, int]]:
    """(index suffix, offset) for every element of a possibly multi-dimensional array."""
    offset = node.raw_address_offset
    if not node.is_array:
        return [("", offset)]
    dims = node.array_dimensions
    stride = node.array_stride
    out = []
    for linear, idx in enumerate(itertools.product(*(range(d) for d in dims))):
        out.append(("".join(f"[{i}]" for i in idx), offset + linear * stride))
    return out


def _mem(node: Any, name: str, offset: int, flags: tuple[bool, ...]) -> Memory:
    return Memory(
        path=name,
        address=offset,
        entries=int(node.get_property("mementries")),
        width=int(node.get_property("memwidth")),
        sw=Access(node.get_property("sw").name),
        description=_text(node.get_property("desc")),
        unsafe_read=flags[0],
        unsafe_write=flags[1],
    )


def _prop(node: Any, name: str) -> Any:
    try:
        return node.get_property(name, default=False)
    except LookupError:
        return False


def _text(value: Any) -> str:
    if not value:
        return ""
    return " ".join(str(value).split())


def _build(top: Any, source: MapSource) -> RegMap:
    walker = _Walker()
    base = top.raw_absolute_address if hasattr(top, "raw_absolute_address") else 0
    flags = tuple(bool(_prop(top, name)) for name in UDP_FLAGS)
    tpl = walker.template(top, flags)
    if base < 0 or base + tpl.end > ADDRESS_LIMIT:
        raise MapError(f"{_where(top)}{top.inst_name} at 0x{base:x} ends at "
                       f"0x{base + tpl.end:x}, beyond the 64-bit address space")
    paths = [p for p, _, _ in tpl.regs]
    addrs = array("Q", (base + a for _, a, _ in tpl.regs))
    lidx = array("I", (li for _, _, li in tpl.regs))
    mems = [Memory(m.path, base + m.address, m.entries, m.width, m.sw, m.description,
                   m.unsafe_read, m.unsafe_write) for m in tpl.mems]
    return RegMap(top.inst_name, walker.layouts, paths, addrs, lidx, mems, source)
