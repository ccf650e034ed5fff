"""SystemVerilog-style constant expressions, as IP-XACT 1685-2014 writes numeric elements.

``'h40``, ``8'hFF``, ``4 * (2 ** 10)``, ``$pow(2, 8)``, ``$clog2(N)``, ``a ? b : c`` and names
that stand for parameters. The text is tokenised and parsed by a small precedence-climbing
parser; nothing is ever handed to Python's ``eval``. Every intermediate value is bounded
(:data:`MAX_BITS` bits), so ``2 ** 2 ** 40`` or ``1 << 10**9`` is an error, not an
out-of-memory. The 1685-2009 forms (``0x40``, ``#101``, a ``K``/``M``/``G``/``T`` multiplier)
are read too, so one evaluator serves both standards.

Imports nothing of socdbg's but the model's constants: the regmap layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: The widest intermediate value, in bits.
MAX_BITS = 4096
#: The longest expression text, and the deepest nesting of parentheses.
MAX_TEXT = 4096
MAX_DEPTH = 64


class ExprError(ValueError):
    """The text is not an expression socdbg can evaluate; the message says why."""


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<based>(?:[0-9][0-9_]*)?\s*'[sS]?[hHdDbBoO]\s*[0-9a-fA-F_xXzZ?]+)
    | (?P<hexc>0[xX][0-9a-fA-F_]+)
    | (?P<bin09>\#[01]+)
    | (?P<dec>[0-9][0-9_]*(?:[kKmMgGtT](?![A-Za-z0-9_]))?)
    | (?P<func>\$[A-Za-z_][A-Za-z0-9_]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    | (?P<op>\*\*|<<<|>>>|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%()?:,<>&|^~!])
    )""", re.VERBOSE)
_SCALE = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_BASE = {"h": 16, "d": 10, "b": 2, "o": 8}
#: binary operators: precedence (higher binds tighter), all left-associative
_BINARY: dict[str, int] = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
    "<": 7, "<=": 7, ">": 7, ">=": 7, "<<": 8, ">>": 8, "<<<": 8, ">>>": 8,
    "+": 9, "-": 9, "*": 10, "/": 10, "%": 10, "**": 11,
}


def _check(value: int) -> int:
    if value.bit_length() > MAX_BITS:
        raise ExprError(f"a value of more than {MAX_BITS} bits")
    return value


def _clog2(args: list[int]) -> int:
    (n,) = args
    if n < 0:
        raise ExprError("$clog2 of a negative number")
    return 0 if n <= 1 else (n - 1).bit_length()


def _pow(args: list[int]) -> int:
    base, exp = args
    return _power(base, exp)


def _power(base: int, exp: int) -> int:
    if exp < 0:
        if base == 1:
            return 1
        if base == -1:
            return -1 if exp % 2 else 1
        raise ExprError("a negative power of an integer")
    if base in (0, 1):
        return base if exp else 1
    if abs(base).bit_length() * exp > MAX_BITS + 64:
        raise ExprError(f"{base} ** {exp} is more than {MAX_BITS} bits")
    return _check(base ** exp)


_FUNCS: dict[str, tuple[int, Callable[[list[int]], int]]] = {
    "$clog2": (1, _clog2),
    "$pow": (2, _pow),
}


def _literal(kind: str, text: str) -> int:
    t = text.replace("_", "").replace(" ", "").replace("\t", "")
    if kind == "dec":
        scale = _SCALE.get(t[-1].lower(), 1)
        return int(t[:-1] if scale != 1 else t) * scale
    if kind == "hexc":
        return int(t[2:], 16)
    if kind == "bin09":
        return int(t[1:], 2)
    size_text, rest = t.split("'", 1)
    if rest[:1] in ("s", "S"):
        rest = rest[1:]
    base = _BASE[rest[0].lower()]
    digits = rest[1:]
    if any(c in "xXzZ?" for c in digits):
        raise ExprError(f"'{text.strip()}' has unknown (x/z) digits")
    try:
        value = int(digits, base)
    except ValueError:
        raise ExprError(f"'{text.strip()}' is not a base-{base} number") from None
    if size_text:
        size = int(size_text)
        if size > MAX_BITS:
            raise ExprError(f"'{text.strip()}' is wider than {MAX_BITS} bits")
        value &= (1 << size) - 1
    return value


def tokenize(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs; raises ExprError at the first character that starts no token."""
    if len(text) > MAX_TEXT:
        raise ExprError(f"an expression of more than {MAX_TEXT} characters")
    out: list[tuple[str, str]] = []
    at = 0
    end = len(text.rstrip())
    while at < end:
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise ExprError(f"'{text.strip()}' is not a number or expression "
                            f"(at '{text[at:].strip()[:10]}')")
        kind = m.lastgroup or "op"
        out.append((kind, m.group(kind)))
        at = m.end()
    return out


class _Parser:
    def __init__(self, text: str, lookup: Callable[[str], int] | None) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0
        self.lookup = lookup
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, op: str) -> None:
        tok = self.peek()
        if tok is None or tok != ("op", op):
            raise ExprError(f"'{self.text.strip()}': expected '{op}'")
        self.at += 1

    def parse(self) -> int:
        if not self.tokens:
            raise ExprError("an empty number")
        value = self.ternary()
        if self.at != len(self.tokens):
            raise ExprError(f"'{self.text.strip()}': unexpected '{self.tokens[self.at][1]}'")
        return value

    def ternary(self) -> int:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"an expression nested more than {MAX_DEPTH} deep")
        cond = self.binary(1)
        if self.peek() == ("op", "?"):
            self.at += 1
            yes = self.ternary()
            self.take(":")
            no = self.ternary()
            cond = yes if cond else no
        self.depth -= 1
        return cond

    def binary(self, least: int) -> int:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok is None or tok[0] != "op" or tok[1] not in _BINARY:
                return left
            prec = _BINARY[tok[1]]
            if prec < least:
                return left
            self.at += 1
            right = self.binary(prec + 1)
            left = _check(_apply(tok[1], left, right))

    def unary(self) -> int:
        tok = self.peek()
        if tok is None:
            raise ExprError(f"'{self.text.strip()}' ends too early")
        kind, text = tok
        self.at += 1
        if kind == "op":
            if text == "(":
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise ExprError(f"an expression nested more than {MAX_DEPTH} deep")
                value = self.ternary()
                self.take(")")
                self.depth -= 1
                return value
            if text in ("-", "+", "~", "!"):
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise ExprError(f"an expression nested more than {MAX_DEPTH} deep")
                value = self.unary()
                self.depth -= 1
                return {"-": -value, "+": value, "~": ~value, "!": int(not value)}[text]
            raise ExprError(f"'{self.text.strip()}': unexpected '{text}'")
        if kind == "func":
            found = _FUNCS.get(text)
            if found is None:
                raise ExprError(f"unknown function {text}", )
            arity, fn = found
            self.take("(")
            args = [self.ternary()]
            while self.peek() == ("op", ","):
                self.at += 1
                args.append(self.ternary())
            self.take(")")
            if len(args) != arity:
                raise ExprError(f"{text} takes {arity} argument(s), not {len(args)}")
            return _check(fn(args))
        if kind == "name":
            if text in ("true", "false"):
                return int(text == "true")
            if self.lookup is None:
                raise ExprError(f"'{text}' is not a number (and no parameters are known)")
            return self.lookup(text)
        try:
            return _check(_literal(kind, text))
        except ValueError as exc:
            if isinstance(exc, ExprError):
                raise
            raise ExprError(f"'{text.strip()}' is not a number") from None


def _apply(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        if a.bit_length() + b.bit_length() > MAX_BITS + 1:
            raise ExprError(f"a value of more than {MAX_BITS} bits")
        return a * b
    if op in ("/", "%"):
        if b == 0:
            raise ExprError("division by zero")
        q = abs(a) // abs(b)  # SystemVerilog truncates toward zero
        if (a < 0) != (b < 0):
            q = -q
        return q if op == "/" else a - q * b
    if op == "**":
        return _power(a, b)
    if op in ("<<", "<<<", ">>", ">>>"):
        if b < 0:
            raise ExprError("a negative shift")
        if op in ("<<", "<<<"):
            if a and b + a.bit_length() > MAX_BITS:
                raise ExprError(f"a value of more than {MAX_BITS} bits")
            return a << b
        return a >> min(b, MAX_BITS + 1)
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "&&":
        return int(bool(a) and bool(b))
    if op == "||":
        return int(bool(a) or bool(b))
    return int({"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                ">=": a >= b}[op])


def evaluate(text: str, lookup: Callable[[str], int] | None = None) -> int:
    """The value of ``text``; ``lookup`` gives a name's value (a parameter), or raises
    ExprError. Raises ExprError for anything that is not a bounded integer expression."""
    t = text.strip()
    if t.isascii() and t.isdigit():
        return int(t)
    return _Parser(t, lookup).parse()
