"""``fleet index`` and ``query`` against generated dumps with known answers: the ECC question,
a PLL lock counter's distribution, the chips that differ from a golden dump; incremental
indexing; untrusted and broken input."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_gen import UPDATE, base_dump, chip_dump, pll_status, write_chip

from socdbg.errors import UsageError
from socdbg.fleet.index import update_index
from socdbg.fleet.query import connect, run_query
from socdbg.postmortem import Dump

REPO = Path(__file__).resolve().parent.parent
BEFORE = UPDATE - datetime.timedelta(days=10)
AFTER = UPDATE + datetime.timedelta(days=3)

#: chip -> (ECC count before the update, after it, PLL loss-of-lock count after it)
CHIPS = {
    "chip-a": (900, 10, 0),
    "chip-b": (5, 250, 2),
    "chip-c": (0, 0, 0),
    "chip-d": (700, 101, 1),
    "chip-e": (3, 100, 2),
    "chip-f": (0, 4000, 2),
}
ECC_ABOVE_100_AFTER = ["chip-b", "chip-d", "chip-f"]


@pytest.fixture(scope="module")
def base(_socdbg_session_env: None) -> Dump:
    return base_dump()


@pytest.fixture(scope="module")
def fleet(base: Dump, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two dumps per chip (before and after the update) and a golden dump."""
    folder = tmp_path_factory.mktemp("fleet")
    for name, (ecc_old, ecc_new, lost) in CHIPS.items():
        write_chip(folder, name, chip_dump(base, BEFORE, {"hbm.ecc_err_cnt": ecc_old}))
        values = {"hbm.ecc_err_cnt": ecc_new, "sysctrl.pll_status": pll_status(1, lost)}
        if name == "chip-c":  # differs from the golden dump in one field only
            values["sysctrl.scratch"] = 0x5A
        write_chip(folder, name, chip_dump(base, AFTER, values))
    golden = {"hbm.ecc_err_cnt": 0, "sysctrl.pll_status": pll_status(1, 0)}
    (folder / "golden").mkdir()
    write_chip(folder / "golden", "golden", chip_dump(base, AFTER, golden))
    return folder


@pytest.fixture(scope="module")
def index(fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("index") / "fleet.parquet"
    stats = update_index(fleet, out)
    assert (stats.added, stats.problems) == (2 * len(CHIPS) + 1, [])
    return out


def query(index: Path | None, sql: str, dumps: str | None = None) -> list[tuple[object, ...]]:
    con = connect(str(index) if index else None, dumps)
    try:
        return run_query(con, sql)[1]
    finally:
        con.close()


ECC_SQL = f"""
    SELECT target, value FROM fields
    WHERE register = 'hbm.ecc_err_cnt' AND field = 'count' AND value > 100
      AND capture_time >= TIMESTAMPTZ '{UPDATE.isoformat()}'
    ORDER BY target"""


def test_the_ecc_question(index: Path) -> None:
    rows = query(index, ECC_SQL)
    assert [r[0] for r in rows] == ECC_ABOVE_100_AFTER
    assert [r[1] for r in rows] == [CHIPS[c][1] for c in ECC_ABOVE_100_AFTER]


def test_a_pll_lock_counter_distribution(index: Path) -> None:
    rows = query(index, f"""
        SELECT value AS lost, count(*) AS chips FROM fields
        WHERE register = 'sysctrl.pll_status' AND field = 'lock_lost_cnt'
          AND target LIKE 'chip-%' AND capture_time >= TIMESTAMPTZ '{UPDATE.isoformat()}'
        GROUP BY value ORDER BY value""")
    expected: dict[int, int] = {}
    for _, _, lost in CHIPS.values():
        expected[lost] = expected.get(lost, 0) + 1
    assert rows == sorted(expected.items())


def test_chips_that_differ_from_the_golden_dump(index: Path) -> None:
    rows = query(index, f"""
        SELECT f.target, list(DISTINCT f.register || '.' || f.field ORDER BY 1) AS fields
        FROM fields f JOIN fields g USING (register, field)
        WHERE g.target = 'golden' AND f.target <> 'golden'
          AND f.capture_time >= TIMESTAMPTZ '{UPDATE.isoformat()}'
          AND f.value IS DISTINCT FROM g.value
        GROUP BY f.target ORDER BY f.target""")
    differ = {name: fields for name, fields in rows}
    # chip-c differs only in its scratch register; every other chip in its ECC count
    assert differ["chip-c"] == ["sysctrl.scratch.value"]
    assert set(differ) == set(CHIPS)
    for name in set(CHIPS) - {"chip-c"}:
        assert "hbm.ecc_err_cnt.count" in differ[name]
    assert ("sysctrl.pll_status.lock_lost_cnt" in differ["chip-b"]) and \
        "sysctrl.pll_status.lock_lost_cnt" not in differ["chip-a"]


def test_registers_and_dumps_views(index: Path, fleet: Path) -> None:
    assert query(index, "SELECT count(*) FROM dumps") == [(2 * len(CHIPS) + 1,)]
    rows = query(index, "SELECT DISTINCT value FROM registers WHERE register = "
                        "'sysctrl.chip_id'")
    assert rows == [(0x5D0C0A01,)]
    # enum names come from the map the dump embeds
    rows = query(index, "SELECT DISTINCT enum FROM fields WHERE register = 'dma.ch[0].ctrl' "
                        "AND field = 'mode'")
    assert rows == [("SINGLE",)]


def test_skipped_registers_are_rows_without_a_value(index: Path, fleet: Path,
                                                    base: Dump, tmp_path: Path) -> None:
    skipped = dict(base.registers)
    del skipped["hbm.ecc_err_cnt"]
    dump = chip_dump(base, AFTER, {})
    dump.registers = skipped
    dump.skipped = [("hbm.ecc_err_cnt", "read side effects (unsafe_read)")]
    write_chip(tmp_path, "skipper", dump)
    rows = query(None, "SELECT value, captured, skipped_why FROM registers WHERE register = "
                       "'hbm.ecc_err_cnt'", dumps=str(tmp_path / "*.json.gz"))
    assert rows == [(None, False, "read side effects (unsafe_read)")]


def test_dumps_glob_gives_the_index_answer(fleet: Path, index: Path) -> None:
    pattern = str(fleet / "**" / "*.json.gz")
    assert query(None, ECC_SQL, dumps=pattern) == query(index, ECC_SQL)


def test_indexing_is_incremental(fleet: Path, base: Dump, tmp_path: Path) -> None:
    folder = tmp_path / "dumps"
    folder.mkdir()
    first = [write_chip(folder, f"n{i}", chip_dump(base, AFTER, {})) for i in range(3)]
    out = tmp_path / "i.parquet"
    assert update_index(folder, out).added == 3
    write_chip(folder, "n3", chip_dump(base, AFTER, {"hbm.ecc_err_cnt": 7}))
    stats = update_index(folder, out)
    assert (stats.added, stats.unchanged, stats.dumps) == (1, 3, 4)
    os.utime(first[0], ns=(1, 1))  # touched, same bytes: its rows stay
    stats = update_index(folder, out)
    assert (stats.added, stats.replaced, stats.unchanged) == (0, 0, 4)
    changed = chip_dump(base, AFTER, {"hbm.ecc_err_cnt": 42})
    from socdbg.postmortem import write_dump

    write_dump(changed, first[1])  # new contents under the same name: its rows are replaced
    stats = update_index(folder, out)
    assert (stats.added, stats.replaced, stats.dumps) == (0, 1, 4)
    rows = query(out, "SELECT value FROM fields WHERE register = 'hbm.ecc_err_cnt' "
                      f"AND dump = '{first[1]}'")
    assert rows == [(42,)]


def test_a_corrupt_dump_is_refused_and_the_rest_indexed(base: Dump, tmp_path: Path) -> None:
    write_chip(tmp_path, "good", chip_dump(base, AFTER, {}))
    (tmp_path / "bad-20260101T000000000000Z.json.gz").write_bytes(b"\x1f\x8b garbage")
    (tmp_path / "evil.json").write_text('{"format": "socdbg-dump", "version": 1, "map": 3}')
    stats = update_index(tmp_path, tmp_path / "i.parquet")
    assert (stats.added, stats.rejected) == (1, 2)
    assert all("\n" not in p and ".json" in p for p in stats.problems)


def test_sql_errors_are_one_line(index: Path) -> None:
    with pytest.raises(UsageError, match=r"^query: .*fieldz") as err:
        query(index, "SELECT * FROM fieldz")
    assert "\n" not in err.value.message


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "COPY (SELECT 1) TO 'out.csv'",
    "ATTACH 'other.db'",
    "SET enable_external_access = true",
    "SET allowed_paths = ['/']",
])
def test_the_sql_reads_the_dumps_and_nothing_else(index: Path, sql: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"^query: "):
        query(index, sql)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.db").exists()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120, check=False)


def test_the_commands(fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    proc = cli("fleet", "index", str(fleet), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{2 * len(CHIPS) + 1} dumps added" in proc.stdout
    proc = cli("query", ECC_SQL, "--index", str(out), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r["target"] for r in json.loads(proc.stdout)] == ECC_ABOVE_100_AFTER
    proc = cli("query", "SELECT target FROM dumps ORDER BY 1 LIMIT 2", "--index", str(out),
               "--format", "csv", cwd=tmp_path)
    assert proc.stdout.splitlines() == ["target", "chip-a", "chip-a"]
    proc = cli("query", "SELEC 1", "--index", str(out), cwd=tmp_path)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: query: Parser Error")


@pytest.fixture
def no_extra(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment where duckdb and distributed cannot be imported."""
    block = tmp_path / "block"
    block.mkdir()
    for name in ("duckdb", "distributed"):
        (block / f"{name}.py").write_text("raise ImportError('blocked for the test')\n")
    yield dict(os.environ, PYTHONPATH=f"{block}{os.pathsep}{REPO}")


def test_without_the_extra_one_line_says_how_to_install(no_extra: dict[str, str],
                                                        tmp_path: Path) -> None:
    for args in (["query", "SELECT 1", "--dumps", "*.json"],
                 ["fleet", "index", str(tmp_path), "-o", str(tmp_path / "i.parquet")]):
        proc = subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                              text=True, env=no_extra, cwd=tmp_path, timeout=60, check=False)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [
            "error: duckdb is not installed: fleet commands need the 'fleet' extra "
            "(pip install 'socdbg[fleet]')"]
