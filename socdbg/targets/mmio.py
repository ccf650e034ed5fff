"""Live silicon through memory-mapped I/O: ``mmio:``, ``pci:`` and ``uio:`` targets.

Target strings::

    mmio:FILE@OFFSET+SIZE[@ADDR]         /dev/mem (or any file): SIZE bytes at file offset OFFSET
    pci:[DOMAIN:]BUS:DEV.FN/barN[@ADDR]  a PCI BAR: /sys/bus/pci/devices/D:B:D.F/resourceN
    uio:/dev/uioN[/mapM][@ADDR]          a UIO map: /sys/class/uio/uioN/maps/mapM/{size,offset}

Each opens one *window*: a file region mapped with ``mmap``. The window holds the chip's
address space from map address ``ADDR`` on, so map address ``A`` is at window offset
``A - ADDR``. ``ADDR`` defaults to ``OFFSET`` for ``mmio`` (on ``/dev/mem`` the file offset is
the physical address) and to the lowest register address of the map for ``pci`` and ``uio``.
An access outside the window is an error that says where the window is.

Every access is one load or store of exactly its width, aligned, through :class:`Window`: a
``memoryview`` of the mapping cast to ``'B'``, ``'H'``, ``'I'`` or ``'Q'``. CPython reads an
item of such a view with ``unpack_single`` and writes it with ``pack_single``
(``Objects/memoryobject.c``), each a ``memcpy`` of exactly ``sizeof(type)`` bytes into or out
of a local of that type. A fixed-size ``memcpy`` of 1, 2, 4 or 8 bytes compiles to one load or
store of that width at ``-O2``/``-O3`` (GCC and Clang; x86-64 and arm64). The CPython 3.11
build this was written against does exactly that (``movzwl``/``mov %edi``/``mov %rdi`` loads,
``mov %r14w``/``%r14d``/``%r14`` stores). On a 32-bit host a 64-bit access may be split in two
by the compiler: use a 64-bit host for 64-bit registers. ``ctypes.c_uint32.from_buffer`` would
rely on the same fixed-size ``memcpy`` (``I_get``/``I_set``) and needs a writable buffer, so it
adds nothing for the read-only mappings used here.

``read_block``/``write_block`` follow the map: one access per register at the register's
access width (``coalesce``), memory regions in naturally aligned words up to the memory's width.
A block over addresses with neither is refused: bulk access never touches what the map does
not describe. ``read``/``write`` are single accesses anywhere inside the window (``peek``,
``poke``).

Live targets open read-only (``O_RDONLY``, ``PROT_READ``) and declare ``live`` without
``write``; the session calls :meth:`MmioTarget.enable_writes` for ``socdbg --allow-writes``
(``docs/live-silicon.md``; the confirmation and ``unsafe_write`` policy is
``socdbg/safety.py``).

``SOCDBG_SYSFS_ROOT`` replaces ``/sys`` when looking up PCI devices and UIO maps. It exists for
the tests (a fake sysfs tree under a temporary folder) and is not for use on a real host.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from socdbg.errors import TargetError, did_you_mean
from socdbg.regmap import parse_int
from socdbg.targets.base import CAP_COALESCE, CAP_LIVE, CAP_WRITE, Backend, MapLoader

if TYPE_CHECKING:
    from socdbg.regmap import Memory, Register, RegMap

#: Replaces ``/sys`` for PCI and UIO lookups. Test-only.
SYSFS_ENV = "SOCDBG_SYSFS_ROOT"

_FORMATS: dict[int, Literal["B", "H", "I", "Q"]] = {1: "B", 2: "H", 4: "I", 8: "Q"}
_PAGE = mmap.PAGESIZE
_DEVMEM = ("/dev/mem", "/dev/kmem")
_IORESOURCE_IO = 0x100  # flags column of the PCI ``resource`` file: an I/O-port BAR


def sysfs_root() -> Path:
    return Path(os.environ.get(SYSFS_ENV) or "/sys")


# --- the access primitive ---------------------------------------------------------------------
class Window:
    """A file region mapped into memory: the only code that touches the mapping.

    ``load``/``store`` perform one access of ``size`` bytes at ``offset`` bytes into the window
    (see the module docstring for why it is one). Callers check bounds and alignment; the
    typed views raise IndexError rather than touch anything outside the mapping.
    """

    def __init__(self, path: str, offset: int, size: int, writable: bool = False) -> None:
        if size <= 0:
            raise TargetError(f"{path}: the window size must be positive")
        self.path = path
        self.offset = offset  # file offset of the window's first byte
        self.size = size
        self.writable = False
        self._delta = offset % _PAGE  # the window's start inside the first mapped page
        self._mm: mmap.mmap | None = None
        self._views: dict[int, memoryview[int]] = {}
        self._base: memoryview[int] | None = None
        self._open(writable)

    @property
    def length(self) -> int:
        """Bytes mapped: the window plus the part of its first page before it."""
        return self._delta + self.size

    def _open(self, writable: bool) -> None:
        flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_SYNC | getattr(
            os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags)
        except PermissionError:
            raise access_denied(self.path, writable) from None
        except FileNotFoundError:
            raise TargetError(f"{self.path}: no such file") from None
        except OSError as exc:
            raise TargetError(f"cannot open {self.path}: {exc.strerror or exc}") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_size < self.offset + self.size:
                # mapping past the end of a file maps pages that fault (SIGBUS) when touched
                raise TargetError(
                    f"{self.path} is {st.st_size:#x} bytes: the window "
                    f"{self.offset:#x}+{self.size:#x} runs past its end",
                    "a BAR's resource file is exactly the BAR's size; check OFFSET+SIZE")
            prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
            try:
                mm = mmap.mmap(fd, self.length, mmap.MAP_SHARED, prot,
                               offset=self.offset - self._delta)
            except OSError as exc:
                raise map_refused(self.path, self.offset, self.size, exc) from None
        finally:
            os.close(fd)
        self._mm = mm
        self._base = memoryview(mm)
        self._views = {n: self._base[: len(mm) // n * n].cast(fmt)
                       for n, fmt in _FORMATS.items()}
        self.writable = writable

    def reopen(self, writable: bool) -> None:
        """Map the same region again, read-write or read-only (``--allow-writes``)."""
        if writable == self.writable:
            return
        old = (self._mm, self._base, self._views)
        self._mm, self._base, self._views = None, None, {}
        try:
            self._open(writable)
        except TargetError:
            self._mm, self._base, self._views = old
            raise
        _release(*old)

    def load(self, offset: int, size: int) -> int:
        """One ``size``-byte load at ``offset`` into the window."""
        pos = self._delta + offset
        return int(self._views[size][pos // size])

    def store(self, offset: int, size: int, value: int) -> None:
        """One ``size``-byte store of ``value`` at ``offset`` into the window."""
        pos = self._delta + offset
        self._views[size][pos // size] = value

    def aligned(self, offset: int, size: int) -> bool:
        """True when the access is naturally aligned on the bus (file offset, which on
        ``/dev/mem`` is the physical address and in a BAR the offset from its aligned base)."""
        return (self.offset + offset) % size == 0

    def close(self) -> None:
        mm, base, views = self._mm, self._base, self._views
        self._mm, self._base, self._views = None, None, {}
        _release(mm, base, views)


def _release(mm: mmap.mmap | None, base: memoryview[int] | None,
             views: dict[int, memoryview[int]]) -> None:
    for view in views.values():
        view.release()
    if base is not None:
        base.release()
    if mm is not None:
        mm.close()


# --- errors that say what access is needed ----------------------------------------------------
def _owner(st: os.stat_result) -> tuple[str, str]:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return user, group


def _who() -> str:
    import pwd

    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return f"uid {uid} ({name})"


def access_denied(path: str, writable: bool, st: os.stat_result | None = None
                  ) -> TargetError:
    """The error for a resource file socdbg may not open: the access it needs, the file's
    owner, group and mode, who is asking, and what would let them in."""
    want = "reading and writing" if writable else "reading"
    if st is None:
        with contextlib.suppress(OSError):
            st = os.stat(path)
    facts = f"you are {_who()}"
    group = None
    if st is not None:
        user, group = _owner(st)
        facts = (f"{path} is owned by {user}:{group}, mode {stat.filemode(st.st_mode)} "
                 f"({stat.S_IMODE(st.st_mode):04o}); " + facts)
    if path in _DEVMEM or os.path.realpath(path) in _DEVMEM:
        hint = ("/dev/mem needs root (CAP_SYS_RAWIO): group access is not enough. Run as root, "
                "or use a pci: or uio: target, whose files can be given to a group")
    else:
        need = "read and write" if writable else "read"
        bits = "rw" if writable else "r"
        who = "writes (--allow-writes) need" if writable else "reads need"
        bit_ok = st is not None and all(
            st.st_mode & flag for flag in (stat.S_IRGRP, stat.S_IWGRP)[: len(bits)])
        if group not in (None, "root") and bit_ok:
            grant = (f"join group {group}, which has {need} access (sudo usermod -aG {group} "
                     "$USER, then log in again)")
        else:
            grant = (f"give a group of yours {need} access: sudo chgrp GROUP {path} && "
                     f"sudo chmod g+{bits} {path}")
        hint = f"{who} {need} access to {path}: run as root, or {grant}"
    return TargetError(f"cannot open {path} for {want}: permission denied ({facts})", hint)


def map_refused(path: str, offset: int, size: int, exc: OSError) -> TargetError:
    what = f"cannot map {path} {offset:#x}+{size:#x}: {exc.strerror or exc}"
    if exc.errno == errno.EPERM:
        if path in _DEVMEM or os.path.realpath(path) in _DEVMEM:
            return TargetError(what, "the kernel refuses /dev/mem access to that range: "
                               "CONFIG_STRICT_DEVMEM/CONFIG_IO_STRICT_DEVMEM allow only ranges "
                               "no driver claims (boot with iomem=relaxed, or unbind the "
                               "driver); kernel lockdown (Secure Boot) forbids /dev/mem")
        return TargetError(what, "kernel lockdown (Secure Boot) forbids mapping device memory "
                           "from user space")
    if exc.errno in (errno.EINVAL, errno.ENXIO, errno.ENODEV):
        return TargetError(what, "the range is not mappable: check it lies inside the "
                           "resource (a BAR or UIO map) and is not an I/O-port BAR")
    return TargetError(what)


# --- the target -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Access:
    address: int  # map address
    size: int


class MmioTarget:
    """A window of the chip's address space mapped from a file (``/dev/mem``, a BAR, UIO)."""

    def __init__(self, spec: str, window: Window, base: int, regmap: RegMap,
                 where: str) -> None:
        self.spec = spec
        self.window = window
        self.base = base  # map address of the window's first byte
        self.regmap = regmap
        self.where = where  # what the window is, for errors: "BAR0 of 0000:03:00.0 (1 MiB)"
        self.capabilities = self._caps()

    def _caps(self) -> frozenset[str]:
        caps = {CAP_LIVE, CAP_COALESCE}
        if self.window.writable:
            caps.add(CAP_WRITE)
        return frozenset(caps)

    @property
    def end(self) -> int:
        return self.base + self.window.size

    @property
    def window_text(self) -> str:
        return f"{self.base:#x}..{self.end - 1:#x}, {self.where}"

    def enable_writes(self) -> None:
        """Map the window read-write (the session does this for ``--allow-writes``)."""
        self.window.reopen(writable=True)
        self.capabilities = self._caps()

    # --- checks --------------------------------------------------------------------------
    def _offset(self, op: str, address: int, size: int) -> int:
        """Window offset of a single access, after every check."""
        if size not in _FORMATS:
            raise TargetError(f"{op} of {size} bytes at {address:#x}: sizes are 1, 2, 4 or 8")
        off = address - self.base
        if off < 0 or off + size > self.window.size:
            raise self._outside(op, address, size)
        if address % size or not self.window.aligned(off, size):
            raise TargetError(f"misaligned {size * 8}-bit {op} at {address:#x}",
                              f"align to {size} bytes")
        return off

    def _outside(self, op: str, address: int, size: int) -> TargetError:
        name = ""
        mem = self.regmap.memory_at(address)
        reg = self.regmap.at(address)
        if mem is not None:
            name = f" ({mem.path}, {mem.address:#x}..{mem.end - 1:#x})"
        elif reg is not None:
            name = f" ({reg.path})"
        return TargetError(
            f"{op} of {size} byte(s) at {address:#x}{name} is outside the window of "
            f"{self.spec}: {self.window_text}",
            "open a target whose window holds it: another BAR or UIO map, or @ADDR to "
            "place this one")

    def _writable(self, address: int, size: int) -> None:
        if not self.window.writable:
            raise TargetError(f"write of {size} byte(s) at {address:#x} refused: {self.spec} "
                              "is open read-only", "writes to live hardware need "
                              "socdbg --allow-writes")

    # --- Target --------------------------------------------------------------------------
    def read(self, address: int, size: int) -> bytes:
        off = self._offset("read", address, size)
        return self.window.load(off, size).to_bytes(size, sys.byteorder)

    def write(self, address: int, data: bytes) -> None:
        size = len(data)
        off = self._offset("write", address, size)
        self._writable(address, size)
        self.window.store(off, size, int.from_bytes(data, sys.byteorder))

    def read_block(self, address: int, size: int) -> bytes:
        plan = self.plan_block("read", address, size)
        out = bytearray()
        for acc in plan:
            out += self.window.load(acc.address - self.base, acc.size).to_bytes(
                acc.size, sys.byteorder)
        return bytes(out)

    def write_block(self, address: int, data: bytes) -> None:
        plan = self.plan_block("write", address, len(data))
        self._writable(address, len(data))
        for acc in plan:
            pos = acc.address - address
            self.window.store(acc.address - self.base, acc.size,
                              int.from_bytes(data[pos : pos + acc.size], sys.byteorder))

    def close(self) -> None:
        self.window.close()

    # --- blocks --------------------------------------------------------------------------
    def plan_block(self, op: str, address: int, size: int) -> list[_Access]:
        """The single accesses of a block transfer, all checked before the first one: each
        register at its access width, memory in aligned words up to the memory's width."""
        if size <= 0:
            return []
        plan: list[_Access] = []
        pos, end = address, address + size
        while pos < end:
            mem = self.regmap.memory_at(pos)
            if mem is not None:
                stop = min(end, mem.end)
                plan.extend(_memory_words(mem, pos, stop))
                pos = stop
                continue
            reg = self._register_at(op, pos)
            if reg.end > end:
                raise TargetError(f"block {op} {address:#x}+{size:#x} ends inside {reg.path} "
                                  f"({reg.address:#x}..{reg.end - 1:#x})",
                                  "registers are accessed whole")
            step = reg.accesswidth // 8
            plan.extend(_Access(a, step) for a in range(reg.address, reg.end, step))
            pos = reg.end
        for acc in plan:
            self._offset(op, acc.address, acc.size)
        return plan

    def _register_at(self, op: str, pos: int) -> Register:
        regs = self.regmap.all_at(pos)
        starting = [r for r in regs if r.address == pos]
        if starting:
            # a read-only and a write-only register may share an address: take the one the
            # access is for
            want = [r for r in starting if (r.layout.readable if op == "read"
                                             else r.layout.writable)]
            return (want or starting)[0]
        if regs:
            r = regs[0]
            raise TargetError(f"block {op} at {pos:#x} starts inside {r.path} "
                              f"({r.address:#x}..{r.end - 1:#x})", "registers are accessed whole")
        raise TargetError(f"block {op} at {pos:#x}: no register or memory there in the map",
                          "block transfers follow the map; peek/poke access single words "
                          "anywhere in the window")


def _memory_words(mem: Memory, start: int, stop: int) -> list[_Access]:
    """Naturally aligned accesses covering [start, stop), none wider than the memory's word."""
    word = max(1, min(8, mem.width // 8))
    out: list[_Access] = []
    pos = start
    while pos < stop:
        n = word
        while n > 1 and (pos % n or pos + n > stop):
            n //= 2
        out.append(_Access(pos, n))
        pos += n
    return out


# --- target strings ---------------------------------------------------------------------------
_NUM = r"(?:0[xX][0-9a-fA-F_]+|\d[\d_]*)"
_MMIO = re.compile(rf"^(?P<path>.+)@(?P<off>{_NUM})\+(?P<size>{_NUM}[kKmMgG]?)"
                   rf"(?:@(?P<at>{_NUM}))?$")
_PCI = re.compile(r"^(?:(?P<dom>[0-9a-fA-F]{1,4}):)?(?P<bus>[0-9a-fA-F]{1,2}):"
                  r"(?P<dev>[0-9a-fA-F]{1,2})\.(?P<fn>[0-7])/bar(?P<bar>\d+)"
                  r"(?:@(?P<at>.+))?$", re.IGNORECASE)
_UIO = re.compile(r"^(?P<dev>(?:.*/)?uio(?P<n>\d+))(?:/map(?P<map>\d+))?(?:@(?P<at>.+))?$")


def _number(text: str, what: str, spec: str) -> int:
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:].lower(), 1)
    value = parse_int(text[:-1] if scale > 1 else text)
    if value is None or value < 0:
        raise TargetError(f"{spec}: {what} '{text}' is not a number")
    return value * scale


def _lowest_register(regmap: RegMap, spec: str) -> int:
    if not len(regmap):
        raise TargetError(f"{spec}: the map has no registers to place the window by",
                          "give the window's map address: @ADDR")
    return regmap[0].address


def _size_text(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size:#x} bytes"


def open_mmio(arg: str, load_map: MapLoader) -> MmioTarget:
    spec = "mmio:" + arg
    m = _MMIO.match(arg.strip())
    if m is None:
        raise TargetError(f"mmio target '{arg}': expected mmio:FILE@OFFSET+SIZE[@ADDR]",
                          "for example mmio:/dev/mem@0x40000000+0x100000")
    offset = _number(m.group("off"), "offset", spec)
    size = _number(m.group("size"), "size", spec)
    at = _number(m.group("at"), "map address", spec) if m.group("at") else offset
    regmap = load_map()
    window = Window(m.group("path"), offset, size)
    where = f"{_size_text(size)} of {m.group('path')} at offset {offset:#x}"
    return MmioTarget(spec, window, at, regmap, where)


def pci_device_dir(bdf: str) -> Path:
    return sysfs_root() / "bus" / "pci" / "devices" / bdf


def open_pci(arg: str, load_map: MapLoader) -> MmioTarget:
    spec = "pci:" + arg
    m = _PCI.match(arg.strip())
    if m is None:
        raise TargetError(f"pci target '{arg}': expected pci:DOMAIN:BUS:DEV.FN/barN[@ADDR]",
                          "for example pci:0000:03:00.0/bar0 (lspci -D lists devices)")
    bdf = (f"{int(m.group('dom') or '0', 16):04x}:{int(m.group('bus'), 16):02x}:"
           f"{int(m.group('dev'), 16):02x}.{m.group('fn')}")
    bar = int(m.group("bar"))
    if bar > 5:
        raise TargetError(f"{spec}: BAR {bar} does not exist", "BARs are bar0 .. bar5")
    device = pci_device_dir(bdf)
    if not device.is_dir():
        parent = device.parent
        known = sorted(p.name for p in parent.iterdir()) if parent.is_dir() else []
        raise TargetError(f"{spec}: no PCI device {bdf} ({device} is missing)",
                          did_you_mean(bdf, known) or "lspci -D lists the devices")
    resource = device / f"resource{bar}"
    _check_bar(spec, device, bar)
    if not resource.exists():
        bars = sorted(p.name[8:] for p in device.glob("resource[0-5]"))
        raise TargetError(f"{spec}: {bdf} has no memory BAR {bar} ({resource} is missing)",
                          "its BARs: " + ", ".join(f"bar{b}" for b in bars) if bars else
                          "lspci -vv -s " + bdf + " lists its regions")
    try:
        size = resource.stat().st_size
    except OSError as exc:
        raise TargetError(f"{spec}: cannot stat {resource}: {exc.strerror or exc}") from None
    if size <= 0:
        raise TargetError(f"{spec}: BAR {bar} of {bdf} has size 0 (not implemented)")
    regmap = load_map()
    at = (_number(m.group("at"), "map address", spec) if m.group("at")
          else _lowest_register(regmap, spec))
    window = Window(str(resource), 0, size)
    return MmioTarget(spec, window, at, regmap, f"BAR{bar} of {bdf} ({_size_text(size)})")


def _check_bar(spec: str, device: Path, bar: int) -> None:
    """Refuse an I/O-port BAR (the ``resource`` file's flags say which it is)."""
    try:
        lines = (device / "resource").read_text().splitlines()
    except OSError:
        return
    if bar >= len(lines):
        return
    parts = lines[bar].split()
    if len(parts) == 3:
        try:
            flags = int(parts[2], 16)
        except ValueError:
            return
        if flags & _IORESOURCE_IO:
            raise TargetError(f"{spec}: BAR {bar} is an I/O-port BAR: it cannot be memory "
                              "mapped", "use the device's memory BAR (lspci -vv: 'Memory at')")


def open_uio(arg: str, load_map: MapLoader) -> MmioTarget:
    spec = "uio:" + arg
    m = _UIO.match(arg.strip())
    if m is None:
        raise TargetError(f"uio target '{arg}': expected uio:/dev/uioN[/mapM][@ADDR]",
                          "for example uio:/dev/uio0 or uio:/dev/uio0/map1")
    name = f"uio{m.group('n')}"
    node = m.group("dev") if "/" in m.group("dev") else f"/dev/{name}"
    index = int(m.group("map") or 0)
    maps = sysfs_root() / "class" / "uio" / name / "maps"
    folder = maps / f"map{index}"
    if not folder.is_dir():
        if not maps.parent.is_dir():
            raise TargetError(f"{spec}: no UIO device {name} ({maps.parent} is missing)",
                              "ls /sys/class/uio lists them; a UIO driver (uio_pdrv_genirq, "
                              "uio_pci_generic, ...) must be bound to the device")
        known = sorted(p.name for p in maps.glob("map*")) if maps.is_dir() else []
        raise TargetError(f"{spec}: {name} has no map{index}",
                          "its maps: " + ", ".join(known) if known else "it has no maps")
    size = _sysfs_int(folder / "size", spec)
    offset = _sysfs_int(folder / "offset", spec) if (folder / "offset").exists() else 0
    if size <= 0:
        raise TargetError(f"{spec}: map{index} of {name} has size 0")
    regmap = load_map()
    at = (_number(m.group("at"), "map address", spec) if m.group("at")
          else _lowest_register(regmap, spec))
    # UIO maps map M at file offset M pages; the registers start `offset` bytes into it
    window = Window(node, index * _PAGE + offset, size)
    return MmioTarget(spec, window, at, regmap,
                      f"map{index} of {name} ({_size_text(size)})")


def _sysfs_int(path: Path, spec: str) -> int:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise TargetError(f"{spec}: cannot read {path}: {exc.strerror or exc}") from None
    value = parse_int(text)
    if value is None:
        raise TargetError(f"{spec}: {path} holds '{text[:20]}', not a number")
    return value


MMIO_BACKEND = Backend(
    name="mmio",
    open=open_mmio,
    describe="live hardware through /dev/mem (or any file): a mapped physical range",
    example="mmio:/dev/mem@BASE+SIZE",
    opens_files=lambda arg: True,
)

PCI_BACKEND = Backend(
    name="pci",
    open=open_pci,
    describe="live hardware through a PCI BAR (sysfs resourceN)",
    example="pci:0000:03:00.0/bar0",
    opens_files=lambda arg: True,
)

UIO_BACKEND = Backend(
    name="uio",
    open=open_uio,
    describe="live hardware through a UIO device map",
    example="uio:/dev/uio0",
    opens_files=lambda arg: True,
)
