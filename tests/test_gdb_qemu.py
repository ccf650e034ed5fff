"""The gdb target against a real QEMU 7.2 ``virt`` machine (qemu-system-riscv64 -S -gdb).

Each test gets its own machine, halted at reset with tests/firmware (start.S + main.c, built
by the real cross compiler) loaded by QEMU's ``-kernel``, its gdbstub on a free port of
127.0.0.1 (tests/gdb_support.py). Commands run through ``execute`` on a Session with
registers/qemu_virt.rdl as the map, the way the shell runs them. Values are what QEMU's own
devices return (docs/qemu-virt.md lists them), and the firmware's variables are checked
against what main.c computes.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import firmware_build as fb
import gdb_support as gs
import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import TargetError
from socdbg.shell.repl import Shell
from socdbg.targets.base import CAP_CORE_REGS, CAP_HALT, CAP_RESET, CAP_STEP, CAP_WRITE
from socdbg.targets.gdb import GdbTarget

pytestmark = pytest.mark.slow

COUNTER_START, COUNTER_END = 0x1234, 0x1240  # main.c: counter counts up to 0x1240, returns


@pytest.fixture(scope="module")
def fw(tmp_path_factory: pytest.TempPathFactory) -> fb.Firmware:
    return gs.virt_firmware(tmp_path_factory)


@pytest.fixture
def machine(fw: fb.Firmware) -> Iterator[gs.Qemu]:
    with gs.qemu(fw.path) as q:
        yield q


def open_session(machine: gs.Qemu, options: str = "") -> Session:
    return Session(target=machine.spec + options, map_files=[str(gs.VIRT_RDL)],
                   out=io.StringIO(), width=120)


@pytest.fixture
def session(machine: gs.Qemu) -> Iterator[Session]:
    s = open_session(machine)
    try:
        yield s
    finally:
        s.close()


def run(session: Session, line: str) -> Any:
    out = execute(session, line)
    assert out is not None and out.ok, line
    return out


def data(session: Session, line: str) -> Any:
    return run(session, line).data


def pc(session: Session) -> int:
    value: int = data(session, "core pc")["pc"]
    return value


def word(session: Session, where: str, width: int = 32) -> int:
    value: int = data(session, f"peek --json -w {width} {where}")["words"][0]
    return value


# --------------------------------------------------------------------------------------------
# QEMU's own devices, decoded
# --------------------------------------------------------------------------------------------
def test_connect_negotiates_what_qemu_offers(session: Session) -> None:
    target = session.target
    assert isinstance(target, GdbTarget)
    assert target.features["PacketSize"] == "1000"
    assert target.features["qemu.PhyMemMode"] == "1"  # so that writes reach devices
    assert target.features.get("QStartNoAckMode") is None and target.conn is not None
    assert target.conn.ack_mode  # QEMU 7.2 has no no-ack mode
    assert not target.binary_read and not target.binary_write  # nor binary x/X
    assert target.max_read <= 0x800  # one m returns at most 0x800 bytes
    assert {CAP_CORE_REGS, CAP_HALT, CAP_STEP, CAP_RESET, CAP_WRITE} <= target.capabilities
    info = data(session, "info --json")
    assert info["target"] == session.target.spec and info["map"] == "qemu_virt"


def test_virtio_uart_and_clint_decode_at_reset(session: Session) -> None:
    magic = data(session, "read --json virtio[0].magic")
    assert magic["address"] == gs.VIRTIO0 and magic["value"] == gs.VIRTIO_MAGIC
    version = data(session, "read --json virtio[0].version")
    assert version["value"] == 1 and version["fields"]["version"] == {"value": 1,
                                                                     "enum": "LEGACY"}
    assert data(session, "read --json virtio[0].vendor_id")["value"] == gs.VIRTIO_VENDOR
    assert data(session, "read --json virtio[0].device_id")["fields"]["id"]["enum"] == "NONE"
    # uart.lsr is unsafe_read: skipped by globs, read when named
    lsr = data(session, "read --json uart.lsr")
    assert lsr["value"] == gs.UART_LSR_RESET
    assert lsr["fields"]["thre"] == 1 and lsr["fields"]["temt"] == 1 and lsr["fields"]["dr"] == 0
    uart = {d["path"]: d["value"] for d in data(session, "read --json uart")}
    assert "uart.lsr" not in uart and "uart.rbr" not in uart
    assert uart == {"uart.ier": 0, "uart.lcr": 0, "uart.mcr": 0x08, "uart.scr": 0}
    # the machine never ran (-S): QEMU's virtual clock has not moved
    assert data(session, "read --json clint.mtime")["value"] == 0


def test_virtio_glob_reads_all_eight_transports(session: Session) -> None:
    rows = data(session, "read --json 'virtio[*].magic'")
    assert [(r["path"], r["address"], r["value"]) for r in rows] == [
        (f"virtio[{n}].magic", gs.VIRTIO0 + n * 0x1000, gs.VIRTIO_MAGIC) for n in range(8)]


def test_rtc_time_reads_low_word_first_and_gives_host_time(session: Session) -> None:
    # rtc.time is 64 bits read as two 32-bit accesses, low first: reading TIME_LOW latches
    # TIME_HIGH, so a wrong order or one 64-bit access would give a value far from now
    before = time.time_ns()
    ns = data(session, "read --json rtc.time")["value"]
    assert abs(ns - before) < 3600 * 10**9


def test_device_writes_take_effect_because_of_phymem_mode(session: Session) -> None:
    run(session, "write uart.scr 0x5a")
    assert data(session, "read --json uart.scr")["value"] == 0x5A
    run(session, "poke -w 8 0x10000007 0xa5")
    assert word(session, "0x10000007", 8) == 0xA5


def test_without_phymem_mode_qemu_drops_device_writes(machine: gs.Qemu) -> None:
    """The QEMU fact behind socdbg's Qqemu.PhyMemMode:1 (docs/gdb.md): plain gdb writes to a
    device are dropped without an error, and reads of unmapped addresses are E14."""
    client = gs.RawClient(machine.port)
    try:
        client.send(b"+")
        assert client.request(b"qSupported:xmlRegisters=riscv").startswith(b"PacketSize=1000")
        assert client.request(b"M10000007,1:5a") == b"OK"
        assert client.request(b"m10000007,1") == b"00"  # dropped
        assert client.request(b"m0,4") == b"E14"
        assert client.request(b"m80000000,801") == b"E22"  # more than 0x800 bytes
        assert client.request(b"Qqemu.PhyMemMode:1") == b"OK"
        assert client.request(b"M10000007,1:5a") == b"OK"
        assert client.request(b"m10000007,1") == b"5a"  # now it reached the UART
        assert client.request(b"m0,4") == b"00000000"  # and unmapped reads give zeros
    finally:
        client.close()


def test_reading_an_unmapped_address_is_a_bus_error(session: Session) -> None:
    with pytest.raises(TargetError, match="bus error"):
        execute(session, "peek 0x4000000")  # the platform bus window: nothing there


def test_reads_larger_than_one_packet_are_split(session: Session) -> None:
    target = session.target
    rom = target.read_block(0x1000, 0x1800)  # three requests of at most 0x800 bytes
    assert len(rom) == 0x1800
    # the reset vector: auipc t0, 0 (QEMU's boot ROM starts with it)
    assert rom[:4] == bytes.fromhex("97020000")
    assert rom[0x800:0x900] == target.read_block(0x1800, 0x100)


# --------------------------------------------------------------------------------------------
# RAM
# --------------------------------------------------------------------------------------------
def test_ram_peek_poke_at_every_width(session: Session) -> None:
    base = gs.RAM + 0x10_0000
    for width, value in ((8, 0x5A), (16, 0xBEEF), (32, 0xDEADBEEF), (64, 0x0123456789ABCDEF)):
        at = base + width  # aligned for each width
        run(session, f"poke -w {width} {at:#x} {value:#x}")
        assert word(session, f"{at:#x}", width) == value
    # the 64-bit word at base+64 seen as two 32-bit words, little-endian
    words = data(session, f"peek --json -w 32 {base + 64:#x} 2")["words"]
    assert words == [0x89ABCDEF, 0x01234567]


def test_ram_block_round_trip_of_256k(session: Session) -> None:
    import random

    blob = random.Random(3).randbytes(256 << 10)
    target = session.target
    at = gs.RAM + 0x20_0000
    target.write_block(at, blob)
    assert target.read_block(at, len(blob)) == blob
    assert target.read_block(at + 0x7FF, 3) == blob[0x7FF:0x802]  # odd address, odd size


# --------------------------------------------------------------------------------------------
# firmware: load, step, run, halt, symbols
# --------------------------------------------------------------------------------------------
def test_load_step_run_halt_and_read_variables_by_symbol(session: Session,
                                                         fw: fb.Firmware) -> None:
    out = run(session, f"load {fw.path} --verify --set-pc")
    assert "verified" in out.text and f"pc <- {fw.entry:#x}" in out.text
    assert pc(session) == fw.entry == fw.addr("_start")
    assert word(session, "counter") == COUNTER_START  # .data as loaded, nothing ran yet
    assert data(session, "sym --json counter")["address"] == fw.addr("counter")

    out = run(session, "stepi")
    assert pc(session) == fw.entry + 4  # auipc sp, 0x1
    assert out.text == f"stepped 1 at pc {fw.entry + 4:#x} (_start+0x4)"
    run(session, "stepi 2")
    assert pc(session) == fw.entry + 12

    assert data(session, "resume") == {"running": True}
    assert session.target.running  # type: ignore[attr-defined]
    with pytest.raises(TargetError, match="while the CPU runs"):
        execute(session, "peek counter")
    time.sleep(0.2)
    out = run(session, "halt")
    here = pc(session)
    assert here != fw.entry + 12
    hit = data(session, f"sym --json {here:#x}")
    functions = {name for name, (_, letter) in fw.nm.items() if letter in "Tt"}
    assert hit["symbol"] in functions, hit
    assert hit["symbol"] == "done"  # main returned: start.S spins at done
    assert out.text.startswith(f"halted at pc {here:#x} (done")

    # main.c ran to its end: counter counted to 0x1240, ticks += 3 each time, table = mix(i)
    assert word(session, "counter") == COUNTER_END
    assert word(session, "ticks", 64) == 3 * (COUNTER_END - COUNTER_START)
    table = data(session, "peek --json -w 32 table 64")["words"]
    assert table == [(i * 2654435761) & 0xFFFF_FFFF for i in range(64)]


def test_reset_puts_the_hart_back_at_the_reset_vector(session: Session) -> None:
    run(session, "stepi 3")
    assert pc(session) == gs.RESET_PC + 12
    run(session, "reset")
    assert pc(session) == gs.RESET_PC


def test_core_registers_list(session: Session) -> None:
    regs = data(session, "core --json")
    assert regs["pc"] == gs.RESET_PC
    assert {"ra", "sp", "a0", "a1"} <= set(regs)
    run(session, "core a0 0x1234")
    assert data(session, "core --json a0") == {"a0": 0x1234}


def test_monitor_passes_commands_to_qemu(session: Session) -> None:
    text = run(session, "monitor info mtree").text
    assert text.count("virtio-mmio") >= 8
    assert "riscv_virt_board.ram" in text


# --------------------------------------------------------------------------------------------
# the stub going away
# --------------------------------------------------------------------------------------------
class _Script:
    """Piped standard input for the shell that runs actions between lines."""

    def __init__(self, *steps: Any) -> None:
        self.steps = steps

    def isatty(self) -> bool:
        return False

    def __iter__(self) -> Iterator[str]:
        for step in self.steps:
            if callable(step):
                step()
            else:
                yield step + "\n"


def test_killing_qemu_mid_session_is_one_error_line_and_the_shell_goes_on(
        machine: gs.Qemu, capsys: pytest.CaptureFixture[str]) -> None:
    session = open_session(machine)
    out = session.presenter.out
    assert isinstance(out, io.StringIO)
    try:
        rc = Shell(session, stdin=_Script(  # type: ignore[arg-type]
            "read virtio[0].magic.magic",
            machine.kill,
            "read virtio[0].magic.magic",
            "core pc",
            "find vendor_id",
            machine.restart,
            "reconnect",
            "read virtio[0].version.version",
        )).run()
    finally:
        session.close()
    err = capsys.readouterr().err
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert rc == 1  # piped: a failed line makes the exit status 1
    assert "Traceback" not in err and "internal error" not in out.getvalue()
    errors = err.splitlines()
    assert len(errors) == 2, err
    for line in errors:
        assert line.startswith(f"error: {machine.spec}: ")
        assert "reconnect" in line
    # the stub closed the connection (FIN), or reset it (RST: it died with our ack unread)
    assert "closed the connection" in errors[0] or "connection lost" in errors[0]
    assert lines[0] == "virtio[0].magic.magic = 0x74726976"
    assert any("virtio[0].vendor_id" in line for line in lines)  # find needs no target
    assert f"reconnected to {machine.spec} at pc 0x1000" in lines
    assert lines[-1] == "virtio[0].version.version = LEGACY (1)"


def test_reconnect_to_a_restarted_qemu_on_the_same_port(session: Session, machine: gs.Qemu,
                                                        fw: fb.Firmware) -> None:
    run(session, f"load {fw.path} --set-pc")
    run(session, "resume")
    machine.kill()  # while the CPU runs
    with pytest.raises(TargetError) as info:
        execute(session, "halt")
    assert "\n" not in str(info.value)
    port = machine.port
    machine.restart()
    assert machine.port == port
    out = run(session, "reconnect")
    assert out.text == f"reconnected to {machine.spec} at pc {gs.RESET_PC:#x}"
    assert pc(session) == gs.RESET_PC  # a new machine, halted at reset
    assert not session.target.running  # type: ignore[attr-defined]
    assert data(session, "read --json virtio[0].magic")["value"] == gs.VIRTIO_MAGIC


def test_a_second_client_is_accepted_but_never_served_and_times_out(
        session: Session, machine: gs.Qemu) -> None:
    assert pc(session) == gs.RESET_PC
    second = open_session(machine, "?timeout=0.5")
    t0 = time.monotonic()
    with pytest.raises(TargetError) as info:
        execute(second, "core pc")
    assert time.monotonic() - t0 < 3
    assert str(info.value).startswith(f"{machine.spec}: ")
    assert pc(session) == gs.RESET_PC  # the first client is unaffected


# --------------------------------------------------------------------------------------------
# the one-shot command line
# --------------------------------------------------------------------------------------------
def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                          text=True, env=env, cwd=gs.REPO, timeout=60, check=False)


def test_cli_one_shot_read_and_detach_lets_the_vm_run(machine: gs.Qemu, fw: fb.Firmware,
                                                      child_env: dict[str, str]) -> None:
    base = ["-t", machine.spec, "--map", "registers/qemu_virt.rdl"]
    proc = _cli(*base, "read", "virtio[0].magic", env=child_env)
    assert proc.returncode == 0, proc.stderr
    assert "0x74726976" in proc.stdout and proc.stderr == ""
    # the one-shot call detached, and QEMU let the machine run: the firmware finished
    proc = _cli(*base, "peek", "--json", f"{fw.addr('counter'):#x}", env=child_env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["words"] == [COUNTER_END]
    proc = _cli(*base, "core", "pc", env=child_env)
    assert proc.returncode == 0 and f"{fw.addr('done'):#018x}" in proc.stdout


def test_cli_against_nothing_listening_is_one_error_line(child_env: dict[str, str]) -> None:
    port = gs.free_port()
    proc = _cli("-t", f"gdb://127.0.0.1:{port}", "read", "sysctrl.chip_id", env=child_env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"error: gdb://127.0.0.1:{port}: cannot connect: Connection refused "
        "(is the stub running and listening on that port?)"]
