"""Build (or find in the cache) the Verilator model of a map's register blocks.

The cache entry ``<cache>/rtl-<key>/`` (the folder of the map cache, regmap/cache.py) holds
the harness executable and the generated SystemVerilog. The key hashes every source file's
name and bytes, the defines, the top, the blocks asked for, the versions of
PeakRDL-regblock, systemrdl-compiler and Verilator, and socdbg's own generator and harness
code, so a second start with the same inputs runs the harness at once. A build goes to a
temporary folder renamed into place when complete: a failed or interrupted build leaves no
entry, and two builds at once both end with one valid entry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from socdbg.errors import TargetError

HERE = Path(__file__).resolve().parent
EXE = "harness"
#: Beside the harness: the sideband's entries, one ``block path width`` line each, in index
#: order (top.py's ``sideband_leaves``).
SIDEBAND = "sideband.txt"
#: A build of every block of a 16x16 NoC takes about 90 s on 2 cores: far below this.
BUILD_TIMEOUT = 1800.0
_OWN = ("generate.py", "top.py", "build.py", "harness.cpp")


@dataclass(frozen=True)
class Recipe:
    """What a build is made from."""

    files: tuple[str, ...]  # RDL sources, compiled in order
    deps: tuple[str, ...]  # every file the compiler read (sources and includes)
    defines: tuple[tuple[str, str], ...]
    top: str
    blocks: tuple[str, ...]  # empty: every block
    mesh_x: int  # the NoC mesh width (router coordinates), 0 without a NoC


def verilator() -> str:
    path = shutil.which("verilator")
    if path is None:
        raise TargetError("rtl: verilator is not installed",
                          "apt-get install verilator (5.006 or newer); see docs/rtl.md")
    return path


def tool_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        regblock = version("peakrdl-regblock")
    except PackageNotFoundError:
        raise TargetError("rtl: PeakRDL-regblock is not installed",
                          "pip install 'socdbg[rtl]' (peakrdl-regblock 1.3)") from None
    try:
        out = subprocess.run([verilator(), "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetError(f"rtl: cannot run verilator: {exc}") from None
    return f"regblock {regblock}; systemrdl {version('systemrdl-compiler')}; {out[:200]}"


def cache_key(recipe: Recipe) -> str:
    h = hashlib.sha256()
    for name in recipe.deps or recipe.files:
        data = Path(name).read_bytes()
        h.update(f"{Path(name).name}\0{len(data)}\0".encode())
        h.update(data)
    h.update(repr((recipe.files and [Path(f).name for f in recipe.files], recipe.defines,
                   recipe.top, recipe.blocks, recipe.mesh_x)).encode())
    h.update(tool_versions().encode())
    for own in _OWN:
        h.update((HERE / own).read_bytes())
    return h.hexdigest()[:32]


def cached(recipe: Recipe) -> Path | None:
    """The harness of an existing cache entry for ``recipe``, or None."""
    from socdbg.regmap.cache import cache_dir

    exe = cache_dir() / f"rtl-{cache_key(recipe)}" / EXE
    return exe if exe.is_file() and os.access(exe, os.X_OK) else None


def build(recipe: Recipe, jobs: int = 2) -> Path:
    """The harness for ``recipe``: from the cache, else generated and compiled now."""
    from socdbg.regmap.cache import cache_dir

    found = cached(recipe)
    if found is not None:
        return found
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"rtl-{cache_key(recipe)}"
    work = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=root))
    try:
        _build_in(recipe, work, jobs)
        try:
            os.replace(work, final)
        except OSError:  # another build finished first: keep its entry
            if not (final / EXE).is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return final / EXE


def _build_in(recipe: Recipe, work: Path, jobs: int) -> None:
    from socdbg.targets.rtl.generate import compile_blocks, export
    from socdbg.targets.rtl.top import sideband_leaves, top_sv

    sv = work / "sv"
    sv.mkdir()
    nodes = compile_blocks(recipe.files, recipe.defines, recipe.top, recipe.blocks or None)
    blocks = export(nodes, sv)
    (sv / "socdbg_top.sv").write_text(top_sv(blocks, recipe.mesh_x), encoding="utf-8")
    (work / SIDEBAND).write_text("".join(f"{b} {p} {w}\n" for b, p, w in
                                         sideband_leaves(blocks)), encoding="utf-8")
    sources = [str(sv / f"{b.package}.sv") for b in blocks]
    sources += [str(sv / f"{b.module}.sv") for b in blocks]
    sources.append(str(sv / "socdbg_top.sv"))
    cmd = [verilator(), "--cc", "--exe", "--build", "-j", str(max(1, jobs)),
           "--top-module", "socdbg_top", "--structs-packed",
           "-Wno-fatal", "-Wno-lint", "-Wno-style",
           "--x-assign", "0", "--x-initial", "0", "-Mdir", str(work / "obj"),
           "-o", str(work / EXE), *sources, str(HERE / "harness.cpp")]
    env = dict(os.environ, MAKEFLAGS=f"-j{max(1, jobs)}")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              check=False, env=env, cwd=work)
    except subprocess.TimeoutExpired:
        raise TargetError(f"rtl: the Verilator build took over {BUILD_TIMEOUT:.0f} s") from None
    (work / "build.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0 or not (work / EXE).is_file():
        tail = [ln for ln in (proc.stderr or proc.stdout).splitlines() if "%Error" in ln][:3]
        raise TargetError("rtl: the Verilator build failed: " + ("; ".join(tail) or
                                                               f"exit {proc.returncode}"))
    shutil.rmtree(work / "obj", ignore_errors=True)  # the objects: 10x the executable


def recipe_for(files: Sequence[str], deps: Sequence[str], defines: Sequence[tuple[str, str]],
               top: str, blocks: Sequence[str], mesh_x: int) -> Recipe:
    return Recipe(tuple(files), tuple(deps), tuple(defines), top, tuple(blocks), mesh_x)
