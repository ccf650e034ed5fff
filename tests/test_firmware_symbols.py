"""Symbols of loaded images: ``sym NAME`` / ``sym ADDR``, symbols in every address argument
(``counter``, ``counter+0x10``, ``&counter``), widths from symbol sizes, completion, several
images at once. Addresses, sizes, types and sections are cross-checked against
riscv64-unknown-elf-nm and -readelf on ELF files built during the run."""

from __future__ import annotations

import io

import firmware_build as fb
import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from rich.console import Console
from session_support import run

from socdbg.commands.dispatch import execute
from socdbg.commands.registry import Output
from socdbg.commands.session import Session
from socdbg.errors import SocdbgError, UsageError
from socdbg.firmware import read_elf
from socdbg.shell.completer import ShellCompleter

#: nm's type letter -> the section socdbg must name
NM_SECTIONS = {"T": ".text", "R": ".rodata", "D": ".data", "B": ".bss"}


@pytest.fixture
def soc_session(fw: fb.Images) -> Session:
    session = Session(out=io.StringIO())
    run(session, f"load {fw.soc.path}")
    return session


def rendered(out: Output) -> str:
    """What the shell prints for ``out`` (Session.emit's view, at 120 columns, no colour)."""
    if out.stream is not None:
        return "".join(line + "\n" for line in out.stream)
    console = Console(file=io.StringIO(), width=120, no_color=True, highlight=False)
    console.print(out.render() if out.render is not None else out.text)
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def is_mapping_symbol(name: str) -> bool:
    """RISC-V ISA mapping symbols ($x<isa>, $d): nm hides them."""
    return name.startswith(("$x", "$d"))


# --------------------------------------------------------------------------------------------
# the symbol table against binutils
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("image", list(fb.IMAGES))
def test_every_symbol_address_matches_nm(fw: fb.Images, image: str) -> None:
    f = fw.by_name[image]
    table = read_elf(f.path).symbols
    assert f.nm_rows, "nm listed no symbols"
    for name, address, letter in f.nm_rows:
        sym = table.lookup(name)
        assert sym is not None, f"nm lists {name}, socdbg does not"
        if sym.address != address:
            # a name defined twice (a static beside a global, or statics in two files): by
            # name socdbg gives the global one when there is one; every one is a candidate,
            # and is found by its address
            assert letter.islower(), name
            if f.nm[name][1].isupper():
                assert sym.address == f.nm[name][0], name
            assert address in [c.address for c in table.candidates(name)], name
            hit = table.containing(address)
            assert hit is not None, name
            sym = hit[0]
            assert (sym.name, sym.address, hit[1]) == (name, address, 0)
        assert sym.section == NM_SECTIONS[letter.upper()], name
        assert sym.bind == ("global" if letter.isupper() else "local"), name
        assert sym.image == image
    # and the other way round: socdbg invents nothing nm does not show (but mapping symbols)
    extra = [n for n in table.names() if n not in f.nm and not is_mapping_symbol(n)]
    assert extra == []


@pytest.mark.parametrize("image", list(fb.IMAGES))
def test_sizes_types_binds_and_sections_match_readelf(fw: fb.Images, image: str) -> None:
    f = fw.by_name[image]
    table = read_elf(f.path).symbols
    wanted = [s for s in f.symbols if s.type not in ("SECTION", "FILE") and s.ndx != "UND"
              and not is_mapping_symbol(s.name)]
    assert {"counter", "ticks", "banner", "table", "main", "_start"} <= {s.name for s in wanted}
    for rs in wanted:
        sym = table.lookup(rs.name)
        assert sym is not None, rs.name
        if sym.address != rs.value:  # the shadowed static of a repeated name
            assert rs.bind == "LOCAL", rs.name
            assert sym.bind == "global" or table.ambiguous(rs.name), rs.name
            hit = table.containing(rs.value)
            assert hit is not None and hit[1] == 0, rs.name
            sym = hit[0]
        assert (sym.name, sym.address, sym.size, sym.kind, sym.bind) == \
            (rs.name, rs.value, rs.size, rs.type.lower(), rs.bind.lower())
        section = "*ABS*" if rs.ndx == "ABS" else f.sections[int(rs.ndx)]
        assert sym.section == section, rs.name
    # mapping symbols ($x, $d, $xrv64i...) are hidden, as nm hides them
    assert len(table) == len({s.name for s in wanted})
    assert not [n for n in table.names() if n.startswith("$")]


def test_a_global_wins_over_a_static_of_the_same_name(fw: fb.Images) -> None:
    """vars.c has `static counter` beside main.c's global `counter` (split image)."""
    f = fw.split
    rows = [r for r in f.symbols if r.name == "counter"]
    assert sorted(r.bind for r in rows) == ["GLOBAL", "LOCAL"]
    static = next(r.value for r in rows if r.bind == "LOCAL")
    session = Session(out=io.StringIO())
    run(session, f"load {f.path}")
    assert run(session, "sym counter").data["address"] == f.nm["counter"][0]
    assert run(session, "peek counter").data["words"] == [0x1234]
    assert run(session, f"sym {static:#x}").data["symbol"] == "counter"
    assert run(session, f"peek {static:#x}").data["words"] == [7]  # the static's initialiser


def test_known_symbols_of_the_test_firmware(fw: fb.Images) -> None:
    """What main.c declares, as readelf sees it (guards the cross-check against a firmware
    that quietly lost its variables)."""
    rows = {s.name: s for s in fw.soc.symbols}
    assert (rows["counter"].size, rows["counter"].type) == (4, "OBJECT")
    assert (rows["ticks"].size, rows["ticks"].type) == (8, "OBJECT")
    assert (rows["table"].size, rows["table"].type) == (256, "OBJECT")
    assert (rows["banner"].size, rows["banner"].type) == (21, "OBJECT")
    assert rows["main"].type == "FUNC"


# --------------------------------------------------------------------------------------------
# sym NAME, sym ADDR
# --------------------------------------------------------------------------------------------
def test_sym_name_prints_address_size_type_section_and_image(
        fw: fb.Images, soc_session: Session) -> None:
    a = fw.soc.addr("counter")
    out = run(soc_session, "sym counter")
    assert out.text == f"counter = {a:#x}  size 4  global object  .data  (fw_soc.elf)"
    assert out.data == {"name": "counter", "address": a, "size": 4, "type": "object",
                        "bind": "global", "section": ".data", "image": "fw_soc.elf",
                        "file": ""}
    main = run(soc_session, "sym main")
    assert main.data["type"] == "func" and main.data["section"] == ".text"
    assert run(soc_session, "sym &ticks").data["size"] == 8
    assert run(soc_session, "sym banner").data["section"] == ".rodata"


@pytest.mark.parametrize(("expr", "symbol", "offset"), [
    ("counter", "counter", 0),
    ("counter+0x1", "counter", 1),
    ("table+0x10", "table", 0x10),
    ("table+255", "table", 255),
    ("main+0x2", "main", 2),
    ("ticks+7", "ticks", 7),
])
def test_sym_addr_prints_symbol_plus_offset(fw: fb.Images, soc_session: Session, expr: str,
                                           symbol: str, offset: int) -> None:
    base, _, off = expr.partition("+")
    address = fw.soc.addr(base) + (int(off, 0) if off else 0)
    out = run(soc_session, f"sym {address:#x}")
    suffix = f"+{offset:#x}" if offset else ""
    assert out.text is not None and out.text.startswith(f"{address:#x} = {symbol}{suffix}  (")
    assert out.text.endswith(", fw_soc.elf)")
    assert (out.data["symbol"], out.data["offset"]) == (symbol, offset)
    # an expression names the same address
    if offset:
        assert run(soc_session, f"sym {expr}").data["address"] == address


def test_sym_of_an_unsized_label_is_label_plus_offset(fw: fb.Images, soc_session: Session
                                                      ) -> None:
    done = fw.soc.addr("done")
    assert run(soc_session, f"sym {done:#x}").data["symbol"] == "done"
    assert run(soc_session, f"sym {done + 1:#x}").text.startswith(f"{done + 1:#x} = done+0x1")


def test_sym_of_an_address_below_every_symbol_has_no_symbol(soc_session: Session) -> None:
    out = run(soc_session, f"sym {0x1000_0000 - 0x10:#x}")  # below everything
    assert not out.ok and out.text == "0xffffff0: no symbol contains this address"


@pytest.mark.parametrize("address", [0x8000_0000, 0x2000_0000, 0x1008_0000],
                         ids=["dram", "no-memory", "sram-far-past-the-image"])
def test_sym_of_an_address_far_from_every_symbol_has_no_symbol(
        soc_session: Session, address: int) -> None:
    """Regression: SymbolTable.containing() matches the highest unsized symbol
    (__stack_top) for any address above it, so `sym 0x80000000` with only the sram image
    loaded said __stack_top+0x6fffee50. Lookups are now limited to the image's segments."""
    out = run(soc_session, f"sym {address:#x}")
    assert out.data["symbol"] is None, out.text
    assert not out.ok


def test_peek_in_dram_is_not_labelled_with_an_sram_symbol(fw: fb.Images) -> None:
    """Regression: with only the sram image loaded, `peek 0x80000000` labelled the first
    dram word __stack_top+0x6fffee50 instead of dram+0x0."""
    session = Session(out=io.StringIO())
    run(session, f"load {fw.soc.path}")
    text = rendered(run(session, "peek 0x80000000"))
    assert "__stack_top" not in text
    assert "dram+0x0" in text


def test_sym_without_an_image_says_load_first() -> None:
    with pytest.raises(UsageError) as err:
        execute(Session(out=io.StringIO()), "sym counter")
    assert err.value.message == "no image loaded"
    assert err.value.hint is not None and "load" in err.value.hint


@pytest.mark.parametrize(("typo", "meant"), [("countr", "counter"), ("tick", "ticks"),
                                             ("&baner", "banner")])
def test_unknown_symbol_is_an_error_with_the_close_match(soc_session: Session, typo: str,
                                                         meant: str) -> None:
    with pytest.raises(UsageError) as err:
        execute(soc_session, f"sym {typo}")
    assert err.value.message == f"no symbol '{typo.lstrip('&')}' in fw_soc.elf"
    assert err.value.hint is not None and f"'{meant}'" in err.value.hint


@pytest.mark.parametrize(("line", "meant"), [("peek countr", "counter"),
                                             ("poke countr 1", "counter"),
                                             ("peek &tick", "ticks")])
def test_unknown_symbol_in_an_address_argument_suggests_the_close_symbol(
        soc_session: Session, line: str, meant: str) -> None:
    """Regression: a mistyped symbol in peek/poke got only the register map's close matches
    ('the map has: dma, hbm, ...'), never the symbol."""
    with pytest.raises(SocdbgError) as err:
        execute(soc_session, line)
    assert err.value.hint is not None and f"'{meant}'" in err.value.hint
    assert "\n" not in str(err.value)


def test_unknown_name_in_an_address_argument_is_one_error(soc_session: Session) -> None:
    with pytest.raises(SocdbgError) as err:
        execute(soc_session, "peek no_such_symbol")
    assert err.value.message == \
        "'no_such_symbol' is not an address, register, memory or symbol"


# --------------------------------------------------------------------------------------------
# symbols as addresses: peek, poke
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expr", "delta"), [
    ("counter", 0), ("&counter", 0), ("counter+0x0", 0), ("table+0x10", 0x10),
    ("&table+0x10", 0x10), ("table + 16", 0x10), ("ticks-0x8", -8),
])
def test_peek_accepts_symbol_expressions(fw: fb.Images, soc_session: Session, expr: str,
                                         delta: int) -> None:
    base = expr.lstrip("&").replace(" ", "").split("+")[0].split("-")[0]
    out = run(soc_session, f"peek {expr}" if " " not in expr else f"peek '{expr}'")
    assert out.data["address"] == fw.soc.addr(base) + delta


def test_peek_reads_the_variable_with_the_width_of_its_symbol(fw: fb.Images,
                                                              soc_session: Session) -> None:
    counter = run(soc_session, "peek counter")
    assert (counter.data["width"], counter.data["words"]) == (32, [0x1234])
    ticks = run(soc_session, "peek ticks")
    assert ticks.data["width"] == 64  # an 8-byte object
    # an offset or an odd size falls back to 32 bits; --width wins over the symbol
    assert run(soc_session, "peek ticks+0x0").data["width"] == 64  # no offset after all
    assert run(soc_session, "peek ticks+0x8").data["width"] == 32
    assert run(soc_session, "peek table").data["width"] == 32  # 256 bytes
    assert run(soc_session, "peek banner").data["width"] == 32  # 21 bytes
    assert run(soc_session, "peek _start").data["width"] == 32  # a label
    assert run(soc_session, "peek -w 16 main").data["width"] == 16  # a function (RVC: 2-aligned)
    assert run(soc_session, "peek -w 8 counter").data["words"] == [0x34]
    banner = run(soc_session, "peek banner 6").data["words"]
    raw = b"".join(w.to_bytes(4, "little") for w in banner)
    assert raw.startswith(b"socdbg test firmware")


def test_one_and_two_byte_variables_are_read_and_written_at_their_width(fw: fb.Images
                                                                       ) -> None:
    session = Session(out=io.StringIO())
    run(session, f"load {fw.split.path}")
    flag = run(session, "peek flag8")
    half = run(session, "peek &half16")
    assert (flag.data["width"], flag.data["words"]) == (8, [0x5A])
    assert (half.data["width"], half.data["words"]) == (16, [0xBEEF])
    assert run(session, "poke flag8 0xa5").data["width"] == 8
    assert run(session, "poke half16 0x1234").data["width"] == 16
    sim = session.target
    assert sim.read_block(fw.split.addr("half16"), 3) == bytes([0x34, 0x12, 0xA5])
    with pytest.raises(SocdbgError, match="does not fit 8 bits"):
        execute(session, "poke flag8 0x100")


def test_peek_labels_words_with_symbols(fw: fb.Images, soc_session: Session) -> None:
    text = rendered(run(soc_session, "peek counter"))
    assert text.split() == [f"{fw.soc.addr('counter'):#010x}", "0x00001234", "4...",
                            "counter"]


@pytest.mark.parametrize(("expr", "value", "width"), [
    ("counter", 0x55AA, 4), ("&counter", 0xDEAD_BEEF, 4), ("table+0x10", 7, 4),
    ("ticks", 0x1_0000_0001, 8), ("&table+0x20", 0xFFFF_FFFF, 4),
])
def test_poke_accepts_symbol_expressions(fw: fb.Images, soc_session: Session, expr: str,
                                         value: int, width: int) -> None:
    base, _, off = expr.lstrip("&").partition("+")
    address = fw.soc.addr(base) + (int(off, 0) if off else 0)
    out = run(soc_session, f"poke {expr} {value:#x}")
    assert out.data == {"address": address, "value": value, "width": width * 8}
    assert soc_session.target.read(address, width) == value.to_bytes(width, "little")
    assert run(soc_session, f"peek {expr}").data["words"][0] == value


def test_poke_refuses_a_value_wider_than_the_variable(soc_session: Session) -> None:
    with pytest.raises(SocdbgError) as err:
        execute(soc_session, "poke counter 0x100000000")
    assert "does not fit 32 bits" in err.value.message


# --------------------------------------------------------------------------------------------
# completion
# --------------------------------------------------------------------------------------------
def complete(session: Session, text: str) -> list[tuple[str, int, str]]:
    completer = ShellCompleter(session)
    return [(c.text, c.start_position, c.display_meta_text)
            for c in completer.get_completions(Document(text), CompleteEvent())]


@pytest.mark.parametrize(("typed", "offered"), [
    ("peek cou", "counter"), ("peek &cou", "&counter"), ("poke tic", "ticks"),
    ("sym ban", "banner"), ("peek ta", "table"), ("peek __bss_s", "__bss_start"),
])
def test_completion_offers_symbol_names(soc_session: Session, typed: str, offered: str
                                        ) -> None:
    got = complete(soc_session, typed)
    word = typed.split()[-1]
    assert (offered, -len(word), "symbol") in got


def test_completion_has_no_symbols_before_a_load() -> None:
    session = Session(out=io.StringIO())
    assert not any(meta == "symbol" for _, _, meta in complete(session, "peek cou"))


def test_completion_offers_symbols_of_every_image_once(fw: fb.Images) -> None:
    session = Session(out=io.StringIO())
    run(session, f"load --symbols-only {fw.soc.path}")
    run(session, f"load --symbols-only {fw.big.path}")  # also has banner, and big_buffer
    got = [t for t, _, meta in complete(session, "peek b") if meta == "symbol"]
    assert sorted(got) == ["banner", "big_buffer"]


# --------------------------------------------------------------------------------------------
# several images
# --------------------------------------------------------------------------------------------
def test_two_images_sym_says_which_image(fw: fb.Images) -> None:
    session = Session(out=io.StringIO())
    run(session, f"load --verify {fw.soc.path}")
    run(session, f"load --verify {fw.virt.path}")
    soc_counter, virt_counter = fw.soc.addr("counter"), fw.virt.addr("counter")
    assert (soc_counter, virt_counter) == (0x1000_0098, 0x8000_0098)
    # by name: the most recently loaded image that defines it
    named = run(session, "sym counter")
    assert (named.data["address"], named.data["image"]) == (virt_counter, "fw_virt.elf")
    assert named.text is not None and named.text.endswith("(fw_virt.elf)")
    # by address: each image answers for its own memory
    assert run(session, f"sym {soc_counter:#x}").data == {
        "address": soc_counter, "symbol": "counter", "offset": 0, "image": "fw_soc.elf",
        "file": ""}
    assert run(session, f"sym {virt_counter + 2:#x}").data == {
        "address": virt_counter + 2, "symbol": "counter", "offset": 2, "image": "fw_virt.elf",
        "file": ""}
    # both copies of the variable are in memory
    assert run(session, f"peek {soc_counter:#x}").data["words"] == [0x1234]
    assert run(session, "peek counter").data["words"] == [0x1234]


def test_a_symbol_only_in_the_older_image_still_resolves(fw: fb.Images) -> None:
    session = Session(out=io.StringIO())
    run(session, f"load {fw.big.path}")  # dram, has big_buffer
    run(session, f"load {fw.soc.path}")  # sram, no big_buffer
    out = run(session, "sym big_buffer")
    assert (out.data["address"], out.data["image"]) == (fw.big.addr("big_buffer"), "fw_big.elf")
    assert out.data["size"] == 3 << 20
    assert run(session, "peek big_buffer+0x100").data["address"] == \
        fw.big.addr("big_buffer") + 0x100
