"""Fleet benchmarks: indexing dumps, querying 10,000 dumps, a fleet run against one run.

    python scripts/bench_fleet.py            # full (~2 min)
    python scripts/bench_fleet.py --quick    # fewer dumps and repetitions (~1 min)
    python scripts/bench_fleet.py --json figures.json

scripts/bench.py registers the ``bench_*`` functions here as ``fleet.index``,
``fleet.query`` and ``fleet.run`` (rows: dicts with bench.py's Row fields).

* ``fleet.index``: a generated fleet of dumps of the reference SoC (tests/fleet_gen.py: one
  capture of the simulator, copied per chip with other ECC and PLL counter values, written as
  ``fleet dump`` names them) is indexed into a new Parquet file with ``update_index`` (every
  dump read with the postmortem reader and checked); dumps per second, target >= 200. Beside
  it, a second run over the same folder (nothing new: the incremental check only).
* ``fleet.query``: an index of 10,000 dumps (the generated dumps' rows, repeated under other
  dump and target names by DuckDB: the same table an index of 10,000 real dumps is) and three
  queries from docs/fleet.md (the ECC question, a PLL counter distribution, the chips that
  differ from a golden dump), each timed as ``socdbg query`` does it in-process (open the
  views, run, fetch), target < 1 s; beside them, ``socdbg query`` as a command (a fresh
  process, start-up included).
* ``fleet.run``: N ``sim`` targets, a script of 600 checks; the fleet run on a Dask
  LocalCluster of W workers (started beforehand, used through ``--scheduler``: start-up is
  not the run) against (N / W) x the median single run (each task's own duration), as the
  ratio wall / ((N / W) x single); target <= 1.5.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(HERE)]

from benchrows import Rows, row, standalone  # noqa: E402

QUERY_DUMPS = 10_000


def _fleet(folder: Path, chips: int) -> Path:
    from fleet_gen import base_dump, write_fleet

    return write_fleet(folder, base_dump(), chips)


def bench_fleet_index(quick: bool) -> Rows:
    """fleet index: dumps of the reference SoC indexed per second (>= 200)."""
    from socdbg.fleet.index import update_index

    chips = 400 if quick else 1500
    runs = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-fleet-") as tmp:
        folder = _fleet(Path(tmp) / "dumps", chips)
        rates, again = [], []
        for i in range(runs):
            out = Path(tmp) / f"index-{i}.parquet"
            t0 = time.perf_counter()
            stats = update_index(folder, out)
            took = time.perf_counter() - t0
            assert stats.added == chips and not stats.problems, stats
            rates.append(chips / took)
            t0 = time.perf_counter()
            assert update_index(folder, out).unchanged == chips
            again.append(time.perf_counter() - t0)
    cpus = os.cpu_count() or 1
    return [row("fleet.index.rate", rates, "dumps/s", 200.0,
                f"{chips} generated dumps of the reference SoC into a new index; "
                f"{cpus} CPUs", higher_is_better=True),
            row("fleet.index.unchanged", again, "s", None,
                f"the same folder again: {chips} dumps found already indexed")]


def _index_10k(tmp: Path) -> Path:
    """An index of QUERY_DUMPS dumps: the rows of a generated fleet repeated under new dump
    and target names."""
    import duckdb

    from socdbg.fleet.index import update_index

    chips = 500
    folder = _fleet(tmp / "dumps", chips)
    golden = tmp / "golden"
    golden.mkdir()
    from fleet_gen import UPDATE, base_dump, chip_dump, write_chip

    small = tmp / "small.parquet"
    update_index(folder, small)
    copies = QUERY_DUMPS // chips
    big = tmp / "big.parquet"
    write_chip(golden, "golden", chip_dump(base_dump(), UPDATE, {}))
    update_index(golden, tmp / "golden.parquet")
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * EXCLUDE (c) REPLACE (dump || '#' || c AS dump, "
        "target || '-' || c AS target) "
        f"FROM read_parquet('{small}'), range({copies}) t(c) UNION ALL "
        f"SELECT * FROM read_parquet('{tmp / 'golden.parquet'}') ORDER BY map_identity, dump) "
        f"TO '{big}' (FORMAT parquet, COMPRESSION zstd)")
    n = con.execute(f"SELECT count(DISTINCT dump) FROM read_parquet('{big}')").fetchone()
    con.close()
    assert n is not None and n[0] == chips * copies + 1, n
    return big


QUERIES = {
    "ecc": "SELECT target, value FROM fields WHERE register = 'hbm.ecc_err_cnt' AND "
           "field = 'count' AND value > 900 AND capture_time >= TIMESTAMPTZ '2026-06-01' "
           "ORDER BY value DESC",
    "pll": "SELECT value AS lost, count(*) AS chips FROM fields WHERE register = "
           "'sysctrl.pll_status' AND field = 'lock_lost_cnt' GROUP BY value ORDER BY value",
    "golden": "SELECT f.target, count(*) AS fields FROM fields f JOIN fields g "
              "USING (register, field) WHERE g.target = 'golden' AND f.target <> 'golden' "
              "AND f.value IS DISTINCT FROM g.value GROUP BY f.target",
}


def bench_fleet_query(quick: bool) -> Rows:
    """query: the docs' three questions over an index of 10,000 dumps (< 1 s each)."""
    from socdbg.fleet.query import connect, run_query

    runs = 3 if quick else 7
    rows: Rows = []
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-query-") as tmp:
        index = _index_10k(Path(tmp))
        for name, sql in QUERIES.items():
            samples = []
            for _ in range(runs):
                t0 = time.perf_counter()
                con = connect(str(index), None)
                try:
                    _, result = run_query(con, sql)
                finally:
                    con.close()
                samples.append(time.perf_counter() - t0)
            rows.append(row(f"fleet.query.{name}", samples, "s", 1.0,
                            f"{QUERY_DUMPS:,} dumps; {len(result)} rows answered"))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        samples = []
        for _ in range(max(1, runs // 2)):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "socdbg", "query", QUERIES["ecc"],
                            "--index", str(index), "--format", "csv"], env=env, check=True,
                           capture_output=True)
            samples.append(time.perf_counter() - t0)
        rows.append(row("fleet.query.command", samples, "s", None,
                        "socdbg query (the ECC question) as a command: a fresh process"))
    return rows


def bench_fleet_run(quick: bool) -> Rows:
    """fleet run: wall time against (targets / workers) x one run (ratio <= 1.5)."""
    import distributed

    from socdbg.commands.fleet_tasks import run_script
    from socdbg.fleet.engine import ClusterOptions, run_fleet
    from socdbg.fleet.targets import FleetTarget

    workers = 2
    n = 8 if quick else 16
    runs = 1 if quick else 3
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-run-") as tmp:
        script = Path(tmp) / "checks.sdbg"
        script.write_text("expect sysctrl.chip_id == 0x5d0c0a01\n" * 600)
        targets = [FleetTarget("sim", f"sim-{i}") for i in range(n)]
        ratios, walls, singles = [], [], []
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                      processes=True, dashboard_address=None,
                                      host="127.0.0.1",
                                      silence_logs=logging.CRITICAL) as cluster:
            options = ClusterOptions(cluster.scheduler_address, workers, n)
            args = (str(script), False, None, {})
            run_fleet(targets[:workers], run_script, args, options)  # warm the workers
            for _ in range(runs):
                t0 = time.perf_counter()
                results = run_fleet(targets, run_script, args, options)
                wall = time.perf_counter() - t0
                assert all(r.ok for r in results), [r.to_json() for r in results]
                single = statistics.median(r.seconds for r in results)
                walls.append(wall)
                singles.append(single)
                ratios.append(wall / (n / workers * single))
    note = f"{n} sim targets, {workers} workers, 600 checks each"
    return [row("fleet.run.wall", walls, "s", None, note),
            row("fleet.run.single", singles, "s", None, "one target's run (median task)"),
            row("fleet.run.ratio", ratios, "x", 1.5,
                "wall / ((targets / workers) x single run)")]


def run_all(quick: bool) -> Rows:
    out: Rows = []
    for fn in (bench_fleet_index, bench_fleet_query, bench_fleet_run):
        out += fn(quick)
    return out


if __name__ == "__main__":
    own_cache = "SOCDBG_CACHE_DIR" not in os.environ
    if own_cache:
        os.environ["SOCDBG_CACHE_DIR"] = tempfile.mkdtemp(prefix="socdbg-bench-cache-")
    try:
        raise SystemExit(standalone(__doc__ or "", run_all))
    finally:
        if own_cache:
            shutil.rmtree(os.environ["SOCDBG_CACHE_DIR"], ignore_errors=True)
