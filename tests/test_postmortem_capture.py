"""Postmortem capture: ``dump`` in the shell (``execute``) and one-shot, what it reads and how.

A recording wrapper around a SimTarget logs every access. It proves that a dump reads every
readable register except those whose reads have side effects, that reads are coalesced into
block reads on a target declaring ``coalesce`` (split around holes, around skipped registers
and at the target's largest block) and that without ``coalesce`` every register is read on its
own at its access width. Then: the file's metadata, --include/--exclude/--memory/--target,
read-to-clear registers, and a dump before and after a DMA transfer.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import io
import json
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
import session_support as ss
from click.testing import CliRunner

import socdbg
from socdbg.access import plan_runs
from socdbg.cli import cli
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.dumpfile import read_dump
from socdbg.errors import SocdbgError
from socdbg.regmap import Register, RegMap
from socdbg.regmap.cache import dependencies
from socdbg.targets.base import CAP_COALESCE, HasMap, SimTime, Target
from socdbg.targets.recorder import RecordingTarget
from socdbg.targets.sim import SimTarget

REPO = Path(__file__).resolve().parents[1]
SRAM = 0x1000_0000
ECC_ERR_CNT = 0x4003_0010  # hbm.ecc_err_cnt: rclr + unsafe_read
#: The reference SoC's registers a default dump does not read, and why.
REF_SKIPPED = {"hbm.ecc_err_cnt": "read side effects (unsafe_read)",
               "intc.test_set": "write-only", "mailbox.doorbell": "write-only"}


class Recorder(RecordingTarget):
    """A Target (SimTime, HasMap, through the wrapper) in front of a SimTarget, logging every
    memory access as ``(kind, address, size)`` and every other call as the library's recorder
    does (``(operation, *arguments)``). ``coalesce=False`` drops the capability;
    ``max_read`` sets the largest block read the target admits to."""

    def __init__(self, sim: SimTarget, coalesce: bool = True, max_read: int | None = None
                 ) -> None:
        super().__init__(sim)
        self.sim = sim
        self.spec = "rec:" + sim.spec
        self.capabilities = sim.capabilities if coalesce else \
            sim.capabilities - {CAP_COALESCE}
        if max_read is not None:
            self.max_read = max_read
        self.log: list[tuple[Any, ...]] = []

    def read(self, address: int, size: int) -> bytes:
        self.log.append(("read", address, size))
        return self.sim.read(address, size)

    def read_block(self, address: int, size: int) -> bytes:
        self.log.append(("read_block", address, size))
        return self.sim.read_block(address, size)

    def write(self, address: int, data: bytes) -> None:
        self.log.append(("write", address, len(data)))
        self.sim.write(address, data)

    def write_block(self, address: int, data: bytes) -> None:
        self.log.append(("write_block", address, len(data)))
        self.sim.write_block(address, data)

    def close(self) -> None:
        pass  # the simulator outlives the session that borrowed it

    def take(self) -> list[tuple[str, int, int]]:
        log, self.log = self.log, []
        return log


def recorded(regmap: RegMap, **kw: Any) -> tuple[Session, Recorder]:
    rec = Recorder(SimTarget(regmap), **kw)
    session = Session(out=io.StringIO())
    session.use_target(rec)
    return session, rec


def dumped(session: Session, path: Path, *options: str) -> dict[str, Any]:
    out = execute(session, f"dump -o {path} " + " ".join(options))
    assert out is not None and out.ok, out and out.text
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def safe(regmap: RegMap) -> list[Register]:
    """What a default dump reads: readable, no read side effects, in address order."""
    return [r for r in regmap if r.layout.readable and not r.layout.read_side_effect]


def live_values(rec: Recorder, regs: list[Register]) -> dict[str, int]:
    return {r.path: rec.sim.regs.peek(r.path) for r in regs}


def test_the_recorder_is_a_target(ref_map: RegMap) -> None:
    session, rec = recorded(ref_map)
    assert isinstance(rec, Target) and isinstance(rec, SimTime) and isinstance(rec, HasMap)
    assert session.map is ref_map


# --- what is captured ------------------------------------------------------------------------
def test_dump_captures_every_readable_register_with_address_size_and_value(
        ref_map: RegMap, tmp_path: Path) -> None:
    session, rec = recorded(ref_map)
    execute(session, "write sysctrl.scratch 0xdeadbeef")
    execute(session, "write dma.ch[2].src 0x1122334455667788")
    execute(session, "write mailbox.msg64 0x0102030405060708")
    rec.sim.regs.hw_set("dma.ch[1].status", done=1, err=1, err_code=2)
    expected = safe(ref_map)
    before = live_values(rec, list(ref_map))
    rec.take()
    doc = dumped(session, tmp_path / "d.json")
    assert [row[0] for row in doc["registers"]] == [r.path for r in expected]
    live = live_values(rec, expected)
    for path, address, size, value in doc["registers"]:
        reg = ref_map.get(path)
        assert (address, size) == (reg.address, reg.size), path
        assert isinstance(value, str) and int(value, 16) == live[path], path
    values = {row[0]: int(row[3], 16) for row in doc["registers"]}
    assert values["sysctrl.scratch"] == 0xDEADBEEF
    assert values["dma.ch[2].src"] == 0x1122334455667788
    assert values["mailbox.msg64"] == 0x0102030405060708
    assert values["sysctrl.chip_id"] == 0x5D0C0A01
    assert dict(doc["skipped"]) == REF_SKIPPED
    # a dump changes nothing: every register (the skipped ones too) keeps its value
    assert live_values(rec, list(ref_map)) == before
    assert not [a for a in rec.log if a[0].startswith("write")]


def test_dump_metadata(ref_map: RegMap, tmp_path: Path) -> None:
    session, _ = recorded(ref_map)
    execute(session, "step 1234")
    t0 = datetime.datetime.now(datetime.UTC)
    doc = dumped(session, tmp_path / "d.json")
    assert set(doc) == {"format", "version", "socdbg", "complete", "map", "target",
                        "wall_time", "cycle", "registers", "memories", "failed", "skipped"}
    assert doc["format"] == "socdbg-dump" and doc["version"] == 1
    assert doc["socdbg"] == socdbg.__version__
    assert doc["complete"] is True and doc["failed"] == [] and doc["memories"] == []
    assert doc["target"] == "rec:sim"
    assert doc["cycle"] == 1234
    wall = datetime.datetime.fromisoformat(doc["wall_time"])
    assert wall.tzinfo is not None
    assert abs((wall - t0).total_seconds()) < 60
    m = doc["map"]
    assert set(m) == {"name", "identity", "defines", "top", "sources"}
    assert m["name"] == "soc" and m["identity"] == ref_map.identity
    assert m["defines"] == dict(ref_map.source.defines)
    names = [s["name"] for s in m["sources"]]
    assert names[0] == "soc.rdl"
    assert sorted(names) == sorted(f.name for f in dependencies(ref_map))
    for src in m["sources"]:
        assert src["text"] == (REPO / "registers" / src["name"]).read_text(encoding="utf-8")


def test_dump_output_data_and_summary(ref_map: RegMap, tmp_path: Path) -> None:
    session, _ = recorded(ref_map)
    path = tmp_path / "d.json"
    out = execute(session, f"dump -o {path} --memory sram+4K")
    assert out is not None and out.ok
    assert out.data == {"file": str(path), "registers": 329, "skipped": 3,
                        "memory_bytes": 4096, "complete": True, "failed": []}
    assert out.text == f"{path}: 329 registers, 3 skipped, 4096 bytes of memory"


def test_include_and_exclude(ref_map: RegMap, tmp_path: Path) -> None:
    session, rec = recorded(ref_map)
    doc = dumped(session, tmp_path / "d.json", "--include 'dma.ch[0].*'",
                 "--include sysctrl.chip_id", "--exclude dma.ch[0].len",
                 "--exclude 'dma.ch[0].ring_*'")
    want = ["sysctrl.chip_id"] + [r.path for r in ref_map.select("dma.ch[0].*")
                                  if r.path != "dma.ch[0].len" and "ring_" not in r.path]
    assert [row[0] for row in doc["registers"]] == want
    rec.take()
    # a glob over a block with a read-to-clear register: that one is skipped, with the reason
    doc = dumped(session, tmp_path / "h.json", "--include 'hbm.*'")
    assert [row[0] for row in doc["registers"]] == [
        "hbm.train_ctrl", "hbm.train_status", "hbm.ecc_last_addr", "hbm.cfg"]
    assert doc["skipped"] == [["hbm.ecc_err_cnt", "read side effects (unsafe_read)"]]
    assert all(not (a <= ECC_ERR_CNT < a + n) for _, a, n in rec.take())


@pytest.mark.parametrize(("spec", "address", "size"), [
    ("sram", SRAM, 1 << 20),
    ("sram+64K", SRAM, 64 << 10),
    ("sram+1M", SRAM, 1 << 20),
    ("sram+0x1000+16", SRAM + 0x1000, 16),
    ("0x10000040+0x40", SRAM + 0x40, 0x40),
    ("0x10000000+256", SRAM, 256),
    ("sram+2k", SRAM, 2048),
])
def test_memory_regions(ref_map: RegMap, tmp_path: Path, spec: str, address: int, size: int
                        ) -> None:
    session, rec = recorded(ref_map)
    pattern = bytes(range(256)) * 32
    rec.sim.memory_at(SRAM).write(SRAM, pattern)  # 8 KiB of counting bytes
    rec.sim.memory_at(SRAM).write(SRAM + 0x1000, b"socdbg postmortem")
    doc = dumped(session, tmp_path / "d.json", "--memory", spec)
    [mem] = doc["memories"]
    assert set(mem) == {"address", "size", "zlib_base64"}
    assert (mem["address"], mem["size"]) == (address, size)
    data = zlib.decompress(base64.b64decode(mem["zlib_base64"]))
    assert data == rec.sim.memory_at(SRAM).read(address, size)
    assert read_dump(tmp_path / "d.json").memories == [(address, data)]


@pytest.mark.parametrize("spec", ["nowhere", "sram+0", "sram+zz", "sram+0x10K", "+16",
                                  "sram+-4", "bogus+4K"])
def test_bad_memory_spec_is_refused_before_any_access(ref_map: RegMap, tmp_path: Path,
                                                      spec: str) -> None:
    session, rec = recorded(ref_map)
    with pytest.raises(SocdbgError, match=r"^--memory '|is not an address"):
        execute(session, f"dump -o {tmp_path / 'd.json'} --memory '{spec}'")
    assert rec.log == []
    assert list(tmp_path.iterdir()) == []


def test_dump_target_option_leaves_the_session_target_alone(tmp_path: Path) -> None:
    session = Session(out=io.StringIO())
    try:
        execute(session, "write sysctrl.scratch 0x55")
        doc = dumped(session, tmp_path / "d.json", "--target sim:mesh=2x2")
        assert doc["target"] == "sim:mesh=2x2"
        paths = {row[0] for row in doc["registers"]}
        assert "noc.router[3].coord" in paths and "noc.router[4].coord" not in paths
        assert dict(doc["map"]["defines"]) == {"MESH_X": "2", "MESH_Y": "2"}
        values = {row[0]: int(row[3], 16) for row in doc["registers"]}
        assert values["sysctrl.scratch"] == 0  # a fresh simulator, not the session's
        assert session.target.spec == "sim"
        assert session.map.find("noc.router[15].coord") is not None
        out = execute(session, "read --json sysctrl.scratch")
        assert out is not None and out.data["value"] == 0x55
    finally:
        session.close()


# --- read side effects -----------------------------------------------------------------------
def test_read_to_clear_register_is_not_read_by_default(ref_map: RegMap, tmp_path: Path
                                                       ) -> None:
    session, rec = recorded(ref_map)
    rec.sim.regs.hw_set("hbm.ecc_err_cnt", count=5)
    doc = dumped(session, tmp_path / "d.json")
    assert "hbm.ecc_err_cnt" not in {row[0] for row in doc["registers"]}
    assert rec.sim.regs.field("hbm.ecc_err_cnt", "count") == 5
    assert all(not (a <= ECC_ERR_CNT < a + n) for _, a, n in rec.take())


def test_include_side_effects_captures_and_clears(ref_map: RegMap, tmp_path: Path) -> None:
    session, rec = recorded(ref_map)
    rec.sim.regs.hw_set("hbm.ecc_err_cnt", count=5)
    doc = dumped(session, tmp_path / "d.json", "--include-side-effects")
    values = {row[0]: int(row[3], 16) for row in doc["registers"]}
    assert values["hbm.ecc_err_cnt"] == 5
    assert rec.sim.regs.field("hbm.ecc_err_cnt", "count") == 0  # as hardware would
    assert dict(doc["skipped"]) == {"intc.test_set": "write-only",
                                    "mailbox.doorbell": "write-only"}
    assert len(doc["registers"]) == 330


def test_rclr_and_rset_fields_are_side_effects(sem_map: RegMap, tmp_path: Path) -> None:
    session, rec = recorded(sem_map)
    rec.sim.regs.hw_set("onread", rc=7, rs=0, keep=3)
    rec.sim.regs.hw_set("clr_on_read", events=9)
    doc = dumped(session, tmp_path / "d.json")
    skipped = dict(doc["skipped"])
    assert skipped == {"onread": "read side effects", "clr_on_read": "read side effects"}
    assert rec.sim.regs.field("onread", "rc") == 7
    assert rec.sim.regs.field("onread", "rs") == 0
    assert rec.sim.regs.field("clr_on_read", "events") == 9
    doc = dumped(session, tmp_path / "e.json", "--include-side-effects")
    values = {row[0]: int(row[3], 16) for row in doc["registers"]}
    assert values["onread"] == 0x03_00_07 and values["clr_on_read"] & 0xFF == 9
    assert rec.sim.regs.field("onread", "rc") == 0
    assert rec.sim.regs.field("onread", "rs") == 0xFF
    assert rec.sim.regs.field("clr_on_read", "events") == 0


# --- coalescing ------------------------------------------------------------------------------
def _covered(regs: list[Register], address: int, size: int) -> list[Register]:
    """The registers a block read covers, checking that it covers them exactly: it starts on
    a register, ends on a register's end and has no hole inside."""
    inside = sorted((r for r in regs if address <= r.address < address + size),
                    key=lambda r: r.address)
    assert inside and inside[0].address == address, f"{address:#x} is not a register start"
    pos = address
    for r in inside:
        assert r.address == pos, f"block {address:#x}+{size:#x} spans a hole at {pos:#x}"
        pos = r.end
    assert pos == address + size, f"block {address:#x}+{size:#x} ends inside a register"
    return inside


def test_coalesced_dump_of_the_reference_soc(ref_map: RegMap, tmp_path: Path) -> None:
    session, rec = recorded(ref_map)
    execute(session, "write mailbox.msg[3] 0x33")
    execute(session, "write dma.ch[1].len 0x400")
    rec.take()
    doc = dumped(session, tmp_path / "d.json")
    log = rec.take()
    regs = safe(ref_map)
    assert len(doc["registers"]) == len(regs) == 329
    blocks = [a for a in log if a[0] == "read_block"]
    singles = [a for a in log if a[0] == "read"]
    assert {a[0] for a in log} <= {"read", "read_block"}
    # far fewer accesses than registers (holes every few registers in the NoC keep it at ~3)
    assert len(log) <= len(regs) // 2
    assert len(blocks) >= 80
    seen: list[str] = []
    for _, address, size in blocks:
        inside = _covered(regs, address, size)
        assert len(inside) >= 2
        seen += [r.path for r in inside]
    for _, address, size in singles:
        reg = ref_map.at(address)
        assert reg is not None and size == reg.accesswidth // 8
        assert (address - reg.address) % size == 0
        if address == reg.address:
            seen.append(reg.path)
    assert sorted(seen) == sorted(r.path for r in regs)  # each register read exactly once
    assert len(seen) == len(set(seen))
    # no read ever touches the read-to-clear register, nor the write-only ones
    for skipped in ("hbm.ecc_err_cnt", "intc.test_set", "mailbox.doorbell"):
        reg = ref_map.get(skipped)
        assert all(a + n <= reg.address or a >= reg.end for _, a, n in log), skipped
    # a run stops at a skipped register: hbm.train_ctrl..train_status, then ecc_last_addr..cfg
    assert ("read_block", 0x40030000, 8) in blocks
    assert ("read_block", 0x40030018, 12) in blocks


def test_coalesced_and_single_reads_capture_the_same_values(ref_map: RegMap, tmp_path: Path
                                                            ) -> None:
    sim = SimTarget(ref_map)
    execute_on = Session(out=io.StringIO())
    execute_on.use_target(sim)
    for line in ("write sysctrl.scratch 0xabcd", "write dma.ch[3].dst 0xfeedface00",
                 "write mailbox.msg64 0x1122334455667788", "write noc.ctrl en=1"):
        execute(execute_on, line)
    docs = []
    for coalesce in (True, False):
        session = Session(out=io.StringIO())
        rec = Recorder(sim, coalesce=coalesce)
        session.use_target(rec)
        docs.append(dumped(session, tmp_path / f"{coalesce}.json"))
    assert docs[0]["registers"] == docs[1]["registers"]


def test_without_coalesce_each_register_is_read_alone_at_its_width(ref_map: RegMap,
                                                                   tmp_path: Path) -> None:
    session, rec = recorded(ref_map, coalesce=False)
    dumped(session, tmp_path / "d.json")
    log = rec.take()
    expected = [("read", a, r.accesswidth // 8) for r in safe(ref_map)
                for a in range(r.address, r.end, r.accesswidth // 8)]
    assert log == expected
    # the 64-bit registers (accesswidth 32) are two 32-bit halves each: sysctrl.cycle,
    # dma.ch[0..3].src/dst/desc_base, hbm.ecc_last_addr and mailbox.msg64
    assert len(log) == 329 + 1 + 12 + 1 + 1
    assert ("read", 0x40050080, 4) in log and ("read", 0x40050084, 4) in log
    assert ("read", 0x40010108, 4) in log and ("read", 0x4001010C, 4) in log  # dma.ch[0].src
    assert ("read", 0x40000030, 4) in log and ("read", 0x40000034, 4) in log  # sysctrl.cycle


def test_runs_split_around_holes_and_skipped_registers(sem_map: RegMap, tmp_path: Path
                                                       ) -> None:
    """semantics.rdl: 0x08 (onread: rclr+rset) and 0x44 (clr_on_read) have read side
    effects, 0x34..0x3f is a hole."""
    session, rec = recorded(sem_map)
    dumped(session, tmp_path / "d.json")
    assert rec.take() == [("read_block", 0x00, 8), ("read_block", 0x0C, 0x28),
                          ("read", 0x40, 4)]
    dumped(session, tmp_path / "e.json", "--include-side-effects")
    assert rec.take() == [("read_block", 0x00, 0x34), ("read_block", 0x40, 8)]
    session, rec = recorded(sem_map, coalesce=False)
    dumped(session, tmp_path / "f.json")
    assert rec.take() == [("read", 0x00, 4), ("read", 0x04, 4), ("read", 0x0C, 4),
                          ("read", 0x10, 4), ("read", 0x14, 4), ("read", 0x18, 4),
                          ("read", 0x1C, 4), ("read", 0x20, 4), ("read", 0x24, 4),
                          ("read", 0x28, 8), ("read", 0x30, 4), ("read", 0x40, 4)]


def test_runs_respect_the_targets_largest_read(ref_map: RegMap, tmp_path: Path) -> None:
    session, rec = recorded(ref_map, max_read=16)
    small = dumped(session, tmp_path / "small.json")
    log = rec.take()
    regs = safe(ref_map)
    for kind, address, size in log:
        assert size <= 16
        if kind == "read_block":
            _covered(regs, address, size)
    big = dumped(recorded(ref_map)[0], tmp_path / "big.json")
    assert small["registers"] == big["registers"]
    assert len(log) > 114  # more, smaller reads than with the default block size


def test_plan_runs(sem_map: RegMap) -> None:
    regs = [r for r in sem_map if not r.layout.read_side_effect]
    spans = [(run[0].address, run[-1].end) for run in plan_runs(regs, 0x10000)]
    assert spans == [(0x00, 0x08), (0x0C, 0x34), (0x40, 0x44)]
    spans = [(run[0].address, run[-1].end) for run in plan_runs(regs, 8)]
    assert spans == [(0x00, 0x08), (0x0C, 0x14), (0x14, 0x1C), (0x1C, 0x20), (0x20, 0x28),
                     (0x28, 0x30), (0x30, 0x34), (0x40, 0x44)]
    assert all(len(run) == 1 for run in plan_runs(regs, 0))
    assert plan_runs([], 64) == []


# --- a DMA transfer --------------------------------------------------------------------------
DMA_SETUP = """
write sysctrl.rst_ctrl dma_rst=0
write dma.global_ctrl enable=1
""" + ss.DMA_16B_SETUP.lstrip()
DMA_RUN = ss.DMA_16B_RUN


def test_dump_and_diff_around_a_dma_transfer(ref_map: RegMap, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    session = Session(out=io.StringIO())
    try:
        for line in DMA_SETUP.strip().splitlines():
            execute(session, line)
        before, after = Path("before.json"), Path("after.json.gz")
        execute(session, f"dump -o {before} --memory sram+32 --memory dram+32")
        for line in DMA_RUN.strip().splitlines():
            execute(session, line)
        out = execute(session, f"dump -o {after} --memory sram+32 --memory dram+32")
        assert out is not None and out.ok
        assert after.read_bytes()[:2] == b"\x1f\x8b"  # .gz: compressed
        a, b = read_dump(before), read_dump(after)
        assert a.cycle == 0 and b.cycle is not None and b.cycle > 0
        pattern = bytes.fromhex("0123456789abcdeffedcba9876543210")
        assert a.memories[1] == (0x80000000, bytes(32))
        assert b.memories[1] == (0x80000000, pattern + bytes(16))
        assert a.memories[0] == b.memories[0] == (SRAM, pattern + bytes(16))

        out = execute(session, f"diff {before} {after} --json")
        assert out is not None and not out.ok and out.as_json
        changes = {(c["register"], c["field"]): (c["a"], c["b"]) for c in out.data["changes"]}
        assert changes[("dma.ch[0].status", "done")] == ("0", "1")
        assert changes[("dma.ch[0].bytes_done", "bytes")] == ("0x0", "0x10")
        assert changes[("dma.ch[0].ctrl", "en")] == ("0", "1")
        assert changes[("intc.status", "dma_ch0")] == ("0", "1")
        assert changes[("intc.pending", "dma_ch0")] == ("0", "1")
        assert ("dma.ch[0].status", "busy") not in changes
        assert not any(r.startswith(("dma.ch[1]", "sysctrl.")) for r, _ in changes)
        assert out.data["only_in_a"] == out.data["only_in_b"] == []

        text = io.StringIO()
        shown = Session(out=text, width=120)
        out = execute(shown, f"diff {before} {after}")
        shown.presenter.emit(out)
        lines = text.getvalue().splitlines()
        assert lines[0].startswith("A = ") and lines[1].startswith("B = ")
        assert "register(s) differ" in lines[2]
        assert any("dma.ch[0].status" in ln and "done" in ln for ln in lines)
        assert any("dma.ch[0].bytes_done" in ln and "0x10" in ln for ln in lines)
    finally:
        session.close()


# --- one-shot --------------------------------------------------------------------------------
def test_one_shot_dump_in_a_child_process(python: str, child_env: dict[str, str],
                                          tmp_path: Path) -> None:
    proc = subprocess.run([python, "-m", "socdbg", "dump", "-o", "d.json", "--memory",
                           "sram+64K", "--exclude", "noc.*"], cwd=tmp_path, env=child_env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    n_noc = 3 + 16 * (1 + 5 * 3)
    assert proc.stdout == f"d.json: {329 - n_noc} registers, 3 skipped, 65536 bytes of memory\n"
    dump = read_dump(tmp_path / "d.json")
    assert dump.target == "sim" and dump.complete
    assert not any(p.startswith("noc.") for p in dump.registers)
    assert dump.memories[0][0] == SRAM and len(dump.memories[0][1]) == 65536
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"]


def test_one_shot_dump_with_clirunner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["-t", "sim:mesh=2x2", "dump", "--include", "noc.*"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [made] = list(tmp_path.iterdir())  # the default name, in the working folder
    assert made.name.startswith("socdbg-dump-") and made.name.endswith(".json.gz")
    assert result.stdout.startswith(f"{made.name}: ")
    doc = json.loads(gzip.decompress(made.read_bytes()))
    assert doc["target"] == "sim:mesh=2x2"
    assert all(p.startswith("noc.") for p, *_ in doc["registers"])
    assert len(doc["registers"]) == 3 + 4 * (1 + 5 * 3)
    result = runner.invoke(cli, ["dump", "-o", "x.json", "--target", "sim", "--include",
                                 "sysctrl.chip_id", "--include-side-effects"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert read_dump(tmp_path / "x.json").registers == {
        "sysctrl.chip_id": (0x40000000, 4, 0x5D0C0A01)}


def test_dump_help_names_every_option() -> None:
    result = CliRunner().invoke(cli, ["dump", "--help"])
    assert result.exit_code == 0
    for opt in ("-o, --output", "--include", "--exclude", "--memory", "--include-side-effects",
                "-t, --target"):
        assert opt in result.stdout


def test_a_memory_range_over_a_read_to_clear_register_is_not_read(ref_map: RegMap,
                                                                  tmp_path: Path) -> None:
    session, rec = recorded(ref_map)
    rec.sim.regs.hw_set("hbm.ecc_err_cnt", count=5)
    out = execute(session, f"dump -o {tmp_path / 'd.json'} --include hbm.cfg "
                           "--memory 0x40030000+0x24")
    assert out is not None
    assert rec.sim.regs.field("hbm.ecc_err_cnt", "count") == 5
    assert all(not (a <= ECC_ERR_CNT < a + n) for _, a, n in rec.take())
    assert read_dump(tmp_path / "d.json").memories == []
