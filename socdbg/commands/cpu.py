"""Commands for targets with a CPU or a stub: halt, resume, core registers, monitor,
reconnect, reset."""

from __future__ import annotations

from typing import Any

import click

from socdbg.commands.registry import Effects, Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.errors import UsageError
from socdbg.regmap import parse_int
from socdbg.targets.base import (
    CAP_CORE_REGS,
    CAP_HALT,
    CAP_RESET,
    CAP_STEP,
    CoreRegisters,
    Monitor,
    Reconnectable,
    Resettable,
    RunControl,
)


def _needs(session: Session, proto: type, command: str, what: str,
           capability: str | None = None) -> Any:
    target = session.target
    if not isinstance(target, proto) or (capability is not None
                                         and capability not in target.capabilities):
        raise UsageError(f"{command}: target {target.spec} has no {what}",
                         "info lists what this target can do")
    return target


def _pc_text(session: Session) -> str:
    target = session.target
    if isinstance(target, CoreRegisters) and not getattr(target, "running", False):
        try:
            pc = target.read_core_register("pc")
        except Exception:
            return ""
        from socdbg.commands.firmware import symbol_at

        name = symbol_at(session, pc)
        return f" at pc {pc:#x}" + (f" ({name})" if name else "")
    return ""


@click.command("halt", help="Stop the CPU (GDB targets).")
@session_command
def halt_cmd(session: Session) -> Output:
    target = _needs(session, RunControl, "halt", "CPU to halt", CAP_HALT)
    stop = target.halt()
    return Output(data={"halted": True, "stop": getattr(stop, "text", str(stop))},
                  text=f"halted{_pc_text(session)}")


@click.command("resume", help="Let the CPU run (GDB targets). Memory is served again after "
               "halt.")
@session_command
def resume_cmd(session: Session) -> Output:
    target = _needs(session, RunControl, "resume", "CPU to resume", CAP_HALT)
    target.resume()
    return Output(data={"running": True}, text="running")


@click.command("stepi", help="Execute N machine instructions (default 1) and halt "
               "(GDB targets).")
@click.argument("count", required=False, default="1")
@session_command
def stepi_cmd(session: Session, count: str) -> Output:
    n = parse_int(count)
    if n is None or n < 1:
        raise UsageError(f"'{count}' is not an instruction count")
    target = _needs(session, RunControl, "stepi", "CPU to step", CAP_STEP)
    for _ in range(n):
        target.step_instruction()
    return Output(data={"steps": n}, text=f"stepped {n}{_pc_text(session)}")


@click.command("core", help="Show the CPU's registers, read one (core pc), or write one "
               "(core pc 0x80000000).")
@click.argument("name", required=False)
@click.argument("value", required=False)
@session_command
def core_cmd(session: Session, name: str | None, value: str | None) -> Output:
    target = _needs(session, CoreRegisters, "core", "CPU registers", CAP_CORE_REGS)
    if value is not None:
        v = parse_int(value)
        if v is None or v < 0:
            raise UsageError(f"'{value}' is not a register value")
        assert name is not None
        target.write_core_register(name, v)
        return Output(data={name: v}, text=f"{name} <- {v:#x}")
    names = [name] if name else target.core_register_names()
    if not name:
        names = [n for n in names if not n.startswith(("f", "csr"))
                 or n in ("fp",)][:40] or names
    values = {n: target.read_core_register(n) for n in names}
    width = max(len(n) for n in values)
    text = "\n".join(f"{n:<{width}}  {v:#018x}" for n, v in values.items())
    return Output(data=values, text=text)


@click.command("monitor", help="Pass TEXT to the stub's monitor (QEMU: info mtree, "
               "info registers, system_reset; OpenOCD: reset halt, ...; socdbg serve: any "
               "socdbg command). Everything after the word monitor is passed as typed.",
               add_help_option=False, context_settings={"ignore_unknown_options": True})
@click.argument("text", nargs=-1, required=True)
@session_command
def monitor_cmd(session: Session, text: tuple[str, ...]) -> Output:
    target = _needs(session, Monitor, "monitor", "monitor")
    out = target.monitor(" ".join(text))
    return Output(data={"output": out}, text=out.rstrip("\n"))


@click.command("reconnect", help="Re-open the connection to the target and re-read its "
               "state (after the stub restarted).")
@session_command
def reconnect_cmd(session: Session) -> Output:
    target = _needs(session, Reconnectable, "reconnect", "connection to re-open")
    target.reconnect()
    return Output(data={"target": session.target.spec},
                  text=f"reconnected to {session.target.spec}{_pc_text(session)}")


@click.command("reset", help="Reset the chip (sim: registers to reset values, memory kept; "
               "QEMU: system_reset).")
@session_command
def reset_cmd(session: Session) -> Output:
    target = session.target
    if CAP_RESET not in target.capabilities or not isinstance(target, Resettable):
        raise UsageError(f"reset: target {target.spec} cannot be reset by socdbg",
                         "use monitor with the stub's own reset command")
    target.reset()
    return Output(data={"reset": True}, text="reset")


register(halt_cmd, Meta("cpu", controls=True))
register(resume_cmd, Meta("cpu", controls=True))
register(stepi_cmd, Meta("cpu", controls=True))
register(core_cmd, Meta("cpu", json=True,
                        decide=lambda p: Effects(controls=p.get("value") is not None)))
# the stub's own monitor can do anything the stub can (QEMU: system_reset)
register(monitor_cmd, Meta("cpu", controls=True))
register(reconnect_cmd, Meta("cpu", controls=True))
register(reset_cmd, Meta("cpu", controls=True))
