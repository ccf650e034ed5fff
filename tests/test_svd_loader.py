"""CMSIS-SVD loader: every construct of tests/fixtures/svd/features.svd, the format choice,
the cache (warm loads import no loader) and the command line's --format."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import socdbg.regmap.cache as cache_mod
import socdbg.regmap.formats as formats_mod
import socdbg.regmap.svd as svd_mod
from socdbg.cli import cli, main
from socdbg.commands.session import Session
from socdbg.errors import MapError
from socdbg.regmap import (
    Access,
    FieldEnum,
    Layout,
    OnRead,
    OnWrite,
    RegMap,
    decode,
    detect_format,
    encode,
    load_map,
)
from socdbg.regmap.svd import PackedLayouts, load_svd

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "svd"
FEATURES = FIXTURES / "features.svd"


@pytest.fixture(scope="module")
def fm() -> RegMap:
    return load_svd(FEATURES)


def fields(rmap: RegMap, path: str) -> list[tuple[str, str, str, str, int | None]]:
    return [(f.name, f.bits, str(f.sw), f.effects, f.reset) for f in rmap.get(path).fields]


# --- the device, paths and addresses --------------------------------------------------------


def test_name_and_register_count(fm: RegMap) -> None:
    assert fm.name == "FEATURES"
    # TIMER0 and TIMER1 (25 each), TIMER2 (26), UART[0..1] (2 each), LATE and EARLY
    assert len(fm) == 25 + 25 + 26 + 4 + 2
    assert fm.memories == ()


@pytest.mark.parametrize(("path", "address", "width"), [
    ("TIMER0.CTRL", 0x4000_0000, 32),
    ("TIMER0.STATUS", 0x4000_0004, 16),
    ("TIMER0.CC[0]", 0x4000_0010, 32),
    ("TIMER0.CC[3]", 0x4000_001C, 32),
    ("TIMER0.PINA_CFG", 0x4000_0020, 32),
    ("TIMER0.PINC_CFG", 0x4000_0028, 32),
    ("TIMER0.EV4", 0x4000_0030, 32),
    ("TIMER0.EV7", 0x4000_003C, 32),
    ("TIMER0.CH[0].SRC", 0x4000_0040, 32),
    ("TIMER0.CH[1].DST", 0x4000_0064, 32),
    ("TIMER0.CH[1].SUB.X", 0x4000_0078, 8),
    ("TIMER0.CTRL2", 0x4000_0080, 32),
    ("TIMER1.CH[1].SUB.X", 0x4000_1078, 8),
    ("TIMER2.EXTRA", 0x4000_2100, 32),
    ("UART[0].DATA", 0x4001_0000, 8),
    ("UART[1].DATA", 0x4001_1000, 8),
    ("UART[1].WIDE", 0x4001_1004, 32),
    ("LATE.ID", 0x4002_0000, 32),
    ("EARLY.ID", 0x4003_0000, 32),
])
def test_addresses_and_widths(fm: RegMap, path: str, address: int, width: int) -> None:
    reg = fm.get(path)
    assert (reg.address, reg.width, reg.accesswidth) == (address, width, width)
    assert fm.at(address) == reg


def test_paths_keep_the_file_case_and_lookups_ignore_it(fm: RegMap) -> None:
    assert fm.get("timer0.ch[1].sub.x").path == "TIMER0.CH[1].SUB.X"
    assert fm.resolve("uart[1].wide.WIDE")[1] is not None
    assert fm.children("TIMER0.")[:3] == ["CC[0]", "CC[1]", "CC[2]"]
    assert [r.path for r in fm.glob("timer0.cc[1:2]")] == ["TIMER0.CC[1]", "TIMER0.CC[2]"]
    assert [r.path for r in fm.glob("*.ch[*].sub.x")] == [
        f"TIMER{t}.CH[{c}].SUB.X" for t in range(3) for c in range(2)]


def test_array_elements_share_one_layout(fm: RegMap) -> None:
    cc = [fm.get(f"TIMER{t}.CC[{i}]").layout for t in range(3) for i in range(4)]
    assert all(layout is cc[0] for layout in cc)
    assert cc[0].name == "CC"
    # a %s list makes registers of their own names
    assert [fm.get(f"TIMER0.PIN{x}_CFG").layout.name for x in "ABC"] == [
        "PINA_CFG", "PINB_CFG", "PINC_CFG"]
    assert fm.get("TIMER0.PINB_CFG").description == "Pin B configuration"
    assert fm.get("TIMER0.EV6").description == "Event 6"


# --- derivedFrom ------------------------------------------------------------------------------


def test_derived_peripheral_copies_every_register(fm: RegMap) -> None:
    t0 = [(r.path.split(".", 1)[1], r.address - 0x4000_0000, r.layout) for r in fm.glob("TIMER0.*")]
    t1 = [(r.path.split(".", 1)[1], r.address - 0x4000_1000, r.layout) for r in fm.glob("TIMER1.*")]
    assert t0 == t1


def test_derived_peripheral_with_own_registers_replaces_and_adds(fm: RegMap) -> None:
    assert fields(fm, "TIMER2.CTRL") == [("GO", "[0]", "rw", "", 0)]
    assert fm.get("TIMER2.CTRL").description == "Timer 2's own control register"
    assert fm.get("TIMER2.STATUS").layout is fm.get("TIMER0.STATUS").layout
    assert fm.get("TIMER2.EXTRA").description == "Only timer 2 has it"
    assert fm.find("TIMER1.EXTRA") is None


def test_peripheral_derived_from_one_defined_later(fm: RegMap) -> None:
    assert fm.get("EARLY.ID").layout is fm.get("LATE.ID").layout
    assert fm.get("EARLY.ID").layout.reset == 0xCAFE_0001


def test_derived_register_and_field(fm: RegMap) -> None:
    ctrl, ctrl2 = fm.get("TIMER0.CTRL").layout, fm.get("TIMER0.CTRL2").layout
    assert ctrl2.fields == ctrl.fields
    assert (ctrl2.name, ctrl2.description) == ("CTRL2", "Control register")
    a, b = fm.get("TIMER0.IRQ").fields
    assert (b.name, b.bits, b.sw, b.description) == ("B", "[1]", Access.R, "Interrupt A")
    assert b.enum is not None and b.enum == a.enum
    assert [m.name for m in b.enum.members] == ["IDLE", "PENDING"]


# --- fields -----------------------------------------------------------------------------------


def test_bit_range_forms(fm: RegMap) -> None:
    # bitOffset/bitWidth, lsb/msb, bitRange
    assert fields(fm, "TIMER0.CTRL") == [
        ("EN", "[0]", "rw", "", 0), ("MODE", "[3:2]", "rw", "", 1),
        ("PRESCALE", "[11:8]", "rw", "", 1), ("SEL", "[14:12]", "rw", "", 0)]


def test_field_array(fm: RegMap) -> None:
    gpio = fm.get("TIMER0.GPIO")
    assert [(f.name, f.bits, f.description) for f in gpio.fields] == [
        (f"PIN{i}", f"[{2 * i + 1}:{2 * i}]", f"Pin {i} mode") for i in range(4)]


def test_register_without_fields_gets_one_field(fm: RegMap) -> None:
    (only,) = fm.get("UART[1].DATA").fields
    assert (only.name, only.bits, only.sw, only.reset) == ("DATA", "[7:0]", Access.W, 0xFF)
    (cc,) = fm.get("TIMER0.CC[2]").fields
    assert (cc.name, cc.bits, cc.reset) == ("CC", "[31:0]", 0xFFFF)


@pytest.mark.parametrize(("name", "sw", "onread", "onwrite"), [
    ("W1C", Access.RW, None, OnWrite.WOCLR),
    ("W1S", Access.RW, None, OnWrite.WOSET),
    ("W1T", Access.RW, None, OnWrite.WOT),
    ("W0C", Access.RW, None, OnWrite.WZC),
    ("W0S", Access.RW, None, OnWrite.WZS),
    ("W0T", Access.RW, None, OnWrite.WZT),
    ("WCLR", Access.RW, None, OnWrite.WCLR),
    ("WSET", Access.RW, None, OnWrite.WSET),
    ("WMOD", Access.RW, None, None),
    ("RCLR", Access.RW, OnRead.RCLR, None),
    ("RSET", Access.RW, OnRead.RSET, None),
    ("RMOD", Access.RW, OnRead.RUSER, None),
    ("REXT", Access.RW, OnRead.RUSER, None),
    ("RO", Access.R, None, None),
    ("WO", Access.W, None, None),
    ("W1", Access.W1, None, None),
    ("RW1", Access.RW1, None, None),
])
def test_access_and_side_effects(fm: RegMap, name: str, sw: Access, onread: OnRead | None,
                                 onwrite: OnWrite | None) -> None:
    fld = fm.get("TIMER0.EFFECTS").field(name)
    assert fld is not None
    assert (fld.sw, fld.onread, fld.onwrite) == (sw, onread, onwrite)


def test_register_level_side_effects_are_the_fields_default(fm: RegMap) -> None:
    a, b = fm.get("TIMER0.EVENTS").fields
    assert (a.onread, a.onwrite) == (OnRead.RCLR, OnWrite.WOCLR)
    assert (b.onread, b.onwrite) == (OnRead.RCLR, OnWrite.WOSET)
    assert fm.get("TIMER0.EVENTS").layout.read_side_effect


# --- inheritance: size, access, reset ---------------------------------------------------------


def test_register_properties_are_inherited(fm: RegMap) -> None:
    # UART sets size 8, write-only and reset 0xFF for its registers; WIDE overrides all three
    data, wide = fm.get("UART[0].DATA"), fm.get("UART[0].WIDE")
    assert (data.width, data.fields[0].sw, data.layout.reset) == (8, Access.W, 0xFF)
    assert (wide.width, wide.fields[0].sw, wide.layout.reset) == (32, Access.RW, 0x1234_5678)
    # clusters pass the peripheral's (here the device's) properties down, registers override
    assert fm.get("TIMER0.CH[0].SRC").layout.reset == 0
    assert fm.get("TIMER0.CH[0].DST").layout.reset == 0x1000
    assert fm.get("TIMER0.CH[0].SUB.X").layout.reset == 0x5A


def test_reset_mask(fm: RegMap) -> None:
    """resetMask 0x00F0 on reset 0x00A5: HIGH [7:4] is known (0xA); LOW [3:0] is wholly
    outside the mask, SPAN [11:6] partly: both unknown."""
    status = fm.get("TIMER0.STATUS")
    assert fields(fm, "TIMER0.STATUS") == [
        ("LOW", "[3:0]", "r", "", None), ("HIGH", "[7:4]", "r", "", 0xA),
        ("SPAN", "[11:6]", "r", "", None), ("FLAG", "[15]", "rw", "woclr", None)]
    assert status.layout.reset_mask == 0x00F0
    assert status.layout.reset == 0x00A0


def test_device_without_reset_gives_unknown_resets(tmp_path: Path) -> None:
    src = tmp_path / "noreset.svd"
    src.write_text(FEATURES.read_text().replace("<resetValue>0x00000000</resetValue>", "", 1)
                   .replace("<resetMask>0xFFFFFFFF</resetMask>", "", 1))
    m = load_svd(src)
    assert m.get("TIMER0.CH[0].SRC").fields[0].reset is None  # nothing above it gives one
    assert m.get("TIMER0.CH[0].DST").fields[0].reset == 0x1000  # its own
    assert m.get("TIMER0.EFFECTS").layout.reset_mask == 0


def test_default_register_size_is_32(tmp_path: Path) -> None:
    src = tmp_path / "nosize.svd"
    src.write_text(FEATURES.read_text().replace("<size>32</size>", "", 1))
    assert load_svd(src).get("TIMER0.CTRL").width == 32


# --- enumerated values ------------------------------------------------------------------------


def members(rmap: RegMap, path: str) -> list[tuple[str, int]]:
    _, fld = rmap.resolve(path)
    assert fld is not None and fld.enum is not None
    return [(m.name, m.value) for m in fld.enum.members]


def enum_of(rmap: RegMap, path: str, field: str) -> FieldEnum:
    fld = rmap.get(path).field(field)
    assert fld is not None and fld.enum is not None
    return fld.enum


def test_enum_with_is_default(fm: RegMap) -> None:
    # ONESHOT and PERIODIC named; isDefault names the rest
    assert members(fm, "TIMER0.CTRL.MODE") == [
        ("ONESHOT", 0), ("PERIODIC", 1), ("RESERVED", 2), ("RESERVED", 3)]
    assert enum_of(fm, "TIMER0.CTRL", "EN").name == "en_t"


def test_enum_with_dont_care_bits(fm: RegMap) -> None:
    assert members(fm, "TIMER0.CTRL.SEL") == [
        ("LOW", 0), ("LOW", 1), ("LOW", 2), ("LOW", 3), ("HIGH", 4), ("HIGH", 6)]


def test_enum_usage_read_and_write(fm: RegMap) -> None:
    """Reads decode with the read names; writes accept the write names too."""
    assert members(fm, "TIMER0.INTEN.X") == [("Disabled", 0), ("Enabled", 1), ("Set", 1)]
    inten = fm.get("TIMER0.INTEN")
    assert decode(inten, 1)["X"] == 1
    assert decode(inten, 1).fields[0].enum_name == "Enabled"
    assert encode(inten, [("X", "Set")], 0) == 1


def test_enum_derived_by_path_and_by_name(fm: RegMap) -> None:
    en = enum_of(fm, "TIMER0.CTRL", "EN")
    assert enum_of(fm, "TIMER0.INTEN", "Y") == en
    assert enum_of(fm, "TIMER0.INTEN", "Z") == en


# --- packed layouts ---------------------------------------------------------------------------


def test_layouts_are_built_on_demand_and_pickle_compactly(fm: RegMap) -> None:
    assert isinstance(fm.layouts, PackedLayouts)
    again = pickle.loads(pickle.dumps(fm))
    assert isinstance(again.layouts, PackedLayouts)
    assert [r.layout for r in again] == [r.layout for r in fm]
    assert all(isinstance(layout, Layout) for layout in again.layouts)
    assert len(again.layouts) == len(fm.layouts)
    assert again.layouts[-1] == fm.layouts[len(fm.layouts) - 1]
    assert again.layouts[0:2] == [fm.layouts[0], fm.layouts[1]]
    # a field's enum is decoded once and shared
    assert enum_of(again, "TIMER0.INTEN", "Y") is enum_of(again, "TIMER1.INTEN", "Z")


def test_map_lookups_work_on_packed_layouts(fm: RegMap) -> None:
    assert [r.path for r in fm.in_range(0x4000_0000, 0x4000_0008)] == [
        "TIMER0.CTRL", "TIMER0.STATUS"]
    assert fm.all_at(0x4000_0079) == [fm.get("TIMER0.CH[1].SUB.X")] or \
        fm.all_at(0x4000_0078) == [fm.get("TIMER0.CH[1].SUB.X")]
    hits = fm.search("don't-care")
    assert [r.path for r, _ in hits][:1] == ["TIMER0.CTRL"]


def test_duplicate_paths_are_renamed(tmp_path: Path) -> None:
    src = tmp_path / "dup.svd"
    src.write_text(FEATURES.read_text().replace("<name>WIDE</name>", "<name>Data</name>"))
    m = load_svd(src)
    assert m.get("UART[1].DATA").address == 0x4001_1000
    assert m.get("UART[1].Data_2").address == 0x4001_1004


def test_namespaced_device(tmp_path: Path) -> None:
    src = tmp_path / "ns.svd"
    text = FEATURES.read_text().replace('<device schemaVersion="1.3"',
                                        '<device xmlns="urn:example:svd" schemaVersion="1.3"')
    src.write_text(text)
    assert len(load_svd(src)) == len(load_svd(FEATURES))


# --- choosing the format ----------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(FEATURES) == "svd"
    assert detect_format(tmp_path / "x.rdl") == "rdl"
    assert detect_format(tmp_path / "x.anything") == "rdl"  # as before: handed to SystemRDL
    svd_xml = _write(tmp_path / "vendor.xml", '<?xml version="1.0"?>\n<!-- c -->\n<device>'
                     "<name>X</name></device>")
    assert detect_format(svd_xml) == "svd"
    for prefix, uri in [
        ("ipxact", "http://www.accellera.org/XMLSchema/IPXACT/1685-2014"),
        ("spirit", "http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009"),
        ("spirit", "http://www.spiritconsortium.org/XMLSchema/SPIRIT/1.5"),
    ]:
        f = _write(tmp_path / f"{prefix}.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n'
                   f'<{prefix}:component xmlns:{prefix}="{uri}" '
                   'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>')
        assert detect_format(f) == "ipxact"
    assert detect_format(svd_xml, "rdl") == "rdl"


def test_unknown_xml_root_is_an_error_saying_which(tmp_path: Path) -> None:
    other = _write(tmp_path / "pom.xml", '<?xml version="1.0"?>\n'
                   '<project xmlns="http://maven.apache.org/POM/4.0.0"></project>')
    with pytest.raises(MapError) as exc:
        load_map([other])
    assert "<project> in namespace http://maven.apache.org/POM/4.0.0" in exc.value.message
    assert "--format" in (exc.value.hint or "")
    foreign = _write(tmp_path / "comp.xml", '<a:component xmlns:a="urn:not-ipxact"/>')
    with pytest.raises(MapError, match="<component> in namespace urn:not-ipxact"):
        detect_format(foreign)
    with pytest.raises(MapError, match="unknown map format 'json'"):
        load_map([FEATURES], format="json")


def test_one_format_per_map(tmp_path: Path) -> None:
    rdl = _write(tmp_path / "a.rdl", "addrmap a { reg { field {} f; } r; };")
    with pytest.raises(MapError, match="different formats"):
        load_map([FEATURES, rdl])
    with pytest.raises(MapError, match="a CMSIS-SVD map is one file; got 2"):
        load_map([FEATURES, FEATURES])


def test_format_override_reads_an_svd_under_another_name(tmp_path: Path) -> None:
    renamed = tmp_path / "features.txt"
    renamed.write_bytes(FEATURES.read_bytes())
    with pytest.raises(MapError):  # guessed SystemRDL: the compiler's syntax error
        load_map([renamed])
    assert load_map([renamed], format="svd").name == "FEATURES"


# --- the cache --------------------------------------------------------------------------------


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(d))
    return d


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> list[str]:
    calls: list[str] = []
    real = svd_mod.load_svd

    def spy(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(svd_mod, "load_svd", spy)
    return calls


def test_second_load_comes_from_the_cache(cache_dir: Path, builds: list[str],
                                          tmp_path: Path) -> None:
    src = tmp_path / "f.svd"
    src.write_bytes(FEATURES.read_bytes())
    cold = load_map([src])
    warm = load_map([src])
    assert len(builds) == 1
    assert list(warm.paths) == list(cold.paths)
    assert [r.layout for r in warm] == [r.layout for r in cold]
    assert warm.identity == cold.identity and len(warm.identity) == 64
    assert warm.source.files == (str(src.resolve()),)
    # editing the file rebuilds; the identity follows the content
    src.write_text(src.read_text().replace("0x40020000", "0x40028000"))
    edited = load_map([src])
    assert len(builds) == 2
    assert edited.get("LATE.ID").address == 0x4002_8000
    assert edited.identity != cold.identity
    assert len(list(cache_dir.glob("map-*.map"))) == 1


def test_loader_version_change_rebuilds(cache_dir: Path, builds: list[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    load_map([FEATURES])
    real = cache_mod.loader_version
    monkeypatch.setattr(cache_mod, "loader_version",
                        lambda fmt: real(fmt) + "-next" if fmt == "svd" else real(fmt))
    load_map([FEATURES])
    load_map([FEATURES])
    assert len(builds) == 2


def test_loader_version_hashes_the_loader() -> None:
    v = cache_mod.loader_version("svd")
    assert v.startswith("svd:") and v == cache_mod.loader_version("svd")
    assert cache_mod.loader_version("rdl") == cache_mod.compiler_version()
    assert cache_mod.loader_version("ipxact") != cache_mod.loader_version("rdl")


#: Modules of socdbg.regmap a loader imports that do not version its entries: the RegMap's
#: stored shape is versioned by CACHE_FORMAT; ``stored`` only reads entries back.
_NOT_VERSIONED = {"regmap", "stored"}


def _regmap_imports(name: str, seen: set[str]) -> set[str]:
    """The socdbg.regmap modules ``name`` imports, directly or through others (not through
    those in ``_NOT_VERSIONED``)."""
    import ast

    if name in seen or name in _NOT_VERSIONED:
        return seen
    seen.add(name)
    tree = ast.parse((Path(cache_mod.__file__).parent / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("socdbg.regmap."):
            _regmap_imports(str(node.module).rsplit(".", 1)[1], seen)
    return seen


@pytest.mark.parametrize(("top", "modules"), [("svd", formats_mod.SVD_MODULES),
                                              ("ipxact", formats_mod.IPXACT_MODULES)])
def test_loader_version_covers_every_module_the_loader_imports(
        top: str, modules: tuple[str, ...]) -> None:
    """Editing any module a reader is built from must rebuild what it built."""
    assert _regmap_imports(top, set()) == set(modules)


def test_same_file_as_svd_and_as_rdl_are_different_entries(cache_dir: Path) -> None:
    load_map([FEATURES])
    with pytest.raises(MapError):
        load_map([FEATURES], format="rdl")
    assert len(list(cache_dir.glob("map-*.map"))) == 1


_WARM = """
import sys
from socdbg.regmap import load_map
m = load_map([{src!r}])
print(len(m), m.get("TIMER0.CH[1].SUB.X").address, m.get("TIMER0.CTRL").field("MODE").reset,
      any(name.split(".")[0] in ("lxml", "systemrdl", "peakrdl_ipxact") for name in sys.modules))
"""


@pytest.mark.slow
def test_warm_load_imports_no_loader(cache_dir: Path) -> None:
    load_map([FEATURES])
    env = {**os.environ, "SOCDBG_CACHE_DIR": str(cache_dir)}
    code = _WARM.format(src=str(FEATURES))
    warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    assert warm.stdout.split() == ["82", str(0x4000_0078), "1", "False"], warm.stderr
    cold_env = {**env, "SOCDBG_CACHE_DIR": str(cache_dir.parent / "cold")}
    cold = subprocess.run([sys.executable, "-c", code], env=cold_env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert cold.stdout.split() == ["82", str(0x4000_0078), "1", "True"], cold.stderr


# --- the session and the command line -----------------------------------------------------------


def test_session_loads_an_svd_map() -> None:
    session = Session(map_files=[str(FEATURES)])
    assert session.map.name == "FEATURES"
    renamed = Session(map_files=[str(FEATURES)], map_format="rdl")
    with pytest.raises(MapError):
        _ = renamed.map


def test_cli_map_and_format(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["--map", str(FEATURES), "regs", "show", "TIMER0.STATUS"])
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert "TIMER0.STATUS" in text and "0x40000004" in text and "16 bits" in text
    assert "woclr" in text
    listed = runner.invoke(cli, ["--map", str(FEATURES), "regs", "list", "--json",
                                 "TIMER0.CC[*]"])
    assert listed.exit_code == 0, listed.output
    assert [r["path"] for r in json.loads(listed.stdout)["registers"]] == [
        f"TIMER0.CC[{i}]" for i in range(4)]
    renamed = tmp_path / "features.map"
    renamed.write_bytes(FEATURES.read_bytes())
    guessed = runner.invoke(cli, ["--map", str(renamed), "--format", "svd", "regs", "show",
                                  "LATE.ID"])
    assert guessed.exit_code == 0, guessed.output
    assert "0xcafe0001" in guessed.stdout
    bad = runner.invoke(cli, ["--format", "json", "--map", str(FEATURES), "info"])
    assert bad.exit_code != 0


def test_cli_error_for_a_malformed_svd_is_one_line(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.svd"
    broken.write_text(FEATURES.read_text().replace("<bitRange>[11:8]</bitRange>",
                                                   "<bitRange>[11-8]</bitRange>"))
    with pytest.raises(SystemExit) as exc:
        main(["--map", str(broken), "regs", "show", "TIMER0.CTRL"])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {broken}:")
    assert "field[PRESCALE]/bitRange: bitRange '[11-8]' is not [msb:lsb]" in err[0]
    assert "Traceback" not in err[0]


_DERIVED_FIELDS = """<?xml version="1.0"?>
<device><name>D</name><addressUnitBits>8</addressUnitBits><width>32</width>
<peripherals><peripheral><name>P</name><baseAddress>0x1000</baseAddress>
<registers>
<register><name>A</name><addressOffset>0</addressOffset><size>32</size>
 <resetValue>0x12345678</resetValue><resetMask>0xFFFF00FF</resetMask><fields>
  <field><name>OFF</name><description>by  offset
   and width</description><bitOffset>0</bitOffset><bitWidth>4</bitWidth>
   <access>read-only</access><readAction>clear</readAction></field>
  <field><name>LM</name><lsb>4</lsb><msb>7</msb><modifiedWriteValues>oneToClear
   </modifiedWriteValues><enumeratedValues><enumeratedValue><name>IDLE</name><value>0
   </value></enumeratedValue><enumeratedValue><name>BUSY</name><value>#1x1</value>
   </enumeratedValue></enumeratedValues></field>
  <field><name>RNG</name><bitRange>[15:8]</bitRange><access>writeOnce</access></field>
  <field><name>BIG</name><bitOffset>16</bitOffset><bitWidth>0x10</bitWidth></field>
 </fields></register>
<register><name>B</name><addressOffset>4</addressOffset><size>32</size>
 <resetValue>0x12345678</resetValue><resetMask>0xFFFF00FF</resetMask><fields>
  <field derivedFrom="A.OFF"><name>OFF</name></field>
  <field derivedFrom="A.LM"><name>LM</name></field>
  <field derivedFrom="A.RNG"><name>RNG</name></field>
  <field derivedFrom="A.BIG"><name>BIG</name></field>
 </fields></register>
</registers></peripheral></peripherals></device>
"""


def test_a_field_reads_the_same_directly_and_through_derived_from(tmp_path: Path) -> None:
    """A field is read from its own children's texts in one pass, a derived one from its
    derivedFrom view: every property (bits, access, side effects, reset under the mask,
    enum with don't-care bits, description) must come out the same."""
    path = tmp_path / "derived.svd"
    path.write_text(_DERIVED_FIELDS)
    m = load_svd(path)
    a, b = m.get("P.A").layout, m.get("P.B").layout
    assert a.fields == b.fields
    by_name = {f.name: f for f in a.fields}
    assert [f.name for f in a.fields] == ["OFF", "LM", "RNG", "BIG"]
    assert by_name["OFF"].description == "by offset and width"
    assert by_name["OFF"].onread is not None and by_name["LM"].onwrite is not None
    assert by_name["RNG"].reset is None and by_name["BIG"].reset == 0x1234
    assert by_name["LM"].enum is not None
    assert [(x.name, x.value) for x in by_name["LM"].enum.members] == [
        ("IDLE", 0), ("BUSY", 5), ("BUSY", 7)]
