"""What a ``socdbg serve`` peer adds to the GDB protocol, on the client side: reading a list
of address ranges in few packets (``qSocdbg.read``) and driving the served simulator's time
(``qSocdbg.now``, ``QSocdbg.step``, ``QSocdbg.until``), each wait within the connection's
timeout. A mixin of :class:`~socdbg.targets.gdb.GdbTarget`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from socdbg.errors import TargetError
from socdbg.targets.base import CAP_TIME
from socdbg.targets.rsp import BATCH_FEATURE
from socdbg.targets.rsp_connection import RspConnection, _error_code

FIRST_CHUNK = 1 << 16  # cycles in the first request of a long simulated run


class _Peer(Protocol):
    """What the mixin uses of the gdb target."""

    spec: str
    capabilities: frozenset[str]
    timeout: float
    packet_size: int
    features: dict[str, str]

    def _c(self) -> RspConnection: ...

    def _check_halted(self, what: str) -> None: ...

    def read_block(self, address: int, size: int) -> bytes: ...

    def _access_error(self, op: str, address: int, size: int, reply: bytes) -> TargetError: ...

    def _time_request(self, payload: bytes, timeout: float | None = None) -> bytes: ...

    def _chunked(self, cycles: int, run: Callable[[int], bool]) -> bool: ...


class SocdbgExtensions:
    """Batched reads and simulated time, when the peer is ``socdbg serve``."""

    def read_ranges(self: _Peer, ranges: Sequence[tuple[int, int]]) -> list[bytes | TargetError]:
        """Read several (address, size) ranges; behind socdbg serve in as few round trips as
        the packet size allows, else one block read each. A failed range is its error."""
        self._check_halted("read memory")
        if self.features.get(BATCH_FEATURE) != "+":
            out: list[bytes | TargetError] = []
            for a, n in ranges:
                try:
                    out.append(self.read_block(a, n))
                except TargetError as exc:
                    out.append(exc)
            return out
        budget = max(64, (self.packet_size - 64) // 2)  # reply bytes are hex
        batches: list[list[tuple[int, int]]] = [[]]
        used = 0
        for a, n in ranges:
            if batches[-1] and used + n + 1 > budget:
                batches.append([])
                used = 0
            batches[-1].append((a, n))
            used += n + 1
        batches = [b for b in batches if b]  # the first is empty when ranges is
        results: list[bytes | TargetError] = []
        replies = self._c().request_many([b"qSocdbg.read:" + b";".join(
            f"{a:x},{n:x}".encode() for a, n in batch) for batch in batches])
        for batch, reply in zip(batches, replies, strict=True):
            parts = reply.split(b";")
            if len(parts) != len(batch):
                raise TargetError(f"{self.spec}: malformed batched read reply: "
                                  f"{len(parts)} fields for {len(batch)} ranges "
                                  f"({reply[:24]!r})")
            for (a, n), part in zip(batch, parts, strict=True):
                if part.startswith(b"E"):
                    results.append(self._access_error("read", a, n, part))
                    continue
                try:
                    data = bytes.fromhex(part.decode("ascii"))
                except (ValueError, UnicodeDecodeError):
                    results.append(TargetError(f"{self.spec}: malformed batched read reply "
                                               f"at {a:#x}: {part[:20]!r}"))
                    continue
                results.append(data if len(data) == n else TargetError(
                    f"{self.spec}: asked {n} bytes at {a:#x}, got {len(data)}"))
        return results

    # --- simulated time behind socdbg serve ----------------------------------------------
    def _time_request(self: _Peer, payload: bytes, timeout: float | None = None) -> bytes:
        if CAP_TIME not in self.capabilities:
            raise TargetError(f"{self.spec} has no simulated time")
        reply = self._c().request(payload, timeout=timeout)
        code = _error_code(reply)
        if code is not None or not reply:
            raise TargetError(f"{self.spec}: {code or 'no answer to ' + payload.decode()}")
        return reply

    @property
    def now(self: _Peer) -> int:
        reply = self._time_request(b"qSocdbg.now")
        if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", reply):
            raise TargetError(f"{self.spec}: malformed reply to qSocdbg.now: {reply[:24]!r}")
        return int(reply, 16)

    def _chunked(self: _Peer, cycles: int, run: Callable[[int], bool]) -> bool:
        """Advance ``cycles`` of simulated time in requests that each take a fraction of the
        connection's timeout: every wait honours the timeout, Ctrl-C stops between chunks
        (and, within one, breaks the connection, which is reopened before the next access).
        ``run(n)`` advances at most n cycles and says whether to stop early."""
        chunk = min(cycles, FIRST_CHUNK)
        left = cycles
        while left > 0:
            n = min(chunk, left)
            t0 = time.monotonic()
            if run(n):
                return True
            left -= n
            took = time.monotonic() - t0
            if took < self.timeout / 8:
                chunk = n * 4 if took < self.timeout / 32 else n * 2
            elif took > self.timeout / 3:
                chunk = max(1, n // 2)
        return False

    def step(self: _Peer, cycles: int = 1) -> None:
        def run(n: int) -> bool:
            self._time_request(f"QSocdbg.step:{n:x}".encode())
            return False

        self._chunked(cycles, run)

    def run_until_text(self: _Peer, condition: str, max_cycles: int) -> bool:
        cond = condition.encode().hex().encode()

        def run(n: int) -> bool:
            reply = self._time_request(f"QSocdbg.until:{n:x}:".encode() + cond)
            if reply not in (b"0", b"1"):
                raise TargetError(f"{self.spec}: malformed reply to QSocdbg.until: "
                                  f"{reply[:24]!r} (expected 0 or 1)")
            return reply == b"1"

        if max_cycles <= 0:
            return run(0)
        return self._chunked(max_cycles, run)
