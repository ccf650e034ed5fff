"""The CMSIS-SVD number forms, checked with Hypothesis: decimal, 0x hex, #binary, scale
suffixes, binary enumerated values with don't-care x bits, and dimIndex lists and ranges."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from socdbg.regmap.svd import (
    MAX_DONT_CARE_BITS,
    parse_dim_index,
    parse_enum_value,
    parse_number,
)

naturals = st.integers(min_value=0, max_value=(1 << 64) - 1)


@given(naturals)
def test_decimal(n: int) -> None:
    assert parse_number(str(n)) == n
    assert parse_number(f"+{n}") == n
    assert parse_number(f"  {n}\n") == n


@given(naturals, st.integers(min_value=0, max_value=3))
def test_decimal_leading_zeros_are_not_octal(n: int, zeros: int) -> None:
    assert parse_number("0" * zeros + str(n)) == n


@given(naturals, st.booleans(), st.booleans(), st.integers(min_value=0, max_value=4))
def test_hexadecimal(n: int, upper_x: bool, upper_digits: bool, pad: int) -> None:
    digits = f"{n:0{pad}x}"
    text = ("0X" if upper_x else "0x") + (digits.upper() if upper_digits else digits)
    assert parse_number(text) == n


@given(naturals)
def test_binary(n: int) -> None:
    assert parse_number(f"#{n:b}") == n
    assert parse_number(f"0b{n:b}") == n  # not in the schema; vendor files use it


@given(st.integers(min_value=0, max_value=1 << 20), st.sampled_from("kKmMgGtT"))
def test_scale_suffix(n: int, suffix: str) -> None:
    scale = 1 << (10 * (1 + "kmgt".index(suffix.lower())))
    assert parse_number(f"{n}{suffix}") == n * scale
    assert parse_number(f"0x{n:x}{suffix}") == n * scale


@pytest.mark.parametrize("text", [
    "", " ", "0x", "0X", "#", "#2", "#10x", "0b2", "1.5", "-1", "- 1", "1 2", "0x1 2", "12a",
    "0xg", "0x-1", "x10", "1e3", "٣", "0x１", "ten", "1kk", "++1", "0x+1", "0x_1", "1_000",
])
def test_not_numbers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


@given(st.text(max_size=12))
@example("0x10k")
@example("#")
def test_anything_else_is_a_value_error_or_a_natural(text: str) -> None:
    try:
        value = parse_number(text)
    except ValueError:
        return
    assert isinstance(value, int) and value >= 0


patterns = st.lists(st.sampled_from("01xX"), min_size=1, max_size=12).filter(
    lambda bits: sum(b in "xX" for b in bits) <= MAX_DONT_CARE_BITS).map("".join)


@given(patterns, st.sampled_from(["#", "0b"]))
def test_dont_care_bits_stand_for_every_value_they_allow(bits: str, prefix: str) -> None:
    width = len(bits)
    expected = [v for v in range(1 << width)
                if all(c in "xX" or int(c) == (v >> (width - 1 - i)) & 1
                       for i, c in enumerate(bits))]
    assert list(parse_enum_value(prefix + bits)) == expected
    assert len(expected) == 1 << sum(c in "xX" for c in bits)


@given(naturals)
def test_enum_value_plain_forms(n: int) -> None:
    assert parse_enum_value(str(n)) == (n,)
    assert parse_enum_value(hex(n)) == (n,)
    assert parse_enum_value(f"#{n:b}") == (n,)


def test_too_many_dont_care_bits() -> None:
    assert len(parse_enum_value("#" + "x" * MAX_DONT_CARE_BITS)) == 1 << MAX_DONT_CARE_BITS
    with pytest.raises(ValueError, match="don't-care bits"):
        parse_enum_value("#" + "x" * (MAX_DONT_CARE_BITS + 1))
    for bad in ("", "#", "0x", "#2", "x1", "1x", "0x1x"):
        with pytest.raises(ValueError):
            parse_enum_value(bad)


identifiers = st.from_regex(r"[_0-9A-Za-z]{1,6}", fullmatch=True)


@given(st.lists(identifiers, min_size=2, max_size=16), st.sampled_from([",", ", ", " ,"]))
def test_dim_index_list(items: list[str], sep: str) -> None:
    assert parse_dim_index(sep.join(items)) == items


@given(st.integers(min_value=0, max_value=500), st.integers(min_value=0, max_value=64))
def test_dim_index_numeric_range(lo: int, count: int) -> None:
    assert parse_dim_index(f"{lo}-{lo + count}") == [str(i) for i in range(lo, lo + count + 1)]


def test_dim_index_letter_range_and_errors() -> None:
    assert parse_dim_index("A-D") == ["A", "B", "C", "D"]
    assert parse_dim_index("x") == ["x"]
    for bad in ("", "3-1", "D-A", "A,,B", "A B", "1-"):
        with pytest.raises(ValueError):
            parse_dim_index(bad)


def test_examples_from_vendor_files() -> None:
    """Forms seen in the pyocd corpus of vendor SVDs."""
    assert parse_number("0x40000000") == 0x4000_0000
    assert parse_number("0xFFFFFFFF") == 0xFFFF_FFFF
    assert parse_enum_value("#1x") == (2, 3)  # NXP LPC55S36
    assert parse_enum_value("0bxxx0") == tuple(range(0, 16, 2))  # Arm Musca
    assert parse_dim_index("3,2,1,0,7,6,5,4,B,A,9,8")[-1] == "8"  # NXP K32L2
    assert list(itertools.islice(parse_dim_index("1-3"), 3)) == ["1", "2", "3"]  # LPC11Uxx


@given(st.one_of(st.text(max_size=10), naturals.map(hex), naturals.map(str),
                 naturals.map(lambda n: f"0X{n:X}k")))
def test_the_loaders_fast_path_agrees_with_parse_number(text: str) -> None:
    from lxml import etree

    from socdbg.regmap.svd import _Bad, _number

    el = etree.Element("addressOffset")
    try:
        el.text = text
    except ValueError:  # not XML-compatible text (control characters): cannot be in a file
        return
    try:
        expected: int | None = parse_number(text)
    except ValueError:
        expected = None
    try:
        got: int | None = _number(el)
    except _Bad:
        got = None
    assert got == expected
