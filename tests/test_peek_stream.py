"""``peek`` streams a hexdump layout: rows show while later chunks are still being read, the
layout is fixed per dump (a short last row keeps the ASCII column aligned), and a pipe gets
plain text. The rendering rate is measured in scripts/bench_shell.py."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.regmap import RegMap
from socdbg.render.hexdump import HexLayout, word_hex
from socdbg.targets.sim import SimTarget
from socdbg.targets.wrapper import TargetWrapper


class Timeline(io.StringIO):
    """The session's output stream, writing into one shared event log."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def write(self, s: str) -> int:
        if s.strip():
            self.log.append("line")
        return super().write(s)


class ReadLog(TargetWrapper):
    def __init__(self, sim: SimTarget, log: list[str]) -> None:
        super().__init__(sim)
        self.sim = sim
        self.log = log

    def read_block(self, address: int, size: int) -> bytes:
        self.log.append("read")
        return self.sim.read_block(address, size)

    def close(self) -> None:
        pass


@pytest.fixture
def timeline(ref_map: RegMap) -> Iterator[tuple[Session, list[str], Timeline]]:
    log: list[str] = []
    out = Timeline(log)
    session = Session(out=out, color=False)
    session.use_target(ReadLog(SimTarget(ref_map), log))
    yield session, log, out
    session.close()


def test_first_line_is_printed_before_the_read_completes(
        timeline: tuple[Session, list[str], Timeline]) -> None:
    session, log, out = timeline
    output = execute(session, "peek -w 32 dram 65536", stream=True)  # 256 KiB: several chunks
    assert log == []  # nothing read yet: the reads happen as the rows are shown
    session.presenter.emit(output)
    assert log.count("read") >= 4
    assert log.index("line") < len(log) - 1 - log[::-1].index("read")
    lines = out.getvalue().splitlines()
    assert len(lines) == 65536 // 4
    assert lines[0].endswith("dram+0x0") and lines[1].startswith("0x80000010")


def test_without_streaming_the_data_is_complete(
        timeline: tuple[Session, list[str], Timeline]) -> None:
    session, log, _ = timeline
    session.target.write_block(0x80000000, b"ABCDEFGH")
    output = execute(session, "peek -w 32 dram 300")
    assert output is not None and len(output.data["words"]) == 300
    assert output.data["words"][:2] == [0x44434241, 0x48474645]
    reads = log.count("read")
    text = io.StringIO()
    shown = Session(out=text, color=False)
    shown.presenter.emit(output)  # shows the rows from what was read: no second read
    assert log.count("read") == reads
    assert text.getvalue().splitlines()[0] == (
        "0x80000000  0x44434241  0x48474645  0x00000000  0x00000000  ABCDEFGH........  dram+0x0")


def test_a_short_last_row_keeps_the_columns() -> None:
    layout = HexLayout(4, 6)
    rows = list(layout.lines(0x1000, bytes(range(0x41, 0x41 + 24)), {0x1014: "tail"}))
    assert rows == [
        "0x00001000  0x44434241  0x48474645  0x4c4b4a49  0x504f4e4d  ABCDEFGHIJKLMNOP",
        "0x00001010  0x54535251  0x58575655                          QRSTUVWX          tail",
    ]
    assert "".join(rows).isascii() and all(r == r.rstrip() for r in rows)


def test_colour_only_when_asked() -> None:
    plain = next(HexLayout(4, 1).lines(0, b"\0\0\0\0"))
    coloured = next(HexLayout(4, 1, color=True).lines(0, b"\0\0\0\0"))
    assert "\033[" not in plain and "\033[36m" in coloured


def test_no_colour_on_a_pipe_and_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Session(out=io.StringIO()).presenter.color_lines is False
    monkeypatch.setenv("NO_COLOR", "1")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Session(out=Tty()).presenter.color_lines is False
    monkeypatch.delenv("NO_COLOR")
    assert Session(out=Tty()).presenter.color_lines is True


@given(st.sampled_from([1, 2, 4, 8]), st.binary(max_size=96))
def test_words_are_the_little_endian_values(size: int, data: bytes) -> None:
    raw = data[: len(data) - len(data) % size]
    want = [f"{int.from_bytes(raw[i:i + size], 'little'):0{size * 2}x}"
            for i in range(0, len(raw), size)]
    assert word_hex(raw, size) == want
