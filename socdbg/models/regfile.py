"""Register semantics driven by the map, for any map.

A software read or write of a register goes through its fields, each behaving as its SystemRDL
properties say: one small function per ``onwrite`` behaviour, one per ``onread``, access rights,
singlepulse, write-once (w1/rw1), reserved bits reading zero. Hardware-side behaviour (a PLL
that locks, a DMA engine setting ``done``) plugs in through hooks: ``on_write`` observers,
``on_read`` refreshers, and ``hw_write`` for the hardware's own updates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from socdbg.models.events import SimEvents
from socdbg.regmap import Access, Field, OnRead, OnWrite, Register, RegMap


def _plain(cur: int, wr: int, mx: int) -> int:
    return wr


def _woclr(cur: int, wr: int, mx: int) -> int:
    return cur & ~wr & mx


def _woset(cur: int, wr: int, mx: int) -> int:
    return cur | wr


def _wot(cur: int, wr: int, mx: int) -> int:
    return cur ^ wr


def _wzc(cur: int, wr: int, mx: int) -> int:
    return cur & wr


def _wzs(cur: int, wr: int, mx: int) -> int:
    return cur | (~wr & mx)


def _wzt(cur: int, wr: int, mx: int) -> int:
    return cur ^ (~wr & mx)


def _wclr(cur: int, wr: int, mx: int) -> int:
    return 0


def _wset(cur: int, wr: int, mx: int) -> int:
    return mx


ON_WRITE: dict[OnWrite | None, Callable[[int, int, int], int]] = {
    None: _plain,
    OnWrite.WOCLR: _woclr,
    OnWrite.WOSET: _woset,
    OnWrite.WOT: _wot,
    OnWrite.WZC: _wzc,
    OnWrite.WZS: _wzs,
    OnWrite.WZT: _wzt,
    OnWrite.WCLR: _wclr,
    OnWrite.WSET: _wset,
    OnWrite.WUSER: _plain,  # user-defined: the model knows no more than a plain write
}

#: onread behaviour: (current field value, all-ones) -> value after the read
ON_READ: dict[OnRead, Callable[[int, int], int]] = {
    OnRead.RCLR: lambda cur, mx: 0,
    OnRead.RSET: lambda cur, mx: mx,
    OnRead.RUSER: lambda cur, mx: cur,  # user-defined: unknown to the model, left alone
    OnRead.SWACC: lambda cur, mx: cur,  # the strobe acts beyond the register: value kept
}

#: Observer of a software write: (register, value before, value after) -- after includes
#: singlepulse bits, which the register file clears once every observer has run.
WriteHook = Callable[[Register, int, int], None]
#: Called before a software read so a model can refresh the value (a cycle counter).
ReadHook = Callable[[Register], None]


@dataclass
class _StoredValue:
    """One register's stored value and the write-once bits already spent since reset."""

    value: int
    written_once: int = 0  # bits of w1/rw1 fields already written since reset


class RegisterFile:
    """The values of every register of a map, with software semantics and hardware hooks."""

    def __init__(self, regmap: RegMap, events: SimEvents | None = None) -> None:
        self.regmap = regmap
        #: Where every software write is reported (``events.reg_write``), after the
        #: register's own hooks.
        self.events = events if events is not None else SimEvents()
        self._state: dict[str, _StoredValue] = {}
        self._write_hooks: dict[str, list[WriteHook]] = {}
        self._read_hooks: dict[str, list[ReadHook]] = {}
        self._slopes: dict[str, Callable[[], int | None]] = {}
        #: Per register: the bits a read returns when reading has no side effects, else -1.
        self._plain_reads: dict[str, int] = {}

    # --- state ---------------------------------------------------------------------------
    def _st(self, reg: Register) -> _StoredValue:
        st = self._state.get(reg.path)
        if st is None:
            st = self._state[reg.path] = _StoredValue(reg.layout.reset)
        return st

    def reset(self) -> None:
        """Every register back to its reset value (unknown resets read 0)."""
        self._state.clear()

    # --- hardware side -------------------------------------------------------------------
    def peek(self, path: str | Register) -> int:
        """The stored value, no side effects (what the hardware sees)."""
        reg = path if isinstance(path, Register) else self.regmap.get(path)
        return self._st(reg).value

    def field(self, path: str, name: str) -> int:
        reg = self.regmap.get(path)
        fld = reg.field(name)
        if fld is None:
            raise KeyError(f"{path}.{name}")
        return fld.extract(self._st(reg).value)

    def hw_write(self, path: str | Register, value: int, mask: int | None = None) -> None:
        """The hardware writes bits (``mask``: which); software access rights do not apply."""
        reg = path if isinstance(path, Register) else self.regmap.get(path)
        st = self._st(reg)
        m = ((1 << reg.width) - 1) if mask is None else mask
        st.value = (st.value & ~m) | (value & m)

    def hw_set(self, path: str, **fields: int) -> None:
        """Set fields by name from the hardware side: ``hw_set("pll_status", lock=1)``."""
        reg = self.regmap.get(path)
        value, mask = 0, 0
        for name, v in fields.items():
            fld = reg.field(name)
            if fld is None:
                raise KeyError(f"{path}.{name}")
            value = fld.insert(value, v)
            mask |= fld.mask
        self.hw_write(reg, value, mask)

    def on_write(self, path: str, hook: WriteHook) -> None:
        reg = self.regmap.get(path)
        self._write_hooks.setdefault(reg.path, []).append(hook)

    def on_read(self, path: str, hook: ReadHook,
                slope: Callable[[], int | None] | None = None) -> None:
        """``hook(reg)`` refreshes the register before each software read. ``slope()``
        declares how the refreshed value moves while no event is due and no ticker runs: it
        counts up by ``slope()`` per cycle (0: it holds; None: unknown), modulo the
        register's width."""
        reg = self.regmap.get(path)
        self._read_hooks.setdefault(reg.path, []).append(hook)
        if slope is not None:
            self._slopes[reg.path] = slope

    def slope(self, reg: Register) -> int | None:
        """How ``reg``'s stored value moves per cycle in a quiet stretch of time (no event
        due, no ticker): 0 when it holds (no read hook), the declared slope, or None when a
        read hook declared none (unknown)."""
        if reg.path not in self._read_hooks:
            return 0
        slope = self._slopes.get(reg.path)
        if slope is None or len(self._read_hooks[reg.path]) > 1:
            return None
        return slope()

    def refresh(self, reg: Register) -> int:
        """Run the read hooks and return the stored value, with no read side effects."""
        for hook in self._read_hooks.get(reg.path, ()):
            hook(reg)
        return self._st(reg).value

    @staticmethod
    def readable_bits(reg: Register) -> int | None:
        """The bits a software read returns, or None when reading has side effects."""
        bits = 0
        for fld in reg.fields:
            if not fld.sw.readable or fld.singlepulse:
                continue
            if fld.onread is not None:
                return None
            bits |= fld.mask
        return bits

    # --- software side -------------------------------------------------------------------
    def sw_read(self, reg: Register, lanes: int | None = None) -> int:
        """A software read of the bits in ``lanes`` (a bit mask; None = whole register).

        Returns the value software sees (write-only, na and singlepulse fields and reserved
        bits read 0); fields with onread side effects that were read are then cleared/set.
        """
        for hook in self._read_hooks.get(reg.path, ()):
            hook(reg)
        st = self._st(reg)
        plain = self._plain_reads.get(reg.path)
        if plain is None:
            bits = self.readable_bits(reg)
            plain = self._plain_reads[reg.path] = -1 if bits is None else bits
        if plain >= 0:  # no read side effects: the readable bits of the stored value
            return st.value & plain if lanes is None else st.value & plain & lanes
        lanes = ((1 << reg.width) - 1) if lanes is None else lanes
        seen = 0
        for fld in reg.fields:
            if not fld.sw.readable or fld.singlepulse or not fld.mask & lanes:
                continue
            seen |= st.value & fld.mask
            if fld.onread is not None:
                st.value = fld.insert(st.value, ON_READ[fld.onread](fld.extract(st.value),
                                                                    fld.max))
        return seen & lanes

    def sw_write(self, reg: Register, value: int, lanes: int | None = None) -> None:
        """A software write of the bits in ``lanes`` (byte-enables as a bit mask)."""
        st = self._st(reg)
        old = st.value
        lanes = ((1 << reg.width) - 1) if lanes is None else lanes
        new = old
        for fld in reg.fields:
            if not fld.mask & lanes or not fld.sw.writable:
                continue
            if fld.sw in (Access.W1, Access.RW1):
                if st.written_once & fld.mask:
                    continue
                st.written_once |= fld.mask
            cur = fld.extract(old)
            wr = fld.extract(value)
            result = ON_WRITE[fld.onwrite](cur, wr, fld.max)
            # bits of the field outside the written byte lanes are not written at all
            keep = fld.extract(~lanes & ((1 << reg.width) - 1))
            new = fld.insert(new, (result & ~keep) | (cur & keep))
        st.value = new
        for hook in self._write_hooks.get(reg.path, ()):
            hook(reg, old, new)
        if self.events.reg_write:
            self.events.reg_write.emit(reg, old, new)
        pulses = _pulse_mask(reg.fields)
        if pulses:
            st.value &= ~pulses


def _pulse_mask(fields: tuple[Field, ...]) -> int:
    mask = 0
    for f in fields:
        if f.singlepulse:
            mask |= f.mask
    return mask
