"""Generated fleets of dumps with known contents, for the query tests and
scripts/bench_fleet.py: one real capture of the reference SoC simulator (read-to-clear
registers included), copied per chip with chosen register values and capture times."""

from __future__ import annotations

import dataclasses
import datetime
import io
from collections.abc import Mapping
from pathlib import Path

from socdbg.commands.postmortem import select_registers
from socdbg.commands.session import Session
from socdbg.fleet.report import dump_path
from socdbg.postmortem import Dump, capture, write_dump

#: When the fleet's firmware was updated in the generated fleets: dumps before it are "old".
UPDATE = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


def base_dump() -> Dump:
    """One capture of ``sim`` with every register, read side effects included."""
    session = Session(target="sim", out=io.StringIO())
    try:
        rmap = session.map
        return capture(session.target, rmap, select_registers(rmap, (), ()), [], True)
    finally:
        session.close()


def chip_dump(base: Dump, when: datetime.datetime, values: Mapping[str, int]) -> Dump:
    """``base`` captured at ``when`` with these register values (path -> value)."""
    regs = dict(base.registers)
    for path, value in values.items():
        addr, size, _ = regs[path]
        regs[path] = (addr, size, value)
    return dataclasses.replace(base, registers=regs, wall_time=when.isoformat(timespec="seconds"))


def write_chip(folder: Path, name: str, dump: Dump) -> Path:
    """Write ``dump`` as ``fleet dump`` names it: FOLDER/NAME-TIME.json.gz."""
    when = datetime.datetime.fromisoformat(dump.wall_time)
    path = dump_path(folder, name, when)
    write_dump(dump, path)
    return path


def pll_status(lock: int, lost: int) -> int:
    return (lost << 8) | lock


def write_fleet(folder: Path, base: Dump, chips: int, seed: int = 1) -> Path:
    """``chips`` dumps named chip0000... with pseudo-random ECC counts and PLL loss-of-lock
    counts (a linear congruential sequence: the same every time); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    x = seed
    for i in range(chips):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        when = UPDATE + datetime.timedelta(days=1 + i % 30, seconds=i)
        dump = chip_dump(base, when, {"hbm.ecc_err_cnt": x % 1000,
                                      "sysctrl.pll_status": pll_status(1, (x >> 10) % 4)})
        write_chip(folder, f"chip{i:04d}", dump)
    return folder


def write_lab(folder: Path, chips: int) -> None:
    """A fleet for trying docs/fleet.md: per chip a dump from before the firmware update and
    one after it, and ``golden/golden-...json.gz`` (no ECC errors, PLL never lost lock)."""
    base = base_dump()
    folder.mkdir(parents=True, exist_ok=True)
    x = 7
    for i in range(chips):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        name = f"chip{i:03d}"
        before = chip_dump(base, UPDATE - datetime.timedelta(days=10, seconds=-i),
                           {"hbm.ecc_err_cnt": (x >> 4) % 400,
                            "sysctrl.pll_status": pll_status(1, 0)})
        write_chip(folder, name, before)
        after = chip_dump(base, UPDATE + datetime.timedelta(days=2, seconds=i),
                          {"hbm.ecc_err_cnt": (x >> 8) % 200 if i % 7 else 1000 + i,
                           "sysctrl.pll_status": pll_status(1, (x >> 12) % 4 if i % 3 else 0)})
        write_chip(folder, name, after)
    (folder / "golden").mkdir(exist_ok=True)
    golden = chip_dump(base, UPDATE, {"hbm.ecc_err_cnt": 0,
                                      "sysctrl.pll_status": pll_status(1, 0)})
    write_chip(folder / "golden", "golden", golden)


if __name__ == "__main__":  # python3 tests/fleet_gen.py FOLDER CHIPS
    import sys

    write_lab(Path(sys.argv[1]), int(sys.argv[2]))
    print(f"wrote {2 * int(sys.argv[2]) + 1} dumps in {sys.argv[1]}")
