"""BUTR catches real defects: a simulator of a deliberately wrong model checked against the
right map (``Session(target="sim:WRONG.rdl", map_files=["RIGHT.rdl"])``, i.e. ``socdbg --map
RIGHT.rdl -t sim:WRONG.rdl butr``) reports exactly its one defect -- the register, the check,
the field, expected and observed -- and nothing else; the right model and the reference SoC
pass with zero failures.

The device under test is tests/fixtures/butr/dut.rdl; each wrong_X.rdl defines one BUG_*
macro before including it, so every wrong model differs from the right one in one field.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from socdbg.butr import FAIL, PASS, SKIP, Butr, Report
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "butr"
RIGHT = FIXTURES / "right.rdl"

Field = tuple[str, str, str]  # (field, expected, observed)

#: wrong model -> the one failing check it must produce: (register, check, fields)
DEFECTS: dict[str, tuple[str, str, list[Field]]] = {
    # ctrl.mode resets to ONESHOT (1), the map says RING (2)
    "reset": ("ctrl", "reset", [("mode", "RING (2)", "ONESHOT (1)")]),
    # ctrl.div is sw=r in the model: the first walking one (0x1) reads back the reset 0x5
    "stuck": ("ctrl", "walk div", [("div", "0x1", "0x5")]),
    # ctrl.div is 4 bits wide in the model: the walking one at bit 4 (0x10) is lost
    "narrow": ("ctrl", "walk div", [("div", "0x10", "0x0")]),
    # the model has a field at reserved bit 7 of ctrl, resetting to 1
    "reserved": ("ctrl", "reserved", [("(reserved)", "0", "0x80")]),
    # status.state is sw=rw in the model: writing 0 over its reset 3 sticks
    "ro_writable": ("status", "read-only", [("state", "3", "0")]),
    # irq.done is plain rw in the model: 0 clears it, 1 does not
    "w1c": ("irq", "w1c done", [("done", "0x1 after writing 0", "0x0"),
                                ("done", "0 after writing 1", "0x1")]),
    # events.count is not rclr in the model: the second read still sees the count
    "rclr": ("events", "rclr count", [("count", "0 on the second read", "0xff")]),
    # cmd.go is not singlepulse in the model: a written 1 reads back
    "singlepulse": ("cmd", "singlepulse go", [("go", "0", "0x1")]),
}


def session_for(model: str, out: io.StringIO | None = None) -> Session:
    """The right map, a simulator of ``model`` (right, wrong_reset, ...)."""
    return Session(target=f"sim:{FIXTURES / (model + '.rdl')}", map_files=[str(RIGHT)],
                   out=out or io.StringIO(), width=200)


def butr(session: Session, line: str = "butr") -> dict[str, Any]:
    out = execute(session, line)
    assert out is not None
    data: dict[str, Any] = out.data
    assert out.ok == (data["fail"] == 0)
    return data


def statuses(data: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(c["register"], c["check"]): c["status"] for c in data["checks"]}


@pytest.fixture(scope="module")
def clean(_socdbg_session_env: None) -> dict[str, Any]:
    """BUTR of the right model against the right map."""
    session = session_for("right")
    try:
        return butr(session)
    finally:
        session.close()


# --- the right model and the reference SoC pass ----------------------------------------------
def test_the_right_model_passes_cleanly(clean: dict[str, Any]) -> None:
    assert clean["fail"] == 0
    assert clean["registers"] == 8
    got = statuses(clean)
    # every check BUTR has ran on some register of the fixture, and passed
    for reg, check in [("ctrl", "reset"), ("ctrl", "reserved"), ("ctrl", "walk en"),
                       ("ctrl", "walk mode"), ("ctrl", "walk div"), ("status", "read-only"),
                       ("irq", "w1c done"), ("irq", "w1c err"), ("irq_en", "w1s mask"),
                       ("events", "rclr count"), ("cmd", "singlepulse go"),
                       ("cmd", "walk arg"), ("scratch", "walk data")]:
        assert got[(reg, check)] == PASS, (reg, check)
    # the only skip: the write_effects register, which was not named
    assert [(k, v) for k, v in got.items() if v != PASS] == [(("doorbell", "all"), SKIP)]
    # scratch has no reserved bits, so it gets no reserved check
    assert ("scratch", "reserved") not in got


def test_the_reference_soc_passes(ref_map: Any) -> None:
    session = Session(out=io.StringIO())
    data = butr(session)
    session.close()
    assert data["fail"] == 0, [c for c in data["checks"] if c["status"] == FAIL]
    assert data["registers"] == len(ref_map)
    assert data["pass"] > 500
    assert not [c for c in data["checks"] if c["check"] == "access"]
    skipped = {c["detail"].split(":")[0].split(";")[0] for c in data["checks"]
               if c["status"] == SKIP}
    # on the simulator nothing is skipped for want of writes
    assert "writes to hardware need --allow-writes" not in skipped


# --- each wrong model: exactly its defect ----------------------------------------------------
@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_a_defect_is_reported_and_nothing_else(defect: str, clean: dict[str, Any]) -> None:
    register, check, fields = DEFECTS[defect]
    session = session_for(f"wrong_{defect}")
    data = butr(session)
    session.close()
    failures = [c for c in data["checks"] if c["status"] == FAIL]
    assert len(failures) == 1, failures
    (failure,) = failures
    assert (failure["register"], failure["check"]) == (register, check)
    assert [(f["field"], f["expected"], f["observed"]) for f in failure["fields"]] == fields
    assert failure["detail"]
    assert data["fail"] == 1
    # every other check does what it did on the right model
    others = statuses(data)
    del others[(register, check)]
    expected = statuses(clean)
    del expected[(register, check)]
    assert others == expected


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_the_butr_class_finds_the_same_defect(defect: str) -> None:
    register, check, fields = DEFECTS[defect]
    session = session_for(f"wrong_{defect}")
    report: Report = Butr(session.target).run(list(session.map), set())
    session.close()
    failures = [c for c in report.checks if c.status == FAIL]
    assert [(c.register, c.check, c.fields) for c in failures] == [(register, check, fields)]
    assert not report.passed
    assert report.count(FAIL) == 1


def test_the_report_shows_register_check_field_expected_observed() -> None:
    buf = io.StringIO()
    session = session_for("wrong_reset", buf)
    session.presenter.emit(execute(session, "butr"))
    session.close()
    lines = buf.getvalue().splitlines()
    assert lines[0].split() == ["register", "check", "result", "field", "expected",
                                "observed", "why"]
    assert lines[1].split() == ["ctrl", "reset", "fail", "mode", "RING", "(2)", "ONESHOT",
                                "(1)", "1", "field(s)", "differ", "from", "reset"]
    assert lines[2].startswith("24 checks passed, 1 failed (8 registers tested, 1 skipped;")
    assert "--skip-reset" in lines[3]  # a reset failure: the chip may just have run
    assert len(lines) == 4  # failures only, unless --all


def test_all_lists_passes_and_skips_with_reasons() -> None:
    buf = io.StringIO()
    session = session_for("right", buf)
    session.presenter.emit(execute(session, "butr --all"))
    session.close()
    text = buf.getvalue()
    assert "walk div" in text and "16 patterns" in text
    assert "write_effects: writes act beyond the register; name it to test it" in text
    assert "(--all lists" not in text


def test_a_write_effects_defect_hides_until_the_register_is_named() -> None:
    session = session_for("wrong_doorbell")
    assert butr(session)["fail"] == 0  # doorbell (write_effects) is skipped, defect unseen
    data = butr(session, "butr doorbell")
    session.close()
    assert [(c["register"], c["check"], c["fields"]) for c in data["checks"]
            if c["status"] == FAIL] == [
        ("doorbell", "walk ring", [{"field": "ring", "expected": "0x1", "observed": "0x0"}])]


def test_a_w1s_that_a_zero_clears_is_caught() -> None:
    session = session_for("wrong_w1s")
    data = butr(session)
    session.close()
    assert [(c["register"], c["check"]) for c in data["checks"]
            if c["status"] == FAIL] == [("irq_en", "w1s mask")]
