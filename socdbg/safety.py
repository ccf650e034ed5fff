"""The write policy for live targets (real hardware: the ``mmio``, ``pci`` and ``uio`` targets).

* A live target opens read-only. ``socdbg --allow-writes`` (a global option) maps it read-write;
  without it a command that would write fails before its first access.
* In the interactive shell every write to a live target shows the decoded change (register,
  old -> new per field) and asks ``[y/N]``; ``socdbg --yes`` skips the question. Everywhere
  else (one-shot commands, piped input, ``socdbg run`` scripts) nothing is asked:
  ``--allow-writes`` is the consent.
* A register or memory the map marks ``unsafe_write`` needs more: in the interactive shell the
  answer must be the word ``unsafe`` (``--yes`` does not skip it); elsewhere the command is
  refused before any access unless ``socdbg --force-unsafe`` was given.

* ``load`` is a write like any other: one question for the whole image, listing its segments
  and the memories they land in; ``unsafe_write`` memories need the word or --force-unsafe.

Simulators and dumps are not live: none of this applies to them. The dry run of a live target
(``socdbg run --dry-run``, capability ``live-policy`` instead of ``live``) writes nothing and
asks nothing, but is refused wherever the real run would be. Commands build a
:class:`WriteGate` after validating their arguments and before touching the target; automated
writers (BUTR) ask :func:`writes_allowed` per register.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from socdbg.errors import SocdbgError, TargetError
from socdbg.targets.base import CAP_LIVE, CAP_LIVE_POLICY, CAP_WRITE, Target

if TYPE_CHECKING:
    from socdbg.regmap import Register, RegMap

#: ``ask(message, question) -> answer``: show ``message``, ask ``question``, return the answer
#: ("" for Ctrl-C or Ctrl-D). The interactive shell provides one; nothing else does.
Ask = Callable[[str, str], str]

#: The answer that confirms a write to an ``unsafe_write`` register or memory.
UNSAFE_WORD = "unsafe"


class Policy(Protocol):
    """The session's write options (``socdbg --allow-writes --yes --force-unsafe``)."""

    allow_writes: bool
    yes: bool
    force_unsafe: bool
    ask: Ask | None


@runtime_checkable
class WriteEnable(Protocol):
    """A live target that opens read-only and can be switched to read-write."""

    def enable_writes(self) -> None: ...


class NotConfirmed(SocdbgError):
    """The user answered no to a write confirmation: nothing was written."""


def is_live(target: Target) -> bool:
    """True when writes to ``target`` reach real hardware (not a simulator, a dump, or the
    dry-run view of ``socdbg run --dry-run``, which only reports them): the shell asks."""
    return CAP_LIVE in target.capabilities


def live_policy(target: Target) -> bool:
    """True when the refusals of the live write policy apply: a live target, or a dry run of
    one (which must fail where the real run would, though it writes nothing and asks
    nothing)."""
    return bool(target.capabilities & {CAP_LIVE, CAP_LIVE_POLICY})


def arm(target: Target, policy: Policy) -> None:
    """Open a live target for writes when the session allows them (``--allow-writes``)."""
    if policy.allow_writes and is_live(target) and isinstance(target, WriteEnable):
        target.enable_writes()


READ_ONLY_HINT = ("writes to live hardware need socdbg --allow-writes, a global option: "
                  "socdbg --allow-writes -t TARGET shell|run SCRIPT|COMMAND")


def read_only_error(target: Target, what: str) -> TargetError:
    dry = "" if is_live(target) else "dry run of "
    return TargetError(f"{what}: {dry}live target {target.spec} is open read-only",
                       READ_ONLY_HINT)


def writes_allowed(target: Target, reg: Register, force_unsafe: bool = False) -> str | None:
    """Why ``reg`` must not be written on ``target`` without a person confirming it, or None
    when it may. For writers that cannot ask (BUTR): the target must accept writes (a live
    one only with ``--allow-writes``) and, on live hardware, the register must not be
    ``unsafe_write`` unless ``force_unsafe``."""
    if CAP_WRITE not in target.capabilities:
        if live_policy(target):
            return f"live target {target.spec} is open read-only (socdbg --allow-writes)"
        return f"target {target.spec} is read-only"
    if live_policy(target) and reg.layout.unsafe_write and not force_unsafe:
        return (f"{reg.path} is marked unsafe_write: writing it on live hardware needs "
                "--force-unsafe")
    return None


def unsafe_registers(regs: Sequence[Register]) -> list[str]:
    return [r.path for r in regs if r.layout.unsafe_write]


def unsafe_in_range(regmap: RegMap, address: int, size: int) -> list[str]:
    """Paths of the ``unsafe_write`` registers and memories a raw write of ``size`` bytes at
    ``address`` touches."""
    out = [r.path for r in regmap.in_range(address, address + size) if r.layout.unsafe_write]
    out += [m.path for m in regmap.memories
            if m.unsafe_write and m.address < address + size and address < m.end]
    return out


# --- what the user is shown -------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One write a command is about to perform. ``register`` is None for a raw ``poke`` that
    is not exactly one register; ``old`` is None when the current value was not read, and
    ``why_unread`` says why."""

    address: int
    size: int
    new: int
    register: Register | None = None
    old: int | None = None
    why_unread: str = ""
    label: str = ""  # for a raw write: the memory or register it lands in


def current_value(target: Target, reg: Register) -> tuple[int | None, str]:
    """The register's value for the confirmation, unless reading it is not harmless."""
    if not reg.layout.readable:
        return None, "write-only"
    if reg.layout.read_side_effect:
        return None, "reading it has side effects"
    from socdbg.access import read_register

    return read_register(target, reg), ""


def _hex(value: int, size: int) -> str:
    return f"{value:#0{size * 2 + 2}x}"


def describe(target: Target, changes: Sequence[Change], unsafe: Sequence[str]) -> str:
    """The decoded change, as plain lines: each register with old -> new, then its fields
    (changed ones as ``old -> new``, the rest with the value they keep)."""
    from socdbg.regmap import decode

    lines = [f"write to live target {target.spec}:"]
    for c in changes:
        reg = c.register
        name = reg.path if reg is not None else (c.label or "(no register)")
        old = _hex(c.old, c.size) if c.old is not None else "?"
        flag = "  unsafe_write" if name in unsafe else ""
        lines.append(f"  {name}  {c.address:#x}  {old} -> {_hex(c.new, c.size)}{flag}")
        if c.old is None and c.why_unread:
            lines.append(f"      (current value not read: {c.why_unread})")
        if reg is None:
            continue
        new_fields = decode(reg, c.new).fields
        old_fields = decode(reg, c.old).fields if c.old is not None else None
        width = max((len(fv.field.name) for fv in new_fields), default=0)
        for i, fv in enumerate(new_fields):
            if not fv.field.sw.writable:
                continue
            if old_fields is None:
                text = f"? -> {fv.text}"
            elif old_fields[i].value != fv.value:
                text = f"{old_fields[i].text} -> {fv.text}"
            else:
                text = f"{fv.text}"
            lines.append(f"      {fv.field.name:<{width}}  {text}")
    return "\n".join(lines)


# --- the gate ---------------------------------------------------------------------------------
class WriteGate:
    """What a command must do before writing to ``target``. Built after the command has
    validated its arguments and before its first access; raises when the write is refused
    outright (a read-only live target, ``unsafe_write`` with nobody to ask).

    A dry run of a live target is refused exactly where the live target would be, and never
    asks: nothing is written."""

    def __init__(self, policy: Policy, target: Target, what: str,
                 unsafe: Sequence[str] = ()) -> None:
        self.policy = policy
        self.target = target
        self.what = what
        self.live = is_live(target)
        checked = live_policy(target)
        self.unsafe = list(dict.fromkeys(unsafe)) if checked else []
        self.asks = False
        self.need_word = False
        if not checked:
            return
        if CAP_WRITE not in target.capabilities:
            raise read_only_error(target, what)
        need_word = bool(self.unsafe) and not policy.force_unsafe
        if need_word and (policy.ask is None or not self.live):
            raise TargetError(f"{what}: {_names(self.unsafe)} marked unsafe_write: writing "
                              f"on live hardware needs --force-unsafe",
                              "socdbg --allow-writes --force-unsafe ...; the interactive shell "
                              "asks instead")
        self.need_word = need_word
        self.asks = self.live and policy.ask is not None and (need_word or not policy.yes)

    def confirm(self, changes: Sequence[Change]) -> None:
        """Show the change and ask; raises NotConfirmed unless the answer allows the write.
        Does nothing when no question is due."""
        if not self.asks or self.policy.ask is None:
            return
        self.confirm_text(describe(self.target, changes, self.unsafe))

    def confirm_text(self, message: str) -> None:
        """:meth:`confirm` with a message the command composed (``load``: its segments and
        the memories they land in)."""
        if not self.asks or self.policy.ask is None:
            return
        if self.need_word:
            message += (f"\n{_names(self.unsafe)} marked unsafe_write in the map: writing "
                        "can upset the chip (clocks, resets, memory timing).")
            question = f"Type '{UNSAFE_WORD}' to write anyway, anything else cancels: "
        else:
            question = "Write? [y/N] "
        answer = self.policy.ask(message, question).strip().lower()
        ok = answer == UNSAFE_WORD if self.need_word else answer in ("y", "yes")
        if not ok:
            raise NotConfirmed(f"{self.what}: not confirmed, nothing written")


def _names(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
    return f"{shown} {'is' if len(paths) == 1 else 'are'}"
