"""The pytest plugin (entry point pytest11 ``socdbg``): a hardware-in-the-loop test written
with the ``chip`` fixture passes unchanged on the simulator, on a simulator of another map with
that map, and through ``socdbg serve``; ``pytest --help`` lists the options."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import gdb_support as gs
import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
MINI = TESTS / "fixtures" / "butr" / "mini_soc.rdl"

#: The user's test file: only the chip fixture, no target or map in sight.
HITL = '''
"""Hardware-in-the-loop checks of the SoC, whatever the target."""

import pytest

from socdbg.errors import EncodeError


def test_identify(chip):
    print("CHIP", repr(chip))
    v = chip.sysctrl.chip_id.read()
    assert (v.vendor, v.part) == (0x5D0C, 0x0A01)


@pytest.mark.parametrize("pattern", [0, 0xFFFFFFFF, 0xA5A5A5A5, 0x5A5A5A5A])
def test_scratch_holds_a_pattern(chip, pattern):
    chip.sysctrl.scratch.write(pattern)
    assert chip.sysctrl.scratch.read() == pattern


def test_dma_channel_setup(chip):
    ch = chip.dma.ch[-1]
    ch.ctrl.write(en=1, mode="RING")
    v = ch.ctrl.read()
    assert (v.en, v.mode.name, v.start) == (1, "RING", 0)
    assert ch.status.read().busy == 0
    ch.ctrl.write(en=0, mode="SINGLE")
    assert ch.ctrl.read() == 0


def test_mistakes_fail_before_the_bus(chip):
    with pytest.raises(EncodeError, match="did you mean 'RING'"):
        chip.dma.ch[0].ctrl.write(mode="RINF")
    with pytest.raises(AttributeError, match="did you mean 'scratch'"):
        chip.sysctrl.scrach
'''

PASSED = 7

#: Unrelated plugins of this environment that take seconds to start, blocked in inner runs.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:benchmark")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*QUIET, *args)


@pytest.fixture
def hitl(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_hitl=HITL)
    return pytester


def chip_line(result: pytest.RunResult) -> str:
    """What test_identify printed: the chip the fixture opened."""
    found = re.findall(r"CHIP <chip [^>]*>", result.stdout.str())
    assert len(found) == 1, result.stdout.str()
    return str(found[0])


def test_on_the_simulator(hitl: pytest.Pytester) -> None:
    result = run(hitl, "--socdbg-target", "sim", "-s")
    result.assert_outcomes(passed=PASSED)
    assert chip_line(result) == "CHIP <chip soc on sim>"


def test_on_a_simulator_of_another_map(hitl: pytest.Pytester) -> None:
    result = run(hitl, "--socdbg-map", str(MINI), "--socdbg-target", f"sim:{MINI}", "-s")
    result.assert_outcomes(passed=PASSED)
    assert chip_line(result) == f"CHIP <chip mini_soc on sim:{MINI}>"


def test_the_target_from_the_environment(hitl: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCDBG_TARGET", f"sim:{MINI}")
    result = run(hitl, "-s")
    result.assert_outcomes(passed=PASSED)
    assert chip_line(result) == f"CHIP <chip mini_soc on sim:{MINI}>"
    # the option wins over the environment
    result = run(hitl, "-s", "--socdbg-target", "sim")
    result.assert_outcomes(passed=PASSED)
    assert chip_line(result) == "CHIP <chip soc on sim>"


def test_default_is_the_reference_simulator(hitl: pytest.Pytester) -> None:
    result = run(hitl, "-s")
    result.assert_outcomes(passed=PASSED)
    assert chip_line(result) == "CHIP <chip soc on sim>"


@pytest.fixture
def server() -> Iterator[str]:
    """``socdbg serve --allow-writes`` (the reference SoC's simulator) on a free port."""
    with gs.serve(["--allow-writes"]) as served:
        yield served.url

def test_through_socdbg_serve(hitl: pytest.Pytester, server: str) -> None:
    result = run(hitl, "--socdbg-target", server, "-s")
    result.assert_outcomes(passed=PASSED)
    assert chip_line(result) == f"CHIP <chip soc on {server}>"


def test_a_defective_model_fails_the_test(pytester: pytest.Pytester) -> None:
    butr = TESTS / "fixtures" / "butr"
    pytester.makepyfile(test_reset='''
def test_mode_resets_to_ring(chip):
    assert chip.ctrl.read().mode.name == "RING"
''')
    for model, outcome in (("right", {"passed": 1}), ("wrong_reset", {"failed": 1})):
        result = run(pytester, "--socdbg-map", str(butr / "right.rdl"),
                                    "--socdbg-target", f"sim:{butr / model}.rdl")
        result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines(["*AssertionError: assert 'ONESHOT' == 'RING'*"])


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    assert result.ret == 0
    text = "\n".join(result.outlines)
    assert "socdbg hardware-in-the-loop:" in text
    options = text.split("socdbg hardware-in-the-loop:", 1)[1]
    assert re.search(r"--socdbg-target=TARGET\s+target string for the chip fixture", options)
    assert re.search(r"--socdbg-map=FILE\s+register map for the chip fixture", options)
