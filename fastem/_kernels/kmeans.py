"""k-means for initialisation: greedy k-means++ seeding and Lloyd passes over row blocks.

The data comes in two slots, float32 ``XS`` and float64 ``XD`` (the other one empty), so
that one compiled kernel serves both dtypes; see ``_jit``.
"""

import numpy as np

from ._jit import I32, I64, INT, data, kernel, ro, rw


@kernel(inline="always")
def _sqdist(X, i, C, c):
    s = 0.0
    for j in range(X.shape[1]):
        t = X[i, j] - C[c, j]
        s += t * t
    return s


@kernel(inline="always")
def _load_row(XS, XD, i, x):
    if XD.shape[0] > 0:
        for j in range(x.shape[0]):
            x[j] = XD[i, j]
    else:
        for j in range(x.shape[0]):
            x[j] = XS[i, j]


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
def kmeanspp(XS, XD, rows, w, k, n_trials, uniforms):
    """Greedy k-means++ (Arthur & Vassilvitskii) over the rows ``rows`` of the data (float32
    ``XS`` or float64 ``XD``, the other empty).

    ``w`` (n,) weights or empty; ``uniforms`` holds 1 + (k - 1) * n_trials draws in
    [0, 1).  Returns the chosen row indices (k,) into X.
    """
    m = rows.shape[0]
    d = max(XS.shape[1], XD.shape[1])
    X = np.empty((m, d))  # the candidate rows, in float64 (the centres' precision)
    for a in range(m):
        for j in range(d):
            X[a, j] = XD[rows[a], j] if XD.shape[0] > 0 else XS[rows[a], j]
    has_w = w.shape[0] > 0
    ws = np.empty(m)
    for a in range(m):
        ws[a] = w[rows[a]] if has_w else 1.0
    chosen = np.empty(k, dtype=np.int64)
    centers = np.empty((k, d))
    # Running sums as loops: np.cumsum and array arithmetic would each compile machinery
    # of their own (a second or more of a cold start).
    cum = np.empty(m)
    run = 0.0
    for a in range(m):
        run += ws[a]
        cum[a] = run
    first = _pick(cum, cum[m - 1], uniforms[0])
    chosen[0] = rows[first]
    for j in range(d):
        centers[0, j] = X[first, j]
    closest = np.empty(m)
    for a in range(m):
        closest[a] = _sqdist(X, a, centers, 0)
    best_d = np.empty(m)
    cand_d = np.empty(m)
    u_at = 1
    for c in range(1, k):
        run = 0.0
        for a in range(m):
            run += ws[a] * closest[a]
            cum[a] = run
        total = cum[m - 1]
        best_pot = np.inf
        best_idx = np.int64(-1)
        for t in range(n_trials):
            u = uniforms[u_at]
            u_at += 1
            if total > 0.0:
                idx = _pick(cum, total, u)
            else:  # every row sits on a centre already: any row will do
                idx = min(int(u * m), m - 1)
            for j in range(d):
                centers[c, j] = X[idx, j]
            p = 0.0
            for a in range(m):
                dd = min(closest[a], _sqdist(X, a, centers, c))
                cand_d[a] = dd
                p += ws[a] * dd
            if best_idx < 0 or p < best_pot:  # first trial always counts (p may be inf)
                best_pot = p
                best_idx = idx
                for a in range(m):  # loops, not slices: see gauss_mstep_full
                    best_d[a] = cand_d[a]
        chosen[c] = rows[best_idx]
        for j in range(d):
            centers[c, j] = X[best_idx, j]
        for a in range(m):
            closest[a] = best_d[a]
    return chosen


KMEANSPP_SIGNATURE = (*data(), ro(1, I64), ro(1), INT, INT, ro(1))


@kernel
def lloyd_blocks(b0, b1, block, XS, XD, w, centers, labels, p_cnt, p_sum, p_in, p_ch):
    """Row blocks b0..b1 of a Lloyd pass: each row goes to its nearest centre (``labels``
    updated); block b adds its weights, weighted row sums, inertia and label changes into
    ``p_cnt[b]`` (k,), ``p_sum[b]`` (k, d), ``p_in[b]``, ``p_ch[b]``."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = centers.shape
    has_w = w.shape[0] > 0
    x = np.empty((1, d))
    for b in range(b0, b1):
        inertia = 0.0
        ch = 0
        for i in range(b * block, min(n, (b + 1) * block)):
            _load_row(XS, XD, i, x[0])
            wi = w[i] if has_w else 1.0
            best = np.inf
            am = 0
            for c in range(k):
                dd = _sqdist(x, 0, centers, c)
                if dd < best:
                    best = dd
                    am = c
            if labels[i] != am:
                ch += 1
                labels[i] = am
            inertia += wi * best
            p_cnt[b, am] += wi
            for j in range(d):
                p_sum[b, am, j] += wi * x[0, j]
        p_in[b] = inertia
        p_ch[b] = ch


LLOYD_SIGNATURE = (INT, INT, INT, *data(), ro(1), ro(2), rw(1, I32), rw(2), rw(3), rw(1),
                   rw(1, I64))


@kernel
def moment_blocks(b0, b1, block, XS, XD, w, mean, p, pw):
    """Row blocks b0..b1: with ``mean`` empty, block b adds its weighted column sums into
    p[b] (d,) and its weight into pw[b]; otherwise its weighted squared deviations from
    ``mean`` into p[b]."""
    n = max(XS.shape[0], XD.shape[0])
    d = p.shape[1]
    has_w = w.shape[0] > 0
    first = mean.shape[0] == 0
    x = np.empty(d)
    for b in range(b0, b1):
        for i in range(b * block, min(n, (b + 1) * block)):
            _load_row(XS, XD, i, x)
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
