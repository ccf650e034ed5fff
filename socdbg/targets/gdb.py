"""The gdb target: ``gdb://HOST:PORT``, a client of the GDB Remote Serial Protocol.

Talks to QEMU, OpenOCD, Renode, J-Link's server, any gdbserver and ``socdbg serve``.
Negotiates PacketSize, NoAckMode, binary transfers and QEMU's physical-memory mode when the
stub offers them; every socket operation has a timeout; a dead or misbehaving peer is a
TargetError, never a guessed value. Register-sized accesses are one ``m``/``M`` packet of
exactly that size (QEMU turns it into one device access of that width). Bulk reads keep
several requests in flight.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socdbg.errors import TargetError
from socdbg.targets.base import (
    CAP_COALESCE,
    CAP_CORE_REGS,
    CAP_HALT,
    CAP_RESET,
    CAP_STEP,
    CAP_TIME,
    CAP_WRITE,
    Backend,
    Completions,
    MapLoader,
)
from socdbg.targets.gdb_description import CoreReg, describe, fetch_document
from socdbg.targets.gdb_socdbg import SocdbgExtensions
from socdbg.targets.rsp import (
    COALESCE_FEATURE,
    CPU_FEATURE,
    INTERRUPT,
    READONLY_FEATURE,
    RESET_FEATURE,
    TIME_FEATURE,
    ProtocolError,
    escape,
)
from socdbg.targets.rsp_connection import DEFAULT_TIMEOUT, RspConnection, _error_code, _is_hex

if TYPE_CHECKING:
    pass

REGISTER_WINDOW = 256  # register-width reads in flight (read_accesses)
QEMU_MAX_READ = 0x800  # QEMU answers a larger m with E22 (MAX_PACKET_LENGTH / 2)


@dataclass(frozen=True)
class StopInfo:
    signal: int
    text: str


class GdbTarget(SocdbgExtensions):
    """A target behind a GDB stub."""

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT,
                 phys: bool | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.phys_always = phys is True
        self.phys_writes = phys is not False
        self.spec = f"gdb://{host}:{port}"
        self.conn: RspConnection | None = None
        self.features: dict[str, str] = {}
        self.capabilities: frozenset[str] = frozenset()
        self.running = False
        self.stop: StopInfo | None = None
        self._regs: list[CoreReg] | None = None
        self.connect()

    # --- connection ----------------------------------------------------------------------
    def connect(self) -> None:
        self.conn = RspConnection(self.host, self.port, self.timeout)
        try:
            self._handshake()
        except TargetError:
            self.conn.close()
            self.conn = None
            raise

    def reconnect(self) -> None:
        """Drop the connection and open it again; nothing cached survives."""
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self._regs = None
        self.features = {}
        self.running = False
        self.connect()

    def _c(self) -> RspConnection:
        conn = self.conn
        if conn is None:
            raise TargetError(f"{self.spec}: not connected", "reconnect")
        if conn.broken is not None:
            if conn.lost:
                raise TargetError(f"{self.spec}: {conn.broken}",
                                  "reconnect when the stub is back")
            # an exchange did not finish (Ctrl-C, a timeout, a reply out of step): replies
            # may still be on their way, so this connection is never read again
            self.reconnect()
            assert self.conn is not None
            return self.conn
        return conn

    def _handshake(self) -> None:
        conn = self.conn
        assert conn is not None
        conn.owe_ack()  # gdb starts with '+'; it goes out with qSupported
        reply = conn.request(b"qSupported:swbreak+;hwbreak+;vContSupported+;"
                             b"binary-upload+;error-message+;socdbg+;xmlRegisters=riscv")
        self.features = {}
        for item in reply.decode(errors="replace").split(";"):
            if not item:
                continue
            if "=" in item:
                k, v = item.split("=", 1)
                self.features[k] = v
            else:
                self.features[item[:-1]] = item[-1] if item[-1] in "+-?" else "+"
        size_text = self.features.get("PacketSize", "400")
        if not re.fullmatch(r"[0-9a-fA-F]{1,8}", size_text):
            raise TargetError(f"{self.spec}: the stub sent a malformed PacketSize "
                              f"{size_text[:20]!r} (expected hex)")
        # at least 64 bytes; at most 1 MiB, what one packet may hold (rsp.Decoder)
        self.packet_size = min(max(64, int(size_text, 16)), 1 << 20)
        if self.features.get("QStartNoAckMode") == "+" and conn.request(
                b"QStartNoAckMode") == b"OK":
            conn.ack_mode = False
        self.binary_read = self.features.get("binary-upload") == "+"
        self.binary_write = self._probe_binary_write()
        # QEMU serves device writes only in physical-memory mode, but in that mode a read of
        # an unmapped address returns zeros instead of an error, and on some machines (the
        # Arm micro:bit) RAM is not in that address space at all. Reads and bulk writes stay
        # in its default mode; each register-width write switches to physical mode and back.
        # ?phys=1 keeps physical mode throughout, ?phys=0 never uses it.
        if conn.request(b"Qqemu.PhyMemMode:1") == b"OK":
            self.features["qemu.PhyMemMode"] = "1"
            if not self.phys_always:
                conn.request(b"Qqemu.PhyMemMode:0")
        self.stop = self._parse_stop(conn.request(b"?"))
        self.running = False
        caps = set() if self.features.get(READONLY_FEATURE) == "+" else {CAP_WRITE}
        has_cpu = self.features.get(CPU_FEATURE, "+") == "+"
        if has_cpu and self.features.get("qXfer:features:read") == "+":
            caps.add(CAP_CORE_REGS)
        if has_cpu and conn.request(b"vCont?").startswith(b"vCont;"):
            caps |= {CAP_HALT, CAP_STEP}
        if self.features.get(COALESCE_FEATURE) == "+":
            caps.add(CAP_COALESCE)
        if self.features.get(TIME_FEATURE) == "+":
            caps.add(CAP_TIME)
        if self.features.get("qemu.PhyMemMode") or self.features.get(RESET_FEATURE) == "+":
            caps.add(CAP_RESET)  # QEMU: system_reset; a socdbg server: its reset command
        self.capabilities = frozenset(caps)

    def _probe_binary_write(self) -> bool:
        reply = self._c().request(b"X0,0:")
        return reply == b"OK"

    # --- Target --------------------------------------------------------------------------
    def _check_halted(self, what: str) -> None:
        self._poll_stop()
        if self.running:
            raise TargetError(f"{self.spec}: cannot {what} while the CPU runs",
                              "halt first (a GDB stub serves memory only when halted)")

    def read(self, address: int, size: int) -> bytes:
        self._check_halted("read memory")
        return self._read_one(address, size)

    def _read_one(self, address: int, size: int) -> bytes:
        if self.binary_read:
            reply = self._c().request(f"x{address:x},{size:x}".encode())
            data = self._binary_reply(reply, address, size)
        else:
            reply = self._c().request(f"m{address:x},{size:x}".encode())
            data = self._hex_reply(reply, address, size)
        return data

    def _hex_reply(self, reply: bytes, address: int, size: int) -> bytes:
        code = _error_code(reply)
        if code is not None or not reply:
            raise self._access_error("read", address, size, reply)
        try:
            data = bytes.fromhex(reply.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise TargetError(f"{self.spec}: malformed reply to a memory read at "
                              f"{address:#x}") from None
        if len(data) != size:
            raise TargetError(f"{self.spec}: asked {size} bytes at {address:#x}, got "
                              f"{len(data)}", "the stub cut the read short")
        return data

    def _binary_reply(self, reply: bytes, address: int, size: int) -> bytes:
        code = _error_code(reply)
        if code is not None or not reply.startswith(b"b"):
            raise self._access_error("read", address, size, reply)
        data = reply[1:]
        if len(data) != size:
            raise TargetError(f"{self.spec}: asked {size} bytes at {address:#x}, got "
                              f"{len(data)}")
        return data

    def write(self, address: int, data: bytes) -> None:
        self._check_halted("write memory")
        self._write_one(address, data)

    def _write_one(self, address: int, data: bytes) -> None:
        # a register-width write goes to a device register: QEMU's default mode drops those,
        # so switch to physical mode for it; bulk data (RAM, an ELF) stays in the default
        # mode, whose address space is the CPU's own on every machine
        register_width = len(data) in (1, 2, 4, 8)
        switch = (bool(self.features.get("qemu.PhyMemMode")) and not self.phys_always
                  and self.phys_writes and register_width)
        if switch:
            self._c().request(b"Qqemu.PhyMemMode:1")
        try:
            self._write_raw(address, data)
        finally:
            if switch:
                self._c().request(b"Qqemu.PhyMemMode:0")

    def _write_raw(self, address: int, data: bytes) -> None:
        if self.binary_write and data:
            payload = f"X{address:x},{len(data):x}:".encode() + escape(data)
        else:
            payload = f"M{address:x},{len(data):x}:{data.hex()}".encode()
        reply = self._c().request(payload)
        if reply != b"OK":
            raise self._access_error("write", address, len(data), reply)

    def _access_error(self, op: str, address: int, size: int, reply: bytes) -> TargetError:
        if reply.startswith(b"E."):  # the stub said why, in words
            return TargetError(reply[2:].decode(errors="replace"))
        code = _error_code(reply) or (repr(reply[:16]) if reply else "nothing")
        return TargetError(f"bus error: {op} of {size} byte(s) at {address:#x}: the stub "
                           f"replied {code}", "is the address mapped on this target?")

    @property
    def max_read(self) -> int:
        if self.features.get("qemu.PhyMemMode") and not self.binary_read:
            return QEMU_MAX_READ  # QEMU's own limit on one m, whatever its PacketSize says
        per = (self.packet_size - 8) if self.binary_read else (self.packet_size - 8) // 2
        return max(1, min(per, 0x800))

    @property
    def max_write(self) -> int:
        # hex doubles the data; so does escaping binary data in the worst case
        return max(1, min((self.packet_size - 32) // 2, 0x800))

    def read_block(self, address: int, size: int) -> bytes:
        self._check_halted("read memory")
        step = self.max_read
        spans = [(a, min(step, address + size - a)) for a in range(address, address + size,
                                                                    step)]
        op = "x" if self.binary_read else "m"
        replies = self._c().request_many([f"{op}{a:x},{n:x}".encode() for a, n in spans])
        out = bytearray()
        for (a, n), reply in zip(spans, replies, strict=True):
            out += (self._binary_reply(reply, a, n) if self.binary_read
                    else self._hex_reply(reply, a, n))
        return bytes(out)

    def read_accesses(self, accesses: Sequence[tuple[int, int]]) -> list[bytes | TargetError]:
        """Register-width reads, each exactly one ``m``/``x`` request of that size (never
        split or merged), up to REGISTER_WINDOW in flight: a whole-map dump in a few round trips
        instead of one per register. A failed access is its error, the others still count."""
        self._check_halted("read memory")
        for _a, n in accesses:
            if not 0 < n <= self.max_read:
                raise TargetError(f"{self.spec}: an access of {n} bytes does not fit a packet")
        op = "x" if self.binary_read else "m"
        # register replies are a few bytes: up to 256 in flight (about 5 KiB of requests
        # and 4 KiB of replies) go out in one send and come back in a read or two
        replies = self._c().request_many([f"{op}{a:x},{n:x}".encode() for a, n in accesses],
                                         window=REGISTER_WINDOW)
        out: list[bytes | TargetError] = []
        for (a, n), reply in zip(accesses, replies, strict=True):
            try:
                out.append(self._binary_reply(reply, a, n) if self.binary_read
                           else self._hex_reply(reply, a, n))
            except TargetError as exc:
                out.append(exc)
        return out

    def write_block(self, address: int, data: bytes) -> None:
        self._check_halted("write memory")
        step = self.max_write
        for off in range(0, len(data), step):
            self._write_one(address + off, data[off : off + step])

    def close(self) -> None:
        conn = self.conn
        if conn is None:
            return
        if conn.broken is None:  # a connection out of step is only closed, never used
            with contextlib.suppress(TargetError):
                if self.running:
                    self.halt()
                conn.command(b"D")
        conn.close()
        self.conn = None

    # --- run control ---------------------------------------------------------------------
    def _parse_stop(self, reply: bytes) -> StopInfo:
        text = reply.decode(errors="replace")
        if text[:1] in ("T", "S") and len(text) >= 3 and _is_hex(reply[1:3]):
            return StopInfo(int(text[1:3], 16), text)
        if text[:1] in ("W", "X"):
            raise TargetError(f"{self.spec}: the program exited ({text})")
        raise TargetError(f"{self.spec}: unexpected stop reply {text[:40]!r}")

    def poll_stop(self) -> StopInfo | None:
        """If the CPU stopped on its own since ``resume`` (a breakpoint), its stop; else
        None. Never blocks."""
        if not self.running:
            return None
        self._poll_stop()
        return None if self.running else self.stop

    def _poll_stop(self) -> None:
        """Pick up a stop reply that arrived while running (a breakpoint, an exit), whether
        it is still on the socket or came in with an earlier read (the ack of ``c``)."""
        if not self.running or self.conn is None:
            return
        stop = self._c().take_stop()
        if stop is not None:
            self.running = False
            self.stop = self._parse_stop(stop)

    def halt(self) -> StopInfo:
        self._poll_stop()
        if not self.running:
            assert self.stop is not None
            return self.stop
        conn = self._c()
        conn.send_raw(bytes((INTERRUPT,)))
        self.stop = self._parse_stop(conn.wait_stop())
        self.running = False
        return self.stop

    def resume(self) -> None:
        self._check_halted("resume")
        conn = self._c()
        conn.stops.clear()  # stops seen while halted are not this run's
        conn.command(b"c")
        self.running = True

    def step_instruction(self) -> StopInfo:
        self._check_halted("step")
        self.stop = self._parse_stop(self._c().request(b"s"))
        return self.stop

    def breakpoint(self, packet: bytes) -> bytes:
        """Pass a ``Z``/``z`` (insert/remove breakpoint or watchpoint) packet to the stub and
        return its reply (``OK``, an error, or empty when it does not support the kind)."""
        self._check_halted("set breakpoints")
        if packet[:1] not in (b"Z", b"z"):
            raise TargetError(f"not a breakpoint packet: {packet[:20]!r}")
        return self._c().request(packet)

    def monitor(self, command: str) -> str:
        """``monitor TEXT``: qRcmd, with the stub's console output returned."""
        self._check_halted("run a monitor command")
        chunks: list[bytes] = []
        reply = self._c().request(b"qRcmd," + command.encode().hex().encode(), chunks.append)
        if reply == b"":
            raise TargetError(f"{self.spec}: the stub does not support monitor commands")
        code = _error_code(reply)
        text = b"".join(chunks).decode(errors="replace")
        if code is not None:
            raise TargetError(f"monitor {command}: the stub replied {code}",
                              text.strip() or None)
        if reply != b"OK":
            if not _is_hex(reply) or len(reply) % 2:
                raise TargetError(f"monitor {command}: the stub replied {reply[:24]!r}, "
                                  "neither OK nor hex text")
            text += bytes.fromhex(reply.decode()).decode(errors="replace")
        return text

    def reset(self) -> None:
        """System reset through the stub's monitor: ``reset`` on a socdbg server (its monitor
        runs socdbg commands), ``system_reset`` on QEMU."""
        self.monitor("reset" if self.features.get(RESET_FEATURE) == "+" else "system_reset")

    # --- core registers ------------------------------------------------------------------
    def core_registers(self) -> list[CoreReg]:
        if self._regs is None:
            self._regs = self._describe()
        return self._regs

    def core_register_names(self) -> list[str]:
        return [r.name for r in self.core_registers()]

    def target_description(self, annex: str) -> bytes:
        """The stub's target-description document ``annex`` (``target.xml`` and includes)."""
        return self._xfer(annex)

    def _xfer(self, annex: str) -> bytes:
        return fetch_document(self.spec, self._c().request, self.packet_size, annex)

    def _describe(self) -> list[CoreReg]:
        if self.features.get("qXfer:features:read") != "+":
            raise TargetError(f"{self.spec}: the stub gives no target description",
                              "register names are unknown; use peek/poke for memory")
        return describe(self.spec, self._xfer)

    def _core(self, name: str) -> CoreReg:
        for r in self.core_registers():
            if r.name.lower() == name.lower():
                return r
        from socdbg.errors import did_you_mean

        raise TargetError(f"{self.spec}: no CPU register '{name}'",
                          did_you_mean(name, self.core_register_names()))

    def read_core_register(self, name: str) -> int:
        self._check_halted("read registers")
        reg = self._core(name)
        reply = self._c().request(f"p{reg.regnum:x}".encode())
        if not reply or _error_code(reply):
            raise TargetError(f"{self.spec}: cannot read {reg.name} "
                              f"({_error_code(reply) or 'unsupported'})")
        try:
            value = bytes.fromhex(reply.decode())
        except ValueError:
            raise TargetError(f"{self.spec}: malformed value for {reg.name}: "
                              f"{reply[:24]!r}") from None
        if len(value) != (reg.bits + 7) // 8:
            raise TargetError(f"{self.spec}: {reg.name} is {reg.bits} bits, the stub sent "
                              f"{len(value)} bytes ({reply[:24]!r})")
        return int.from_bytes(value, "little")

    def write_core_register(self, name: str, value: int) -> None:
        self._check_halted("write registers")
        reg = self._core(name)
        nbytes = (reg.bits + 7) // 8
        if value < 0 or value >= 1 << reg.bits:
            raise TargetError(f"{reg.name}: {value:#x} does not fit {reg.bits} bits")
        data = value.to_bytes(nbytes, "little").hex()
        reply = self._c().request(f"P{reg.regnum:x}={data}".encode())
        if reply != b"OK":
            raise TargetError(f"{self.spec}: cannot write {reg.name} "
                              f"({_error_code(reply) or 'unsupported'})")


_SPEC = re.compile(r"^(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)(?:\?(?P<query>.*))?$")


def open_gdb(arg: str, load_map: MapLoader) -> GdbTarget:
    m = _SPEC.match(arg.strip())
    if m is None:
        raise TargetError(f"gdb target '{arg}': expected gdb://HOST:PORT",
                          "for example gdb://127.0.0.1:1234")
    host = m.group("host").strip("[]")
    port = int(m.group("port"))
    if not 0 < port < 65536:
        raise TargetError(f"gdb target: port {port} is out of range")
    timeout: float = DEFAULT_TIMEOUT
    phys: bool | None = None
    for item in filter(None, (m.group("query") or "").split("&")):
        key, _, value = item.partition("=")
        if key == "timeout" and re.fullmatch(r"\d+(\.\d*)?", value) and float(value) > 0:
            timeout = float(value)
        elif key == "phys" and value in ("0", "1"):
            phys = value == "1"
        else:
            raise TargetError(f"gdb target '{arg}': bad option '{item}'",
                              "expected gdb://HOST:PORT[?timeout=SECONDS&phys=1]")
    return GdbTarget(host, port, timeout, phys)


BACKEND = Backend(
    name="gdb",
    open=open_gdb,
    describe="a GDB Remote Serial Protocol stub: QEMU, OpenOCD, Renode, socdbg serve",
    example="gdb://HOST:PORT",
    complete=lambda typed: Completions(("gdb://127.0.0.1:1234", "gdb://127.0.0.1:3333")),
)

__all__ = ["BACKEND", "GdbTarget", "ProtocolError"]
