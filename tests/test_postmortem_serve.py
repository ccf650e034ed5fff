"""A dump through ``socdbg serve`` and the gdb target.

The server runs as a child process on a free 127.0.0.1 port (``--port 0``; the port is read
from its announcement) and is stopped in the fixture's teardown. A dump taken through it must
hold exactly the values of a dump taken directly on a simulator in the same state, and the
server's ``coalesce`` feature must turn a dump into about one RSP round trip per run of
adjacent registers instead of one per register.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gdb_support as gs
import pytest
from session_support import bring_up

from socdbg.access import plan_runs
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.dumpfile import read_dump
from socdbg.postmortem import capture, dump_skip_reason
from socdbg.regmap import RegMap
from socdbg.targets.base import CAP_COALESCE, CAP_TIME
from socdbg.targets.gdb import GdbTarget, RspConnection
from socdbg.targets.wrapper import TargetWrapper

REPO = Path(__file__).resolve().parents[1]
#: The reference SoC brought up (session_support.BRING_UP: PLL, resets, HBM trained, a DMA
#: transfer), then a scratch value and 1000 cycles.
STATE = bring_up(at_end="""
write sysctrl.scratch 0x5ca1ab1e
step 1000
""")


@pytest.fixture
def rw_server() -> Iterator[str]:
    """``socdbg serve --allow-writes --allow-host-files`` (monitor dump -o writes a file on
    the server's host) on a free loopback port: its gdb:// target string."""
    with gs.serve(["--allow-writes", "--allow-host-files"]) as served:
        yield served.url


@pytest.fixture(scope="module")
def ro_server(_socdbg_session_env: None) -> Iterator[str]:
    """A read-only ``socdbg serve``, shared by the module."""
    with gs.serve() as served:
        yield served.url


def run_lines(session: Session, text: str) -> None:
    for line in text.strip().splitlines():
        out = execute(session, line)
        assert out is None or out.ok, line


def test_dump_through_serve_equals_a_dump_on_the_simulator(rw_server: str, tmp_path: Path
                                                           ) -> None:
    remote = Session(target=rw_server, out=io.StringIO())
    local = Session(out=io.StringIO())
    try:
        target = remote.target
        assert isinstance(target, GdbTarget)
        assert {CAP_COALESCE, CAP_TIME} <= target.capabilities
        run_lines(remote, STATE)
        run_lines(local, STATE)
        mem = "--memory sram+64 --memory dram+64"
        out = execute(remote, f"dump -o {tmp_path / 'remote.json'} {mem}")
        assert out is not None and out.ok, out and out.text
        execute(local, f"dump -o {tmp_path / 'local.json'} {mem}")
        # and one taken by the server's own session, directly on its simulator
        out = execute(remote, f"monitor -- dump -o {tmp_path / 'served.json'} {mem}")
        assert out is not None and out.ok
        a, b, c = (read_dump(tmp_path / f"{n}.json") for n in ("remote", "local", "served"))
        assert a.target == rw_server and b.target == c.target == "sim"
        assert a.complete and b.complete and c.complete
        assert a.registers == b.registers == c.registers
        assert len(a.registers) == 329
        assert a.registers["sysctrl.scratch"][2] == 0x5CA1AB1E
        assert a.registers["hbm.train_status"][2] >> 4 & 0xF == 8  # phase DONE
        assert a.registers["dma.ch[0].bytes_done"][2] == 0x10
        assert a.memories == b.memories == c.memories
        assert a.memories[1][1][:16] == bytes.fromhex("0123456789abcdeffedcba9876543210")
        assert a.cycle == b.cycle == c.cycle and a.cycle is not None and a.cycle > 1000
        assert a.map_identity == b.map_identity and a.skipped == b.skipped
        # the live target, compared with its own dump: no differences
        out = execute(remote, f"diff {tmp_path / 'remote.json'}")
        assert out is not None and out.ok, out.data
        # and a dump opened as a target reads what the remote reads
        dumped = Session(target=f"dump:{tmp_path / 'remote.json'}", out=io.StringIO())
        for line in ("read --json dma", "read --json hbm.*", "peek --json dram 2"):
            x, y = execute(dumped, line), execute(remote, line)
            assert x is not None and y is not None and x.data == y.data, line
        dumped.close()
    finally:
        remote.close()
        local.close()


class Counting:
    """Counts the RSP packets a GdbTarget sends, by their first letter."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.packets: list[bytes] = []
        self.round_trips = 0
        real_request, real_many = RspConnection.request, RspConnection.request_many
        counter = self

        def request(conn: RspConnection, payload: bytes, *args: Any, **kw: Any) -> bytes:
            counter.packets.append(payload)
            counter.round_trips += 1
            return real_request(conn, payload, *args, **kw)

        def request_many(conn: RspConnection, payloads: Sequence[bytes], *args: Any,
                         **kw: Any) -> list[bytes]:
            counter.packets.extend(payloads)
            counter.round_trips += 1  # pipelined: one wait for the whole window
            return real_many(conn, payloads, *args, **kw)

        monkeypatch.setattr(RspConnection, "request", request)
        monkeypatch.setattr(RspConnection, "request_many", request_many)

    def take(self) -> tuple[list[bytes], int]:
        out = (self.packets, self.round_trips)
        self.packets, self.round_trips = [], 0
        return out


class NoCoalesce(TargetWrapper):
    """The gdb target without the ``coalesce`` capability."""

    def __init__(self, inner: GdbTarget) -> None:
        super().__init__(inner)
        self.capabilities = inner.capabilities - {CAP_COALESCE}


def test_rsp_round_trips_coalesced_and_not(ro_server: str, ref_map: RegMap,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session(target=ro_server, out=io.StringIO())
    try:
        target = session.target
        assert isinstance(target, GdbTarget) and CAP_COALESCE in target.capabilities
        regs = [r for r in ref_map if not dump_skip_reason(r, False)]
        runs = plan_runs(regs, min(0x10000, target.max_read))
        expected_coalesced = sum(1 if len(run) > 1 else run[0].size // (run[0].accesswidth // 8)
                                 for run in runs)
        expected_single = sum(r.size // (r.accesswidth // 8) for r in regs)
        counter = Counting(monkeypatch)
        coalesced = capture(target, ref_map, list(ref_map), [])
        packets, trips = counter.take()
        # every one of the 114 runs goes out in one batched read (qSocdbg.read); a run of one
        # register wider than its access width (sysctrl.cycle, mailbox.msg64) counts its words
        batched = [p for p in packets if p.startswith(b"qSocdbg.read:")]
        assert len(batched) == 1 and expected_coalesced == 116
        ranges = [tuple(int(x, 16) for x in r.split(",")) for r in
                  batched[0][len(b"qSocdbg.read:"):].decode().split(";")]
        assert len(ranges) == len(runs) == 114  # one range per run
        reads = [b"m%x,%x" % r for r in ranges]  # the same checks as for m packets below
        others = [p for p in packets if not p.startswith(b"qSocdbg.read:")]
        assert set(others) <= {b"qSocdbg.now"} and len(others) <= 3
        assert trips == 1 + len(others)
        single = capture(NoCoalesce(target), ref_map, list(ref_map), [])  # type: ignore[arg-type]
        packets, trips = counter.take()
        reads_single = [p for p in packets if p[:1] in (b"x", b"m")]
        assert len(reads_single) == expected_single == 344
        assert coalesced.registers == single.registers
        assert len(reads_single) / len(batched) > 100  # 331 round trips against 1
        # no packet ever touches the read-to-clear register
        for p in reads + reads_single:
            addr, size = (int(x, 16) for x in p[1:].decode().split(","))
            assert addr + size <= 0x40030010 or addr >= 0x40030014, p
    finally:
        session.close()


def test_dump_command_through_a_read_only_server(ro_server: str, tmp_path: Path) -> None:
    session = Session(target=ro_server, out=io.StringIO())
    try:
        out = execute(session, f"dump -o {tmp_path / 'ro.json.gz'} --memory sram+16")
        assert out is not None and out.ok
        dump = read_dump(tmp_path / "ro.json.gz")
        assert dump.complete and len(dump.registers) == 329
        assert dump.registers["sysctrl.chip_id"] == (0x40000000, 4, 0x5D0C0A01)
        assert dump.target == ro_server
    finally:
        session.close()
