"""GDB Remote Serial Protocol framing, shared by the gdb target (client) and ``socdbg serve``.

A packet is ``$payload#cs`` with ``cs`` the modulo-256 sum of the payload bytes in two hex
digits. In the payload ``}`` escapes the next byte (XOR 0x20) and ``X*n`` repeats ``X``
``ord(n) - 29`` more times (run-length encoding, replies only). ``+``/``-`` acknowledge.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

ESCAPED = frozenset(b"$#}*")
INTERRUPT = 0x03

# The socdbg extensions a ``socdbg serve`` announces in its qSupported reply.
#: qSupported feature socdbg serve sends to say block reads over adjacent registers are
#: performed as one access per register at the register's width.
COALESCE_FEATURE = "socdbg-coalesce"
#: ... that it refuses writes (served read-only), and whether there is a real CPU behind it.
READONLY_FEATURE = "socdbg-readonly"
CPU_FEATURE = "socdbg-cpu"
#: ... and that it serves a simulator whose time the client may drive (qSocdbg.* packets).
TIME_FEATURE = "socdbg-time"
#: ... and that it reads a list of address ranges in one packet (qSocdbg.read).
BATCH_FEATURE = "socdbg-batch"
#: ... and that its target can be reset (``monitor reset``; a read-only server does not say it).
RESET_FEATURE = "socdbg-reset"


class ProtocolError(Exception):
    """A malformed packet (bad checksum, bad escape, bad hex)."""


def checksum(payload: bytes) -> int:
    """The modulo-256 sum of the payload's bytes.

    Large payloads (bulk reads) go through zlib's Adler-32 in 256-byte chunks: its low half
    is 1 + the plain byte sum while that sum stays below its modulus 65521, which 256 bytes
    of at most 255 cannot reach. About 5x faster than ``sum`` on a 4 KiB reply.
    """
    if len(payload) < 512:
        return sum(payload) & 0xFF
    view = memoryview(payload)
    total = 0
    for i in range(0, len(payload), 256):
        total += (zlib.adler32(view[i : i + 256]) & 0xFFFF) - 1
    return total & 0xFF


def escape(data: bytes) -> bytes:
    """Escape binary data for a payload (``X`` writes, ``qXfer`` replies)."""
    if not any(b in ESCAPED for b in data):
        return data
    out = bytearray()
    for b in data:
        if b in ESCAPED:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes, runs: bool = True) -> bytes:
    """Undo run-length encoding and ``}`` escapes in a received payload; with ``runs``
    False (a server reading a client's packet) ``*`` is an ordinary byte, never expanded.

    As in GDB, runs are expanded over the bytes as sent first (``X*n`` repeats the previous
    byte on the wire, even when that byte is the second half of an escape pair), and escapes
    are undone afterwards. ``}`` followed by ``*`` is an escaped byte, not a run.
    """
    if b"}" not in data and (b"*" not in data or not runs):
        return data
    wire = bytearray()
    pairs: list[int] = []  # positions in wire where an escape pair starts
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x7D:
            if i + 1 >= n:
                raise ProtocolError("escape character at the end of a packet")
            pairs.append(len(wire))
            wire += data[i : i + 2]
            i += 2
        elif b == 0x2A and runs:  # '*': repeat the previous wire byte
            if not wire or i + 1 >= n:
                raise ProtocolError("run-length marker without a byte to repeat")
            count = data[i + 1] - 29
            if count < 0:
                raise ProtocolError("negative run length")
            wire += bytes((wire[-1],)) * count
            i += 2
        else:
            wire.append(b)
            i += 1
    if not pairs:
        return bytes(wire)
    out = bytearray()
    starts = set(pairs)
    j = 0
    while j < len(wire):
        if j in starts:
            out.append(wire[j + 1] ^ 0x20)
            j += 2
        else:
            out.append(wire[j])
            j += 1
    return bytes(out)


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#" + f"{checksum(payload):02x}".encode()


@dataclass
class Packet:
    """A received packet's payload (unescaped), an out-of-band byte (ack, nak, ^C), or a
    damaged packet (``bad``: bad checksum or escape) that the receiver should NAK."""

    payload: bytes | None = None
    oob: int | None = None
    bad: bool = False


class Decoder:
    """Incremental decoder: feed bytes, get packets and out-of-band bytes in order.

    Damaged packets come out as ``Packet(bad=True)`` in their place, so the receiver can NAK
    and carry on; bytes outside packets other than ``+``, ``-`` and ^C are line noise and
    dropped. A packet that never ends is dropped once it passes ``MAX_PACKET`` bytes.
    """

    MAX_PACKET = 1 << 20

    def __init__(self, max_packet: int | None = None, runs: bool = True) -> None:
        """``max_packet``: longer packets are dropped (default MAX_PACKET); ``runs``: expand
        run-length encoding (replies only: a server passes False)."""
        if max_packet is not None:
            self.MAX_PACKET = max_packet
        self.runs = runs
        self._buf = bytearray()
        self._scan = 0  # where to resume looking for '#' in a packet still arriving
        self.bad = 0  # packets dropped for a bad checksum or framing

    def feed(self, data: bytes) -> list[Packet]:
        """Consume ``data``; the complete packets and out-of-band bytes in it, in order.

        Consumed bytes are dropped once per call, not once per packet: a receive that holds
        many replies (pipelined reads) costs linear time, not quadratic.
        """
        self._buf += data
        out: list[Packet] = []
        buf = self._buf
        pos, n = 0, len(buf)
        while pos < n:
            c = buf[pos]
            if c == 0x24:  # '$'
                end = buf.find(b"#", max(pos, self._scan))
                if end < 0 or n < end + 3:
                    self._scan = n if end < 0 else end  # do not scan these bytes again
                    if n - pos > self.MAX_PACKET:
                        self.bad += 1
                        pos, self._scan = n, 0
                    break
                self._scan = 0
                payload = bytes(buf[pos + 1 : end])
                cs_text = bytes(buf[end + 1 : end + 3])
                pos = end + 3
                try:
                    ok = int(cs_text, 16) == checksum(payload)
                except ValueError:
                    ok = False
                if not ok:
                    self.bad += 1
                    out.append(Packet(bad=True))
                    continue
                try:
                    out.append(Packet(payload=unescape(payload, self.runs)))
                except ProtocolError:
                    self.bad += 1
                    out.append(Packet(bad=True))
            elif c in (0x2B, 0x2D, INTERRUPT):  # '+', '-', ^C
                out.append(Packet(oob=c))
                pos += 1
            else:
                pos += 1  # line noise between packets
        if pos:
            del buf[:pos]
            if self._scan:
                self._scan -= pos
        return out
