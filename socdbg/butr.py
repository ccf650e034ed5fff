"""BUTR, the built-in unit test for registers: does the target behave as the map says?

For each register in scope it checks, through the ordinary target protocol:

* ``reset``: fields whose reset the map gives read that value;
* ``walk``: every software-writable plain bit holds a walking one and a walking zero;
* ``read-only``: writes do not change read-only fields;
* ``w1c`` / ``w1s``: a one clears / sets the bit, a zero leaves it;
* ``rclr``: a read returns the value and clears the field;
* ``reserved``: bits outside every field read zero;
* ``singlepulse``: a written 1 reads back 0.

It restores every register it wrote. Checks that need a hardware-owned bit set first (w1c,
rclr) use the simulator's backdoor; on hardware they run only when the bit already is set.
Registers whose writes act beyond themselves (``write_effects``: starts, resets, doorbells)
are skipped unless named exactly, and on targets that are not simulators no write happens
without ``allow_writes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from socdbg.access import read_register, write_register
from socdbg.errors import TargetError
from socdbg.regmap import Access, Field, OnRead, OnWrite, Register, RegMap
from socdbg.regmap.codec import neutral
from socdbg.targets.base import CAP_SIMULATOR, CAP_WRITE, HasMap, Target

PASS, FAIL, SKIP = "pass", "fail", "skip"


@runtime_checkable
class Backdoor(Protocol):
    """A simulator's hardware side: set register bits as the hardware would."""

    def backdoor_write(self, address: int, value: int, mask: int) -> None: ...


@dataclass
class Check:
    register: str
    check: str
    status: str
    detail: str = ""
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (field, expected, got)


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    @property
    def passed(self) -> bool:
        return self.count(FAIL) == 0


def _plain(f: Field) -> bool:
    return (f.sw in (Access.RW,) and f.onwrite is None and not f.singlepulse and not f.counter
            and f.onread is None)


def _fmt(f: Field, v: int) -> str:
    if f.enum is not None:
        m = f.enum.by_value(v)
        if m is not None:
            return f"{m.name} ({v})"
    return str(v) if v < 10 else hex(v)


class Butr:
    def __init__(self, target: Target, allow_writes: bool = False,
                 can_write: Callable[[Register], str | None] | None = None,
                 skip_reset: bool = False, regmap: RegMap | None = None) -> None:
        self.target = target
        self.regmap = (regmap if regmap is not None
                       else target.regmap if isinstance(target, HasMap) else None)
        self.simulator = CAP_SIMULATOR in target.capabilities
        self.writes = CAP_WRITE in target.capabilities and (self.simulator or allow_writes)
        self.why_no_writes = ("the target is read-only" if CAP_WRITE not in target.capabilities
                              else "writes to hardware need --allow-writes")
        self.can_write = can_write
        self.skip_reset = skip_reset
        # a backdoor write changes state too: only where BUTR may write at all
        self.backdoor = target if self.writes and isinstance(target, Backdoor) else None

    # --- driver --------------------------------------------------------------------------
    def run(self, registers: Sequence[Register], named: set[str],
            progress: Callable[[int], None] | None = None) -> Report:
        report = Report()
        for reg in registers:
            report.checks.extend(self.register(reg, reg.path in named))
            if progress is not None:
                progress(1)
        return report

    def register(self, reg: Register, named: bool) -> list[Check]:
        out: list[Check] = []
        if not reg.layout.readable:
            return [Check(reg.path, "all", SKIP, "write-only: nothing can be read back")]
        if reg.layout.write_effects and not named:
            return [Check(reg.path, "all", SKIP,
                          "write_effects: writes act beyond the register; name it to test it")]
        if reg.layout.unsafe_read and not named:
            return [Check(reg.path, "all", SKIP, "unsafe_read; name it to test it")]
        if reg.layout.read_side_effect and not named and not self.simulator:
            return [Check(reg.path, "all", SKIP,
                          "reading it changes hardware state; name it to test it")]
        write_ok, why = self._may_write(reg)
        try:
            original = self._read(reg)
            if not self.skip_reset:
                out.append(self.check_reset(reg, original))
            reserved = self.check_reserved(reg, original)
            if reserved is not None:
                out.append(reserved)
            checks: list[Callable[[Register, int], Iterator[Check]]] = [
                self.check_walk, self.check_read_only, self.check_w1c, self.check_w1s,
                self.check_singlepulse]
            for check in checks:
                if write_ok:
                    out.extend(check(reg, original))
                else:
                    out.extend(self._skipped(check, reg, why))
            out.extend(self.check_rclr(reg, original))
            if write_ok and reg.layout.writable:  # a register with no writable field is never
                self._restore(reg, original)     # restored: there is nothing to put back
        except TargetError as exc:
            out.append(Check(reg.path, "access", FAIL, f"target error: {exc.message}"))
        return out

    def _skipped(self, check: Callable[[Register, int], Iterator[Check]], reg: Register,
                 why: str) -> list[Check]:
        name = check.__name__.removeprefix("check_").replace("_", "-")
        relevant = {
            "walk": any(_plain(f) for f in reg.fields),
            "read-only": any(not f.sw.writable for f in reg.fields),
            "w1c": any(f.onwrite == OnWrite.WOCLR for f in reg.fields),
            "w1s": any(f.onwrite == OnWrite.WOSET for f in reg.fields),
            "singlepulse": any(f.singlepulse for f in reg.fields),
        }
        return [Check(reg.path, name, SKIP, why)] if relevant.get(name) else []

    def _may_write(self, reg: Register) -> tuple[bool, str]:
        if not self.writes:
            return False, self.why_no_writes
        if not reg.layout.writable and self._shares_address(reg):
            return False, ("no writable field, and a write to its address reaches another "
                           "register")
        if self.can_write is not None:
            why = self.can_write(reg)
            if why:
                return False, why
        return True, ""

    def _shares_address(self, reg: Register) -> bool:
        if self.regmap is None:
            return True  # cannot tell: do not write a register that has nothing to write
        return any(r.path != reg.path for r in self.regmap.all_at(reg.address))

    # --- access --------------------------------------------------------------------------
    def _read(self, reg: Register) -> int:
        return read_register(self.target, reg)

    def _write(self, reg: Register, value: int) -> None:
        write_register(self.target, reg, value)

    def _compose(self, reg: Register, current: int, **overrides: int) -> int:
        """The value to write: neutral values for fields whose writes act, ``overrides`` for
        the named fields, the current value for the rest."""
        value = 0
        for f in reg.fields:
            v = overrides[f.name] if f.name in overrides else neutral(f, current)
            value = f.insert(value, v)
        return value

    def _restore(self, reg: Register, original: int) -> None:
        self._write(reg, self._compose(reg, original))

    # --- checks --------------------------------------------------------------------------
    def check_reset(self, reg: Register, value: int) -> Check:
        known = [f for f in reg.fields if f.reset is not None and f.sw.readable
                 and not f.singlepulse]
        if not known:
            return Check(reg.path, "reset", SKIP, "no field has a known reset")
        bad = [(f.name, _fmt(f, f.reset or 0), _fmt(f, f.extract(value))) for f in known
               if f.extract(value) != f.reset]
        return Check(reg.path, "reset", FAIL if bad else PASS,
                     f"{len(bad)} field(s) differ from reset" if bad else "", bad)

    def check_reserved(self, reg: Register, value: int) -> Check | None:
        reserved = value & ~reg.layout.field_mask & ((1 << reg.width) - 1)
        if reg.layout.field_mask == (1 << reg.width) - 1:
            return None  # nothing to check
        return Check(reg.path, "reserved", FAIL if reserved else PASS,
                     f"reserved bits read {reserved:#x}" if reserved else "",
                     [("(reserved)", "0", hex(reserved))] if reserved else [])

    def check_walk(self, reg: Register, original: int) -> Iterator[Check]:
        for f in reg.fields:
            if not _plain(f) or not f.sw.readable:
                continue
            bad: list[tuple[str, str, str]] = []
            patterns = [1 << i for i in range(f.width)]
            if f.width > 1:
                patterns += [f.max ^ (1 << i) for i in range(f.width)]
            else:
                patterns += [0]
            for want in patterns:
                self._write(reg, self._compose(reg, original, **{f.name: want}))
                got = f.extract(self._read(reg))
                if got != want:
                    bad.append((f.name, hex(want), hex(got)))
                    break
            self._restore(reg, original)
            yield Check(reg.path, f"walk {f.name}", FAIL if bad else PASS,
                        "a written bit did not read back" if bad else
                        f"{len(patterns)} patterns", bad)

    def check_read_only(self, reg: Register, original: int) -> Iterator[Check]:
        ro = [f for f in reg.fields if not f.sw.writable and f.sw.readable]
        if not ro:
            return
        before = self._read(reg)
        for flip in (0, 1):
            overrides = {f.name: (f.max if flip else 0) for f in ro}
            value = self._compose(reg, before, **overrides)
            self._write(reg, value)
            after = self._read(reg)
            bad = [(f.name, _fmt(f, f.extract(before)), _fmt(f, f.extract(after)))
                   for f in ro if f.extract(after) != f.extract(before)
                   and f.onread is None and not f.counter]
            if bad:
                self._restore(reg, original)
                yield Check(reg.path, "read-only", FAIL, "a write changed a read-only field",
                            bad)
                return
        self._restore(reg, original)
        yield Check(reg.path, "read-only", PASS, ", ".join(f.name for f in ro))

    def _set_by_hardware(self, reg: Register, f: Field, value: int) -> bool:
        if self.backdoor is None:
            return False
        self.backdoor.backdoor_write(reg.address, f.insert(0, value), f.mask)
        return True

    def check_w1c(self, reg: Register, original: int) -> Iterator[Check]:
        for f in reg.fields:
            if f.onwrite != OnWrite.WOCLR or not f.sw.readable:
                continue
            if not self._set_by_hardware(reg, f, f.max) and f.extract(self._read(reg)) == 0:
                yield Check(reg.path, f"w1c {f.name}", SKIP,
                            "the bit is clear and only the hardware can set it")
                continue
            self._write(reg, self._compose(reg, original, **{f.name: 0}))
            kept = f.extract(self._read(reg))
            self._write(reg, self._compose(reg, original, **{f.name: f.max}))
            cleared = f.extract(self._read(reg))
            bad = []
            if kept != f.max:
                bad.append((f.name, f"{f.max:#x} after writing 0", hex(kept)))
            if cleared != 0:
                bad.append((f.name, "0 after writing 1", hex(cleared)))
            self._put_back(reg, f, original)
            yield Check(reg.path, f"w1c {f.name}", FAIL if bad else PASS,
                        "write-one-to-clear misbehaves" if bad else "", bad)

    def check_w1s(self, reg: Register, original: int) -> Iterator[Check]:
        for f in reg.fields:
            if f.onwrite != OnWrite.WOSET or not f.sw.readable:
                continue
            if self.backdoor is None:
                yield Check(reg.path, f"w1s {f.name}", SKIP,
                            "software cannot clear it again on hardware")
                continue
            self.backdoor.backdoor_write(reg.address, 0, f.mask)
            self._write(reg, self._compose(reg, original, **{f.name: 0}))
            stays = f.extract(self._read(reg))
            self._write(reg, self._compose(reg, original, **{f.name: f.max}))
            sets = f.extract(self._read(reg))
            self._write(reg, self._compose(reg, original, **{f.name: 0}))
            kept = f.extract(self._read(reg))  # a zero must not clear what a one set
            self.backdoor.backdoor_write(reg.address, original, f.mask)
            bad = []
            if stays != 0:
                bad.append((f.name, "0 after writing 0", hex(stays)))
            if sets != f.max:
                bad.append((f.name, f"{f.max:#x} after writing 1", hex(sets)))
            elif kept != f.max:
                bad.append((f.name, f"{f.max:#x} kept after writing 0", hex(kept)))
            yield Check(reg.path, f"w1s {f.name}", FAIL if bad else PASS,
                        "write-one-to-set misbehaves" if bad else "", bad)

    def check_singlepulse(self, reg: Register, original: int) -> Iterator[Check]:
        for f in reg.fields:
            if not f.singlepulse:
                continue
            self._write(reg, self._compose(reg, original, **{f.name: f.max}))
            got = f.extract(self._read(reg))
            yield Check(reg.path, f"singlepulse {f.name}", FAIL if got else PASS,
                        "reads back non-zero" if got else "",
                        [(f.name, "0", hex(got))] if got else [])

    def _put_back(self, reg: Register, f: Field, original: int) -> None:
        """Restore a hardware-owned field through the backdoor (software cannot)."""
        if self.backdoor is not None:
            self.backdoor.backdoor_write(reg.address, original, f.mask)

    def check_rclr(self, reg: Register, original: int) -> Iterator[Check]:
        for f in reg.fields:
            if f.onread != OnRead.RCLR:
                continue
            if not self._set_by_hardware(reg, f, f.max):
                yield Check(reg.path, f"rclr {f.name}", SKIP,
                            "reading would destroy hardware state: needs a simulator")
                continue
            first = f.extract(self._read(reg))
            second = f.extract(self._read(reg))
            bad = []
            if first != f.max:
                bad.append((f.name, f"{f.max:#x} on the first read", hex(first)))
            if second != 0:
                bad.append((f.name, "0 on the second read", hex(second)))
            self._put_back(reg, f, original)
            yield Check(reg.path, f"rclr {f.name}", FAIL if bad else PASS,
                        "read-to-clear misbehaves" if bad else "", bad)


def junit(report: Report, name: str = "butr") -> bytes:
    import xml.etree.ElementTree as ET

    suite = ET.Element("testsuite", name=name, tests=str(len(report.checks)),
                       failures=str(report.count(FAIL)), skipped=str(report.count(SKIP)))
    for c in report.checks:
        case = ET.SubElement(suite, "testcase", classname=c.register, name=c.check)
        if c.status == FAIL:
            text = "\n".join(f"{f}: expected {e}, got {g}" for f, e, g in c.fields)
            ET.SubElement(case, "failure", message=c.detail).text = text or c.detail
        elif c.status == SKIP:
            ET.SubElement(case, "skipped", message=c.detail)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data
