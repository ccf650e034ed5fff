"""Core commands: read, write, peek, poke, find, info, target, help.

Each command resolves and validates everything it was given before its first bus access, so a
command that fails validation performs no access at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from socdbg.access import read_register, require_writes, write_register
from socdbg.commands.addresses import resolve_address
from socdbg.commands.params import (
    ADDRESS,
    ASSIGNMENT,
    COMMAND,
    REGISTER_GLOB,
    TARGET,
    WIDTH,
    target_files,
)
from socdbg.commands.registry import (
    CATEGORIES,
    Effects,
    Meta,
    Output,
    categories,
    commands,
    register,
    session_command,
)
from socdbg.commands.regs import find_output
from socdbg.commands.session import Session
from socdbg.errors import EncodeError, UsageError
from socdbg.regmap import Decoded, Register, decode, parse_int
from socdbg.regmap.codec import check_whole, compose, parse_assignments

if TYPE_CHECKING:
    from socdbg.safety import Change


def decoded_json(d: Decoded) -> dict[str, Any]:
    return {
        "path": d.register.path,
        "address": d.register.address,
        "value": d.value,
        "fields": {fv.field.name: ({"value": fv.value, "enum": fv.enum_name}
                                   if fv.field.enum is not None else fv.value)
                   for fv in d.fields},
    }


def read_skip_reason(reg: Register) -> str | None:
    """Why a glob read passes over a register (name it exactly to read it anyway)."""
    if not reg.layout.readable:
        return "write-only"
    if reg.layout.read_side_effect:
        return "reading it has side effects (" + (
            "unsafe_read" if reg.layout.unsafe_read else
            ",".join(f"{f.name}:{f.onread}" for f in reg.fields if f.onread)) + ")"
    return None


def _write_only(session: Session, reg: Register) -> UsageError:
    """``read`` of a register the map declares write-only: no bus access at all (a read of
    its address may pop a FIFO, as uart.thr's address is uart.rbr's)."""
    other = [r.path for r in session.map.in_range(reg.address, reg.end)
             if r is not reg and r.layout.readable]
    hint = (f"its address reads {', '.join(other[:3])}" if other else
            "nothing is read back from it")
    return UsageError(f"read: {reg.path} is write-only: it is not read", hint)


# --------------------------------------------------------------------------------------------
@click.command("read", help="Read and decode registers: a path, a glob (dma.ch[*].status) "
               "or a block (dma). Globs skip registers whose reads have side effects.")
@click.argument("pattern", type=REGISTER_GLOB)
@session_command
def read_cmd(session: Session, pattern: str) -> Output:
    selected, fld, exact = session.map.select_with_field(pattern)
    to_read: list[Register] = []
    skipped: list[tuple[Register, str]] = []
    for reg in selected:
        why = read_skip_reason(reg)
        if why and not exact:
            skipped.append((reg, why))
        elif not reg.layout.readable:  # named, but a read would reach another register
            raise _write_only(session, reg)
        else:
            to_read.append(reg)
    target = session.target
    values = [decode(reg, read_register(target, reg)) for reg in to_read]
    if fld is not None:
        items = []
        for d in values:
            fv = next(v for v in d.fields if v.field.name == fld.name)
            items.append(({"path": f"{d.register.path}.{fld.name}", "value": fv.value,
                           "enum": fv.enum_name}, f"{d.register.path}.{fld.name} = {fv.text}"))
        data: Any = items[0][0] if len(items) == 1 else [i[0] for i in items]
        return Output(data=data, text="\n".join(i[1] for i in items))

    def render() -> object:
        from socdbg.render.values import RegisterValue, RegisterValues

        if exact:
            return RegisterValue(values[0])
        return RegisterValues(values, skipped)

    data = [decoded_json(d) for d in values]
    return Output(data=data[0] if exact else data, render=render)


# --------------------------------------------------------------------------------------------
@click.command("write", help="Write a register: a whole VALUE, or FIELD=VALUE pairs "
               "(read-modify-write; enum names allowed). PATH may be a glob or a field path "
               "(dma.ch[0].ctrl.en 1).", context_settings={"ignore_unknown_options": True})
@click.argument("pattern", type=REGISTER_GLOB)
@click.argument("values", nargs=-1, required=True, type=ASSIGNMENT)
@session_command
def write_cmd(session: Session, pattern: str, values: tuple[str, ...]
              ) -> Output:
    done = perform_write(session, pattern, values)
    data = [decoded_json(d) for d in done]
    lines = [f"{d.register.path} <- {d.value:#0{d.register.width // 4 + 2}x}  ({d.summary()})"
             for d in done]
    return Output(data=data, text="\n".join(lines))


def perform_write(session: Session, pattern: str, values: tuple[str, ...]) -> list[Decoded]:
    """Validate the whole write, then do it (read-modify-write where fields are kept).
    The one write path of the shell, scripts and the Python API."""
    from socdbg.safety import Change, WriteGate, current_value, unsafe_registers

    plan = plan_write(session, pattern, values)
    target = session.target
    gate = WriteGate(session, target, "write", unsafe_registers([r for r, _, _ in plan]))
    require_writes(target, "write")
    done = []
    pending: list[Change] = []  # live target, shell: written once the user confirms
    for reg, whole, resolved in plan:
        old: int | None = None
        if whole is not None:
            value = whole
        else:
            current = 0
            if reg.layout.readable and _keeps_bits(reg, resolved):
                current = old = read_register(target, reg)
            value = compose(reg, resolved, current)
        if gate.asks:
            why = ""
            if old is None:
                old, why = current_value(target, reg)
            pending.append(Change(reg.address, reg.size, value, reg, old, why))
            continue
        write_register(target, reg, value)
        done.append(decode(reg, value))
    gate.confirm(pending)
    for change in pending:
        assert change.register is not None
        write_register(target, change.register, change.new)
        done.append(decode(change.register, change.new))
    return done


def _keeps_bits(reg: Register, resolved: list[Any]) -> bool:
    """True when some writable field is not assigned, so its current value must be read."""
    named = {f.name for f, _ in resolved}
    return any(f.sw.writable and f.name not in named for f in reg.fields)


def plan_write(session: Session, pattern: str, values: tuple[str, ...]
               ) -> list[tuple[Register, int | None, list[Any]]]:
    """Resolve and validate a write completely; returns (register, whole value or None,
    resolved field assignments) for each register. Performs no bus access."""
    regs, fld, _ = session.map.select_with_field(pattern)
    field_name = fld.name if fld is not None else None
    pairs: list[tuple[str, str]] = []
    whole: int | None = None
    if field_name is not None:
        if len(values) != 1 or "=" in values[0]:
            raise UsageError(f"write {pattern}: give one value for the field",
                             f"e.g. write {pattern} 1")
        pairs = [(field_name, values[0])]
    elif len(values) == 1 and "=" not in values[0]:
        whole = parse_int(values[0])
        if whole is None:
            raise EncodeError(f"'{values[0]}' is not a number",
                              "write PATH VALUE or write PATH FIELD=VALUE ...")
    else:
        if not any("=" in v for v in values):  # write sysctrl.scratch 5 6
            raise UsageError(f"write {pattern}: give one value or FIELD=VALUE pairs, not "
                             f"{len(values)} values ({' '.join(values)})",
                             f"e.g. write {pattern} {values[0]}")
        for item in values:
            name, eq, text = item.partition("=")
            if not eq or not name.strip() or not text.strip():
                raise UsageError(f"'{item}' is not FIELD=VALUE",
                                 "give one value or FIELD=VALUE pairs, not a mix")
            pairs.append((name.strip(), text.strip()))
    plan: list[tuple[Register, int | None, list[Any]]] = []
    for reg in regs:
        if whole is not None:
            check_whole(reg, whole)
            if not reg.layout.writable:
                raise EncodeError(f"{reg.path} is read-only", "no field is software-writable")
            plan.append((reg, whole, []))
        else:
            resolved = parse_assignments(reg, pairs)
            if reg.layout.read_side_effect and _keeps_bits(reg, resolved):
                missing = [f.name for f in reg.fields if f.sw.writable
                           and f.name not in {g.name for g, _ in resolved}]
                raise EncodeError(
                    f"{reg.path}: reading it has side effects, so a read-modify-write cannot "
                    f"keep {', '.join(missing)}",
                    "name every writable field, or write a whole value")
            plan.append((reg, None, resolved))
    return plan


# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
@click.command("find", help="Find registers by name, description, field or enum name.")
@click.argument("text", nargs=-1, required=True)
@session_command
def find_cmd(session: Session, text: tuple[str, ...]) -> Output:
    return find_output(session, " ".join(text))


@click.command("info", help="Show the target, its capabilities, the map and simulated time.")
@session_command
def info_cmd(session: Session) -> Output:
    from socdbg.targets.base import has_time

    target = session.target
    rmap = session.map
    data: dict[str, Any] = {
        "target": target.spec,
        "capabilities": sorted(target.capabilities),
        "map": rmap.name,
        "map_identity": rmap.identity,
        "map_sources": list(rmap.source.files),
        "map_defines": dict(rmap.source.defines),
        "registers": len(rmap),
        "memories": [{"path": m.path, "address": m.address, "size": m.size}
                     for m in rmap.memories],
        "map_warnings": list(rmap.warnings),
    }
    if has_time(target):
        data["cycle"] = target.now
    lines = [f"target       {data['target']}",
             f"capabilities {', '.join(data['capabilities'])}",
             f"map          {rmap.name} ({len(rmap)} registers, identity "
             f"{rmap.identity[:12]})",
             f"sources      {', '.join(rmap.source.files)}"]
    if rmap.source.defines:
        lines.append("defines      " + " ".join(f"{k}={v}" for k, v in rmap.source.defines))
    for m in rmap.memories:
        lines.append(f"memory       {m.path} {m.address:#x}..{m.end - 1:#x}")
    if "cycle" in data:
        lines.append(f"cycle        {data['cycle']}")
    lines.extend(f"warning      {w}" for w in rmap.warnings)
    return Output(data=data, text="\n".join(lines))


@click.command("target", help="Show the target, or switch to TARGET (sim, sim:PATH.rdl, ...).")
@click.argument("spec", required=False, type=TARGET)
@session_command
def target_cmd(session: Session, spec: str | None) -> Output:
    if spec:
        session.switch_target(spec)
    return Output(data={"target": session.target.spec}, text=f"target {session.target.spec}")


@click.command("help", help="List commands, or show one command's help. help noc traffic "
               "shows a subcommand's; a group's help lists its subcommands and their options.")
@click.argument("name", nargs=-1, type=COMMAND, metavar="[COMMAND [SUBCOMMAND]]")
@session_command
def help_cmd(session: Session, name: tuple[str, ...]) -> Output:
    table = commands()
    if name:
        text = command_help(table, list(name))
        return Output(data={"name": " ".join(name), "help": text}, text=text)
    width = max(len(n) for n in table)
    lines: list[str] = []
    data: list[dict[str, str]] = []
    for category, names in categories().items():  # grouped by the commands' metadata
        lines += [*([""] if lines else []), f"{CATEGORIES[category]}:"]
        for n in names:
            short = table[n].get_short_help_str(limit=70)
            lines.append(f"  {n:<{width}}  {short}")
            data.append({"name": n, "help": short, "category": category})
    text = "\n".join(lines)
    text += "\n\nhelp COMMAND shows the options of one command."
    return Output(data=data, text=text)


def command_help(table: dict[str, click.Command], words: list[str]) -> str:
    """``help NAME [SUB...]``: the command's ``--help`` text; for a group, followed by the
    usage and options of each subcommand."""
    from socdbg.errors import did_you_mean

    cmd = table.get(words[0])
    if cmd is None:
        raise UsageError(f"unknown command '{words[0]}'",
                         did_you_mean(words[0], table) or "help lists the commands")
    ctx = click.Context(cmd, info_name=words[0])
    for word in words[1:]:
        if not isinstance(cmd, click.Group):
            raise UsageError(f"{ctx.command_path} has no subcommands",
                             f"help {ctx.command_path}")
        sub = cmd.get_command(ctx, word)
        if sub is None:
            raise UsageError(f"{ctx.command_path} has no subcommand '{word}'",
                             did_you_mean(word, cmd.commands)
                             or f"help {ctx.command_path} lists them")
        cmd, ctx = sub, click.Context(sub, info_name=word, parent=ctx)
    parts = [cmd.get_help(ctx)]
    if isinstance(cmd, click.Group):
        for sub_name, sub in cmd.commands.items():
            sub_ctx = click.Context(sub, info_name=sub_name, parent=ctx)
            parts.append(sub.get_help(sub_ctx))
    return "\n\n".join(parts)


register(read_cmd, Meta("registers", json=True))
register(write_cmd, Meta("registers", writes=True, json=True))
register(peek_cmd, Meta("registers", json=True))
register(poke_cmd, Meta("registers", writes=True))
register(find_cmd, Meta("map", json=True))
register(info_cmd, Meta("session", json=True))
# switching the target changes what every later command touches; a target string can name
# host files (dump:FILE, sim:MAP.rdl)
register(target_cmd, Meta("session", decide=lambda p: Effects(
    controls=bool(p.get("spec")), reads_files=target_files(p.get("spec")))))
register(help_cmd, Meta("session"))
