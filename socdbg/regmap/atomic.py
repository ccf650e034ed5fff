"""Atomic file writes (temporary file beside the target, fsync, rename), with the clean-up of
what earlier killed writes left behind."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path


def _tmp_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(re.escape(target.name) + r"\.(\d+)-[A-Za-z0-9_]+\.tmp")


def remove_stale_tmp(target: Path) -> None:
    """Remove temporary files an earlier, killed write to ``target`` left beside it: those
    named for ``target`` whose writing process no longer runs."""
    pattern = _tmp_pattern(target)
    folder = target.parent
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(folder / name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def write_atomic(target: Path, chunks: Iterable[bytes], mode: int | None = None) -> None:
    """Write ``target`` atomically: a temporary file beside it (named for it and for this
    process), fsync, rename. Stale temporary files of earlier killed writes to the same path
    are removed first; on failure the temporary file is removed and OSError raised."""
    import tempfile  # only when writing: a warm load does not pay for it

    folder = target.parent if str(target.parent) else Path(".")
    remove_stale_tmp(target)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{target.name}.{os.getpid()}-",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
