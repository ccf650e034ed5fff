"""A script whose line 3 is bad touches nothing: every line (and every file it sources) is
checked before the first one runs, whatever the kind of mistake. The target is wrapped in a
recorder that logs every method call, not only memory writes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError
from socdbg.targets.sim import SimTarget


class CallRecorder:
    """Every method call on the wrapped target is logged (name and arguments)."""

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "calls", [])

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            return value(*args, **kwargs)

        return call


@pytest.fixture
def recorded(ref_map: Any) -> tuple[Session, CallRecorder]:
    session = Session(target="sim", out=io.StringIO())
    sim = SimTarget(ref_map)
    rec = CallRecorder(sim)
    session.use_target(rec)  # type: ignore[arg-type]
    return session, rec


BAD_LINES = {
    "unknown command": "wrte sysctrl.scratch 1",
    "unknown option": "read sysctrl.scratch --jsn",
    "unknown register": "write sysctrl.scrach 1",
    "value too big": "write sysctrl.scratch 0x1_0000_0000_0",
    "enum typo": "write dma.ch[0].ctrl mode=RNG",
    "read-only field": "write sysctrl.chip_id 1",
    "two values": "write sysctrl.scratch 5 6",
    "bad condition": "expect sysctrl.scratch ~= 1",
    "unclosed quote": "echo 'unclosed",
    "undefined variable": "write sysctrl.scratch ${NOPE}",
    "missing elf": "load no-such-firmware.elf",
    "missing source": "source no-such-script.sdbg",
    "missing run": "run no-such-script.sdbg",
    "missing expect file": "expect mem sram == no-such-file.bin",
    "odd hex": "expect mem sram == 'de ad be e'",
    "sleep nan": "sleep nan",
    "sleep inf": "sleep inf",
    "sleep 1e400": "sleep 1e400",
    "poll timeout nan": "poll sysctrl.scratch == 1 --timeout nan",
    "poll timeout inf": "poll sysctrl.scratch == 1 --timeout inf",
    "poll interval nan": "poll sysctrl.scratch == 1 --interval nan",
    "negative step": "step -5",
    "zero step": "step 0",
    "step bad until": "step --until sysctrl.scratch = 1",
    "dump onto a file": "dump -o existing.json",
    "index out of range": "read dma.ch[2:9].status",
    "reversed range": "read dma.ch[3:1].status",
    "glob where one register": "regs show dma.ch[*].ctrl",
    "bad subcommand": "record strat x.sdbg",
    "sourced file is bad": "source bad-inner.sdbg",
}


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_a_bad_line_3_means_no_target_call(recorded: tuple[Session, CallRecorder],
                                           tmp_path: Path, kind: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    session, rec = recorded
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing.json").write_text("{}")
    (tmp_path / "bad-inner.sdbg").write_text("echo inner\nwrite sysctrl.scratch nope\n")
    script = tmp_path / "s.sdbg"
    script.write_text("write sysctrl.scratch 0x1234\nstep 10\n" + BAD_LINES[kind] + "\n"
                      "write sysctrl.scratch 0x5678\n")
    with pytest.raises(SocdbgError, match=r"s\.sdbg:3:|bad-inner\.sdbg:2:"):
        execute(session, f"source {script}")
    assert rec.calls == []


def test_a_good_script_does_call_the_target(recorded: tuple[Session, CallRecorder],
                                            tmp_path: Path) -> None:
    session, rec = recorded
    script = tmp_path / "s.sdbg"
    script.write_text("write sysctrl.scratch 0x1234\nstep 10\nsleep 0.000001\n")
    execute(session, f"source {script}")
    assert [name for name, _ in rec.calls if name in ("write", "step")] == ["write", "step",
                                                                            "step"]
