"""A pytest plugin for hardware-in-the-loop tests: the same test runs on the simulator,
through QEMU or socdbg serve, and on a device.

    pytest --socdbg-target gdb://lab:3333 --socdbg-map registers/soc.rdl

    def test_pll_locks(chip):
        chip.sysctrl.pll_ctrl.write(en=1)
        ...

Registered through the ``pytest11`` entry point; imports nothing heavy until a test asks
for ``chip``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("socdbg", "socdbg hardware-in-the-loop")
    group.addoption("--socdbg-target", default=None, metavar="TARGET",
                    help="target string for the chip fixture (default: sim, or "
                         "$SOCDBG_TARGET)")
    group.addoption("--socdbg-map", default=None, metavar="FILE",
                    help="register map for the chip fixture (default: the target's own, "
                         "else the reference SoC)")
    group.addoption("--socdbg-allow-writes", action="store_true", default=False,
                    help="let tests write live silicon (mmio, pci, uio targets)")


@pytest.fixture
def chip(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A freshly opened chip (socdbg.api.Chip) on --socdbg-target, closed after the test."""
    import os

    from socdbg.api import connect

    target = request.config.getoption("socdbg_target") or os.environ.get("SOCDBG_TARGET",
                                                                          "sim")
    handle = connect(target, request.config.getoption("socdbg_map"),
                     allow_writes=request.config.getoption("socdbg_allow_writes"))
    try:
        yield handle
    finally:
        handle.close()
