"""A real Arm machine through the gdb target, decoded with a vendor SVD: QEMU's BBC micro:bit
(``qemu-system-arm -M microbit``, an nRF51822) read with Nordic's nrf51.svd from pyOCD's zip.

QEMU starts halted with no kernel (-S). FICR and GPIO read what QEMU models at reset; for RNG,
TIMER0 and UART0 the test writes a few Thumb instructions into RAM that start them, lets the
CPU run for a moment, halts it and reads the results.

Two things of QEMU's gdb stub (not of the SVD loader) the test works around:
* socdbg's gdb target asks for ``Qqemu.PhyMemMode:1``. On the micro:bit the nRF51's
  peripherals are not in the physical address space that mode reads (every peripheral reads
  0), so the test turns it off again on the target's connection.
* Without that mode QEMU drops debugger writes to device registers (writes to RAM work), so
  the peripherals are started by CPU instructions rather than by socdbg ``write``.
"""

from __future__ import annotations

import io
import shutil
import socket
import struct
import subprocess
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_svd_vendor import svd_zip

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.targets.gdb import GdbTarget

pytestmark = pytest.mark.slow

QEMU = "qemu-system-arm"
RAM = 0x2000_0000
TASKS_START_RNG = 0x4000_D000
TASKS_START_TIMER0 = 0x4000_8000
TASKS_CAPTURE0_TIMER0 = 0x4000_8040
UART0_ENABLE = 0x4000_2500
UART0_STARTTX = 0x4000_2008
UART0_TXD = 0x4000_251C


def thumb_program(stores: Sequence[tuple[int, int]], forever: tuple[int, int]) -> bytes:
    """Cortex-M0 (Thumb-1) code: ``*addr = value`` for each store, then ``*addr = value``
    in a loop. Each store is ``ldr r0, =addr; ldr r1, =value; str r1, [r0]``."""
    literals: list[int] = []

    def lit(v: int) -> int:
        if v not in literals:
            literals.append(v)
        return literals.index(v)

    code: list[tuple[str, int, int]] = []
    for addr, value in [*stores, forever]:
        code += [("ldr", 0, lit(addr)), ("ldr", 1, lit(value)), ("str", 0, 0)]
    code.append(("b", 0, 0))  # back to the last str
    pool = (len(code) * 2 + 3) & ~3
    words = []
    for i, (op, reg, index) in enumerate(code):
        at = i * 2
        if op == "ldr":  # LDR Rt, [PC, #imm8*4]; PC reads as Align(at + 4, 4)
            words.append(0x4800 | reg << 8 | (pool + 4 * index - ((at + 4) & ~3)) // 4)
        elif op == "str":  # STR r1, [r0]
            words.append(0x6001)
        else:  # B to the previous halfword: offset = target - (at + 4)
            words.append(0xE000 | (((at - 2) - (at + 4)) >> 1) & 0x7FF)
    blob = b"".join(struct.pack("<H", w) for w in words)
    blob += b"\xc0\x46" * ((pool - len(blob)) // 2)  # mov r8, r8 (a nop) up to the pool
    return blob + b"".join(struct.pack("<I", v) for v in literals)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nrf51_svd(tmp_path: Path) -> Path:
    with zipfile.ZipFile(svd_zip()) as zf:
        return Path(zf.extract("nrf51.svd", tmp_path))


@pytest.fixture
def microbit() -> Iterator[int]:
    """A halted micro:bit; yields its gdb port."""
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (Debian package qemu-system-arm)")
    port = _free_port()
    proc = subprocess.Popen([QEMU, "-M", "microbit", "-nographic", "-S", "-gdb",
                             f"tcp:127.0.0.1:{port}", "-monitor", "none", "-serial", "none"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    pytest.fail(f"{QEMU} -M microbit exited {proc.returncode}: {err[-500:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"{QEMU} did not open its gdb port {port}")
                time.sleep(0.05)
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def read(session: Session, path: str) -> dict[str, Any]:
    """``read PATH`` as its JSON data: path, address, value and fields."""
    out = execute(session, f"read {path}")
    assert out is not None and out.ok and isinstance(out.data, dict)
    return out.data


def value(session: Session, path: str) -> int:
    return int(read(session, path)["value"])


def shown(session: Session, what: str) -> str:
    """``read WHAT`` as the shell shows it."""
    buf = io.StringIO()
    Session(out=buf, width=120, color=False).presenter.emit(execute(session, f"read {what}"))
    return buf.getvalue()


def test_microbit_peripherals_decoded_with_nrf51_svd(microbit: int, nrf51_svd: Path) -> None:
    session = Session(target=f"gdb://127.0.0.1:{microbit}", map_files=[str(nrf51_svd)],
                      out=io.StringIO())
    try:
        rmap = session.map
        assert rmap.name == "nrf51" and len(rmap) > 600
        target = session.target
        assert isinstance(target, GdbTarget) and target.conn is not None
        assert target.conn.request(b"Qqemu.PhyMemMode:0") == b"OK"

        # FICR: factory information, as QEMU 7.2 models it: 256 pages of 1 KiB
        assert read(session, "FICR.CODEPAGESIZE") == {
            "path": "FICR.CODEPAGESIZE", "address": 0x1000_0010, "value": 0x400,
            "fields": {"CODEPAGESIZE": 0x400}}
        assert value(session, "FICR.CODESIZE") == 0x100
        assert value(session, "FICR.DEVICEID[1]") == 0x1234_5678
        assert value(session, "FICR.DEVICEID[0]") != 0
        assert "FICR.CODESIZE" in shown(session, "FICR.CODESIZE")

        # GPIO: PIN_CNF[n] reads its reset (input, buffer disconnected), as the map says
        cnf = read(session, "GPIO.PIN_CNF[3]")
        assert cnf["address"] == 0x5000_070C
        assert cnf["value"] == rmap.get("GPIO.PIN_CNF[3]").layout.reset == 0x2
        assert cnf["fields"]["DIR"] == {"value": 0, "enum": "Input"}
        assert cnf["fields"]["INPUT"] == {"value": 1, "enum": "Disconnect"}
        assert "Disconnect" in shown(session, "GPIO.PIN_CNF[3]")
        assert value(session, "GPIO.OUT") == 0

        # the peripherals are idle until started
        assert value(session, "RNG.EVENTS_VALRDY") == 0
        assert value(session, "UART0.EVENTS_TXDRDY") == 0

        program = thumb_program([(TASKS_START_RNG, 1), (TASKS_START_TIMER0, 1),
                                 (UART0_ENABLE, 4), (UART0_STARTTX, 1), (UART0_TXD, 0x41)],
                                forever=(TASKS_CAPTURE0_TIMER0, 1))
        target.write(RAM, program)
        assert target.read(RAM, len(program)) == program
        target.write_core_register("sp", RAM + 0x1000)
        target.write_core_register("xpsr", 1 << 24)  # the Thumb bit
        target.write_core_register("pc", RAM)

        values: list[int] = []
        captures: list[int] = []
        for _ in range(4):
            target.resume()
            time.sleep(0.05)
            target.halt()
            assert value(session, "RNG.EVENTS_VALRDY") == 1
            values.append(value(session, "RNG.VALUE"))
            captures.append(value(session, "TIMER0.CC[0]"))
        assert all(0 <= v <= 0xFF for v in values) and len(set(values)) > 1, values
        assert all(c > 0 for c in captures) and len(set(captures)) > 1, captures
        assert value(session, "UART0.EVENTS_TXDRDY") == 1
        assert RAM <= target.read_core_register("pc") < RAM + len(program)

        # a block read decodes every RNG register
        text = shown(session, "RNG")
        for name in ("RNG.VALUE", "RNG.EVENTS_VALRDY", "RNG.CONFIG", "RNG.SHORTS"):
            assert name in text
    finally:
        session.close()


def test_thumb_program_encoding() -> None:
    """The hand assembler: two stores, then a loop storing to the capture task."""
    blob = thumb_program([(0x4000_D000, 1)], (0x4000_8040, 1))
    halfwords = struct.unpack_from("<8H", blob)
    assert halfwords == (0x4803, 0x4904, 0x6001, 0x4804, 0x4902, 0x6001, 0xE7FD, 0x46C0)
    assert struct.unpack_from("<3I", blob, 16) == (0x4000_D000, 1, 0x4000_8040)
    assert len(blob) == 28
