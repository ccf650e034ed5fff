"""One socket to a GDB Remote Serial Protocol stub: framing, acknowledgements, timeouts,
pipelined requests. The gdb target builds on it.

Exactness rules (a reply is never given to the wrong request):

- Every exchange counts what it sent, what the stub acknowledged and what it answered. In ack
  mode the stub acknowledges a packet (``+``) before it answers it, so a reply that arrives
  before the acknowledgement of the request it would answer was sent before the stub saw that
  request: a duplicate or a retransmission of an earlier reply. It is dropped (``strays``),
  never taken as an answer. In no-ack mode anything already waiting on the socket before a
  request goes out is dropped the same way.
- An exchange that does not finish (a timeout, Ctrl-C, a damaged or rejected pipelined
  packet, the stub going away) marks the connection ``broken``: replies may still be in
  flight, so it is never used again. The gdb target opens a new one before its next access.
- The acknowledgement of a reply is not sent on its own: it goes out with the next request
  (or ^C, or the close), one system call less per exchange. A stub that waits for it before
  reading further (gdbserver, OpenOCD) gets it before the next packet, as the protocol wants.

The socket is blocking with kernel receive and send timeouts (``SO_RCVTIMEO``), so a read is
one system call, not a poll and a read.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from socdbg.errors import TargetError
from socdbg.targets.rsp import Decoder, Packet, frame

DEFAULT_TIMEOUT = 5.0
RETRIES = 3
#: requests kept in flight by request_many. Measured on QEMU 7.2 (1 MiB in 0x800-byte
#: reads, median of 5): 8: 122 ms, 16: 100 ms, 32: 100 ms, 64: 86 ms, 128: 78 ms; a whole
#: qemu_virt register dump (209 reads): 1: 11.3 ms, 16: 5.6 ms, 64: 3.1 ms
PIPELINE = 64

_PLUS, _MINUS = ord("+"), ord("-")
_STOP = (b"T", b"S", b"W", b"X")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _is_hex(data: bytes) -> bool:
    return bool(data) and all(c in _HEX for c in data)


def _error_code(reply: bytes) -> str | None:
    """``E14`` for a numbered error, the text of an ``E.text`` error, or None."""
    if len(reply) == 3 and reply[:1] == b"E" and _is_hex(reply[1:]):
        return reply.decode()
    if reply.startswith(b"E."):
        return reply[2:].decode(errors="replace")
    return None


def _answers_with_stop(payload: bytes) -> bool:
    """Requests whose proper answer is a stop reply (``?``, step, continue, vCont)."""
    return payload[:1] in (b"?", b"s", b"S", b"c", b"C") or payload.startswith(b"vCont;")


def _timeval(seconds: float) -> bytes:
    """A ``struct timeval``; never zero, which would mean no timeout at all."""
    whole = int(seconds)
    micros = int((seconds - whole) * 1e6)
    return struct.pack("@ll", whole, micros if whole or micros else 1000)


class _NoAnswer(Exception):
    """The deadline passed with nothing (more) from the stub."""


class RspConnection:
    """One socket to a stub: framing, acks, timeouts, in-step replies."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.ack_mode = True
        self.broken: str | None = None  # why the stream can no longer be trusted
        self.lost = False  # the stub closed or reset the connection
        self.stops: list[bytes] = []  # stop replies that arrived while no request wanted one
        self.strays = 0  # replies dropped because they answered no outstanding request
        self._decoder = Decoder()
        self._pending: deque[Packet] = deque()
        self._owed = 0  # acks for received packets, sent in front of the next bytes out
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise TargetError(f"gdb://{host}:{port}: cannot connect: {exc.strerror or exc}",
                              "is the stub running and listening on that port?") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)  # blocking: the kernel times reads and writes out
        self._rcvtimeo = 0.0
        self._arm(timeout)
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(timeout))

    @property
    def where(self) -> str:
        return f"gdb://{self.host}:{self.port}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def owe_ack(self) -> None:
        """One more acknowledgement to send with the next bytes (ack mode only)."""
        if self.ack_mode:
            self._owed += 1

    # --- bytes ---------------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        """The kernel receive timeout, changed only when it is far from what is wanted (a
        read may overrun its deadline by at most 2 % of the connection timeout)."""
        seconds = max(0.001, seconds)
        if 0.5 * seconds <= self._rcvtimeo <= seconds + 0.02 * self.timeout + 0.001:
            return
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(seconds))
        except OSError:
            self.sock.settimeout(seconds)  # no kernel timeouts here: Python's own
        self._rcvtimeo = seconds

    def _fail(self, why: str, exc: TargetError) -> TargetError:
        self.broken = self.broken or why
        return exc

    @contextlib.contextmanager
    def _exchange(self, why: Callable[[], str], silence: str, hint: str) -> Iterator[None]:
        """Around one exchange: silence past its deadline (``why()`` says what was left
        unanswered), a stub error, or Ctrl-C (replies may still be on their way) marks the
        connection out of step, so no later request takes a reply meant for this one."""
        try:
            yield
        except _NoAnswer:
            raise self._fail(why(), TargetError(f"{self.where}: {silence}", hint)) from None
        except TargetError as exc:
            self._fail(exc.message.removeprefix(self.where + ": "), exc)
            raise
        except BaseException:
            self.broken = self.broken or "an exchange was interrupted"
            raise

    def _lost(self, text: str) -> TargetError:
        self.lost = True
        return self._fail("the connection was lost",
                          TargetError(f"{self.where}: {text}", "reconnect when the stub is back"))

    def send_raw(self, data: bytes) -> None:
        """``data`` as is, after any acknowledgements owed."""
        if self._owed:
            data = b"+" * self._owed + data
            self._owed = 0
        try:
            self.sock.sendall(data)
        except OSError as exc:
            if isinstance(exc, BlockingIOError | TimeoutError):
                raise self._fail("a send timed out", TargetError(
                    f"{self.where}: the stub takes no data (send timed out)",
                    "the stub is hung; reconnect")) from None
            raise self._lost(f"connection lost while sending ({exc.strerror or exc})") from None

    def _fill(self, deadline: float) -> None:
        """Wait for bytes until ``deadline`` and decode them into the pending packets."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _NoAnswer
            self._arm(left)
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, TimeoutError):
                continue
            except OSError as exc:
                raise self._lost(f"connection lost ({exc.strerror or exc})") from None
            if not data:
                raise self._lost("the stub closed the connection")
            self._pending.extend(self._decoder.feed(data))
            return

    def poll(self) -> None:
        """Decode whatever has arrived, without waiting."""
        while True:
            try:
                data = self.sock.recv(65536, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                raise self._lost(f"connection lost ({exc.strerror or exc})") from None
            if not data:
                raise self._lost("the stub closed the connection")
            self._pending.extend(self._decoder.feed(data))
            if len(data) < 65536:
                return

    def _stray(self, payload: bytes) -> None:
        if payload[:1] in _STOP:
            self.stops.append(payload)  # a CPU stop nobody asked for: keep it for the reader
        else:
            self.strays += 1
        self.owe_ack()

    def _check(self) -> None:
        if self.broken is not None:
            raise TargetError(f"{self.where}: {self.broken}; replies may be out of step",
                              "reconnect" if not self.lost else
                              "reconnect when the stub is back")

    def _sweep(self) -> None:
        """No-ack mode: drop replies that arrived while no request was outstanding."""
        self.poll()
        while self._pending:
            pkt = self._pending.popleft()
            if pkt.payload is not None:
                self._stray(pkt.payload)

    # --- packets -------------------------------------------------------------------------
    def exchange(self, payloads: Sequence[bytes], window: int = 1,
                 on_output: Callable[[bytes], None] | None = None,
                 timeout: float | None = None) -> list[bytes]:
        """Send ``payloads`` with up to ``window`` unanswered at a time; their replies, in
        order. ``O`` console-output packets go to ``on_output`` (qRcmd) and are otherwise
        skipped; stop replies to requests that do not ask for one are kept in ``stops``.
        Alone in flight, a packet the stub NAKs is sent again and a damaged reply is NAKed
        and awaited again; pipelined, either breaks the connection. ``timeout`` is the wait
        for each reply (default: the connection's)."""
        self._check()
        wait = timeout or self.timeout
        n = len(payloads)
        replies: list[bytes] = []
        sent = acked = naks = damaged = 0

        def unanswered() -> str:
            left = "a request" if n == 1 else f"{n - len(replies)} of {n} pipelined requests"
            return f"{left} timed out"

        with self._exchange(unanswered, f"no answer within {wait:g} s",
                            "the stub is hung, busy or not a GDB stub"):
            if not self.ack_mode:
                self._sweep()
            deadline = time.monotonic() + wait
            while len(replies) < n:
                if sent < n and sent - len(replies) < window:
                    out = bytearray()
                    while sent < n and sent - len(replies) < window:
                        out += frame(payloads[sent])
                        sent += 1
                    self.send_raw(bytes(out))
                    if not self.ack_mode:
                        acked = sent
                    deadline = time.monotonic() + wait
                if not self._pending:
                    self._fill(deadline)
                while self._pending and len(replies) < n:
                    pkt = self._pending.popleft()
                    if pkt.oob is not None:
                        if pkt.oob == _PLUS and acked < sent:
                            acked += 1
                        elif pkt.oob == _MINUS and self.ack_mode and acked < sent:
                            if sent - len(replies) > 1:
                                raise TargetError(f"{self.where}: the stub rejected a "
                                                  "pipelined packet", "reconnect")
                            naks += 1
                            if naks >= RETRIES:
                                raise TargetError(
                                    f"{self.where}: packet not acknowledged after {RETRIES} "
                                    "tries", "the link is corrupting data")
                            self.send_raw(frame(payloads[acked]))
                            deadline = time.monotonic() + wait
                        continue  # an extra ack, or ^C from the stub: nothing to do
                    if acked <= len(replies):
                        # before the ack of the request it would answer: sent earlier
                        if pkt.payload is not None:
                            self._stray(pkt.payload)
                        continue
                    if pkt.bad:
                        if sent - len(replies) > 1:
                            raise TargetError(f"{self.where}: damaged reply in a pipelined "
                                              "read", "reconnect")
                        if self._pending or on_output is not None:
                            # more came after it before our NAK could be seen: what the
                            # stub sends again is no longer certain to be the damaged one
                            raise TargetError(f"{self.where}: a damaged packet with more "
                                              "behind it", "check the link; reconnect")
                        damaged += 1
                        if damaged > RETRIES:
                            raise TargetError(f"{self.where}: replies keep arriving damaged",
                                              "bad checksums: check the link")
                        if self.ack_mode:
                            self.send_raw(b"-")
                        deadline = time.monotonic() + wait
                        continue
                    payload = pkt.payload
                    assert payload is not None
                    self.owe_ack()
                    request = payloads[len(replies)]
                    if payload[:1] in _STOP and not _answers_with_stop(request):
                        self.stops.append(payload)
                        continue
                    if payload[:1] == b"O" and payload != b"OK" and _is_hex(payload[1:]) \
                            and not request.startswith(b"qXfer"):
                        if len(payload) % 2 == 0:
                            raise TargetError(f"{self.where}: malformed console output "
                                              f"packet {payload[:24]!r} (odd-length hex)")
                        if on_output is not None:
                            on_output(bytes.fromhex(payload[1:].decode()))
                        deadline = time.monotonic() + wait
                        continue
                    replies.append(payload)
                    damaged = 0
                    deadline = time.monotonic() + wait
        return replies

    def request(self, payload: bytes, on_output: Callable[[bytes], None] | None = None,
                timeout: float | None = None) -> bytes:
        """Send a packet and return its reply (see :meth:`exchange`)."""
        return self.exchange((payload,), 1, on_output, timeout)[0]

    def request_many(self, payloads: Sequence[bytes], window: int = PIPELINE) -> list[bytes]:
        """Several requests with up to ``window`` in flight; replies in order. The acks of
        the replies taken and the requests that refill the window go out together in one
        send, so a bulk read costs a system call per batch, not two per packet."""
        return self.exchange(payloads, window)

    def command(self, payload: bytes) -> None:
        """Send a packet whose answer comes later, if at all (``c``, ``D``): in ack mode wait
        for its acknowledgement (and send it again on ``-``). What follows the ack stays
        pending for the reader (the stop reply of a ``c``)."""
        self._check()
        with self._exchange(lambda: "a packet was not acknowledged",
                            f"no answer within {self.timeout:g} s",
                            "the stub is hung, busy or not a GDB stub"):
            if not self.ack_mode:
                self._sweep()
            self.send_raw(frame(payload))
            if not self.ack_mode:
                return
            deadline = time.monotonic() + self.timeout
            naks = 0
            while True:
                if not self._pending:
                    self._fill(deadline)
                pkt = self._pending.popleft()
                if pkt.oob == _PLUS:
                    return
                if pkt.oob == _MINUS:
                    naks += 1
                    if naks >= RETRIES:
                        raise TargetError(f"{self.where}: packet not acknowledged after "
                                          f"{RETRIES} tries", "the link is corrupting data")
                    self.send_raw(frame(payload))
                elif pkt.payload is not None:
                    self._stray(pkt.payload)

    def take_stop(self) -> bytes | None:
        """A stop reply that has arrived (decoded, or waiting on the socket), else None.
        Never blocks."""
        self._check()
        if not self.stops:
            try:
                self.poll()
            except BaseException:
                self.broken = self.broken or "an exchange was interrupted"
                raise
            while self._pending:
                pkt = self._pending.popleft()
                if pkt.payload is not None:
                    self._stray(pkt.payload)  # a stop goes to self.stops
        return self.stops.pop(0) if self.stops else None

    def wait_stop(self, timeout: float | None = None) -> bytes:
        """Wait for a stop reply (after ^C or a step)."""
        self._check()
        wait = timeout or self.timeout
        deadline = time.monotonic() + wait
        with self._exchange(lambda: "a stop reply did not come",
                            f"no stop reply within {wait:g} s",
                            "the stub is hung or the CPU does not stop"):
            while not self.stops:
                if not self._pending:
                    self._fill(deadline)
                pkt = self._pending.popleft()
                if pkt.bad and self.ack_mode:
                    self.send_raw(b"-")
                elif pkt.payload is not None:
                    self._stray(pkt.payload)
        return self.stops.pop(0)


__all__ = ["DEFAULT_TIMEOUT", "PIPELINE", "RETRIES", "RspConnection", "_error_code", "_is_hex"]
