"""k-means for initialisation: Lloyd passes over row blocks (the k-means++ seeding, on a
bounded sample, is NumPy in ``fastem._passes``).

The data comes in two slots, float32 ``XS`` and float64 ``XD`` (the other one empty), so
that one compiled kernel serves both dtypes; see ``_jit``.
"""

import numpy as np

from ._common import CHUNK
from ._jit import I32, I64, INT, data, kernel, ro, rw


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
    """Row blocks b0..b1 of a Lloyd pass: each row goes to its nearest centre (the first
    of equal ones; ``labels`` updated); block b adds its weights, weighted row sums,
    inertia and label changes into ``p_cnt[b]`` (k,), ``p_sum[b]`` (k, d), ``p_in[b]``,
    ``p_ch[b]``.  Rows are taken CHUNK at a time, transposed, so that the distance loops
    run over rows and vectorise."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = centers.shape
    has_w = w.shape[0] > 0
    f64 = XD.shape[0] > 0
    XT = np.empty((d, CHUNK))
    best = np.empty(CHUNK)
    dist = np.empty(CHUNK)
    pick = np.empty(CHUNK, dtype=np.int64)
    C = np.empty((k, d))
    for c in range(k):
        for j in range(d):
            C[c, j] = centers[c, j]
    for b in range(b0, b1):
        inertia = 0.0
        ch = 0
        hi = min(n, (b + 1) * block)
        for start in range(b * block, hi, CHUNK):
            m = min(CHUNK, hi - start)
            if f64:
                for r in range(m):
                    for j in range(d):
                        XT[j, r] = XD[start + r, j]
            else:
                for r in range(m):
                    for j in range(d):
                        XT[j, r] = XS[start + r, j]
            for c in range(k):
                for r in range(m):
                    dist[r] = 0.0
                for j in range(d):
                    a = C[c, j]
                    for r in range(m):
                        t = XT[j, r] - a
                        dist[r] += t * t
                if c == 0:
                    for r in range(m):
                        best[r] = dist[r]
                        pick[r] = 0
                else:
                    for r in range(m):
                        closer = dist[r] < best[r]
                        pick[r] = c if closer else pick[r]
                        best[r] = dist[r] if closer else best[r]
            for r in range(m):
                i = start + r
                am = pick[r]
                wi = w[i] if has_w else 1.0
                if labels[i] != am:
                    ch += 1
                    labels[i] = am
                inertia += wi * best[r]
                p_cnt[b, am] += wi
                for j in range(d):
                    p_sum[b, am, j] += wi * XT[j, r]
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
