"""Type checks on values read back from stored data (map cache entries, packed layouts): a
value of the wrong type or range raises TypeError, which the readers turn into a cache miss.
"""

from __future__ import annotations


def as_str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def as_int(value: object, low: int = 0) -> int:
    """An int (not a bool) of at least ``low``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise TypeError("not an integer in range")
    return value


def as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return value
