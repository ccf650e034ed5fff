"""Tab completion: command names, options, register paths with indices, fields after a path,
field names for ``FIELD=`` and enum names after it, conditions (``expect``, ``poll``,
``--until``: path, field, then the field's enum names after the operator), addresses
(memories, symbols, registers), file names for file arguments, targets.

Where no path segment starts with what was typed, register paths match by substring and
then as a subsequence over the whole path, as pgcli's smart completion does: ``read chip``
offers ``sysctrl.chip_id``. Prefix matches come first: while there are any, a unique one
still completes with one Tab. The fuzzy search is one regular-expression scan over all paths joined
into one string, built once per map, so it stays within a keystroke on 100k registers.

What a position holds comes from the command's click parameter types (``completes``), so a
new command gets completion by declaring its parameters. Paths are completed one segment at a
time from the map's sorted path index, so a keystroke costs a bisect, not a scan.

Construct with ``ShellCompleter(session)``; the session's map is loaded on first use.
"""

from __future__ import annotations

import bisect
import re
import threading
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
#: At most this many elements of one array are listed (after ``name[``, before digits).
ARRAY_SHOW_MAX = 100
#: At most this many substring/fuzzy matches are offered after the prefix matches.
FUZZY_MAX = 40
#: Options whose value is a file name, whatever their type says.
FILE_OPTIONS = {"-o", "--output", "--junit", "--map"}
#: Options whose value starts a condition (the words after it continue it).
CONDITION_OPTIONS = {"--until"}
#: Arguments that hold a condition, by (command, parameter name).
CONDITION_ARGS = {("poll", "condition"), ("expect", "words")}
_OPS = re.compile(r"==|!=|<=|>=|<|>|&")
_INDEX = re.compile(r"\[\d+\]")


class PathIndex:
    """Every register and memory path of a map, lower-cased and joined by newlines, for
    substring and subsequence search in one regular-expression scan."""

    def __init__(self, rmap: RegMap) -> None:
        paths = sorted({*rmap.paths, *(m.path for m in rmap.memories)})
        self.paths = paths
        self.text = "\n".join(p.lower() for p in paths)
        starts = [0]
        for p in paths[:-1]:
            starts.append(starts[-1] + len(p) + 1)
        self.starts = starts
        shapes: dict[str, str] = {}
        for p in paths:
            shapes.setdefault(_INDEX.sub("[]", p.lower()), p)
        self.shape_first = list(shapes.values())
        self.shape_text = "\n".join(shapes)
        shape_starts = [0]
        for shape in list(shapes)[:-1]:
            shape_starts.append(shape_starts[-1] + len(shape) + 1)
        self.shape_starts = shape_starts

    def _line(self, at: int) -> int:
        return bisect.bisect_right(self.starts, at) - 1

    def _next(self, i: int) -> int:
        return self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)

    def _substring(self, q: str, limit: int, seen: set[int]) -> list[int]:
        out: list[int] = []
        find = self.text.find
        at = find(q)
        while at >= 0 and len(out) < limit:
            i = self._line(at)
            if i not in seen:
                seen.add(i)
                out.append(i)
            at = find(q, self._next(i))
        return out

    def _subsequence(self, q: str, limit: int, seen: set[str]) -> list[str]:
        """Paths holding the characters of ``q`` in order, searched over the map's shapes
        (paths with their indices dropped: ``dma.ch[].status``), so an array of a thousand
        elements costs one line; each shape offers its first element. Index digits in ``q``
        are ignored here (the substring search has honoured them)."""
        if not re.fullmatch(r"\w+", q):  # a path-like query ("dma.ch[9].") wants its text
            return []
        letters = re.sub(r"\d", "", q)
        if not letters:
            return []
        rx = re.compile("[^\n]*?".join(re.escape(c) for c in letters))
        out: list[str] = []
        for m in rx.finditer(self.shape_text):
            i = bisect.bisect_right(self.shape_starts, m.start()) - 1
            path = self.shape_first[i]
            if path not in seen:
                seen.add(path)
                out.append(path)
                if len(out) >= limit:
                    break
        return out

    def search(self, query: str, limit: int = FUZZY_MAX) -> list[str]:
        """Paths containing ``query`` (those where it starts a segment first, then shorter
        paths), then paths holding its characters in order."""
        q = query.lower()
        if not q:
            return []
        seen: set[int] = set()
        hits = self._substring(q, limit * 2, seen)

        def rank(i: int) -> tuple[int, int, str]:
            p = self.paths[i].lower()
            at = p.find(q)
            boundary = at == 0 or p[at - 1] in ".["
            return (0 if boundary else 1, len(p), p)

        ordered = [self.paths[i] for i in sorted(hits, key=rank)[:limit]]
        if len(ordered) < limit:
            taken = set(ordered)
            ordered += self._subsequence(q, limit - len(ordered), taken)
        return ordered


def _index(segment: str) -> str:
    return segment[segment.index("[") + 1 : segment.index("]")]


class ShellCompleter(Completer):
    def __init__(self, session: Session) -> None:
        self.session = session
        self._index: tuple[RegMap, PathIndex] | None = None
        self._kinds: tuple[RegMap, dict[str, list[tuple[str, bool]]]] | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Build the fuzzy index and the top level of the session's map now (the shell does
        this in the background at start-up), not on the first keystroke that needs them."""
        self.path_index()
        self.child_kinds("")

    def path_index(self) -> PathIndex:
        rmap = self._map
        with self._lock:
            if self._index is None or self._index[0] is not rmap:
                self._index = (rmap, PathIndex(rmap))
            return self._index[1]

    def child_kinds(self, prefix: str) -> list[tuple[str, bool]]:
        """``RegMap.child_kinds``, remembered per prefix (a thousand-element array costs a
        thousand bisects; the map never changes under a completer)."""
        rmap = self._map
        if self._kinds is None or self._kinds[0] is not rmap:
            self._kinds = (rmap, {})
        cache = self._kinds[1]
        key = prefix.lower()
        if key not in cache:
            if len(cache) > 256:
                cache.clear()
            cache[key] = rmap.child_kinds(prefix)
        return cache[key]

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
            # the group's own options (regs --map FILE list) come before the subcommand
            options = {o: p for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
            i = 0
            while i < len(done) and done[i].startswith("-"):
                opt = options.get(done[i])
                i += 2 if opt is not None and not opt.is_flag else 1
            if i > len(done):  # the value of a group option is being typed
                opt = options.get(done[-1])
                if opt is not None:
                    yield from self._option_value(opt, current)
                return
            if i == len(done):
                if current.startswith("-"):
                    yield from _matching(current, sorted(options))
                else:
                    yield from _matching(current, list(cmd.commands))
                return
            sub = cmd.commands.get(done[i])
            if sub is None:
                return
            cmd, done = sub, done[i + 1:]
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
        condition: list[str] | None = None  # words of a --until condition so far
        for w in done:
            if expecting is not None:
                if CONDITION_OPTIONS & set(expecting.opts):
                    condition = [w]
                expecting = None
                continue
            if w.startswith("-") and not _is_number(w):
                condition = None
                opt = options.get(w.split("=", 1)[0])
                if opt is not None and not opt.is_flag and "=" not in w:
                    expecting = opt
                continue
            if condition is not None:
                condition.append(w)
            positionals.append(w)
        if expecting is not None:
            yield from self._option_value(expecting, current)
            return
        if current.startswith("-") and not _is_number(current):
            yield from _matching(current, sorted(options))
            return
        if condition is not None:
            yield from self._condition(condition, current)
            return
        args = [p for p in cmd.params if isinstance(p, click.Argument)]
        param = None
        for i, arg in enumerate(args):
            if arg.nargs == -1 or i == len(positionals):
                param = arg
                break
        if param is None:
            return
        if (cmd.name, param.name) in CONDITION_ARGS:
            if cmd.name == "expect" and positionals[:1] == ["mem"]:
                if len(positionals) == 1:
                    yield from self._addresses(current)
                elif len(positionals) >= 3:
                    yield from self._files(current)
                return
            yield from self._condition(positionals, current)
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
        elif isinstance(param.type, click.Path):
            yield from self._files(current)

    def _option_value(self, opt: click.Option, current: str) -> Iterator[Completion]:
        kind = getattr(opt.type, "completes", None)
        if CONDITION_OPTIONS & set(opt.opts):
            yield from self._condition([], current)
        elif isinstance(opt.type, click.Choice):
            yield from _matching(current, [str(c) for c in opt.type.choices])
        elif kind == "register":
            yield from self._paths(current, fields=False, globs=True)
        elif kind == "address":
            yield from self._addresses(current)
        elif kind == "target":
            yield from self._targets(current)
        elif (isinstance(opt.type, click.Path) or FILE_OPTIONS & set(opt.opts)
              or "FILE" in (opt.metavar or "")):
            yield from self._files(current)

    # --- conditions: PATH[.FIELD] OP VALUE -------------------------------------------------
    def _condition(self, words: list[str], current: str) -> Iterator[Completion]:
        """``dma.ch[0].status.state == IDLE``: a path with fields until an operator is typed,
        then the enum names of the field (or register) on its left."""
        typed = " ".join([*words, current])
        m = _OPS.search(typed)
        if m is None:
            if words and not current:  # a path was typed: the operators
                yield from _matching("", ["==", "!=", "<", "<=", ">", ">=", "&"],
                                     meta=lambda op: "mask, then == VALUE" if op == "&"
                                     else "")
                return
            yield from self._paths(current, fields=True, globs=False)
            return
        if typed[m.end() : len(typed) - len(current)].strip():  # the value was typed: done
            return
        left = typed[: m.start()].strip()
        value = current
        if m.start() >= len(typed) - len(current):  # the operator is inside this word
            value = typed[m.end():]
        yield from self._enum_values(left, value)

    def _enum_values(self, path: str, value: str) -> Iterator[Completion]:
        rmap = self._map
        try:
            reg, fld = rmap.resolve(path)
        except Exception:
            return
        fields = [fld] if fld is not None else list(reg.fields) if len(reg.fields) == 1 else []
        for f in fields:
            if f.enum is not None:
                yield from _matching(value, [m.name for m in f.enum.members],
                                     meta=lambda n, f=f: _enum_meta(reg, f.name, n))

    # --- files -------------------------------------------------------------------------------
    def _files(self, current: str, prefix: str = "") -> Iterator[Completion]:
        """File and folder names for ``current`` (after ``prefix``, e.g. ``dump:``)."""
        from prompt_toolkit.completion import PathCompleter

        word = current[len(prefix):]
        doc = Document(word, len(word))
        for c in PathCompleter(expanduser=True).get_completions(doc, CompleteEvent()):
            yield Completion(current + c.text, start_position=-len(current),
                             display=c.display, display_meta=c.display_meta)

    # --- register paths ----------------------------------------------------------------------
    @property
    def _map(self) -> RegMap:
        return self.session.map

    def _paths(self, current: str, fields: bool, globs: bool, fuzzy: bool = True
               ) -> Iterator[Completion]:
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
        kinds = [(c, block) for c, block in self.child_kinds(prefix)
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
        shown: dict[str, int] = {}
        for child, block in kinds:
            base, bracket, _ = child.partition("[")
            if base in collapsed and bracket:
                continue
            if bracket:  # a long array: the first elements; typing digits narrows the rest
                shown[base] = shown.get(base, 0) + 1
                if shown[base] > ARRAY_SHOW_MAX:
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
        if fuzzy and current and not kinds and not any(c in current for c in "*?"):
            # no path starts so: substring, then subsequence matches over whole paths
            for path in self.path_index().search(current):
                yield Completion(path, start_position=-len(current), display=path,
                                 display_meta="match")

    def _addresses(self, current: str) -> Iterator[Completion]:
        amp = "&" if current.startswith("&") else ""
        body = current[len(amp):]
        offered = 0
        if "." not in body:
            for m in self._map.memories:
                if m.path.lower().startswith(body.lower()):
                    offered += 1
                    yield Completion(amp + m.path, start_position=-len(current),
                                     display=m.path, display_meta="memory")
        if body and "." not in body and "[" not in body:
            from socdbg.commands.firmware import symbol_names

            for n in symbol_names(self.session):
                if n.startswith(body):
                    offered += 1
                    yield Completion(amp + n, start_position=-len(current), display=n,
                                     display_meta="symbol")
        for c in self._paths(body, fields=False, globs=False, fuzzy=not offered):
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
        from socdbg.targets.base import complete_target

        offered, files_after = complete_target(current)  # each backend completes its own
        meta = dict(offered)
        yield from _matching(current, [c for c, _ in offered], meta=meta.get)
        if files_after is not None and current.startswith(files_after):
            yield from self._files(current, prefix=files_after)


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
