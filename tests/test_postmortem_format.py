"""The dump file: round trip, atomic write, incomplete dumps, and every kind of bad file.

A bad file (truncated, garbage, wrong JSON types, bad base64, someone else's JSON, a future
format version) must give one clear line (a DumpError, ``error: ...`` from the CLI), never a
traceback; hypothesis mutates a real dump's bytes and JSON to look for anything else.
"""

from __future__ import annotations

import base64
import copy
import errno
import gzip
import io
import json
import os
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socdbg.cli import main
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.dumpfile import Dump, DumpError, read_dump, write_dump
from socdbg.errors import SocdbgError, TargetError
from socdbg.regmap import RegMap
from socdbg.targets.sim import SimTarget


class Failing:
    """Forwards to a SimTarget; the ``fail_at``-th access (1-based) raises TargetError, or
    with ``dead`` every access from then on fails (a link that went away), ``now`` too."""

    def __init__(self, sim: SimTarget, fail_at: int, dead: bool = False) -> None:
        self.sim = sim
        self.spec = "failing:" + sim.spec
        self.capabilities = sim.capabilities
        self.regmap = sim.regmap
        self.fail_at = fail_at
        self.dead = dead
        self.count = 0
        self.log: list[tuple[str, int, int]] = []

    def _access(self, kind: str, address: int, size: int) -> None:
        self.count += 1
        self.log.append((kind, address, size))
        if self.count == self.fail_at or (self.dead and self.count > self.fail_at):
            raise TargetError(f"bus error: {kind} of {size} byte(s) at {address:#x}: "
                              "injected")

    def read(self, address: int, size: int) -> bytes:
        self._access("read", address, size)
        return self.sim.read(address, size)

    def read_block(self, address: int, size: int) -> bytes:
        self._access("read_block", address, size)
        return self.sim.read_block(address, size)

    def write(self, address: int, data: bytes) -> None:
        self.sim.write(address, data)

    def write_block(self, address: int, data: bytes) -> None:
        self.sim.write_block(address, data)

    def close(self) -> None:
        pass

    @property
    def now(self) -> int:
        if self.dead and self.count >= self.fail_at:
            raise TargetError("gdb://lab:3333: the stub closed the connection")
        return self.sim.now

    def step(self, cycles: int = 1) -> None:
        self.sim.step(cycles)

    def run_until_text(self, condition: str, max_cycles: int) -> bool:
        return self.sim.run_until_text(condition, max_cycles)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real dump of the reference SoC with some state and 1 KiB of sram."""
    path = tmp_path_factory.mktemp("good") / "good.json"
    session = Session(out=io.StringIO())
    for line in ("write sysctrl.scratch 0x12345678", "poke sram+0x10 0xcafe",
                 "write mailbox.msg64 0x1122334455667788", "step 77"):
        execute(session, line)
    out = execute(session, f"dump -o {path} --memory sram+1K")
    assert out is not None and out.ok
    session.close()
    return path


@pytest.fixture(scope="module")
def good_doc(good: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(good.read_text(encoding="utf-8"))
    return doc


def one_line(exc: SocdbgError) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text, text
    return text


# --- round trip ------------------------------------------------------------------------------
def test_round_trip_plain_and_gzip(good: Path, tmp_path: Path) -> None:
    dump = read_dump(good)
    assert dump.complete and dump.cycle == 77 and dump.target == "sim"
    assert dump.registers["sysctrl.scratch"] == (0x40000008, 4, 0x12345678)
    assert dump.registers["mailbox.msg64"] == (0x40050080, 8, 0x1122334455667788)
    assert dump.memories[0][0] == 0x10000000 and len(dump.memories[0][1]) == 1024
    assert dump.memories[0][1][0x10:0x12] == b"\xfe\xca"
    for name in ("again.json", "again.json.gz"):
        write_dump(dump, tmp_path / name)
        assert read_dump(tmp_path / name) == dump
    assert (tmp_path / "again.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "again.json").read_bytes()[:1] == b"{"
    assert (tmp_path / "again.json.gz").stat().st_size < good.stat().st_size / 3
    # the content decides, not the name: a compressed file named .json reads
    (tmp_path / "renamed.json").write_bytes((tmp_path / "again.json.gz").read_bytes())
    assert read_dump(tmp_path / "renamed.json") == dump


def test_registers_are_hex_strings_and_memories_zlib_base64(good_doc: dict[str, Any]) -> None:
    for path, address, size, value in good_doc["registers"]:
        assert isinstance(path, str) and isinstance(address, int) and size in (4, 8)
        assert value.startswith("0x") and int(value, 16) < 1 << (8 * size)
    [mem] = good_doc["memories"]
    raw = zlib.decompress(base64.b64decode(mem["zlib_base64"]))
    assert len(raw) == mem["size"] == 1024


# --- atomic write ----------------------------------------------------------------------------
def test_write_leaves_only_the_file(good: Path, tmp_path: Path) -> None:
    write_dump(read_dump(good), tmp_path / "d.json")
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "d.json").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("what", ["replace", "fsync", "chmod"])
def test_a_failed_write_leaves_no_temp_file_and_keeps_the_old_one(
        good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str) -> None:
    dump = read_dump(good)
    out = tmp_path / "d.json"
    out.write_text("the previous dump", encoding="utf-8")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, what, refuse)
    with pytest.raises(DumpError) as exc:
        write_dump(dump, out)
    monkeypatch.undo()
    assert one_line(exc.value) == f"{out}: cannot write: Permission denied"
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]
    assert out.read_text(encoding="utf-8") == "the previous dump"


def test_writing_into_a_missing_folder_or_onto_a_folder(good: Path, tmp_path: Path) -> None:
    dump = read_dump(good)
    with pytest.raises(DumpError, match="cannot write: No such file or directory"):
        write_dump(dump, tmp_path / "nowhere" / "d.json")
    (tmp_path / "taken").mkdir()
    with pytest.raises(DumpError, match="cannot write"):
        write_dump(dump, tmp_path / "taken")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert list((tmp_path / "taken").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder(good: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(DumpError) as exc:
            write_dump(read_dump(good), folder / "d.json")
        assert one_line(exc.value) == f"{folder / 'd.json'}: cannot write: Permission denied"
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_the_dump_command_reports_a_failed_write_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SystemExit) as exc:
        main(["dump", "-o", "d.json.gz", "--include", "sysctrl.*"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: d.json.gz: cannot write: No space left on device\n"
    assert list(tmp_path.iterdir()) == []


# --- incomplete dumps ------------------------------------------------------------------------
def test_a_failed_read_midway_still_writes_an_incomplete_dump(ref_map: RegMap, tmp_path: Path
                                                              ) -> None:
    # sysctrl.cycle is two 32-bit reads: the 8th access is the dma.ch[0] block
    target = Failing(SimTarget(ref_map), fail_at=8)
    session = Session(out=io.StringIO())
    session.use_target(target)
    path = tmp_path / "d.json"
    out = execute(session, f"dump -o {path}")
    assert out is not None and not out.ok
    kind, start, size = target.log[7]
    assert kind == "read_block"  # dma.ch[0]: one block of 10 registers
    assert (start, size) == (0x40010100, 0x34)
    why = f"bus error: read_block of 52 byte(s) at {start:#x}: injected"
    assert out.data["complete"] is False
    assert out.data["failed"] == [[start, start + size, why]]
    assert out.text.splitlines()[1] == f"incomplete: {start:#x}..{start + size - 1:#x} not " \
                                       f"read: {why}"
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["complete"] is False and doc["failed"] == [[start, start + size, why]]
    dump = read_dump(path)
    assert not dump.complete and dump.failed == [(start, start + size, why)]
    assert len(dump.registers) == 329 - 10
    assert not any(p.startswith("dma.ch[0].") for p in dump.registers)
    assert "dma.ch[1].ctrl" in dump.registers and "mailbox.msg64" in dump.registers
    # opened as a target, the failed range says why it is missing
    reader = Session(target=f"dump:{path}", out=io.StringIO())
    with pytest.raises(TargetError) as exc:
        execute(reader, "read dma.ch[0].len")
    assert exc.value.message == f"dump:{path} did not capture dma.ch[0].len (0x40010118)"
    assert exc.value.hint == f"the capture failed there: {why}"
    reader.close()


def test_a_failed_memory_read_is_incomplete_and_exits_1(python: str, child_env: dict[str, str],
                                                        tmp_path: Path) -> None:
    proc = subprocess.run([python, "-m", "socdbg", "dump", "-o", "d.json", "--memory",
                           "sram+16", "--memory", "0x20000000+0x10"], cwd=tmp_path,
                          env=child_env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "d.json: 329 registers, 3 skipped, 16 bytes of memory"
    assert lines[1].startswith("incomplete: 0x20000000..0x2000000f not read: bus error")
    dump = read_dump(tmp_path / "d.json")
    assert not dump.complete and len(dump.registers) == 329
    [(start, end, why)] = dump.failed
    assert (start, end) == (0x20000000, 0x20000010) and "bus error" in why
    assert dump.memories == [(0x10000000, bytes(16))]


def test_cli_exits_1_for_an_incomplete_dump(ref_map: RegMap, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import socdbg.targets.base as base

    real = base.open_target

    def failing_open(spec: str, load: Any) -> Any:
        return Failing(real(spec, load), fail_at=3)  # type: ignore[arg-type]

    monkeypatch.setattr(base, "open_target", failing_open)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["dump", "-o", "d.json"])
    assert exc.value.code == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("incomplete: ")
    assert not read_dump(tmp_path / "d.json").complete


def test_a_link_that_dies_midway_still_writes_what_was_read(ref_map: RegMap, tmp_path: Path
                                                            ) -> None:
    target = Failing(SimTarget(ref_map), fail_at=20, dead=True)
    session = Session(out=io.StringIO())
    session.use_target(target)
    out = execute(session, f"dump -o {tmp_path / 'd.json'}")
    assert out is not None and not out.ok
    dump = read_dump(tmp_path / "d.json")
    assert not dump.complete and 0 < len(dump.registers) < 329


# --- bad files -------------------------------------------------------------------------------
def _edit(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], bytes]:
    def make(doc: dict[str, Any]) -> bytes:
        d = copy.deepcopy(doc)
        fn(d)
        return json.dumps(d).encode()

    return make


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], bytes]:
    def fn(d: dict[str, Any]) -> None:
        node: Any = d
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return _edit(fn)


def _drop(key: str) -> Callable[[dict[str, Any]], bytes]:
    return _edit(lambda d: d.pop(key))


def _raw(data: bytes) -> Callable[[dict[str, Any]], bytes]:
    return lambda doc: data


def _cut(fraction: float) -> Callable[[dict[str, Any]], bytes]:
    def make(doc: dict[str, Any]) -> bytes:
        data = json.dumps(doc).encode()
        return data[: int(len(data) * fraction)]

    return make


def _gz(inner: Callable[[dict[str, Any]], bytes], cut: float = 1.0
        ) -> Callable[[dict[str, Any]], bytes]:
    def make(doc: dict[str, Any]) -> bytes:
        data = gzip.compress(inner(doc))
        return data[: int(len(data) * cut)]

    return make


_BAD_MEM = {"address": 0x10000000, "size": 4, "zlib_base64": "!!not base64!!"}
_NOT_ZLIB = {"address": 0x10000000, "size": 4, "zlib_base64": base64.b64encode(b"1234").decode()}
_SHORT = {"address": 0x10000000, "size": 8,
          "zlib_base64": base64.b64encode(zlib.compress(b"1234")).decode()}

#: name -> (bytes of the file, a word the error must contain)
BAD: dict[str, tuple[Callable[[dict[str, Any]], bytes], str]] = {
    "empty": (_raw(b""), "truncated or corrupt"),
    "one byte": (_cut(0.00001), "truncated or corrupt"),
    "truncated half": (_cut(0.5), "truncated or corrupt"),
    "truncated end": (lambda d: json.dumps(d).encode()[:-1], "truncated or corrupt"),
    "garbage": (_raw(bytes(range(256)) * 4), "not a socdbg dump"),
    "text": (_raw(b"this is not a dump\n"), "not a socdbg dump"),
    "latin-1": (_raw(b'{"format": "socdbg-dump\xff"}'), "truncated or corrupt"),
    "gz truncated": (_gz(lambda d: json.dumps(d).encode(), 0.5), "truncated or corrupt"),
    "gz of garbage": (_gz(_raw(b"\x00\x01 not json")), "truncated or corrupt"),
    "gz header only": (_raw(b"\x1f\x8b"), "truncated or corrupt"),
    "foreign object": (_raw(b'{"name": "package.json", "version": "1.0.0"}'), "not a socdbg"),
    "foreign list": (_raw(b"[1, 2, 3]"), "not a socdbg"),
    "json string": (_raw(b'"socdbg-dump"'), "not a socdbg"),
    "json null": (_raw(b"null"), "not a socdbg"),
    "other format": (_set("format", value="otherdbg-dump"), "not a socdbg"),
    "future version": (_set("version", value=2), "version 2 is newer"),
    "far future": (_set("version", value=99), "version 99 is newer"),
    "version as text": (_set("version", value="1"), "unknown dump format version"),
    "no version": (_drop("version"), "unknown dump format version"),
    "no map": (_drop("map"), "corrupt"),
    "map is a list": (_set("map", value=[1, 2]), "corrupt"),
    "no registers": (_drop("registers"), "corrupt"),
    "registers is an object": (_set("registers", value={"a": 1}), "corrupt"),
    "register row too short": (_set("registers", 0, value=["sysctrl.chip_id", 1, 4]),
                               "corrupt"),
    "register value is a number": (_set("registers", 0, 3, value=5), "corrupt"),
    "register value not hex": (_set("registers", 0, 3, value="0xzz"), "corrupt"),
    "register address is text": (_set("registers", 0, 1, value="here"), "corrupt"),
    "register address is null": (_set("registers", 0, 1, value=None), "corrupt"),
    "memories is text": (_set("memories", value="abc"), "corrupt"),
    "bad base64": (_set("memories", 0, value=_BAD_MEM), "corrupt"),
    "base64 of not zlib": (_set("memories", 0, value=_NOT_ZLIB), "corrupt"),
    "memory size mismatch": (_set("memories", 0, value=_SHORT), "has 4 bytes, not 8"),
    "memory without data": (_set("memories", 0, value={"address": 1, "size": 1}), "corrupt"),
    "failed row too short": (_set("failed", value=[[1]]), "corrupt"),
    "skipped is a number": (_set("skipped", value=5), "corrupt"),
    "no target": (_drop("target"), "corrupt"),
    "defines is a list": (_set("map", "defines", value=[1, 2]), "corrupt"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_give_one_clear_line(good_doc: dict[str, Any], tmp_path: Path, name: str
                                       ) -> None:
    make, word = BAD[name]
    path = tmp_path / "bad.json"
    path.write_bytes(make(good_doc))
    with pytest.raises(DumpError) as exc:
        read_dump(path)
    text = one_line(exc.value)
    assert text.startswith(f"{path}: ")
    assert word in text
    assert len(text) < 300
    with pytest.raises(DumpError):  # the same when opened as a target
        _ = Session(target=f"dump:{path}").target


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DumpError) as exc:
        read_dump(tmp_path / "nope.json")
    assert one_line(exc.value) == f"{tmp_path / 'nope.json'}: no such dump file"
    with pytest.raises(DumpError, match="cannot read"):
        read_dump(tmp_path)


def test_future_version_hint(good_doc: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(_set("version", value=2)(good_doc))
    with pytest.raises(DumpError) as exc:
        read_dump(path)
    assert exc.value.message == f"{path}: dump format version 2 is newer than this socdbg " \
                                "reads (1)"
    assert exc.value.hint == "upgrade socdbg"


@pytest.mark.parametrize("name", ["truncated half", "garbage", "foreign object",
                                  "future version", "bad base64", "gz truncated"])
@pytest.mark.parametrize("how", ["target", "diff", "diff-second"])
def test_bad_files_through_the_cli(good_doc: dict[str, Any], good: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str], name: str, how: str
                                   ) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(BAD[name][0](good_doc))
    argv = {"target": ["-t", f"dump:{path}", "read", "sysctrl.chip_id"],
            "diff": ["diff", str(path), str(good)],
            "diff-second": ["diff", str(good), str(path)]}[how]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), captured.err


def test_bad_file_in_a_child_process(python: str, child_env: dict[str, str], tmp_path: Path,
                                     good_doc: dict[str, Any]) -> None:
    (tmp_path / "t.json").write_bytes(_cut(0.7)(good_doc))
    (tmp_path / "v.json").write_bytes(_set("version", value=3)(good_doc))
    for name, word in (("t.json", "truncated or corrupt"), ("v.json", "version 3 is newer")):
        proc = subprocess.run([python, "-m", "socdbg", "-t", f"dump:{name}", "read",
                               "sysctrl.chip_id"], cwd=tmp_path, env=child_env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 1 and proc.stdout == ""
        assert len(proc.stderr.splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith(f"error: {name}: ") and word in proc.stderr


# --- bugs: bad files that escape as tracebacks -----------------------------------------------
def _raises_dump_error(path: Path) -> None:
    with pytest.raises(DumpError):
        read_dump(path)
        session = Session(target=f"dump:{path}", out=io.StringIO())
        _ = session.target
        execute(session, "read sysctrl.*")


def test_corrupt_gzip_stream(good_doc: dict[str, Any], tmp_path: Path) -> None:
    data = bytearray(gzip.compress(json.dumps(good_doc).encode()))
    for i in range(20, 60):
        data[i] ^= 0xFF
    path = tmp_path / "d.json.gz"
    path.write_bytes(bytes(data))
    _raises_dump_error(path)


def test_deeply_nested_json(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    _raises_dump_error(path)


@pytest.mark.parametrize("sources", ["soc.rdl", {"name": "soc.rdl"}, [1, 2],
                                     [{"name": "soc.rdl", "text": 5}]])
def test_wrong_types_in_map_sources(good_doc: dict[str, Any], tmp_path: Path, sources: Any
                                    ) -> None:
    path = tmp_path / "d.json"
    path.write_bytes(_set("map", "sources", value=sources)(good_doc))
    _raises_dump_error(path)


@pytest.mark.parametrize(("size", "value"), [(4, "0x1ffffffff"), (4, "-0x1"), (-4, "0x1")])
def test_register_value_out_of_range(good_doc: dict[str, Any], tmp_path: Path, size: int,
                                     value: str) -> None:
    path = tmp_path / "d.json"
    path.write_bytes(_set("registers", 0, value=["sysctrl.chip_id", 0x40000000, size, value])(
        good_doc))
    _raises_dump_error(path)


@pytest.mark.parametrize("number", ["1e400", "Infinity", "-Infinity"])
def test_non_finite_numbers(good_doc: dict[str, Any], tmp_path: Path, number: str) -> None:
    text = json.dumps(good_doc)
    head = '"registers": [["sysctrl.chip_id", 1073741824'
    assert head in text
    path = tmp_path / "d.json"
    path.write_text(text.replace(head, f'"registers": [["sysctrl.chip_id", {number}'),
                    encoding="utf-8")
    _raises_dump_error(path)


# --- hypothesis ------------------------------------------------------------------------------
def _small_doc(good_doc: dict[str, Any]) -> dict[str, Any]:
    """The real dump with a short map source, so that mutations land on the structure."""
    doc = copy.deepcopy(good_doc)
    doc["map"]["sources"] = [{"name": "soc.rdl", "text": "addrmap soc {};"}]
    doc["map"]["identity"] = ""  # recomputed from the sources: mutations get past that check
    doc["registers"] = doc["registers"][:12]
    return doc


def _accepts_or_dump_error(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(data)
    try:
        dump = read_dump(path)
    except DumpError as exc:
        one_line(exc)
        return
    assert isinstance(dump, Dump)


_MUTATION = st.tuples(st.sampled_from(["flip", "set", "delete", "insert", "truncate"]),
                      st.floats(0, 1, exclude_max=True), st.integers(0, 255))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=4))
def test_byte_mutations_of_a_real_dump(good_doc: dict[str, Any], tmp_path: Path,
                                       mutations: list[tuple[str, float, int]]) -> None:
    data = bytearray(json.dumps(_small_doc(good_doc)).encode())
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
    _accepts_or_dump_error(bytes(data), tmp_path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
    | st.sampled_from(["0x10", "0xzz", "", "sram", "socdbg-dump"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=8)


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(node, dict):
        for k, v in node.items():
            if k != "text":
                out += _paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*here, i))
    return out


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_json_mutations_of_a_real_dump(good_doc: dict[str, Any], tmp_path: Path,
                                       data: st.DataObject) -> None:
    doc = _small_doc(good_doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        where = data.draw(st.sampled_from(paths[1:]))
        parent: Any = doc
        for k in where[:-1]:
            parent = parent[k]
        if data.draw(st.booleans()):
            parent[where[-1]] = data.draw(_JSON)
        elif isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent.pop(where[-1])
    _accepts_or_dump_error(json.dumps(doc).encode(), tmp_path)



_TEXT = st.text(max_size=12)


@settings(max_examples=60, deadline=None)
@given(registers=st.dictionaries(_TEXT, st.tuples(st.integers(0, 1 << 64),
                                                  st.integers(1, 8),
                                                  st.integers(0, (1 << 64) - 1)),
                                 max_size=4),
       memories=st.lists(st.tuples(st.integers(0, 1 << 64),
                                   st.one_of(st.binary(max_size=300),
                                             st.integers(0, 70000).map(bytes))),
                         max_size=3),
       failed=st.lists(st.tuples(st.integers(0, 1 << 64), st.integers(0, 1 << 64), _TEXT),
                       max_size=2),
       skipped=st.lists(st.tuples(_TEXT, _TEXT), max_size=2),
       defines=st.dictionaries(_TEXT, _TEXT, max_size=2),
       sources=st.lists(st.fixed_dictionaries({"name": _TEXT, "text": _TEXT}), max_size=2),
       cycle=st.one_of(st.none(), st.integers(0, 1 << 64)), name=_TEXT)
def test_json_chunks_are_the_json_document_byte_for_byte(
        registers: dict[str, tuple[int, int, int]], memories: list[tuple[int, bytes]],
        failed: list[tuple[int, int, str]], skipped: list[tuple[str, str]],
        defines: dict[str, str], sources: list[dict[str, str]], cycle: int | None,
        name: str) -> None:
    dump = Dump(map_name=name, map_identity="0" * 64, map_sources=sources,
                map_defines=defines, map_top=name, target=f"sim:{name}", wall_time=name,
                cycle=cycle, registers=registers, memories=memories, failed=failed,
                skipped=skipped)
    want = json.dumps(dump.to_json(), separators=(",", ":")).encode()
    assert b"".join(dump.json_chunks()) == want
