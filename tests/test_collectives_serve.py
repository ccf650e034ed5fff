"""``collective status`` through ``socdbg serve``: a hung 2-chip all-reduce is dumped, the
dump is served (read-only) on a free loopback port, and a client that knows only the system
map (registers/system.rdl, 2 chips by default) finds the stalled channel over the GDB remote
protocol, reading registers only."""

from __future__ import annotations

import io
from pathlib import Path

import gdb_support as gs

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session

REPO = Path(__file__).resolve().parents[1]


def test_status_of_a_served_dump(tmp_path: Path) -> None:
    dump = tmp_path / "hung.json"
    s = Session(out=io.StringIO(), target="sim:chips=2,topology=ring")
    try:
        assert execute(s, "collective allreduce --init --sizes 64K") is not None
        execute(s, "fault dma 1:0 stall")
        out = execute(s, "collective allreduce --sizes 64K --timeout 10000")
        assert out is not None and not out.ok
        execute(s, f"dump -o {dump}")
    finally:
        s.close()
    with gs.serve(global_args=["-t", f"dump:{dump}"]) as served:
        client = Session(out=io.StringIO(), target=served.url,
                         map_files=[str(REPO / "registers" / "system.rdl")])
        try:
            why = execute(client, "collective why --json")
            assert why is not None
            assert [(w["channel"], w["cause"], w["dst_chip"]) for w in why.data["waiting"]] == [
                ("chip[1].dma.ch[0]", "stalled", 0)]
            links = execute(client, "links --json")
            assert links is not None
            assert {x["state"] for x in links.data["links"]} == {"UP"}
        finally:
            client.close()
