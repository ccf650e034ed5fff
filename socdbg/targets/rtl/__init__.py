"""The ``rtl:`` backend: register RTL generated from the map, simulated by Verilator.

Importing this package is cheap; opening a target imports the generator and builds (or finds
in the cache) the Verilator model. See docs/rtl.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from socdbg.targets.base import Backend, MapLoader

if TYPE_CHECKING:
    from socdbg.targets.rtl.target import RtlTarget


def _open(arg: str, load_map: MapLoader) -> RtlTarget:
    from socdbg.targets.rtl.target import open_rtl

    return open_rtl(arg, load_map)


BACKEND = Backend(
    name="rtl",
    open=_open,
    describe="register RTL generated from the map (PeakRDL-regblock), run by Verilator",
    example="rtl, rtl:BLOCK,BLOCK, rtl:PATH.rdl",
    brings_map=bool,  # rtl:PATH.rdl, rtl:mesh=XxY: the map the RTL is built from
    opens_files=lambda arg: any(part.endswith(".rdl") for part in arg.split(",")),
)
