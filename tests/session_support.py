"""Shared helpers for tests that drive a :class:`Session` command by command (no tests here).

Plain functions and constants, imported explicitly (``import session_support as ss``); each
test module builds its own fixtures from them. The scripts put the reference SoC (or one chip
of a system) into a known state through its registers, as a user would.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.registry import Output
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError
from socdbg.server import ServeOptions, make_server

#: 16 bytes (two 64-bit words poked into sram) from sram to dram on DMA channel 0 with its
#: interrupt: the set-up (the block must be out of reset and enabled) ...
DMA_16B_SETUP = """
write intc.enable dma_ch0=1
poke sram+0x0 0xefcdab8967452301 -w 64
poke sram+0x8 0x1032547698badcfe -w 64
write dma.ch[0].src 0x10000000
write dma.ch[0].dst 0x80000000
write dma.ch[0].len 0x10
"""
#: ... and the start, waiting until it is done.
DMA_16B_RUN = """
write dma.ch[0].ctrl en=1 mode=SINGLE irq_en=1 start=1
poll dma.ch[0].status.done == 1 --timeout 0.001
"""
#: Brings up the reference SoC (PLL locked, DMA, NoC and HBM out of reset, HBM trained, NoC
#: and DMA enabled), then runs the 16-byte DMA transfer and leaves a mailbox message. Each
#: ``{after_...}`` is where a module adds lines of its own (:func:`bring_up`).
BRING_UP = """
write sysctrl.pll_ctrl en=0
write sysctrl.pll_ctrl refdiv=1 fbdiv=60 postdiv=4 bypass=0
write sysctrl.pll_ctrl en=1
poll sysctrl.pll_status.lock == 1 --timeout 0.001
write sysctrl.rst_ctrl dma_rst=0 noc_rst=0 hbm_rst=0
{after_reset}
write hbm.train_ctrl start=1
poll hbm.train_status.done == 1 --timeout 0.001
write noc.ctrl en=1 routing=XY
write dma.global_ctrl enable=1
""" + DMA_16B_SETUP + DMA_16B_RUN + """
{after_dma}
write mailbox.msg64 0x1122334455667788
{at_end}
"""


def bring_up(after_reset: str = "", after_dma: str = "", at_end: str = "") -> str:
    """:data:`BRING_UP` with a module's own lines (each a script, possibly empty) placed
    after the resets are released, after the DMA transfer, and at the end."""
    text = BRING_UP.format(after_reset=after_reset.strip(), after_dma=after_dma.strip(),
                           at_end=at_end.strip())
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


#: 4 KiB from sram (node 0) to dram (node 15 of the 4x4 mesh) on DMA channel 0, then 50
#: cycles for the NoC to drain. ``{chip}`` prefixes every register path (``chip[1].``).
DMA_4K = """
write {chip}sysctrl.rst_ctrl dma_rst=0 noc_rst=0
write {chip}dma.global_ctrl enable=1
write {chip}dma.ch[0].src 0x10000000
write {chip}dma.ch[0].dst 0x80000000
write {chip}dma.ch[0].len 0x1000
write {chip}dma.ch[0].ctrl en=1 mode=SINGLE start=1
step --until {chip}dma.ch[0].status.done == 1
step 50
"""
#: The flits :data:`DMA_4K` moves (32-byte flits).
DMA_4K_FLITS = 0x1000 // 32
#: The XY route of :data:`DMA_4K` from node 0 to node 15: east along row 0, then south down
#: column 3, as (router, direction) links.
DMA_4K_ROUTE = frozenset({(0, "E"), (1, "E"), (2, "E"), (3, "S"), (7, "S"), (11, "S")})


def dma_4k(chip: int | None = None) -> str:
    """:data:`DMA_4K` on the reference SoC, or on chip ``chip`` of a system."""
    return DMA_4K.format(chip="" if chip is None else f"chip[{chip}].")


def run(session: Session, line: str) -> Output:
    """One command line; it must give an output (a failing command raises)."""
    output = execute(session, line)
    assert output is not None
    return output


def script(session: Session, text: str) -> None:
    """Every line of ``text``, in order."""
    for line in text.strip().splitlines():
        execute(session, line)


def shown(session: Session, line: str) -> str:
    """What the shell prints for ``line`` (the session's presenter, into its StringIO)."""
    out = session.presenter.out
    assert isinstance(out, io.StringIO)
    out.seek(0)
    out.truncate()
    session.presenter.emit(run(session, line))
    return out.getvalue()


def error(session: Session, line: str) -> SocdbgError:
    """The error ``line`` fails with: a SocdbgError whose message is one line."""
    with pytest.raises(SocdbgError) as info:
        execute(session, line)
    exc = info.value
    assert "\n" not in str(exc), str(exc)
    return exc


@contextmanager
def serving(session: Session, options: ServeOptions | None = None, bind: str = "127.0.0.1"
            ) -> Iterator[int]:
    """``session``'s target behind ``socdbg serve``'s server, in this process, on a free port
    of ``bind`` until the block ends; yields the port. The session stays open."""
    srv, _ = make_server(session, bind, 0, options=options or ServeOptions())
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(srv.server_address[1])
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
