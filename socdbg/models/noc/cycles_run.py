"""Synthetic traffic on the cycle-by-cycle arrays (socdbg.models.noc.cycles): set the arrays
up for a fresh mesh, run the kernel, give it room when it asks, and collect what it measured.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from socdbg.models.noc.cycles import (
    C_B,
    C_D,
    C_DQ,
    C_EJ,
    C_END,
    C_FLITS,
    C_HORIZON,
    C_HOT,
    C_INJ,
    C_L,
    C_PAT,
    C_PROGRESS,
    C_R,
    C_START,
    C_T0,
    C_V,
    C_X,
    C_Y,
    C_YX,
    DONE,
    I64,
    NCFG,
    NEED_LATENCIES,
    NEED_PACKETS,
    NST,
    PATTERN_CODES,
    S_HOPS,
    S_MEASURED,
    S_NFREE,
    S_NLAT,
    S_NOW,
    S_SLOT,
    S_TOLD,
    P,
    run,
)


@dataclass
class CycleRun:
    """What :func:`run_slots` measured: the latencies of the measured packets delivered, the
    output counters at the two window edges and at the end, and where the run stopped."""

    latencies: list[int]
    measured: int
    start_flits: list[int]  # [node * 5 + port], at the end of cycle start - 1
    end_flits: list[int]  # the same at the end of cycle end - 1
    flits: list[int]  # the same at the end of the run
    stalls: list[int]  # [node * 5 + port], summed over the VCs
    end_cycle: int
    flit_hops: int


def run_slots(size_x: int, size_y: int, *, vcs: int, buffer_depth: int, router_delay: int,
              link_delay: int, inject_delay: int, eject_delay: int, routing: str,
              pattern: str, hotspot: int, fraction: float, packet_flits: int, rate_p: float,
              rng: random.Random, t0: int, start: int, end: int, horizon: int,
              on_cycle: Callable[[int], None] | None = None) -> CycleRun:
    """socdbg.models.traffic.run_traffic's slot loop on a fresh mesh of this configuration
    (``rate_p``: packets per node per cycle; ``rng`` as run_traffic leaves it after making the
    picker)."""
    N = size_x * size_y
    V, B = vcs, buffer_depth
    NB = N * P * V
    D = link_delay + 1
    DQ = N * (link_delay + eject_delay + 2)
    log_q = math.log1p(-rate_p) if 0.0 < rate_p < 1.0 else 0.0
    cfg = np.zeros(NCFG, I64)
    cfg[[C_X, C_Y, C_V, C_B, C_R, C_L, C_INJ, C_EJ]] = (
        size_x, size_y, V, B, router_delay, link_delay, inject_delay, eject_delay)
    cfg[C_YX] = routing == "YX"
    cfg[C_FLITS] = packet_flits
    cfg[C_PAT] = PATTERN_CODES[pattern]
    cfg[C_HOT] = hotspot
    cfg[C_D] = D
    cfg[C_DQ] = DQ
    cfg[[C_T0, C_START, C_END, C_HORIZON]] = (t0, start, end, horizon)
    cfg[C_PROGRESS] = on_cycle is not None
    fcfg = np.array([rate_p, log_q, fraction], np.float64)
    st = np.zeros(NST, I64)
    st[S_NOW] = t0
    st[S_TOLD] = t0
    rand = rng.random
    # the first slot, drawn as run_traffic draws it
    if rate_p >= 1.0:
        st[S_SLOT] = t0 * N
    elif rate_p <= 0.0:
        st[S_SLOT] = horizon
    else:
        st[S_SLOT] = t0 * N + int(math.log(1.0 - rand()) / log_q)
    mt = np.array(rng.getstate()[1], I64)  # the Mersenne Twister, drawn on in the kernel
    cap = max(64, 4 * N)
    pkt = np.empty(cap * 4, I64)
    free = np.arange(cap - 1, -1, -1, dtype=I64)
    st[S_NFREE] = cap
    lat = np.zeros(1024, I64)
    arrays = dict(
        bq=np.zeros(NB * B * 3, I64), b_head=np.zeros(NB, I64), b_cnt=np.zeros(NB, I64),
        b_last=np.full(NB, -(1 << 40), I64), b_ovc=np.full(NB, -1, I64),
        b_stall=np.zeros(NB, I64), b_cred=np.full(NB, B, I64),
        ovc=np.tile(np.array([-1, 0], I64), N * P * V), o_rr=np.zeros(N * P, I64),
        i_rr=np.zeros(N * P, I64), o_sw=np.zeros(N * P, I64), o_flits=np.zeros(N * P, I64),
        cq=np.zeros(D * NB, I64), cq_n=np.zeros(D, I64), dq=np.zeros(DQ * 3, I64),
        n_occ=np.zeros(N, I64), q_head=np.full(N, -1, I64), q_tail=np.full(N, -1, I64),
        ni=np.tile(np.array([-(1 << 40), 0, 0, 0], I64), N))
    scratch = np.zeros(2 * P * V + P, I64)
    snaps = np.zeros(2 * N * P, I64)
    a = arrays
    while True:
        why = run(cfg, fcfg, st, mt, a["bq"], a["b_head"], a["b_cnt"], a["b_last"],
                  a["b_ovc"], a["b_stall"], a["b_cred"], a["ovc"], a["o_rr"], a["i_rr"],
                  a["o_sw"], a["o_flits"], a["cq"], a["cq_n"], a["dq"], a["n_occ"],
                  a["q_head"], a["q_tail"], a["ni"], pkt, free, lat, scratch, snaps)
        if why == DONE:
            break
        if why == NEED_PACKETS:
            grown = np.empty(cap * 8, I64)
            grown[:cap * 4] = pkt
            pkt = grown
            free = np.concatenate([np.arange(2 * cap - 1, cap - 1, -1, dtype=I64),
                                   np.zeros(cap, I64)])
            st[S_NFREE] = cap
            cap *= 2
        elif why == NEED_LATENCIES:
            lat = np.concatenate([lat, np.zeros(lat.shape[0], I64)])
        elif on_cycle is not None:
            on_cycle(int(st[S_NOW]) - t0)
    NO = N * P
    stalls = a["b_stall"].reshape(NO, V).sum(axis=1)
    return CycleRun(latencies=lat[:st[S_NLAT]].tolist(), measured=int(st[S_MEASURED]),
                    start_flits=snaps[:NO].tolist(), end_flits=snaps[NO:].tolist(),
                    flits=a["o_flits"].tolist(), stalls=stalls.tolist(),
                    end_cycle=int(st[S_NOW]), flit_hops=int(st[S_HOPS]))
