"""Multi-chip systems: start-up of a 64-chip simulator, remote DMA throughput (real bytes
moved per wall second) and per-transfer overhead.

    python scripts/bench_multichip.py [--quick] [--json FILE]

Everything runs in this process with a warm map cache (the first open compiles the system
map; it is not timed). Remote DMA programs chip 0's channel 0 through the target's register
writes, as a script or a collective library would, and runs the kernel until done.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchrows import Rows, row, standalone, timed

SRAM = 0x1000_0000
DRAM = 0x8000_0000


def _open(spec: str) -> Any:
    from socdbg.commands.session import Session

    return Session(spec).target


def _ready(tgt: Any) -> None:
    rm = tgt.regmap
    for c in range(len(tgt.chips)):
        for p in range(tgt.wiring.ports):
            _write(tgt, rm.get(f"chip[{c}].c2c.port[{p}].ctrl"), 1)
        _write(tgt, rm.get(f"chip[{c}].sysctrl.rst_ctrl"), 0)
        _write(tgt, rm.get(f"chip[{c}].dma.global_ctrl"), 1)
    tgt.step(2001)


def _write(tgt: Any, reg: Any, value: int) -> None:
    tgt.write(reg.address, value.to_bytes(reg.size, "little"))


def _transfer(tgt: Any, src: int, dst: int, length: int) -> None:
    rm = tgt.regmap
    p = "chip[0].dma.ch[0]"
    _write(tgt, rm.get(f"{p}.status"), 2)  # clear done
    _write(tgt, rm.get(f"{p}.src"), src)
    _write(tgt, rm.get(f"{p}.dst"), dst)
    _write(tgt, rm.get(f"{p}.len"), length)
    _write(tgt, rm.get(f"{p}.ctrl"), 3)
    regs = tgt.chips[0].regs
    tgt.kernel.run_until(lambda: regs.field("dma.ch[0].status", "done") == 1, 1 << 40,
                         lambda a, b: None)


def bench_multichip_startup(quick: bool) -> Rows:
    """Open sim:chips=64,topology=torus=8x8 (warm map cache)."""
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-mc-") as cache:
        os.environ["SOCDBG_CACHE_DIR"] = cache
        _open("sim:chips=64,topology=torus=8x8")  # compiles the maps once
        samples = [timed(lambda: _open("sim:chips=64,topology=torus=8x8"))
                   for _ in range(3 if quick else 7)]
    return [row("multichip.startup_64", samples, "s", 3.0,
                "64 reference SoCs on one kernel, 64 x 4 link ports, warm cache")]


def bench_multichip_remote_dma(quick: bool) -> Rows:
    """Real bytes across a 2-hop route, and small-transfer overhead."""
    from socdbg.models.system.topology import global_address

    tgt = _open("sim:chips=4,topology=ring")
    _ready(tgt)
    size = (16 if quick else 64) << 20
    tgt.write_block(global_address(0, DRAM), os.urandom(size))
    big = [timed(lambda: _transfer(tgt, DRAM, global_address(2, DRAM), size))
           for _ in range(3)]
    count = 200 if quick else 1000
    small = timed(lambda: [_transfer(tgt, SRAM, global_address(2, SRAM), 4096)
                           for _ in range(count)])
    return [
        row("multichip.remote_dma_bytes", [size / t / 1e9 for t in big], "GB/s", 1.0,
            f"{size >> 20} MiB of random data chip 0 -> chip 2 (2 hops), bytes moved per "
            "wall second", higher_is_better=True),
        row("multichip.remote_dma_small", [small / count * 1e6], "us", 1000.0,
            f"one 4 KiB remote transfer: 5 register writes, the run, the copy ({count} runs)"),
    ]


if __name__ == "__main__":
    sys.exit(standalone(__doc__ or "", lambda quick: [*bench_multichip_startup(quick),
                                                      *bench_multichip_remote_dma(quick)]))
