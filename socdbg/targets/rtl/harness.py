"""The connection to a running harness: batched requests over pipes, untrusted answers.

Every answer is parsed strictly (a short line, a known form, a value in range); a harness
that dies, goes silent past the deadline or says something else is an error, never a value.
Requests go in batches of at most ``BATCH`` lines, each batch ending with ``f`` (flush), so
neither pipe can fill while the other side waits.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from socdbg.errors import TargetError

BATCH = 512
MAX_LINE = 64  # the longest answer is "t 1 " and 16 hex digits
TIMEOUT = 10.0  # seconds for a batch of plain requests
CYCLES_PER_SECOND = 20_000  # the slowest a run-until may go before it counts as hung
_ANSWER = re.compile(rb"^(?:d [0-9a-f]{1,8}|k|t [0-9a-f]{1,16}|t [01] [0-9a-f]{1,16}|"
                     rb"e [a-z ]{1,40})$")


class Harness:
    """One harness process; ``ask(lines)`` returns one answer per request line."""

    def __init__(self, exe: Path, what: str = "rtl") -> None:
        self.what = what
        try:
            self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise TargetError(f"{what}: cannot start the harness {exe}: {exc}") from None
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._out, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._out, selectors.EVENT_READ)
        self._buf = b""
        first = self._lines(1, TIMEOUT)
        if first != [b"ready"]:
            self.close()
            raise TargetError(f"{what}: the harness did not start (said {first[0][:40]!r})")

    def ask(self, lines: Sequence[str], seconds: float = TIMEOUT) -> list[str]:
        out: list[str] = []
        for i in range(0, len(lines), BATCH):
            chunk = lines[i : i + BATCH]
            payload = ("\n".join(chunk) + "\nf\n").encode()
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(payload)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise self._dead() from None
            for raw in self._lines(len(chunk), seconds):
                if not _ANSWER.match(raw):
                    raise TargetError(f"{self.what}: the harness answered {raw[:40]!r}")
                out.append(raw.decode())
        return out

    def _lines(self, n: int, seconds: float) -> list[bytes]:
        deadline = time.monotonic() + seconds
        got: list[bytes] = []
        while len(got) < n:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line, self._buf = self._buf[:nl], self._buf[nl + 1 :]
                got.append(line)
                continue
            if len(self._buf) > MAX_LINE:
                raise TargetError(f"{self.what}: the harness sent an overlong line")
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise TargetError(f"{self.what}: the harness did not answer within "
                                  f"{seconds:g} s; it was stopped")
            if not self._sel.select(left):
                continue
            try:
                data = os.read(self._out, 65536)
            except BlockingIOError:
                continue
            if not data:
                raise self._dead()
            self._buf += data
        return got

    def _dead(self) -> TargetError:
        code = self.proc.poll()
        self.close()
        how = f"exit status {code}" if code is not None else "closed its output"
        return TargetError(f"{self.what}: the harness died ({how})",
                           "reopen the target; the RTL state is lost")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"q\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()
        with contextlib.suppress(OSError, ValueError):
            self._sel.close()
