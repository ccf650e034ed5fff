"""``load FILE.elf [--verify] [--set-pc] [--symbols-only]`` on the simulator of the reference
SoC, with ELF files built during the run by the real RISC-V cross compiler
(tests/firmware_build.py) and checked against riscv64-unknown-elf-readelf.

Every write reaches the target through a recording wrapper (``firmware_build.Recorder``)
installed on the ordinary ``open_target`` path, so "nothing was written" is counted, not
assumed.
"""

from __future__ import annotations

import io
import random
import subprocess
from pathlib import Path

import firmware_build as fb
import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.firmware import PROGRESS_MIN, loaded_images
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError, UsageError
from socdbg.firmware import FirmwareError, read_elf
from socdbg.firmware.load import CHUNK

SRAM, SRAM_END = 0x1000_0000, 0x1010_0000  # the reference SoC's memories
DRAM, DRAM_END = 0x8000_0000, 0xC000_0000


def garbage(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def expected_memory(f: fb.Firmware) -> list[tuple[int, bytes]]:
    """(address, bytes) every LOAD segment must leave in memory, from readelf: the file
    bytes at p_offset, then zeros to p_memsz."""
    return [(s.paddr, f.raw[s.offset : s.offset + s.filesz] + bytes(s.memsz - s.filesz))
            for s in f.loads]


# --------------------------------------------------------------------------------------------
# writing segments
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("image", ["fw_soc.elf", "fw_split.elf", "fw_soc32.elf"])
def test_load_writes_file_bytes_then_zero_fill_over_garbage(
        fw: fb.Images, monkeypatch: pytest.MonkeyPatch, image: str) -> None:
    f = fw.by_name[image]
    with fb.wrapped_session(monkeypatch) as (session, rec):
        sim = rec.inner
        junk = garbage(SRAM_END - SRAM)
        sim.write_block(SRAM, junk)  # sram full of garbage before the load
        out = execute(session, f"load {f.path}")
        assert out is not None and out.ok
        for address, want in expected_memory(f):
            assert sim.read_block(address, len(want)) == want
            # nothing past the end of the segment was touched
            end = address + len(want)
            assert sim.read_block(end, 64) == junk[end - SRAM : end - SRAM + 64]
        # .bss (from nm) reads zero: the variables and the whole __bss_start..__bss_end
        bss, bss_end = f.addr("__bss_start"), f.addr("__bss_end")
        assert bss_end > bss
        assert sim.read_block(bss, bss_end - bss) == bytes(bss_end - bss)
        ticks = execute(session, "peek ticks")
        table = execute(session, "peek table 64")
        assert ticks is not None and ticks.data["words"] == [0]
        assert table is not None and table.data["words"] == [0] * 64
        # .data holds the compiled initialiser
        counter = execute(session, "peek counter")
        assert counter is not None and counter.data["words"] == [0x1234]


@pytest.mark.parametrize("image", ["fw_soc.elf", "fw_split.elf", "fw_big.elf"])
def test_every_segment_goes_through_block_writes_file_bytes_then_zeros(
        fw: fb.Images, monkeypatch: pytest.MonkeyPatch, image: str) -> None:
    f = fw.by_name[image]
    with fb.wrapped_session(monkeypatch) as (session, rec):
        execute(session, f"load {f.path}")
    assert rec.writes == []  # no single-word writes at all
    pos = 0
    for seg in f.loads:
        # this segment's block writes: contiguous from p_paddr to p_paddr + p_memsz
        covered = seg.paddr
        pieces = []
        while covered < seg.paddr + seg.memsz:
            address, data = rec.block_writes[pos]
            assert address == covered, f"gap or overlap at {covered:#x}"
            assert 0 < len(data) <= CHUNK
            pieces.append((address, data))
            covered += len(data)
            pos += 1
        assert covered == seg.paddr + seg.memsz
        # the file bytes first (a piece ends exactly where they end), then only zeros
        joined = b"".join(d for _, d in pieces)
        assert joined[: seg.filesz] == f.raw[seg.offset : seg.offset + seg.filesz]
        assert joined[seg.filesz :] == bytes(seg.memsz - seg.filesz)
        ends = {a + len(d) - seg.paddr for a, d in pieces}
        assert seg.filesz in ends or seg.filesz == 0
    assert pos == len(rec.block_writes)


def test_load_reports_segments_entry_and_symbols(fw: fb.Images) -> None:
    f = fw.split
    out = execute(Session(out=io.StringIO()), f"load {f.path}")
    assert out is not None and out.text is not None
    assert out.data["entry"] == f.entry == 0x1000_0000
    assert out.data["written"] == sum(s.memsz for s in f.loads)
    assert [(s["index"], s["address"], s["filesz"], s["memsz"]) for s in out.data["segments"]] \
        == [(s.index, s.paddr, s.filesz, s.memsz) for s in f.loads]
    lines = out.text.splitlines()
    text = f.loads[0]
    assert lines[0] == (f"fw_split.elf: segment 1 [0x10000000..{text.paddr + text.memsz - 1:#x}]"
                        f" (r-x) {text.filesz} bytes + 0 zero")
    assert lines[1].startswith("fw_split.elf: segment 2 [0x10080000..")
    assert "(rw-)" in lines[1]
    assert lines[-1] == (f"loaded {out.data['written']} bytes, entry 0x10000000, "
                         f"{out.data['symbols']} symbols")


def test_segments_read_by_socdbg_match_readelf(fw: fb.Images) -> None:
    for f in fw.by_name.values():
        image = read_elf(f.path)
        assert image.entry == f.entry
        assert [(s.index, s.address, len(s.data), s.memsz) for s in image.segments] == \
            [(s.index, s.paddr, s.filesz, s.memsz) for s in f.loads]
        assert image.elfclass == (32 if f.name == "fw_soc32.elf" else 64)


def test_images_for_both_memories_load_side_by_side(fw: fb.Images) -> None:
    """The soc image in sram and the virt image (QEMU virt's RAM base) in dram."""
    session = Session(out=io.StringIO())
    execute(session, f"load {fw.soc.path} --verify")
    execute(session, f"load {fw.virt.path} --verify")
    sim = session.target
    for f in (fw.soc, fw.virt):
        for address, want in expected_memory(f):
            assert sim.read_block(address, len(want)) == want
    assert fw.soc.loads[0].paddr == SRAM and fw.virt.loads[0].paddr == DRAM
    assert [i.name for i in loaded_images(session)] == ["fw_soc.elf", "fw_virt.elf"]


def test_loading_the_same_file_again_replaces_its_image(fw: fb.Images) -> None:
    session = Session(out=io.StringIO())
    execute(session, f"load {fw.soc.path}")
    execute(session, f"load {fw.soc.path}")
    execute(session, f"load --symbols-only {fw.soc.path}")
    assert len(loaded_images(session)) == 1


# --------------------------------------------------------------------------------------------
# --verify
# --------------------------------------------------------------------------------------------
def test_verify_passes_on_a_good_bus(fw: fb.Images, monkeypatch: pytest.MonkeyPatch) -> None:
    with fb.wrapped_session(monkeypatch) as (session, rec):
        out = execute(session, f"load --verify {fw.split.path}")
    assert out is not None and out.text is not None
    assert "verified" in out.text.splitlines()
    assert rec.reads > 0


@pytest.mark.parametrize(("symbol", "offset", "wrote"), [
    ("counter", 1, 0x12),  # a file byte: counter = 0x1234, little endian
    ("table", 0x10, 0x00),  # a zero-fill byte in .bss
])
def test_verify_names_the_address_of_a_corrupted_byte(
        fw: fb.Images, monkeypatch: pytest.MonkeyPatch, symbol: str, offset: int,
        wrote: int) -> None:
    bad = fw.soc.addr(symbol) + offset

    def flaky(inner: object) -> fb.Recorder:
        return fb.Recorder(inner, corrupt=[bad])

    with fb.wrapped_session(monkeypatch, flaky) as (session, rec):
        with pytest.raises(TargetError) as err:
            execute(session, f"load --verify {fw.soc.path}")
        # the write itself went through; the image's symbols are still usable
        assert rec.inner.read_block(bad, 1) == bytes([wrote])
        assert execute(session, f"sym {symbol}") is not None
    msg = err.value.message
    assert f"verify failed at {bad:#x}" in msg
    assert f"wrote {wrote:#04x}" in msg and f"read back {wrote ^ 0xFF:#04x}" in msg
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------
# --set-pc, --symbols-only
# --------------------------------------------------------------------------------------------
def test_set_pc_is_refused_on_the_sim_and_nothing_is_written(
        fw: fb.Images, monkeypatch: pytest.MonkeyPatch) -> None:
    with fb.wrapped_session(monkeypatch) as (session, rec):
        with pytest.raises(UsageError) as err:
            execute(session, f"load --set-pc {fw.soc.path}")
        assert rec.changes() == []
        assert rec.inner.read_block(SRAM, 0x200) == bytes(0x200)
        assert loaded_images(session) == []
    assert err.value.message == "--set-pc: target sim has no CPU registers"
    assert err.value.hint is not None and "without --set-pc" in err.value.hint


def test_set_pc_on_a_target_with_a_cpu_sets_the_entry(
        fw: fb.Images, monkeypatch: pytest.MonkeyPatch) -> None:
    with fb.wrapped_session(monkeypatch, fb.CpuRecorder) as (session, rec):
        out = execute(session, f"load --set-pc {fw.virt.path}")
    assert isinstance(rec, fb.CpuRecorder)
    assert rec.core["pc"] == fw.virt.entry == 0x8000_0000
    assert out is not None and out.text is not None
    assert "pc <- 0x80000000" in out.text.splitlines()


def test_symbols_only_reads_symbols_and_writes_nothing(
        fw: fb.Images, monkeypatch: pytest.MonkeyPatch) -> None:
    with fb.wrapped_session(monkeypatch) as (session, rec):
        out = execute(session, f"load --symbols-only {fw.soc.path}")
        sym = execute(session, "sym counter")
    assert rec.changes() == []
    assert out is not None and out.text == (f"fw_soc.elf: {out.data['symbols']} symbols, "
                                            "entry 0x10000000 (nothing written)")
    assert sym is not None and sym.data["address"] == fw.soc.addr("counter")


# --------------------------------------------------------------------------------------------
# the memory-map check before the first byte
# --------------------------------------------------------------------------------------------
BAD_PLACES = [
    # (where segment 2 of fw_split.elf is moved, what the error says)
    pytest.param(0x2000_0000, "falls outside memory", id="outside-memory"),
    pytest.param(0x4000_0000, "overlaps register sysctrl.chip_id at 0x40000000",
                 id="over-registers"),
    pytest.param(SRAM_END - 0x80, "runs past the end of sram (0x100fffff)",
                 id="past-end-of-sram"),
    pytest.param(DRAM_END - 0x10, "runs past the end of dram (0xbfffffff)",
                 id="past-end-of-dram"),
    pytest.param(SRAM - 0x10, "falls outside memory", id="starts-below-sram"),
]


@pytest.mark.parametrize(("address", "why"), BAD_PLACES)
def test_a_bad_segment_refuses_the_whole_image_before_any_write(
        fw: fb.Images, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, address: int,
        why: str) -> None:
    seg = fw.split.loads[1]
    assert seg.index == 2 and fw.split.loads[0].paddr == SRAM  # segment 1 alone would load
    path = tmp_path / "moved.elf"
    path.write_bytes(fb.relocate_segment(fw.split.raw, seg.index, address))
    with fb.wrapped_session(monkeypatch) as (session, rec):
        with pytest.raises(FirmwareError) as err:
            execute(session, f"load --verify {path}")
        assert rec.changes() == [], "the check must run before the first byte is written"
        assert rec.inner.read_block(SRAM, 0x100) == bytes(0x100)
        assert loaded_images(session) == []
    msg = err.value.message
    assert msg.startswith("moved.elf: segment 2 ")
    assert f"[{address:#x}..{address + seg.memsz - 1:#x}]" in msg
    assert why in msg
    assert "\n" not in str(err.value)


def test_a_segment_ending_exactly_at_the_end_of_sram_loads(
        fw: fb.Images, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seg = fw.split.loads[1]
    address = SRAM_END - seg.memsz
    path = tmp_path / "edge.elf"
    path.write_bytes(fb.relocate_segment(fw.split.raw, seg.index, address))
    with fb.wrapped_session(monkeypatch) as (session, rec):
        out = execute(session, f"load --verify {path}")
        assert out is not None and out.ok
        assert rec.inner.read_block(address, seg.memsz) == \
            fw.split.raw[seg.offset : seg.offset + seg.filesz] + bytes(seg.memsz - seg.filesz)


# --------------------------------------------------------------------------------------------
# progress: a rich bar on a terminal for large images, silence otherwise
# --------------------------------------------------------------------------------------------
def test_progress_bar_on_a_terminal_for_a_large_image(fw: fb.Images) -> None:
    assert sum(s.memsz for s in fw.big.loads) >= PROGRESS_MIN
    out = io.StringIO()
    session = Session(out=out, color=True)  # a terminal: rich's force_terminal
    assert session.presenter.console.is_terminal
    result = execute(session, f"load --verify {fw.big.path}")
    session.presenter.emit(result)
    shown = out.getvalue()
    assert "load fw_big.elf" in shown and "verify fw_big.elf" in shown
    assert "━" in shown  # the bar
    assert "3.1/3.1 MB" in shown  # DownloadColumn reached the total (3,146,152 bytes)


def test_no_progress_bar_when_not_a_terminal(fw: fb.Images) -> None:
    out = io.StringIO()
    session = Session(out=out)  # a StringIO: not a terminal
    assert not session.presenter.console.is_terminal
    result = execute(session, f"load --verify {fw.big.path}")
    assert result is not None and result.text is not None
    session.presenter.emit(result)
    assert out.getvalue() == result.text + "\n"  # exactly the report, nothing else
    assert "\x1b" not in out.getvalue() and "━" not in out.getvalue()


def test_no_progress_bar_for_a_small_image_even_on_a_terminal(fw: fb.Images) -> None:
    out = io.StringIO()
    session = Session(out=out, color=True)
    assert sum(s.memsz for s in fw.soc.loads) < PROGRESS_MIN
    execute(session, f"load --verify {fw.soc.path}")
    assert out.getvalue() == ""


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------
def test_cli_load_verify(fw: fb.Images, python: str, child_env: dict[str, str]) -> None:
    proc = subprocess.run([python, "-m", "socdbg", "load", "--verify", str(fw.virt.path)],
                          capture_output=True, text=True, env=child_env, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("fw_virt.elf: segment 1 [0x80000000..")
    assert "verified" in lines
    assert lines[-1].startswith("loaded 424 bytes, entry 0x80000000, ")


def test_cli_set_pc_on_the_sim_is_one_error_line(fw: fb.Images, python: str,
                                                 child_env: dict[str, str]) -> None:
    proc = subprocess.run([python, "-m", "socdbg", "load", "--set-pc", str(fw.soc.path)],
                          capture_output=True, text=True, env=child_env, timeout=60,
                          check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: --set-pc: target sim has no CPU registers (load without --set-pc, or use a "
        "gdb target)"]


def test_missing_compiler_fails_the_fixture_with_the_install_hint(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without the cross compiler the firmware fixture fails (not skips) and says what to run."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(pytest.fail.Exception) as err:
        fb.build_images(tmp_path / "out")
    assert "riscv64-unknown-elf-gcc not found" in str(err.value)
    assert "bash scripts/test.sh" in str(err.value)
    assert not isinstance(err.value, pytest.skip.Exception)


def test_an_object_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    """An object file (no PT_LOAD) is refused with a hint, not loaded as nothing."""
    obj = tmp_path / "main.o"
    subprocess.run([fb.tool(fb.CC), *fb.FLAGS_64, *fb.FLAGS, "-c", "-o", str(obj),
                    str(fb.SOURCES / "main.c")], check=True, timeout=60)
    with pytest.raises(SocdbgError) as err:
        execute(Session(out=io.StringIO()), f"load {obj}")
    assert err.value.message == "main.o: no loadable (PT_LOAD) segments"
    assert err.value.hint is not None and "object file" in err.value.hint
