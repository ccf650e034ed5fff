"""The postmortem dump file format, a leaf below the targets (the ``dump:`` target reads it,
``dump`` in socdbg/postmortem.py captures into it).

The file is JSON (gzip-compressed when the name ends in ``.gz``), versioned, self-contained
(it embeds the register description sources, so it decodes years later without the source
tree) and written atomically. docs/postmortem.md describes the format.

A dump is untrusted input: it may come from anyone. The reader checks every value's type and
range, bounds decompression by the sizes the file declares (and absolute caps) before it
inflates anything, refuses source names that are not plain relative names, recomputes the map
identity from the embedded sources, and compiles those sources with the Perl preprocessor
refused, in a cache folder nothing escapes. Whatever is wrong ends in one :class:`DumpError`.
"""

from socdbg.dumpfile.model import (
    FORMAT,
    MAX_DOCUMENT,
    MAX_MEMORY,
    MAX_NAME,
    MAX_PATH,
    MAX_RATIO,
    MAX_SOURCES,
    VERSION,
    Dump,
    DumpError,
    source_name_problem,
)
from socdbg.dumpfile.reader import read_dump
from socdbg.dumpfile.writer import dump_map, embed_sources, write_dump

__all__ = [
    "FORMAT", "MAX_DOCUMENT", "MAX_MEMORY", "MAX_NAME", "MAX_PATH", "MAX_RATIO", "MAX_SOURCES",
    "VERSION", "Dump", "DumpError", "dump_map", "embed_sources", "read_dump",
    "source_name_problem", "write_dump",
]
