"""Build the test firmware in tests/firmware with the real RISC-V cross compiler, read the
results back with binutils (an independent ELF reader), and wrap targets for the load tests.

The firmware tests import this module (``tests/`` is on ``sys.path`` under pytest's default
import mode). :func:`firmware` builds every image once per test run into a
``tmp_path_factory`` folder; when the compiler (or nm/readelf) is missing it FAILS the test
with a message saying to run ``bash scripts/test.sh``, which installs it. It never skips: a
machine without the toolchain must not pass these tests by not running them.
"""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
SOURCES = TESTS / "firmware"
CC = "riscv64-unknown-elf-gcc"
NM = "riscv64-unknown-elf-nm"
READELF = "riscv64-unknown-elf-readelf"
FLAGS_64 = ("-march=rv64imac_zicsr", "-mabi=lp64")
FLAGS_32 = ("-march=rv32imac_zicsr", "-mabi=ilp32")
FLAGS = ("-mcmodel=medany", "-ffreestanding", "-nostdlib", "-nostartfiles", "-O1", "-g",
         "-Wl,--no-warn-rwx-segments")
INSTALL_HINT = ("run `bash scripts/test.sh` (it installs gcc-riscv64-unknown-elf, the RISC-V "
                "cross compiler and binutils, then runs the suite)")

#: name -> (linker script, march/mabi flags, sources)
IMAGES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # the reference SoC's sram (0x1000_0000): one PT_LOAD, .data then .bss zero fill
    "fw_soc.elf": ("link_soc.ld", FLAGS_64, ("start.S", "main.c")),
    # QEMU's riscv virt machine (RAM at 0x8000_0000) = the reference SoC's dram
    "fw_virt.elf": ("link_virt.ld", FLAGS_64, ("start.S", "main.c")),
    # two PT_LOADs in sram: code at 0x1000_0000, data + .bss at 0x1008_0000; vars.c adds
    # 1- and 2-byte variables and a file-local `counter` beside main.c's global one
    "fw_split.elf": ("link_split.ld", FLAGS_64, ("start.S", "main.c", "vars.c")),
    # the virt image plus 3 MiB of .bss: large enough for the progress bar
    "fw_big.elf": ("link_virt.ld", FLAGS_64, ("start.S", "main.c", "big.c")),
    # uart.c and spi.c both define `static init` and `static state`: same names, two files
    "fw_dup.elf": ("link_soc.ld", FLAGS_64, ("start.S", "main.c", "uart.c", "spi.c")),
    # a 32-bit (ELFCLASS32) build for sram: the other symbol-table layout
    "fw_soc32.elf": ("link_soc.ld", FLAGS_32, ("start32.S", "main.c")),
}


# --------------------------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------------------------
def tool(name: str) -> str:
    """The full path of a cross tool, or a test FAILURE saying how to install it."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found on PATH: the firmware tests build real ELF files with "
                    f"the RISC-V cross toolchain; {INSTALL_HINT}", pytrace=False)
    return found


def _run(cmd: Sequence[str]) -> str:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stderr.strip()}",
                    pytrace=False)
    return proc.stdout


def compile_image(out_dir: Path, name: str) -> Path:
    """Compile and link one image of :data:`IMAGES` into ``out_dir``."""
    script, arch, sources = IMAGES[name]
    cc = tool(CC)
    out = out_dir / name
    _run([cc, *arch, *FLAGS, f"-Wl,-T,{SOURCES / script}", "-o", str(out),
          *(str(SOURCES / s) for s in sources)])
    return out


# --------------------------------------------------------------------------------------------
# what binutils says about an image
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadelfSymbol:
    name: str
    value: int
    size: int
    type: str  # OBJECT, FUNC, NOTYPE, SECTION, FILE
    bind: str  # LOCAL, GLOBAL, WEAK
    ndx: str  # a section index, UND or ABS


@dataclass(frozen=True)
class LoadSegment:
    index: int  # program header index
    offset: int
    paddr: int
    filesz: int
    memsz: int
    flags: str  # "RWE", "R E", ...


@dataclass
class Firmware:
    """A built image and what nm and readelf (not socdbg) read from it."""

    path: Path
    entry: int
    nm: dict[str, tuple[int, str]]  # name -> (address, nm type letter); global wins
    nm_rows: list[tuple[str, int, str]]  # every nm line: (name, address, type letter)
    symbols: list[ReadelfSymbol]  # readelf -sW .symtab rows (index 0 excluded)
    sections: dict[int, str]  # section index -> name (readelf -SW)
    loads: list[LoadSegment]  # readelf -lW LOAD rows
    raw: bytes = field(repr=False, default=b"")

    @property
    def name(self) -> str:
        return self.path.name

    def addr(self, symbol: str) -> int:
        return self.nm[symbol][0]


_SYM_ROW = re.compile(r"^\s*(\d+):\s+([0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+|\d+)\s+(\w+)\s+(\w+)\s+"
                      r"\w+\s+(\w+)\s*(\S*)\s*$")
_SEC_ROW = re.compile(r"^\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s")
_LOAD_ROW = re.compile(r"^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+"
                       r"(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+([RWE ]{3})\s+0x[0-9a-f]+\s*$")


def inspect(path: Path) -> Firmware:
    """Read ``path`` with riscv64-unknown-elf-nm and -readelf."""
    nm_out = _run([tool(NM), "--defined-only", str(path)])
    nm: dict[str, tuple[int, str]] = {}
    nm_rows: list[tuple[str, int, str]] = []
    for line in nm_out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            name, address, letter = parts[2], int(parts[0], 16), parts[1]
            nm_rows.append((name, address, letter))
            if name not in nm or nm[name][1].islower():
                nm[name] = (address, letter)
    readelf = tool(READELF)
    symbols = []
    for line in _run([readelf, "-sW", str(path)]).splitlines():
        m = _SYM_ROW.match(line)
        if m and m.group(1) != "0":
            symbols.append(ReadelfSymbol(m.group(7), int(m.group(2), 16), int(m.group(3), 0),
                                         m.group(4), m.group(5), m.group(6)))
    sections = {}
    for line in _run([readelf, "-SW", str(path)]).splitlines():
        m = _SEC_ROW.match(line)
        if m and m.group(1) != "0":
            sections[int(m.group(1))] = m.group(2)
    loads, entry, index, in_table = [], None, 0, False
    for line in _run([readelf, "-lW", str(path)]).splitlines():
        if line.startswith("Entry point"):
            entry = int(line.split()[-1], 16)
        elif line.startswith("Program Headers:"):
            in_table = True
        elif in_table and not line.strip():
            in_table = False
        elif in_table and not line.lstrip().startswith(("Type ", "[")):
            m = _LOAD_ROW.match(line)
            if m:
                off, _vaddr, paddr, filesz, memsz = (int(m.group(i), 16) for i in range(1, 6))
                loads.append(LoadSegment(index, off, paddr, filesz, memsz, m.group(6)))
            index += 1
    if entry is None or not loads or not nm or not symbols:
        pytest.fail(f"could not read {path} with binutils (entry {entry}, {len(loads)} LOAD "
                    f"segments, {len(nm)} nm symbols)", pytrace=False)
    return Firmware(path, entry, nm, nm_rows, symbols, sections, loads, path.read_bytes())


@dataclass
class Images:
    folder: Path
    by_name: dict[str, Firmware]

    @property
    def soc(self) -> Firmware:
        return self.by_name["fw_soc.elf"]

    @property
    def virt(self) -> Firmware:
        return self.by_name["fw_virt.elf"]

    @property
    def split(self) -> Firmware:
        return self.by_name["fw_split.elf"]

    @property
    def big(self) -> Firmware:
        return self.by_name["fw_big.elf"]

    @property
    def dup(self) -> Firmware:
        return self.by_name["fw_dup.elf"]

    @property
    def soc32(self) -> Firmware:
        return self.by_name["fw_soc32.elf"]


def build_images(out_dir: Path) -> Images:
    """Compile every image of :data:`IMAGES` into ``out_dir`` and inspect it with binutils."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return Images(out_dir, {name: inspect(compile_image(out_dir, name)) for name in IMAGES})


_BUILT: list[Images] = []


def firmware(tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The images, built once per test run (each firmware test module's session fixture
    calls this; the first call compiles)."""
    if not _BUILT:
        _BUILT.append(build_images(tmp_path_factory.mktemp("firmware")))
    return _BUILT[0]


# --------------------------------------------------------------------------------------------
# editing ELF files (64-bit little-endian)
# --------------------------------------------------------------------------------------------
def phdr_offset(raw: bytes, index: int) -> int:
    phoff, = struct.unpack_from("<Q", raw, 0x20)
    phentsize, = struct.unpack_from("<H", raw, 0x36)
    return phoff + index * phentsize


def relocate_segment(raw: bytes, index: int, address: int) -> bytes:
    """``raw`` with program header ``index`` moved to ``address`` (p_vaddr and p_paddr)."""
    out = bytearray(raw)
    struct.pack_into("<QQ", out, phdr_offset(raw, index) + 16, address, address)
    return bytes(out)


# --------------------------------------------------------------------------------------------
# target wrappers
# --------------------------------------------------------------------------------------------
from socdbg.targets.recorder import RecordingTarget  # noqa: E402


class Recorder(RecordingTarget):
    """Wraps a target and records every call (``log``, socdbg/targets/recorder.py); reads may
    be corrupted on purpose.

    ``corrupt`` is a set of addresses whose byte reads back inverted through ``read_block``
    and ``read`` (a flaky bus, for --verify). Everything else is passed to the wrapped target.
    """

    def __init__(self, inner: Any, corrupt: Sequence[int] = ()) -> None:
        super().__init__(inner)
        self.corrupt = set(corrupt)
        self.writes: list[tuple[int, int]] = []  # write(address, data): (address, len)
        self.block_writes: list[tuple[int, bytes]] = []  # write_block(address, data)
        self.reads = 0

    @property
    def write_calls(self) -> int:
        return len(self.writes) + len(self.block_writes)

    def _spoil(self, address: int, data: bytes) -> bytes:
        hits = [a for a in self.corrupt if address <= a < address + len(data)]
        if not hits:
            return data
        out = bytearray(data)
        for a in hits:
            out[a - address] ^= 0xFF
        return bytes(out)

    def read(self, address: int, size: int) -> bytes:
        self.reads += 1
        return self._spoil(address, super().read(address, size))

    def read_block(self, address: int, size: int) -> bytes:
        self.reads += 1
        return self._spoil(address, super().read_block(address, size))

    def write(self, address: int, data: bytes) -> None:
        self.writes.append((address, len(data)))
        super().write(address, data)

    def write_block(self, address: int, data: bytes) -> None:
        self.block_writes.append((address, bytes(data)))
        super().write_block(address, data)


class CpuRecorder(Recorder):
    """A :class:`Recorder` that also has a CPU (capability ``core-registers``)."""

    def __init__(self, inner: Any, corrupt: Sequence[int] = ()) -> None:
        from socdbg.targets.base import CAP_CORE_REGS

        super().__init__(inner, corrupt)
        self.capabilities = inner.capabilities | {CAP_CORE_REGS}
        self.core: dict[str, int] = {"pc": 0}

    def core_register_names(self) -> list[str]:
        return list(self.core)

    def read_core_register(self, name: str) -> int:
        return self._observe("read_core_register", (name,), lambda: self.core[name])

    def write_core_register(self, name: str, value: int) -> None:
        self._change("write_core_register", (name, value),
                     lambda: self.core.__setitem__(name, value))


@contextmanager
def wrapped_session(monkeypatch: pytest.MonkeyPatch,
                    wrap: Callable[[Any], Recorder] = Recorder, **session_args: Any
                    ) -> Iterator[tuple[Any, Recorder]]:
    """A Session (output into a StringIO unless ``out`` is given) whose target, opened
    through the ordinary ``open_target`` path, is wrapped by ``wrap``."""
    import socdbg.targets.base as base
    from socdbg.commands.session import Session

    real = base.open_target
    holder: list[Recorder] = []

    def open_wrapped(spec: str, load_map: Any) -> Any:
        rec = wrap(real(spec, load_map))
        holder.append(rec)
        return rec

    monkeypatch.setattr(base, "open_target", open_wrapped)
    session_args.setdefault("out", io.StringIO())
    session = Session(**session_args)
    _ = session.target
    try:
        yield session, holder[0]
    finally:
        session.close()
