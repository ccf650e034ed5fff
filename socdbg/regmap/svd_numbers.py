"""Numbers as CMSIS-SVD writes them: ``scaledNonNegativeInteger``, enumerated values with
don't-care bits, ``dimIndex`` lists and ranges. Pure functions, no XML."""

from __future__ import annotations

import re

#: Don't-care bits (``#1xx0``) an enumerated value may have; each one doubles its members.
MAX_DONT_CARE_BITS = 8

_NUMBER = re.compile(r"\+?(?:0[xX]([0-9a-fA-F]+)|#([01]+)|0[bB]([01]+)|([0-9]+))([kKmMgGtT]?)")
_ENUM_VALUE = re.compile(r"\+?(?:0[xX]([0-9a-fA-F]+)|(?:#|0[bB])([01xX]+)|([0-9]+))")
_SCALE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_INDEX_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)")
_LETTER_RANGE = re.compile(r"([A-Za-z])\s*-\s*([A-Za-z])")


def parse_number(text: str) -> int:
    """A CMSIS-SVD ``scaledNonNegativeInteger``: ``42``, ``0x2A``, ``#101010`` (binary), with an
    optional ``k``/``M``/``G``/``T`` multiplier (powers of 1024). ``0b101010`` is accepted too.
    Raises ValueError for anything else."""
    t = text.strip()
    if t.isascii() and t.isdigit():
        return int(t)
    m = _NUMBER.fullmatch(t)
    if m is None:
        raise ValueError(f"'{t}' is not a number")
    hexa, binary, zero_b, dec, scale = m.groups()
    if hexa is not None:
        value = int(hexa, 16)
    elif binary is not None or zero_b is not None:
        value = int(binary or zero_b, 2)
    else:
        value = int(dec, 10)
    return value * _SCALE[scale.lower()]


def parse_enum_value(text: str) -> tuple[int, ...]:
    """An ``enumeratedValue`` value: every integer it stands for, ascending.

    ``#1x0`` (binary with don't-care ``x`` bits) stands for 0b100 and 0b110; ``0x1f`` and ``31``
    for one value each. Raises ValueError for anything else, or for more than
    :data:`MAX_DONT_CARE_BITS` don't-care bits."""
    t = text.strip()
    if t.isascii() and t.isdigit():
        return (int(t),)
    m = _ENUM_VALUE.fullmatch(t)
    if m is None:
        raise ValueError(f"'{t}' is not a value (decimal, 0x hex, or #binary with x bits)")
    hexa, binary, dec = m.groups()
    if hexa is not None:
        return (int(hexa, 16),)
    if dec is not None:
        return (int(dec, 10),)
    bits = binary.lower()
    free = [len(bits) - 1 - i for i, c in enumerate(bits) if c == "x"]
    if len(free) > MAX_DONT_CARE_BITS:
        raise ValueError(f"'{t}' has {len(free)} don't-care bits (at most "
                         f"{MAX_DONT_CARE_BITS})")
    base = int(bits.replace("x", "0"), 2)
    values = []
    for combo in range(1 << len(free)):
        v = base
        for k, bit in enumerate(free):
            if combo >> k & 1:
                v |= 1 << bit
        values.append(v)
    return tuple(sorted(values))


def parse_dim_index(text: str, most: int | None = None) -> list[str]:
    """``dimIndex``: ``A,B,C``, ``0-3`` (inclusive) or ``A-D``; a range of more than ``most``
    entries is refused before it is made."""
    t = text.strip()
    if "," in t:
        items = [s.strip() for s in t.split(",")]
        if all(items):
            return items
        raise ValueError(f"'{t}' has an empty entry")
    m = _INDEX_RANGE.fullmatch(t)
    if m is not None:
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo:
            raise ValueError(f"'{t}' runs backwards")
        if most is not None and hi - lo + 1 > most:
            raise ValueError(f"'{t}' has {hi - lo + 1:,} entries but dim is {most:,}")
        return [str(i) for i in range(lo, hi + 1)]
    m = _LETTER_RANGE.fullmatch(t)
    if m is not None:
        lo, hi = ord(m.group(1)), ord(m.group(2))
        if hi < lo:
            raise ValueError(f"'{t}' runs backwards")
        return [chr(c) for c in range(lo, hi + 1)]
    if t and re.fullmatch(r"[_0-9A-Za-z]+", t):
        return [t]
    raise ValueError(f"'{t}' is neither a list (A,B,C) nor a range (0-3)")


def int_text(t: str) -> int:
    """:func:`parse_number`, with the common forms (42 and 0x2A) first."""
    if t.isdigit() and t.isascii():
        return int(t)
    if t[:2] in ("0x", "0X") and t[2:].isalnum() and t.isascii():
        try:
            return int(t[2:], 16)
        except ValueError:
            pass  # a scaled number (0x10k) or not a number: parse_number tells
    return parse_number(t)
