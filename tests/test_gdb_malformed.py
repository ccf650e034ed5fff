"""Malformed replies from a stub never crash or hang the gdb target: each is one error line
that names what the stub sent. Then a fuzzing stub (Hypothesis): random sessions of reads,
block reads, monitor commands, CPU registers and simulated time against a stub that now and
then duplicates, truncates, damages, delays or garbles a reply. Only socdbg errors come out,
nothing waits longer than its timeout, and every value that does come out is what the stub's
memory holds."""

from __future__ import annotations

import random
import time

import pytest
from gdb_support import Act, FakeStub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socdbg.errors import SocdbgError, TargetError
from socdbg.targets.gdb import GdbTarget
from socdbg.targets.rsp import escape, frame

T = 0.3
LIMIT = 3.0

XML = (b'<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target>'
       b'<feature name="org.gnu.gdb.riscv.cpu">'
       b'<reg name="zero" bitsize="64" regnum="0"/><reg name="ra" bitsize="64"/>'
       b'<reg name="pc" bitsize="64" regnum="32"/></feature></target>')


def _one_line(exc: SocdbgError) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def _xfer(document: bytes, p: bytes) -> bytes:
    span = p.rsplit(b":", 1)[1]
    off_s, _, len_s = span.partition(b",")
    off, length = int(off_s, 16), int(len_s, 16)
    chunk = document[off : off + length]
    return (b"l" if off + length >= len(document) else b"m") + escape(chunk)


def _fails(fn: object, *args: object) -> TargetError:
    t0 = time.monotonic()
    with pytest.raises(TargetError) as info:
        fn(*args)  # type: ignore[operator]
    assert time.monotonic() - t0 < LIMIT
    return info.value


# --------------------------------------------------------------------------------------------
# one malformed reply each
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [b"zz", b"-10", b"", b"1" * 40])
def test_a_bad_packet_size_is_one_line_naming_it(size: bytes) -> None:
    with FakeStub(features=b"PacketSize=" + size) as stub:
        exc = _fails(GdbTarget, "127.0.0.1", stub.port, T)
        assert "malformed PacketSize" in _one_line(exc)
        assert repr(size.decode()[:20]) in str(exc)


def test_a_huge_packet_size_is_bounded() -> None:
    with FakeStub(features=b"PacketSize=ffffffff") as stub:
        t = GdbTarget("127.0.0.1", stub.port, T)
        try:
            assert t.packet_size == 1 << 20
            assert t.read_block(0x1000, 0x4000) == bytes(stub.memory[:0x4000])
        finally:
            t.close()


def _batch_stub(reply: bytes) -> FakeStub:
    return FakeStub(features=b"PacketSize=1000;socdbg-batch+",
                    behave=lambda p: Act(wire=frame(reply)) if p.startswith(b"qSocdbg.read")
                    else None)


@pytest.mark.parametrize("reply, words", [
    (b"zz11;00112233", "malformed batched read reply at 0x1100: b'zz11'"),
    (b"\xff\xfe;00112233", "malformed batched read reply at 0x1100"),
    (b"0011", "malformed batched read reply: 1 fields for 2 ranges (b'0011')"),
])
def test_non_hex_batched_read_replies_are_errors(reply: bytes, words: str) -> None:
    with _batch_stub(reply) as stub:
        t = GdbTarget("127.0.0.1", stub.port, T)
        try:
            try:
                got = t.read_ranges([(0x1100, 2), (0x1200, 4)])
            except TargetError as exc:
                assert words in _one_line(exc)
            else:
                assert isinstance(got[0], TargetError) and words in _one_line(got[0])
                assert got[1] == bytes.fromhex("00112233")
        finally:
            t.close()


@pytest.mark.parametrize("reply", [b"xyz", b"12 34", b"1" * 40])
def test_a_non_hex_qsocdbg_now_is_an_error(reply: bytes) -> None:
    with FakeStub(features=b"PacketSize=1000;socdbg-time+",
                  behave=lambda p: Act(wire=frame(reply)) if p == b"qSocdbg.now" else None
                  ) as stub:
        t = GdbTarget("127.0.0.1", stub.port, T)
        try:
            exc = _fails(lambda: t.now)
            assert f"malformed reply to qSocdbg.now: {reply[:24]!r}" in _one_line(exc)
        finally:
            t.close()


@pytest.mark.parametrize("reply", [b"2", b"yes"])
def test_a_malformed_until_reply_is_an_error(reply: bytes) -> None:
    with FakeStub(features=b"PacketSize=1000;socdbg-time+",
                  behave=lambda p: Act(wire=frame(reply)) if p.startswith(b"QSocdbg.until")
                  else None) as stub:
        t = GdbTarget("127.0.0.1", stub.port, T)
        try:
            exc = _fails(t.run_until_text, "sysctrl.status.ready == 1", 100)
            assert "malformed reply to QSocdbg.until" in _one_line(exc)
        finally:
            t.close()


@pytest.mark.parametrize("wire, words", [
    (frame(b"zzzz"), "the stub replied b'zzzz', neither OK nor hex text"),
    (frame(b"616"), "the stub replied b'616', neither OK nor hex text"),
    (frame(b"O616") + frame(b"OK"), "malformed console output packet b'O616'"),
])
def test_malformed_monitor_replies_are_errors(wire: bytes, words: str) -> None:
    with FakeStub(behave=lambda p: Act(wire=wire) if p.startswith(b"qRcmd") else None
                  ) as stub:
        t = GdbTarget("127.0.0.1", stub.port, T)
        try:
            exc = _fails(t.monitor, "info")
            assert words in _one_line(exc)
            assert t.read(0x1100, 4) == bytes(stub.memory[0x100:0x104])  # and goes on
        finally:
            t.close()


def _xml_stub(document: bytes) -> FakeStub:
    return FakeStub(features=b"PacketSize=1000;qXfer:features:read+",
                    behave=lambda p: Act(wire=frame(_xfer(document, p)))
                    if p.startswith(b"qXfer:features:read:") else None)


@pytest.mark.parametrize("reg, words", [
    (b'<reg name="a0" regnum="ten" bitsize="64"/>', "register 'a0' has regnum='ten'"),
    (b'<reg name="a0" regnum="-1" bitsize="64"/>', "register 'a0' has regnum='-1'"),
    (b'<reg name="a0" regnum="99999999" bitsize="64"/>', "regnum='99999999'"),
    (b'<reg name="a0" bitsize="sixty"/>', "register 'a0' has bitsize='sixty'"),
    (b'<reg name="a0" bitsize="1000000"/>', "bitsize='1000000' (expected a number up to"),
    (b'<reg name="a0" bitsize="0"/>', "register 'a0' has bitsize 0"),
])
def test_bad_regnum_or_bitsize_in_the_target_description(reg: bytes, words: str) -> None:
    document = b"<target><feature name='x'>" + reg + b"</feature></target>"
    with _xml_stub(document) as stub:
        t = GdbTarget("127.0.0.1", stub.port, T)
        try:
            exc = _fails(t.core_registers)
            assert "target description target.xml" in _one_line(exc) and words in str(exc)
        finally:
            t.close()


def test_a_qxfer_that_keeps_answering_m_with_no_data_ends() -> None:
    with FakeStub(features=b"PacketSize=1000;qXfer:features:read+",
                  behave=lambda p: Act(wire=frame(b"m")) if p.startswith(b"qXfer") else None
                  ) as stub:
        t = GdbTarget("127.0.0.1", stub.port, T)
        try:
            exc = _fails(t.core_registers)
            assert "answered qXfer target.xml at offset 0x0 with 'm' and no data" in \
                _one_line(exc)
        finally:
            t.close()


def test_a_qxfer_that_never_ends_is_bounded() -> None:
    with FakeStub(features=b"PacketSize=1000;qXfer:features:read+",
                  behave=lambda p: Act(wire=frame(b"m" + b"<" * 0xF00))
                  if p.startswith(b"qXfer") else None) as stub:
        t = GdbTarget("127.0.0.1", stub.port, 2.0)
        try:
            exc = _fails(t.core_registers)
            assert "larger than 1048576 bytes" in _one_line(exc)
        finally:
            t.close()


def test_a_good_description_still_reads() -> None:
    with _xml_stub(XML) as stub:
        t = GdbTarget("127.0.0.1", stub.port, T)
        try:
            assert [(r.name, r.regnum, r.bits) for r in t.core_registers()] == [
                ("zero", 0, 64), ("ra", 1, 64), ("pc", 32, 64)]
        finally:
            t.close()


# --------------------------------------------------------------------------------------------
# the fuzzing stub
# --------------------------------------------------------------------------------------------
class Fuzz:
    """A stub's misbehaviour, drawn from a seeded generator for each request."""

    def __init__(self, seed: int, rate: float) -> None:
        self.rnd = random.Random(seed)
        self.rate = rate
        self.stub: FakeStub | None = None
        self.carry = b""  # a reply the stub repeats before it answers the next request

    def good(self, p: bytes) -> bytes:
        assert self.stub is not None
        if p.startswith(b"qXfer:features:read:"):
            return _xfer(XML, p)
        if p.startswith(b"p"):
            return (int(p[1:], 16) * 0x1111).to_bytes(8, "little").hex().encode()
        if p == b"qSocdbg.now":
            return b"2a"
        if p.startswith(b"qRcmd,"):
            return b"OK"
        if p == b"vCont?":
            return b"vCont;c;C;s;S"
        return self.stub.answer(p)

    def __call__(self, p: bytes) -> Act | None:
        act = self._act(p)
        carry, self.carry = self.carry, b""
        if carry and act is not None:  # the repeat goes out before the stub reads on
            act = Act(wire=carry + (b"+" if act.ack else b"") + act.wire, ack=False,
                      delay=act.delay, close=act.close, on_nak=act.on_nak)
        return act

    def _act(self, p: bytes) -> Act | None:
        good = frame(self.good(p))
        if p.startswith(b"qRcmd,"):
            good = frame(b"O" + b"hello\n".hex().encode()) + good
        r = self.rnd
        if r.random() >= self.rate:
            return Act(wire=good)
        kind = r.choice(["dup", "dup-late", "truncate", "garbage", "damaged", "late",
                         "wrong-length", "noise", "odd-output", "nak", "close"])
        if kind == "dup":
            return Act(wire=good + good)
        if kind == "dup-late":  # the same reply again, in its own segment, before the
            self.carry = good  # stub reads the next request (a repeat sent after the stub
            return Act(wire=good)  # acked the next request looks like its answer: see docs)
        if kind == "truncate":
            return Act(wire=good[: r.randrange(1, len(good))])
        if kind == "garbage":
            return Act(wire=frame(bytes(r.randrange(256) for _ in range(r.randrange(12)))))
        if kind == "damaged":
            return Act(wire=good[:-1] + (b"0" if good[-1:] != b"0" else b"1"))
        if kind == "late":
            return Act(wire=good, delay=FUZZ_T * 1.3)
        if kind == "wrong-length":  # (a wrong value of the right form cannot be caught)
            return Act(wire=frame(self.good(p) + b"00" if p[:1] in (b"m", b"p") else b"?!"))
        if kind == "noise":
            return Act(wire=b"\x00junk#zz" + good)
        if kind == "odd-output":
            return Act(wire=frame(b"O616") + good)
        if kind == "nak":
            return Act(ack=False, wire=b"-")
        return Act(wire=good[: r.randrange(0, len(good))], close=True)


OPS = st.lists(st.tuples(st.sampled_from(["read", "block", "monitor", "core", "now",
                                          "ranges"]),
                         st.integers(0, 0xE000), st.integers(1, 0x1800)),
               min_size=20, max_size=80)
FUZZ_T = 0.1  # the fuzzed client's timeout: late replies and silences cost this much


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32), rate=st.sampled_from([0.02, 0.1, 0.3]), ops=OPS)
def test_random_sessions_against_a_misbehaving_stub(seed: int, rate: float,
                                                    ops: list[tuple[str, int, int]]) -> None:
    fuzz = Fuzz(seed, rate)
    with FakeStub(features=b"PacketSize=1000;qXfer:features:read+;socdbg-time+",
                  behave=fuzz) as stub:
        fuzz.stub = stub
        memory = bytes(stub.memory)
        t: GdbTarget | None = None
        try:
            for op, off, size in ops:
                t0 = time.monotonic()
                try:
                    if t is None:
                        t = GdbTarget("127.0.0.1", stub.port, FUZZ_T)
                    address = stub.base + off
                    if op == "read":
                        n = (1, 2, 4, 8)[size % 4]
                        assert t.read(address, n) == memory[off : off + n]
                    elif op == "block":
                        assert t.read_block(address, size) == memory[off : off + size]
                    elif op == "ranges":
                        got = t.read_ranges([(address, 4), (address + 8, 8)])
                        for want, value in zip((memory[off : off + 4],
                                                memory[off + 8 : off + 16]), got,
                                               strict=True):
                            assert isinstance(value, TargetError) or value == want
                    elif op == "monitor":
                        assert t.monitor("hi") == "hello\n"
                    elif op == "core":
                        assert t.read_core_register("pc") == 32 * 0x1111
                    else:
                        assert t.now == 0x2A
                except SocdbgError as exc:
                    _one_line(exc)
                    if t is not None and t.conn is not None and t.conn.lost:
                        t.close()
                        t = None  # the stub hung up: open a new connection, as a user would
                took = time.monotonic() - t0
                # a handshake of about ten requests, each with its own timeout, plus the op
                assert took < 12 * FUZZ_T + 1.0, (op, took)
        finally:
            if t is not None:
                t.close()
