"""The map format registry (socdbg/regmap/formats.py): built-in formats, entry points, the
worked example of docs/architecture.md installed as a real distribution."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from socdbg.errors import MapError
from socdbg.regmap import cache as cache_mod
from socdbg.regmap import formats, load_map

ROOT = Path(__file__).resolve().parent.parent


def test_builtin_table_matches_the_entry_points() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["socdbg.maps"] == formats.BUILTIN
    for name in formats.BUILTIN:
        assert formats.get(name).name == name


def test_unknown_format_name_suggests_one() -> None:
    with pytest.raises(MapError, match="unknown map format 'svdd'") as info:
        formats.get("svdd")
    assert "svd" in str(info.value.hint)


def test_builtin_detection_reads_no_entry_points(tmp_path: Path) -> None:
    """A .rdl, .svd or IP-XACT file is recognised without importlib.metadata."""
    probe = ("import sys\nfrom pathlib import Path\nfrom socdbg.regmap.cache import "
             "detect_format\nfor a in sys.argv[1:]:\n    print(detect_format(Path(a)))\n"
             "print('importlib.metadata' in sys.modules)\n")
    ipx = ROOT / "tests" / "fixtures" / "ipxact"
    files = [ROOT / "registers" / "soc.rdl", ipx / "uart-2014.xml"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", probe, *map(str, files)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["rdl", "ipxact", "False"]


def _example() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Adding a map format", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1
    return "\n".join(line[3:] for line in blocks[0].splitlines())


@pytest.fixture
def regs_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The documented example as an installed distribution: module + dist-info with its
    ``socdbg.maps`` entry point, found by importlib.metadata through sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "regsformat.py").write_text(_example(), encoding="utf-8")
    info = site / "regsformat-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: regsformat\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text('[socdbg.maps]\nregs = regsformat:FORMAT\n')
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(tmp_path / "cache"))
    formats.formats.cache_clear()
    formats.get.cache_clear()
    yield site
    formats.formats.cache_clear()
    formats.get.cache_clear()
    sys.modules.pop("regsformat", None)


def test_documented_example_loads_through_the_cache(regs_format: Path, tmp_path: Path) -> None:
    chip = tmp_path / "chip.regs"
    chip.write_text("# a register list\nctrl 0x1000 32\nstatus 0x1004 16\n")
    assert "regs" in formats.names()
    assert cache_mod.detect_format(chip) == "regs"
    m = load_map([chip])
    assert m.paths == ["ctrl", "status"] or sorted(m.paths) == ["ctrl", "status"]
    assert m.get("status").address == 0x1004 and m.get("status").layout.width == 16
    again = load_map([chip])  # from the cache entry, the format's version checked
    assert [r.address for r in again] == [0x1000, 0x1004]
    chip.write_text("ctrl 0x1000 32\nstatus 0x1004 12\n")
    with pytest.raises(MapError, match=r"chip\.regs:2: expected NAME ADDRESS WIDTH"):
        load_map([chip])


def test_documented_example_from_the_command_line(regs_format: Path, tmp_path: Path) -> None:
    chip = tmp_path / "chip.regs"
    chip.write_text("ctrl 0x1000 32\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(regs_format)]))
    run = [sys.executable, "-m", "socdbg", "--map", str(chip)]
    out = subprocess.run([*run, "--format", "regs", "regs", "list"], env=env, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "ctrl" in out.stdout and "0x00001000" in out.stdout.lower()
    bad = subprocess.run([*run, "--format", "regz", "regs", "list"], env=env, capture_output=True,
                         text=True, check=False)
    assert bad.returncode != 0 and "'regs'" in bad.stderr


def test_a_name_registered_twice_is_an_error(regs_format: Path) -> None:
    info = regs_format / "regsformat-0.1.dist-info" / "entry_points.txt"
    info.write_text("[socdbg.maps]\nregs = regsformat:FORMAT\nsvd = regsformat:TWIN\n")
    (regs_format / "regsformat.py").write_text(
        _example() + '\nTWIN = MapFormat("svd", "x", (".x",), "a:b", "a:c")\n')
    with pytest.raises(MapError, match="'svd' is registered twice"):
        formats.formats()
