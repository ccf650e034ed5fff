"""``regs``: the register map itself, no target needed (list, show, find)."""

from __future__ import annotations

import click

from socdbg.commands.params import REGISTER_GLOB, REGISTER_PATH, json_option
from socdbg.commands.registry import Output, register, session_command
from socdbg.commands.session import Session


@click.group("regs", help="Browse the register map (no target needed).")
@click.option("--map", "map_file", metavar="FILE.rdl", help="Use another map.")
@click.pass_context
def regs(ctx: click.Context, map_file: str | None) -> None:
    if map_file:
        session = ctx.find_object(Session)
        if session is not None:
            session.map_files = [map_file]
            session._map = None


@regs.command("list", help="List registers matching GLOB (default: all) and memories.")
@click.argument("glob", required=False, type=REGISTER_GLOB)
@click.option("--limit", type=int, default=None, help="Show at most N registers.")
@json_option
@session_command
def regs_list(session: Session, glob: str | None, limit: int | None, as_json: bool) -> Output:
    from socdbg.render.regs import memory_json, register_json

    rmap = session.map
    regs_ = rmap.select(glob) if glob else list(rmap)
    memories = list(rmap.memories) if not glob else [
        m for m in rmap.memories if m.path.lower() in (glob.lower(), )]
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
@json_option
@session_command
def regs_show(session: Session, path: str, as_json: bool) -> Output:
    from socdbg.render.regs import register_json

    reg, _ = session.map.resolve(path)

    def render() -> object:
        from socdbg.render.regs import RegisterLayout

        return RegisterLayout(reg)

    return Output(data=register_json(reg), render=render)


@regs.command("find", help="Find registers by name, description, field or enum name.")
@click.argument("text", nargs=-1, required=True)
@json_option
@session_command
def regs_find(session: Session, text: tuple[str, ...], as_json: bool) -> Output:
    return find_output(session, " ".join(text))


def find_output(session: Session, text: str) -> Output:
    from socdbg.render.regs import addr_text

    rmap = session.map
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


register(regs)
