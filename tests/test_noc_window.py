"""noc shows link utilisation over a window the user sees and chooses: since the last noc,
since reset, --since CYCLE; not divided by every cycle since the simulator started."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import UsageError

BRING_UP = ("write sysctrl.rst_ctrl dma_rst=0 noc_rst=0", "write noc.ctrl en=1 routing=XY",
            "write dma.global_ctrl enable=1")
DMA_4K = ("write dma.ch[0].src 0x10000000", "write dma.ch[0].dst 0x80000000",
          "write dma.ch[0].len 4096", "write dma.ch[0].ctrl en=1 mode=SINGLE start=1",
          "poll dma.ch[0].status.done == 1 --timeout 0.01")


def run(session: Session, *lines: str) -> None:
    for line in lines:
        out = execute(session, line)
        assert out is None or out.ok, line


def view(session: Session, args: str = "") -> Any:
    out = execute(session, f"noc --json {args}".strip())
    assert out is not None
    return out.data


@pytest.fixture
def session(_socdbg_session_env: None) -> Iterator[Session]:
    s = Session()
    yield s
    s.close()


def test_after_reset_and_a_4k_dma_the_links_are_busy(session: Session) -> None:
    run(session, *BRING_UP, "step 200000", "reset", *BRING_UP, *DMA_4K)
    v = view(session)
    assert v["window"]["since"] == "since reset" and v["window"]["from"] >= 200000
    busy = [link for link in v["links"] if link["value"] > 0.5]
    assert len(busy) == 6  # the XY route from node 0 to node 15
    assert v["max"] > 0.5


def test_the_default_window_starts_at_the_last_noc(session: Session) -> None:
    run(session, *BRING_UP, *DMA_4K)
    first = view(session)
    assert first["max"] > 0.1
    run(session, "step 1000")
    quiet = view(session)  # nothing moved since the last noc
    assert quiet["window"]["since"] == "since the last noc"
    assert quiet["window"]["from"] == first["cycle"] and quiet["max"] == 0
    # the counters themselves are unchanged in the JSON; only the rates use the window
    assert [link["flits"] for link in quiet["links"]] == [link["flits"] for link in
                                                          first["links"]]
    assert view(session, "--since reset")["max"] > 0
    at = view(session, f"--since {first['cycle']}")
    assert at["window"]["from"] == first["cycle"] and at["max"] == 0


def test_since_is_checked(session: Session) -> None:
    run(session, "step 100")
    with pytest.raises(UsageError, match="future"):
        view(session, "--since 1000000")
    with pytest.raises(UsageError, match="not a cycle"):
        view(session, "--since yesterday")
