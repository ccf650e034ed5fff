"""The targets file of ``socdbg fleet``: format, FILE:LINE errors, untrusted lines; dump file
names that never leave their folder."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socdbg.errors import UsageError
from socdbg.fleet.report import dump_path, name_from_file, safe_stem
from socdbg.fleet.targets import parse_targets, read_targets, with_timeout


def test_columns_comments_and_defaults(tmp_path: Path) -> None:
    dump = tmp_path / "old" / "chip7.json.gz"
    dump.parent.mkdir()
    dump.write_bytes(b"")
    text = ("# the lab\n"
            "gdb://10.0.0.5:3333   board-05  rack=a,fw=2.1   # a comment\n"
            "\n"
            "  gdb://[fd00::7]:3333?timeout=2\n"
            "sim:mesh=4x4 model lab\n"
            "dump:old/chip7.json.gz chip7\n")
    (tmp_path / "t.txt").write_text(text)
    targets = read_targets(tmp_path / "t.txt")
    assert [(t.spec, t.name, t.labels) for t in targets] == [
        ("gdb://10.0.0.5:3333", "board-05", {"rack": "a", "fw": "2.1"}),
        ("gdb://[fd00::7]:3333?timeout=2", "gdb://[fd00::7]:3333?timeout=2", {}),
        ("sim:mesh=4x4", "model", {"lab": ""}),
        (f"dump:{dump.resolve()}", "chip7", {}),
    ]
    assert [t.host for t in targets] == ["10.0.0.5", "fd00::7", None, None]
    assert [t.live for t in targets] == [True, True, False, False]
    assert targets[0].where == f"{tmp_path / 't.txt'}:2"


@pytest.mark.parametrize(("line", "message"), [
    ("gdbb://h:1", r"t:2: unknown target 'gdbb://h:1' \(did you mean 'gdb'"),
    ("gdb://host", r"t:2: bad gdb target"),
    ("gdb://host:99999", r"t:2: .*port out of range"),
    ("gdb://host:1?timeout=x", r"t:2: .*bad option 'timeout=x'"),
    ("gdb://h;rm -rf:1", r"t:2: bad gdb target"),
    ("sim:mesh=99x1", r"t:2: sim target: mesh '99x1'"),
    ("sim:nosuch=1", r"t:2: sim target: unknown option 'nosuch'"),
    ("dump:/nonexistent/x.json", r"t:2: dump file /nonexistent/x.json does not exist"),
    ("dump:", r"t:2: dump target needs a file name"),
    ("sim a b c", r"t:2: 4 columns"),
    ("sim x bad!label", r"t:2: bad label 'bad!label'"),
    ("sim s1", r"t:2: target name 's1' is used twice"),
])
def test_each_problem_names_file_and_line(line: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=message):
        parse_targets(f"sim s1\n{line}\n", "t", tmp_path)


def test_a_dump_folder_is_not_a_dump(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"t:1: dump file .* is not a file"):
        parse_targets(f"dump:{tmp_path}\n", "t", tmp_path)


def test_empty_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no targets"):
        parse_targets("# nothing\n\n", "t", tmp_path)
    with pytest.raises(UsageError, match="no such targets file"):
        read_targets(tmp_path / "missing")
    (tmp_path / "bin").write_bytes(b"sim\n\xff\xfe\n")
    with pytest.raises(UsageError, match=r"bin:2: not UTF-8"):
        read_targets(tmp_path / "bin")


@given(st.text(max_size=300))
def test_any_text_parses_or_is_one_usage_error(text: str) -> None:
    base = Path("/nonexistent-base")
    try:
        targets = parse_targets(text, "t", base)
    except UsageError as exc:
        assert "\n" not in exc.message and exc.message.startswith("t")
        return
    assert targets and len({t.name for t in targets}) == len(targets)


def test_timeouts_are_added_to_gdb_targets_only() -> None:
    assert with_timeout("gdb://h:1", 2.5) == "gdb://h:1?timeout=2.5"
    assert with_timeout("gdb://h:1?phys=1", 2) == "gdb://h:1?phys=1&timeout=2"
    assert with_timeout("gdb://h:1?timeout=9", 2) == "gdb://h:1?timeout=9"
    assert with_timeout("sim", 2) == "sim"


@given(st.text(min_size=1, max_size=200))
def test_a_target_name_never_becomes_a_path_outside_the_folder(name: str) -> None:
    folder = Path("/tmp/fleet-dumps")
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
    path = dump_path(folder, name, when)
    assert path.parent == folder and "/" not in path.name and not path.name.startswith(".")
    assert name_from_file(path.name) == safe_stem(name)


def test_hostile_names() -> None:
    assert safe_stem("../../etc/passwd") == "etc_passwd"
    assert safe_stem("..") == "target"
    assert safe_stem("board 5/rack:a") == "board_5_rack_a"


def test_help_and_other_commands_import_neither_dask_nor_duckdb() -> None:
    from test_startup import modules_after

    for argv in (("--help",), ("fleet", "--help"), ("query", "--help"),
                 ("-t", "sim", "read", "sysctrl.chip_id")):
        out, mods = modules_after(*argv)
        assert out
        for heavy in ("dask", "distributed", "duckdb", "numpy", "socdbg.fleet.engine"):
            assert heavy not in mods, (argv, heavy)
    out, _ = modules_after("--help")
    assert "fleet" in out and "query" in out
