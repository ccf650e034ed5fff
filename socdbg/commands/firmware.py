"""``load`` (ELF images into target memory) and ``sym`` (symbols both ways).

Loaded images live in the session; every address argument accepts their symbols
(``counter``, ``&counter``, ``counter+0x10``) through the address resolvers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from socdbg.access import require_writes
from socdbg.commands.addresses import NAMES, RESOLVERS, resolve_address
from socdbg.commands.params import ADDRESS
from socdbg.commands.registry import Effects, Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import TargetError, UsageError, did_you_mean
from socdbg.regmap import parse_int
from socdbg.render.progress import progress

if TYPE_CHECKING:
    from socdbg.firmware import ElfImage, Symbol

PROGRESS_MIN = 1 << 20  # show a progress bar for images of at least this many bytes


def loaded_images(session: Session) -> list[ElfImage]:
    return session.symbols


#: gdb's way to name a file-local symbol: 'uart.c'::init (the quotes are optional here, and
#: the shell's own quoting may already have removed them)
_QUALIFIED = re.compile(r"^'?(?P<file>[^':]+)'?::(?P<name>[^:+\-\s]+)$")


def _where(sym: Symbol) -> str:
    return f"{sym.name} in {sym.file or sym.image} ({sym.address:#x})"


def _hint(cands: list[Symbol]) -> str:
    named = [s.qualified for s in cands if s.file and s.bind == "local"]
    if len(named) == len(cands):
        return "say which: " + " or ".join(named)
    return "say which by address" + (f", or as {' or '.join(named)}" if named else "")


class AmbiguousSymbol(UsageError):
    """A bare name that several file-local symbols share."""


def resolve_symbol(session: Session, text: str) -> Symbol | None:
    """The one symbol ``text`` names: ``name``, or ``'file.c'::name`` for a file-local one.

    A bare name that several symbols share (statics in different files, none global) is a
    UsageError listing them; None when nothing has the name."""
    m = _QUALIFIED.match(text.strip())
    if m is not None:
        file, name = m.group("file").strip(), m.group("name").strip()
        images = [i for i in reversed(loaded_images(session)) if i.symbols.lookup(name)]
        for image in images:
            sym = image.symbols.in_file(file, name)
            if sym is not None:
                return sym
        if images:
            files = sorted({f for i in images for f in i.symbols.files(name)})
            raise UsageError(f"no symbol '{name}' local to '{file}'",
                             f"{name} is in {', '.join(files)}" if files else
                             f"'{name}' is not file-local: name it without a file")
        return None
    for image in reversed(loaded_images(session)):
        sym = image.symbols.lookup(text)
        if sym is None:
            continue
        cands = image.symbols.ambiguous(text)
        if cands:
            raise AmbiguousSymbol(f"'{text}' is ambiguous in {image.name}: "
                             + "; ".join(_where(s) for s in cands), _hint(cands))
        return sym
    return None


def symbol_names(session: Session) -> list[str]:
    seen: dict[str, None] = {}
    for image in loaded_images(session):
        for n in image.symbols.names():
            seen.setdefault(n, None)
    return list(seen)


def symbol_at(session: Session, address: int, exact: bool = False) -> str | None:
    """``name`` or ``name+0x4`` for the symbol holding ``address`` (only a symbol that starts
    there when ``exact``), from any loaded image."""
    for image in reversed(loaded_images(session)):
        if not image.covers(address):
            continue
        hit = image.symbols.containing(address)
        if hit is not None and (hit[1] == 0 or not exact):
            sym, off = hit
            return sym.name + (f"+{off:#x}" if off else "")
    return None


def _resolve_symbol(session: Session, name: str) -> tuple[int, int | None] | None:
    sym = resolve_symbol(session, name)
    if sym is None:
        return None
    return sym.address, sym.size if sym.kind == "object" else None


RESOLVERS.append(_resolve_symbol)
NAMES.append(symbol_names)


def _remember(session: Session, image: ElfImage) -> None:
    images = loaded_images(session)
    images[:] = [i for i in images if i.path != image.path]
    images.append(image)


@click.command("load", help="Load an ELF image into target memory: every PT_LOAD segment "
               "(file bytes, then zero fill). Segments are checked against the memory map "
               "before anything is written.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--verify", is_flag=True, help="Read every segment back and compare.")
@click.option("--set-pc", is_flag=True, help="Set the CPU's program counter to the entry.")
@click.option("--symbols-only", is_flag=True, help="Read symbols; write nothing.")
@session_command
def load_cmd(session: Session, path: str, verify: bool, set_pc: bool, symbols_only: bool
             ) -> Output:
    from socdbg.firmware import read_elf
    from socdbg.firmware.load import (
        check_segments,
        load_image,
        load_plan_text,
        segment_text,
        verify_image,
    )
    from socdbg.safety import WriteGate, unsafe_in_range
    from socdbg.targets.base import CAP_CORE_REGS, CoreRegisters

    if symbols_only and (set_pc or verify):
        raise UsageError("--symbols-only writes nothing, so it cannot --set-pc or --verify")
    image = read_elf(path)
    data: dict[str, Any] = {"image": image.name, "entry": image.entry,
                            "symbols": len(image.symbols), "machine": image.machine,
                            "segments": [{"index": s.index, "address": s.address,
                                          "filesz": len(s.data), "memsz": s.memsz,
                                          "flags": s.perms} for s in image.segments]}
    if symbols_only:
        _remember(session, image)
        return Output(data=data, text=f"{image.name}: {len(image.symbols)} symbols, "
                      f"entry {image.entry:#x} (nothing written)")
    check_segments(image, session.map)
    target = session.target
    if set_pc and not (CAP_CORE_REGS in target.capabilities
                       and isinstance(target, CoreRegisters)):
        raise UsageError(f"--set-pc: target {target.spec} has no CPU registers",
                         "load without --set-pc, or use a gdb target")
    # the live write policy, as for write and poke: one question for the whole image
    unsafe = [p for seg in image.segments
              for p in unsafe_in_range(session.map, seg.address, seg.memsz)]
    gate = WriteGate(session, target, "load", unsafe)
    require_writes(target, "load")
    gate.confirm_text(load_plan_text(image, session.map, target.spec, gate.unsafe, set_pc))
    with progress(session.presenter.console, image.size, f"load {image.name}", PROGRESS_MIN,
                  "bytes") as advance:
        written = load_image(target, image, advance)
    lines = [f"{image.name}: {segment_text(s)} {len(s.data)} bytes + "
             f"{s.memsz - len(s.data)} zero" for s in image.segments]
    if verify:
        with progress(session.presenter.console, image.size, f"verify {image.name}", PROGRESS_MIN,
                      "bytes") as advance:
            bad = verify_image(target, image, advance)
        if bad is not None:
            addr, want, got = bad
            _remember(session, image)
            raise TargetError(f"{image.name}: verify failed at {addr:#x}: wrote {want:#04x}, "
                              f"read back {got:#04x}")
        lines.append("verified")
    if set_pc:
        assert isinstance(target, CoreRegisters)
        target.write_core_register("pc", image.entry)
        lines.append(f"pc <- {image.entry:#x}")
    _remember(session, image)
    lines.append(f"loaded {written} bytes, entry {image.entry:#x}, "
                 f"{len(image.symbols)} symbols")
    data["written"] = written
    return Output(data=data, text="\n".join(lines))


@click.command("sym", help="Look up a symbol by NAME (address, size, type, section, image), "
               "or the symbol containing an ADDR (symbol+offset).")
@click.argument("what", type=ADDRESS)
@session_command
def sym_cmd(session: Session, what: str) -> Output:
    images = loaded_images(session)
    if not images:
        raise UsageError("no image loaded", "load FILE.elf (or load --symbols-only FILE.elf)")
    name = what[1:].strip() if what.startswith("&") else what
    m = _QUALIFIED.match(name)
    if m is not None:
        sym = resolve_symbol(session, name)
        if sym is None:
            raise UsageError(f"no symbol '{m.group('name')}' in "
                             f"{', '.join(i.name for i in images)}",
                             did_you_mean(m.group("name"), symbol_names(session)))
        return Output(data=_sym_data(sym), text=_sym_line(sym))
    image, cands = _candidates(session, name)
    if len(cands) == 1:
        return Output(data=_sym_data(cands[0]), text=_sym_line(cands[0]))
    if image is not None and cands:  # several share the name: all of them, with their files
        ambiguous = bool(image.symbols.ambiguous(name))
        data: dict[str, Any] = {"name": name, "ambiguous": ambiguous,
                                "candidates": [_sym_data(c) for c in cands]}
        head = (f"{name}: {len(cands)} symbols, none global: name one as "
                + " or ".join(c.qualified for c in cands)) if ambiguous else \
            f"{name}: {len(cands)} symbols; {name} alone means the first"
        if not ambiguous:
            data.update(_sym_data(cands[0]))
        return Output(data=data, text="\n".join([head] + ["  " + _sym_line(c)
                                                          for c in cands]))
    number = parse_int(what)
    if number is None:
        try:
            number = resolve_address(session, what).value
        except AmbiguousSymbol:
            raise
        except Exception:
            raise UsageError(f"no symbol '{name}' in {', '.join(i.name for i in images)}",
                             did_you_mean(name, symbol_names(session))) from None
    for image in reversed(images):
        if not image.covers(number):
            continue
        hit = image.symbols.containing(number)
        if hit is not None:
            s, off = hit
            text = f"{number:#x} = {s.name}" + (f"+{off:#x}" if off else "") + \
                f"  ({s.kind} in {s.section}, {s.image}" + (f", {s.file}" if s.file else "") \
                + ")"
            return Output(data={"address": number, "symbol": s.name, "offset": off,
                                "image": s.image, "file": s.file}, text=text)
    return Output(data={"address": number, "symbol": None}, ok=False,
                  text=f"{number:#x}: no symbol contains this address")


def _candidates(session: Session, name: str) -> tuple[ElfImage | None, list[Symbol]]:
    """Every symbol called ``name`` in the most recently loaded image that has one."""
    for image in reversed(loaded_images(session)):
        cands = image.symbols.candidates(name)
        if cands:
            return image, cands
    return None, []


def _sym_data(sym: Symbol) -> dict[str, Any]:
    return {"name": sym.name, "address": sym.address, "size": sym.size, "type": sym.kind,
            "bind": sym.bind, "section": sym.section, "image": sym.image, "file": sym.file}


def _sym_line(sym: Symbol) -> str:
    return (f"{sym.name} = {sym.address:#x}  size {sym.size}  {sym.bind} {sym.kind}  "
            f"{sym.section}  ({sym.image}" + (f", {sym.file}" if sym.file else "") + ")")


register(load_cmd, Meta("firmware", reads_files=("path",), decide=lambda p: Effects(
    writes=not p.get("symbols_only"), controls=bool(p.get("set_pc")))))
register(sym_cmd, Meta("firmware", json=True))
