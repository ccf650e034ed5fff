"""The ``trace`` command: ``trace start FILE.vcd`` / ``trace stop`` write a VCD waveform of a
simulator run, for GTKWave (what it holds: socdbg/trace.py), or ``FILE.json`` a Perfetto
timeline (socdbg/timeline.py); ``trace`` alone says whether one
is open. A trace is finished when the session closes, even without ``trace stop``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from socdbg.commands.params import REGISTER_GLOB
from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError

if TYPE_CHECKING:
    from socdbg.timeline import PerfettoTrace
    from socdbg.trace import VcdTrace

    Tracer = VcdTrace | PerfettoTrace


def _trace_data(tracer: Tracer) -> dict[str, Any]:
    return {"file": str(tracer.path), "open": not tracer.closed, "started": tracer.started,
            "cycle": tracer.now, "registers": tracer.registers,
            "dma_channels": tracer.channels, "noc_links": tracer.links,
            "changes": tracer.changes}


@click.group("trace", invoke_without_command=True,
             help="A VCD waveform of a simulator run, for GTKWave (software register writes, "
             "DMA channel state and bytes_done, a busy bit per NoC link), or a Perfetto "
             "timeline (FILE.json); timestamps are simulated cycles (1 ns = 1 cycle). trace "
             "alone shows whether one is open.")
@session_command
def trace(session: Session) -> Output | None:
    if click.get_current_context().invoked_subcommand is not None:
        return None
    tracer = session.trace
    if tracer is None:
        return Output(data={"open": False}, text="no trace open (trace start FILE.vcd)")
    d = _trace_data(tracer)
    return Output(data=d, text=f"tracing to {d['file']} since cycle {d['started']:,} (now "
                  f"{d['cycle']:,}): {d['registers']} registers, {d['dma_channels']} DMA "
                  f"channels, {d['noc_links']} NoC links; {d['changes']:,} changes so far")


@trace.command("start", help="Start writing FILE.vcd, or FILE.json: a Chrome/Perfetto "
               "trace-event timeline (ui.perfetto.dev), one track per chip, DMA channel and link. "
               "--include GLOB (repeatable) narrows the registers a VCD traces (default: every "
               "register software can write).")
@click.argument("path", metavar="FILE.vcd|FILE.json", type=click.Path(dir_okay=False))
@click.option("--include", multiple=True, type=REGISTER_GLOB,
              help="Trace only these registers (repeatable).")
@session_command
def trace_start(session: Session, path: str, include: tuple[str, ...]
                ) -> Output:
    if session.one_shot and not session.scripts.stack:
        raise UsageError("trace start: a one-shot command ends with its process, so the "
                         "trace would stop at once",
                         "use it in socdbg shell, or in a script run with socdbg run")
    current = session.trace
    if current is not None:
        raise UsageError(f"a trace is already open ({current.path})", "trace stop first")
    rmap = session.map
    if include:
        paths = {r.path for pattern in include for r in rmap.select(pattern)}
    else:
        paths = {r.path for r in rmap if r.layout.writable}
    target = session.target
    from socdbg.timeline import open_tracer, simulator_of

    sim = simulator_of(target)
    if sim is None:
        raise UsageError(f"trace: target {target.spec} is not a simulator",
                         "a trace records the model's own events: use a sim target, or "
                         "'monitor trace start FILE.vcd' on a socdbg serve of one")
    try:
        tracer = open_tracer(sim, Path(path), paths)
    except OSError as exc:
        raise UsageError(f"trace: cannot write {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"trace: {exc}", "trace start FILE.json") from None
    session.trace = tracer
    session.on_close["trace"] = _closer(session, tracer)
    d = _trace_data(tracer)
    return Output(data=d, text=f"tracing to {path} from cycle {tracer.started:,}: "
                  f"{d['registers']} registers, {d['dma_channels']} DMA channels, "
                  f"{d['noc_links']} NoC links (1 ns = 1 cycle)")


def _closer(session: Session, tracer: Tracer) -> Callable[[], None]:
    """What Session.close() runs: the file is finished even without a trace stop."""

    def close() -> None:
        if session.trace is tracer:
            session.trace = None
        with contextlib.suppress(OSError):
            tracer.close()

    return close


@trace.command("stop", help="Stop the trace and close its file.")
@session_command
def trace_stop(session: Session) -> Output:
    tracer, session.trace = session.trace, None
    session.on_close.pop("trace", None)
    if tracer is None:
        raise UsageError("no trace is open", "trace start FILE.vcd")
    try:
        tracer.close()
    except OSError as exc:
        raise UsageError(f"trace: writing {tracer.path} failed: {exc.strerror or exc}"
                         ) from None
    d = _trace_data(tracer)
    return Output(data=d, text=f"wrote {d['file']}: cycles {d['started']:,}..{d['cycle']:,}, "
                  f"{d['changes']:,} changes")


register(trace, Meta("simulation", json=True, subcommands={"start": Meta("simulation", json=True,
                                                               writes_files=("path",)),
                                                "stop": Meta("simulation", json=True)}))
