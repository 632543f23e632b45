"""Gaussian mixture kernels.

Two density forms cover the four covariance types:

* "full" form: ``prec_chol`` (kp, d, d) upper-triangular Cholesky factors of the
  precisions (precision = P @ P.T, scikit-learn's convention), kp = k for "full" and
  kp = 1 for "tied" (shared);
* "diag" form: ``prec`` (k, 1, d) inverse standard deviations; "spherical" passes each
  component's single value repeated over the d columns.

``log_det`` (k,) holds ``sum_j log P_jj`` per component.  The log density is
``-d/2 log(2 pi) + log_det - |(x - mu) P|^2 / 2``: no inverse, no determinant.

Statistics are accumulated about the current means (``diff = x - mu``, which the
density needs anyway), so the M-step's variances never suffer from the cancellation
of raw second moments (large offsets, float32 data): ``nk`` (k,), ``s1`` (k, d) =
sum r diff, ``s2`` = sum r diff diff^T (full: (k, d, d), upper triangle), or for tied
one (1, d, d) about a common centre ``z``, or (k, d) squares for diag/spherical.
"""

import math

import numba
import numpy as np

from ._common import (
    CHUNK,
    FIXED,
    RANDOM,
    SOFT,
    chunk_outputs,
    chunk_posterior,
    chunk_weights,
    chunk_weights_basic,
    chunk_weights_random,
    find_lost,
    lost_onehot,
)
from ._jit import BOOL, I32, I64, INT, NONE, SEED, Piece, Slot, c_array, data, kernel, ro, rw

LOG_2PI = math.log(2.0 * math.pi)
_DBL_MAX = np.finfo(np.float64).max
_TINY_SCALE = 2.0**-600


@kernel
def _load_chunk(XS, XD, start, m, XT):
    """XT[:, :m] = rows start..start+m of the data, transposed, in float64 (the data comes
    in one of two slots, float32 ``XS`` or float64 ``XD``; the other is empty)."""
    d = XT.shape[0]
    if XD.shape[0] > 0:
        for r in range(m):
            for j in range(d):
                XT[j, r] = XD[start + r, j]
    else:
        for r in range(m):
            for j in range(d):
                XT[j, r] = XS[start + r, j]


@kernel(inline="always")
def _chunk_maha_full(XT, mu, m, P, cc, Y, out):
    """out[:m] = |P^T (x - mu)|^2 per row of the chunk, P = prec[cc] upper triangular (d, d).

    Y = P^T D is formed in 4 x 4 blocks of (output j, input l): each pass over the rows
    loads 4 rows of the chunk (and 4 partial rows of Y) for 16 multiply-adds, where a plain loop
    loads two rows per multiply-add. The diagonal block of each output block finishes
    it in registers (triangle only) and adds the squares to ``out``, so finished rows
    of Y are never stored; x - mu is formed in registers too. Rows j >= d - d % 4 are
    done one at a time.
    """
    d = XT.shape[0]
    d4 = d - d % 4
    for r in range(m):
        out[r] = 0.0
    for j0 in range(0, d4, 4):
        for l0 in range(0, j0 + 4, 4):
            p00 = P[cc, l0, j0]
            p01 = P[cc, l0, j0 + 1]
            p02 = P[cc, l0, j0 + 2]
            p03 = P[cc, l0, j0 + 3]
            p10 = P[cc, l0 + 1, j0]
            p11 = P[cc, l0 + 1, j0 + 1]
            p12 = P[cc, l0 + 1, j0 + 2]
            p13 = P[cc, l0 + 1, j0 + 3]
            p20 = P[cc, l0 + 2, j0]
            p21 = P[cc, l0 + 2, j0 + 1]
            p22 = P[cc, l0 + 2, j0 + 2]
            p23 = P[cc, l0 + 2, j0 + 3]
            p30 = P[cc, l0 + 3, j0]
            p31 = P[cc, l0 + 3, j0 + 1]
            p32 = P[cc, l0 + 3, j0 + 2]
            p33 = P[cc, l0 + 3, j0 + 3]
            a0 = mu[l0]
            a1 = mu[l0 + 1]
            a2 = mu[l0 + 2]
            a3 = mu[l0 + 3]
            if l0 == j0:  # diagonal block: upper triangle of P only; finish the rows
                for r in range(m):
                    e0 = XT[l0, r] - a0
                    e1 = XT[l0 + 1, r] - a1
                    e2 = XT[l0 + 2, r] - a2
                    e3 = XT[l0 + 3, r] - a3
                    y0 = e0 * p00
                    y1 = e0 * p01
                    y2 = e0 * p02
                    y3 = e0 * p03
                    y1 += e1 * p11
                    y2 += e1 * p12
                    y3 += e1 * p13
                    y2 += e2 * p22
                    y3 += e2 * p23
                    y3 += e3 * p33
                    if j0 > 0:
                        y0 += Y[j0, r]
                        y1 += Y[j0 + 1, r]
                        y2 += Y[j0 + 2, r]
                        y3 += Y[j0 + 3, r]
                    out[r] += y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3
            else:
                for r in range(m):
                    e0 = XT[l0, r] - a0
                    e1 = XT[l0 + 1, r] - a1
                    e2 = XT[l0 + 2, r] - a2
                    e3 = XT[l0 + 3, r] - a3
                    y0 = e0 * p00
                    y1 = e0 * p01
                    y2 = e0 * p02
                    y3 = e0 * p03
                    y0 += e1 * p10
                    y1 += e1 * p11
                    y2 += e1 * p12
                    y3 += e1 * p13
                    y0 += e2 * p20
                    y1 += e2 * p21
                    y2 += e2 * p22
                    y3 += e2 * p23
                    y0 += e3 * p30
                    y1 += e3 * p31
                    y2 += e3 * p32
                    y3 += e3 * p33
                    if l0 > 0:
                        y0 += Y[j0, r]
                        y1 += Y[j0 + 1, r]
                        y2 += Y[j0 + 2, r]
                        y3 += Y[j0 + 3, r]
                    Y[j0, r] = y0
                    Y[j0 + 1, r] = y1
                    Y[j0 + 2, r] = y2
                    Y[j0 + 3, r] = y3
    for j in range(d4, d):
        for r in range(m):
            Y[j, r] = 0.0
        for l in range(j + 1):
            p = P[cc, l, j]
            for r in range(m):
                Y[j, r] += (XT[l, r] - mu[l]) * p
        for r in range(m):
            out[r] += Y[j, r] * Y[j, r]


@kernel(inline="always")
def _chunk_whiten(XT, m, P, Y):
    """Y[:, :m] = P[0]^T x for the chunk (upper-triangular P, 4 x 4 blocks as in
    ``_chunk_maha_full``).  With one shared precision (tied) this is done once per row
    instead of once per component; each component then needs only |y - P^T mu_c|^2,
    the same subtraction of whitened means scikit-learn makes."""
    d = XT.shape[0]
    d4 = d - d % 4
    for j0 in range(0, d4, 4):
        for l0 in range(0, j0 + 4, 4):
            p00 = P[0, l0, j0]
            p01 = P[0, l0, j0 + 1]
            p02 = P[0, l0, j0 + 2]
            p03 = P[0, l0, j0 + 3]
            p10 = P[0, l0 + 1, j0]
            p11 = P[0, l0 + 1, j0 + 1]
            p12 = P[0, l0 + 1, j0 + 2]
            p13 = P[0, l0 + 1, j0 + 3]
            p20 = P[0, l0 + 2, j0]
            p21 = P[0, l0 + 2, j0 + 1]
            p22 = P[0, l0 + 2, j0 + 2]
            p23 = P[0, l0 + 2, j0 + 3]
            p30 = P[0, l0 + 3, j0]
            p31 = P[0, l0 + 3, j0 + 1]
            p32 = P[0, l0 + 3, j0 + 2]
            p33 = P[0, l0 + 3, j0 + 3]
            for r in range(m):
                e0 = XT[l0, r]
                e1 = XT[l0 + 1, r]
                e2 = XT[l0 + 2, r]
                e3 = XT[l0 + 3, r]
                y0 = e0 * p00
                y1 = e0 * p01
                y2 = e0 * p02
                y3 = e0 * p03
                y0 += e1 * p10
                y1 += e1 * p11
                y2 += e1 * p12
                y3 += e1 * p13
                y0 += e2 * p20
                y1 += e2 * p21
                y2 += e2 * p22
                y3 += e2 * p23
                y0 += e3 * p30
                y1 += e3 * p31
                y2 += e3 * p32
                y3 += e3 * p33
                if l0 > 0:
                    y0 += Y[j0, r]
                    y1 += Y[j0 + 1, r]
                    y2 += Y[j0 + 2, r]
                    y3 += Y[j0 + 3, r]
                Y[j0, r] = y0
                Y[j0 + 1, r] = y1
                Y[j0 + 2, r] = y2
                Y[j0 + 3, r] = y3
    for j in range(d4, d):
        for r in range(m):
            Y[j, r] = 0.0
        for l in range(j + 1):
            p = P[0, l, j]
            for r in range(m):
                Y[j, r] += XT[l, r] * p


@kernel
def _prep_tied(means, prec, out):
    """out (k, d) = P[0]^T mu_c for the shared upper-triangular precision factor P[0]
    (the whitened means the tied log joints subtract)."""
    k, d = means.shape
    for c in range(k):
        for j in range(d):
            t = 0.0
            for l in range(j + 1):
                t += means[c, l] * prec[0, l, j]
            out[c, j] = t


@kernel
def _prep_none(means, prec, out):
    """Nothing to prepare (full and diagonal forms)."""


@kernel(inline="always")
def _chunk_gram_centered(XT, R, mu, m, S, s1):
    """S[j, l] += sum_r R_r (x_jr - mu_j)(x_lr - mu_l) for j <= l, s1[j] += sum_r R_r (x_jr - mu_j).

    Centred rows are formed in registers from the chunk (never stored), in 4 x 4 blocks
    of (j, l): 8 row loads for 16 multiply-adds. Only the upper triangle of S is written;
    the caller mirrors it.
    """
    d = XT.shape[0]
    d4 = d - d % 4
    for j0 in range(0, d4, 4):
        a0 = mu[j0]
        a1 = mu[j0 + 1]
        a2 = mu[j0 + 2]
        a3 = mu[j0 + 3]
        u0 = u1 = u2 = u3 = 0.0
        t00 = t01 = t02 = t03 = t11 = t12 = t13 = t22 = t23 = t33 = 0.0
        for r in range(m):
            e0 = XT[j0, r] - a0
            e1 = XT[j0 + 1, r] - a1
            e2 = XT[j0 + 2, r] - a2
            e3 = XT[j0 + 3, r] - a3
            rr = R[r]
            y0 = rr * e0
            y1 = rr * e1
            y2 = rr * e2
            y3 = rr * e3
            u0 += y0
            u1 += y1
            u2 += y2
            u3 += y3
            t00 += y0 * e0
            t01 += y0 * e1
            t02 += y0 * e2
            t03 += y0 * e3
            t11 += y1 * e1
            t12 += y1 * e2
            t13 += y1 * e3
            t22 += y2 * e2
            t23 += y2 * e3
            t33 += y3 * e3
        s1[j0] += u0
        s1[j0 + 1] += u1
        s1[j0 + 2] += u2
        s1[j0 + 3] += u3
        S[j0, j0] += t00
        S[j0, j0 + 1] += t01
        S[j0, j0 + 2] += t02
        S[j0, j0 + 3] += t03
        S[j0 + 1, j0 + 1] += t11
        S[j0 + 1, j0 + 2] += t12
        S[j0 + 1, j0 + 3] += t13
        S[j0 + 2, j0 + 2] += t22
        S[j0 + 2, j0 + 3] += t23
        S[j0 + 3, j0 + 3] += t33
        for l0 in range(j0 + 4, d4, 4):
            b0 = mu[l0]
            b1 = mu[l0 + 1]
            b2 = mu[l0 + 2]
            b3 = mu[l0 + 3]
            t00 = t01 = t02 = t03 = 0.0
            t10 = t11 = t12 = t13 = 0.0
            t20 = t21 = t22 = t23 = 0.0
            t30 = t31 = t32 = t33 = 0.0
            for r in range(m):
                rr = R[r]
                y0 = rr * (XT[j0, r] - a0)
                y1 = rr * (XT[j0 + 1, r] - a1)
                y2 = rr * (XT[j0 + 2, r] - a2)
                y3 = rr * (XT[j0 + 3, r] - a3)
                e0 = XT[l0, r] - b0
                e1 = XT[l0 + 1, r] - b1
                e2 = XT[l0 + 2, r] - b2
                e3 = XT[l0 + 3, r] - b3
                t00 += y0 * e0
                t01 += y0 * e1
                t02 += y0 * e2
                t03 += y0 * e3
                t10 += y1 * e0
                t11 += y1 * e1
                t12 += y1 * e2
                t13 += y1 * e3
                t20 += y2 * e0
                t21 += y2 * e1
                t22 += y2 * e2
                t23 += y2 * e3
                t30 += y3 * e0
                t31 += y3 * e1
                t32 += y3 * e2
                t33 += y3 * e3
            S[j0, l0] += t00
            S[j0, l0 + 1] += t01
            S[j0, l0 + 2] += t02
            S[j0, l0 + 3] += t03
            S[j0 + 1, l0] += t10
            S[j0 + 1, l0 + 1] += t11
            S[j0 + 1, l0 + 2] += t12
            S[j0 + 1, l0 + 3] += t13
            S[j0 + 2, l0] += t20
            S[j0 + 2, l0 + 1] += t21
            S[j0 + 2, l0 + 2] += t22
            S[j0 + 2, l0 + 3] += t23
            S[j0 + 3, l0] += t30
            S[j0 + 3, l0 + 1] += t31
            S[j0 + 3, l0 + 2] += t32
            S[j0 + 3, l0 + 3] += t33
    for l in range(d4, d):
        b = mu[l]
        u = 0.0
        for r in range(m):
            u += R[r] * (XT[l, r] - b)
        s1[l] += u
        for j in range(l + 1):
            a = mu[j]
            t = 0.0
            for r in range(m):
                t += R[r] * (XT[j, r] - a) * (XT[l, r] - b)
            S[j, l] += t


@kernel(inline="always")
def _finish_log_joint(q, L, c, m, base):
    """L[c, :m] = base - q / 2 for the squared distances q; a distance that overflowed
    (inf, or NaN from inf * 0) is an infinite distance."""
    for r in range(m):
        v = q[r]
        L[c, r] = base - 0.5 * (v if v <= _DBL_MAX else np.inf)


# The log-joint pieces accumulate into arrays of their own (``Y``, ``q``), not into the
# caller's scratch: LLVM cannot tell a caller's arrays apart, and storing into one while
# reading another made the 4 x 4 blocked loops run scalar (1.7x the time at d = 16).
@kernel
def _log_joint_full(XT, m, log_weights, means, prec, log_det, aux, L):
    """L[c, :m] = log w_c + log N(x | mu_c, P_c) for the chunk (``aux`` unused)."""
    d = XT.shape[0]
    half_const = -0.5 * d * LOG_2PI
    Yl = np.empty((d, CHUNK))
    q = np.empty(CHUNK)
    for c in range(means.shape[0]):
        _chunk_maha_full(XT, means[c], m, prec, c, Yl, q)
        _finish_log_joint(q, L, c, m, log_weights[c] + half_const + log_det[c])


@kernel
def _log_joint_tied(XT, m, log_weights, means, prec, log_det, aux, L):
    """As ``_log_joint_full`` with one shared factor P: the chunk is whitened once, and each
    component needs only |P^T x - P^T mu_c|^2 (``aux``: the whitened means, ``_prep_tied``)."""
    d = XT.shape[0]
    half_const = -0.5 * d * LOG_2PI
    Yl = np.empty((d, CHUNK))
    q = np.empty(CHUNK)
    _chunk_whiten(XT, m, prec, Yl)
    for c in range(aux.shape[0]):
        for r in range(m):
            q[r] = 0.0
        for j in range(0, d - 1, 2):
            b0 = aux[c, j]
            b1 = aux[c, j + 1]
            for r in range(m):
                t0 = Yl[j, r] - b0
                t1 = Yl[j + 1, r] - b1
                q[r] += t0 * t0 + t1 * t1
        if d % 2:
            b0 = aux[c, d - 1]
            for r in range(m):
                t0 = Yl[d - 1, r] - b0
                q[r] += t0 * t0
        _finish_log_joint(q, L, c, m, log_weights[c] + half_const + log_det[c])


@kernel
def _log_joint_diag(XT, m, log_weights, means, prec, log_det, aux, L):
    """As ``_log_joint_full`` with diagonal precisions ``prec[c, 0]``: two features per pass
    over the rows, x - mu formed in registers."""
    d = XT.shape[0]
    half_const = -0.5 * d * LOG_2PI
    q = np.empty(CHUNK)
    for c in range(means.shape[0]):
        for r in range(m):
            q[r] = 0.0
        for j in range(0, d - 1, 2):
            a0 = means[c, j]
            a1 = means[c, j + 1]
            p0 = prec[c, 0, j]
            p1 = prec[c, 0, j + 1]
            for r in range(m):
                t0 = (XT[j, r] - a0) * p0
                t1 = (XT[j + 1, r] - a1) * p1
                q[r] += t0 * t0 + t1 * t1
        if d % 2:
            a0 = means[c, d - 1]
            p0 = prec[c, 0, d - 1]
            for r in range(m):
                t0 = (XT[d - 1, r] - a0) * p0
                q[r] += t0 * t0
        _finish_log_joint(q, L, c, m, log_weights[c] + half_const + log_det[c])


@kernel
def _chunk_rescue(XT, m, log_weights, means, prec, L, lost):
    """Repair the lost rows of a chunk's log joints L (every component -inf); returns their
    number and sets ``lost[:m]``.

    Such a row's posterior is, in the limit, all on the component with the smallest
    Mahalanobis distance: found here with every difference scaled by 2**-600, so that the
    squares stay in range.  A rare path: scalar loops, run only when a chunk has such rows.
    The form is read from the shapes (no flag: a constant flag would compile this once per
    value): triangular factors ``prec[c * pk]`` unless ``prec`` is (k, 1, d) (diagonal, or
    full with d = 1, the same numbers).
    """
    d = XT.shape[0]
    k = means.shape[0]
    full = prec.shape[1] > 1 or prec.shape[0] != k
    pk = 1 if prec.shape[0] > 1 else 0
    n = 0
    for r in range(m):
        top = L[0, r]
        for c in range(1, k):
            top = max(top, L[c, r])
        if top > -np.inf:
            lost[r] = 0
            continue
        lost[r] = 1
        n += 1
        best = np.int64(-1)  # not the literal -1: see find_lost
        best_q = np.inf
        for c in range(k):
            if log_weights[c] == -np.inf:  # a component of weight 0 takes no rows
                continue
            q = 0.0
            if full:
                cc = c * pk
                for j in range(d):
                    y = 0.0
                    for l in range(j + 1):
                        y += (XT[l, r] * _TINY_SCALE - means[c, l] * _TINY_SCALE) * prec[cc, l, j]
                    q += y * y
            else:
                for j in range(d):
                    y = (XT[j, r] * _TINY_SCALE - means[c, j] * _TINY_SCALE) * prec[c, 0, j]
                    q += y * y
            if q < best_q:
                best_q = q
                best = c
        lost_onehot(L, k, r, best, log_weights)
    return n


# The statistics of a chunk (L holds w_i r_ic), added into block b's slots:
# ``p_nk[b]`` (k,) sum of w_i r_ic, ``p_s1[b]`` (k, d) sum w_i r_ic (x - mu_c), ``p_s2[b]``:
# full (k, d, d) sum w_i r_ic (x - mu_c)(x - mu_c)^T (upper triangle only), tied (1, d, d)
# sum w_i (x - center)(x - center)^T (upper triangle only), diag (k, 1, d) sum w_i r_ic
# (x - mu_c)^2.  ``wrow`` is CHUNK-long scratch.
@kernel
def _stats_full(XT, m, start, w, has_w, means, center, L, b, p_nk, p_s1, p_s2, wrow):
    for c in range(L.shape[0]):
        R = L[c]
        t = 0.0
        for r in range(m):
            t += R[r]
        if t != 0.0:
            p_nk[b, c] += t
            _chunk_gram_centered(XT, R, means[c], m, p_s2[b, c], p_s1[b, c])


@kernel
def _stats_tied(XT, m, start, w, has_w, means, center, L, b, p_nk, p_s1, p_s2, wrow):
    d = XT.shape[0]
    for c in range(L.shape[0]):
        R = L[c]
        t = 0.0
        for r in range(m):
            t += R[r]
        if t != 0.0:
            p_nk[b, c] += t
            for j in range(d):
                a = means[c, j]
                u = 0.0
                for r in range(m):
                    u += R[r] * (XT[j, r] - a)
                p_s1[b, c, j] += u
    for r in range(m):
        wrow[r] = w[start + r] if has_w else 1.0
    zsum = np.zeros(d)  # first moments about the centre: not needed
    _chunk_gram_centered(XT, wrow, center, m, p_s2[b, 0], zsum)


@kernel
def _stats_diag(XT, m, start, w, has_w, means, center, L, b, p_nk, p_s1, p_s2, wrow):
    d = XT.shape[0]
    for c in range(L.shape[0]):
        R = L[c]
        t = 0.0
        for r in range(m):
            t += R[r]
        if t != 0.0:
            p_nk[b, c] += t
            for j in range(d):
                a = means[c, j]
                u = 0.0
                q = 0.0
                for r in range(m):
                    e = XT[j, r] - a
                    y = R[r] * e
                    u += y
                    q += y * e
                p_s1[b, c, j] += u
                p_s2[b, c, 0, j] += q


# --------------------------------------------------------------------------- slots, pieces
_C2, _C1, _I1 = c_array(2), c_array(1), c_array(1, I64)
LOAD = Slot("load", NONE, (*data(), INT, INT, _C2))
PREP = Slot("prep", NONE, (ro(2), ro(3), _C2))
LOGJ = Slot("log_joint", NONE, (_C2, INT, ro(1), ro(2), ro(3), ro(1), _C2, _C2))
POSTERIOR = Slot("posterior", I64, (_C2, INT, INT, _C1, _C1, _I1))
RESCUE = Slot("rescue", I64, (_C2, INT, ro(1), ro(2), ro(3), _C2, _I1))
WEIGHTS = Slot("weights", numba.types.Tuple((numba.types.float64, I64)),
               (_C2, INT, INT, INT, ro(1), BOOL, INT, SEED, INT, rw(1, I32), BOOL, _C1, _C1,
                _C1, _I1, _I1, I64, INT))
STATS = Slot("stats", NONE, (_C2, INT, INT, ro(1), BOOL, ro(2), ro(1), _C2, INT, rw(2), rw(3),
                             rw(4), _C1))
OUTPUTS = Slot("outputs", NONE, (_C2, INT, INT, INT, _C1, _C1, _C1, _I1, _I1, I64, rw(1), rw(2),
                                 rw(1, I64), rw(2)))

# (module globals: Numba resolves a call of a global function, not of an attribute)
_call_load = LOAD.call
_call_prep = PREP.call
_call_log_joint = LOGJ.call
_call_posterior = POSTERIOR.call
_call_rescue = RESCUE.call
_call_weights = WEIGHTS.call
_call_stats = STATS.call
_call_outputs = OUTPUTS.call

PIECES = {
    "load": Piece("load", _load_chunk, LOAD),
    "prep_none": Piece("prep_none", _prep_none, PREP),
    "prep_tied": Piece("prep_tied", _prep_tied, PREP),
    "log_joint_full": Piece("log_joint_full", _log_joint_full, LOGJ),
    "log_joint_tied": Piece("log_joint_tied", _log_joint_tied, LOGJ),
    "log_joint_diag": Piece("log_joint_diag", _log_joint_diag, LOGJ),
    "posterior": Piece("posterior", chunk_posterior, POSTERIOR),
    "rescue": Piece("rescue", _chunk_rescue, RESCUE),
    "weights": Piece("weights", chunk_weights, WEIGHTS),
    "weights_basic": Piece("weights_basic", chunk_weights_basic, WEIGHTS),
    "weights_random": Piece("weights_random", chunk_weights_random, WEIGHTS),
    "stats_full": Piece("stats_full", _stats_full, STATS),
    "stats_tied": Piece("stats_tied", _stats_tied, STATS),
    "stats_diag": Piece("stats_diag", _stats_diag, STATS),
    "outputs": Piece("outputs", chunk_outputs, OUTPUTS),
}


def weights_piece(mode):
    """Name of the weights piece for a mode: soft EM and the FIXED mode share one, RANDOM
    has its own, so that a soft fit never compiles the one-hot modes."""
    return {SOFT: "weights_basic", FIXED: "weights_basic", RANDOM: "weights_random"}.get(
        mode, "weights")


def pass_pieces(form, mode):
    """The pieces (in slot order) of the statistics kernel for "full", "tied" or "diag"
    and a mode (soft EM and the FIXED mode have weights of their own, so that a soft fit
    never compiles the other modes)."""
    prep = "prep_tied" if form == "tied" else "prep_none"
    weights = weights_piece(mode)
    names = ("load", prep, "log_joint_" + form, "posterior", "rescue", weights,
             "stats_" + form)
    return [PIECES[n] for n in names]


def rows_pieces(form):
    """The table (in slot order) of the per-row kernel for "full", "tied" or "diag"."""
    prep = "prep_tied" if form == "tied" else "prep_none"
    names = ("load", prep, "log_joint_" + form, "rescue", "outputs")
    return [PIECES[n] for n in names]


# The two kernels: a loop over the row blocks b0..b1 (rows b * block .. (b + 1) * block) on
# the calling thread, in chunks of CHUNK transposed rows (so that the pieces' inner loops
# run over rows and vectorise), calling the pieces of ``fns`` (``pass_pieces`` or
# ``rows_pieces`` of the precision form).  ``gauss_pass_blocks`` adds each block's
# statistics into its own slot b of the partials (see the statistics pieces above) and
# ``p_ll[b]`` sum w_i log p(x_i), ``p_ch[b]`` labels changed (rows of positive weight), so
# that the caller can run block ranges on several threads and add the slots in block order:
# the result does not depend on the thread count.  ``gauss_rows_blocks`` (same signature)
# writes the per-row outputs ``out_ll`` (n,), ``out_resp`` (n, k), ``out_labels`` (n,),
# ``out_logd`` (n, k), each skipped when passed empty.
#
# Forms: "full", ``prec`` (k, d, d) upper-triangular Cholesky factors of the precisions
# (precision = P P^T); "tied", one shared factor (1, d, d), second moments about ``center``
# (d,) with the row weights alone; "diag", ``prec`` (k, 1, d) inverse standard deviations
# (spherical: each component's value repeated over d columns).
PASS_SIGNATURE = (INT, INT, INT, *data(), ro(1), ro(1), ro(2), ro(3), ro(1), ro(1), INT, SEED,
                  INT, rw(1, I32), rw(2), rw(3), rw(4), rw(1), rw(1, I64), rw(1), rw(2),
                  rw(1, I64), rw(2), ro(1, I64), INT)


@kernel
def gauss_pass_blocks(b0, b1, block, XS, XD, w, log_weights, means, prec, log_det, center,
                      mode, seed, stream, labels, p_nk, p_s1, p_s2, p_ll, p_ch, out_ll, out_resp,
                      out_labels, out_logd, fns, row0):
    """Statistics pass over blocks b0..b1 (see above); ``row0``: the first row's index in
    the whole data (the random modes draw by global row)."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = means.shape
    has_w = w.shape[0] > 0
    track = labels.shape[0] > 0
    XT = np.empty((d, CHUNK))
    L = np.empty((k, CHUNK))
    aux = np.empty((k, d))
    f = np.empty((4, CHUNK))
    mx, acc, cum, wrow = f[0], f[1], f[2], f[3]  # views made once: each costs refcounts
    ib = np.empty((3, CHUNK), dtype=np.int64)
    bits, pick, lost = ib[0], ib[1], ib[2]
    _call_prep(fns[1], means, prec, aux)
    for b in range(b0, b1):
        lo = b * block
        hi = min(n, lo + block)
        ll = 0.0
        ch = 0
        for start in range(lo, hi, CHUNK):
            m = min(CHUNK, hi - start)
            _call_load(fns[0], XS, XD, start, m, XT)
            _call_log_joint(fns[2], XT, m, log_weights, means, prec, log_det, aux, L)
            n_lost = _call_posterior(fns[3], L, m, k, mx, acc, bits)
            if n_lost > 0:  # L was left as it was: repair the lost rows, then normalise
                _call_rescue(fns[4], XT, m, log_weights, means, prec, L, lost)
                _call_posterior(fns[3], L, m, k, mx, acc, bits)
            cll, cch = _call_weights(fns[5], L, m, k, start, w, has_w, mode, seed, stream,
                                     labels, track, mx, acc, cum, pick, lost, n_lost, row0)
            ll += cll
            ch += cch
            _call_stats(fns[6], XT, m, start, w, has_w, means, center, L, b, p_nk, p_s1, p_s2,
                       wrow)
        p_ll[b] = ll
        p_ch[b] = ch


@kernel
def gauss_rows_blocks(b0, b1, block, XS, XD, w, log_weights, means, prec, log_det, center,
                      mode, seed, stream, labels, p_nk, p_s1, p_s2, p_ll, p_ch, out_ll, out_resp,
                      out_labels, out_logd, fns, row0):
    """Per-row outputs over blocks b0..b1 (see above; ``row0`` unused)."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = means.shape
    XT = np.empty((d, CHUNK))
    L = np.empty((k, CHUNK))
    aux = np.empty((k, d))
    f = np.empty((3, CHUNK))
    mx, acc, coef = f[0], f[1], f[2]
    ib = np.empty((2, CHUNK), dtype=np.int64)
    bits, lost = ib[0], ib[1]
    for r in range(CHUNK):
        coef[r] = 0.0  # no per-row constant in the Gaussian log density
    _call_prep(fns[1], means, prec, aux)
    end = min(n, b1 * block)
    for start in range(b0 * block, end, CHUNK):
        m = min(CHUNK, end - start)
        _call_load(fns[0], XS, XD, start, m, XT)
        _call_log_joint(fns[2], XT, m, log_weights, means, prec, log_det, aux, L)
        n_lost = find_lost(L, m, k, mx, lost)
        if n_lost > 0:
            _call_rescue(fns[3], XT, m, log_weights, means, prec, L, lost)
        _call_outputs(fns[4], L, m, k, start, coef, mx, acc, bits, lost, n_lost, out_ll,
                     out_resp, out_labels, out_logd)


@kernel
def finite_blocks(b0, b1, block, XS, XD, p_at):
    """Row blocks b0..b1 of the data (float32 ``XS`` or float64 ``XD``, the other empty):
    ``p_at[b]`` = the first row of block b holding NaN or infinity, or -1.  A row's cells
    are multiplied by 0 and added (NaN exactly when one is NaN or infinite; the fastmath
    flags keep NaN and infinity, so x * 0 is not folded to 0), without a branch per cell:
    the loop vectorises."""
    n = max(XS.shape[0], XD.shape[0])
    d = max(XS.shape[1], XD.shape[1])
    f64 = XD.shape[0] > 0
    for b in range(b0, b1):
        p_at[b] = -1
        for i in range(b * block, min(n, (b + 1) * block)):
            s = 0.0
            if f64:
                for j in range(d):
                    s += XD[i, j] * 0.0
            else:
                for j in range(d):
                    s += np.float64(XS[i, j]) * 0.0
            if s != 0.0:
                p_at[b] = i
                break


CHECK_SIGNATURE = (INT, INT, INT, *data(), rw(1, I64))
