"""The DMA engine model, driven only through the reference SoC's registers."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from socdbg.access import read_register, write_register
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.models.blocks import Interrupts
from socdbg.models.dma import (
    DESC_MAGIC,
    DESC_SIZE,
    Descriptor,
    DmaEngine,
    ErrCode,
    encode_descriptor,
)
from socdbg.models.kernel import Kernel
from socdbg.regmap import decode
from socdbg.targets.sim import SimTarget

SRAM = 0x1000_0000
DRAM = 0x8000_0000
MiB = 1 << 20
DOCS = Path(__file__).resolve().parent.parent / "docs" / "dma.md"


class FakeNoc:
    """A NoC with a fixed latency and no contention: a packet of F flits sent at cycle t
    is delivered (tail ejected) at t + latency + F - 1."""

    def __init__(self, kernel: Kernel, latency: int = 20, at_once: bool = False) -> None:
        self.kernel = kernel
        self.latency = latency
        self.at_once = at_once  # call on_delivered inside send() with the future cycle
        self.sent: list[tuple[int, int, int, int]] = []  # (cycle, src, dst, flits)

    def send(self, src_node: int, dst_node: int, flits: int,
             on_delivered: Callable[[int], None]) -> None:
        self.sent.append((self.kernel.now, src_node, dst_node, flits))
        due = self.kernel.now + self.latency + flits - 1
        if self.at_once:
            on_delivered(due)
        else:
            self.kernel.schedule(due - self.kernel.now, lambda: on_delivered(due))


def attach_dma(sim: SimTarget) -> DmaEngine:
    """The sim's DMA engine: the one the SoC attached, else a new one on its intc."""
    if sim.context.dma is not None:
        return sim.context.dma
    irq = next(m for m in sim.models if isinstance(m, Interrupts))
    engine = DmaEngine(sim.context, irq=irq)
    sim.models.append(engine)
    return engine


class Soc:
    """A session on the reference SoC simulator with its DMA engine, plus terse helpers that
    go through the registers exactly as a user does."""

    def __init__(self, release: bool = True, target: str = "sim:noc=coarse") -> None:
        # coarse: the engine's own timing, exactly; the mesh is tested on its own and in
        # test_dma_over_the_real_mesh below
        self.session = Session(target=target)
        target = self.session.target
        assert isinstance(target, SimTarget)
        self.sim = target
        self.dma = attach_dma(self.sim)
        if release:
            self.w("sysctrl.rst_ctrl", 0)
            self.w("dma.global_ctrl", 1)

    # registers
    def w(self, path: str, value: int) -> None:
        write_register(self.sim, self.sim.regmap.get(path), value)

    def r(self, path: str) -> int:
        return read_register(self.sim, self.sim.regmap.get(path))

    def f(self, path: str) -> int:
        """A field: ``dma.ch[0].status.busy``."""
        reg_path, _, name = path.rpartition(".")
        reg = self.sim.regmap.get(reg_path)
        fv = next(v for v in decode(reg, read_register(self.sim, reg)).fields
                  if v.field.name == name)
        return fv.value

    def x(self, line: str) -> Any:
        return execute(self.session, line)

    # memory
    def put(self, address: int, data: bytes) -> None:
        self.sim.write_block(address, data)

    def get(self, address: int, size: int) -> bytes:
        return bytes(self.sim.read_block(address, size))

    # time
    def step(self, cycles: int) -> None:
        self.sim.step(cycles)

    def wait_idle(self, ch: int, max_cycles: int = 1 << 22) -> int:
        """Step until ch is not busy; returns the cycles it took."""
        t0 = self.sim.now
        assert self.sim.run_until(lambda: not self.f(f"dma.ch[{ch}].status.busy"), max_cycles)
        return self.sim.now - t0

    # programming
    def single(self, ch: int, src: int, dst: int, length: int, irq_en: int = 0) -> None:
        p = f"dma.ch[{ch}]"
        self.w(f"{p}.src", src)
        self.w(f"{p}.dst", dst)
        self.w(f"{p}.len", length)
        self.x(f"write {p}.ctrl en=1 mode=SINGLE irq_en={irq_en} start=1")

    def descriptors(self, ch: int, mode: str, base: int, count: int, irq_en: int = 0,
                    tail: int | None = None) -> None:
        p = f"dma.ch[{ch}]"
        self.w(f"{p}.desc_base", base)
        self.w(f"{p}.desc_count", count)
        if tail is not None:
            self.w(f"{p}.ring_tail", tail)
        self.x(f"write {p}.ctrl en=1 mode={mode} irq_en={irq_en} start=1")

    def status(self, ch: int) -> dict[str, int]:
        reg = self.sim.regmap.get(f"dma.ch[{ch}].status")
        return {v.field.name: v.value for v in decode(reg, read_register(self.sim, reg)).fields}


@pytest.fixture
def soc(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Soc:
    cache = tmp_path_factory.getbasetemp() / "socdbg-cache"  # shared: compile the map once
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(cache))
    return Soc()


@pytest.fixture
def make_soc(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
             ) -> Callable[..., Soc]:
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "socdbg-cache"))
    return Soc


def rand(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


# --------------------------------------------------------------------------------------------
# descriptors
# --------------------------------------------------------------------------------------------
def test_descriptor_layout_round_trips() -> None:
    raw = encode_descriptor(0x1000_0040, 0x8000_0000, 0x800, irq=True, next=0x1008_0040)
    assert len(raw) == DESC_SIZE
    assert int.from_bytes(raw[0x00:0x08], "little") == 0x1000_0040
    assert int.from_bytes(raw[0x08:0x10], "little") == 0x8000_0000
    assert int.from_bytes(raw[0x10:0x14], "little") == 0x800
    assert int.from_bytes(raw[0x14:0x18], "little") == 0b01
    assert int.from_bytes(raw[0x18:0x20], "little") == 0x1008_0040
    assert raw[0x20:0x38] == bytes(24)
    assert int.from_bytes(raw[0x38:0x3C], "little") == DESC_MAGIC
    xor = 0
    for i in range(0, DESC_SIZE, 4):
        xor ^= int.from_bytes(raw[i : i + 4], "little")
    assert xor == 0  # the check word makes the XOR of all sixteen words zero
    d = Descriptor.decode(raw)
    assert d is not None and d.irq and not d.last and d.length == 0x800
    assert Descriptor.decode(raw[:-1] + bytes([raw[-1] ^ 1])) is None  # check word
    assert Descriptor.decode(bytes(24) + raw[24:]) is None  # the check catches a change


# --------------------------------------------------------------------------------------------
# single mode
# --------------------------------------------------------------------------------------------
def test_single_sram_to_dram_and_back(soc: Soc) -> None:
    data = rand(MiB, 1)
    soc.put(SRAM, data)
    soc.single(0, SRAM, DRAM + 0x40_0000, MiB)
    assert soc.status(0)["busy"] == 1
    soc.wait_idle(0)
    assert soc.status(0) == {"busy": 0, "done": 1, "err": 0, "err_code": 0}
    assert soc.r("dma.ch[0].bytes_done") == MiB
    assert soc.get(DRAM + 0x40_0000, MiB) == data
    # and back, over a cleared SRAM, on another channel
    soc.put(SRAM, bytes(MiB))
    soc.single(3, DRAM + 0x40_0000, SRAM, MiB)
    soc.wait_idle(3)
    assert soc.status(3)["done"] == 1
    assert soc.get(SRAM, MiB) == data


def test_progress_is_visible_mid_transfer(soc: Soc) -> None:
    data = rand(MiB, 2)
    soc.put(SRAM, data)
    soc.single(0, SRAM, DRAM, MiB)
    chunk = soc.dma.chunk_bytes
    seen = []
    for _ in range(4):
        soc.step(1000)
        done = soc.r("dma.ch[0].bytes_done")
        assert soc.f("dma.ch[0].status.busy") == 1
        assert soc.f("dma.global_status.ch_busy") == 0b0001
        assert soc.f("dma.global_status.idle") == 0
        # 32 bytes per cycle, in whole chunks, and exactly those bytes have landed
        assert done == (soc.sim.now * 32) // chunk * chunk
        assert soc.get(DRAM, done) == data[:done]
        assert soc.get(DRAM + done, chunk) == bytes(chunk)
        seen.append(done)
    assert seen == sorted(seen) and 0 < seen[0] < seen[-1] < MiB
    soc.wait_idle(0)
    assert soc.f("dma.global_status.idle") == 1


def test_completion_sets_done_and_the_intc_bit(soc: Soc) -> None:
    soc.x("write intc.enable dma_ch0=1 dma_ch2=1")
    soc.single(0, SRAM, DRAM, 0x1000, irq_en=1)
    soc.single(2, SRAM, DRAM + 0x1000, 0x1000, irq_en=0)  # no irq_en: no interrupt
    assert soc.f("intc.status.dma_ch0") == 0
    soc.wait_idle(0)
    soc.wait_idle(2)
    assert soc.f("dma.ch[0].status.done") == 1 and soc.f("dma.ch[2].status.done") == 1
    assert soc.f("intc.status.dma_ch0") == 1 and soc.f("intc.pending.dma_ch0") == 1
    assert soc.f("intc.status.dma_ch2") == 0 and soc.f("intc.pending.dma_ch2") == 0
    soc.x("write dma.ch[0].status done=1")  # w1c
    assert soc.status(0)["done"] == 0
    soc.w("intc.status", 0b1)
    assert soc.f("intc.pending.dma_ch0") == 0


def test_start_needs_en_and_is_ignored_while_busy(soc: Soc) -> None:
    soc.w("dma.ch[0].src", SRAM)
    soc.w("dma.ch[0].dst", DRAM)
    soc.w("dma.ch[0].len", 0x1000)
    soc.x("write dma.ch[0].ctrl en=0 start=1")
    assert soc.status(0)["busy"] == 0
    soc.step(1000)
    assert soc.status(0)["done"] == 0
    soc.single(0, SRAM, DRAM, 0x10000)
    soc.step(100)
    soc.w("dma.ch[0].len", 8)
    soc.x("write dma.ch[0].ctrl start=1")  # busy: ignored, the running copy goes on
    soc.wait_idle(0)
    assert soc.r("dma.ch[0].bytes_done") == 0x10000
    assert soc.r("dma.ch[0].ctrl") & 0b10 == 0  # start reads 0


# --------------------------------------------------------------------------------------------
# chain mode
# --------------------------------------------------------------------------------------------
def test_chain_of_three_descriptors(soc: Soc) -> None:
    a, b = rand(0x3000, 3), rand(0x800, 4)
    soc.put(SRAM, a)
    soc.put(SRAM + 0x4000, b)
    d0, d1, d2 = SRAM + 0x8_0000, SRAM + 0x8_1000, SRAM + 0x8_0040  # out of address order
    soc.put(d0, encode_descriptor(SRAM, DRAM, 0x3000, next=d1))
    soc.put(d1, encode_descriptor(SRAM + 0x4000, DRAM + 0x10000, 0x800, irq=True, next=d2))
    soc.put(d2, encode_descriptor(DRAM, SRAM + 0x2_0000, 0x3000, last=True))
    soc.x("write intc.enable dma_ch1=1")
    soc.descriptors(1, "CHAIN", d0, 3, irq_en=1)
    # the irq flag of the middle descriptor raises the interrupt before the chain is done
    assert soc.sim.run_until(lambda: soc.f("intc.status.dma_ch1") == 1, 100_000)
    assert soc.status(1)["busy"] == 1 and soc.status(1)["done"] == 0
    soc.w("intc.status", 0b10)
    soc.wait_idle(1)
    assert soc.status(1) == {"busy": 0, "done": 1, "err": 0, "err_code": 0}
    assert soc.f("intc.status.dma_ch1") == 1  # and again at the end of the chain
    assert soc.r("dma.ch[1].bytes_done") == 0x3000 + 0x800 + 0x3000
    assert soc.get(DRAM, 0x3000) == a
    assert soc.get(DRAM + 0x10000, 0x800) == b
    assert soc.get(SRAM + 0x2_0000, 0x3000) == a


def test_chain_longer_than_desc_count_is_bad_desc(soc: Soc) -> None:
    d = SRAM + 0x8_0000
    soc.put(d, encode_descriptor(SRAM, DRAM, 0x100, next=d))  # a loop, never `last`
    soc.descriptors(0, "CHAIN", d, 3)
    soc.wait_idle(0)
    st = soc.status(0)
    assert st["err"] == 1 and st["err_code"] == ErrCode.BAD_DESC and st["done"] == 0
    assert soc.r("dma.ch[0].bytes_done") == 3 * 0x100  # desc_count descriptors ran


# --------------------------------------------------------------------------------------------
# ring mode
# --------------------------------------------------------------------------------------------
def test_ring_wraps_and_follows_tail_updates(soc: Soc) -> None:
    base, n, size = SRAM + 0x9_0000, 4, 0x400
    src = rand(6 * size, 5)
    soc.put(SRAM, src)

    def entry(i: int, job: int, irq: bool = False) -> None:
        soc.put(base + i * DESC_SIZE,
                encode_descriptor(SRAM + job * size, DRAM + job * size, size, irq=irq))

    for i in range(n):
        entry(i, i)
    soc.descriptors(2, "RING", base, n, irq_en=1, tail=0)  # empty ring: armed, waiting
    soc.step(500)
    assert soc.status(2)["busy"] == 1 and soc.r("dma.ch[2].ring_head") == 0
    assert soc.status(2)["done"] == 0
    soc.w("dma.ch[2].ring_tail", 3)  # hand over entries 0, 1, 2
    heads = [0]
    while heads[-1] != 3:
        soc.step(8)
        head = soc.r("dma.ch[2].ring_head")
        if head != heads[-1]:
            heads.append(head)
    assert heads == [0, 1, 2, 3]  # ring_head advances one descriptor at a time
    soc.step(10)
    assert soc.status(2)["done"] == 1 and soc.status(2)["busy"] == 1  # drained, still armed
    assert soc.f("intc.status.dma_ch2") == 1
    assert soc.get(DRAM, 3 * size) == src[: 3 * size]
    soc.x("write dma.ch[2].status done=1")
    # wrap-around: entry 3, then entry 0 again with a new job; tail moves 3 -> 1
    entry(0, 5)
    soc.w("dma.ch[2].ring_tail", 1)
    assert soc.sim.run_until(lambda: soc.status(2)["done"] == 1, 100_000)
    assert soc.r("dma.ch[2].ring_head") == 1
    assert soc.get(DRAM + 3 * size, size) == src[3 * size : 4 * size]
    assert soc.get(DRAM + 5 * size, size) == src[5 * size :]
    assert soc.r("dma.ch[2].bytes_done") == 5 * size
    soc.x("write dma.ch[2].ctrl en=0")  # disabling stops the ring
    assert soc.status(2)["busy"] == 0 and soc.f("dma.global_status.idle") == 1
    # start again: ring_head survives stop/start, so the ring picks up where it was
    entry(1, 4)
    soc.w("dma.ch[2].ring_tail", 2)
    soc.x("write dma.ch[2].ctrl en=1 start=1")
    assert soc.sim.run_until(lambda: soc.r("dma.ch[2].ring_head") == 2, 100_000)
    assert soc.get(DRAM + 4 * size, size) == src[4 * size : 5 * size]


def test_ring_bad_entry_stops_at_it_and_is_retried_in_place(soc: Soc) -> None:
    base = SRAM + 0x9_0000
    good = encode_descriptor(SRAM, DRAM, 0x100)
    soc.put(SRAM, rand(0x100, 12))
    soc.put(base, good)
    soc.put(base + DESC_SIZE, bytes(DESC_SIZE))  # entry 1: no magic
    soc.descriptors(0, "RING", base, 4, tail=2)
    soc.step(100)
    assert soc.status(0)["err_code"] == ErrCode.BAD_DESC and soc.status(0)["busy"] == 0
    assert soc.r("dma.ch[0].ring_head") == 1  # entry 0 consumed, entry 1 not
    soc.put(base + DESC_SIZE, encode_descriptor(SRAM, DRAM + 0x100, 0x100))
    soc.x("write dma.ch[0].status err=1")
    soc.x("write dma.ch[0].ctrl start=1")
    soc.step(100)
    assert soc.r("dma.ch[0].ring_head") == 2 and soc.status(0)["done"] == 1
    assert soc.get(DRAM + 0x100, 0x100) == soc.get(SRAM, 0x100)


def test_ring_tail_outside_the_ring_is_bad_desc(soc: Soc) -> None:
    soc.descriptors(0, "RING", SRAM + 0x9_0000, 4, tail=4)
    assert soc.status(0)["err_code"] == ErrCode.BAD_DESC and soc.status(0)["busy"] == 0


# --------------------------------------------------------------------------------------------
# errors stop only their channel; recovery
# --------------------------------------------------------------------------------------------
def _bad_program(soc: Soc, case: str) -> None:
    """Start channel 1 with a program that fails as ``case`` says."""
    if case == "zero_len":
        soc.single(1, SRAM, DRAM, 0, irq_en=1)
    elif case == "misaligned_src":
        soc.single(1, SRAM + 4, DRAM, 0x100, irq_en=1)
    elif case == "misaligned_len":
        soc.single(1, SRAM, DRAM, 0x104, irq_en=1)
    elif case == "unmapped_dst":
        soc.single(1, SRAM, 0x4001_0000, 0x100, irq_en=1)  # the peripheral window
    elif case == "unmapped_past_end":
        soc.single(1, SRAM + MiB - 0x100, DRAM, 0x200, irq_en=1)  # runs past the end of SRAM
    elif case == "desc_bad_magic":
        raw = bytearray(encode_descriptor(SRAM, DRAM, 0x100, last=True))
        raw[0x38] ^= 0xFF
        soc.put(SRAM + 0x8_0000, bytes(raw))
        soc.descriptors(1, "CHAIN", SRAM + 0x8_0000, 1, irq_en=1)
    elif case == "desc_outside_memory":
        soc.descriptors(1, "CHAIN", 0x2000_0000, 1, irq_en=1)
    elif case == "desc_next_misaligned":
        soc.put(SRAM + 0x8_0000, encode_descriptor(SRAM, DRAM, 0x100, next=SRAM + 0x8_0008))
        soc.descriptors(1, "CHAIN", SRAM + 0x8_0000, 2, irq_en=1)
    elif case == "desc_zero_count":
        soc.descriptors(1, "CHAIN", SRAM + 0x8_0000, 0, irq_en=1)
    elif case == "desc_with_zero_len":
        soc.put(SRAM + 0x8_0000, encode_descriptor(SRAM, DRAM, 0, last=True))
        soc.descriptors(1, "CHAIN", SRAM + 0x8_0000, 1, irq_en=1)
    elif case == "desc_unmapped_src":
        soc.put(SRAM + 0x8_0000, encode_descriptor(0x4000_0000, DRAM, 0x100, last=True))
        soc.descriptors(1, "CHAIN", SRAM + 0x8_0000, 1, irq_en=1)
    else:
        raise AssertionError(case)


ERROR_CASES = {
    "zero_len": ErrCode.ZERO_LEN,
    "misaligned_src": ErrCode.MISALIGNED,
    "misaligned_len": ErrCode.MISALIGNED,
    "unmapped_dst": ErrCode.UNMAPPED,
    "unmapped_past_end": ErrCode.UNMAPPED,
    "desc_bad_magic": ErrCode.BAD_DESC,
    "desc_outside_memory": ErrCode.BAD_DESC,
    "desc_next_misaligned": ErrCode.BAD_DESC,
    "desc_zero_count": ErrCode.BAD_DESC,
    "desc_with_zero_len": ErrCode.ZERO_LEN,
    "desc_unmapped_src": ErrCode.UNMAPPED,
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_stops_only_its_channel(soc: Soc, case: str) -> None:
    code = ERROR_CASES[case]
    data = rand(0x4_0000, 6)
    soc.put(SRAM + 0x4_0000, data)
    soc.x("write intc.enable dma_ch1=1")
    soc.single(0, SRAM + 0x4_0000, DRAM + 0x100_0000, len(data))
    soc.single(2, SRAM + 0x4_0000, DRAM + 0x200_0000, len(data))
    soc.step(100)
    _bad_program(soc, case)
    soc.step(2000)  # its first chunk queues behind the others' on the shared link
    st = soc.status(1)
    assert st["err"] == 1 and st["busy"] == 0 and st["done"] == 0
    assert st["err_code"] == code, ErrCode(st["err_code"]).name
    assert soc.f("dma.global_status.ch_err") == 0b0010
    assert soc.f("intc.status.dma_ch1") == 1  # err with irq_en raises dma_ch1
    assert soc.f("dma.global_status.ch_busy") == 0b0101  # the others run on
    soc.wait_idle(0)
    soc.wait_idle(2)
    for ch, dst in ((0, DRAM + 0x100_0000), (2, DRAM + 0x200_0000)):
        assert soc.status(ch) == {"busy": 0, "done": 1, "err": 0, "err_code": 0}
        assert soc.get(dst, len(data)) == data


def test_recovery_after_clearing_err(soc: Soc) -> None:
    soc.single(1, SRAM + 4, DRAM, 0x100)
    assert soc.status(1)["err_code"] == ErrCode.MISALIGNED
    soc.w("dma.ch[1].src", SRAM)
    soc.x("write dma.ch[1].ctrl start=1")  # err still set: start is ignored
    soc.step(100)
    assert soc.status(1) == {"busy": 0, "done": 0, "err": 1, "err_code": ErrCode.MISALIGNED}
    soc.x("write dma.ch[1].status err=1")  # w1c
    assert soc.status(1)["err"] == 0 and soc.f("dma.global_status.ch_err") == 0
    data = rand(0x100, 7)
    soc.put(SRAM, data)
    soc.x("write dma.ch[1].ctrl start=1")
    soc.wait_idle(1)
    assert soc.status(1)["done"] == 1 and soc.status(1)["err"] == 0
    assert soc.get(DRAM, 0x100) == data


# --------------------------------------------------------------------------------------------
# resets and enables
# --------------------------------------------------------------------------------------------
def test_start_ignored_while_dma_held_in_reset(make_soc: Callable[..., Soc]) -> None:
    soc = make_soc(release=False)
    assert soc.f("sysctrl.rst_ctrl.dma_rst") == 1  # power-on: held in reset
    soc.put(SRAM, rand(0x100, 8))
    soc.w("dma.global_ctrl", 1)
    soc.single(0, SRAM, DRAM, 0x100)
    soc.step(1000)
    assert soc.status(0) == {"busy": 0, "done": 0, "err": 0, "err_code": 0}
    assert soc.get(DRAM, 0x100) == bytes(0x100)
    soc.x("write sysctrl.rst_ctrl dma_rst=0")
    soc.x("write dma.ch[0].ctrl start=1")
    soc.wait_idle(0)
    assert soc.get(DRAM, 0x100) == soc.get(SRAM, 0x100)


def test_asserting_dma_reset_aborts_and_resets_registers(soc: Soc) -> None:
    soc.single(0, SRAM, DRAM, MiB)
    soc.step(2000)
    soc.x("write sysctrl.rst_ctrl dma_rst=1")
    assert soc.status(0)["busy"] == 0
    assert soc.r("dma.ch[0].src") == 0 and soc.r("dma.ch[0].bytes_done") == 0
    assert soc.f("dma.global_ctrl.enable") == 0
    assert soc.f("dma.global_status.idle") == 1
    soc.step(MiB // 32)
    assert soc.get(DRAM + 0x10000, 0x100) == bytes(0x100)  # nothing moved after the reset


def test_soft_reset_clears_channels_and_keeps_enable(soc: Soc) -> None:
    soc.single(0, SRAM, DRAM, MiB)
    soc.descriptors(1, "RING", SRAM + 0x9_0000, 4, tail=0)
    soc.step(100)
    soc.x("write dma.global_ctrl soft_rst=1")
    for ch in (0, 1):
        assert soc.status(ch)["busy"] == 0
        assert soc.r(f"dma.ch[{ch}].ctrl") == 0
    assert soc.f("dma.global_ctrl.enable") == 1 and soc.f("dma.global_ctrl.soft_rst") == 0
    assert soc.f("dma.global_status.ch_busy") == 0
    soc.single(0, SRAM, DRAM, 0x100)
    soc.wait_idle(0)
    assert soc.status(0)["done"] == 1


def test_chip_reset_aborts_transfers(soc: Soc) -> None:
    soc.single(0, SRAM, DRAM, MiB)
    soc.step(1000)
    soc.sim.reset()
    assert soc.status(0)["busy"] == 0 and soc.f("sysctrl.rst_ctrl.dma_rst") == 1
    assert soc.f("dma.global_status.idle") == 1
    moved = soc.get(DRAM, MiB)
    soc.step(MiB // 32)
    assert soc.get(DRAM, MiB) == moved


def test_clearing_enable_stops_at_a_chunk_boundary(soc: Soc) -> None:
    soc.single(0, SRAM, DRAM, MiB)
    soc.single(1, SRAM, DRAM + MiB, MiB)
    soc.step(1000)
    soc.x("write dma.ch[0].ctrl en=0")  # one channel
    soc.w("dma.global_ctrl", 0)  # then the engine: starts are ignored from now on
    chunk = soc.dma.chunk_bytes
    soc.step(2 * chunk // 32)  # each may have a chunk on the shared link: two to drain
    for ch in (0, 1):
        st = soc.status(ch)
        assert st["busy"] == 0 and st["done"] == 0 and st["err"] == 0
        done = soc.r(f"dma.ch[{ch}].bytes_done")
        assert done % chunk == 0 and 0 < done < MiB
    soc.single(2, SRAM, DRAM, 0x100)
    assert soc.status(2)["busy"] == 0


# --------------------------------------------------------------------------------------------
# timing: bandwidth, concurrency, the NoC
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bpc", [32, 16, 24])
def test_bandwidth_coarse_mode(soc: Soc, bpc: int) -> None:
    soc.dma.bytes_per_cycle = bpc
    soc.single(0, SRAM, DRAM, MiB)
    cycles = soc.wait_idle(0)
    assert abs(MiB / cycles - bpc) / bpc < 0.05
    assert cycles == -(-MiB // bpc)  # exact in coarse mode


@pytest.mark.parametrize("at_once", [False, True])
def test_bandwidth_through_an_idle_noc(soc: Soc, at_once: bool) -> None:
    noc = FakeNoc(soc.sim.kernel, latency=20, at_once=at_once)
    soc.dma.noc = noc
    data = rand(MiB, 9)
    soc.put(SRAM, data)
    soc.single(0, SRAM, DRAM, MiB)
    soc.step(5000)
    assert soc.get(DRAM + soc.r("dma.ch[0].bytes_done"), 8) == bytes(8)  # lands when delivered
    cycles = soc.wait_idle(0) + 5000
    assert abs(MiB / cycles - 32) / 32 < 0.05
    assert cycles == MiB // 32 + 20 + 8 - 1  # the port's time plus the last packet's trip
    assert soc.get(DRAM, MiB) == data
    # packets run from the SRAM's node (0) to the DRAM's (the last of the 4x4 mesh)
    assert {(s, d) for _, s, d, _ in noc.sent} == {(0, 15)}
    assert sum(f for *_, f in noc.sent) * 32 == MiB
    # a slow NoC is felt: the channel stalls on its outstanding limit, data still lands
    soc.x("write dma.ch[0].status done=1")
    noc.latency = 5000
    soc.put(DRAM, bytes(MiB))
    soc.x("write dma.ch[0].ctrl start=1")
    slow = soc.wait_idle(0)
    assert slow > cycles + 5000
    assert soc.get(DRAM, MiB) == data


def test_noc_node_mapping_is_pluggable(soc: Soc) -> None:
    noc = FakeNoc(soc.sim.kernel, latency=3)
    soc.dma.noc = noc
    soc.dma.node_of = lambda a: 7 if a >= DRAM else 2
    soc.single(0, DRAM, SRAM, 0x1000)
    soc.wait_idle(0)
    assert {(s, d) for _, s, d, _ in noc.sent} == {(7, 2)}


def test_channels_run_concurrently(soc: Soc) -> None:
    data = rand(MiB // 2, 10)
    soc.put(SRAM, data)
    for ch in range(4):
        soc.single(ch, SRAM, DRAM + ch * MiB, len(data))
    assert soc.f("dma.global_status.ch_busy") == 0b1111
    cycles = soc.wait_idle(3)
    # the channels share the tile's link (one 32-byte flit a cycle), as over the mesh
    assert cycles == 4 * len(data) // 32
    for ch in range(4):
        assert soc.status(ch)["done"] == 1
        assert soc.get(DRAM + ch * MiB, len(data)) == data


# --------------------------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------------------------
def _program_trace(soc: Soc, noc: bool) -> list[Any]:
    trace: list[Any] = []
    soc.sim.context.events.dma.subscribe(trace.append)
    if noc:
        soc.dma.noc = FakeNoc(soc.sim.kernel, latency=11)
    soc.put(SRAM, rand(0x2_0000, 11))
    soc.put(SRAM + 0x8_0000, encode_descriptor(SRAM, DRAM, 0x8000, next=SRAM + 0x8_0040))
    soc.put(SRAM + 0x8_0040, encode_descriptor(SRAM, DRAM + 0x8000, 0x800, last=True))
    for i in range(3):
        soc.put(SRAM + 0x9_0000 + i * DESC_SIZE,
                encode_descriptor(SRAM + i * 0x1000, DRAM + 0x10_0000 + i * 0x1000, 0x1000))
    soc.single(0, SRAM, DRAM + 0x20_0000, 0x2_0000)
    soc.descriptors(1, "CHAIN", SRAM + 0x8_0000, 2)
    soc.descriptors(2, "RING", SRAM + 0x9_0000, 4, tail=1)
    snapshots = []
    paths = [r.path for r in soc.sim.regmap.select("dma")]
    for cycle in range(6000):
        if cycle == 700:
            soc.w("dma.ch[2].ring_tail", 3)
        soc.step(1)
        snapshots.append(tuple(soc.sim.regs.peek(p) for p in paths))
    return [snapshots, trace]


@pytest.mark.parametrize("noc", [False, True])
def test_same_program_same_trace(make_soc: Callable[..., Soc], noc: bool) -> None:
    first = _program_trace(make_soc(), noc)
    second = _program_trace(make_soc(), noc)
    assert first == second
    assert len(set(first[0])) > 10  # the registers did change along the way
    assert any(what == "done" for _, _, what, _ in first[1])


# --------------------------------------------------------------------------------------------
# the worked examples in docs/dma.md run as written
# --------------------------------------------------------------------------------------------
def _doc_blocks() -> list[list[str]]:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```socdbg\n(.*?)```", text, flags=re.S)
    return [[ln for ln in b.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            for b in blocks]


def test_docs_examples_run(soc: Soc) -> None:
    blocks = _doc_blocks()
    assert len(blocks) >= 3
    outputs: list[Any] = []
    for block in blocks:
        for line in block:
            outputs.append(soc.x(line))
    # the chain example's copies and the ring example's wrap-around
    assert soc.get(DRAM, 8) == soc.get(SRAM, 8) == soc.get(SRAM + 0x4000, 8) != bytes(8)
    assert soc.status(0) == {"busy": 0, "done": 1, "err": 0, "err_code": 0}
    assert soc.r("dma.ch[1].ring_head") == 1
    assert soc.status(1)["busy"] == 1 and soc.status(1)["done"] == 1
    assert soc.get(DRAM + 0x10_3000, 0x400) == soc.get(SRAM + 0x4_0000, 0x400)


def test_dma_over_the_real_mesh(make_soc: Callable[..., Soc]) -> None:
    """The default simulator moves DMA data through the NoC: sram (node 0) to dram (the last
    node) shows up in the routers' flit counters, and the data arrives intact."""
    soc = make_soc(target="sim")
    data = rand(4096, seed=3)
    soc.put(SRAM, data)
    soc.single(0, SRAM, DRAM, len(data))
    cycles = soc.wait_idle(0)
    assert soc.get(DRAM, len(data)) == data
    assert cycles >= len(data) // 32  # never faster than the port
    flits = sum(soc.r(f"noc.router[{r}].port[{p}].flits") for r in range(16) for p in range(5))
    assert flits > 0
