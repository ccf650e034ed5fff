"""Block views built from register reads: ``dma`` (the channels; ``noc`` is in noc.py).

They read through the target like any command, so they work the same on the simulator,
through a GDB stub and on a dump.
"""

from __future__ import annotations

from typing import Any

import click

from socdbg.access import read_register
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.regmap import decode


def _fields(session: Session, path: str) -> dict[str, Any]:
    reg = session.map.get(path)
    d = decode(reg, read_register(session.target, reg))
    return {fv.field.name: (fv.enum_name or fv.value) for fv in d.fields} | {"_value": d.value}


@click.command("dma", help="The DMA channels: state, mode, source, destination, progress, "
               "error.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@session_command
def dma_cmd(session: Session, as_json: bool) -> Output:
    rmap = session.map
    if rmap.find("dma.ch[0].ctrl") is None:
        raise UsageError("this map has no dma block with channels (dma.ch[N])")
    channels = []
    n = 0
    while rmap.find(f"dma.ch[{n}].ctrl") is not None:
        base = f"dma.ch[{n}]"
        ctrl = _fields(session, f"{base}.ctrl")
        status = _fields(session, f"{base}.status")
        ch: dict[str, Any] = {
            "channel": n, "enabled": bool(ctrl["en"]), "mode": ctrl["mode"],
            "busy": bool(status["busy"]), "done": bool(status["done"]),
            "error": status["err_code"] if status["err"] else None,
            "src": _fields(session, f"{base}.src")["_value"],
            "dst": _fields(session, f"{base}.dst")["_value"],
            "len": _fields(session, f"{base}.len")["_value"],
            "bytes_done": _fields(session, f"{base}.bytes_done")["_value"],
        }
        if ctrl["mode"] == "RING":
            ch["ring_head"] = _fields(session, f"{base}.ring_head")["_value"]
            ch["ring_tail"] = _fields(session, f"{base}.ring_tail")["_value"]
            ch["desc_count"] = _fields(session, f"{base}.desc_count")["_value"]
        channels.append(ch)
        n += 1

    def render() -> object:
        from socdbg.render.views import DmaView

        return DmaView(channels)

    return Output(data=channels, render=render)


register(dma_cmd, Meta("views"))
