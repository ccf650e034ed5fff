"""Registers whose width is not a power of two (issue 21): a 24-bit register keeps its width in
views, and every target accesses it as one access of the bus width that carries it (32 bits),
never split into a 16-bit and an 8-bit access: on the simulator, on live memory (mmio), in a
dump capture and on the dump target."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from socdbg.access import plan_runs, read_register, register_accesses, write_register
from socdbg.commands.dispatch import execute
from socdbg.commands.output import Output
from socdbg.commands.session import Session
from socdbg.dumpfile import read_dump
from socdbg.errors import TargetError
from socdbg.regmap import RegMap, load_map
from socdbg.targets.mmio import Window
from socdbg.targets.recorder import RecordingTarget
from socdbg.targets.sim import SimTarget

SVD = """<?xml version="1.0" encoding="utf-8"?>
<device schemaVersion="1.3">
  <name>ODD</name><addressUnitBits>8</addressUnitBits><width>32</width>
  <size>32</size><access>read-write</access><resetValue>0</resetValue>
  <resetMask>0xFFFFFFFF</resetMask>
  <peripherals><peripheral><name>P</name><baseAddress>0x1000</baseAddress>
    <addressBlock><offset>0</offset><size>0x10</size><usage>registers</usage></addressBlock>
    <registers>
      <register><name>A</name><addressOffset>0x0</addressOffset><size>24</size>
        <resetValue>0x123456</resetValue>
        <fields><field><name>LO</name><bitRange>[7:0]</bitRange></field>
                <field><name>HI</name><bitRange>[23:8]</bitRange></field></fields>
      </register>
      <register><name>B</name><addressOffset>0x4</addressOffset><size>32</size>
        <resetValue>0xcafe0001</resetValue>
        <fields><field><name>G</name><bitRange>[31:0]</bitRange></field></fields>
      </register>
    </registers>
  </peripheral></peripherals>
</device>
"""


@pytest.fixture
def svd(tmp_path: Path) -> Path:
    path = tmp_path / "odd.svd"
    path.write_text(SVD, encoding="utf-8")
    return path


@pytest.fixture
def rmap(svd: Path) -> RegMap:
    return load_map([str(svd)])


def ok(session: Session, line: str) -> Output:
    out = execute(session, line)
    assert out is not None and out.ok, line
    return out


def test_the_map_keeps_the_width(rmap: RegMap) -> None:
    a = rmap.find("P.A")
    assert a is not None and (a.width, a.size, a.end) == (24, 3, 0x1003)


def test_one_32_bit_access_per_24_bit_register(rmap: RegMap) -> None:
    a, b = rmap.find("P.A"), rmap.find("P.B")
    assert a is not None and b is not None
    assert register_accesses(a) == [(0x1000, 4)]
    assert register_accesses(b) == [(0x1004, 4)]
    # never grouped into a block read: a block would carry its bytes, not its bus access
    assert [[r.path for r in run] for run in plan_runs([a, b], 0x100)] == [["P.A"], ["P.B"]]


def test_simulator_reads_and_writes_at_the_bus_width(rmap: RegMap) -> None:
    target = RecordingTarget(SimTarget(rmap))
    a = rmap.find("P.A")
    assert a is not None
    assert read_register(target, a) == 0x123456
    write_register(target, a, 0xABCDEF)
    assert read_register(target, a) == 0xABCDEF
    assert target.log == [("read", 0x1000, 4), ("write", 0x1000, b"\xef\xcd\xab\x00"),
                          ("read", 0x1000, 4)]


def test_ipxact_24_bit_register_in_a_32_bit_block() -> None:
    uart = load_map([Path(__file__).parent / "fixtures" / "ipxact" / "uart-2014.xml"],
                    use_cache=False)
    fifo = uart.get("regs.fifo")
    assert (fifo.address, fifo.width) == (0x4000_0008, 24)
    assert register_accesses(fifo) == [(0x4000_0008, 4)]
    target = RecordingTarget(SimTarget(uart))
    read_register(target, fifo)
    assert target.log == [("read", 0x4000_0008, 4)]


def test_a_misaligned_24_bit_register_is_refused_before_any_access(tmp_path: Path) -> None:
    path = tmp_path / "odd.svd"
    path.write_text(SVD.replace("<addressOffset>0x0</addressOffset>",
                                "<addressOffset>0x9</addressOffset>"), encoding="utf-8")
    rmap = load_map([str(path)])
    a = rmap.find("P.A")
    assert a is not None
    target = RecordingTarget(SimTarget(rmap))
    with pytest.raises(TargetError, match="no single aligned bus access"):
        read_register(target, a)
    assert target.log == []


def test_views_show_24_bits(svd: Path) -> None:
    buf = io.StringIO()
    session = Session(target="sim", map_files=[str(svd)], out=buf, width=120)
    try:
        out = execute(session, "read P.A")
        assert out is not None and out.ok
        session.presenter.emit(out)
        text = buf.getvalue()
        assert "= 0x123456\n" in text and "0x00123456" not in text  # six digits, not eight
        assert "[23:8]  HI" in text
    finally:
        session.close()


def test_dump_capture_and_dump_target(svd: Path, tmp_path: Path) -> None:
    session = Session(target="sim", map_files=[str(svd)], out=io.StringIO())
    dump = tmp_path / "odd.json"
    try:
        ok(session, "write P.A 0x654321")
        out = execute(session, f"dump -o {dump}")
        assert out is not None and out.ok
    finally:
        session.close()
    stored = read_dump(dump)
    assert stored.registers["P.A"] == (0x1000, 3, 0x654321)
    assert stored.registers["P.B"] == (0x1004, 4, 0xCAFE0001)
    opened = Session(target=f"dump:{dump}", out=io.StringIO())
    try:
        out = execute(opened, "read P.A")
        assert out is not None and out.ok
        assert out.data["value"] == 0x654321
    finally:
        opened.close()


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bar"
    data = bytearray(0x1000)
    data[0:4] = bytes([0x56, 0x34, 0x12, 0xFF])  # the top byte is not the register's
    data[4:8] = (0xCAFE0001).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    yield path


def test_mmio_reads_one_32_bit_load(svd: Path, device: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[tuple[str, int, int]] = []
    load, store = Window.load, Window.store

    def logged_load(self: Window, offset: int, size: int) -> int:
        log.append(("load", offset, size))
        return load(self, offset, size)

    def logged_store(self: Window, offset: int, size: int, value: int) -> None:
        log.append(("store", offset, size))
        store(self, offset, size, value)

    monkeypatch.setattr(Window, "load", logged_load)
    monkeypatch.setattr(Window, "store", logged_store)
    session = Session(target=f"mmio:{device}@0x0+0x1000@0x1000", map_files=[str(svd)],
                      allow_writes=True, yes=True, out=io.StringIO())
    try:
        out = execute(session, "read P.A")
        assert out is not None and out.ok and out.data["value"] == 0x123456
        assert log == [("load", 0, 4)]
        log.clear()
        ok(session, "write P.A 0x0a0b0c")
        assert ("store", 0, 4) in log and all(size == 4 for _, _, size in log)
        log.clear()
        dump = tmp_path / "live.json"
        ok(session, f"dump -o {dump}")
        assert ("load", 0, 4) in log and all(size == 4 for _, _, size in log)
    finally:
        session.close()
    assert read_dump(dump).registers["P.A"] == (0x1000, 3, 0x0A0B0C)
    with device.open("rb") as fh:
        os.lseek(fh.fileno(), 0, os.SEEK_SET)
        assert fh.read(3) == bytes([0x0C, 0x0B, 0x0A])
