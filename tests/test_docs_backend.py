"""The worked example of docs/architecture.md "Adding a target backend", taken from the page
and run: its module is registered as a backend and opened through the target registry, by
target string, as a session would; its Backend answers completion and map questions."""

from __future__ import annotations

import io
import re
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from socdbg.access import read_register, write_register
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import TargetError
from socdbg.shell.completer import ShellCompleter
from socdbg.targets import base

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
MODULE = "socdbg_doc_example_ram"


def example_source() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Adding a target backend", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section holds one Python example"
    return textwrap.dedent(blocks[0])


@pytest.fixture
def ram(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = types.ModuleType(MODULE)
    module.__file__ = str(DOC)
    monkeypatch.setitem(sys.modules, MODULE, module)
    exec(compile(example_source(), str(DOC), "exec"), module.__dict__)
    monkeypatch.setitem(base.BUILTIN, "ram", f"{MODULE}:BACKEND")
    base.backend.cache_clear()
    base.backends.cache_clear()
    yield module
    base.backend.cache_clear()
    base.backends.cache_clear()


def test_the_example_opens_through_the_registry(ram: types.ModuleType) -> None:
    target = base.open_target("ram", lambda files=None, defines=None: pytest.fail("no map"))
    assert isinstance(target, ram.RamTarget)
    assert isinstance(target, base.Target)
    target.write(0x40, b"\x78\x56\x34\x12")
    assert target.read(0x40, 4) == b"\x78\x56\x34\x12"
    with pytest.raises(TargetError, match="takes no options"):
        base.open_target("ram:big", lambda files=None, defines=None: pytest.fail("no map"))
    target.close()


def test_the_backend_owns_its_target_string(ram: types.ModuleType) -> None:
    offered, files_after = base.complete_target("ra")
    assert files_after is None
    assert ("ram", "plain byte storage, no register semantics") in offered
    assert "ram:" not in [c for c, _ in offered]  # alone: the bare name is the target
    assert base.complete_target("ram:") == ([("ram", "")], None)
    # the defaults: no map of its own, no defines, no host files
    assert not base.brings_map("ram") and not base.brings_map("ram:x")
    assert base.map_defines("ram:x") == {}
    assert not base.opens_files("ram")
    session = Session(out=io.StringIO())
    try:  # the shell completes it as it completes the backends of socdbg itself
        completer = ShellCompleter(session)
        got = [c.text for c in completer.get_completions(
            Document("target ra"), CompleteEvent(completion_requested=True))]
        assert got == ["ram"]
    finally:
        session.close()


def test_a_session_on_the_example(ram: types.ModuleType) -> None:
    session = Session(target="ram", out=io.StringIO())
    try:
        reg = session.map.find("sysctrl.scratch")
        assert reg is not None
        out = execute(session, "write sysctrl.scratch 0x55")
        assert out is not None and out.ok
        assert read_register(session.target, reg) == 0x55
        write_register(session.target, reg, 0x1234)
        out = execute(session, "read sysctrl.scratch")
        assert out is not None and out.ok and out.data["value"] == 0x1234
    finally:
        session.close()
