"""Malformed CMSIS-SVD files: each is one MapError naming file:line and the element path, never
a traceback, and nothing is cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from socdbg.errors import MapError
from socdbg.regmap import load_map
from socdbg.regmap.svd import load_svd

BASE = """<?xml version="1.0" encoding="utf-8"?>
<device schemaVersion="1.3">
  <name>BAD</name>
  <addressUnitBits>8</addressUnitBits>
  <peripherals>
    <peripheral>
      <name>P</name>
      <baseAddress>0x1000</baseAddress>
      <registers>
        <register>
          <name>R</name>
          <addressOffset>0x4</addressOffset>
          <access>read-write</access>
          <fields>
            <field>
              <name>F</name>
              <bitOffset>0</bitOffset>
              <bitWidth>4</bitWidth>
              <enumeratedValues>
                <name>f_t</name>
                <enumeratedValue><name>ZERO</name><value>0</value></enumeratedValue>
              </enumeratedValues>
            </field>
          </fields>
        </register>
      </registers>
    </peripheral>
  </peripherals>
</device>
"""

P = "/device/peripherals/peripheral[P]"
R = f"{P}/registers/register[R]"
F = f"{R}/fields/field[F]"

#: (id, text replaced, replacement, line marker (first line holding it), element path,
#: message fragment)
CASES = [
    # missing required elements
    ("no-peripherals", "peripherals>", "peripheralz>", "<device ", "/device",
     "<device> has no <peripherals>"),
    ("no-base-address", "<baseAddress>0x1000</baseAddress>", "", "<peripheral>", P,
     "<peripheral> has no <baseAddress>"),
    ("no-register-name", "<name>R</name>", "", "<register>",
     f"{P}/registers/register", "<register> has no <name>"),
    ("no-address-offset", "<addressOffset>0x4</addressOffset>", "", "<register>", R,
     "<register> has no <addressOffset>"),
    ("no-bit-position", "<bitOffset>0</bitOffset>", "<bitOffzet>0</bitOffzet>", "<field>", F,
     "<field> has no bit position"),
    ("no-field-name", "<name>F</name>", "", "<field>", f"{R}/fields/field",
     "<field> has no <name>"),
    ("no-enum-value", "<value>0</value>", "", "<enumeratedValue>",
     f"{F}/enumeratedValues[f_t]/enumeratedValue[ZERO]", "has no <value>"),
    # bad numbers
    ("bad-hex", "<addressOffset>0x4</addressOffset>", "<addressOffset>0x4Q</addressOffset>",
     "<addressOffset>", f"{R}/addressOffset", "'0x4Q' is not a number"),
    ("bad-decimal", "<bitOffset>0</bitOffset>", "<bitOffset>two</bitOffset>", "<bitOffset>",
     f"{F}/bitOffset", "'two' is not a number"),
    ("empty-hex", "<access>read-write</access>", "<resetMask>0x</resetMask>", "<resetMask>",
     f"{R}/resetMask", "'0x' is not a number"),
    ("negative", "<baseAddress>0x1000</baseAddress>", "<baseAddress>-16</baseAddress>",
     "<baseAddress>", f"{P}/baseAddress", "'-16' is not a number"),
    ("bad-enum-value", "<value>0</value>", "<value>#12</value>", "<value>",
     f"{F}/enumeratedValues[f_t]/enumeratedValue[ZERO]/value", "'#12' is not a value"),
    ("bit-range-syntax", "<bitOffset>0</bitOffset>\n              <bitWidth>4</bitWidth>",
     "<bitRange>3..0</bitRange>", "<bitRange>", f"{F}/bitRange", "is not [msb:lsb]"),
    # unknown words
    ("unknown-access", "<access>read-write</access>", "<access>sometimes</access>",
     "<access>", f"{R}/access", "unknown access 'sometimes'"),
    ("unknown-mwv", "<access>read-write</access>",
     "<modifiedWriteValues>oneToExplode</modifiedWriteValues>", "<modifiedWriteValues>",
     f"{R}/modifiedWriteValues", "unknown modifiedWriteValues 'oneToExplode'"),
    ("unknown-read-action", "<access>read-write</access>", "<readAction>erase</readAction>",
     "<readAction>", f"{R}/readAction", "unknown readAction 'erase'"),
    ("unknown-usage", "<name>f_t</name>", "<name>f_t</name><usage>sometimes</usage>",
     "<usage>", f"{F}/enumeratedValues[f_t]/usage", "unknown usage 'sometimes'"),
    # derivedFrom that names nothing
    ("unknown-derived-peripheral", "<peripheral>", '<peripheral derivedFrom="NOPE">',
     "<peripheral ", P, "derivedFrom='NOPE': no peripheral of that name"),
    ("unknown-derived-register", "<register>", '<register derivedFrom="NOPE">',
     "<register ", R, "derivedFrom='NOPE': no register of that name"),
    ("unknown-derived-field", "<field>", '<field derivedFrom="P.R.NOPE">', "<field ", F,
     "derivedFrom='P.R.NOPE': no field of that name"),
    ("unknown-derived-enum", "<enumeratedValues>",
     '<enumeratedValues derivedFrom="Q.R.F.f_t">', "<enumeratedValues ",
     f"{F}/enumeratedValues[f_t]", "derivedFrom='Q.R.F.f_t': no enumeratedValues"),
    ("circular-derived", "<register>", '<register derivedFrom="R">', "<register ", R,
     "derivedFrom='R': no register of that name"),  # itself is not a candidate
    # arrays
    ("dim-index-count", "<name>R</name>",
     "<name>R%s</name><dim>3</dim><dimIncrement>4</dimIncrement><dimIndex>A,B</dimIndex>",
     "<dimIndex>", f"{P}/registers/register[R%s]/dimIndex",
     "dimIndex has 2 entries but dim is 3"),
    ("dim-index-syntax", "<name>R</name>",
     "<name>R%s</name><dim>3</dim><dimIncrement>4</dimIncrement><dimIndex>3-1</dimIndex>",
     "<dimIndex>", f"{P}/registers/register[R%s]/dimIndex", "dimIndex '3-1' runs backwards"),
    ("dim-without-increment", "<name>R</name>", "<name>R[%s]</name><dim>3</dim>",
     "<register>", f"{P}/registers/register[R[%s]]", "<register> has no <dimIncrement>"),
    ("percent-s-without-dim", "<name>R</name>", "<name>R%s</name>", "<register>",
     f"{P}/registers/register[R%s]", "name 'R%s' has %s but there is no <dim>"),
    # not an SVD at all
    ("wrong-root", "<device schemaVersion=\"1.3\">", "<component>", "<component>",
     "/component", "the root element is <component>, not a CMSIS-SVD <device>"),
]


def _line_of(text: str, marker: str) -> int:
    for n, line in enumerate(text.splitlines(), 1):
        if marker in line:
            return n
    raise AssertionError(f"marker {marker!r} not in the test file")


@pytest.mark.parametrize(("old", "new", "marker", "where", "message"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_svd_names_file_line_and_element(tmp_path: Path, old: str, new: str,
                                                   marker: str, where: str,
                                                   message: str) -> None:
    assert old in BASE
    text = BASE.replace(old, new)
    if new == "<component>":
        text = text.replace("</device>", "</component>")
    src = tmp_path / "bad.svd"
    src.write_text(text, encoding="utf-8")
    with pytest.raises(MapError) as exc:
        load_svd(src)
    msg = exc.value.message
    assert msg.startswith(f"{src}:{_line_of(text, marker)}: {where}: "), msg
    assert message in msg, msg
    assert "\n" not in msg


def test_circular_derived_from(tmp_path: Path) -> None:
    text = BASE.replace("<register>", '<register derivedFrom="S">', 1).replace(
        "</registers>", '<register derivedFrom="R"><name>S</name><addressOffset>8'
        "</addressOffset></register></registers>")
    src = tmp_path / "loop.svd"
    src.write_text(text, encoding="utf-8")
    with pytest.raises(MapError, match=r"derivedFrom='[RS]' is circular"):
        load_svd(src)


@pytest.mark.parametrize(("text", "line", "fragment"), [
    (BASE.replace("</fields>", "</fieldz>"), 24, "Opening and ending tag mismatch"),
    (BASE.replace("<name>R</name>", "<name>R &amp name</name>"), 11, "EntityRef"),
    (BASE[: BASE.index("</peripherals>")], 28, "Premature end of data"),
    ("", 1, "Document is empty"),
    ("not xml at all\n", 1, "Start tag expected"),
], ids=["tag-mismatch", "bad-entity", "truncated", "empty", "not-xml"])
def test_broken_xml(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    src = tmp_path / "broken.svd"
    src.write_text(text, encoding="utf-8")
    with pytest.raises(MapError) as exc:
        load_svd(src)
    msg = exc.value.message
    assert msg.startswith(f"{src}:{line}: not well-formed XML: "), msg
    assert fragment in msg, msg


def test_malformed_file_through_the_cache_is_not_cached(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(cache))
    src = tmp_path / "bad.svd"
    src.write_text(BASE.replace("<bitOffset>0</bitOffset>", "<bitOffset>x</bitOffset>"))
    for _ in range(2):
        with pytest.raises(MapError, match=r"bad\.svd:\d+: .*field\[F\]/bitOffset"):
            load_map([src])
    assert not cache.exists() or list(cache.glob("map-*.map")) == []
    src.write_text(BASE)
    assert load_map([src]).get("P.R").address == 0x1004


def test_address_unit_bits_32_loads_with_a_warning_kept_by_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Espressif's SVDs say addressUnitBits 32 and give byte offsets: read as bytes, as other
    tools read them, with a warning naming file:line that a warm load still carries."""
    from click.testing import CliRunner

    from socdbg.cli import cli

    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "esp.svd"
    text = BASE.replace("<addressUnitBits>8<", "<addressUnitBits>32<")
    src.write_text(text)
    line = _line_of(text, "<addressUnitBits>")
    want = (f"{src}:{line}: /device/addressUnitBits: addressUnitBits 32: offsets and sizes "
            "are read as bytes (addressUnitBits 8), as other tools read them")
    for _ in range(2):  # cold, then warm from the cache
        m = load_map([src])
        assert m.get("P.R").address == 0x1004
        assert m.warnings == (want,)
    result = CliRunner().invoke(cli, ["--map", str(src), "info"])
    assert result.exit_code == 0, result.output
    assert f"warning      {want}" in result.stdout
    assert result.stderr.count(f"warning: {want}") == 1  # said once when the map loads
    src.write_text(BASE)
    assert load_map([src]).warnings == ()


#: (id, text replaced, replacement, line marker, element path, what the warning says, the
#: field F (or None: left out) as loaded)
SLIPS = [
    ("odd-size", "<access>read-write</access>", "<size>12</size>", "<size>", f"{R}/size",
     "size 12 is not a whole number of bytes: read as 16", (0, 3)),
    ("zero-width", "<bitWidth>4</bitWidth>", "<bitWidth>0</bitWidth>", "<bitWidth>",
     f"{F}/bitWidth", "bitWidth 0: field left out", None),
    ("bit-range-backwards", "<bitOffset>0</bitOffset>\n              <bitWidth>4</bitWidth>",
     "<bitRange>[7:8]</bitRange>", "<bitRange>", f"{F}/bitRange",
     "bitRange '[7:8]' has msb below lsb: read as [8:7]", (7, 8)),
    ("msb-below-lsb", "<bitOffset>0</bitOffset>\n              <bitWidth>4</bitWidth>",
     "<lsb>5</lsb><msb>2</msb>", "<lsb>", f"{F}/msb", "msb 2 is below lsb 5: read as bits [5:2]",
     (2, 5)),
    ("field-wider-than-register", "<bitOffset>0</bitOffset>", "<bitOffset>30</bitOffset>",
     "<field>", F, "bits [33:30] do not fit the 32-bit register: read as [31:30]", (30, 31)),
    ("field-outside-register", "<bitOffset>0</bitOffset>", "<bitOffset>40</bitOffset>",
     "<field>", F, "bits [43:40] are outside the 32-bit register: field left out", None),
    ("reset-value-0x", "<access>read-write</access>",
     "<access>read-write</access><resetValue>0x</resetValue>", "<resetValue>",
     f"{R}/resetValue", "resetValue '0x' has no digits: read as 0", (0, 3)),
]


@pytest.mark.parametrize(("old", "new", "marker", "where", "says", "bits"),
                         [c[1:] for c in SLIPS], ids=[c[0] for c in SLIPS])
def test_vendor_slips_load_repaired_with_a_warning_and_strict_refuses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, marker: str,
        where: str, says: str, bits: tuple[int, int] | None) -> None:
    """Lenient by default (the map loads, each repair a warning naming file:line and the
    element); --strict and BUTR refuse it with that warning."""
    from click.testing import CliRunner

    from socdbg.cli import cli

    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(tmp_path / "cache"))
    assert old in BASE
    text = BASE.replace(old, new)
    src = tmp_path / "slip.svd"
    src.write_text(text)
    want = f"{src}:{_line_of(text, marker)}: {where}: repaired: {says}"
    m = load_map([src])
    assert m.warnings == (want,) and m.repairs() == [want]
    f = m.get("P.R").field("F")
    assert (None if f is None else (f.lsb, f.msb)) == bits
    ok = CliRunner().invoke(cli, ["--map", str(src), "info"])
    assert ok.exit_code == 0 and f"warning: {want}" in ok.stderr
    for args in (["--strict", "--map", str(src), "info"], ["--map", str(src), "butr"]):
        refused = CliRunner().invoke(cli, args)
        assert refused.exit_code != 0, args
        assert isinstance(refused.exception, MapError) or want in refused.output, args
        message = str(refused.exception) if isinstance(refused.exception, MapError) \
            else refused.output
        assert want in message, (args, message)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MapError, match="no such register description file"):
        load_map([tmp_path / "nope.svd"])
    with pytest.raises(MapError, match="cannot read"):
        load_svd(tmp_path / "nope.svd")


def test_a_value_the_field_cannot_hold_is_left_out(tmp_path: Path) -> None:
    """Vendor files (Nuvoton's) have enum values wider than their field: they cannot read
    back, so they are dropped rather than failing the whole file."""
    src = tmp_path / "wide.svd"
    src.write_text(BASE.replace(
        "<enumeratedValue><name>ZERO</name><value>0</value></enumeratedValue>",
        "<enumeratedValue><name>ZERO</name><value>0</value></enumeratedValue>"
        "<enumeratedValue><name>HUGE</name><value>0x10</value></enumeratedValue>"))
    fld = load_svd(src).get("P.R").field("F")
    assert fld is not None and fld.enum is not None
    assert [m.name for m in fld.enum.members] == ["ZERO"]
