"""One-shot command lines: ``socdbg [-t TARGET] [--map FILE] COMMAND ...``.

Most cases run in-process through click's CliRunner on ``socdbg.cli.cli`` (fast); errors go
through ``socdbg.cli.main`` (the console-script entry point, which turns a SocdbgError into one
``error:`` line and exit status 1); a few run ``python -m socdbg`` in a child process to check
the real exit codes and streams.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import socdbg
from socdbg.cli import cli, main
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def ok(*args: str) -> str:
    """Run a command that must succeed; its standard output."""
    result = invoke(*args)
    assert result.exception is None, (result.output, result.exception)
    assert result.exit_code == 0, result.output
    return result.stdout


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args))


def fail(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run through the entry point a command that must fail as a user error; returns its one
    stderr line after checking exit status 1 and an empty stdout."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    assert exc.value.code == 1, captured
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    return lines[0]


def rows(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def assignments(text: str) -> dict[str, str]:
    """``busy=0 done=1 mode=RING`` -> {"busy": "0", ...} (the order is the renderer's)."""
    return dict(word.split("=", 1) for word in text.split() if "=" in word)


def compact_row(line: str) -> tuple[str, str, str, dict[str, str]]:
    """A row of a compact table: (path, address, value, {field: value})."""
    path, address, value, rest = line.split(None, 3)
    return path, address, value, assignments(rest)


WRITE_LINE = re.compile(r"^(?P<path>\S+) <- (?P<value>0x[0-9a-f]+)  \((?P<fields>.*)\)$")


def write_lines(text: str) -> list[tuple[str, int, dict[str, str]]]:
    """``PATH <- 0xVALUE  (f=v ...)`` lines -> [(path, value, {field: value})]."""
    out = []
    for line in rows(text):
        m = WRITE_LINE.match(line)
        assert m, line
        out.append((m["path"], int(m["value"], 16), assignments(m["fields"])))
    return out


# --- read ------------------------------------------------------------------------------------
def test_read_chip_id_decodes_vendor_and_part() -> None:
    out = ok("-t", "sim", "read", "sysctrl.chip_id")
    head = rows(out)[0]
    assert head.startswith("sysctrl.chip_id") and "0x40000000" in head
    assert head.endswith("= 0x5d0c0a01")
    vendor = next(line for line in rows(out) if " vendor " in line)
    part = next(line for line in rows(out) if " part " in line)
    assert "[31:16]" in vendor and "0x5d0c" in vendor
    assert "[15:0]" in part and "0xa01" in part


def test_read_field_path_prints_one_line() -> None:
    assert rows(ok("read", "sysctrl.chip_id.vendor")) == ["sysctrl.chip_id.vendor = 0x5d0c"]
    assert rows(ok("read", "dma.ch[0].ctrl.mode")) == ["dma.ch[0].ctrl.mode = SINGLE (0)"]


def test_read_field_of_every_glob_match() -> None:
    assert rows(ok("read", "dma.ch[*].ctrl.mode")) == [
        f"dma.ch[{n}].ctrl.mode = SINGLE (0)" for n in range(4)]
    data = ok_json("read", "--json", "dma.ch[1:2].status.err_code")
    assert data == [{"path": f"dma.ch[{n}].status.err_code", "value": 0, "enum": "NONE"}
                    for n in (1, 2)]


def test_read_glob_is_a_compact_table() -> None:
    lines = rows(ok("read", "dma.ch[*].status"))
    assert lines[0].split() == ["register", "address", "value", "fields"]
    assert len(lines) == 5
    for n, line in enumerate(lines[1:]):
        assert compact_row(line) == (f"dma.ch[{n}].status", f"0x{0x40010104 + n * 0x40:08x}",
                                     "0x00000000", {"busy": "0", "done": "0", "err": "0",
                                                    "err_code": "NONE"})


def test_read_block_reads_every_register_of_the_block() -> None:
    lines = rows(ok("read", "dma"))
    regs = [line.split()[0] for line in lines[1:]]
    assert len(regs) == 42  # docs/chip.md: dma has 42 registers
    assert regs[:3] == ["dma.global_ctrl", "dma.global_status", "dma.ch[0].ctrl"]
    assert regs[-1] == "dma.ch[3].bytes_done"
    status = next(line for line in lines if line.startswith("dma.global_status"))
    assert compact_row(status)[3] == {"ch_busy": "0", "ch_err": "0", "idle": "1"}


def test_read_side_effect_register_only_when_named() -> None:
    named = ok("read", "hbm.ecc_err_cnt")
    assert rows(named)[0].startswith("hbm.ecc_err_cnt") and "0x40030010" in named
    assert "rclr" in named
    globbed = rows(ok("read", "hbm.*"))
    read_paths = [line.split()[0] for line in globbed[1:] if not line.startswith("skipped")]
    assert "hbm.ecc_err_cnt" not in read_paths
    assert read_paths == ["hbm.train_ctrl", "hbm.train_status", "hbm.ecc_last_addr", "hbm.cfg"]
    assert globbed[-1] == ("skipped hbm.ecc_err_cnt: reading it has side effects "
                           "(unsafe_read)")


def test_read_write_only_register_in_a_glob_is_skipped() -> None:
    out = ok("read", "intc.*")
    assert "skipped intc.test_set: write-only" in out


def test_read_json_single_register() -> None:
    data = ok_json("read", "--json", "sysctrl.chip_id")
    assert data == {"path": "sysctrl.chip_id", "address": 0x40000000, "value": 0x5D0C0A01,
                    "fields": {"vendor": 0x5D0C, "part": 0x0A01}}


def test_read_json_enum_fields_and_field_path() -> None:
    data = ok_json("read", "dma.ch[1].ctrl", "--json")
    assert data["fields"]["mode"] == {"value": 0, "enum": "SINGLE"}
    assert data["fields"]["en"] == 0
    assert ok_json("read", "--json", "pcie.link_ctrl.target_speed") == {
        "path": "pcie.link_ctrl.target_speed", "value": 5, "enum": "GEN5"}


def test_read_json_glob_is_a_list_without_skipped_registers() -> None:
    data = ok_json("read", "--json", "hbm.*")
    assert [d["path"] for d in data] == ["hbm.train_ctrl", "hbm.train_status",
                                         "hbm.ecc_last_addr", "hbm.cfg"]
    cfg = data[-1]
    assert cfg["value"] == 0x01010C30 and cfg["fields"]["trefi"] == 0xC30


# --- write -----------------------------------------------------------------------------------
def test_write_whole_value() -> None:
    out = ok("write", "sysctrl.scratch", "0x12345678")
    assert write_lines(out) == [("sysctrl.scratch", 0x12345678, {"value": "0x12345678"})]


def test_write_fields_with_enum_names_is_read_modify_write() -> None:
    out = ok("write", "dma.ch[0].ctrl", "mode=ring", "irq_en=1")
    assert write_lines(out) == [("dma.ch[0].ctrl", 0x120, {"en": "0", "start": "0",
                                                           "mode": "RING", "irq_en": "1",
                                                           "reduce": "NONE"})]
    data = ok_json("write", "--json", "sysctrl.pll_ctrl", "postdiv=2", "en=1")
    assert data[0]["value"] == 0x0203C011  # the other dividers keep their reset values
    assert data[0]["fields"]["fbdiv"] == 0x3C


def test_write_field_path_form() -> None:
    out = ok("write", "dma.ch[0].ctrl.en", "1")
    assert write_lines(out) == [("dma.ch[0].ctrl", 1, {"en": "1", "start": "0",
                                                       "mode": "SINGLE", "irq_en": "0",
                                                       "reduce": "NONE"})]
    out = ok("write", "dma.ch[2].ctrl.mode", "CHAIN")
    assert write_lines(out)[0][2]["mode"] == "CHAIN"


def test_write_glob() -> None:
    done = write_lines(ok("write", "dma.ch[*].ctrl", "en=1"))
    assert [(path, value) for path, value, _ in done] == [(f"dma.ch[{n}].ctrl", 1)
                                                          for n in range(4)]
    assert all(f["en"] == "1" and f["mode"] == "SINGLE" for _, _, f in done)


def test_write_then_read_back_in_one_session() -> None:
    session = Session(target="sim")
    try:
        execute(session, "write sysctrl.scratch 0xcafe")
        execute(session, "write dma.ch[3].ctrl mode=RING en=1")
        execute(session, "write dma.ch[3].ctrl irq_en=1")
        assert execute(session, "read --json sysctrl.scratch").data["value"] == 0xCAFE
        ctrl = execute(session, "read --json dma.ch[3].ctrl").data
        assert ctrl["fields"] == {"en": 1, "start": 0, "mode": {"value": 2, "enum": "RING"},
                                  "irq_en": 1, "reduce": {"value": 0, "enum": "NONE"}}
    finally:
        session.close()


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "message", "hint"), [
    (["read", "sysctrl.scrach"], "no register 'sysctrl.scrach'", "did you mean 'scratch'?"),
    (["read", "dma.ch[0].stauts"], "no register", "did you mean 'status'?"),
    (["read", "dma.ch[0].status.dnoe"], "has no field 'dnoe'", "did you mean 'done'?"),
    (["write", "dma.ch[0].ctrl", "en=1", "foo=1"], "dma.ch[0].ctrl has no field 'foo'",
     "fields: en, start, mode, irq_en"),
    (["write", "dma.ch[0].ctrl", "mode=RINGG"], "'RINGG' is not a value of",
     "did you mean 'RING'?"),
    (["write", "dma.ch[0].ctrl", "mode=4"], "does not fit 2 bit(s) [5:4]",
     "allowed 0..0x3; or one of SINGLE, CHAIN, RING"),
    (["write", "sysctrl.scratch", "0x100000000"], "does not fit 32 bits",
     "allowed 0..0xffffffff"),
    (["write", "sysctrl.chip_id", "vendor=1"], "sysctrl.chip_id.vendor is read-only",
     "software writes to it are ignored by the hardware"),
    (["write", "sysctrl.scratch", "0xzz"], "'0xzz' is not a number",
     "write PATH VALUE or write PATH FIELD=VALUE ..."),
    (["write", "sysctrl.scratch", "value=12abc"], "'12abc' is not a number",
     "a 32-bit value, 0..0xffffffff"),
    (["-t", "simm", "read", "sysctrl.chip_id"], "unknown target 'simm'",
     "did you mean 'sim'?"),
    (["peek", "sram+1"], "not aligned to 32 bits", None),
    (["poke", "sram", "0x100000000"], "does not fit 32 bits", "allowed 0..0xffffffff"),
    (["poke", "--width", "8", "sram", "0x100"], "does not fit 8 bits", "allowed 0..0xff"),
    (["help", "raed"], "unknown command 'raed'", "did you mean 'read'?"),
])
def test_errors_are_one_line_with_a_hint(capsys: pytest.CaptureFixture[str], args: list[str],
                                         message: str, hint: str | None) -> None:
    line = fail(capsys, *args)
    assert "error:" in line and message in line
    if hint is not None:
        assert line.endswith(f"({hint})") or (f"({hint.rstrip('?')}" in line
                                               and line.endswith(")")), line


def test_error_through_cli_runner_is_a_socdbg_error() -> None:
    result = invoke("read", "sysctrl.scrach")
    assert result.exit_code == 1
    assert isinstance(result.exception, SocdbgError)
    assert result.exception.hint == "did you mean 'scratch'?"
    assert result.stdout == ""


def test_bus_error_from_peek_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = fail(capsys, "peek", "0x40002000")
    assert line.startswith("error: bus error")


# --- peek and poke ---------------------------------------------------------------------------
def test_peek_sram_after_poke_in_one_session() -> None:
    session = Session(target="sim")
    try:
        execute(session, "poke sram+0x10 0x44434241")
        data = execute(session, "peek --json sram 8").data
        assert data == {"address": 0x10000000, "width": 32,
                        "words": [0, 0, 0, 0, 0x44434241, 0, 0, 0]}
    finally:
        session.close()


def test_peek_memory_is_annotated_with_its_offset() -> None:
    line = rows(ok("peek", "sram+0x10", "2"))
    assert line == ["0x10000010  0x00000000  0x00000000  ........  sram+0x10"]
    assert rows(ok("peek", "sram"))[0].endswith("sram+0x0")


def test_peek_register_annotations_and_widths() -> None:
    out = rows(ok("peek", "sysctrl.chip_id"))
    assert out[0].split()[:2] == ["0x40000000", "0x5d0c0a01"]
    assert out[0].endswith("sysctrl.chip_id")
    out8 = rows(ok("peek", "--width", "8", "sysctrl.chip_id", "4"))
    assert out8[0].split()[:5] == ["0x40000000", "0x01", "0x0a", "0x0c", "0x5d"]
    out16 = rows(ok("peek", "-w", "16", "sysctrl.chip_id", "2"))
    assert out16[0].split()[:3] == ["0x40000000", "0x0a01", "0x5d0c"]
    out64 = rows(ok("peek", "--width", "64", "dma.ch[0].src", "2"))
    assert out64[0].endswith("dma.ch[0].src dma.ch[0].dst")
    assert ok_json("peek", "--json", "--width", "64", "sysctrl.chip_id")["words"] == [
        0x0001_0001_5D0C_0A01]


def test_peek_address_expressions() -> None:
    amp = ok_json("peek", "--json", "&dma.ch[1].len")
    assert amp["address"] == 0x40010158 and amp["width"] == 32
    assert rows(ok("peek", "&dma.ch[1].len"))[0].endswith("dma.ch[1].len")
    assert ok_json("peek", "--json", "dma.ch[1].len")["address"] == 0x40010158
    assert ok_json("peek", "--json", "0x4000_0008")["words"] == [0]
    # the register's access width: 64-bit sysctrl.cycle is read as 32-bit words
    assert ok_json("peek", "--json", "sysctrl.cycle")["width"] == 32


def test_peek_width_must_be_a_bus_width(capsys: pytest.CaptureFixture[str]) -> None:
    assert "'12' is not one of '8', '16', '32', '64'" in fail(capsys, "peek", "--width", "12",
                                                             "sram")


def test_poke_writes_one_access() -> None:
    assert rows(ok("poke", "sram", "0x12345678")) == ["0x10000000 <- 0x12345678"]
    assert rows(ok("poke", "-w", "8", "sram+3", "0xff")) == ["0x10000003 <- 0xff"]


# --- regs, find, info, help ------------------------------------------------------------------
def test_regs_list() -> None:
    lines = rows(ok("regs", "list"))
    assert lines[0].split()[:4] == ["register", "address", "bits", "reset"]
    names = [line.split()[0] for line in lines[1:]]
    assert names[0] == "sysctrl.chip_id"
    assert "noc.router[15].port[4].buf_occ" in names
    assert {"sram", "dram"} <= set(names)
    assert len(names) == 332 + 2


def test_regs_list_glob_and_limit() -> None:
    names = [line.split()[0] for line in rows(ok("regs", "list", "dma.ch[0].*"))[1:]]
    assert names == [f"dma.ch[0].{r}" for r in ("ctrl", "status", "src", "dst", "len",
                                                 "desc_count", "desc_base", "ring_head",
                                                 "ring_tail", "bytes_done")]
    limited = rows(ok("regs", "list", "--limit", "3"))
    assert limited[-1] == "... 3 of 332 registers shown"


def test_regs_list_json() -> None:
    data = ok_json("regs", "list", "--json", "sysctrl.*")
    assert data["map"] == "soc"
    assert [r["path"] for r in data["registers"]] == [
        "sysctrl.chip_id", "sysctrl.revision", "sysctrl.scratch", "sysctrl.rst_ctrl",
        "sysctrl.pll_ctrl", "sysctrl.pll_status", "sysctrl.cycle"]
    assert data["registers"][0]["reset"] == 0x5D0C0A01
    assert data["memories"] == []
    everything = ok_json("regs", "list", "--json")
    assert [m["path"] for m in everything["memories"]] == ["sram", "dram"]
    assert everything["memories"][0]["size"] == 1 << 20


def test_regs_show() -> None:
    out = ok("regs", "show", "dma.ch[0].status")
    assert rows(out)[0].split()[:3] == ["dma.ch[0].status", "0x40010104", "32"]
    done = next(line for line in rows(out) if line.split()[:2] == ["[1]", "done"])
    assert "woclr" in done
    assert "accessed 32" in ok("regs", "show", "hbm.ecc_last_addr")
    flags = rows(ok("regs", "show", "sysctrl.pll_ctrl"))[0]
    assert "unsafe_write" in flags and "write_effects" in flags


def test_regs_show_json() -> None:
    data = ok_json("regs", "show", "--json", "dma.ch[0].ctrl")
    assert data["path"] == "dma.ch[0].ctrl" and data["write_effects"] is True
    by_name = {f["name"]: f for f in data["fields"]}
    assert by_name["start"]["singlepulse"] is True
    assert [m["name"] for m in by_name["mode"]["enum"]["members"]] == ["SINGLE", "CHAIN", "RING"]
    assert (by_name["mode"]["lsb"], by_name["mode"]["msb"]) == (4, 5)


def test_regs_find_and_find() -> None:
    out = rows(ok("regs", "find", "doorbell_status"))
    hit = next(line for line in out if line.startswith("mailbox.doorbell_status"))
    assert hit.split() == ["mailbox.doorbell_status", "0x40050004", "path"]
    data = ok_json("find", "--json", "LANE_REPAIR")
    assert [d["path"] for d in data] == ["hbm.train_status"]
    assert data[0]["address_hex"] == "0x40030004"
    assert "LANE_REPAIR" in data[0]["matched"]
    assert "nothing matches 'zzzzqqq'" in ok("regs", "find", "zzzzqqq")


def test_info_json() -> None:
    data = ok_json("info", "--json")
    assert data["target"] == "sim"
    assert data["map"] == "soc" and data["registers"] == 332
    assert data["cycle"] == 0
    assert {"time", "simulator", "write"} <= set(data["capabilities"])
    assert [m["path"] for m in data["memories"]] == ["sram", "dram"]
    assert len(data["map_identity"]) == 64


def test_info_mesh_8x8() -> None:
    data = ok_json("-t", "sim:mesh=8x8", "info", "--json")
    assert data["target"] == "sim:mesh=8x8"
    assert data["map_defines"] == {"MESH_X": "8", "MESH_Y": "8"}
    assert data["registers"] == 332 - 16 * 16 + 64 * 16


def test_regs_with_another_map(tiny_rdl: Path) -> None:
    for args in (["regs", "--map", str(tiny_rdl), "list"],
                 ["--map", str(tiny_rdl), "regs", "list"]):
        names = [line.split()[0] for line in rows(ok(*args))[1:]]
        assert names == ["ident", "ctrl", "status"]
    data = ok_json("--map", str(tiny_rdl), "regs", "list", "--json")
    assert data["map"] == "tiny"


def test_read_on_a_simulator_of_another_map(tiny_rdl: Path) -> None:
    assert rows(ok("-t", f"sim:{tiny_rdl}", "read", "ctrl.color")) == ["ctrl.color = BLUE (2)"]
    out = ok("--map", str(tiny_rdl), "write", "ctrl", "color=green", "go=1")
    assert write_lines(out) == [("ctrl", 0x11, {"go": "1", "color": "GREEN"})]


def test_help_lists_the_commands() -> None:
    out = ok("help")
    names = {line.split()[0] for line in rows(out)[:-1]}
    assert {"read", "write", "peek", "poke", "regs", "find", "info", "target",
            "help"} <= names
    assert rows(out)[-1] == "help COMMAND shows the options of one command."


def test_help_of_one_command() -> None:
    out = ok("help", "read")
    assert "Usage: read [OPTIONS] PATTERN" in out
    assert "--json" in out
    assert "Globs skip registers" in re.sub(r"\s+", " ", out)


# --- real processes --------------------------------------------------------------------------
def socdbg_run(python: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "socdbg", *args], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


@pytest.mark.slow
def test_process_version(python: str, child_env: dict[str, str]) -> None:
    proc = socdbg_run(python, child_env, "--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"socdbg, version {socdbg.__version__}"


@pytest.mark.slow
def test_process_success_and_json(python: str, child_env: dict[str, str]) -> None:
    proc = socdbg_run(python, child_env, "-t", "sim", "read", "--json", "sysctrl.chip_id")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["value"] == 0x5D0C0A01


@pytest.mark.slow
@pytest.mark.parametrize(("args", "expected"), [
    (["write", "dma.ch[0].ctrl", "mode=RINGG"], "did you mean 'RING'?"),
    (["-t", "simm", "read", "sysctrl.chip_id"], "unknown target 'simm'"),
])
def test_process_error_exit_status_and_stderr(python: str, child_env: dict[str, str],
                                              args: list[str], expected: str) -> None:
    proc = socdbg_run(python, child_env, *args)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in proc.stderr
