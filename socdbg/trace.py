"""A VCD waveform of a simulator run (``trace start FILE.vcd``), written with pyvcd.

Time is simulated time: the timescale is 1 ns and one core clock cycle is 1 ns, as on a 1 GHz
clock, so ``#1234`` is cycle 1234. The file declares three top scopes:

``regs``
    One wire per register in scope (by default every register software can write; ``--include``
    narrows it), named by its path (``regs.dma.ch[0].ctrl[31:0]``). Its value is the
    register's stored value after each software write, as the register file holds it once the
    write is done: ``singlepulse`` fields such as ``ctrl.start`` read back 0 and so show 0 (the
    DMA ``event`` below shows the start). Hardware updates (``status.done`` set by the DMA) are
    not register writes by software and are not traced here. The value at the trace's first
    timestamp is the register's value when the trace started.
``dma``
    Per channel ``dma.ch[n]``: ``state`` (a string: the engine's state machine, ``IDLE``,
    ``FETCH``, ``MOVE``, ``WAIT`` or ``STOP``), ``event`` (a string: the engine's latest trace
    record, such as ``start=SINGLE``, ``bytes=16384``, ``done=4096``, ``err=UNMAPPED``) and
    ``bytes_done[31:0]``, all updated whenever the engine reports an event (``events.dma``).
``noc``
    Per link ``noc.router[i].E`` (and ``N``, ``S``, ``W``; ``LOCAL`` is the ejection port into
    the tile): a busy bit, 1 in every cycle in which a flit leaves router ``i`` through that
    output, 0 otherwise. A stream of back-to-back flits is one long pulse; counting the cycles it
    is high gives the flits. Fed by the mesh's ``events.noc_depart`` signal.

The mesh decides some departures a few cycles ahead of the kernel's clock. Those are held back
and written once the clock has passed them, so timestamps never go backwards; at ``trace stop``
whatever lies after the current cycle is dropped (the trace ends at the stop cycle), and flits
already decided when the trace started are not in it.
"""

from __future__ import annotations

import datetime
import heapq
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from vcd import VCDWriter

from socdbg.models.dma import ErrCode, Mode, TraceEntry
from socdbg.models.noc import PORT_NAMES, PORTS

if TYPE_CHECKING:
    from vcd.writer import Variable

    from socdbg.regmap import Register
    from socdbg.targets.sim import SimTarget

TIMESCALE = "1 ns"
COMMENT = "socdbg trace: timestamps are simulated core clock cycles (1 ns = 1 cycle at 1 GHz)"
#: Kinds of pending link changes: a pulse starts; a pulse ends; a pulse ends unless a later
#: departure continued it (the busy end has moved on).
_RISE, _FALL, _MAYBE_FALL = 0, 1, 2

#: Trace records whose value says something (the rest read as a bare word).
_VALUED = ("fetch", "move", "bytes", "done", "stopped", "head", "ring empty", "desc irq",
           "start ignored: bad mode")


def event_text(what: str, value: int) -> str:
    """A DMA trace record as one VCD string word: ``start=SINGLE``, ``err=UNMAPPED``,
    ``fetch=0x10080000``, ``start_ignored:busy``."""
    word = what.replace(": ", ":").replace(" ", "_")
    if what == "start":
        return f"{word}={Mode(value).name}" if value in tuple(Mode) else f"{word}={value}"
    if what == "err":
        return f"{word}={ErrCode(value).name}" if value in tuple(ErrCode) else f"{word}={value}"
    if what == "fetch":
        return f"{word}={value:#x}"
    if what in _VALUED:
        return f"{word}={value}"
    return word


class VcdTrace:
    """An open waveform on ``sim``: hooks installed by the constructor, removed by
    :meth:`close`. Raises OSError when ``path`` cannot be written."""

    def __init__(self, sim: SimTarget, path: Path, registers: Sequence[Register]) -> None:
        self.sim = sim
        self.path = path
        self.started = sim.kernel.now
        self.changes = 0
        self.late = 0  # changes that would have gone back in time (written at the latest)
        self.closed = False
        self._fh: TextIO = path.open("w", encoding="utf-8")
        from socdbg.version import __version__

        self._writer = VCDWriter(self._fh, timescale=TIMESCALE, init_timestamp=self.started,
                                 comment=COMMENT, version=f"socdbg {__version__}",
                                 date=datetime.datetime.now().isoformat(timespec="seconds"))
        self._last = self.started
        self._regs: dict[str, tuple[Variable[Any], int]] = {}
        for reg in registers:
            *scope, name = reg.path.split(".")
            var = self._writer.register_var(("regs", *scope), f"{name}[{reg.width - 1}:0]",
                                            "wire", reg.width, sim.regs.peek(reg))
            pulses = sum(f.mask for f in reg.fields if f.singlepulse)
            self._regs[reg.path] = (var, ((1 << reg.width) - 1) & ~pulses)

        self.dma = sim.context.dma
        self._channels: list[tuple[Variable[Any], Variable[Any], Variable[Any]]] = []
        if self.dma is not None:
            for ch in self.dma.channels:
                where = ("dma", f"ch[{ch.index}]")
                self._channels.append((
                    self._writer.register_var(where, "state", "string", init=ch.state.name),
                    self._writer.register_var(where, "event", "string", init="-"),
                    self._writer.register_var(where, "bytes_done[31:0]", "wire", 32,
                                              ch.bytes_done)))

        self.mesh = sim.context.mesh
        self._links: dict[int, Variable[Any]] = {}
        self._busy_end: dict[int, int] = {}
        self._pending: list[tuple[int, int, int]] = []  # (cycle, kind, output)
        if self.mesh is not None:
            mesh = self.mesh
            for node, port in mesh.outputs():
                out = node * PORTS + port
                self._links[out] = self._writer.register_var(
                    ("noc", f"router[{node}]"), PORT_NAMES[port], "wire", 1, 0)
                self._busy_end[out] = -2

        # hooks, last: nothing above may fail half-way through installing them
        events = sim.context.events
        if self.mesh is not None:
            self.mesh.settle()  # a DMA flow reports no departures: packets from here on
        events.reg_write.subscribe(self._on_write)
        if self.dma is not None:
            events.dma.subscribe(self._on_dma)
        if self.mesh is not None:
            events.noc_depart.subscribe(self._on_depart)

    # --- what the file holds -----------------------------------------------------------------
    @property
    def registers(self) -> int:
        return len(self._regs)

    @property
    def channels(self) -> int:
        return len(self._channels)

    @property
    def links(self) -> int:
        return len(self._links)

    @property
    def now(self) -> int:
        return self.sim.kernel.now

    # --- writing -----------------------------------------------------------------------------
    def _change(self, var: Variable[Any], cycle: int, value: int | str) -> None:
        if value == var.value:
            return
        if cycle < self._last:  # pragma: no cover - the hooks report in time order
            self.late += 1
            cycle = self._last
        self._last = cycle
        self._writer.change(var, cycle, value)
        self.changes += 1

    def _flush(self, horizon: int) -> None:
        """Write the link changes of every cycle up to ``horizon``: all their departures are
        known once the clock has passed them."""
        pending = self._pending
        while pending and pending[0][0] <= horizon:
            cycle, kind, out = heapq.heappop(pending)
            if kind == _RISE:
                self._change(self._links[out], cycle, 1)
            elif kind == _FALL or self._busy_end[out] == cycle - 1:
                self._change(self._links[out], cycle, 0)

    # --- hooks -------------------------------------------------------------------------------
    def _on_write(self, reg: Register, old: int, new: int) -> None:
        entry = self._regs.get(reg.path)
        if entry is None:
            return
        now = self.now
        self._flush(now - 1)
        var, keep = entry
        self._change(var, now, new & keep)

    def _on_dma(self, entry: TraceEntry) -> None:
        assert self.dma is not None
        cycle, channel, what, value = entry
        self._flush(cycle - 1)
        text = event_text(what, value)
        chosen = range(len(self._channels)) if channel < 0 else (channel,)
        for n in chosen:
            ch = self.dma.channels[n]
            state, event, done = self._channels[n]
            self._change(state, cycle, ch.state.name)
            self._change(event, cycle, text)
            self._change(done, cycle, ch.bytes_done)

    def _on_depart(self, router: int, port: int, cycles: list[int]) -> None:
        out = router * PORTS + port
        end = self._busy_end[out]
        push = heapq.heappush
        pending = self._pending
        for cycle in cycles:  # ascending, and after every earlier batch of this output
            if cycle != end + 1:  # a new pulse: the one before (if any) ended at end + 1
                if end >= 0:
                    push(pending, (end + 1, _FALL, out))
                push(pending, (cycle, _RISE, out))
            end = cycle
        push(pending, (end + 1, _MAYBE_FALL, out))  # unless the next batch goes on from here
        self._busy_end[out] = end
        self._flush(self.now - 1)

    # --- the end -----------------------------------------------------------------------------
    def close(self) -> None:
        """Write everything up to the current cycle, remove the hooks, close the file."""
        if self.closed:
            return
        self.closed = True
        events = self.sim.context.events
        events.reg_write.unsubscribe(self._on_write)
        events.dma.unsubscribe(self._on_dma)
        events.noc_depart.unsubscribe(self._on_depart)
        try:
            self._flush(self.now)
            self._writer.close(max(self.now, self._last))
        finally:
            self._fh.close()
