"""``socdbg stubs`` writes a .pyi of the map; mypy then flags, in a user's script, a misspelt
register, a misspelt field in write(), an unknown enum name and a write to a read-only field,
and passes a correct script under --strict.

mypy cannot see the editable install, so it runs with ``MYPYPATH=<repo root>``; socdbg's own
modules are then followed silently (as mypy treats an installed package), so that only the
user's script and the generated stubs are judged. One mypy run checks every script.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import UsageError

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures" / "butr"

MYPY_INI = """\
[mypy]
strict = True

[mypy-socdbg.*]
follow_imports = silent
"""

#: Each script marks the lines mypy must flag with ``# E: CODE`` (and nothing else).
SCRIPTS = {
    "good.py": '''\
"""A bring-up script that uses the reference map correctly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import socdbg
from socdbg.api import FieldInt, Value

if TYPE_CHECKING:
    from chip import Chip


def bring_up(chip: Chip) -> int:
    chip.sysctrl.scratch.write(0x1234)
    for ch in chip.dma.ch:
        ch.ctrl.write(en=1, mode="RING", irq_en=0)
    chip.dma.ch[-1].ctrl.write(mode=2)
    chip.dma.ch[0].ctrl.mode.write("CHAIN")
    chip.dma.ch[0].ctrl.write(0x21)
    status: Value = chip.dma.ch[0].status.read()
    code: FieldInt = status.err_code
    name: str | None = code.name
    channels: int = len(chip.dma.ch)
    msg = chip.mailbox.msg[3].read()
    chip.write("dma.ch[1].ctrl", en=0)
    scratch = chip.read("sysctrl.scratch")
    lock = chip.sysctrl.pll_status.lock.read()
    return (int(status) + code + channels + msg + scratch + lock + len(name or "")
            + chip.sysctrl.chip_id.address)


def main() -> None:
    chip: Chip = socdbg.connect("sim")
    try:
        print("bring_up", bring_up(chip))
    finally:
        chip.close()


if __name__ == "__main__":
    main()
''',
    "bad.py": '''\
from __future__ import annotations

from typing import TYPE_CHECKING

import socdbg

if TYPE_CHECKING:
    from chip import Chip


def main() -> None:
    chip: Chip = socdbg.connect("sim")
    chip.dma.ch[0].stauts.read()  # E: attr-defined
    chip.dma.ch[0].ctrl.write(enn=1)  # E: call-arg
    chip.dma.ch[0].ctrl.write(mode="RINF")  # E: arg-type
    chip.dma.ch[0].status.write(busy=1)  # E: call-arg
    chip.dma.ch[0].ctrl.write(en=1, mode="RING")
''',
    "kw_good.py": '''\
from __future__ import annotations

import socdbg
from kw import Chip


def main() -> int:
    chip: Chip = socdbg.connect("sim:kw.rdl")
    chip.class_.write(in_=1, from_="X4")
    chip.class_.from_.write("NONE")
    chip.global_[1].pass_.write(7)
    return chip.global_[0].def_.lambda_.read() + chip.class_.read()
''',
    "kw_bad.py": '''\
from __future__ import annotations

import socdbg
from kw import Chip


def main() -> None:
    chip: Chip = socdbg.connect("sim:kw.rdl")
    chip.class_.write(is_=0)  # E: call-arg
    chip.class_.write(from_="X8")  # E: arg-type
    chip.class_.write(in=1)  # E: syntax
''',
    # known bugs (see the xfail tests below)
    "context.py": '''\
from __future__ import annotations

import socdbg
from chip import Chip


def main() -> str:
    chip: Chip = socdbg.connect("sim")
    with chip:
        chip.sysctrl.scratch.write(1)
    return chip.map.name
''',
    "clash_use.py": '''\
from __future__ import annotations

import socdbg
from clash import Chip


def main() -> int:
    chip: Chip = socdbg.connect("sim:clash.rdl")
    chip.i2c_ctrl.address_.write(0x21)
    return chip.i2c_ctrl.read() + chip.i2c_ctrl.address
''',
}

#: kw_bad.py's last line is not Python at all: mypy stops there, so it goes in its own run.
SYNTAX_ONLY = {"kw_bad.py"}

ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<msg>.*?)"
                   r"(?:  \[(?P<code>[\w-]+)\])?$")


def socdbg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "socdbg", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, _socdbg_session_env: None) -> Path:
    """Stubs of the reference map (chip.pyi), of the keyword fixture (kw.pyi) and of the
    name-collision fixture (clash.pyi), with the scripts beside them."""
    work = tmp_path_factory.mktemp("stubs")
    res = socdbg("stubs", "-o", "chip.pyi", cwd=work)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("wrote chip.pyi: stubs of soc (")
    res = socdbg("--map", str(FIXTURES / "keywords.rdl"), "stubs", "-o", "kw.pyi", cwd=work)
    assert res.returncode == 0, res.stderr
    out = execute(Session(), f"stubs {FIXTURES / 'collisions.rdl'} -o {work / 'clash.pyi'}")
    assert out is not None and out.data["registers"] == 2
    for name, text in SCRIPTS.items():
        (work / name).write_text(text, encoding="utf-8")
    (work / "mypy.ini").write_text(MYPY_INI, encoding="utf-8")
    return work


def mypy(work: Path, files: list[str]) -> dict[str, list[tuple[int, str, str]]]:
    env = dict(os.environ)
    env["MYPYPATH"] = str(REPO)
    res = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini",
                          "--strict", "--no-color-output", "--cache-dir",
                          str(work / ".mypy_cache"), *files],
                         capture_output=True, text=True, cwd=work, env=env, timeout=300)
    found: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for line in res.stdout.splitlines():
        m = ERROR.match(line)
        if m:
            found[m["file"]].append((int(m["line"]), m["code"] or "syntax", m["msg"]))
        else:
            assert ": note: " in line or line.startswith(("Found ", "Success")), line
    return found


@pytest.fixture(scope="module")
def errors(workdir: Path) -> dict[str, list[tuple[int, str, str]]]:
    """mypy --strict over every script, in one run (and the syntax error in another)."""
    found = mypy(workdir, sorted(set(SCRIPTS) - SYNTAX_ONLY))
    found.update(mypy(workdir, sorted(SYNTAX_ONLY)))
    return found


def marked(name: str) -> list[tuple[int, str]]:
    return [(i, line.rsplit("# E: ", 1)[1].strip())
            for i, line in enumerate(SCRIPTS[name].splitlines(), 1) if "# E: " in line]


# --- the stub files --------------------------------------------------------------------------
def test_the_reference_stub(workdir: Path) -> None:
    text = (workdir / "chip.pyi").read_text()
    assert text.startswith('"""Type stubs of register map soc (identity ')
    assert "\nclass Chip:\n" in text
    assert "    dma: Dma\n" in text
    assert "    ch: Array[DmaCh]\n" in text
    assert "    msg: Array[MailboxMsg]\n" in text
    ctrl = text.split("\nclass DmaChCtrl:\n", 1)[1].split("\n\n", 1)[0]
    assert ('    def write(self, whole: int | None = None, /, *, en: int = ..., start: int = ..., '
            "mode: int | Literal['SINGLE', 'CHAIN', 'RING'] = ..., irq_en: int = ..., "
            "reduce: int | Literal['NONE', 'FP32_ADD', 'BF16_ADD', 'INT32_ADD'] = ...) "
            "-> Value: ..."
            ) in ctrl
    status = text.split("\nclass DmaChStatus:\n", 1)[1].split("\n\n", 1)[0]
    assert "    busy: FieldProxy\n" in status  # readable...
    assert "busy:" not in status.split("def write", 1)[1]  # ...but not a write() argument
    chip_id = text.split("\nclass SysctrlChipId:\n", 1)[1].split("\n\n", 1)[0]
    assert "    def write(self, whole: int | None = None, /) -> Value: ..." in chip_id
    compile(text, "chip.pyi", "exec")


def test_the_keyword_stub(workdir: Path) -> None:
    text = (workdir / "kw.pyi").read_text()
    assert "    class_: Class\n" in text
    assert "    global_: Array[Global]\n" in text
    assert "    in_: FieldProxy\n" in text and "    is_: FieldProxy\n" in text
    assert "from_: int | Literal['NONE', 'X1', 'X4'] = ..." in text
    assert "is_: int" not in text  # read-only
    assert "    pass_: GlobalPass\n" in text and "    lambda_: FieldProxy\n" in text
    compile(text, "kw.pyi", "exec")


def test_stubs_wants_a_pyi_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"should end in \.pyi"):
        execute(Session(), f"stubs -o {tmp_path / 'chip.py'}")
    assert not (tmp_path / "chip.py").exists()


# --- mypy ------------------------------------------------------------------------------------
def test_a_correct_script_passes_mypy_strict(errors: dict[str, list[tuple[int, str, str]]],
                                             workdir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert errors.get("good.py", []) == []
    assert errors.get("chip.pyi", []) == [] and errors.get("kw.pyi", []) == []
    assert not [f for f in errors if f.startswith(("/", "socdbg"))], errors
    # and it runs
    runpy.run_path(str(workdir / "good.py"), run_name="__main__")
    assert capsys.readouterr().out.startswith("bring_up ")


def test_mypy_flags_each_mistake(errors: dict[str, list[tuple[int, str, str]]]) -> None:
    got = errors["bad.py"]
    assert [(line, code) for line, code, _ in got] == marked("bad.py")
    messages = [msg for _, _, msg in got]
    assert messages[0] == '"DmaCh" has no attribute "stauts"; maybe "status"?'
    assert messages[1] == ('Unexpected keyword argument "enn" for "write" of "DmaChCtrl"; '
                           'did you mean "en"?')
    assert messages[2].startswith('Argument "mode" to "write" of "DmaChCtrl" has incompatible '
                                  "type \"Literal['RINF']\"")
    assert messages[3] == 'Unexpected keyword argument "busy" for "write" of "DmaChStatus"'


def test_keyword_names_type_check(errors: dict[str, list[tuple[int, str, str]]]) -> None:
    assert errors.get("kw_good.py", []) == []
    # the keyword itself is not even Python: the stub's in_ is the only way to name it
    assert [(line, code) for line, code, _ in errors["kw_bad.py"]] == [(11, "syntax")]


def test_keyword_mistakes_are_flagged(workdir: Path) -> None:
    text = SCRIPTS["kw_bad.py"].replace("    chip.class_.write(in=1)  # E: syntax\n", "")
    (workdir / "kw_bad2.py").write_text(text, encoding="utf-8")
    got = mypy(workdir, ["kw_bad2.py"])
    assert [(line, code) for line, code, _ in got["kw_bad2.py"]] == [(9, "call-arg"),
                                                                      (10, "arg-type")]


# --- known bugs ------------------------------------------------------------------------------
def test_the_chip_stub_has_the_context_manager_and_map(
        errors: dict[str, list[tuple[int, str, str]]]) -> None:
    assert errors.get("context.py", []) == []


def test_fields_named_like_register_attributes_type_check(
        errors: dict[str, list[tuple[int, str, str]]]) -> None:
    assert errors.get("clash.pyi", []) == []
    assert errors.get("clash_use.py", []) == []
