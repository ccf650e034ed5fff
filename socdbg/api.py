"""The Python API for bring-up scripts, notebooks and hardware-in-the-loop tests.

    import socdbg
    chip = socdbg.connect("sim")                 # any target string, any map
    v = chip.dma.ch[0].status.read()             # a Value: an int with decoded fields
    v.busy, v.err_code.name, int(v)
    chip.dma.ch[0].ctrl.write(en=1, mode="RING") # validated as in the shell, before any access
    chip.sysctrl.pll_status.lock.read()

Attribute access mirrors the map; a misspelt name raises AttributeError with the close
matches. ``socdbg stubs`` writes a ``.pyi`` of the map so mypy flags those at edit time:
annotate ``chip: Chip = socdbg.connect(...)`` with the generated ``Chip``.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

from socdbg.access import read_register
from socdbg.commands.session import Session
from socdbg.errors import did_you_mean
from socdbg.regmap import Decoded, Field, FieldValue, Register, RegMap, decode
from socdbg.typestubs import RESERVED, py_name

T = TypeVar("T")


def connect(target: str = "sim", map: str | Sequence[str] | None = None,
            debug: bool = False, allow_writes: bool = False, force_unsafe: bool = False
            ) -> Any:
    """Open a target (``sim``, ``gdb://host:port``, ``dump:FILE``, ``pci:...``) with a map
    (default: the target's own, else the reference SoC). Live silicon is read-only unless
    ``allow_writes``; a script never prompts, so writes to ``unsafe_write`` registers also
    need ``force_unsafe``. Typed ``Any`` so that a generated stub's ``Chip`` can annotate
    the result."""
    files = [map] if isinstance(map, str) else list(map) if map else None
    return Chip(Session(target=target, map_files=files, debug=debug,
                        allow_writes=allow_writes, force_unsafe=force_unsafe))


class FieldInt(int):
    """A field's value: an int that also knows its enum name (``.name``, None if none)."""

    name: str | None
    field: Field

    def __new__(cls, fv: FieldValue) -> FieldInt:
        obj = super().__new__(cls, fv.value)
        obj.name = fv.enum_name
        obj.field = fv.field
        return obj

    def __repr__(self) -> str:
        if self.name:
            return f"{self.name}({int(self)})"
        return str(int(self)) if self < 10 else hex(self)


class Value(int):
    """A register value: an int, with each field as an attribute (a FieldInt)."""

    decoded: Decoded

    def __new__(cls, decoded: Decoded) -> Value:
        obj = super().__new__(cls, decoded.value)
        obj.decoded = decoded
        return obj

    @property
    def register(self) -> Register:
        return self.decoded.register

    @property
    def fields(self) -> dict[str, FieldInt]:
        return {fv.field.name: FieldInt(fv) for fv in self.decoded.fields}

    def __getattr__(self, name: str) -> FieldInt:
        for fv in self.decoded.fields:
            if py_name(fv.field.name) == name or (fv.field.name == name
                                                   and name not in RESERVED):
                return FieldInt(fv)
        raise AttributeError(_missing(f"{self.decoded.register.path} has no field", name,
                                      [f.field.name for f in self.decoded.fields]))

    def __repr__(self) -> str:
        reg = self.decoded.register
        return f"<{reg.path} = {int(self):#0{reg.width // 4 + 2}x} {self.decoded.summary()}>"


def _missing(what: str, name: str, choices: Sequence[str]) -> str:
    hint = did_you_mean(name, choices)
    return f"{what} '{name}'" + (f" ({hint})" if hint else "")


class _Node:
    """Something the chip's tree reaches: holds the chip and a path prefix."""

    def __init__(self, chip: Chip, path: str) -> None:
        self._chip = chip
        self._path = path

    @property
    def path(self) -> str:
        return self._path


class RegisterProxy(_Node):
    """One register: ``read()``, ``write(value)`` / ``write(field=value, ...)``, fields."""

    @property
    def register(self) -> Register:
        return self._chip.map.get(self._path)

    @property
    def address(self) -> int:
        return self.register.address

    def read(self) -> Value:
        reg = self.register
        return Value(decode(reg, read_register(self._chip.session.target, reg)))

    def write(self, whole: int | None = None, /, **fields: int | str) -> Value:
        """Write a whole value, or fields by name (read-modify-write; enum names allowed).
        Everything is validated first, exactly as the shell's ``write`` does."""
        from socdbg.commands.registers_rw import perform_write

        if whole is not None and fields:
            raise TypeError("give either a whole value or field=value arguments, not both")
        if whole is None and not fields:
            raise TypeError("write() needs a value or field=value arguments")
        names = {py_name(f.name): f.name for f in self.register.fields}
        words = (str(int(whole)),) if whole is not None else tuple(
            f"{names.get(k, k)}={_text(v)}" for k, v in fields.items())
        done = perform_write(self._chip.session, self._path, words)
        return Value(done[0])

    def __getattr__(self, name: str) -> FieldProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        reg = self.register
        for f in reg.fields:
            if py_name(f.name) == name or (f.name == name and f.name not in RESERVED):
                return FieldProxy(self, f)
        raise AttributeError(_missing(f"{reg.path} has no field", name,
                                      [f.name for f in reg.fields]))

    def __dir__(self) -> list[str]:
        return [py_name(f.name) for f in self.register.fields] + ["read", "write", "address"]

    def __repr__(self) -> str:
        return f"<register {self._path} at {self.address:#x}>"


class FieldProxy:
    def __init__(self, reg: RegisterProxy, fld: Field) -> None:
        self._reg = reg
        self.field = fld

    def read(self) -> FieldInt:
        value = self._reg.read()
        return FieldInt(next(fv for fv in value.decoded.fields if fv.field is self.field))

    def write(self, value: int | str) -> Value:
        return self._reg.write(**{self.field.name: value})

    def __repr__(self) -> str:
        return f"<field {self._reg.path}.{self.field.name} {self.field.bits}>"


class Block(_Node):
    """A block (addrmap, regfile, array element): its children are attributes."""

    def _child(self, name: str) -> Any:
        return self._chip.node(f"{self._path}.{name}" if self._path else name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._child(name)

    def __dir__(self) -> list[str]:
        prefix = self._path + "." if self._path else ""
        return sorted({py_name(c.split("[", 1)[0]) for c in self._chip.map.children(prefix)})

    def __repr__(self) -> str:
        return f"<block {self._path}>"


class Array(_Node, Generic[T]):
    """An array of blocks or registers: index it, iterate it, take its length."""

    def __getitem__(self, index: int) -> T:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{self._path}[{index}]: the array has {n} elements")
        node: T = self._chip.node(f"{self._path}[{index % n}]")
        return node

    def __len__(self) -> int:
        head, _, name = self._path.rpartition(".")
        prefix = head + "." if head else ""
        return sum(1 for c in self._chip.map.children(prefix)
                   if c.split("[", 1)[0] == name)

    def __iter__(self) -> Iterator[T]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"<array {self._path}[{len(self)}]>"


class Chip(Block):
    """The whole chip: ``chip.dma.ch[0].ctrl``. Also ``read(path)``/``write(path, ...)``."""

    def __init__(self, session: Session) -> None:
        super().__init__(self, "")
        self.session = session

    @property
    def map(self) -> RegMap:
        return self.session.map

    def node(self, path: str) -> Any:
        rmap = self.map
        real = ".".join(_real_segment(rmap, seg) for seg in path.split("."))
        if rmap.find(real) is not None:
            return RegisterProxy(self, rmap.get(real).path)
        if rmap.is_block(real):
            return Block(self, real)
        head, _, name = real.rpartition(".")
        prefix = head + "." if head else ""
        siblings = rmap.children(prefix)
        if any(c.split("[", 1)[0] == name and "[" in c for c in siblings):
            return Array(self, real)
        reg = rmap.find(head)
        if reg is not None:  # a field path: chip.read("dma.ch[0].ctrl.mode")
            fld = reg.field(name)
            if fld is not None:
                return FieldProxy(RegisterProxy(self, reg.path), fld)
        raise AttributeError(_missing(f"{head or 'the chip'} has no", name,
                                      [c.split("[", 1)[0] for c in siblings]))

    def read(self, path: str) -> Value | FieldInt:
        """A register's Value, or a field's FieldInt for ``REGISTER.FIELD``."""
        proxy = self.node(path)
        if not isinstance(proxy, RegisterProxy | FieldProxy):
            raise TypeError(f"{path} is not a register or field")
        return proxy.read()

    def write(self, path: str, whole: int | str | None = None, /,
              **fields: int | str) -> Value:
        """``write("dma.ch[0].ctrl", en=1)``, a whole value, or ``write("...ctrl.mode",
        "RING")`` for one field."""
        proxy = self.node(path)
        if isinstance(proxy, FieldProxy):
            if whole is None or fields:
                raise TypeError("a field path takes one value: write(path, value)")
            return proxy.write(whole)
        if not isinstance(proxy, RegisterProxy):
            raise TypeError(f"{path} is not a register or field")
        if isinstance(whole, str):
            raise TypeError("a whole-register value is an int")
        return proxy.write(whole, **fields)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Chip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<chip {self.map.name} on {self.session.target_spec}>"


def _text(value: int | str) -> str:
    """A value for the command language: ints (Values, FieldInts, bools) as numbers."""
    return str(int(value)) if isinstance(value, int) else value


def _real_segment(rmap: RegMap, segment: str) -> str:
    """``in_`` -> ``in`` where the map names a keyword (Python needs the underscore)."""
    base = segment.split("[", 1)[0]
    if base.endswith("_") and (keyword.iskeyword(base[:-1]) or base[:-1] in RESERVED):
        return segment.replace(base, base[:-1], 1)
    return segment
