"""RegMap lookups: by path, by field, by address, by glob, children and free-text search."""

from __future__ import annotations

import pytest
from conftest_regmap import load_fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socdbg.errors import PathError
from socdbg.regmap import RegMap
from socdbg.regmap.regmap import glob_regex, is_glob, normalize_path

HYPO = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


# --- by path ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "dma.ch[2].status", "DMA.CH[2].STATUS", "Dma.Ch[2].Status", "  dma.ch[2].status  ",
    "dma . ch [ 2 ] . status", "dma.ch[ 2 ].status", "\tdma.ch[2].status\n",
])
def test_get_case_and_space_insensitive(ref: RegMap, text: str) -> None:
    reg = ref.get(text)
    assert reg.path == "dma.ch[2].status"
    assert reg.address == 0x4001_0184
    assert ref.find(text) == reg


def test_normalize_path() -> None:
    assert normalize_path(" DMA.CH[ 2 ].Status ") == "dma.ch[2].status"


def test_find_unknown_is_none(ref: RegMap) -> None:
    assert ref.find("dma.ch[2].stauts") is None
    assert ref.find("dma.ch[2]") is None  # a block, not a register
    assert ref.find("") is None


def test_unknown_register_suggests_close_match(ref: RegMap) -> None:
    with pytest.raises(PathError) as exc:
        ref.get("dma.ch[2].stauts")
    assert "dma.ch[2].stauts" in exc.value.message
    assert "'status'" in (exc.value.hint or "")


def test_unknown_index_says_array_range(ref: RegMap) -> None:
    with pytest.raises(PathError) as exc:
        ref.get("dma.ch[9].ctrl")
    hint = exc.value.hint or ""
    assert "array" in hint
    assert "ch[0]" in hint and "ch[3]" in hint
    assert "ch[9]" not in hint


def test_missing_index_says_array(ref: RegMap) -> None:
    with pytest.raises(PathError) as exc:
        ref.get("dma.ch.ctrl")
    assert "array" in (exc.value.hint or "")
    assert "ch[0]" in (exc.value.hint or "")


def test_unknown_index_range_of_array_with_ten_or_more_elements(ref: RegMap) -> None:
    with pytest.raises(PathError) as exc:
        ref.get("noc.router[16].coord")
    assert "router[0]..router[15]" in (exc.value.hint or "")


def test_unknown_block_suggests_close_match(ref: RegMap) -> None:
    with pytest.raises(PathError) as exc:
        ref.get("dmx.ctrl")
    assert "'dma'" in (exc.value.hint or "")
    assert "in the map" in exc.value.message


def test_unknown_without_close_match_lists_choices(ref: RegMap) -> None:
    with pytest.raises(PathError) as exc:
        ref.get("sysctrl.zzzzzzzz")
    hint = exc.value.hint or ""
    assert "chip_id" in hint and "sysctrl" in hint


def test_get_of_a_block_is_an_error(ref: RegMap) -> None:
    with pytest.raises(PathError):
        ref.get("dma")
    with pytest.raises(PathError):
        ref.get("dma.ch[2]")


def test_resolve_register_and_field(ref: RegMap) -> None:
    reg, fld = ref.resolve("dma.ch[2].status")
    assert reg.path == "dma.ch[2].status" and fld is None
    reg, fld = ref.resolve("DMA.CH[2].STATUS.DONE")
    assert reg.path == "dma.ch[2].status"
    assert fld is not None and fld.name == "done" and (fld.lsb, fld.msb) == (1, 1)
    reg, fld = ref.resolve("sysctrl.cycle.count")
    assert fld is not None and fld.width == 64


def test_resolve_unknown_field_hint(ref: RegMap) -> None:
    with pytest.raises(PathError) as exc:
        ref.resolve("dma.ch[2].status.dne")
    assert "dma.ch[2].status" in exc.value.message and "'dne'" in exc.value.message
    assert "'done'" in (exc.value.hint or "")
    with pytest.raises(PathError) as exc:
        ref.resolve("dma.ch[2].status.qqqqqq")
    assert "busy" in (exc.value.hint or "") and "err_code" in (exc.value.hint or "")


def test_resolve_unknown_register(ref: RegMap) -> None:
    with pytest.raises(PathError) as exc:
        ref.resolve("dma.ch[2].stauts.done")
    assert exc.value.hint  # points somewhere useful rather than failing silently


def test_is_block(ref: RegMap) -> None:
    assert ref.is_block("dma")
    assert ref.is_block("DMA.CH[1]")
    assert ref.is_block("noc.router[15].port[4]")
    assert not ref.is_block("dma.ch")  # an array name, not an element
    assert not ref.is_block("dma.ch[2].status")  # a register
    assert not ref.is_block("dm")
    assert not ref.is_block("dmx")


# --- by address ---------------------------------------------------------------------------


def test_every_byte_of_a_register_maps_to_it(ref: RegMap) -> None:
    for path in ("dma.ch[2].status", "dma.ch[0].src", "hbm.ecc_last_addr", "sysctrl.cycle"):
        reg = ref.get(path)
        for addr in range(reg.address, reg.end):
            assert ref.at(addr) == reg, (path, hex(addr))
            assert ref.all_at(addr) == [reg]
        assert ref.at(reg.end) != reg


def test_64bit_register_by_address(ref: RegMap) -> None:
    src = ref.get("dma.ch[0].src")
    assert ref.at(0x4001_0108 + 7) == src
    assert ref.at(0x4001_0110).path == "dma.ch[0].dst"
    assert ref.at(0x4001_0104 + 3).path == "dma.ch[0].status"
    assert src.fields_at(0x4001_010C)[0].name == "addr"


@pytest.mark.parametrize("addr", [
    0x0, 0x4000_000C, 0x4000_000F, 0x4000_0014, 0x4000_0038, 0x4000_1010, 0x4000_2000,
    0x4001_0008, 0x4001_0034, 0x4001_00FC, 0x4003_0008, 0x4003_0014, 0x4005_0060, 0x4005_0088,
    0x1000_0000, 0xFFFF_FFFF, 1 << 40,
])
def test_holes_map_to_none(ref: RegMap, addr: int) -> None:
    assert ref.at(addr) is None
    assert ref.all_at(addr) == []


def test_in_range(ref: RegMap) -> None:
    ch0 = ref.in_range(0x4001_0100, 0x4001_0140)
    assert [r.path for r in ch0] == [f"dma.ch[0].{n}" for n in (
        "ctrl", "status", "src", "dst", "len", "desc_count", "desc_base", "ring_head",
        "ring_tail", "bytes_done")]
    # partial overlap with a 64-bit register counts
    assert [r.path for r in ref.in_range(0x4001_010C, 0x4001_010D)] == ["dma.ch[0].src"]
    assert [r.path for r in ref.in_range(0x4001_010C, 0x4001_0111)] == ["dma.ch[0].src",
                                                                       "dma.ch[0].dst"]
    assert ref.in_range(0x4000_2000, 0x4001_0000) == []
    assert ref.in_range(0x4001_0100, 0x4001_0100) == []
    assert len(ref.in_range(0, 1 << 33)) == len(ref)


def test_all_at_registers_sharing_an_address() -> None:
    m = load_fixture("shared_addr.rdl")
    both = m.all_at(0x2)
    assert [r.path for r in both] == ["rx_data", "tx_data"]
    assert m.at(0x0).path == "rx_data"
    assert [r.path for r in m.all_at(0x4)] == ["after"]
    assert m.all_at(0x8) == []
    assert {r.path for r in m.select("*_data")} == {"rx_data", "tx_data"}


# --- globs --------------------------------------------------------------------------------


def test_glob_index_wildcard(ref: RegMap) -> None:
    regs = ref.glob("dma.ch[*].status")
    assert [r.path for r in regs] == [f"dma.ch[{i}].status" for i in range(4)]
    assert [r.address for r in regs] == sorted(r.address for r in regs)
    assert ref.select("DMA.CH[*].STATUS") == regs


def test_glob_star_matches_dots(ref: RegMap) -> None:
    got = [r.path for r in ref.glob("*.ctrl")]
    assert got == ["dma.ch[0].ctrl", "dma.ch[1].ctrl", "dma.ch[2].ctrl", "dma.ch[3].ctrl",
                   "noc.ctrl"]
    assert len(ref.glob("*")) == len(ref)
    assert len(ref.glob("noc.*")) == 259


def test_glob_index_range_inclusive(ref: RegMap) -> None:
    regs = ref.glob("noc.router[0:3].*")
    routers = {r.path.split(".")[1] for r in regs}
    assert routers == {"router[0]", "router[1]", "router[2]", "router[3]"}
    assert len(regs) == 4 * 16
    assert [r.address for r in regs] == sorted(r.address for r in regs)
    with pytest.raises(PathError, match="reversed index range"):
        ref.glob("noc.router[3:0].coord")
    assert [r.path for r in ref.glob("noc.router[ 14 : 15 ].coord")] == [
        "noc.router[14].coord", "noc.router[15].coord"]
    assert [r.path for r in ref.glob("dma.ch[2:2].ctrl")] == ["dma.ch[2].ctrl"]


def test_glob_question_mark(ref: RegMap) -> None:
    assert [r.path for r in ref.glob("dma.ch[2].statu?")] == ["dma.ch[2].status"]
    assert [r.path for r in ref.glob("mailbox.msg??")] == ["mailbox.msg64"]
    assert ref.glob("dma.ch[2].stat?") == []


def test_glob_matches_whole_path(ref: RegMap) -> None:
    assert ref.glob("dma.ch[1].ctr") == []
    assert ref.glob("ma.ch[1].ctrl") == []
    assert [r.path for r in ref.glob("dma.ch[1].ctrl")] == ["dma.ch[1].ctrl"]


def test_select_block(ref: RegMap) -> None:
    regs = ref.select("dma")
    assert len(regs) == 42
    assert all(r.path.startswith("dma.") for r in regs)
    assert [r.address for r in regs] == sorted(r.address for r in regs)
    ch = ref.select("DMA.CH[1]")
    assert [r.path for r in ch][:2] == ["dma.ch[1].ctrl", "dma.ch[1].status"]
    assert len(ch) == 10
    assert [r.path for r in ref.select("dma.ch[1].ctrl")] == ["dma.ch[1].ctrl"]


def test_select_array_element_block_is_exact(ref: RegMap) -> None:
    regs = ref.select("noc.router[1]")
    assert len(regs) == 16
    assert {r.path.split(".")[1] for r in regs} == {"router[1]"}  # not router[10..15]


def test_index_range_cost_does_not_grow_with_the_range(ref: RegMap) -> None:
    _, rx, _ = glob_regex("noc.router[0:20000].coord")
    assert len(rx.pattern) < 2000
    with pytest.raises(PathError, match=r"outside noc.router: its indices are 0..15"):
        ref.glob("noc.router[0:20000].coord")


@pytest.mark.parametrize(("pattern", "message"), [
    ("dma.ch[2:9].status", r"index range \[2:9\] is outside dma.ch: its indices are 0..3"),
    ("dma.ch[2:9].status.done", r"is outside dma.ch"),
    ("noc.router[0:1].port[0:9].flits", r"outside noc.router\[0:1\].port: its indices are 0..4"),
    ("dma.ch[3:1].ctrl", r"reversed index range '\[3:1\]'"),
])
def test_index_ranges_are_checked_not_clipped(ref: RegMap, pattern: str, message: str) -> None:
    with pytest.raises(PathError, match=message):
        ref.select_with_field(pattern)


def test_select_nothing_is_a_path_error(ref: RegMap) -> None:
    with pytest.raises(PathError):
        ref.select("dma.ch[*].nothing")
    with pytest.raises(PathError) as exc:
        ref.select("dmx")
    assert "'dma'" in (exc.value.hint or "")
    with pytest.raises(PathError):
        ref.select("zzz*")


@pytest.mark.parametrize("bad", ["dma.ch[2.status", "dma.ch[x].status", "dma.ch[1:x].ctrl"])
def test_bad_glob_syntax(ref: RegMap, bad: str) -> None:
    with pytest.raises(PathError):
        ref.glob(bad)


def test_is_glob() -> None:
    assert is_glob("dma.ch[*].status") and is_glob("*.ctrl") and is_glob("a?")
    assert is_glob("noc.router[0:3].*") and is_glob("noc.router[0:3].coord")
    assert not is_glob("dma.ch[2].status")


def test_glob_regex_prefix() -> None:
    prefix, rx, _ = glob_regex("DMA.CH[2].*")
    assert prefix == "dma.ch[2]."
    assert rx.fullmatch("dma.ch[2].status")
    prefix, _, ranges = glob_regex("noc.router[0:3].coord")
    assert ranges == [(0, 3)]
    assert prefix == "noc.router"


# --- children and search ------------------------------------------------------------------


def test_children(ref: RegMap) -> None:
    assert sorted(ref.children("")) == ["dma", "hbm", "intc", "mailbox", "noc", "pcie",
                                        "sysctrl"]
    dma = ref.children("dma.")
    assert set(dma) == {"global_ctrl", "global_status", "ch[0]", "ch[1]", "ch[2]", "ch[3]"}
    assert len(dma) == len(set(dma))
    assert set(ref.children("DMA.CH[2].")) == {
        "ctrl", "status", "src", "dst", "len", "desc_count", "desc_base", "ring_head",
        "ring_tail", "bytes_done"}
    noc = ref.children("noc.")
    assert {c for c in noc if c.startswith("router[")} == {f"router[{i}]" for i in range(16)}
    assert set(ref.children("noc.router[3].")) == {"coord"} | {f"port[{i}]" for i in range(5)}
    assert ref.children("nothing.") == []


def test_search_by_description_words(ref: RegMap) -> None:
    hits = ref.search("most recent ECC error")
    assert [r.path for r, _ in hits] == ["hbm.ecc_last_addr"]
    assert "description" in hits[0][1]


def test_search_by_field_name(ref: RegMap) -> None:
    hits = ref.search("lock_lost_cnt")
    assert [r.path for r, _ in hits] == ["sysctrl.pll_status"]
    assert "lock_lost_cnt" in hits[0][1]


def test_search_by_enum_member(ref: RegMap) -> None:
    hits = ref.search("LANE_REPAIR")
    assert [r.path for r, _ in hits] == ["hbm.train_status"]
    assert "LANE_REPAIR" in hits[0][1]
    hits = ref.search("misaligned")
    assert [r.path for r, _ in hits] == [f"dma.ch[{i}].status" for i in range(4)]


def test_search_by_path_and_limits(ref: RegMap) -> None:
    hits = ref.search("router[15].port")
    assert len(hits) == 15 and all(why == "path" for _, why in hits)
    assert len(ref.search("router", limit=5)) == 5
    assert ref.search("   ") == []
    assert ref.search("no-such-words-anywhere") == []
    addrs = [r.address for r, _ in ref.search("status")]
    assert addrs == sorted(addrs)


# --- properties ---------------------------------------------------------------------------


@given(data=st.data())
@HYPO
def test_prop_get_upper_case_path(ref: RegMap, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(list(ref.paths)))
    reg = ref.get(path.upper())
    assert reg.path == path
    assert ref.get(f"  {path}  ") == reg


@given(data=st.data())
@HYPO
def test_prop_at_returns_register_containing_address(ref: RegMap, data: st.DataObject) -> None:
    reg = data.draw(st.sampled_from(list(ref)))
    addr = data.draw(st.integers(reg.address, reg.end - 1))
    hit = ref.at(addr)
    assert hit is not None
    assert hit.address <= addr < hit.end
    assert hit == reg  # the reference map has no overlapping registers


@given(data=st.data())
@HYPO
def test_prop_glob_of_exact_path(ref: RegMap, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(list(ref.paths)))
    assert [r.path for r in ref.glob(path)] == [path]
    assert [r.path for r in ref.select(path)] == [path]


def _brute_glob(ref: RegMap, pattern: str) -> list[str]:
    """Every register whose path matches the glob's regex and index ranges, by full scan."""
    _, rx, ranges = glob_regex(pattern)
    out = []
    for r in ref:
        m = rx.fullmatch(r.path.lower())
        if m and all(a <= int(g) <= b for g, (a, b) in zip(m.groups(), ranges, strict=True)):
            out.append(r.path)
    return out


@given(pattern=st.text(alphabet="dmach[]*?.0123:stu", min_size=1, max_size=12))
@settings(max_examples=300, deadline=None)
def test_prop_glob_agrees_with_brute_force(ref: RegMap, pattern: str) -> None:
    try:
        brute = _brute_glob(ref, pattern)
    except PathError:
        return
    assert [r.path for r in ref.glob(pattern)] == brute


def test_glob_brute_force_examples(ref: RegMap) -> None:
    # the literal prefix shortcut must not drop matches of the full regex
    for pattern in ("d*", "dma*", "dma.ch[*]*", "*[3]*", "noc.router[1]*", "noc.router[1:2]*"):
        assert [r.path for r in ref.glob(pattern)] == _brute_glob(ref, pattern), pattern
    assert {p.split(".")[1] for p in _brute_glob(ref, "noc.router[1:2]*")} == {
        "router[1]", "router[2]"}
