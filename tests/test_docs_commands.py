"""docs/commands.md is generated from the command registry; it must not drift from it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gen_command_docs.py"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_command_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_commands_md_is_up_to_date(gen: ModuleType) -> None:
    problem = gen.check(gen.OUTPUT)
    assert problem is None, problem


def test_every_registered_command_is_documented(gen: ModuleType) -> None:
    import socdbg.cli  # noqa: F401  (registers the command line's own commands)
    from socdbg.commands.registry import cli_commands, commands

    text = gen.render()
    for name, cmd in commands().items():
        assert f"\n### {name}\n" in text
        for sub in getattr(cmd, "commands", {}):
            assert f"\n#### {name} {sub}\n" in text
    assert cli_commands()
    for name in cli_commands():
        assert f"\n### {name}\n" in text
    assert "\n### run\n" in text and "run [OPTIONS] SCRIPT" in text  # the script runner
    assert "`-t, --target TARGET`" in text


def test_check_mode_reports_a_stale_file(gen: ModuleType, tmp_path: Path) -> None:
    stale = tmp_path / "commands.md"
    stale.write_text("# Command reference\n", encoding="utf-8")
    assert gen.main(["--check", "--output", str(stale)]) == 1
    assert gen.main(["--check", "--output", str(tmp_path / "missing.md")]) == 1
    assert gen.main(["--output", str(stale)]) == 0
    assert gen.main(["--check", "--output", str(stale)]) == 0


def test_render_does_not_depend_on_the_terminal(gen: ModuleType,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = gen.render()
    monkeypatch.setenv("COLUMNS", "40")
    assert gen.render() == first


def test_argument_names_are_not_mangled(gen: ModuleType) -> None:
    """Variadic arguments render as their name (``REST``), not click's usage form."""
    import re

    text = gen.render()
    names = re.findall(r"^\| `([^`]*)` \| (?:required|optional|any number|one or more) \|",
                       text, re.MULTILINE)
    assert names and "TEXT" in names and "PATTERNS" in names
    for name in names:
        assert name.count("[") == name.count("]") and not name.endswith("."), name
        assert not (name.startswith("[") and name.endswith("]")), name
def test_render_does_not_use_clicks_help_formatter(gen: ModuleType,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Usage lines and parameter names come from the parameters, not from click's formatter,
    whose output changes between click releases (8.5 made a group's COMMAND ``[COMMAND]``):
    with the formatter's pieces broken, the reference is still exactly the file."""
    import click

    def broken(*args: object, **kwargs: object) -> object:
        raise AssertionError("the reference must not use click's help formatter")

    for owner, name in [(click.Command, "collect_usage_pieces"), (click.Command, "format_usage"),
                        (click.Command, "get_usage"), (click.Parameter, "make_metavar"),
                        (click.Option, "get_help_record"), (click.Argument, "get_usage_pieces")]:
        monkeypatch.setattr(owner, name, broken)
    assert gen.check(gen.OUTPUT) is None


def test_argument_names_are_whole(gen: ModuleType) -> None:
    """No ``REST]`` or ``[[MAP]]``: an argument's name in its table is the bare name."""
    text = gen.render()
    for bad in ("`REST]`", "`TEXT]`", "`PATTERNS]`", "`VALUE]`", "[[MAP]]"):
        assert bad not in text
    assert "| `PATTERNS` | any number |" in text
    assert "regs [OPTIONS] [COMMAND] [ARGS]..." in text  # regs alone lists the registers
