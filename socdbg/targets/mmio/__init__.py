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

from socdbg.targets.base import CAP_LIVE
from socdbg.targets.mmio.discovery import (
    MMIO_BACKEND,
    PCI_BACKEND,
    SYSFS_ENV,
    UIO_BACKEND,
    open_mmio,
    open_pci,
    open_uio,
    pci_device_dir,
    sysfs_root,
)
from socdbg.targets.mmio.permissions import access_denied, map_refused
from socdbg.targets.mmio.target import MmioTarget
from socdbg.targets.mmio.window import Window

__all__ = [
    "CAP_LIVE", "MMIO_BACKEND", "PCI_BACKEND", "SYSFS_ENV", "UIO_BACKEND", "MmioTarget",
    "Window", "access_denied", "map_refused", "open_mmio", "open_pci", "open_uio",
    "pci_device_dir", "sysfs_root",
]
