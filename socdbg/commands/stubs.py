"""``stubs``: write type stubs of the map for the Python API."""

from __future__ import annotations

from pathlib import Path

import click

from socdbg.commands.registry import Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError


@click.command("stubs", help="Write type stubs (.pyi) of the map for the Python API, so mypy "
               "flags a misspelt register or field in a script: socdbg --map X.rdl stubs "
               "-o chip.pyi, then annotate chip: Chip = socdbg.connect(...).")
@click.argument("map_file", required=False, metavar="[MAP]")
@click.option("-o", "--output", required=True, metavar="FILE.pyi", help="Stub file to write.")
@session_command
def stubs_cmd(session: Session, map_file: str | None, output: str) -> Output:
    from socdbg.typestubs import generate

    rmap = session.load_map([map_file]) if map_file else session.map
    if not output.endswith(".pyi"):
        raise UsageError(f"'{output}' should end in .pyi", "mypy reads stubs from .pyi files")
    text = generate(rmap)
    Path(output).write_text(text, encoding="utf-8")
    return Output(data={"file": output, "map": rmap.name, "registers": len(rmap)},
                  text=f"wrote {output}: stubs of {rmap.name} ({len(rmap)} registers)")


register(stubs_cmd, Meta("map", reads_files=("map_file",), writes_files=("output",)))
