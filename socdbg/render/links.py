"""Text views of a multi-chip system: nccl-tests' result table, the chip-to-chip links with
their utilisation and errors, and what a stalled collective waits on. Plain text (fixed
columns, as nccl-tests prints), so a terminal, a script log and docs show the same lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socdbg.collectives.report import Row
    from socdbg.collectives.status import Link, SystemView, Wait

#: nccl-tests' names for the element types and the reduction.
NCCL_TYPE = {"fp32": "float", "bf16": "bfloat16"}


def nccl_table(collective: str, algorithm: str, chips: Sequence[int], rows: Sequence[Row],
               redop: bool) -> str:
    """The out-of-place half of nccl-tests' table, one line per size."""
    head = (f"# {collective} ({algorithm}) on {len(chips)} chips: {_chips(chips)}\n"
            f"#{'size':>11} {'count':>12} {'type':>9} {'redop':>6} {'time':>10} "
            f"{'algbw':>8} {'busbw':>8} {'#wrong':>7}\n"
            f"#{'(B)':>11} {'(elements)':>12} {'':>9} {'':>6} {'(us)':>10} "
            f"{'(GB/s)':>8} {'(GB/s)':>8} {'':>7}")
    lines = [head]
    for r in rows:
        wrong = "N/A" if r.wrong is None else str(r.wrong)
        lines.append(f" {r.size:>11} {r.count:>12} {NCCL_TYPE.get(r.dtype, r.dtype):>9} "
                     f"{'sum' if redop else 'none':>6} {r.time_us:>10.1f} {r.algbw:>8.2f} "
                     f"{r.busbw:>8.2f} {wrong:>7}")
    return "\n".join(lines)


def _chips(chips: Sequence[int]) -> str:
    if list(chips) == list(range(chips[0], chips[0] + len(chips))):
        return f"chip {chips[0]}..{chips[-1]}"
    return "chips " + ",".join(str(c) for c in chips)


def link_table(view: SystemView, util: dict[tuple[int, int], float] | None,
               window: str) -> str:
    """One line per connected port: where it goes, its state, bandwidth and latency, the
    bytes it sent, its utilisation over ``window`` (None: no simulated time), its errors and
    the faults injected on it."""
    lines = [f"{view.chips} chips, {view.topology}"
             + (f" {view.dims[0]}x{view.dims[1]}" if view.topology in ("torus", "mesh") else "")
             + f"; utilisation {window}",
             f"{'link':<22} {'to':>8} {'state':<8} {'B/cyc':>5} {'lat':>5} {'tx bytes':>14} "
             f"{'util':>6} {'crc':>5} {'replay':>6}  faults"]
    for link in view.links:
        if not link.connected:
            continue
        u = "-" if util is None else f"{100 * util.get((link.chip, link.port), 0.0):.0f}%"
        lines.append(f"{link.name:<22} {f'{link.peer_chip}.{link.peer_port}':>8} "
                     f"{link.state:<8} {link.bw:>5} {link.latency:>5} {link.tx_bytes:>14,} "
                     f"{u:>6} {link.crc_err:>5} {link.replay:>6}  "
                     f"{', '.join(link.faults) or '-'}")
    return "\n".join(lines)


def status_text(view: SystemView, waits: Sequence[Wait]) -> str:
    """What the system's DMA channels wait on, the cause first, then the links that are not
    healthy."""
    busy = len(waits)
    errs = [ch for ch in view.channels if ch.err]
    lines = [f"{view.chips} chips, {view.topology}: {busy} DMA channel"
             f"{'' if busy == 1 else 's'} busy, {len(errs)} in error"]
    order = {"stalled": 0, "link-down": 1, "slow": 2, "moving": 3}
    if not waits and not errs:
        lines.append("nothing waits: no DMA transfer is in flight")
    stuck = [w for w in waits if w.cause in ("stalled", "link-down")]
    if stuck:
        first = min(stuck, key=lambda w: order[w.cause])
        lines.append(f"STALLED: {first.reason}")
    for w in sorted(waits, key=lambda w: (order[w.cause], w.channel.chip, w.channel.channel)):
        route = " > ".join(f"{link.chip}.{link.port}" for link in w.route) or "local"
        lines.append(f"  {w.cause:<9} {w.channel.name:<18} -> chip {w.channel.dst_chip:<3} "
                     f"route {route:<12} {w.channel.bytes_done:>12,}/{w.channel.length:,} B")
    for ch in errs:
        lines.append(f"  err       {ch.name:<18} err_code {ch.err_code}")
    bad = [link for link in view.links if link.connected and _unhealthy(link)]
    if bad:
        lines.append("links not healthy:")
        for link in bad:
            lines.append(f"  {link.name} -> chip {link.peer_chip}: {link.state}"
                         + (f", {', '.join(link.faults)}" if link.faults else "")
                         + (f", {link.crc_err} CRC errors, {link.replay} replays"
                            if link.crc_err or link.replay else ""))
    return "\n".join(lines)


def _unhealthy(link: Link) -> bool:
    return link.state != "UP" or bool(link.faults) or link.crc_err > 0
