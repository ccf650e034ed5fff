"""Postmortem dumps: capture a whole chip's registers (and chosen memory) once, study it
offline, diff two captures field by field.

The file format (:class:`Dump`, reading, writing, the embedded map) is socdbg/dumpfile/, a leaf
below the targets; its names are re-exported here for the commands. A target failure midway
still writes what was read, marked incomplete with the failed address ranges.

Register reads are planned by socdbg/access.py (:func:`~socdbg.access.read_all`): coalesced
when the target declares ``coalesce`` (runs of adjacent registers that may be read, one block
read each, split around holes, around registers that must not be read and at the target's
largest block), pipelined on a gdb stub.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from socdbg.access import read_all
from socdbg.dumpfile import (
    MAX_DOCUMENT,
    MAX_MEMORY,
    Dump,
    DumpError,
    dump_map,
    embed_sources,
    read_dump,
    write_dump,
)
from socdbg.errors import TargetError
from socdbg.regmap import Register, RegMap
from socdbg.targets.base import Target, has_time

__all__ = [
    "MAX_DOCUMENT", "MAX_MEMORY", "Dump", "DumpError", "FieldChange", "capture",
    "diff_values", "dump_map", "dump_skip_reason", "embed_sources", "memory_skip_reason",
    "read_dump", "write_dump",
]

# --- capture ----------------------------------------------------------------------------------
def dump_skip_reason(reg: Register, include_side_effects: bool) -> str | None:
    if not reg.layout.readable:
        return "write-only"
    if reg.layout.read_side_effect and not include_side_effects:
        return "read side effects" + (" (unsafe_read)" if reg.layout.unsafe_read else "")
    return None


def memory_skip_reason(rmap: RegMap, addr: int, size: int, include_side_effects: bool
                       ) -> str | None:
    """Why a memory range is not captured: it overlaps a memory the map marks unsafe_read,
    or registers whose reads have side effects (unless ``include_side_effects``)."""
    if include_side_effects:
        return None
    end = addr + size
    for mem in rmap.memories:
        if mem.unsafe_read and mem.address < end and addr < mem.end:
            return f"read side effects (unsafe_read memory {mem.path})"
    hits = [r.path for r in rmap.in_range(addr, end)
            if r.layout.read_side_effect or not r.layout.readable]
    if hits:
        more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
        return f"read side effects (covers {', '.join(hits[:3])}{more})"
    return None


def capture(target: Target, rmap: RegMap, registers: Sequence[Register],
            memories: Sequence[tuple[int, int]], include_side_effects: bool = False,
            progress: Callable[[int], None] | None = None) -> Dump:
    """Read ``registers`` and memory ranges (address, size) from ``target`` into a Dump.

    Never raises for a failed access: the range goes into ``failed`` and the rest is read.
    """
    skipped: list[tuple[str, str]] = []
    readable: list[Register] = []
    for reg in registers:
        why = dump_skip_reason(reg, include_side_effects)
        if why:
            skipped.append((reg.path, why))
        else:
            readable.append(reg)
    cycle = _cycle(target)  # first: a target that dies midway must not cost the whole dump
    got, failed = read_all(target, readable, progress)
    values = {reg.path: (reg.address, reg.size, got[reg.path]) for reg in readable
              if reg.path in got}
    mems: list[tuple[int, bytes]] = []
    for addr, size in memories:
        why = memory_skip_reason(rmap, addr, size, include_side_effects)
        if why:
            mem = rmap.memory_at(addr)
            whole = mem is not None and (mem.address, mem.size) == (addr, size)
            skipped.append((mem.path if whole and mem else f"{addr:#x}+{size:#x}", why))
            continue
        data, error = _read_memory(target, addr, size)
        if data:
            mems.append((addr, data))
        if error is not None:
            failed.append((addr + len(data), addr + size, error))
    sources = embed_sources(rmap)
    return Dump(rmap.name, rmap.identity, sources, dict(rmap.source.defines), rmap.source.top,
                target.spec, datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                cycle, values, mems, failed, skipped)


def _cycle(target: Target) -> int | None:
    if not has_time(target):
        return None
    try:
        return target.now
    except TargetError:
        return None


def _read_memory(target: Target, addr: int, size: int) -> tuple[bytes, str | None]:
    """Read a memory range in steps; (what was read, why the rest was not, or None). A range
    that fails partway keeps the steps read before the failure."""
    out = bytearray()
    step = 1 << 20
    for off in range(0, size, step):
        try:
            got = target.read_block(addr + off, min(step, size - off))
        except TargetError as exc:
            return bytes(out), exc.message
        out += got[: min(step, size - off)]
        if len(got) < min(step, size - off):
            return bytes(out), f"short read ({len(got)} of {min(step, size - off)} bytes)"
    return bytes(out), None



# --- diff -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldChange:
    register: str
    address: int
    field: str
    old: str
    new: str


def diff_values(rmap: RegMap, old: dict[str, int], new: dict[str, int]
                ) -> tuple[list[FieldChange], list[str], list[str]]:
    """Field-by-field differences of register values by path; also the paths only in one."""
    from socdbg.regmap import decode

    changes: list[FieldChange] = []
    for path in sorted(set(old) & set(new), key=lambda p: _addr(rmap, p)):
        a, b = old[path], new[path]
        if a == b:
            continue
        reg = rmap.find(path)
        if reg is None:
            changes.append(FieldChange(path, -1, "(value)", hex(a), hex(b)))
            continue
        for fa, fb in zip(decode(reg, a).fields, decode(reg, b).fields, strict=True):
            if fa.value != fb.value:
                changes.append(FieldChange(reg.path, reg.address, fa.field.name, fa.text,
                                           fb.text))
        reserved = (a ^ b) & ~reg.layout.field_mask
        if reserved:
            changes.append(FieldChange(reg.path, reg.address, "(reserved)",
                                       hex(a & reserved), hex(b & reserved)))
    only_old = sorted(set(old) - set(new))
    only_new = sorted(set(new) - set(old))
    return changes, only_old, only_new


def _addr(rmap: RegMap, path: str) -> int:
    reg = rmap.find(path)
    return reg.address if reg is not None else -1
