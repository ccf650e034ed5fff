"""Bad firmware files: each is one error line, through ``execute`` (the shell) and through
the command line (``python -m socdbg load``: one ``error:`` line on stderr, exit 1, no
traceback). Hypothesis mutates a real ELF and checks the parser only ever raises
FirmwareError."""

from __future__ import annotations

import io
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import firmware_build as fb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError
from socdbg.firmware import ElfImage, FirmwareError
from socdbg.firmware.elf import parse_elf


def _truncated(raw: bytes) -> bytes:
    return raw[:300]  # inside the first segment's file bytes


def _truncated_header(raw: bytes) -> bytes:
    return raw[:40]  # the ELF header itself is cut


def _corrupt_section_table(raw: bytes) -> bytes:
    shoff, = struct.unpack_from("<Q", raw, 0x28)
    out = bytearray(raw)
    out[shoff:] = b"\xa5" * (len(raw) - shoff)  # every section header is garbage
    return bytes(out)


def _corrupt_symtab_link(raw: bytes) -> bytes:
    """The symbol table's sh_link (its string table) points at section 999."""
    shoff, = struct.unpack_from("<Q", raw, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", raw, 0x3A)
    out = bytearray(raw)
    for i in range(shnum):
        base = shoff + i * shentsize
        if struct.unpack_from("<I", raw, base + 4)[0] == 2:  # SHT_SYMTAB
            struct.pack_into("<I", out, base + 40, 999)
    return bytes(out)


def _not_elf(raw: bytes) -> bytes:
    return b"#!/bin/sh\necho this is a shell script, not firmware\n"


def _empty(raw: bytes) -> bytes:
    return b""


def _class(value: int) -> Callable[[bytes], bytes]:
    def patch(raw: bytes) -> bytes:
        return raw[:4] + bytes([value]) + raw[5:]  # EI_CLASS

    return patch


def _encoding(raw: bytes) -> bytes:
    return raw[:5] + b"\x07" + raw[6:]  # EI_DATA


#: id -> (how to make the file from a good ELF, what the one error line must contain)
BAD_FILES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated": (_truncated, "runs past the end of the file (truncated?)"),
    "truncated-header": (_truncated_header, "corrupt or truncated ELF"),
    "corrupt-section-table": (_corrupt_section_table, "corrupt or truncated ELF"),
    "corrupt-symtab-link": (_corrupt_symtab_link, "corrupt or truncated ELF"),
    "not-elf": (_not_elf, "not an ELF file"),
    "empty": (_empty, "not an ELF file"),
    "elfclass-3": (_class(3), "unsupported ELF class 3 (expected 32- or 64-bit)"),
    "elfclass-0": (_class(0), "unsupported ELF class 0"),
    "bad-data-encoding": (_encoding, "unsupported ELF data encoding 7"),
}


@pytest.fixture
def bad_file(request: pytest.FixtureRequest, fw: fb.Images, tmp_path: Path
             ) -> tuple[Path, str]:
    make, why = BAD_FILES[request.param]
    path = tmp_path / f"{request.param}.elf"
    path.write_bytes(make(fw.soc.raw))
    return path, why


def _special(kind: str, tmp_path: Path) -> tuple[Path, str]:
    if kind == "directory":
        d = tmp_path / "firmware.elf"
        d.mkdir()
        return d, "is a directory"
    return tmp_path / "missing.elf", "no such file"


# --------------------------------------------------------------------------------------------
# through execute (the shell)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad_file", list(BAD_FILES), indirect=True)
@pytest.mark.parametrize("options", ["", "--verify", "--symbols-only"])
def test_bad_file_is_one_firmware_error_line(bad_file: tuple[Path, str], options: str) -> None:
    path, why = bad_file
    with pytest.raises(FirmwareError) as err:
        execute(Session(out=io.StringIO()), f"load {options} {path}")
    msg = str(err.value)
    assert msg.startswith(f"{path}: ")
    assert why in msg
    assert "\n" not in msg and len(msg) < 300


@pytest.mark.parametrize("kind", ["directory", "missing"])
def test_directory_and_missing_file_are_one_error_line(kind: str, tmp_path: Path) -> None:
    path, why = _special(kind, tmp_path)
    with pytest.raises(SocdbgError) as err:
        execute(Session(out=io.StringIO()), f"load {path}")
    msg = str(err.value)
    assert str(path) in msg and why in msg
    assert "\n" not in msg


def test_nothing_is_written_for_a_bad_file(fw: fb.Images, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    path = tmp_path / "t.elf"
    path.write_bytes(_truncated(fw.soc.raw))
    with fb.wrapped_session(monkeypatch) as (session, rec):
        with pytest.raises(FirmwareError):
            execute(session, f"load {path}")
        assert rec.changes() == []


# --------------------------------------------------------------------------------------------
# through the command line
# --------------------------------------------------------------------------------------------
def _cli(python: str, env: dict[str, str], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "socdbg", "load", str(path)], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def _assert_one_error_line(proc: subprocess.CompletedProcess[str], path: Path, why: str
                           ) -> None:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert str(path) in lines[0] and why in lines[0]
    assert proc.stdout == ""
    assert proc.returncode == 1


CLI_CASES = ["truncated", "corrupt-section-table", "not-elf", "elfclass-3"]


@pytest.mark.parametrize("bad_file", CLI_CASES, indirect=True)
def test_cli_bad_file_is_one_error_line_exit_1(bad_file: tuple[Path, str], python: str,
                                               child_env: dict[str, str]) -> None:
    path, why = bad_file
    _assert_one_error_line(_cli(python, child_env, path), path, why)


def test_cli_missing_file_is_one_error_line_exit_1(python: str, child_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    path, why = _special("missing", tmp_path)
    _assert_one_error_line(_cli(python, child_env, path), path, why)


def test_cli_directory_is_one_error_line_exit_1(python: str, child_env: dict[str, str],
                                                tmp_path: Path) -> None:
    """Regression: `load` declares click.Path(dir_okay=False), so click itself rejected a
    directory and the CLI printed click's 4-line usage error with exit status 2."""
    path, why = _special("directory", tmp_path)
    _assert_one_error_line(_cli(python, child_env, path), path, why)


# --------------------------------------------------------------------------------------------
# hypothesis: mutated ELF files
# --------------------------------------------------------------------------------------------
INTERESTING = (0, 1, 2, 3, 7, 8, 0x40, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x1_0000, 0x7FFF_FFFF,
               0x8000_0000, 0xFFFF_FFFF, 1 << 32, 1 << 40, (1 << 63) - 1, 1 << 63,
               (1 << 64) - 1)


def header_fields(raw: bytes) -> list[tuple[int, int]]:
    """(offset, width) of every field of the ELF header, the program headers and the section
    headers of a 64-bit little-endian ELF."""
    ehdr = [(0x10, 2), (0x12, 2), (0x14, 4), (0x18, 8), (0x20, 8), (0x28, 8), (0x30, 4),
            (0x34, 2), (0x36, 2), (0x38, 2), (0x3A, 2), (0x3C, 2), (0x3E, 2), (4, 1), (5, 1),
            (6, 1), (7, 1)]
    phoff, = struct.unpack_from("<Q", raw, 0x20)
    shoff, = struct.unpack_from("<Q", raw, 0x28)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", raw, 0x36)
    phdr = [(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 8), (48, 8)]
    shdr = [(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 4), (44, 4), (48, 8),
            (56, 8)]
    out = list(ehdr)
    out += [(phoff + i * phentsize + o, w) for i in range(phnum) for o, w in phdr]
    out += [(shoff + i * shentsize + o, w) for i in range(shnum) for o, w in shdr]
    return out


@st.composite
def mutated(draw: st.DrawFn, raw: bytes) -> bytes:
    n = len(raw)
    kind = draw(st.sampled_from(["flip", "overwrite", "truncate", "field", "splice",
                                 "truncate+flip"]))
    out = bytearray(raw)
    if kind in ("flip", "truncate+flip"):
        for pos, bit in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 7)),
                                      min_size=1, max_size=16)):
            out[pos] ^= 1 << bit
    if kind == "overwrite":
        pos = draw(st.integers(0, n - 1))
        data = draw(st.binary(min_size=1, max_size=64))
        out[pos : pos + len(data)] = data[: n - pos]
    elif kind in ("truncate", "truncate+flip"):
        out = out[: draw(st.integers(0, n - 1))]
    elif kind == "field":
        for offset, width in draw(st.lists(st.sampled_from(header_fields(raw)), min_size=1,
                                           max_size=4)):
            value = draw(st.sampled_from(INTERESTING) | st.integers(0, n + 64))
            out[offset : offset + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(
                width, "little")
    elif kind == "splice":  # copy one region of the file over another
        src, dst = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        length = draw(st.integers(1, 512))
        chunk = raw[src : src + length]
        out[dst : dst + len(chunk)] = chunk[: n - dst]
    return bytes(out)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_elf_parses_or_raises_firmware_error(fw: fb.Images, data: st.DataObject
                                                     ) -> None:
    source = data.draw(st.sampled_from([fw.soc.raw, fw.dup.raw]), label="source")
    raw = data.draw(mutated(source), label="elf")
    _parses_or_one_line(raw, data)


def _parses_or_one_line(raw: bytes, data: st.DataObject) -> None:
    try:
        image = parse_elf(raw, "mutant.elf")
    except FirmwareError as exc:
        assert str(exc).startswith("mutant.elf: ")
        assert "\n" not in str(exc)
        return
    assert isinstance(image, ElfImage)
    assert image.machine
    for seg in image.segments:  # whatever parsed is self-consistent
        assert len(seg.data) <= seg.memsz
    table = image.symbols
    for name in table.names():
        sym = table.lookup(name)
        assert sym is not None and sym.name == name
        cands = table.candidates(name)
        assert cands[0] == sym and all(c.name == name for c in cands)
        table.ambiguous(name)
        for c in cands:
            if c.file:
                assert table.in_file(c.file, name) is not None
    for _ in range(8):
        hit = table.containing(data.draw(st.integers(0, 2**64 - 1), label="address"))
        assert hit is None or hit[1] >= 0


#: ELF64 header fields (offset, size) a table's place and size come from
_EHDR_FIELDS = [(0x20, 8), (0x28, 8), (0x36, 2), (0x38, 2), (0x3A, 2), (0x3C, 2), (0x3E, 2)]
#: Elf64_Shdr fields: name, type, offset, size, link, info, entsize
_SHDR_FIELDS = [(0, 4), (4, 4), (24, 8), (32, 8), (40, 4), (44, 4), (56, 8)]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_header_fields_set_to_anything_give_one_error_line(fw: fb.Images,
                                                            data: st.DataObject) -> None:
    """The fields every offset, size and count comes from, set to edge values: the bounds
    and checks, not luck, keep the reader inside the file."""
    raw = bytearray(data.draw(st.sampled_from([fw.soc.raw, fw.dup.raw]), label="source"))
    shoff, = struct.unpack_from("<Q", raw, 0x28)
    shnum, = struct.unpack_from("<H", raw, 0x3C)
    edge = st.one_of(st.sampled_from([0, 1, 7, 0x18, 0x40, len(raw) - 1, len(raw),
                                      len(raw) + 1, 0xFFFF, 0xFFFF_FFFF, 2**63, 2**64 - 1]),
                     st.integers(0, 2**64 - 1))
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        if data.draw(st.booleans(), label="in section header"):
            at = shoff + 64 * data.draw(st.integers(0, shnum - 1), label="section")
            off, size = data.draw(st.sampled_from(_SHDR_FIELDS), label="field")
            at += off
        else:
            at, size = data.draw(st.sampled_from(_EHDR_FIELDS), label="field")
        value = data.draw(edge, label="value") % (1 << (8 * size))
        raw[at : at + size] = value.to_bytes(size, "little")
    _parses_or_one_line(bytes(raw), data)
