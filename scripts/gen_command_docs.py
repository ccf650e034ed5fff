"""Generate docs/commands.md from the command registry.

    python scripts/gen_command_docs.py           # write docs/commands.md
    python scripts/gen_command_docs.py --check   # exit 1 if docs/commands.md is out of date

The reference lists, by help category (the commands' registry metadata) and in registry
order within one, every command of ``socdbg.commands.registry`` (groups with their
subcommands), then the commands only the command line has (``shell``), with usage,
help, arguments and options taken from the click objects. The global options come from
``socdbg.cli.cli``. Nothing here depends on the terminal width or the environment, so the
output is the same on every machine.
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


def _argument_row(arg: click.Argument, ctx: click.Context) -> str:
    # the argument's own name or metavar, not click's usage form ("[REST]...")
    metavar = arg.metavar or (arg.name or "").upper()
    if metavar.startswith("[") and metavar.endswith("]"):
        metavar = metavar[1:-1]  # "[MAP]": the count column says it is optional
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
    record = opt.get_help_record(ctx)
    names, help_text = record if record is not None else (", ".join(opt.opts), "")
    notes = md_text(help_text)
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
    usage = " ".join([path, *cmd.collect_usage_pieces(ctx)])
    out = ["#" * level + " " + path, ""]
    if note:
        out += [note, ""]
    out += ["```", usage, "```", ""]
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
    from socdbg.commands.registry import CATEGORIES, categories, commands

    table = commands()
    cli_only = {n: c for n, c in cli.commands.items() if n not in table}
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
              "```", " ".join(["socdbg", *cli.collect_usage_pieces(root)]), "```", ""]
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
