"""The mesh, cycle by cycle, on flat integer arrays: the fast path of synthetic traffic, and
the router with virtual channels.

The same router as :mod:`socdbg.models.noc.mesh` (its docstring has the timing), stepped one
cycle at a time over arrays instead of event-driven worms, so that numba can compile it (when
it is installed; without it the same functions run as plain Python). With one virtual channel
it gives exactly the event-driven mesh's cycles and counters (tests/test_noc_cycles.py checks
every delivery cycle and counter on random mixes). With ``V`` virtual channels every input port
has ``V`` buffers of ``buffer_depth`` flits; each cycle:

1. credits come back (a slot freed downstream in cycle ``c`` counts upstream from ``c + L``,
   in the network interface from ``c + 1``); deliveries due now happen;
2. each network interface writes at most one flit into its LOCAL input VC (packet ``k`` of the
   node takes VC ``k mod V``), the head no earlier than ``created + inject_delay``;
3. VC allocation: a head at the front of its buffer whose router delay is over asks for an
   output VC of the port its route names; each free output VC (lowest first) goes to the next
   asking input VC in round-robin order over (input port, VC), starting after the last winner;
   an output VC is free again the cycle after the worm's tail crossed;
4. switch allocation: each input port offers one of its VCs holding an output VC whose front
   flit is ready and has a downstream credit (round robin over its VCs); each output takes one
   offer (round robin over input ports); the winners cross. A flit crossing in cycle ``c``
   enters the next buffer in ``c + L``; the tail's ejection is delivered ``L + eject_delay``
   later;
5. stall counters: a buffer whose front flit was ready but did not cross counts one cycle.

Everything is int64; the state lives in arrays (set up by socdbg.models.noc.cycles_run) so a
run can pause (for more room, or a progress report) and resume where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

try:  # numba compiles the kernel when installed; the plain functions are the same model
    from numba import njit as _njit

    def jit(fn: F) -> F:
        return cast(F, _njit(cache=True, nogil=True)(fn))

    def inline(fn: F) -> F:
        return cast(F, _njit(cache=True, nogil=True, inline="always")(fn))

    COMPILED = True
except ImportError:  # pragma: no cover - depends on the environment
    def jit(fn: F) -> F:
        return fn

    inline = jit

    COMPILED = False

I64 = np.int64
P = 5  # ports per router: N, E, S, W, LOCAL (socdbg.models.noc.geometry)
LOCALP = 4

# --- configuration (the ``cfg`` array) ------------------------------------------------------
C_X, C_Y, C_V, C_B, C_R, C_L, C_INJ, C_EJ, C_YX, C_FLITS, C_PAT, C_HOT, C_D, C_DQ = range(14)
C_T0, C_START, C_END, C_HORIZON, C_PROGRESS = range(14, 19)
NCFG = 19
# --- scalar state (the ``st`` array) ---------------------------------------------------------
(S_NOW, S_SLOT, S_STAGE, S_MEASURED, S_NLAT, S_TOLD, S_HOPS, S_NFREE, S_DQH, S_DQN,
 S_QUEUED, S_OCC) = range(12)
NST = 12
#: Pattern codes (socdbg.models.traffic's names).
PATTERN_CODES = {"uniform": 0, "transpose": 1, "hotspot": 2}
#: What a paused run needs before it resumes.
DONE, NEED_PACKETS, NEED_LATENCIES, PROGRESS = range(4)


@inline
def _rand(mt: Any) -> float:
    """The next ``random.Random.random()`` of the Mersenne Twister state ``mt`` (624 words,
    then the index, as ``Random.getstate()`` gives them): the same numbers, drawn here."""
    a = _temper(_next_word(mt)) >> 5
    b = _temper(_next_word(mt)) >> 6
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


@inline
def _next_word(mt: Any) -> int:
    """One raw word at ``mt[624]`` (twisting first when the block is used up)."""
    i = mt[624]
    if i >= 624:
        for kk in range(624):
            y = (mt[kk] & 0x80000000) | (mt[(kk + 1) % 624] & 0x7FFFFFFF)
            v = mt[(kk + 397) % 624] ^ (y >> 1)
            if y & 1:
                v ^= 0x9908B0DF
            mt[kk] = v
        i = 0
    mt[624] = i + 1
    return int(mt[i])


@inline
def _temper(y: int) -> int:
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return int(y)


@inline
def _route(cfg: Any, n: int, dst: int) -> int:
    """The output port at router ``n`` towards ``dst`` (dimension order)."""
    X = cfg[C_X]
    x, y = n % X, n // X
    dx, dy = dst % X, dst // X
    if cfg[C_YX]:
        if y != dy:
            return 2 if dy > y else 0
        if x != dx:
            return 1 if dx > x else 3
        return LOCALP
    if x != dx:
        return 1 if dx > x else 3
    if y != dy:
        return 2 if dy > y else 0
    return LOCALP


@inline
def _downstream(cfg: Any, n: int, port: int, vc: int) -> int:
    """The input buffer output ``port`` (VC ``vc``) of router ``n`` feeds."""
    X = cfg[C_X]
    V = cfg[C_V]
    if port == 0:
        return int(((n - X) * P + 2) * V + vc)
    if port == 1:
        return int(((n + 1) * P + 3) * V + vc)
    if port == 2:
        return int(((n + X) * P + 0) * V + vc)
    return int(((n - 1) * P + 1) * V + vc)


@inline
def _push(cfg: Any, st: Any, bq: Any, b_head: Any, b_cnt: Any, n_occ: Any, ib: int, node: int,
          pk: int, j: int, arr: int) -> None:
    B = cfg[C_B]
    k = (ib * B + (b_head[ib] + b_cnt[ib]) % B) * 3
    bq[k] = pk
    bq[k + 1] = j
    bq[k + 2] = arr
    b_cnt[ib] += 1
    n_occ[node] += 1
    st[S_OCC] += 1


@inline
def _inject(cfg: Any, st: Any, t: int, n: int, bq: Any, b_head: Any, b_cnt: Any, b_cred: Any,
            n_occ: Any, q_head: Any, q_tail: Any, ni: Any, pkt: Any) -> None:
    """Node ``n``'s network interface in cycle ``t``: at most one flit into a LOCAL VC."""
    if ni[n * 4] >= t:  # a flit written this cycle already
        return
    pk = q_head[n]
    if pk < 0:
        return
    V = cfg[C_V]
    j = ni[n * 4 + 1]
    if j == 0:
        if pkt[pk * 4 + 1] + cfg[C_INJ] > t:
            return
        ni[n * 4 + 2] = ni[n * 4 + 3] % V
    ib = (n * P + LOCALP) * V + ni[n * 4 + 2]
    if b_cred[ib] <= 0:
        return
    b_cred[ib] -= 1
    _push(cfg, st, bq, b_head, b_cnt, n_occ, ib, n, pk, j, t)
    ni[n * 4] = t
    j += 1
    if j == cfg[C_FLITS]:
        j = 0
        ni[n * 4 + 3] += 1
        nxt = pkt[pk * 4 + 3]
        q_head[n] = nxt
        if nxt < 0:
            q_tail[n] = -1
        st[S_QUEUED] -= 1
    ni[n * 4 + 1] = j


@jit
def step(cfg: Any, st: Any, t: int, bq: Any, b_head: Any, b_cnt: Any, b_last: Any,
         b_ovc: Any, b_stall: Any, b_cred: Any, ovc: Any, o_rr: Any, i_rr: Any, o_sw: Any,
         o_flits: Any, cq: Any, cq_n: Any, dq: Any, n_occ: Any, q_head: Any, q_tail: Any,
         ni: Any, pkt: Any, free: Any, lat: Any, scratch: Any) -> None:
    """Cycle ``t`` of the whole mesh (see the module docstring for the order)."""
    N = cfg[C_X] * cfg[C_Y]
    V = cfg[C_V]
    B = cfg[C_B]
    R = cfg[C_R]
    L = cfg[C_L]
    D = cfg[C_D]
    DQ = cfg[C_DQ]
    # 1. credits and deliveries due now
    slot = t % D
    for i in range(cq_n[slot]):
        b_cred[cq[slot * N * P * V + i]] += 1
    cq_n[slot] = 0
    while st[S_DQN] > 0:
        h = st[S_DQH]
        if dq[h * 3] > t:
            break
        if dq[h * 3 + 2]:
            lat[st[S_NLAT]] = dq[h * 3 + 1]
        st[S_NLAT] += dq[h * 3 + 2]
        st[S_DQH] = (h + 1) % DQ
        st[S_DQN] -= 1
    # 2. the network interfaces
    if st[S_QUEUED] > 0:
        for n in range(N):
            if q_head[n] >= 0:
                _inject(cfg, st, t, n, bq, b_head, b_cnt, b_cred, n_occ, q_head, q_tail, ni,
                        pkt)
    if st[S_OCC] == 0:
        return
    PV = P * V
    for n in range(N):
        if n_occ[n] == 0:
            continue
        base = n * PV
        # which front flits are ready (scratch[RD + k]); 3. VC allocation: scratch[k] = the
        # output port input VC k asks for, or -1
        RD = PV + P
        nready = 0
        asked = 0
        for k in range(PV):
            ib = base + k
            scratch[k] = -1
            scratch[RD + k] = 0
            if b_cnt[ib]:
                e = (ib * B + b_head[ib]) * 3
                if bq[e + 2] + R <= t:
                    scratch[RD + k] = 1
                    nready += 1
                    if bq[e + 1] == 0 and b_ovc[ib] < 0:
                        scratch[k] = _route(cfg, n, pkt[bq[e] * 4])
                        asked += 1
        if not nready:
            continue
        if asked:
            for port in range(P):
                o = n * P + port
                for v in range(V):
                    g = o * V + v
                    if ovc[g * 2] >= 0 or ovc[g * 2 + 1] > t:
                        continue
                    r = o_rr[o]
                    for i in range(PV):
                        k = r + i
                        if k >= PV:
                            k -= PV
                        if scratch[k] == port:
                            scratch[k] = -1
                            ovc[g * 2] = base + k
                            b_ovc[base + k] = g
                            o_rr[o] = k + 1 if k + 1 < PV else 0
                            break
        # 4. switch allocation: scratch[PV + p] = the VC input port p offers, or -1
        for p in range(P):
            scratch[PV + p] = -1
            r = i_rr[n * P + p]
            for i in range(V):
                v = r + i
                if v >= V:
                    v -= V
                ib = base + p * V + v
                g = b_ovc[ib]
                if not scratch[RD + p * V + v] or g < 0:
                    continue
                port = (g // V) % P
                if port != LOCALP and b_cred[_downstream(cfg, n, port, g % V)] <= 0:
                    continue
                scratch[PV + p] = v
                break
        offers = 0  # bit (port * P + p): input port p offers a flit to output ``port``
        for p in range(P):
            v = scratch[PV + p]
            if v >= 0:
                offers |= 1 << (((b_ovc[base + p * V + v] // V) % P) * P + p)
        while offers:
            low = offers & -offers
            port = 0
            while low >> (port * P + P):
                port += 1
            mask = (offers >> (port * P)) & 31
            offers &= ~(31 << (port * P))
            o = n * P + port
            r = o_sw[o]
            for i in range(P):
                p = r + i
                if p >= P:
                    p -= P
                if not (mask >> p) & 1:
                    continue
                v = scratch[PV + p]
                # the flit at the front of input VC (p, v) crosses output ``port`` now
                scratch[PV + p] = -1
                o_sw[o] = p + 1 if p + 1 < P else 0
                i_rr[n * P + p] = v + 1 if v + 1 < V else 0
                ib = base + p * V + v
                e = (ib * B + b_head[ib]) * 3
                pk = bq[e]
                j = bq[e + 1]
                b_head[ib] = (b_head[ib] + 1) % B
                b_cnt[ib] -= 1
                b_last[ib] = t
                n_occ[n] -= 1
                st[S_OCC] -= 1
                due = t + (1 if p == LOCALP else L)
                cs = due % D
                cq[cs * N * PV + cq_n[cs]] = ib
                cq_n[cs] += 1
                o_flits[o] += 1
                st[S_HOPS] += 1
                g = b_ovc[ib]
                if port != LOCALP:
                    db = _downstream(cfg, n, port, g % V)
                    b_cred[db] -= 1
                    _push(cfg, st, bq, b_head, b_cnt, n_occ, db, db // PV, pk, j, t + L)
                if j == cfg[C_FLITS] - 1:  # the tail: the output VC is free next cycle
                    ovc[g * 2] = -1
                    ovc[g * 2 + 1] = t + 1
                    b_ovc[ib] = -1
                    if port == LOCALP:
                        h = (st[S_DQH] + st[S_DQN]) % DQ
                        when = t + L + cfg[C_EJ]
                        dq[h * 3] = when
                        dq[h * 3 + 1] = when - pkt[pk * 4 + 1]
                        dq[h * 3 + 2] = pkt[pk * 4 + 2]
                        st[S_DQN] += 1
                        free[st[S_NFREE]] = pk
                        st[S_NFREE] += 1
                break
        # 5. stalls: a ready front flit that did not cross (the crossed ones left b_last = t)
        for k in range(PV):
            if scratch[RD + k] and b_last[base + k] != t:
                b_stall[base + k] += 1


@jit
def run(cfg: Any, fcfg: Any, st: Any, mt: Any, bq: Any, b_head: Any, b_cnt: Any, b_last: Any,
        b_ovc: Any, b_stall: Any, b_cred: Any, ovc: Any, o_rr: Any, i_rr: Any, o_sw: Any,
        o_flits: Any, cq: Any, cq_n: Any, dq: Any, n_occ: Any, q_head: Any, q_tail: Any,
        ni: Any, pkt: Any, free: Any, lat: Any, scratch: Any, snaps: Any) -> int:
    """socdbg.models.traffic.run_traffic's loop over packet slots, with the mesh stepped in
    between; returns DONE or why it paused (the caller supplies what is missing and calls
    again)."""
    N = cfg[C_X] * cfg[C_Y]
    NO = N * P
    start = cfg[C_START]
    end = cfg[C_END]
    horizon = cfg[C_HORIZON]
    p_rate = fcfg[0]
    log_q = fcfg[1]
    frac = fcfg[2]
    while True:
        slot = st[S_SLOT]
        if slot >= horizon:
            break
        t = slot // N
        node = slot - t * N
        stage = st[S_STAGE]
        if stage < 2:
            edge = start if stage == 0 else end
            if t >= edge:
                boundary = edge - 1
                if boundary >= st[S_NOW]:
                    run_to(cfg, st, boundary, bq, b_head, b_cnt, b_last, b_ovc, b_stall,
                           b_cred, ovc, o_rr, i_rr, o_sw, o_flits, cq, cq_n, dq, n_occ,
                           q_head, q_tail, ni, pkt, free, lat, scratch)
                for i in range(NO):
                    snaps[stage * NO + i] = o_flits[i]
                st[S_STAGE] = stage + 1
                continue
        if stage == 2 and st[S_NLAT] == st[S_MEASURED]:
            break
        if t != st[S_NOW]:
            run_to(cfg, st, t, bq, b_head, b_cnt, b_last, b_ovc, b_stall, b_cred, ovc, o_rr,
                   i_rr, o_sw, o_flits, cq, cq_n, dq, n_occ, q_head, q_tail, ni, pkt, free,
                   lat, scratch)
            if cfg[C_PROGRESS] and t >= st[S_TOLD] + 1024:
                st[S_TOLD] = t
                return PROGRESS
        if st[S_NFREE] == 0:
            return NEED_PACKETS
        if stage == 1 and st[S_MEASURED] >= lat.shape[0]:
            return NEED_LATENCIES
        # the packet of this slot: its destination, then the gap to the next slot
        pat = cfg[C_PAT]
        if pat == 0:
            dst = int(_rand(mt) * N)
        elif pat == 1:
            X = cfg[C_X]
            dst = (node % X) * X + node // X
        elif _rand(mt) < frac:  # hotspot
            dst = cfg[C_HOT]
        else:
            dst = int(_rand(mt) * N)
        st[S_NFREE] -= 1
        pk = free[st[S_NFREE]]
        pkt[pk * 4] = dst
        pkt[pk * 4 + 1] = t
        pkt[pk * 4 + 2] = 1 if stage == 1 else 0
        pkt[pk * 4 + 3] = -1
        st[S_MEASURED] += pkt[pk * 4 + 2]
        if q_tail[node] >= 0:
            pkt[q_tail[node] * 4 + 3] = pk
        else:
            q_head[node] = pk
        q_tail[node] = pk
        st[S_QUEUED] += 1
        _inject(cfg, st, t, node, bq, b_head, b_cnt, b_cred, n_occ, q_head, q_tail, ni, pkt)
        if p_rate >= 1.0:
            st[S_SLOT] = slot + 1
        elif p_rate <= 0.0:
            st[S_SLOT] = horizon
        else:
            st[S_SLOT] = slot + 1 + int(math.log(1.0 - _rand(mt)) / log_q)
    if st[S_STAGE] < 1:
        run_to(cfg, st, max(st[S_NOW], start - 1), bq, b_head, b_cnt, b_last, b_ovc, b_stall,
               b_cred, ovc, o_rr, i_rr, o_sw, o_flits, cq, cq_n, dq, n_occ, q_head, q_tail,
               ni, pkt, free, lat, scratch)
        for i in range(NO):
            snaps[i] = o_flits[i]
        st[S_STAGE] = 1
    if st[S_STAGE] < 2:
        run_to(cfg, st, max(st[S_NOW], end - 1), bq, b_head, b_cnt, b_last, b_ovc, b_stall,
               b_cred, ovc, o_rr, i_rr, o_sw, o_flits, cq, cq_n, dq, n_occ, q_head, q_tail,
               ni, pkt, free, lat, scratch)
        for i in range(NO):
            snaps[NO + i] = o_flits[i]
        st[S_STAGE] = 2
    return DONE


@jit
def run_to(cfg: Any, st: Any, until: int, bq: Any, b_head: Any, b_cnt: Any, b_last: Any,
           b_ovc: Any, b_stall: Any, b_cred: Any, ovc: Any, o_rr: Any, i_rr: Any, o_sw: Any,
           o_flits: Any, cq: Any, cq_n: Any, dq: Any, n_occ: Any, q_head: Any, q_tail: Any,
           ni: Any, pkt: Any, free: Any, lat: Any, scratch: Any) -> None:
    """Step every cycle after ``st[S_NOW]`` up to and including ``until``; cycles with nothing
    buffered, queued, delivered or credited are skipped."""
    D = cfg[C_D]
    t = st[S_NOW] + 1
    while t <= until:
        if st[S_OCC] == 0 and st[S_QUEUED] == 0 and st[S_DQN] == 0:
            pending = 0
            for i in range(D):
                pending += cq_n[i]
            if pending == 0:
                t = until + 1
                break
        step(cfg, st, t, bq, b_head, b_cnt, b_last, b_ovc, b_stall, b_cred, ovc, o_rr, i_rr,
             o_sw, o_flits, cq, cq_n, dq, n_occ, q_head, q_tail, ni, pkt, free, lat, scratch)
        t += 1
    st[S_NOW] = until

