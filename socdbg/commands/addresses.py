"""Address expressions: ``0x4000_0000``, ``1024``, ``&dma.ch[1].len``, ``dma.ch[1].len``,
``sram+0x100``. Extra resolvers (firmware symbols) plug in through ``RESOLVERS``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socdbg.errors import PathError, UsageError, did_you_mean
from socdbg.regmap import Register, parse_int

if TYPE_CHECKING:
    from socdbg.commands.session import Session

_OFFSET = re.compile(r"^(?P<base>.+?)\s*(?P<sign>[+-])\s*(?P<off>0[xX][0-9a-fA-F_]+|\d[\d_]*)$")


@dataclass(frozen=True)
class Address:
    value: int
    register: Register | None = None  # when the expression named a register (no offset)
    text: str = ""
    size: int | None = None  # natural access size in bytes (a register's, a variable's)


#: name -> (address, size or None) resolvers tried after registers and memories (firmware
#: symbols add one); each returns None when it does not know the name.
RESOLVERS: list[Callable[[Session, str], tuple[int, int | None] | None]] = []
#: more names an address may be (symbols), for "did you mean" hints
NAMES: list[Callable[[Session], list[str]]] = []


def resolve_address(session: Session, text: str) -> Address:
    """Evaluate an address expression against the session's map (and symbols)."""
    expr = text.strip()
    if not expr:
        raise UsageError("empty address")
    number = parse_int(expr)
    if number is not None:
        if number < 0:
            raise UsageError(f"negative address '{text}'")
        return Address(number, None, text)
    offset = 0
    m = _OFFSET.match(expr)
    if m:
        off = parse_int(m.group("off"))
        assert off is not None
        offset = off if m.group("sign") == "+" else -off
        expr = m.group("base").strip()
    name = expr[1:].strip() if expr.startswith("&") else expr
    rmap = session.map
    reg = rmap.find(name)
    if reg is not None:
        return Address(reg.address + offset, reg if offset == 0 else None, text,
                       reg.accesswidth // 8 if offset == 0 else None)
    mem = rmap.memory(name)
    if mem is not None:
        return Address(mem.address + offset, None, text)
    if rmap.is_block(name):
        first = rmap.select(name)[0].path
        raise PathError(f"'{name}' is a block, not a register or address",
                        f"name a register in it, e.g. {first}")
    for resolver in RESOLVERS:
        found = resolver(session, name)
        if found is not None:
            address, size = found
            return Address(address + offset, None, text, size if offset == 0 else None)
    extra = [n for names in NAMES for n in names(session)]
    hint = did_you_mean(name, extra) if extra else None
    try:
        rmap.get(name)
    except PathError as exc:
        what = "address, register, memory or symbol" if extra else \
            "address, register or memory"
        raise PathError(f"'{text.strip()}' is not an {what}", hint or exc.hint) from None
    raise AssertionError("unreachable")
