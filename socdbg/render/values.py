"""Rich views of values read from a target: decoded registers and annotated hex dumps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from socdbg.regmap import Decoded, Register
from socdbg.render.plain import access_text, addr_text, hex_width
from socdbg.render.regs import longest_word, pin_widths


def field_cell(fv: Any) -> Text:
    if fv.field.enum is not None:
        name = fv.enum_name
        if name is None:
            return Text(f"<unknown {fv.value}>", style="red")
        return Text.assemble((name, "bold green"), f" ({fv.value})")
    if fv.field.width == 1:
        return Text(str(fv.value), style="bold" if fv.value else "dim")
    return Text(f"{fv.value:#x}" + (f" ({fv.value})" if fv.value > 9 else ""))


class RegisterValue:
    """One register: header line with address and value, then one row per field."""

    def __init__(self, decoded: Decoded) -> None:
        self.d = decoded

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        d = self.d
        reg = d.register
        head = Text.assemble((reg.path, "bold"), "  ", (addr_text(reg.address), "cyan"), "  = ",
                             (hex_width(d.value, reg.width), "bold magenta"))
        table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 1))
        table.add_column("bits", justify="right", style="cyan", no_wrap=True)
        table.add_column("field", no_wrap=True)
        table.add_column("access", style="dim")
        table.add_column("value")
        table.add_column("", style="dim", overflow="ellipsis", no_wrap=True)
        for fv in sorted(d.fields, key=lambda fv: -fv.field.lsb):
            f = fv.field
            table.add_row(f.bits, f.name, access_text(f) + (f" {f.effects}" if f.effects
                                                            else ""),
                          field_cell(fv), f.description)
        parts: list[Any] = [head, pin_widths(table, options.max_width)]
        if d.reserved_bits:
            parts.append(Text(f"reserved bits set: {d.reserved_bits:#x}", style="yellow"))
        yield Group(*parts)


class RegisterValues:
    """Many registers, compactly: one line each with the fields as name=value."""

    def __init__(self, values: Sequence[Decoded], skipped: Sequence[tuple[Register, str]] = ()
                 ) -> None:
        self.values = values
        self.skipped = skipped

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 1))
        table.add_column("register", no_wrap=True)
        table.add_column("address", style="cyan", no_wrap=True)
        table.add_column("value", style="magenta", justify="right", no_wrap=True)
        table.add_column("fields", overflow="fold")
        for d in self.values:
            fields = Text()
            for i, fv in enumerate(sorted(d.fields, key=lambda fv: -fv.field.lsb)):
                if i:
                    fields.append(" ")
                fields.append(fv.field.name + "=", style="dim")
                name = fv.enum_name
                if fv.field.enum is not None and name is None:
                    fields.append(f"<unknown {fv.value}>", style="red")
                elif name:
                    fields.append(name, style="green")
                else:
                    fields.append(str(fv.value) if fv.value < 10 else f"{fv.value:#x}",
                                  style="bold" if fv.value else "")
            table.add_row(d.register.path, addr_text(d.register.address),
                          hex_width(d.value, d.register.width), fields)
        pin_widths(table, options.max_width)
        fields_col = table.columns[-1]
        if (fields_col.max_width or 0) >= max(longest_word(table), 16):
            yield table
        else:  # too narrow for a fields column: the fields go under each register, whole
            cols = table.columns[:3]
            w = [max(len(Text.from_markup(c, emoji=False)) if isinstance(c, str) else 0
                     for c in col.cells) for col in cols]
            for path, addr, value, fields in zip(*(col.cells for col in table.columns),
                                                 strict=True):
                yield Text.assemble((f"{path:<{w[0]}}", "bold"), "  ",
                                    (f"{addr:<{w[1]}}", "cyan"), "  ",
                                    (f"{value:>{w[2]}}", "magenta"))
                yield Padding(fields, (0, 0, 0, 2))
        for reg, why in self.skipped:
            yield Text(f"skipped {reg.path}: {why}", style="yellow")
