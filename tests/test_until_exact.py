"""``step --until`` and ``poll`` stop at the first cycle where the condition holds: the cycle
a naive cycle-by-cycle stepper finds, for equality, inequality, ordering and masked
conditions on registers that change with time (the cycle counter, which counts only while
the PLL is locked) and on registers that events change."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socdbg.commands.dispatch import execute
from socdbg.commands.session import Session
from socdbg.models import blocks
from socdbg.regmap import RegMap
from socdbg.regmap.conditions import OPERATORS, first_count, parse_condition
from socdbg.targets.sim import SimTarget

OPS = sorted(OPERATORS)


# --- the counter solver against brute force --------------------------------------------------
@given(width=st.integers(1, 10), start=st.integers(0, 2000), count=st.integers(0, 3000),
       keep=st.integers(0, 1023), shift=st.integers(0, 4), op=st.sampled_from(OPS),
       value=st.integers(-3, 300))
@settings(max_examples=600, deadline=None)
def test_first_count_is_the_first_cycle_brute_force_finds(
        width: int, start: int, count: int, keep: int, shift: int, op: str,
        value: int) -> None:
    keep &= ~((1 << shift) - 1)  # no kept bits below the shift (a field's lsb)
    size = 1 << width
    test = OPERATORS[op]
    expected = next((d for d in range(count)
                     if test((((start + d) % size) & keep) >> shift, value)), None)
    assert first_count(start, count, width, keep, shift, op, value) == expected


def test_first_count_handles_a_64_bit_counter_far_away() -> None:
    big = 10**15
    assert first_count(0, big, 64, (1 << 64) - 1, 0, "==", big - 1) == big - 1
    assert first_count(5, big, 64, 0xFF << 8, 8, "==", 0x12) == 0x1200 - 5
    assert first_count(1 << 40, 100, 64, (1 << 64) - 1, 0, "<", 5) is None


# --- the simulator against a naive stepper ---------------------------------------------------
Action = tuple[int, str, int]  # (cycle, what, value)


def _build(ref_map: RegMap, actions: list[Action]) -> SimTarget:
    sim = SimTarget(ref_map)
    regs = sim.regs
    pll = ref_map.get("sysctrl.pll_ctrl")
    scratch = ref_map.get("sysctrl.scratch")

    def act(what: str, value: int) -> Callable[[], None]:
        def run() -> None:
            if what == "pll":
                old = regs.peek(pll)
                regs.sw_write(pll, (old | 1) if value else (old & ~1))
            else:
                regs.sw_write(scratch, value)
        return run

    for cycle, what, value in actions:
        sim.kernel.schedule(cycle, act(what, value))
    return sim


CONDITIONS = st.one_of(
    st.tuples(st.sampled_from(["sysctrl.cycle", "sysctrl.cycle.count"]),
              st.sampled_from([None, 0x7, 0xF0, 0x1FF, 0x100, 0x3]),
              st.sampled_from(OPS), st.integers(0, 3000)),
    st.tuples(st.just("sysctrl.pll_status.lock"), st.none(), st.sampled_from(OPS),
              st.integers(0, 1)),
    st.tuples(st.just("sysctrl.scratch"), st.sampled_from([None, 0xF]),
              st.sampled_from(OPS), st.integers(0, 20)),
)
ACTIONS = st.lists(st.tuples(st.integers(0, 4000), st.sampled_from(["pll", "scratch"]),
                             st.integers(0, 20)), max_size=6)


@given(actions=ACTIONS, condition=CONDITIONS, before=st.integers(0, 3000),
       limit=st.integers(0, 3000), lock_first=st.booleans())
@settings(max_examples=100, deadline=None)
def test_run_until_stops_where_a_naive_stepper_stops(
        ref_map: RegMap, actions: list[Action],
        condition: tuple[str, int | None, str, int], before: int, limit: int,
        lock_first: bool) -> None:
    path, mask, op, value = condition
    text = f"{path} & {mask:#x} {op} {value}" if mask is not None else f"{path} {op} {value}"
    plan = [(c, w, v % 2 if w == "pll" else v) for c, w, v in actions]
    if lock_first:  # the counter runs from cycle PLL_LOCK_CYCLES on
        plan.insert(0, (0, "pll", 1))
    fast, slow = _build(ref_map, plan), _build(ref_map, plan)
    fast.step(before)
    slow.step(before)
    held = fast.run_until_text(text, limit)

    cond = parse_condition(ref_map, text)
    naive = cond.holds(slow.regs.sw_read(cond.register))
    end = slow.now + limit
    while not naive and slow.now < end:
        slow.step(1)
        naive = cond.holds(slow.regs.sw_read(cond.register))
    assert (held, fast.now) == (naive, slow.now), text


def test_cycle_after_the_pll_lock_is_found_at_once() -> None:
    """The report's case: ``--until sysctrl.cycle == 500`` after the lock ran to the limit."""
    session = Session(target="sim")
    execute(session, "write sysctrl.pll_ctrl en=1")
    assert execute(session, "step --until sysctrl.pll_status.lock == 1") is not None
    out = execute(session, "step --until sysctrl.cycle == 500")
    assert out is not None and out.ok, out.text if out else None
    assert out.data["cycle"] == blocks.PLL_LOCK_CYCLES + 500
    out = execute(session, "step --until sysctrl.cycle & 0xff == 0x10")
    assert out is not None and out.data["cycle"] == blocks.PLL_LOCK_CYCLES + 0x210
    out = execute(session, "poll sysctrl.cycle == 0x1000 --timeout 0.001")
    assert out is not None and out.ok
    read = execute(session, "read sysctrl.cycle --json")
    assert read is not None and read.data["value"] == 0x1000


@pytest.mark.parametrize("line", ["write sysctrl.pll_ctrl en=0",
                                  "write sysctrl.pll_ctrl en=1"])
def test_a_counter_that_holds_is_reported_not_waited_for(line: str) -> None:
    session = Session(target="sim")
    execute(session, line)
    out = execute(session, "step --until sysctrl.cycle == 10 --max-cycles 1000")
    assert out is not None and not out.ok and "timeout after 1,000 cycles" in (out.text or "")


@pytest.mark.parametrize("condition", ["noc.router[1].port[1].flits >= 40",
                                       "noc.router[3].port[2].flits == 128",
                                       "noc.status.idle == 1",
                                       "dma.ch[0].bytes_done & 0x400 != 0"])
def test_mesh_conditions_stop_where_a_naive_stepper_stops(condition: str) -> None:
    """While flits are in flight the mesh ticks (checked every cycle); once idle its counters
    hold (a gap is skipped): either way the stop is the naive stepper's."""
    setup = ["write sysctrl.rst_ctrl dma_rst=0 noc_rst=0", "write dma.global_ctrl enable=1",
             "write dma.ch[0].src 0x10000000", "write dma.ch[0].dst 0x80000000",
             "write dma.ch[0].len 0x1000", "write dma.ch[0].ctrl en=1 mode=SINGLE start=1",
             "step 3"]
    fast, slow = Session(target="sim"), Session(target="sim")
    for line in setup:
        execute(fast, line)
        execute(slow, line)
    out = execute(fast, f"step --until '{condition}' --max-cycles 5000")
    assert out is not None
    cond = parse_condition(slow.map, condition)
    sim = slow.target
    assert isinstance(sim, SimTarget)
    end = sim.now + 5000
    while not cond.holds(sim.regs.sw_read(cond.register)) and sim.now < end:
        sim.step(1)
    assert (out.ok, out.data["cycle"]) == (cond.holds(sim.regs.sw_read(cond.register)),
                                          sim.now)
