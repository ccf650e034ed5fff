"""Type stubs of a register map for the Python API, so mypy flags a misspelt block,
register or field (and a write to a read-only field) in a user's script.

    socdbg stubs -o chip.pyi            # the session's map
    # in the script:
    #   if TYPE_CHECKING: from chip import Chip
    #   chip: "Chip" = socdbg.connect("sim")
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from socdbg.regmap import Register, RegMap

_INDEX = re.compile(r"\[\d+\]")


#: Attribute names the API itself uses on registers, values and blocks: a field or register
#: of the same name is reached with a trailing underscore, as Python keywords are.
RESERVED = frozenset({"read", "write", "address", "path", "register", "fields", "decoded",
                      "field", "name", "numerator", "denominator", "real", "imag",
                      "conjugate", "bit_length", "bit_count", "to_bytes", "from_bytes",
                      "as_integer_ratio", "is_integer", "session", "map", "node", "close"})


def py_name(name: str) -> str:
    """A map name as a Python identifier: keywords and the API's own attribute names get a
    trailing underscore (``in_``, ``address_``)."""
    return name + "_" if keyword.iskeyword(name) or name in RESERVED else name


@dataclass
class _Node:
    name: str
    path: str  # first element's path (arrays collapse to element 0)
    children: dict[str, _Node] = field(default_factory=dict)
    array: bool = False
    register: Register | None = None


def _tree(rmap: RegMap) -> _Node:
    root = _Node("Chip", "")
    for reg in rmap:
        node = root
        parts = reg.path.split(".")
        for i, seg in enumerate(parts):
            base = seg.split("[", 1)[0]
            child = node.children.get(base)
            if child is None:
                child = _Node(base, ".".join(parts[: i + 1]), array="[" in seg)
                node.children[base] = child
            elif _INDEX.search(seg) and _INDEX.sub("", seg) != seg and not seg.endswith("[0]"):
                pass  # later elements of an array share element 0's class
            node = child
        if node.register is None:
            node.register = reg
    return root


def _class_name(path: str, taken: set[str]) -> str:
    words = re.split(r"[^0-9A-Za-z]+", _INDEX.sub("", path))
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Node"
    if name[0].isdigit():
        name = "N" + name
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{n}", n + 1
    taken.add(candidate)
    return candidate


def _doc(text: str) -> str:
    clean = text.replace("\\", "/").replace('"', "'")
    return clean if len(clean) <= 60 else clean[:57] + "..."


def generate(rmap: RegMap) -> str:
    root = _tree(rmap)
    taken: set[str] = {"Chip", "Value", "FieldProxy", "RegisterProxy", "Block", "Array"}
    classes: list[str] = []

    def emit(node: _Node) -> str:
        if node.register is not None and not node.children:
            return emit_register(node, node.register)
        name = "Chip" if node is root else _class_name(node.path, taken)
        lines = [f"class {name}:", "    path: str"]
        if node is root:
            lines += ["    session: Session",
                      "    map: RegMap",
                      "    def __enter__(self) -> Chip: ...",
                      "    def __exit__(self, *exc: object) -> None: ...",
                      "    def read(self, path: str) -> Value: ...",
                      "    def write(self, path: str, whole: int | None = None, /, "
                      "**fields: int | str) -> Value: ...",
                      "    def close(self) -> None: ..."]
        for child in node.children.values():
            cls = emit(child)
            kind = f"Array[{cls}]" if child.array else cls
            lines.append(f"    {py_name(child.name)}: {kind}")
        if len(lines) == 1:
            lines.append("    ...")
        classes.append("\n".join(lines))
        return name

    def emit_register(node: _Node, reg: Register) -> str:
        name = _class_name(node.path, taken)
        lines = [f"class {name}:",
                 f'    """{reg.path} at {reg.address:#x}: {_doc(reg.description)}"""',
                 "    path: str",
                 "    address: int",
                 "    def read(self) -> Value: ..."]
        for f in reg.fields:
            lines.append(f"    {py_name(f.name)}: FieldProxy")
        params = []
        for f in reg.fields:
            if not f.sw.writable:
                continue
            kind = "int"
            if f.enum is not None:
                names = ", ".join(repr(m.name) for m in f.enum.members)
                kind = f"int | Literal[{names}]"
            params.append(f"{py_name(f.name)}: {kind} = ...")
        sig = ", *, " + ", ".join(params) if params else ""
        lines.append(f"    def write(self, whole: int | None = None, /{sig}) -> Value: ...")
        classes.append("\n".join(lines))
        return name

    emit(root)
    header = (f'"""Type stubs of register map {rmap.name} (identity {rmap.identity[:16]}), '
              'generated by socdbg stubs."""\n\n'
              "from typing import Literal\n\n"
              "from socdbg.api import Array, FieldProxy, Value\n"
              "from socdbg.commands.session import Session\n"
              "from socdbg.regmap import RegMap\n")
    return header + "\n\n" + "\n\n\n".join(classes) + "\n"
