"""``load`` into live silicon follows the same write policy as ``write`` and ``poke``.

A pci: target backed by a file (tests/test_mmio_support.py) and real ELF images built with
the RISC-V cross compiler: two PT_LOAD segments (code, then data + .bss) linked into the
window's ``dev.sram``, or into ``dev.boot``, a memory the map marks ``unsafe_write``. Every
access of the mapping is recorded: "nothing was written" is counted, not assumed.

- read-only without --allow-writes, before the first access;
- unsafe_write refused without --force-unsafe where nobody can be asked;
- in the shell one question for the whole image, listing each segment and the memory it lands
  in; anything but yes (or ``unsafe`` for an unsafe_write memory) writes nothing; --yes skips
  the plain question and never the unsafe one;
- ``run --dry-run`` writes nothing and is refused where the real run would be.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import firmware_build as fb
import pytest
from test_mmio_support import (
    BAR_SIZE,
    BASE,
    LIVE_RDL,
    PCI_SPEC,
    SRAM,
    Accesses,
    Backing,
    FakeAsk,
    live_sessions,
    pci_bar,
    record_accesses,
)

from socdbg.cli import main
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import TargetError
from socdbg.safety import NotConfirmed

SPEC = PCI_SPEC
BOOT = BASE + 0x1C00  # dev.boot: unsafe_write memory
#: the live test map plus an unsafe_write memory inside the window
BOOT_RDL = LIVE_RDL.replace(
    "addrmap dev_t {",
    "mem boot_t { mementries = 64; memwidth = 32; sw = rw; unsafe_write = true; };\n"
    "addrmap dev_t {").replace(
    "    external secret_t secret @0x1800;",
    "    external secret_t secret @0x1800;\n    external boot_t boot @0x1c00;")

TINY_S = """
    .section .text
    .globl _start
_start:
    j _start
    .word 0x11223344, 0x55667788
    .section .data
    .globl table
table:
    .word 0xcafef00d, 0x0badbeef
    .section .bss
    .globl zeros
zeros:
    .space 16
"""
LINK = """
ENTRY(_start)
PHDRS {{ text PT_LOAD; data PT_LOAD; }}
SECTIONS {{
  . = {base:#x};
  .text : {{ *(.text*) }} :text
  . = {base:#x} + 0x80;
  .data : {{ *(.data*) }} :data
  .bss : {{ *(.bss*) }} :data
  /DISCARD/ : {{ *(.riscv.attributes) *(.comment) }}
}}
"""
TEXT = bytes.fromhex("01a0") + bytes.fromhex("4433221188776655")  # j _start; two words
DATA = bytes.fromhex("0df0feca efbead0b".replace(" ", ""))


def build(folder: Path, base: int) -> Path:
    """A two-segment image linked at ``base`` (code), ``base + 0x80`` (data and .bss)."""
    src, ld, out = folder / "tiny.S", folder / f"link_{base:x}.ld", folder / f"fw_{base:x}.elf"
    src.write_text(TINY_S)
    ld.write_text(LINK.format(base=base))
    cmd = [fb.tool(fb.CC), *fb.FLAGS_64, "-nostdlib", "-nostartfiles",
           "-Wl,--no-warn-rwx-segments", f"-Wl,-T,{ld}", "-o", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("live-load")
    return {"sram": build(folder, SRAM), "boot": build(folder, BOOT)}


@pytest.fixture
def rdl(tmp_path: Path) -> Path:
    path = tmp_path / "live.rdl"
    path.write_text(BOOT_RDL, encoding="utf-8")
    return path


@pytest.fixture
def bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backing]:
    with pci_bar(tmp_path, monkeypatch) as b:
        yield b


@pytest.fixture
def acc(monkeypatch: pytest.MonkeyPatch) -> Accesses:
    return record_accesses(monkeypatch)


@pytest.fixture
def make(rdl: Path, bar: Backing) -> Iterator[Callable[..., Session]]:
    with live_sessions(rdl) as make:
        yield make


def loaded(bar: Backing, base: int) -> bool:
    return (bar.read(base - BASE, len(TEXT)) == TEXT
            and bar.read(base - BASE + 0x80, len(DATA)) == DATA)


def untouched(bar: Backing, acc: Accesses) -> bool:
    return acc.stores() == [] and bar.read(0, BAR_SIZE) == bytes(BAR_SIZE)


# --- refused before the first access ----------------------------------------------------------
def test_load_into_a_read_only_live_target_is_refused_before_any_access(
        make: Callable[..., Session], images: dict[str, Path], bar: Backing,
        acc: Accesses) -> None:
    with pytest.raises(TargetError) as err:
        execute(make(FakeAsk()), f"load --verify {images['sram']}")
    assert err.value.message == f"load: live target {SPEC} is open read-only"
    assert err.value.hint is not None and "--allow-writes" in err.value.hint
    assert acc.take() == [] and untouched(bar, acc)


def test_unsafe_write_memory_needs_force_unsafe_where_nobody_is_asked(
        make: Callable[..., Session], images: dict[str, Path], bar: Backing,
        acc: Accesses) -> None:
    with pytest.raises(TargetError) as err:
        execute(make(allow_writes=True, yes=True), f"load {images['boot']}")
    assert err.value.message == ("load: dev.boot is marked unsafe_write: writing on live "
                                 "hardware needs --force-unsafe")
    assert untouched(bar, acc)
    execute(make(allow_writes=True, force_unsafe=True), f"load --verify {images['boot']}")
    assert loaded(bar, BOOT)


def test_allow_writes_is_the_consent_of_a_one_shot_load(
        rdl: Path, images: dict[str, Path], bar: Backing, acc: Accesses,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-t", SPEC, "--map", str(rdl), "load", str(images["sram"])]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 1 and "is open read-only" in capsys.readouterr().err
    assert untouched(bar, acc)
    with pytest.raises(SystemExit) as exit_:
        main(["--allow-writes", *argv])
    assert exit_.value.code == 0 and loaded(bar, SRAM)


# --- the shell asks once for the whole image ----------------------------------------------------
def test_the_shell_asks_once_listing_segments_and_memories(
        make: Callable[..., Session], images: dict[str, Path], bar: Backing,
        acc: Accesses) -> None:
    ask = FakeAsk("y")
    out = execute(make(ask, allow_writes=True), f"load --verify {images['sram']}")
    assert out is not None and out.ok and loaded(bar, SRAM)
    assert len(ask.shown) == 1
    message, question = ask.shown[0]
    assert question == "Write? [y/N] "
    lines = message.splitlines()
    assert lines[0] == f"load fw_{SRAM:x}.elf into live target {SPEC}:"
    assert lines[1].startswith(f"  segment 0 [{SRAM:#x}..{SRAM + 9:#x}] (r-x)  10 bytes "
                               "+ 0 zero  -> dev.sram")
    assert lines[2].startswith(f"  segment 1 [{SRAM + 0x80:#x}..{SRAM + 0x97:#x}] (rw-)  "
                               "8 bytes + 16 zero  -> dev.sram")
    assert "unsafe_write" not in message


@pytest.mark.parametrize("answer", ["n", "", "yes please", "unsafe"])
def test_anything_but_yes_loads_nothing(make: Callable[..., Session],
                                        images: dict[str, Path], bar: Backing,
                                        acc: Accesses, answer: str) -> None:
    with pytest.raises(NotConfirmed, match="load: not confirmed, nothing written"):
        execute(make(FakeAsk(answer), allow_writes=True), f"load {images['sram']}")
    assert untouched(bar, acc)


def test_unsafe_memory_needs_the_word_and_yes_does_not_skip_it(
        make: Callable[..., Session], images: dict[str, Path], bar: Backing,
        acc: Accesses) -> None:
    ask = FakeAsk("y")
    with pytest.raises(NotConfirmed):
        execute(make(ask, allow_writes=True, yes=True), f"load {images['boot']}")
    assert untouched(bar, acc)
    message, question = ask.shown[0]
    assert "-> dev.boot  unsafe_write" in message
    assert "dev.boot is marked unsafe_write in the map" in message
    assert question.startswith("Type 'unsafe'")
    ask = FakeAsk("unsafe")
    execute(make(ask, allow_writes=True, yes=True), f"load {images['boot']}")
    assert len(ask.shown) == 1 and loaded(bar, BOOT)


def test_yes_skips_the_plain_question(make: Callable[..., Session], images: dict[str, Path],
                                      bar: Backing) -> None:
    ask = FakeAsk()
    execute(make(ask, allow_writes=True, yes=True), f"load {images['sram']}")
    assert ask.shown == [] and loaded(bar, SRAM)


# --- dry run ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "image", "code", "said"), [
    (["--allow-writes"], "sram", 0, "dry-run: would write 0x40001000 <- 10 bytes"),
    (["--allow-writes"], "boot", 1, "needs --force-unsafe"),
    (["--allow-writes", "--force-unsafe"], "boot", 0, "dry-run: would write 0x40001c00"),
    ([], "sram", 1, "dry run of live target"),
])
def test_a_dry_run_load_writes_nothing_and_fails_where_the_real_one_would(
        rdl: Path, images: dict[str, Path], bar: Backing, acc: Accesses, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], options: list[str], image: str, code: int,
        said: str) -> None:
    script = tmp_path / "load.sdbg"
    script.write_text(f"load {images[image]}\n")
    with pytest.raises(SystemExit) as exit_:
        main([*options, "-t", SPEC, "--map", str(rdl), "run", "--dry-run", str(script)])
    out = " ".join(capsys.readouterr().out.split())
    assert exit_.value.code == code, out
    assert said in out
    assert untouched(bar, acc)
