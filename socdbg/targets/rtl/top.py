"""The top level around the generated blocks: one APB, a decoder, and the hardware side.

``socdbg_top`` takes one 32-bit APB and the simulated time ``now`` (a 64-bit input the
harness advances on ``step``; bus transfers take clock edges but no simulated time, as on the
functional model). The decoder selects the block whose range holds ``paddr``; an address in
no block answers at once with ``pslverr`` (a bus error, as on the simulator).

Every ``hwif_in`` leaf is driven: a ``next`` input with the field's reset value (a status bit
nobody drives reads as the map says it resets), every other input (``incr``, ``we``...) with
0, unless a behaviour of the reference SoC drives it. The behaviours, with the functional
model's timings (socdbg/models/blocks.py): the PLL locks ``PLL_LOCK_CYCLES`` after ``en`` rises
and counts lost locks; ``sysctrl.cycle`` counts while locked; HBM training walks its phases;
intc ``pending = status & enable`` with sources set by ``test_set``, HBM training and mailbox
doorbells; doorbells set ``doorbell_status``; NoC routers read their mesh coordinates. Each
applies only when the blocks have the signals it needs.

The DMA engine is not written here: the functional model's engine drives the DMA block's
hardware inputs from Python (targets/rtl/coupling.py) through a *sideband*, a small array of
values the harness writes with clock edges but no simulated time. :func:`sideband_leaves`
lists the inputs it drives, in index order; the build writes that list next to the harness
(``sideband.txt``) so the target knows the indices without regenerating anything. A sideband
entry holds a level (``sb_level``) or a one-cycle pulse (``sb_once``, for sticky bits software
clears); the input is driven with ``sb_level[i] | sb_once[i]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from socdbg.errors import TargetError
from socdbg.targets.rtl.generate import Block

#: The functional model's timings (socdbg/models/blocks.py), repeated here because models may
#: not be imported by the code generator's callers' layers; a test checks they agree.
PLL_LOCK_CYCLES = 2000
HBM_PHASE_CYCLES = 500
HBM_PHASES = 7


class _Signals:
    def __init__(self, blocks: Sequence[Block]) -> None:
        self.ins = {f"{b.name}.{leaf.path}.{leaf.kind}" for b in blocks for leaf in b.inputs}
        self.outs = {f"{b.name}.{o}" for b in blocks for o in b.outputs}

    def has_in(self, *names: str) -> bool:
        return all(n in self.ins for n in names)

    def has_out(self, *names: str) -> bool:
        return all(n in self.outs for n in names)


def _out(name: str) -> str:
    block, _, rest = name.partition(".")
    return f"out_{block}.{rest}"


def _behaviours(sig: _Signals, blocks: Sequence[Block], mesh_x: int
                ) -> tuple[list[str], dict[str, str]]:
    """SystemVerilog for the reference SoC's hardware side: (lines, leaf -> expression)."""
    code: list[str] = []
    drive: dict[str, str] = {}
    pll = sig.has_out("sysctrl.pll_ctrl.en.value") and sig.has_in(
        "sysctrl.pll_status.lock.next")
    if pll:
        refdiv = ("out_sysctrl.pll_ctrl.refdiv.value != '0"
                  if sig.has_out("sysctrl.pll_ctrl.refdiv.value") else "1'b1")
        code += [
            "    // PLL: en 0->1 locks PLL_LOCK_CYCLES later (not with refdiv 0); 1->0 unlocks",
            "    logic pll_en_q, pll_pending, pll_locked;",
            "    logic [63:0] pll_due, pll_since, pll_held;",
            "    logic [7:0] pll_lost;",
            "    wire pll_en = out_sysctrl.pll_ctrl.en.value;",
            "    always_ff @(posedge clk) begin",
            "        if (rst) begin",
            "            pll_en_q <= 1'b0; pll_pending <= 1'b0; pll_locked <= 1'b0;",
            "            pll_due <= '0; pll_since <= '0; pll_held <= '0; pll_lost <= '0;",
            "        end else begin",
            "            pll_en_q <= pll_en;",
            "            if (pll_en && !pll_en_q) begin",
            f"                if ({refdiv}) begin",
            f"                    pll_pending <= 1'b1; pll_due <= now + 64'd{PLL_LOCK_CYCLES};",
            "                end",
            "            end else if (!pll_en && pll_en_q) begin",
            "                pll_pending <= 1'b0;",
            "                if (pll_locked) begin",
            "                    pll_locked <= 1'b0; pll_held <= pll_held + (now - pll_since);",
            "                    if (pll_lost != 8'hff) pll_lost <= pll_lost + 8'd1;",
            "                end",
            "            end else if (pll_pending && now >= pll_due) begin",
            "                pll_pending <= 1'b0; pll_locked <= 1'b1; pll_since <= pll_due;",
            "            end",
            "        end",
            "    end",
        ]
        drive["sysctrl.pll_status.lock.next"] = "pll_locked"
        if sig.has_in("sysctrl.pll_status.lock_lost_cnt.next"):
            drive["sysctrl.pll_status.lock_lost_cnt.next"] = "pll_lost"
    if sig.has_in("sysctrl.cycle.count.next"):
        drive["sysctrl.cycle.count.next"] = (
            "pll_locked ? pll_held + (now - pll_since) : pll_held" if pll else "now")
    irq: dict[str, list[str]] = {}
    rst_ctrl = "sysctrl.rst_ctrl"
    if sig.has_out("hbm.train_ctrl.start.value") and sig.has_in(
            "hbm.train_status.done.next", "hbm.train_status.busy.next",
            "hbm.train_status.fail.next", "hbm.train_status.phase.next"):
        in_rst = (f"out_{rst_ctrl}.hbm_rst.value"
                  if sig.has_out(f"{rst_ctrl}.hbm_rst.value") else "1'b0")
        locked = "pll_locked" if pll else "1'b1"
        total = HBM_PHASE_CYCLES * HBM_PHASES
        code += [
            "    // HBM training: HBM_PHASES phases of HBM_PHASE_CYCLES, then done (phase 8)",
            "    logic hbm_run, hbm_done, hbm_fail, hbm_irq, hbm_rst_q;",
            "    logic [3:0] hbm_phase;",
            "    logic [63:0] hbm_t0;",
            "    wire [63:0] hbm_el = now - hbm_t0;",
            f"    wire hbm_in_rst = {in_rst};",
            "    always_ff @(posedge clk) begin",
            "        if (rst) begin",
            "            hbm_run <= 1'b0; hbm_done <= 1'b0; hbm_fail <= 1'b0; hbm_irq <= 1'b0;",
            "            hbm_phase <= '0; hbm_t0 <= '0; hbm_rst_q <= 1'b0;",
            "        end else begin",
            "            hbm_irq <= 1'b0;",
            "            hbm_rst_q <= hbm_in_rst;",
            "            if (hbm_in_rst && !hbm_rst_q) begin",
            "                hbm_run <= 1'b0; hbm_done <= 1'b0; hbm_fail <= 1'b0;",
            "                hbm_phase <= '0;",
            f"            end else if (hbm_run && hbm_el >= 64'd{total}) begin",
            "                hbm_run <= 1'b0; hbm_done <= 1'b1; hbm_phase <= 4'd8;",
            "                hbm_irq <= 1'b1;",
            "            end else if (out_hbm.train_ctrl.start.value && !hbm_run",
            "                         && !hbm_in_rst) begin",
            f"                if (!{locked}) begin",
            "                    hbm_done <= 1'b1; hbm_fail <= 1'b1; hbm_phase <= '0;",
            "                    hbm_irq <= 1'b1;",
            "                end else begin",
            "                    hbm_run <= 1'b1; hbm_t0 <= now;",
            "                    hbm_done <= 1'b0; hbm_fail <= 1'b0;",
            "                end",
            "            end",
            "        end",
            "    end",
        ]
        drive["hbm.train_status.done.next"] = "hbm_done"
        drive["hbm.train_status.busy.next"] = "hbm_run"
        drive["hbm.train_status.fail.next"] = "hbm_fail"
        drive["hbm.train_status.phase.next"] = (
            f"hbm_run ? 4'(1 + hbm_el[15:0] / 16'd{HBM_PHASE_CYCLES}) : hbm_phase")
        irq.setdefault("hbm_train_done", []).append("hbm_irq")
    bells = [o for o in sorted(sig.outs) if o.startswith("mailbox.doorbell.")
             and o.endswith(".value")]
    if bells:
        in_rst = (f"out_{rst_ctrl}.mailbox_rst.value"
                  if sig.has_out(f"{rst_ctrl}.mailbox_rst.value") else "1'b0")
        rung = []
        for o in bells:
            bit = o[len("mailbox.doorbell."):-len(".value")]
            status = f"mailbox.doorbell_status.{bit}.next"
            if sig.has_in(status):
                drive[status] = f"{_out(o)} && !({in_rst})"
                rung.append(_out(o))
        if rung:
            code.append(f"    wire mbox_rung = ({' | '.join(rung)}) && !({in_rst});")
            irq.setdefault("mbox", []).append("mbox_rung")
    intc = [leaf for b in blocks if b.name == "intc" for leaf in b.inputs
            if leaf.path.startswith("status.") and leaf.kind == "next"]
    for leaf in intc:
        src = leaf.path.split(".")[1]
        terms = list(irq.get(src, []))
        if sig.has_out(f"intc.test_set.{src}.value"):
            terms.append(f"out_intc.test_set.{src}.value")
        if terms:
            drive[f"intc.status.{src}.next"] = " | ".join(terms)
        if sig.has_in(f"intc.pending.{src}.next") and sig.has_out(
                f"intc.status.{src}.value", f"intc.enable.{src}.value"):
            drive[f"intc.pending.{src}.next"] = (
                f"out_intc.status.{src}.value & out_intc.enable.{src}.value")
    noc = next((b for b in blocks if b.name == "noc"), None)
    if noc is not None and mesh_x:
        for leaf in noc.inputs:
            parts = leaf.path.split(".")
            if (len(parts) == 3 and parts[0].startswith("router_") and parts[0][7:].isdigit()
                    and parts[1] == "coord" and parts[2] in ("x", "y") and leaf.kind == "next"):
                i = int(parts[0][7:])
                value = i % mesh_x if parts[2] == "x" else i // mesh_x
                drive[f"noc.{leaf.path}.next"] = f"{leaf.width}'d{value}"
    return code, drive


#: Blocks whose hardware inputs the functional model drives through the sideband, and the
#: interrupt sources they raise (``intc.status.<source>``).
COUPLED_BLOCK = "dma"
COUPLED_IRQ_PREFIX = "dma_ch"
#: The most sideband entries (the reference SoC's DMA block uses 31).
MAX_SIDEBAND = 4096


def sideband_leaves(blocks: Sequence[Block]) -> list[tuple[str, str, int]]:
    """(block, field path inside the RTL, width) of every input the functional model drives:
    the ``next`` inputs of the DMA block, and the DMA interrupt sources of intc."""
    names = {b.name for b in blocks}
    if COUPLED_BLOCK not in names:
        return []
    out = [(b.name, leaf.path, leaf.width) for b in blocks for leaf in b.inputs
           if leaf.kind == "next" and (
               b.name == COUPLED_BLOCK or (b.name == "intc" and leaf.path.startswith(
                   f"status.{COUPLED_IRQ_PREFIX}")))]
    if len(out) > MAX_SIDEBAND:
        raise TargetError(f"rtl: the {COUPLED_BLOCK} block has {len(out)} hardware inputs; "
                          f"the DMA model drives at most {MAX_SIDEBAND}")
    return out


def _sideband(blocks: Sequence[Block], drive: dict[str, str]) -> list[str]:
    """The sideband registers, and ``drive`` entries for the leaves they drive."""
    leaves = sideband_leaves(blocks)
    if not leaves:
        return []
    n = len(leaves)
    code = [
        f"    // sideband: {n} hardware inputs driven by the functional model's DMA engine",
        f"    logic [63:0] sb_level [0:{n - 1}];",
        f"    logic [63:0] sb_once [0:{n - 1}];",
        "    always_ff @(posedge clk) begin",
        "        for (int i = 0; i < " + str(n) + "; i++) sb_once[i] <= '0;",
        "        if (rst) begin",
        "            for (int i = 0; i < " + str(n) + "; i++) sb_level[i] <= '0;",
        f"        end else if (sb_we && sb_addr < 16'd{n}) begin",
        "            if (sb_pulse) sb_once[sb_addr] <= sb_data;",
        "            else sb_level[sb_addr] <= sb_data;",
        "        end",
        "    end",
    ]
    for i, (block, path, width) in enumerate(leaves):
        key = f"{block}.{path}.next"
        term = f"{width}'(sb_level[{i}] | sb_once[{i}])"
        drive[key] = f"{drive[key]} | {term}" if key in drive else term
    return code


def top_sv(blocks: Sequence[Block], mesh_x: int = 0) -> str:
    """The top module; ``mesh_x``: the NoC mesh width (routers are numbered row by row)."""
    sig = _Signals(blocks)
    code, drive = _behaviours(sig, blocks, mesh_x)
    code += _sideband(blocks, drive)
    lines = [
        "// Generated by socdbg (socdbg/targets/rtl/top.py): decoder and hardware side.",
        "/* verilator lint_off WIDTH */",
        "/* verilator lint_off UNUSED */",
        "module socdbg_top (",
        "    input  wire        clk,",
        "    input  wire        rst,",
        "    input  wire [63:0] now,",
        "    input  wire        psel,",
        "    input  wire        penable,",
        "    input  wire        pwrite,",
        "    input  wire [31:0] paddr,",
        "    input  wire [31:0] pwdata,",
        "    input  wire [3:0]  pstrb,",
        "    input  wire        sb_we,",
        "    input  wire        sb_pulse,",
        "    input  wire [15:0] sb_addr,",
        "    input  wire [63:0] sb_data,",
        "    output logic        pready,",
        "    output logic [31:0] prdata,",
        "    output logic        pslverr",
        ");",
    ]
    for b in blocks:
        n = b.name
        lines += [
            f"    // {n} at {b.base:#x}, {b.size:#x} bytes",
            f"    wire sel_{n} = psel && ({{1'b0, paddr}} >= 33'h{b.base:x})"
            f" && ({{1'b0, paddr}} < 33'h{b.base + b.size:x});",
            f"    wire [31:0] off_{n} = paddr - 32'h{b.base:x};",
            f"    logic rdy_{n}, err_{n};",
            f"    logic [31:0] rd_{n};",
        ]
        if b.has_in:
            lines.append(f"    {b.in_type} in_{n};")
        if b.has_out:
            lines.append(f"    {b.out_type} out_{n};")
    lines += code
    for b in blocks:
        n = b.name
        ports = [
            ".clk(clk)", ".rst(rst)", f".s_apb_psel(sel_{n})", ".s_apb_penable(penable)",
            ".s_apb_pwrite(pwrite)", ".s_apb_pprot(3'b0)",
            f".s_apb_paddr(off_{n}[{b.addr_width - 1}:0])", ".s_apb_pwdata(pwdata)",
            ".s_apb_pstrb(pstrb)", f".s_apb_pready(rdy_{n})", f".s_apb_prdata(rd_{n})",
            f".s_apb_pslverr(err_{n})",
        ]
        if b.has_in:
            ports.append(f".hwif_in(in_{n})")
        if b.has_out:
            ports.append(f".hwif_out(out_{n})")
        lines.append(f"    {b.module} u_{n} (" + ", ".join(ports) + ");")
        if b.has_in:
            lines.append("    always_comb begin")
            for leaf in b.inputs:
                key = f"{n}.{leaf.path}.{leaf.kind}"
                expr = drive.get(key, f"{leaf.width}'h{leaf.reset:x}")
                lines.append(f"        in_{n}.{leaf.path}.{leaf.kind} = {expr};")
            lines.append("    end")
    lines += ["    always_comb begin",
              "        pready = 1'b1; prdata = '0; pslverr = 1'b1;  // no block: bus error"]
    for i, b in enumerate(blocks):
        n = b.name
        kw = "if" if i == 0 else "else if"
        lines.append(f"        {kw} (sel_{n}) begin pready = rdy_{n}; prdata = rd_{n}; "
                     f"pslverr = err_{n}; end")
    lines += ["    end", "endmodule", ""]
    return "\n".join(lines)
