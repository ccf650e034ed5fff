"""Shared fixtures for the socdbg test suite.

Every test runs with its own history file and state folder and a map cache shared by the whole
session (so the reference SoC compiles once), never the user's home: see ``_socdbg_env``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from socdbg.regmap import RegMap, load_map

if TYPE_CHECKING:
    import firmware_build as fb

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SIM_FIXTURES = TESTS / "fixtures" / "sim"
SEMANTICS_RDL = SIM_FIXTURES / "semantics.rdl"
TINY_RDL = SIM_FIXTURES / "tiny.rdl"

#: Environment variables that would make a test depend on the machine it runs on.
_SCRUB = ("SOCDBG_TARGET", "COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "PYTHONSTARTUP")


@pytest.fixture(scope="session")
def socdbg_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The map cache every test (and every child process) shares."""
    return tmp_path_factory.mktemp("socdbg-cache")


@pytest.fixture(scope="session", autouse=True)
def _socdbg_session_env(socdbg_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
                        ) -> Iterator[None]:
    """Session-wide: session-scoped fixtures (compiled maps) already use the temporary
    cache. Per-test paths are set again by ``_socdbg_env``."""
    state = tmp_path_factory.mktemp("socdbg-state")
    mp = pytest.MonkeyPatch()
    mp.setenv("SOCDBG_CACHE_DIR", str(socdbg_cache_dir))
    mp.setenv("XDG_CACHE_HOME", str(state / "cache"))
    mp.setenv("XDG_STATE_HOME", str(state / "state"))
    mp.setenv("SOCDBG_HISTORY", str(state / "history"))
    for name in _SCRUB:
        mp.delenv(name, raising=False)
    try:
        yield
    finally:
        mp.undo()


@pytest.fixture(autouse=True)
def _socdbg_env(monkeypatch: pytest.MonkeyPatch, socdbg_cache_dir: Path, tmp_path: Path
                ) -> None:
    """Per test: the shared map cache, a private history file and state folder."""
    monkeypatch.setenv("SOCDBG_CACHE_DIR", str(socdbg_cache_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("SOCDBG_HISTORY", str(tmp_path / "socdbg-history"))
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    """Where the shell of this test keeps its history (``SOCDBG_HISTORY``)."""
    return tmp_path / "socdbg-history"


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for a child ``python -m socdbg``: the test's temporary paths, no colour
    forced, and the package importable even when run from another folder."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("PYTHONSTARTUP", None)
    return env


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


# --- maps ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def ref_map(_socdbg_session_env: None) -> RegMap:
    """The reference SoC (4x4 mesh), loaded the way a session loads it."""
    from socdbg.commands.session import Session

    return Session().map


@pytest.fixture(scope="session")
def ref(_socdbg_session_env: None) -> RegMap:
    """The reference SoC as the register-model tests load it: registers/soc.rdl, top soc."""
    from conftest_regmap import load_reference

    return load_reference()


@pytest.fixture(scope="session")
def sem_map(_socdbg_session_env: None) -> RegMap:
    """tests/fixtures/sim/semantics.rdl: one register per SystemRDL side effect."""
    return load_map([SEMANTICS_RDL])


@pytest.fixture(scope="session")
def tiny_rdl() -> Path:
    """tests/fixtures/sim/tiny.rdl: a three-register map for --map and sim:PATH.rdl."""
    return TINY_RDL


# --- firmware --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fw(tmp_path_factory: pytest.TempPathFactory) -> fb.Images:
    """The firmware images of tests/firmware, compiled once per run by the RISC-V cross
    compiler (tests/firmware_build.py; a missing compiler fails the test). A module that runs
    one image under QEMU (test_gdb_qemu.py, test_gdb_exact.py) defines its own ``fw``."""
    import firmware_build

    return firmware_build.firmware(tmp_path_factory)
