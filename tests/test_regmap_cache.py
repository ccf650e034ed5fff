"""The compiled-map cache: warm loads, invalidation, corruption, atomic writes, identity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_regmap import (
    INCDIR,
    RDL,
    REF,
    REF_DIR,
    cache_entries,
    copy_fixtures,
    load_reference,
    write_rdl,
)

import socdbg.regmap.cache as cache_mod
import socdbg.regmap.rdl as rdl
from socdbg.errors import MapError
from socdbg.regmap import RegMap, load_map


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(d))
    return d


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> list[tuple[str, ...]]:
    """Every call of the SystemRDL compile, as the tuple of its source paths."""
    calls: list[tuple[str, ...]] = []
    real = rdl.compile_rdl_files

    def spy(sources, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(tuple(str(s) for s in sources))
        return real(sources, *args, **kwargs)

    monkeypatch.setattr(rdl, "compile_rdl_files", spy)
    return calls


def _forbid_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> RegMap:
        raise AssertionError("the warm load compiled the map")

    monkeypatch.setattr(rdl, "compile_rdl_files", boom)


def _same_map(a: RegMap, b: RegMap) -> None:
    assert list(a.paths) == list(b.paths)
    assert [r.address for r in a] == [r.address for r in b]
    assert [r.layout for r in a] == [r.layout for r in b]
    assert a.memories == b.memories
    assert a.identity == b.identity
    assert a.name == b.name


@pytest.fixture
def inc_tree(tmp_path: Path) -> Path:
    """An editable copy of include_top.rdl + incdir/ (inc_common.rdl includes inc_leaf.rdl)."""
    return copy_fixtures(tmp_path / "src", "include_top.rdl", "incdir")


def _load_inc(tree: Path, **kw: object) -> RegMap:
    return load_map([tree / "include_top.rdl"], include_paths=[tree / "incdir"],
                    **kw)  # type: ignore[arg-type]


# --- warm loads ---------------------------------------------------------------------------


def test_cache_dir_from_environment(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_mod.cache_dir() == cache_dir
    monkeypatch.delenv("SOCDBG_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir / "xdg"))
    assert cache_mod.cache_dir() == cache_dir / "xdg" / "socdbg"


def test_second_load_comes_from_the_cache(cache_dir: Path, compiles: list[tuple[str, ...]],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cold = load_reference()
    assert len(compiles) == 1
    assert len(cache_entries(cache_dir)) == 1
    _forbid_compile(monkeypatch)
    warm = load_reference()
    _same_map(cold, warm)
    assert len(warm) == 332
    assert warm.get("dma.ch[2].status").address == 0x4001_0184
    assert warm.glob("noc.router[0:3].coord")[3].path == "noc.router[3].coord"


def test_use_cache_false_neither_reads_nor_writes(cache_dir: Path,
                                                  compiles: list[tuple[str, ...]]) -> None:
    load_reference(use_cache=False)
    assert cache_entries(cache_dir) == []
    load_reference()
    load_reference(use_cache=False)
    assert len(compiles) == 3  # cold, cold-with-cache, no-cache
    assert len(cache_entries(cache_dir)) == 1


def test_relative_and_absolute_paths_share_the_entry(cache_dir: Path,
                                                     compiles: list[tuple[str, ...]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    load_reference()
    monkeypatch.chdir(REF_DIR)
    warm = load_map(["soc.rdl"], include_paths=["."], top="soc")
    assert len(compiles) == 1 and len(warm) == 332


# --- invalidation -------------------------------------------------------------------------


def test_editing_the_top_file_rebuilds(cache_dir: Path, inc_tree: Path,
                                       compiles: list[tuple[str, ...]]) -> None:
    first = _load_inc(inc_tree)
    assert _load_inc(inc_tree).paths == first.paths and len(compiles) == 1
    top = inc_tree / "include_top.rdl"
    top.write_text(top.read_text().replace("leaf_t   leaf   @0x100;", "leaf_t   leaf   @0x200;"))
    second = _load_inc(inc_tree)
    assert len(compiles) == 2
    assert second.get("leaf.leaf_reg").address == 0x200
    assert second.identity != first.identity
    assert len(cache_entries(cache_dir)) == 1  # same request, entry replaced
    _load_inc(inc_tree)
    assert len(compiles) == 2


def test_editing_an_included_file_rebuilds(cache_dir: Path, inc_tree: Path,
                                           compiles: list[tuple[str, ...]]) -> None:
    _load_inc(inc_tree)
    common = inc_tree / "incdir" / "inc_common.rdl"
    common.write_text(common.read_text().replace("common_reg", "common_reg2"))
    m = _load_inc(inc_tree)
    assert len(compiles) == 2
    assert m.find("common.common_reg2") is not None


def test_editing_a_file_included_by_an_included_file_rebuilds(
        cache_dir: Path, inc_tree: Path, compiles: list[tuple[str, ...]]) -> None:
    before = _load_inc(inc_tree)
    leaf = inc_tree / "incdir" / "inc_leaf.rdl"
    leaf.write_text(leaf.read_text().replace("[7:0] = 0", "[7:0] = 0x42"))
    after = _load_inc(inc_tree)
    assert len(compiles) == 2
    assert after.get("leaf.leaf_reg").layout.reset == 0x42
    assert after.identity != before.identity
    _load_inc(inc_tree)
    assert len(compiles) == 2


def test_deleting_an_included_file_is_a_map_error_not_a_stale_map(
        cache_dir: Path, inc_tree: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _load_inc(inc_tree)
    (inc_tree / "incdir" / "inc_leaf.rdl").unlink()
    with pytest.raises(MapError) as exc:
        _load_inc(inc_tree)
    assert "inc_leaf.rdl" in exc.value.message
    assert capfd.readouterr().err == ""


def test_changing_defines_gives_a_different_entry(cache_dir: Path,
                                                  compiles: list[tuple[str, ...]],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    small = load_reference()
    big = load_reference({"MESH_X": "8", "MESH_Y": "8"})
    assert len(compiles) == 2
    assert len(cache_entries(cache_dir)) == 2
    assert len(small) == 332 and len(big) == 1100
    assert small.identity != big.identity
    assert big.source.defines == (("MESH_X", "8"), ("MESH_Y", "8"))
    _forbid_compile(monkeypatch)
    assert len(load_reference()) == 332
    assert len(load_reference({"MESH_Y": "8", "MESH_X": "8"})) == 1100  # order does not matter


def test_changing_top_gives_a_different_entry(cache_dir: Path, tmp_path: Path,
                                              compiles: list[tuple[str, ...]]) -> None:
    src = write_rdl(tmp_path / "two.rdl", """
addrmap first_t { reg { field { sw = rw; hw = r; } a[0:0]; } r1 @0; };
addrmap second_t { reg { field { sw = rw; hw = r; } b[0:0]; } r2 @4; };
""")
    assert load_map([src], top="first_t").paths == ["r1"]
    assert load_map([src], top="second_t").paths == ["r2"]
    assert load_map([src], top="first_t").paths == ["r1"]
    assert len(compiles) == 2


def test_compiler_version_change_rebuilds(cache_dir: Path, compiles: list[tuple[str, ...]],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    load_reference()
    monkeypatch.setattr(cache_mod, "compiler_version", lambda: "some-other-compiler")
    load_reference()
    assert len(compiles) == 2
    load_reference()
    assert len(compiles) == 2


def test_compiler_version_does_not_import_systemrdl() -> None:
    version = cache_mod.compiler_version()
    assert version not in ("missing", "unknown")
    assert version == cache_mod.compiler_version()


# --- corrupt entries ----------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "header_only",
                                    "foreign_body", "wrong_format"])
def test_corrupt_cache_entry_is_rebuilt(cache_dir: Path, compiles: list[tuple[str, ...]],
                                        damage: str) -> None:
    good = load_reference()
    (entry,) = cache_entries(cache_dir)
    blob = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(blob[: len(blob) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"\x80\x05garbage, not a cache entry" * 10)
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "header_only":
        entry.write_bytes(blob[: _body_offset(blob)])
    elif damage == "foreign_body":
        start = _body_offset(blob)
        entry.write_bytes(blob[:start] + b'{"not": "a map"}' + blob[start + 16 :])
    elif damage == "wrong_format":
        start = _body_offset(blob)
        header = json.loads(blob[len(cache_mod.MAGIC) + 4 : start])
        header["format"] = -1
        head = json.dumps(header).encode()
        entry.write_bytes(cache_mod.MAGIC + len(head).to_bytes(4, "little") + head
                          + blob[start:])
    rebuilt = load_reference()
    assert len(compiles) == 2
    _same_map(good, rebuilt)
    # the entry was rewritten and is trusted again
    load_reference()
    assert len(compiles) == 2
    assert cache_mod._read_entry(entry, cache_mod.compiler_version()) is not None


def test_cache_folder_that_cannot_be_created_costs_only_speed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[tuple[str, ...]]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(blocker / "cache"))
    assert len(load_reference()) == 332
    assert len(load_reference()) == 332
    assert len(compiles) == 2
    assert blocker.read_text() == "not a folder"


def _body_offset(blob: bytes) -> int:
    """Where the sections of a cache entry start (after the magic line and the JSON head)."""
    size = int.from_bytes(blob[len(cache_mod.MAGIC) : len(cache_mod.MAGIC) + 4], "little")
    return len(cache_mod.MAGIC) + 4 + size


# --- atomic writes ------------------------------------------------------------------------


def test_cache_file_written_atomically(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moves: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        if Path(dst).name == "key":  # the cache's key, written once before the first entry
            real_replace(src, dst)
            return
        # the temporary file is complete and next to the entry when it is renamed
        assert isinstance(cache_mod._read_entry(Path(src), cache_mod.compiler_version()),
                          RegMap)
        moves.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(cache_mod.os, "replace", spy)
    load_reference()
    (entry,) = cache_entries(cache_dir)
    assert len(moves) == 1
    src, dst = moves[0]
    assert Path(dst) == entry
    assert Path(src).parent == entry.parent and Path(src) != entry
    assert list(cache_dir.glob("*.tmp")) == []
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted([entry.name, "key"])


def test_failed_rename_leaves_no_temporary_file(cache_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.os, "replace", fail)
    assert len(load_reference()) == 332
    assert list(cache_dir.iterdir()) == []


# --- identity -----------------------------------------------------------------------------


def test_identity_is_content_not_location(cache_dir: Path, tmp_path: Path) -> None:
    a = copy_fixtures(tmp_path / "a", "include_top.rdl", "incdir")
    b = copy_fixtures(tmp_path / "b" / "deeper", "include_top.rdl", "incdir")
    ma, mb = _load_inc(a), _load_inc(b)
    assert ma.identity == mb.identity
    assert len(cache_entries(cache_dir)) == 2  # two requests, two entries
    assert _load_inc(a, use_cache=False).identity == ma.identity
    leaf = b / "incdir" / "inc_leaf.rdl"
    leaf.write_text(leaf.read_text() + "\n// a comment changes the bytes\n")
    assert _load_inc(b).identity != ma.identity
    assert _load_inc(a).identity == ma.identity


def test_identity_of_fixture_and_reference(cache_dir: Path) -> None:
    one = load_map([RDL / "fields.rdl"])
    two = load_map([RDL / "arrays.rdl"])
    assert one.identity != two.identity
    assert len(one.identity) == 64 and int(one.identity, 16) >= 0
    assert one.source.files == (str((RDL / "fields.rdl").resolve()),)
    assert load_reference().source.top == "soc"


# --- include resolution (known bugs) ------------------------------------------------------


def test_include_resolution_order_matches_the_compiler(cache_dir: Path, tmp_path: Path) -> None:
    top = write_rdl(tmp_path / "top" / "top.rdl",
                    '`include "common.rdl"\naddrmap top { common_t c @0; };\n')
    write_rdl(tmp_path / "top" / "common.rdl",
              "addrmap common_t { reg { field { sw = rw; hw = r; } a[0:0]; } local_reg @0; };\n")
    used = write_rdl(tmp_path / "inc" / "common.rdl",
                     "addrmap common_t { reg { field { sw = rw; hw = r; } a[0:0]; } inc_reg @0; };"
                     "\n")
    first = load_map([top], include_paths=[tmp_path / "inc"])
    assert first.paths == ["c.inc_reg"]  # the compiler took the include path's file
    used.write_text(used.read_text().replace("inc_reg", "inc_reg2"))
    assert load_map([top], include_paths=[tmp_path / "inc"]).paths == ["c.inc_reg2"]


def test_angle_bracket_include_is_tracked(cache_dir: Path, tmp_path: Path) -> None:
    top = write_rdl(tmp_path / "top.rdl", "`include <leaf.rdl>\naddrmap top { leaf_t l @0; };\n")
    leaf = write_rdl(tmp_path / "inc" / "leaf.rdl",
                     "addrmap leaf_t { reg { field { sw = rw; hw = r; } a[0:0]; } one @0; };\n")
    assert load_map([top], include_paths=[tmp_path / "inc"]).paths == ["l.one"]
    leaf.write_text(leaf.read_text().replace("one", "two"))
    assert load_map([top], include_paths=[tmp_path / "inc"]).paths == ["l.two"]


def test_compiler_reports_nested_includes(inc_tree: Path) -> None:
    _, files = rdl.compile_rdl_files([inc_tree / "include_top.rdl"], [inc_tree / "incdir"])
    assert [p.name for p in files] == ["include_top.rdl", "inc_common.rdl", "inc_leaf.rdl"]
    _, ref = rdl.compile_rdl_files([REF], [REF_DIR])
    assert {p.name for p in ref} == {"soc.rdl", "udp.rdl", "sysctrl.rdl", "intc.rdl", "dma.rdl",
                                     "noc.rdl", "hbm.rdl", "pcie.rdl", "mailbox.rdl",
                                     "c2c.rdl"}  # (read although only a system compiles it in)
    assert INCDIR.is_dir()


# --- warm load in a fresh interpreter -----------------------------------------------------

_WARM = """
import sys
from socdbg.regmap import load_map
m = load_map([{ref!r}], include_paths=[{inc!r}], top="soc")
print(len(m), m.get("dma.ch[2].status").address, "systemrdl" in sys.modules)
"""


@pytest.mark.slow
def test_warm_load_does_not_import_systemrdl(cache_dir: Path) -> None:
    load_reference()  # warm the cache in this process
    env = {**os.environ, "SOCDBG_CACHE_DIR": str(cache_dir)}
    code = _WARM.format(ref=str(REF), inc=str(REF_DIR))
    warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert warm.stdout.split() == ["332", str(0x4001_0184), "False"], warm.stderr
    assert warm.stderr == ""
    # the check above means something: a cold load in a fresh process does import it
    cold_env = {**env, "SOCDBG_CACHE_DIR": str(cache_dir.parent / "cold")}
    cold = subprocess.run([sys.executable, "-c", code], env=cold_env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert cold.stdout.split() == ["332", str(0x4001_0184), "True"], cold.stderr
