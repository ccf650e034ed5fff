"""Target strings of live targets and finding their windows: ``mmio:FILE@OFFSET+SIZE``,
PCI BARs through sysfs (``pci:BDF/barN``) and UIO maps (``uio:/dev/uioN/mapM``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from socdbg.access_plan import MapLayout
from socdbg.errors import TargetError, did_you_mean
from socdbg.regmap import parse_int
from socdbg.targets.base import Backend, MapLoader
from socdbg.targets.mmio.target import MmioTarget
from socdbg.targets.mmio.window import PAGE, Window

#: Replaces ``/sys`` for PCI and UIO lookups. Test-only.
SYSFS_ENV = "SOCDBG_SYSFS_ROOT"
_IORESOURCE_IO = 0x100  # flags column of the PCI ``resource`` file: an I/O-port BAR


def sysfs_root() -> Path:
    return Path(os.environ.get(SYSFS_ENV) or "/sys")


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


def _lowest_register(layout: MapLayout, spec: str) -> int:
    lowest = layout.lowest_address()
    if lowest is None:
        raise TargetError(f"{spec}: the map has no registers to place the window by",
                          "give the window's map address: @ADDR")
    return lowest


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
    layout = MapLayout(load_map())
    window = Window(m.group("path"), offset, size)
    where = f"{_size_text(size)} of {m.group('path')} at offset {offset:#x}"
    return MmioTarget(spec, window, at, layout, where)


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
    layout = MapLayout(load_map())
    at = (_number(m.group("at"), "map address", spec) if m.group("at")
          else _lowest_register(layout, spec))
    window = Window(str(resource), 0, size)
    return MmioTarget(spec, window, at, layout, f"BAR{bar} of {bdf} ({_size_text(size)})")


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
    layout = MapLayout(load_map())
    at = (_number(m.group("at"), "map address", spec) if m.group("at")
          else _lowest_register(layout, spec))
    # UIO maps map M at file offset M pages; the registers start `offset` bytes into it
    window = Window(node, index * PAGE + offset, size)
    return MmioTarget(spec, window, at, layout,
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
