"""Tab completion: command names, options, register paths with indices, fields after a path,
field names for ``FIELD=`` and enum names after it, targets.

What a position holds comes from the command's click parameter types (``completes``), so a
new command gets completion by declaring its parameters. Paths are completed one segment at a
time from the map's sorted path index, so a keystroke costs a bisect, not a scan.

Construct with ``ShellCompleter(session)``; the session's map is loaded on first use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import click
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from socdbg.commands.dispatch import QUIT_WORDS
from socdbg.commands.registry import commands
from socdbg.commands.session import Session
from socdbg.regmap import Register, RegMap

#: Arrays longer than this are offered as ``name[`` until an index is typed.
ARRAY_LIST_MAX = 32


def _index(segment: str) -> str:
    return segment[segment.index("[") + 1 : segment.index("]")]


class ShellCompleter(Completer):
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- entry point -------------------------------------------------------------------------
    def get_completions(self, document: Document, complete_event: CompleteEvent
                        ) -> Iterable[Completion]:
        text = document.text_before_cursor
        words = text.split()
        if not words or (len(words) == 1 and not text.endswith(" ")):
            word = words[0] if words else ""
            yield from _matching(word, [*commands(), *QUIT_WORDS], meta=self._short_help)
            return
        current = "" if text.endswith(" ") else words[-1]
        done = words[1:] if text.endswith(" ") else words[1:-1]
        cmd = commands().get(words[0])
        if cmd is None:
            return
        if isinstance(cmd, click.Group):
            if not done:
                yield from _matching(current, list(cmd.commands))
                return
            sub = cmd.commands.get(done[0])
            if sub is None:
                return
            cmd, done = sub, done[1:]
        try:
            yield from self._for_command(cmd, done, current)
        except Exception:
            return

    @staticmethod
    def _short_help(name: str) -> str:
        cmd = commands().get(name)
        return cmd.get_short_help_str(limit=50) if cmd is not None else ""

    # --- one command's arguments -------------------------------------------------------------
    def _for_command(self, cmd: click.Command, done: list[str], current: str
                     ) -> Iterator[Completion]:
        options = {opt: p for p in cmd.params if isinstance(p, click.Option) for opt in p.opts}
        positionals: list[str] = []
        expecting: click.Option | None = None
        for w in done:
            if expecting is not None:
                expecting = None
                continue
            if w.startswith("-") and not _is_number(w):
                opt = options.get(w.split("=", 1)[0])
                if opt is not None and not opt.is_flag and "=" not in w:
                    expecting = opt
                continue
            positionals.append(w)
        if expecting is not None:
            if isinstance(expecting.type, click.Choice):
                yield from _matching(current, [str(c) for c in expecting.type.choices])
            return
        if current.startswith("-"):
            yield from _matching(current, sorted(options))
            return
        args = [p for p in cmd.params if isinstance(p, click.Argument)]
        param = None
        for i, arg in enumerate(args):
            if arg.nargs == -1 or i == len(positionals):
                param = arg
                break
        if param is None:
            return
        kind = getattr(param.type, "completes", None)
        if kind == "register":
            yield from self._paths(current, fields=True, globs=True)
        elif kind == "address":
            yield from self._addresses(current)
        elif kind == "assignment" and positionals:
            yield from self._assignments(positionals[0], current)
        elif kind == "target":
            yield from self._targets(current)
        elif kind == "command":
            yield from _matching(current, list(commands()), meta=self._short_help)

    # --- register paths ----------------------------------------------------------------------
    @property
    def _map(self) -> RegMap:
        return self.session.map

    def _paths(self, current: str, fields: bool, globs: bool) -> Iterator[Completion]:
        rmap = self._map
        head, dot, partial = current.rpartition(".")
        prefix = head + dot
        if head and any(c in head for c in "*?:"):
            # a glob so far (dma.ch[*]): go on from its first element, keep what was typed
            first = rmap.glob(head + "*")
            if not first:
                return
            head = ".".join(first[0].path.split(".")[: head.count(".") + 1])
            prefix = head + "."
        if prefix:
            reg = rmap.find(head)
            if reg is not None:
                if fields:
                    yield from _matching(partial, [f.name for f in reg.fields],
                                         meta=lambda n: _field_meta(reg, n))
                return
        low = partial.lower()
        kinds = [(c, block) for c, block in rmap.child_kinds(prefix)
                 if c.lower().startswith(low)]
        arrays: dict[str, list[str]] = {}
        for child, _ in kinds:
            base, bracket, _ = child.partition("[")
            if bracket:
                arrays.setdefault(base, []).append(child)
        # a long array is offered as "name[" until an index is being typed
        collapsed = {b for b, elems in arrays.items() if len(elems) > ARRAY_LIST_MAX
                     and "[" not in partial}
        for base in collapsed:
            elems = arrays[base]
            yield Completion(base + "[", start_position=-len(partial),
                             display=f"{base}[{_index(elems[0])}..{_index(elems[-1])}]",
                             display_meta=f"{len(elems)} elements")
        for child, block in kinds:
            if child.partition("[")[0] in collapsed and "[" in child:
                continue
            if block:
                yield Completion(child + ".", start_position=-len(partial), display=child + ".")
            else:
                reg = rmap.find(prefix + child)
                yield Completion(child, start_position=-len(partial), display=child,
                                 display_meta=reg.name if reg is not None else "")
        if globs and "[" not in partial:
            for base, elems in arrays.items():
                if len(elems) > 1:
                    yield Completion(base + "[*].", start_position=-len(partial),
                                     display=base + "[*].",
                                     display_meta=f"all {len(elems)} elements")

    def _addresses(self, current: str) -> Iterator[Completion]:
        amp = "&" if current.startswith("&") else ""
        body = current[len(amp):]
        if "." not in body:
            for m in self._map.memories:
                if m.path.lower().startswith(body.lower()):
                    yield Completion(amp + m.path, start_position=-len(current),
                                     display=m.path, display_meta="memory")
        if body and "." not in body and "[" not in body:
            from socdbg.commands.firmware import symbol_names

            yield from (Completion(amp + n, start_position=-len(current), display=n,
                                   display_meta="symbol")
                        for n in symbol_names(self.session) if n.startswith(body))
        for c in self._paths(body, fields=False, globs=False):
            yield Completion(amp + body[: len(body) + c.start_position] + c.text,
                             start_position=-len(current), display=c.display,
                             display_meta=c.display_meta)

    def _assignments(self, path: str, current: str) -> Iterator[Completion]:
        rmap = self._map
        reg = rmap.find(path)
        if reg is None:
            regs = rmap.glob(path) if any(ch in path for ch in "*?") else []
            reg = regs[0] if regs else None
        if reg is None:
            return
        name, eq, value = current.partition("=")
        if not eq:
            writable = [f.name + "=" for f in reg.fields if f.sw.writable]
            yield from _matching(current, writable, meta=lambda n: _field_meta(reg, n[:-1]))
            return
        fld = reg.field(name)
        if fld is None or fld.enum is None:
            return
        yield from _matching(value, [m.name for m in fld.enum.members],
                             meta=lambda n: _enum_meta(reg, name, n))

    def _targets(self, current: str) -> Iterator[Completion]:
        from socdbg.targets.base import backends

        if ":" not in current:
            yield from _matching(current, [f"{n}:" if n != "sim" else n
                                           for n in sorted(backends())],
                                 meta=lambda n: backends()[n.rstrip(":")].describe)
            return
        if current.startswith("sim:"):
            import glob

            options = ["sim:mesh=4x4", "sim:mesh=8x8", "sim:mesh=16x16",
                       *(f"sim:{p}" for p in sorted(glob.glob("*.rdl")))]
            yield from _matching(current, options)
        elif current.startswith("gdb:"):
            yield from _matching(current, ["gdb://127.0.0.1:1234", "gdb://127.0.0.1:3333"])


def _is_number(word: str) -> bool:
    return word[1:].replace("_", "").isalnum() and word[1:2].isdigit()


def _field_meta(reg: Register, name: str) -> str:
    fld = reg.field(name)
    if fld is None:
        return ""
    return f"{fld.bits} {fld.sw}" + (f" {fld.enum.name}" if fld.enum else "")


def _enum_meta(reg: Register, field_name: str, member: str) -> str:
    fld = reg.field(field_name)
    if fld is None or fld.enum is None:
        return ""
    m = fld.enum.by_name(member)
    return f"{m.value}  {m.description}" if m is not None else ""


def _matching(word: str, choices: Iterable[str], meta: object = None) -> Iterator[Completion]:
    low = word.lower()
    for choice in choices:
        if choice.lower().startswith(low):
            text = meta(choice) if callable(meta) else ""
            yield Completion(choice, start_position=-len(word), display_meta=text)
