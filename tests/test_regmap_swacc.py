"""``swacc`` (SystemRDL: a strobe to the hardware on every software read, a read that pops a
FIFO) makes a register read-side-effecting, exactly as ``rclr`` does: ``dump``, glob reads,
``diff`` and ``butr`` skip it unless it is named exactly or ``--include-side-effects`` is given.

tests/fixtures/rdl/swacc.rdl: ``rx_data`` (swacc), ``irq`` (rclr, for comparison), ``both``
(rclr and swacc), and plain registers. Every access goes through a recorder, so "not read" is
counted, not assumed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.regmap import OnRead, RegMap, load_map
from socdbg.targets.base import CAP_SIMULATOR
from socdbg.targets.recorder import RecordingTarget
from socdbg.targets.sim import SimTarget

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "rdl" / "swacc.rdl"
CTRL, RX_DATA, RX_STATUS, IRQ, BOTH = 0x0, 0x4, 0x8, 0xC, 0x10
SIDE_EFFECTS = {RX_DATA, IRQ, BOTH}


@pytest.fixture(scope="module")
def swacc_map(_socdbg_session_env: None) -> RegMap:
    return load_map([str(FIXTURE)], [])


class Rec(RecordingTarget):
    def close(self) -> None:
        pass

    def read_addresses(self) -> set[int]:
        """The register addresses read since the last call (a block read covers several)."""
        return {a for c in self.take() if c[0] in ("read", "read_block")
                for a in range(c[1], c[1] + max(c[2], 1), 4)}


@pytest.fixture
def rec(swacc_map: RegMap) -> Iterator[tuple[Session, Rec]]:
    recorder = Rec(SimTarget(swacc_map, f"sim:{FIXTURE}"))
    session = Session(out=io.StringIO(), width=120, map_files=[str(FIXTURE)])
    session.use_target(recorder)
    yield session, recorder
    session.close()


def run(session: Session, line: str) -> Any:
    out = execute(session, line)
    assert out is not None, line
    return out


def test_swacc_is_a_read_side_effect_of_the_field_and_the_register(swacc_map: RegMap
                                                                   ) -> None:
    rx = swacc_map.get("rx_data")
    assert rx.field("data").onread is OnRead.SWACC  # type: ignore[union-attr]
    assert rx.field("data").effects == "swacc"  # type: ignore[union-attr]
    assert rx.field("last").onread is None  # type: ignore[union-attr]
    assert rx.layout.read_side_effect and not rx.layout.unsafe_read
    # rclr and swacc together: rclr says more (the value clears); both are side effects
    assert swacc_map.get("both").field("both").onread is OnRead.RCLR  # type: ignore[union-attr]
    assert not swacc_map.get("rx_status").layout.read_side_effect


def test_the_cache_carries_swacc(swacc_map: RegMap) -> None:
    again = load_map([str(FIXTURE)], [])  # warm: from the cache entry written above
    assert again.get("rx_data").layout.read_side_effect
    assert again.get("rx_data").field("data").onread is OnRead.SWACC  # type: ignore[union-attr]


def test_glob_reads_skip_swacc_unless_named(rec: tuple[Session, Rec]) -> None:
    session, recorder = rec
    out = run(session, "read --json *")
    assert {d["path"] for d in out.data} == {"ctrl", "rx_status"}
    assert recorder.read_addresses() == {CTRL, RX_STATUS}
    run(session, "read rx_data")  # named exactly: read
    assert recorder.read_addresses() == {RX_DATA}
    run(session, "read rx_data.data")  # its field, named exactly
    assert recorder.read_addresses() == {RX_DATA}
    run(session, "read rx_*")  # a glob is not a name
    assert recorder.read_addresses() == {RX_STATUS}


def test_dump_skips_swacc_unless_asked(rec: tuple[Session, Rec], tmp_path: Path) -> None:
    session, recorder = rec
    path = tmp_path / "d.json"
    run(session, f"dump -o {path}")
    assert not SIDE_EFFECTS & recorder.read_addresses()
    data = json.loads(path.read_text())
    skipped = {s["path"] if isinstance(s, dict) else s[0]: s for s in data["skipped"]}
    assert {"rx_data", "irq", "both"} <= set(skipped)
    run(session, f"dump -o {path} --include-side-effects --force")
    assert recorder.read_addresses() >= SIDE_EFFECTS


def test_diff_against_the_target_does_not_read_swacc(rec: tuple[Session, Rec],
                                                    tmp_path: Path) -> None:
    session, recorder = rec
    path = tmp_path / "d.json"
    run(session, f"dump -o {path} --include-side-effects")
    recorder.take()
    run(session, f"diff {path} --json")
    read = recorder.read_addresses()
    assert read and not SIDE_EFFECTS & read


def test_butr_on_hardware_skips_swacc_unless_named(swacc_map: RegMap) -> None:
    recorder = Rec(SimTarget(swacc_map), "hw:swacc")
    recorder.capabilities = recorder.capabilities - {CAP_SIMULATOR}  # as on a chip
    session = Session(out=io.StringIO(), width=120, map_files=[str(FIXTURE)])
    session.use_target(recorder)
    try:
        out = run(session, "butr --json")
        skipped = {c["register"]: c["detail"] for c in out.data["checks"]
                   if c["check"] == "all" and c["status"] == "skip"}
        assert "reading it changes hardware state" in skipped["rx_data"]
        assert "reading it changes hardware state" in skipped["irq"]
        assert not SIDE_EFFECTS & recorder.read_addresses()
        run(session, "butr --json rx_data")  # named: tested
        assert RX_DATA in recorder.read_addresses()
    finally:
        session.close()
