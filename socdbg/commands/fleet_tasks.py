"""What a fleet task does on a Dask worker for one target: run a script (:func:`run_script`)
or take a dump (:func:`take_dump`). Each opens its own :class:`Session` on the target with the
fleet's write policy (``--allow-writes`` or not: a live target opens read-only without it), and
returns a plain dict (sent back to the client by Dask).

A target that cannot be opened (a stub that does not answer within its timeout, a refused
connection, a dump that cannot be read) is ``unreachable``; a target that breaks mid-script is
an ``error`` at the line where it broke.
"""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, TargetError


def _open(session: Session) -> dict[str, Any] | None:
    """Open the session's target and its map; the unreachable result if that fails."""
    try:
        _ = session.target
        _ = session.map
    except TargetError as exc:
        return {"result": "unreachable", "reason": exc.message}
    except SocdbgError as exc:
        return {"result": "error", "reason": exc.message}
    return None


def run_script(spec: str, name: str, script: str, allow_writes: bool, map_files: list[str] | None,
               variables: dict[str, str]) -> dict[str, Any]:
    """Run ``script`` on ``spec`` as ``socdbg run`` does (stop at the first failure)."""
    from socdbg.commands.scriptfile import ScriptError
    from socdbg.commands.scriptrun import ScriptRunner

    session = Session(target=spec, map_files=map_files, out=io.StringIO(), width=100,
                      color=False, allow_writes=allow_writes, pager=False)
    session.variables.update(variables)
    try:
        failed = _open(session)
        if failed is not None:
            return failed
        runner = ScriptRunner(session)
        try:
            result = runner.run(Path(script))
        except ScriptError as exc:
            where, _, reason = exc.message.partition(": ")
            return {"result": "error", "where": where if reason else "",
                    "reason": reason or exc.message}
        except SocdbgError as exc:
            return {"result": "error", "reason": exc.message}
        data = {"checks_passed": result.checks_passed, "lines": len(result.outcomes)}
        if result.passed:
            return {"result": "passed", **data}
        first = result.failures[0] if result.failures else None
        if first is None:
            return {"result": "failed", "reason": "stopped", **data}
        return {"result": "error" if first.error else "failed", "where": first.where,
                "reason": first.message, **data}
    finally:
        session.close()


def take_dump(spec: str, name: str, folder: str, include_side_effects: bool,
              map_files: list[str] | None) -> dict[str, Any]:
    """Capture every readable register of ``spec`` into FOLDER/NAME-TIME.json.gz."""
    from socdbg.commands.postmortem import select_registers
    from socdbg.fleet.report import dump_path
    from socdbg.postmortem import capture, write_dump

    session = Session(target=spec, map_files=map_files, out=io.StringIO(), color=False,
                      pager=False)
    try:
        failed = _open(session)
        if failed is not None:
            return failed
        rmap = session.map
        dump = capture(session.target, rmap, select_registers(rmap, (), ()), [],
                       include_side_effects)
        path = dump_path(Path(folder), name, datetime.datetime.now(datetime.UTC))
        try:
            write_dump(dump, path)
        except SocdbgError as exc:
            return {"result": "error", "reason": exc.message}
        data = {"file": str(path), "registers": len(dump.registers),
                "skipped": len(dump.skipped)}
        if not dump.complete:
            start, end, why = dump.failed[0]
            return {"result": "failed", "reason": f"incomplete: {start:#x}..{end - 1:#x} not "
                    f"read: {why}", **data}
        return {"result": "passed", **data}
    finally:
        session.close()
