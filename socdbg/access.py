"""Register access on top of a target: a register is read and written at its own access width,
never split narrower, little-endian, and a short or failed answer is an error, never a value."""

from __future__ import annotations

from socdbg.errors import TargetError
from socdbg.regmap import Register
from socdbg.targets.base import CAP_WRITE, Target


def require_writes(target: Target, what: str) -> None:
    """Refuse before any access when the target cannot be written (a dump, a read-only
    server or live target)."""
    if CAP_WRITE not in target.capabilities:
        hint = ("a dump is a record: it is never written" if target.spec.startswith("dump:")
                else "it was opened read-only: live targets need socdbg --allow-writes, "
                "a server socdbg serve --allow-writes")
        raise TargetError(f"{what}: target {target.spec} is read-only", hint)


def _chunks(reg: Register) -> range:
    step = reg.accesswidth // 8
    return range(reg.address, reg.end, step)


def read_register(target: Target, reg: Register) -> int:
    """One access per ``accesswidth`` chunk, lowest address first (one access when the
    access width is the register width, as it is for almost every register)."""
    step = reg.accesswidth // 8
    if step == reg.size:
        data = target.read(reg.address, step)
    else:
        data = b"".join(target.read(a, step) for a in _chunks(reg))
    if len(data) != reg.size:
        raise TargetError(f"{reg.path}: target returned {len(data)} bytes for a "
                          f"{reg.size}-byte register at {reg.address:#x}")
    return int.from_bytes(data, "little")


def write_register(target: Target, reg: Register, value: int) -> None:
    step = reg.accesswidth // 8
    data = value.to_bytes(reg.size, "little")
    if step == reg.size:
        target.write(reg.address, data)
        return
    for i, addr in enumerate(_chunks(reg)):
        target.write(addr, data[i * step : (i + 1) * step])
