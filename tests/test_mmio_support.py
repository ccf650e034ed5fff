"""Shared helpers for the ``test_mmio_*`` modules (no tests here).

A small map placed at 0x4000_0000 with registers of every width, ``unsafe_read`` and
``unsafe_write`` on registers and on whole register files, memories inside and outside the
window; a regular file or a memfd standing in for the BAR; a fake sysfs tree for ``pci:`` and
``uio:``; and a recorder of every single access the targets make (wrapping ``Window.load``
and ``Window.store``, the only code that touches a mapping). For the write-policy tests: a
file-backed BAR of a fake PCI device (:func:`pci_bar`, target string :data:`PCI_SPEC`),
sessions on it with a given policy (:func:`live_sessions`) and a scripted confirmation
(:class:`FakeAsk`).
"""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from socdbg.commands.session import Session
from socdbg.targets.mmio import SYSFS_ENV, Window

BASE = 0x4000_0000
BAR_SIZE = 0x2000
PAGE = mmap.PAGESIZE

LIVE_RDL = """
property unsafe_read { type = boolean; component = reg | regfile | addrmap | mem; };
property unsafe_write { type = boolean; component = reg | regfile | addrmap | mem; };
property write_effects { type = boolean; component = reg | regfile | addrmap; };

enum mode_e { IDLE = 0; RUN = 1; SLEEP = 2; };

reg word_t { field { sw = rw; hw = r; } value[31:0] = 0; };

mem sram_t { mementries = 64; memwidth = 32; sw = rw; };
mem secret_t { mementries = 16; memwidth = 32; sw = rw; unsafe_read = true; };

addrmap dev_t {
    reg {
        field { sw = rw; hw = r; } en[0:0] = 0;
        field { sw = rw; hw = r; encode = mode_e; } mode[2:1] = 0;
        field { sw = r; hw = w; } busy[8:8] = 0;
        field { sw = rw; hw = r; } gain[23:16] = 0;
    } ctrl @0x0;
    word_t scratch @0x4;
    reg { regwidth = 64; field { sw = rw; hw = r; } value[63:0] = 0; } wide @0x8;
    reg {
        regwidth = 64; accesswidth = 32;
        field { sw = rw; hw = r; } value[63:0] = 0;
    } split @0x10;
    reg { regwidth = 16; field { sw = rw; hw = r; } value[15:0] = 0; } half @0x18;
    reg { regwidth = 8; field { sw = rw; hw = r; } value[7:0] = 0; } tiny @0x1a;
    reg {
        unsafe_read = true;
        field { sw = r; hw = w; onread = rclr; } count[15:0] = 0;
    } ecc @0x20;
    reg {
        unsafe_write = true;
        field { sw = rw; hw = r; } en[0:0] = 0;
        field { sw = rw; hw = r; } div[15:8] = 0;
    } pll @0x24;
    word_t after @0x28;
    regfile { unsafe_read = true; word_t a @0x0; word_t b @0x4; } fifo @0x40;
    regfile { unsafe_write = true; word_t a @0x0; } clocks @0x60;
    word_t last @0x80;
    external sram_t sram @0x1000;
    external secret_t secret @0x1800;
};

addrmap chip {
    dev_t dev @0x40000000;
    external sram_t far @0x80000000;
};
"""

# map addresses
CTRL, SCRATCH, WIDE, SPLIT, HALF, TINY = (BASE + a for a in (0x0, 0x4, 0x8, 0x10, 0x18, 0x1a))
ECC, PLL, AFTER, FIFO_A, FIFO_B, CLOCKS_A, LAST = (
    BASE + a for a in (0x20, 0x24, 0x28, 0x40, 0x44, 0x60, 0x80))
SRAM, SECRET, FAR = BASE + 0x1000, BASE + 0x1800, 0x8000_0000


def write_map(folder: Path) -> Path:
    path = folder / "live.rdl"
    path.write_text(LIVE_RDL, encoding="utf-8")
    return path


@dataclass
class Backing:
    """What stands in for the device: a regular file or a memfd, read back with pread."""

    path: str  # the name socdbg opens
    fd: int
    kind: str

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self.fd, size, offset)

    def write(self, offset: int, data: bytes) -> None:
        os.pwrite(self.fd, data, offset)

    def word(self, offset: int, size: int = 4) -> int:
        return int.from_bytes(self.read(offset, size), "little")


@contextmanager
def backing(kind: str, folder: Path, size: int, name: str = "bar") -> Iterator[Backing]:
    """``size`` bytes of zeros (sparse) in a regular file or a memfd."""
    if kind == "memfd":
        if not hasattr(os, "memfd_create"):
            pytest.skip("no memfd_create on this system")
        fd = os.memfd_create(name)
        os.ftruncate(fd, size)
        path = f"/proc/self/fd/{fd}"
    else:
        file = folder / name
        with file.open("wb") as fh:
            fh.truncate(size)
        fd = os.open(file, os.O_RDWR)
        path = str(file)
    try:
        yield Backing(path, fd, kind)
    finally:
        os.close(fd)


def fake_pci(root: Path, bdf: str, resource: Backing | str, bar: int = 0) -> Path:
    """``root/bus/pci/devices/BDF`` with ``resourceN`` (a symlink to the backing) and a
    ``resource`` table in which BAR 2 is an I/O-port BAR."""
    device = root / "bus" / "pci" / "devices" / bdf
    device.mkdir(parents=True, exist_ok=True)
    target = resource.path if isinstance(resource, Backing) else resource
    (device / f"resource{bar}").symlink_to(target)
    rows = ["0x0000000000000000 0x0000000000000000 0x0000000000000000"] * 6
    rows[bar] = "0x00000000f0000000 0x00000000f0001fff 0x0000000000040200"
    rows[2] = "0x000000000000e000 0x000000000000e01f 0x0000000000040101"
    (device / "resource").write_text("\n".join(rows) + "\n")
    return device


def fake_uio(root: Path, name: str, maps: dict[int, tuple[int, int]]) -> Path:
    """``root/class/uio/NAME/maps/mapM/{size,offset}`` for each M: (size, offset)."""
    folder = root / "class" / "uio" / name / "maps"
    for index, (size, offset) in maps.items():
        m = folder / f"map{index}"
        m.mkdir(parents=True)
        (m / "size").write_text(f"0x{size:016x}\n")
        (m / "offset").write_text(f"0x{offset:x}\n")
        (m / "addr").write_text("0x00000000f0000000\n")
    return folder


@dataclass
class Accesses:
    """Every single access a Window performed: (op, window offset, size)."""

    log: list[tuple[str, int, int]] = field(default_factory=list)

    def take(self) -> list[tuple[str, int, int]]:
        log, self.log = self.log, []
        return log

    def stores(self) -> list[tuple[int, int]]:
        return [(off, n) for op, off, n in self.log if op == "store"]

    def loads(self) -> list[tuple[int, int]]:
        return [(off, n) for op, off, n in self.log if op == "load"]


def record_accesses(monkeypatch: pytest.MonkeyPatch) -> Accesses:
    """Wrap the access primitive: every load and store is logged, then performed."""
    acc = Accesses()
    load, store = Window.load, Window.store

    def logged_load(self: Window, offset: int, size: int) -> int:
        acc.log.append(("load", offset, size))
        return load(self, offset, size)

    def logged_store(self: Window, offset: int, size: int, value: int) -> None:
        acc.log.append(("store", offset, size))
        store(self, offset, size, value)

    monkeypatch.setattr(Window, "load", logged_load)
    monkeypatch.setattr(Window, "store", logged_store)
    return acc


#: The fake PCI device of :func:`pci_bar`, and the target string of its BAR 0.
PCI_BDF = "0000:03:00.0"
PCI_SPEC = f"pci:{PCI_BDF}/bar0"


@contextmanager
def pci_bar(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backing]:
    """BAR_SIZE zeros in a file under ``folder``, as BAR 0 of the PCI device PCI_BDF in a fake
    sysfs under ``folder/sys`` (SYSFS_ENV points there until the test ends)."""
    root = folder / "sys"
    monkeypatch.setenv(SYSFS_ENV, str(root))
    with backing("file", folder, BAR_SIZE) as b:
        fake_pci(root, PCI_BDF, b)
        yield b


class FakeAsk:
    """Answers the confirmation questions from a list and keeps what was shown."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.shown: list[tuple[str, str]] = []

    def __call__(self, message: str, question: str) -> str:
        self.shown.append((message, question))
        return self.answers.pop(0)


@contextmanager
def live_sessions(rdl: Path) -> Iterator[Callable[..., Session]]:
    """A maker of sessions on PCI_SPEC with the map ``rdl``: ``make(ask=None,
    allow_writes=False, yes=False, force_unsafe=False)``; every one is closed at the end."""
    opened: list[Session] = []

    def make(ask: FakeAsk | None = None, allow_writes: bool = False, yes: bool = False,
             force_unsafe: bool = False) -> Session:
        session = Session(target=PCI_SPEC, map_files=[str(rdl)], out=io.StringIO(),
                          width=120, allow_writes=allow_writes, yes=yes,
                          force_unsafe=force_unsafe)
        session.ask = ask
        opened.append(session)
        return session

    try:
        yield make
    finally:
        for s in opened:
            s.close()
