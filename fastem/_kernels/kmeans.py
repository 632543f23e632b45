"""k-means: Lloyd passes over row blocks, for the initialisation of the mixtures and for
``fastem.KMeans`` (the k-means++ seeding, on a bounded sample, is NumPy in
``fastem._passes``).  Three kinds of pass: every row scored in float64 (``lloyd_blocks``);
rows skipped by Hamerly's bounds (``lloyd_bounded_blocks``); every row scored in float32
from a transposed float32 copy of the data, float64 for the rows it cannot decide
(``lloyd_shadow_blocks``).  All give the labels of float64 scores.

The data comes in two slots, float32 ``XS`` and float64 ``XD`` (the other one empty), so
that one compiled kernel serves both dtypes; see ``_jit``.
"""

import numpy as np

from ._jit import (BOOL, F32, F64, I32, I64, INT, array, data, kernel, prefetch, prefetch_at,
                   ro, rw)
from ._simd import LANES, score_rows

# Rows per chunk here, half the EM kernels' (_common.CHUNK): the bounded pass's transposed
# rows (d, 2 CHUNK), its scores and bounds then stay in a 32 KiB L1 at d = 16.  At (1e6,
# 16, 16), 2 threads, Zen 4, 31 iterations from the same centres, mean of 4 processes:
# 10.8 vs 12.5 ms per bounded pass (blobs), 13.4 vs 13.8 (cloud); lloyd_blocks the same.
# The chunking changes no result: rows are scored and added in row order either way.
CHUNK = 128


@kernel(inline="always")
def _take(v, c, b, s, p):
    """Score v of centre c against the least b (of centre p) and second least s so far:
    the new (least, second, centre); v = inf changes nothing.  Scalars only (an inlined
    helper taking arrays would take and drop references to them on every call)."""
    return min(v, b), min(s, max(v, b)), c if v < b else p


@kernel
def _scores(XT, m, M2, cn, D, best, second, pick, xx):
    """Rows 0..m of the transposed chunk ``XT`` (d, CHUNK): the least (``best``) and second
    least (``second``) over the centres of ||c||^2 - 2 x.c (scikit-learn's score: the
    squared distance less ||x||^2) and the first centre attaining the least (``pick``, as a
    float so that the comparisons vectorise with the scores).  ``M2`` holds -2 c (k, d),
    ``cn`` ||c||^2; ``D`` (4, CHUNK) is scratch; ``xx``: each row's ||x||^2.  Centres go 4
    at a time and features 4 at a time, so that each row of XT is loaded once per tile of
    16 products."""
    k, d = M2.shape
    d4 = d - d % 4
    for r in range(m):
        xx[r] = 0.0
    for j in range(d):
        for r in range(m):
            xx[r] += XT[j, r] * XT[j, r]
    for r in range(m):
        best[r] = np.inf
        second[r] = np.inf
        pick[r] = 0.0
    for c0 in range(0, k, 4):
        q = min(4, k - c0)
        if q == 4:
            for r in range(m):
                D[0, r] = cn[c0]
                D[1, r] = cn[c0 + 1]
                D[2, r] = cn[c0 + 2]
                D[3, r] = cn[c0 + 3]
            for j0 in range(0, d4, 4):
                g00 = M2[c0, j0]
                g01 = M2[c0, j0 + 1]
                g02 = M2[c0, j0 + 2]
                g03 = M2[c0, j0 + 3]
                g10 = M2[c0 + 1, j0]
                g11 = M2[c0 + 1, j0 + 1]
                g12 = M2[c0 + 1, j0 + 2]
                g13 = M2[c0 + 1, j0 + 3]
                g20 = M2[c0 + 2, j0]
                g21 = M2[c0 + 2, j0 + 1]
                g22 = M2[c0 + 2, j0 + 2]
                g23 = M2[c0 + 2, j0 + 3]
                g30 = M2[c0 + 3, j0]
                g31 = M2[c0 + 3, j0 + 1]
                g32 = M2[c0 + 3, j0 + 2]
                g33 = M2[c0 + 3, j0 + 3]
                for r in range(m):
                    x0 = XT[j0, r]
                    x1 = XT[j0 + 1, r]
                    x2 = XT[j0 + 2, r]
                    x3 = XT[j0 + 3, r]
                    D[0, r] += x0 * g00 + x1 * g01 + x2 * g02 + x3 * g03
                    D[1, r] += x0 * g10 + x1 * g11 + x2 * g12 + x3 * g13
                    D[2, r] += x0 * g20 + x1 * g21 + x2 * g22 + x3 * g23
                    D[3, r] += x0 * g30 + x1 * g31 + x2 * g32 + x3 * g33
            for j in range(d4, d):
                for c in range(4):
                    g = M2[c0 + c, j]
                    for r in range(m):
                        D[c, r] += XT[j, r] * g
        else:
            for c in range(q):
                for r in range(m):
                    D[c, r] = cn[c0 + c]
                for j in range(d):
                    g = M2[c0 + c, j]
                    for r in range(m):
                        D[c, r] += XT[j, r] * g
            for c in range(q, 4):  # no centre: a score that changes nothing
                for r in range(m):
                    D[c, r] = np.inf
        # Each row's best, second and pick are read and written once per tile of four
        # centres, and read before any comparison: a conditional read or write here
        # compiles to masked vector moves, which are microcoded (slow) on AMD cores.
        f0 = float(c0)
        f1, f2, f3 = f0 + 1.0, f0 + 2.0, f0 + 3.0
        for r in range(m):
            b, s, p = _take(D[0, r], f0, best[r], second[r], pick[r])
            b, s, p = _take(D[1, r], f1, b, s, p)
            b, s, p = _take(D[2, r], f2, b, s, p)
            best[r], second[r], pick[r] = _take(D[3, r], f3, b, s, p)


@kernel
def _transpose(XS, XD, rows, start, m, XT):
    """XT[:, r] = X[row r] for r < m: the rows start..start+m, or rows[start..start+m]
    when ``rows`` is not empty."""
    d = XT.shape[0]
    gather = rows.shape[0] > 0
    if XD.shape[0] > 0:
        for r in range(m):
            i = rows[start + r] if gather else start + r
            for j in range(d):
                XT[j, r] = XD[i, j]
    else:
        for r in range(m):
            i = rows[start + r] if gather else start + r
            for j in range(d):
                XT[j, r] = XS[i, j]


@kernel
def _prepare(centers, M2, cn):
    k, d = centers.shape
    top = 0.0
    for c in range(k):
        t = 0.0
        for j in range(d):
            M2[c, j] = -2.0 * centers[c, j]
            t += centers[c, j] * centers[c, j]
        cn[c] = t
        top = max(top, t)
    return top


@kernel
def lloyd_blocks(b0, b1, block, XS, XD, w, centers, labels, p_cnt, p_sum, p_in, p_ch):
    """Row blocks b0..b1 of a Lloyd pass: each row goes to its nearest centre (the first
    of equal ones; ``labels`` updated); block b adds its weights, weighted row sums,
    inertia and label changes into ``p_cnt[b]`` (k,), ``p_sum[b]`` (k, d), ``p_in[b]``,
    ``p_ch[b]``.  Rows are taken CHUNK at a time, transposed, so that the distance loops
    (``_scores``) run over rows and vectorise.  The inertia adds ||x||^2 back to the
    least score (clipped at 0)."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = centers.shape
    has_w = w.shape[0] > 0
    f64 = XD.shape[0] > 0
    no_rows = np.empty(0, dtype=np.int64)
    XT = np.empty((d, CHUNK + 8))  # padded: rows of XT 1 KiB apart share cache sets
    best = np.empty(CHUNK)
    second = np.empty(CHUNK)
    pick = np.empty(CHUNK)
    M2 = np.empty((k, d))
    cn = np.empty(k)
    _prepare(centers, M2, cn)
    D = np.empty((4, CHUNK))
    S = np.empty((k, d))  # the block's sums, then added to its slot
    cnt = np.empty(k)
    xx = np.empty(CHUNK)
    for b in range(b0, b1):
        inertia = 0.0
        ch = 0
        S[:, :] = 0.0
        cnt[:] = 0.0
        hi = min(n, (b + 1) * block)
        for start in range(b * block, hi, CHUNK):
            m = min(CHUNK, hi - start)
            _transpose(XS, XD, no_rows, start, m, XT)
            _scores(XT, m, M2, cn, D, best, second, pick, xx)
            for r in range(m):
                i = start + r
                am = int(pick[r])
                wi = w[i] if has_w else 1.0
                if labels[i] != am:
                    ch += 1
                    labels[i] = am
                inertia += wi * max(0.0, xx[r] + best[r])
                cnt[am] += wi
                # along the row, not the chunk's column of XT: contiguous vector loads
                # (written out here: an inlined helper would pass references per row)
                if f64:
                    for j in range(d):
                        S[am, j] += wi * XD[i, j]
                else:
                    for j in range(d):
                        S[am, j] += wi * XS[i, j]
        for c in range(k):
            p_cnt[b, c] += cnt[c]
            for j in range(d):
                p_sum[b, c, j] += S[c, j]
        p_in[b] = inertia
        p_ch[b] = ch


LLOYD_SIGNATURE = (INT, INT, INT, *data(layout="C"), ro(1), ro(2), rw(1, I32), rw(2), rw(3),
                   rw(1), rw(1, I64))


# Rounding allowance of the bounds, relative: a lower bound drifts by about one rounding
# per iteration (lower -= shift), far below this over any number of iterations.
_SLACK = 1e-9


@kernel(inline="always")
def _lower_bound(xx, second, top, d):
    """A lower bound on the distance whose score (||c||^2 - 2 x.c) is ``second``, for a row
    of squared norm ``xx``: less the scores' rounding, a multiple of eps (||x||^2 + the
    largest ||c||^2, ``top``), and widened by _SLACK.  Scalars only (see _take)."""
    e = (4.0 * d + 16.0) * 2.3e-16 * (xx + top)
    return np.sqrt(max(0.0, xx + second - e)) * (1.0 - _SLACK)


@kernel
def _move(p_cnt, p_num, p_sum, XS, XD, i, wi, frm, to):
    """Row i (weight wi) leaves cluster ``frm`` for ``to`` in one block's counts and
    sums."""
    d = p_sum.shape[1]
    pos = 1 if wi > 0 else 0
    if XD.shape[0] > 0:  # the dtype tested once, not per feature: the loops vectorise
        for j in range(d):
            p_sum[frm, j] -= wi * XD[i, j]
            p_sum[to, j] += wi * XD[i, j]
    else:
        for j in range(d):
            p_sum[frm, j] -= wi * XS[i, j]
            p_sum[to, j] += wi * XS[i, j]
    p_cnt[frm] -= wi
    p_num[frm] -= pos
    p_cnt[to] += wi
    p_num[to] += pos


@kernel
def _settle(XS, XD, w, rows, m, XT, M2, cn, top, D, best, second, pick, xx, labels,
            lower, cnt, num, S):
    """The rows ``rows[:m]`` whose bound could not keep their centre: all scores, the
    nearest centre, a new lower bound, and their move in the block's counts and sums.
    Returns the label changes."""
    d = XT.shape[0]
    has_w = w.shape[0] > 0
    # np.int64(0), not 0, here and for the counters of lloyd_bounded_blocks: Numba types
    # a constant argument (or a counter just set to 0) as a literal, and compiles the
    # callee, and all it calls, once more for it
    _transpose(XS, XD, rows, np.int64(0), m, XT)
    _scores(XT, m, M2, cn, D, best, second, pick, xx)
    ch = 0
    for r in range(m):
        i = rows[r]
        lower[i] = _lower_bound(xx[r], second[r], top, d)
        am = int(pick[r])
        old = labels[i]
        wi = w[i] if has_w else 1.0
        if old != am:
            ch += 1
            labels[i] = am
        if old != am:  # old >= 0: every row has a label after the fresh pass
            _move(cnt, num, S, XS, XD, i, wi, old, am)
    return ch


@kernel
def _renew(XS, XD, w, no_rows, start, m, XT, M2, cn, top, D, best, second, pick, xx, labels,
           lower, cnt, num, S):
    """The rows start..start+m of a fresh pass: all scores, the nearest centre, a new lower
    bound, and their weights and sums added to the block's.  Returns the label changes."""
    d = XT.shape[0]
    has_w = w.shape[0] > 0
    f64 = XD.shape[0] > 0
    _transpose(XS, XD, no_rows, start, m, XT)
    _scores(XT, m, M2, cn, D, best, second, pick, xx)
    for r in range(m):  # apart from the row loop below, so that the square roots vectorise
        lower[start + r] = _lower_bound(xx[r], second[r], top, d)
    ch = 0
    for r in range(m):
        i = start + r
        am = int(pick[r])
        wi = w[i] if has_w else 1.0
        if labels[i] != am:
            ch += 1
            labels[i] = am
        cnt[am] += wi
        num[am] += 1 if wi > 0 else 0
        if f64:  # along the row, as lloyd_blocks
            for j in range(d):
                S[am, j] += wi * XD[i, j]
        else:
            for j in range(d):
                S[am, j] += wi * XS[i, j]
    return ch


@kernel
def _open_block(fresh, b, p_cnt, p_num, p_sum, cnt, num, S):
    """A kept pass's working copy of block b's counts, rows of positive weight and sums
    (C-contiguous: the slots' layout is any, so S[c, :] there would be strided scalars);
    zeros for a fresh pass."""
    if fresh:
        cnt[:] = 0.0
        num[:] = 0
        S[:, :] = 0.0
    else:
        cnt[:] = p_cnt[b]
        num[:] = p_num[b]
        S[:, :] = p_sum[b]


@kernel
def _close_block(b, cnt, num, S, p_cnt, p_num, p_sum):
    """Block b's working copy back into its slots, an empty cluster's rounding left
    behind (its count and sums exactly 0)."""
    for c in range(cnt.shape[0]):
        if num[c] == 0:
            cnt[c] = 0.0
            S[c, :] = 0.0
    p_cnt[b] = cnt
    p_num[b] = num
    p_sum[b] = S


@kernel
def lloyd_bounded_blocks(b0, b1, block, XS, XD, w, centers, shift, half_sep, fresh,
                         labels, lower, p_cnt, p_num, p_sum, p_ch, p_set):
    """Row blocks b0..b1 of a Lloyd pass that skips the scores of rows whose centre cannot
    have changed (Hamerly's bound): ``lower[i]`` is at most row i's distance to any centre
    but its own.  After the centres moved by ``shift`` (k,), a row keeps its label when its
    exact distance to its centre stays below the larger of lower - (the largest shift of
    another centre) and ``half_sep[label]`` (half the distance from its centre to the
    nearest other); otherwise it takes the nearest centre from all scores (``_scores``, as
    ``lloyd_blocks``).  Block b's counts ``p_cnt[b]`` (k,), rows of
    positive weight ``p_num[b]`` and weighted sums ``p_sum[b]`` (k, d) are kept from pass to
    pass and moved only for rows that change cluster; ``fresh`` rebuilds them (and the
    bound) from every row, as the first pass must.  ``p_ch[b]``: the block's label
    changes; ``p_set[b]``: its rows that took all scores.

    The test runs a chunk of rows at a time and lists the rows that fail it without a
    branch per row (a row's outcome is unpredictable).  Hamerly's cheaper first test, the
    upper bound plus its centre's shift, is not used: reading only the rows that failed it
    cost more than reading every row (the skipped rows break the stream the prefetcher
    follows, and the branch before each read mispredicts; measured again on a Zen 4 core,
    with the rows to read listed in a first pass: the same), so every row's exact
    distance is computed and no upper bound is kept.  The block's counts and sums are held
    in C-contiguous arrays while its rows are read (``p_sum[b]`` has any layout: strided
    scalar updates made a fresh pass 1.7x the time of ``lloyd_blocks``)."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = centers.shape
    f64 = XD.shape[0] > 0
    wide = 2 * CHUNK  # the rows to settle gather up to CHUNK, plus one chunk's
    XT = np.empty((d, wide + 8))  # padded: rows of XT 2 KiB apart share cache sets
    best = np.empty(wide)
    second = np.empty(wide)
    pick = np.empty(wide)
    xx = np.empty(wide)
    D = np.empty((4, wide))
    pend = np.empty(wide, dtype=np.int64)
    M2 = np.empty((k, d))
    cn = np.empty(k)
    top = _prepare(centers, M2, cn)
    C = np.ascontiguousarray(centers)
    no_rows = np.empty(0, dtype=np.int64)
    # the largest shift, its centre, and the largest of the others
    big, at, big2 = -1.0, -1, -1.0
    for c in range(k):
        if shift[c] > big:
            big2 = big
            big, at = shift[c], c
        elif shift[c] > big2:
            big2 = shift[c]
    big2 = max(big2, 0.0)
    # the block's counts and sums in local arrays while its rows are read (_open_block)
    cnt = np.empty(k)
    num = np.empty(k, dtype=np.int64)
    S = np.empty((k, d))
    for b in range(b0, b1):
        _open_block(fresh, b, p_cnt, p_num, p_sum, cnt, num, S)
        ch = 0
        np_ = np.int64(0)
        settled = 0
        hi = min(n, (b + 1) * block)
        for start in range(b * block, hi, CHUNK):
            m = min(CHUNK, hi - start)
            if fresh:  # every row, in order, as lloyd_blocks: no list of rows to gather
                settled += m
                ch += _renew(XS, XD, w, no_rows, start, m, XT, M2, cn, top, D, best,
                             second, pick, xx, labels, lower, cnt, num, S)
            else:
                for r in range(m):
                    i = start + r
                    a = labels[i]
                    t = 0.0
                    if f64:
                        for j in range(d):
                            v = XD[i, j] - C[a, j]
                            t += v * v
                    else:
                        for j in range(d):
                            v = XS[i, j] - C[a, j]
                            t += v * v
                    u = np.sqrt(t) * (1.0 + _SLACK)
                    lo = lower[i] - (big2 if a == at else big)
                    lower[i] = lo
                    pend[np_] = i
                    np_ += 1 if u >= max(lo, half_sep[a]) else 0
            if np_ >= CHUNK:
                settled += np_
                ch += _settle(XS, XD, w, pend, np_, XT, M2, cn, top, D, best, second, pick,
                              xx, labels, lower, cnt, num, S)
                np_ = np.int64(0)
        if np_ > 0:
            settled += np_
            ch += _settle(XS, XD, w, pend, np_, XT, M2, cn, top, D, best, second, pick, xx,
                          labels, lower, cnt, num, S)
        _close_block(b, cnt, num, S, p_cnt, p_num, p_sum)
        p_ch[b] = ch
        p_set[b] = settled


LLOYD_BOUNDED_SIGNATURE = (INT, INT, INT, *data(layout="C"), ro(1), ro(2), ro(1), ro(1),
                           BOOL, rw(1, I32), rw(1), rw(2), rw(2, I64), rw(3), rw(1, I64),
                           rw(1, I64))


@kernel
def inertia_blocks(b0, b1, block, XS, XD, w, centers, labels, p_in):
    """Row blocks b0..b1: block b's sum of w_i ||x_i - centers[labels_i]||^2 into
    ``p_in[b]``, from the differences in float64 (as scikit-learn's inertia)."""
    n = max(XS.shape[0], XD.shape[0])
    d = centers.shape[1]
    has_w = w.shape[0] > 0
    f64 = XD.shape[0] > 0
    C = np.ascontiguousarray(centers)
    for b in range(b0, b1):
        tot = 0.0
        for i in range(b * block, min(n, (b + 1) * block)):
            a = labels[i]
            t = 0.0
            if f64:
                for j in range(d):
                    v = XD[i, j] - C[a, j]
                    t += v * v
            else:
                for j in range(d):
                    v = np.float64(XS[i, j]) - C[a, j]
                    t += v * v
            tot += (w[i] if has_w else 1.0) * t
        p_in[b] = tot


INERTIA_SIGNATURE = (INT, INT, INT, *data(layout="C"), ro(1), ro(2), ro(1, I32), rw(1))


@kernel
def moment_blocks(b0, b1, block, XS, XD, w, mean, p, pw):
    """Row blocks b0..b1: with ``mean`` empty, block b adds its weighted column sums into
    p[b] (d,) and its weight into pw[b]; otherwise its weighted squared deviations from
    ``mean`` into p[b]."""
    n = max(XS.shape[0], XD.shape[0])
    d = p.shape[1]
    has_w = w.shape[0] > 0
    first = mean.shape[0] == 0
    f64 = XD.shape[0] > 0
    x = np.empty(d)
    for b in range(b0, b1):
        for i in range(b * block, min(n, (b + 1) * block)):
            # the row copied here, not by an inlined helper (which would take and drop
            # references to the arrays once per row)
            if f64:
                for j in range(d):
                    x[j] = XD[i, j]
            else:
                for j in range(d):
                    x[j] = XS[i, j]
            wi = w[i] if has_w else 1.0
            if first:
                pw[b] += wi
                for j in range(d):
                    p[b, j] += wi * x[j]
            else:
                for j in range(d):
                    t = x[j] - mean[j]
                    p[b, j] += wi * t * t


MOMENT_SIGNATURE = (INT, INT, INT, *data(), ro(1), ro(1), rw(2), rw(1))


# ------------------------------------------------------------------ float32 shadow passes
# A Lloyd pass that scores every row in float32 from a transposed float32 copy of the
# data (``XT32``, (d, n), made once per fit by ``shadow_blocks``) and settles in float64
# only the rows whose float32 scores do not prove their nearest centre.  Reading the
# copy needs no per-chunk transposition and moves half the bytes, float32 vectors hold
# twice the lanes, and the scores stay in registers (``_simd.score_rows``): at (1e6, 16,
# 16) a pass in which no row changes cluster costs a quarter of the float64 one (4.1
# against 17.6 ms, 2 threads, Zen 4; see asv_bench/benchmarks/kmeans.py).  The labels
# are those of the float64 pass:
# a row is taken from its float32 scores only when the gap between its two least scores
# exceeds twice a bound on their error (below), so that the float64 scores, whose own
# error is smaller by 2**29, pick the same centre; any other row (a tie, or a near one)
# takes the float64 scores of ``_scores``, as in ``lloyd_blocks``.
#
# The error bound of a float32 score  s = ||c||^2 - 2 x.c  computed from x, c rounded to
# float32 (relative error u = 2**-24 each, -2c and ||c||^2 rounded once more) and summed
# in float32 in any order with any contraction (d + 1 terms): at most
# (d + 3) u (||c||^2 + 2 ||x|| ||c||) (1 + O(u)) <= (d + 3) u (top + 2 ||x|| sqrt(top))
# with top the largest ||c||^2; the pass doubles the factor, and an absolute term covers
# the values that float32 holds only as subnormals (below 2**-126, an absolute error of
# at most 2**-150 per conversion and operation).  Rows beyond 2**60 and centres beyond
# 2**50 (top > _SHADOW_HUGE), whose products could overflow float32, take float64 scores.
SHADOW_CHUNK = 512  # rows scored at a time from the copy
# whole groups of 16 rows: _scores32 writes its scores 16 at a time, the last group
# included, into arrays of SHADOW_CHUNK
assert SHADOW_CHUNK % LANES == 0
_U32 = 2.0**-24
_SHADOW_TINY = 2.0**-120
_SHADOW_HUGE = 2.0**100  # centres beyond this (squared norm): float64 scores only


@kernel
def shadow_blocks(b0, b1, block, XS, XD, XT32, rn):
    """Row blocks b0..b1: ``XT32[:, i]`` (d, n) = row i in float32, and ``rn[i]`` an upper
    bound on its norm (inf when a value is beyond 2**60, which float32 scores cannot
    bound; those rows always take float64 scores).  One loop per row, the row read once
    (1.5x faster than a transposition through a scratch tile followed by a loop for the
    norms: the copy's writes, 16 streams apart, cost the same either way)."""
    n = max(XS.shape[0], XD.shape[0])
    d = XT32.shape[0]
    f64 = XD.shape[0] > 0
    for b in range(b0, b1):
        for i in range(b * block, min(n, (b + 1) * block)):
            t = 0.0
            big = 0.0
            if f64:
                for j in range(d):
                    v = XD[i, j]
                    XT32[j, i] = np.float32(v)
                    t += v * v
                    big = max(big, abs(v))
            else:
                for j in range(d):
                    v = np.float64(XS[i, j])
                    XT32[j, i] = XS[i, j]
                    t += v * v
                    big = max(big, abs(v))
            rn[i] = np.sqrt(t) * (1.0 + 2.0**-40) if big <= 2.0**60 else np.inf


# inlined into the pass: as a call, once per chunk of 512 rows, it cost settled passes
# about 1.15x (the intrinsic's code is the same either way)
@kernel(inline="always")
def _scores32(XT32, lo, m, M2, cn, T, best, second, pick, nxt, rn, labels, pf, n_pf, at,
              row_bytes):
    """``_scores`` in float32 for the rows lo..lo+m of the transposed copy ``XT32``: the
    least and second least of ||c||^2 - 2 x.c (``M2`` = -2 c (k, d), ``cn`` ||c||^2,
    float32) and the first centre attaining the least, 16 rows at a time in registers
    (``_simd.score_rows``); the last m % 16 rows through ``T`` (d, 16) float32 scratch,
    zero-padded (the vector code reads whole groups of 16 rows).

    With each group of 16 rows, the same rows of the next chunk (from row ``nxt``, none
    when nxt < 0) are asked for: their copy, row norm bounds and labels.  The hardware
    prefetchers lose these streams (each a few KiB per chunk, read in a burst after the
    scores); asked for while the scores compute, they arrive in time.  So are, a share
    with each group, the rows ``pf[:n_pf]`` of the data from address ``at`` (rows of
    ``row_bytes``; the address, not the array: see ``_jit.prefetch_at``): the previous
    chunk's rows that change cluster, moved after these scores."""
    n = XT32.shape[1]
    d = XT32.shape[0]
    full = m - m % LANES
    # the rows to ask for spread over the groups, a share per group
    groups = full // LANES
    share = (n_pf + groups - 1) // groups if groups > 0 else 0
    t0 = 0
    for r0 in range(0, full, LANES):
        score_rows(XT32, lo + r0, M2, cn, best, second, pick, r0)
        i = nxt + r0
        if nxt >= 0 and i < n:
            for j in range(d):
                prefetch(XT32, j, i)
            prefetch(rn, i, 0)
            prefetch(rn, min(n - 1, i + 8), 0)
            prefetch(labels, i, 0)
        t1 = min(n_pf, t0 + share)
        for t in range(t0, t1):  # _ask_rows, written out: a call per group costs 2-7%
            a = at + pf[t] * row_bytes
            for q in range(0, row_bytes, 64):
                prefetch_at(a + q)
            prefetch_at(a + row_bytes - 1)
        t0 = t1
    if full < m:
        t = m - full
        for j in range(d):
            for r in range(LANES):
                T[j, r] = XT32[j, lo + full + r] if r < t else np.float32(0.0)
        score_rows(T, 0, M2, cn, best, second, pick, full)


@kernel
def _ask_rows(pf, t0, t1, at, row_bytes):
    """Ask for the rows pf[t0:t1] of the data at address ``at`` (rows of ``row_bytes``):
    every cache line of each (a row of 16 float64 at NumPy's 16-byte alignment touches
    3).  ``_scores32`` writes the same loop out, a share per group of its rows."""
    for t in range(t0, t1):
        a = at + pf[t] * row_bytes
        for q in range(0, row_bytes, 64):
            prefetch_at(a + q)
        prefetch_at(a + row_bytes - 1)


@kernel
def _decide(m, best, second, pick, rn, lab, ea, eb, newl):
    """The float32 verdict on rows 0..m of a chunk: ``newl[r]`` = the centre ``pick[r]``
    when the gap between the row's two least scores exceeds the margin ``ea + eb * rn[r]``
    (twice the scores' error bound, for the row norm bound ``rn[r]``), otherwise -2 - its
    label ``lab[r]`` (< 0 also for the label -1 of a fresh pass: a row to settle from
    float64 scores; NaN gaps too).  Returns (rows whose centre is proved and differs from
    their label, rows to settle).  One loop without a branch, over few arrays: it
    vectorises (with more arrays written, LLVM's checks that they do not overlap exceed
    its limit and the loop stays scalar)."""
    n_chg = 0
    n_bad = 0
    for r in range(m):
        g = (np.float64(second[r]) - np.float64(best[r])) - (ea + eb * rn[r])
        old = lab[r]
        am = np.int32(pick[r])
        ok = g > 0.0
        newl[r] = am if ok else -2 - old
        n_chg += 1 if ok and am != old else 0
        n_bad += 0 if ok else 1
    return n_chg, n_bad


@kernel
def _changed(m, newl, lab, rows):
    """rows[:t] = the rows r < m whose proved centre ``newl[r]`` differs from ``lab[r]``, in
    order; returns t.  Every row's index is written, and the count advances only past the
    changed ones (no branch per row)."""
    t = 0
    for r in range(m):
        rows[t] = r
        v = newl[r]
        t += 1 if v >= 0 and v != lab[r] else 0
    return t


@kernel
def lloyd_shadow_blocks(b0, b1, block, XS, XD, XT32, rn, w, centers, fresh, backward,
                        labels, p_cnt, p_num, p_sum, p_ch, p_set):
    """Row blocks b0..b1 of a Lloyd pass from the float32 copy ``XT32`` (d, n) with row
    norm bounds ``rn`` (n,) (``shadow_blocks``): every row goes to its nearest centre, as
    in ``lloyd_blocks``, proved from float32 scores or else found from float64 ones.  The
    block's counts, rows of positive weight and sums (``p_cnt[b]``, ``p_num[b]``,
    ``p_sum[b]``, from the float64 rows) are kept from pass to pass and moved for the rows
    that change cluster, as in ``lloyd_bounded_blocks``; ``fresh`` rebuilds them.
    ``backward``: the blocks b1-1..b0 (the owner alternates, so that a pass starts on the
    blocks the last one read last, still in the L3 cache; each block's results are its
    own, so no bit depends on the order).  ``p_ch[b]``: label changes; ``p_set[b]``: rows
    that took float64 scores.

    A chunk's rows that change cluster are moved after the next chunk's scores, during
    which their float64 rows are asked for (``_scores32``): each is a read outside the
    stream, and read right after the verdict they cost their latency.  The chunks are
    finished in order, each chunk's moves before its settled rows: the same sums as
    finishing each chunk at once.  With the moves written out here and ``_scores32``
    inlined (2 threads, Zen 5, (1e6, 16, 16), against finishing at once through calls,
    same-process best of 8): passes of iterations 2-6 1.25x (cloud), 1.33x (blobs)
    faster, the second pass 1.7x, later passes 1.03-1.1x."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = centers.shape
    has_w = w.shape[0] > 0
    f64 = XD.shape[0] > 0
    M2 = np.empty((k, d))
    cn = np.empty(k)
    top = _prepare(centers, M2, cn)
    M2s = np.empty((k, d), dtype=np.float32)
    cns = np.empty(k, dtype=np.float32)
    for c in range(k):
        cns[c] = np.float32(cn[c])
        for j in range(d):
            M2s[c, j] = np.float32(M2[c, j])
    sq = np.sqrt(top)
    kf = 2.0 * (d + 3) * _U32
    eabs = 2.0 * (d + 2) * _SHADOW_TINY * (1.0 + sq)
    # the margin a row's two least scores must show: twice the error bound, a + b ||x||
    # (inf when the centres are beyond float32 scores: every row then takes float64 ones)
    ea = 2.0 * (kf * top + eabs) if top <= _SHADOW_HUGE else np.inf
    eb = 4.0 * kf * sq
    SC = SHADOW_CHUNK
    T = np.empty((d, LANES), dtype=np.float32)
    f32 = np.zeros((3, SC), dtype=np.float32)  # as they stay when no float32 scores are made
    best, second, pick = f32[0], f32[1], f32[2]
    # the data's address and row length, for the hints at rows that change cluster
    at0 = XD.ctypes.data if f64 else XS.ctypes.data
    row_bytes = d * (8 if f64 else 4)
    newls = np.empty((2, SC), dtype=np.int32)  # a chunk's and the one before it's
    lists = np.empty((2, SC), dtype=np.int64)
    rows = np.empty(SC, dtype=np.int64)
    XT = np.empty((d, CHUNK + 8))
    D64 = np.empty((4, CHUNK))
    f = np.empty((4, CHUNK))
    best64, second64, pick64, xx = f[0], f[1], f[2], f[3]
    cnt = np.empty(k)
    num = np.empty(k, dtype=np.int64)
    S = np.empty((k, d))
    for bi in range(b0, b1):
        b = b0 + b1 - 1 - bi if backward else bi
        _open_block(fresh, b, p_cnt, p_num, p_sum, cnt, num, S)
        ch = 0
        settled = 0
        hi = min(n, (b + 1) * block)
        cur = 0
        p_start = np.int64(-1)
        p_m = p_chg = p_bad = p_list = np.int64(0)
        # one step past the last chunk, which finishes it (no scores then to hide the
        # reads of its changed rows: they are asked for at once)
        for start in range(b * block, hi + SC, SC):
            m = max(0, min(SC, hi - start))
            if m > 0 and ea < np.inf:
                _scores32(XT32, start, m, M2s, cns, T, best, second, pick,
                          start + SC if start + SC < hi else np.int64(-1), rn, labels,
                          lists[1 - cur], p_list if p_start >= 0 else 0,
                          at0 + max(p_start, 0) * row_bytes, row_bytes)
            elif m == 0 and p_start >= 0:
                _ask_rows(lists[1 - cur], np.int64(0), p_list, at0 + p_start * row_bytes,
                          row_bytes)
            if p_start >= 0:
                # the previous chunk's moves, written out (a call per chunk, with the
                # arrays it needs, costs about as much as a few moves)
                plab = labels[p_start:p_start + p_m]
                pnew = newls[1 - cur]
                plst = lists[1 - cur]
                for t in range(p_list):
                    r = plst[t]
                    i = p_start + r
                    old = plab[r]
                    am = pnew[r]
                    wi = w[i] if has_w else 1.0
                    if f64:
                        for j in range(d):
                            S[old, j] -= wi * XD[i, j]
                            S[am, j] += wi * XD[i, j]
                    else:
                        for j in range(d):
                            S[old, j] -= wi * XS[i, j]
                            S[am, j] += wi * XS[i, j]
                    pos = 1 if wi > 0 else 0
                    cnt[old] -= wi
                    num[old] -= pos
                    cnt[am] += wi
                    num[am] += pos
                for t in range(p_list):  # only the changed labels are written
                    r = plst[t]
                    plab[r] = pnew[r]
                ch += p_chg
                if p_bad > 0:
                    c_, s_ = _settle_chunk(XS, XD, w, fresh, p_start, p_m, pnew, rows,
                                           labels, cnt, num, S, XT, M2, cn, D64, best64,
                                           second64, pick64, xx)
                    ch += c_
                    settled += s_
                p_start = -1
            if m == 0:
                break
            lab = labels[start:start + m]
            newl = newls[cur]
            n_chg, n_bad = _decide(m, best, second, pick, rn[start:start + m], lab, ea, eb,
                                   newl)
            if n_chg == 0 and n_bad == 0 and not fresh:
                continue  # most chunks of a settling fit
            n_list = _changed(m, newl, lab, lists[cur]) if n_chg > 0 and not fresh else 0
            if fresh:
                for r in range(m):
                    am = newl[r]
                    if am < 0:
                        continue  # settled below
                    lab[r] = am
                    i = start + r
                    # written out, not a call per row (which would take and drop
                    # references to the arrays on every row)
                    wi = w[i] if has_w else 1.0
                    cnt[am] += wi
                    num[am] += 1 if wi > 0 else 0
                    if f64:
                        for j in range(d):
                            S[am, j] += wi * XD[i, j]
                    else:
                        for j in range(d):
                            S[am, j] += wi * XS[i, j]
                ch += n_chg
                if n_bad > 0:
                    c_, s_ = _settle_chunk(XS, XD, w, fresh, start, m, newl, rows, labels,
                                           cnt, num, S, XT, M2, cn, D64, best64, second64,
                                           pick64, xx)
                    ch += c_
                    settled += s_
            else:
                p_start, p_m, p_chg, p_bad, p_list = start, m, n_chg, n_bad, n_list
                cur = 1 - cur
        _close_block(b, cnt, num, S, p_cnt, p_num, p_sum)
        p_ch[b] = ch
        p_set[b] = settled


@kernel
def _settle_chunk(XS, XD, w, fresh, start, m, newl, rows, labels, cnt, num, S, XT, M2, cn,
                  D64, best64, second64, pick64, xx):
    """The rows r < m of the chunk at ``start`` that ``_decide`` could not decide (newl[r]
    < 0): float64 scores, and their place in the block's counts and sums (``_place``).
    Returns (label changes, rows settled)."""
    has_w = w.shape[0] > 0
    f64 = XD.shape[0] > 0
    n_pend = np.int64(0)  # not a literal 0: see _settle
    for r in range(m):
        rows[n_pend] = start + r
        n_pend += 1 if newl[r] < 0 else 0
    ch = np.int64(0)
    for p0 in range(0, n_pend, CHUNK):
        mm = min(CHUNK, n_pend - p0)
        _transpose(XS, XD, rows[p0:p0 + mm], np.int64(0), mm, XT)
        _scores(XT, mm, M2, cn, D64, best64, second64, pick64, xx)
        for r in range(mm):
            ch += _place(XS, XD, w, has_w, f64, fresh, rows[p0 + r], np.int32(pick64[r]),
                         labels, cnt, num, S)
    return ch, n_pend


@kernel
def _place(XS, XD, w, has_w, f64, fresh, i, am, labels, cnt, num, S):
    """Row i goes to centre ``am``: on a fresh pass its weight and sum are added to the
    block's, else it moves there from its old cluster if that differs.  Returns 1 for a
    changed label."""
    old = labels[i]
    wi = w[i] if has_w else 1.0
    changed = 1 if old != am else 0
    labels[i] = am
    if fresh:
        cnt[am] += wi
        num[am] += 1 if wi > 0 else 0
        d = S.shape[1]
        if f64:
            for j in range(d):
                S[am, j] += wi * XD[i, j]
        else:
            for j in range(d):
                S[am, j] += wi * XS[i, j]
    elif changed:  # am as int64, as _settle passes it: one compilation of _move
        _move(cnt, num, S, XS, XD, i, wi, old, np.int64(am))
    return changed


SHADOW_SIGNATURE = (INT, INT, INT, *data(layout="C"), array(F32, 2, layout="C"), rw(1))
# the copy, its row norms and the labels C-contiguous (as the pass's owner makes them):
# their slices are then known to be unit-stride vectors, which _decide's loop needs
LLOYD_SHADOW_SIGNATURE = (INT, INT, INT, *data(layout="C"),
                          array(F32, 2, readonly=True, layout="C"),
                          array(F64, 1, readonly=True, layout="C"), ro(1), ro(2), BOOL, BOOL,
                          array(I32, 1, layout="C"), rw(2), rw(2, I64), rw(3), rw(1, I64),
                          rw(1, I64))
