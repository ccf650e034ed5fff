"""Real vendor SVD files that no one here wrote: the ~100 that pyOCD ships in
``pyocd/debug/svd/svd_data.zip`` (pyocd is a test dependency; the zip is opened from the
installed package, pyocd itself is not imported).

For a dozen vendors' files, random registers are checked against what an independent XPath
reading of the same file says: address (peripheral base + cluster + register offset), size,
reset, every field's bit positions, access and enumerated values; then every register of
derivedFrom peripherals and every element of dim arrays.
"""

from __future__ import annotations

import importlib.util
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from socdbg.errors import MapError
from socdbg.regmap import RegMap
from socdbg.regmap.svd import load_svd

#: One file per vendor (and two of NXP's generations); the vendor is the file's <vendor>
#: where it has one.
FILES = {
    "AIR001.svd": "AirM2M (Luat)",
    "apollo3.svd": "Ambiq Micro",
    "Musca.svd": "ARM Ltd.",
    "MK64F12.svd": "Freescale Semiconductor, Inc.",
    "HC32L110.svd": "HDSC Co.Ltd",
    "max32660.svd": "Maxim Integrated",
    "nrf52.svd": "Nordic Semiconductor",
    "M251_v1.svd": "Nuvoton",
    "LPC176x5x_v0.2.svd": "NXP (LPC)",
    "LPC55S69_cm33_core0.xml": "nxp.com (MCUXpresso)",
    "STM32F103xx.svd": "STMicroelectronics",
    "MIMXRT1011.xml": "nxp.com (i.MX RT)",
}
SAMPLES = 40  # random registers per file

ACCESS = {"read-only": "r", "read": "r", "write-only": "w", "write": "w", "read-write": "rw",
          "writeonce": "w1", "read-writeonce": "rw1"}


def svd_zip() -> Path:
    spec = importlib.util.find_spec("pyocd")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyocd is not installed (pip install -e '.[dev]')")
    return Path(next(iter(spec.submodule_search_locations))) / "debug" / "svd" / "svd_data.zip"


@pytest.fixture(scope="module")
def svd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("svd")
    with zipfile.ZipFile(svd_zip()) as zf:
        names = set(zf.namelist())
        for name in [*FILES, "nrf51.svd"]:
            assert name in names, f"{name} is no longer in pyocd's svd_data.zip"
            zf.extract(name, out)
    return out


# --- an independent reading, in XPath --------------------------------------------------------
def num(text: str | None) -> int:
    t = (text or "").strip().lower()
    if t.startswith("0x"):
        return int(t[2:], 16)
    if t.startswith("#"):
        return int(t[1:], 2)
    return int(t)


def first(el: Any, xpath: str) -> str | None:
    found = el.xpath(xpath)
    return str(found[0]).strip() if found else None


def inherited(chain: list[Any], tag: str) -> str | None:
    """``tag`` from the nearest of the elements in ``chain`` (register first, device last)."""
    for el in chain:
        v = first(el, f"{tag}/text()")
        if v is not None:
            return v
    return None


def bits_of(field: Any) -> tuple[int, int]:
    if field.xpath("bitOffset"):
        lsb = num(first(field, "bitOffset/text()"))
        return lsb, lsb + num(first(field, "bitWidth/text()") or "1") - 1
    if field.xpath("lsb"):
        return num(first(field, "lsb/text()")), num(first(field, "msb/text()"))
    msb_s, lsb_s = (first(field, "bitRange/text()") or "").strip("[]").split(":")
    return int(lsb_s), int(msb_s)


def expected_register(reg: Any, chain: list[Any]) -> dict[str, Any]:
    """What the file says of one register: size, reset, and fields {name: (lsb, msb, access,
    reset, enum members)}."""
    full = [reg, *chain]
    size = num(inherited(full, "size") or "32")
    rv = inherited(full, "resetValue")
    rm = inherited(full, "resetMask")
    value = num(rv) if rv is not None else None
    mask = (num(rm) if rm is not None else (1 << size) - 1) & ((1 << size) - 1)
    reg_access = ACCESS[(inherited(full, "access") or "read-write").lower()]
    fields: dict[str, tuple[int, int, str, int | None, set[tuple[str, int]] | None]] = {}
    field_els = reg.xpath("fields/field")
    if not field_els:
        name = first(reg, "name/text()") or ""
        reset = value & mask if value is not None and mask == (1 << size) - 1 else None
        fields[name.replace("[%s]", "")] = (0, size - 1, reg_access, reset, None)
    for f in field_els:
        lsb, msb = bits_of(f)
        fmask = ((1 << (msb - lsb + 1)) - 1) << lsb
        reset = None
        if value is not None and mask & fmask == fmask:
            reset = (value & fmask) >> lsb
        own = first(f, "access/text()")
        access = ACCESS[own.lower()] if own else reg_access
        enum = None
        ev = f.xpath("enumeratedValues")
        if len(ev) == 1 and not ev[0].get("derivedFrom") and not ev[0].xpath(
                "enumeratedValue/isDefault") and not ev[0].xpath("usage"):
            values = [(first(e, "name/text()"), first(e, "value/text()"))
                      for e in ev[0].xpath("enumeratedValue")]
            if all(v and "x" not in v.lower()[2:] + v.lower()[:1] for _, v in values):
                enum = {(n or "", num(v)) for n, v in values if num(v) < (1 << (msb - lsb + 1))}
        fields[first(f, "name/text()") or ""] = (lsb, msb, access, reset, enum or None)
    return {"size": size, "fields": fields}


def plain_registers(root: Any) -> Iterator[tuple[str, int, Any, list[Any]]]:
    """(path, address, register element, [cluster..., peripheral, device]) for every register
    of a non-derived, non-array peripheral outside any array or derivedFrom."""
    device = root
    for p in root.xpath("peripherals/peripheral[not(@derivedFrom) and not(dim)]"):
        base = num(first(p, "baseAddress/text()"))
        pname = first(p, "name/text()")
        for reg in p.xpath("registers/register[not(@derivedFrom) and not(dim)]"):
            yield (f"{pname}.{first(reg, 'name/text()')}",
                   base + num(first(reg, "addressOffset/text()")), reg, [p, device])
        for cl in p.xpath("registers/cluster[not(@derivedFrom) and not(dim)]"):
            coff = num(first(cl, "addressOffset/text()"))
            for reg in cl.xpath("register[not(@derivedFrom) and not(dim)]"):
                yield (f"{pname}.{first(cl, 'name/text()')}.{first(reg, 'name/text()')}",
                       base + coff + num(first(reg, "addressOffset/text()")), reg,
                       [cl, p, device])


def check_register(rmap: RegMap, path: str, address: int, want: dict[str, Any]) -> None:
    reg = rmap.get(path)
    assert reg.address == address, path
    assert reg.width == want["size"], path
    got = {f.name: f for f in reg.fields}
    assert set(got) == set(want["fields"]), path
    for name, (lsb, msb, access, reset, enum) in want["fields"].items():
        f = got[name]
        assert (f.lsb, f.msb, str(f.sw)) == (lsb, msb, access), f"{path}.{name}"
        assert f.reset == reset, f"{path}.{name}"
        if enum is not None:
            assert f.enum is not None, f"{path}.{name}"
            assert {(m.name, m.value) for m in f.enum.members} == enum, f"{path}.{name}"


@pytest.fixture(scope="module")
def loaded(svd_dir: Path) -> dict[str, tuple[RegMap, Any]]:
    parser = etree.XMLParser(remove_comments=True, huge_tree=True)
    return {name: (load_svd(svd_dir / name), etree.parse(str(svd_dir / name), parser).getroot())
            for name in FILES}


@pytest.mark.parametrize("name", list(FILES))
def test_random_registers_match_the_file(loaded: dict[str, tuple[RegMap, Any]],
                                         name: str) -> None:
    rmap, root = loaded[name]
    assert rmap.name == first(root, "name/text()")
    candidates = list(plain_registers(root))
    counts: dict[str, int] = {}
    for path, *_ in candidates:
        counts[path.lower()] = counts.get(path.lower(), 0) + 1
    unique = [c for c in candidates if counts[c[0].lower()] == 1 and not c[2].xpath(
        "fields/field[@derivedFrom or dim]")]
    assert len(unique) >= SAMPLES, f"{name}: only {len(unique)} plain registers"
    rng = random.Random(name)
    for path, address, reg, chain in rng.sample(unique, SAMPLES):
        check_register(rmap, path, address, expected_register(reg, chain))


@pytest.mark.parametrize("name", [n for n in FILES if n not in ("MK64F12.svd", "M251_v1.svd")])
def test_derived_peripherals_repeat_their_base(loaded: dict[str, tuple[RegMap, Any]],
                                               name: str) -> None:
    rmap, root = loaded[name]
    derived = root.xpath("peripherals/peripheral[@derivedFrom and not(registers)]")
    assert derived, f"{name} has no derivedFrom peripheral"
    checked = 0
    for p in derived:
        base_name = p.get("derivedFrom")
        (base,) = root.xpath(f"peripherals/peripheral[name='{base_name}']")
        if base.xpath("dim") or p.xpath("dim"):
            continue
        offset = num(first(p, "baseAddress/text()")) - num(first(base, "baseAddress/text()"))
        pname, bname = first(p, "name/text()") or "", first(base, "name/text()") or ""
        mine = rmap.glob(f"{pname}.*")
        theirs = rmap.glob(f"{bname}.*")
        assert len(mine) == len(theirs) > 0, pname
        for a, b in zip(mine, theirs, strict=True):
            assert a.path[len(pname):] == b.path[len(bname):]
            assert a.address - b.address == offset
            assert a.layout == b.layout
        checked += 1
    assert checked


@pytest.mark.parametrize("name", ["MK64F12.svd", "nrf52.svd", "LPC55S69_cm33_core0.xml",
                                  "MIMXRT1011.xml", "LPC176x5x_v0.2.svd", "max32660.svd"])
def test_dim_arrays_have_every_element(loaded: dict[str, tuple[RegMap, Any]],
                                       name: str) -> None:
    rmap, root = loaded[name]
    checked = 0
    for p in root.xpath("peripherals/peripheral[not(@derivedFrom) and not(dim)]"):
        pname, base = first(p, "name/text()"), num(first(p, "baseAddress/text()"))
        for reg in p.xpath("registers/register[dim] | registers/cluster[dim]"):
            rname = first(reg, "name/text()") or ""
            count = num(first(reg, "dim/text()"))
            step = num(first(reg, "dimIncrement/text()"))
            off = base + num(first(reg, "addressOffset/text()"))
            index = first(reg, "dimIndex/text()")
            if "[%s]" in rname:
                names = [rname.replace("[%s]", f"[{i}]") for i in range(count)]
            elif index and "," in index:
                names = [rname.replace("%s", s.strip()) for s in index.split(",")]
            elif index and "-" in index:
                lo, hi = (int(x) for x in index.split("-"))
                names = [rname.replace("%s", str(i)) for i in range(lo, hi + 1)]
            else:
                names = [rname.replace("%s", str(i)) for i in range(count)]
            assert len(names) == count
            for i, n in enumerate(names):
                at = off + i * step
                if reg.tag == "register":
                    assert rmap.get(f"{pname}.{n}").address == at, f"{pname}.{n}"
                else:
                    inside = rmap.glob(f"{pname}.{n}.*")
                    assert inside and min(r.address for r in inside) >= at, f"{pname}.{n}"
                checked += 1
    assert checked >= 4, f"{name}: {checked} array elements"


def test_every_file_in_the_zip_loads_or_says_where_it_is_broken(tmp_path: Path) -> None:
    """All of pyOCD's ~100 files but the largest (the benchmark has those) load; the three
    broken vendor files load repaired, each repair a warning naming file:line and the element
    (--strict and BUTR refuse them)."""
    broken: dict[str, str] = {}
    repaired: dict[str, list[str]] = {}
    loaded = 0
    with zipfile.ZipFile(svd_zip()) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.file_size)
        for info in infos:
            if info.file_size > 3_000_000:
                continue
            path = Path(zf.extract(info, tmp_path))
            try:
                rmap = load_svd(path)
            except MapError as exc:
                assert exc.message.startswith(f"{path}:"), exc.message
                assert "/device/" in exc.message, exc.message
                broken[info.filename] = exc.message.split(": ", 1)[1]
            else:
                assert len(rmap) > 0, info.filename
                loaded += 1
                if rmap.repairs():
                    assert all(w.startswith(f"{path}:") and "/device/" in w
                               for w in rmap.repairs())
                    repaired[info.filename] = rmap.repairs()
            path.unlink()
    assert loaded >= 60
    assert broken == {}
    # the files that are wrong, and how (the schema rejects all three)
    assert set(repaired) == {"Musca_B1.svd", "Musca_S1.svd", "max32665.svd"}, repaired
    assert any("resetValue '0x' has no digits: read as 0" in w
               for w in repaired["Musca_B1.svd"])
    assert any("bitRange '[7:8]' has msb below lsb: read as [8:7]" in w
               for w in repaired["Musca_S1.svd"])
    assert any("bitWidth 0: field left out" in w for w in repaired["max32665.svd"])
