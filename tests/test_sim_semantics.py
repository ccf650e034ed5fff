"""The simulator target: register semantics of every SystemRDL side effect, bus errors,
memories, the reference SoC's behaviours and the simulation kernel.

Register-level checks go through ``socdbg.access.read_register/write_register`` (what commands
use) on a SimTarget built from tests/fixtures/sim/semantics.rdl; byte-level checks call the
target's ``read``/``write`` directly.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socdbg.access import read_register, write_register
from socdbg.commands.session import Session
from socdbg.errors import TargetError
from socdbg.models.blocks import HBM_PHASE_CYCLES, PCIE_STATE_CYCLES, PLL_LOCK_CYCLES
from socdbg.models.kernel import Kernel
from socdbg.regmap import Access, Field, Layout, MapSource, Register, RegMap, decode
from socdbg.targets.sim import SimTarget

BUF = 0x10_0000  # semantics.rdl: 128 KiB memory "buf"
BUF_SIZE = 0x2_0000
PAGE = 0x1_0000


# --- helpers ---------------------------------------------------------------------------------
def rd(sim: SimTarget, path: str) -> int:
    return read_register(sim, sim.regmap.get(path))


def wr(sim: SimTarget, path: str, value: int) -> None:
    write_register(sim, sim.regmap.get(path), value)


def fields(sim: SimTarget, path: str) -> dict[str, int]:
    """A software read of ``path`` decoded into {field: value}."""
    reg = sim.regmap.get(path)
    return {fv.field.name: fv.value for fv in decode(reg, read_register(sim, reg)).fields}


def set_fields(sim: SimTarget, path: str, **values: int) -> None:
    """Read-modify-write of named fields through the bus (like ``write PATH f=v``)."""
    reg = sim.regmap.get(path)
    value = read_register(sim, reg)
    for name, v in values.items():
        fld = reg.field(name)
        assert fld is not None, name
        value = fld.insert(value, v)
    write_register(sim, reg, value)


def hw_field(sim: SimTarget, path: str, name: str) -> int:
    """The stored value of a field, no side effects."""
    return sim.regs.field(path, name)


def field_of(sim: SimTarget, path: str, name: str) -> Field:
    fld = sim.regmap.get(path).field(name)
    assert fld is not None
    return fld


@pytest.fixture
def sem(sem_map: RegMap) -> SimTarget:
    return SimTarget(sem_map)


@pytest.fixture
def soc(ref_map: RegMap) -> SimTarget:
    return SimTarget(ref_map)


# --- access rights ---------------------------------------------------------------------------
def test_reset_values_and_access_rights_on_read(sem: SimTarget) -> None:
    # f_r = 0xA5 (r), f_w = 0x5A (w: reads 0), f_rw = 0x3C
    assert rd(sem, "access") == 0x3C00A5
    assert sem.regs.peek("access") == 0x3C5AA5  # the hardware sees the write-only reset
    assert rd(sem, "lanes") == 0x33221100
    assert rd(sem, "wide32") == 0x0123456789ABCDEF
    assert rd(sem, "reserved") == 0x8000000F


def test_sw_r_ignores_writes_sw_w_reads_zero_sw_rw_round_trips(sem: SimTarget) -> None:
    wr(sem, "access", 0xFFFFFFFF)
    assert hw_field(sem, "access", "f_r") == 0xA5  # read-only: write ignored
    assert hw_field(sem, "access", "f_w") == 0xFF  # write-only: stored...
    assert fields(sem, "access") == {"f_r": 0xA5, "f_w": 0, "f_rw": 0xFF}  # ...but reads 0
    wr(sem, "access", 0)
    assert fields(sem, "access") == {"f_r": 0xA5, "f_w": 0, "f_rw": 0}
    assert hw_field(sem, "access", "f_w") == 0


def _na_map() -> RegMap:
    """sw = na cannot be compiled from SystemRDL (the compiler rejects it), so build the map
    by hand: one register with an na field and an rw field."""
    layout = Layout("na_reg", 32, 32, (
        Field("hidden", 0, 7, sw=Access.NA, hw=Access.RW, reset=0x77),
        Field("vis", 8, 15, sw=Access.RW, hw=Access.R, reset=0x12),
    ))
    return RegMap("na_map", [layout], ["na_reg"], array("Q", [0x100]), array("I", [0]), [],
                  MapSource(("<test>",), "na-map-identity"))


def test_sw_na_field_neither_reads_nor_writes() -> None:
    sim = SimTarget(_na_map())
    assert rd(sim, "na_reg") == 0x1200
    wr(sim, "na_reg", 0xFFFF)
    assert rd(sim, "na_reg") == 0xFF00
    assert hw_field(sim, "na_reg", "hidden") == 0x77
    sim.regs.hw_write("na_reg", 0x55, 0xFF)  # the hardware side may change it
    assert rd(sim, "na_reg") == 0xFF00


def test_w1_and_rw1_take_only_the_first_write_after_reset(sem: SimTarget) -> None:
    # once: f_w1[7:0] (w1, reset 0x11), f_rw1[15:8] (rw1, reset 0x22), plain[23:16] (rw)
    assert fields(sem, "once") == {"f_w1": 0, "f_rw1": 0x22, "plain": 0}  # w1 is not readable
    sem.write(0x06, b"\x99")  # a byte write to plain only does not use up the w1 fields
    wr(sem, "once", 0x554433)
    assert hw_field(sem, "once", "f_w1") == 0x33
    assert fields(sem, "once") == {"f_w1": 0, "f_rw1": 0x44, "plain": 0x55}
    wr(sem, "once", 0x887766)
    assert hw_field(sem, "once", "f_w1") == 0x33
    assert fields(sem, "once") == {"f_w1": 0, "f_rw1": 0x44, "plain": 0x88}
    sem.reset()
    assert hw_field(sem, "once", "f_w1") == 0x11
    assert fields(sem, "once")["f_rw1"] == 0x22
    wr(sem, "once", 0x0000AA)  # writable again after reset
    assert hw_field(sem, "once", "f_w1") == 0xAA
    assert fields(sem, "once")["f_rw1"] == 0


def test_onread_rclr_and_rset_return_the_value_then_act(sem: SimTarget) -> None:
    sem.regs.hw_set("onread", rc=0x5A, rs=0x12, keep=0x33)
    assert fields(sem, "onread") == {"rc": 0x5A, "rs": 0x12, "keep": 0x33}
    assert fields(sem, "onread") == {"rc": 0, "rs": 0xFF, "keep": 0x33}
    assert fields(sem, "onread") == {"rc": 0, "rs": 0xFF, "keep": 0x33}


def test_onread_side_effect_only_for_the_lanes_read(sem: SimTarget) -> None:
    sem.regs.hw_set("onread", rc=0x5A, rs=0x12, keep=0x33)
    assert sem.read(0x0A, 1) == b"\x33"  # only the keep byte
    assert hw_field(sem, "onread", "rc") == 0x5A
    assert hw_field(sem, "onread", "rs") == 0x12
    assert sem.read(0x08, 1) == b"\x5a"  # the rc byte: cleared, rs untouched
    assert hw_field(sem, "onread", "rc") == 0
    assert hw_field(sem, "onread", "rs") == 0x12


def test_software_writes_do_not_touch_onread_fields(sem: SimTarget) -> None:
    sem.regs.hw_set("onread", rc=0x5A)
    wr(sem, "onread", 0)
    assert hw_field(sem, "onread", "rc") == 0x5A


# 4-bit fields of "onwrite": (field, value before, value written, value after)
ONWRITE_CASES = [
    ("f_woclr", 0b1010, 0b0011, 0b1000),
    ("f_woclr", 0b1010, 0b0000, 0b1010),
    ("f_woset", 0b1010, 0b0101, 0b1111),
    ("f_woset", 0b1010, 0b0000, 0b1010),
    ("f_wot", 0b1010, 0b0110, 0b1100),
    ("f_wot", 0b1010, 0b0000, 0b1010),
    ("f_wzc", 0b1010, 0b0011, 0b0010),
    ("f_wzc", 0b1010, 0b1111, 0b1010),
    ("f_wzs", 0b1010, 0b0011, 0b1110),
    ("f_wzs", 0b1010, 0b1111, 0b1010),
    ("f_wzt", 0b1010, 0b0011, 0b0110),
    ("f_wzt", 0b1010, 0b1111, 0b1010),
    ("f_wclr", 0b1010, 0b0101, 0b0000),
    ("f_wclr", 0b1010, 0b0000, 0b0000),
    ("f_wset", 0b0010, 0b0000, 0b1111),
    ("f_wset", 0b0010, 0b0100, 0b1111),
]


@pytest.mark.parametrize(("name", "before", "written", "after"), ONWRITE_CASES,
                         ids=[f"{c[0]}-{c[2]:04b}" for c in ONWRITE_CASES])
def test_onwrite_semantics(sem: SimTarget, name: str, before: int, written: int, after: int
                           ) -> None:
    fld = field_of(sem, "onwrite", name)
    sem.regs.hw_write("onwrite", before << fld.lsb, fld.mask)
    write_register(sem, sem.regmap.get("onwrite"), written << fld.lsb)
    assert hw_field(sem, "onwrite", name) == after
    assert fields(sem, "onwrite")[name] == after


def test_onwrite_fields_are_independent(sem: SimTarget) -> None:
    """One write acts on every field by its own rule."""
    sem.regs.hw_write("onwrite", 0x0_0_A_A_A_A_A_A)  # every 4-bit field 0b1010, wclr/wset 0
    wr(sem, "onwrite", 0x0_0_3_3_3_6_5_3)
    assert fields(sem, "onwrite") == {
        "f_woclr": 0b1000, "f_woset": 0b1111, "f_wot": 0b1100, "f_wzc": 0b0010,
        "f_wzs": 0b1110, "f_wzt": 0b0110, "f_wclr": 0, "f_wset": 0xF}


def test_singlepulse_reads_zero_and_hooks_see_the_pulse(sem: SimTarget) -> None:
    seen: list[tuple[int, int]] = []
    sem.regs.on_write("pulse", lambda reg, old, new: seen.append((old, new)))
    wr(sem, "pulse", 0x4201)  # go=1, arg=0x42
    assert seen == [(0, 0x4201)]  # the observer sees the pulse...
    assert sem.regs.peek("pulse") == 0x4200  # ...then it is gone
    assert fields(sem, "pulse") == {"go": 0, "arg": 0x42}
    wr(sem, "pulse", 0x4200)
    assert seen[-1] == (0x4200, 0x4200)


def test_counters_are_driven_by_the_hardware_side(sem: SimTarget) -> None:
    assert field_of(sem, "counters", "events").counter
    sem.regs.hw_set("counters", events=1234)
    sem.regs.hw_write("counters", 0xFF << 16, 0xFF << 16)
    assert fields(sem, "counters") == {"events": 1234, "sat": 0xFF}
    wr(sem, "counters", 0)  # sw = r: software cannot reset a counter
    assert fields(sem, "counters") == {"events": 1234, "sat": 0xFF}
    sem.regs.hw_set("counters", events=1235)
    assert fields(sem, "counters")["events"] == 1235


def test_reserved_bits_read_zero_even_when_written_one(sem: SimTarget) -> None:
    wr(sem, "reserved", 0xFFFFFFFF)
    assert rd(sem, "reserved") == 0xF000000F
    assert sem.regs.peek("reserved") == 0xF000000F  # not stored either
    sem.regs.hw_write("reserved", 0x0FFFFFF0)  # even if the hardware side sets them
    assert rd(sem, "reserved") == 0
    assert sem.read(0x19, 1) == b"\x00"


def test_hooks_fire_on_write_and_before_read(sem: SimTarget) -> None:
    calls: list[str] = []

    def on_write(reg: Register, old: int, new: int) -> None:
        calls.append(f"w {reg.path} {old:#x}->{new:#x}")

    def on_read(reg: Register) -> None:
        calls.append(f"r {reg.path}")
        sem.regs.hw_write(reg, 0xBEEF, 0xFFFF)  # a refresher: the read sees its value

    sem.regs.on_write("after_hole", on_write)
    sem.regs.on_read("after_hole", on_read)
    wr(sem, "after_hole", 0x1234)
    assert rd(sem, "after_hole") == 0xBEEF
    sem.write(0x43, b"\x7f")  # a byte write fires the hook too
    assert calls == ["w after_hole 0x0->0x1234", "r after_hole",
                     "w after_hole 0xbeef->0x7f00beef"]


def test_sub_word_accesses_hit_only_their_lanes(sem: SimTarget) -> None:
    base = sem.regmap.get("lanes").address
    assert sem.read(base + 1, 1) == b"\x11"
    assert sem.read(base + 2, 2) == b"\x22\x33"
    sem.write(base + 2, b"\xab")
    assert sem.regs.peek("lanes") == 0x33AB1100
    sem.write(base, b"\xcd\xef")
    assert sem.regs.peek("lanes") == 0x33ABEFCD
    sem.write(base + 3, b"\x01")
    assert rd(sem, "lanes") == 0x01ABEFCD


def test_wide_register_halves(sem: SimTarget) -> None:
    reg = sem.regmap.get("wide32")
    assert sem.read(reg.address, 4) == (0x89ABCDEF).to_bytes(4, "little")
    assert sem.read(reg.address + 4, 4) == (0x01234567).to_bytes(4, "little")
    sem.write(reg.address + 4, (0xCAFEF00D).to_bytes(4, "little"))
    assert rd(sem, "wide32") == 0xCAFEF00D_89ABCDEF
    wr(sem, "wide64", 0x1122334455667788)
    assert sem.read(sem.regmap.get("wide64").address, 8) == bytes.fromhex("8877665544332211")


def test_whole_field_write_to_a_wide_w1c_field(sem: SimTarget) -> None:
    # whole-field writes are right
    sem.regs.hw_write("wide_w1c", 0xFFFF, 0xFFFF)
    sem.write(0x30, (0x0001).to_bytes(2, "little"))
    assert hw_field(sem, "wide_w1c", "flags") == 0xFFFE


def test_sub_word_write_to_w1c_field_keeps_the_other_lanes(sem: SimTarget) -> None:
    sem.regs.hw_write("wide_w1c", 0xFFFF, 0xFFFF)
    sem.write(0x30, b"\x01")  # write 1 to clear bit 0 through byte lane 0
    assert hw_field(sem, "wide_w1c", "flags") == 0xFFFE  # got 0x00FE: lane 1 cleared too
    sem.write(0x31, b"\x00")  # writing 0 to a w1c lane changes nothing
    assert hw_field(sem, "wide_w1c", "flags") == 0xFFFE


def test_sub_word_write_to_wot_field_keeps_the_other_lanes(sem: SimTarget) -> None:
    sem.regs.hw_write("wide_w1c", 0x0F0F << 16, 0xFFFF << 16)
    sem.write(0x32, b"\x01")  # toggle bit 0 of the field
    assert hw_field(sem, "wide_w1c", "toggles") == 0x0F0E


# --- bus errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "size"), [
    (0x34, 4),   # the hole between wide_w1c and after_hole
    (0x3C, 1),
    (0x30, 8),   # half register, half hole
    (0x48, 4),   # past the last register
    (0x8000, 4),
    (BUF - 4, 4),  # just below the memory
    (BUF + BUF_SIZE, 4),  # just past it
])
def test_unmapped_access_is_a_bus_error_never_zeros(sem: SimTarget, address: int, size: int
                                                    ) -> None:
    with pytest.raises(TargetError) as read_err:
        sem.read(address, size)
    assert read_err.value.message.startswith("bus error")
    with pytest.raises(TargetError) as write_err:
        sem.write(address, b"\xff" * size)
    assert write_err.value.message.startswith("bus error")
    with pytest.raises(TargetError, match=r"^bus error"):
        sem.read_block(address, size)


def test_a_failed_write_changes_nothing(sem: SimTarget) -> None:
    sem.regs.hw_write("wide_w1c", 0xFFFF, 0xFFFF)
    with pytest.raises(TargetError, match=r"^bus error"):
        sem.write(0x30, b"\xff" * 8)  # wide_w1c and the hole after it
    assert hw_field(sem, "wide_w1c", "flags") == 0xFFFF


def test_bus_error_hint_names_the_nearest_register(sem: SimTarget) -> None:
    with pytest.raises(TargetError) as err:
        sem.read(0x38, 4)
    assert err.value.hint is not None and "wide_w1c" in err.value.hint


@pytest.mark.parametrize(("address", "size"), [(0x1D, 2), (0x1E, 4), (0x24, 8), (BUF + 2, 4)])
def test_misaligned_access_is_refused(sem: SimTarget, address: int, size: int) -> None:
    with pytest.raises(TargetError, match="misaligned"):
        sem.read(address, size)
    with pytest.raises(TargetError, match="misaligned"):
        sem.write(address, bytes(size))


@pytest.mark.parametrize("size", [0, 3, 5, 16])
def test_illegal_access_size_is_refused(sem: SimTarget, size: int) -> None:
    with pytest.raises(TargetError, match="sizes are 1, 2, 4 or 8"):
        sem.read(0x00, size)
    with pytest.raises(TargetError, match="sizes are 1, 2, 4 or 8"):
        sem.write(0x00, bytes(size))


# --- memories --------------------------------------------------------------------------------
def test_memory_single_accesses_round_trip(sem: SimTarget) -> None:
    assert sem.read(BUF, 4) == bytes(4)  # unwritten memory reads 0
    sem.write(BUF, b"\x01\x02\x03\x04")
    sem.write(BUF + 8, (0x1122334455667788).to_bytes(8, "little"))
    sem.write(BUF + 5, b"\xaa")
    assert sem.read(BUF, 4) == b"\x01\x02\x03\x04"
    assert sem.read(BUF + 4, 4) == b"\x00\xaa\x00\x00"
    assert sem.read(BUF + 8, 8) == (0x1122334455667788).to_bytes(8, "little")
    assert sem.read(BUF + 2, 2) == b"\x03\x04"


def test_memory_blocks_cross_64k_pages(sem: SimTarget) -> None:
    data = bytes(range(256)) * 3
    start = BUF + PAGE - 100  # straddles the first page boundary
    sem.write_block(start, data)
    assert sem.read_block(start, len(data)) == data
    assert sem.read(BUF + PAGE, 4) == data[100:104]
    assert sem.read(BUF + PAGE - 4, 4) == data[96:100]
    assert sem.read_block(start - 16, 16) == bytes(16)


def test_memory_end_is_usable_and_past_the_end_errors(sem: SimTarget) -> None:
    end = BUF + BUF_SIZE
    sem.write(end - 8, b"\x11" * 8)
    sem.write_block(end - 64, b"\x22" * 56)
    assert sem.read(end - 8, 8) == b"\x11" * 8
    assert sem.read_block(end - 64, 64) == b"\x22" * 56 + b"\x11" * 8
    with pytest.raises(TargetError, match=r"^bus error.*past the end"):
        sem.read_block(end - 8, 16)
    with pytest.raises(TargetError, match=r"^bus error.*past the end"):
        sem.write_block(end - 4, bytes(8))
    assert sem.read(end - 8, 8) == b"\x11" * 8  # the failed write left the end alone


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, BUF_SIZE - 1), st.binary(min_size=1, max_size=300)),
                max_size=12))
def test_memory_behaves_like_a_bytearray(sem_map: RegMap, ops: list[tuple[int, bytes]]) -> None:
    sim = SimTarget(sem_map)
    model = bytearray(BUF_SIZE)
    ops = [(offset, data[: BUF_SIZE - offset]) for offset, data in ops]
    for offset, data in ops:
        sim.write_block(BUF + offset, data)
        model[offset : offset + len(data)] = data
    for offset, data in ops:
        assert sim.read_block(BUF + offset, len(data)) == bytes(model[offset : offset + len(data)])
    assert sim.read_block(BUF + PAGE - 512, 1024) == bytes(model[PAGE - 512 : PAGE + 512])


def test_reset_restores_registers_and_keeps_memory(sem: SimTarget) -> None:
    wr(sem, "lanes", 0xDEADBEEF)
    wr(sem, "access", 0)
    sem.write_block(BUF + PAGE - 2, b"keep me")
    sem.reset()
    assert rd(sem, "lanes") == 0x33221100
    assert rd(sem, "access") == 0x3C00A5
    assert sem.read_block(BUF + PAGE - 2, 7) == b"keep me"


# --- the reference SoC -----------------------------------------------------------------------
def release(sim: SimTarget, *blocks: str) -> None:
    set_fields(sim, "sysctrl.rst_ctrl", **{f"{b}_rst": 0 for b in blocks})


def lock_pll(sim: SimTarget) -> None:
    set_fields(sim, "sysctrl.pll_ctrl", en=1)
    sim.step(PLL_LOCK_CYCLES)
    assert fields(sim, "sysctrl.pll_status")["lock"] == 1


def test_soc_reset_values(soc: SimTarget) -> None:
    assert rd(soc, "sysctrl.chip_id") == 0x5D0C0A01
    assert fields(soc, "sysctrl.revision") == {"major": 1, "minor": 0, "stepping": 1}
    assert fields(soc, "sysctrl.rst_ctrl") == dict.fromkeys(
        ["dma_rst", "noc_rst", "hbm_rst", "pcie_rst", "mailbox_rst"], 1)
    assert fields(soc, "sysctrl.pll_ctrl") == {"en": 0, "bypass": 0, "refdiv": 1,
                                               "fbdiv": 0x3C, "postdiv": 4}


@pytest.mark.parametrize("start_at", [0, 777])
def test_pll_locks_exactly_pll_lock_cycles_after_enable(soc: SimTarget, start_at: int) -> None:
    soc.step(start_at)
    set_fields(soc, "sysctrl.pll_ctrl", en=1)
    soc.step(PLL_LOCK_CYCLES - 1)
    assert fields(soc, "sysctrl.pll_status")["lock"] == 0
    soc.step(1)
    assert soc.now == start_at + PLL_LOCK_CYCLES
    assert fields(soc, "sysctrl.pll_status") == {"lock": 1, "lock_lost_cnt": 0}


def test_pll_rewriting_en_1_does_not_restart_the_lock_timer(soc: SimTarget) -> None:
    set_fields(soc, "sysctrl.pll_ctrl", en=1)
    soc.step(1000)
    set_fields(soc, "sysctrl.pll_ctrl", en=1, postdiv=2)
    soc.step(PLL_LOCK_CYCLES - 1000)
    assert fields(soc, "sysctrl.pll_status")["lock"] == 1


def test_pll_unlock_counts_lost_locks(soc: SimTarget) -> None:
    lock_pll(soc)
    set_fields(soc, "sysctrl.pll_ctrl", en=0)
    assert fields(soc, "sysctrl.pll_status") == {"lock": 0, "lock_lost_cnt": 1}
    lock_pll(soc)
    set_fields(soc, "sysctrl.pll_ctrl", en=0)
    assert fields(soc, "sysctrl.pll_status") == {"lock": 0, "lock_lost_cnt": 2}


def test_pll_disabled_before_lock_never_locks_and_counts_nothing(soc: SimTarget) -> None:
    set_fields(soc, "sysctrl.pll_ctrl", en=1)
    soc.step(PLL_LOCK_CYCLES - 1)
    set_fields(soc, "sysctrl.pll_ctrl", en=0)
    soc.step(10 * PLL_LOCK_CYCLES)
    assert fields(soc, "sysctrl.pll_status") == {"lock": 0, "lock_lost_cnt": 0}


def test_hbm_training_is_ignored_while_hbm_is_in_reset(soc: SimTarget) -> None:
    lock_pll(soc)
    set_fields(soc, "hbm.train_ctrl", start=1)
    soc.step(10 * HBM_PHASE_CYCLES)
    assert rd(soc, "hbm.train_status") == 0
    assert fields(soc, "intc.status")["hbm_train_done"] == 0


def test_hbm_training_fails_without_pll_lock(soc: SimTarget) -> None:
    release(soc, "noc", "hbm")
    set_fields(soc, "hbm.train_ctrl", start=1)
    status = fields(soc, "hbm.train_status")
    assert status["fail"] == 1 and status["busy"] == 0
    soc.step(10 * HBM_PHASE_CYCLES)
    status = fields(soc, "hbm.train_status")
    assert status["fail"] == 1 and status["busy"] == 0 and status["phase"] != 8


def test_hbm_reset_aborts_training(soc: SimTarget) -> None:
    lock_pll(soc)
    release(soc, "noc", "hbm")
    set_fields(soc, "hbm.train_ctrl", start=1)
    soc.step(2 * HBM_PHASE_CYCLES)
    set_fields(soc, "sysctrl.rst_ctrl", hbm_rst=1)
    soc.step(10 * HBM_PHASE_CYCLES)
    status = fields(soc, "hbm.train_status")
    assert (status["busy"], status["done"]) == (0, 0)
    assert fields(soc, "intc.status")["hbm_train_done"] == 0


def test_hbm_training_completes(soc: SimTarget) -> None:
    lock_pll(soc)
    release(soc, "noc", "hbm")
    set_fields(soc, "hbm.train_ctrl", start=1)
    assert fields(soc, "hbm.train_ctrl")["start"] == 0  # singlepulse
    status = fields(soc, "hbm.train_status")
    assert (status["busy"], status["done"], status["phase"]) == (1, 0, 1)  # PHY_INIT
    soc.step(HBM_PHASE_CYCLES)
    assert fields(soc, "hbm.train_status")["phase"] == 2  # ZQ_CAL
    soc.step(6 * HBM_PHASE_CYCLES - 1)  # 7 phases in all
    assert fields(soc, "hbm.train_status")["done"] == 0
    assert fields(soc, "intc.status")["hbm_train_done"] == 0
    soc.step(1)
    reg = soc.regmap.get("hbm.train_status")
    d = decode(reg, read_register(soc, reg))
    assert (d["done"], d["busy"], d["fail"]) == (1, 0, 0)
    assert next(fv for fv in d.fields if fv.field.name == "phase").enum_name == "DONE"
    assert fields(soc, "intc.status")["hbm_train_done"] == 1


def test_intc_pending_is_status_and_enable(soc: SimTarget) -> None:
    set_fields(soc, "intc.test_set", dma_ch0=1, mailbox=1, noc_err=1)
    assert rd(soc, "intc.test_set") == 0  # singlepulse, write-only
    status = fields(soc, "intc.status")
    assert (status["dma_ch0"], status["mailbox"], status["noc_err"], status["dma_ch1"]) == (
        1, 1, 1, 0)
    assert rd(soc, "intc.pending") == 0  # nothing enabled
    set_fields(soc, "intc.enable", mailbox=1, dma_ch1=1)
    assert fields(soc, "intc.pending")["mailbox"] == 1
    assert rd(soc, "intc.pending") == rd(soc, "intc.status") & rd(soc, "intc.enable")
    mailbox = field_of(soc, "intc.status", "mailbox")
    wr(soc, "intc.status", 0)  # writing 0 to w1c bits changes nothing
    assert fields(soc, "intc.status")["mailbox"] == 1
    wr(soc, "intc.status", mailbox.mask)  # w1c
    assert fields(soc, "intc.status")["mailbox"] == 0
    assert fields(soc, "intc.status")["dma_ch0"] == 1
    assert rd(soc, "intc.pending") == 0
    set_fields(soc, "intc.test_set", dma_ch1=1)
    assert fields(soc, "intc.pending")["dma_ch1"] == 1
    wr(soc, "intc.pending", 0xFFFFFFFF)  # read-only
    assert fields(soc, "intc.pending")["dma_ch1"] == 1


def test_mailbox_doorbell_sets_status_and_interrupt(soc: SimTarget) -> None:
    release(soc, "mailbox")
    wr(soc, "mailbox.msg[3]", 0xFEEDF00D)
    set_fields(soc, "mailbox.doorbell", db3=1)
    assert rd(soc, "mailbox.doorbell") == 0
    assert fields(soc, "mailbox.doorbell_status")["db3"] == 1
    assert rd(soc, "mailbox.doorbell_status") == 1 << 3
    assert fields(soc, "intc.status")["mailbox"] == 1
    assert rd(soc, "mailbox.msg[3]") == 0xFEEDF00D
    wr(soc, "mailbox.doorbell_status", 1 << 3)  # acknowledge
    assert rd(soc, "mailbox.doorbell_status") == 0


def test_mailbox_doorbell_does_nothing_while_in_reset(soc: SimTarget) -> None:
    set_fields(soc, "mailbox.doorbell", db0=1)
    assert rd(soc, "mailbox.doorbell_status") == 0
    assert fields(soc, "intc.status")["mailbox"] == 0


def test_pcie_link_trains_to_l0_after_reset_release(soc: SimTarget) -> None:
    soc.step(5 * PCIE_STATE_CYCLES)
    assert fields(soc, "pcie.link_status")["up"] == 0  # held in reset: nothing happens
    release(soc, "pcie")
    assert fields(soc, "pcie.link_status")["ltssm"] == 0  # DETECT
    soc.step(PCIE_STATE_CYCLES)
    assert fields(soc, "pcie.link_status")["ltssm"] == 1  # POLLING
    soc.step(PCIE_STATE_CYCLES)
    assert fields(soc, "pcie.link_status")["ltssm"] == 2  # CONFIG
    soc.step(PCIE_STATE_CYCLES - 1)
    assert fields(soc, "pcie.link_status")["up"] == 0
    soc.step(1)
    reg = soc.regmap.get("pcie.link_status")
    d = decode(reg, read_register(soc, reg))
    names = {fv.field.name: fv.enum_name for fv in d.fields}
    assert d["up"] == 1
    assert names["ltssm"] == "L0"
    assert names["width"] == "X16"
    assert names["speed"] == "GEN5"  # target_speed resets to GEN5
    assert fields(soc, "intc.status")["pcie_link"] == 1


def test_pcie_reset_again_drops_the_link(soc: SimTarget) -> None:
    release(soc, "pcie")
    soc.step(3 * PCIE_STATE_CYCLES)
    assert fields(soc, "pcie.link_status")["up"] == 1
    wr(soc, "intc.status", field_of(soc, "intc.status", "pcie_link").mask)  # acknowledge
    set_fields(soc, "sysctrl.rst_ctrl", pcie_rst=1)
    assert fields(soc, "pcie.link_status")["up"] == 0
    assert fields(soc, "intc.status")["pcie_link"] == 1  # the link went down: a change
    soc.step(5 * PCIE_STATE_CYCLES)
    assert fields(soc, "pcie.link_status")["up"] == 0


def test_pcie_retrain_goes_through_recovery(soc: SimTarget) -> None:
    release(soc, "pcie")
    soc.step(3 * PCIE_STATE_CYCLES)
    set_fields(soc, "pcie.link_ctrl", retrain=1)
    assert fields(soc, "pcie.link_ctrl")["retrain"] == 0  # singlepulse
    status = fields(soc, "pcie.link_status")
    assert (status["up"], status["ltssm"]) == (0, 4)  # RECOVERY


def test_pcie_retrain_comes_back_to_l0(soc: SimTarget) -> None:
    release(soc, "pcie")
    soc.step(3 * PCIE_STATE_CYCLES)
    set_fields(soc, "pcie.link_ctrl", retrain=1)
    assert fields(soc, "pcie.link_status")["up"] == 0
    soc.step(3 * PCIE_STATE_CYCLES)
    status = fields(soc, "pcie.link_status")
    assert (status["up"], status["ltssm"]) == (1, 3)


def _coord(sim: SimTarget, i: int) -> tuple[int, int]:
    c = fields(sim, f"noc.router[{i}].coord")
    return c["x"], c["y"]


def test_noc_router_coordinates_4x4(soc: SimTarget) -> None:
    assert fields(soc, "noc.mesh_dim") == {"x": 4, "y": 4}
    assert soc.regmap.find("noc.router[16].coord") is None
    assert [_coord(soc, i) for i in (0, 1, 3, 4, 5, 15)] == [
        (0, 0), (1, 0), (3, 0), (0, 1), (1, 1), (3, 3)]
    wr(soc, "noc.router[5].coord", 0)  # tied off: read-only
    soc.reset()
    assert _coord(soc, 5) == (1, 1)  # and still right after a chip reset


def test_noc_router_coordinates_8x8_session() -> None:
    session = Session(target="sim:mesh=8x8")
    try:
        sim = session.target
        assert isinstance(sim, SimTarget)
        assert session.map is sim.regmap
        assert fields(sim, "noc.mesh_dim") == {"x": 8, "y": 8}
        assert session.map.find("noc.router[63].coord") is not None
        assert session.map.find("noc.router[64].coord") is None
        assert [_coord(sim, i) for i in (0, 7, 8, 9, 63)] == [
            (0, 0), (7, 0), (0, 1), (1, 1), (7, 7)]
    finally:
        session.close()


def test_sysctrl_cycle_counts_core_cycles_since_the_pll_locked(soc: SimTarget) -> None:
    soc.step(500)
    assert rd(soc, "sysctrl.cycle") == 0  # no core clock before the PLL locks
    lock_pll(soc)
    locked_at = soc.now
    soc.step(12345)
    assert rd(soc, "sysctrl.cycle") == 12345 == soc.now - locked_at
    addr = soc.regmap.get("sysctrl.cycle").address
    soc.step(2**32)
    assert int.from_bytes(soc.read(addr, 8), "little") == 12345 + 2**32  # one 64-bit access


def test_sysctrl_cycle_holds_its_value_while_the_pll_is_unlocked(soc: SimTarget) -> None:
    lock_pll(soc)
    soc.step(1000)
    set_fields(soc, "sysctrl.pll_ctrl", en=0)
    soc.step(500)
    assert rd(soc, "sysctrl.cycle") == 1000


def test_run_until_on_the_cycle_counter_stops_at_the_first_cycle(soc: SimTarget) -> None:
    reg = soc.regmap.get("sysctrl.cycle")
    lock_pll(soc)
    locked_at = soc.now
    assert soc.run_until(lambda: read_register(soc, reg) >= 100, 10_000)
    assert soc.now == locked_at + 100
    assert not soc.run_until(lambda: read_register(soc, reg) >= 10**9, 5_000)
    assert soc.now == locked_at + 5_100


# --- the kernel ------------------------------------------------------------------------------
def test_same_cycle_events_fire_by_priority_then_scheduling_order() -> None:
    k = Kernel()
    order: list[str] = []

    def ev(name: str) -> Callable[[], None]:
        return lambda: order.append(name)

    k.schedule(5, ev("a-p1"), priority=1)
    k.schedule(5, ev("b-p0"), priority=0)
    k.schedule(5, ev("c-p0"), priority=0)
    k.schedule(5, ev("d-m1"), priority=-1)
    k.schedule(4, ev("e-t4"), priority=9)
    k.schedule(6, ev("f-t6"), priority=-9)
    k.step(10)
    assert order == ["e-t4", "d-m1", "b-p0", "c-p0", "a-p1", "f-t6"]


def test_events_scheduled_while_firing_run_in_the_same_cycle_and_cancel_works() -> None:
    k = Kernel()
    trace: list[tuple[int, str]] = []
    k.schedule(3, lambda: (trace.append((k.now, "x")),
                           k.schedule(0, lambda: trace.append((k.now, "x0")))))
    dead = k.schedule(3, lambda: trace.append((k.now, "cancelled")))
    dead.cancel()
    k.step(3)
    assert trace == [(3, "x"), (3, "x0")]
    assert k.now == 3
    with pytest.raises(ValueError):
        k.schedule(-1, lambda: None)


def test_step_fires_an_event_on_the_last_cycle_not_before() -> None:
    k = Kernel()
    fired: list[int] = []
    k.schedule(100, lambda: fired.append(k.now))
    k.step(99)
    assert fired == [] and k.now == 99
    k.step(1)
    assert fired == [100]


def test_run_until_stops_at_the_first_cycle_the_condition_holds() -> None:
    k = Kernel()
    state = {"n": 0}
    for t in (10, 20, 30, 40):
        k.schedule(t, lambda: state.update(n=state["n"] + 1))
    assert k.run_until(lambda: state["n"] >= 3, 1000)
    assert k.now == 30
    assert state["n"] == 3  # the event at 40 has not fired


def test_run_until_with_a_ticker_checks_every_cycle() -> None:
    k = Kernel()
    ticks: list[int] = []
    handle = k.add_ticker(ticks.append)
    assert k.run_until(lambda: len(ticks) >= 37, 1000)
    assert k.now == 37 and ticks[-1] == 37
    k.remove_ticker(handle)
    k.step(5)
    assert len(ticks) == 37


def test_run_until_already_true_does_not_advance() -> None:
    k = Kernel()
    k.step(7)
    assert k.run_until(lambda: True, 100)
    assert k.now == 7


def test_run_until_returns_false_at_max_cycles() -> None:
    k = Kernel()
    late: list[int] = []
    k.schedule(500, lambda: late.append(k.now))
    k.step(3)
    assert k.run_until(lambda: False, 250) is False
    assert k.now == 253
    assert late == []
    assert k.run_until(lambda: bool(late), 1000)
    assert k.now == 500


def test_run_until_on_time_itself_finds_the_first_cycle() -> None:
    k = Kernel()
    k.schedule(500, lambda: None)
    assert k.run_until(lambda: k.now >= 123, 1000)
    assert k.now == 123
    assert k.run_until(lambda: k.now >= 777, 1000)  # across the event at 500
    assert k.now == 777


def test_run_until_false_with_no_events_at_all() -> None:
    k = Kernel()
    assert k.run_until(lambda: False, 12_345) is False
    assert k.now == 12_345


def _kernel_trace(seed: int) -> list[tuple[int, int, str]]:
    rng = random.Random(seed)
    k = Kernel()
    trace: list[tuple[int, int, str]] = []

    def make(name: str, depth: int) -> Callable[[], None]:
        def act() -> None:
            trace.append((k.now, depth, name))
            if depth < 3:
                for j in range(rng.randint(0, 2)):
                    k.schedule(rng.randint(0, 5), make(f"{name}.{j}", depth + 1),
                               priority=rng.randint(-1, 1))
        return act

    for i in range(40):
        k.schedule(rng.randint(0, 50), make(f"e{i}", 0), priority=rng.randint(-2, 2))
    k.run_until(lambda: False, 200)
    return trace


def _soc_trace(ref_map: RegMap) -> list[tuple[int, dict[str, int]]]:
    sim = SimTarget(ref_map)
    set_fields(sim, "sysctrl.pll_ctrl", en=1)
    set_fields(sim, "sysctrl.rst_ctrl", noc_rst=0, hbm_rst=0, pcie_rst=0, mailbox_rst=0)
    sim.step(PLL_LOCK_CYCLES)
    set_fields(sim, "hbm.train_ctrl", start=1)
    set_fields(sim, "mailbox.doorbell", db1=1)
    watched = ["sysctrl.pll_status", "hbm.train_status", "pcie.link_status", "intc.status",
               "mailbox.doorbell_status", "sysctrl.cycle"]
    out = []
    for _ in range(30):
        sim.step(173)
        out.append((sim.now, {p: rd(sim, p) for p in watched}))
    return out


def test_identical_runs_give_identical_traces(ref_map: RegMap) -> None:
    first = _kernel_trace(1234)
    assert len(first) > 40
    assert first == _kernel_trace(1234)
    assert [t for t, _, _ in first] == sorted(t for t, _, _ in first)
    soc_first = _soc_trace(ref_map)
    assert soc_first == _soc_trace(ref_map)
    assert soc_first[-1][1]["intc.status"] != 0
