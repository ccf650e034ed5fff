"""Hypothesis over the script reader and the command-line splitter: any text gives lines or
one user error, never anything else; comments, blank lines and continuations behave."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from socdbg.commands.dispatch import split_line
from socdbg.commands.lexer import BLANKS
from socdbg.commands.scriptfile import ScriptError, read_script
from socdbg.errors import SocdbgError

TEXT = st.text(alphabet="abc =#\\\n\r\t'\"${}.[]*0x12",
               max_size=200)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_split_line_gives_words_or_one_user_error(line: str) -> None:
    try:
        words = split_line(line)
    except SocdbgError:
        return
    assert all(isinstance(w, str) for w in words)


def test_comments_and_quoting() -> None:
    assert split_line("write a.b 1  # set it") == ["write", "a.b", "1"]
    assert split_line("echo '# not a comment'") == ["echo", "# not a comment"]
    assert split_line("write x 8'h2a") == ["write", "x", "8'h2a"]  # a Verilog literal


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_read_script_never_fails_on_text(tmp_path_factory: object, text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.sdbg"
        path.write_text(text, encoding="utf-8")
        try:
            lines = read_script(path)
        except ScriptError:
            return
    physical = text.splitlines()
    for line in lines:
        assert line.text and line.text == line.text.strip(BLANKS)
        assert not line.text.startswith("#")
        assert 1 <= line.line <= max(1, len(physical))
    numbers = [ln.line for ln in lines]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


@given(st.lists(st.text(alphabet="abcd =", min_size=1, max_size=12), min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_continuations_join_into_one_line_numbered_by_its_first(parts: list[str]) -> None:
    import tempfile

    body = " \\\n".join(parts) + "\n"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.sdbg"
        path.write_text("# header\n" + body, encoding="utf-8")
        lines = read_script(path)
    joined = " ".join(p for p in parts)
    if not joined.strip() or joined.strip().startswith("#"):
        assert lines == []
        return
    assert len(lines) == 1 and lines[0].line == 2
    assert lines[0].text.split() == joined.split()
