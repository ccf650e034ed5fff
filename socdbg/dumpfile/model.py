"""The dump file's content: :class:`Dump`, the limits a dump is read and written within, and the
rule for the names of embedded map sources. docs/postmortem.md describes the format."""

from __future__ import annotations

import base64
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from socdbg.errors import SocdbgError
from socdbg.version import __version__

FORMAT = "socdbg-dump"
VERSION = 1
#: Largest dump document (the JSON text, after gzip) socdbg writes or reads.
MAX_DOCUMENT = 64 << 20
#: Largest total of memory bytes in one dump, captured or read.
MAX_MEMORY = 256 << 20
#: Deflate's largest ratio (a run of one byte): a stream declaring more is lying.
MAX_RATIO = 1032
MAX_SOURCES = 1000
MAX_NAME = 255  # characters in a source name (and in each of its folder parts)
MAX_PATH = 1024  # characters in a register path
_NAME_PART = re.compile(r"[^\W][\w.+-]*")
_HEX_IDENTITY = re.compile(r"[0-9a-f]{64}")


class DumpError(SocdbgError):
    """A dump file is missing, truncated, corrupt or of a future version."""


@dataclass
class Dump:
    """A loaded (or freshly captured) dump."""

    map_name: str
    map_identity: str
    map_sources: list[dict[str, str]]  # {"name": file name, "text": RDL source}
    map_defines: dict[str, str]
    map_top: str
    target: str
    wall_time: str
    cycle: int | None
    registers: dict[str, tuple[int, int, int]]  # path -> (address, bytes, value)
    memories: list[tuple[int, bytes]] = field(default_factory=list)  # (address, data)
    failed: list[tuple[int, int, str]] = field(default_factory=list)  # [start, end), why
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    socdbg_version: str = __version__
    file: str = field(default="", compare=False)  # where it was read from, for messages
    #: SHA-256 of the file's bytes as read (read_dump), "" for a dump not read from a file
    sha256: str = field(default="", compare=False)

    @property
    def complete(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        doc = self._document()
        doc["memories"] = [{"address": addr, "size": len(data),
                            "zlib_base64": base64.b64encode(_deflate(data)).decode()}
                           for addr, data in self.memories]
        return doc

    def json_chunks(self) -> list[bytes]:
        """``json.dumps(self.to_json(), separators=(",", ":")).encode()``, byte for byte, in
        pieces: each memory's base64 text is the bytes b64encode made (ASCII that JSON never
        escapes), not copied into a str, scanned for escapes and encoded again (a MiB of
        memory is 1.4 MB of text)."""
        out: list[bytes] = []
        sep = b"{"
        for key, value in self._document().items():
            out.append(sep + json.dumps(key).encode() + b":")
            sep = b","
            if key != "memories":
                out.append(json.dumps(value, separators=(",", ":")).encode())
                continue
            out.append(b"[")
            for i, (addr, data) in enumerate(self.memories):
                out.append(b'%s{"address":%d,"size":%d,"zlib_base64":"'
                           % (b"," if i else b"", addr, len(data)))
                out.append(base64.b64encode(_deflate(data)))
                out.append(b'"}')
            out.append(b"]")
        out.append(b"}")
        return out

    def _document(self) -> dict[str, Any]:
        """The document without its memories (``"memories"`` holds its place, None)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "socdbg": self.socdbg_version,
            "complete": self.complete,
            "map": {"name": self.map_name, "identity": self.map_identity,
                    "defines": self.map_defines, "top": self.map_top,
                    "sources": self.map_sources},
            "target": self.target,
            "wall_time": self.wall_time,
            "cycle": self.cycle,
            "registers": [[path, addr, size, f"{value:#x}"]
                          for path, (addr, size, value) in self.registers.items()],
            "memories": None,
            "failed": [[start, end, why] for start, end, why in self.failed],
            "skipped": [[path, why] for path, why in self.skipped],
        }


def _deflate(data: bytes) -> bytes:
    """A zlib stream of ``data``: compressed when a sample shows it pays (RAM full of zeros
    or code), stored when it does not (random data costs zlib more than the read took)."""
    sample = data[: 1 << 16]
    if len(zlib.compress(sample, 1)) > 0.9 * len(sample):
        return zlib.compress(data, 0)
    return zlib.compress(data, 6)



def source_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an embedded map source's name, or None: a name is one or more
    plain parts joined by ``/`` (``soc.rdl``, ``qemu_virt/clint.rdl``), each starting with a
    letter, digit or ``_`` and made of those and ``.+-``; no absolute path, ``..``, ``.``,
    hidden name, backslash, NUL or control character; at most 8 parts of 255 characters."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long (at most {MAX_NAME})"
    parts = name.split("/")
    if len(parts) > 8:
        return "has more than 8 folder levels"
    for part in parts:
        if not _NAME_PART.fullmatch(part):
            return "is not a plain relative file name"
    return None

