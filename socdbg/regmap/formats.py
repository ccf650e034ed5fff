"""Map formats: the loader registry.

Every register description format socdbg reads is a :class:`MapFormat`, registered through
the ``socdbg.maps`` entry-point group (as PeakRDL importers register through theirs). The
cache asks this registry which format a file is in, which loader builds it and what version
the loader has; the CLI's ``--format`` choices are its names. A name offered twice is an error
when the entry points are first read.

Start-up stays cheap: a format is a small declaration whose ``compile`` and ``version`` are
``module:function`` references, imported only when a map is built (or a cache entry checked).
The formats of this package are in :data:`BUILTIN`, so loading a ``.rdl``, ``.svd`` or
IP-XACT map never reads the entry points (importlib.metadata, ~30 ms); only a name or a file
no built-in format claims does.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, cast

from socdbg.errors import MapError, did_you_mean

if TYPE_CHECKING:
    from socdbg.regmap.regmap import RegMap


class MapRequest(NamedTuple):
    """What one build of a map is asked for: the sources (resolved paths), the include
    folders, the defines (SystemRDL preprocessor defines; IP-XACT parameter overrides),
    the top, and whether the sources came from elsewhere (a dump's embedded map)."""

    sources: tuple[Path, ...]
    include_paths: tuple[Path, ...] = ()
    defines: Mapping[str, str] = MappingProxyType({})
    top: str | None = None
    untrusted: bool = False


#: ``compile(request) -> (map, every file it read)``
Compile = Callable[[MapRequest], "tuple[RegMap, list[Path]]"]


class MapFormat(NamedTuple):
    """One register description format.

    ``name`` is the ``--format`` value and the cache's tag; ``title`` names it in messages.
    ``suffixes`` are the file extensions that mean this format (lower case, with the dot).
    ``xml_roots`` are the (root element, namespace pattern) pairs of an ``.xml`` file that
    mean it: the namespace is a regular expression matched at the start of the root's
    namespace URI, ``""`` for any. ``compile`` and ``version`` are ``module:function``
    references: ``compile(MapRequest)`` returns (map, files read); ``version()`` a string
    that changes whenever the loader would build a different map (a cache entry built under
    another version is rebuilt). ``one_file``: a map is exactly one source file.
    ``defines``: what the format makes of ``defines`` (shown in errors), or "" when it takes
    none. ``xml_name`` says what its ``.xml`` files are, for the error about one that no
    format claims. (Named tuples, not dataclasses: declaring one costs start-up 0.2 ms, not
    1.3 ms.)"""

    name: str
    title: str
    suffixes: tuple[str, ...]
    compile: str
    version: str
    xml_roots: tuple[tuple[str, str], ...] = ()
    one_file: bool = True
    defines: str = ""
    xml_name: str = ""

    def build(self, request: MapRequest) -> tuple[RegMap, list[Path]]:
        if self.one_file and len(request.sources) != 1:
            raise MapError(f"a {self.title} map is one file; got {len(request.sources)}")
        return cast(Compile, _resolve(self.compile))(request)

    def loader_version(self) -> str:
        return str(cast(Callable[[], str], _resolve(self.version))())

    def claims_xml(self, local: str, uri: str) -> bool:
        return any(local == root and re.match(ns, uri, re.IGNORECASE) is not None
                   for root, ns in self.xml_roots)


def split_source(source: Path | str) -> tuple[Path, dict[str, str]]:
    """``comp.xml,WIDTH=16,remap=boot`` -> (``comp.xml``, {"WIDTH": "16", "remap": "boot"}):
    a map file with settings for its format (IP-XACT parameters and remap state, SystemRDL
    defines), written as the simulator's ``sim:PATH,mesh=8x8``. A name that is an existing
    file is taken whole, commas and all."""
    if isinstance(source, Path) or "," not in source or Path(source).is_file():
        return Path(source), {}
    head, *words = source.split(",")
    settings: dict[str, str] = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise MapError(f"{source}: '{word}' is not NAME=VALUE",
                           "settings follow the map file: FILE,NAME=VALUE,NAME=VALUE")
        settings[key.strip()] = value.strip()
    return Path(head), settings


def _resolve(ref: str) -> object:
    """``module:attr`` -> the attribute, looked up now (so a patched module is honoured)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


# --- the formats of this package ------------------------------------------------------------
def source_hash(*modules: str) -> str:
    """A hash of the source of some of socdbg's own regmap modules and of the Python version:
    editing a loader invalidates what it built."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in modules:
        try:
            h.update((here / f"{name}.py").read_bytes())
        except OSError:
            h.update(b"?" + name.encode())
    return f"{h.hexdigest()[:16]}:py{sys.version_info[0]}.{sys.version_info[1]}"


#: The modules each built-in loader is made of (their source versions its cache entries).
#: ``model`` holds tables and limits both readers apply (MODIFIED_WRITE_VALUES, ADDRESS_LIMIT,
#: MAX_REGISTER_BITS...): editing one changes what they build.
SVD_MODULES = ("svd", "svd_numbers", "svd_elements", "svd_walk", "svd_fields", "packed",
               "paths", "model")
IPXACT_MODULES = ("ipxact", "ipxact_elements", "ipxact_walk", "sv_expr", "paths", "model")


def svd_version() -> str:
    return "svd:" + source_hash(*SVD_MODULES)


def ipxact_version() -> str:
    return "ipxact:" + source_hash(*IPXACT_MODULES)


def build_rdl(request: MapRequest) -> tuple[RegMap, list[Path]]:
    from socdbg.regmap import rdl

    incs = list(request.include_paths)
    return rdl.compile_rdl_files(list(request.sources), incs, dict(request.defines),
                                 request.top, allow_perl=not request.untrusted,
                                 confine=incs if request.untrusted else None)


def build_svd(request: MapRequest) -> tuple[RegMap, list[Path]]:
    from socdbg.regmap import svd

    return svd.load_svd(request.sources[0]), [request.sources[0]]


def build_ipxact(request: MapRequest) -> tuple[RegMap, list[Path]]:
    from socdbg.regmap import ipxact

    return ipxact.compile_ipxact_files(list(request.sources), request.top,
                                       params=request.defines)


#: IP-XACT 1685-2009/2014 and its SPIRIT predecessors.
IPXACT_NS = (r"https?://www\.(spiritconsortium\.org/XMLSchema/SPIRIT|accellera\.org/"
             r"XMLSchema/(spirit/1685-2009|IPXACT))")

RDL = MapFormat("rdl", "SystemRDL", (".rdl",), "socdbg.regmap.formats:build_rdl",
                "socdbg.regmap.cache:compiler_version", one_file=False,
                defines="preprocessor defines")
SVD = MapFormat("svd", "CMSIS-SVD", (".svd",), "socdbg.regmap.formats:build_svd",
                "socdbg.regmap.formats:svd_version", xml_roots=(("device", ""),),
                xml_name="a CMSIS-SVD <device>")
IPXACT = MapFormat("ipxact", "IP-XACT", (), "socdbg.regmap.formats:build_ipxact",
                   "socdbg.regmap.formats:ipxact_version",
                   xml_roots=(("component", IPXACT_NS),),
                   defines="parameter values (NAME=VALUE) and remap=STATE",
                   xml_name="an IP-XACT <ipxact:component> (or <spirit:component>)")

#: The formats of this package, as their ``socdbg.maps`` entry points name them (a test checks
#: this against pyproject.toml). Looking one of these up reads no entry points.
BUILTIN: dict[str, str] = {
    "rdl": "socdbg.regmap.formats:RDL",
    "svd": "socdbg.regmap.formats:SVD",
    "ipxact": "socdbg.regmap.formats:IPXACT",
}
#: A file no format claims by extension (and that is not .xml) is SystemRDL, as it was before
#: there were other formats.
FALLBACK = "rdl"


def _load(ref: str) -> MapFormat:
    found = _resolve(ref)
    if not isinstance(found, MapFormat):
        raise MapError(f"entry point {ref} is not a socdbg MapFormat")
    return found


@functools.cache
def formats() -> dict[str, MapFormat]:
    """Every format: the built-in ones, then those offered through ``socdbg.maps`` entry
    points (reading them costs ~30 ms: only for names and files the built-ins do not know)."""
    from importlib.metadata import entry_points

    found: dict[str, MapFormat] = {}
    refs: dict[str, str] = {}
    for name, ref in BUILTIN.items():
        found[name], refs[name] = _load(ref), ref
    for ep in entry_points(group="socdbg.maps"):
        if refs.get(ep.name) == ep.value:  # this package's own entry point
            continue
        fmt = _load(ep.value)
        if fmt.name in found:
            raise MapError(f"map format '{fmt.name}' is registered twice",
                           f"{ep.value} and {refs[fmt.name]} both offer it")
        found[fmt.name], refs[fmt.name] = fmt, ep.value
    return found


def names() -> list[str]:
    """The ``--format`` choices."""
    return list(formats())


@functools.cache
def get(name: str) -> MapFormat:
    """The format called ``name``; a built-in one without reading the entry points."""
    if name in BUILTIN:
        return _load(BUILTIN[name])
    table = formats()
    if name not in table:
        raise MapError(f"unknown map format '{name}'",
                       did_you_mean(name, table) or "one of " + ", ".join(table))
    return table[name]


def _builtins() -> list[MapFormat]:
    return [_load(ref) for ref in BUILTIN.values()]


def by_suffix(suffix: str) -> MapFormat | None:
    """The format a file extension means, if one claims it (built-ins first)."""
    suffix = suffix.lower()
    for fmt in _builtins():
        if suffix in fmt.suffixes:
            return fmt
    if suffix == ".xml":
        return None
    for fmt in formats().values():
        if suffix in fmt.suffixes:
            return fmt
    return None


def by_xml_root(local: str, uri: str) -> MapFormat | None:
    """The format an ``.xml`` file's root element (local name, namespace URI) means."""
    for fmt in _builtins():
        if fmt.claims_xml(local, uri):
            return fmt
    for fmt in formats().values():
        if fmt.claims_xml(local, uri):
            return fmt
    return None


def xml_hint() -> str:
    """What an .xml map may be (the latest registered format first)."""
    kinds = [fmt.xml_name or f"<{fmt.xml_roots[0][0]}> ({fmt.title})"
             for fmt in reversed(formats().values()) if fmt.xml_roots]
    return ("an .xml map is " + " or ".join(kinds) + "; --format "
            + "|".join(formats()) + " overrides the guess")
