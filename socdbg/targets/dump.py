"""The dump target, ``dump:FILE``: a postmortem capture opened read-only.

Reads come from the stored values; reading something the dump did not capture is an error
that says what is missing and why it was not captured; every write is refused.
"""

from __future__ import annotations

import bisect

from socdbg.access_plan import bus_bytes
from socdbg.dumpfile import Dump, dump_map, read_dump
from socdbg.errors import TargetError
from socdbg.regmap import RegMap, load_map
from socdbg.targets.base import CAP_COALESCE, CAP_RECORD, Backend, Completions, MapLoader


class DumpTarget:
    def __init__(self, path: str, dump: Dump, regmap: RegMap) -> None:
        self.path = path
        self.dump = dump
        self.regmap = regmap
        self.spec = f"dump:{path}"
        self.capabilities = frozenset({CAP_RECORD, CAP_COALESCE})
        spans: list[tuple[int, int, bytes]] = []
        #: registers of no bus width (24 bits) by address, as their bus access reads them:
        #: the value, and zeros up to the bus width (32 bits)
        self._padded: dict[int, bytes] = {}
        for _path, (addr, size, value) in dump.registers.items():
            spans.append((addr, addr + size, value.to_bytes(size, "little")))
            if bus_bytes(size * 8) != size:
                self._padded[addr] = value.to_bytes(bus_bytes(size * 8), "little")
        for addr, data in dump.memories:
            spans.append((addr, addr + len(data), data))
        spans.sort()
        merged: list[tuple[int, int, bytes]] = []
        for start, end, data in spans:  # overlapping --memory ranges become one span
            if merged and start < merged[-1][1]:
                ps, pe, pd = merged[-1]
                if end > pe:
                    merged[-1] = (ps, end, pd + data[pe - start :])
                continue
            merged.append((start, end, data))
        self._starts = [s[0] for s in merged]
        self._spans = merged
        self._skipped = dict(dump.skipped)

    @property
    def cycle(self) -> int | None:
        return self.dump.cycle

    def _missing(self, address: int) -> TargetError:
        reg = self.regmap.at(address)
        name = f"{reg.path} ({reg.address:#x})" if reg is not None else f"{address:#x}"
        why = None
        if reg is not None and reg.path in self._skipped:
            why = f"skipped: {self._skipped[reg.path]}"
        for start, end, reason in self.dump.failed:
            if start <= address < end:
                why = f"the capture failed there: {reason}"
        return TargetError(f"{self.spec} did not capture {name}",
                           why or "dump --memory or --include it when capturing")

    def read_block(self, address: int, size: int) -> bytes:
        out = bytearray()
        pos, end = address, address + size
        while pos < end:
            i = bisect.bisect_right(self._starts, pos) - 1
            if i < 0 or self._spans[i][1] <= pos:
                raise self._missing(pos)
            start, stop, data = self._spans[i]
            take = min(stop, end)
            out += data[pos - start : take - start]
            pos = take
        return bytes(out)

    def read(self, address: int, size: int) -> bytes:
        padded = self._padded.get(address)
        if padded is not None and len(padded) == size:
            return padded
        return self.read_block(address, size)

    def write(self, address: int, data: bytes) -> None:
        raise TargetError(f"{self.spec} is a dump: it cannot be written")

    def write_block(self, address: int, data: bytes) -> None:
        raise TargetError(f"{self.spec} is a dump: it cannot be written")

    def close(self) -> None:
        pass


def open_dump(arg: str, load: MapLoader) -> DumpTarget:
    if not arg:
        raise TargetError("dump target: give the file, dump:FILE")
    dump = read_dump(arg)
    if dump.map_sources:
        regmap = dump_map(dump, load_map)
    else:  # an old or stripped dump: the session's map decodes it if it is the same map
        regmap = load()
        if regmap.identity != dump.map_identity:
            raise TargetError(f"{arg} embeds no map and was taken with map "
                              f"{dump.map_identity[:12]}, not {regmap.identity[:12]}",
                              "open it with --map naming the map it was taken with")
    return DumpTarget(arg, dump, regmap)


BACKEND = Backend(
    name="dump",
    open=open_dump,
    describe="a postmortem dump file, read-only",
    example="dump:FILE",
    brings_map=bool,  # dump:FILE: the map it embeds
    complete=lambda typed: Completions(files_after="dump:"),
    opens_files=lambda arg: True,
)
