"""A system of reference SoCs joined by chip-to-chip links (docs/multichip.md).

``topology``: which port of which chip is wired to which, and the routes. ``links``: the c2c
register block of one chip (training, counters, faults). ``timing``: how long a transfer
takes over a path of servers (closed form and packet level). ``fabric``: the system itself,
moving remote DMA data between the chips.
"""

from socdbg.models.system.topology import GLOBAL_BASE, Hop, Wiring, chip_of, global_address

__all__ = ["GLOBAL_BASE", "Hop", "Wiring", "chip_of", "global_address"]
