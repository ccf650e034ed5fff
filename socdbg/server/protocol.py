"""``socdbg serve``: a GDB Remote Serial Protocol server in front of any socdbg target.

gdb-multiarch can ``target remote`` it to read and write memory (and CPU registers when the
target has a CPU) and run ``monitor <any socdbg command>``; a socdbg shell elsewhere reaches
the device as ``gdb://host:port``. It binds to loopback unless told otherwise, is read-only
unless ``--allow-writes``, serialises clients (one lock around every packet, so no access of
one client interleaves with another's), NAKs damaged packets and survives clients that vanish.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from socdbg.commands.registry import Output, Parsed
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError, UsageError
from socdbg.safety import is_live, read_only_error, unsafe_in_range
from socdbg.server.shared import (
    ClientState,
    SharedTarget,
    install_output,
    monitor_deadline,
    run_monitor,
    uninstall_output,
)
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
    READONLY_FEATURE,
    RESET_FEATURE,
    TIME_FEATURE,
    escape,
)

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
        install_output()

    def close(self) -> None:
        uninstall_output()

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
        with monitor_deadline(self.options.monitor_timeout):
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


def _addr_len(text: bytes) -> tuple[int, int]:
    a, _, n = text.partition(b",")
    return int(a, 16), int(n, 16)
