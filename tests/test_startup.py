"""A one-shot command imports only what it uses: the one backend its target names, no
entry-point scan, no tempfile. (Speed itself is measured in scripts/bench_startup.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from socdbg.errors import TargetError
from socdbg.targets.base import BUILTIN, backend, backends, open_target

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
from socdbg.cli import main
sys.argv = ["socdbg", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_after(*argv: str) -> tuple[str, set[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    return proc.stdout, set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_builtin_table_matches_the_entry_points() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["socdbg.targets"] == BUILTIN


def test_one_shot_read_imports_only_the_sim_backend() -> None:
    modules_after("-t", "sim", "read", "sysctrl.chip_id")  # warms the map cache
    out, mods = modules_after("-t", "sim", "read", "sysctrl.chip_id")
    assert "sysctrl.chip_id" in out
    assert "socdbg.targets.sim" in mods
    for unused in ("socdbg.targets.gdb", "socdbg.targets.mmio", "socdbg.targets.dump",
                   "socdbg.targets.rsp", "socdbg.postmortem", "importlib.metadata",
                   "rich._emoji_codes", "prompt_toolkit", "socdbg.commands.noc",
                   "socdbg.commands.butr", "socdbg.commands.postmortem"):
        assert unused not in mods, unused


def test_backend_by_name_and_unknown_names() -> None:
    sim = backend("sim")
    assert sim is not None and sim.name == "sim"
    assert backend("no-such-backend") is None
    assert set(BUILTIN) <= set(backends())
    with pytest.raises(TargetError, match="did you mean 'sim'"):
        open_target("simm", lambda files=None, defines=None: None)  # type: ignore[arg-type,return-value]


def test_command_homes_are_exact() -> None:
    from socdbg.commands.registry import HOMES, commands

    table = commands()
    assert {name: cmd.callback.__module__.rsplit(".", 1)[-1]
            for name, cmd in table.items()} == HOMES


def test_one_shot_dump_imports_only_its_command_module(tmp_path: Path) -> None:
    out_file = tmp_path / "d.json"
    args = ("-t", "sim", "dump", "--exclude", "*", "--memory", "0x10000000+0x100", "-o",
            str(out_file), "--force")
    modules_after(*args)  # warms the map cache
    out, mods = modules_after(*args)
    assert "256 bytes of memory" in out and out_file.is_file()
    assert "socdbg.commands.postmortem" in mods
    for unused in ("socdbg.commands.registers_rw", "socdbg.commands.memory",
                   "socdbg.commands.regs", "socdbg.commands.noc",
                   "socdbg.commands.dma", "socdbg.commands.script", "socdbg.commands.cpu",
                   "socdbg.commands.firmware", "socdbg.commands.butr", "rich",
                   "prompt_toolkit", "socdbg.targets.gdb", "socdbg.targets.mmio",
                   "socdbg.pager"):
        assert unused not in mods, unused
