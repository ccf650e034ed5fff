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


def _gate(session: Session, path: str, field: str) -> bool | None:
    """One gate bit (a reset or enable), or None when the map or the target lacks it (a
    partial dump)."""
    from socdbg.errors import TargetError

    reg = session.map.find(path)
    if reg is None or reg.field(field) is None:
        return None
    try:
        return bool(_fields(session, path)[field])
    except TargetError:
        return None


def _blocked(ch: dict[str, Any], engine_on: bool | None) -> str | None:
    """Why the model would ignore a start on this channel now (as the DMA model's
    ``start ignored`` notes: disabled, busy, error set), or None."""
    if engine_on is False:
        return "the engine is disabled (dma.global_ctrl.enable = 0)"
    if not ch["enabled"]:
        return "the channel is disabled (ctrl.en = 0)"
    if ch["error"] is not None:
        return f"error {ch['error']} not acknowledged (write 1 to status.err)"
    if ch["busy"]:
        return "the channel is busy"
    return None


@click.command("dma", help="The DMA channels: state, mode, source, destination, progress, "
               "error, and why a start would be ignored.")
@session_command
def dma_cmd(session: Session) -> Output:
    rmap = session.map
    if rmap.find("dma.ch[0].ctrl") is None:
        raise UsageError("this map has no dma block with channels (dma.ch[N])")
    # the engine's gates first: a block held in reset is not read (on silicon its registers
    # may not answer), and each channel says why a start would be ignored
    held = _gate(session, "sysctrl.rst_ctrl", "dma_rst")
    engine_on = _gate(session, "dma.global_ctrl", "enable")
    channels = []
    n = 0
    while rmap.find(f"dma.ch[{n}].ctrl") is not None:
        base = f"dma.ch[{n}]"
        if held:
            channels.append({"channel": n, "enabled": None, "mode": None, "busy": None,
                             "done": None, "error": None, "src": None, "dst": None,
                             "len": None, "bytes_done": None,
                             "blocked": "the DMA engine is held in reset "
                                        "(sysctrl.rst_ctrl.dma_rst = 1)"})
            n += 1
            continue
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
        ch["blocked"] = _blocked(ch, engine_on)
        channels.append(ch)
        n += 1

    def render() -> object:
        from socdbg.render.dma import DmaView

        return DmaView(channels)

    return Output(data=channels, render=render)


register(dma_cmd, Meta("views", json=True))
