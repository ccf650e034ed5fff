"""The functional model's DMA engine, coupled to the RTL's DMA registers.

The register RTL has no DMA data path: PeakRDL-regblock generates registers, and what sets
``status.done`` or fills ``bytes_done`` is hardware outside them. Here that hardware is the
functional model's engine (models/dma.py), run in lock step with the RTL:

* every bus write the RTL accepts is repeated on a private functional model of the same map
  (the model is the DMA's view of its registers and of the chip's resets and enables);
* the memories are shared: the model's engine copies between the same sparse memories the
  RTL target's memory accesses use;
* time moves on both together, from one model event to the next, so a status bit the model
  sets at cycle N is set in the RTL at cycle N;
* after every write and every event, each ``next`` input of the RTL's DMA block (and the DMA
  interrupt sources of intc) is driven with the model's value of that field, through the
  harness's sideband: a level for fields software cannot write (``busy``, ``bytes_done``), a
  one-cycle pulse when the value rises for fields software clears (``done``, ``err``).

Reads never reach the model: what software sees is the RTL's registers. A write the model
refuses but the RTL accepted is not an error here (the RTL decides what the bus does); the
model then keeps its old value, and ``run --compare rtl sim`` shows the difference.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from socdbg.errors import TargetError
from socdbg.models.options import SimOptions
from socdbg.regmap import Field, Register, RegMap
from socdbg.targets.rtl.harness import Harness
from socdbg.targets.rtl.top import MAX_SIDEBAND as MAX_ENTRIES

MAX_MANIFEST_BYTES = 1 << 20
_LINE = re.compile(r"^([A-Za-z_]\w*) ([A-Za-z_][\w.]*) ([1-9]\d{0,2})$")


@dataclass(frozen=True)
class Entry:
    """One sideband input: the model's register and field whose value it carries."""

    register: Register
    field: Field
    pulse: bool  # software can write the field: drive rises as one-cycle pulses


def _unrolled(path: str) -> str:
    """A map path as the RTL names it: arrays unrolled (``ch[0].status`` -> ``ch_0.status``,
    generate.py's ``_unroll``)."""
    return re.sub(r"\[(\d+)\]", r"_\1", path)


def read_manifest(path: Path, regmap: RegMap) -> list[Entry]:
    """The sideband entries a build lists (build.py's ``sideband.txt``), checked against the
    map: every line names a field the map has, at the width the map gives it."""
    try:
        data = path.read_bytes()[: MAX_MANIFEST_BYTES + 1]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TargetError(f"rtl: cannot read {path}: {exc}") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise TargetError(f"rtl: {path} is over {MAX_MANIFEST_BYTES} bytes",
                          "delete the rtl-* cache folder to rebuild")
    lines = data.decode("ascii", errors="replace").splitlines()
    if len(lines) > MAX_ENTRIES:
        raise TargetError(f"rtl: {path} lists over {MAX_ENTRIES} sideband entries")
    by_block: dict[str, dict[str, Register]] = {}
    out: list[Entry] = []
    for n, line in enumerate(lines, 1):
        m = _LINE.match(line)
        if m is None:
            raise TargetError(f"{path}:{n}: not a sideband entry: {line[:60]!r}",
                              "delete the rtl-* cache folder to rebuild")
        block, leaf, width = m[1], m[2], int(m[3])
        regs = by_block.get(block)
        if regs is None:
            prefix = block + "."
            regs = by_block[block] = {
                _unrolled(p[len(prefix):]): regmap.get(p) for p in regmap.paths
                if p.startswith(prefix)}
        reg_path, _, field_name = leaf.rpartition(".")
        reg = regs.get(reg_path)
        fld = reg.field(field_name) if reg is not None else None
        if reg is None or fld is None or fld.width != width:
            raise TargetError(f"{path}:{n}: {block}.{leaf} ({width} bits) is not a field of "
                              "the map", "the RTL was built from another map; rebuild")
        out.append(Entry(reg, fld, fld.sw.writable))
    return out


class Coupling:
    """A functional model run beside the RTL, whose DMA engine drives the RTL's DMA block."""

    def __init__(self, regmap: RegMap, options: SimOptions, harness: Harness,
                 entries: list[Entry]) -> None:
        from socdbg.targets.sim import SimTarget

        self.model = SimTarget(regmap, "rtl-dma", options)
        self.harness = harness
        self.entries = entries
        self._last: list[int | None] = [None] * len(entries)
        self.sync()

    @classmethod
    def open(cls, regmap: RegMap, options: SimOptions, harness: Harness,
             manifest: Path) -> Coupling | None:
        """The coupling for a build, or None when it drives nothing (no DMA block built)."""
        entries = read_manifest(manifest, regmap)
        return cls(regmap, options, harness, entries) if entries else None

    def wrote(self, address: int, data: bytes) -> None:
        """The RTL accepted a register write: the model sees it too, then drives the RTL."""
        # the RTL decides what the bus does: a write the model refuses leaves its old value
        with contextlib.suppress(TargetError):
            self.model.write_block(address, data)
        self.settle()

    def settle(self) -> bool:
        """Run what is due now in the model and drive its results into the RTL; True when
        that changed what the RTL is driven with."""
        self.model.step(0)
        return self.sync()

    def next_stop(self, limit: int) -> int:
        """The next cycle (at most ``limit``) where the model may change what it drives."""
        now = self.model.now
        if self.model.kernel.ticking:
            return min(limit, now + 1)
        nxt = self.model.kernel.peek()
        return limit if nxt is None or nxt > limit else max(nxt, now)

    def advance_to(self, cycle: int) -> bool:
        """Bring the model to ``cycle`` and drive its results (True: something changed, so
        what the RTL showed at ``cycle`` before this is stale)."""
        if cycle > self.model.now:
            self.model.step(cycle - self.model.now)
        return self.settle()

    def reset(self) -> None:
        self.model.reset()
        self._last = [None] * len(self.entries)
        self.settle()

    def sync(self) -> bool:
        """Drive every entry whose model value changed since it was last driven; True when
        one did."""
        values: dict[int, int] = {}
        requests: list[str] = []
        for i, e in enumerate(self.entries):
            key = id(e.register)
            raw = values.get(key)
            if raw is None:
                raw = values[key] = self.model.regs.peek(e.register)
            v = e.field.extract(raw)
            last = self._last[i]
            if v == last:
                continue
            self._last[i] = v
            if e.pulse:
                if v:
                    requests.append(f"h {i:x} {v:x} 1")
            else:
                requests.append(f"h {i:x} {v:x} 0")
        if not requests:
            return False
        bad = [a for a in self.harness.ask(requests) if a != "k"]
        if bad:
            raise TargetError(f"rtl: the harness refused a sideband value: {bad[0][:40]!r}")
        return True
