"""The register model: frozen descriptions of fields, register layouts, registers and memories.

A map of 100,000 registers is mostly arrays of a few hundred distinct layouts, so the map keeps
registers in columns (path, address, layout index) sorted by address and builds a
:class:`Register` only when asked. Layouts and fields are shared between array elements. This
keeps a warm load from the cache to one unpickle of a few flat lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum

from socdbg.errors import MapError

#: The most registers and memories one map may have, array elements counted one by one, unless
#: ``$SOCDBG_MAX_REGISTERS`` says otherwise: ten times the 100,000-register benchmark map. A
#: map at the limit loads in seconds and a few hundred MB; a 300-byte file declaring a billion
#: element array stops at once with one clear error instead of running for minutes.
DEFAULT_MAX_REGISTERS = 1_000_000
#: Addresses are 64-bit: every register and memory ends at or below this.
ADDRESS_LIMIT = 1 << 64
#: The widest register (or memory word) a map may declare, in bits.
MAX_REGISTER_BITS = 1024


def max_registers() -> int:
    """The register limit: ``$SOCDBG_MAX_REGISTERS`` (decimal or 0x hex) or
    :data:`DEFAULT_MAX_REGISTERS`."""
    text = os.environ.get("SOCDBG_MAX_REGISTERS", "").strip().replace("_", "")
    if not text:
        return DEFAULT_MAX_REGISTERS
    try:
        limit = int(text, 0)
    except ValueError:
        limit = 0
    if limit < 1:
        raise MapError(f"SOCDBG_MAX_REGISTERS={text!r} is not a positive number")
    return limit


def too_many(count: int, what: str) -> str | None:
    """The message for ``count`` registers (or array elements) above the limit, else None."""
    limit = max_registers()
    if count <= limit:
        return None
    return f"{what} makes {count:,} registers, more than the limit of {limit:,}"


#: The hint for a map above :func:`max_registers`.
LIMIT_HINT = "set SOCDBG_MAX_REGISTERS higher if the map really is that large"


class Access(StrEnum):
    """Software or hardware access right, as SystemRDL spells it."""

    R = "r"
    W = "w"
    RW = "rw"
    W1 = "w1"
    RW1 = "rw1"
    NA = "na"

    @property
    def readable(self) -> bool:
        return self in (Access.R, Access.RW, Access.RW1)

    @property
    def writable(self) -> bool:
        return self in (Access.W, Access.RW, Access.W1, Access.RW1)


class OnRead(StrEnum):
    """Side effect of a software read on a field."""

    RCLR = "rclr"
    RSET = "rset"
    RUSER = "ruser"  # a user-defined read side effect (external registers)
    #: SystemRDL ``swacc`` on a field without ``onread``: the hardware gets a strobe when
    #: software reads the field (a read pops a FIFO). The value is not changed by the read,
    #: but the read has a side effect all the same, exactly like rclr for what is skipped.
    SWACC = "swacc"


class OnWrite(StrEnum):
    """Side effect of a software write on a field (SystemRDL onwrite)."""

    WOCLR = "woclr"  # write one to clear
    WOSET = "woset"  # write one to set
    WOT = "wot"  # write one to toggle
    WZC = "wzc"  # write zero to clear
    WZS = "wzs"  # write zero to set
    WZT = "wzt"  # write zero to toggle
    WCLR = "wclr"  # any write clears
    WSET = "wset"  # any write sets
    WUSER = "wuser"  # a user-defined write side effect (external registers)


def _reverse(value: int, width: int) -> int:
    return int(f"{value:0{width}b}"[::-1], 2)


@dataclass(frozen=True, slots=True)
class EnumMember:
    name: str
    value: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class FieldEnum:
    """An enumeration (SystemRDL ``encode``) attached to a field."""

    name: str
    members: tuple[EnumMember, ...]

    def by_value(self, value: int) -> EnumMember | None:
        for member in self.members:
            if member.value == value:
                return member
        return None

    def by_name(self, name: str) -> EnumMember | None:
        wanted = name.lower()
        for member in self.members:
            if member.name.lower() == wanted:
                return member
        return None


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a register, occupying register bits ``lsb..msb`` (``lsb <= msb`` always).

    ``msb0`` marks a field declared in SystemRDL's msb0 order (``[0:7]``): its most
    significant bit sits at register bit ``lsb``, so its value is stored bit-reversed, as
    systemrdl-compiler and PeakRDL define it. ``extract``/``insert`` handle that.
    """

    name: str
    lsb: int
    msb: int
    sw: Access = Access.RW
    hw: Access = Access.RW
    onread: OnRead | None = None
    onwrite: OnWrite | None = None
    singlepulse: bool = False
    counter: bool = False
    reset: int | None = None
    enum: FieldEnum | None = None
    description: str = ""
    msb0: bool = False

    @property
    def width(self) -> int:
        return self.msb - self.lsb + 1

    @property
    def max(self) -> int:
        return (1 << self.width) - 1

    @property
    def mask(self) -> int:
        return self.max << self.lsb

    @property
    def bits(self) -> str:
        """Bit range as the RDL writes it: ``[7:4]``, ``[3]``, or ``[0:7]`` for msb0."""
        if self.msb == self.lsb:
            return f"[{self.lsb}]"
        if self.msb0:
            return f"[{self.lsb}:{self.msb}]"
        return f"[{self.msb}:{self.lsb}]"

    @property
    def read_side_effect(self) -> bool:
        return self.onread is not None

    def extract(self, value: int) -> int:
        raw = (value >> self.lsb) & self.max
        return _reverse(raw, self.width) if self.msb0 else raw

    def insert(self, value: int, field_value: int) -> int:
        raw = field_value & self.max
        if self.msb0:
            raw = _reverse(raw, self.width)
        return (value & ~self.mask) | (raw << self.lsb)

    @property
    def effects(self) -> str:
        """Short text of the field's side effects: ``woclr``, ``rclr``, ``singlepulse``..."""
        parts = [str(p) for p in (self.onread, self.onwrite) if p is not None]
        if self.singlepulse:
            parts.append("singlepulse")
        if self.counter:
            parts.append("counter")
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class Layout:
    """What every instance of one register shares: width, fields, description and flags."""

    name: str
    width: int
    accesswidth: int
    fields: tuple[Field, ...]
    description: str = ""
    unsafe_read: bool = False
    unsafe_write: bool = False
    write_effects: bool = False

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.width // 8

    @property
    def reset(self) -> int:
        """Reset value with unknown-reset bits as 0; see :attr:`reset_mask`."""
        value = 0
        for f in self.fields:
            if f.reset is not None:
                value = f.insert(value, f.reset)
        return value

    @property
    def reset_mask(self) -> int:
        """Bits whose reset value is known."""
        mask = 0
        for f in self.fields:
            if f.reset is not None:
                mask |= f.mask
        return mask

    @property
    def field_mask(self) -> int:
        """Bits covered by a field; the rest are reserved."""
        mask = 0
        for f in self.fields:
            mask |= f.mask
        return mask

    @property
    def read_side_effect(self) -> bool:
        """True when a read changes state (rclr/rset, a swacc strobe) or the map marks it
        unsafe to read."""
        return self.unsafe_read or any(f.onread is not None for f in self.fields)

    @property
    def readable(self) -> bool:
        return any(f.sw.readable for f in self.fields)

    @property
    def writable(self) -> bool:
        return any(f.sw.writable for f in self.fields)

    def field(self, name: str) -> Field | None:
        wanted = name.lower()
        for f in self.fields:
            if f.name.lower() == wanted:
                return f
        return None


@dataclass(frozen=True, slots=True)
class Register:
    """One register instance: its full path (``dma.ch[2].status``), byte address and layout."""

    path: str
    address: int
    layout: Layout

    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def width(self) -> int:
        return self.layout.width

    @property
    def accesswidth(self) -> int:
        return self.layout.accesswidth

    @property
    def size(self) -> int:
        return self.layout.width // 8

    @property
    def end(self) -> int:
        """First byte address past the register."""
        return self.address + self.layout.width // 8

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.layout.fields

    @property
    def description(self) -> str:
        return self.layout.description

    def field(self, name: str) -> Field | None:
        return self.layout.field(name)

    def fields_at(self, address: int) -> tuple[Field, ...]:
        """Fields with at least one bit in the byte at ``address``."""
        lo = (address - self.address) * 8
        hi = lo + 7
        return tuple(f for f in self.layout.fields if f.lsb <= hi and f.msb >= lo)


@dataclass(frozen=True, slots=True)
class Memory:
    """A memory region (SystemRDL ``mem``): ``entries`` words of ``width`` bits."""

    path: str
    address: int
    entries: int
    width: int
    sw: Access = Access.RW
    description: str = ""
    unsafe_read: bool = False
    unsafe_write: bool = False

    @property
    def size(self) -> int:
        return self.entries * self.width // 8

    @property
    def end(self) -> int:
        return self.address + self.size

    def contains(self, address: int, size: int = 1) -> bool:
        return self.address <= address and address + size <= self.end


@dataclass(frozen=True, slots=True)
class MapSource:
    """What a map was built from; ``identity`` hashes every source byte, so it names the map."""

    files: tuple[str, ...]
    identity: str
    defines: tuple[tuple[str, str], ...] = field(default=())
    top: str = ""
    deps: tuple[str, ...] = ()  # every file the compiler read: the sources, then includes


# --- the words CMSIS-SVD and IP-XACT share (lower case); each reader adds its own ----------
#: ``access`` names and the software access each means.
ACCESS_NAMES: dict[str, Access] = {
    "read-only": Access.R,
    "write-only": Access.W,
    "read-write": Access.RW,
    "writeonce": Access.W1,
    "read-writeonce": Access.RW1,
}
ACCESS_HINT = "one of read-only, write-only, read-write, writeOnce, read-writeOnce"
#: ``readAction`` names and the read side effect each means.
READ_ACTIONS: dict[str, OnRead] = {"clear": OnRead.RCLR, "set": OnRead.RSET,
                                   "modify": OnRead.RUSER}
#: An enumerated value's ``usage`` and its rank: a read decodes to the first-ranked name.
USAGE_ORDER = {"read-write": 0, "read": 1, "write": 2}
USAGE_HINT = "one of read, write, read-write"
MODIFIED_WRITE_HINT = ("one of oneToClear, oneToSet, oneToToggle, zeroToClear, zeroToSet, "
                       "zeroToToggle, clear, set, modify")
#: ``modifiedWriteValues`` names and the write side effect each means. ``modify`` is left
#: out: the two formats read it differently.
MODIFIED_WRITE_VALUES: dict[str, OnWrite] = {
    "onetoclear": OnWrite.WOCLR,
    "onetoset": OnWrite.WOSET,
    "onetotoggle": OnWrite.WOT,
    "zerotoclear": OnWrite.WZC,
    "zerotoset": OnWrite.WZS,
    "zerototoggle": OnWrite.WZT,
    "clear": OnWrite.WCLR,
    "set": OnWrite.WSET,
}
