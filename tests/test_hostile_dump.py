"""Hostile dump files: a dump comes from anyone, and opening one must not hurt its reader.

Each attack here is a regression test: path traversal through the map identity and the
embedded source names, a planted map cache entry holding a pickle that would run code, Perl in
an embedded map, gzip and zlib bombs, sizes that lie, truncation; then a hypothesis fuzzer over
the reader (mutated real dumps, random JSON) that lets nothing but one-line SocdbgErrors out.
Atomic writes and partial memory reads are here too: a killed write leaves no tmp file behind
for long, and a memory range that fails partway keeps what was read.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import hmac
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.dumpfile import (
    MAX_DOCUMENT,
    MAX_MEMORY,
    Dump,
    DumpError,
    dump_map,
    read_dump,
    write_dump,
)
from socdbg.errors import MapError, SocdbgError, TargetError
from socdbg.postmortem import capture
from socdbg.regmap import RegMap, load_map
from socdbg.regmap import cache as cache_mod
from socdbg.targets.dump import DumpTarget
from socdbg.targets.sim import SimTarget

TINY = 'addrmap tiny { reg { field { sw = rw; } f[31:0] = 7; } rx @0x0; };\n'


# --- helpers ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real dump of the reference SoC (registers, 1 KiB of sram) as a JSON document."""
    path = tmp_path_factory.mktemp("real") / "real.json"
    session = Session(out=io.StringIO())
    execute(session, "write sysctrl.scratch 0x12345678")
    out = execute(session, f"dump -o {path} --memory sram+1K")
    assert out is not None and out.ok
    session.close()
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def identity(sources: list[dict[str, str]], defines: dict[str, str] | None = None,
             top: str = "") -> str:
    return cache_mod.identity_of([(s["name"].rsplit("/", 1)[-1], s["text"].encode())
                                  for s in sources], defines or {}, top)


def tiny_doc(sources: list[dict[str, str]] | None = None, ident: str | None = None
             ) -> dict[str, Any]:
    """A small, valid dump of a one-register map (identity computed unless given)."""
    srcs = sources if sources is not None else [{"name": "tiny.rdl", "text": TINY}]
    return {"format": "socdbg-dump", "version": 1, "socdbg": "0.1.0", "complete": True,
            "map": {"name": "tiny", "identity": identity(srcs) if ident is None else ident,
                    "defines": {}, "top": "", "sources": srcs},
            "target": "sim", "wall_time": "2026-01-01T00:00:00+00:00", "cycle": 5,
            "registers": [["rx", 0, 4, "0x7"]], "memories": [], "failed": [], "skipped": []}


def put(tmp_path: Path, doc: dict[str, Any] | bytes, name: str = "d.json") -> Path:
    path = tmp_path / name
    path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
    return path


def one_line(exc: SocdbgError) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text, text
    return text


def open_dump(path: Path) -> DumpTarget:
    target = Session(target=f"dump:{path}", out=io.StringIO()).target
    assert isinstance(target, DumpTarget)
    return target


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socdbg", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def assert_one_error_line(res: subprocess.CompletedProcess[str], path: Path, word: str
                          ) -> None:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and str(path) in lines[0] and word in lines[0], \
        lines[0]


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


# --- the map identity and the source names become no paths ------------------------------------
def test_identity_traversal_writes_nothing_outside_the_cache(
        tmp_path: Path, child_env: dict[str, str]) -> None:
    """The attack of the issue: identity '/../../..' and a source named '.bashrc' used to
    write ~/.bashrc. Now the file is refused, in one line, and nothing is written."""
    home = tmp_path / "home"
    cache = home / ".cache" / "socdbg"
    cache.mkdir(parents=True)
    evil = tiny_doc([{"name": ".bashrc", "text": "echo owned\n"}], ident="/../../..")
    path = put(tmp_path, evil)
    env = {**child_env, "HOME": str(home), "SOCDBG_CACHE_DIR": str(cache)}
    before = tree(home)
    res = cli("-t", f"dump:{path}", "read", "rx", env=env, cwd=tmp_path)
    assert_one_error_line(res, path, "identity")
    assert not (home / ".bashrc").exists()
    assert tree(home) == before


@pytest.mark.parametrize("ident", ["/../../..", "../" * 20 + "x", "a" * 64, "0" * 63,
                                   "0" * 65, "G" * 64, "0" * 32 + "/" + "0" * 31, "\0" * 64])
def test_identity_must_be_64_hex_digits(tmp_path: Path, ident: str) -> None:
    with pytest.raises(DumpError) as exc:
        read_dump(put(tmp_path, tiny_doc(ident=ident)))
    assert "identity" in one_line(exc.value)


def test_identity_is_recomputed_from_the_embedded_sources(tmp_path: Path) -> None:
    doc = tiny_doc()
    good = read_dump(put(tmp_path, doc))
    assert good.map_identity == doc["map"]["identity"]
    doc["map"]["identity"] = hashlib.sha256(b"another map").hexdigest()
    with pytest.raises(DumpError) as exc:
        read_dump(put(tmp_path, doc))
    assert "does not match the embedded map sources" in one_line(exc.value)
    # a dump without an identity gets the one its sources make
    doc["map"]["identity"] = ""
    assert read_dump(put(tmp_path, doc)).map_identity == good.map_identity


def test_the_identity_is_the_one_the_cache_computes(real_doc: dict[str, Any],
                                                    tmp_path: Path) -> None:
    """The reader's recomputation agrees with a real capture (so real dumps still open), and
    the map rebuilt from the dump has that identity too."""
    dump = read_dump(put(tmp_path, real_doc))
    assert dump.map_identity == real_doc["map"]["identity"]
    assert dump_map(dump, load_map).identity == dump.map_identity


@pytest.mark.parametrize("name", [".bashrc", "../x", "../../.bashrc", "/etc/passwd", "a/../../x",
                                  "", ".", "..", "a\0b", "a\\b", "x" * 300, "sub/.hidden",
                                  "sub//x.rdl", "sub/", "c:x.rdl", " x.rdl", "x\n.rdl",
                                  "/".join("d" * 9) + ".rdl"])
def test_bad_source_names_are_refused(tmp_path: Path, name: str) -> None:
    cache = Path(os.environ["SOCDBG_CACHE_DIR"])
    before = tree(cache)
    doc = tiny_doc([{"name": "tiny.rdl", "text": TINY}, {"name": name, "text": "// x\n"}])
    path = put(tmp_path, doc)
    with pytest.raises(DumpError) as exc:
        open_dump(path)
    assert "map source name" in one_line(exc.value)
    assert tree(cache) == before


def test_source_named_twice_is_refused(tmp_path: Path) -> None:
    src = {"name": "tiny.rdl", "text": TINY}
    with pytest.raises(DumpError, match="embedded twice"):
        read_dump(put(tmp_path, tiny_doc([src, dict(src)])))


def test_a_symlink_planted_in_the_dump_folder_is_not_followed(tmp_path: Path) -> None:
    """Someone with access to the cache plants dump-map-<id>/tiny.rdl -> a file of the user's:
    rebuilding the map must not write through it."""
    cache = Path(os.environ["SOCDBG_CACHE_DIR"])
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    doc = tiny_doc([{"name": "tiny.rdl", "text": TINY + "// changed\n"}])
    folder = cache / f"dump-map-{doc['map']['identity'][:32]}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.rdl").symlink_to(precious)
    try:
        with pytest.raises(DumpError) as exc:
            open_dump(put(tmp_path, doc))
        assert "outside" in one_line(exc.value)
        assert precious.read_text() == "keep me"
    finally:
        (folder / "tiny.rdl").unlink()


def test_a_dump_folder_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    cache = Path(os.environ["SOCDBG_CACHE_DIR"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    doc = tiny_doc([{"name": "tiny.rdl", "text": TINY + "// other\n"}])
    link = cache / f"dump-map-{doc['map']['identity'][:32]}"
    link.symlink_to(elsewhere, target_is_directory=True)
    try:
        with pytest.raises(DumpError) as exc:
            open_dump(put(tmp_path, doc))
        assert "not a folder of the map cache" in one_line(exc.value)
        assert list(elsewhere.iterdir()) == []
    finally:
        link.unlink()


def test_subfolder_source_names_still_work(tmp_path: Path) -> None:
    """A map whose top includes 'blocks/x.rdl' (as registers/qemu_virt.rdl does) embeds that
    name and rebuilds, inside its own folder."""
    srcs = [{"name": "top.rdl", "text": '`include "blocks/b.rdl"\naddrmap top { b_t b @0; };\n'},
            {"name": "blocks/b.rdl",
             "text": "regfile b_t { reg { field { sw = rw; } f[31:0]; } x @0; };\n"}]
    doc = tiny_doc(srcs)
    doc["registers"] = [["b.x", 0, 4, "0x7"]]
    target = open_dump(put(tmp_path, doc))
    assert target.regmap.get("b.x").address == 0
    assert target.read_block(0, 4) == (7).to_bytes(4, "little")


def test_an_include_from_outside_the_dump_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.rdl"
    secret.write_text("// private\naddrmap s {};\n")
    doc = tiny_doc([{"name": "tiny.rdl", "text": f'`include "{secret}"\n' + TINY}])
    with pytest.raises(MapError) as exc:
        open_dump(put(tmp_path, doc))
    assert "outside the map's own folder" in one_line(exc.value)
    doc = tiny_doc([{"name": "tiny.rdl", "text": '`include "../../../../../../dev/zero"\n'
                     + TINY}])
    with pytest.raises(SocdbgError):
        open_dump(put(tmp_path, doc))


# --- the map cache never runs code ------------------------------------------------------------
class _Touch:
    """Unpickling this creates ``path`` (the marker that code ran)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def test_planted_cache_entry_with_a_pickle_payload_runs_nothing(tmp_path: Path) -> None:
    rdl = tmp_path / "tiny.rdl"
    rdl.write_text(TINY)
    marker = tmp_path / "PWNED"
    good = load_map([rdl])
    cache = cache_mod.cache_dir()
    key = cache_mod._request_key([rdl.resolve()], [], {}, "", "rdl")
    payload = pickle.dumps(_Touch(marker))
    assert not marker.exists()
    pickle.loads(payload)  # the payload works: it creates the marker when unpickled
    assert marker.exists()
    marker.unlink()
    header = {"format": 5, "compiler": cache_mod.compiler_version(), "deps": []}
    for name in (f"map-{key}.pkl", f"map-{key}.map"):  # the old name and the new
        (cache / name).write_bytes(pickle.dumps(header) + payload)
    again = load_map([rdl])
    assert not marker.exists()
    assert again.identity == good.identity and again.get("rx").address == 0
    # an entry with our magic and a valid head whose body is a pickle: a miss, no code
    entry = cache / f"map-{key}.map"
    head = json.dumps({"format": cache_mod.CACHE_FORMAT,
                       "compiler": cache_mod.compiler_version(), "byteorder": sys.byteorder,
                       "deps": [], "sections": [["meta", len(payload)]]}).encode()
    entry.write_bytes(cache_mod.MAGIC + len(head).to_bytes(4, "little") + head + payload)
    assert cache_mod._read_entry(entry, cache_mod.compiler_version()) is None
    assert load_map([rdl]).get("rx").address == 0
    assert not marker.exists()


def test_cache_entries_hold_no_pickle_or_marshal(tmp_path: Path) -> None:
    rdl = tmp_path / "tiny.rdl"
    rdl.write_text(TINY)
    load_map([rdl])
    key = cache_mod._request_key([rdl.resolve()], [], {}, "", "rdl")
    blob = (cache_mod.cache_dir() / f"map-{key}.map").read_bytes()
    assert blob.startswith(cache_mod.MAGIC)
    assert b"\x80\x04" not in blob[:64] and b"\x80\x05" not in blob[:64]
    source = Path(cache_mod.__file__).read_text() + Path(
        cache_mod.__file__).with_name("svd.py").read_text()
    assert "import pickle" not in source and "import marshal" not in source


@pytest.mark.parametrize("damage", ["bad indices", "short column", "wrong types",
                                    "huge section", "paths miscounted"])
def test_damaged_cache_columns_are_a_miss(tmp_path: Path, damage: str) -> None:
    rdl = tmp_path / "tiny.rdl"
    rdl.write_text(TINY)
    load_map([rdl])
    key = cache_mod._request_key([rdl.resolve()], [], {}, "", "rdl")
    entry = cache_mod.cache_dir() / f"map-{key}.map"
    blob = entry.read_bytes()
    start = len(cache_mod.MAGIC) + 4
    size = int.from_bytes(blob[len(cache_mod.MAGIC) : start], "little")
    head = json.loads(blob[start : start + size])
    sections, at = {}, start + size
    for name, length in head["sections"]:
        sections[name] = blob[at : at + length]
        at += length
    if damage == "bad indices":
        sections["lidx"] = (99).to_bytes(4, sys.byteorder)
    elif damage == "paths miscounted":
        sections["paths"] += b"\nextra"
    elif damage == "short column":
        sections["addrs"] = sections["addrs"][:-1]
    elif damage == "wrong types":
        meta = json.loads(sections["meta"])
        meta["layouts"][0][1] = "32"
        sections["meta"] = json.dumps(meta).encode()
    head["sections"] = [[n, len(d)] for n, d in sections.items()]
    if damage == "huge section":
        head["sections"][0][1] = 1 << 40
    text = json.dumps(head).encode()
    body = (cache_mod.MAGIC + len(text).to_bytes(4, "little") + text
            + b"".join(sections.values()))
    entry.write_bytes(body + bytes(32))  # a MAC that does not verify: a miss
    assert cache_mod._read_entry(entry, cache_mod.compiler_version()) is None
    # even signed with the cache's own key, damaged columns are a miss, not a crash
    key = (cache_mod.cache_dir() / "key").read_bytes()
    entry.write_bytes(body + hmac.digest(key, body, "sha256"))
    assert cache_mod._read_entry(entry, cache_mod.compiler_version()) is None
    assert load_map([rdl]).get("rx").layout.width == 32


def test_only_entries_this_cache_wrote_are_read(tmp_path: Path) -> None:
    """An entry copied in from another cache (another key), or one whose key file is gone, is
    rebuilt; the key file is private to its owner."""
    rdl = tmp_path / "tiny.rdl"
    rdl.write_text(TINY)
    load_map([rdl])
    key_file = cache_mod.cache_dir() / "key"
    assert key_file.stat().st_mode & 0o077 == 0 and len(key_file.read_bytes()) == 32
    key = cache_mod._request_key([rdl.resolve()], [], {}, "", "rdl")
    entry = cache_mod.cache_dir() / f"map-{key}.map"
    version = cache_mod.compiler_version()
    assert cache_mod._read_entry(entry, version) is not None
    blob = bytearray(entry.read_bytes())
    blob[-1] ^= 1
    entry.write_bytes(bytes(blob))
    assert cache_mod._read_entry(entry, version) is None
    blob[-1] ^= 1
    entry.write_bytes(bytes(blob))
    assert cache_mod._read_entry(entry, version) is not None
    other = os.urandom(32)
    body = bytes(blob[:-32])
    entry.write_bytes(body + hmac.digest(other, body, "sha256"))
    assert cache_mod._read_entry(entry, version) is None


# --- Perl ---------------------------------------------------------------------------------------
PERL_RDL = textwrap.dedent("""\
    addrmap p {
    <% for my $i (0..2) { %>
        reg { field { sw = rw; } f[31:0]; } r<%=$i%> @ <%=$i*4%>;
    <% } %>
    };
    """)


@pytest.fixture
def spy_perl(tmp_path: Path, child_env: dict[str, str]) -> tuple[dict[str, str], Path]:
    """An environment whose ``perl`` leaves a marker file, then runs the real Perl."""
    import shutil

    real = shutil.which("perl")
    if real is None:
        pytest.skip("no perl installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "PERL_RAN"
    spy = bin_dir / "perl"
    spy.write_text(f'#!/bin/sh\ntouch "{marker}"\nexec "{real}" "$@"\n')
    spy.chmod(0o755)
    env = {**child_env, "PATH": f"{bin_dir}{os.pathsep}{child_env.get('PATH', '')}"}
    return env, marker


@pytest.mark.slow
def test_perl_in_a_dump_is_not_run(tmp_path: Path, spy_perl: tuple[dict[str, str], Path]
                                   ) -> None:
    env, marker = spy_perl
    # control: a user's own map may use Perl, and the spy sees it run
    own = tmp_path / "own.rdl"
    own.write_text(PERL_RDL)
    res = cli("--map", str(own), "regs", "find", "r2", env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert marker.exists()
    marker.unlink()
    # the same source embedded in a dump: refused, and Perl never starts
    doc = tiny_doc([{"name": "p.rdl", "text": PERL_RDL}])
    doc["registers"] = [["r2", 8, 4, "0x7"]]
    path = put(tmp_path, doc)
    res = cli("-t", f"dump:{path}", "read", "r2", env=env, cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "Perl preprocessor" in res.stderr
    res = cli("diff", str(path), str(path), env=env, cwd=tmp_path)
    assert res.returncode != 0 and "Perl preprocessor" in res.stderr
    assert not marker.exists()


def test_perl_in_a_dump_is_refused_in_process(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from systemrdl.preprocessor import perl_preprocessor

    calls: list[object] = []
    real_run = subprocess.run

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(perl_preprocessor.subprocess, "run", spy)
    doc = tiny_doc([{"name": "p.rdl", "text": PERL_RDL}])
    with pytest.raises(MapError) as exc:
        open_dump(put(tmp_path, doc))
    assert "Perl preprocessor" in one_line(exc.value)
    assert calls == []


@pytest.mark.slow
def test_a_users_perl_that_runs_forever_is_one_clear_error(tmp_path: Path,
                                                           child_env: dict[str, str]) -> None:
    own = tmp_path / "loop.rdl"
    own.write_text("<% while (1) {} %>\naddrmap l { reg { field {} f; } lr @0; };\n")
    res = cli("--map", str(own), "regs", "find", "lr", env=child_env, cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr and "TimeoutExpired" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "did not finish within" in lines[0], res.stderr


# --- bombs and lies -----------------------------------------------------------------------------
def _deflate_zeros(size: int, wbits: int) -> bytes:
    """A deflate stream (zlib or gzip framing) of ``size`` zero bytes, made without holding
    them."""
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = bytes(1 << 20)
    out = [comp.compress(chunk) for _ in range(size >> 20)]
    out.append(comp.compress(bytes(size & ((1 << 20) - 1))))
    out.append(comp.flush())
    return b"".join(out)


def _read_peak(path: Path) -> tuple[str, int]:
    tracemalloc.start()
    try:
        try:
            read_dump(path)
        except DumpError as exc:
            return one_line(exc), tracemalloc.get_traced_memory()[1]
        raise AssertionError("the bomb was read")
    finally:
        tracemalloc.stop()


def test_gzip_bomb_declaring_its_size_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = _deflate_zeros(MAX_DOCUMENT + (1 << 20), 31)
    assert len(bomb) < 500_000
    text, peak = _read_peak(put(tmp_path, bomb, "bomb.json.gz"))
    assert "declares" in text and "more than a dump socdbg reads" in text
    assert peak < 4 * len(bomb) + (8 << 20)


def test_gzip_bomb_lying_about_its_size_stops_at_the_declared_size(tmp_path: Path) -> None:
    bomb = bytearray(_deflate_zeros(200 << 20, 31))
    bomb[-4:] = (1000).to_bytes(4, "little")  # "1000 bytes", for 200 MiB of zeros
    text, peak = _read_peak(put(tmp_path, bytes(bomb), "lie.json.gz"))
    assert "inflates to more than the 1000 bytes it declares" in text
    assert peak < 4 * len(bomb) + (8 << 20)


def test_gzip_trailer_declaring_more_than_deflate_can_hold(tmp_path: Path,
                                                          real_doc: dict[str, Any]) -> None:
    data = bytearray(gzip.compress(json.dumps(real_doc).encode()))
    data[-4:] = (len(data) * 2000).to_bytes(4, "little")
    text, _ = _read_peak(put(tmp_path, bytes(data), "x.json.gz"))
    assert "more than gzip can hold" in text


def test_a_large_plain_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as fh:
        fh.truncate(MAX_DOCUMENT + 10)
    with pytest.raises(DumpError, match="larger than any dump"):
        read_dump(path)


def _with_memory(address: int, size: int, packed: bytes) -> dict[str, Any]:
    doc = tiny_doc()
    doc["memories"] = [{"address": address, "size": size,
                        "zlib_base64": base64.b64encode(packed).decode()}]
    return doc


def test_zlib_memory_bomb_lying_about_its_size(tmp_path: Path) -> None:
    packed = _deflate_zeros(300 << 20, 15)
    text, peak = _read_peak(put(tmp_path, _with_memory(0x1000, 4096, packed)))
    assert "memory at 0x1000 has more than 4096 bytes" in text
    assert peak < 8 * len(packed) + (8 << 20)


@pytest.mark.parametrize(("size", "word"), [
    (1 << 40, "not an integer in 1.."),
    (MAX_MEMORY, "more than zlib can hold"),
    (0, "not an integer in 1.."),
    (-5, "not an integer in 1.."),
])
def test_declared_memory_sizes_are_checked_before_inflating(tmp_path: Path, size: int,
                                                           word: str) -> None:
    packed = zlib.compress(b"abcd")
    text, peak = _read_peak(put(tmp_path, _with_memory(0x1000, size, packed)))
    assert word in text
    assert peak < 4 << 20  # the reader reads files in 1 MiB steps


def test_memories_together_may_not_exceed_the_cap(tmp_path: Path) -> None:
    packed = _deflate_zeros(MAX_MEMORY // 2, 15)
    doc = _with_memory(0, MAX_MEMORY // 2, packed)
    doc["memories"] *= 3
    text, peak = _read_peak(put(tmp_path, doc))
    assert "MiB in all" in text
    assert peak < 16 * len(packed) + (8 << 20)


def test_memory_past_the_end_of_the_address_space(tmp_path: Path) -> None:
    doc = _with_memory((1 << 64) - 2, 4, zlib.compress(b"abcd"))
    with pytest.raises(DumpError, match="past the end of the address space"):
        read_dump(put(tmp_path, doc))


def test_memory_with_trailing_garbage(tmp_path: Path) -> None:
    doc = _with_memory(0, 4, zlib.compress(b"abcd") + b"more")
    with pytest.raises(DumpError, match="data after its compressed stream"):
        read_dump(put(tmp_path, doc))


# --- every malformed dump is one line, in the CLI too -------------------------------------------
MALFORMED: dict[str, Any] = {
    "bad json": b"{not json",
    "wrong version": {"version": 7},
    "version zero": {"version": 0},
    "empty register name": {"registers": [["", 0, 4, "0x1"]]},
    "NUL register name": {"registers": [["a\u0000b", 0, 4, "0x1"]]},
    "huge register size": {"registers": [["r", 0, 1 << 40, "0x1"]]},
    "huge address": {"registers": [["r", 1 << 70, 4, "0x1"]]},
    "value too long": {"registers": [["r", 0, 4, "0x" + "f" * 100000]]},
    "bool address": {"registers": [["r", True, 4, "0x1"]]},
    "float size": {"registers": [["r", 0, 4.0, "0x1"]]},
    "duplicate register": {"registers": [["r", 0, 4, "0x1"], ["r", 4, 4, "0x2"]]},
    "failed reversed": {"failed": [[10, 5, "x"]]},
    "cycle negative": {"cycle": -1},
    "lone surrogate": {"target": "\ud800"},
    "deep nesting": b"[" * 100000 + b"]" * 100000,
    "truncated gz": "truncated-gz",
}


def _malformed(name: str) -> bytes:
    spec = MALFORMED[name]
    if isinstance(spec, bytes):
        return spec
    if spec == "truncated-gz":
        data = gzip.compress(json.dumps(tiny_doc()).encode())
        return data[: len(data) - 9]
    doc = tiny_doc()
    doc.update(spec)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_dumps_are_one_line(tmp_path: Path, name: str) -> None:
    path = put(tmp_path, _malformed(name))
    with pytest.raises(DumpError) as exc:
        read_dump(path)
    text = one_line(exc.value)
    assert text.startswith(f"{path}: ") and len(text) < 300, text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bad json", "NUL register name", "truncated gz",
                                  "deep nesting"])
def test_malformed_dumps_in_the_cli(tmp_path: Path, child_env: dict[str, str], name: str
                                    ) -> None:
    path = put(tmp_path, _malformed(name))
    res = cli("-t", f"dump:{path}", "read", "rx", env=child_env, cwd=tmp_path)
    assert_one_error_line(res, path, "")
    good = put(tmp_path, tiny_doc(), "good.json")
    res = cli("diff", str(good), str(path), env=child_env, cwd=tmp_path)
    assert_one_error_line(res, path, "")
    res = cli("diff", str(path), str(good), env=child_env, cwd=tmp_path)
    assert_one_error_line(res, path, "")


# --- atomic writes and partial memory -----------------------------------------------------------
def _a_dump() -> Dump:
    return Dump("tiny", "", [], {}, "", "sim", "now", None, {"r": (0, 4, 7)})


def test_the_next_write_removes_tmp_files_of_a_dead_writer(tmp_path: Path) -> None:
    out = tmp_path / "d.json.gz"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f"d.json.gz.{int(dead.stdout)}-abc123xy.tmp"
    stale.write_bytes(b"half a dump")
    alive = tmp_path / f"d.json.gz.{os.getppid()}-abc123xy.tmp"  # a live writer's: kept
    alive.write_bytes(b"being written")
    other = tmp_path / f"other.json.{int(dead.stdout)}-abc123xy.tmp"  # another path's: kept
    other.write_bytes(b"not ours")
    write_dump(_a_dump(), out)
    assert not stale.exists() and alive.exists() and other.exists()
    assert read_dump(out).registers == {"r": (0, 4, 7)}


@pytest.mark.slow
def test_a_dump_killed_mid_write_leaves_a_tmp_the_next_write_removes(
        tmp_path: Path, child_env: dict[str, str]) -> None:
    out = tmp_path / "d.json"
    script = textwrap.dedent(f"""
        import os, sys, time
        import socdbg.regmap.cache as cache
        from socdbg.dumpfile import Dump, write_dump
        def hang(fd):
            print("writing", flush=True)
            time.sleep(60)
        cache.os.fsync = hang
        write_dump(Dump("tiny", "", [], {{}}, "", "sim", "now", None, {{"r": (0, 4, 7)}}),
                   {str(out)!r})
    """)
    child = subprocess.Popen([sys.executable, "-c", script], env=child_env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    leftovers = list(tmp_path.glob("d.json.*.tmp"))
    assert len(leftovers) == 1 and not out.exists()
    write_dump(_a_dump(), out)
    assert list(tmp_path.glob("*.tmp")) == []
    assert read_dump(out).registers == {"r": (0, 4, 7)}


class FailsAfter:
    """A SimTarget whose block reads fail at and above ``bad``."""

    def __init__(self, sim: SimTarget, bad: int) -> None:
        self.sim, self.bad = sim, bad
        self.spec, self.capabilities, self.regmap = sim.spec, sim.capabilities, sim.regmap

    def read(self, address: int, size: int) -> bytes:
        return self.sim.read(address, size)

    def read_block(self, address: int, size: int) -> bytes:
        if address + size > self.bad:
            raise TargetError(f"bus error at {address:#x}: injected")
        return self.sim.read_block(address, size)

    def write(self, address: int, data: bytes) -> None:
        self.sim.write(address, data)

    def write_block(self, address: int, data: bytes) -> None:
        self.sim.write_block(address, data)

    def close(self) -> None:
        pass


def test_a_memory_range_failing_partway_keeps_what_was_read(ref: RegMap, tmp_path: Path
                                                            ) -> None:
    sim = SimTarget(ref)
    dram = ref.memory("dram")
    assert dram is not None
    sim.write_block(dram.address + 5, b"\xaa\xbb")
    target = FailsAfter(sim, dram.address + (1 << 20) + 100)
    dump = capture(target, ref, [], [(dram.address, 3 << 20)])  # type: ignore[arg-type]
    assert not dump.complete
    assert dump.memories == [(dram.address, dump.memories[0][1])]
    kept = dump.memories[0][1]
    assert len(kept) == 1 << 20 and kept[5:7] == b"\xaa\xbb"
    assert dump.failed == [(dram.address + (1 << 20), dram.address + (3 << 20),
                            f"bus error at {dram.address + (1 << 20):#x}: injected")]
    path = tmp_path / "partial.json"
    write_dump(dump, path)
    back = read_dump(path)
    assert not back.complete and back.memories == dump.memories
    t = DumpTarget(str(path), back, ref)
    assert t.read_block(dram.address + 5, 2) == b"\xaa\xbb"
    with pytest.raises(TargetError, match="the capture failed there"):
        t.read_block(dram.address + (1 << 20), 4)


def test_capture_refuses_more_memory_than_a_dump_holds() -> None:
    session = Session(out=io.StringIO())
    try:
        with pytest.raises(SocdbgError, match="more than a dump holds"):
            execute(session, "dump -o never.json --memory dram+0x10000000 "
                             "--memory dram+0x10000000")
        assert not Path("never.json").exists()
    finally:
        session.close()


# --- hypothesis: nothing but one-line SocdbgErrors ----------------------------------------------
def _reads_or_one_line(data: bytes, tmp_path: Path, ref: RegMap) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    try:
        dump = read_dump(path)
    except DumpError as exc:
        one_line(exc)
        return
    assert isinstance(dump, Dump)
    try:  # what the dump target builds from it must not break either
        target = DumpTarget(str(path), dump, ref)
        for addr, size, _ in list(dump.registers.values())[:3]:
            target.read_block(addr, size)
    except SocdbgError as exc:
        one_line(exc)


@pytest.fixture(scope="module")
def small_doc(real_doc: dict[str, Any]) -> dict[str, Any]:
    """The real dump with a short map source and a right identity, so mutations reach the
    checks behind the identity's."""
    doc = copy.deepcopy(real_doc)
    doc["map"]["sources"] = [{"name": "soc.rdl", "text": "addrmap soc {};"}]
    doc["map"]["identity"] = identity(doc["map"]["sources"], doc["map"]["defines"],
                                      doc["map"]["top"])
    doc["registers"] = doc["registers"][:12]
    return doc


_MUTATION = st.tuples(st.sampled_from(["flip", "set", "delete", "insert", "truncate", "dup"]),
                      st.floats(0, 1, exclude_max=True), st.integers(0, 255))
FUZZ = settings(max_examples=250, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mutate(data: bytearray, mutations: list[tuple[str, float, int]]) -> bytes:
    for op, where, byte in mutations:
        i = int(where * len(data)) if data else 0
        if op == "flip" and data:
            data[i] ^= 1 << (byte % 8)
        elif op == "set" and data:
            data[i] = byte
        elif op == "delete" and data:
            del data[i]
        elif op == "insert":
            data.insert(i, byte)
        elif op == "truncate":
            del data[i:]
        elif op == "dup":
            data[i:i] = data[i : i + byte]
    return bytes(data)


@FUZZ
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=5), gz=st.booleans())
def test_fuzz_byte_mutations(small_doc: dict[str, Any], ref: RegMap, tmp_path: Path,
                             mutations: list[tuple[str, float, int]], gz: bool) -> None:
    raw = json.dumps(small_doc).encode()
    data = _mutate(bytearray(gzip.compress(raw) if gz else raw), mutations)
    _reads_or_one_line(data, tmp_path, ref)


_LEAF = (st.none() | st.booleans() | st.integers(-(1 << 80), 1 << 80)
         | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10)
         | st.sampled_from(["0x10", "0xzz", "", "sram", "socdbg-dump", "../x", ".bashrc",
                            "\u0000", "a" * 64, "0" * 64, "eJxjYEAFAAAQAAE=", "/../../.."]))
_JSON = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*here, i))
    return out


@FUZZ
@given(data=st.data())
def test_fuzz_json_mutations(small_doc: dict[str, Any], ref: RegMap, tmp_path: Path,
                             data: st.DataObject) -> None:
    doc = copy.deepcopy(small_doc)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(_paths(doc)[1:]))
        parent: Any = doc
        for k in where[:-1]:
            parent = parent[k]
        choice = data.draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if choice == "replace":
            parent[where[-1]] = data.draw(_JSON)
        elif choice == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[where[-1]]))
        elif isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent.pop(where[-1])
    _reads_or_one_line(json.dumps(doc).encode(), tmp_path, ref)


@FUZZ
@given(doc=_JSON, fields=st.dictionaries(
    st.sampled_from(["format", "version", "map", "registers", "memories", "failed",
                     "skipped", "target", "wall_time", "cycle"]), _JSON, max_size=6))
def test_fuzz_random_json_structures(small_doc: dict[str, Any], ref: RegMap, tmp_path: Path,
                                     doc: Any, fields: dict[str, Any]) -> None:
    _reads_or_one_line(json.dumps(doc).encode(), tmp_path, ref)
    shaped = {**copy.deepcopy(small_doc), **fields}
    _reads_or_one_line(json.dumps(shaped).encode(), tmp_path, ref)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sources=st.lists(st.fixed_dictionaries({"name": st.text(max_size=12)
                                               | st.sampled_from(["a.rdl", "b/c.rdl"]),
                                               "text": st.sampled_from([TINY, "", "x"])}),
                        max_size=3))
def test_fuzz_embedded_sources_never_escape(tmp_path: Path, sources: list[dict[str, str]]
                                            ) -> None:
    cache = Path(os.environ["SOCDBG_CACHE_DIR"]).resolve()
    doc = tiny_doc(sources, ident="")
    path = put(tmp_path, doc)
    started = time.time()
    try:
        open_dump(path)
    except SocdbgError as exc:
        one_line(exc)
    for p in tmp_path.rglob("*"):  # nothing but the dump itself appeared outside the cache
        assert p == path or p.stat().st_mtime < started, p
    for p in cache.rglob("*"):
        assert p.resolve().is_relative_to(cache)
