"""The ``read`` and ``write`` commands: registers by path or glob, decoded; a write as a
whole VALUE or FIELD=VALUE pairs, planned and checked in full before its first bus access, so
a write that fails validation performs no access at all. (``peek``/``poke`` by address are in
socdbg/commands/memory.py; ``core``, the CPU's registers, in socdbg/commands/cpu.py.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from socdbg.access import read_register, require_writes, write_register
from socdbg.commands.params import ASSIGNMENT, REGISTER_GLOB
from socdbg.commands.registry import Meta, Output, register, session_command
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


register(read_cmd, Meta("registers", json=True))
register(write_cmd, Meta("registers", writes=True, json=True))
