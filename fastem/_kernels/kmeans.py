"""k-means for initialisation: greedy k-means++ seeding and parallel Lloyd passes."""

import numpy as np
from numba import prange

from ._common import sum_blocks
from ._jit import kernel
from ._state import serial_only


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
            if best_idx < 0 or p < best_pot:  # first trial always counts (p may be inf)
                best_pot = p
                best_idx = idx
                best_d[:] = cand_d
        chosen[c] = rows[best_idx]
        for j in range(d):
            centers[c, j] = X[rows[best_idx], j]
        closest[:] = best_d
    return chosen


@kernel
def _lloyd_block(X, lo, hi, w, centers, labels, cnt, sums):
    """Rows lo..hi of ``lloyd_pass``: adds to cnt, sums; returns (inertia, n_changed)."""
    k, d = centers.shape
    has_w = w.shape[0] > 0
    inertia = 0.0
    ch = 0
    for i in range(lo, hi):
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
        cnt[am] += wi
        for j in range(d):
            sums[am, j] += wi * X[i, j]
    return inertia, ch


@kernel(parallel=True)
def _lloyd_blocks(X, w, centers, labels, block, p_cnt, p_sum, p_in, p_ch):
    n = X.shape[0]
    for b in prange(p_in.shape[0]):
        p_in[b], p_ch[b] = _lloyd_block(X, b * block, min(n, (b + 1) * block), w, centers,
                                        labels, p_cnt[b], p_sum[b])


@kernel
def lloyd_pass(X, w, centers, labels, block):
    """Assign rows to their nearest centre and accumulate the new centres' sums.

    Returns (counts (k,), sums (k, d), inertia, n_changed); ``labels`` is updated.
    Blocks are reduced in a fixed order.
    """
    n, d = X.shape
    k = centers.shape[0]
    nb = (n + block - 1) // block
    p_cnt = np.zeros((nb, k))
    p_sum = np.zeros((nb, k, d))
    p_in = np.zeros(nb)
    p_ch = np.zeros(nb, dtype=np.int64)
    if serial_only():
        for b in range(nb):
            p_in[b], p_ch[b] = _lloyd_block(X, b * block, min(n, (b + 1) * block), w, centers,
                                            labels, p_cnt[b], p_sum[b])
    else:
        _lloyd_blocks(X, w, centers, labels, block, p_cnt, p_sum, p_in, p_ch)
    cnt = sum_blocks(p_cnt)
    sums = sum_blocks(p_sum)
    inertia = sum_blocks(p_in)[()]
    ch = sum_blocks(p_ch)[()]
    return cnt, sums, inertia, ch


@kernel
def _moments_block(X, lo, hi, w, mean, p, pw):
    """Rows lo..hi: with ``mean`` empty, weighted column sums into p (and the weight into
    pw[0]); otherwise weighted squared deviations from ``mean`` into p."""
    d = X.shape[1]
    has_w = w.shape[0] > 0
    first = mean.shape[0] == 0
    for i in range(lo, hi):
        wi = w[i] if has_w else 1.0
        if first:
            pw[0] += wi
            for j in range(d):
                p[j] += wi * X[i, j]
        else:
            for j in range(d):
                t = X[i, j] - mean[j]
                p[j] += wi * t * t


@kernel(parallel=True)
def _moments_blocks(X, w, mean, block, p, pw):
    n = X.shape[0]
    for b in prange(p.shape[0]):
        _moments_block(X, b * block, min(n, (b + 1) * block), w, mean, p[b], pw[b:b + 1])


@kernel(inline="always")  # so that column_moments itself reads the switch (see _state)
def _moments_pass(X, w, mean, block, p, pw):
    n = X.shape[0]
    if serial_only():
        for b in range(p.shape[0]):
            _moments_block(X, b * block, min(n, (b + 1) * block), w, mean, p[b], pw[b:b + 1])
    else:
        _moments_blocks(X, w, mean, block, p, pw)


@kernel
def column_moments(X, w, block):
    """Weighted column means and variances (d,), two fixed-order passes."""
    n, d = X.shape
    nb = (n + block - 1) // block
    p = np.zeros((nb, d))
    pw = np.zeros(nb)
    _moments_pass(X, w, np.empty(0), block, p, pw)
    tot = sum_blocks(pw)[()]
    mean = sum_blocks(p)
    for j in range(d):
        mean[j] /= tot
    q = np.zeros((nb, d))
    _moments_pass(X, w, mean, block, q, pw)
    var = sum_blocks(q)
    for j in range(d):
        var[j] /= tot
    return mean, var
