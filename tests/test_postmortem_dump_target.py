"""``--target dump:FILE``: a capture opened read-only.

Every command that reads (read, peek, find, info, the block views, completion) works from the
stored values and gives what the live simulator gave when the dump was taken; reading what was
not captured names it and says why; nothing is ever written; the embedded map decodes the dump
anywhere (another working folder, a fresh cache, the source tree out of reach).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from session_support import bring_up

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.dumpfile import read_dump
from socdbg.errors import SocdbgError, TargetError
from socdbg.shell.completer import ShellCompleter
from socdbg.targets.base import CAP_WRITE
from socdbg.targets.dump import DumpTarget

REPO = Path(__file__).resolve().parents[1]
#: The reference SoC brought up (session_support.BRING_UP: PLL, resets, HBM trained, a DMA
#: transfer), with a scratch value and channel 2 set up as a ring.
STATE = bring_up(after_reset="write sysctrl.scratch 0x600dcafe", after_dma="""
write dma.ch[2].ctrl mode=RING
write dma.ch[2].desc_count 8
""")


@pytest.fixture(scope="module")
def live(_socdbg_session_env: None) -> Iterator[Session]:
    """A simulator after HBM training, NoC enable and a DMA transfer, with an ECC count."""
    session = Session(out=io.StringIO())
    for line in STATE.strip().splitlines():
        execute(session, line)
    session.target.regs.hw_set("hbm.ecc_err_cnt", count=5)  # type: ignore[attr-defined]
    yield session
    session.close()


@pytest.fixture(scope="module")
def dump_file(live: Session, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dump") / "state.json.gz"
    out = execute(live, f"dump -o {path} --memory sram+4K")
    assert out is not None and out.ok
    return path


@pytest.fixture
def dumped(dump_file: Path) -> Iterator[Session]:
    session = Session(target=f"dump:{dump_file}", out=io.StringIO())
    yield session
    session.close()


def data(session: Session, line: str) -> Any:
    out = execute(session, line)
    assert out is not None and out.ok
    return out.data


def rendered(session: Session, line: str) -> str:
    buf = io.StringIO()
    shown = Session(out=buf, width=200)
    shown.use_target(session.target)
    shown.presenter.emit(execute(shown, line))
    return buf.getvalue()


# --- reads from stored values ----------------------------------------------------------------
def test_the_dump_target(dumped: Session, dump_file: Path, live: Session) -> None:
    target = dumped.target
    assert isinstance(target, DumpTarget)
    assert target.spec == f"dump:{dump_file}"
    assert CAP_WRITE not in target.capabilities
    assert dumped.map.identity == live.map.identity
    info = data(dumped, "info --json")
    assert info["target"] == f"dump:{dump_file}"
    assert info["capabilities"] == ["coalesce", "dump"]
    assert info["registers"] == 332 and info["map"] == "soc"


def test_every_captured_register_reads_back_as_it_was(dumped: Session, live: Session,
                                                      dump_file: Path) -> None:
    captured = read_dump(dump_file).registers
    assert len(captured) == 329
    for path in captured:
        assert data(dumped, f"read --json {path}") == data(live, f"read --json {path}"), path


@pytest.mark.parametrize("line", [
    "read --json dma", "read --json dma.ch[*].status", "read --json noc.router[*].coord",
    "read --json hbm.*", "read --json hbm.train_status.phase", "read --json dma.ch[*].ctrl.mode",
    "read --json mailbox.msg64", "peek --json sram 8", "peek --json sram+0xff8 2",
    "peek --json sysctrl.chip_id 3", "peek --json -w 16 sysctrl.chip_id",
    "peek --json -w 8 &dma.ch[0].len", "peek --json hbm.ecc_last_addr 2",
    "find --json ecc", "find --json RING", "regs list --json hbm.*",
    "regs show --json hbm.cfg", "read --json sysctrl.cycle",
])
def test_reads_match_the_live_target(dumped: Session, live: Session, line: str) -> None:
    assert data(dumped, line) == data(live, line)


def test_what_the_dump_shows(dumped: Session) -> None:
    assert data(dumped, "read --json sysctrl.scratch")["value"] == 0x600DCAFE
    assert data(dumped, "read --json hbm.train_status.phase") == {
        "path": "hbm.train_status.phase", "value": 8, "enum": "DONE"}
    status = data(dumped, "read --json dma.ch[0].status")["fields"]
    assert status["done"] == 1 and status["busy"] == 0
    assert data(dumped, "peek --json sram 2")["words"] == [0x67452301, 0xEFCDAB89]
    text = rendered(dumped, "read hbm.*")
    assert "skipped hbm.ecc_err_cnt: reading it has side effects (unsafe_read)" in text
    assert "phase=DONE" in text


@pytest.mark.parametrize("view", ["dma", "noc", "noc --metric occupancy"])
def test_block_views_work_from_the_dump(dumped: Session, live: Session, view: str) -> None:
    old, new = data(live, view), data(dumped, view)
    if view.startswith("noc"):
        # the live simulator has time: noc shows per-cycle rates there, raw counts on a dump;
        # the raw counts of every link are the same
        assert new["cycle"] is None and old["cycle"] is not None
        raw = ("from", "to", "dir", "flits", "stalls", "buf_occ")
        assert [{k: e[k] for k in raw if k in e} for e in new["links"]] == \
            [{k: e[k] for k in raw if k in e} for e in old["links"]]
        assert [r["ports"] for r in new["routers"]] == [r["ports"] for r in old["routers"]]
        assert sum(e["flits"] for e in new["links"]) > 0  # the DMA crossed the NoC
        if "occupancy" in view:
            assert {k: v for k, v in new.items() if k != "cycle"} == \
                {k: v for k, v in old.items() if k != "cycle"}
    else:
        assert new == old
    text = rendered(dumped, view)
    assert text.strip()


def test_completion_on_a_dump_session(dump_file: Path) -> None:
    session = Session(target=f"dump:{dump_file}")
    completer = ShellCompleter(session)

    def texts(line: str) -> list[str]:
        return [c.text for c in completer.get_completions(
            Document(line), CompleteEvent(completion_requested=True))]

    assert texts("read hbm.ecc") == ["ecc_err_cnt", "ecc_last_addr"]
    assert texts("read dma.ch[0].status.") == ["busy", "done", "err", "err_code"]
    assert texts("read dma.c") == ["ch[0].", "ch[1].", "ch[2].", "ch[3].", "ch[*]."]
    assert texts("peek sr") == ["sram"]
    assert texts("write dma.ch[0].ctrl mode=") == ["SINGLE", "CHAIN", "RING"]
    assert isinstance(session.target, DumpTarget)  # completion used the dump's own map
    session.close()


def test_switching_to_a_dump_in_the_shell(dump_file: Path) -> None:
    session = Session(out=io.StringIO())
    execute(session, "write sysctrl.scratch 1")
    execute(session, f"target dump:{dump_file}")
    assert data(session, "read --json sysctrl.scratch")["value"] == 0x600DCAFE
    execute(session, "target sim")
    assert data(session, "read --json sysctrl.scratch")["value"] == 0
    session.close()


# --- what was not captured -------------------------------------------------------------------
@pytest.mark.parametrize(("line", "what", "why"), [
    ("read hbm.ecc_err_cnt", "hbm.ecc_err_cnt (0x40030010)",
     "skipped: read side effects (unsafe_read)"),
    ("peek 0x40030010", "hbm.ecc_err_cnt (0x40030010)",
     "skipped: read side effects (unsafe_read)"),
    ("peek 0x40050000", "mailbox.doorbell (0x40050000)", "skipped: write-only"),
    ("peek sram+0x1000", "0x10001000", "dump --memory or --include it when capturing"),
    ("peek sram+0xffc 2", "0x10001000", "dump --memory or --include it when capturing"),
    ("peek dram", "0x80000000", "dump --memory or --include it when capturing"),
    ("peek 0x4000000c", "0x4000000c", "dump --memory or --include it when capturing"),
])
def test_reading_what_was_not_captured(dumped: Session, line: str, what: str, why: str
                                       ) -> None:
    with pytest.raises(TargetError) as exc:
        execute(dumped, line)
    assert exc.value.message == f"{dumped.target.spec} did not capture {what}"
    assert exc.value.hint == why
    assert "\n" not in str(exc.value)


def test_reading_a_write_only_register_is_refused_before_the_dump_is_asked(
        dumped: Session) -> None:
    with pytest.raises(SocdbgError) as exc:
        execute(dumped, "read mailbox.doorbell")
    assert exc.value.message == "read: mailbox.doorbell is write-only: it is not read"


def test_reading_an_excluded_register(live: Session, tmp_path: Path) -> None:
    path = tmp_path / "part.json"
    execute(live, f"dump -o {path} --include 'dma.ch[0].*' --exclude dma.ch[0].len")
    session = Session(target=f"dump:{path}", out=io.StringIO())
    assert data(session, "read --json dma.ch[0].src")["value"] == 0x10000000
    with pytest.raises(TargetError, match=r"did not capture dma\.ch\[0\]\.len \(0x40010118\)"
                       ) as exc:
        execute(session, "read dma.ch[0].len")
    assert exc.value.hint is not None and "--include" in exc.value.hint
    with pytest.raises(TargetError, match=r"did not capture sysctrl\.chip_id"):
        execute(session, "read sysctrl.chip_id")
    with pytest.raises(TargetError, match="did not capture"):
        execute(session, "dma")
    session.close()


def test_overlapping_memory_ranges(live: Session, tmp_path: Path) -> None:
    path = tmp_path / "overlap.json"
    execute(live, f"dump -o {path} --include sysctrl.chip_id --memory sram+4K "
                  "--memory sram+0x10+0x10")
    session = Session(target=f"dump:{path}", out=io.StringIO())
    assert data(session, "peek --json sram+0x100")["words"] == \
        data(live, "peek --json sram+0x100")["words"]


# --- nothing is ever written -----------------------------------------------------------------
class Logged:
    """Wraps the dump target and logs every access made through it."""

    def __init__(self, inner: DumpTarget) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.capabilities = inner.capabilities
        self.regmap = inner.regmap
        self.log: list[tuple[str, int]] = []

    def read(self, address: int, size: int) -> bytes:
        self.log.append(("read", address))
        return self.inner.read(address, size)

    def read_block(self, address: int, size: int) -> bytes:
        self.log.append(("read_block", address))
        return self.inner.read_block(address, size)

    def write(self, address: int, data: bytes) -> None:
        self.log.append(("write", address))
        self.inner.write(address, data)

    def write_block(self, address: int, data: bytes) -> None:
        self.log.append(("write_block", address))
        self.inner.write_block(address, data)

    def close(self) -> None:
        pass


def _elf(tmp_path: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_firmware",
                                                  REPO / "scripts" / "bench_firmware.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    path: Path = mod.write_elf(tmp_path / "tiny.elf",
                               [(".data", 0x10000000, b"\x13\x00\x00\x00" * 4, 16, "rwx")])
    return path


@pytest.mark.parametrize("line", [
    "write sysctrl.scratch 1",
    "write dma.ch[0].ctrl en=0",  # a read-modify-write: not even the read happens
    "write dma.ch[0].ctrl.en 0",
    "write dma.ch[*].ctrl mode=RING",
    "write intc.status dma_ch0=1",
    "poke sram 1",
    "poke -w 8 sram+3 0",
    "load {elf}",
    "load --verify {elf}",
    "step 10",
    "reset",
])
def test_writes_are_refused_before_any_access(dump_file: Path, tmp_path: Path, line: str
                                              ) -> None:
    before = dump_file.read_bytes()
    session = Session(target=f"dump:{dump_file}", out=io.StringIO())
    logged = Logged(session.target)  # type: ignore[arg-type]
    session.use_target(logged)
    line = line.format(elf=_elf(tmp_path)) if "{elf}" in line else line
    with pytest.raises(SocdbgError) as exc:
        execute(session, line)
    assert "\n" not in str(exc.value)
    if line.startswith(("write", "poke", "load")):
        assert "read-only" in exc.value.message
        assert exc.value.hint == "a dump is a record: it is never written"
    assert logged.log == []
    assert dump_file.read_bytes() == before
    session.close()


def test_the_target_itself_refuses_writes(dumped: Session) -> None:
    target = dumped.target
    for call in (lambda: target.write(0x40000008, b"\0" * 4),
                 lambda: target.write_block(0x10000000, b"\0" * 16)):
        with pytest.raises(TargetError, match="is a dump: it cannot be written"):
            call()
    assert data(dumped, "read --json sysctrl.scratch")["value"] == 0x600DCAFE


# --- the embedded map ------------------------------------------------------------------------
def _child(python: str, env: dict[str, str], cwd: Path, *args: str
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_the_dump_decodes_from_another_folder_with_a_fresh_cache(
        python: str, child_env: dict[str, str], dump_file: Path, live: Session,
        tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(dump_file, elsewhere / "x.json.gz")
    env = dict(child_env, SOCDBG_CACHE_DIR=str(tmp_path / "fresh-cache"))
    # the reference map is made unreachable in the child: only the dump's own sources remain
    code = ("import sys, pathlib, socdbg.regmap as r\n"
            "r.reference_map_path = lambda: pathlib.Path('/nonexistent/registers/soc.rdl')\n"
            "from socdbg.cli import main\n"
            "main(sys.argv[1:])\n")
    proc = _child(python, env, elsewhere, "-c", code, "-t", "dump:x.json.gz", "read", "--json",
                  "dma.ch[0].status")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == data(live, "read --json dma.ch[0].status")
    proc = _child(python, env, elsewhere, "-c", code, "-t", "dump:x.json.gz", "read",
                  "hbm.train_status.phase")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hbm.train_status.phase = DONE (8)\n"
    proc = _child(python, env, elsewhere, "-c", code, "read", "sysctrl.chip_id")
    assert proc.returncode == 1 and "reference map" in proc.stderr  # the patch is in force
    assert sorted(p.name for p in elsewhere.iterdir()) == ["x.json.gz"]


def test_a_private_map_that_is_gone(python: str, child_env: dict[str, str], tiny_rdl: Path,
                                    tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(tiny_rdl, src / "tiny.rdl")
    proc = _child(python, child_env, tmp_path, "-m", "socdbg", "-t", "sim:src/tiny.rdl",
                  "dump", "-o", "tiny.json")
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(src)
    other = tmp_path / "other"
    other.mkdir()
    os.replace(tmp_path / "tiny.json", other / "tiny.json")
    env = dict(child_env, SOCDBG_CACHE_DIR=str(tmp_path / "fresh-cache"))
    proc = _child(python, env, other, "-m", "socdbg", "-t", "dump:tiny.json", "read", "--json",
                  "ctrl")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["fields"] == {"go": 0, "color": {"value": 2,
                                                                    "enum": "BLUE"}}
    proc = _child(python, env, other, "-m", "socdbg", "-t", "dump:tiny.json", "info")
    assert "tiny (3 registers" in proc.stdout



def test_a_dump_without_sources_opens_with_map(dump_file: Path, tmp_path: Path) -> None:
    import gzip

    doc = json.loads(gzip.decompress(dump_file.read_bytes()))
    doc["map"]["sources"] = []
    path = tmp_path / "nosrc.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    session = Session(target=f"dump:{path}", map_files=[str(REPO / "registers" / "soc.rdl")],
                      out=io.StringIO())
    assert data(session, "read --json sysctrl.scratch")["value"] == 0x600DCAFE
    session.close()
