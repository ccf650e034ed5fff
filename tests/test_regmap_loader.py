"""SystemRDL loader: the reference SoC map and one small fixture per modelled property."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from conftest_regmap import INCDIR, RDL, load_fixture, load_reference, write_rdl

from socdbg.errors import MapError
from socdbg.regmap import Access, OnRead, OnWrite, RegMap, decode, encode, load_map


@pytest.fixture(scope="module")
def fields_map() -> RegMap:
    return load_fixture("fields.rdl")


@pytest.fixture(scope="module")
def arrays_map() -> RegMap:
    return load_fixture("arrays.rdl")


def load_fixture_path(path: Path, **kw: object) -> RegMap:
    return load_map([path], **kw)  # type: ignore[arg-type]


# --- the reference SoC --------------------------------------------------------------------


def test_reference_map_register_count(ref: RegMap) -> None:
    assert ref.name == "soc"
    assert len(ref) == 332
    assert len(list(ref)) == 332
    per_block: dict[str, int] = {}
    for p in ref.paths:
        block = p.split(".", 1)[0]
        per_block[block] = per_block.get(block, 0) + 1
    assert per_block == {"sysctrl": 7, "intc": 4, "dma": 42, "noc": 259, "hbm": 5, "pcie": 4,
                         "mailbox": 11}


def test_reference_map_iterates_in_address_order_without_overlap(ref: RegMap) -> None:
    regs = list(ref)
    assert [r.address for r in regs] == sorted(r.address for r in regs)
    assert len({r.path for r in regs}) == len(regs)
    for a, b in itertools.pairwise(regs):
        assert a.end <= b.address, (a.path, b.path)
    assert [r.path for r in regs] == list(ref.paths)
    assert ref[0].path == regs[0].path == "sysctrl.chip_id"


@pytest.mark.parametrize(("path", "address"), [
    ("sysctrl.chip_id", 0x4000_0000),
    ("sysctrl.cycle", 0x4000_0030),
    ("intc.test_set", 0x4000_100C),
    ("dma.global_ctrl", 0x4001_0000),
    ("dma.ch[0].ctrl", 0x4001_0100),
    ("dma.ch[2].status", 0x4001_0184),
    ("dma.ch[3].bytes_done", 0x4001_01F0),
    ("noc.mesh_dim", 0x4002_0004),
    ("noc.router[0].coord", 0x4002_1000),
    ("noc.router[5].port[3].stalls", 0x4002_0000 + 0x1000 + 5 * 0x80 + 0x10 + 3 * 0x10 + 4),
    ("noc.router[15].port[4].buf_occ", 0x4002_0000 + 0x1000 + 15 * 0x80 + 0x50 + 8),
    ("hbm.ecc_err_cnt", 0x4003_0010),
    ("hbm.cfg", 0x4003_0020),
    ("pcie.aer_corr_status", 0x4004_0014),
    ("mailbox.msg[7]", 0x4005_005C),
    ("mailbox.msg64", 0x4005_0080),
])
def test_reference_addresses(ref: RegMap, path: str, address: int) -> None:
    assert ref.get(path).address == address


def test_reference_widths(ref: RegMap) -> None:
    src = ref.get("dma.ch[0].src")
    assert (src.width, src.accesswidth, src.size) == (64, 32, 8)
    assert src.end == 0x4001_0110
    assert src.field("addr").bits == "[63:0]"
    ecc = ref.get("hbm.ecc_last_addr")
    assert (ecc.width, ecc.accesswidth, ecc.size) == (64, 32, 8)
    assert ref.get("mailbox.msg64").accesswidth == 32
    assert ref.get("dma.ch[0].status").width == 32
    base = ref.get("dma.ch[1].desc_base").field("addr")
    assert (base.lsb, base.msb, base.width) == (6, 63, 58)


def test_reference_resets(ref: RegMap) -> None:
    assert ref.get("sysctrl.chip_id").layout.reset == 0x5D0C_0A01
    assert ref.get("hbm.cfg").layout.reset == 0x0101_0C30
    assert ref.get("noc.mesh_dim").layout.reset == 0x0404
    coord = ref.get("noc.router[3].coord")
    assert coord.layout.reset_mask == 0  # tied off per instance: no reset given
    assert all(f.reset is None for f in coord.fields)


def test_reference_enum(ref: RegMap) -> None:
    mode = ref.get("dma.ch[1].ctrl").field("mode")
    assert mode is not None and mode.enum is not None
    assert mode.enum.name == "dma_mode_e"
    assert [(m.name, m.value) for m in mode.enum.members] == [
        ("SINGLE", 0), ("CHAIN", 1), ("RING", 2)]
    assert mode.enum.by_name("ring").value == 2
    assert mode.enum.by_value(1).name == "CHAIN"
    assert mode.enum.by_value(3) is None
    assert mode.enum.by_name("RING").description.startswith("Process descriptors in a ring")
    err_code = ref.get("dma.ch[0].status").field("err_code")
    assert err_code.reset == 0 and err_code.enum.by_value(4).name == "BAD_DESC"


def test_reference_memories(ref: RegMap) -> None:
    sram = ref.memory("sram")
    dram = ref.memory("DRAM")
    assert sram is not None and dram is not None
    assert (sram.address, sram.size, sram.width, sram.entries) == (0x1000_0000, 1 << 20, 32,
                                                                   262144)
    assert (dram.address, dram.size, dram.width) == (0x8000_0000, 1 << 30, 64)
    assert sram.sw is Access.RW
    assert [m.path for m in ref.memories] == ["sram", "dram"]
    assert ref.memory("flash") is None
    assert ref.memory_at(0x1000_0000) == sram
    assert ref.memory_at(0x1000_0000 + (1 << 20) - 1) == sram
    assert ref.memory_at(0x1000_0000 + (1 << 20)) is None
    assert ref.memory_at(0x0FFF_FFFF) is None
    assert ref.memory_at(0xBFFF_FFFF) == dram
    assert ref.memory_at(0xC000_0000) is None
    assert ref.at(0x1000_0000) is None  # memories are not registers
    assert sram.contains(0x1000_0000, 4) and not sram.contains(0x100F_FFFE, 4)


def test_reference_udp_flags(ref: RegMap) -> None:
    assert ref.get("dma.global_ctrl").layout.write_effects
    assert ref.get("dma.ch[2].ctrl").layout.write_effects
    assert not ref.get("dma.ch[2].status").layout.write_effects
    ecc = ref.get("hbm.ecc_err_cnt").layout
    assert ecc.unsafe_read and ecc.read_side_effect
    assert ecc.fields[0].onread is OnRead.RCLR and ecc.fields[0].counter
    assert ref.get("hbm.cfg").layout.unsafe_write
    rst = ref.get("sysctrl.rst_ctrl").layout
    assert rst.unsafe_write and rst.write_effects and not rst.unsafe_read
    assert not ref.get("sysctrl.scratch").layout.read_side_effect


def test_reference_with_8x8_mesh() -> None:
    big = load_reference({"MESH_X": "8", "MESH_Y": "8"})
    routers = {p.split(".")[1] for p in big.paths if p.startswith("noc.router[")}
    assert len(routers) == 64
    assert routers == {f"router[{i}]" for i in range(64)}
    assert len(big) == 332 + (64 - 16) * 16
    assert big.get("noc.router[63].port[4].buf_occ").address == (
        0x4002_0000 + 0x1000 + 63 * 0x80 + 0x50 + 8)
    assert big.get("noc.mesh_dim").layout.reset == 0x0808
    assert big.identity != load_reference().identity


# --- fields -------------------------------------------------------------------------------


def test_field_bits_and_masks(fields_map: RegMap) -> None:
    reg = fields_map.get("bits")
    assert [f.name for f in reg.fields] == ["lo", "single", "mid", "top"]  # sorted by lsb
    lo, single, mid, top = reg.fields
    assert (lo.lsb, lo.msb, lo.width, lo.max, lo.mask, lo.bits) == (0, 3, 4, 0xF, 0xF, "[3:0]")
    assert (single.lsb, single.msb, single.mask, single.bits) == (4, 4, 0x10, "[4]")
    assert (mid.lsb, mid.msb, mid.mask) == (8, 15, 0xFF00)
    assert (top.lsb, top.msb, top.mask) == (31, 31, 0x8000_0000)
    assert reg.layout.field_mask == 0x8000_FF1F
    assert not any(f.msb0 for f in reg.fields)
    assert reg.field("MID") is mid
    assert reg.field("nope") is None
    assert mid.extract(0x1234_5678) == 0x56
    assert mid.insert(0xFFFF_FFFF, 0x12) == 0xFFFF_12FF


def test_field_reset_int_and_unknown(fields_map: RegMap) -> None:
    reg = fields_map.get("bits")
    assert [f.reset for f in reg.fields] == [0xA, None, 0x5A, 1]
    assert reg.layout.reset == 0x8000_5A0A
    assert reg.layout.reset_mask == 0x8000_FF0F  # 'single' has no reset


def test_field_reset_from_reference_is_unknown(fields_map: RegMap) -> None:
    reg = fields_map.get("reset_ref")
    from_field, from_signal, constant = reg.fields
    assert from_field.name == "from_field" and from_field.reset is None
    assert from_signal.name == "from_signal" and from_signal.reset is None
    assert constant.reset == 7
    assert reg.layout.reset == 0x700
    assert reg.layout.reset_mask == 0xF00


@pytest.mark.parametrize(("name", "sw", "hw"), [
    ("sw_r", Access.R, Access.W),
    ("sw_w", Access.W, Access.R),
    ("sw_rw", Access.RW, Access.RW),
    ("sw_w1", Access.W1, Access.R),
    ("sw_rw1", Access.RW1, Access.R),
    ("hw_na", Access.RW, Access.NA),
])
def test_field_access(fields_map: RegMap, name: str, sw: Access, hw: Access) -> None:
    fld = fields_map.get("access").field(name)
    assert (fld.sw, fld.hw) == (sw, hw)


def test_access_readable_writable() -> None:
    assert [a.value for a in Access if a.readable] == ["r", "rw", "rw1"]
    assert [a.value for a in Access if a.writable] == ["w", "rw", "w1", "rw1"]
    assert not Access.NA.readable and not Access.NA.writable


def test_sw_na_field_is_a_compile_error(tmp_path: Path) -> None:
    # SystemRDL has no software-inaccessible fields; sw = na is refused by the compiler.
    src = write_rdl(tmp_path / "na.rdl", "addrmap t {\n  reg { field { sw = na; hw = rw; } a[0:0];"
                    " } r @0;\n};\n")
    with pytest.raises(MapError) as exc:
        load_fixture_path(src)
    assert exc.value.message.startswith(f"{src}:2:")


def test_field_onread(fields_map: RegMap) -> None:
    reg = fields_map.get("onread_reg")
    assert reg.field("clr_on_read").onread is OnRead.RCLR
    assert reg.field("set_on_read").onread is OnRead.RSET
    assert reg.field("plain").onread is None
    assert reg.field("clr_on_read").read_side_effect
    assert not reg.field("plain").read_side_effect
    assert reg.layout.read_side_effect and not reg.layout.unsafe_read
    assert fields_map.get("bits").layout.read_side_effect is False


@pytest.mark.parametrize(("name", "onwrite"), [
    ("f_woclr", OnWrite.WOCLR), ("f_woset", OnWrite.WOSET), ("f_wot", OnWrite.WOT),
    ("f_wzc", OnWrite.WZC), ("f_wzs", OnWrite.WZS), ("f_wzt", OnWrite.WZT),
    ("f_wclr", OnWrite.WCLR), ("f_wset", OnWrite.WSET), ("go", None), ("plain", None),
])
def test_field_onwrite(fields_map: RegMap, name: str, onwrite: OnWrite | None) -> None:
    assert fields_map.get("onwrite_reg").field(name).onwrite == onwrite


def test_field_singlepulse_counter_effects(fields_map: RegMap) -> None:
    reg = fields_map.get("onwrite_reg")
    go, events, plain = reg.field("go"), reg.field("events"), reg.field("plain")
    assert go.singlepulse and not go.counter and go.effects == "singlepulse"
    assert events.counter and not events.singlepulse and events.effects == "counter"
    assert not plain.singlepulse and not plain.counter and plain.effects == ""
    assert reg.field("f_woclr").effects == "woclr"
    assert fields_map.get("onread_reg").field("clr_on_read").effects == "rclr"
    assert reg.field("f_wclr").width == 4
    assert [f.reset for f in reg.fields if f.name.startswith("f_wz")] == [1, 1, 1]


def test_field_enum_with_descriptions(fields_map: RegMap) -> None:
    color = fields_map.get("enum_reg").field("color")
    assert color.description == "Selected colour."
    assert color.reset == 1
    assert color.enum.name == "color_e"
    assert [(m.name, m.value, m.description) for m in color.enum.members] == [
        ("RED", 0, "The colour red."),
        ("GREEN", 1, "The colour green."),
        ("BLUE", 3, "Blue; the value 2 is not named."),
    ]


def test_64bit_registers(fields_map: RegMap) -> None:
    wide = fields_map.get("wide")
    assert (wide.width, wide.accesswidth, wide.size, wide.address, wide.end) == (
        64, 64, 8, 0x30, 0x38)
    _low, high = wide.fields
    assert (high.lsb, high.msb, high.mask) == (40, 63, 0xFFFF_FF00_0000_0000)
    assert wide.layout.reset == (0xABCDEF << 40) | 0x1234
    split = fields_map.get("wide_split")
    assert (split.width, split.accesswidth, split.address) == (64, 32, 0x38)
    assert split.field("value").max == (1 << 48) - 1
    assert fields_map.get("wide").layout.name == "Wide"  # the RDL 'name' property
    assert fields_map.get("wide").description == "A 64-bit register read in one access."


def test_reserved_gaps(fields_map: RegMap) -> None:
    assert [(r.path, r.address) for r in fields_map][-4:] == [
        ("reset_ref", 0x28), ("wide", 0x30), ("wide_split", 0x38), ("last", 0x100)]
    for addr in (0x10, 0x14, 0x1F, 0x2C, 0x40, 0xFF, 0x104):
        assert fields_map.at(addr) is None, hex(addr)
    assert fields_map.in_range(0x10, 0x20) == []
    assert [r.path for r in fields_map.in_range(0x40, 0x104)] == ["last"]


# --- msb0 ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def msb0_map() -> RegMap:
    return load_fixture("msb0.rdl")


def test_msb0_field_model(msb0_map: RegMap) -> None:
    reg = msb0_map.get("be_reg")
    a, b, flag = reg.fields
    assert (a.name, a.lsb, a.msb, a.width, a.mask, a.msb0) == ("a", 0, 7, 8, 0xFF, True)
    assert (b.name, b.lsb, b.msb, b.mask, b.msb0) == ("b", 8, 15, 0xFF00, True)
    assert (flag.lsb, flag.msb, flag.msb0) == (31, 31, False)  # one bit has no order
    assert a.reset == 5


def test_msb0_field_value_is_bit_reversed(msb0_map: RegMap) -> None:
    reg = msb0_map.get("be_reg")
    a = reg.field("a")
    # register bit 0 is the field's most significant bit
    assert decode(reg, 0x0000_0001)["a"] == 0x80
    assert a.extract(0x80) == 0x01
    assert encode(reg, [("a", "1")], 0) & 0xFF == 0x80
    # reset value 5 = 0b0000_0101 sits as 0b1010_0000 in register bits 0..7
    assert reg.layout.reset & 0xFF == 0xA0


# --- arrays, nesting, memories ------------------------------------------------------------


def test_regfile_array_strides(arrays_map: RegMap) -> None:
    for i in range(3):
        assert arrays_map.get(f"blk[{i}].a").address == 0x100 + i * 0x20
        assert arrays_map.get(f"blk[{i}].b").address == 0x104 + i * 0x20
    assert arrays_map.find("blk[3].a") is None
    # elements share one layout object
    assert arrays_map.get("blk[0].a").layout is arrays_map.get("blk[2].a").layout


def test_multi_dimensional_array(arrays_map: RegMap) -> None:
    got = {r.path: r.address for r in arrays_map.glob("grid*")}
    want = {f"grid[{i}][{j}]": 0x200 + (i * 3 + j) * 8 for i in range(2) for j in range(3)}
    assert got == want
    assert [r.path for r in arrays_map.glob("grid[1][*]")] == [
        "grid[1][0]", "grid[1][1]", "grid[1][2]"]


def test_nested_regfile_arrays(arrays_map: RegMap) -> None:
    got = {r.path: r.address for r in arrays_map.glob("outer[*].*")}
    want: dict[str, int] = {}
    for i in range(2):
        base = 0x400 + i * 0x40
        want[f"outer[{i}].ctl"] = base
        for k in range(2):
            want[f"outer[{i}].inner[{k}].a"] = base + 0x10 + k * 0x10
            want[f"outer[{i}].inner[{k}].b"] = base + 0x14 + k * 0x10
    assert got == want
    assert len(arrays_map) == 6 + 6 + 10


def test_memory_regions(arrays_map: RegMap) -> None:
    ram, rom = arrays_map.memories
    assert (ram.path, ram.address, ram.entries, ram.width, ram.size, ram.end) == (
        "ram", 0x10000, 256, 32, 1024, 0x10400)
    assert (rom.path, rom.address, rom.entries, rom.width, rom.size) == (
        "rom", 0x20000, 16, 64, 128)
    assert ram.sw is Access.RW and rom.sw is Access.R
    assert ram.description == "Scratch RAM."
    assert arrays_map.memory_at(0x103FF) == ram
    assert arrays_map.memory_at(0x10400) is None
    assert arrays_map.memory_at(0x2007F) == rom


# --- user-defined properties --------------------------------------------------------------


def test_udp_flags_inherited_from_blocks() -> None:
    m = load_fixture("udp_inherit.rdl")
    flags = {r.path: (r.layout.unsafe_read, r.layout.unsafe_write, r.layout.write_effects)
             for r in m}
    assert flags == {
        "rd.a": (True, False, False),        # from the regfile
        "rd.b": (True, False, False),
        "fx[0].a": (False, False, True),     # from a regfile type, every array element
        "fx[1].a": (False, False, True),
        "own": (False, True, True),          # set on the register itself
        "plain": (False, False, False),
        "sub.x": (False, True, False),       # from an addrmap
    }
    assert m.get("rd.a").layout.read_side_effect
    mems = {mem.path: (mem.unsafe_read, mem.unsafe_write) for mem in m.memories}
    assert mems == {"sub.buf": (False, True), "fifo": (True, False)}


# --- include paths ------------------------------------------------------------------------


def test_include_paths() -> None:
    m = load_fixture("include_top.rdl", include_paths=(INCDIR,))
    assert [(r.path, r.address) for r in m] == [("common.common_reg", 0x0),
                                                ("leaf.leaf_reg", 0x100)]


def test_include_missing_without_include_path(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MapError) as exc:
        load_fixture("include_top.rdl", use_cache=False)
    path = RDL / "include_top.rdl"
    assert exc.value.message.startswith(f"{path}:4: ")
    assert "inc_common.rdl" in exc.value.message
    assert capfd.readouterr().err == ""


def test_top_selects_the_addrmap(tmp_path: Path) -> None:
    src = write_rdl(tmp_path / "two.rdl", """
addrmap first_t { reg { field { sw = rw; hw = r; } a[0:0]; } r1 @0; };
addrmap second_t { reg { field { sw = rw; hw = r; } b[0:0]; } r2 @4; };
""")
    assert load_fixture_path(src, top="first_t").paths == ["r1"]
    assert load_fixture_path(src, top="second_t").paths == ["r2"]
    with pytest.raises(MapError) as exc:
        load_fixture_path(src, top="third_t")
    assert "third_t" in exc.value.message


def test_several_sources_compile_together() -> None:
    both = [RDL / "arrays.rdl", RDL / "codec.rdl"]
    assert load_map(both).name == "codec_top"  # the compiler elaborates the last addrmap
    m = load_map(both, top="arrays_top")
    assert m.name == "arrays_top" and len(m) == 22
    assert m.source.files == tuple(str(p.resolve()) for p in both)
    assert m.source.top == "arrays_top"


def test_shared_address_registers_load() -> None:
    m = load_fixture("shared_addr.rdl")
    assert [(r.path, r.address) for r in m] == [("rx_data", 0), ("tx_data", 0), ("after", 4)]


# --- compile errors -----------------------------------------------------------------------


def _no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    out, err = capfd.readouterr()
    assert err == ""
    assert "Traceback" not in out


def test_syntax_error_is_a_map_error(capfd: pytest.CaptureFixture[str]) -> None:
    path = RDL / "syntax_error.rdl"
    with pytest.raises(MapError) as exc:
        load_fixture("syntax_error.rdl")
    msg = exc.value.message
    assert re.match(rf"{re.escape(str(path))}:\d+: ", msg), msg
    assert msg.startswith(f"{path}:4: ")  # the '}' after the missing ';'
    assert "missing ';'" in msg
    assert "\n" not in msg
    _no_traceback(capfd)


def test_semantic_error_is_a_map_error(capfd: pytest.CaptureFixture[str]) -> None:
    path = RDL / "semantic_error.rdl"
    with pytest.raises(MapError) as exc:
        load_fixture("semantic_error.rdl")
    msg = exc.value.message
    assert msg.startswith(f"{path}:4: ")
    assert "overlaps" in msg and "'b[2:1]'" in msg
    _no_traceback(capfd)


def test_error_in_included_file_names_that_file(tmp_path: Path,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    bad = write_rdl(tmp_path / "inc" / "bad.rdl",
                    "addrmap bad_t {\n  reg { field { sw = rw; hw = r; } a[0:0]; } x @0;\n"
                    "  reg { field { sw = rw; hw = r; } a[0:0]; } x @4;\n};\n")
    top = write_rdl(tmp_path / "top.rdl", '`include "bad.rdl"\naddrmap t { bad_t b @0; };\n')
    with pytest.raises(MapError) as exc:
        load_fixture_path(top, include_paths=[tmp_path / "inc"])
    assert exc.value.message.startswith(f"{bad.resolve()}:3: ")
    _no_traceback(capfd)


def test_more_errors_hint_counts_only_real_errors(tmp_path: Path) -> None:
    with pytest.raises(MapError) as exc:
        load_fixture("semantic_error.rdl")
    assert exc.value.hint is None  # the file has exactly one error
    two = write_rdl(tmp_path / "two.rdl", "addrmap t {\n"
                    "  reg { field { sw = rw; hw = r; } a[3:0]; field { sw = rw; hw = r; } b[2:1];"
                    " } x @0x0;\n"
                    "  reg { field { sw = rw; hw = r; } a[3:0]; field { sw = rw; hw = r; } b[2:1];"
                    " } y @0x4;\n};\n")
    with pytest.raises(MapError) as exc:
        load_fixture_path(two)
    assert exc.value.hint == "1 more error(s)"


def test_missing_file_is_a_map_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "gone.rdl"
    with pytest.raises(MapError) as exc:
        load_fixture_path(missing)
    assert "gone.rdl" in exc.value.message
    assert str(missing) in exc.value.message
    with pytest.raises(MapError):
        load_fixture_path(missing, use_cache=False)
    _no_traceback(capfd)


def test_user_defined_side_effects_load() -> None:
    m = load_fixture("user_effects.rdl")
    assert str(m.get("rd_user").field("a").onread) == "ruser"
    assert str(m.get("wr_user").field("a").onwrite) == "wuser"
