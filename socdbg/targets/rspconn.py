"""One socket to a GDB Remote Serial Protocol stub: framing, acknowledgements,
retransmission, timeouts, pipelined requests. The gdb target builds on it."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Sequence

from socdbg.errors import TargetError
from socdbg.targets.rsp import Decoder, Packet, frame

DEFAULT_TIMEOUT = 5.0
RETRIES = 3
PIPELINE = 16  # read requests kept in flight by request_many


class RspConnection:
    """One socket to a stub: framing, acks, retransmission, timeouts."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.ack_mode = True
        self.broken: str | None = None  # why the stream can no longer be trusted
        self.stops: list[bytes] = []  # stop replies that arrived unasked
        self._decoder = Decoder()
        self._pending: list[Packet] = []
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise TargetError(f"gdb://{host}:{port}: cannot connect: {exc.strerror or exc}",
                              "is the stub running and listening on that port?") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)

    @property
    def where(self) -> str:
        return f"gdb://{self.host}:{self.port}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    # --- bytes ---------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise TargetError(f"{self.where}: connection lost while sending "
                              f"({exc.strerror or exc})", "reconnect when the stub is back"
                              ) from None

    def _next(self, deadline: float) -> Packet:
        if self.broken is not None:
            raise TargetError(f"{self.where}: {self.broken}; replies may be out of step",
                              "reconnect")
        while not self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                # a reply that comes later would be taken for the next request's: from here
                # on the connection is out of step and refuses to be used
                self.broken = "a request timed out"
                raise TargetError(f"{self.where}: no answer within {self.timeout:g} s",
                                  "the stub is hung, busy or not a GDB stub; reconnect")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise TargetError(f"{self.where}: connection lost ({exc.strerror or exc})",
                                  "reconnect when the stub is back") from None
            if not data:
                raise TargetError(f"{self.where}: the stub closed the connection",
                                  "reconnect when the stub is back")
            self._pending.extend(self._decoder.feed(data))
        return self._pending.pop(0)

    # --- packets -------------------------------------------------------------------------
    def send(self, payload: bytes, deadline: float | None = None) -> None:
        """Send a packet; in ack mode wait for '+' and retransmit on '-' or silence."""
        data = frame(payload)
        if not self.ack_mode:
            self.send_raw(data)
            return
        for _attempt in range(RETRIES):
            self.send_raw(data)
            wait_until = min(deadline or 1e18, time.monotonic() + self.timeout / RETRIES)
            try:
                while True:
                    pkt = self._next(wait_until)
                    if pkt.oob == ord("+"):
                        return
                    if pkt.oob == ord("-"):
                        break  # retransmit
                    if pkt.payload is not None or pkt.bad:
                        # an unexpected packet before our ack: keep it for the reader
                        self._pending.insert(0, pkt)
                        return
            except TargetError as exc:
                if "no answer" not in exc.message:
                    raise
                self.broken = None  # a lost ack is retransmitted, the stream is still fine
        raise TargetError(f"{self.where}: packet not acknowledged after {RETRIES} tries",
                          "the link is corrupting data or the stub is not listening")

    def receive(self, deadline: float | None = None) -> bytes:
        """The next packet's payload (acked); damaged packets are NAKed and awaited again."""
        end = deadline if deadline is not None else time.monotonic() + self.timeout
        naks = 0
        while True:
            pkt = self._next(end)
            if pkt.payload is not None:
                if self.ack_mode:
                    self.send_raw(b"+")
                return pkt.payload
            if pkt.bad:
                naks += 1
                if naks > RETRIES:
                    raise TargetError(f"{self.where}: replies keep arriving damaged",
                                      "bad checksums: check the link")
                if self.ack_mode:
                    self.send_raw(b"-")

    def request(self, payload: bytes, on_output: Callable[[bytes], None] | None = None,
                timeout: float | None = None) -> bytes:
        """Send a packet and return its reply; ``O`` console-output packets go to
        ``on_output`` (qRcmd) and are otherwise skipped. ``timeout`` overrides the
        connection's for requests that legitimately take long (a simulated run)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        self.send(payload, deadline)
        while True:
            reply = self.receive(deadline)
            if reply[:1] in (b"T", b"S") and payload != b"?":
                # an unsolicited stop notification (a running CPU stopped because we spoke)
                self.stops.append(reply)
                continue
            if reply.startswith(b"O") and reply != b"OK" and _is_hex(reply[1:]):
                if on_output is not None:
                    on_output(bytes.fromhex(reply[1:].decode()))
                deadline = time.monotonic() + self.timeout
                continue
            return reply

    def request_many(self, payloads: Sequence[bytes], window: int = PIPELINE) -> list[bytes]:
        """Several requests with up to ``window`` in flight; replies in order. The acks of
        the replies just taken and the requests that refill the window go out together in
        one send, so a bulk read costs a system call per batch, not two per packet."""
        replies: list[bytes] = []
        sent = 0
        acks = 0
        while len(replies) < len(payloads):
            out = bytearray(b"+" * acks if self.ack_mode else b"")
            acks = 0
            while sent < len(payloads) and sent - len(replies) < window:
                out += frame(payloads[sent])
                sent += 1
            if out:
                self.send_raw(bytes(out))
            deadline = time.monotonic() + self.timeout
            while len(replies) < len(payloads):
                pkt = self._next(deadline)
                if pkt.oob is not None:
                    if pkt.oob == ord("-"):
                        self.broken = "a pipelined packet was rejected"
                        raise TargetError(f"{self.where}: the stub rejected a pipelined packet",
                                          "reconnect")
                    continue  # acks of our packets
                if pkt.bad:
                    self.broken = "a pipelined reply was damaged"
                    raise TargetError(f"{self.where}: damaged reply in a pipelined read",
                                      "reconnect")
                assert pkt.payload is not None
                replies.append(pkt.payload)
                acks += 1
                if not self._pending:
                    break
        if self.ack_mode and acks:
            self.send_raw(b"+" * acks)
        return replies


def _is_hex(data: bytes) -> bool:
    return bool(data) and all(c in b"0123456789abcdefABCDEF" for c in data)
