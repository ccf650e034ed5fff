"""IP-XACT component parameters with overridable defaults, 2009 configurable elements and
spirit:dependency, and memoryRemap states; on files written for the tests from the 1685-2014
and 1685-2009 schemas (tests/fixtures/ipxact/params-remap-*.xml)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from socdbg.errors import MapError
from socdbg.regmap import load_map

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "ipxact"
P2014 = FIX / "params-remap-2014.xml"
P2009 = FIX / "params-remap-2009.xml"


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(tmp_path / "cache"))


def _layout(m: object) -> list[tuple[str, int]]:
    return [(r.path, r.address) for r in m]  # type: ignore[attr-defined]


def test_2014_defaults_are_the_files_values() -> None:
    m = load_map([P2014])
    # BASE 'h4000_0000, CHANNELS 4 (dim of ch, reset and $clog2 width of ctrl.channels),
    # STRIDE 2 ** 4 (range of ch)
    assert _layout(m) == [("regs.ctrl", 0x4000_0000)] + [
        (f"regs.ch[{i}].src", 0x4000_0010 + 16 * i) for i in range(4)]
    ctrl = m.get("regs.ctrl").layout.fields[0]
    assert (ctrl.lsb, ctrl.msb, ctrl.reset) == (0, 2, 4)
    assert any("remap states boot: the map shows the default state" in w for w in m.warnings)


def test_2014_parameters_set_by_name_or_id_change_every_use() -> None:
    m = load_map([f"{P2014},CHANNELS=8,BASE_ID='h5000_0000"])
    assert _layout(m) == [("regs.ctrl", 0x5000_0000)] + [
        (f"regs.ch[{i}].src", 0x5000_0010 + 16 * i) for i in range(8)]
    ctrl = m.get("regs.ctrl").layout.fields[0]
    assert (ctrl.msb, ctrl.reset) == (3, 8)
    assert m.source.defines == (("BASE_ID", "'h5000_0000"), ("CHANNELS", "8"))
    assert not any("resolve=" in w for w in m.warnings)
    # the same through defines, and an expression that names another parameter
    same = load_map([P2014], defines={"CH_ID": "BASE / 'h1000_0000 * 2",
                                      "BASE": "'h5000_0000"})
    assert len(same) == 1 + 10  # ctrl and ch[0..9]


def test_a_fixed_parameter_is_set_with_a_warning() -> None:
    m = load_map([f"{P2014},STRIDE=32"])
    assert m.get("regs.ch[1].src").address == 0x4000_0010 + 32
    assert any("STRIDE is resolve=immediate (fixed) in the file: set to 32 as asked" in w
               for w in m.warnings)


def test_unknown_parameter_and_bad_settings_are_one_line_errors() -> None:
    with pytest.raises(MapError, match=r"params-remap-2014\.xml:\d+: .*no parameter "
                                       r"'CHANELS' to set") as info:
        load_map([f"{P2014},CHANELS=2"])
    assert info.value.hint == "did you mean 'CHANNELS'?"
    with pytest.raises(MapError, match="'CHANNELS' is not NAME=VALUE"):
        load_map([f"{P2014},CHANNELS"])
    with pytest.raises(MapError, match=r"bitWidth: .*'NOPE' is neither a number"):
        load_map([f"{P2014},CHANNELS=NOPE"])


def test_2014_remap_state_adds_its_memory_remap() -> None:
    m = load_map([f"{P2014},remap=boot"])
    assert m.get("bootrom.vector").address == 0x8004
    assert m.get("regs.ctrl").address == 0x4000_0000
    assert not any("remap states" in w for w in m.warnings)
    with pytest.raises(MapError, match="no memoryRemap for remap state 'bot'") as info:
        load_map([f"{P2014},remap=bot"])
    assert info.value.hint == "did you mean 'boot'?"


def test_2009_configurable_elements_and_dependencies() -> None:
    m = load_map([P2009])
    # dim = id('domains') * 2 = 4; status offset (2 * 2 + 1) * 4 = 0x14 (written 0x24: the
    # dependency wins); size's spirit:pow is not evaluated: the written 32, with a warning
    assert _layout(m) == [(f"pwr.domain[{i}]", 0x3000 + 4 * i) for i in range(4)] + [
        ("pwr.status", 0x3014)]
    assert any("dependency 'spirit:pow(2, 5)' is not evaluated: read as the value written (32)"
               in w for w in m.warnings)
    m = load_map([f"{P2009},domains=3,pwr_base=0x9000,remap=low_power"])
    assert _layout(m) == [("retention.keep", 0x3800)] + [
        (f"pwr.domain[{i}]", 0x9000 + 4 * i) for i in range(6)] + [("pwr.status", 0x901C)]
    with pytest.raises(MapError, match="remap states: low_power"):
        load_map([f"{P2009},remap=high"])


def test_settings_make_their_own_cache_entries(tmp_path: Path) -> None:
    a = load_map([f"{P2014},CHANNELS=2"])
    b = load_map([f"{P2014},CHANNELS=3"])
    assert (len(a), len(b)) == (3, 4)
    assert len(load_map([f"{P2014},CHANNELS=2"])) == 3  # warm
    assert a.identity != b.identity
    assert len(list((tmp_path / "cache").glob("map-*.map"))) == 2


def test_svd_takes_no_settings() -> None:
    svd = ROOT / "tests" / "fixtures" / "svd" / "features.svd"
    if not svd.is_file():
        svd = next((ROOT / "tests" / "fixtures").rglob("*.svd"))
    with pytest.raises(MapError, match="a CMSIS-SVD map takes no NAME=VALUE settings"):
        load_map([f"{svd},X=1"])


def test_from_the_command_line(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOCDBG_CACHE_DIR=str(tmp_path / "c"))
    out = subprocess.run([sys.executable, "-m", "socdbg", "--map",
                          f"{P2014},CHANNELS=2,remap=boot", "regs", "list"], env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "bootrom.vector" in out.stdout and "regs.ch[1].src" in out.stdout
    assert "regs.ch[2]" not in out.stdout
