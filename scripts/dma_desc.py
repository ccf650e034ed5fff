#!/usr/bin/env python3
"""Print the socdbg `poke` lines that write one DMA descriptor (see docs/dma.md).

    python3 scripts/dma_desc.py ADDR SRC DST LEN [--irq] [--last] [--next ADDR]

The descriptor's magic and check words are computed for you; paste the output into a script.
"""

from __future__ import annotations

import argparse

from socdbg.models.dma import encode_descriptor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    num = lambda s: int(s, 0)  # noqa: E731
    ap.add_argument("addr", type=num, help="where the descriptor goes (64-byte aligned)")
    ap.add_argument("src", type=num)
    ap.add_argument("dst", type=num)
    ap.add_argument("len", type=num)
    ap.add_argument("--irq", action="store_true", help="interrupt when it completes")
    ap.add_argument("--last", action="store_true", help="end of a chain")
    ap.add_argument("--next", type=num, default=0, help="next descriptor (chain mode)")
    a = ap.parse_args()
    raw = encode_descriptor(a.src, a.dst, a.len, irq=a.irq, last=a.last, next=a.next)
    for off in range(0, len(raw), 8):
        word = int.from_bytes(raw[off : off + 8], "little")
        print(f"poke {a.addr + off:#x} {word:#018x} -w 64")


if __name__ == "__main__":
    main()
