"""The rtl: target's DMA coupling without a build: the sideband list the generator writes,
the SystemVerilog that drives it, and the checks on the list a cached build hands back.

(tests/test_rtl.py runs the coupling on a real Verilator build.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from socdbg.errors import TargetError
from socdbg.regmap import RegMap
from socdbg.targets.rtl.coupling import MAX_ENTRIES, read_manifest
from socdbg.targets.rtl.generate import Block, Leaf
from socdbg.targets.rtl.top import sideband_leaves, top_sv


def _block(name: str, base: int, inputs: list[Leaf], outputs: tuple[str, ...] = ()) -> Block:
    return Block(name, f"sdbg_{name}", f"sdbg_{name}_pkg", f"sdbg_{name}_pkg::in_t",
                 f"sdbg_{name}_pkg::out_t", base, 0x1000, 12, tuple(inputs), outputs)


DMA = _block("dma", 0x4001_0000, [
    Leaf("global_status.idle", "next", 1, 1),
    Leaf("ch_0.status.busy", "next", 1, 0),
    Leaf("ch_0.status.done", "next", 1, 0),
    Leaf("ch_0.bytes_done.bytes", "next", 32, 0),
])
INTC = _block("intc", 0x4002_0000, [
    Leaf("status.dma_ch0", "next", 1, 0),
    Leaf("status.mbox", "next", 1, 0),
    Leaf("pending.dma_ch0", "next", 1, 0),
], ("status.dma_ch0.value", "enable.dma_ch0.value", "test_set.dma_ch0.value"))


def test_the_sideband_drives_the_dma_block_and_its_interrupt_sources() -> None:
    leaves = sideband_leaves([INTC, DMA])
    assert leaves == [("intc", "status.dma_ch0", 1), ("dma", "global_status.idle", 1),
                      ("dma", "ch_0.status.busy", 1), ("dma", "ch_0.status.done", 1),
                      ("dma", "ch_0.bytes_done.bytes", 32)]
    sv = top_sv([INTC, DMA])
    assert "logic [63:0] sb_level [0:4];" in sv
    # intc keeps its own drivers (test_set) and ORs the engine's source in
    assert ("in_intc.status.dma_ch0.next = out_intc.test_set.dma_ch0.value | "
            "1'(sb_level[0] | sb_once[0]);") in sv
    assert "in_dma.ch_0.bytes_done.bytes.next = 32'(sb_level[4] | sb_once[4]);" in sv
    assert "in_intc.status.mbox.next = 1'h0;" in sv  # not the engine's


def test_without_a_dma_block_nothing_is_coupled() -> None:
    assert sideband_leaves([INTC]) == []
    sv = top_sv([INTC])
    assert "sb_level" not in sv
    assert "input  wire        sb_we," in sv  # the harness drives the ports in every build


def test_a_manifest_resolves_to_the_maps_fields(ref_map: RegMap, tmp_path: Path) -> None:
    f = tmp_path / "sideband.txt"
    f.write_text("dma ch_1.status.done 1\ndma ch_1.bytes_done.bytes 32\n"
                 "intc status.dma_ch1 1\n")
    entries = read_manifest(f, ref_map)
    assert [(e.register.path, e.field.name, e.pulse) for e in entries] == [
        ("dma.ch[1].status", "done", True), ("dma.ch[1].bytes_done", "bytes", False),
        ("intc.status", "dma_ch1", True)]
    assert read_manifest(tmp_path / "absent.txt", ref_map) == []


@pytest.mark.parametrize(("text", "error"), [
    ("dma ch_9.status.done 1\n", r"sideband\.txt:1: dma\.ch_9\.status\.done \(1 bits\) is "
                                 "not a field of the map"),
    ("dma ch_0.status.done 1\ndma ch_0.bytes_done.bytes 8\n",
     r"sideband\.txt:2: .*not a field of the map"),
    ("dma ch_0.status.done\n", r"sideband\.txt:1: not a sideband entry"),
    ("dma ../../etc/passwd 1\n", r"sideband\.txt:1: not a sideband entry"),
    ("dma ch_0.status.done 1 2\n", r"sideband\.txt:1: not a sideband entry"),
    ("dma ch_0.status.done 99999\n", r"sideband\.txt:1: not a sideband entry"),
])
def test_a_bad_manifest_is_an_error_naming_file_and_line(ref_map: RegMap, tmp_path: Path,
                                                         text: str, error: str) -> None:
    f = tmp_path / "sideband.txt"
    f.write_text(text)
    with pytest.raises(TargetError, match=error):
        read_manifest(f, ref_map)


def test_a_manifest_is_bounded(ref_map: RegMap, tmp_path: Path) -> None:
    f = tmp_path / "sideband.txt"
    f.write_text("dma ch_0.status.done 1\n" * (MAX_ENTRIES + 1))
    with pytest.raises(TargetError, match="over 4096 sideband entries"):
        read_manifest(f, ref_map)
    f.write_bytes(b"x" * ((1 << 20) + 1))
    with pytest.raises(TargetError, match="over 1048576 bytes"):
        read_manifest(f, ref_map)
