"""``regs``: the register map itself, no target needed (list, show, find)."""

from __future__ import annotations

import click

from socdbg.commands.params import REGISTER_GLOB, REGISTER_PATH
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.regmap import RegMap


@click.group("regs", help="Browse the register map (no target needed).",
             invoke_without_command=True)
@click.option("--map", "map_file", metavar="FILE.rdl",
              help="Use another map for this command only.")
@click.pass_context
def regs(ctx: click.Context, map_file: str | None) -> Output | None:
    ctx.meta["socdbg.regs_map"] = map_file
    if ctx.invoked_subcommand is None:
        return Output(data={"help": ctx.get_help()}, text=ctx.get_help())
    return None


def _map(session: Session) -> RegMap:
    """The session's map, or the one ``regs --map FILE`` names for this command."""
    override = click.get_current_context().meta.get("socdbg.regs_map")
    return session.load_map([override]) if override else session.map


@regs.command("list", help="List registers matching GLOB (default: all) and memories.")
@click.argument("glob", required=False, type=REGISTER_GLOB)
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Show at most N registers.")
@session_command
def regs_list(session: Session, glob: str | None, limit: int | None) -> Output:
    from socdbg.render.plain import memory_json, register_json

    rmap = _map(session)
    named = rmap.memory(glob) if glob else None
    regs_ = [] if named else rmap.select(glob) if glob else list(rmap)
    memories = [named] if named else list(rmap.memories) if not glob else []
    total = len(regs_)
    shown = regs_[:limit] if limit else regs_

    def render() -> object:
        from socdbg.render.regs import RegisterList

        return RegisterList(shown, memories, total)

    data = {"map": rmap.name, "identity": rmap.identity,
            "registers": [register_json(r, fields=False) for r in shown],
            "memories": [memory_json(m) for m in memories]}
    return Output(data=data, render=render)


@regs.command("show", help="Show a register's layout: address, width, reset and fields.")
@click.argument("path", type=REGISTER_PATH)
@session_command
def regs_show(session: Session, path: str) -> Output:
    from socdbg.render.plain import register_json

    reg, _ = _map(session).resolve(path)

    def render() -> object:
        from socdbg.render.regs import RegisterLayout

        return RegisterLayout(reg)

    return Output(data=register_json(reg), render=render)


@regs.command("find", help="Find registers by name, description, field or enum name.")
@click.argument("text", nargs=-1, required=True)
@session_command
def regs_find(session: Session, text: tuple[str, ...]) -> Output:
    return find_output(session, " ".join(text))


def find_output(session: Session, text: str) -> Output:
    from socdbg.render.plain import addr_text

    rmap = _map(session)
    hits = rmap.search(text)
    mems = list(rmap.memories_matching(text))

    def render() -> object:
        from socdbg.render.regs import SearchResults

        return SearchResults(hits, mems, text)

    data = [{"path": r.path, "address": r.address, "address_hex": addr_text(r.address),
             "matched": why} for r, why in hits]
    data += [{"path": m.path, "address": m.address, "address_hex": addr_text(m.address),
              "matched": "memory"} for m in mems]
    return Output(data=data, render=render)


@click.command("find", help="Find registers by name, description, field or enum name.")
@click.argument("text", nargs=-1, required=True)
@session_command
def find_cmd(session: Session, text: tuple[str, ...]) -> Output:
    return find_output(session, " ".join(text))


register(find_cmd, Meta("map", json=True))
register(regs, Meta("map", reads_files=("map_file",),
                   subcommands={"list": Meta("map", json=True),
                                "show": Meta("map", json=True),
                                "find": Meta("map", json=True)}))
