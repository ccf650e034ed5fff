"""``socdbg run --compare A B SCRIPT``: one script on two targets, the first access that differs.

The script runs on target A, then on target B, each through a recorder that notes every bus
access (address, size, data read or written) and every change of simulated time (``step``,
and the cycle a ``poll`` stopped at), tagged with the script line that made it. The two
records are then walked in step: the first entry where they differ is reported with the
script line, the register and, for a read, every field whose value differs, so a modeller
sees the first divergence between (say) the RTL and the functional model. Both runs make the
same accesses as long as they agree, so the walk is exactly the lock step of the two runs up
to the first difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from socdbg.regmap import Register, RegMap, decode
from socdbg.targets.wrapper import TargetWrapper

if TYPE_CHECKING:
    from socdbg.commands.session import Session
    from socdbg.targets.base import Target

T = TypeVar("T")


@dataclass(frozen=True)
class Access:
    where: str  # FILE:LINE of the script line that made it
    kind: str  # read, write, time
    address: int
    size: int
    data: bytes = b""
    text: str = ""  # time: what happened ("step 100 -> 2100", "until ... -> held at 2000")


@dataclass
class Trace:
    spec: str
    accesses: list[Access] = field(default_factory=list)
    summary: str = ""
    where: str = "(start)"


class Recorder(TargetWrapper):
    """A target wrapper that appends every bus access and time change to a :class:`Trace`."""

    def __init__(self, inner: Target, trace: Trace) -> None:
        super().__init__(inner)
        self._trace = trace

    def _note(self, kind: str, address: int, size: int, data: bytes = b"",
              text: str = "") -> None:
        self._trace.accesses.append(Access(self._trace.where, kind, address, size, data, text))

    def _observe(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        result = perform()
        if op in ("read", "read_block"):
            self._note("read", args[0], args[1], bytes(cast(bytes, result)))
        return result

    def _change(self, op: str, args: tuple[Any, ...], perform: Callable[[], T]) -> T:
        if op in ("write", "write_block"):
            self._note("write", args[0], len(args[1]), bytes(args[1]))
            return perform()
        if op == "run_until_text":
            start = self.inner.now  # type: ignore[attr-defined]
            result = perform()
            moved = self.inner.now - start  # type: ignore[attr-defined]
            self._note("time", 0, 0, text=f"until {args[0]}: "
                       f"{'held' if result else 'did not hold'} after {moved:,} cycles")
            return result
        result = perform()
        if op == "step":
            self._note("time", 0, 0, text=f"step {args[0] if args else 1:,}")
        return result


@contextmanager
def _recording(session: Session, spec: str, trace: Trace) -> Iterator[None]:
    with session.scoped_target(spec):
        session.use_target(Recorder(session.target, trace))
        yield


def run_both(session: Session, path: Path, spec_a: str, spec_b: str) -> tuple[Trace, Trace]:
    from socdbg.commands.scriptrun import ScriptRunner

    traces = []
    console = session.presenter.console
    for spec in (spec_a, spec_b):
        trace = Trace(spec)
        saved_vars = dict(session.variables)

        def show(outcome: Any, output: Any, spec: str = spec) -> None:
            if not outcome.ok:
                console.print(f"[{spec}] {outcome.where}: {outcome.message}", markup=False,
                              highlight=False, soft_wrap=True)

        class Tagging(ScriptRunner):
            def _run_line(self, line: Any, p: Path, trace: Trace = trace) -> bool:
                trace.where = f"{line.where}: {line.text}"
                return bool(super()._run_line(line, p))

        try:
            with _recording(session, spec, trace):
                result = Tagging(session, keep_going=False, quiet=True, show=show).run(path)
        finally:
            session.variables.clear()
            session.variables.update(saved_vars)
        trace.summary = result.summary() + (" (stopped at the first failure)"
                                            if result.stopped else "")
        traces.append(trace)
    return traces[0], traces[1]


@dataclass(frozen=True)
class Difference:
    index: int  # of the access in both records
    where: str
    text: str  # the report, one or more lines
    register: str | None = None
    fields: tuple[str, ...] = ()


def first_difference(regmap: RegMap, a: Trace, b: Trace) -> Difference | None:
    """The first entry where the records differ, described; None when they agree."""
    for i, (x, y) in enumerate(zip(a.accesses, b.accesses, strict=False)):
        if x == y:
            continue
        if (x.kind, x.address, x.size) != (y.kind, y.address, y.size) or x.kind == "time":
            return Difference(i, x.where, f"{x.where}\n  {a.spec}: {_show(regmap, x)}\n"
                                          f"  {b.spec}: {_show(regmap, y)}")
        return _data_difference(regmap, i, x, y, a.spec, b.spec)
    if len(a.accesses) != len(b.accesses):
        longer, spec = (a, a.spec) if len(a.accesses) > len(b.accesses) else (b, b.spec)
        extra = longer.accesses[min(len(a.accesses), len(b.accesses))]
        return Difference(min(len(a.accesses), len(b.accesses)), extra.where,
                          f"{extra.where}\n  only {spec} went on: {_show(regmap, extra)}")
    return None


def _show(regmap: RegMap, acc: Access) -> str:
    if acc.kind == "time":
        return acc.text
    reg = regmap.at(acc.address)
    name = f" ({reg.path})" if reg is not None and reg.address == acc.address else ""
    value = f"{int.from_bytes(acc.data, 'little'):#x}" if acc.size <= 8 else \
        f"{acc.size} bytes"
    arrow = "->" if acc.kind == "read" else "<-"
    return f"{acc.kind} {acc.address:#x}{name} {arrow} {value}"


def _data_difference(regmap: RegMap, i: int, x: Access, y: Access, sa: str, sb: str
                     ) -> Difference:
    """Same access, different data: name the first register (and its fields) that differs."""
    for reg in regmap.in_range(x.address, x.address + x.size):
        lo, hi = max(reg.address, x.address), min(reg.end, x.address + x.size)
        if x.data[lo - x.address : hi - x.address] == y.data[lo - x.address : hi - x.address]:
            continue
        va, vb = _value(reg, x, lo, hi), _value(reg, y, lo, hi)
        diffs = [f for f in reg.fields if f.extract(va) != f.extract(vb)]
        da, db = decode(reg, va), decode(reg, vb)
        named = ", ".join(f"{f.name} ({sa} {_field(da, f.name)}, {sb} {_field(db, f.name)})"
                          for f in diffs) or "bits outside every field"
        verb = "read" if x.kind == "read" else "write"
        width = (hi - lo) * 2
        return Difference(i, x.where,
                          f"{x.where}\n  {verb} of {reg.path} at {reg.address:#x}: "
                          f"{sa} {va:#0{width + 2}x}, {sb} {vb:#0{width + 2}x}\n"
                          f"  fields: {named}", reg.path,
                          tuple(f"{reg.path}.{f.name}" for f in diffs))
    return Difference(i, x.where, f"{x.where}\n  {sa}: {_show(regmap, x)}\n"
                                  f"  {sb}: {_show(regmap, y)}")


def _value(reg: Register, acc: Access, lo: int, hi: int) -> int:
    raw = bytearray(reg.size)
    raw[lo - reg.address : hi - reg.address] = acc.data[lo - acc.address : hi - acc.address]
    return int.from_bytes(raw, "little")


def _field(decoded: Any, name: str) -> str:
    for fv in decoded.fields:
        if fv.field.name == name:
            return fv.enum_name or str(fv.value)
    return "?"


def compare_script(session: Session, script: str, spec_a: str, spec_b: str) -> int:
    """Run ``script`` on both targets; print the first difference. 0: none, 1: differs."""
    path = Path(script)
    a, b = run_both(session, path, spec_a, spec_b)
    console = session.presenter.console
    console.print(f"{spec_a}: {a.summary}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"{spec_b}: {b.summary}", highlight=False, markup=False, soft_wrap=True)
    diff = first_difference(session.map, a, b)
    if diff is None:
        console.print(f"no difference: {len(a.accesses)} accesses agree", highlight=False)
        return 0
    console.print(f"first difference, access {diff.index + 1}: {diff.text}", highlight=False,
                  markup=False, soft_wrap=True)
    return 1
