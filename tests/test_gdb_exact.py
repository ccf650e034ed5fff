"""The gdb target never gives a reply to the wrong request: Ctrl-C and timeouts in the middle
of a pipelined read, stubs that duplicate replies, and a stop reply that arrives together
with the acknowledgement of ``c``. Against :class:`gdb_support.FakeStub` (deterministic) and
a real QEMU (the same defects, end to end through the commands)."""

from __future__ import annotations

import contextlib
import io
import signal
import threading
import time
from collections.abc import Iterator

import firmware_build as fb
import gdb_support as gs
import pytest
from gdb_support import Act, FakeStub, mem_request

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError
from socdbg.targets.gdb import GdbTarget
from socdbg.targets.rsp import frame

T = 0.5


def _target(stub: FakeStub, timeout: float = T) -> GdbTarget:
    return GdbTarget("127.0.0.1", stub.port, timeout)


def _good(stub: FakeStub, address: int, size: int) -> bytes:
    off = address - stub.base
    return bytes(stub.memory[off : off + size])


@contextlib.contextmanager
def ctrl_c_after(seconds: float) -> Iterator[None]:
    """A real SIGINT to this (the main) thread after ``seconds``, as a terminal's Ctrl-C: a
    blocked read returns with EINTR and Python raises KeyboardInterrupt."""
    assert threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(seconds, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------------------------
# Ctrl-C and timeouts in a pipelined read
# --------------------------------------------------------------------------------------------
def test_ctrl_c_mid_pipelined_read_never_shifts_later_replies() -> None:
    reads = [0]
    with FakeStub() as stub:
        stub.memory[:] = bytes((i * 7 + 3) & 0xFF for i in range(len(stub.memory)))

        def behave(p: bytes) -> Act | None:
            if p[:1] == b"m":
                reads[0] += 1
                if reads[0] > 3:  # the pipeline fills, then every reply is slow
                    return Act(wire=frame(stub.answer(p)), delay=0.05)
            return None

        stub.behave = behave
        t = _target(stub, timeout=2.0)
        try:
            with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.15):
                t.read_block(0x1000, 0xF000)
            assert t.conn is not None and t.conn.broken == "an exchange was interrupted"
            reads[0] = -(10**9)  # from now on the stub answers at once
            # the replies still in flight belong to the old connection: the next access
            # opens a new one and reads what memory holds
            for address in (0x1100, 0x2345, 0x8000):
                assert t.read(address, 4) == _good(stub, address, 4)
            assert t.read_block(0x1000, 0x3000) == _good(stub, 0x1000, 0x3000)
            assert stub.connections == 2
        finally:
            t.close()


def test_a_timed_out_pipelined_read_then_late_replies_are_never_used() -> None:
    hit = mem_request(0x1000 + 2 * 0x7FC, 0x7FC)
    late = [True]
    with FakeStub() as stub:
        def behave(p: bytes) -> Act | None:
            if hit(p) and late[0]:
                late[0] = False
                return Act(wire=frame(stub.answer(p)), delay=T * 1.5)
            return None

        stub.behave = behave
        t = _target(stub)
        try:
            with pytest.raises(TargetError, match=r"no answer within 0\.5 s"):
                t.read_block(0x1000, 0x4000)
            time.sleep(T * 1.2)  # the late reply and the ones queued behind it arrive
            assert t.read(0x1200, 4) == _good(stub, 0x1200, 4)
            assert t.read_block(0x3000, 0x1000) == _good(stub, 0x3000, 0x1000)
        finally:
            t.close()


# --------------------------------------------------------------------------------------------
# a stub that duplicates replies
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("together", [True, False], ids=["same-segment", "later-segment"])
def test_a_duplicated_reply_is_dropped_not_taken_for_the_next(together: bool) -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        def behave(p: bytes) -> Act | None:
            if hit(p):
                reply = frame(stub.answer(p))
                return Act(wire=reply + reply) if together else Act(wire=reply)
            return None

        stub.behave = behave
        t = _target(stub)
        try:
            assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
            if not together:  # the stub repeats its reply a moment later, on its own
                stub._socks[-1].sendall(frame(stub.answer(b"m1100,4")))
                time.sleep(0.05)
            for address in (0x1200, 0x1300, 0x1400):
                assert t.read(address, 4) == _good(stub, address, 4)
            assert t.conn is not None and t.conn.strays == 1
        finally:
            t.close()


def test_every_reply_duplicated_in_a_pipelined_read_gives_the_right_bytes() -> None:
    with FakeStub() as stub:
        stub.behave = lambda p: Act(wire=frame(stub.answer(p)) * 2) if p[:1] == b"m" else None
        t = _target(stub)
        try:
            assert t.read_block(0x1000, 0x8000) == _good(stub, 0x1000, 0x8000)
            assert t.read(0x1234, 4) == _good(stub, 0x1234, 4)
        finally:
            t.close()


def test_no_ack_mode_drops_a_duplicate_that_waits_on_the_socket() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub(features=b"PacketSize=1000;QStartNoAckMode+") as stub:
        noack = [False]

        def behave(p: bytes) -> Act | None:
            if p == b"QStartNoAckMode":
                noack[0] = True
                return Act(wire=frame(b"OK"))
            if not noack[0]:
                return None
            reply = frame(stub.answer(p))
            return Act(wire=reply + reply if hit(p) else reply, ack=False)

        stub.behave = behave
        t = _target(stub)
        try:
            assert t.conn is not None and not t.conn.ack_mode
            assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
            time.sleep(0.05)
            assert t.read(0x1200, 4) == _good(stub, 0x1200, 4)
            assert t.conn.strays == 1
        finally:
            t.close()


# --------------------------------------------------------------------------------------------
# the stop reply that came with the ack of 'c'
# --------------------------------------------------------------------------------------------
def test_a_stop_in_the_same_segment_as_the_ack_of_continue_is_reported() -> None:
    with FakeStub(features=b"PacketSize=1000;vContSupported+") as stub:
        stub.behave = lambda p: (Act(ack=False, wire=b"+" + frame(b"T05thread:01;"))
                                 if p == b"c" else
                                 Act(wire=frame(b"vCont;c;C;s;S")) if p == b"vCont?"
                                 else None)
        t = _target(stub)
        try:
            t.resume()
            assert t.running
            stop = t.poll_stop()  # no new bytes on the socket: the stop came with the ack
            assert stop is not None and stop.signal == 5 and not t.running
            assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)  # and the stream is in step
        finally:
            t.close()


def test_a_stale_stop_seen_while_halted_is_not_taken_for_the_next_run() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        stub.behave = lambda p: (Act(wire=frame(b"T05thread:01;") + frame(stub.answer(p)))
                                 if hit(p) else Act(wire=b"") if p == b"c" else None)
        t = _target(stub)
        try:
            assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
            t.resume()
            assert t.poll_stop() is None and t.running
        finally:
            t.conn = None  # a running fake CPU: no halt, no detach


# --------------------------------------------------------------------------------------------
# QEMU: the same, end to end
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fw(tmp_path_factory: pytest.TempPathFactory) -> fb.Firmware:
    return gs.virt_firmware(tmp_path_factory)


@pytest.mark.slow
def test_qemu_peek_after_an_interrupted_memory_dump_shows_ram(fw: fb.Firmware,
                                                               tmp_path: object) -> None:
    with gs.qemu(fw.path) as machine:
        session = Session(target=machine.spec, map_files=[str(gs.VIRT_RDL)],
                          out=io.StringIO(), width=120)
        try:
            at = gs.RAM + 0x40_0000
            session.target.write_block(at, b"\xff" * 0x1000)  # ones where RAM was zeros
            assert session.map.name == "qemu_virt"  # compiled now: Ctrl-C lands in reads
            # the dump spends most of its time decoding, not waiting: interrupt it at
            # several moments so that some of them land with requests in flight
            for delay in (0.2, 0.23, 0.26, 0.3, 0.33, 0.37, 0.41, 0.45):
                with ctrl_c_after(delay):
                    try:
                        done = execute(session,
                                       f"dump -o {tmp_path}/d.json --exclude '*' --memory ram")
                    except KeyboardInterrupt:
                        done = None
                assert done is None, (delay, done)
                out = execute(session, f"peek --json -w 32 {at:#x} 4")
                assert out is not None and out.data["words"] == [0xFFFF_FFFF] * 4, delay
                out = execute(session, f"peek --json -w 32 {at + 0x1000:#x} 1")
                assert out is not None and out.data["words"] == [0], delay
            magic = execute(session, "read --json virtio[0].magic")
            assert magic is not None and magic.data["value"] == gs.VIRTIO_MAGIC
        finally:
            session.close()


@pytest.mark.slow
def test_qemu_breakpoint_stop_is_reported_every_time(fw: fb.Firmware) -> None:
    """The firmware reaches ``done`` within microseconds of ``c``: QEMU's stop reply often
    comes in the same read as the ack. Ten runs, each must report the stop."""
    done = fw.addr("done")
    with gs.qemu(fw.path) as machine:
        target = GdbTarget(gs.HOST, machine.port)
        try:
            for _run in range(10):
                target.monitor("system_reset")
                target.write_block(fw.addr("counter"), (0x1234).to_bytes(4, "little"))
                target.write_core_register("pc", fw.entry)
                assert target.breakpoint(f"Z0,{done:x},4".encode()) == b"OK"
                target.resume()
                deadline = time.monotonic() + 5
                stop = None
                while stop is None and time.monotonic() < deadline:
                    stop = target.poll_stop()
                    time.sleep(0.001)
                assert stop is not None and stop.signal == 5, "the stop reply was lost"
                assert target.read_core_register("pc") == done
                assert target.breakpoint(f"z0,{done:x},4".encode()) == b"OK"
        finally:
            target.close()


# --------------------------------------------------------------------------------------------
# write-only registers are never read
# --------------------------------------------------------------------------------------------
def test_a_write_only_register_is_never_read(tmp_path: object) -> None:
    """uart.thr shares its address with uart.rbr: reading it would pop a received byte."""
    with FakeStub(base=0x1000_0000) as stub:
        session = Session(target=stub.spec + f"?timeout={T}", map_files=[str(gs.VIRT_RDL)],
                          out=io.StringIO(), width=120)
        try:
            before = len(stub.requests)
            with pytest.raises(SocdbgError) as info:
                execute(session, "read uart.thr")
            assert info.value.message == "read: uart.thr is write-only: it is not read"
            assert "\n" not in str(info.value)
            assert info.value.hint is not None and "uart.rbr" in info.value.hint
            with pytest.raises(SocdbgError, match="write-only"):
                execute(session, "read uart.thr.data")
            out = execute(session, "read --json 'uart.*'")
            assert out is not None and "uart.thr" not in {d["path"] for d in out.data}
            execute(session, f"dump -o {tmp_path}/d.json --include 'uart.*' "
                             "--memory 0x10000000+8")
            reads = [p for p in stub.requests[before:] if p[:1] == b"m"]
            assert reads and not any(p.startswith(b"m10000000,") for p in reads), reads
        finally:
            session.close()


# --------------------------------------------------------------------------------------------
# simulated runs behind socdbg serve: the connection's timeout and Ctrl-C, not 600 s
# --------------------------------------------------------------------------------------------
def _time_stub(delay: float, hang: bool = False) -> FakeStub:
    def behave(p: bytes) -> Act | None:
        if p.startswith(b"QSocdbg.step:"):
            return Act(wire=b"" if hang else frame(b"OK"), delay=delay)
        if p.startswith(b"QSocdbg.until:"):
            return Act(wire=frame(b"0"), delay=delay)
        return None

    return FakeStub(features=b"PacketSize=1000;socdbg-time+", behave=behave)


def test_a_long_step_goes_in_chunks_that_each_answer_within_the_timeout() -> None:
    with _time_stub(0.0) as stub:
        t = _target(stub)
        try:
            t.step(10_000_000)
            steps = [int(p.split(b":")[1], 16) for p in stub.requests
                     if p.startswith(b"QSocdbg.step:")]
            assert sum(steps) == 10_000_000 and len(steps) > 1
            assert t.run_until_text("sysctrl.status.ready == 1", 3_000_000) is False
            until = [int(p.split(b":")[1], 16) for p in stub.requests
                     if p.startswith(b"QSocdbg.until:")]
            assert sum(until) == 3_000_000
        finally:
            t.close()


def test_a_step_that_never_answers_times_out_with_the_connection() -> None:
    with _time_stub(0.0, hang=True) as stub:
        t = _target(stub)
        try:
            t0 = time.monotonic()
            with pytest.raises(TargetError, match=r"no answer within 0\.5 s"):
                t.step(100)
            assert time.monotonic() - t0 < 2.0
        finally:
            t.close()


def test_ctrl_c_stops_a_step_and_the_next_access_reconnects() -> None:
    with _time_stub(0.3) as stub:
        t = _target(stub, timeout=5.0)
        try:
            t0 = time.monotonic()
            with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.1):
                t.step(1)
            assert time.monotonic() - t0 < 1.0
            assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
            assert stub.connections == 2
        finally:
            t.close()
