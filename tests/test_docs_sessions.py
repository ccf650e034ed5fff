"""Every console session in README.md and docs/*.md runs and prints what the page shows.

The engine is ``scripts/doc_sessions.py`` (also a command: ``--update`` refreshes the pages).
Each page runs once (its shell session carries on from block to block); each block is one test.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "doc_sessions.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("doc_sessions", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


ds = _load()


def _block_ids() -> list[tuple[Path, int]]:
    out = []
    for page in ds.PAGES:
        # a page that breaks the rules: test_every_page_follows_the_block_rules reports it
        with contextlib.suppress(ds.DocError):
            out += [(page, block.line) for block in ds.blocks(page) if block.runs]
    return out


_RUNS: dict[Path, list[object]] = {}


def _page_blocks(page: Path, tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    if page not in _RUNS:
        page_blocks = ds.blocks(page)
        ds.run_page(page_blocks, tmp_path_factory.mktemp("doc-" + page.stem))
        _RUNS[page] = page_blocks
    return _RUNS[page]


@pytest.fixture
def needs_socdbg_on_path() -> None:
    """The sessions run the installed console script, as a reader does. Without it the tests
    fail (never skip): a machine without it must not pass by not running them."""
    if shutil.which("socdbg") is None:
        pytest.fail("socdbg is not on PATH: python3 -m pip install -e . (scripts/test.sh does)")


needs_socdbg = pytest.mark.usefixtures("needs_socdbg_on_path")


@needs_socdbg
@pytest.mark.slow
@pytest.mark.parametrize(("page", "line"), _block_ids(),
                         ids=[f"{p.relative_to(ROOT)}:{n}" for p, n in _block_ids()])
def test_session_output_matches_the_page(page: Path, line: int,
                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    block = next(b for b in _page_blocks(page, tmp_path_factory) if b.line == line)
    problems = ds.differences(block)
    assert not problems, ("\n\n".join(problems) + "\n\nIf the new output is right: "
                          "python3 scripts/doc_sessions.py --update " + str(page.relative_to(ROOT)))


def test_every_page_follows_the_block_rules() -> None:
    for page in ds.PAGES:
        ds.blocks(page)  # raises DocError for a session hidden in a text block, bad options


def test_the_pages_have_sessions() -> None:
    ids = _block_ids()
    pages = {p.name for p, _ in ids}
    assert {"README.md", "tutorial.md"} <= pages
    assert len(ids) > 20


# --- the checker itself ---------------------------------------------------------------------
def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_ellipsis_matches_lines_and_parts_of_lines() -> None:
    assert ds.matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert ds.matches(["a", "...", "d"], ["a", "d"])
    assert ds.matches(["sources  .../soc.rdl"], ["sources  /x/y/soc.rdl"])
    assert not ds.matches(["sources  .../soc.rdl"], ["sources  /x/y/soc.svd"])
    assert not ds.matches(["a", "b"], ["a", "b", "c"])
    assert not ds.matches(["a"], [])
    assert ds.matches(["a  ", ""], ["a"])


def test_a_session_in_a_text_block_is_refused(tmp_path: Path) -> None:
    page = _page(tmp_path, "```text\nsocdbg:sim> read sysctrl.chip_id\n```\n")
    with pytest.raises(ds.DocError, match="console"):
        ds.blocks(page)
    page = _page(tmp_path, "```text\n$ echo x | socdbg shell\n```\n")
    with pytest.raises(ds.DocError, match="console"):
        ds.blocks(page)
    page = _page(tmp_path, "```console norun=lazy\n$ socdbg info\n```\n")
    with pytest.raises(ds.DocError, match="terminal, hardware"):
        ds.blocks(page)


WRONG = """\
Text.

```console
socdbg:sim> write sysctrl.scratch 0x55
sysctrl.scratch <- 0x00000055  (value=85)
socdbg:sim> read sysctrl.scratch.value
sysctrl.scratch.value = 0x55
$ socdbg read sysctrl.chipid 2>/dev/null; echo "status $?"
status 0
```
"""


@needs_socdbg
@pytest.mark.slow
def test_a_wrong_block_fails_and_update_fixes_only_what_is_wrong(tmp_path: Path) -> None:
    page = _page(tmp_path, WRONG)
    page_blocks = ds.blocks(page)
    work = tmp_path / "work"
    work.mkdir()
    ds.run_page(page_blocks, work)
    (block,) = page_blocks
    problems = ds.differences(block)
    assert len(problems) == 2, problems
    assert "+sysctrl.scratch <- 0x00000055  (value=0x55)" in problems[0]
    assert "-status 0" in problems[1] and "+status 1" in problems[1]
    text = ds.updated_page(page, page_blocks)
    assert text == WRONG.replace("(value=85)", "(value=0x55)").replace("status 0", "status 1")


@needs_socdbg
@pytest.mark.slow
def test_shell_sessions_carry_on_across_blocks_and_restart_on_request(tmp_path: Path) -> None:
    page = _page(tmp_path, (
        "```console\nsocdbg:sim> step 10\ncycle 10\n```\n\n"
        "```console\nsocdbg:sim> step 5\ncycle 15\n```\n\n"
        "```console new-session\nsocdbg:sim> step 5\ncycle 5\n"
        "socdbg:sim> read sysctrl.chipid\n"
        "error: no register 'sysctrl.chipid' in sysctrl (did you mean 'chip_id'?)\n```\n"))
    page_blocks = ds.blocks(page)
    work = tmp_path / "work"
    work.mkdir()
    ds.run_page(page_blocks, work)
    assert [ds.differences(b) for b in page_blocks] == [[], [], []]


@needs_socdbg
@pytest.mark.slow
def test_a_shell_started_with_options_takes_the_prompts_that_follow(tmp_path: Path) -> None:
    rdl = tmp_path / "work" / "one.rdl"
    rdl.parent.mkdir()
    page = _page(tmp_path, (
        "```systemrdl file=one.rdl\naddrmap one { reg { field { sw = rw; hw = r; } v[7:0] = 5; }"
        " rr @0x0; };\n```\n\n"
        "```console\n$ socdbg --map one.rdl shell\nsocdbg:sim> read rr.v\nrr.v = 0x5\n"
        "$ socdbg -t sim:one.rdl read rr.v 2>&1 >/dev/null | wc -l\n0\n```\n"))
    page_blocks = ds.blocks(page)
    ds.run_page(page_blocks, rdl.parent)
    assert ds.differences(page_blocks[1]) == []


@needs_socdbg
@pytest.mark.slow
def test_a_tty_block_checks_the_greeting_on_a_terminal(tmp_path: Path) -> None:
    from socdbg import __version__

    right = (f"socdbg {__version__}  type help for commands, Tab to complete, Ctrl-D to quit\n"
             "target sim, map soc (...)\n")
    page = _page(tmp_path, (
        f"```console tty\n$ socdbg shell\n{right}socdbg:sim>\n```\n\n"
        f"```console tty\n$ socdbg shell\nsocdbg 0.0.0\nsocdbg:sim>\n```\n"))
    page_blocks = ds.blocks(page)
    work = tmp_path / "work"
    work.mkdir()
    ds.run_page(page_blocks, work)
    assert ds.differences(page_blocks[0]) == []
    (problem,) = ds.differences(page_blocks[1])
    assert "-socdbg 0.0.0" in problem and f"+socdbg {__version__}  type help" in problem


@needs_socdbg
@pytest.mark.slow
def test_a_server_restarted_on_its_port_under_an_open_shell_session(tmp_path: Path) -> None:
    """A background block on a port a running server of the page holds stops that one first
    (the reader's Ctrl-C), and the socdbg session typed before it goes on after it."""
    page = _page(tmp_path, (
        "```console background port=3401\n$ socdbg serve --port 3401\n"
        "serving sim on 127.0.0.1:3401 (read-only); Ctrl-C stops\n```\n\n"
        "```console\n$ socdbg -t gdb://127.0.0.1:3401 shell\n"
        "socdbg:gdb://127.0.0.1:3401> set who me\nwho = me\n"
        "socdbg:gdb://127.0.0.1:3401> write sysctrl.scratch 1\n"
        "error: write: target gdb://127.0.0.1:3401 is read-only ...\n```\n\n"
        "```console background port=3401\n$ socdbg serve --port 3401 --allow-writes\n"
        "serving sim on 127.0.0.1:3401 (read-write); Ctrl-C stops\n```\n\n"
        "```console\nsocdbg:gdb://127.0.0.1:3401> echo ${who}\nme\n"
        "socdbg:gdb://127.0.0.1:3401> read sysctrl.scratch.value\n"
        "error: gdb://127.0.0.1:3401: the stub closed the connection ...\n"
        "socdbg:gdb://127.0.0.1:3401> reconnect\nreconnected to gdb://127.0.0.1:3401 ...\n"
        "socdbg:gdb://127.0.0.1:3401> write sysctrl.scratch 1\n"
        "sysctrl.scratch <- 0x00000001  (value=1)\n```\n"))
    page_blocks = ds.blocks(page)
    work = tmp_path / "work"
    work.mkdir()
    ds.run_page(page_blocks, work)
    assert [ds.differences(b) for b in page_blocks] == [[], [], [], []]
