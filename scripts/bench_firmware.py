"""Firmware benchmarks: ``load`` of a 16 MiB ELF image into the simulator's dram, and reading
a 100,000-symbol table.

    python scripts/bench_firmware.py            # full repetitions (~30 s)
    python scripts/bench_firmware.py --quick    # fewer repetitions (~8 s)
    python scripts/bench_firmware.py --json figures.json

``bench_load_16mb(quick)`` and ``bench_symtab_100k(quick)`` are what scripts/bench.py calls.
Each returns a list of rows, dicts with the fields of bench.py's ``Row`` (``name``, ``value``
(the median), ``unit``, ``target``, ``runs``, ``note``, ``samples``), plus
``higher_is_better: True`` on the throughput rows, whose ``target`` is a lower bound (as in
scripts/bench_dma.py); on every other row ``target`` is an upper bound, or None when the
figure is reported without one.

Both benchmarks write their ELF files themselves with ``struct`` (:func:`write_elf`), so they
need no cross toolchain:

* ``firmware.load_16mb``: one PT_LOAD of 16 MiB of file bytes at 0x8000_0000 (the reference
  SoC's dram), loaded with ``execute(session, "load FILE")`` into a fresh simulator per run
  (its memory pages are allocated by the load, as on a first load). MB/s counts 10^6 bytes.
  Beside it: the same with ``--verify``, and ``read_elf`` alone.
* ``firmware.symtab_100k``: 100,000 symbols (functions, objects, labels; global and local)
  read by ``socdbg.firmware.read_elf``, beside pyelftools' own ``iter_symbols()`` on the same
  file (the naive path: a Symbol object per entry), and the ratio; then address-to-symbol
  lookups (``SymbolTable.containing``, a bisect) at random addresses, and name-to-symbol
  lookups (``SymbolTable.lookup``, a dict), in µs.
  The symbol table builds its two indexes on first use, not in ``read_elf``: the index by
  name on the first name lookup (or ``names()``), the index by address on the first address
  lookup. So that this deferred work stays in sight, ``first_lookup`` and
  ``first_containing`` time the first lookup of each kind on a freshly read table, in ms
  (``read_elf`` + that row is what a user's first lookup costs after a ``load``).
* ``firmware.symtab_100k.vs_nm``: the same file read by a whole ``python -c read_elf(FILE)``
  process (which also counts its symbols, as ``load`` does) against a whole ``nm -S FILE``
  process (binutils, output to /dev/null): paired alternating runs, the median of the
  per-pair ratios; target 2x. Beside it the medians in ms, and ``vs_nm.with_lookups``: the
  same, but the python process also looks one symbol up by name and one by address (so it
  pays for both indexes), against the same nm runs.
  ``python scripts/bench_firmware.py --nm-only --pythonpath DIR`` runs just this comparison
  with the socdbg package found in DIR (to measure another checkout).
"""

from __future__ import annotations

import os
import random
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/: the shared benchrows
from benchrows import row as _row
from benchrows import standalone
from benchrows import timed as _timed

DRAM = 0x8000_0000
LOAD_BYTES = 16 << 20
LOAD_TARGET_MBPS = 500.0  # a lower bound
SYMBOLS = 100_000
SYMTAB_TARGET_S = 0.5
VS_NM_TARGET = 2.0  # read_elf process / nm -S process, an upper bound
EM_RISCV = 243

# --------------------------------------------------------------------------------------------
# a minimal ELF64 (little-endian, RISC-V) writer
# --------------------------------------------------------------------------------------------
STT = {"notype": 0, "object": 1, "func": 2}
STB = {"local": 0, "global": 1, "weak": 2}
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4


def write_elf(path: Path, sections: Sequence[tuple[str, int, bytes, int, str]],
              symbols: Sequence[tuple[str, int, int, str, str, int]] = (),
              entry: int | None = None) -> Path:
    """Write an executable ELF64 file.

    ``sections``: (name, address, file bytes, memory size, flags "rwx") in address order;
    each becomes a PROGBITS section (NOBITS when it has no file bytes) and one PT_LOAD
    segment (file bytes, then zero fill to the memory size).
    ``symbols``: (name, value, size, type "func"/"object"/"notype", bind "global"/"local",
    section number: 1 for the first of ``sections``); locals are written first, as ELF
    requires.
    """
    ehsize, phentsize, shentsize = 64, 56, 64
    phnum = len(sections)
    shstr = bytearray(b"\0")

    def add_name(table: bytearray, name: str) -> int:
        at = len(table)
        table += name.encode() + b"\0"
        return at

    body = bytearray()
    offset = ehsize + phnum * phentsize
    offset = (offset + 0xFFF) & ~0xFFF
    placed = []  # (name, address, file offset, file size, memory size, flags)
    for name, address, data, memsz, flags in sections:
        file_off = offset + len(body)
        body += data
        placed.append((name, address, file_off, len(data), memsz, flags))
        pad = (-len(body)) % 16
        body += bytes(pad)

    strtab = bytearray(b"\0")
    ordered = sorted(symbols, key=lambda s: s[4] != "local")
    first_global = 1 + sum(1 for s in ordered if s[4] == "local")
    symtab = bytearray(bytes(24))  # entry 0
    for name, value, size, kind, bind, shndx in ordered:
        symtab += struct.pack("<IBBHQQ", add_name(strtab, name), (STB[bind] << 4) | STT[kind],
                              0, shndx, value, size)
    symtab_off = offset + len(body)
    body += symtab
    strtab_off = offset + len(body)
    body += strtab

    names = [add_name(shstr, n) for n, *_ in placed]
    symtab_name, strtab_name, shstr_name = (add_name(shstr, n) for n in
                                            (".symtab", ".strtab", ".shstrtab"))
    shstr_off = offset + len(body)
    body += shstr
    body += bytes((-len(body)) % 8)
    shoff = offset + len(body)
    shnum = 1 + len(placed) + 3

    sh = bytearray(bytes(shentsize))
    for (_, address, file_off, filesz, memsz, flags), name_at in zip(placed, names,
                                                                      strict=True):
        sh_flags = SHF_ALLOC | (SHF_WRITE if "w" in flags else 0) | \
            (SHF_EXECINSTR if "x" in flags else 0)
        sh_type = 1 if filesz else 8  # PROGBITS or NOBITS
        sh += struct.pack("<IIQQQQIIQQ", name_at, sh_type, sh_flags, address, file_off, memsz,
                          0, 0, 16, 0)
    strtab_index = 1 + len(placed) + 1
    sh += struct.pack("<IIQQQQIIQQ", symtab_name, 2, 0, 0, symtab_off, len(symtab),
                      strtab_index, first_global, 8, 24)
    sh += struct.pack("<IIQQQQIIQQ", strtab_name, 3, 0, 0, strtab_off, len(strtab), 0, 0, 1, 0)
    sh += struct.pack("<IIQQQQIIQQ", shstr_name, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)

    ph = bytearray()
    for _, address, file_off, filesz, memsz, flags in placed:
        p_flags = (4 if "r" in flags else 0) | (2 if "w" in flags else 0) | \
            (1 if "x" in flags else 0)
        ph += struct.pack("<IIQQQQQQ", 1, p_flags, file_off, address, address, filesz, memsz,
                          16)  # offsets and addresses are 16-aligned
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    start = entry if entry is not None else (placed[0][1] if placed else 0)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, EM_RISCV, 1, start, ehsize if phnum else 0,
                             shoff, 0, ehsize, phentsize, phnum, shentsize, shnum, shnum - 1)
    head = eh + ph
    with open(path, "wb") as fh:
        fh.write(head + bytes(offset - len(head)) + body + sh)
    return path


def symtab_image(path: Path, count: int, seed: int = 1) -> list[tuple[str, int, int, str]]:
    """Write an image with ``count`` symbols: sized functions in .text, sized objects in .data,
    unsized labels in .text, a tenth of them local. Returns (name, address, size, type) of
    each symbol."""
    rng = random.Random(seed)
    n_func = count // 2
    n_obj = count // 4
    n_label = count - n_func - n_obj
    text_addr, data_addr = DRAM, DRAM + 0x0100_0000
    symbols: list[tuple[str, int, int, str, str, int]] = []
    address = text_addr
    for i in range(n_func):
        size = rng.choice((4, 8, 16, 24, 32, 64))
        bind = "local" if i % 10 == 0 else "global"
        symbols.append((f"fn_{i:06d}_{rng.choice(('init', 'poll', 'isr', 'cfg'))}", address,
                        size, "func", bind, 1))
        address += size
    text_size = address - text_addr
    labels = sorted(rng.randrange(text_addr, address) & ~1 for _ in range(n_label))
    for i, at in enumerate(labels):
        symbols.append((f".L_label_{i:06d}" if i % 10 == 0 else f"label_{i:06d}", at, 0,
                        "notype", "local" if i % 10 == 0 else "global", 1))
    address = data_addr
    for i in range(n_obj):
        size = rng.choice((1, 2, 4, 8, 16, 256))
        address = (address + min(size, 8) - 1) & ~(min(size, 8) - 1)
        symbols.append((f"var_{i:06d}", address, size, "object",
                        "local" if i % 10 == 0 else "global", 2))
        address += size
    data_size = address - data_addr
    write_elf(path, [(".text", text_addr, bytes(text_size), text_size, "rx"),
                     (".data", data_addr, bytes(data_size), data_size, "rw")], symbols)
    return [(n, v, s, k) for n, v, s, k, _, _ in symbols]


def load_image_file(path: Path, size: int | None = None) -> Path:
    """One PT_LOAD of ``size`` (default 16 MiB) bytes of pseudo-random file data at the start
    of dram."""
    size = LOAD_BYTES if size is None else size
    data = random.Random(3).randbytes(size)
    return write_elf(path, [(".data", DRAM, data, size, "rwx")],
                     [("image_start", DRAM, size, "object", "global", 1)])


# --------------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------------




def _ensure_cache() -> None:
    if "SOCDBG_CACHE_DIR" not in os.environ:  # never the user's map cache
        os.environ["SOCDBG_CACHE_DIR"] = tempfile.mkdtemp(prefix="socdbg-bench-fw-")


# --------------------------------------------------------------------------------------------
# load of a 16 MiB image
# --------------------------------------------------------------------------------------------
def bench_load_16mb(quick: bool) -> list[dict[str, Any]]:
    """MB/s of ``load FILE`` (and ``load --verify FILE``) of a 16 MiB image into dram."""
    import io

    from socdbg.commands.dispatch import execute
    from socdbg.commands.session import Session
    from socdbg.firmware import read_elf

    _ensure_cache()
    runs = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-fw-") as tmp:
        path = load_image_file(Path(tmp) / "image16.elf", LOAD_BYTES)
        want = path.read_bytes()[0x1000 : 0x1000 + LOAD_BYTES]

        def fresh() -> Session:
            session = Session(out=io.StringIO())
            _ = session.target  # the map and the simulator are paid before timing
            return session

        warm = fresh()
        execute(warm, f"load {path}")  # imports, page cache
        if warm.target.read_block(DRAM, LOAD_BYTES) != want:
            raise RuntimeError("the loaded image does not read back as the file's bytes")
        plain, verify, parse = [], [], []
        for _ in range(runs):
            s1, s2 = fresh(), fresh()
            plain.append(_timed(lambda s=s1: execute(s, f"load {path}")))
            verify.append(_timed(lambda s=s2: execute(s, f"load --verify {path}")))
            parse.append(_timed(lambda: read_elf(path)))
    mb = LOAD_BYTES / 1e6
    return [
        _row("firmware.load_16mb", [mb / t for t in plain], "MB/s", LOAD_TARGET_MBPS,
             f"execute(session, 'load FILE'): {LOAD_BYTES >> 20} MiB PT_LOAD at 0x80000000, "
             "fresh sim per run",
             higher_is_better=True),
        _row("firmware.load_16mb.verify", [mb / t for t in verify], "MB/s", None,
             "load --verify: write, then read back and compare", higher_is_better=True),
        _row("firmware.load_16mb.read_elf", [t * 1e3 for t in parse], "ms", None,
             "read_elf alone (file read and parse) of the same image"),
    ]


# --------------------------------------------------------------------------------------------
# a 100,000-symbol table
# --------------------------------------------------------------------------------------------
def _pyelftools_symbols(path: Path) -> list[tuple[str, int, int, str]]:
    """The naive path: pyelftools' iter_symbols(), one Symbol object per entry."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    out = []
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        for section in elf.iter_sections():
            if isinstance(section, SymbolTableSection):
                for sym in section.iter_symbols():
                    out.append((sym.name, sym["st_value"], sym["st_size"],
                                sym["st_info"]["type"]))
    return out


def bench_symtab_100k(quick: bool, count: int = SYMBOLS) -> list[dict[str, Any]]:
    """Seconds for read_elf of a 100,000-symbol image, beside pyelftools' iter_symbols(), and
    µs per address-to-symbol lookup."""
    from socdbg.firmware import read_elf

    runs, naive_runs = (3, 1) if quick else (7, 3)
    lookups = 20_000
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-fw-") as tmp:
        path = Path(tmp) / f"symtab{count}.elf"
        written = symtab_image(path, count)
        image = read_elf(path)  # warm: imports, page cache
        if len(image.symbols) != len({n for n, *_ in written}):
            raise RuntimeError(f"read_elf found {len(image.symbols)} symbols, "
                               f"wrote {len(written)}")
        ours = [_timed(lambda: read_elf(path)) for _ in range(runs)]
        naive_syms = _pyelftools_symbols(path)
        if len(naive_syms) != count + 1:  # entry 0 too
            raise RuntimeError(f"pyelftools found {len(naive_syms)} symbols")
        naive = [_timed(lambda: _pyelftools_symbols(path)) for _ in range(naive_runs)]
        # the indexes are built on first use: the first lookup of each kind on a fresh table
        first_name, first_address = [], []
        for i in range(runs):
            name, address, _, _ = written[(i * 7919) % len(written)]
            fresh = read_elf(path).symbols
            first_name.append(_timed(lambda t=fresh, k=name: t.lookup(k)) * 1e3)
            fresh = read_elf(path).symbols
            first_address.append(_timed(lambda t=fresh, a=address: t.containing(a)) * 1e3)

    table = image.symbols
    rng = random.Random(5)
    sized = [(n, a, s) for n, a, s, _ in written if s]
    probes = []
    for _ in range(lookups):
        name, address, size = sized[rng.randrange(len(sized))]
        probes.append((address + rng.randrange(size), name, address))
    for at, name, address in probes[:200]:
        hit = table.containing(at)
        if hit is None or hit[0].address != address:
            raise RuntimeError(f"containing({at:#x}) gave {hit}, expected {name}")
    addrs = [p[0] for p in probes]
    per_call = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for a in addrs:
            table.containing(a)
        per_call.append((time.perf_counter() - t0) / len(addrs) * 1e6)

    names = [p[1] for p in probes]
    by_name = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for name in names:
            table.lookup(name)
        by_name.append((time.perf_counter() - t0) / len(names) * 1e6)

    n = f"{count:,}"
    ours_row = _row("firmware.symtab_100k.read_elf", ours, "s", SYMTAB_TARGET_S,
                    f"read_elf of {n} symbols (columns from the table bytes; the indexes "
                    "are built on first use: see first_lookup, first_containing)")
    naive_row = _row("firmware.symtab_100k.pyelftools", naive, "s", None,
                     f"pyelftools iter_symbols() on the same file ({n} Symbol objects)")
    ratio = naive_row["value"] / ours_row["value"]
    return [
        ours_row,
        naive_row,
        {"name": "firmware.symtab_100k.speedup", "value": ratio, "unit": "x", "target": None,
         "runs": None, "note": "pyelftools / read_elf (higher: read_elf is faster)",
         "samples": [], "higher_is_better": True},
        _row("firmware.symtab_100k.containing", per_call, "µs", None,
             f"SymbolTable.containing at {lookups:,} random addresses inside sized symbols "
             "(bisect)"),
        _row("firmware.symtab_100k.lookup", by_name, "µs", None,
             f"SymbolTable.lookup of {lookups:,} random names (a dict)"),
        _row("firmware.symtab_100k.first_lookup", first_name, "ms", None,
             "the first SymbolTable.lookup on a freshly read table: builds the index by "
             "name"),
        _row("firmware.symtab_100k.first_containing", first_address, "ms", None,
             "the first SymbolTable.containing on a freshly read table: builds the index by "
             "address"),
    ]


def _nm() -> str:
    import shutil

    for name in ("riscv64-unknown-elf-nm", "nm"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no nm on PATH (binutils)")


def bench_symtab_vs_nm(quick: bool, count: int = SYMBOLS, pythonpath: str | None = None
                       ) -> list[dict[str, Any]]:
    """Whole process against whole process: ``python -c 'read_elf(FILE)'`` and ``nm -S FILE``
    on the same 100,000-symbol file, alternating, one ratio per pair."""
    import subprocess
    import threading

    pairs = 7 if quick else 21
    nm = _nm()
    env = dict(os.environ)
    # as a user with an installed socdbg runs it: with bytecode (the warm-up run writes it)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = pythonpath or str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                else "")
    with tempfile.TemporaryDirectory(prefix="socdbg-bench-fw-") as tmp:
        path = Path(tmp) / f"symtab{count}.elf"
        written = symtab_image(path, count)
        probe = next(n for n, _, size, kind in written[count // 3 :] if size and kind == "func")
        ours_cmd = [sys.executable, "-c", "import sys; from socdbg.firmware import read_elf; "
                    "n = len(read_elf(sys.argv[1]).symbols); "
                    f"sys.exit(0 if n == {count} else 3)", str(path)]
        # a user's path: read, then one lookup by name and one by address (both indexes)
        lookups_cmd = [sys.executable, "-c", "import sys; from socdbg.firmware import read_elf; "
                       "t = read_elf(sys.argv[1]).symbols; s = t.lookup(sys.argv[2]); "
                       "hit = t.containing(s.address); "
                       f"sys.exit(0 if len(t) == {count} and hit and hit[0] == s else 3)",
                       str(path), probe]
        nm_cmd = [nm, "-S", str(path)]

        bare_cmd = [sys.executable, "-c", "pass"]

        def run(cmd: list[str]) -> float:
            procs: list[subprocess.Popen[bytes]] = []
            # the run's bound (a hung child is killed) is a timer thread, not
            # Popen.wait(timeout=...): that polls, sleeping up to 50 ms between polls, which
            # rounded every time measured here up to the next poll (65, 115, 165 ms...)
            timer = threading.Timer(120, lambda: [p.kill() for p in procs])
            timer.start()
            try:
                t0 = time.perf_counter()
                # cwd: the temporary folder, so `python -c` (which puts the current folder
                # first on sys.path) imports socdbg from PYTHONPATH, not from wherever this
                # runs
                procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env,
                                              cwd=tmp))
                status = procs[0].wait()  # a blocking waitpid
                elapsed = time.perf_counter() - t0
            finally:
                timer.cancel()
            if status:
                raise subprocess.CalledProcessError(status, cmd)
            return elapsed

        run(ours_cmd)  # page cache, .pyc files
        run(lookups_cmd)
        run(nm_cmd)
        ours, theirs, bare, ratios, own, used, used_ratios = [], [], [], [], [], [], []
        for i in range(pairs):
            if i % 2:  # alternate which goes first
                b = run(nm_cmd)
                u = run(lookups_cmd)
                a = run(ours_cmd)
            else:
                a = run(ours_cmd)
                u = run(lookups_cmd)
                b = run(nm_cmd)
            ours.append(a * 1e3)
            theirs.append(b * 1e3)
            ratios.append(a / b)
            used.append(u * 1e3)
            used_ratios.append(u / b)
            c = run(bare_cmd)
            bare.append(c * 1e3)
            own.append((a - c) / b)
    n = f"{count:,}"
    return [
        _row("firmware.symtab_100k.vs_nm", ratios, "x", VS_NM_TARGET,
             f"whole process: python -c read_elf / nm -S, {pairs} alternating pairs, median "
             f"of the per-pair ratios ({n} symbols)"),
        _row("firmware.symtab_100k.process", ours, "ms", None,
             "python -c 'read_elf(FILE)': interpreter start, imports, read"),
        _row("firmware.symtab_100k.nm", theirs, "ms", None,
             f"{Path(nm).name} -S FILE > /dev/null"),
        _row("firmware.symtab_100k.python_startup", bare, "ms", None,
             "python -c pass: the interpreter alone, the floor under the process row"),
        _row("firmware.symtab_100k.vs_nm.beyond_python", own, "x", None,
             "(python -c read_elf minus python -c pass) / nm -S, per pair: what socdbg adds "
             "to the interpreter's start-up, against nm's whole run"),
        _row("firmware.symtab_100k.vs_nm.with_lookups", used_ratios, "x", None,
             "python -c 'read_elf, one lookup by name, one by address' (both indexes built) "
             "/ nm -S, per pair"),
        _row("firmware.symtab_100k.process_with_lookups", used, "ms", None,
             "python -c 'read_elf(FILE)', then lookup(NAME) and containing(ADDRESS)"),
    ]


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    _ensure_cache()
    args = list(sys.argv[1:] if argv is None else argv)
    if "--nm-only" in args:
        args.remove("--nm-only")
        pythonpath = None
        if "--pythonpath" in args:
            at = args.index("--pythonpath")
            pythonpath = args[at + 1]
            del args[at : at + 2]
        return standalone(__doc__ or "", lambda quick: bench_symtab_vs_nm(
            quick, pythonpath=pythonpath), args)
    return standalone(__doc__ or "", lambda quick: bench_load_16mb(quick)
                      + bench_symtab_100k(quick) + bench_symtab_vs_nm(quick), args)


if __name__ == "__main__":
    sys.exit(main())
