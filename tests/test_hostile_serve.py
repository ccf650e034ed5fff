"""``socdbg serve`` against hostile clients: monitor lines that try to get round the
read-only policy or reach the server's host files, denial-of-service probes with the
server's memory measured, packets built to crash the handler (and a hypothesis fuzzer over
it), the live-target write policy on M/X packets and monitor lines, several clients at
once, and the command line's bad options.

In-process servers (``make_server`` in a thread) where the test needs the server's own
objects; a child process (``gs.serve``) where it measures memory or must not wait for a
command that keeps running.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import gdb_support as gs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_support import serving
from test_mmio_support import BASE, PCI_SPEC, PLL, SCRATCH, Backing, pci_bar, write_map

from socdbg.cli import main
from socdbg.commands.session import Session
from socdbg.server import ClientState, RspServer, ServeOptions, bind_warning, make_server
from socdbg.targets.rsp import frame
from socdbg.targets.sim import SimTarget

SIM_SCRATCH = 0x4000_0008
DRAM = 0x8000_0000


@contextlib.contextmanager
def in_process(session: Session, bind: str = "127.0.0.1", **options: object
               ) -> Iterator[int]:
    """``session``'s target served on a free port in this process until the block ends;
    then the session is closed."""
    try:
        with serving(session, ServeOptions(**options), bind) as port:  # type: ignore[arg-type]
            yield port
    finally:
        session.close()


def monitor(raw: gs.RawClient, line: str) -> tuple[str, bytes]:
    """Send ``monitor LINE`` as gdb does; (console output, final reply)."""
    raw.packet(b"qRcmd," + line.encode().hex().encode())
    text = ""
    while True:
        reply = raw.reply()
        if reply.startswith(b"O") and reply != b"OK":
            text += bytes.fromhex(reply[1:].decode()).decode()
            continue
        return text, reply


@pytest.fixture
def sim_session() -> Iterator[tuple[Session, SimTarget]]:
    session = Session(out=io.StringIO())
    sim = session.target
    assert isinstance(sim, SimTarget)
    yield session, sim
    session.close()


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder holding files a client might try to make the server read."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "in.sdbg").write_text("write sysctrl.scratch 5\n")
    (folder / "reset.sdbg").write_text('"reset"\n')
    (folder / "in.bin").write_bytes(b"\0\0\0\0")
    (folder / "in.elf").write_bytes(b"\x7fELF" + bytes(60))
    (folder / "in.rdl").write_text("addrmap x { reg { field {} f[0:0]; } r @0; };\n")
    (folder / "x.json").write_text("{}")
    return folder


# --- monitor lines that try to get round a read-only server ---------------------------------
BYPASSES = [
    '"dump" -o {out}/a.json', r"\dump -o {out}/b.json", "dump --output={out}/c.json", "dump",
    '"reset"', "'reset'", "res''et", '"trace" start {out}/t.vcd', "trace start {out}/t2.vcd",
    '"record" start {out}/r.sdbg', '"stubs" -o {out}/s.pyi', "butr sysctrl --junit {out}/j.xml",
    "butr sysctrl --allow-writes", "source {inp}/in.sdbg", "expect mem 0x10000000 == {inp}/in.bin",
    "load {inp}/in.elf", "load {inp}/in.elf --symbols-only", "diff {inp}/x.json",
    "target dump:{inp}/x.json", "regs --map {inp}/in.rdl list", "write sysctrl.scratch 5",
    '"write" sysctrl.scratch 5', "poke 0x40000008 5", "step 10", '"step" 10', "sleep 0.5",
    "poll sysctrl.scratch == 1 --timeout 0.01", "step --until 'sysctrl.scratch == 1'",
    "halt", "resume", "stepi", "core pc 5", "reconnect", "monitor info", "target sim",
]


@pytest.mark.parametrize("line", BYPASSES)
def test_a_read_only_server_refuses_every_spelling_of_a_change(
        sim_session: tuple[Session, SimTarget], inputs: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    session, sim = sim_session
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)  # where `dump` alone would write its dated file
    before = sorted(p.name for p in inputs.iterdir())
    with in_process(session) as port:
        raw = gs.RawClient(port)
        try:
            text, reply = monitor(raw, line.format(out=out, inp=inputs))
            assert reply == b"OK"  # gdb prints the error; no protocol error
            assert text.startswith("error: ") and (
                "read-only" in text or "--allow-host-files" in text), text
            assert raw.request(b"m40000000,4") == b"010a0c5d"  # still serving
        finally:
            raw.close()
    assert list(out.iterdir()) == []  # no file written
    assert sorted(p.name for p in inputs.iterdir()) == before
    assert sim.now == 0 and sim.read(SIM_SCRATCH, 4) == bytes(4)  # no state changed


def test_a_command_name_from_a_variable_is_judged_after_substitution(
        sim_session: tuple[Session, SimTarget], tmp_path: Path) -> None:
    session, sim = sim_session
    with in_process(session) as port:
        raw = gs.RawClient(port)
        try:
            assert monitor(raw, "set C dump")[1] == b"OK"
            text, _ = monitor(raw, f"${{C}} -o {tmp_path / 'v.json'}")
            assert "--allow-host-files" in text and not (tmp_path / "v.json").exists()
            assert monitor(raw, "set R reset")[1] == b"OK"
            assert "read-only" in monitor(raw, "${R}")[0]
        finally:
            raw.close()
    assert sim.now == 0


def test_host_files_need_their_own_option_even_when_writes_are_allowed(
        sim_session: tuple[Session, SimTarget], inputs: Path, tmp_path: Path) -> None:
    session, sim = sim_session
    with in_process(session, allow_writes=True) as port:
        raw = gs.RawClient(port)
        try:
            for line in (f"dump -o {tmp_path / 'd.json'}", f"source {inputs / 'in.sdbg'}",
                         f"expect mem 0x10000000 == {inputs / 'in.bin'}",
                         f"butr sysctrl --junit {tmp_path / 'j.xml'}"):
                text, reply = monitor(raw, line)
                assert reply == b"OK" and "socdbg serve --allow-host-files" in text, line
            assert not (tmp_path / "d.json").exists() and not (tmp_path / "j.xml").exists()
            assert sim.read(SIM_SCRATCH, 4) == bytes(4)
            text, _ = monitor(raw, "write sysctrl.scratch 7")  # writes themselves are fine
            assert "error" not in text and sim.read(SIM_SCRATCH, 4) == bytes([7, 0, 0, 0])
        finally:
            raw.close()


def test_a_sourced_script_is_checked_line_by_line(
        sim_session: tuple[Session, SimTarget], inputs: Path) -> None:
    session, sim = sim_session
    with in_process(session, allow_host_files=True) as port:
        raw = gs.RawClient(port)
        try:
            text, _ = monitor(raw, f"source {inputs / 'in.sdbg'}")
            assert "monitor write: changes the target" in " ".join(text.split()), text
            text, _ = monitor(raw, f"source {inputs / 'reset.sdbg'}")
            assert "monitor reset: changes the target" in " ".join(text.split()), text
            text, _ = monitor(raw, f"expect mem 0x10000000 == {inputs / 'in.bin'}")
            assert text.startswith("ok: 4 bytes"), text  # reading host files: allowed now
        finally:
            raw.close()
    assert sim.read(SIM_SCRATCH, 4) == bytes(4) and sim.now == 0


def test_socdbg_clients_see_a_refused_monitor_command_fail(
        sim_session: tuple[Session, SimTarget]) -> None:
    session, _ = sim_session
    with in_process(session) as port:
        client = Session(target=f"gdb://127.0.0.1:{port}", out=io.StringIO())
        try:
            from socdbg.commands.dispatch import execute
            from socdbg.errors import SocdbgError

            with pytest.raises(SocdbgError, match="read-only"):
                execute(client, 'monitor "reset"')
            out = execute(client, "monitor read sysctrl.chip_id")
            assert out is not None and "0x5d0c0a01" in out.data["output"]
        finally:
            client.close()


def test_a_failed_monitor_command_ends_with_ok_for_gdb_and_an_error_for_socdbg(
        sim_session: tuple[Session, SimTarget]) -> None:
    session, _ = sim_session
    gdb14 = (b"qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;error-message+;"
             b"xmlRegisters=i386")  # what a newer gdb says: it must still get OK
    with in_process(session) as port:
        for hello, final in ((None, b"OK"), (gdb14, b"OK"),
                             (b"qSupported:binary-upload+;error-message+;socdbg+", b"E."),
                             (b"qSupported:binary-upload+;socdbg+", b"E01")):
            raw = gs.RawClient(port)
            try:
                if hello is not None:
                    raw.request(hello)
                text, reply = monitor(raw, "nosuch")
                assert "unknown command 'nosuch'" in text and reply.startswith(final), hello
            finally:
                raw.close()


# --- per-client sessions, help and output ---------------------------------------------------
def test_each_client_has_its_own_variables_and_help_goes_to_the_client(
        sim_session: tuple[Session, SimTarget], capsys: pytest.CaptureFixture[str]) -> None:
    session, _ = sim_session
    with in_process(session) as port:
        a, b = gs.RawClient(port), gs.RawClient(port)
        try:
            assert monitor(a, "set X from-a")[1] == b"OK"
            assert monitor(a, "echo ${X}")[0] == "from-a\n"
            text, _ = monitor(b, "echo ${X}")
            assert "undefined variable 'X'" in text
            text, _ = monitor(b, "dump --help")
            assert "Usage: dump [OPTIONS]" in text and "--include-side-effects" in text
            text, _ = monitor(b, "peek --help")
            assert "Usage: peek" in text
        finally:
            a.close()
            b.close()
    assert "Usage:" not in capsys.readouterr().out  # nothing on the server's stdout


def test_monitor_output_is_capped(sim_session: tuple[Session, SimTarget]) -> None:
    session, _ = sim_session
    with in_process(session) as port:
        raw = gs.RawClient(port)
        try:
            full, _ = monitor(raw, "regs list")
        finally:
            raw.close()
    assert len(full) > 20_000
    session2 = Session(out=io.StringIO())
    with in_process(session2, monitor_output=10_000) as port:
        raw = gs.RawClient(port)
        try:
            text, reply = monitor(raw, "regs list")
            assert reply == b"OK" and text.endswith("[output cut at 10000 characters]\n")
            assert len(text) < 10_100 and full.startswith(text[:9_000])
        finally:
            raw.close()


# --- packets built to hurt --------------------------------------------------------------------
NASTY = [
    b"m" + b"f" * 40 + b",4", b"mffffffffffffffff,ffffffffffffffff", b"m-1,4", b"m,", b"m",
    b"x1,", b"M40000008,4:zz", b"M40000008,ffffffffffffffff:00", b"X40000008,2:\x00",
    b"p" + b"9" * 5000, b"pzz", b"P1=" + b"f" * 5000, b"g", b"qRcmd,zz", b"qRcmd,ff",
    b"qRcmd," + ("(" * 5000).encode().hex().encode(),
    b"qRcmd," + ("echo " + "${" * 2000).encode().hex().encode(),
    b"qSocdbg.read:" + b";".join([b"80000000,1000"] * 200), b"qSocdbg.read:;;;",
    b"qSocdbg.read:80000000,ffffffffffff", b"qSocdbg.now:x", b"QSocdbg.step:ffffffffffffff",
    b"QSocdbg.until:1:zz", b"qXfer:features:read:target.xml:ffffffffffffffffffff,1",
    b"qXfer:features:read:../../etc/passwd:0,100", b"qXfer:features:read:", b"Z0,0,4",
    b"vCont;s", b"c", b"s", b"H", b"qSupported:" + b"x;" * 3000,
]


def test_malformed_packets_get_error_replies_and_the_server_goes_on(
        sim_session: tuple[Session, SimTarget]) -> None:
    session, sim = sim_session
    with in_process(session) as port:
        raw = gs.RawClient(port)
        try:
            for payload in NASTY:
                reply = raw.request(payload)
                while reply.startswith(b"O") and reply != b"OK":  # monitor console output
                    reply = raw.reply()
                assert reply != b"E03", (payload[:40], reply)  # E03: a handler bug
                assert raw.request(b"m40000000,4") == b"010a0c5d", payload[:40]
            # a run-length marker from a client is not expanded: it is a plain byte
            raw.send(frame(b"m40000000,4*\x22"))  # as a reply, '4*"' would be '444444'
            assert raw.reply().startswith(b"E")
            assert raw.request(b"m40000000,4") == b"010a0c5d"
        finally:
            raw.close()
    assert sim.now == 0


def test_reads_are_bounded_by_the_request_limit(sim_session: tuple[Session, SimTarget]
                                                ) -> None:
    session, _ = sim_session
    with in_process(session, max_request=256) as port:
        raw = gs.RawClient(port)
        try:
            assert len(raw.request(b"m80000000,100000")) == 2 * 256
            parts = raw.request(b"qSocdbg.read:80000000,80;80000100,80;80000200,80").split(b";")
            assert [len(p) for p in parts[:2]] == [256, 256]
            assert parts[2].startswith(b"E.request over the server's limit of 256 bytes")
        finally:
            raw.close()


class _Collect(ClientState):
    """A client whose console output is collected instead of sent."""

    def __init__(self, session: Session) -> None:
        super().__init__(socket.socket(), session)
        self.sock.close()
        self.sent: list[bytes] = []

    def send_raw(self, data: bytes) -> None:
        self.sent.append(data)


@pytest.fixture
def fuzz_server() -> Iterator[RspServer]:
    session = Session(out=io.StringIO())
    _ = session.target
    rsp = RspServer(session, ServeOptions(monitor_timeout=2.0))
    yield rsp
    rsp.close()
    session.close()


PREFIXES = [b"m", b"x", b"M", b"X", b"p", b"P", b"g", b"qRcmd,", b"qSocdbg.read:",
            b"qSocdbg.now", b"QSocdbg.step:", b"QSocdbg.until:", b"qXfer:features:read:",
            b"qSupported", b"Z", b"z", b"v", b"H", b"c", b"s", b"?", b"q", b"Q", b""]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(PREFIXES),
       body=st.one_of(st.binary(max_size=64),
                      st.text(alphabet="0123456789abcdefABCDEF,:;=-", max_size=40).map(
                          str.encode)))
def test_fuzz_the_packet_handler(fuzz_server: RspServer, prefix: bytes, body: bytes) -> None:
    conn = _Collect(fuzz_server.new_session())
    try:
        reply = fuzz_server.handle(prefix + body, conn)
        assert reply is None or isinstance(reply, bytes)
        assert reply != b"E03", (prefix + body)[:60]  # no internal error
        # the server still serves this client
        assert fuzz_server.handle(b"m40000000,4", conn) == b"010a0c5d"
    finally:
        conn.session.close()


# --- denial of service, measured ------------------------------------------------------------
def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def test_floods_leave_the_server_small_and_serving(child_env: dict[str, str]) -> None:
    with gs.serve(["--allow-writes", "--allow-host-files"], env=child_env) as served:
        base = _peak_rss_mb(served.proc.pid)

        def flood() -> None:
            with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
                blob = b"$M80000000,80000:" + b"a" * (1 << 20)
                for _ in range(4):
                    s.sendall(blob)
                s.sendall(b"$m80000000,4#" + b"00")  # then a damaged packet

        floods = [threading.Thread(target=flood) for _ in range(4)]
        for t in floods:
            t.start()
        raw = gs.RawClient(served.port, timeout=30)
        try:
            text, reply = monitor(raw, "source /dev/zero")
            assert reply == b"OK" and "not a script" in text, text
            text, reply = monitor(raw, "expect mem 0x80000000 == /dev/zero")
            assert reply == b"OK" and "larger than 64 MiB" in text, text
            for t in floods:
                t.join(timeout=60)
            assert raw.request(b"m40000000,4") == b"010a0c5d"
        finally:
            raw.close()
        assert served.alive()
        peak = _peak_rss_mb(served.proc.pid)
        assert peak < 300, f"peak RSS {peak:.0f} MB (at start {base:.0f} MB)"


@pytest.mark.parametrize(("args", "line"), [
    # simulated time runs in slices under the lock: 10**13 cycles take minutes (the monitor
    # time limit ends it); peek once was the slow command here, and now renders at pipe speed
    (["--allow-writes", "--monitor-timeout", "120"], "step 10000000000000"),
])
def test_a_slow_monitor_command_does_not_stall_other_clients(
        child_env: dict[str, str], args: list[str], line: str) -> None:
    with gs.serve(args, env=child_env) as served:
        slow = gs.RawClient(served.port, timeout=300)
        done = threading.Event()

        def peek() -> None:
            with contextlib.suppress(OSError, ConnectionError):
                monitor(slow, line)
            done.set()

        worker = threading.Thread(target=peek, daemon=True)
        worker.start()
        time.sleep(1.0)
        fast = gs.RawClient(served.port, timeout=10)
        try:
            t0 = time.monotonic()
            for _ in range(20):
                assert fast.request(b"m40000000,4") == b"010a0c5d"
            text, _ = monitor(fast, "read sysctrl.chip_id")
            assert "0x5d0c0a01" in text
            assert time.monotonic() - t0 < 20
            assert not done.is_set()  # the slow command was still running meanwhile
        finally:
            fast.close()
            slow.close()


def test_monitor_commands_have_a_time_limit(child_env: dict[str, str]) -> None:
    with gs.serve(["--allow-writes", "--monitor-timeout", "1"], env=child_env) as served:
        raw = gs.RawClient(served.port, timeout=30)
        try:
            t0 = time.monotonic()
            text, reply = monitor(raw, "step 1000000000000000")  # 10**10 slices
            assert reply == b"OK" and "limit of 1 s" in text, text
            assert raw.request(b"QSocdbg.step:" + f"{10**15:x}".encode()).startswith(b"E")
            assert time.monotonic() - t0 < 15
            assert raw.request(b"m40000000,4") == b"010a0c5d"
        finally:
            raw.close()


# --- live targets behind serve ------------------------------------------------------------------
SPEC = PCI_SPEC


@pytest.fixture
def bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backing]:
    with pci_bar(tmp_path, monkeypatch) as b:
        yield b


def _live(tmp_path: Path, allow_writes: bool, force_unsafe: bool = False) -> Session:
    return Session(target=SPEC, map_files=[str(write_map(tmp_path))], out=io.StringIO(),
                   allow_writes=allow_writes, force_unsafe=force_unsafe)


def _mpacket(address: int, value: int) -> bytes:
    return f"M{address:x},4:".encode() + value.to_bytes(4, "little").hex().encode()


def test_serve_applies_the_live_write_policy_to_packets_and_monitor_lines(
        bar: Backing, tmp_path: Path) -> None:
    with in_process(_live(tmp_path, allow_writes=True), allow_writes=True) as port:
        raw = gs.RawClient(port)
        try:
            assert raw.request(_mpacket(SCRATCH, 0x1234)) == b"OK"
            assert bar.word(SCRATCH - BASE) == 0x1234
            assert raw.request(_mpacket(PLL, 1)).startswith(b"E")  # unsafe_write
            assert raw.request(b"X%x,4:" % PLL + b"\x01\x00\x00\x00").startswith(b"E")
            assert raw.request(_mpacket(PLL - 2, 0xFFFFFFFF)).startswith(b"E")  # overlaps
            assert raw.request(b"P20=0100000000000000").startswith(b"E")
            for line in ("write dev.pll en=1", "poke dev.pll 1"):
                text, _ = monitor(raw, line)
                assert "unsafe_write" in text and "--force-unsafe" in text, text
            assert bar.word(PLL - BASE) == 0
        finally:
            raw.close()
    with in_process(_live(tmp_path, allow_writes=True, force_unsafe=True),
                    allow_writes=True) as port:
        raw = gs.RawClient(port)
        try:
            assert raw.request(_mpacket(PLL, 1)) == b"OK"
            assert bar.word(PLL - BASE) == 1
        finally:
            raw.close()


def test_a_live_target_opened_read_only_stays_so_behind_serve_allow_writes(
        bar: Backing, tmp_path: Path) -> None:
    with in_process(_live(tmp_path, allow_writes=False), allow_writes=True) as port:
        raw = gs.RawClient(port)
        try:
            assert raw.request(_mpacket(SCRATCH, 5)).startswith(b"E")
            text, _ = monitor(raw, "write dev.scratch 5")
            assert "open read-only" in text, text
            assert raw.request(b"m%x,4" % SCRATCH) == b"00000000"
        finally:
            raw.close()
    assert bar.word(SCRATCH - BASE) == 0


# --- the command line and binding --------------------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (["serve", "--port", "99999"], "99999 is not in the range"),
    (["serve", "--port", "0", "--bind", "999.1.1.1"], "--bind 999.1.1.1: not a valid address"),
    (["serve", "--port", "0", "--bind", "no such host.invalid"], "not a valid address"),
    (["serve", "--port", "0", "--packet-size", "1"], "--packet-size"),
    (["serve", "--port", "0", "--monitor-timeout", "nan"], "--monitor-timeout"),
])
def test_bad_serve_options_give_one_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                         message: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert "another server" not in err


def test_a_port_in_use_says_so(sim_session: tuple[Session, SimTarget]) -> None:
    session, _ = sim_session
    from socdbg.errors import SocdbgError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        with pytest.raises(SocdbgError) as info:
            make_server(session, "127.0.0.1", busy.getsockname()[1])
    assert info.value.hint == "is another server on that port?"


def test_ipv6_loopback(sim_session: tuple[Session, SimTarget]) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    session, _ = sim_session
    with in_process(session, bind="::1") as port:
        with socket.create_connection(("::1", port), timeout=5) as s:
            s.sendall(frame(b"m40000000,4"))
            data = b""
            while b"#" not in data:
                data += s.recv(100)
        assert b"$010a0c5d#" in data


def test_a_non_loopback_bind_that_allows_changes_warns() -> None:
    rw = ServeOptions(allow_writes=True)
    assert bind_warning("127.0.0.1", 3333, rw) is None
    assert bind_warning("::1", 3333, rw) is None
    assert bind_warning("0.0.0.0", 3333, ServeOptions()) is None  # read-only: no warning
    text = bind_warning("0.0.0.0", 3333, rw)
    assert text is not None and "--allow-writes" in text and "no authentication" in text
    text = bind_warning("192.168.1.5", 3333, ServeOptions(allow_host_files=True))
    assert text is not None and "files on this host" in text


def test_the_server_restores_stdout_when_closed(sim_session: tuple[Session, SimTarget]) -> None:
    import sys

    before = sys.stdout
    session, _ = sim_session
    with in_process(session):
        assert sys.stdout is not before
    assert sys.stdout is before
