"""A smoke test of the real shell in a real terminal: tmux starts ``socdbg shell``, keys are
typed with Tab and arrows, and the screen is read back (skipped only where tmux is absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env

    def run(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, env=self.env, timeout=30, check=False)
        return proc.stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "s", *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "s")

    def wait(self, what: Callable[[str], bool], label: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if what(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {label}; screen:\n{text}")
            time.sleep(0.1)

    def prompt_line(self) -> str:
        lines = [line for line in self.screen().splitlines() if line.startswith("socdbg:")]
        return lines[-1] if lines else ""


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm-256color",
               SOCDBG_HISTORY=str(tmp_path / "history"))
    env.pop("NO_COLOR", None)
    t = Tmux(f"socdbg-test-{os.getpid()}-{tmp_path.name}", env)
    t.run("new-session", "-d", "-s", "s", "-x", "100", "-y", "30",
          f"{sys.executable} -m socdbg shell")
    try:
        yield t
    finally:
        t.run("kill-server")


def test_the_shell_in_a_terminal(tmux: Tmux) -> None:
    tmux.wait(lambda s: "socdbg:sim>" in s, "the prompt")
    # Tab: a substring of a path completes to the path (one match)
    tmux.keys("read chip", "Tab")
    tmux.wait(lambda s: "read sysctrl.chip_id" in s, "the completion")
    tmux.keys("Enter")
    tmux.wait(lambda s: "0x5d0c0a01" in s, "the register value")
    # a condition: the enum names after the operator, then a unique one by Tab
    tmux.keys("expect dma.ch[0].status.err_code == UNM", "Tab")
    tmux.wait(lambda s: "err_code == UNMAPPED" in tmux.prompt_line(), "the enum name")
    tmux.keys("C-u")
    # Up with text typed searches by prefix: "rea" finds the read, not the newer lines
    tmux.keys("info", "Enter")
    tmux.wait(lambda s: "capabilities" in s, "info")
    tmux.keys("rea", "Up")
    tmux.wait(lambda s: tmux.prompt_line().endswith("read sysctrl.chip_id"),
              "the history search")
    tmux.keys("C-u")
    # a trailing backslash continues the line
    tmux.keys("read \\", "Enter")
    tmux.keys("sysctrl.revision", "Enter")
    tmux.wait(lambda s: "sysctrl.revision" in s and "major" in s, "the continued command")
    if shutil.which("less"):  # long output goes through the pager; q comes back
        tmux.keys("read noc", "Enter")
        tmux.wait(lambda s: s.rstrip().endswith(":") or "(END)" in s, "the pager")
        tmux.keys("q")
        tmux.wait(lambda s: tmux.prompt_line() == "socdbg:sim>", "the prompt after the pager")
    tmux.keys("C-d")
    tmux.wait(lambda s: "socdbg:sim>" not in tmux.prompt_line() or not s.strip(),
              "the shell to end", timeout=10)
