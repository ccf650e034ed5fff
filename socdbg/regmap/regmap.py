"""A loaded register map and its lookups: by path, by address, by glob and by free text.

Registers are held in columns sorted by address (``bisect`` finds the register holding a byte),
plus a lower-cased path list sorted alphabetically (``bisect`` finds a path, a glob's literal
prefix, or the children of a block for completion and hints). Nothing is scanned on a lookup.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from socdbg.errors import MapError, PathError, close_matches, did_you_mean
from socdbg.regmap.model import Field, Layout, MapSource, Memory, Register
from socdbg.regmap.paths import IndexRangeError, glob_regex, is_glob, normalize_path

__all__ = ["IndexRangeError", "RegMap", "glob_regex", "is_glob", "normalize_path"]


class RegMap:
    """A register map: registers in address order, memories, and the map's identity."""

    def __init__(
        self,
        name: str,
        layouts: Sequence[Layout],
        paths: list[str],
        addresses: array[int],
        layout_index: array[int],
        memories: Sequence[Memory],
        source: MapSource,
    ) -> None:
        order = sorted(range(len(paths)), key=addresses.__getitem__)
        self.name = name
        self.source = source
        self.layouts: Sequence[Layout] = tuple(layouts)
        by_addr = [paths[i] for i in order]
        self._addrs = array("Q", (addresses[i] for i in order))
        self._lidx = array("I", (layout_index[i] for i in order))
        self.memories: tuple[Memory, ...] = tuple(sorted(memories, key=lambda m: m.address))
        self._mem_addrs = [m.address for m in self.memories]
        self._max_size = max((layout.size for layout in self.layouts), default=0)
        # One list of path strings, sorted by lower-cased path (shared with the lower-cased
        # index when the map's names are lower case); address order is an integer column.
        lowered = [p.lower() for p in by_addr]
        by_name = sorted(range(len(by_addr)), key=lowered.__getitem__)
        self._spaths = [by_addr[i] for i in by_name]
        all_lower = all(p == lp for p, lp in zip(by_addr, lowered, strict=True))
        self._lc_sorted = self._spaths if all_lower else [lowered[i] for i in by_name]
        self._lc_order = array("I", by_name)  # sorted position -> address position
        self._aidx = array("I", bytes(4 * len(by_name)))  # address position -> sorted
        for k, i in enumerate(by_name):
            self._aidx[i] = k
        #: What the loader repaired or approximated in the source, one line each
        #: (``FILE:LINE: element: what``); kept in the cache, shown by ``info``.
        self.warnings: tuple[str, ...] = ()

    # --- pickling: columns only, so a warm load is a handful of flat objects --------------
    # Paths travel as one newline-joined string: unpickling one 3 MB string and splitting it
    # is several times faster than unpickling 100,000 small ones.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "layouts": self.layouts,
            "paths": "\n".join(self._spaths),
            "lower": self._lc_sorted is self._spaths,
            "addrs": self._addrs,
            "lidx": self._lidx,
            "memories": self.memories,
            "lc_order": self._lc_order,
            "aidx": self._aidx,
            "max_size": self._max_size,
            "warnings": self.warnings,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.source = state["source"]
        self.layouts = state["layouts"]
        blob: str = state["paths"]
        self._spaths = blob.split("\n") if blob else []
        self._lc_sorted = (self._spaths if state["lower"]
                           else [p.lower() for p in self._spaths])
        self._addrs = state["addrs"]
        self._lidx = state["lidx"]
        self.memories = state["memories"]
        self._mem_addrs = [m.address for m in self.memories]
        self._lc_order = state["lc_order"]
        self._aidx = state["aidx"]
        self._max_size = state["max_size"]
        self.warnings = tuple(state.get("warnings", ()))

    def repairs(self) -> list[str]:
        """The warnings about vendor slips the loader repaired (lenient SVD reading): what
        ``--strict`` and BUTR refuse."""
        return [w for w in self.warnings if " repaired: " in w]

    def refuse_repairs(self, why: str) -> None:
        """Raise :class:`MapError` naming the first repair, if the loader made any."""
        found = self.repairs()
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise MapError(found[0] + more, f"{why}; fix the file, or load it without --strict "
                                            "to have socdbg repair it")

    # --- iteration ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._addrs)

    def _path(self, i: int) -> str:
        return self._spaths[self._aidx[i]]

    def _reg(self, i: int) -> Register:
        return Register(self._spaths[self._aidx[i]], self._addrs[i],
                        self.layouts[self._lidx[i]])

    def __iter__(self) -> Iterator[Register]:
        for i in range(len(self._addrs)):
            yield self._reg(i)

    def __getitem__(self, index: int) -> Register:
        return self._reg(index)

    @property
    def paths(self) -> Sequence[str]:
        """Register paths in address order."""
        return [self._spaths[k] for k in self._aidx]

    @property
    def identity(self) -> str:
        return self.source.identity

    # --- by path ------------------------------------------------------------------------
    def find(self, path: str) -> Register | None:
        """The register at exactly ``path`` (case-insensitive), or None."""
        key = normalize_path(path)
        i = bisect.bisect_left(self._lc_sorted, key)
        if i < len(self._lc_sorted) and self._lc_sorted[i] == key:
            return self._reg(self._lc_order[i])
        return None

    def get(self, path: str) -> Register:
        """The register at ``path``; an unknown path raises PathError naming the close matches."""
        reg = self.find(path)
        if reg is None:
            raise self._unknown(path)
        return reg

    def resolve(self, path: str) -> tuple[Register, Field | None]:
        """``dma.ch[2].status`` or ``dma.ch[2].status.done`` -> (register, field or None)."""
        reg = self.find(path)
        if reg is not None:
            return reg, None
        head, dot, tail = normalize_path(path).rpartition(".")
        if dot:
            reg = self.find(head)
            if reg is not None:
                fld = reg.field(tail)
                if fld is None:
                    raise PathError(
                        f"{reg.path} has no field '{tail}'",
                        did_you_mean(tail, [f.name for f in reg.fields])
                        or "fields: " + ", ".join(f.name for f in reg.fields),
                    )
                return reg, fld
        raise self._unknown(path)

    def is_block(self, path: str) -> bool:
        """True when ``path`` names a block (addrmap, regfile or array element) with registers."""
        key = normalize_path(path).rstrip(".") + "."
        i = bisect.bisect_left(self._lc_sorted, key)
        return i < len(self._lc_sorted) and self._lc_sorted[i].startswith(key)

    def children(self, prefix: str) -> list[str]:
        """Next path segments below ``prefix`` (``""`` for the top), in the map's own case.

        ``children("dma.")`` gives ``["ch[0]", "ch[1]", ..., "global_ctrl", ...]``; segments are
        whole names with their index. Used for completion and for "did you mean" hints.
        """
        return [name for name, _ in self.child_kinds(prefix)]

    def child_kinds(self, prefix: str) -> list[tuple[str, bool]]:
        """Like :meth:`children`, with True for a block (it has registers below it) and
        False for a register."""
        key = normalize_path(prefix)
        lo = bisect.bisect_left(self._lc_sorted, key)
        seen: dict[str, bool] = {}
        n = len(self._lc_sorted)
        i = lo
        while i < n:
            lp = self._lc_sorted[i]
            if not lp.startswith(key):
                break
            rest = lp[len(key) :]
            seg, dot, _ = rest.partition(".")
            original = self._spaths[i][len(key) : len(key) + len(seg)]
            seen.setdefault(original, bool(dot))
            if dot:
                # skip the rest of this subtree in one jump
                i = bisect.bisect_left(self._lc_sorted, key + seg + "/", i)
            else:
                i += 1
        return sorted(seen.items(), key=lambda kv: _natural(kv[0]))

    def _unknown(self, path: str) -> PathError:
        key = normalize_path(path)
        parts = key.split(".")
        # the longest prefix that names a block, then a hint among its children
        depth = 0
        while depth < len(parts) - 1 and self.is_block(".".join(parts[: depth + 1])):
            depth += 1
        parent = ".".join(parts[:depth])
        prefix = parent + "." if parent else ""
        choices = self.children(prefix)
        bad = parts[depth]
        hint = None
        base = bad.split("[", 1)[0]
        indexed = [c for c in choices if c.lower().startswith(base + "[")]
        if not indexed and "[" in bad:  # dma.chan[0]: a misspelt array name
            arrays = sorted({c.split("[", 1)[0] for c in choices if "[" in c})
            near = close_matches(base, arrays, n=1)
            if near:
                fixed = prefix + near[0] + bad[len(base):]
                rest = ".".join(parts[depth + 1:])
                whole = f"{fixed}.{rest}" if rest else fixed
                if self.find(whole) is not None or self.is_block(whole):
                    hint = f"did you mean '{whole}'?"
                elif self.find(fixed) is not None or self.is_block(fixed):
                    hint = f"did you mean '{fixed}'?"
        if hint is None and indexed and "[" in bad:
            hint = f"'{prefix}{base}' is an array: {indexed[0]}..{indexed[-1]}"
        elif indexed and bad == base:
            hint = f"'{prefix}{base}' is an array: add an index, {indexed[0]}..{indexed[-1]}"
        hint = hint or did_you_mean(bad, choices)
        if hint is None and choices:
            shown = ", ".join(choices[:8]) + (", ..." if len(choices) > 8 else "")
            hint = f"{parent or 'the map'} has: {shown}"
        where = f"in {parent}" if parent else "in the map"
        return PathError(f"no register '{path.strip()}' {where}", hint)

    # --- by glob ------------------------------------------------------------------------
    def glob(self, pattern: str) -> list[Register]:
        """Registers whose path matches the glob, in address order."""
        prefix, rx, ranges = glob_regex(pattern)
        lo = bisect.bisect_left(self._lc_sorted, prefix)
        hits: list[int] = []
        match = rx.fullmatch
        paths = self._lc_sorted
        seen: list[set[int]] = [set() for _ in ranges]
        for i in range(lo, len(paths)):
            p = paths[i]
            if not p.startswith(prefix):
                break
            m = match(p)
            if m is None:
                continue
            if ranges:
                indices = [int(g) for g in m.groups()]
                for k, index in enumerate(indices):
                    seen[k].add(index)
                if not all(a <= x <= b for x, (a, b) in zip(indices, ranges, strict=True)):
                    continue
            hits.append(self._lc_order[i])
        for k, (a, b) in enumerate(ranges):
            if seen[k] and not (a in seen[k] and b in seen[k]):
                name = _range_owner(pattern, k)
                raise IndexRangeError(f"index range [{a}:{b}] is outside {name}: its indices are "
                                f"{min(seen[k])}..{max(seen[k])}",
                                f"write {name}[{min(seen[k])}:{max(seen[k])}] or a range "
                                "inside it")
        hits.sort()
        return [self._reg(i) for i in hits]

    def select(self, pattern: str) -> list[Register]:
        """What a command means by PATH|GLOB: one register, a glob, or every register in a block.

        Raises PathError (with close matches) when nothing matches.
        """
        if is_glob(pattern):
            regs = self.glob(pattern)
            if not regs:
                raise PathError(f"no register matches '{pattern}'")
            return regs
        reg = self.find(pattern)
        if reg is not None:
            return [reg]
        if self.is_block(pattern):
            return self.glob(normalize_path(pattern).rstrip(".") + ".*")
        raise self._unknown(pattern)

    def select_with_field(self, pattern: str) -> tuple[list[Register], Field | None, bool]:
        """What a command means by PATH, PATH.FIELD, GLOB, GLOB.FIELD or a block name:
        (registers in address order, the field when one was named, whether the pattern
        named exactly one register rather than a glob or a block). Unknown names raise
        PathError with close matches."""
        if not is_glob(pattern):
            reg = self.find(pattern)
            if reg is not None:
                return [reg], None, True
            if self.is_block(pattern):
                return self.select(pattern), None, False
            reg, fld = self.resolve(pattern)  # a register.field, or the error with a hint
            return [reg], fld, True
        try:
            return self.select(pattern), None, False
        except PathError as first:
            head, dot, name = pattern.rpartition(".")
            if not dot or not is_glob(head):
                raise
            try:
                regs = self.select(head)
            except IndexRangeError:
                raise
            except PathError:
                raise first from None
            fld = regs[0].field(name)
            if fld is None or any(r.field(name) is None for r in regs):
                raise
            return regs, fld, False

    # --- by address ---------------------------------------------------------------------
    def at(self, address: int) -> Register | None:
        """The register holding the byte at ``address``, or None."""
        hits = self.all_at(address)
        return hits[0] if hits else None

    def all_at(self, address: int) -> list[Register]:
        """Every register holding the byte at ``address`` (SystemRDL allows a read-only and a
        write-only register to share an address)."""
        out: list[Register] = []
        i = bisect.bisect_right(self._addrs, address) - 1
        floor = address - self._max_size
        while i >= 0 and self._addrs[i] > floor:
            if address < self._addrs[i] + self.layouts[self._lidx[i]].size:
                out.append(self._reg(i))
            i -= 1
        out.reverse()
        return out

    def in_range(self, start: int, end: int) -> list[Register]:
        """Registers that overlap the byte range [start, end), in address order."""
        i = bisect.bisect_left(self._addrs, max(0, start - self._max_size + 1))
        out: list[Register] = []
        while i < len(self._addrs) and self._addrs[i] < end:
            size = self.layouts[self._lidx[i]].size
            if self._addrs[i] + size > start:
                out.append(self._reg(i))
            i += 1
        return out

    def memory(self, name: str) -> Memory | None:
        key = normalize_path(name)
        for m in self.memories:
            if m.path.lower() == key:
                return m
        return None

    def memory_at(self, address: int) -> Memory | None:
        i = bisect.bisect_right(self._mem_addrs, address) - 1
        if i >= 0 and self.memories[i].contains(address):
            return self.memories[i]
        return None

    # --- free text ----------------------------------------------------------------------
    def search(self, text: str, limit: int | None = None) -> list[tuple[Register, str]]:
        """Registers whose path, name, description, fields or enum names contain ``text``.

        Returns (register, what matched) pairs in address order. Layouts are searched once and
        shared by every instance, so a 100k-register map costs one pass over its paths.
        """
        needle = text.strip().lower()
        if not needle:
            return []
        why: dict[int, str] = {}
        for li, layout in enumerate(self.layouts):
            reason = _layout_match(layout, needle)
            if reason:
                why[li] = reason
        out: list[tuple[Register, str]] = []
        for i in range(len(self._addrs)):
            p = self._path(i)
            li = self._lidx[i]
            if needle in p.lower():
                out.append((self._reg(i), "path"))
            elif li in why:
                out.append((self._reg(i), why[li]))
            else:
                continue
            if limit is not None and len(out) >= limit:
                break
        return out

    def memories_matching(self, text: str) -> Iterable[Memory]:
        needle = text.strip().lower()
        return [m for m in self.memories if needle in m.path.lower() or
                needle in m.description.lower()]


_DIGITS = re.compile(r"(\d+)")


def _range_owner(pattern: str, k: int) -> str:
    """The array the ``k``-th ``[a:b]`` of a glob indexes: the pattern up to it."""
    found = list(re.finditer(r"\[\s*\d+\s*:\s*\d+\s*\]", pattern))
    return pattern[: found[k].start()].strip() if k < len(found) else pattern


def _natural(segment: str) -> list[Any]:
    """Sort key that puts ``ch[2]`` before ``ch[10]``."""
    return [int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(segment)]


def _layout_match(layout: Layout, needle: str) -> str:
    if needle in layout.name.lower():
        return f"name: {layout.name}"
    if needle in layout.description.lower():
        return f"description: {layout.description}"
    for f in layout.fields:
        if needle in f.name.lower():
            return f"field {f.name}"
        if needle in f.description.lower():
            return f"field {f.name}: {f.description}"
        if f.enum is not None:
            for m in f.enum.members:
                if needle in m.name.lower():
                    return f"field {f.name} = {m.name}"
    return ""
