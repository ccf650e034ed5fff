"""Every command declares metadata in the registry (category, target effects, host files),
and policies derive from the PARSED command: quoting or escaping a name changes nothing."""

from __future__ import annotations

import io
import shlex

import click
import pytest

from socdbg.commands import registry
from socdbg.commands.dispatch import dry_run_guard, execute
from socdbg.commands.registry import CATEGORIES, Meta, commands, metadata, parse, register
from socdbg.commands.session import Session


def test_every_registered_command_and_subcommand_has_metadata() -> None:
    table = commands()
    assert table
    for name, cmd in table.items():
        meta = metadata(name)
        assert meta is not None, f"{name} registered without metadata"
        assert meta.category in CATEGORIES, name
        if isinstance(cmd, click.Group):
            assert set(cmd.commands) <= set(meta.subcommands), name


def test_register_refuses_a_command_without_metadata_or_with_a_wrong_one() -> None:
    @click.command("zz-nometa")
    def plain() -> None:
        pass

    with pytest.raises(TypeError):
        register(plain)  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="unknown category"):
        register(plain, Meta("no-such-category"))
    with pytest.raises(RuntimeError, match="names no parameter 'junit'"):
        register(plain, Meta("session", writes_files=("junit",)))

    @click.group("zz-group")
    def group() -> None:
        pass

    @group.command("sub")
    def sub() -> None:
        pass

    with pytest.raises(RuntimeError, match="subcommands without metadata: sub"):
        register(group, Meta("session"))
    assert "zz-nometa" not in commands() and "zz-group" not in commands()
    assert "zz-nometa" not in registry._META


def effects(line: str) -> registry.Effects:
    return parse(shlex.split(line)).effects


@pytest.mark.parametrize(("line", "written"), [
    ("dump -o F.json", ("F.json",)), ('"dump" -o F.json', ("F.json",)),
    (r"\dump --output=F.json", ("F.json",)), ("butr --junit r.xml", ("r.xml",)),
    ("trace start t.vcd", ("t.vcd",)), ('"trace" "start" t.vcd', ("t.vcd",)),
    ("record start r.sdbg", ("r.sdbg",)), ("stubs -o c.pyi", ("c.pyi",)),
])
def test_host_files_written_come_from_the_parsed_options(line: str, written: tuple[str, ...]
                                                         ) -> None:
    assert effects(line).writes_files[: len(written)] == written


def test_dump_without_output_still_writes_a_file_and_reads_do_not() -> None:
    assert effects("dump").writes_files
    for line in ("read sysctrl.chip_id", "peek dram 4", "butr sysctrl", "regs list",
                 "trace", "noc", "expect mem 0x10 == 'de ad'", "info", "help dump"):
        eff = effects(line)
        assert not eff.host_files and not eff.writes and not eff.controls, line


@pytest.mark.parametrize(("line", "read"), [
    ("source x.sdbg", ("x.sdbg",)), ("expect mem 0x10 == data.bin", ("data.bin",)),
    ("load fw.elf", ("fw.elf",)), ("diff a.json b.json", ("a.json", "b.json")),
    ("regs --map m.rdl list", ("m.rdl",)), ("target dump:x.json", ("dump:x.json",)),
    ("dump -t sim:m.rdl -o d.json", ("sim:m.rdl",)), ("target sim", ()),
    ("target gdb://127.0.0.1:3333", ()), ("target sim:mesh=8x8", ()),
])
def test_host_files_read(line: str, read: tuple[str, ...]) -> None:
    assert effects(line).reads_files == read


@pytest.mark.parametrize("line", ["reset", '"reset"', "halt", "resume", "stepi",
                                  "core pc 0x80000000", "load fw.elf --set-pc",
                                  "monitor info", "reconnect", "target sim"])
def test_control_commands(line: str) -> None:
    assert effects(line).controls


def test_options_decide_the_effects() -> None:
    assert not effects("core pc").controls
    assert effects("load fw.elf").writes and not effects("load fw.elf --symbols-only").writes
    assert effects("butr --allow-writes").writes and not effects("butr").writes
    assert effects("write sysctrl.scratch 1").writes and effects("poke 0x10 1").writes
    for line in ("step 5", "step --until 'x == 1'", "sleep 1", "poll x == 1"):
        assert effects(line).time, line


def test_dry_run_skips_state_changes_other_than_writes() -> None:
    session = Session(out=io.StringIO())
    try:
        session.command_guard = dry_run_guard(session)
        before = execute(session, "info")
        assert before is not None and before.data["cycle"] == 0
        for line in ("reset", "step 100", "sleep 0.001"):
            out = execute(session, line)
            assert out is not None and out.text is not None
            assert out.text.startswith(f"dry-run: skipped {line.split()[0]}"), out.text
        after = execute(session, "info")
        assert after is not None and after.data["cycle"] == 0  # time did not move
        read = execute(session, "read sysctrl.chip_id")
        assert read is not None and read.ok
    finally:
        session.close()


def _json_options(cmd: click.Command) -> list[click.Parameter]:
    return [p for p in cmd.params if "--json" in getattr(p, "opts", ())]


def test_json_option_comes_from_the_metadata_once() -> None:
    """register() adds --json to exactly the commands whose Meta says json=True."""
    def check(cmd: click.Command, meta: Meta, where: str) -> None:
        assert len(_json_options(cmd)) == (1 if meta.json else 0), where
        for sub_name, sub in getattr(cmd, "commands", {}).items():
            check(sub, meta.subcommands[sub_name], f"{where} {sub_name}")

    table = commands()
    for name, cmd in table.items():
        meta = metadata(name)
        assert meta is not None
        check(cmd, meta, name)
    assert metadata("read").json and not metadata("poke").json  # type: ignore[union-attr]


def test_register_refuses_a_command_that_declares_its_own_json() -> None:
    @click.command("zz-ownjson")
    @click.option("--json", "as_json", is_flag=True)
    def own(as_json: bool) -> None:
        pass

    with pytest.raises(RuntimeError, match="declares its own --json"):
        register(own, Meta("session"))
    assert "zz-ownjson" not in commands()


def test_json_flag_reaches_the_output_without_the_callback_taking_it() -> None:
    out = io.StringIO()
    session = Session(out=out)
    try:
        res = execute(session, "read sysctrl.chip_id --json")
        assert res is not None and res.as_json
        res = execute(session, "read sysctrl.chip_id")
        assert res is not None and not res.as_json
    finally:
        session.close()
    with pytest.raises(Exception, match="No such option"):
        execute(Session(), "regs --json list")


def test_cli_commands_share_the_registry_and_shadow_no_command() -> None:
    from socdbg.cli import cli

    own = registry.cli_commands()
    assert {"shell", "serve"} <= set(own)
    assert not set(own) & set(commands())  # none of them is a shell/script command
    root = click.Context(cli)
    for name in own:
        assert cli.get_command(root, name) is own[name]
    for name in commands():
        assert cli.get_command(root, name) is commands()[name]
    with pytest.raises(RuntimeError, match="registered twice"):
        register(click.Command("read"), Meta("session", cli_only=True))
    with pytest.raises(RuntimeError, match="registered twice"):
        register(click.Command("shell"), Meta("session"))
    with pytest.raises(Exception, match="unknown command 'shell'"):
        execute(Session(), "shell")
