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
