"""``butr``: the built-in unit test for registers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from socdbg.commands.params import REGISTER_GLOB, TARGET, target_files
from socdbg.commands.registry import Effects, Meta, Output, register, session_command
from socdbg.commands.session import Session
from socdbg.regmap import Register, RegMap
from socdbg.render.progress import progress

PROGRESS_MIN = 200


def _scope(rmap: RegMap, patterns: tuple[str, ...]) -> tuple[list[Register], set[str]]:
    """Registers in scope and the ones named exactly (those may be tested even when their
    writes act beyond themselves)."""
    if not patterns:
        return list(rmap), set()
    regs: dict[str, Register] = {}
    named: set[str] = set()
    for pattern in patterns:
        exact = rmap.find(pattern)
        if exact is not None:
            named.add(exact.path)
        for r in rmap.select(pattern):
            regs[r.path] = r
    return sorted(regs.values(), key=lambda r: r.address), named


@click.command("butr", help="Built-in unit test for registers: reset values, walking ones "
               "and zeros, read-only bits, w1c/w1s, read-to-clear, reserved bits and "
               "singlepulse fields, against the map. Registers with write_effects are "
               "skipped unless named exactly; hardware is written only with --allow-writes.")
@click.argument("patterns", nargs=-1, type=REGISTER_GLOB)
@click.option("--target", "-t", "target_opt", type=TARGET, help="Test this target.")
@click.option("--allow-writes", is_flag=True,
              help="Let the test write registers of a target that is not a simulator.")
@click.option("--skip-reset", is_flag=True,
              help="Do not compare with reset values (the chip has run since reset).")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report.")
@click.option("--all", "show_all", is_flag=True,
              help="List passing and skipped checks too, not only failures.")
@session_command
def butr_cmd(session: Session, patterns: tuple[str, ...], target_opt: str | None,
             allow_writes: bool, skip_reset: bool, junit: str | None, show_all: bool) -> Output:
    from socdbg.butr import Butr
    from socdbg.butr import junit as junit_xml

    with session.scoped_target(target_opt):
        rmap = session.map
        rmap.refuse_repairs("BUTR checks the map as written, so it refuses what socdbg "
                            "repaired")
        regs, named = _scope(rmap, patterns)
        target = session.target
        runner = Butr(target, allow_writes=allow_writes, skip_reset=skip_reset,
                      can_write=_safety_hook(target, session.force_unsafe), regmap=rmap)
        with progress(session.presenter.console, len(regs), "butr", PROGRESS_MIN,
                      "registers") as advance:
            report = runner.run(regs, named, advance)
        spec = target.spec
    if junit:
        Path(junit).write_bytes(junit_xml(report, f"butr {spec}"))
    data = {"target": spec, "registers": len(regs), "pass": report.count("pass"),
            "fail": report.count("fail"), "skip": report.count("skip"),
            "checks": [{"register": c.register, "check": c.check, "status": c.status,
                        "detail": c.detail,
                        "fields": [{"field": f, "expected": e, "observed": g}
                                   for f, e, g in c.fields]} for c in report.checks]}

    def render() -> object:
        from socdbg.render.butr import ButrView

        return ButrView(report, len(regs), show_all)

    return Output(data=data, render=render, ok=report.passed)


def _safety_hook(target: object, force_unsafe: bool
                 ) -> Callable[[Register], str | None] | None:
    """The live-target write policy, when the safety module provides one."""
    import importlib

    try:
        safety = importlib.import_module("socdbg.safety")
    except ImportError:
        return None
    hook = getattr(safety, "writes_allowed", None)
    if hook is None:
        return None
    return lambda reg: hook(target, reg, force_unsafe)


# BUTR writes registers of a simulator, and of other targets with --allow-writes; a
# read-only target (a read-only server) makes it skip those checks instead.
register(butr_cmd, Meta("postmortem", json=True, writes_files=("junit",), decide=lambda p: Effects(
    writes=bool(p.get("allow_writes")), reads_files=target_files(p.get("target_opt")))))
