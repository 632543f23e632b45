"""k-means for initialisation: Lloyd passes over row blocks (the k-means++ seeding, on a
bounded sample, is NumPy in ``fastem._passes``).

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
