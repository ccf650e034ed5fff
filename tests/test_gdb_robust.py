"""The gdb target against a stub that misbehaves, and the RSP framing under Hypothesis.

A :class:`gdb_support.FakeStub` on 127.0.0.1 answers the handshake like a plain gdbserver
(ack mode, hex ``m``/``M``) and then damages, truncates, delays or drops replies on purpose.
The client must recover where the protocol lets it (NAK and retransmission, line noise) and
otherwise raise one TargetError line within its timeout: it never hangs and never returns a
guessed value. Every test that could hang measures its own time.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import time

import pytest
from gdb_support import Act, FakeStub, damaged, mem_request
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError
from socdbg.targets.gdb import GdbTarget, open_gdb
from socdbg.targets.rsp import (
    ESCAPED,
    Decoder,
    Packet,
    ProtocolError,
    checksum,
    escape,
    frame,
    unescape,
)

T = 0.5  # the client timeout of these tests (gdb://...?timeout=0.5)
LIMIT = 3.0  # nothing may take longer than this


def _target(stub: FakeStub, timeout: float = T) -> GdbTarget:
    return GdbTarget("127.0.0.1", stub.port, timeout)


def _good(stub: FakeStub, address: int, size: int) -> bytes:
    off = address - stub.base
    return bytes(stub.memory[off : off + size])


def _one_line(exc: SocdbgError) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def _fails(fn: object, *args: object) -> tuple[TargetError, float]:
    t0 = time.monotonic()
    with pytest.raises(TargetError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value, time.monotonic() - t0


# --------------------------------------------------------------------------------------------
# a well-behaved fake first: the baseline the misbehaviours are measured against
# --------------------------------------------------------------------------------------------
def test_fake_stub_baseline_handshake_read_write_and_pipelined_block() -> None:
    with FakeStub() as stub:
        t = _target(stub)
        assert t.read(0x1234, 4) == _good(stub, 0x1234, 4)
        t.write(0x2000, b"\xde\xad\xbe\xef")
        assert bytes(stub.memory[0x1000:0x1004]) == b"\xde\xad\xbe\xef"
        # 60 KiB: several 0x7fc-byte requests (PacketSize=1000) in flight at once
        assert t.read_block(0x1000, 0xF000) == bytes(stub.memory[:0xF000])
        assert b"+" in stub.received  # ack mode: the client acknowledged the replies
        t.close()
        assert stub.requests[-1] == b"D"  # closing detaches


def test_timeout_comes_from_the_target_string() -> None:
    with FakeStub() as stub:
        target = open_gdb(f"127.0.0.1:{stub.port}?timeout=0.5", Session().load_map)
        try:
            assert target.timeout == 0.5
            assert target.conn is not None and target.conn.timeout == 0.5
        finally:
            target.close()


@pytest.mark.parametrize("spec, words", [
    ("nohost", "expected gdb://HOST:PORT"),
    ("127.0.0.1:99999", "out of range"),
    ("127.0.0.1:1234?timeout=soon", "expected gdb://HOST:PORT"),
])
def test_bad_target_strings_are_one_line(spec: str, words: str) -> None:
    with pytest.raises(TargetError) as info:
        open_gdb(spec, Session().load_map)
    assert words in _one_line(info.value)


# --------------------------------------------------------------------------------------------
# damaged replies
# --------------------------------------------------------------------------------------------
def test_bad_checksum_is_naked_and_the_retransmission_is_used() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        good = _good(stub, 0x1100, 4).hex().encode()
        stub.behave = lambda p: Act(wire=damaged(good), on_nak=lambda n: frame(good)) \
            if hit(p) else None
        t = _target(stub)
        assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
        assert stub.naks == 1
        # the client keeps working afterwards, in step with the stub
        assert t.read(0x1200, 2) == _good(stub, 0x1200, 2)
        t.close()


def test_damaged_twice_then_good_still_succeeds() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        good = _good(stub, 0x1100, 4).hex().encode()
        stub.behave = lambda p: Act(
            wire=damaged(good),
            on_nak=lambda n: damaged(good) if n < 2 else frame(good)) if hit(p) else None
        t = _target(stub)
        assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
        assert stub.naks == 2
        t.close()


def test_always_bad_checksum_is_one_clear_target_error() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        good = _good(stub, 0x1100, 4).hex().encode()
        stub.behave = lambda p: Act(wire=damaged(good), on_nak=lambda n: damaged(good)) \
            if hit(p) else None
        t = _target(stub)
        exc, took = _fails(t.read, 0x1100, 4)
        assert "damaged" in _one_line(exc) and exc.hint and "checksum" in exc.hint
        assert took < LIMIT
        assert stub.naks >= 3  # it asked again before giving up
        t.close()


def test_bad_escape_at_the_end_of_a_packet_is_naked() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        good = _good(stub, 0x1100, 4).hex().encode()
        bad = b"0011}"  # an escape with nothing after it, correct checksum
        stub.behave = lambda p: Act(wire=frame(bad), on_nak=lambda n: frame(good)) \
            if hit(p) else None
        t = _target(stub)
        assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
        assert stub.naks == 1
        t.close()


# --------------------------------------------------------------------------------------------
# truncated, garbage, silence, closed
# --------------------------------------------------------------------------------------------
def test_truncated_reply_then_silence_times_out() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub(behave=lambda p: Act(wire=b"$0011") if hit(p) else None) as stub:
        session = Session(target=stub.spec + f"?timeout={T}", out=io.StringIO())
        try:
            exc, took = _fails(execute, session, "peek 0x1100")
            assert "no answer within 0.5 s" in _one_line(exc)
            assert T * 0.8 < took < LIMIT
        finally:
            session.close()


def test_garbage_before_a_good_reply_is_line_noise() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        good = _good(stub, 0x1100, 4).hex().encode()
        noise = b"\x00\xff\r\nhello world\x7f#ab"
        stub.behave = lambda p: Act(wire=noise + frame(good)) if hit(p) else None
        t = _target(stub)
        assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
        t.close()


def test_garbage_only_then_silence_times_out() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub(behave=lambda p: Act(wire=b"\x00\xffgarbage\r\n#zz") if hit(p)
                  else None) as stub:
        t = _target(stub)
        exc, took = _fails(t.read, 0x1100, 4)
        assert "no answer" in _one_line(exc) and took < LIMIT
        t.close()


def test_peer_that_accepts_and_never_answers() -> None:
    with FakeStub(silent=True) as stub:
        session = Session(target=stub.spec + f"?timeout={T}", out=io.StringIO())
        exc, took = _fails(execute, session, "info")
        text = _one_line(exc)
        assert text.startswith(f"gdb://127.0.0.1:{stub.port}: ")
        assert "not acknowledged" in text or "no answer" in text
        assert took < LIMIT
        # the session is still usable for everything that needs no target
        out = execute(session, "find chip_id")
        assert out is not None and "sysctrl.chip_id" in str(out.data)
        assert stub.received.startswith(b"+$qSupported")


def test_peer_that_acks_but_never_replies() -> None:
    with FakeStub(behave=lambda p: Act(wire=b"") if p.startswith(b"qSupported")
                  else None) as stub:
        exc, took = _fails(_target, stub)
        assert "no answer within 0.5 s" in _one_line(exc)
        assert took < LIMIT


def test_peer_that_closes_right_after_accepting() -> None:
    with FakeStub(behave=lambda p: Act(ack=False, close=True)) as stub:
        exc, took = _fails(_target, stub)
        assert "closed the connection" in _one_line(exc) and took < LIMIT


def test_peer_that_closes_mid_reply() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub(behave=lambda p: Act(wire=b"$00112", close=True) if hit(p)
                  else None) as stub:
        t = _target(stub)
        exc, took = _fails(t.read, 0x1100, 4)
        assert "closed the connection" in _one_line(exc) and took < LIMIT
        assert exc.hint and "reconnect" in exc.hint
        # and the next access fails at once, clearly, instead of hanging
        exc2, took2 = _fails(t.read, 0x1100, 4)
        assert took2 < LIMIT
        _one_line(exc2)
        t.close()


def test_peer_that_closes_mid_pipelined_block() -> None:
    hit = mem_request(0x1000 + 4 * 0x7FC, 0x7FC)  # the fifth request of the block
    with FakeStub(behave=lambda p: Act(wire=b"$0011", close=True) if hit(p)
                  else None) as stub:
        t = _target(stub)
        exc, took = _fails(t.read_block, 0x1000, 0x8000)
        text = _one_line(exc)
        assert "closed the connection" in text or "connection lost" in text
        assert took < LIMIT
        t.close()


def test_reconnect_after_the_peer_dropped_us() -> None:
    state = {"drop": True}

    def behave(p: bytes) -> Act | None:
        if mem_request(0x1100, 4)(p) and state["drop"]:
            state["drop"] = False
            return Act(close=True)
        return None

    with FakeStub(behave=behave) as stub:
        session = Session(target=stub.spec + f"?timeout={T}", out=io.StringIO())
        try:
            with pytest.raises(TargetError):
                execute(session, "peek 0x1100")
            out = execute(session, "reconnect")
            assert out is not None and out.text == f"reconnected to {stub.spec}"
            out = execute(session, "peek --json 0x1100")
            assert out is not None and out.data["words"] == [
                int.from_bytes(_good(stub, 0x1100, 4), "little")]
            assert stub.connections == 2
        finally:
            session.close()


# --------------------------------------------------------------------------------------------
# replies that are well framed but wrong
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, words", [
    (b"E14", "bus error: read of 4 byte(s) at 0x1100: the stub replied E14"),
    (b"0011", "asked 4 bytes at 0x1100, got 2"),
    (b"0011223344", "asked 4 bytes at 0x1100, got 5"),
    (b"zz11zz11", "malformed reply"),
    (b"", "the stub replied nothing"),
    (b"E.no access to that bus", "no access to that bus"),
])
def test_wrong_replies_are_errors_not_values(reply: bytes, words: str) -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub(behave=lambda p: Act(wire=frame(reply)) if hit(p) else None) as stub:
        t = _target(stub)
        exc, _ = _fails(t.read, 0x1100, 4)
        assert words in _one_line(exc)
        # one bad answer does not desynchronise the connection
        assert t.read(0x1200, 4) == _good(stub, 0x1200, 4)
        t.close()


def test_an_unsolicited_stop_reply_is_kept_aside() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        good = _good(stub, 0x1100, 4).hex().encode()
        stub.behave = lambda p: Act(wire=frame(b"T05thread:01;") + frame(good)) \
            if hit(p) else None
        t = _target(stub)
        assert t.read(0x1100, 4) == _good(stub, 0x1100, 4)
        assert t.conn is not None and t.conn.stops == [b"T05thread:01;"]
        t.close()


def test_console_output_packets_of_a_monitor_command_are_collected() -> None:
    def behave(p: bytes) -> Act | None:
        if p.startswith(b"qRcmd,"):
            return Act(wire=frame(b"O" + b"hello ".hex().encode())
                       + frame(b"O" + b"world\n".hex().encode()) + frame(b"OK"))
        return None

    with FakeStub(behave=behave) as stub:
        t = _target(stub)
        assert t.monitor("say hi") == "hello world\n"
        assert stub.requests[-1] == b"qRcmd," + b"say hi".hex().encode()
        t.close()


def test_a_late_reply_is_never_taken_for_the_next_requests_answer() -> None:
    hit = mem_request(0x1100, 4)
    with FakeStub() as stub:
        stub.behave = lambda p: Act(wire=frame(b"aabbccdd"), delay=T * 1.6) if hit(p) \
            else None
        t = _target(stub)
        _fails(t.read, 0x1100, 4)
        time.sleep(T * 1.6)  # the late reply arrives
        try:
            value = t.read(0x1200, 4)
        except TargetError:
            return  # refusing (reconnect first) is fine; a wrong value is not
        finally:
            t.close()
        assert value == _good(stub, 0x1200, 4), \
            f"read 0x1200 returned {value.hex()}, the late reply to the read of 0x1100"


# --------------------------------------------------------------------------------------------
# the framing, under Hypothesis
# --------------------------------------------------------------------------------------------
def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _feed(decoder: Decoder, data: bytes, cuts: list[int]) -> list[Packet]:
    out: list[Packet] = []
    for chunk in _chunked(data, cuts):
        out += decoder.feed(chunk)
    return out


CUTS = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=20)


@settings(deadline=None)
@given(payload=st.binary(max_size=600), cuts=CUTS)
@example(payload=b"$#}*", cuts=[1, 2, 3])
@example(payload=b"\x03+-", cuts=[])
def test_escape_frame_decode_round_trip(payload: bytes, cuts: list[int]) -> None:
    wire = frame(escape(payload))
    assert not any(b in wire[1:-3] for b in b"$#")  # nothing inside can end the packet
    packets = _feed(Decoder(), wire, cuts)
    assert packets == [Packet(payload=payload)]


@settings(deadline=None)
@given(payload=st.binary(max_size=300))
def test_unescape_undoes_escape(payload: bytes) -> None:
    escaped = escape(payload)
    assert unescape(escaped) == payload
    assert len(escaped) == len(payload) + sum(b in ESCAPED for b in payload)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(st.one_of(
    st.binary(max_size=80).map(lambda p: ("packet", p)),
    st.sampled_from([b"+", b"-", b"\x03"]).map(lambda b: ("oob", b)),
    st.binary(max_size=8).map(lambda b: ("noise", bytes(c for c in b if c not in b"$+-\x03"))),
), max_size=25), cuts=CUTS)
def test_a_stream_of_packets_acks_and_noise_decodes_in_order(
        items: list[tuple[str, bytes]], cuts: list[int]) -> None:
    wire = b"".join(frame(escape(v)) if k == "packet" else v for k, v in items)
    want = [Packet(payload=v) if k == "packet" else Packet(oob=v[0])
            for k, v in items if k != "noise"]
    decoder = Decoder()
    assert _feed(decoder, wire, cuts) == want
    assert decoder.bad == 0


@settings(deadline=None)
@given(soup=st.binary(max_size=2000), cuts=CUTS)
@example(soup=b"$}#" + f"{ord('}'):02x}".encode(), cuts=[])  # escape at the very end
@example(soup=b"$a*#" + f"{checksum(b'a*'):02x}".encode(), cuts=[])  # run length, no count
@example(soup=b"$*!#" + f"{checksum(b'*!'):02x}".encode(), cuts=[])  # nothing to repeat
@example(soup=b"$a*\x10#" + f"{checksum(b'a*' + bytes([16])):02x}".encode(), cuts=[])
@example(soup=b"$ab#zz$cd#", cuts=[4])
def test_byte_soup_never_raises_from_feed(soup: bytes, cuts: list[int]) -> None:
    decoder = Decoder()
    packets = _feed(decoder, soup, cuts)
    for p in packets:  # exactly one of: a payload, an out-of-band byte, a damaged packet
        assert (p.payload is not None) + (p.oob is not None) + p.bad == 1
        if p.oob is not None:
            assert p.oob in b"+-\x03"
    assert decoder.bad == sum(p.bad for p in packets)


@settings(deadline=None)
@given(soup=st.binary(max_size=500).map(lambda b: b.replace(b"$", b"")),
       payload=st.binary(max_size=100), cuts=CUTS)
def test_a_good_packet_after_noise_without_a_dollar_is_found(
        soup: bytes, payload: bytes, cuts: list[int]) -> None:
    packets = _feed(Decoder(), soup + frame(escape(payload)), cuts)
    assert packets and packets[-1] == Packet(payload=payload)


def test_an_endless_packet_is_dropped_and_decoding_goes_on() -> None:
    decoder = Decoder()
    out = decoder.feed(b"$" + b"a" * (Decoder.MAX_PACKET + 10))
    assert out == [] and decoder.bad == 1
    assert decoder.feed(frame(b"OK")) == [Packet(payload=b"OK")]


@settings(deadline=None)
@given(data=st.binary(max_size=100))
def test_unescape_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        unescape(data)


# run-length encoding, as a gdbserver sends it: a byte, '*', then chr(n + 29) for n more
# copies; counts whose character would be '$' or '#' (n = 7, 6) are never sent
RUNS = st.lists(st.tuples(st.integers(0x20, 0x7E).filter(lambda c: c not in b"$#}*"),
                          st.integers(1, 98)), max_size=20)


def _rle(runs: list[tuple[int, int]]) -> tuple[bytes, bytes]:
    wire, plain = bytearray(), bytearray()
    for c, total in runs:
        plain += bytes([c]) * total
        left = total
        while left:
            wire.append(c)
            left -= 1
            n = min(left, 97)
            while n in (6, 7):  # '#' and '$' cannot be counts
                n -= 1
            if n >= 3:
                wire += b"*" + bytes([n + 29])
                left -= n
    return bytes(wire), bytes(plain)


@settings(deadline=None)
@given(runs=RUNS, cuts=CUTS)
@example(runs=[(0x30, 4)], cuts=[])  # "0*!" = 0000
@example(runs=[(0x66, 98)], cuts=[])  # the longest run of one byte, then one more
def test_run_length_encoding_decodes(runs: list[tuple[int, int]], cuts: list[int]) -> None:
    wire, plain = _rle(runs)
    assert _feed(Decoder(), frame(wire), cuts) == [Packet(payload=plain)]


def test_run_length_examples() -> None:
    assert unescape(b"0* ") == b"0000"  # ' ' = 32 = 3 + 29: three more
    assert unescape(b"a*~") == b"a" * 98  # '~' = 126: 97 more, the most one pair can say


def test_a_run_after_an_escaped_byte_repeats_the_wire_byte() -> None:
    """gdbserver escapes binary data first, then run-length encodes the escaped bytes, and
    GDB expands runs over the wire bytes before undoing escapes: the data 0x23 0x03 0x03 0x03
    0x03 is "}\\x03\\x03\\x03\\x03\\x03" escaped and "}\\x03*!" encoded. (A decoder that repeats
    the unescaped byte gets five '#'.)"""
    wire = b"}\x03*" + bytes([4 + 29])
    assert unescape(wire) == b"#" + b"\x03" * 4
    assert Decoder().feed(frame(wire)) == [Packet(payload=b"#" + b"\x03" * 4)]


@settings(deadline=None)
@given(data=st.binary(max_size=200), cuts=CUTS)
def test_gdbserver_style_escape_then_run_length_round_trips(data: bytes, cuts: list[int]
                                                            ) -> None:
    wire = bytes(_rle_wire(escape(data)))
    assert _feed(Decoder(), frame(wire), cuts) == [Packet(payload=data)]


def _rle_wire(escaped: bytes) -> bytearray:
    """gdbserver's try_rle over already-escaped bytes: runs of 4+ equal bytes become
    ``X*n``, never with '#' or '$' as the count."""
    out = bytearray()
    i = 0
    while i < len(escaped):
        c = escaped[i]
        n = 1
        while i + n < len(escaped) and escaped[i + n] == c and n < 98:
            n += 1
        out.append(c)
        extra = n - 1
        while extra + 29 in (ord("#"), ord("$")):
            extra -= 1
        if extra >= 3:
            out += b"*" + bytes([extra + 29])
            i += extra + 1
        else:
            i += 1
    return out


@given(st.binary(max_size=5000))
@settings(max_examples=300, deadline=None)
def test_checksum_is_the_byte_sum_mod_256(payload: bytes) -> None:
    from socdbg.targets.rsp import checksum

    assert checksum(payload) == sum(payload) % 256
