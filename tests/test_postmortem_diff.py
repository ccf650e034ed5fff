"""``diff A B [--json]`` and ``diff A [--target T]``: two dumps, or a dump and a live target,
compared field by field (old, new, enum names); exit status 1 when they differ."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from socdbg.cli import cli
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.postmortem import FieldChange, diff_values, read_dump
from socdbg.regmap import RegMap

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory, _socdbg_session_env: None
          ) -> Iterator[Path]:
    """``reset.json`` (a fresh simulator) and ``up.json`` (after scripts/bringup.sdbg, with a
    mode change on dma.ch[1]) in one folder; tests chdir there and use the short names."""
    folder = tmp_path_factory.mktemp("diff")
    session = Session(out=io.StringIO())
    execute(session, f"dump -o {folder / 'reset.json'}")
    execute(session, f"source {REPO / 'scripts' / 'bringup.sdbg'}")
    execute(session, "write dma.ch[1].ctrl mode=RING")
    execute(session, f"dump -o {folder / 'up.json'} --include-side-effects")
    session.close()
    yield folder


@pytest.fixture
def here(dumps: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(dumps)
    return dumps


def run(session: Session, line: str) -> Any:
    out = execute(session, line)
    assert out is not None
    return out


def changes_of(data: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    return {(c["register"], c["field"]): (c["a"], c["b"]) for c in data["changes"]}


def test_diff_two_dumps_json(here: Path) -> None:
    session = Session(out=io.StringIO())
    out = run(session, "diff reset.json up.json --json")
    assert out.as_json and not out.ok
    data = out.data
    assert set(data) == {"a", "b", "differ", "changes", "only_in_a", "only_in_b", "notes",
                         "memory"}
    assert (data["a"], data["b"], data["differ"]) == ("reset.json", "up.json", True)
    assert data["notes"] == []
    # up.json was taken --include-side-effects: hbm.ecc_err_cnt is only in it
    assert data["only_in_a"] == [] and data["only_in_b"] == ["hbm.ecc_err_cnt"]
    for c in data["changes"]:
        assert set(c) == {"register", "address", "field", "a", "b"}
        assert isinstance(c["address"], int) and isinstance(c["a"], str)
        assert c["a"] != c["b"]
    addresses = [c["address"] for c in data["changes"]]
    assert addresses == sorted(addresses)
    changes = changes_of(data)
    assert changes[("hbm.train_status", "phase")] == ("IDLE (0)", "DONE (8)")
    assert changes[("hbm.train_status", "done")] == ("0", "1")
    assert changes[("dma.ch[1].ctrl", "mode")] == ("SINGLE (0)", "RING (2)")
    assert changes[("noc.ctrl", "en")] == ("0", "1")
    assert changes[("sysctrl.pll_status", "lock")] == ("0", "1")
    assert ("sysctrl.pll_ctrl", "fbdiv") not in changes  # written with its reset value
    assert changes[("dma.ch[0].bytes_done", "bytes")] == ("0x0", "0x10")
    assert changes[("dma.ch[0].src", "addr")] == ("0x0", hex(0x80000000))
    assert ("sysctrl.chip_id", "vendor") not in changes
    # JSON-serialisable as printed
    assert json.loads(json.dumps(data)) == data
    session.close()


def test_identical_dumps(here: Path) -> None:
    buf = io.StringIO()
    session = Session(out=buf)
    out = run(session, "diff up.json up.json")
    assert out.ok and out.data["differ"] is False
    assert out.data["changes"] == [] and out.data["only_in_a"] == out.data["only_in_b"] == []
    session.presenter.emit(out)
    assert buf.getvalue() == "no differences between up.json and up.json\n"
    session.close()


def test_text_rendering(here: Path) -> None:
    buf = io.StringIO()
    session = Session(out=buf, width=120)
    session.presenter.emit(run(session, "diff reset.json up.json"))
    lines = [ln.rstrip() for ln in buf.getvalue().splitlines()]
    n = len({c.register for c in _changes(here)})
    assert lines[0] == "A = reset.json" and lines[1] == "B = up.json"  # the legend
    assert lines[2] == f"{n} register(s) differ"
    assert lines[3].split() == ["register", "address", "field", "A", "B"]
    phase = next(ln for ln in lines if " phase " in ln)
    assert phase.split()[-4:] == ["IDLE", "(0)", "DONE", "(8)"]
    mode = next(ln for ln in lines if ln.startswith("dma.ch[1].ctrl"))
    assert mode.split() == ["dma.ch[1].ctrl", "0x40010140", "mode", "SINGLE", "(0)", "RING",
                            "(2)"]
    assert lines[-1] == "only in up.json: hbm.ecc_err_cnt"
    session.close()


def _changes(folder: Path) -> list[FieldChange]:
    a, b = read_dump(folder / "reset.json"), read_dump(folder / "up.json")
    rmap = Session().load_map()
    return diff_values(rmap, {p: v for p, (_, _, v) in a.registers.items()},
                       {p: v for p, (_, _, v) in b.registers.items()})[0]


def test_text_rendering_with_long_paths(dumps: Path, tmp_path: Path) -> None:
    deep = tmp_path / "lab" / "board-07" / "2024-06-01-overnight-soak-run" / "captures"
    deep.mkdir(parents=True)
    for name in ("reset.json", "up.json"):
        (deep / name).write_bytes((dumps / name).read_bytes())
    buf = io.StringIO()
    session = Session(out=buf, width=120)
    session.presenter.emit(run(session, f"diff {deep / 'reset.json'} {deep / 'up.json'}"))
    text = buf.getvalue()
    assert all(len(ln.rstrip()) <= 120 for ln in text.splitlines())
    for shown in ("0x40030004", "phase", "IDLE (0)", "DONE (8)"):
        assert shown in text


def test_exit_status(here: Path) -> None:
    runner = CliRunner()
    differ = runner.invoke(cli, ["diff", "reset.json", "up.json"])
    assert differ.exit_code == 1, differ.output
    assert "register(s) differ" in differ.stdout
    same = runner.invoke(cli, ["diff", "reset.json", "reset.json"])
    assert same.exit_code == 0, same.output
    assert same.stdout == "no differences between reset.json and reset.json\n"
    as_json = runner.invoke(cli, ["diff", "--json", "reset.json", "up.json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["differ"] is True


def test_exit_status_in_a_child_process(here: Path, python: str, child_env: dict[str, str]
                                        ) -> None:
    for args, code in ((["reset.json", "up.json"], 1), (["up.json", "up.json"], 0),
                       (["reset.json"], 0), (["up.json", "--target", "sim"], 1)):
        proc = subprocess.run([python, "-m", "socdbg", "diff", *args], cwd=here, env=child_env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == code, (args, proc.stdout, proc.stderr)
        assert proc.stderr == ""


# --- a dump against a live target ------------------------------------------------------------
def test_diff_against_the_sessions_target(here: Path) -> None:
    session = Session(out=io.StringIO())
    out = run(session, "diff reset.json")  # the session's simulator is fresh: as at reset
    assert out.ok and out.data["b"] == "sim" and out.data["differ"] is False
    run(session, "write sysctrl.scratch 0x42")
    run(session, "write dma.ch[3].ctrl mode=CHAIN")
    out = run(session, "diff reset.json --json")
    assert not out.ok
    assert changes_of(out.data) == {("sysctrl.scratch", "value"): ("0x0", "0x42"),
                                    ("dma.ch[3].ctrl", "mode"): ("SINGLE (0)", "CHAIN (1)")}
    session.close()


def test_diff_against_another_target(here: Path) -> None:
    session = Session(out=io.StringIO())
    run(session, "write sysctrl.scratch 0x42")  # the session's own target: not compared
    live = run(session, "diff up.json --target sim --json").data
    assert live["b"] == "sim"
    files = run(session, "diff up.json reset.json --json").data
    assert live["changes"] == files["changes"]
    # the dump was taken --include-side-effects: that register is not read live
    assert live["only_in_a"] == [] and files["only_in_a"] == ["hbm.ecc_err_cnt"]
    other = run(session, "diff up.json --target dump:reset.json --json").data
    assert other["b"] == "dump:reset.json" and other["changes"] == files["changes"]
    assert session.target.spec == "sim"
    assert run(session, "read --json sysctrl.scratch").data["value"] == 0x42
    session.close()


def test_diff_against_live_does_not_read_side_effect_registers(here: Path) -> None:
    session = Session(out=io.StringIO())
    session.target.regs.hw_set("hbm.ecc_err_cnt", count=5)  # type: ignore[attr-defined]
    out = run(session, "diff up.json --json")
    assert ("hbm.ecc_err_cnt", "count") not in changes_of(out.data)
    assert session.target.regs.field("hbm.ecc_err_cnt", "count") == 5  # type: ignore[attr-defined]
    session.close()


def test_dumps_of_different_parts_and_maps(here: Path) -> None:
    session = Session(out=io.StringIO())
    run(session, "dump -o part.json --include 'dma.*' --include 'sysctrl.*'")
    run(session, "dump -o mesh.json --target sim:mesh=2x2")
    out = run(session, "diff reset.json part.json --json")
    assert out.data["changes"] == [] and out.data["only_in_b"] == []
    assert "hbm.cfg" in out.data["only_in_a"] and "dma.ch[0].ctrl" not in out.data["only_in_a"]
    assert not out.ok  # registers only in one of them: they differ
    out = run(session, "diff mesh.json reset.json --json")
    assert out.data["notes"] and "different maps" in out.data["notes"][0]
    assert "noc.router[15].coord" in out.data["only_in_b"]
    assert changes_of(out.data).keys() <= {(c, f) for c, f in changes_of(out.data)
                                           if c.startswith("noc.")}
    out = run(session, "diff mesh.json --json")  # against the session's 4x4 simulator
    assert out.data["notes"] == [
        "the target's map differs from the dump's: compared by register path"]
    session.close()


def test_reserved_bits_and_unknown_registers(ref_map: RegMap) -> None:
    changes, only_a, only_b = diff_values(
        ref_map, {"sysctrl.scratch": 1, "noc.ctrl": 0x1, "gone.reg": 3, "x": 1},
        {"sysctrl.scratch": 1, "noc.ctrl": 0x8000_0001, "gone.reg": 4, "y": 1})
    assert FieldChange("noc.ctrl", ref_map.get("noc.ctrl").address, "(reserved)", "0x0",
                       "0x80000000") in changes
    assert FieldChange("gone.reg", -1, "(value)", "0x3", "0x4") in changes
    assert (only_a, only_b) == (["x"], ["y"])


def test_diff_of_a_missing_file(here: Path) -> None:
    session = Session(out=io.StringIO())
    from socdbg.postmortem import DumpError

    with pytest.raises(DumpError, match=r"nope\.json: no such dump file"):
        execute(session, "diff nope.json up.json")
    with pytest.raises(DumpError, match=r"nope\.json: no such dump file"):
        execute(session, "diff up.json nope.json")
