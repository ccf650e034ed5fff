"""Firmware images: ELF parsing, symbol tables, and loading segments into a target."""

from socdbg.firmware.elf import ElfImage, FirmwareError, Segment, Symbol, SymbolTable, read_elf

__all__ = ["ElfImage", "FirmwareError", "Segment", "Symbol", "SymbolTable", "read_elf"]
