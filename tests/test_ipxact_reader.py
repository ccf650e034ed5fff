"""socdbg's own IP-XACT reader on files written for the tests from the IEEE 1685-2009 and
1685-2014 schemas (tests/fixtures/ipxact/), each compared with the register layout the standard
implies; and the SystemVerilog expression evaluator it reads every number with.

The peakrdl-ipxact round trip of the reference SoC is tests/test_ipxact_roundtrip.py.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from socdbg.cli import cli
from socdbg.errors import MapError
from socdbg.regmap import RegMap, detect_format, load_map
from socdbg.regmap.codec import parse_assignments
from socdbg.regmap.model import Access, OnRead, OnWrite
from socdbg.regmap.sv_expr import MAX_BITS, ExprError, evaluate

FIXTURES = Path(__file__).parent / "fixtures" / "ipxact"
UART = FIXTURES / "uart-2014.xml"
TIMER = FIXTURES / "timer-2009.xml"


@pytest.fixture(scope="module")
def uart() -> RegMap:
    return load_map([UART], use_cache=False)


@pytest.fixture(scope="module")
def timer() -> RegMap:
    return load_map([TIMER], use_cache=False)


def fields(m: RegMap, path: str) -> list[tuple[object, ...]]:
    return [(f.name, f.lsb, f.msb, f.sw, f.onread, f.onwrite, f.reset)
            for f in m.get(path).fields]


# --- 1685-2014 ------------------------------------------------------------------------------

def test_2014_layout(uart: RegMap) -> None:
    assert detect_format(UART) == "ipxact"
    assert uart.name == "uart_mm"
    # BASE = 'h4000_0000 (a component parameter referenced by parameterId)
    top = [(r.path, r.address, r.width) for r in uart][:6]
    assert top == [("regs.ctrl", 0x4000_0000, 32), ("regs.status", 0x4000_0004, 32),
                   ("regs.clear", 0x4000_0004, 32), ("regs.fifo", 0x4000_0008, 24),
                   ("regs.txdata", 0x4000_000C, 16), ("regs.ch[0].cfg", 0x4000_0100, 32)]
    # NCH = HALF * 2 = 4 channels of 'h20 bytes; win[2] of 8 bytes at 'h10; lim[2] of 4 bytes
    chans = [(r.path, r.address) for r in uart if r.path.startswith("regs.ch[3]")]
    assert chans == [("regs.ch[3].cfg", 0x4000_0160), ("regs.ch[3].cfg_test", 0x4000_0160),
                     ("regs.ch[3].win[0].lim[0]", 0x4000_0170),
                     ("regs.ch[3].win[0].lim[1]", 0x4000_0174),
                     ("regs.ch[3].win[1].lim[0]", 0x4000_0178),
                     ("regs.ch[3].win[1].lim[1]", 0x4000_017C)]
    assert len(uart) == 5 + 4 * 6
    assert "regs.debug" not in {r.path for r in uart}  # isPresent DEBUG = 1'b0


def test_is_present_true_keeps_the_register(tmp_path: Path) -> None:
    path = tmp_path / "debug.xml"
    path.write_text(UART.read_text().replace("<ipxact:value>1'b0</ipxact:value>",
                                             "<ipxact:value>1'b1</ipxact:value>"))
    assert load_map([path], use_cache=False).get("regs.debug").address == 0x4000_0010


def test_2014_fields_expressions_and_reset_masks(uart: RegMap) -> None:
    ctrl = uart.get("regs.ctrl")
    assert ctrl.name == "Control" and ctrl.description == "UART control."
    # parity: bitWidth $clog2(3) = 2; baud: $pow(2, 3) = 8, its HARD reset 'h0f (the SOFT
    # one is not the power-on reset); trim: mask 'hb leaves bit 2 unknown, so the field is
    rw = Access.RW
    assert fields(uart, "regs.ctrl") == [
        ("en", 0, 0, rw, None, None, 1), ("parity", 1, 2, rw, None, None, 2),
        ("baud", 8, 15, rw, None, None, 0x0F), ("trim", 16, 19, rw, None, None, None)]
    assert (ctrl.layout.reset, ctrl.layout.reset_mask) == (0x0F05, 0xFF07)
    # DATA_W = NCH > 2 ? 16 : 8; no fields: one whole-register field, the register's access
    assert fields(uart, "regs.txdata") == [("txdata", 0, 15, Access.W, None, None, None)]


def test_2014_side_effects_and_modify(uart: RegMap) -> None:
    assert fields(uart, "regs.status")[0] == ("rx_ready", 0, 0, Access.R, OnRead.RCLR, None,
                                              None)
    assert fields(uart, "regs.clear") == [("rx_ready", 0, 0, Access.W, None, OnWrite.WOCLR,
                                           None)]
    assert fields(uart, "regs.fifo") == [
        ("level", 0, 11, Access.R, OnRead.RUSER, None, None),
        ("thresh", 12, 23, Access.RW, None, OnWrite.WUSER, None)]
    assert uart.get("regs.fifo").layout.read_side_effect


def test_read_only_and_write_only_pair_share_an_offset(uart: RegMap) -> None:
    pair = {r.path for r in uart.all_at(0x4000_0004)}
    assert pair == {"regs.status", "regs.clear"}
    assert uart.get("regs.status").layout.readable and not uart.get("regs.status").layout.writable
    assert uart.get("regs.clear").layout.writable and not uart.get("regs.clear").layout.readable


def test_enumerations_keep_read_and_write_usage(uart: RegMap) -> None:
    state = uart.get("regs.status").field("state")
    assert state is not None and state.enum is not None
    assert [(m.name, m.value) for m in state.enum.members] == [
        ("IDLE", 0), ("BUSY", 1), ("RESET", 0)]
    assert state.enum.by_value(0) is not None and state.enum.by_value(0).name == "IDLE"
    assert state.enum.by_name("reset") is not None


def test_alternate_registers_and_banks(uart: RegMap) -> None:
    alt = uart.get("regs.ch[1].cfg_test")
    assert alt.address == uart.get("regs.ch[1].cfg").address == 0x4000_0120
    assert [(f.name, f.lsb, f.msb) for f in alt.fields] == [("loop", 31, 31)]
    # a serial bank at BASE + 'h1000: its blocks one after the other
    assert [(m.path, m.address, m.entries, m.width, m.sw) for m in uart.memories] == [
        ("rxbuf", 0x4000_1000, 64, 32, Access.R), ("txbuf", 0x4000_1100, 64, 32, Access.RW)]


def test_24_bit_register_keeps_its_width_in_views() -> None:
    result = CliRunner().invoke(cli, ["--map", str(UART), "regs", "show", "regs.fifo"])
    assert result.exit_code == 0, result.output
    assert "24 bits" in result.stdout and "[23:12]" in result.stdout


# --- 1685-2009 ------------------------------------------------------------------------------

def test_2009_layout_with_address_unit_bits_32(timer: RegMap) -> None:
    assert detect_format(TIMER) == "ipxact"
    assert timer.name == "timer_mm"  # the last memoryMap
    # addressUnitBits 32: every offset and range counts 4-byte words
    assert [(r.path, r.address) for r in timer] == [
        ("tmr.ctrl", 0x8000), ("tmr.irq", 0x8004), ("tmr.count[0]", 0x8010),
        ("tmr.count[1]", 0x8014), ("tmr.count[2]", 0x8018),
        ("tmr.cmp[0][0].val", 0x8044), ("tmr.cmp[0][1].val", 0x804C),
        ("tmr.cmp[1][0].val", 0x8054), ("tmr.cmp[1][1].val", 0x805C)]


def test_2009_register_reset_and_mask(timer: RegMap) -> None:
    # reset 0x301 under mask 0xff0f: mode [5:4] is outside the mask, so unknown
    assert [(f.name, f.reset) for f in timer.get("tmr.ctrl").fields] == [
        ("en", 1), ("mode", None), ("prescale", 3)]
    ctrl = timer.get("tmr.ctrl")
    assert (ctrl.layout.reset, ctrl.layout.reset_mask) == (0x301, 0xFF01)
    # a field-less register: one field of the register's name with the register's reset
    assert fields(timer, "tmr.count[2]") == [("count", 0, 31, Access.R, None, None,
                                              0xDEADBEEF)]


def test_2009_write_usage_name_is_accepted_by_write(timer: RegMap) -> None:
    ctrl = timer.get("tmr.ctrl")
    mode = ctrl.field("mode")
    assert mode is not None and mode.enum is not None
    assert [(m.name, m.value) for m in mode.enum.members] == [
        ("ONESHOT", 0), ("PERIODIC", 1), ("RESTART", 0)]
    assert parse_assignments(ctrl, [("mode", "RESTART")]) == [(mode, 0)]
    result = CliRunner().invoke(cli, ["--map", str(TIMER), "write", "tmr.ctrl",
                                      "mode=RESTART"])
    assert result.exit_code == 0, result.output


def test_top_names_another_memory_map() -> None:
    m = load_map([TIMER], top="unused", use_cache=False)
    assert [r.path for r in m] == [] and m.name == "unused"
    with pytest.raises(MapError) as exc:
        load_map([TIMER], top="timer_m", use_cache=False)
    assert "no memoryMap 'timer_m'" in exc.value.message and exc.value.hint == \
        "did you mean 'timer_mm'?"


# --- errors name file:line and the element ---------------------------------------------------

@pytest.mark.parametrize(("old", "new", "says"), [
    ("<ipxact:access>write-only</ipxact:access>\n          <ipxact:field>\n"
     "            <ipxact:name>rx_ready",
     "<ipxact:access>sometimes</ipxact:access>\n          <ipxact:field>\n"
     "            <ipxact:name>rx_ready",
     "memoryMap[uart_mm]/addressBlock[regs]/register[clear]/access: unknown access "
     "'sometimes'"),
    ("<ipxact:bitOffset>12</ipxact:bitOffset>", "<ipxact:bitOffset>13</ipxact:bitOffset>",
     "register[fifo]/field[thresh]: bits [24:13] do not fit the 24-bit register"),
    ("<ipxact:bitOffset>4</ipxact:bitOffset>", "<ipxact:bitOffset>0</ipxact:bitOffset>",
     "register[status]: status: fields rx_ready [0] and state [1:0] overlap"),
    ("<ipxact:dim>NCH</ipxact:dim>", "<ipxact:dim>NCHH</ipxact:dim>",
     "registerFile[ch]/dim: 'NCHH' is neither a number nor a parameter"),
    ("<ipxact:value>1 + 1</ipxact:value>", "<ipxact:value>NCH</ipxact:value>",
     "parameter 'NCH': parameter 'HALF': parameter 'NCH' refers to itself"),
    ("<ipxact:readAction>modify</ipxact:readAction>",
     "<ipxact:readAction>explode</ipxact:readAction>",
     "field[level]/readAction: unknown readAction 'explode'"),
    ("<ipxact:bitWidth>$pow(2, 3)</ipxact:bitWidth>",
     "<ipxact:bitWidth>$pow(2, 3, 4)</ipxact:bitWidth>",
     "field[baud]/bitWidth: $pow takes 2 argument(s), not 3"),
])
def test_errors_name_file_line_and_path(tmp_path: Path, old: str, new: str,
                                        says: str) -> None:
    text = UART.read_text()
    assert old in text
    bad = tmp_path / "bad.xml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(MapError) as exc:
        load_map([bad], use_cache=False)
    message = exc.value.message
    assert re.match(re.escape(str(bad)) + r":\d+: ", message), message
    assert says in message, message
    line = int(message[len(str(bad)) + 1:].split(":", 1)[0])
    assert 1 < line <= text.count("\n")


def test_error_line_is_the_elements_line(tmp_path: Path) -> None:
    text = UART.read_text()
    at = text.index("<ipxact:size>24</ipxact:size>")
    bad = tmp_path / "bad.xml"
    bad.write_text(text[:at] + "<ipxact:size>0</ipxact:size>" + text[at + 29:])
    with pytest.raises(MapError) as exc:
        load_map([bad], use_cache=False)
    assert exc.value.message == (f"{bad}:{text[:at].count(chr(10)) + 1}: memoryMap[uart_mm]/"
                                 "addressBlock[regs]/register[fifo]/size: size 0 is not 1 to "
                                 "1024")


def test_nested_empty_arrays_count_against_the_limit(tmp_path: Path) -> None:
    """Register files of a million elements in one of a million hold no registers, but
    walking them would take hours: refused at once."""
    text = UART.read_text()
    old = "<ipxact:dim>2</ipxact:dim>\n            <ipxact:addressOffset>'h10"
    assert old in text
    text = text.replace("<ipxact:dim>NCH</ipxact:dim>", "<ipxact:dim>1000000</ipxact:dim>")
    text = text.replace(old, old.replace(">2<", ">1000000<"))
    bad = tmp_path / "nested.xml"
    bad.write_text(text)
    with pytest.raises(MapError) as exc:
        load_map([bad], use_cache=False)
    assert "more than the limit of 1,000,000" in exc.value.message, exc.value.message
    assert re.match(re.escape(str(bad)) + r":\d+: ", exc.value.message)


# --- the expression evaluator ---------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("'h0", 0), ("'hFF", 255), ("8'hFF", 255), ("4'hFF", 15), ("'d10", 10), ("'b1010", 10),
    ("'o17", 15), ("32'sh10", 16), ("'h4000_0000", 0x4000_0000), ("4 * (2 ** 10)", 4096),
    ("$pow(2,8)", 256), ("$clog2(1)", 0), ("$clog2(5)", 3), ("$clog2(1024)", 10),
    ("0x20", 32), ("#101", 5), ("1K", 1024), ("2M", 2 << 20), ("1 << 4 | 1", 17),
    ("-7 / 2", -3), ("-7 % 2", -1), ("3 > 2 ? 'h10 : 'h20", 16), ("!0 && 1", 1),
    ("~0 & 'hF", 15), ("(1 + 2) * 3 - 4", 5), ("2 ** 3 ** 2", 64), ("true", 1),
])
def test_expressions(text: str, value: int) -> None:
    assert evaluate(text) == value


@pytest.mark.parametrize("text", [
    "", "'hG", "1 +", "(1", "1)", "$nope(1)", "4'hx", "2 ** 100000", "1 << 100000",
    "1 / 0", "import os", "__import__('os')", "a.b()", "((((" * 40 + "1" + "))))" * 40,
])
def test_bad_expressions_are_expr_errors(text: str) -> None:
    with pytest.raises(ExprError):
        evaluate(text)


def _tree() -> st.SearchStrategy[tuple[str, int]]:
    leaves = st.integers(0, 10_000).flatmap(lambda n: st.sampled_from([
        (str(n), n), (f"'h{n:x}", n), (f"'d{n}", n), (f"32'h{n:X}", n), (f"'b{n:b}", n)]))

    def combine(children: st.SearchStrategy[tuple[str, int]]
                ) -> st.SearchStrategy[tuple[str, int]]:
        def op(a: tuple[str, int], sym: str, b: tuple[str, int]) -> tuple[str, int]:
            value = {"+": a[1] + b[1], "-": a[1] - b[1], "*": a[1] * b[1],
                     "&": a[1] & b[1], "|": a[1] | b[1], "^": a[1] ^ b[1]}[sym]
            return f"({a[0]} {sym} {b[0]})", value

        return st.builds(op, children, st.sampled_from("+-*&|^"), children) | st.builds(
            lambda a: (f"$clog2({a[0]})", 0 if a[1] <= 1 else (a[1] - 1).bit_length()),
            children.filter(lambda t: t[1] >= 0))

    return st.recursive(leaves, combine, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_tree())
def test_expression_trees_evaluate_as_the_tree_says(case: tuple[str, int]) -> None:
    text, value = case
    assert evaluate(text) == value


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 64), st.integers(0, 2**70))
def test_sized_literals_truncate_to_their_size(size: int, n: int) -> None:
    assert evaluate(f"{size}'h{n:x}") == n & ((1 << size) - 1)
    assert evaluate(f"$pow(2, {size})") == 2**size
    assert evaluate(f"$clog2({n})") == (0 if n <= 1 else math.ceil(math.log2(n))
                                        if n < 2**50 else (n - 1).bit_length())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789abcdefhxHX'$()+-*/%<>=!&|^~?:, _klogpw2", max_size=40))
def test_any_text_is_a_bounded_value_or_an_expr_error(text: str) -> None:
    try:
        value = evaluate(text)
    except ExprError:
        return
    assert value.bit_length() <= MAX_BITS


def test_parameter_lookup() -> None:
    params = {"W": 12, "N": 3}

    def look(name: str) -> int:
        if name not in params:
            raise ExprError(f"'{name}' is unknown")
        return params[name]

    assert evaluate("W * N + $clog2(W)", look) == 40
    with pytest.raises(ExprError, match="'X' is unknown"):
        evaluate("X + 1", look)
