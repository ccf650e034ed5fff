"""``socdbg serve``: the GDB Remote Serial Protocol server, as a child process on 127.0.0.1.

Driven by the real ``gdb-multiarch -batch``, by socdbg's own gdb target
(``Session(target="gdb://127.0.0.1:PORT")``), by raw sockets that misbehave, and chained in
front of a real QEMU. The simulator of the reference SoC is the default target; its values
are compared with the same commands run on a local simulator.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import firmware_build as fb
import gdb_support as gs
import pytest

from socdbg.access import plan_runs
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError
from socdbg.postmortem import dump_skip_reason
from socdbg.targets.base import CAP_COALESCE, CAP_TIME, CAP_WRITE
from socdbg.targets.gdb import GdbTarget
from socdbg.targets.rsp import frame

pytestmark = pytest.mark.slow

CHIP_ID = 0x5D0C_0A01
SCRATCH = 0x4000_0008
SRAM, DRAM = 0x1000_0000, 0x8000_0000


@pytest.fixture
def ro(child_env: dict[str, str]) -> Iterator[gs.Served]:
    with gs.serve(env=child_env) as served:
        assert served.mode == "read-only" and served.spec == "sim"
        yield served


@pytest.fixture
def rw(child_env: dict[str, str]) -> Iterator[gs.Served]:
    with gs.serve(["--allow-writes"], env=child_env) as served:
        assert served.mode == "read-write"
        yield served


def client(served: gs.Served, **kw: Any) -> Session:
    return Session(target=served.url, out=io.StringIO(), width=120, **kw)


def run(session: Session, line: str) -> Any:
    out = execute(session, line)
    assert out is not None and out.ok, line
    return out


def data(session: Session, line: str) -> Any:
    return run(session, line).data


# --------------------------------------------------------------------------------------------
# (a) the real gdb
# --------------------------------------------------------------------------------------------
def test_gdb_reads_memory_and_runs_monitor_commands(ro: gs.Served) -> None:
    out = gs.gdb_batch(ro.port, "x/3wx 0x40000000", "x/1wx 0x4000000c",
                       "monitor read sysctrl.chip_id", "info registers pc",
                       "monitor step 100", "monitor info").stdout
    assert "0x40000000:\t0x5d0c0a01\t0x00010001\t0x00000000" in out
    assert "0x4000000c:\tCannot access memory at address 0x4000000c" in out  # a hole
    assert "sysctrl.chip_id  0x40000000  = 0x5d0c0a01" in out
    assert "[31:16]  vendor  sw=r hw=na  0x5d0c (23820)" in out
    assert "pc             0x0\t0x0" in out  # the placeholder hart of a CPU-less target
    # advancing simulated time changes the target: refused, as console output, cleanly
    assert "error: monitor step: advances simulated time: the server runs read-only" in out
    assert "Protocol error" not in out
    assert "cycle        0" in out
    assert "[Inferior 1 (Remote target) detached]" in out


def test_gdb_shows_failed_monitor_commands_and_help_as_console_output(rw: gs.Served) -> None:
    out = gs.gdb_batch(rw.port, "monitor step 100", "monitor peek 0x3", "monitor nosuch",
                       "monitor dump --help", "monitor info").stdout
    assert "cycle 100" in out
    assert "error: address 0x3 is not aligned to 32 bits" in out
    assert "error: unknown command 'nosuch'" in out
    assert "Usage: dump [OPTIONS]" in out and "--include-side-effects" in out
    assert "cycle        100" in out  # gdb went on after each failure
    assert "Protocol error" not in out and "Remote connection closed" not in out


def test_gdb_writes_are_refused_by_a_read_only_server(ro: gs.Served) -> None:
    out = gs.gdb_batch(ro.port, "set {unsigned int}0x40000008 = 0x1234", "x/1wx 0x40000008",
                       "set {unsigned long long}0x10000000 = 0x1122334455667788",
                       "x/1gx 0x10000000", "monitor write sysctrl.scratch 7",
                       "monitor read sysctrl.scratch.value", "set $pc = 0x100").stdout
    assert "Cannot access memory at address 0x40000008" in out
    assert "0x40000008:\t0x00000000" in out
    assert "Cannot access memory at address 0x10000000" in out
    assert "0x10000000:\t0x0000000000000000" in out
    assert "error: monitor write: changes the target: the server runs read-only" in out
    assert "sysctrl.scratch.value = 0x0" in out
    assert 'Could not write register "pc"' in out


def test_gdb_writes_with_allow_writes(rw: gs.Served) -> None:
    out = gs.gdb_batch(rw.port, "set {unsigned int}0x40000008 = 0x1234", "x/1wx 0x40000008",
                       "set {unsigned long long}0x10000000 = 0x1122334455667788",
                       "x/2wx 0x10000000", "monitor read sysctrl.scratch.value",
                       "monitor write sysctrl.scratch 7", "x/1wx 0x40000008").stdout
    assert "0x40000008:\t0x00001234" in out
    assert "0x10000000:\t0x55667788\t0x11223344" in out
    assert "sysctrl.scratch.value = 0x1234" in out
    assert "sysctrl.scratch <- 0x00000007  (value=7)" in out
    assert "0x40000008:\t0x00000007" in out
    # the state stays in the server for the next client
    session = client(rw)
    try:
        assert data(session, "read --json sysctrl.scratch")["value"] == 7
        assert data(session, "peek --json -w 64 0x10000000")["words"] == [0x1122334455667788]
    finally:
        session.close()


# --------------------------------------------------------------------------------------------
# (b) socdbg's own gdb target
# --------------------------------------------------------------------------------------------
def test_reads_through_the_server_decode_as_on_the_sim(ro: gs.Served) -> None:
    remote, local = client(ro), Session(out=io.StringIO())
    try:
        blocks = sorted({r.path.split(".")[0].split("[")[0] for r in local.map})
        assert {"sysctrl", "dma", "intc", "noc"} <= set(blocks)
        for block in blocks:
            assert data(remote, f"read --json {block}") == data(local, f"read --json {block}")
        assert data(remote, "read --json sysctrl.chip_id")["value"] == CHIP_ID
        assert data(remote, "peek --json 0x40000000 3")["words"] == [CHIP_ID, 0x00010001, 0]
    finally:
        remote.close()
        local.close()


def test_read_only_server_refuses_writes_before_any_bus_access(
        ro: gs.Served, monkeypatch: pytest.MonkeyPatch) -> None:
    with fb.wrapped_session(monkeypatch, target=ro.url) as (session, rec):
        info = data(session, "info --json")
        assert info["capabilities"] == [CAP_COALESCE, CAP_TIME]  # no 'write'
        assert CAP_WRITE not in rec.capabilities
        for line in ("write sysctrl.pll_ctrl en=1", "write sysctrl.scratch 5",
                     "poke 0x40000008 1", "poke -w 8 0x10000000 0xff"):
            with pytest.raises(TargetError) as exc:
                execute(session, line)
            text = str(exc.value)
            assert "\n" not in text and f"target {ro.url} is read-only" in text
            assert exc.value.hint and "socdbg serve --allow-writes" in exc.value.hint
        assert rec.reads == 0 and rec.write_calls == 0  # refused before any access
        assert run(session, "monitor read sysctrl.pll_ctrl.en").text == \
            "sysctrl.pll_ctrl.en = 0"


def test_read_only_server_refuses_a_raw_write_packet(ro: gs.Served) -> None:
    raw = gs.RawClient(ro.port)
    try:
        raw.send(b"+")
        assert b"socdbg-readonly+" in raw.request(b"qSupported:error-message+")
        reply = raw.request(b"M40000008,4:01000000")
        assert reply.startswith(b"E.") and b"read-only" in reply
        assert raw.request(b"m40000008,4") == b"00000000"
    finally:
        raw.close()


def test_allow_writes_pll_locks_after_monitor_step(rw: gs.Served) -> None:
    session = client(rw)
    try:
        assert CAP_WRITE in data(session, "info --json")["capabilities"]
        out = run(session, "write sysctrl.pll_ctrl en=1")
        assert out.text.startswith("sysctrl.pll_ctrl <- 0x0403c011")  # the other fields kept
        assert data(session, "read --json sysctrl.pll_status.lock")["value"] == 0
        assert run(session, "monitor step 5000").text == "cycle 5,000"
        assert data(session, "read --json sysctrl.pll_status.lock")["value"] == 1
        run(session, "step 10")  # simulated time driven through qSocdbg packets too
        assert data(session, "info --json")["cycle"] == 5010
    finally:
        session.close()


def test_coalesced_block_reads_through_the_server_match_single_reads(ro: gs.Served) -> None:
    session = client(ro)
    try:
        target = session.target
        assert isinstance(target, GdbTarget) and CAP_COALESCE in target.capabilities
        regs = [r for r in session.map if dump_skip_reason(r, False) is None]
        runs = [run_ for run_ in plan_runs(regs, target.max_read) if len(run_) > 1]
        assert len(runs) > 10
        for run_ in runs:
            start = run_[0].address
            raw = target.read_block(start, run_[-1].end - start)
            for reg in run_:
                one = target.read(reg.address, reg.size)
                assert raw[reg.address - start : reg.end - start] == one, reg.path
    finally:
        session.close()


# --------------------------------------------------------------------------------------------
# concurrency
# --------------------------------------------------------------------------------------------
def _hammer(url: str, n: int, work: Any, errors: list[BaseException]) -> None:
    session = Session(target=url, out=io.StringIO())
    try:
        for i in range(n):
            work(session, i)
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)
    finally:
        session.close()


def _work_a(session: Session, i: int) -> None:
    """Client A: sysctrl.scratch (whole), a read-modify-write of pll_ctrl.fbdiv, sram."""
    run(session, f"write sysctrl.scratch {i:#x}")
    run(session, f"write sysctrl.pll_ctrl fbdiv={16 + i}")
    pll = data(session, "read --json sysctrl.pll_ctrl")
    assert pll["fields"]["fbdiv"] == 16 + i
    assert pll["fields"]["refdiv"] == 1 and pll["fields"]["postdiv"] == 4  # kept by the RMW
    assert data(session, "read --json sysctrl.scratch")["value"] == i
    blob = random.Random(i).randbytes(3000)
    session.target.write_block(SRAM + 0x1000, blob)
    assert session.target.read_block(SRAM + 0x1000, len(blob)) == blob


def _work_b(session: Session, i: int) -> None:
    """Client B: dma.ch[1].src (64-bit, whole), read-modify-writes of intc.enable, dram."""
    run(session, f"write dma.ch[1].src {0x1_0000_0000 + i:#x}")
    run(session, f"write intc.enable dma_ch1={i & 1}")
    run(session, f"write intc.enable noc_err={(i >> 1) & 1}")
    en = data(session, "read --json intc.enable")["fields"]
    assert (en["dma_ch1"], en["noc_err"]) == (i & 1, (i >> 1) & 1)
    assert data(session, "read --json dma.ch[1].src")["value"] == 0x1_0000_0000 + i
    blob = random.Random(-i).randbytes(5000)
    session.target.write_block(DRAM + 0x4000, blob)
    assert session.target.read_block(DRAM + 0x4000, len(blob)) == blob


def test_two_clients_hammering_different_registers_do_not_interfere(rw: gs.Served) -> None:
    n = 120
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_hammer, args=(rw.url, n, work, errors))
               for work in (_work_a, _work_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert not errors, errors[0]
    check = client(rw)
    try:
        assert data(check, "read --json sysctrl.scratch")["value"] == n - 1
        assert data(check, "read --json sysctrl.pll_ctrl")["value"] == 0x0400_0010 | (
            (16 + n - 1) << 12)
        assert data(check, "read --json dma.ch[1].src")["value"] == 0x1_0000_0000 + n - 1
        en = data(check, "read --json intc.enable")["fields"]
        assert (en["dma_ch1"], en["noc_err"]) == ((n - 1) & 1, ((n - 1) >> 1) & 1)
    finally:
        check.close()


# --------------------------------------------------------------------------------------------
# clients that misbehave
# --------------------------------------------------------------------------------------------
def test_misbehaving_clients_do_not_stop_the_server(rw: gs.Served) -> None:
    good = client(rw)
    try:
        run(good, "write sysctrl.scratch 0x77")
        # 1. garbage, then a packet with a bad checksum: NAKed with '-'
        raw = gs.RawClient(rw.port)
        raw.send(b"\x00\xffhello\r\n#zz")
        raw.send(gs.damaged(b"m40000000,4"))
        assert raw.next() == ("oob", ord("-"))
        # ... and the retransmission is served
        assert raw.request(b"m40000000,4") == CHIP_ID.to_bytes(4, "little").hex().encode()
        raw.close()
        # 2. a truncated packet, then the client disconnects
        raw = gs.RawClient(rw.port)
        raw.send(b"$m40000000,4#")
        raw.close()
        # 3. a big read whose client vanishes before the reply is read
        raw = gs.RawClient(rw.port)
        raw.send(frame(b"m80000000,1000") * 20)
        raw.close()
        # 4. a client that connects and says nothing, left open
        idle = gs.RawClient(rw.port)
        # 5. an endless packet
        raw = gs.RawClient(rw.port)
        raw.send(b"$" + b"A" * 100_000)
        raw.close()
        time.sleep(0.2)
        assert rw.alive()
        # the good client, and a new one, are served as before
        assert data(good, "read --json sysctrl.scratch")["value"] == 0x77
        late = client(rw)
        try:
            assert data(late, "read --json sysctrl.chip_id")["value"] == CHIP_ID
        finally:
            late.close()
        idle.close()
    finally:
        good.close()


def test_interrupt_and_unknown_packets(ro: gs.Served) -> None:
    raw = gs.RawClient(ro.port)
    try:
        raw.send(b"+")
        raw.request(b"qSupported")
        assert raw.request(b"vMustReplyEmpty") == b""
        assert raw.request(b"vCont?") == b""  # no CPU: nothing to continue
        raw.send(b"\x03")  # ^C with nothing running: a stop reply all the same
        assert raw.reply() == b"S02"
        reply = raw.request(b"c")  # continue a CPU-less target
        assert reply == b"E01"
        assert raw.request(b"QStartNoAckMode") == b"OK"
        raw.packet(b"m40000000,4")  # no acks from here on
        kind, payload = raw.next()
        assert (kind, payload) == ("packet", b"010a0c5d")
    finally:
        raw.close()
    assert ro.alive()


# --------------------------------------------------------------------------------------------
# chained: socdbg -> socdbg serve -> QEMU
# --------------------------------------------------------------------------------------------
@pytest.fixture
def chained(tmp_path_factory: pytest.TempPathFactory, child_env: dict[str, str]
            ) -> Iterator[tuple[gs.Qemu, gs.Served]]:
    fw = gs.virt_firmware(tmp_path_factory)
    with gs.qemu(fw.path) as machine, gs.serve(
            ["--allow-writes"], ["-t", machine.spec, "--map", str(gs.VIRT_RDL)],
            env=child_env) as served:
        assert served.spec == machine.spec
        yield machine, served


def test_chained_through_serve_to_qemu_core_registers_and_devices(
        chained: tuple[gs.Qemu, gs.Served]) -> None:
    _, served = chained
    session = client(served, map_files=[str(gs.VIRT_RDL)])
    try:
        caps = data(session, "info --json")["capabilities"]
        assert {"core-registers", "halt", "step", "write"} <= set(caps)
        assert data(session, "core --json pc") == {"pc": gs.RESET_PC}
        run(session, "stepi")
        assert data(session, "core --json pc") == {"pc": gs.RESET_PC + 4}
        assert data(session, "read --json virtio[3].magic")["value"] == gs.VIRTIO_MAGIC
        assert data(session, "read --json uart.lsr")["value"] == gs.UART_LSR_RESET
        text = run(session, "monitor monitor info mtree").text  # to QEMU's own monitor
        assert "virtio-mmio" in text
    finally:
        session.close()


def test_gdb_reads_cpu_registers_of_qemu_through_serve(
        chained: tuple[gs.Qemu, gs.Served]) -> None:
    _, served = chained
    out = gs.gdb_batch(served.port, "info registers pc", "x/1wx 0x10001000",
                       "p/x $sp", timeout=20).stdout
    assert "pc             0x1000\t0x1000" in out
    assert "0x10001000:\t0x74726976" in out


def test_serve_offers_what_gdb_needs_to_single_step(
        chained: tuple[gs.Qemu, gs.Served]) -> None:
    _, served = chained
    raw = gs.RawClient(served.port)
    try:
        raw.send(b"+")
        features = raw.request(b"qSupported:vContSupported+").split(b";")
        actions = raw.request(b"vCont?").split(b";")
        assert b"vContSupported+" in features
        assert {b"c", b"C", b"s", b"S"} <= set(actions)
    finally:
        raw.close()


def test_a_cpu_stopping_by_itself_is_reported_to_the_client(
        chained: tuple[gs.Qemu, gs.Served], tmp_path_factory: pytest.TempPathFactory) -> None:
    _, served = chained
    done = gs.virt_firmware(tmp_path_factory).addr("done")
    raw = gs.RawClient(served.port, timeout=2.0)
    try:
        raw.send(b"+")
        raw.request(b"qSupported")
        # gdb's breakpoint at 'done' goes through the server to QEMU, which stops there
        assert raw.request(f"Z0,{done:x},4".encode()) == b"OK"
        raw.packet(b"c")
        try:
            stop = raw.reply()  # the firmware reaches done within microseconds
        except TimeoutError:
            pytest.fail("no stop reply within 2 s of the CPU hitting ebreak")
        assert stop[:1] in (b"T", b"S") and stop[1:3] == b"05"
    finally:
        raw.close()


@pytest.mark.parametrize("line", ["monitor dump -o /tmp/x.json", "monitor trace start x.vcd",
                                  "monitor reset", "monitor record start x.sdbg"])
def test_a_read_only_server_refuses_monitor_commands_that_change_things(
        ro: gs.Served, line: str) -> None:
    session = client(ro)
    try:
        with pytest.raises(SocdbgError, match=r"read-only|--allow-host-files"):
            execute(session, line)
    finally:
        session.close()


def test_monitor_target_cannot_escape_read_only(ro: gs.Served) -> None:
    session = client(ro)
    try:
        with pytest.raises(SocdbgError, match=r"cannot be changed|read-only"):
            execute(session, "monitor target sim")  # the server's target is fixed
        with pytest.raises(SocdbgError):
            execute(session, "monitor write sysctrl.scratch 7")
    finally:
        session.close()
