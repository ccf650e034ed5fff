"""scripts/bench_firmware.py: the ELF files it writes itself are real ELF files (binutils and
pyelftools read them as socdbg does), and its benchmark functions return bench.py rows.
Run small: the full benchmarks are for ``python scripts/bench.py``."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import firmware_build as fb
import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.firmware import read_elf

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_firmware.py"
ROW_KEYS = {"name", "value", "unit", "target", "runs", "note", "samples"}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_firmware", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_firmware"] = mod  # dataclasses and friends look modules up
    spec.loader.exec_module(mod)
    return mod


def _readelf_symbols(path: Path) -> list[tuple[str, int, int, str]]:
    return [(s.name, s.value, s.size, s.type.lower()) for s in fb.inspect(path).symbols]


def test_symtab_image_reads_the_same_in_socdbg_pyelftools_and_readelf(
        bench: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "symtab.elf"
    written = bench.symtab_image(path, 2000)
    assert len(written) == 2000
    ours = sorted((s.name, s.address, s.size, s.kind) for s in read_elf(path).symbols.by_name
                  .values())
    theirs = sorted((n, v, s, {"STT_FUNC": "func", "STT_OBJECT": "object",
                               "STT_NOTYPE": "notype"}[k])
                    for n, v, s, k in bench._pyelftools_symbols(path) if n)
    assert ours == theirs == sorted(_readelf_symbols(path)) == sorted(written)
    # and the bisecting lookup agrees with the table for every sized symbol
    table = read_elf(path).symbols
    for name, address, size, _ in written:
        if size:
            hit = table.containing(address + size - 1)
            assert hit is not None and (hit[0].name, hit[1]) == (name, size - 1)


def test_load_image_is_one_segment_at_dram_and_loads(bench: ModuleType, tmp_path: Path
                                                     ) -> None:
    path = bench.load_image_file(tmp_path / "img.elf", 1 << 16)
    f = fb.inspect(path)
    assert [(s.paddr, s.filesz, s.memsz) for s in f.loads] == [(0x8000_0000, 1 << 16, 1 << 16)]
    session = Session(out=io.StringIO())
    out = execute(session, f"load --verify {path}")
    assert out is not None and out.data["written"] == 1 << 16
    assert session.target.read_block(0x8000_0000, 1 << 16) == \
        f.raw[f.loads[0].offset : f.loads[0].offset + (1 << 16)]


def _check_rows(rows: list[dict[str, Any]], names: list[str]) -> None:
    assert [r["name"] for r in rows] == names
    for r in rows:
        assert set(r) >= ROW_KEYS, r["name"]
        assert isinstance(r["value"], float) and r["value"] > 0, r["name"]
        assert r["unit"] and isinstance(r["note"], str)


def test_bench_load_rows(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "LOAD_BYTES", 1 << 20)  # small: this checks the rows only
    rows = bench.bench_load_16mb(quick=True)
    _check_rows(rows, ["firmware.load_16mb", "firmware.load_16mb.verify",
                       "firmware.load_16mb.read_elf"])
    assert rows[0]["unit"] == "MB/s" and rows[0]["target"] == 500.0
    assert rows[0]["higher_is_better"] is True and rows[0]["runs"] == 3


def test_bench_symtab_rows(bench: ModuleType) -> None:
    rows = bench.bench_symtab_100k(quick=True, count=3000)
    _check_rows(rows, ["firmware.symtab_100k.read_elf", "firmware.symtab_100k.pyelftools",
                       "firmware.symtab_100k.speedup", "firmware.symtab_100k.containing",
                       "firmware.symtab_100k.lookup", "firmware.symtab_100k.first_lookup",
                       "firmware.symtab_100k.first_containing"])
    assert (rows[0]["unit"], rows[0]["target"]) == ("s", 0.5)
    assert rows[2]["value"] == pytest.approx(rows[1]["value"] / rows[0]["value"])
    assert rows[3]["unit"] == rows[4]["unit"] == "µs"
    assert rows[5]["unit"] == rows[6]["unit"] == "ms"  # the deferred index builds
    assert len(rows[5]["samples"]) == len(rows[6]["samples"]) == 3


def test_bench_symtab_vs_nm_rows(bench: ModuleType) -> None:
    """Whole processes, paired: the child reads the file and checks the symbol count."""
    rows = bench.bench_symtab_vs_nm(quick=True, count=3000)
    beyond = rows.pop(4)  # a difference of two timings: may be below 0 for a tiny file
    assert beyond["name"] == "firmware.symtab_100k.vs_nm.beyond_python"
    assert beyond["unit"] == "x" and len(beyond["samples"]) == 7
    _check_rows(rows, ["firmware.symtab_100k.vs_nm", "firmware.symtab_100k.process",
                       "firmware.symtab_100k.nm", "firmware.symtab_100k.python_startup",
                       "firmware.symtab_100k.vs_nm.with_lookups",
                       "firmware.symtab_100k.process_with_lookups"])
    assert (rows[0]["unit"], rows[0]["target"], rows[0]["runs"]) == ("x", 2.0, 7)
    assert rows[1]["unit"] == rows[2]["unit"] == rows[3]["unit"] == rows[5]["unit"] == "ms"
    assert rows[4]["unit"] == "x" and len(rows[4]["samples"]) == 7
