"""Shared helpers for the ``test_regmap*`` modules.

Not a conftest: the test modules import it explicitly (``import conftest_regmap``). It only
defines plain functions and constants; each module builds its own fixtures from them, so no
fixture has to be imported (and re-exported) across modules.

Every load goes through a cache folder given by the caller, never ``~/.cache``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from socdbg.regmap import RegMap, load_map, reference_map_path

TESTS = Path(__file__).resolve().parent
RDL = TESTS / "fixtures" / "rdl"
INCDIR = RDL / "incdir"
REF = reference_map_path()
REF_DIR = REF.parent


@contextmanager
def cache_env(cache_dir: Path) -> Iterator[Path]:
    """Point ``SOCDBG_CACHE_DIR`` at ``cache_dir`` for the duration (any fixture scope)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOCDBG_CACHE_DIR", str(cache_dir))
        yield cache_dir


def load_reference(defines: Mapping[str, str] | None = None, *, use_cache: bool = True) -> RegMap:
    """The reference SoC map (``registers/soc.rdl``, top ``soc``), through the current cache."""
    return load_map([REF], include_paths=[REF_DIR], defines=defines, top="soc",
                    use_cache=use_cache)


def load_fixture(name: str, *, include_paths: tuple[Path, ...] = (), top: str | None = None,
                 use_cache: bool = True) -> RegMap:
    """A map from ``tests/fixtures/rdl/<name>``, through the current cache."""
    return load_map([RDL / name], include_paths=include_paths, top=top, use_cache=use_cache)


def copy_fixtures(dest: Path, *names: str) -> Path:
    """Copy fixture files (or folders) into ``dest`` so a test may edit them; returns dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        src = RDL / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def cache_entries(cache_dir: Path) -> list[Path]:
    """The map cache entries in ``cache_dir``."""
    return sorted(cache_dir.glob("map-*.map"))


def write_rdl(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
