"""DMA over the mesh as flows (closed-form timing, socdbg.models.dma_flow) is exact: on random
mixes of DMA transfers in every mode, on several channels, with synthetic NoC traffic, counter
reads, disables and resets in between, every DMA record (the cycle of every chunk completion,
start, done, error), every register, every delivery cycle, every NoC counter and the memory
come out the same as packet by packet, and the same as over the cycle-by-cycle reference
mesh of test_models_noc."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

import pytest
from test_models_noc import RefMesh

from socdbg.access import write_register
from socdbg.models.dma import DESC_SIZE, encode_descriptor
from socdbg.models.dma_flow import FlowPlan
from socdbg.models.kernel import Kernel
from socdbg.regmap import RegMap
from socdbg.targets.sim import SimTarget

SRAM = 0x1000_0000
DRAM = 0x8000_0000
DESC = SRAM + 0xE_0000
KiB = 1 << 10


class RefPort:
    """The cycle-by-cycle reference mesh as the DMA engine's NoC. A packet sent in cycle t
    (from an event, or by software once the kernel stands at t) is seen by the reference's
    step t, as by the mesh; so the ticker at the end of cycle t steps the reference through
    t - 1 and runs the deliveries of cycle t (known a link delay ahead)."""

    def __init__(self, kernel: Kernel, x: int, y: int, buffer_depth: int) -> None:
        self.kernel = kernel
        self.ref = RefMesh(x, y, 1, 1, buffer_depth, "XY")
        self.ref.t = kernel.now - 1
        self.pid = 0
        self.waiting: dict[int, Callable[[int], None]] = {}
        kernel.add_ticker(self._tick)

    def send(self, src_node: int, dst_node: int, flits: int,
             on_delivered: Callable[[int], None] | None = None) -> None:
        self.ref.send(self.pid, src_node, dst_node, flits, self.kernel.now)
        self.waiting[self.pid] = on_delivered or (lambda cycle: None)
        self.pid += 1

    def _tick(self, cycle: int) -> None:
        while self.ref.t < cycle - 1:
            self.ref.step()
        for pid, at in list(self.ref.eject.items()):
            if at == cycle and pid in self.waiting:
                self.waiting.pop(pid)(cycle)

    def counters(self) -> tuple[object, ...]:
        while self.ref.t < self.kernel.now:
            self.ref.step()
        return self.ref.counters()


def _ops(rng: random.Random, horizon: int, big: int) -> list[tuple[int, str, tuple[int, ...]]]:
    """A random program: (cycle, what, arguments), in time order."""
    ops: list[tuple[int, str, tuple[int, ...]]] = []
    spaces = [(SRAM, 0xC_0000), (DRAM, 0x10_0000), (DRAM + 0x10_0000, 0x10_0000)]
    for _ in range(rng.randint(3, 7)):
        t = rng.randrange(horizon)
        kind = rng.choice(["single", "single", "single", "chain", "ring", "packet", "packet",
                           "counters", "disable", "soft_rst", "tail"])
        ch = rng.randrange(4)
        length = 8 * rng.randint(1, big // 8) if rng.random() < 0.8 else 8 * rng.randint(1, 40)
        (sb, ss), (db, ds) = rng.sample(spaces, 2) if rng.random() < 0.8 else [spaces[1]] * 2
        src = sb + 8 * rng.randrange((ss - length) // 8)
        dst = db + 8 * rng.randrange((ds - length) // 8)
        if kind == "packet":
            ops.append((t, kind, (rng.randrange(16), rng.randrange(16), rng.randint(1, 9))))
        elif kind in ("chain", "ring"):
            ops.append((t, kind, (ch, rng.randint(1, 3), src, dst, length)))
        elif kind == "tail":
            ops.append((t, kind, (ch, rng.randint(0, 3))))
        elif kind in ("disable", "soft_rst", "counters"):
            ops.append((t, kind, (ch,)))
        else:
            ops.append((t, kind, (ch, src, dst, length)))
    ops.sort(key=lambda op: op[0])
    for i in range(1, len(ops)):  # one operation a cycle (see RefPort)
        if ops[i][0] <= ops[i - 1][0]:
            ops[i] = (ops[i - 1][0] + 1, *ops[i][1:])
    return ops


def _run(ref_map: RegMap, seed: int, flows: bool, reference: bool = False,
         big: int = 48 * KiB) -> list[Any]:
    rng = random.Random(seed)
    bw = rng.choice([8, 16, 24, 32, 32, 32, 64, 4096])
    buf = rng.choice([3, 4, 8, 8])  # 3: shallower than a credit round trip, no flows
    sim = SimTarget(ref_map, "sim", {"dma_bw": str(bw), "noc_buf": str(buf)})
    ctx = sim.context
    assert ctx.dma is not None and ctx.mesh is not None
    dma, mesh = ctx.dma, ctx.mesh
    dma.flows = flows
    port: Any = mesh
    if reference:
        port = dma.noc = RefPort(sim.kernel, mesh.size_x, mesh.size_y, buf)
    out: list[Any] = []
    ctx.events.dma.subscribe(out.append)

    def w(path: str, value: int) -> None:
        write_register(sim, ref_map.get(path), value)

    data = random.Random(seed + 1)
    sim.write_block(SRAM, data.randbytes(0xC_0000))
    sim.write_block(DRAM, data.randbytes(0x20_0000))
    w("sysctrl.rst_ctrl", 0)
    w("dma.global_ctrl", 1)
    paths = [r.path for r in ref_map.select("dma")]
    desc_at = DESC
    for t, kind, args in _ops(rng, 6000, big):
        sim.step(t - sim.now)
        if kind == "single":
            ch, src, dst, length = args
            w(f"dma.ch[{ch}].src", src)
            w(f"dma.ch[{ch}].dst", dst)
            w(f"dma.ch[{ch}].len", length)
            w(f"dma.ch[{ch}].ctrl", 0b11)
        elif kind in ("chain", "ring"):
            ch, count, src, dst, length = args
            part = max(8, length // count // 8 * 8)
            base = desc_at
            for i in range(count):
                nxt = desc_at + DESC_SIZE if i < count - 1 else 0
                sim.write_block(desc_at, encode_descriptor(
                    src + i * part, dst + i * part, part, last=kind == "chain" and not nxt,
                    next=nxt, irq=i == 0))
                desc_at += DESC_SIZE
            w(f"dma.ch[{ch}].desc_base", base)
            w(f"dma.ch[{ch}].desc_count", count)
            if kind == "ring":
                w(f"dma.ch[{ch}].ring_tail", count - 1)
            w(f"dma.ch[{ch}].ctrl", 0b11 | (1 if kind == "chain" else 2) << 3)
        elif kind == "tail":
            w(f"dma.ch[{args[0]}].ring_tail", args[1])
        elif kind == "disable":
            w(f"dma.ch[{args[0]}].ctrl", 0)
        elif kind == "soft_rst":
            w("dma.global_ctrl", 0b11)
            w("dma.global_ctrl", 1)
        elif kind == "packet":
            src, dst, flits = args
            port.send(src, dst, flits, lambda c, t=t: out.append(("packet", t, c)))
        elif kind == "counters":
            out.append(("counters", sim.now, _counters(port)))
        out.append(("regs", sim.now, tuple(sim.regs.peek(p) for p in paths)))
    for _ in range(400):  # until every channel is idle or waits on its ring
        sim.step(997)
        if not any(ch.state.name in ("FETCH", "MOVE", "STOP") for ch in dma.channels):
            break
    sim.step(200)  # synthetic packets still in flight
    out.append(("end", sim.now, _counters(port),
                tuple(sim.regs.peek(p) for p in paths)))
    out.append(hashlib.sha256(sim.read_block(SRAM, 0xC_0000)
                              + sim.read_block(DRAM, 0x20_0000)).hexdigest())
    return out


def _counters(port: Any) -> tuple[object, ...]:
    c = port.counters()
    return c if isinstance(c, tuple) else (c.flits, c.stalls, c.buf_occ)


@pytest.mark.parametrize("seed", range(24))
def test_flows_equal_packets_on_random_mixes(ref_map: RegMap, seed: int) -> None:
    assert _run(ref_map, seed, flows=True) == _run(ref_map, seed, flows=False)


@pytest.mark.parametrize("seed", [100, 101, 102, 103])
def test_flows_equal_the_cycle_by_cycle_reference(ref_map: RegMap, seed: int) -> None:
    got = _run(ref_map, seed, flows=True, big=6 * KiB)
    assert got == _run(ref_map, seed, flows=False, reference=True, big=6 * KiB)


def test_a_lone_transfer_is_one_flow(ref_map: RegMap) -> None:
    """With the mesh to itself a transfer costs one kernel event per chunk, no packets."""
    sim = SimTarget(ref_map)
    ctx = sim.context
    assert ctx.mesh is not None and ctx.dma is not None
    write_register(sim, ref_map.get("sysctrl.rst_ctrl"), 0)
    write_register(sim, ref_map.get("dma.global_ctrl"), 1)
    for path, value in [("src", DRAM), ("dst", DRAM + 0x100_0000), ("len", 1 << 20),
                        ("ctrl", 0b11)]:
        write_register(sim, ref_map.get(f"dma.ch[0].{path}"), value)
    assert ctx.dma.channels[0].flow is not None
    assert sim.run_until_text("dma.ch[0].status.busy == 0", 1 << 30)
    assert ctx.mesh.sent == ctx.mesh.delivered == (1 << 20) // 256
    # the last packet is read by cycle len/32, its 8 flits injected one a cycle, the tail
    # ejected (R + L) * hops later: one hop, dram to dram
    assert sim.now == (1 << 20) // 32 + 7 + 2


def test_plan_is_linear_in_the_common_case() -> None:
    plan = FlowPlan(100, 1 << 20, chunk_bytes=16384, packet_bytes=256, flit_bytes=32,
                    bytes_per_cycle=32, max_outstanding=4, hops=7, router_delay=1,
                    link_delay=1)
    assert len(plan.chunks) == 64
    tail = 7 + 7 * 2  # the last packet's body flits, then 7 hops of R + L
    assert [c.done_at for c in plan.chunks[:2]] == [100 + 512 + tail, 100 + 1024 + tail]
    assert plan.packets == 4096 and plan.flits == 4096 * 8


@pytest.mark.parametrize(("bw", "length"), [(32, 100 * KiB), (64, 40 * KiB + 8), (8, 3 * KiB),
                                            (4096, 64 * KiB)])
def test_a_flow_leaves_the_mesh_as_its_packets_would(ref_map: RegMap, bw: int,
                                                     length: int) -> None:
    """Every buffer's credits, every output's arbitration state, every counter."""
    def state(flows: bool) -> list[Any]:
        sim = SimTarget(ref_map, "sim", {"dma_bw": str(bw)})
        ctx = sim.context
        assert ctx.dma is not None and ctx.mesh is not None
        ctx.dma.flows = flows
        write_register(sim, ref_map.get("sysctrl.rst_ctrl"), 0)
        write_register(sim, ref_map.get("dma.global_ctrl"), 1)
        for path, value in [("src", SRAM), ("dst", DRAM), ("len", length), ("ctrl", 0b11)]:
            write_register(sim, ref_map.get(f"dma.ch[0].{path}"), value)
        assert sim.run_until_text("dma.ch[0].status.busy == 0", 1 << 24)
        sim.step(50)
        mesh: Any = ctx.mesh
        return [sim.now, mesh.sent, mesh.delivered,
                [(b.ring, b.seq, b.ndep, b.last, b.stall) for b in mesh._bufs],
                [(o.flits, o.free_at, o.rr, o.arb_at, o.holder) for o in mesh._outs],
                [s.last_inj for s in mesh._sources]]

    assert state(True) == state(False)


@pytest.mark.parametrize("seed", range(8))
def test_long_transfers_equal_packets_through_the_steady_state(ref_map: RegMap,
                                                                 seed: int) -> None:
    """Transfers long enough for the plan's steady-state shortcut, with a look at the mesh
    (or a second channel) somewhere in the middle, or none."""
    rng = random.Random(seed)
    bw = rng.choice([8, 16, 32, 64, 4096])
    length = 8 * rng.randint(20 * KiB, 40 * KiB)  # 160..320 KiB: 10..20 chunks
    src, dst = rng.choice([(SRAM, DRAM), (DRAM, DRAM + 0x10_0000), (DRAM, SRAM)])
    poke = rng.choice(["none", "counters", "channel"])
    at = rng.randrange(1, length // min(bw, 32))

    def run(flows: bool) -> list[Any]:
        sim = SimTarget(ref_map, "sim", {"dma_bw": str(bw)})
        ctx = sim.context
        assert ctx.dma is not None and ctx.mesh is not None
        ctx.dma.flows = flows
        out: list[Any] = []
        ctx.events.dma.subscribe(out.append)
        sim.write_block(src, random.Random(seed).randbytes(length))

        def w(path: str, value: int) -> None:
            write_register(sim, ref_map.get(path), value)

        w("sysctrl.rst_ctrl", 0)
        w("dma.global_ctrl", 1)
        for path, value in [("src", src), ("dst", dst), ("len", length), ("ctrl", 0b11)]:
            w(f"dma.ch[0].{path}", value)
        sim.step(at)
        if poke == "counters":
            out.append(_counters(ctx.mesh))
        elif poke == "channel":
            for path, value in [("src", SRAM + 0xD_0000), ("dst", DRAM + 0x30_0000),
                                ("len", 4096), ("ctrl", 0b11)]:
                w(f"dma.ch[1].{path}", value)
        assert sim.run_until_text("dma.ch[0].status.busy == 0", 1 << 24)
        sim.step(100)
        out.append((sim.now, _counters(ctx.mesh), sim.read_block(dst, length) ==
                    sim.read_block(src, length)))
        return out

    got = run(True)
    assert got[-1][2]
    assert got == run(False)


@pytest.mark.parametrize("bw", [16, 32, 64])
def test_a_subscriber_looking_at_the_mesh_mid_flow(ref_map: RegMap, bw: int) -> None:
    """A DMA-record subscriber that reads the NoC counters when the third chunk completes
    settles the flow from inside the flow's own event; nothing observable changes."""
    def run(flows: bool) -> list[Any]:
        sim = SimTarget(ref_map, "sim", {"dma_bw": str(bw)})
        ctx = sim.context
        assert ctx.dma is not None and ctx.mesh is not None
        mesh = ctx.mesh
        ctx.dma.flows = flows
        out: list[Any] = []

        def look(entry: tuple[int, int, str, int]) -> None:
            out.append(entry)
            if entry[2] == "bytes" and entry[3] == 3 * 16384:
                out.append(_counters(mesh))

        ctx.events.dma.subscribe(look)
        for path, value in [("sysctrl.rst_ctrl", 0), ("dma.global_ctrl", 1),
                            ("dma.ch[0].src", SRAM), ("dma.ch[0].dst", DRAM),
                            ("dma.ch[0].len", 200 * KiB), ("dma.ch[0].ctrl", 0b11)]:
            write_register(sim, ref_map.get(path), value)
        assert sim.run_until_text("dma.ch[0].status.busy == 0", 1 << 24)
        sim.step(60)
        out.append((sim.now, _counters(mesh)))
        return out

    assert run(True) == run(False)


def _lone_transfer(ref_map: RegMap, noc: str, bw: int, src: int, dst: int,
                   length: int) -> int:
    sim = SimTarget(ref_map, "sim", {"dma_bw": str(bw), "noc": noc})
    write_register(sim, ref_map.get("sysctrl.rst_ctrl"), 0)
    write_register(sim, ref_map.get("dma.global_ctrl"), 1)
    start = sim.now
    for path, value in [("src", src), ("dst", dst), ("len", length), ("ctrl", 0b11)]:
        write_register(sim, ref_map.get(f"dma.ch[0].{path}"), value)
    assert sim.run_until_text("dma.ch[0].status.busy == 0", 1 << 30)
    return sim.now - start


@pytest.mark.parametrize("bw", [4, 24, 32, 64, 4096])
@pytest.mark.parametrize("length", [512 * KiB, 40 * KiB + 8])
def test_coarse_and_mesh_agree_on_the_port(ref_map: RegMap, bw: int, length: int) -> None:
    """One port model for both paths: a lone transfer moves at min(dma_bw, 32) bytes a
    cycle (the link out of the tile carries one 32-byte flit a cycle). The mesh adds
    hops * (R + L), and either the last packet's body flits (the port sets the pace: the
    last packet leaves once read) or the first packet's read (the link sets the pace: it
    is busy from then on)."""
    coarse = _lone_transfer(ref_map, "coarse", bw, SRAM, DRAM, length)
    mesh = _lone_transfer(ref_map, "mesh", bw, SRAM, DRAM, length)
    assert coarse == -(-length // min(bw, 32))
    sim = SimTarget(ref_map)
    m = sim.context.mesh
    assert m is not None and sim.context.dma is not None
    node_of = sim.context.dma.node_of
    hops = len(m.route(node_of(SRAM), node_of(DRAM)))
    extra = mesh - coarse - hops * (m.router_delay + m.link_delay)
    if length % 256 == 0:
        assert extra == (7 if bw <= 32 else -(-256 // bw) - 1)
    else:  # a short last packet may queue behind the one before it: at most one packet
        assert 0 <= extra <= 256 // 32


def test_noc_timing_options_reach_the_mesh_and_the_dma(ref_map: RegMap) -> None:
    """sim:noc_router_delay/link_delay/inject_delay/eject_delay set the mesh's timing; a lone
    DMA transfer pays them as the zero-load formula says (no flow: the packet path)."""
    opts = {"noc_router_delay": "3", "noc_link_delay": "2", "noc_inject_delay": "1",
            "noc_eject_delay": "1", "noc_buf": "8"}
    sim = SimTarget(ref_map, "sim", opts)
    m = sim.context.mesh
    assert m is not None
    assert (m.router_delay, m.link_delay, m.inject_delay, m.eject_delay) == (3, 2, 1, 1)
    base = _lone_transfer(ref_map, "mesh", 32, SRAM, DRAM, 4 * KiB)
    sim = SimTarget(ref_map, "sim", opts)
    write_register(sim, ref_map.get("sysctrl.rst_ctrl"), 0)
    write_register(sim, ref_map.get("dma.global_ctrl"), 1)
    start = sim.now
    for path, value in [("src", SRAM), ("dst", DRAM), ("len", 4 * KiB), ("ctrl", 0b11)]:
        write_register(sim, ref_map.get(f"dma.ch[0].{path}"), value)
    assert sim.context.dma is not None and sim.context.dma.channels[0].flow is None
    assert sim.run_until_text("dma.ch[0].status.busy == 0", 1 << 30)
    hops = len(m.route(0, m.nodes - 1))
    assert base == 128 + 7 + hops * 2
    assert sim.now - start == 128 + 7 + 1 + hops * (3 + 2) + 1
