"""The collective planner and nccl-tests' arithmetic, without a simulator: every plan,
applied to numpy buffers step by step, gives numpy's answer computed from the inputs alone,
with no two transfers of a step touching the same bytes; the ring's steps carry what the
alpha-beta model assumes; sizes and bandwidths as nccl-tests prints them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socdbg.collectives import reference as ref
from socdbg.collectives.plan import ALGORITHMS, PlanError, plan
from socdbg.collectives.report import Row, bus_factor, count_for, parse_size, parse_sizes

CASES = [(c, a) for c, algos in ALGORITHMS.items() for a in algos]


def check(collective: str, algorithm: str, n: int, count: int, seed: int = 0) -> None:
    p = plan(collective, n, count, 4, algorithm)
    data = ref.inputs(n, count, seed)
    got = ref.apply(p, data)
    want = ref.expected(p.collective, data)
    for buf, arrays in want.items():
        for r in range(n):
            lo, hi = ref.region(p.collective, count, n, r)
            np.testing.assert_array_equal(got[buf][r][lo:hi], arrays[r])
    assert ref.hazards(p) == []


@pytest.mark.parametrize(("collective", "algorithm"), CASES)
@pytest.mark.parametrize("n", [2, 4, 8])
def test_every_plan_gives_numpys_answer(collective: str, algorithm: str, n: int) -> None:
    check(collective, algorithm, n, 64 * n)


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(CASES), n=st.integers(2, 12), blocks=st.integers(1, 9),
       extra=st.integers(0, 11), seed=st.integers(0, 1000))
def test_plans_for_any_chip_count_and_size(case: tuple[str, str], n: int, blocks: int,
                                           extra: int, seed: int) -> None:
    collective, algorithm = case
    if algorithm == "rhd":
        n = 1 << (n.bit_length() - 1)
    count = blocks * n + (0 if collective == "alltoall" else extra)
    check(collective, algorithm, n, count, seed)


def test_the_ring_moves_what_the_alpha_beta_model_counts() -> None:
    n, count = 8, 8 * 1024
    p = plan("allreduce", n, count, 4, "ring")
    assert len(p.steps) == 2 * (n - 1)
    for step in p.steps:
        assert len(step.transfers) == n
        assert {t.length for t in step.transfers} == {count * 4 // n}
        assert {(t.dst - t.src) % n for t in step.transfers} == {1}  # neighbours only
    assert [all(t.reduce for t in s.transfers) for s in p.steps] == [True] * 7 + [False] * 7
    # recursive halving: log2(n) halvings of shrinking size, then the doublings
    h = plan("allreduce", n, count, 4, "rhd")
    assert [s.transfers[0].length for s in h.steps] == [16384, 8192, 4096, 4096, 8192, 16384]


def test_plans_that_cannot_be() -> None:
    with pytest.raises(PlanError, match="power-of-two"):
        plan("allreduce", 6, 600, 4, "rhd")
    with pytest.raises(PlanError, match="at least 2 chips"):
        plan("allgather", 1, 8, 4)
    with pytest.raises(PlanError, match="no collective 'broadcast'"):
        plan("broadcast", 4, 8, 4)
    with pytest.raises(PlanError, match="no algorithm 'tree'"):
        plan("allgather", 4, 8, 4, "tree")
    with pytest.raises(PlanError, match="equal blocks"):
        plan("alltoall", 4, 10, 4)
    assert plan("all_reduce", 2, 8, 4, "halving-doubling").algorithm == "rhd"


def test_sizes_and_counts() -> None:
    assert parse_size("4K") == 4096 and parse_size("1GiB") == 1 << 30 and parse_size("x") is None
    assert parse_sizes("1K..16K") == [1024, 2048, 4096, 8192, 16384]
    assert parse_sizes("1K..1M", 4) == [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20]
    assert parse_sizes("4K,1M") == [4096, 1 << 20]
    assert "not a size" in str(parse_sizes("4K,lots"))
    assert "go up" in str(parse_sizes("1M..1K"))
    assert len(parse_sizes("1..1G")) == 31
    assert "more than 64" in str(parse_sizes("1..1000000000000G"))
    # whole 8-byte DMA words per chip's block, never less than one
    assert count_for(1 << 20, 4, 8) == 1 << 18
    assert count_for(1000, 4, 8) == 240 and count_for(8, 4, 8) == 16
    assert count_for(1 << 20, 2, 3) % (3 * 4) == 0


def test_bandwidths_as_nccl_tests_prints_them() -> None:
    assert bus_factor("allreduce", 8) == pytest.approx(1.75)
    assert bus_factor("allgather", 8) == bus_factor("alltoall", 8) == pytest.approx(0.875)
    row = Row.of("allreduce", 8, 1 << 28, 4, "fp32", 10_000_000, 0)  # 1 GiB in 10 ms
    assert row.size == 1 << 30 and row.time_us == pytest.approx(10_000)
    assert row.algbw == pytest.approx((1 << 30) / 1e-2 / 1e9)
    assert row.busbw == pytest.approx(row.algbw * 1.75)
    assert row.as_dict()["type"] == "fp32"


def test_bf16_codec_rounds_to_nearest_even() -> None:
    values = np.array([1.0, -2.5, 1.00390625, 1.01171875, 3.0e38], dtype=np.float32)
    raw = ref.encode("bf16", values)
    assert len(raw) == 10
    back = ref.decode("bf16", raw)
    # 1 + 2^-8 is a tie: to even (1.0); 1 + 3*2^-8 is a tie: to even (1 + 2^-6)
    assert back.tolist()[:4] == [1.0, -2.5, 1.0, 1.015625]
    assert ref.decode("fp32", ref.encode("fp32", values)).tolist() == values.tolist()
