"""The ``peek`` and ``poke`` commands: memory and registers by address (a number, &register,
a register or memory name, with +offset), at an explicit access width; resolved and checked
before the first bus access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from socdbg.access import require_writes
from socdbg.commands.addresses import resolve_address
from socdbg.commands.params import ADDRESS, WIDTH
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import EncodeError, UsageError
from socdbg.regmap import parse_int

if TYPE_CHECKING:
    from socdbg.safety import Change


def _width_bytes(width: str | None, default: int) -> int:
    if width is None:
        return default
    return int(width) // 8


@click.command("peek", help="Read COUNT words at ADDR (a number, &register, register or "
               "memory name, with +offset), annotated with register names.")
@click.argument("address", type=ADDRESS)
@click.argument("count", required=False, default="1")
@click.option("--width", "-w", type=WIDTH, default=None, help="Access width in bits.")
@session_command
def peek_cmd(session: Session, address: str, count: str, width: str | None, as_json: bool
             ) -> Output:
    addr = resolve_address(session, address)
    n = parse_int(count)
    if n is None or n < 1 or n > 1 << 20:
        raise UsageError(f"count '{count}' must be 1..{1 << 20}")
    rmap = session.map
    mem = rmap.memory_at(addr.value)
    natural = addr.size or (mem.width // 8 if mem is not None else None)
    size = _width_bytes(width, natural if natural in (1, 2, 4, 8) else 4)
    if addr.value % size:
        raise UsageError(f"address {addr.value:#x} is not aligned to {size * 8} bits")
    _ = session.target  # opened now: a target that cannot open fails before any output
    block = mem is not None and mem.contains(addr.value, n * size)
    dump = PeekDump(session, addr.value, n, size, block, mem.path if mem is not None else None,
                    mem.address if mem is not None else 0)
    if as_json:
        dump.settle()
    return Output(data=dump.data, stream=None if as_json else dump)


def _words(raw: bytes, size: int) -> list[int]:
    """The little-endian words of ``raw`` as ints (in C where the platform has the type)."""
    import array
    import sys

    code = {1: "B", 2: "H", 4: "I", 8: "Q"}[size]
    words = array.array(code)
    if words.itemsize != size:  # pragma: no cover - platforms where the C types differ
        return [int.from_bytes(raw[i : i + size], "little") for i in range(0, len(raw), size)]
    words.frombytes(raw)
    if sys.byteorder != "little":  # pragma: no cover
        words.byteswap()
    return words.tolist()


class PeekDump:
    """``peek``'s reads and rows, a chunk at a time: the first rows show while later chunks
    are still being read; ``data["words"]`` fills as the chunks are read. Iterating again
    replays the rows from the words already read (a recorder settles the output first)."""

    CHUNK = 64 << 10  # bytes per read_block of memory
    FIRST = 1 << 10  # a small first chunk: the first line shows at once

    def __init__(self, session: Session, address: int, count: int, size: int, block: bool,
                 mem_path: str | None, mem_address: int) -> None:
        self.session = session
        self.address, self.count, self.size, self.block = address, count, size, block
        self.mem_path, self.mem_address = mem_path, mem_address
        self.words: list[int] = []
        self.raw = bytearray()
        self.data = {"address": address, "width": size * 8, "words": self.words}

    def settle(self) -> None:
        for _ in self._chunks():
            pass

    def _chunks(self) -> Iterator[tuple[int, bytes]]:
        """(offset, raw bytes) of each chunk, reading the ones not read yet."""
        size, total = self.size, self.count * self.size
        row = 16 if size <= 16 else size
        offset = 0
        step = max(row, self.FIRST - self.FIRST % row)
        while offset < total:
            length = min(step, total - offset)
            if offset + length > len(self.raw):
                have = len(self.raw) - offset
                self._read(self.address + offset + have, length - have)
            yield offset, bytes(self.raw[offset : offset + length])
            offset += length
            step = max(row, self.CHUNK - self.CHUNK % row)

    def _read(self, address: int, length: int) -> None:
        target, size = self.session.target, self.size
        if self.block:
            raw = target.read_block(address, length)
        else:
            raw = b"".join(target.read(address + i, size) for i in range(0, length, size))
        self.raw += raw
        self.words.extend(_words(raw, size))

    def labels(self, lo: int, hi: int) -> dict[int, str]:
        """Names of the addresses in [lo, hi): registers (the readable one of a pair), the
        memory offset of the first word, symbols of loaded images."""
        rmap = self.session.map
        out: dict[int, str] = {}
        for reg in rmap.in_range(lo, hi):
            at = max(reg.address, lo)
            if at not in out or reg.layout.readable:
                out[at] = reg.path
        if self.mem_path is not None:
            if lo == self.address:
                out.setdefault(lo, f"{self.mem_path}+{lo - self.mem_address:#x}")
            from socdbg.commands.firmware import loaded_images, symbol_at

            if loaded_images(self.session):
                for a in range(lo, hi, self.size):
                    name = symbol_at(self.session, a, exact=a != self.address)
                    if name:
                        out[a] = name
        return out

    def lines(self, color: bool = False) -> Iterator[str]:
        from socdbg.render.hexdump import HexLayout

        layout = HexLayout(self.size, self.count, color)
        for offset, raw in self._chunks():
            lo = self.address + offset
            yield from layout.lines(lo, raw, self.labels(lo, lo + len(raw)))

    def __iter__(self) -> Iterator[str]:
        return self.lines(color=self.session.presenter.color_lines)


@click.command("poke", help="Write VALUE at ADDR with one access of --width bits "
               "(default: the register's access width, else 32).",
               context_settings={"ignore_unknown_options": True})
@click.argument("address", type=ADDRESS)
@click.argument("value")
@click.option("--width", "-w", type=WIDTH, default=None, help="Access width in bits.")
@session_command
def poke_cmd(session: Session, address: str, value: str, width: str | None) -> Output:
    addr = resolve_address(session, address)
    size = _width_bytes(width, addr.size if addr.size in (1, 2, 4, 8) else 4)
    v = parse_int(value)
    if v is None:
        raise UsageError(f"'{value}' is not a number")
    if v < 0 or v >= 1 << (size * 8):
        raise EncodeError(f"{value} does not fit {size * 8} bits",
                          f"allowed 0..{(1 << (size * 8)) - 1:#x}")
    if addr.value % size:
        raise UsageError(f"address {addr.value:#x} is not aligned to {size * 8} bits")
    from socdbg.safety import WriteGate, unsafe_in_range

    target = session.target
    gate = WriteGate(session, target, "poke", unsafe_in_range(session.map, addr.value, size))
    require_writes(target, "poke")
    if gate.asks:
        gate.confirm([_poke_change(session, addr.value, size, v)])
    target.write(addr.value, v.to_bytes(size, "little"))
    return Output(data={"address": addr.value, "value": v, "width": size * 8},
                  text=f"{addr.value:#x} <- {v:#0{size * 2 + 2}x}")


def _poke_change(session: Session, address: int, size: int, value: int) -> Change:
    """The confirmation's view of a poke: decoded when it is exactly one register; the old
    value only where reading is harmless."""
    from socdbg.safety import Change, current_value

    rmap = session.map
    target = session.target
    exact = [r for r in rmap.all_at(address) if r.address == address and r.size == size]
    if exact:
        reg = next((r for r in exact if r.layout.writable), exact[0])
        old, why = current_value(target, reg)
        return Change(address, size, value, reg, old, why)
    mem = rmap.memory_at(address)
    if mem is not None and mem.contains(address, size):
        label = f"{mem.path}+{address - mem.address:#x}"
        if mem.unsafe_read:
            return Change(address, size, value, None, None, "unsafe_read memory", label)
        old_mem = int.from_bytes(target.read(address, size), "little")
        return Change(address, size, value, None, old_mem, "", label)
    regs = rmap.in_range(address, address + size)
    label = ", ".join(r.path for r in regs) if regs else "no register or memory in the map"
    return Change(address, size, value, None, None, "not one whole register", label)


register(peek_cmd, Meta("registers", json=True))
register(poke_cmd, Meta("registers", writes=True))
