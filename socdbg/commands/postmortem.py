"""``dump`` (capture the chip to a file) and ``diff`` (two dumps, or a dump and a live target,
field by field)."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import click

from socdbg.commands.addresses import resolve_address
from socdbg.commands.params import REGISTER_GLOB, TARGET, target_files
from socdbg.commands.registry import Effects, Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.regmap import Register, RegMap, parse_int
from socdbg.render.progress import counted, progress

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
              help="Also read registers whose reads change state (rclr, swacc, unsafe_read).")
@click.option("--force", is_flag=True,
              help="Overwrite FILE if it exists (the shell asks instead).")
@session_command
def dump_cmd(session: Session, output: str | None, target_opt: str | None,
             include: tuple[str, ...], exclude: tuple[str, ...], memory: tuple[str, ...],
             include_side_effects: bool, force: bool) -> Output:
    from socdbg.postmortem import MAX_MEMORY, capture, write_dump

    check_output(session, output, force)
    with session.scoped_target(target_opt):
        rmap = session.map
        regs = select_registers(rmap, include, exclude)
        mems = [parse_memory(session, m) for m in memory]
        total = sum(size for _, size in mems)
        if total > MAX_MEMORY:
            raise UsageError(f"--memory: {total} bytes in all, more than a dump holds "
                             f"({MAX_MEMORY >> 20} MiB)", "capture less, or in several dumps")
        target = session.target
        if len(regs) < PROGRESS_MIN:  # no bar: do not import rich for the console
            with counted(len(regs), "dump", "registers") as advance:
                dump = capture(target, rmap, regs, mems, include_side_effects, advance)
        else:
            with progress(session.presenter.console, len(regs), "dump", PROGRESS_MIN,
                          "registers") as advance:
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


def check_output(session: Session, output: str | None, force: bool) -> None:
    """``dump -o FILE`` onto an existing file: the interactive shell asks; one-shot calls and
    scripts need ``--force``."""
    if not output or force or not Path(output).exists():
        return
    if Path(output).is_dir():
        raise UsageError(f"dump: {output} is a folder", "give a file name")
    interactive = session.ask is not None and not session.scripts.stack
    if not interactive:
        raise UsageError(f"dump: {output} exists", "add --force to overwrite it")
    assert session.ask is not None
    answer = session.ask(f"{output} exists.", "Overwrite it? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError(f"dump: {output} exists: not overwritten")


@click.command("diff", help="Compare two dumps field by field (diff A B), or a dump with a "
               "live target (diff A --target T, or the session's target). Exit status 1 "
               "when they differ.")
@click.argument("first", type=click.Path(dir_okay=False))
@click.argument("second", required=False, type=click.Path(dir_okay=False))
@click.option("--target", "-t", "target_opt", type=TARGET, help="Compare with this target.")
@session_command
def diff_cmd(session: Session, first: str, second: str | None, target_opt: str | None) -> Output:
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
    memory, mem_differ = memory_notes(a.memories, b.memories if second is not None else None,
                                      first, label)
    changes, only_a, only_b = diff_values(rmap, old, new)
    data: dict[str, Any] = {
        "a": first, "b": label, "differ": bool(changes or only_a or only_b or mem_differ),
        "changes": [{"register": c.register, "address": c.address, "field": c.field,
                     "a": c.old, "b": c.new} for c in changes],
        "only_in_a": only_a, "only_in_b": only_b, "notes": notes, "memory": memory}

    def render() -> object:
        from socdbg.render.postmortem import DiffView

        return DiffView(first, label, changes, only_a, only_b, notes, memory, mem_differ)

    return Output(data=data, render=render, ok=not data["differ"])


def memory_notes(a: list[tuple[int, bytes]], b: list[tuple[int, bytes]] | None,
                 name_a: str, name_b: str) -> tuple[list[str], bool]:
    """What ``diff`` says about captured memory: ranges captured in both dumps are compared
    byte for byte (a difference is noted; equal ranges say nothing, like equal registers);
    a range in only one dump, or a live comparison, is named, never silently skipped.
    Returns the lines and whether compared memory differs."""
    def span(addr: int, data: bytes) -> str:
        return f"{addr:#x}+{len(data):#x}"

    if b is None:
        return ([f"memory captured in {name_a} ({', '.join(span(*m) for m in a)}) is not "
                 "compared with a live target"] if a else []), False
    notes: list[str] = []
    differ = False
    in_b = {(addr, len(data)): data for addr, data in b}
    in_a = {(addr, len(data)): data for addr, data in a}
    for (addr, size), data in in_a.items():
        other = in_b.get((addr, size))
        if other is None:
            notes.append(f"memory {addr:#x}+{size:#x} was captured only in {name_a}: "
                         "not compared")
        elif other != data:
            differ = True
            count = sum(1 for x, y in zip(data, other, strict=True) if x != y)
            first = next(i for i in range(size) if data[i] != other[i])
            notes.append(f"memory {addr:#x}+{size:#x} differs: {count} bytes, the first at "
                         f"{addr + first:#x}")
    for (addr, size) in in_b:
        if (addr, size) not in in_a:
            notes.append(f"memory {addr:#x}+{size:#x} was captured only in {name_b}: "
                         "not compared")
    return notes, differ


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


# dump always writes a file: -o FILE, or a dated name in the working folder
register(dump_cmd, Meta("postmortem", decide=lambda p: Effects(
    reads_files=target_files(p.get("target_opt")),
    writes_files=(str(p.get("output") or "socdbg-dump-DATE.json.gz"),))))
register(diff_cmd, Meta("postmortem", json=True, reads_files=("first", "second"),
                        decide=lambda p: Effects(reads_files=target_files(p.get("target_opt")))))
