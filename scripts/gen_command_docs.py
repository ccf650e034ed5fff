"""Generate docs/commands.md from the command registry.

    python scripts/gen_command_docs.py           # write docs/commands.md
    python scripts/gen_command_docs.py --check   # exit 1 if docs/commands.md is out of date

The reference lists, by help category (the commands' registry metadata) and in registry
order within one, every command of ``socdbg.commands.registry`` (groups with their
subcommands), then the commands only the command line has (``shell``), with usage,
help, arguments and options taken from the click objects. The global options come from
``socdbg.cli.cli``. Nothing here depends on the terminal width or the environment, so the
output is the same on every machine.

Usage lines, argument names and option names are written here from the commands' parameters
(names, metavars, types, ``nargs``, defaults), not by click's help formatter: click changes
its formatting between releases (8.5 writes a group's ``COMMAND`` as ``[COMMAND]``), and the
reference must not change with the click a machine happens to have.
tests/test_docs_commands.py checks that.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "commands.md"
COMMAND = "python scripts/gen_command_docs.py"

_RST_CODE = re.compile(r"``(.+?)``")
_MD_SPECIAL = re.compile(r"([\\`*<>|])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.")


# --- text helpers ----------------------------------------------------------------------------
def md_text(text: str) -> str:
    """Plain help text as Markdown: RST ````code```` becomes a code span, the characters
    Markdown would read as markup are escaped, and lines are joined into one paragraph."""
    text = " ".join(text.split())
    out: list[str] = []
    pos = 0
    for m in _RST_CODE.finditer(text):
        out.append(_MD_SPECIAL.sub(r"\\\1", text[pos : m.start()]))
        out.append(f"`{m.group(1)}`")
        pos = m.end()
    out.append(_MD_SPECIAL.sub(r"\\\1", text[pos:]))
    return "".join(out)


def paragraphs(text: str | None) -> list[str]:
    """Help text split into paragraphs (click's ``\\b`` no-rewrap markers dropped)."""
    if not text:
        return []
    clean = inspect.cleandoc(text)
    out = []
    for block in re.split(r"\n\s*\n", clean):
        lines = [ln for ln in block.splitlines() if ln.strip() != "\b"]
        if lines:
            out.append(" ".join(ln.strip() for ln in lines))
    return out


def first_sentence(text: str | None) -> str:
    """The first sentence of the first paragraph (abbreviations such as "e.g." do not end a
    sentence)."""
    paras = paragraphs(text)
    if not paras:
        return ""
    words = paras[0].split()
    taken: list[str] = []
    for word in words:
        taken.append(word)
        if word.endswith(".") and word.lower() not in _ABBREVIATIONS:
            break
    return " ".join(taken)


def anchor(title: str) -> str:
    """GitHub's heading anchor for a plain-text heading."""
    slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
    return "#" + slug


# --- click introspection ---------------------------------------------------------------------
def _is_help_option(param: click.Parameter, ctx: click.Context) -> bool:
    help_opt = ctx.command.get_help_option(ctx)
    return help_opt is not None and param.name == help_opt.name


def cell(text: str) -> str:
    """Text for a table cell: a ``|`` inside a code span must be escaped too."""
    return re.sub(r"(?<!\\)\|", r"\\|", text).strip()


def arg_name(arg: click.Argument) -> str:
    """An argument's name as the usage line and the table show it: its metavar, else its
    name in capitals (``PATTERNS``, not click's ``[PATTERNS]...``)."""
    if arg.metavar:
        name = arg.metavar.rstrip(".")
        return name[1:-1] if name.startswith("[") and name.endswith("]") else name
    return (arg.name or "ARG").upper()


def arg_usage(arg: click.Argument) -> str:
    """``NAME``, ``[NAME]``, ``NAME...`` or ``[NAME]...``."""
    text = arg_name(arg) if arg.required else f"[{arg_name(arg)}]"
    return text + "..." if arg.nargs != 1 else text


def usage(cmd: click.Command, ctx: click.Context) -> str:
    """``PATH [OPTIONS] ARGS``; a group adds ``COMMAND [ARGS]...`` (``[COMMAND]`` when the
    group runs on its own too)."""
    pieces = [ctx.command_path, "[OPTIONS]"]
    pieces += [arg_usage(p) for p in cmd.get_params(ctx) if isinstance(p, click.Argument)]
    if isinstance(cmd, click.Group):
        pieces.append("[COMMAND]" if cmd.invoke_without_command else "COMMAND")
        pieces.append("[ARGS]...")
    return " ".join(pieces)


def option_metavar(opt: click.Option) -> str:
    """What follows an option's names: its metavar, ``[a|b|c]`` for a choice, else the
    type's name in capitals; nothing for a flag."""
    if opt.is_flag or opt.count:
        return ""
    if opt.metavar:
        return opt.metavar
    if isinstance(opt.type, click.Choice):
        return "[" + "|".join(str(c) for c in opt.type.choices) + "]"
    return opt.type.name.upper()


def _range(kind: click.ParamType) -> str | None:
    """``x>=1``, ``0<=x<8``: the bounds of an IntRange or FloatRange."""
    if not isinstance(kind, click.IntRange | click.FloatRange):
        return None
    lo, hi = kind.min, kind.max
    lo_op = "<" if kind.min_open else "<="
    hi_op = "<" if kind.max_open else "<="
    if lo is not None and hi is not None:
        return f"{lo}{lo_op}x{hi_op}{hi}"
    if lo is not None:
        return f"x{'>' if kind.min_open else '>='}{lo}"
    if hi is not None:
        return f"x{hi_op}{hi}"
    return None


def option_names(opt: click.Option) -> str:
    """``-t, --target TARGET``; ``--x / --no-x`` for a flag pair."""
    names = ", ".join(sorted(opt.opts, key=lambda o: len(o) - len(o.lstrip("-/"))))
    if opt.secondary_opts:
        names += " / " + ", ".join(opt.secondary_opts)
    metavar = option_metavar(opt)
    return f"{names} {metavar}" if metavar else names


def option_help(opt: click.Option) -> str:
    """The option's help, then ``[default: X]`` (when shown) and ``[required]``."""
    text = " ".join(opt.help.split()) if opt.help else ""
    extra: list[str] = []
    bounds = _range(opt.type)
    if bounds:
        extra.append(bounds)
    default = opt.default
    if opt.show_default and default is not None and not callable(default) and not (
            opt.is_flag and default is False):
        shown = ", ".join(map(str, default)) if isinstance(default, list | tuple) else default
        extra.append(f"default: {shown}")
    if opt.required:
        extra.append("required")
    if extra:
        text = f"{text}  [{'; '.join(extra)}]" if text else f"[{'; '.join(extra)}]"
    return text


def _argument_row(arg: click.Argument, ctx: click.Context) -> str:
    metavar = arg_name(arg)
    if arg.nargs == -1:
        count = "one or more" if arg.required else "any number"
    else:
        count = "required" if arg.required else "optional"
    notes: list[str] = []
    kind = type(arg.type)
    if kind.__module__.startswith("socdbg") and kind.__doc__:
        notes.append(md_text(inspect.cleandoc(kind.__doc__)))
    elif arg.type.name not in ("text", "string"):
        notes.append(f"Type: {arg.type.name}.")
    default = arg.default
    if isinstance(default, str | int | float) and not isinstance(default, bool) and default != "":
        notes.append(f"Default: `{default}`.")
    return f"| `{metavar}` | {count} | {cell(' '.join(notes))} |"


def _option_row(opt: click.Option, ctx: click.Context) -> str:
    notes = md_text(option_help(opt))
    names = option_names(opt)
    if isinstance(opt.envvar, str):
        notes += f" Environment variable: `{opt.envvar}`."
    return f"| `{names}` | {cell(notes)} |"


def parameter_tables(cmd: click.Command, ctx: click.Context,
                     keep_help: bool = False) -> list[str]:
    params = [p for p in cmd.get_params(ctx) if keep_help or not _is_help_option(p, ctx)]
    args = [p for p in params if isinstance(p, click.Argument)]
    opts = [p for p in params if isinstance(p, click.Option)]
    out: list[str] = []
    if args:
        out += ["| Argument | Count | Notes |", "|----------|-------|-------|"]
        out += [_argument_row(a, ctx) for a in args]
        out.append("")
    if opts:
        out += ["| Option | Help |", "|--------|------|"]
        out += [_option_row(o, ctx) for o in opts]
        out.append("")
    if not args and not opts:
        out += ["No arguments or options.", ""]
    return out


def command_section(cmd: click.Command, ctx: click.Context, level: int,
                    note: str | None = None) -> list[str]:
    path = ctx.command_path
    out = ["#" * level + " " + path, ""]
    if note:
        out += [note, ""]
    out += ["```", usage(cmd, ctx), "```", ""]
    for para in paragraphs(cmd.help):
        out += [md_text(para), ""]
    out += parameter_tables(cmd, ctx)
    return out


def _walk(cmd: click.Command, ctx: click.Context, level: int) -> Iterator[str]:
    yield from command_section(cmd, ctx, level)
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            yield from _walk(sub, sub_ctx, level + 1)


# --- the document ----------------------------------------------------------------------------
def render() -> str:
    """The full text of docs/commands.md."""
    from socdbg.cli import cli
    from socdbg.commands.registry import CATEGORIES, categories, cli_commands, commands

    table = commands()
    cli_only = cli_commands()  # Meta(cli_only=True): shell, serve
    root = click.Context(cli, info_name="socdbg", **cli.context_settings)

    lines = [
        "# Command reference",
        "",
        f"<!-- Generated by {COMMAND} from the command registry. Do not edit by hand: "
        "change the commands' help and regenerate. -->",
        "",
        "Every command below works in three places with the same arguments:",
        "",
        "- typed at the `socdbg shell` prompt: `read sysctrl.chip_id`;",
        "- as a one-shot command line: `socdbg -t sim read sysctrl.chip_id`;",
        "- piped into the shell, one command per line: `socdbg shell < session.txt`.",
        "",
        "Usage lines show the command as typed in the shell; on the command line put `socdbg` "
        "and the [global options](#global-options) in front. Every command also takes "
        "`--help`; the one-shot command line accepts `-h` as well. `help NAME` in the shell "
        "prints the same text as `NAME --help`.",
        "",
    ]
    for category, names in categories().items():  # grouped by the commands' metadata
        lines += [f"**{CATEGORIES[category]}**", "",
                  "| Command | What it does |", "|---------|--------------|"]
        for name in names:
            lines.append(f"| [`{name}`]({anchor(name)}) | "
                         f"{md_text(first_sentence(table[name].help))} |")
        lines.append("")
    lines += ["**Command line only**", "",
              "| Command | What it does |", "|---------|--------------|"]
    for name, cmd in cli_only.items():
        lines.append(f"| [`{name}`]({anchor(name)}) | {md_text(first_sentence(cmd.help))} |")
    lines += ["", "## Global options", "",
              "```", usage(cli, root), "```", ""]
    lines += [md_text(p) + "\n" for p in paragraphs(cli.help)]
    lines += ["These options go before the command name: `socdbg -t sim:mesh=8x8 info`.", ""]
    lines += parameter_tables(cli, root, keep_help=True)

    lines += ["## Commands", ""]
    for names in categories().values():
        for name in names:
            cmd = table[name]
            lines += list(_walk(cmd, click.Context(cmd, info_name=name), 3))
    for name, cmd in cli_only.items():
        ctx = click.Context(cmd, info_name=name)
        lines += command_section(cmd, ctx, 3,
                                 note="Command line only: `socdbg [OPTIONS] " + name + "`.")
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def check(path: Path = OUTPUT) -> str | None:
    """None when ``path`` holds exactly what :func:`render` produces, else a message."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"{path} is missing: run {COMMAND}"
    if current != render():
        return f"{path} is out of date with the command registry: run {COMMAND}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/commands.md.")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the file is out of date instead of writing it")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        problem = check(args.output)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(render(), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
