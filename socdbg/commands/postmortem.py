"""``dump`` (capture the chip to a file) and ``diff`` (two dumps, or a dump and a live target,
field by field)."""

from __future__ import annotations

import datetime
import re
from typing import Any

import click

from socdbg.commands.addresses import resolve_address
from socdbg.commands.params import REGISTER_GLOB, TARGET
from socdbg.commands.registry import Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.regmap import Register, RegMap, parse_int
from socdbg.render.progress import progress

PROGRESS_MIN = 2000  # registers before a dump shows a progress bar


def select_registers(rmap: RegMap, include: tuple[str, ...], exclude: tuple[str, ...]
                     ) -> list[Register]:
    regs = list(rmap) if not include else sorted(
        {r.path: r for pattern in include for r in rmap.select(pattern)}.values(),
        key=lambda r: r.address)
    if exclude:
        drop = {r.path for pattern in exclude for r in rmap.select(pattern)}
        regs = [r for r in regs if r.path not in drop]
    return regs


_RANGE = re.compile(r"^(?P<addr>.+?)\+(?P<size>0[xX][0-9a-fA-F_]+|\d[\d_]*[kKmM]?)$")


def parse_memory(session: Session, text: str) -> tuple[int, int]:
    """``sram`` (a whole region), ``ADDR+SIZE`` (``0x10000000+0x1000``, ``sram+64K``)."""
    mem = session.map.memory(text)
    if mem is not None:
        return mem.address, mem.size
    m = _RANGE.match(text.strip())
    if m is None:
        raise UsageError(f"--memory '{text}': give a memory name or ADDR+SIZE",
                         "e.g. --memory sram or --memory 0x80000000+0x1000")
    size_text = m.group("size")
    scale = {"k": 1 << 10, "m": 1 << 20}.get(size_text[-1].lower(), 1)
    size = parse_int(size_text.rstrip("kKmM"))
    if size is None or size <= 0:
        raise UsageError(f"--memory '{text}': bad size")
    return resolve_address(session, m.group("addr")).value, size * scale


@click.command("dump", help="Capture every readable register (and chosen memory) to a "
               "versioned dump file, written atomically. Registers with read side effects "
               "are skipped unless --include-side-effects.")
@click.option("-o", "--output", metavar="FILE", help="Dump file (.json or .json.gz); "
              "default socdbg-dump-DATE.json.gz.")
@click.option("--target", "-t", "target_opt", type=TARGET, help="Capture this target.")
@click.option("--include", multiple=True, type=REGISTER_GLOB, help="Only these (repeatable).")
@click.option("--exclude", multiple=True, type=REGISTER_GLOB, help="Not these (repeatable).")
@click.option("--memory", multiple=True, metavar="REGION|ADDR+SIZE",
              help="Also capture memory (repeatable).")
@click.option("--include-side-effects", is_flag=True,
              help="Also read registers whose reads change state (rclr, unsafe_read).")
@session_command
def dump_cmd(session: Session, output: str | None, target_opt: str | None,
             include: tuple[str, ...], exclude: tuple[str, ...], memory: tuple[str, ...],
             include_side_effects: bool) -> Output:
    from socdbg.postmortem import capture, write_dump

    with session.scoped_target(target_opt):
        rmap = session.map
        regs = select_registers(rmap, include, exclude)
        mems = [parse_memory(session, m) for m in memory]
        target = session.target
        if len(regs) < PROGRESS_MIN:  # no bar: do not import rich for the console
            dump = capture(target, rmap, regs, mems, include_side_effects)
        else:
            with progress(session.console, len(regs), "dump", PROGRESS_MIN) as advance:
                dump = capture(target, rmap, regs, mems, include_side_effects, advance)
    path = output or "socdbg-dump-" + datetime.datetime.now().strftime(
        "%Y%m%d-%H%M%S") + ".json.gz"
    write_dump(dump, path)
    data = {"file": path, "registers": len(dump.registers), "skipped": len(dump.skipped),
            "memory_bytes": sum(len(d) for _, d in dump.memories), "complete": dump.complete,
            "failed": [[a, b, w] for a, b, w in dump.failed]}
    lines = [f"{path}: {len(dump.registers)} registers, {len(dump.skipped)} skipped, "
             f"{data['memory_bytes']} bytes of memory"]
    for start, end, why in dump.failed:
        lines.append(f"incomplete: {start:#x}..{end - 1:#x} not read: {why}")
    return Output(data=data, text="\n".join(lines), ok=dump.complete)


@click.command("diff", help="Compare two dumps field by field (diff A B), or a dump with a "
               "live target (diff A --target T, or the session's target). Exit status 1 "
               "when they differ.")
@click.argument("first", type=click.Path(dir_okay=False))
@click.argument("second", required=False, type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target_opt", type=TARGET, help="Compare with this target.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@session_command
def diff_cmd(session: Session, first: str, second: str | None, target_opt: str | None,
             as_json: bool) -> Output:
    from socdbg.postmortem import diff_values, dump_map, read_dump
    from socdbg.regmap import load_map

    a = read_dump(first)
    rmap = dump_map(a, load_map)
    old = {p: v for p, (_, _, v) in a.registers.items()}
    if second is not None:
        b = read_dump(second)
        new = {p: v for p, (_, _, v) in b.registers.items()}
        label = second
        notes = [] if b.map_identity == a.map_identity else [
            f"the dumps come from different maps ({a.map_identity[:12]} and "
            f"{b.map_identity[:12]}): compared by register path"]
    else:
        with session.scoped_target(target_opt):
            new, label, notes = _live_values(session, rmap, old)
    changes, only_a, only_b = diff_values(rmap, old, new)
    data: dict[str, Any] = {
        "a": first, "b": label, "differ": bool(changes or only_a or only_b),
        "changes": [{"register": c.register, "address": c.address, "field": c.field,
                     "a": c.old, "b": c.new} for c in changes],
        "only_in_a": only_a, "only_in_b": only_b, "notes": notes}

    def render() -> object:
        from socdbg.render.postmortem import DiffView

        return DiffView(first, label, changes, only_a, only_b, notes)

    return Output(data=data, render=render, ok=not data["differ"])


def _live_values(session: Session, rmap: RegMap, old: dict[str, int]
                 ) -> tuple[dict[str, int], str, list[str]]:
    from socdbg.access import read_register
    from socdbg.postmortem import dump_skip_reason

    target = session.target
    live_map = session.map
    notes = []
    if live_map.identity != rmap.identity:
        notes.append("the target's map differs from the dump's: compared by register path")
    new: dict[str, int] = {}
    for path in old:
        reg = live_map.find(path)
        if reg is None or dump_skip_reason(reg, include_side_effects=False):
            continue
        new[path] = read_register(target, reg)
    for path in list(old):
        if path not in new and live_map.find(path) is not None:
            old.pop(path)  # captured with --include-side-effects: not read live
    return new, target.spec, notes


register(dump_cmd)
register(diff_cmd)
