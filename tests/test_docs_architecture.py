"""docs/architecture.md stays true: its "Adding a command" example is taken from the page,
registered in a scratch registry and run in a fresh session, and must print what the page
shows; the modules the page names exist."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from socdbg.commands import registry
from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def _example() -> tuple[str, str, str]:
    """The example module, the line the page types and what the page says it prints."""
    section = _section("Adding a command")
    code = re.search(r"```python\n(.*?)```", section, re.S)
    shown = re.search(r"```console norun=example\nsocdbg:sim> (.*?)\n(.*?)```", section, re.S)
    assert code is not None and shown is not None
    lines = [ln[3:] if ln.startswith("   ") else ln.strip() for ln in code.group(1).split("\n")]
    return "\n".join(lines), shown.group(1), shown.group(2)


def test_the_add_a_command_example_registers_and_runs_as_documented() -> None:
    source, line, expected = _example()
    session = Session(out=io.StringIO())
    with registry.scratch():
        assert registry.get("where") is None
        exec(compile(source, "docs/architecture.md", "exec"),
             {"__name__": "socdbg.commands.where"})
        meta = registry.metadata("where")
        assert meta is not None and meta.category == "map" and meta.json
        try:
            out = execute(session, line)
            assert out is not None and out.ok and out.text == expected.rstrip("\n")
            as_json = execute(session, line + " --json")
            assert as_json is not None and as_json.as_json
            session.presenter.emit(as_json)
            printed = json.loads(session.presenter.out.getvalue())  # type: ignore[attr-defined]
            assert printed[0] == {"path": "dma.ch[0].status", "address": 0x40010104}
            assert "where" in execute(session, "help").text  # type: ignore[union-attr, operator]
        finally:
            session.close()
    assert registry.get("where") is None  # the scratch registry forgot it


def test_the_modules_the_page_names_exist() -> None:
    text = PAGE.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:socdbg/)?(?:commands|shell|render|targets|regmap|models)/"
                           r"[a-z_]+\.py)`", text))
    assert named
    for path in sorted(named):
        full = ROOT / (path if path.startswith("socdbg/") else f"socdbg/{path}")
        assert full.is_file(), f"docs/architecture.md names {path}, which does not exist"
