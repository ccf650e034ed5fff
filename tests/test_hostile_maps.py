"""Hostile register maps: a map file is untrusted input (docs/security.md).

Each attack a few hundred bytes long that used to run for minutes, eat gigabytes or end in a
traceback is a regression test here: huge arrays (SVD ``dim``, SystemRDL and IP-XACT arrays,
nested arrays that multiply), huge ``dimIncrement``, addresses past 64 bits or negative, absurd
register widths, long ``derivedFrom`` chains, Verilog macro bombs. Each must end in one
:class:`MapError` line naming the file (and the line, where the format has one).

Then hypothesis mutates real files (the SVD feature fixture, a vendor SVD from pyOCD, a
SystemRDL fixture, an IP-XACT file) and every loader must either load the result or raise
socdbg's one-line error: zero tracebacks.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socdbg.errors import MapError
from socdbg.regmap import load_map
from socdbg.regmap.model import DEFAULT_MAX_REGISTERS, max_registers

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SVD_SEED = FIXTURES / "svd" / "features.svd"
RDL_SEED = FIXTURES / "rdl" / "arrays.rdl"
IPXACT_SEED = FIXTURES / "ipxact" / "small.xml"


def svd(registers: str, peripheral: str = "", base: str = "0") -> str:
    return ("<device><name>D</name><peripherals><peripheral><name>P</name>"
            f"<baseAddress>{base}</baseAddress>{peripheral}<registers>{registers}</registers>"
            "</peripheral></peripherals></device>\n")


def reg(name: str, extra: str = "", offset: str = "0") -> str:
    return f"<register><name>{name}</name>{extra}<addressOffset>{offset}</addressOffset></register>"


def dim(count: str, step: str = "4") -> str:
    return f"<dim>{count}</dim><dimIncrement>{step}</dimIncrement>"


def _chain(n: int) -> str:
    """``n`` registers, each derived from the next one: resolving the first walks them all."""
    return "".join(
        f'<register derivedFrom="R{i + 1}"><name>R{i}</name>'
        f"<addressOffset>{4 * i}</addressOffset></register>" for i in range(n - 1)
    ) + reg(f"R{n - 1}", offset=str(4 * (n - 1)))


def _nested(depth: int) -> str:
    return ("<cluster><name>C</name><addressOffset>0</addressOffset>" * depth + reg("R")
            + "</cluster>" * depth)


def _macro_bomb() -> str:
    lines = ["`define A0 x x x x x x x x x x"]
    lines += [f"`define A{i} " + " ".join([f"`A{i - 1}"] * 10) for i in range(1, 9)]
    return "\n".join(lines) + "\naddrmap top { reg { field {} f; } rg; };\n`A8\n"


#: (id, file name, text, what the error says)
ATTACKS = [
    ("svd-dim", "a.svd", svd(reg("R[%s]", dim("0x10000000000"))), "dim 1,099,511,627,776"),
    ("svd-dim-scaled", "a.svd", svd(reg("R[%s]", dim("1T"))), "above the limit"),
    ("svd-nested-dims", "a.svd", svd(
        "<cluster><name>A[%s]</name>" + dim("1000", "0x100000") + "<addressOffset>0"
        "</addressOffset><cluster><name>B[%s]</name>" + dim("1000", "0x400")
        + "<addressOffset>0</addressOffset>" + reg("R[%s]", dim("100")) + "</cluster>"
        "</cluster>"), "100,000,000 registers"),
    ("svd-peripheral-dim", "a.svd", svd(reg("R[%s]", dim("1000")),
                                        peripheral=dim("100000", "0x1000")),
     "100,000,000 registers"),
    ("svd-dim-increment", "a.svd", svd(reg("R[%s]", dim("2", "0xFFFFFFFFFFFFFFFF"))),
     "beyond the 64-bit address space"),
    ("svd-dim-increment-times-dim", "a.svd", svd(reg("R[%s]", dim("100", "0x1000000000000000"))),
     "beyond the 64-bit address space"),
    ("svd-offset", "a.svd", svd(reg("R", offset="0x10000000000000000")),
     "beyond the 64-bit address space"),
    ("svd-base", "a.svd", svd(reg("R", offset="0x10"), base="0xFFFFFFFFFFFFFFFF"),
     "beyond the 64-bit address space"),
    ("svd-negative", "a.svd", svd(reg("R", offset="-4")), "not a number"),
    ("svd-size", "a.svd", svd(reg("R", "<size>0x1000000000</size>")), "wider than 1024 bits"),
    ("svd-dim-index", "a.svd", svd(reg("R%s", dim("3") + "<dimIndex>0-99999999999</dimIndex>")),
     "100,000,000,000 entries but dim is 3"),
    ("svd-field-dim", "a.svd", svd(reg("R", "<fields><field><name>F%s</name><bitOffset>0"
                                        "</bitOffset><bitWidth>1</bitWidth>" + dim("1T", "1")
                                        + "</field></fields>")), "above the limit"),
    ("svd-field-width-enum", "a.svd", svd(reg(
        "R", "<fields><field><name>F</name><bitOffset>0</bitOffset><bitWidth>0x100000000000"
        "</bitWidth>" + dim("2", "1") + "<enumeratedValues><enumeratedValue><name>A</name>"
        "<value>1</value></enumeratedValue></enumeratedValues></field></fields>")),
     "do not fit the 32-bit register"),
    ("svd-derived-chain", "a.svd", svd(_chain(500)), "a chain of more than 64"),
    ("svd-nested-clusters", "a.svd", svd(_nested(300)), "nested more than 64 deep"),
    ("rdl-array", "a.rdl", "addrmap top { reg { field {} f; } rg[1000000000] @ 0 += 4; };\n",
     "rg[1000000000] has 1,000,000,000 elements"),
    ("rdl-multi-dim", "a.rdl", "addrmap top { reg { field {} f; } rg[1000][1000][1000]; };\n",
     "rg[1000][1000][1000] has 1,000,000,000 elements"),
    ("rdl-nested-arrays", "a.rdl",
     "addrmap top { regfile a_t { reg { field {} f; } rg[100] += 4; };\n"
     "regfile b_t { a_t a[1000] += 0x1000; };\nb_t b[1000] += 0x1000000; };\n",
     "regfile b makes 100,000,000 registers"),
    ("rdl-address", "a.rdl", "addrmap top { reg { field {} f; } rg @ 0xFFFFFFFFFFFFFFFFFFFF; };\n",
     "beyond the 64-bit address space"),
    ("rdl-stride", "a.rdl",
     "addrmap top { reg { field {} f; } rg[5] @ 0 += 0x4000000000000000; };\n",
     "beyond the 64-bit address space"),
    ("rdl-width", "a.rdl", "addrmap top { reg { regwidth = 1073741824; field {} f[8]; } rg; };\n",
     "1073741824 bits wide"),
    ("rdl-macro-bomb", "a.rdl", _macro_bomb(), "macros expand to more than"),
]


def _ipxact(old: str, new: str) -> str:
    text = IPXACT_SEED.read_text()
    assert old in text
    return text.replace(old, new, 1)


IPXACT_ATTACKS = [
    ("ipxact-dim", ("<ipxact:dim>4</ipxact:dim>\n          <ipxact:addressOffset>'h200",
                    "<ipxact:dim>1000000000</ipxact:dim>\n          <ipxact:addressOffset>'h200"),
     "data[1000000000] has 1,000,000,000 elements"),
    ("ipxact-multi-dim", ("<ipxact:dim>4</ipxact:dim>\n          <ipxact:addressOffset>'h200",
                          "<ipxact:dim>1000</ipxact:dim><ipxact:dim>1000</ipxact:dim>"
                          "<ipxact:dim>1000</ipxact:dim><ipxact:addressOffset>'h200"),
     "has 1,000,000,000 elements"),
    ("ipxact-address", ("'h200", "'hFFFFFFFFFFFFFFFFFF"), "beyond the 64-bit address space"),
    ("ipxact-negative", ("'h200", "-16"), "negative offset"),
]


@pytest.mark.parametrize(("name", "text", "says"), [a[1:] for a in ATTACKS],
                         ids=[a[0] for a in ATTACKS])
def test_tiny_hostile_map_is_one_error_naming_file_and_line(tmp_path: Path, name: str,
                                                            text: str, says: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MapError) as info:
        load_map([path], use_cache=False)
    message = str(info.value)
    assert says in message
    assert re.match(re.escape(str(path)) + r":\d+: ", message), message
    assert "\n" not in message


@pytest.mark.parametrize(("edit", "says"), [a[1:] for a in IPXACT_ATTACKS],
                         ids=[a[0] for a in IPXACT_ATTACKS])
def test_hostile_ipxact_is_one_error_naming_the_file(tmp_path: Path, edit: tuple[str, str],
                                                     says: str) -> None:
    path = tmp_path / "a.xml"
    path.write_text(_ipxact(*edit))
    with pytest.raises(MapError) as info:
        load_map([path], use_cache=False)
    message = str(info.value)
    assert says in message
    assert re.match(re.escape(str(path)) + r":\d+: ", message), message
    assert "\n" not in message


def test_the_limit_is_the_register_count_and_the_environment_sets_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.svd"
    path.write_text(svd(reg("R[%s]", dim("1000")) + reg("S[%s]", dim("24"), "0x1000")))
    assert max_registers() == DEFAULT_MAX_REGISTERS
    assert len(load_map([path], use_cache=False)) == 1024
    monkeypatch.setenv("SOCDBG_MAX_REGISTERS", "1024")
    assert len(load_map([path], use_cache=False)) == 1024
    monkeypatch.setenv("SOCDBG_MAX_REGISTERS", "0x3ff")
    with pytest.raises(MapError, match=r"register\[S\[%s\]\]: register S\[%s\] makes 1,024 "
                                       r"registers, more than the limit of 1,023"):
        load_map([path], use_cache=False)
    monkeypatch.setenv("SOCDBG_MAX_REGISTERS", "lots")
    with pytest.raises(MapError, match="SOCDBG_MAX_REGISTERS='lots' is not a positive number"):
        load_map([path], use_cache=False)


def test_rdl_limit_counts_nested_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    path = tmp_path / "m.rdl"
    path.write_text("addrmap top { regfile a_t { reg { field {} f; } rg[10] += 4; };\n"
                    "a_t a[10] += 0x100; };\n")
    monkeypatch.setenv("SOCDBG_MAX_REGISTERS", "100")
    assert len(load_map([path], use_cache=False)) == 100
    monkeypatch.setenv("SOCDBG_MAX_REGISTERS", "99")
    with pytest.raises(MapError, match=r"m\.rdl:2: regfile a makes 100 registers"):
        load_map([path], use_cache=False)


def test_cli_prints_the_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bomb.svd"
    path.write_text(svd(reg("R[%s]", dim("0x10000000000"))))
    assert len(path.read_bytes()) < 300
    proc = subprocess.run([sys.executable, "-m", "socdbg", "--map", str(path), "info"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{path}:1: " in lines[0] and "dim 1,099,511,627,776" in lines[0]


# --------------------------------------------------------------------------------------------
# fuzzing: mutated real files
# --------------------------------------------------------------------------------------------
#: Numbers a mutation puts where the file had one.
HOSTILE_NUMBERS = ["0", "1", "-1", "-0x10", "4294967296", "0xFFFFFFFFFFFFFFFF",
                   "0x10000000000000000", "18446744073709551616", "1000000000", "1T", "0x7fffffff",
                   "#1x1x", "99999999999999999999999999", "3.5", "0x", "'hFFFFFFFFFFFFFFFFFFFF",
                   "1e9"]
_NUMBER = re.compile(r"'h[0-9A-Fa-f]+|0[xX][0-9A-Fa-f]+|\d+")


@st.composite
def mutated(draw: st.DrawFn, seed: str) -> str:
    """``seed`` with one to four edits: a number made hostile, a slice deleted or repeated,
    random text spliced in."""
    text = seed
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["number", "number", "delete", "repeat", "splice"]))
        if kind == "number":
            spots = list(_NUMBER.finditer(text))
            if not spots:
                continue
            m = spots[draw(st.integers(0, len(spots) - 1))]
            value = draw(st.sampled_from(HOSTILE_NUMBERS) | st.integers(-2**70, 2**70).map(str))
            text = text[:m.start()] + value + text[m.end():]
            continue
        at = draw(st.integers(0, len(text)))
        size = draw(st.integers(0, 200))
        if kind == "delete":
            text = text[:at] + text[at + size:]
        elif kind == "repeat":
            text = text[:at + size] + text[at:at + size] * draw(st.integers(1, 5)) + text[at:]
        else:
            junk = draw(st.text(st.sampled_from("<>/=\"'[]{};%`@#:.,-_ \n0123456789abcdefxAZ"),
                                max_size=30))
            text = text[:at] + junk + text[at:]
    return text.replace("<%", "< %")  # never run the Perl preprocessor on random text


def _loads_or_says_where(name: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        try:
            load_map([path], use_cache=False)
        except MapError as exc:
            message = str(exc)
            assert "\n" not in message, message
            assert message, "an empty error"


def fuzz(examples: int) -> settings:
    """Settings for a fuzzer; ``SOCDBG_FUZZ_SCALE=10`` runs ten times the examples."""
    examples *= int(os.environ.get("SOCDBG_FUZZ_SCALE", "1"))
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@fuzz(150)
@given(mutated(SVD_SEED.read_text()))
def test_fuzz_svd_feature_file(text: str) -> None:
    _loads_or_says_where("m.svd", text)


def _vendor_svd() -> str:
    spec = importlib.util.find_spec("pyocd")
    if spec is None or not spec.submodule_search_locations:
        return ""
    zip_path = Path(next(iter(spec.submodule_search_locations))) / "debug" / "svd" / "svd_data.zip"
    with zipfile.ZipFile(zip_path) as zf:
        return zf.read("Musca.svd").decode()


VENDOR_SVD = _vendor_svd()


@pytest.mark.skipif(not VENDOR_SVD, reason="pyocd (and its vendor SVD files) is not installed")
@fuzz(40)
@given(mutated(VENDOR_SVD or "<device/>"))
def test_fuzz_vendor_svd(text: str) -> None:
    _loads_or_says_where("vendor.svd", text)


@fuzz(60)
@given(mutated(RDL_SEED.read_text()))
def test_fuzz_systemrdl(text: str) -> None:
    _loads_or_says_where("m.rdl", text)


@fuzz(60)
@given(mutated(IPXACT_SEED.read_text()))
def test_fuzz_ipxact(text: str) -> None:
    _loads_or_says_where("m.xml", text)
