"""CMSIS-SVD benchmarks: load the largest vendor SVD that pyOCD ships (svd_data.zip in the
pyocd package), cold and warm through the map cache, beside the cmsis-svd package's parser on
the same file.

    python scripts/bench_svd.py            # full repetitions (~2 min: cmsis-svd takes ~1)
    python scripts/bench_svd.py --quick    # fewer repetitions
    python scripts/bench_svd.py --json figures.json

``bench_svd(quick)`` is what scripts/bench.py calls. It returns a list of rows, dicts with the
fields of bench.py's ``Row`` (``name``, ``value`` (the median), ``unit``, ``target``, ``runs``,
``note``, ``samples``), plus ``higher_is_better: True`` on the speed-up row, whose ``target`` is
a lower bound; on every other row ``target`` is an upper bound, or None when the figure is
reported without one.

* ``svd.file``: the file's size in MB (10^6 bytes), its registers and layouts.
* ``svd.cold``: ``load_map()`` in a fresh process with an empty cache: lxml import, parse,
  walk, cache write (target 1 s). ``svd.cold.process`` is the whole process.
  ``svd.cold.inproc`` is ``load_svd()`` alone in this process (lxml already imported), and
  ``svd.cold.parse`` lxml's parse of the file alone, for scale.
* ``svd.warm``: ``load_map()`` in a fresh process from the warm cache: re-hash the file,
  unpickle (target 100 ms). ``svd.warm.lookups`` is the first ``get()`` of 1,000 random
  registers after a warm load (each builds its layout on first use).
* ``svd.cmsis_svd``: ``SVDParser.for_xml_file(path).get_device()`` of cmsis-svd on the same
  file, in this process; ``svd.speedup`` is that over ``svd.cold.inproc`` (target >= 20).
* ``svd.cmsis_svd.fresh``: cmsis-svd's import and parse in a fresh process, each paired with
  a cold socdbg load in a fresh process; ``svd.speedup.fresh`` is the median of the per-pair
  ratios (target >= 25, issue 21), ``svd.speedup.fresh.process`` the same for whole processes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/: the shared benchrows
from benchrows import row as _row
from benchrows import run_python, standalone
from benchrows import timed as _timed

COLD_TARGET_MS = 1000.0
WARM_TARGET_MS = 100.0
FRESH_SPEEDUP_TARGET = 25.0  # issue 21: cmsis-svd / socdbg, both in a fresh process
SPEEDUP_TARGET = 20.0  # a lower bound

#: Child: load the map in argv[1] through the cache in $SOCDBG_CACHE_DIR; one JSON line.
_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import socdbg.regmap
t1 = time.perf_counter()
m = socdbg.regmap.load_map([sys.argv[1]])
t2 = time.perf_counter()
loaders = sorted({n.split(".")[0] for n in sys.modules} & {"lxml", "systemrdl",
                                                           "peakrdl_ipxact"})
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "n": len(m), "loaders": loaders}))
"""




def svd_zip() -> Path:
    spec = importlib.util.find_spec("pyocd")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyocd is not installed (pip install -e '.[dev]')")
    return Path(next(iter(spec.submodule_search_locations))) / "debug" / "svd" / "svd_data.zip"


def largest_svd(dest: Path) -> Path:
    """Extract the largest file of pyOCD's SVD collection into ``dest``."""
    with zipfile.ZipFile(svd_zip()) as zf:
        info = max((i for i in zf.infolist() if i.filename.endswith((".svd", ".xml"))),
                   key=lambda i: i.file_size)
        return Path(zf.extract(info, dest))


#: Child: cmsis-svd's import and parse of argv[1] in a fresh process (seconds, one JSON line).
_CMSIS_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from cmsis_svd.parser import SVDParser
device = SVDParser.for_xml_file(sys.argv[1]).get_device()
t1 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "peripherals": len(device.peripherals)}))
"""


def _cmsis_child(path: Path, cache: Path) -> tuple[float, float]:
    """(whole process, import + parse) seconds of cmsis-svd on ``path`` in a fresh process
    (``cache``: a folder of this run's, so no socdbg cache is ever touched)."""
    wall, out = run_python("-c", _CMSIS_CHILD, str(path), cache=cache, timeout=3600)
    return wall, float(json.loads(out.strip().splitlines()[-1])["load"])


def _child(path: Path, cache: Path) -> tuple[float, dict[str, Any]]:
    wall, out = run_python("-c", _CHILD, str(path), cache=cache, timeout=600)
    return wall, json.loads(out.strip().splitlines()[-1])


def bench_svd(quick: bool) -> list[dict[str, Any]]:
    """Cold and warm loads of the largest SVD in pyOCD's zip, beside cmsis-svd."""
    from lxml import etree

    from socdbg.regmap.svd import load_svd

    cold_runs, warm_runs, inproc_runs, naive_runs = (2, 3, 2, 1) if quick else (5, 11, 5, 1)
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-svd-") as tmp:
        root = Path(tmp)
        path = largest_svd(root)
        size_mb = path.stat().st_size / 1e6
        rmap = load_svd(path)  # warm: imports, page cache
        n, layouts = len(rmap), len(rmap.layouts)

        cold, cold_walls = [], []
        for i in range(cold_runs):
            wall, res = _child(path, root / f"cold-{i}")
            if res["n"] != n:
                raise RuntimeError(f"the child loaded {res['n']} registers, not {n}")
            cold.append(res["load"] * 1e3)
            cold_walls.append(wall * 1e3)
        warm_cache = root / "warm"
        _child(path, warm_cache)
        warm, warm_walls = [], []
        for _ in range(warm_runs):
            wall, res = _child(path, warm_cache)
            if res["loaders"]:
                raise RuntimeError(f"a warm load imported {res['loaders']}")
            warm.append(res["load"] * 1e3)
            warm_walls.append(wall * 1e3)

        inproc = [_timed(lambda: load_svd(path)) for _ in range(inproc_runs)]
        parser = etree.XMLParser(remove_comments=True, remove_blank_text=True, huge_tree=True)
        parse = [_timed(lambda: etree.parse(str(path), parser)) for _ in range(inproc_runs)]

        os.environ["SOCDBG_CACHE_DIR"] = str(warm_cache)
        from socdbg.regmap import load_map

        paths = list(load_map([path]).paths)
        probes = random.Random(7).sample(paths, min(1000, len(paths)))
        lookups = []
        for _ in range(inproc_runs):
            fresh = load_map([path])
            t0 = time.perf_counter()
            for p in probes:
                fresh.get(p).fields  # noqa: B018 - builds the layout
            lookups.append((time.perf_counter() - t0) * 1e3)

        from cmsis_svd.parser import SVDParser

        naive = [_timed(lambda: SVDParser.for_xml_file(path).get_device())
                 for _ in range(naive_runs)]
        # fresh processes, paired with a cold socdbg load each: no warm-up on either side
        fresh_ratio, fresh_process_ratio, cmsis_fresh = [], [], []
        for i in range(naive_runs):
            c_wall, c_load = _cmsis_child(path, root / "cmsis")
            wall, res = _child(path, root / f"fresh-{i}")
            cmsis_fresh.append(c_load * 1e3)
            fresh_ratio.append(c_load / res["load"])
            fresh_process_ratio.append(c_wall / wall)

    name = path.name
    rows = [
        {"name": "svd.file", "value": size_mb, "unit": "MB", "target": None, "runs": None,
         "note": f"{name}, the largest of pyOCD's svd_data.zip: {n:,} registers, "
                 f"{layouts:,} distinct layouts", "samples": []},
        _row("svd.cold", cold, "ms", COLD_TARGET_MS,
             "load_map() in a fresh process, empty cache: lxml import, parse, walk, cache "
             "write"),
        _row("svd.cold.process", cold_walls, "ms", None,
             "the whole cold process: python start, imports, load, exit"),
        _row("svd.cold.inproc", [t * 1e3 for t in inproc], "ms", None,
             "load_svd() in this process (lxml imported): parse + walk"),
        _row("svd.cold.parse", [t * 1e3 for t in parse], "ms", None,
             "lxml's etree.parse() of the file alone"),
        _row("svd.warm", warm, "ms", WARM_TARGET_MS,
             "load_map() in a fresh process from the warm cache (re-hash + unpickle); no "
             "loader imported"),
        _row("svd.warm.process", warm_walls, "ms", None,
             "the whole warm process: python start, imports, load, exit"),
        _row("svd.warm.lookups", lookups, "ms", None,
             f"first get() of {len(probes):,} random registers after a warm load (layouts "
             "built on first use)"),
        _row("svd.cmsis_svd", [t * 1e3 for t in naive], "ms", None,
             "cmsis-svd: SVDParser.for_xml_file(path).get_device(), same file"),
    ]
    ratio = statistics.median(naive) / statistics.median(inproc)
    rows.append({"name": "svd.speedup", "value": ratio, "unit": "x", "target": SPEEDUP_TARGET,
                 "runs": None, "note": "svd.cmsis_svd / svd.cold.inproc (higher: socdbg is "
                 "faster)", "samples": [], "higher_is_better": True})
    rows.append(_row("svd.cmsis_svd.fresh", cmsis_fresh, "ms", None,
                     "cmsis-svd in a fresh process: import + parse + get_device()"))
    rows.append(dict(_row("svd.speedup.fresh", fresh_ratio, "x", FRESH_SPEEDUP_TARGET,
                          "svd.cmsis_svd.fresh / a cold socdbg load_map() in a fresh process "
                          "(lxml import, parse, walk, cache write), per pair; no warm-up "
                          "(higher: socdbg is faster)"), higher_is_better=True))
    rows.append(dict(_row("svd.speedup.fresh.process", fresh_process_ratio, "x", None,
                          "the same, whole process against whole process"),
                     higher_is_better=True))
    return rows




def main(argv: list[str] | None = None) -> int:
    return standalone(__doc__ or "", lambda quick: bench_svd(quick), argv)


if __name__ == "__main__":
    sys.exit(main())
