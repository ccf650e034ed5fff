"""SystemVerilog register blocks from SystemRDL, one per peripheral, with PeakRDL-regblock.

The map is compiled again here (with regblock's user-defined properties known), each block
of the top addrmap is exported with the flattened APB4 CPU interface, and the hardware-side
ports (``hwif_in``) are read from regblock's own hwif report, so the top level can drive
every one of them.

One change is made to the elaborated model before export, never to generated text: arrays
(``ch[4]``, ``msg[8]``, ``router[16]``) are unrolled into single instances at the same
addresses (``ch_0`` .. ``ch_3``). Verilator 5.006 stops with an internal error
("V3Unknown: No VarRef or Const under ArraySel") on the assignments regblock generates for
arrays inside its unpacked structs; without arrays there are none. Register names inside
the RTL change (``ch_0.status``), addresses do not, and socdbg only talks addresses. The
per-word strobes of registers wider than the bus are arrays too; for them the build passes
Verilator ``--structs-packed`` (build.py), which it compiles correctly.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socdbg.errors import TargetError

if TYPE_CHECKING:
    from systemrdl.node import AddrmapNode

#: An hwif report line: ``hwif_in.ch_0.status.busy.next`` or ``...count.next[63:0]``.
_LEAF = re.compile(r"^hwif_(?P<dir>in|out)\.(?P<path>[A-Za-z_][\w.]*)\.(?P<kind>\w+)"
                   r"(?:\[(?P<msb>\d+):0\])?$")
#: The most hwif leaves one block may have (a 16x16 NoC has about 5,000).
MAX_LEAVES = 100_000
#: SystemVerilog keywords a block name must not be (the module is named after it).
_PREFIX = "sdbg_"


@dataclass(frozen=True)
class Leaf:
    """One hardware-side input of a block: ``path`` of the field, ``kind`` (``next``,
    ``incr``, ``we``...), its width and the field's reset value (0 when it has none)."""

    path: str
    kind: str
    width: int
    reset: int


@dataclass(frozen=True)
class Block:
    name: str  # the block's instance name in the map (``sysctrl``)
    module: str  # the generated module (``sdbg_sysctrl``)
    package: str
    in_type: str  # the hwif port types, as the generated module declares them
    out_type: str
    base: int  # absolute address of the block
    size: int  # bytes the block decodes (regblock's size): past it is a bus error
    addr_width: int
    inputs: tuple[Leaf, ...]  # every hwif_in leaf
    outputs: tuple[str, ...]  # every hwif_out leaf, as ``path.kind``

    @property
    def has_in(self) -> bool:
        return bool(self.inputs)

    @property
    def has_out(self) -> bool:
        return bool(self.outputs)


def _unroll(comp: Any) -> Any:
    """Replace every array instance under ``comp`` by one instance per element, named
    ``name_i`` (``name_i_j`` for more dimensions), at the element's address."""
    from systemrdl.component import AddressableComponent

    out: list[Any] = []
    for child in comp.children:
        if isinstance(child, AddressableComponent) and child.array_dimensions:
            stride = child.array_stride
            assert child.addr_offset is not None and stride is not None
            for k, idx in enumerate(itertools.product(*map(range, child.array_dimensions))):
                elem = copy.copy(child)
                elem.array_dimensions = None
                elem.array_stride = None
                elem.inst_name = f"{child.inst_name}_" + "_".join(map(str, idx))
                elem.addr_offset = child.addr_offset + k * stride
                out.append(_unroll(elem))
        elif isinstance(child, AddressableComponent):
            out.append(_unroll(copy.copy(child)))
        else:
            out.append(child)
    comp.children = out
    return comp


def compile_blocks(files: Sequence[str], defines: Sequence[tuple[str, str]], top: str,
                   wanted: Sequence[str] | None) -> list[AddrmapNode]:
    """The blocks of the map: the top addrmap's child addrmaps (all, or those named in
    ``wanted``), or the top itself when it holds registers directly."""
    from peakrdl_regblock.udps import ALL_UDPS
    from systemrdl.compiler import RDLCompiler
    from systemrdl.messages import RDLCompileError
    from systemrdl.node import AddrmapNode

    rdlc = RDLCompiler()
    for udp in ALL_UDPS:
        rdlc.register_udp(udp)
    try:
        for f in files:
            rdlc.compile_file(f, incl_search_paths=[str(Path(f).parent)],
                              defines=dict(defines))
        root = rdlc.elaborate(top_def_name=top or None)
    except RDLCompileError as exc:
        raise TargetError(f"rtl: cannot compile {', '.join(files)}: {exc}") from None
    top_node = root.top
    children = [c for c in top_node.children() if isinstance(c, AddrmapNode)]
    blocks = children or [top_node]
    if wanted:
        names = {b.inst_name: b for b in blocks}
        from socdbg.errors import did_you_mean

        for w in wanted:
            if w not in names:
                raise TargetError(f"rtl: the map has no block '{w}'",
                                  did_you_mean(w, names) or "blocks: " + ", ".join(names))
        blocks = [names[w] for w in dict.fromkeys(wanted)]
    for b in blocks:
        _unroll(b.inst)
    return blocks


def _parse_report(text: str, node: AddrmapNode, name: str) -> tuple[list[Leaf], list[str]]:
    from systemrdl.node import FieldNode

    inputs: list[Leaf] = []
    outputs: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = _LEAF.match(line)
        if m is None:
            raise TargetError(f"rtl: {name}: unexpected hwif report line '{line[:80]}'")
        if len(inputs) + len(outputs) >= MAX_LEAVES:
            raise TargetError(f"rtl: {name}: more than {MAX_LEAVES} hardware signals")
        width = int(m["msb"]) + 1 if m["msb"] is not None else 1
        if m["dir"] == "out":
            outputs.append(f"{m['path']}.{m['kind']}")
            continue
        fld = node.find_by_path(m["path"])
        if not isinstance(fld, FieldNode):
            raise TargetError(f"rtl: {name}: hwif input {m['path']} is not a field",
                              "external blocks and signals are not supported by rtl:")
        reset = fld.get_property("reset")
        value = reset if isinstance(reset, int) and m["kind"] == "next" else 0
        inputs.append(Leaf(m["path"], m["kind"], width, value))
    return inputs, outputs


def export(blocks: Sequence[AddrmapNode], out: Path) -> list[Block]:
    """Write ``<module>.sv`` and ``<module>_pkg.sv`` per block into ``out``."""
    from peakrdl_regblock import RegblockExporter
    from peakrdl_regblock.cpuif.apb4 import APB4_Cpuif_flattened

    result: list[Block] = []
    for node in blocks:
        name = node.inst_name
        module = _PREFIX + name
        try:
            RegblockExporter().export(node, str(out), cpuif_cls=APB4_Cpuif_flattened,
                                      module_name=module, package_name=module + "_pkg",
                                      err_if_bad_addr=True, generate_hwif_report=True)
        except Exception as exc:  # the generator's own errors name the RDL problem
            raise TargetError(f"rtl: PeakRDL-regblock cannot generate block {name}: {exc}"
                              ) from None
        report = out / f"{module}_hwif.rpt"
        text = report.read_text(encoding="utf-8") if report.exists() else ""
        inputs, outputs = _parse_report(text, node, name)
        size = int(node.size)
        addr_width = max(2, (size - 1).bit_length())
        sv = (out / f"{module}.sv").read_text(encoding="utf-8")
        in_type = _port_type(sv, "input", "hwif_in") if inputs else ""
        out_type = _port_type(sv, "output", "hwif_out") if outputs else ""
        result.append(Block(name, module, module + "_pkg", in_type, out_type,
                            int(node.absolute_address), size,
                            addr_width, tuple(inputs), tuple(outputs)))
    return result


def _port_type(sv: str, direction: str, port: str) -> str:
    m = re.search(rf"^\s*{direction}\s+(\w+::\w+)\s+{port}\b", sv, re.M)
    if m is None:
        raise TargetError(f"rtl: the generated module has no {port} port")
    return m[1]
