"""Value codec: decode, read-modify-write encode with neutral values, validation, parse_int."""

from __future__ import annotations

import pytest
from conftest_regmap import load_fixture
from hypothesis import given, settings
from hypothesis import strategies as st

import socdbg.regmap.codec as codec
from socdbg.errors import EncodeError
from socdbg.regmap import Field, OnWrite, Register, RegMap, decode, encode, parse_int
from socdbg.regmap.codec import check_whole, compose, neutral, parse_assignments

HYPO = settings(max_examples=200, deadline=None)


@pytest.fixture(scope="module")
def cmap() -> RegMap:
    return load_fixture("codec.rdl")


@pytest.fixture(scope="module")
def mix(cmap: RegMap) -> Register:
    return cmap.get("mix")


@pytest.fixture
def no_compose(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every call of codec.compose; a rejected encode must not make one."""
    calls: list[object] = []
    real = codec.compose

    def spy(*args: object, **kwargs: object) -> int:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(codec, "compose", spy)
    return calls


# --- decode -------------------------------------------------------------------------------


def test_decode_fields_and_enum_names(ref: RegMap) -> None:
    reg = ref.get("dma.ch[1].ctrl")
    d = decode(reg, 0x0000_0121)
    assert d.value == 0x121 and d.register == reg
    assert d["en"] == 1 and d["start"] == 0 and d["mode"] == 2 and d["irq_en"] == 1
    assert d["MODE"] == 2
    by_name = {fv.field.name: fv for fv in d.fields}
    assert by_name["mode"].enum_name == "RING"
    assert by_name["mode"].text == "RING (2)"
    assert not by_name["mode"].enum_unknown
    assert by_name["en"].enum_name is None and by_name["en"].text == "1"
    assert d.summary() == "reduce=NONE irq_en=1 mode=RING start=0 en=1"  # MSB first
    assert d.summary(exclude=["START", "irq_en", "reduce"]) == "mode=RING en=1"
    assert d.reserved_bits == 0
    with pytest.raises(KeyError):
        d["nope"]


def test_decode_multibit_text_is_hex(ref: RegMap) -> None:
    d = decode(ref.get("sysctrl.chip_id"), 0x5D0C_0A01)
    assert d["vendor"] == 0x5D0C and d["part"] == 0x0A01
    assert [fv.text for fv in d.fields] == ["0xa01", "0x5d0c"]


def test_decode_unknown_enum_value_is_not_an_error(ref: RegMap) -> None:
    d = decode(ref.get("dma.ch[0].status"), 7 << 8)
    fv = next(fv for fv in d.fields if fv.field.name == "err_code")
    assert fv.value == 7
    assert fv.enum_name is None
    assert fv.enum_unknown
    assert fv.text == "<unknown 7>"
    assert "err_code=<unknown 7>" in d.summary()
    width = next(fv for fv in decode(ref.get("pcie.link_status"), 3 << 8).fields
                 if fv.field.name == "width")
    assert width.text == "<unknown 3>"


def test_decode_reserved_bits_and_64bit(ref: RegMap) -> None:
    d = decode(ref.get("dma.ch[0].ctrl"), 0xFFFF_FFFF)
    assert d.reserved_bits == 0xFFFF_FFFF & ~0x7133
    wide = decode(ref.get("dma.ch[0].desc_base"), 0xFFFF_FFFF_FFFF_FFFF)
    assert wide["addr"] == (1 << 58) - 1
    assert wide.reserved_bits == 0x3F


# --- encode: read-modify-write ------------------------------------------------------------


def test_encode_keeps_other_fields(ref: RegMap) -> None:
    reg = ref.get("dma.ch[1].ctrl")
    # start (singlepulse) must not be re-fired; reserved bits are written as 0
    assert encode(reg, [("mode", "RING")], 0xFFFF_FFFF) == 0x7121  # reduce kept
    assert encode(reg, [("mode", "chain"), ("en", "1")], 0) == 0x11
    assert encode(reg, [("mode", "0")], 0x103) == 0x101
    assert encode(reg, [("start", "1")], 0x121) == 0x123


def test_encode_w1c_status_does_not_clear_other_bits(ref: RegMap) -> None:
    reg = ref.get("dma.ch[0].status")
    cur = 0x0000_0307  # busy, done, err set, err_code 3
    assert encode(reg, [("done", "1")], cur) == 0x0000_0303
    assert encode(reg, [("err", "1")], cur) == 0x0000_0305


def test_encode_neutral_values(mix: Register) -> None:
    ones = (1 << 32) - 1
    value = encode(mix, [("plain_a", "5")], ones)
    d = decode(mix, value)
    assert d["plain_a"] == 5
    assert d["mode"] == 3 and d["plain_b"] == 0xFF and d["ro"] == 0xF
    assert d["w1c"] == 0 and d["w1s"] == 0 and d["w1t"] == 0       # write-one: 0 does nothing
    assert d["go"] == 0                                            # singlepulse: do not fire
    assert d["w0c"] == 0b111 and d["w0s"] == 0b11 and d["w0t"] == 1  # write-zero: ones
    # with all zeros read back, the write-zero fields still get ones
    d0 = decode(mix, encode(mix, [("plain_a", "5")], 0))
    assert (d0["w0c"], d0["w0s"], d0["w0t"]) == (0b111, 0b11, 1)
    assert (d0["w1c"], d0["w1s"], d0["w1t"], d0["go"]) == (0, 0, 0, 0)
    assert value & ~mix.layout.field_mask == 0


def test_encode_named_side_effect_field_wins(mix: Register) -> None:
    d = decode(mix, encode(mix, [("w1c", "1"), ("w0c", "0"), ("go", "1")], 0))
    assert (d["w1c"], d["w0c"], d["go"]) == (1, 0, 1)


def test_neutral_per_field_kind(mix: Register) -> None:
    ones = (1 << 32) - 1
    want = {"w1c": 0, "w1s": 0, "w1t": 0, "w0c": 7, "w0s": 3, "w0t": 1, "go": 0,
            "plain_a": 0xF, "ro": 0xF, "wc": 1, "wo": 1}
    for name, value in want.items():
        assert neutral(mix.field(name), ones) == value, name
    assert neutral(mix.field("w0c"), 0) == 7
    assert neutral(mix.field("plain_a"), 0x3) == 3


def test_compose_and_parse_assignments(mix: Register) -> None:
    resolved = parse_assignments(mix, [("MODE", "halt"), ("plain_b", "0x12")])
    assert [(f.name, v) for f, v in resolved] == [("mode", 2), ("plain_b", 0x12)]
    value = compose(mix, resolved, 0)
    assert decode(mix, value)["mode"] == 2 and decode(mix, value)["plain_b"] == 0x12
    assert value == encode(mix, [("MODE", "halt"), ("plain_b", "0x12")], 0)


def test_encode_64bit(cmap: RegMap) -> None:
    wide = cmap.get("wide")
    assert encode(wide, [("hi", "0xdead_beef")], 0x1234) == (0xDEADBEEF << 32) | 0x1234
    assert encode(wide, [("lo", "0")], (1 << 64) - 1) == 0xFFFF_FFFF_0000_0000


# --- encode: rejections -------------------------------------------------------------------


def test_reject_unknown_field(ref: RegMap, no_compose: list[object]) -> None:
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("dma.ch[1].ctrl"), [("en", "1"), ("mdoe", "RING")], 0)
    assert "'mdoe'" in exc.value.message and "dma.ch[1].ctrl" in exc.value.message
    assert "'mode'" in (exc.value.hint or "")
    assert no_compose == []


def test_reject_value_too_big(ref: RegMap, no_compose: list[object]) -> None:
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("dma.ch[1].ctrl"), [("mode", "4")], 0)
    assert "dma.ch[1].ctrl.mode" in exc.value.message
    assert "0..0x3" in str(exc.value)
    assert "RING" in str(exc.value)
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("sysctrl.scratch"), [("value", "0x1_0000_0000")], 0)
    assert "sysctrl.scratch.value" in exc.value.message
    assert "0..0xffffffff" in str(exc.value)
    assert no_compose == []


def test_reject_negative(ref: RegMap, no_compose: list[object]) -> None:
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("sysctrl.scratch"), [("value", "-1")], 0)
    assert "sysctrl.scratch.value" in exc.value.message
    assert no_compose == []


def test_reject_unknown_enum_name(ref: RegMap, no_compose: list[object]) -> None:
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("dma.ch[1].ctrl"), [("mode", "RNG")], 0)
    assert "dma.ch[1].ctrl.mode" in exc.value.message and "'RNG'" in exc.value.message
    assert "'RING'" in (exc.value.hint or "")
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("dma.ch[1].ctrl"), [("mode", "zzzzzz")], 0)
    assert "SINGLE" in (exc.value.hint or "") and "CHAIN" in (exc.value.hint or "")
    assert no_compose == []


def test_reject_non_number_without_enum(ref: RegMap, no_compose: list[object]) -> None:
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("sysctrl.scratch"), [("value", "lots")], 0)
    assert "not a number" in exc.value.message
    assert no_compose == []


def test_reject_read_only_field(ref: RegMap, no_compose: list[object]) -> None:
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("dma.ch[0].status"), [("done", "1"), ("busy", "0")], 0)
    assert "dma.ch[0].status.busy" in exc.value.message
    assert "read-only" in exc.value.message
    with pytest.raises(EncodeError):
        encode(ref.get("sysctrl.chip_id"), [("vendor", "0")], 0)
    assert no_compose == []


def test_reject_duplicate_assignment(ref: RegMap, no_compose: list[object]) -> None:
    with pytest.raises(EncodeError) as exc:
        encode(ref.get("dma.ch[1].ctrl"), [("en", "1"), ("EN", "0")], 0)
    assert "twice" in exc.value.message
    assert no_compose == []


def test_accept_write_only_and_w1_fields(cmap: RegMap, ref: RegMap) -> None:
    assert decode(cmap.get("mix"), encode(cmap.get("mix"), [("wo", "1")], 0))["wo"] == 1
    assert encode(ref.get("intc.test_set"), [("noc_err", "1")], 0) == 1 << 8


def test_check_whole(ref: RegMap) -> None:
    reg = ref.get("sysctrl.scratch")
    check_whole(reg, 0)
    check_whole(reg, 0xFFFF_FFFF)
    with pytest.raises(EncodeError) as exc:
        check_whole(reg, 1 << 32)
    assert "sysctrl.scratch" in exc.value.message and "0xffffffff" in (exc.value.hint or "")
    with pytest.raises(EncodeError):
        check_whole(reg, -1)
    check_whole(ref.get("sysctrl.cycle"), (1 << 64) - 1)


# --- parse_int ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("42", 42), ("  42  ", 42), ("+42", 42), ("-42", -42), ("007", 7), ("00", 0),
    ("1_000", 1000), ("1_000_000", 1_000_000),
    ("0x2a", 42), ("0X2A", 42), ("0x_2a", 42), ("0xdead_beef", 0xDEADBEEF), ("-0x10", -16),
    ("0b101010", 42), ("0B1010_1010", 0xAA), ("0o52", 42), ("0O777", 0o777),
    ("8'h2a", 42), ("8'H2A", 42), ("'h2a", 42), ("32'hdead_beef", 0xDEADBEEF),
    ("4'b1010", 10), ("8'd255", 255), ("6'o52", 42), ("1'b1", 1), ("64'hffff_ffff_ffff_ffff",
                                                                    (1 << 64) - 1),
])
def test_parse_int_forms(text: str, value: int) -> None:
    assert parse_int(text) == value


@pytest.mark.parametrize("text", [
    "", " ", "abc", "0x", "0b", "0b102", "0o8", "1.5", "1e3", "0x2g", "1__0", "1_", "_1",
    "8'h", "8'hxz", "8'd1f", "8'b102", "2a", "0x 2a", "RING", "--1",
])
def test_parse_int_rejects(text: str) -> None:
    assert parse_int(text) is None


@pytest.mark.parametrize("text", ["4'hff", "8'd256"])
def test_parse_int_sized_literal_too_wide_says_so(text: str) -> None:
    with pytest.raises(EncodeError, match="does not fit its own"):
        parse_int(text)


def test_encode_refuses_a_value_the_enum_does_not_name(ref: RegMap) -> None:
    reg = ref.get("dma.ch[0].ctrl")
    with pytest.raises(EncodeError) as exc:
        encode(reg, [("mode", "3")], 0)
    assert "not a value of dma_mode_e" in exc.value.message
    assert "RING=2" in (exc.value.hint or "")


@given(st.integers(min_value=0, max_value=(1 << 80)))
@HYPO
def test_prop_parse_int_round_trips(n: int) -> None:
    for text in (str(n), hex(n), bin(n), oct(n), f"{n:_}", f"{n:#_x}", f"{n:#_b}",
                 hex(n).upper().replace("X", "x"), f"'h{n:x}", f"{max(n.bit_length(), 1)}'h{n:x}",
                 f"{max(n.bit_length(), 1)}'b{n:b}", f"'d{n}", f"'o{n:o}"):
        assert parse_int(text) == n, text
        assert parse_int(f"  {text} ") == n, text
    assert parse_int(f"-{n:#x}") == -n
    assert parse_int(f"-{n}") == -n


# --- properties of encode/decode ----------------------------------------------------------


def _writable(reg: Register) -> list[Field]:
    return [f for f in reg.fields if f.sw.writable]


def _plain(f: Field) -> bool:
    return f.onwrite is None and not f.singlepulse


@given(data=st.data())
@HYPO
def test_prop_encode_decode_round_trip(ref: RegMap, cmap: RegMap, data: st.DataObject) -> None:
    regs = [r for r in [*ref, *cmap] if _writable(r)]
    reg = data.draw(st.sampled_from(regs), label="register")
    fld = data.draw(st.sampled_from(_writable(reg)), label="field")
    if fld.enum is not None:  # only the values the enum names are accepted
        value = data.draw(st.sampled_from([m.value for m in fld.enum.members]), label="value")
    else:
        value = data.draw(st.integers(0, fld.max), label="value")
    cur = data.draw(st.integers(0, (1 << reg.width) - 1), label="current")
    text = data.draw(st.sampled_from([str(value), hex(value), bin(value)]), label="text")
    written = encode(reg, [(fld.name, text)], cur)
    assert 0 <= written < 1 << reg.width
    assert written & ~reg.layout.field_mask == 0  # reserved bits written as 0
    out = decode(reg, written)
    assert out[fld.name] == value
    for other in reg.fields:
        if other is fld:
            continue
        if _plain(other):
            assert out[other.name] == other.extract(cur), other.name
        elif other.singlepulse or other.onwrite in (OnWrite.WOCLR, OnWrite.WOSET, OnWrite.WOT):
            assert out[other.name] == 0, other.name
        elif other.onwrite in (OnWrite.WZC, OnWrite.WZS, OnWrite.WZT):
            assert out[other.name] == other.max, other.name


@given(data=st.data())
@HYPO
def test_prop_encode_enum_names(ref: RegMap, data: st.DataObject) -> None:
    fields = [(r, f) for r in ref for f in _writable(r) if f.enum is not None]
    reg, fld = data.draw(st.sampled_from(fields))
    member = data.draw(st.sampled_from(fld.enum.members))
    name = data.draw(st.sampled_from([member.name, member.name.lower(), f" {member.name} "]))
    out = decode(reg, encode(reg, [(fld.name, name)], 0))
    assert out[fld.name] == member.value
    fv = next(fv for fv in out.fields if fv.field is fld)
    assert fv.enum_name == member.name
