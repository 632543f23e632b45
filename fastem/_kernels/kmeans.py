"""k-means for initialisation: greedy k-means++ seeding and parallel Lloyd passes."""

import numpy as np
from numba import prange

from ._common import izeros, sum_blocks, zeros
from ._jit import kernel


@kernel(inline="always")
def _sqdist(X, i, C, c):
    s = 0.0
    for j in range(X.shape[1]):
        t = X[i, j] - C[c, j]
        s += t * t
    return s


@kernel
def _pick(cum, total, u):
    """Index of the first cumulative weight exceeding u * total (binary search)."""
    target = u * total
    lo, hi = 0, cum.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > target:
            hi = mid
        else:
            lo = mid + 1
    return lo


@kernel
def kmeanspp(X, rows, w, k, n_trials, uniforms):
    """Greedy k-means++ (Arthur & Vassilvitskii) over the rows ``rows`` of X.

    ``w`` (n,) weights or empty; ``uniforms`` holds 1 + (k - 1) * n_trials draws in
    [0, 1).  Returns the chosen row indices (k,) into X.
    """
    m = rows.shape[0]
    d = X.shape[1]
    has_w = w.shape[0] > 0
    ws = np.empty(m)
    for a in range(m):
        ws[a] = w[rows[a]] if has_w else 1.0
    chosen = np.empty(k, dtype=np.int64)
    centers = np.empty((k, d))
    cum = np.cumsum(ws)
    first = _pick(cum, cum[m - 1], uniforms[0])
    chosen[0] = rows[first]
    for j in range(d):
        centers[0, j] = X[rows[first], j]
    closest = np.empty(m)
    for a in range(m):
        closest[a] = _sqdist(X, rows[a], centers, 0)
    best_d = np.empty(m)
    cand_d = np.empty(m)
    u_at = 1
    for c in range(1, k):
        pot = ws * closest
        cum = np.cumsum(pot)
        total = cum[m - 1]
        best_pot = np.inf
        best_idx = -1
        for t in range(n_trials):
            u = uniforms[u_at]
            u_at += 1
            if total > 0.0:
                idx = _pick(cum, total, u)
            else:  # every row sits on a centre already: any row will do
                idx = min(int(u * m), m - 1)
            for j in range(d):
                centers[c, j] = X[rows[idx], j]
            p = 0.0
            for a in range(m):
                dd = min(closest[a], _sqdist(X, rows[a], centers, c))
                cand_d[a] = dd
                p += ws[a] * dd
            if p < best_pot:
                best_pot = p
                best_idx = idx
                best_d[:] = cand_d
        chosen[c] = rows[best_idx]
        for j in range(d):
            centers[c, j] = X[rows[best_idx], j]
        closest[:] = best_d
    return chosen


@kernel(parallel=True)
def lloyd_pass(X, w, centers, labels, block):
    """Assign rows to their nearest centre and accumulate the new centres' sums.

    Returns (counts (k,), sums (k, d), inertia, n_changed); ``labels`` is updated.
    Blocks are reduced in a fixed order.
    """
    n, d = X.shape
    k = centers.shape[0]
    has_w = w.shape[0] > 0
    nb = (n + block - 1) // block
    p_cnt = zeros((nb, k))
    p_sum = zeros((nb, k, d))
    p_in = zeros((nb,))
    p_ch = izeros(nb)
    for b in prange(nb):
        inertia = 0.0
        ch = 0
        for i in range(b * block, min(n, (b + 1) * block)):
            wi = w[i] if has_w else 1.0
            best = np.inf
            am = 0
            for c in range(k):
                dd = _sqdist(X, i, centers, c)
                if dd < best:
                    best = dd
                    am = c
            if labels[i] != am:
                ch += 1
                labels[i] = am
            inertia += wi * best
            p_cnt[b, am] += wi
            for j in range(d):
                p_sum[b, am, j] += wi * X[i, j]
        p_in[b] = inertia
        p_ch[b] = ch
    cnt = sum_blocks(p_cnt)
    sums = sum_blocks(p_sum)
    inertia = sum_blocks(p_in)[()]
    ch = sum_blocks(p_ch)[()]
    return cnt, sums, inertia, ch


@kernel
def _finish_mean(p, pw):
    tot = sum_blocks(pw)[()]
    mean = sum_blocks(p)
    for j in range(mean.shape[0]):
        mean[j] /= tot
    return mean, tot


@kernel(parallel=True)
def column_moments(X, w, block):
    """Weighted column means and variances (d,), two fixed-order passes."""
    n, d = X.shape
    has_w = w.shape[0] > 0
    nb = (n + block - 1) // block
    p = zeros((nb, d))
    pw = zeros((nb,))
    for b in prange(nb):
        for i in range(b * block, min(n, (b + 1) * block)):
            wi = w[i] if has_w else 1.0
            pw[b] += wi
            for j in range(d):
                p[b, j] += wi * X[i, j]
    mean, tot = _finish_mean(p, pw)
    q = zeros((nb, d))
    for b in prange(nb):
        for i in range(b * block, min(n, (b + 1) * block)):
            wi = w[i] if has_w else 1.0
            for j in range(d):
                t = X[i, j] - mean[j]
                q[b, j] += wi * t * t
    var = sum_blocks(q)
    for j in range(d):
        var[j] /= tot
    return mean, var
