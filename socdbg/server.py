"""``socdbg serve``: a GDB Remote Serial Protocol server in front of any socdbg target.

gdb-multiarch can ``target remote`` it to read and write memory (and CPU registers when the
target has a CPU) and run ``monitor <any socdbg command>``; a socdbg shell elsewhere reaches
the device as ``gdb://host:port``. It binds to loopback unless told otherwise, is read-only
unless ``--allow-writes``, serialises clients (one lock around every packet, so no access of
one client interleaves with another's), NAKs damaged packets and survives clients that vanish.
"""

from __future__ import annotations

import contextlib
import errno
import io
import ipaddress
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar, cast

from socdbg.commands.dispatch import execute
from socdbg.commands.registry import Output, Parsed
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError, UsageError
from socdbg.safety import is_live, read_only_error, unsafe_in_range
from socdbg.targets.base import (
    CAP_COALESCE,
    CAP_RESET,
    CAP_WRITE,
    CoreRegisters,
    CpuDescription,
    RunControl,
    Target,
    has_time,
)
from socdbg.targets.readonly import ReadOnlyTarget
from socdbg.targets.rsp import (
    BATCH_FEATURE,
    COALESCE_FEATURE,
    CPU_FEATURE,
    INTERRUPT,
    READONLY_FEATURE,
    RESET_FEATURE,
    TIME_FEATURE,
    Decoder,
    escape,
    frame,
)
from socdbg.targets.wrapper import TargetWrapper

T = TypeVar("T")

#: For targets without a CPU gdb still needs a halted thread with a PC before it will read
#: memory, so the server shows a placeholder RISC-V hart whose registers read zero and cannot
#: be written. Documented in docs/gdb.md; targets with a CPU forward their real registers.
_PLACEHOLDER_REGS = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1",
                     *(f"a{i}" for i in range(8)), *(f"s{i}" for i in range(2, 12)),
                     "t3", "t4", "t5", "t6", "pc"]
PLACEHOLDER_XML = (
    '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">'
    "<architecture>riscv:rv64</architecture>"
    '<feature name="org.gnu.gdb.riscv.cpu">'
    + "".join(f'<reg name="{n}" bitsize="64" type="{"code_ptr" if n == "pc" else "int"}" '
              f'regnum="{i}"/>' for i, n in enumerate(_PLACEHOLDER_REGS))
    + "</feature></target>").encode()
PACKET_SIZE = 0x4000  # the PacketSize offered by default
MAX_TRANSFER = 0x1000  # bytes per m/x reply (hex doubles it within PACKET_SIZE)
IDLE_TIMEOUT = 600.0  # a client silent this long is dropped
STOP_POLL = 0.05  # seconds between checks for a stop while the CPU runs
TIME_CHUNK = 100_000  # simulated cycles run under the lock at a time (about 40 ms)


@dataclass(frozen=True)
class ServeOptions:
    """What ``socdbg serve`` lets its clients do, and how much.

    ``allow_writes``: memory, register and CPU writes, resets, run control and simulated
    time (else all refused); ``allow_host_files``: ``monitor`` commands that read or write
    files on the server's host (``source``, ``dump -o``, ``trace start``, ``load``...);
    ``max_request``: bytes one ``m``/``x``/``qSocdbg.read`` request may ask for;
    ``packet_size``: the largest packet accepted (offered as PacketSize; longer ones are
    dropped unread); ``monitor_timeout``: seconds a ``monitor`` command may run;
    ``monitor_output``: characters of ``monitor`` output sent back (the rest is cut)."""

    allow_writes: bool = False
    allow_host_files: bool = False
    max_request: int = 0x10000
    packet_size: int = PACKET_SIZE
    monitor_timeout: float = 30.0
    monitor_output: int = 1 << 20

    def check(self) -> None:
        if not 0x100 <= self.packet_size <= 1 << 20:
            raise UsageError(f"--packet-size {self.packet_size}: must be 256..1048576")
        if not 1 <= self.max_request <= 1 << 24:
            raise UsageError(f"--max-request {self.max_request}: must be 1..16777216")
        if not 0 < self.monitor_timeout <= 86400 or self.monitor_timeout != \
                self.monitor_timeout:
            raise UsageError(f"--monitor-timeout {self.monitor_timeout}: must be a number "
                             "of seconds, 0 < s <= 86400")


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


def _install_output() -> None:
    with _output_lock:
        if not _output:
            router = _ThreadOutput(sys.stdout)
            _output.append(router)
            sys.stdout = router
        _output_users[0] += 1


def _uninstall_output() -> None:
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


class RspServer:
    """Protocol logic for one target, shared by every client connection; each client has
    its own :class:`Session` (``monitor set`` variables, recordings) on the shared target."""

    def __init__(self, session: Session, options: ServeOptions | bool = False) -> None:
        if isinstance(options, bool):
            options = ServeOptions(allow_writes=options)
        options.check()
        self.options = options
        self.allow_writes = options.allow_writes
        self.session = session
        self.lock = threading.RLock()
        # (capabilities is a read-only property there: forwarded, as a reconnect changes it)
        target: Target = SharedTarget(session.target, self.lock)
        if not options.allow_writes:
            target = ReadOnlyTarget(target, "the server runs read-only: restart it with "
                                    "socdbg serve --allow-writes")
        session.use_target(target)
        self.target: Target = target
        self.live = is_live(target)
        session.target_locked = "socdbg serve serves one target"
        self.cpu = target if isinstance(target, CoreRegisters) and isinstance(
            target, RunControl) else None
        self.transfer = max(1, min(MAX_TRANSFER, options.max_request,
                                   (options.packet_size - 16) // 2))
        _install_output()

    def close(self) -> None:
        _uninstall_output()

    def new_session(self) -> Session:
        """A client's own session on the served target, under the server's policy."""
        client = self.session.fork()
        client.command_guard = self._guard
        return client

    # --- dispatch ------------------------------------------------------------------------
    def handle(self, payload: bytes, conn: ClientState) -> bytes | None:
        """The reply to one packet (None: no reply now, e.g. after 'c'). Whatever goes
        wrong inside becomes an error reply to this client; the server goes on."""
        try:
            return self._handle(payload, conn)
        except SocdbgError as exc:
            return self._error(conn, str(exc), b"E01")
        except (ValueError, IndexError, UnicodeDecodeError, OverflowError):
            return self._error(conn, "malformed packet", b"E02")
        except Exception as exc:  # a bug must not stop the server: E03 to this client
            return self._error(conn, f"internal error: {type(exc).__name__}", b"E03")

    @staticmethod
    def _error(conn: ClientState, text: str, code: bytes) -> bytes:
        if conn.error_strings:
            return b"E." + text.encode(errors="replace")[:400]
        return code

    def _handle(self, p: bytes, conn: ClientState) -> bytes | None:
        c = p[:1]
        if p.startswith(b"qSupported"):
            conn.error_strings = b"error-message+" in p
            # a socdbg client learns that a monitor command failed from an error reply; gdb
            # would report any reply but OK as a protocol error (older socdbg clients did
            # not say socdbg+, and unlike gdb never say multiprocess+)
            conn.socdbg_client = b"socdbg+" in p or (conn.error_strings
                                                      and b"multiprocess+" not in p)
            feats = [f"PacketSize={self.options.packet_size:x}", "QStartNoAckMode+",
                     "vContSupported+",
                     f"{READONLY_FEATURE}{'-' if self.allow_writes else '+'}",
                     f"{CPU_FEATURE}{'+' if self.cpu is not None else '-'}",
                     "qXfer:features:read+", "binary-upload+"]
            if CAP_COALESCE in self.target.capabilities:
                feats.append(f"{COALESCE_FEATURE}+")
            if has_time(self.target):
                feats.append(f"{TIME_FEATURE}+")
            if self.allow_writes and CAP_RESET in self.target.capabilities:
                feats.append(f"{RESET_FEATURE}+")
            feats.append(f"{BATCH_FEATURE}+")
            return ";".join(feats).encode()
        if p == b"QStartNoAckMode":
            conn.switch_to_noack = True
            return b"OK"
        if p == b"?":
            return b"S05"
        if c == b"m":
            addr, size = _addr_len(p[1:])
            return self._read(addr, size).hex().encode()
        if c == b"x":
            addr, size = _addr_len(p[1:])
            return b"b" + escape(self._read(addr, size))
        if c in (b"M", b"X"):
            head, _, data = p[1:].partition(b":")
            addr, size = _addr_len(head)
            raw = bytes.fromhex(data.decode()) if c == b"M" else data
            if len(raw) != size:
                return b"E02"
            if size:
                self._write(addr, raw)
            return b"OK"
        if p.startswith(b"qSocdbg.read:"):
            return self._read_ranges(p[len(b"qSocdbg.read:"):])
        if p.startswith((b"qSocdbg.", b"QSocdbg.")):
            return self._time(p)
        if p.startswith(b"qRcmd,"):
            line = bytes.fromhex(p[6:].decode()).decode()
            return self._monitor(line, conn)
        if p.startswith(b"qXfer:features:read:"):
            return self._features(p)
        if c == b"g":
            return self._all_registers()
        if c == b"p":
            return self._register(int(p[1:], 16))
        if c == b"P":
            num, _, value = p[1:].partition(b"=")
            return self._set_register(int(num, 16), value)
        if c in (b"Z", b"z"):
            forward = getattr(self.cpu, "breakpoint", None)
            if forward is None:
                return b""  # not supported: gdb falls back to writing breakpoints itself
            if c == b"Z" and not self.allow_writes:
                raise SocdbgError("breakpoints change the program: the server runs "
                                  "read-only (socdbg serve --allow-writes)")
            reply: bytes = forward(p)
            return reply
        if c in (b"c", b"s", b"C", b"S") or p.startswith(b"vCont;"):
            return self._run(p)
        if p == b"vCont?":
            return b"vCont;c;C;s;S;t" if self.cpu is not None else b""
        if p in (b"qAttached",):
            return b"1"
        if p == b"qC":
            return b"QC1"
        if p == b"qfThreadInfo":
            return b"m1"
        if p == b"qsThreadInfo":
            return b"l"
        if c == b"H" or p.startswith(b"qSymbol"):
            return b"OK"
        if c == b"D":
            conn.closing = True
            return b"OK"
        if c == b"k":
            conn.closing = True
            return None
        return b""  # unsupported: the empty reply, as the protocol says

    # --- memory --------------------------------------------------------------------------
    def _single(self, addr: int, size: int) -> bool:
        """A request is one access of that width when it is what gdb sends for a variable
        (outside the map's registers) or exactly one register access; a request spanning
        several registers is a block, performed one access per register by the target."""
        if size not in (1, 2, 4, 8) or addr % size:
            return False
        regs = self.session.map.in_range(addr, addr + size)
        if not regs:
            return True
        return len(regs) == 1 and regs[0].address <= addr and (
            size == regs[0].accesswidth // 8 or size == regs[0].size)

    def _read(self, addr: int, size: int) -> bytes:
        size = min(size, self.transfer)
        if self._single(addr, size):
            return self.target.read(addr, size)
        return self.target.read_block(addr, size)

    def _write(self, addr: int, data: bytes) -> None:
        if self.live:  # the live-target policy of socdbg/safety.py, as for write and poke
            if CAP_WRITE not in self.target.capabilities:
                raise read_only_error(self.target, f"write of {len(data)} byte(s) at "
                                      f"{addr:#x}")
            unsafe = unsafe_in_range(self.session.map, addr, len(data))
            if unsafe and not self.session.force_unsafe:
                raise TargetError(f"write of {len(data)} byte(s) at {addr:#x}: "
                                  f"{', '.join(unsafe[:4])} marked unsafe_write: writing on "
                                  "live hardware needs --force-unsafe",
                                  "socdbg --allow-writes --force-unsafe -t TARGET serve "
                                  "--allow-writes")
        if self._single(addr, len(data)):
            self.target.write(addr, data)
        else:
            self.target.write_block(addr, data)

    def _read_ranges(self, arg: bytes) -> bytes:
        """``qSocdbg.read:ADDR,LEN;ADDR,LEN;...`` -> one ``;``-separated hex field per range,
        or ``E.text`` for a range that failed: a whole dump in one round trip. Ranges past
        the request limit fail without a read."""
        out = []
        budget = self.options.max_request
        for item in arg.split(b";"):
            addr, size = _addr_len(item)
            if size > budget:
                out.append(f"E.request over the server's limit of "
                           f"{self.options.max_request} bytes".encode())
                budget = 0
                continue
            budget -= size
            try:
                out.append(self._read(addr, size).hex().encode() if size <= self.transfer
                           else self.target.read_block(addr, size).hex().encode())
            except SocdbgError as exc:
                out.append(b"E." + str(exc).replace(";", ",").encode(errors="replace")[:200])
        return b";".join(out)

    # --- simulated time (socdbg clients only) --------------------------------------------
    def _time(self, p: bytes) -> bytes:
        """``qSocdbg.now`` -> cycle; ``QSocdbg.step:N`` -> OK; ``QSocdbg.until:MAX:HEXCOND``
        -> ``1`` or ``0`` (held or not). Numbers in hex, the condition as hex text.
        Advancing time changes the target's state: a read-only server refuses it."""
        current = self.target
        target = current if has_time(current) else None
        if target is None:
            return b""
        verb, _, arg = p[len(b"qSocdbg."):].partition(b":")
        if verb == b"now":
            return f"{target.now:x}".encode()
        if verb in (b"step", b"until") and not self.allow_writes:
            raise SocdbgError("advancing simulated time changes the target: the server runs "
                              "read-only (socdbg serve --allow-writes)")
        with _deadline(self.options.monitor_timeout):
            if verb == b"step":
                target.step(int(arg, 16))
                return b"OK"
            if verb == b"until":
                limit, _, cond = arg.partition(b":")
                text = bytes.fromhex(cond.decode()).decode()
                return b"1" if target.run_until_text(text, int(limit, 16)) else b"0"
        return b""

    # --- monitor -------------------------------------------------------------------------
    def _guard(self, parsed: Parsed) -> Output | None:
        """The server's policy for a monitor line, from the parsed command's metadata."""
        eff = parsed.effects
        name = parsed.name
        if not self.allow_writes:
            if eff.writes or eff.controls:
                raise UsageError(f"monitor {name}: changes the target: the server runs "
                                 "read-only", "socdbg serve --allow-writes")
            if eff.time and has_time(self.target):
                raise UsageError(f"monitor {name}: advances simulated time: the server runs "
                                 "read-only", "socdbg serve --allow-writes")
        if eff.host_files and not self.options.allow_host_files:
            raise UsageError(f"monitor {name}: reads or writes files on the server's host "
                             f"({', '.join(eff.host_files[:3])}): refused",
                             "start the server with socdbg serve --allow-host-files")
        return None

    def _monitor(self, line: str, conn: ClientState) -> bytes:
        """Run one socdbg command line in the client's session. Its output, errors
        included, goes back as console output (``O`` packets); the reply is ``OK`` for gdb
        (which reports any other reply as a protocol error), and an error for a socdbg
        client (which asked for E.text replies) when the command failed."""
        text, ok = run_monitor(conn.session, line, self.options.monitor_output,
                               self.options.monitor_timeout)
        for off in range(0, len(text), 1024):
            conn.send_packet(b"O" + text[off : off + 1024].encode().hex().encode())
        if ok or not conn.socdbg_client:
            return b"OK"
        return b"E.monitor command failed" if conn.error_strings else b"E01"

    # --- CPU -----------------------------------------------------------------------------
    def _features(self, p: bytes) -> bytes:
        annex, _, span = p[len(b"qXfer:features:read:"):].partition(b":")
        off_s, _, len_s = span.partition(b",")
        off, length = int(off_s, 16), int(len_s, 16)
        xml = self._target_xml(annex.decode())
        chunk = xml[off : off + length]
        return (b"l" if off + length >= len(xml) else b"m") + escape(chunk)

    def _target_xml(self, annex: str) -> bytes:
        if self.cpu is None:
            if annex != "target.xml":
                raise SocdbgError(f"no target description '{annex}'")
            return PLACEHOLDER_XML
        if not isinstance(self.target, CpuDescription):
            raise SocdbgError("no target description")
        return self.target.target_description(annex)

    def _core_regs(self) -> list[tuple[str, int, int]]:
        if not isinstance(self.target, CpuDescription):
            raise SocdbgError("no register description")
        return [(r.name, r.regnum, r.bits) for r in self.target.core_registers()]

    def _regnum(self, num: int) -> tuple[str, int]:
        assert self.cpu is not None
        for name, regnum, bits in self._core_regs():
            if regnum == num:
                return name, bits
        raise SocdbgError(f"no register {num}")

    def _register(self, num: int) -> bytes:
        if self.cpu is None:
            if num >= len(_PLACEHOLDER_REGS):
                return b"E01"
            return b"00" * 8
        name, bits = self._regnum(num)
        value = self.cpu.read_core_register(name)
        return value.to_bytes((bits + 7) // 8, "little").hex().encode()

    def _all_registers(self) -> bytes:
        if self.cpu is None:
            return b"00" * 8 * len(_PLACEHOLDER_REGS)
        out = bytearray()
        for name, regnum, bits in self._core_regs():
            if regnum > 64:  # 'g' carries the general registers; the rest go by 'p'
                break
            out += self.cpu.read_core_register(name).to_bytes((bits + 7) // 8, "little")
        return out.hex().encode()

    def _set_register(self, num: int, value: bytes) -> bytes:
        if self.cpu is None:
            raise SocdbgError(f"{self.target.spec} has no CPU: its placeholder registers "
                              "cannot be written")
        name, _ = self._regnum(num)
        self.cpu.write_core_register(name, int.from_bytes(bytes.fromhex(value.decode()),
                                                          "little"))
        return b"OK"

    def _run(self, p: bytes) -> bytes | None:
        if self.cpu is None:
            raise SocdbgError(f"{self.target.spec} has no CPU to run or step",
                              "use monitor step N / monitor step --until ... for sim time")
        step = p[:1] in (b"s", b"S") or b";s" in p or b";S" in p
        if step:
            self.cpu.step_instruction()
            return b"S05"
        self.cpu.resume()
        return None  # the stop reply comes when the client interrupts

    def poll_stop(self) -> bytes | None:
        """The stop reply when a running CPU stopped on its own (a breakpoint), else None."""
        poll = getattr(self.cpu, "poll_stop", None)
        if poll is None:
            return None
        with self.lock:
            stop = poll()
        if stop is None:
            return None
        text = getattr(stop, "text", "") or "S05"
        return text.encode()

    def interrupt(self) -> bytes:
        with self.lock:
            if self.cpu is not None and self.cpu.running:
                self.cpu.halt()
            return b"S02"


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
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
    with session.capture(limit=limit) as buf, _client_output(buf):
        try:
            with _deadline(seconds) if seconds is not None else contextlib.nullcontext():
                output = execute(session, line)
                session.emit(output)
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


def _addr_len(text: bytes) -> tuple[int, int]:
    a, _, n = text.partition(b",")
    return int(a, 16), int(n, 16)


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


def serve_client(server: RspServer, sock: socket.socket,
                 on_error: Callable[[str], None] | None = None) -> None:
    """Serve one client until it detaches, vanishes or goes silent."""
    sock.settimeout(IDLE_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    state = ClientState(sock, server.new_session())
    # packets longer than the PacketSize offered are dropped unread; run-length encoding
    # is for replies only, so a client's '*' is never expanded
    decoder = Decoder(max_packet=server.options.packet_size + 16, runs=False)
    try:
        while not state.closing:
            sock.settimeout(STOP_POLL if state.running else IDLE_TIMEOUT)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                if state.running:  # did the CPU stop by itself (a breakpoint)?
                    stop = server.poll_stop()
                    if stop is not None:
                        state.running = False
                        state.send_packet(stop)
                    continue
                return
            except OSError:
                return
            if not data:
                return
            for pkt in decoder.feed(data):
                if pkt.bad:
                    if state.ack_mode:
                        state.send_raw(b"-")
                    continue
                if pkt.oob is not None:
                    if pkt.oob == INTERRUPT:
                        state.running = False
                        state.send_packet(server.interrupt())
                    continue  # acks of our replies
                assert pkt.payload is not None
                if state.ack_mode:
                    state.send_raw(b"+")
                reply = server.handle(pkt.payload, state)
                if reply is not None:
                    state.send_packet(reply)
                elif not state.closing:
                    state.running = True  # 'c': the stop reply comes later
                if state.switch_to_noack:
                    state.ack_mode = False
                    state.switch_to_noack = False
                if state.closing:
                    break
    except OSError as exc:  # the client vanished mid-reply
        if on_error is not None:
            on_error(str(exc))
    except Exception as exc:  # a bug outside the packet handler: drop this client only
        if on_error is not None:
            on_error(f"internal error: {type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(OSError):
            sock.close()
        with contextlib.suppress(Exception):
            state.session.close()  # finishes its trace or recording; the target stays open


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    rsp: RspServer | None = None

    def server_close(self) -> None:
        super().server_close()
        if self.rsp is not None:
            self.rsp.close()
            self.rsp = None


class _TCP6Server(_TCPServer):
    address_family = socket.AF_INET6


def _family(bind: str, port: int) -> socket.AddressFamily:
    """The address family of ``bind``, or a UsageError saying the address is invalid."""
    try:
        infos = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, ValueError):
        raise UsageError(f"--bind {bind}: not a valid address or host name",
                         "e.g. 127.0.0.1, ::1, 0.0.0.0") from None
    if not infos:
        raise UsageError(f"--bind {bind}: not a valid address or host name")
    return infos[0][0]


def is_loopback(bind: str) -> bool:
    try:
        return ipaddress.ip_address(bind.split("%", 1)[0]).is_loopback
    except ValueError:
        return bind == "localhost"


def bind_warning(bind: str, port: int, options: ServeOptions) -> str | None:
    """What to tell the user when a server that lets clients change things listens beyond
    this machine (the protocol has no authentication), else None."""
    if is_loopback(bind) or not (options.allow_writes or options.allow_host_files):
        return None
    what = " and ".join(w for w, on in (("--allow-writes", options.allow_writes),
                                        ("--allow-host-files", options.allow_host_files))
                        if on)
    return (f"warning: --bind {bind} is not loopback and {what} is given: anyone who can "
            f"reach port {port} can change the target"
            f"{' and files on this host' if options.allow_host_files else ''} "
            "(the GDB protocol has no authentication)")


def make_server(session: Session, bind: str, port: int, allow_writes: bool = False,
                options: ServeOptions | None = None
                ) -> tuple[socketserver.ThreadingTCPServer, RspServer]:
    """A listening server (not yet serving) in front of ``session``'s target."""
    if options is None:
        options = ServeOptions(allow_writes=allow_writes)
    options.check()
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: must be 0..65535 (0 picks a free port)")
    family = _family(bind, port)
    server_type = _TCP6Server if family == socket.AF_INET6 else _TCPServer

    rsp_box: list[RspServer] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            serve_client(rsp_box[0], self.request)

    try:
        srv = server_type((bind, port), Handler)
    except OSError as exc:
        hint = ("is another server on that port?" if exc.errno == errno.EADDRINUSE else
                "no interface of this machine has that address"
                if exc.errno == errno.EADDRNOTAVAIL else None)
        raise SocdbgError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}",
                          hint) from None
    try:
        rsp = RspServer(session, options)
    except BaseException:
        srv.server_close()
        raise
    rsp_box.append(rsp)
    srv.rsp = rsp
    return srv, rsp


def serve(session: Session, bind: str, port: int, allow_writes: bool = False,
          announce: Callable[[str], Any] = print, options: ServeOptions | None = None,
          warn: Callable[[str], Any] | None = None) -> None:
    if options is None:
        options = ServeOptions(allow_writes=allow_writes)
    srv, _ = make_server(session, bind, port, options=options)
    host, real_port = str(srv.server_address[0]), int(srv.server_address[1])
    warning = bind_warning(bind, real_port, options)
    if warning:
        (warn or announce)(warning)
    shown = f"[{host}]" if ":" in host else host
    announce(f"serving {session.target.spec} on {shown}:{real_port} "
             f"({'read-write' if options.allow_writes else 'read-only'}); Ctrl-C stops")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
        session.close()
