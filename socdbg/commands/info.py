"""The session's own commands: ``info`` (target, capabilities, map, time), ``target`` (show
or switch) and ``help`` (from the registry, grouped by the commands' metadata)."""

from __future__ import annotations

from typing import Any

import click

from socdbg.commands.params import COMMAND, TARGET, target_files
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
from socdbg.commands.session import Session
from socdbg.errors import UsageError


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


register(info_cmd, Meta("session", json=True))
# switching the target changes what every later command touches; a target string can name
# host files (dump:FILE, sim:MAP.rdl)
register(target_cmd, Meta("session", decide=lambda p: Effects(
    controls=bool(p.get("spec")), reads_files=target_files(p.get("spec")))))
register(help_cmd, Meta("session"))
