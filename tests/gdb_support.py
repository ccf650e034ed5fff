"""Shared helpers for the GDB Remote Serial Protocol tests (tests/test_gdb_*.py).

Real programs: QEMU's riscv ``virt`` machine (:class:`Qemu`), ``socdbg serve`` in a child
interpreter (:func:`serve`), ``gdb-multiarch -batch`` (:func:`gdb_batch`). A missing program
FAILS the test with the command that installs it (``bash scripts/test.sh``), as the firmware
tests do: a machine without QEMU must not pass these tests by not running them.

In-process: :class:`FakeStub`, a GDB stub on 127.0.0.1 that answers like a plain gdbserver and
misbehaves on demand, and :class:`RawClient`, a bare RSP client for talking to a server
byte by byte.

Every process and thread started here is stopped by the context manager (or ``stop()``) that
started it: QEMU and servers are terminated, waited for, and killed if they do not exit.
QEMU only ever listens on 127.0.0.1, on a free port picked here (never ``-s``).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import firmware_build as fb
import pytest

from socdbg.targets.rsp import Decoder, frame

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
VIRT_RDL = REPO / "registers" / "qemu_virt.rdl"
HOST = "127.0.0.1"
QEMU = "qemu-system-riscv64"
GDB = "gdb-multiarch"
INSTALL_HINT = ("run `bash scripts/test.sh`: it installs qemu-system-misc, gdb-multiarch and "
                "gcc-riscv64-unknown-elf, then runs the suite")

# What QEMU 7.2's virt machine holds (docs/qemu-virt.md).
VIRTIO0 = 0x1000_1000
VIRTIO_MAGIC = 0x7472_6976  # 'virt'
VIRTIO_VENDOR = 0x554D_4551  # 'QEMU'
UART_LSR_RESET = 0x60
RAM = 0x8000_0000
RESET_PC = 0x1000  # the hart starts in the boot ROM


def need(program: str) -> str:
    """The full path of ``program``, or a test FAILURE saying how to install it."""
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} not found on PATH: the gdb tests run the real program; "
                    f"{INSTALL_HINT}", pytrace=False)
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
        return True
    return False


# --------------------------------------------------------------------------------------------
# firmware
# --------------------------------------------------------------------------------------------
_VIRT: list[fb.Firmware] = []


def virt_firmware(tmp_path_factory: pytest.TempPathFactory) -> fb.Firmware:
    """tests/firmware (start.S + main.c) linked for QEMU virt's RAM at 0x8000_0000, built
    once per test run with the real cross compiler and read back with binutils."""
    if not _VIRT:
        out = tmp_path_factory.mktemp("gdb-firmware")
        _VIRT.append(fb.inspect(fb.compile_image(out, "fw_virt.elf")))
    return _VIRT[0]


# --------------------------------------------------------------------------------------------
# QEMU
# --------------------------------------------------------------------------------------------
def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class Qemu:
    """``qemu-system-riscv64 -M virt`` halted at reset (-S) with its gdbstub on 127.0.0.1."""

    def __init__(self, firmware: Path, port: int | None = None) -> None:
        self.firmware = firmware
        self.port = port or free_port()
        self._fixed_port = port is not None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        return f"gdb://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [need(QEMU), "-M", "virt", "-nographic", "-bios", "none",
                "-kernel", str(self.firmware), "-S", "-gdb", f"tcp:{HOST}:{self.port}",
                "-monitor", "none", "-serial", "none"]

    def start(self) -> Qemu:
        for _attempt in range(5):
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_open(self.port):
                    return self
                time.sleep(0.02)
            err = b""
            if self.proc.poll() is not None:
                assert self.proc.stderr is not None
                err = self.proc.stderr.read()
            _stop(self.proc)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            if b"in use" in err and not self._fixed_port:
                self.port = free_port()  # lost a race for the port: pick another
                continue
            if b"in use" in err:
                time.sleep(0.2)
                continue
            pytest.fail(f"QEMU did not open its gdbstub on port {self.port}: "
                        f"{err.decode(errors='replace').strip() or 'no message'}",
                        pytrace=False)
        pytest.fail(f"QEMU could not bind port {self.port}", pytrace=False)

    def stop(self) -> None:
        """Terminate QEMU and wait for it (kill if it does not exit)."""
        _stop(self.proc)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def kill(self) -> None:
        """SIGKILL: the machine vanishes without closing anything politely."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self) -> Qemu:
        """A fresh machine on the same port."""
        self.stop()
        self._fixed_port = True
        return self.start()


@contextlib.contextmanager
def qemu(firmware: Path, port: int | None = None) -> Iterator[Qemu]:
    machine = Qemu(firmware, port).start()
    try:
        yield machine
    finally:
        machine.stop()


# --------------------------------------------------------------------------------------------
# socdbg serve
# --------------------------------------------------------------------------------------------
_SERVING = re.compile(r"serving (?P<spec>\S+) on (?P<host>\S+):(?P<port>\d+) \((?P<mode>[\w-]+)\)")


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    spec: str  # what the server fronts
    mode: str  # read-only / read-write
    announce: str

    @property
    def url(self) -> str:
        return f"gdb://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None


@contextlib.contextmanager
def serve(serve_args: Sequence[str] = (), global_args: Sequence[str] = (),
          env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """``python -m socdbg [GLOBAL] serve --port 0 [SERVE_ARGS]`` until the block ends."""
    cmd = [sys.executable, "-m", "socdbg", *global_args, "serve", "--port", "0", *serve_args]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=dict(env) if env is not None else None)
    assert proc.stderr is not None
    stderr = proc.stderr
    drain: threading.Thread | None = None
    watchdog = threading.Timer(60, proc.kill)  # a server that never starts cannot hang us
    watchdog.start()
    try:
        lines: list[str] = []
        m = None
        while m is None:
            line = stderr.readline()
            if not line:
                break
            lines.append(line)
            m = _SERVING.search(line)
        watchdog.cancel()
        if m is None:
            _stop(proc)
            pytest.fail(f"socdbg serve did not start: {''.join(lines).strip()}", pytrace=False)
        # keep reading its standard error so the server never blocks on a full pipe
        drain = threading.Thread(target=lambda: [None for _ in stderr], daemon=True)
        drain.start()
        yield Served(proc, int(m["port"]), m["spec"], m["mode"], lines[-1].strip())
    finally:
        watchdog.cancel()
        _stop(proc)
        if drain is not None:
            drain.join(timeout=5)
        stderr.close()


# --------------------------------------------------------------------------------------------
# gdb-multiarch
# --------------------------------------------------------------------------------------------
def gdb_batch(port: int, *commands: str, timeout: float = 30.0
              ) -> subprocess.CompletedProcess[str]:
    """``gdb-multiarch -nx -batch -ex 'target remote 127.0.0.1:PORT' -ex CMD ...``: output of
    both streams in ``stdout``. Raises subprocess.TimeoutExpired if gdb hangs."""
    cmd = [need(GDB), "-nx", "-batch", "-ex", "set confirm off",
           "-ex", f"target remote {HOST}:{port}"]
    for c in commands:
        cmd += ["-ex", c]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)


# --------------------------------------------------------------------------------------------
# a bare RSP client
# --------------------------------------------------------------------------------------------
class RawClient:
    """A socket speaking RSP by hand: raw bytes out, decoded packets and acks in."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.timeout = timeout
        self.decoder = Decoder()
        self.pending: list[tuple[str, bytes | int]] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def packet(self, payload: bytes) -> None:
        self.send(frame(payload))

    def _fill(self, deadline: float) -> None:
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        for pkt in self.decoder.feed(data):
            if pkt.payload is not None:
                self.pending.append(("packet", pkt.payload))
            elif pkt.oob is not None:
                self.pending.append(("oob", pkt.oob))
            else:
                self.pending.append(("bad", b""))

    def next(self) -> tuple[str, bytes | int]:
        deadline = time.monotonic() + self.timeout
        while not self.pending:
            self._fill(deadline)
        return self.pending.pop(0)

    def reply(self) -> bytes:
        """The next packet's payload (acks before it are skipped; the packet is acked)."""
        while True:
            kind, value = self.next()
            if kind == "packet":
                assert isinstance(value, bytes)
                self.send(b"+")
                return value

    def request(self, payload: bytes) -> bytes:
        self.packet(payload)
        return self.reply()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# --------------------------------------------------------------------------------------------
# a misbehaving stub
# --------------------------------------------------------------------------------------------
@dataclass
class Act:
    """What :class:`FakeStub` does with one request instead of answering it properly.

    ``wire`` is sent as is (framing, checksum and all: build damaged packets here), after
    ``delay`` seconds; ``ack`` sends ``+`` first; ``close`` ends the connection after
    ``wire``; ``on_nak`` is what is sent for each ``-`` the client answers with (None: send
    ``wire`` again, as a stub retransmits)."""

    wire: bytes = b""
    ack: bool = True
    delay: float = 0.0
    close: bool = False
    on_nak: Callable[[int], bytes] | None = None


Behaviour = Callable[[bytes], Act | None]


@dataclass
class FakeStub:
    """A GDB stub on 127.0.0.1 in a thread: plain gdbserver answers (ack mode, hex ``m``/
    ``M``, 64 KiB of memory at 0x1000 holding ``i & 0xff`` at ``0x1000 + i``, E14 elsewhere)
    unless ``behave(payload)`` returns an :class:`Act`. ``silent`` accepts connections and
    never sends a byte. Records what it received."""

    behave: Behaviour | None = None
    silent: bool = False
    features: bytes = b"PacketSize=1000"
    memory: bytearray = field(default_factory=lambda: bytearray(i & 0xFF
                                                                for i in range(0x10000)))
    base: int = 0x1000
    requests: list[bytes] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)
    naks: int = 0
    connections: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(8)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    @property
    def spec(self) -> str:
        return f"gdb://{HOST}:{self.port}"

    def __enter__(self) -> FakeStub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.close()
        for t in self._threads:
            t.join(timeout=5)
        self._listener.close()

    # --- the server ------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with self._lock:
                self._socks.append(sock)
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(0.1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as QEMU's gdbstub
        decoder = Decoder()
        last = b""  # the last reply, framed: what a '-' makes us send again
        nak_handler: Callable[[int], bytes] | None = None
        naks_here = 0
        try:
            while not self._stopping.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                self.received += data
                if self.silent:
                    continue
                for pkt in decoder.feed(data):
                    if pkt.oob == ord("-"):
                        self.naks += 1
                        naks_here += 1
                        sock.sendall(nak_handler(naks_here) if nak_handler else last)
                        continue
                    if pkt.oob is not None:
                        continue
                    if pkt.bad:
                        sock.sendall(b"-")
                        continue
                    assert pkt.payload is not None
                    self.requests.append(pkt.payload)
                    act = self.behave(pkt.payload) if self.behave else None
                    if act is None:
                        last = frame(self.answer(pkt.payload))
                        nak_handler, naks_here = None, 0
                        sock.sendall(b"+" + last)
                        continue
                    if act.ack:
                        sock.sendall(b"+")
                    if act.delay:
                        time.sleep(act.delay)
                    last, nak_handler, naks_here = act.wire, act.on_nak, 0
                    if act.wire:
                        sock.sendall(act.wire)
                    if act.close:
                        return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def answer(self, p: bytes) -> bytes:
        """The well-behaved reply to ``p``."""
        if p.startswith(b"qSupported"):
            return self.features
        if p == b"?":
            return b"S05"
        if p[:1] == b"m":
            a, _, n = p[1:].partition(b",")
            addr, size = int(a, 16), int(n, 16)
            off = addr - self.base
            if off < 0 or off + size > len(self.memory):
                return b"E14"
            return self.memory[off : off + size].hex().encode()
        if p[:1] == b"M":
            head, _, data = p[1:].partition(b":")
            a, _, n = head.partition(b",")
            addr, size = int(a, 16), int(n, 16)
            off = addr - self.base
            if off < 0 or off + size > len(self.memory):
                return b"E14"
            self.memory[off : off + size] = bytes.fromhex(data.decode())
            return b"OK"
        if p == b"D":
            return b"OK"
        return b""


def mem_request(address: int, size: int) -> Callable[[bytes], bool]:
    """A predicate for ``behave``: the packet is the hex read ``m ADDRESS,SIZE``."""
    want = f"m{address:x},{size:x}".encode()
    return lambda p: p == want


def damaged(payload: bytes) -> bytes:
    """``payload`` framed with a wrong checksum."""
    good = frame(payload)
    bad_cs = (int(good[-2:], 16) + 1) & 0xFF
    return good[:-2] + f"{bad_cs:02x}".encode()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
