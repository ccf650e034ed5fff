"""Register access on top of a target: a register is read and written at its own access width,
never split narrower, little-endian, and a short or failed answer is an error, never a value.

Planning accesses from the map is socdbg/access_plan.py (below the targets, so that a live
target's block transfers follow the same plan); performing them on a target is here:

* :func:`register_accesses`: the single accesses of one register (one per ``accesswidth``
  chunk; a register whose width is not a power of two, a 24-bit one, is one access of the
  bus width that carries it, a 32-bit access whose low bytes are the register);
* :func:`plan_runs` / :func:`read_values` / :func:`read_all`: bulk reads of many registers,
  adjacent ones coalesced into one block read when the target declares ``coalesce`` (it
  still performs one access per register at that width), at most the target's largest block
  (:class:`~socdbg.targets.base.BlockLimits`), through its batch abilities when it has them
  (:class:`~socdbg.targets.base.RangeReads`, :class:`~socdbg.targets.base.AccessReads`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from socdbg.access_plan import on_bus, plan_runs, register_accesses
from socdbg.errors import TargetError
from socdbg.regmap import Register
from socdbg.targets.base import (
    CAP_COALESCE,
    CAP_RECORD,
    CAP_WRITE,
    RECORD_HINT,
    AccessReads,
    BlockLimits,
    RangeReads,
    Target,
)

__all__ = [
    "MAX_BLOCK", "block_limit", "on_bus", "plan_runs", "read_all", "read_register",
    "read_values", "register_accesses", "require_writes", "write_register",
]

MAX_BLOCK = 0x10000  # largest coalesced read unless the caller or the target says less

#: (start, end, why) of an address range that could not be read.
Failure = tuple[int, int, str]


def require_writes(target: Target, what: str) -> None:
    """Refuse before any access when the target cannot be written (a dump, a read-only
    server or live target)."""
    if CAP_WRITE not in target.capabilities:
        hint = (RECORD_HINT if CAP_RECORD in target.capabilities
                else "it was opened read-only: live targets need socdbg --allow-writes, "
                "a server socdbg serve --allow-writes")
        raise TargetError(f"{what}: target {target.spec} is read-only", hint)


def _value(reg: Register, data: bytes, size: int) -> int:
    if len(data) != size:
        raise TargetError(f"{reg.path}: target returned {len(data)} bytes for a "
                          f"{reg.size}-byte register at {reg.address:#x}")
    return int.from_bytes(data[: reg.size], "little")


def read_register(target: Target, reg: Register) -> int:
    """The register's value, read with :func:`register_accesses`."""
    if on_bus(reg) and reg.accesswidth == reg.width:
        return _value(reg, target.read(reg.address, reg.size), reg.size)
    accesses = register_accesses(reg)
    data = b"".join(target.read(a, n) for a, n in accesses)
    return _value(reg, data, sum(n for _, n in accesses))


def write_register(target: Target, reg: Register, value: int) -> None:
    accesses = register_accesses(reg)
    data = value.to_bytes(sum(n for _, n in accesses), "little")
    pos = 0
    for addr, n in accesses:
        target.write(addr, data[pos : pos + n])
        pos += n


# --- bulk reads -------------------------------------------------------------------------------
def block_limit(target: Target, most: int = MAX_BLOCK) -> int:
    """The largest block read that may group registers on ``target``: ``most``, or less when
    the target's packets are smaller; 0 when the target does not coalesce."""
    if CAP_COALESCE not in target.capabilities:
        return 0
    if isinstance(target, BlockLimits):
        return min(most, int(target.max_read))
    return most


def _split(run: Sequence[Register], got: bytes) -> dict[str, int]:
    start = run[0].address
    return {reg.path: int.from_bytes(got[reg.address - start : reg.end - start], "little")
            for reg in run}


def read_values(target: Target, regs: Sequence[Register], max_block: int = MAX_BLOCK
                ) -> dict[str, int]:
    """Read ``regs`` (in address order), adjacent ones in one block read when the target
    coalesces; the first failure is raised."""
    out: dict[str, int] = {}
    for run in plan_runs(regs, block_limit(target, max_block)):
        if len(run) == 1:
            out[run[0].path] = read_register(target, run[0])
            continue
        start, size = run[0].address, run[-1].end - run[0].address
        raw = target.read_block(start, size)
        if len(raw) != size:
            raise TargetError(f"short block read at {start:#x}: {len(raw)} of {size} bytes")
        out.update(_split(run, raw))
    return out


def read_all(target: Target, regs: Sequence[Register],
             progress: Callable[[int], None] | None = None
             ) -> tuple[dict[str, int], list[Failure]]:
    """Read ``regs`` (in address order) as a dump does: never raises for a failed access (its
    range goes into the failures and the rest is read), in as few round trips as the target
    allows: coalesced runs through :class:`RangeReads`, single registers through
    :class:`AccessReads`, else one read per run."""
    values: dict[str, int] = {}
    failed: list[Failure] = []
    limit = block_limit(target)
    runs = plan_runs(regs, limit) if limit else [[r] for r in regs]
    if limit and isinstance(target, RangeReads):  # behind socdbg serve
        try:
            results: list[bytes | TargetError] = target.read_ranges(
                [(run[0].address, run[-1].end - run[0].address) for run in runs])
        except TargetError as exc:
            results = [exc] * len(runs)
        for run, got in zip(runs, results, strict=True):
            _store(values, failed, run, got)
            if progress is not None:
                progress(len(run))
        return values, failed
    if not limit and runs and isinstance(target, AccessReads):  # a gdb stub: pipelined
        _read_pipelined(target, regs, values, failed)
        if progress is not None:
            progress(len(regs))
        return values, failed
    for run in runs:
        start, end = run[0].address, run[-1].end
        try:
            if len(run) == 1:
                values[run[0].path] = read_register(target, run[0])
            else:
                _store(values, failed, run, target.read_block(start, end - start))
        except TargetError as exc:
            failed.append((start, end, exc.message))
        if progress is not None:
            progress(len(run))
    return values, failed


def _read_pipelined(target: AccessReads, regs: Sequence[Register], values: dict[str, int],
                    failed: list[Failure]) -> None:
    """Each register as its own accesses (:func:`register_accesses`), lowest address first,
    all sent at once with several in flight."""
    plan: list[tuple[Register, list[tuple[int, int]]]] = []
    for reg in regs:
        try:
            plan.append((reg, register_accesses(reg)))
        except TargetError as exc:
            failed.append((reg.address, reg.end, exc.message))
    try:
        got = target.read_accesses([acc for _, accs in plan for acc in accs])
    except TargetError as exc:
        failed.extend((reg.address, reg.end, exc.message) for reg, _ in plan)
        return
    i = 0
    for reg, accs in plan:
        parts = got[i : i + len(accs)]
        i += len(accs)
        bad = next((p for p in parts if isinstance(p, TargetError)), None)
        if bad is not None:
            failed.append((reg.address, reg.end, bad.message))
            continue
        data = b"".join(p for p in parts if isinstance(p, bytes))
        values[reg.path] = int.from_bytes(data[: reg.size], "little")


def _store(values: dict[str, int], failed: list[Failure], run: Sequence[Register],
           got: bytes | TargetError) -> None:
    """Split a run's block of bytes into its registers (or record the run as failed)."""
    start, end = run[0].address, run[-1].end
    if isinstance(got, TargetError):
        failed.append((start, end, got.message))
        return
    if len(got) != end - start:
        failed.append((start, end, f"short block read ({len(got)} of {end - start} bytes)"))
        return
    values.update(_split(run, got))
