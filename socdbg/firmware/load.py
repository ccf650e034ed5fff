"""Putting an image into a target: check every segment against the memory map first, then
write file bytes and zero fill with block writes, optionally verify by reading back."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from socdbg.firmware.elf import ElfImage, FirmwareError, Segment
from socdbg.regmap import RegMap
from socdbg.targets.base import Target

CHUNK = 1 << 20


def segment_text(seg: Segment) -> str:
    return f"segment {seg.index} [{seg.address:#x}..{seg.end - 1:#x}] ({seg.perms})"


def check_segments(image: ElfImage, rmap: RegMap) -> None:
    """Refuse the whole image if any segment is not wholly inside one writable memory.

    Nothing is written before this passes, so a bad image never half-loads.
    """
    if not image.segments:
        raise FirmwareError(f"{image.name}: no loadable (PT_LOAD) segments",
                            "is it an object file rather than a linked executable?")
    for seg in image.segments:
        regs = rmap.in_range(seg.address, seg.end)
        if regs:
            raise FirmwareError(f"{image.name}: {segment_text(seg)} overlaps register "
                                f"{regs[0].path} at {regs[0].address:#x}",
                                "link the image for a memory region")
        mem = rmap.memory_at(seg.address)
        if mem is None:
            names = ", ".join(f"{m.path} {m.address:#x}..{m.end - 1:#x}" for m in rmap.memories)
            raise FirmwareError(f"{image.name}: {segment_text(seg)} falls outside memory",
                                f"memories: {names}" if names else "the map has no memory")
        if not mem.contains(seg.address, seg.memsz):
            raise FirmwareError(f"{image.name}: {segment_text(seg)} runs past the end of "
                                f"{mem.path} ({mem.end - 1:#x})")
        if not mem.sw.writable:
            raise FirmwareError(f"{image.name}: {segment_text(seg)} lands in read-only "
                                f"memory {mem.path}")


def segment_memory(seg: Segment, rmap: RegMap) -> str:
    """The memory a checked segment lands in (``sram``)."""
    mem = rmap.memory_at(seg.address)
    return mem.path if mem is not None else "?"


def load_plan_text(image: ElfImage, rmap: RegMap, spec: str, unsafe: Sequence[str],
                   set_pc: bool) -> str:
    """What ``load`` is about to write, for the one confirmation of a live target: each
    segment with its size and the memory it lands in (flagged ``unsafe_write``)."""
    lines = [f"load {image.name} into live target {spec}:"]
    for seg in image.segments:
        mem = segment_memory(seg, rmap)
        flag = "  unsafe_write" if mem in unsafe else ""
        lines.append(f"  {segment_text(seg)}  {len(seg.data)} bytes + "
                     f"{seg.memsz - len(seg.data)} zero  -> {mem}{flag}")
    total = sum(seg.memsz for seg in image.segments)
    lines.append(f"  {total} bytes in {len(image.segments)} segment(s), entry "
                 f"{image.entry:#x}" + (", then pc <- entry" if set_pc else ""))
    return "\n".join(lines)


def _pieces(seg: Segment) -> list[tuple[int, bytes | int]]:
    """(address, bytes) chunks of file data, then (address, length) chunks of zero fill."""
    out: list[tuple[int, bytes | int]] = []
    for off in range(0, len(seg.data), CHUNK):
        out.append((seg.address + off, seg.data[off : off + CHUNK]))
    zero_start = seg.address + len(seg.data)
    for addr in range(zero_start, seg.end, CHUNK):
        out.append((addr, min(CHUNK, seg.end - addr)))
    return out


def load_image(target: Target, image: ElfImage,
               progress: Callable[[int], None] | None = None) -> int:
    """Write every segment; returns bytes written. ``progress(n)`` after each chunk."""
    total = 0
    zeros = bytes(CHUNK)
    for seg in image.segments:
        for addr, piece in _pieces(seg):
            data = piece if isinstance(piece, bytes) else zeros[:piece]
            target.write_block(addr, data)
            total += len(data)
            if progress is not None:
                progress(len(data))
    return total


def verify_image(target: Target, image: ElfImage,
                 progress: Callable[[int], None] | None = None) -> tuple[int, int, int] | None:
    """Read every segment back; the first mismatch as (address, expected, got), or None."""
    zeros = bytes(CHUNK)
    for seg in image.segments:
        for addr, piece in _pieces(seg):
            want = piece if isinstance(piece, bytes) else zeros[:piece]
            got = target.read_block(addr, len(want))
            if got != want:
                i = next(k for k in range(len(want)) if k >= len(got) or got[k] != want[k])
                return addr + i, want[i], got[i] if i < len(got) else -1
            if progress is not None:
                progress(len(want))
    return None
