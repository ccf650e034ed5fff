"""The served session, as every client of ``socdbg serve`` shares it: the target behind the
server's lock, each client's connection state, and monitor commands run with a deadline and
their own output."""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar, cast

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError
from socdbg.targets.base import (
    Target,
)
from socdbg.targets.rsp import (
    frame,
)
from socdbg.targets.wrapper import TargetWrapper

T = TypeVar("T")
TIME_CHUNK = 100_000  # simulated cycles run under the lock at a time (about 40 ms)


class MonitorTimeout(TargetError):
    """A monitor command ran past the server's time limit."""


_limits = threading.local()  # per client thread: the monitor command's deadline


class SharedTarget(TargetWrapper):
    """The served target as every client sees it: each call takes the server's lock (so
    no access of one client interleaves with another's, and only accesses are serialised,
    not whole commands), checks the calling client's monitor deadline, and runs simulated
    time in chunks so a long run neither holds the lock nor outlives the deadline. It
    forwards the allow-list of socdbg/targets/wrapper.py, like every other wrapper."""

    def __init__(self, inner: Target, lock: threading.RLock) -> None:
        self._lock = lock
        super().__init__(inner)

    @property
    def capabilities(self) -> frozenset[str]:
        return self.inner.capabilities  # a reconnect may change them

    @capabilities.setter
    def capabilities(self, value: frozenset[str]) -> None:
        pass  # always the inner target's, read when asked

    def _observe(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        _check_deadline()
        with self._lock:
            return perform()

    def _change(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        if op == "step":
            return cast(T, self._step(*args))
        if op == "run_until_text":
            return cast(T, self._run_until_text(*args))
        _check_deadline()
        with self._lock:
            return perform()

    def close(self) -> None:
        with self._lock:
            self.inner.close()

    def _step(self, cycles: int = 1) -> None:
        step = self.inner.step  # type: ignore[attr-defined]
        left = cycles
        while left > 0:
            _check_deadline()
            with self._lock:
                step(min(left, TIME_CHUNK))
            left -= TIME_CHUNK

    def _run_until_text(self, condition: str, max_cycles: int) -> bool:
        run = self.inner.run_until_text  # type: ignore[attr-defined]
        left = max_cycles
        while True:
            _check_deadline()
            with self._lock:
                if run(condition, min(left, TIME_CHUNK)):
                    return True
            left -= TIME_CHUNK
            if left <= 0:
                return False


def _check_deadline() -> None:
    deadline: float | None = getattr(_limits, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise MonitorTimeout(f"stopped after the server's limit of {_limits.seconds:g} s "
                             "for one monitor command",
                             "socdbg serve --monitor-timeout SECONDS raises it")


class _ThreadOutput(io.TextIOBase):
    """``sys.stdout`` while a server runs: what a client's monitor command prints outside
    the session's console (click prints ``--help`` there) goes to that client's buffer;
    every other thread writes to the real stream."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self.local = threading.local()

    def write(self, s: str) -> int:
        buf: TextIO | None = getattr(self.local, "buf", None)
        return (buf or self.real).write(s)

    def flush(self) -> None:
        buf: TextIO | None = getattr(self.local, "buf", None)
        (buf or self.real).flush()

    def isatty(self) -> bool:
        return False


_output_lock = threading.Lock()
_output: list[_ThreadOutput] = []  # the installed router, while any server runs
_output_users = [0]


def install_output() -> None:
    with _output_lock:
        if not _output:
            router = _ThreadOutput(sys.stdout)
            _output.append(router)
            sys.stdout = router
        _output_users[0] += 1


def uninstall_output() -> None:
    with _output_lock:
        _output_users[0] -= 1
        if _output_users[0] <= 0 and _output:
            router = _output.pop()
            if sys.stdout is router:
                sys.stdout = router.real
            _output_users[0] = 0


@contextlib.contextmanager
def _client_output(buf: TextIO) -> Iterator[None]:
    router = _output[0] if _output else None
    if router is None:
        yield
        return
    router.local.buf = buf
    try:
        yield
    finally:
        router.local.buf = None


@contextlib.contextmanager
def monitor_deadline(seconds: float) -> Iterator[None]:
    """Target accesses of this thread fail with MonitorTimeout after ``seconds``."""
    saved = getattr(_limits, "deadline", None), getattr(_limits, "seconds", None)
    _limits.deadline, _limits.seconds = time.monotonic() + seconds, seconds
    try:
        yield
    finally:
        _limits.deadline, _limits.seconds = saved


def run_monitor(session: Session, line: str, limit: int | None = None,
                seconds: float | None = None) -> tuple[str, bool]:
    """Run one socdbg command line for ``monitor``; (printed text, succeeded). At most
    ``limit`` characters of output are kept; target accesses stop after ``seconds``."""
    with session.presenter.capture(limit=limit) as buf, _client_output(buf):
        try:
            with monitor_deadline(seconds) if seconds is not None else contextlib.nullcontext():
                output = execute(session, line)
                session.presenter.emit(output)
            ok = output is None or output.ok
        except SocdbgError as exc:
            buf.write(f"error: {exc}\n")
            ok = False
        except KeyboardInterrupt:  # click's Abort: a prompt with nobody to answer it
            buf.write("error: the command asked a question; nobody can answer on a server\n")
            ok = False
        except RecursionError:
            buf.write("error: the command nested too deeply\n")
            ok = False
        text = buf.getvalue()
        if getattr(buf, "truncated", False):
            text += f"\n[output cut at {limit} characters]\n"
    return text, ok


class ClientState:
    """One connected client: its socket, ack mode, protocol state and its own session."""

    def __init__(self, sock: socket.socket, session: Session | None = None) -> None:
        self.sock = sock
        self.session = session if session is not None else Session()
        self.ack_mode = True
        self.switch_to_noack = False
        self.closing = False
        self.running = False  # the CPU was resumed: poll for its stop
        self.error_strings = False  # the client accepts E.text replies
        self.socdbg_client = False  # the client is socdbg's gdb target, not gdb

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_packet(self, payload: bytes) -> None:
        self.send_raw(frame(payload))
