"""Two file-local symbols with one name: uart.c and spi.c each define ``static init`` and
``static state`` (tests/firmware, image fw_dup.elf built by the real cross compiler).

``sym NAME`` lists every one with its source file (the STT_FILE symbol before it), a bare
name in an address is an error naming the candidates, and ``'file.c'::NAME`` (gdb's syntax)
picks one. Files and addresses are cross-checked against riscv64-unknown-elf-readelf and -nm.
"""

from __future__ import annotations

import io

import firmware_build as fb
import pytest
from session_support import run

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.firmware import read_elf


@pytest.fixture
def session(fw: fb.Images) -> Session:
    s = Session(out=io.StringIO())
    run(s, f"load {fw.dup.path}")
    return s


def readelf_locals(f: fb.Firmware, name: str) -> dict[str, tuple[int, int]]:
    """source file -> (address, size) of each LOCAL ``name``, by readelf's own order: a
    local belongs to the FILE symbol before it."""
    out: dict[str, tuple[int, int]] = {}
    file = ""
    for s in f.symbols:
        if s.type == "FILE":
            file = s.name
        elif s.name == name and s.bind == "LOCAL":
            assert file not in out, f"two {name} in {file}"
            out[file] = (s.value, s.size)
    return out


@pytest.mark.parametrize("name", ["init", "state"])
def test_every_same_named_static_with_its_file_as_readelf_and_nm_see_them(
        fw: fb.Images, name: str) -> None:
    theirs = readelf_locals(fw.dup, name)
    assert set(theirs) == {"uart.c", "spi.c"}
    assert len({a for a, _ in theirs.values()}) == 2  # really two symbols, not an alias
    nm_addrs = sorted(a for n, a, _ in fw.dup.nm_rows if n == name)
    assert nm_addrs == sorted(a for a, _ in theirs.values())
    table = read_elf(fw.dup.path).symbols
    ours = {s.file: (s.address, s.size) for s in table.candidates(name)}
    assert ours == theirs
    assert [s.bind for s in table.candidates(name)] == ["local", "local"]
    assert table.ambiguous(name)  # no global among them
    for file, (address, size) in theirs.items():
        sym = table.in_file(file, name)
        assert sym is not None and (sym.address, sym.size, sym.file) == (address, size, file)
        assert sym.qualified == f"'{file}'::{name}"


def test_sym_lists_them_all(fw: fb.Images, session: Session) -> None:
    theirs = readelf_locals(fw.dup, "init")
    out = run(session, "sym init")
    assert out.data["ambiguous"] is True
    assert {c["file"]: (c["address"], c["size"]) for c in out.data["candidates"]} == theirs
    lines = out.text.splitlines()
    assert lines[0] == ("init: 2 symbols, none global: name one as 'uart.c'::init or "
                        "'spi.c'::init")
    for file, (address, size) in theirs.items():
        assert f"  init = {address:#x}  size {size}  local func  .text  (fw_dup.elf, " \
            f"{file})" in lines
    assert "address" not in out.data  # no single answer to pick


@pytest.mark.parametrize("line", ["peek &init", "peek init", "sym init+4", "peek state",
                                  "peek state+0x4", "sym &state"])
def test_a_bare_shared_name_in_an_address_asks_which(fw: fb.Images, session: Session,
                                                     line: str) -> None:
    name = "init" if "init" in line else "state"
    if line == "sym &state":  # sym NAME lists; &NAME is the same listing
        assert run(session, line).data["ambiguous"] is True
        return
    with pytest.raises(UsageError) as err:
        execute(session, line)
    msg, hint = str(err.value), err.value.hint or ""
    for file, (address, _) in readelf_locals(fw.dup, name).items():
        assert f"{name} in {file} ({address:#x})" in msg
        assert f"'{file}'::{name}" in hint
    assert msg.startswith(f"'{name}' is ambiguous in fw_dup.elf")


def test_a_write_to_a_shared_name_writes_nothing(fw: fb.Images, session: Session) -> None:
    before = session.target.read_block(0x1000_0000, 0x200)
    with pytest.raises(UsageError, match="ambiguous"):
        execute(session, "poke state 0x99")
    assert session.target.read_block(0x1000_0000, 0x200) == before


@pytest.mark.parametrize("spell", ["'{f}'::{n}", "{f}::{n}", "&'{f}'::{n}"])
def test_file_qualified_names_pick_one(fw: fb.Images, session: Session, spell: str) -> None:
    values = {"uart.c": 0x11, "spi.c": 0x22}  # the initialisers in the two files
    for file, (address, size) in readelf_locals(fw.dup, "state").items():
        text = spell.format(f=file, n="state")
        sym = run(session, f"sym {text}")
        assert (sym.data["address"], sym.data["size"], sym.data["file"]) == \
            (address, size, file)
        assert run(session, f"peek {text}").data["words"] == [values[file]]
        assert run(session, f"peek {text}+0").data["words"] == [values[file]]
    run(session, "poke 'spi.c'::state 0x5")
    assert run(session, "peek spi.c::state").data["words"] == [5]
    assert run(session, "peek uart.c::state").data["words"] == [0x11]


def test_a_qualified_name_in_the_wrong_file_says_where_it_is(session: Session) -> None:
    with pytest.raises(UsageError) as err:
        execute(session, "peek 'main.c'::init")
    assert str(err.value) == "no symbol 'init' local to 'main.c' (init is in spi.c, uart.c)"


def test_sym_addr_names_the_file(fw: fb.Images, session: Session) -> None:
    address, _ = readelf_locals(fw.dup, "init")["spi.c"]
    out = run(session, f"sym {address + 2:#x}")
    assert (out.data["symbol"], out.data["offset"], out.data["file"]) == ("init", 2, "spi.c")
    assert out.text == f"{address + 2:#x} = init+0x2  (func in .text, fw_dup.elf, spi.c)"
    assert run(session, "sym spi.c::init+0x2").data == out.data  # an expression of one


def test_a_global_beside_a_static_is_not_ambiguous(fw: fb.Images) -> None:
    """fw_split.elf: main.c's global counter and vars.c's static counter."""
    s = Session(out=io.StringIO())
    run(s, f"load {fw.split.path}")
    out = run(s, "sym counter")
    assert out.data["ambiguous"] is False
    assert out.data["address"] == fw.split.addr("counter")  # the global
    static = readelf_locals(fw.split, "counter")["vars.c"][0]
    assert [(c["bind"], c["file"]) for c in out.data["candidates"]] == \
        [("global", ""), ("local", "vars.c")]
    assert run(s, "sym 'vars.c'::counter").data["address"] == static
    assert run(s, "peek vars.c::counter").data["words"] == [7]
    assert run(s, "peek counter").data["words"] == [0x1234]
