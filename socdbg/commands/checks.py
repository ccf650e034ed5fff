"""Checks and script helpers that work the same in the REPL and in scripts:
``poll``, ``expect``, ``echo``, ``sleep``, ``set``.

On a simulator, ``poll`` and ``sleep`` advance simulated time (at ``SIM_HZ``) instead of
waiting, so a script gives the same answer on the model as on silicon, only faster.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from socdbg.commands.addresses import resolve_address
from socdbg.commands.conditions import evaluate, expand_conditions, wait_for
from socdbg.commands.registry import Effects, Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.regmap import Decoded
from socdbg.regmap.conditions import Condition
from socdbg.render.progress import Stopped
from socdbg.targets.base import has_time

#: Simulated core clock used to turn seconds into cycles (1 GHz: 1 cycle = 1 ns).
SIM_HZ = 1_000_000_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


#: The longest wait a script may ask for (``sleep``, ``poll --timeout``): a week.
MAX_SECONDS = 7 * 24 * 3600


def seconds(text: str, what: str) -> float:
    """A finite, non-negative number of seconds (``0.5``, ``2s``, ``1e-3``)."""
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise UsageError(f"{what} '{text}' is not a number of seconds") from None
    if not math.isfinite(value):
        raise UsageError(f"{what} '{text}' is not a finite number of seconds")
    if value < 0:
        raise UsageError(f"{what} '{text}' is negative")
    if value > MAX_SECONDS:
        raise UsageError(f"{what} '{text}' is longer than a week ({MAX_SECONDS:,} s)")
    return value


def dry_run(session: Session) -> bool:
    return session.dry_run


# --------------------------------------------------------------------------------------------
@click.command("poll", help="Wait until PATH[.FIELD] OP VALUE holds, e.g. poll "
               "sysctrl.pll_status.lock == 1 --timeout 0.01. On a simulator it advances "
               "simulated time instead of sleeping.")
@click.argument("condition", nargs=-1, required=True)
@click.option("--timeout", default="1", show_default=True, help="Seconds before failing.")
@click.option("--interval", default="0.001", show_default=True,
              help="Seconds between reads on real targets.")
@session_command
def poll_cmd(session: Session, condition: tuple[str, ...], timeout: str, interval: str
             ) -> Output:
    conds = expand_conditions(session.map, condition)
    limit = seconds(timeout, "--timeout")
    every = seconds(interval, "--interval")
    if len(conds) == 1:
        return _poll(session, conds[0], limit, every)
    # a glob: wait for each register in turn (each within --timeout), then all must hold
    for cond in conds:
        out = _poll(session, cond, limit, every)
        if not out.ok:
            return out
    return _expect_all(session, conds, " ".join(condition), "")


def _poll(session: Session, cond: Condition, limit: float, every: float) -> Output:
    target = session.target
    if dry_run(session):
        held, decoded = evaluate(target, cond)
        note = "holds now" if held else f"would wait: {cond.failure(decoded)}"
        return Output(data={"condition": cond.text, "dry_run": True, "held": held},
                      text=f"dry-run: poll {cond.text}: {note}")
    clock = target if has_time(target) else None
    if clock is not None:
        start = clock.now
        wait_for(clock, cond, max(1, int(limit * SIM_HZ)), session)
        held, decoded = evaluate(target, cond)
        spent = f"{clock.now - start:,} cycles"
    else:
        t0 = time.monotonic()
        seen: Decoded | None = None
        reads = 0
        try:
            while True:
                held, decoded = evaluate(target, cond)
                seen, reads = decoded, reads + 1
                if held or time.monotonic() - t0 >= limit:
                    break
                time.sleep(every)
        except KeyboardInterrupt:  # say where it stopped: time, reads, the last value seen
            last = f"; last read: {cond.failure(seen)}" if seen is not None else ""
            raise Stopped(f"poll: stopped after {time.monotonic() - t0:.3f} s and {reads:,} "
                          f"reads of {cond.register.path}{last}") from None
        spent = f"{time.monotonic() - t0:.3f} s"
    data = {"condition": cond.text, "held": held, "waited": spent}
    if held:
        return Output(data=data, text=f"{cond.text} after {spent}")
    return Output(data=data, ok=False,
                  text=f"timeout after {spent}: {cond.failure(decoded)}")


def _expect_all(session: Session, conds: list[Condition], text: str, prefix: str
                ) -> Output:
    """Every condition of a glob must hold; the failures are listed."""
    failures = []
    for cond in conds:
        held, decoded = evaluate(session.target, cond)
        if not held:
            failures.append(cond.failure(decoded))
    data: dict[str, Any] = {"condition": text, "held": not failures, "count": len(conds),
                            "failures": failures}
    if not failures:
        return Output(data=data, text=f"{prefix}{text} ({len(conds)} registers)")
    lines = "\n".join(f"  {f}" for f in failures)
    summary = f"{len(failures)} of {len(conds)} registers fail {text}:\n{lines}"
    if dry_run(session):
        return Output(data=data, text=f"dry-run: {summary}")
    return Output(data=data, ok=False, text=summary)


# --------------------------------------------------------------------------------------------
@click.command("expect", help="Check a register or field: expect PATH[.FIELD] OP VALUE "
               "(OP: == != < <= > >=; masked: expect PATH & MASK == VALUE); or memory: "
               "expect mem ADDR == HEXBYTES|FILE.")
@click.argument("words", nargs=-1, required=True)
@session_command
def expect_cmd(session: Session, words: tuple[str, ...]) -> Output:
    if words[0] == "mem":
        return _expect_mem(session, words[1:])
    conds = expand_conditions(session.map, words)
    if len(conds) > 1:
        return _expect_all(session, conds, " ".join(words), "ok: ")
    cond = conds[0]
    held, decoded = evaluate(session.target, cond)
    data: dict[str, Any] = {"condition": cond.text, "held": held,
                            "register": cond.register.path, "value": decoded.value,
                            "field": cond.field.name if cond.field else None,
                            "mask": cond.mask, "op": cond.op, "expected": cond.value}
    if held:
        return Output(data=data, text=f"ok: {cond.text}")
    if dry_run(session):
        return Output(data=data, text=f"dry-run: {cond.failure(decoded)}")
    return Output(data=data, ok=False, text=cond.failure(decoded))


def _expect_mem(session: Session, words: tuple[str, ...]) -> Output:
    if len(words) < 3 or words[1] != "==":
        raise UsageError("expect mem ADDR == HEXBYTES|FILE",
                         "e.g. expect mem sram+0x100 == 'de ad be ef'")
    want = expected_bytes(" ".join(words[2:]), session.scripts.folder or Path("."))
    addr = resolve_address(session, words[0])
    got = session.target.read_block(addr.value, len(want))
    data = {"address": addr.value, "length": len(want), "held": got == want}
    if got == want:
        return Output(data=data, text=f"ok: {len(want)} bytes at {addr.value:#x} match")
    i = next(k for k in range(len(want)) if got[k] != want[k])
    text = (f"expected memory at {addr.value:#x} to match ({len(want)} bytes), first "
            f"difference at {addr.value + i:#x}: expected {want[i:i + 8].hex(' ')}, got "
            f"{got[i:i + 8].hex(' ')}")
    if dry_run(session):
        return Output(data=data, text=f"dry-run: {text}")
    return Output(data=data, ok=False, text=text)


#: The largest FILE ``expect mem ADDR == FILE`` compares (it is read whole).
MAX_EXPECT_BYTES = 64 << 20


def _hex_text(text: str) -> str:
    compact = text.replace(" ", "").replace("_", "")
    return compact[2:] if compact.lower().startswith("0x") else compact


def _is_hex(text: str) -> bool:
    """Whether ``expect mem``'s right-hand side is hex bytes (else it names a file)."""
    compact = _hex_text(text)
    return bool(compact) and len(compact) % 2 == 0 and bool(
        re.fullmatch(r"[0-9a-fA-F]+", compact))


def expected_bytes(text: str, base: Path) -> bytes:
    """``expect mem``'s right-hand side: hex bytes (``de ad be ef``, ``0xdeadbeef``) or a
    file relative to ``base`` (the script's folder)."""
    if _is_hex(text):
        return bytes.fromhex(_hex_text(text))
    path = Path(text) if Path(text).is_absolute() else base / text
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_EXPECT_BYTES + 1)
    except OSError:
        looks_hex = bool(re.fullmatch(r"[0-9a-fA-FxX_ ]+", text))
        hint = ("hex bytes come in pairs of digits" if looks_hex
                else f"looked for {path}")
        raise UsageError(f"'{text}' is neither hex bytes nor a readable file", hint) from None
    if not data:
        raise UsageError(f"{path} is empty")
    if len(data) > MAX_EXPECT_BYTES:
        raise UsageError(f"{path} is larger than {MAX_EXPECT_BYTES >> 20} MiB")
    return data


# --------------------------------------------------------------------------------------------
@click.command("echo", help="Print TEXT (${NAME} variables are substituted).",
               add_help_option=False, context_settings={"ignore_unknown_options": True})
@click.argument("text", nargs=-1)
@session_command
def echo_cmd(session: Session, text: tuple[str, ...]) -> Output:
    line = " ".join(text)
    return Output(data={"text": line}, text=line)


@click.command("sleep", help="Wait SECONDS; on a simulator, advance simulated time instead.")
@click.argument("duration")
@session_command
def sleep_cmd(session: Session, duration: str) -> Output:
    secs = seconds(duration, "sleep")
    target = session.target
    if has_time(target):
        cycles = int(secs * SIM_HZ)
        target.step(cycles)
        return Output(data={"cycles": cycles}, text=f"slept {cycles:,} cycles")
    time.sleep(secs)
    return Output(data={"seconds": secs}, text=f"slept {secs:g} s")


@click.command("set", help="Set a variable for ${NAME} substitution: set NAME VALUE. "
               "With no arguments, list the variables.")
@click.argument("name", required=False)
@click.argument("value", nargs=-1)
@session_command
def set_cmd(session: Session, name: str | None, value: tuple[str, ...]) -> Output:
    variables = session.variables
    if name is None:
        text = "\n".join(f"{k} = {v}" for k, v in sorted(variables.items())) or "no variables"
        return Output(data=dict(variables), text=text)
    if not _NAME.match(name):
        raise UsageError(f"'{name}' is not a variable name",
                         "letters, digits and _, not starting with a digit")
    if not value:
        raise UsageError(f"set {name}: give a value", f"set {name} VALUE")
    variables[name] = " ".join(value)
    return Output(data={name: variables[name]}, text=f"{name} = {variables[name]}")


def _expect_effects(params: Mapping[str, Any]) -> Effects:
    """``expect mem ADDR == FILE`` reads FILE when the expected bytes are not hex."""
    words = tuple(params.get("words") or ())
    if len(words) >= 4 and words[0] == "mem" and words[2] == "==":
        text = " ".join(words[3:])
        if not _is_hex(text):
            return Effects(reads_files=(text,))
    return Effects()


# poll and sleep advance simulated time on a simulator (and only wait elsewhere)
register(poll_cmd, Meta("checks", time=True, own_dry_run=True))
register(expect_cmd, Meta("checks", decide=_expect_effects))
register(echo_cmd, Meta("checks"))
register(sleep_cmd, Meta("checks", time=True))
register(set_cmd, Meta("checks"))
