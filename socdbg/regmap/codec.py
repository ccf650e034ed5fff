"""Value codec: decode a register value into fields and enum names; encode FIELD=VALUE writes.

``encode`` validates every assignment before it composes anything, so a caller that encodes
first and writes second can never issue a half-checked write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from socdbg.errors import EncodeError, did_you_mean
from socdbg.regmap.model import Field, OnWrite, Register

_INT = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*)")
_VERILOG = re.compile(r"(\d*)'([hHdDbBoO])([0-9a-fA-F_xXzZ]+)")


def parse_int(text: str) -> int | None:
    """An integer in any base (``42``, ``0x2a``, ``0b101010``, ``0o52``, ``1_000``, ``8'h2a``),
    or None when ``text`` is not one."""
    t = text.strip()
    if _INT.fullmatch(t):
        try:
            return int(t, 0) if not re.fullmatch(r"[+-]?0[0-9_]+", t) else int(t, 10)
        except ValueError:
            return None
    m = _VERILOG.fullmatch(t)
    if m:
        base = {"h": 16, "d": 10, "b": 2, "o": 8}[m.group(2).lower()]
        digits = m.group(3).replace("_", "")
        try:
            value = int(digits, base)
        except ValueError:
            return None
        if m.group(1) and value >= 1 << int(m.group(1)):
            raise EncodeError(f"{text.strip()}: {value:#x} does not fit its own "
                              f"{int(m.group(1))}-bit size")
        return value
    return None


@dataclass(frozen=True, slots=True)
class FieldValue:
    field: Field
    value: int

    @property
    def enum_name(self) -> str | None:
        """The enum member's name; None without an enum or for a value it does not name."""
        if self.field.enum is None:
            return None
        member = self.field.enum.by_value(self.value)
        return member.name if member else None

    @property
    def enum_unknown(self) -> bool:
        return self.field.enum is not None and self.field.enum.by_value(self.value) is None

    @property
    def text(self) -> str:
        """``RING (2)``, ``<unknown 7>`` for a value the enum does not name, or ``0x1f``."""
        if self.field.enum is not None:
            name = self.enum_name
            return f"{name} ({self.value})" if name else f"<unknown {self.value}>"
        if self.field.width == 1:
            return str(self.value)
        return hex(self.value)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A register value decoded into its fields."""

    register: Register
    value: int
    fields: tuple[FieldValue, ...]

    def __getitem__(self, name: str) -> int:
        for fv in self.fields:
            if fv.field.name.lower() == name.lower():
                return fv.value
        raise KeyError(name)

    @property
    def reserved_bits(self) -> int:
        """Bits set outside every field (should read 0)."""
        return self.value & ~self.register.layout.field_mask

    def summary(self, exclude: Iterable[str] = ()) -> str:
        """``busy=1 done=0 err_code=NONE`` for error messages and compact views."""
        skip = {e.lower() for e in exclude}
        parts = []
        for fv in sorted(self.fields, key=lambda fv: -fv.field.lsb):
            if fv.field.name.lower() in skip:
                continue
            parts.append(f"{fv.field.name}={short_text(fv)}")
        return " ".join(parts)


def short_text(fv: FieldValue) -> str:
    """A field value as compact views show it: enum name, decimal below 10, else hex."""
    name = fv.enum_name
    if name:
        return name
    if fv.field.enum is not None:
        return f"<unknown {fv.value}>"
    return str(fv.value) if fv.value < 10 else hex(fv.value)


def decode(register: Register, value: int) -> Decoded:
    return Decoded(register, value,
                   tuple(FieldValue(f, f.extract(value)) for f in register.fields))


def field_value(register: Register, fld: Field, text: str) -> int:
    """Parse ``text`` (an integer in any base or an enum name) as a value of ``fld``."""
    where = f"{register.path}.{fld.name}"
    number = parse_int(text)
    if number is None:
        if fld.enum is not None:
            member = fld.enum.by_name(text.strip())
            if member is None:
                names = [m.name for m in fld.enum.members]
                raise EncodeError(
                    f"{where}: '{text}' is not a value of {fld.enum.name}",
                    did_you_mean(text.strip(), names) or "one of " + ", ".join(names))
            return member.value
        raise EncodeError(f"{where}: '{text}' is not a number",
                          f"a {fld.width}-bit value, 0..{hex(fld.max)}")
    if number < 0 or number > fld.max:
        raise EncodeError(f"{where}: {text} does not fit {fld.width} bit(s) {fld.bits}",
                          f"allowed 0..{hex(fld.max)}" + (
                              "; or one of " + ", ".join(m.name for m in fld.enum.members)
                              if fld.enum else ""))
    if fld.enum is not None and fld.enum.by_value(number) is None:
        raise EncodeError(f"{where}: {number} is not a value of {fld.enum.name}",
                          ", ".join(f"{m.name}={m.value}" for m in fld.enum.members)
                          + "; to force it, write the whole register value")
    return number


def parse_assignments(register: Register,
                      pairs: Sequence[tuple[str, str]]) -> list[tuple[Field, int]]:
    """Resolve ``[(FIELD, VALUE), ...]``: unknown fields, bad values and fields that software
    cannot write are all rejected here, before anything is composed or written."""
    out: list[tuple[Field, int]] = []
    seen: set[str] = set()
    for name, text in pairs:
        fld = register.field(name)
        if fld is None:
            names = [f.name for f in register.fields]
            raise EncodeError(f"{register.path} has no field '{name}'",
                              did_you_mean(name, names) or "fields: " + ", ".join(names))
        if fld.name in seen:
            raise EncodeError(f"{register.path}.{fld.name} is assigned twice")
        seen.add(fld.name)
        if not fld.sw.writable:
            raise EncodeError(f"{register.path}.{fld.name} is read-only: sw={fld.sw}",
                              "software writes to it are ignored by the hardware")
        out.append((fld, field_value(register, fld, text)))
    return out


def neutral(fld: Field, current: int) -> int:
    """What a read-modify-write writes back into a field it was not asked to change.

    Writing back what was read is wrong for fields whose writes act: a w1c bit that reads 1
    would be cleared, a singlepulse bit re-fired. Those get the value that does nothing.
    """
    if fld.singlepulse:
        return 0
    match fld.onwrite:
        case OnWrite.WOCLR | OnWrite.WOSET | OnWrite.WOT:
            return 0
        case OnWrite.WZC | OnWrite.WZS | OnWrite.WZT:
            return fld.max
        case _:
            return fld.extract(current)


def encode(register: Register, assignments: Sequence[tuple[str, str]], current: int) -> int:
    """Compose the value to write: ``current`` with the named fields replaced.

    ``assignments`` are (FIELD, VALUE) text pairs; everything is validated first. Fields not
    named keep their current value, except those whose writes have side effects (see
    :func:`neutral`). Reserved bits are written as 0.
    """
    resolved = parse_assignments(register, assignments)
    return compose(register, resolved, current)


def compose(register: Register, resolved: Sequence[tuple[Field, int]], current: int) -> int:
    named = {f.name: v for f, v in resolved}
    value = 0
    for fld in register.fields:
        v = named[fld.name] if fld.name in named else neutral(fld, current)
        value = fld.insert(value, v)
    return value


def check_whole(register: Register, value: int) -> None:
    """Reject a whole-register value that does not fit the register's width."""
    if value < 0 or value >= 1 << register.width:
        raise EncodeError(f"{register.path}: {hex(value)} does not fit {register.width} bits",
                          f"allowed 0..{hex((1 << register.width) - 1)}")
