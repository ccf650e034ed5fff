"""The test environment's lock file, requirements-test.txt, and whether it is up to date.

    python3 scripts/lockfile.py check   # exit 1 when pyproject.toml's dependencies changed
    python3 scripts/lockfile.py stamp   # record them in the lock (scripts/lock.sh does this)
    pip freeze | python3 scripts/lockfile.py diff   # what differs from the lock

The lock pins every package scripts/test.sh installs, with hashes. It is made from
pyproject.toml's dependencies and its ``dev`` extra; its last line records a digest of those
lists, so a dependency added to pyproject.toml without re-locking is one clear error instead of
a test environment that silently lacks it. Standard library only: this runs before any
environment exists.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-test.txt"
PYPROJECT = ROOT / "pyproject.toml"
MARK = "# pyproject.toml dependencies: sha256 "


def digest(pyproject: Path = PYPROJECT) -> str:
    """SHA-256 of the dependency lists the lock is made from."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data.get("project", {})
    wanted = {
        "dependencies": sorted(project.get("dependencies", [])),
        "dev": sorted(project.get("optional-dependencies", {}).get("dev", [])),
        "requires-python": project.get("requires-python", ""),
    }
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def recorded(lock: Path = LOCK) -> str | None:
    try:
        lines = lock.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        if line.startswith(MARK):
            return line[len(MARK):].strip()
    return None


def stamp(lock: Path = LOCK) -> None:
    lines = [ln for ln in lock.read_text(encoding="utf-8").splitlines()
             if not ln.startswith(MARK)]
    lines.append(MARK + digest())
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")


def pins(lock: Path = LOCK) -> dict[str, str]:
    """Package (normalised name) -> pinned version."""
    text = lock.read_text(encoding="utf-8")
    return {_norm(m.group(1)): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def differences(freeze: str, lock: Path = LOCK) -> list[str]:
    """Lines of ``pip freeze`` output whose version is not the lock's."""
    locked = pins(lock)
    out = []
    for line in freeze.splitlines():
        name, _, version = line.strip().partition("==")
        if version and locked.get(_norm(name)) != version:
            out.append(f"{name}: {version} (lock: {locked.get(_norm(name), 'not locked')})")
    return out


def main(argv: list[str]) -> int:
    if argv == ["diff"]:  # pip freeze on stdin
        for line in differences(sys.stdin.read()):
            print("  " + line)
        return 0
    if argv == ["stamp"]:
        stamp()
        return 0
    if argv == ["check"]:
        if not LOCK.is_file():
            print(f"{LOCK.name} is missing: run bash scripts/lock.sh", file=sys.stderr)
            return 1
        if recorded() != digest():
            print(f"{LOCK.name} is out of date with pyproject.toml's dependencies: run "
                  "bash scripts/lock.sh (and commit the lock)", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
