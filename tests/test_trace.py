"""``trace start FILE.vcd`` / ``trace stop``: a VCD waveform of a simulator run.

Every trace written here is read back with pyvcd's reader (the tokens GTKWave's loader sees:
the declarations, ``#time`` lines, value changes) and checked: the header, the variables, time
never going backwards, and the values of a DMA run against what the simulator reports.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from vcd.reader import TokenKind, tokenize

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import PathError, SocdbgError, UsageError
from socdbg.targets.sim import SimTarget

DMA_SETUP = """
step 2
write sysctrl.rst_ctrl dma_rst=0 noc_rst=0
write dma.global_ctrl enable=1
step 5
write dma.ch[0].src 0x10000000
write dma.ch[0].dst 0x80000000
write dma.ch[0].len 0x1000
step 5
"""
ROUTE = {(0, "E"), (1, "E"), (2, "E"), (3, "S"), (7, "S"), (11, "S"), (15, "LOCAL")}
FLITS = 0x1000 // 32


@dataclass
class Vcd:
    """A VCD file as read back: timescale, variables by full name, and every change."""

    timescale: str = ""
    comment: str = ""
    vars: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (type, size)
    names: dict[str, str] = field(default_factory=dict)  # id code -> name
    initial: dict[str, Any] = field(default_factory=dict)  # name -> $dumpvars value
    changes: list[tuple[int, str, Any]] = field(default_factory=list)  # after $dumpvars
    times: list[int] = field(default_factory=list)

    def history(self, name: str) -> list[tuple[int, Any]]:
        return [(t, v) for t, n, v in self.changes if n == name]

    def at(self, name: str, cycle: int) -> Any:
        """The value of ``name`` at the end of ``cycle``."""
        value = self.initial[name]
        for t, v in self.history(name):
            if t > cycle:
                break
            value = v
        return value


def parse(path: Path) -> Vcd:
    vcd = Vcd()
    scope: list[str] = []
    time = None
    in_dumpvars = False
    with path.open("rb") as fh:
        for tok in tokenize(fh):
            kind = tok.kind
            if kind is TokenKind.TIMESCALE:
                vcd.timescale = str(tok.timescale)
            elif kind is TokenKind.COMMENT:
                vcd.comment = tok.comment
            elif kind is TokenKind.SCOPE:
                scope.append(tok.scope.ident)
            elif kind is TokenKind.UPSCOPE:
                scope.pop()
            elif kind is TokenKind.VAR:
                var = tok.var
                ref = var.reference
                if var.bit_index is not None and isinstance(var.bit_index, tuple):
                    ref += f"[{var.bit_index[0]}:{var.bit_index[1]}]"
                name = ".".join([*scope, ref])
                vcd.vars[name] = (var.type_.value, var.size)
                vcd.names[var.id_code] = name
            elif kind is TokenKind.CHANGE_TIME:
                time = tok.time_change
                vcd.times.append(time)
            elif kind is TokenKind.DUMPVARS:
                in_dumpvars = True
            elif kind is TokenKind.END:
                in_dumpvars = False
            elif kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR,
                          TokenKind.CHANGE_STRING):
                value: Any
                if kind is TokenKind.CHANGE_SCALAR:
                    code, value = tok.scalar_change.id_code, int(tok.scalar_change.value)
                elif kind is TokenKind.CHANGE_VECTOR:
                    code, value = tok.vector_change.id_code, tok.vector_change.value
                else:
                    code, value = tok.string_change.id_code, tok.string_change.value
                name = vcd.names[code]
                if in_dumpvars:
                    vcd.initial[name] = value
                else:
                    assert time is not None
                    vcd.changes.append((time, name, value))
    return vcd


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session(out=io.StringIO(), width=120)
    yield s
    s.close()


def run(session: Session, line: str) -> Any:
    output = execute(session, line)
    assert output is not None
    return output.data


def script(session: Session, text: str) -> None:
    for line in text.strip().splitlines():
        execute(session, line)


def sim_of(session: Session) -> SimTarget:
    target = session.target
    assert isinstance(target, SimTarget)
    return target


def test_a_traced_dma_run_reads_back(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "dma.vcd"
    sim = sim_of(session)
    execute(session, "step 3")
    started = run(session, f"trace start {path} --json")
    assert started["started"] == 3 and started["dma_channels"] == 4
    assert started["noc_links"] == 64  # 4 directions less the edges, plus LOCAL: 48 + 16
    script(session, DMA_SETUP)
    start_cycle = sim.now
    execute(session, "write dma.ch[0].ctrl en=1 mode=SINGLE start=1")
    done = run(session, "step --until 'dma.ch[0].status.done == 1'")
    done_cycle = done["cycle"]
    execute(session, "step 20")
    status = run(session, "trace --json")
    assert status["open"] and status["cycle"] == sim.now
    assert session.trace.late == 0  # nothing had to be pulled forward in time
    stopped = run(session, "trace stop --json")
    assert stopped["file"] == str(path) and not stopped["open"]
    assert session.trace is None and not session.on_close

    vcd = parse(path)
    assert vcd.timescale == "1 ns" and "1 ns = 1 cycle" in vcd.comment
    # the declarations
    assert vcd.vars["regs.dma.ch[0].ctrl[31:0]"] == ("wire", 32)
    assert vcd.vars["regs.dma.ch[0].src[63:0]"] == ("wire", 64)
    assert vcd.vars["dma.ch[3].state"] == ("string", 1)
    assert vcd.vars["dma.ch[0].bytes_done[31:0]"] == ("wire", 32)
    assert vcd.vars["noc.router[0].E"] == ("wire", 1)
    assert "noc.router[0].W" not in vcd.vars and "noc.router[0].N" not in vcd.vars
    assert "regs.sysctrl.chip_id[31:0]" not in vcd.vars  # read-only: never written
    assert "regs.sysctrl.scratch[31:0]" in vcd.vars
    # time: from the start cycle, never backwards, up to the stop cycle
    assert vcd.times[0] == 3 and vcd.times == sorted(vcd.times) and vcd.times[-1] == sim.now
    assert stopped["changes"] == len(vcd.changes)
    # software writes, at their cycles, values as the registers hold them after the write
    assert vcd.initial["regs.sysctrl.rst_ctrl[31:0]"] == 0b11111
    assert vcd.history("regs.sysctrl.rst_ctrl[31:0]") == [(5, 0b11100)]
    assert vcd.history("regs.dma.ch[0].len[31:0]") == [(10, 0x1000)]
    assert vcd.history("regs.dma.ch[0].dst[63:0]") == [(10, 0x8000_0000)]
    ctrl = sim.regmap.get("dma.ch[0].ctrl")
    assert vcd.history("regs.dma.ch[0].ctrl[31:0]") == [
        (start_cycle, sim.regs.peek(ctrl))]  # start=1 is a pulse: it reads back 0
    # the DMA channel: MOVE from the start, IDLE and all bytes done at the done cycle
    assert vcd.initial["dma.ch[0].state"] == "IDLE"
    assert vcd.at("dma.ch[0].state", start_cycle) == "MOVE"
    assert vcd.at("dma.ch[0].event", start_cycle) == "move=4096"
    assert vcd.at("dma.ch[0].state", done_cycle - 1) == "MOVE"
    assert vcd.at("dma.ch[0].bytes_done[31:0]", done_cycle - 1) == 0
    assert vcd.at("dma.ch[0].state", done_cycle) == "IDLE"
    assert vcd.at("dma.ch[0].event", done_cycle) == "done=4096"
    assert vcd.at("dma.ch[0].bytes_done[31:0]", done_cycle) == 0x1000
    assert vcd.history("dma.ch[1].state") == []
    # the NoC: the links of the route carry one flit per cycle, the others nothing
    for node in range(16):
        for port in ("N", "E", "S", "W", "LOCAL"):
            name = f"noc.router[{node}].{port}"
            if name not in vcd.vars:
                continue
            hist = vcd.history(name)
            if (node, port) not in ROUTE:
                assert hist == [], name
                continue
            high = sum(b - a for (a, v), (b, _) in itertools.pairwise(hist)
                       if v == 1)
            assert high == FLITS, name  # one cycle high per flit
            assert hist[0][1] == 1 and hist[-1][1] == 0
            assert start_cycle < hist[0][0] and hist[-1][0] <= done_cycle
    rise = {name: vcd.history(name)[0][0] for name in
            ("noc.router[0].E", "noc.router[1].E", "noc.router[3].S", "noc.router[15].LOCAL")}
    assert rise["noc.router[0].E"] < rise["noc.router[1].E"] < rise["noc.router[3].S"] \
        < rise["noc.router[15].LOCAL"]  # the head moves one router per 2 cycles
    assert rise["noc.router[1].E"] - rise["noc.router[0].E"] == 2
    assert vcd.history("noc.router[15].LOCAL")[-1][0] == done_cycle  # the tail lands


CONTENTION = """
write sysctrl.rst_ctrl dma_rst=0 noc_rst=0
write dma.global_ctrl enable=1
write dma.ch[0].src 0x10000000
write dma.ch[0].dst 0x80000000
write dma.ch[1].src 0x80100000
write dma.ch[1].dst 0x10040000
write dma.ch[2].src 0x10080000
write dma.ch[2].dst 0x80200000
write dma.ch[3].src 0x80300000
write dma.ch[3].dst 0x100c0000
write dma.ch[*].len 0x4000
step 1
write dma.ch[0].ctrl en=1 start=1
write dma.ch[1].ctrl en=1 start=1
step 37
write dma.ch[2].ctrl en=1 start=1
write dma.ch[3].ctrl en=1 start=1
step --until 'dma.global_status.idle == 1'
step 100
"""


def test_busy_bits_count_every_flit_under_contention(session: Session, tmp_path: Path
                                                     ) -> None:
    """Two channels each way share the route: for every link, the cycles its busy bit is
    high are exactly the flits the router's counter says crossed it."""
    path = tmp_path / "busy.vcd"
    engine = sim_of(session).context.dma
    assert engine is not None
    # sram at node 0 but its third quarter at node 1, dram at node 3: channels 0 and 2 merge
    # into router 1's E output (from W and from LOCAL), channels 1 and 3 share the way back
    engine.node_of = lambda a: 3 if a >= 0x8000_0000 else 1 if a >> 18 == 0x402 else 0
    execute(session, f"trace start {path}")
    script(session, CONTENTION)
    assert session.trace.late == 0
    execute(session, "trace stop")
    view = run(session, "noc --json")
    assert view["routers"][1]["ports"]["W"]["stalls"] > 0  # they did contend
    vcd = parse(path)
    end = vcd.times[-1]
    checked = 0
    for r in view["routers"]:
        for port, counters in r["ports"].items():
            name = f"noc.router[{r['router']}].{port}"
            if name not in vcd.vars:
                assert counters["flits"] == 0
                continue
            hist = [*vcd.history(name), (end + 1, 0)]
            high = sum(b - a for (a, v), (b, _) in itertools.pairwise(hist) if v == 1)
            assert high == counters["flits"], name
            assert all(v != w for (_, v), (_, w) in itertools.pairwise(hist[:-1])), name
            checked += counters["flits"]
    assert checked == sum(link["flits"] for link in view["links"]) + 4 * 0x4000 // 32


def test_trace_include_narrows_the_registers(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "narrow.vcd"
    d = run(session, f"trace start {path} --include dma.ch[0].* --include sysctrl.scratch "
                     "--json")
    sim = sim_of(session)
    assert d["registers"] == len(sim.regmap.glob("dma.ch[0].*")) + 1
    execute(session, "write sysctrl.scratch 0x5a")
    execute(session, "write mailbox.msg[0] 1")  # not in scope
    execute(session, "step 2")
    execute(session, "trace stop")
    vcd = parse(path)
    regs = {n for n in vcd.vars if n.startswith("regs.")}
    assert "regs.sysctrl.scratch[31:0]" in regs and "regs.dma.ch[0].status[31:0]" in regs
    assert not any(n.startswith(("regs.mailbox", "regs.dma.ch[1]")) for n in regs)
    # written in the trace's first cycle: the value at that time is the $dumpvars one
    assert vcd.initial["regs.sysctrl.scratch[31:0]"] == 0x5A
    assert vcd.history("regs.sysctrl.scratch[31:0]") == []
    with pytest.raises(PathError, match=r"no register matches 'dma\.chx\[0\]\.\*'"):
        execute(session, f"trace start {path} --include dma.chx[0].*")
    assert session.trace is None


def test_trace_is_closed_with_the_session(tmp_path: Path) -> None:
    path = tmp_path / "left-open.vcd"
    s = Session(out=io.StringIO())
    execute(s, f"trace start {path}")
    sim = sim_of(s)
    execute(s, "step 7")
    execute(s, "write sysctrl.scratch 0x1234")
    execute(s, "step 3")
    s.close()
    vcd = parse(path)
    assert vcd.history("regs.sysctrl.scratch[31:0]") == [(7, 0x1234)]
    assert vcd.times[-1] == 10
    assert s.trace is None and not sim.context.events.reg_write


def test_trace_hooks_come_off(session: Session, tmp_path: Path) -> None:
    sim = sim_of(session)
    events = sim.context.events
    kept: list[tuple[int, int, str, int]] = []
    events.dma.subscribe(kept.append)
    execute(session, f"trace start {tmp_path / 'a.vcd'}")
    assert events.reg_write and events.noc_depart
    assert len(events.dma) == 2
    script(session, DMA_SETUP + "write dma.ch[0].ctrl en=1 start=1\nstep 200")
    execute(session, "trace stop")
    assert not events.reg_write and not events.noc_depart
    assert len(events.dma) == 1  # the subscriber from before stays
    assert ("start" in {what for _, _, what, _ in kept})  # and was still fed


def test_trace_errors(session: Session, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no trace is open") as info:
        execute(session, "trace stop")
    assert info.value.hint == "trace start FILE.vcd"
    assert run(session, "trace --json") == {"open": False}
    execute(session, f"trace start {tmp_path / 'one.vcd'}")
    with pytest.raises(UsageError, match="a trace is already open"):
        execute(session, f"trace start {tmp_path / 'two.vcd'}")
    execute(session, "trace stop")
    with pytest.raises(UsageError, match="cannot write"):
        execute(session, f"trace start {tmp_path / 'no' / 'such' / 'dir.vcd'}")
    assert session.trace is None


def test_trace_refused_on_a_dump(session: Session, tmp_path: Path) -> None:
    dump = tmp_path / "d.json"
    execute(session, f"dump -o {dump}")
    s = Session(target=f"dump:{dump}", out=io.StringIO())
    try:
        with pytest.raises(SocdbgError) as info:
            execute(s, f"trace start {tmp_path / 'x.vcd'}")
        assert "is not a simulator" in info.value.message
        assert not (tmp_path / "x.vcd").exists()
    finally:
        s.close()
