"""scripts/bench.py is a runner: every row a benchmark file produces is shown (a missed
target too), an unknown row field is an error row, a failing benchmark keeps its rows."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location("socdbg_bench_runner", SCRIPTS / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_file_registers_under_its_group(bench: ModuleType) -> None:
    names = set(bench.BENCHMARKS)
    for expected in ("map.cold_compile", "map.warm_load", "map.lookup_path", "cli.read_startup",
                     "shell.complete", "svd.svd", "firmware.symtab_vs_nm"):
        assert expected in names
    assert bench.BENCHMARKS["map.warm_load"].requires == ("map.cold_compile",)
    order, unknown = bench.select("map.warm_load,nothing.here")
    assert order == ["map.cold_compile", "map.warm_load"] and unknown == ["nothing.here"]
    assert len(Path(SCRIPTS / "bench.py").read_text().splitlines()) <= 300


def test_rows_are_kept_refused_or_errors(bench: ModuleType) -> None:
    from benchrows import Row, row

    def fine(quick: bool) -> list[object]:
        return [row("t.miss", [3.0, 4.0], "ms", 1.0, "over its target"),
                Row("t.row", 1.0, "x", 2.0)]

    def extra(quick: bool) -> dict[str, object]:
        return {"name": "t.extra", "value": 1.0, "figure2": 5}

    def halfway(quick: bool) -> Iterator[Row]:
        yield Row("t.first", 1.0, "ms")
        raise RuntimeError("lost the target")

    for name, fn in (("t.fine", fine), ("t.extra", extra), ("t.halfway", halfway)):
        bench.register(name, "test", fn)
    try:
        rows = bench.run_all(["t.fine", "t.extra", "t.halfway"], True, progress=False)
    finally:
        for name in ("t.fine", "t.extra", "t.halfway"):
            bench.BENCHMARKS.pop(name)
    by_name = {r.name: r for r in rows}
    assert by_name["t.miss"].verdict == "MISS" and by_name["t.miss"].value == 3.5
    assert by_name["t.row"].verdict == "pass"
    assert by_name["t.extra"].error is not None and "figure2" in by_name["t.extra"].error
    assert by_name["t.first"].value == 1.0
    assert "lost the target" in (by_name["t.halfway (rest)"].error or "")
    table = bench.render(rows, "header")
    assert "t.miss" in table and "MISS" in table and "error: unknown row field(s): figure2" in table
