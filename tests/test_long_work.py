"""Long simulator runs go in slices: a terminal shows progress, and Ctrl-C reports the cycle
where the work stopped (the shell after 'cancelled', a one-shot command on stderr)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from socdbg.commands.conditions import SLICE, advance, parse_condition, wait_for
from socdbg.commands.session import Session
from socdbg.render.progress import Stopped
from socdbg.shell.repl import Shell
from socdbg.targets.sim import SimTarget


@pytest.fixture
def session(_socdbg_session_env: None) -> Iterator[Session]:
    s = Session(out=io.StringIO(), color=False)
    yield s
    s.close()


def interrupt_after(obj: Any, name: str, calls: int) -> None:
    """Make ``obj.name`` raise KeyboardInterrupt (a Ctrl-C) on its ``calls``-th call."""
    real = getattr(obj, name)
    seen = [0]

    def wrapped(*args: Any) -> Any:
        seen[0] += 1
        if seen[0] == calls:
            raise KeyboardInterrupt
        return real(*args)

    setattr(obj, name, wrapped)


def test_step_in_slices_reports_where_ctrl_c_stopped_it(session: Session) -> None:
    sim = session.target
    assert isinstance(sim, SimTarget)
    interrupt_after(sim, "step", 3)
    with pytest.raises(Stopped) as exc:
        advance(sim, 10 * SLICE, session)
    assert str(exc.value) == (f"stopped at cycle {2 * SLICE:,} after {2 * SLICE:,} of "
                              f"{10 * SLICE:,} cycles")
    assert sim.now == 2 * SLICE


def test_a_short_step_is_one_call(session: Session) -> None:
    sim = session.target
    assert isinstance(sim, SimTarget)
    calls: list[int] = []
    real = sim.step
    sim.step = lambda n=1: (calls.append(n), real(n))[1]  # type: ignore[method-assign]
    advance(sim, 500, session)
    assert calls == [500] and sim.now == 500


def test_run_until_reports_where_it_stopped(session: Session) -> None:
    sim = session.target
    assert isinstance(sim, SimTarget)
    cond = parse_condition(session.map, "sysctrl.pll_status.lock == 1")
    interrupt_after(sim, "run_until_text", 4)
    with pytest.raises(Stopped, match=rf"stopped at cycle {3 * SLICE:,} after {3 * SLICE:,} "
                       r"of 5,000,000 cycles; sysctrl.pll_status.lock == 1 did not hold yet"):
        wait_for(sim, cond, 5_000_000, session)


def test_the_shell_says_where_ctrl_c_stopped(session: Session) -> None:
    sim = session.target
    assert isinstance(sim, SimTarget)
    interrupt_after(sim, "step", 2)
    shell = Shell(session)
    assert shell.run_line(f"step {5 * SLICE}")
    text = session.presenter.out.getvalue()  # type: ignore[union-attr]
    assert f"cancelled: stopped at cycle {SLICE:,} after {SLICE:,} of {5 * SLICE:,} cycles" \
        in text


def test_progress_turns_ctrl_c_into_how_far_the_work_got(session: Session) -> None:
    from socdbg.render.progress import progress

    with (pytest.raises(Stopped, match=r"^load fw.elf: stopped after 3,072 of 8,192 bytes$"),
          progress(session.presenter.console, 8192, "load fw.elf", 1, "bytes") as moved):
        for _ in range(3):
            moved(1024)
        raise KeyboardInterrupt


def test_dump_reports_how_many_registers_it_read(session: Session,
                                                 tmp_path: Any) -> None:
    from socdbg.commands.dispatch import execute

    sim = session.target
    interrupt_after(sim, "read", 20)
    with pytest.raises(Stopped, match=r"^dump: stopped after \d+ of \d+ registers$"):
        execute(session, f"dump -o {tmp_path / 'd.json'}")


def test_noc_traffic_reports_progress_and_where_it_stopped(session: Session) -> None:
    from socdbg.commands.dispatch import execute
    from socdbg.models.noc import Mesh
    from socdbg.models.traffic import run_traffic

    seen: list[int] = []
    run_traffic(Mesh(4, 4), "uniform", 0.1, cycles=5000, warmup=1000, on_cycle=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] >= 5000

    def stop(ran: int) -> None:
        if ran > 3000:
            raise KeyboardInterrupt

    import socdbg.models.traffic as traffic

    real = traffic.run_traffic

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        hook = kwargs["on_cycle"]

        def both(ran: int) -> None:
            hook(ran)
            stop(ran)

        return real(*args, **{**kwargs, "on_cycle": both})

    traffic.run_traffic = interrupted  # type: ignore[assignment]
    try:
        with pytest.raises(Stopped, match=r"^noc traffic: stopped after 3,\d{3} of 11,000 "
                           r"cycles$"):
            execute(session, "noc traffic uniform 0.1 --cycles 10000 --warmup 1000")
    finally:
        traffic.run_traffic = real  # type: ignore[assignment]


class _Untimed:
    """A target with no simulated time (as a gdb stub or silicon): the sim's registers only."""

    def __init__(self, sim: SimTarget, interrupt_at: int) -> None:
        self.spec, self.capabilities = "untimed", frozenset({"write"})
        self._sim, self._left = sim, interrupt_at

    def read(self, address: int, size: int) -> bytes:
        self._left -= 1
        if self._left == 0:
            raise KeyboardInterrupt
        return self._sim.read(address, size)

    def write(self, address: int, data: bytes) -> None:
        self._sim.write(address, data)

    def read_block(self, address: int, size: int) -> bytes:
        return self.read(address, size)

    def write_block(self, address: int, data: bytes) -> None:
        self.write(address, data)

    def close(self) -> None:
        pass


def test_poll_on_hardware_reports_where_ctrl_c_stopped_it(session: Session) -> None:
    """Without simulated time poll waits in wall time; Ctrl-C says how long it waited, how
    many reads it made and the last value it saw."""
    from socdbg.commands.dispatch import execute

    sim = session.target
    assert isinstance(sim, SimTarget)
    session.use_target(_Untimed(sim, interrupt_at=4))  # type: ignore[arg-type]
    with pytest.raises(Stopped, match=r"^poll: stopped after \d+\.\d{3} s and 3 reads of "
                       r"sysctrl\.scratch; last read: expected sysctrl\.scratch == 5, "
                       r"got 0 \(value=0\)$"):
        execute(session, "poll sysctrl.scratch == 5 --timeout 60 --interval 0.001")
