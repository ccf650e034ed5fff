"""Register conditions: ``PATH[.FIELD] OP VALUE`` with an optional mask.

Used by ``step --until``, ``poll`` and ``expect``, and by simulators that evaluate a
condition where the model runs (``socdbg serve``). Forms::

    dma.ch[0].status.done == 1
    hbm.train_status.phase == DONE        (enum names for enum fields)
    pcie.link_status != 0
    dma.ch[0].status & 0x6 == 0x2          (masked comparison)
    sysctrl.cycle >= 5000

The whole condition is parsed and resolved against the map before anything is read.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from socdbg.errors import UsageError
from socdbg.regmap.codec import Decoded, field_value, parse_int
from socdbg.regmap.model import Field, Register
from socdbg.regmap.regmap import RegMap

OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge,
    "<": operator.lt, ">": operator.gt,
}
_COND = re.compile(
    r"^\s*(?P<path>[^\s&=!<>]+)\s*(?:&\s*(?P<mask>\S+?)\s*)?(?P<op>==|!=|<=|>=|<|>)\s*"
    r"(?P<value>\S+)\s*$")


@dataclass(frozen=True)
class Condition:
    register: Register
    field: Field | None
    mask: int | None
    op: str
    value: int
    text: str

    def observed(self, raw: int) -> int:
        v = self.field.extract(raw) if self.field is not None else raw
        return v & self.mask if self.mask is not None else v

    def holds(self, raw: int) -> bool:
        return OPERATORS[self.op](self.observed(raw), self.value)

    def describe_value(self, value: int) -> str:
        if self.field is not None and self.field.enum is not None and self.mask is None:
            member = self.field.enum.by_value(value)
            if member is not None:
                return member.name
        return str(value) if value < 10 else hex(value)

    def bits(self) -> tuple[int, int] | None:
        """``(K, shift)`` with ``observed(raw) == (raw & K) >> shift`` for every raw value,
        or None when no such form exists (an msb0 field is stored bit-reversed)."""
        if self.field is None:
            keep = (1 << self.register.width) - 1
            shift = 0
        elif self.field.msb0:
            return None
        else:
            keep, shift = self.field.mask, self.field.lsb
        if self.mask is not None:
            keep &= self.mask << shift
        return keep, shift

    @property
    def subject(self) -> str:
        base = self.register.path + (f".{self.field.name}" if self.field else "")
        return f"{base} & {self.mask:#x}" if self.mask is not None else base

    def failure(self, decoded: Decoded) -> str:
        """``expected dma.ch[0].status.done == 1, got 0 (busy=1 err=0 ...)``"""
        got = self.describe_value(self.observed(decoded.value))
        want = self.describe_value(self.value)
        exclude = [self.field.name] if self.field is not None else []
        context = decoded.summary(exclude=exclude)
        return (f"expected {self.subject} {self.op} {want}, got {got}"
                + (f" ({context})" if context else ""))


def parse_condition(rmap: RegMap, text: str | Sequence[str]) -> Condition:
    """Parse a condition; ``text`` may be one string or the words of one (unquoted in a
    command line)."""
    joined = text if isinstance(text, str) else " ".join(text)
    m = _COND.match(joined)
    if m is None:
        raise UsageError(f"cannot parse condition '{joined}'",
                         "write PATH[.FIELD] OP VALUE, OP one of == != < <= > >=, "
                         "optionally PATH & MASK == VALUE")
    reg, fld = rmap.resolve(m.group("path"))
    mask = None
    if m.group("mask"):
        mask = parse_int(m.group("mask"))
        if mask is None or mask < 0:
            raise UsageError(f"mask '{m.group('mask')}' is not a number")
    vtext = m.group("value")
    if fld is not None and mask is None:
        value = field_value(reg, fld, vtext)
    else:
        parsed = parse_int(vtext)
        if parsed is None:
            raise UsageError(f"'{vtext}' is not a number",
                             None if fld is None else "enum names work without a mask")
        value = parsed
    if not reg.layout.readable:
        raise UsageError(f"{reg.path} is write-only: a condition cannot read it")
    return Condition(reg, fld, mask, m.group("op"), value, joined)


def first_count(start: int, count: int, width: int, keep: int, shift: int, op: str,
                value: int) -> int | None:
    """For a register that counts up by one per cycle: the smallest ``d`` in ``[0, count)``
    with ``((start + d) mod 2**width & keep) >> shift OP value``, or None.

    Exact and fast for any count (no search over cycles): the candidates are the smallest
    numbers above ``start`` with a given prefix of bits, as in a digit-by-digit search.
    ``keep`` must have no bits below ``shift``.
    """
    if count <= 0:
        return None
    size = 1 << width
    start %= size
    keep &= size - 1
    target = value << shift
    end = start + count - 1  # the last counter value, before wrapping
    found = _smallest_at_least(start, keep, op, target)
    if found is not None and found <= min(end, size - 1):
        return found - start
    if end >= size:  # wrapped: 0 .. end - size (all of it if it wrapped more than once)
        found = _smallest_at_least(0, keep, op, target)
        if found is not None and found <= min(end - size, size - 1):
            return found + size - start
    return None


def _smallest_at_least(low: int, keep: int, op: str, target: int) -> int | None:
    """The smallest ``x >= low`` with ``(x & keep) OP target``."""
    test = OPERATORS[op]
    if test(low & keep, target):
        return low
    for i in range(max(low.bit_length(), keep.bit_length()) + 1):
        if (low >> i) & 1:
            continue
        prefix = ((low >> (i + 1)) << (i + 1)) | (1 << i)
        tail = _smallest_tail(prefix & keep, keep & ((1 << i) - 1), op, target)
        if tail is not None:
            return prefix | tail
    return None


def _smallest_tail(high: int, free: int, op: str, target: int) -> int | None:
    """The smallest ``t``, a sub-mask of ``free``, with ``(high + t) OP target`` (the bits of
    ``high`` lie above those of ``free``)."""
    if op == "==":
        t = target - high
        return t if t >= 0 and t & ~free == 0 else None
    if op == "!=":
        if high != target:
            return 0
        return free & -free if free else None
    if op in ("<", "<="):
        return 0 if OPERATORS[op](high, target) else None
    need = target - high + (1 if op == ">" else 0)  # > and >=: t >= need
    return _submask_at_least(free, need)


def _submask_at_least(mask: int, n: int) -> int | None:
    """The smallest sub-mask of ``mask`` that is ``>= n``."""
    if n <= 0:
        return 0
    if n & ~mask == 0:
        return n
    for j in range(mask.bit_length()):
        if not (mask >> j) & 1 or (n >> j) & 1:
            continue
        above = n >> (j + 1)
        if above & ~(mask >> (j + 1)) == 0:
            return (above << (j + 1)) | (1 << j)
    return None
