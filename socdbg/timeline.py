"""A timeline of a simulator run in the Chrome / Perfetto trace-event JSON format
(``trace start FILE.json``), for ui.perfetto.dev or chrome://tracing.

The file is one JSON object ``{"traceEvents": [...], "displayTimeUnit": "ns", ...}`` written
as the run goes (events are streamed, not held in memory). Timestamps (``ts``, ``dur``) are in
microseconds, as the format requires; one simulated core clock cycle is 1 ns (a 1 GHz clock),
so ``ts`` 1.234 is cycle 1234.

Tracks: one process (``pid``) per chip, named ``chip N``; in it one thread (``tid``) per
DMA channel (``dma.ch[n]``) and one per NoC link (``noc.router[i].E`` ...; ``LOCAL`` is the
ejection port into the tile). On a multi-chip system (``sim:chips=N``) each chip-to-chip link
direction gets a track in the chip it leaves from (``c2c.port[p] -> chip q``), with a complete
event ``to chip q`` for each transfer's use of it (``args.bytes``), from its first packet
leaving to its last; these are reported when the transfer lands, so a transfer still on the
wire at ``trace stop`` is not in the file. A process and a thread are named by
``process_name`` / ``thread_name`` metadata events (``ph: "M"``) and sorted by
``process_sort_index`` / ``thread_sort_index``.

On a DMA channel's track a complete event (``ph: "X"``) spans each non-idle state of the
engine's state machine (``FETCH``, ``MOVE``, ``WAIT``, ``STOP``; ``args.bytes_done`` at its
end), and an instant event (``ph: "i"``) marks each trace record that is not a state or a byte
count (``start=SINGLE``, ``err=UNMAPPED``, ``irq``, ``start ignored:busy`` ...). A counter
(``ph: "C"``, ``dma.ch[n].bytes_done``) follows the channel's ``bytes_done``. On a link's track
a complete event ``busy`` spans each run of back-to-back cycles in which a flit left through
it (``args.flits``). At ``trace stop`` open spans are closed at the stop cycle. The mesh
decides some departures a few cycles ahead of the kernel's clock, so a link's span can end a
few cycles after the stop; spans that would start after it are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from socdbg.models.noc import PORT_NAMES, PORTS
from socdbg.trace import VcdTrace, event_text

if TYPE_CHECKING:
    from socdbg.models.context import SimContext
    from socdbg.models.dma import DmaEngine, TraceEntry
    from socdbg.targets.sim import SimTarget

#: What a process's / thread's name says, by kind, in the order tracks are sorted.
_DMA_TID = 1
_NOC_TID = 100
_LINK_TID = 10_000
#: DMA trace records that only report a state change or a byte count: no instant event.
_QUIET = frozenset({"fetch", "move", "bytes", "head", "ring empty"})


def us(cycle: int) -> float:
    """A cycle count (1 ns each) as the format's microseconds."""
    return cycle / 1000


class _Chip:
    """One chip's tracks: its DMA channels' open states, its NoC links' open busy spans."""

    def __init__(self, pid: int, ctx: SimContext) -> None:
        self.pid = pid
        self.ctx = ctx
        self.dma: DmaEngine | None = ctx.dma
        self.state: list[tuple[str, int]] = []  # per channel: (state, since cycle)
        if self.dma is not None:
            self.state = [(ch.state.name, ctx.kernel.now) for ch in self.dma.channels]
        self.busy: dict[int, tuple[int, int]] = {}  # output -> (first cycle, last cycle)


class PerfettoTrace:
    """An open trace-event timeline of ``sim``: hooks installed by the constructor, removed by
    :meth:`close`. Raises OSError when ``path`` cannot be written. ``chips`` names the
    simulator contexts to trace, one process each (default: ``sim``'s own, as chip 0)."""

    def __init__(self, sim: SimTarget | Any, path: Path) -> None:
        self.sim = sim
        self.path = path
        self.started = sim.kernel.now
        self.changes = 0
        self.closed = False
        self._first = True
        parts = getattr(sim, "chips", None)
        chosen = [(0, sim.context)] if parts is None else [
            (i, chip.context) for i, chip in enumerate(parts)]
        self._chips = [_Chip(pid, ctx) for pid, ctx in chosen]
        system = getattr(sim, "system", None)
        wiring = getattr(sim, "wiring", None)
        self._fh: TextIO = path.open("w", encoding="utf-8")
        from socdbg.version import __version__

        self._fh.write('{"displayTimeUnit": "ns", "otherData": '
                       + json.dumps({"producer": f"socdbg {__version__}",
                                     "clock": "1 cycle = 1 ns (1 GHz); ts in microseconds",
                                     "started_cycle": self.started})
                       + ', "traceEvents": [\n')
        self._links = 0
        self._channels = 0
        for chip in self._chips:
            self._declare(chip)
        self._peers: dict[tuple[int, int], tuple[int, int]] = {}
        if system is not None and wiring is not None:
            self._peers = dict(wiring.peer)
            for (chip_index, port), (peer, _) in sorted(self._peers.items()):
                self._name("thread_name", chip_index, _LINK_TID + port,
                           f"c2c.port[{port}] -> chip {peer}")
                self._links += 1
        # hooks, last: nothing above may fail half-way through installing them
        self._hooks: list[tuple[Any, Any]] = []
        for chip in self._chips:
            events = chip.ctx.events
            if chip.ctx.mesh is not None:
                chip.ctx.mesh.settle()  # a DMA flow reports no departures: packets from here
                self._hook(events.noc_depart, self._on_depart(chip))
            if chip.dma is not None:
                self._hook(events.dma, self._on_dma(chip))
        if self._peers and system is not None:
            self._hook(system.link_events, self._on_link)

    def _hook(self, signal: Any, fn: Any) -> None:
        signal.subscribe(fn)
        self._hooks.append((signal, fn))

    # --- what the file holds -----------------------------------------------------------------
    @property
    def registers(self) -> int:
        return 0  # register writes are in the VCD; the timeline shows the engines

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def links(self) -> int:
        return self._links

    @property
    def now(self) -> int:
        return self.sim.kernel.now

    # --- writing -----------------------------------------------------------------------------
    def _emit(self, event: dict[str, Any]) -> None:
        sep = "" if self._first else ",\n"
        self._first = False
        self._fh.write(sep + json.dumps(event, separators=(",", ":")))
        if event["ph"] != "M":
            self.changes += 1

    def _name(self, kind: str, pid: int, tid: int, name: str) -> None:
        self._emit({"ph": "M", "name": kind, "pid": pid, "tid": tid, "args": {"name": name}})
        index = "process_sort_index" if kind == "process_name" else "thread_sort_index"
        self._emit({"ph": "M", "name": index, "pid": pid, "tid": tid,
                    "args": {"sort_index": pid if kind == "process_name" else tid}})

    def _declare(self, chip: _Chip) -> None:
        self._name("process_name", chip.pid, 0, f"chip {chip.pid}")
        if chip.dma is not None:
            for ch in chip.dma.channels:
                self._name("thread_name", chip.pid, _DMA_TID + ch.index, f"dma.ch[{ch.index}]")
                self._channels += 1
        mesh = chip.ctx.mesh
        if mesh is not None:
            for node, port in mesh.outputs():
                self._name("thread_name", chip.pid, _NOC_TID + node * PORTS + port,
                           f"noc.router[{node}].{PORT_NAMES[port]}")
                self._links += 1

    def _span(self, pid: int, tid: int, name: str, start: int, end: int,
              args: dict[str, Any]) -> None:
        self._emit({"ph": "X", "name": name, "pid": pid, "tid": tid, "ts": us(start),
                    "dur": us(end - start), "args": args})

    # --- hooks -------------------------------------------------------------------------------
    def _on_dma(self, chip: _Chip) -> Any:
        def on_dma(entry: TraceEntry) -> None:
            assert chip.dma is not None
            cycle, channel, what, value = entry
            chosen = range(len(chip.state)) if channel < 0 else (channel,)
            for n in chosen:
                ch = chip.dma.channels[n]
                tid = _DMA_TID + n
                name, since = chip.state[n]
                if ch.state.name != name:
                    if name != "IDLE":
                        self._span(chip.pid, tid, name, since, cycle,
                                   {"bytes_done": ch.bytes_done})
                    chip.state[n] = (ch.state.name, cycle)
                if what not in _QUIET:
                    self._emit({"ph": "i", "s": "t", "name": event_text(what, value),
                                "pid": chip.pid, "tid": tid, "ts": us(cycle)})
                if what in ("bytes", "done", "start", "stopped"):
                    self._emit({"ph": "C", "name": f"dma.ch[{n}].bytes_done",
                                "pid": chip.pid, "ts": us(cycle),
                                "args": {"bytes": ch.bytes_done}})

        return on_dma

    def _on_depart(self, chip: _Chip) -> Any:
        def on_depart(router: int, port: int, cycles: list[int]) -> None:
            out = router * PORTS + port
            busy = chip.busy.get(out)
            for cycle in cycles:  # ascending, after every earlier batch of this output
                if busy is not None and cycle == busy[1] + 1:
                    busy = (busy[0], cycle)
                    continue
                if busy is not None:
                    self._busy(chip, out, busy, None)
                busy = (cycle, cycle)
            if busy is not None:
                chip.busy[out] = busy

        return on_depart

    def _on_link(self, entry: tuple[int, int, int, int, int]) -> None:
        """One transfer's use of one link direction, reported when it lands."""
        first, last, chip, port, nbytes = entry
        peer = self._peers.get((chip, port), (-1, -1))[0]
        self._span(chip, _LINK_TID + port, f"to chip {peer}", first, max(last, first),
                   {"bytes": nbytes})

    def _busy(self, chip: _Chip, out: int, busy: tuple[int, int], stop: int | None) -> None:
        first, last = busy
        end = last + 1
        if stop is not None:
            if first >= stop:
                return  # decided beyond the stop cycle: not in the trace
            end = min(end, stop)
        self._span(chip.pid, _NOC_TID + out, "busy", first, end, {"flits": end - first})

    # --- the end -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close open spans at the current cycle, remove the hooks, finish the file."""
        if self.closed:
            return
        self.closed = True
        for signal, fn in self._hooks:
            signal.unsubscribe(fn)
        now = self.now
        try:
            for chip in self._chips:
                for out, busy in sorted(chip.busy.items()):
                    self._busy(chip, out, busy, now)
                chip.busy.clear()
                if chip.dma is not None:
                    for n, (name, since) in enumerate(chip.state):
                        if name != "IDLE":
                            self._span(chip.pid, _DMA_TID + n, name, since, now,
                                       {"bytes_done": chip.dma.channels[n].bytes_done,
                                        "open": True})
            self._fh.write("\n]}\n")
        finally:
            self._fh.close()


def simulator_of(target: object) -> Any:
    """The simulator behind ``target`` (through read-only and dry-run wrappers): a chip's
    SimTarget, or a multi-chip system target (``chips``, ``system``), or None."""
    from socdbg.targets.wrapper import behind

    return behind(target, lambda t: t if hasattr(t, "kernel") and (
        hasattr(t, "context") or hasattr(t, "chips")) else None)


def open_tracer(sim: Any, path: Path, paths: Collection[str]) -> VcdTrace | PerfettoTrace:
    """``trace start``'s file for the registers at ``paths``: a trace-event timeline for a
    ``.json`` path, else a VCD waveform (one chip only: ValueError for a system). Raises
    OSError when the file cannot be written."""
    system = hasattr(sim, "chips") and not hasattr(sim, "context")
    if path.suffix.lower() == ".json":
        return PerfettoTrace(sim, path)
    if system:
        raise ValueError("a multi-chip system is traced as a timeline (FILE.json), not a VCD")
    return VcdTrace(sim, path, [r for r in sim.regmap if r.path in paths])
