"""The mmio, pci and uio backends against a regular file and a memfd standing in for the BAR.

Every access goes through ``Window.load``/``Window.store``; the recorder wraps them to check
that registers are accessed with single accesses of exactly their access width (never
narrower) by read, write, read_block, write_block and dump; then relocation of the map onto
the window, bounds, alignment, the target strings and the permission error.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_mmio_support import (
    BAR_SIZE,
    BASE,
    CTRL,
    HALF,
    PAGE,
    SCRATCH,
    SRAM,
    TINY,
    WIDE,
    Backing,
    backing,
    fake_pci,
    fake_uio,
    record_accesses,
    write_map,
)

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.dumpfile import read_dump
from socdbg.errors import TargetError
from socdbg.targets.base import CAP_COALESCE, CAP_WRITE, backends
from socdbg.targets.mmio import CAP_LIVE, SYSFS_ENV, MmioTarget, Window, access_denied

KINDS = ["file", "memfd"]


@pytest.fixture
def rdl(tmp_path: Path) -> Path:
    return write_map(tmp_path)


@pytest.fixture(params=KINDS)
def bar(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backing]:
    """The BAR: BAR_SIZE bytes in a file or a memfd."""
    with backing(request.param, tmp_path, BAR_SIZE) as b:
        yield b


@pytest.fixture
def sysfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sys"
    root.mkdir()
    monkeypatch.setenv(SYSFS_ENV, str(root))
    return root


def live(rdl: Path, spec: str, allow_writes: bool = True) -> Session:
    return Session(target=spec, map_files=[str(rdl)], allow_writes=allow_writes, width=120)


@pytest.fixture
def pci(rdl: Path, bar: Backing, sysfs: Path) -> Iterator[Session]:
    fake_pci(sysfs, "0000:03:00.0", bar)
    session = live(rdl, "pci:0000:03:00.0/bar0")
    yield session
    session.close()


def target_of(session: Session) -> MmioTarget:
    target = session.target
    assert isinstance(target, MmioTarget)
    return target


# --- registration and capabilities ----------------------------------------------------------
def test_backends_are_registered() -> None:
    table = backends()
    assert {"mmio", "pci", "uio"} <= set(table)
    assert table["pci"].example == "pci:0000:03:00.0/bar0"


def test_capabilities_read_only_until_writes_are_enabled(rdl: Path, bar: Backing,
                                                         sysfs: Path) -> None:
    fake_pci(sysfs, "0000:03:00.0", bar)
    ro = live(rdl, "pci:0000:03:00.0/bar0", allow_writes=False)
    try:
        target = target_of(ro)
        assert target.capabilities == {CAP_LIVE, CAP_COALESCE}
        assert not target.window.writable
        out = execute(ro, "info")
        assert out is not None and "capabilities coalesce, live" in (out.text or "")
        target.enable_writes()
        assert target.capabilities == {CAP_LIVE, CAP_COALESCE, CAP_WRITE}
    finally:
        ro.close()
    rw = live(rdl, "pci:0000:03:00.0/bar0")
    try:
        assert CAP_WRITE in rw.target.capabilities
    finally:
        rw.close()


def test_a_read_only_mapping_cannot_be_stored_to(bar: Backing) -> None:
    """Read-only is the mapping itself (PROT_READ), not only a check in front of it."""
    window = Window(bar.path, 0, BAR_SIZE)
    try:
        with pytest.raises(TypeError, match="read-only"):
            window.store(0, 4, 1)
    finally:
        window.close()
    assert bar.read(0, 4) == bytes(4)


# --- values land where the map says ---------------------------------------------------------
def test_register_values_round_trip_through_the_bar(pci: Session, bar: Backing) -> None:
    execute(pci, "write dev.scratch 0x12345678")
    execute(pci, "write dev.wide 0x1122334455667788")
    execute(pci, "write dev.split 0xaabbccdd00112233")
    execute(pci, "write dev.half 0xbeef")
    execute(pci, "write dev.tiny 0x5a")
    execute(pci, "write dev.ctrl mode=RUN en=1")
    assert bar.word(0x4) == 0x12345678
    assert bar.word(0x8, 8) == 0x1122334455667788
    assert bar.word(0x10, 8) == 0xAABBCCDD00112233
    assert bar.read(0x18, 3) == b"\xef\xbe\x5a"
    assert bar.word(0x0) == 0b011
    bar.write(0x0, (0x80 << 16 | 1 << 8 | 0b101).to_bytes(4, "little"))
    out = execute(pci, "read dev.ctrl")
    assert out is not None
    assert out.data["fields"] == {"en": 1, "mode": {"value": 2, "enum": "SLEEP"}, "busy": 1,
                                  "gain": 0x80}
    out = execute(pci, "read dev.split")
    assert out is not None and out.data["value"] == 0xAABBCCDD00112233


# --- single accesses of the register's width ------------------------------------------------
WIDTHS = [(CTRL, 4), (SCRATCH, 4), (WIDE, 8), (HALF, 2), (TINY, 1)]


def test_read_and_write_are_one_access_of_the_register_width(
        pci: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    acc = record_accesses(monkeypatch)
    target = pci.target
    for address, size in WIDTHS:
        target.write(address, bytes(range(1, size + 1)))
        assert acc.take() == [("store", address - BASE, size)]
        assert target.read(address, size) == bytes(range(1, size + 1))
        assert acc.take() == [("load", address - BASE, size)]


@pytest.mark.parametrize(("path", "value", "accesses"), [
    ("dev.scratch", "0xcafef00d", [(0x4, 4)]),
    ("dev.wide", "0x0123456789abcdef", [(0x8, 8)]),
    ("dev.split", "0x0123456789abcdef", [(0x10, 4), (0x14, 4)]),  # accesswidth 32
    ("dev.half", "0x1234", [(0x18, 2)]),
    ("dev.tiny", "0x12", [(0x1a, 1)]),
])
def test_commands_use_the_access_width(pci: Session, monkeypatch: pytest.MonkeyPatch,
                                       path: str, value: str,
                                       accesses: list[tuple[int, int]]) -> None:
    acc = record_accesses(monkeypatch)
    execute(pci, f"write {path} {value}")
    assert acc.take() == [("store", off, n) for off, n in accesses]
    out = execute(pci, f"read {path}")
    assert out is not None and out.data["value"] == int(value, 16)
    assert acc.take() == [("load", off, n) for off, n in accesses]


def test_block_transfers_are_one_access_per_register(pci: Session,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    acc = record_accesses(monkeypatch)
    target = pci.target
    data = bytes(range(0x1B))
    target.write_block(CTRL, data)
    per_register = [(0x0, 4), (0x4, 4), (0x8, 8), (0x10, 4), (0x14, 4), (0x18, 2), (0x1a, 1)]
    assert acc.take() == [("store", off, n) for off, n in per_register]
    assert target.read_block(CTRL, len(data)) == data
    assert acc.take() == [("load", off, n) for off, n in per_register]


def test_a_dump_reads_each_register_once_at_its_width(
        pci: Session, bar: Backing, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bar.write(0x8, (0x0123456789ABCDEF).to_bytes(8, "little"))
    acc = record_accesses(monkeypatch)
    out = execute(pci, f"dump -o {tmp_path / 'd.json'}")
    assert out is not None and out.ok
    loads = acc.take()
    assert all(op == "load" for op, _, _ in loads)
    regs = {r.address - BASE: r for r in pci.map}
    seen: dict[int, int] = {}
    for _, off, n in loads:
        reg = next(r for r in regs.values() if r.address - BASE <= off < r.end - BASE)
        assert n == reg.accesswidth // 8, (reg.path, n)  # never narrower, never wider
        seen[off] = n
    # every readable register without read side effects, once; unsafe_read ones never
    assert sorted(seen) == [0x0, 0x4, 0x8, 0x10, 0x14, 0x18, 0x1a, 0x24, 0x28, 0x60, 0x80]
    assert len(loads) == len(seen)
    dump = read_dump(tmp_path / "d.json")
    assert dump.registers["dev.wide"] == (WIDE, 8, 0x0123456789ABCDEF)


def test_memory_blocks_use_aligned_words(pci: Session, monkeypatch: pytest.MonkeyPatch,
                                         bar: Backing) -> None:
    acc = record_accesses(monkeypatch)
    target = pci.target
    target.write_block(SRAM + 1, b"\x01\x02\x03\x04\x05\x06\x07")
    assert acc.take() == [("store", 0x1001, 1), ("store", 0x1002, 2), ("store", 0x1004, 4)]
    assert bar.read(0x1000, 8) == b"\x00\x01\x02\x03\x04\x05\x06\x07"
    out = execute(pci, "peek dev.sram 2")
    assert out is not None and out.data["words"] == [0x03020100, 0x07060504]
    assert acc.take() == [("load", 0x1000, 4), ("load", 0x1004, 4)]


# --- relocation -----------------------------------------------------------------------------
def test_pci_window_starts_at_the_lowest_register_by_default(pci: Session,
                                                            bar: Backing) -> None:
    target = target_of(pci)
    assert target.base == BASE == min(r.address for r in pci.map)
    execute(pci, "write dev.scratch 7")
    assert bar.word(SCRATCH - BASE) == 7


def test_pci_at_address_places_the_window(rdl: Path, bar: Backing, sysfs: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pci(sysfs, "0000:03:00.0", bar)
    session = live(rdl, "pci:03:00.0/bar0@0x3ffff080")  # domain 0000 by default
    try:
        assert target_of(session).base == 0x3FFFF080
        execute(session, "write dev.scratch 9")
        assert bar.word(SCRATCH - 0x3FFFF080) == bar.word(0xF84) == 9
        acc = record_accesses(monkeypatch)
        # dev.sram is 0x40001000..0x400010ff, the window ends at 0x4000107f: a block that
        # runs off the end is refused before its first access
        with pytest.raises(TargetError, match=r"read of 4 byte\(s\) at 0x40001080 \(dev.sram, "
                                              r".* is outside the window"):
            execute(session, "peek dev.sram 64")
        assert acc.take() == []
        out = execute(session, "peek dev.sram 32")
        assert out is not None and acc.take() == [("load", 0x1F80 + 4 * i, 4) for i in range(32)]
    finally:
        session.close()


@pytest.mark.parametrize("kind", KINDS)
def test_uio_map_offset_and_page(rdl: Path, tmp_path: Path, sysfs: Path, kind: str) -> None:
    """map1 is at file offset 1 page; its registers start `offset` bytes into that page."""
    fake_uio(sysfs, "uio3", {0: (0x1000, 0), 1: (BAR_SIZE, 0x100)})
    with backing(kind, tmp_path, 2 * PAGE + BAR_SIZE, name="uio3") as dev:
        node = dev.path if kind == "file" else str(tmp_path / "uio3")
        if kind == "memfd":
            os.symlink(dev.path, node)
        session = live(rdl, f"uio:{node}/map1")
        try:
            execute(session, "write dev.wide 0x1122334455667788")
            assert dev.word(PAGE + 0x100 + 0x8, 8) == 0x1122334455667788
            target = target_of(session)
            assert target.window_text == f"{BASE:#x}..{BASE + BAR_SIZE - 1:#x}, map1 of uio3 " \
                                         "(8 KiB)"
        finally:
            session.close()


@pytest.mark.parametrize("kind", KINDS)
def test_mmio_file_offset_is_the_map_address(rdl: Path, tmp_path: Path, kind: str) -> None:
    with backing(kind, tmp_path, BASE + BAR_SIZE) as dev:  # sparse: 1 GiB of holes
        session = live(rdl, f"mmio:{dev.path}@{BASE:#x}+8K")
        try:
            execute(session, "write dev.scratch 0x55")
            assert dev.word(SCRATCH) == 0x55
        finally:
            session.close()
        moved = live(rdl, f"mmio:{dev.path}@0x1000+0x2000@{BASE:#x}")
        try:
            execute(moved, "write dev.scratch 0x66")
            assert dev.word(0x1000 + 4) == 0x66
        finally:
            moved.close()


# --- bounds and alignment -------------------------------------------------------------------
def test_accesses_outside_the_window_are_errors(pci: Session,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    acc = record_accesses(monkeypatch)
    target = pci.target
    with pytest.raises(TargetError, match=r"0x80000000 \(far, 0x80000000\.\.0x800000ff\) is "
                                          r"outside the window of pci:0000:03:00.0/bar0: "
                                          r"0x40000000\.\.0x40001fff, BAR0 of 0000:03:00.0"):
        execute(pci, "peek far")
    with pytest.raises(TargetError, match="outside the window"):
        target.read(BASE + BAR_SIZE - 2, 4)
    with pytest.raises(TargetError, match="outside the window"):
        target.read(BASE - 4, 4)
    assert acc.take() == []  # every check before the first access


def test_block_plans_follow_the_map(pci: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    acc = record_accesses(monkeypatch)
    target = pci.target
    with pytest.raises(TargetError, match=r"at 0x4000001b: no register or memory there"):
        target.read_block(HALF, 8)  # half, tiny, then the hole from 0x1b
    with pytest.raises(TargetError, match=r"starts inside dev.scratch"):
        target.read_block(SCRATCH + 2, 4)
    with pytest.raises(TargetError, match=r"ends inside dev.wide"):
        target.read_block(SCRATCH, 8)
    with pytest.raises(TargetError, match="misaligned 32-bit read at 0x40000002"):
        target.read(CTRL + 2, 4)
    with pytest.raises(TargetError, match="sizes are 1, 2, 4 or 8"):
        target.read(CTRL, 3)
    assert acc.take() == []


def test_window_alignment_is_the_bus_alignment(rdl: Path, tmp_path: Path) -> None:
    """A window starting at an odd file offset: map-aligned accesses are misaligned on the
    bus, and refused."""
    with backing("file", tmp_path, 0x4000) as dev:
        session = live(rdl, f"mmio:{dev.path}@0x1002+0x1000@{BASE:#x}")
        try:
            with pytest.raises(TargetError, match="misaligned 32-bit read"):
                execute(session, "read dev.scratch")
            out = execute(session, "read dev.half")  # 16-bit at bus 0x101a: aligned
            assert out is not None and out.data["value"] == 0
        finally:
            session.close()


# --- target strings -------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "message"), [
    ("mmio:/dev/mem", r"expected mmio:FILE@OFFSET\+SIZE\[@ADDR\]"),
    ("mmio:/nonexistent/file@0x0+4K", "/nonexistent/file: no such file"),
    ("pci:03:00/bar0", "expected pci:DOMAIN:BUS:DEV.FN/barN"),
    ("pci:0000:03:00.0/bar7", "BAR 7 does not exist"),
    ("pci:0000:04:00.0/bar0", r"no PCI device 0000:04:00.0.*did you mean '0000:03:00.0'"),
    ("pci:0000:03:00.0/bar1", r"0000:03:00.0 has no memory BAR 1 .*its BARs: bar0"),
    ("pci:0000:03:00.0/bar2", "BAR 2 is an I/O-port BAR"),
    ("uio:/dev/uio9", r"no UIO device uio9"),
    ("uio:/dev/uio3/map4", r"uio3 has no map4 \(its maps: map0, map1\)"),
    ("uio:/dev/uio3/map1@0xzz", "map address '0xzz' is not a number"),
])
def test_bad_target_strings(rdl: Path, sysfs: Path, tmp_path: Path, spec: str,
                            message: str) -> None:
    with backing("file", tmp_path, BAR_SIZE) as dev:
        fake_pci(sysfs, "0000:03:00.0", dev)
        fake_uio(sysfs, "uio3", {0: (0x1000, 0), 1: (0x1000, 0)})
        session = live(rdl, spec)
        with pytest.raises(TargetError, match=message):
            session.target  # noqa: B018 - opening is the test


def test_a_window_past_the_end_of_a_file_is_refused(rdl: Path, tmp_path: Path) -> None:
    with backing("file", tmp_path, 0x1000) as dev:
        session = live(rdl, f"mmio:{dev.path}@0x0+0x2000")
        with pytest.raises(TargetError, match=r"is 0x1000 bytes: the window 0x0\+0x2000 runs "
                                              "past its end"):
            session.target  # noqa: B018


# --- permission errors ----------------------------------------------------------------------
def test_permission_error_names_the_file_owner_group_and_mode(rdl: Path, tmp_path: Path
                                                              ) -> None:
    if os.geteuid() == 0:
        pytest.skip("root opens a mode-000 file anyway; the message is tested directly below")
    with backing("file", tmp_path, BAR_SIZE) as dev:
        os.chmod(dev.path, 0)
        session = live(rdl, f"mmio:{dev.path}@0x0+0x2000@{BASE:#x}", allow_writes=False)
        with pytest.raises(TargetError) as info:
            session.target  # noqa: B018
    err = info.value
    assert err.message.startswith(f"cannot open {dev.path} for reading: permission denied (")
    assert "mode ---------- (0000)" in err.message and f"uid {os.geteuid()}" in err.message
    assert err.hint is not None and "reads need read access" in err.hint


def _stat(mode: int, uid: int = 0, gid: int = 0) -> os.stat_result:
    return os.stat_result((stat.S_IFREG | mode, 0, 0, 1, uid, gid, 4096, 0, 0, 0))


def test_permission_message_builder() -> None:
    import grp

    path = "/sys/bus/pci/devices/0000:03:00.0/resource0"
    err = access_denied(path, True, st=_stat(0o600))
    root_group = grp.getgrgid(0).gr_name
    assert err.message.startswith(
        f"cannot open {path} for reading and writing: permission denied ({path} is owned by "
        f"root:{root_group}, mode -rw------- (0600); you are uid {os.geteuid()} (")
    assert err.hint == (f"writes (--allow-writes) need read and write access to {path}: run as "
                        f"root, or give a group of yours read and write access: sudo chgrp "
                        f"GROUP {path} && sudo chmod g+rw {path}")
    # a group that already has access: join it
    other = next((g for g in grp.getgrall() if g.gr_gid != 0), None)
    if other is not None:
        err = access_denied(path, False, st=_stat(0o640, 0, other.gr_gid))
        assert err.hint is not None
        assert f"join group {other.gr_name}, which has read access" in err.hint
    err = access_denied("/dev/mem", False, st=_stat(0o640))
    assert err.hint is not None and err.hint.startswith("/dev/mem needs root (CAP_SYS_RAWIO)")


def test_close_releases_the_mapping(pci: Session) -> None:
    target = target_of(pci)
    assert target.read(SCRATCH, 4) == bytes(4)
    pci.close()  # no BufferError: every view of the mapping is released first
    assert not target.window.mapped
