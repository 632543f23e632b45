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
    run over rows and vectorise; the nearest centre minimises ||c||^2 - 2 x.c, as
    scikit-learn's (the squared distance less ||x||^2), in tiles of 4 centres x 4
    features.  The inertia adds ||x||^2 back (clipped at 0)."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = centers.shape
    has_w = w.shape[0] > 0
    f64 = XD.shape[0] > 0
    XT = np.empty((d, CHUNK))
    best = np.empty(CHUNK)
    pick = np.empty(CHUNK, dtype=np.int64)
    M2 = np.empty((k, d))  # -2 c
    cn = np.empty(k)  # ||c||^2
    for c in range(k):
        t = 0.0
        for j in range(d):
            M2[c, j] = -2.0 * centers[c, j]
            t += centers[c, j] * centers[c, j]
        cn[c] = t
    k4 = k - k % 4
    d4 = d - d % 4
    D = np.empty((k, CHUNK))
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
            if f64:
                for r in range(m):
                    for j in range(d):
                        XT[j, r] = XD[start + r, j]
            else:
                for r in range(m):
                    for j in range(d):
                        XT[j, r] = XS[start + r, j]
            # ||x - c||^2 - ||x||^2 = ||c||^2 - 2 x.c: a product per (centre, feature),
            # in tiles of 4 centres x 4 features (each row of XT loaded once per tile)
            for c0 in range(0, k4, 4):
                for r in range(m):
                    D[c0, r] = cn[c0]
                    D[c0 + 1, r] = cn[c0 + 1]
                    D[c0 + 2, r] = cn[c0 + 2]
                    D[c0 + 3, r] = cn[c0 + 3]
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
                        D[c0, r] += x0 * g00 + x1 * g01 + x2 * g02 + x3 * g03
                        D[c0 + 1, r] += x0 * g10 + x1 * g11 + x2 * g12 + x3 * g13
                        D[c0 + 2, r] += x0 * g20 + x1 * g21 + x2 * g22 + x3 * g23
                        D[c0 + 3, r] += x0 * g30 + x1 * g31 + x2 * g32 + x3 * g33
                for j in range(d4, d):
                    for c in range(c0, c0 + 4):
                        g = M2[c, j]
                        for r in range(m):
                            D[c, r] += XT[j, r] * g
            for c in range(k4, k):
                for r in range(m):
                    D[c, r] = cn[c]
                for j in range(d):
                    g = M2[c, j]
                    for r in range(m):
                        D[c, r] += XT[j, r] * g
            for r in range(m):
                best[r] = D[0, r]
                pick[r] = 0
            for c in range(1, k):
                for r in range(m):
                    closer = D[c, r] < best[r]
                    pick[r] = c if closer else pick[r]
                    best[r] = D[c, r] if closer else best[r]
            for r in range(m):
                xx[r] = 0.0
            for j in range(d):
                for r in range(m):
                    xx[r] += XT[j, r] * XT[j, r]
            for r in range(m):
                i = start + r
                am = pick[r]
                wi = w[i] if has_w else 1.0
                if labels[i] != am:
                    ch += 1
                    labels[i] = am
                inertia += wi * max(0.0, xx[r] + best[r])
                cnt[am] += wi
                for j in range(d):
                    S[am, j] += wi * XT[j, r]
        for c in range(k):
            p_cnt[b, c] += cnt[c]
            for j in range(d):
                p_sum[b, c, j] += S[c, j]
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
