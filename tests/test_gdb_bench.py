"""scripts/bench_gdb.py keeps working: its image boots in QEMU, and every benchmark returns
well-formed rows (the ``--quick`` repetitions) against a real QEMU and ``socdbg serve``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import gdb_support as gs
import pytest

from socdbg.targets.gdb import GdbTarget

pytestmark = pytest.mark.slow

SCRIPT = gs.REPO / "scripts" / "bench_gdb.py"
ROW_KEYS = {"name", "value", "unit", "target", "runs", "note", "samples"}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_gdb", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _rows(rows: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    assert [r["name"] for r in rows] == names
    for r in rows:
        assert set(r) >= ROW_KEYS, r
        assert isinstance(r["value"], float) and r["value"] > 0, r
        if r["runs"] is not None:
            assert r["runs"] == len(r["samples"]) >= 3
    return {r["name"]: r for r in rows}


def test_the_bench_image_boots_and_holds_its_payload(bench: ModuleType, tmp_path: Path
                                                     ) -> None:
    payload = bytes(range(256)) * 4
    image = bench.write_image(tmp_path / "image.elf", payload)
    with gs.qemu(image) as machine:
        target = GdbTarget(gs.HOST, machine.port)
        try:
            assert target.read_block(gs.RAM, 16 + len(payload))[16:] == payload
            target.write_core_register("pc", gs.RAM)
            target.step_instruction()
            assert target.read_core_register("pc") == gs.RAM  # j . spins in place
        finally:
            target.close()


def _paired(rows: dict[str, dict[str, Any]], name: str, kind: str) -> dict[str, Any]:
    """A paired benchmark's ratio row is the median of the per-pair ratios."""
    import statistics

    ours, gdb = rows[f"{name}.socdbg"]["samples"], rows[f"{name}.gdb"]["samples"]
    ratio = rows[f"{name}.{kind}"]
    pairs = [g / o for o, g in zip(ours, gdb, strict=True)] if kind == "speedup" else \
        [o / g for o, g in zip(ours, gdb, strict=True)]
    assert ratio["value"] == pytest.approx(statistics.median(pairs))
    assert ratio["higher_is_better"] is True if kind == "speedup" else \
        "higher_is_better" not in ratio
    return ratio


def test_bench_ram_1mib_rows(bench: ModuleType) -> None:
    rows = _rows(bench.bench_ram_1mib(True), [
        "gdb.ram_1mib.socdbg", "gdb.ram_1mib.gdb", "gdb.ram_1mib.speedup"])
    assert _paired(rows, "gdb.ram_1mib", "speedup")["target"] == 4.0
    assert "per MiB" in rows["gdb.ram_1mib.gdb"]["note"]  # in process against gdb's net time


def test_bench_cli_dump_rows(bench: ModuleType) -> None:
    rows = _rows(bench.bench_cli_dump(True), [
        "gdb.cli_dump.socdbg", "gdb.cli_dump.gdb", "gdb.cli_dump.speedup"])
    assert _paired(rows, "gdb.cli_dump", "speedup")["target"] == 2.0
    assert "whole process" in rows["gdb.cli_dump.socdbg"]["note"]


def test_bench_read_latency_rows(bench: ModuleType) -> None:
    rows = _rows(bench.bench_register_latency(True), [
        "gdb.read_latency.socdbg", "gdb.read_latency.gdb", "gdb.read_latency.ratio"])
    assert _paired(rows, "gdb.read_latency", "ratio")["target"] == 1.1
    assert rows["gdb.read_latency.socdbg"]["unit"] == "us"


def test_bench_qemu_dump_rows(bench: ModuleType) -> None:
    rows = _rows(bench.bench_qemu_dump(True), [
        "gdb.qemu_dump.socdbg", "gdb.qemu_dump.single", "gdb.qemu_dump.speedup"])
    assert rows["gdb.qemu_dump.speedup"]["target"] == 4.0


def test_bench_serve_dump_rows(bench: ModuleType) -> None:
    result = bench.bench_serve_dump(True)
    names = ["gdb.serve_dump.single", "gdb.serve_dump.coalesced", "gdb.serve_dump.speedup"]
    if len(result) > 3:  # the server offers batched reads (qSocdbg.read)
        names += ["gdb.serve_dump.batched", "gdb.serve_dump.speedup_batched"]
    rows = _rows(result, names)
    from socdbg.commands.session import Session
    from socdbg.postmortem import dump_skip_reason

    n = sum(dump_skip_reason(r, False) is None for r in Session().map)
    assert f"; {n} registers of the reference SoC" in rows["gdb.serve_dump.single"]["note"]
    assert rows["gdb.serve_dump.speedup"]["value"] == pytest.approx(
        rows["gdb.serve_dump.single"]["value"] / rows["gdb.serve_dump.coalesced"]["value"])
