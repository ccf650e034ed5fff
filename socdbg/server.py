"""``socdbg serve``: a GDB Remote Serial Protocol server in front of any socdbg target.

gdb-multiarch can ``target remote`` it to read and write memory (and CPU registers when the
target has a CPU) and run ``monitor <any socdbg command>``; a socdbg shell elsewhere reaches
the device as ``gdb://host:port``. It binds to loopback unless told otherwise, is read-only
unless ``--allow-writes``, serialises clients (one lock around every packet, so no access of
one client interleaves with another's), NAKs damaged packets and survives clients that vanish.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError
from socdbg.targets.base import (
    CAP_COALESCE,
    CoreRegisters,
    CpuDescription,
    RunControl,
    SimTime,
    Target,
    has_time,
)
from socdbg.targets.gdb import (
    BATCH_FEATURE,
    COALESCE_FEATURE,
    CPU_FEATURE,
    READONLY_FEATURE,
    TIME_FEATURE,
)
from socdbg.targets.readonly import ReadOnlyTarget
from socdbg.targets.rsp import INTERRUPT, Decoder, escape, frame

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
#: monitor commands a read-only server refuses: they change the chip, or write files on the
#: server's host.
READ_ONLY_REFUSED = frozenset({"reset", "dump", "record", "trace", "stubs", "load", "monitor",
                               "reconnect", "resume", "halt", "stepi", "core", "run"})
PACKET_SIZE = 0x4000
MAX_TRANSFER = 0x1000  # bytes per m/x reply (hex doubles it within PACKET_SIZE)
IDLE_TIMEOUT = 600.0  # a client silent this long is dropped
STOP_POLL = 0.05  # seconds between checks for a stop while the CPU runs


class RspServer:
    """Protocol logic for one target, shared by every client connection."""

    def __init__(self, session: Session, allow_writes: bool) -> None:
        self.session = session
        self.allow_writes = allow_writes
        self.lock = threading.Lock()
        target = session.target
        if not allow_writes:
            target = ReadOnlyTarget(target, "the server runs read-only: restart it with "
                                    "socdbg serve --allow-writes")
            session.use_target(target)
        self.target: Target = target
        session.target_locked = "socdbg serve serves one target"
        self.cpu = target if isinstance(target, CoreRegisters) and isinstance(
            target, RunControl) else None

    # --- dispatch ------------------------------------------------------------------------
    def handle(self, payload: bytes, conn: ClientState) -> bytes | None:
        """The reply to one packet (None: no reply now, e.g. after 'c')."""
        with self.lock:
            try:
                return self._handle(payload, conn)
            except SocdbgError as exc:
                if conn.error_strings:
                    return b"E." + str(exc).encode(errors="replace")[:400]
                return b"E01"
            except (ValueError, IndexError, UnicodeDecodeError):
                return b"E02"

    def _handle(self, p: bytes, conn: ClientState) -> bytes | None:
        c = p[:1]
        if p.startswith(b"qSupported"):
            conn.error_strings = b"error-message+" in p
            feats = [f"PacketSize={PACKET_SIZE:x}", "QStartNoAckMode+", "vContSupported+",
                     f"{READONLY_FEATURE}{'-' if self.allow_writes else '+'}",
                     f"{CPU_FEATURE}{'+' if self.cpu is not None else '-'}",
                     "qXfer:features:read+", "binary-upload+"]
            if CAP_COALESCE in self.target.capabilities:
                feats.append(f"{COALESCE_FEATURE}+")
            if has_time(self.target):
                feats.append(f"{TIME_FEATURE}+")
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
            return self._monitor(bytes.fromhex(p[6:].decode()).decode(errors="replace"), conn)
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
        size = min(size, MAX_TRANSFER)
        if self._single(addr, size):
            return self.target.read(addr, size)
        return self.target.read_block(addr, size)

    def _write(self, addr: int, data: bytes) -> None:
        if self._single(addr, len(data)):
            self.target.write(addr, data)
        else:
            self.target.write_block(addr, data)

    def _read_ranges(self, arg: bytes) -> bytes:
        """``qSocdbg.read:ADDR,LEN;ADDR,LEN;...`` -> one ``;``-separated hex field per range,
        or ``E.text`` for a range that failed: a whole dump in one round trip."""
        out = []
        for item in arg.split(b";"):
            addr, size = _addr_len(item)
            try:
                out.append(self._read(addr, size).hex().encode() if size <= MAX_TRANSFER
                           else self.target.read_block(addr, size).hex().encode())
            except SocdbgError as exc:
                out.append(b"E." + str(exc).replace(";", ",").encode(errors="replace")[:200])
        return b";".join(out)

    # --- simulated time (socdbg clients only) --------------------------------------------
    def _time(self, p: bytes) -> bytes:
        """``qSocdbg.now`` -> cycle; ``QSocdbg.step:N`` -> OK; ``QSocdbg.until:MAX:HEXCOND``
        -> ``1`` or ``0`` (held or not). Numbers in hex, the condition as hex text."""
        target = self.target
        if not has_time(target) or not isinstance(target, SimTime):
            return b""
        verb, _, arg = p[len(b"qSocdbg."):].partition(b":")
        if verb == b"now":
            return f"{target.now:x}".encode()
        if verb == b"step":
            target.step(int(arg, 16))
            return b"OK"
        if verb == b"until":
            limit, _, cond = arg.partition(b":")
            text = bytes.fromhex(cond.decode()).decode()
            return b"1" if target.run_until_text(text, int(limit, 16)) else b"0"
        return b""

    # --- monitor -------------------------------------------------------------------------
    def _monitor(self, line: str, conn: ClientState) -> bytes:
        words = line.split()
        if not self.allow_writes and words and words[0] in READ_ONLY_REFUSED:
            text, ok = (f"error: monitor {words[0]}: the server runs read-only "
                        "(socdbg serve --allow-writes)\n", False)
        else:
            text, ok = run_monitor(self.session, line)
        for off in range(0, len(text), 1024):
            conn.send_packet(b"O" + text[off : off + 1024].encode().hex().encode())
        return b"OK" if ok else b"E01"

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


def run_monitor(session: Session, line: str) -> tuple[str, bool]:
    """Run one socdbg command line for ``monitor``; (printed text, succeeded)."""
    with session.capture() as buf:
        try:
            output = execute(session, line)
            session.emit(output)
            ok = output is None or output.ok
        except SocdbgError as exc:
            buf.write(f"error: {exc}\n")
            ok = False
    return buf.getvalue(), ok


def _addr_len(text: bytes) -> tuple[int, int]:
    a, _, n = text.partition(b",")
    return int(a, 16), int(n, 16)


class ClientState:
    """One connected client: its socket, ack mode and protocol state."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ack_mode = True
        self.switch_to_noack = False
        self.closing = False
        self.running = False  # the CPU was resumed: poll for its stop
        self.error_strings = False  # the client accepts E.text replies

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_packet(self, payload: bytes) -> None:
        self.send_raw(frame(payload))


def serve_client(server: RspServer, sock: socket.socket,
                 on_error: Callable[[str], None] | None = None) -> None:
    """Serve one client until it detaches, vanishes or goes silent."""
    sock.settimeout(IDLE_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    state = ClientState(sock)
    decoder = Decoder()
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
    finally:
        with contextlib.suppress(OSError):
            sock.close()


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(session: Session, bind: str, port: int, allow_writes: bool
                ) -> tuple[socketserver.ThreadingTCPServer, RspServer]:
    rsp = RspServer(session, allow_writes)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            serve_client(rsp, self.request)

    try:
        srv = _TCPServer((bind, port), Handler)
    except OSError as exc:
        raise SocdbgError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}",
                          "is another server on that port?") from None
    return srv, rsp


def serve(session: Session, bind: str, port: int, allow_writes: bool,
          announce: Callable[[str], Any] = print) -> None:
    srv, _ = make_server(session, bind, port, allow_writes)
    host, real_port = str(srv.server_address[0]), int(srv.server_address[1])
    announce(f"serving {session.target.spec} on {host}:{real_port} "
             f"({'read-write' if allow_writes else 'read-only'}); Ctrl-C stops")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
        session.close()
