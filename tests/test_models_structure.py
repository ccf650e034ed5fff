"""The models layer's shape: no import of a target, typed options parsed once, one observer
mechanism, and the mesh's work on the kernel's heap."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from socdbg.errors import TargetError
from socdbg.models.kernel import Kernel
from socdbg.models.noc import Mesh
from socdbg.models.options import SimOptions
from socdbg.targets.sim import SimTarget

MODELS = Path(__file__).resolve().parent.parent / "socdbg" / "models"


def _imports(path: Path) -> list[str]:
    """Every module a file imports, TYPE_CHECKING blocks and function bodies included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
    return out


def test_models_never_import_targets_or_anything_above() -> None:
    files = sorted(MODELS.rglob("*.py"))
    assert len(files) > 8
    above = ("socdbg.targets", "socdbg.access", "socdbg.commands", "socdbg.render",
             "socdbg.shell", "socdbg.cli", "socdbg.trace")
    bad = [(f.name, m) for f in files for m in _imports(f) if m.startswith(above)]
    assert bad == []


def test_options_are_parsed_once_into_a_typed_object(ref_map: object) -> None:
    opts = SimOptions.parse({"dma_bw": "64", "noc": "coarse", "noc_buf": "4", "mesh": "2x3"})
    assert opts == SimOptions(mesh=(2, 3), dma_bw=64, noc="coarse", noc_buf=4)
    assert opts.defines() == {"MESH_X": "2", "MESH_Y": "3"}
    assert SimOptions.parse({}) == SimOptions()
    knobs = SimOptions.parse({"noc_router_delay": "4", "noc_link_delay": "2",
                              "noc_inject_delay": "1", "noc_eject_delay": "1"})
    assert (knobs.noc_router_delay, knobs.noc_link_delay, knobs.noc_inject_delay,
            knobs.noc_eject_delay) == (4, 2, 1, 1)
    for bad, word in [({"dma_bw": "0"}, "dma_bw"), ({"noc": "fast"}, "noc"),
                      ({"noc_buf": "65"}, "noc_buf"), ({"mesh": "17x1"}, "mesh"),
                      ({"speed": "1"}, "unknown option"), ({"noc_router_delay": "0"},
                      "noc_router_delay"), ({"noc_eject_delay": "17"}, "noc_eject_delay"),
                      ({"noc_link_delay": "x"}, "noc_link_delay")]:
        with pytest.raises(TargetError, match=word):
            SimOptions.parse(bad)


def test_context_gives_typed_access_to_the_models(ref_map: object) -> None:
    from socdbg.regmap import RegMap

    assert isinstance(ref_map, RegMap)
    sim = SimTarget(ref_map, "sim:dma_bw=64", {"dma_bw": "64"})
    ctx = sim.context
    assert ctx.dma is not None and ctx.dma.bytes_per_cycle == 64
    assert ctx.mesh is not None and ctx.dma.noc is ctx.mesh
    assert ctx.mesh.buffer_depth == SimOptions().noc_buf
    assert sim.options.dma_bw == 64
    coarse = SimTarget(ref_map, "sim:noc=coarse", {"noc": "coarse"})
    assert coarse.context.dma is not None and coarse.context.dma.noc is None


def test_one_observer_mechanism_for_writes_dma_and_departures(ref_map: object) -> None:
    from socdbg.regmap import RegMap

    assert isinstance(ref_map, RegMap)
    sim = SimTarget(ref_map)
    ev = sim.context.events
    writes: list[str] = []
    dma: list[tuple[int, int, str, int]] = []
    departs: list[tuple[int, int, list[int]]] = []
    ev.reg_write.subscribe(lambda reg, old, new: writes.append(reg.path))
    ev.dma.subscribe(dma.append)
    ev.noc_depart.subscribe(lambda r, p, cycles: departs.append((r, p, cycles)))
    sim.write(ref_map.get("sysctrl.scratch").address, (5).to_bytes(4, "little"))
    assert writes == ["sysctrl.scratch"]
    mesh = sim.context.mesh
    assert mesh is not None
    mesh.send(0, 1, 2)
    sim.step(20)
    assert sum(len(c) for _, _, c in departs) == 2 * mesh.hops(0, 1)
    assert dma == []  # no DMA event yet; the DMA tests cover the records


def test_mesh_work_is_on_the_kernel_heap_and_jumps() -> None:
    kernel = Kernel()
    mesh = Mesh(8, 8)
    mesh.attach(kernel)
    got: list[int] = []
    mesh.send(0, 63, 4, got.append)
    fired = 0
    while kernel.peek() is not None:  # one kernel event per cycle with work, no more
        kernel.step(kernel.peek() - kernel.now)  # type: ignore[operator]
        fired += 1
    lat = mesh.hops(0, 63) * 2 + 3
    assert got == [lat]
    assert fired < lat and not kernel.ticking
