"""requirements-test.txt, the lock scripts/test.sh builds the test environment from, pins every
dependency pyproject.toml names, with hashes, and knows which pyproject.toml it was made from."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lockfile() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lockfile", ROOT / "scripts" / "lockfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_is_made_from_this_pyproject(lockfile: ModuleType) -> None:
    assert lockfile.recorded() == lockfile.digest(), "run bash scripts/lock.sh"


def test_every_dependency_is_pinned_with_hashes(lockfile: ModuleType) -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    text = lockfile.LOCK.read_text()
    pins = {_norm(m.group(1)): m.group(2)
            # a package pinned per Python version (numpy) has a marker after its version
            for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)(?: ;[^\n\\]*)? \\\n    --hash=sha256:",
                                 text, re.M)}
    for requirement in wanted:
        name = _norm(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0])
        assert name in pins, f"{name} is not pinned with a hash in {lockfile.LOCK.name}"


def test_a_changed_pyproject_makes_the_lock_stale(lockfile: ModuleType, tmp_path: Path) -> None:
    changed = tmp_path / "pyproject.toml"
    changed.write_text((ROOT / "pyproject.toml").read_text().replace(
        '"click>=8.1",', '"click>=8.1",\n    "leftpad>=1",'))
    assert lockfile.digest(changed) != lockfile.digest()
