"""Gaussian mixture kernels.

Two density forms cover the four covariance types:

* "full" form: ``prec_chol`` (kp, d, d) upper-triangular Cholesky factors of the
  precisions (precision = P @ P.T, scikit-learn's convention), kp = k for "full" and
  kp = 1 for "tied" (shared);
* "diag" form: ``prec`` (k, d) inverse standard deviations; "spherical" passes each
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

import numpy as np
from numba import prange

from ._common import FIXED, logsumexp_row, mode_weights
from ._jit import kernel

LOG_2PI = math.log(2.0 * math.pi)


@kernel
def block_rows(n, k, d, ks):
    """Rows per parallel block: a function of the shape only, never of the thread count.

    At most 128 blocks, and few enough that the per-block partial statistics
    (``ks`` second-moment matrices of d x d) stay within about 4 MB.
    """
    per_block = 8 * (k + k * d + ks * d * d)
    nb_max = min(128, max(4, (4 << 20) // per_block))
    return max(256, (n + nb_max - 1) // nb_max)


@kernel(inline="always")
def _full_log_joint(X, i, log_weights, means, prec_chol, log_det, pk, diff, y, buf):
    k, d = means.shape
    half_const = -0.5 * d * LOG_2PI
    for c in range(k):
        cc = c * pk
        for j in range(d):
            diff[c, j] = X[i, j] - means[c, j]
            y[j] = 0.0
        for l in range(d):
            dl = diff[c, l]
            for j in range(l, d):
                y[j] += dl * prec_chol[cc, l, j]
        maha = 0.0
        for j in range(d):
            maha += y[j] * y[j]
        buf[c] = log_weights[c] + half_const + log_det[c] - 0.5 * maha


@kernel(inline="always")
def _diag_log_joint(X, i, log_weights, means, prec, log_det, diff, buf):
    k, d = means.shape
    half_const = -0.5 * d * LOG_2PI
    for c in range(k):
        maha = 0.0
        for j in range(d):
            t = X[i, j] - means[c, j]
            diff[c, j] = t
            t *= prec[c, j]
            maha += t * t
        buf[c] = log_weights[c] + half_const + log_det[c] - 0.5 * maha


@kernel(parallel=True)
def gauss_pass_full(X, w, log_weights, means, prec_chol, log_det, mode, seed, stream, labels,
                    block, tied, center):
    """One EM pass for full/tied covariances; returns (nk, s1, s2, loglik, n_changed).

    ``s2`` is (k, d, d) about each component's mean, or (1, d, d) about ``center``
    when ``tied``; only the upper triangle is accumulated, then mirrored.
    """
    n, d = X.shape
    k = means.shape[0]
    pk = 1 if prec_chol.shape[0] > 1 else 0
    ks = 1 if tied else k
    has_w = w.shape[0] > 0
    track = labels.shape[0] > 0
    nb = (n + block - 1) // block
    p_nk = np.zeros((nb, k))
    p_s1 = np.zeros((nb, k, d))
    p_s2 = np.zeros((nb, ks, d, d))
    p_ll = np.zeros(nb)
    p_ch = np.zeros(nb, dtype=np.int64)
    for b in prange(nb):
        buf = np.empty(k)
        resp = np.empty(k)
        diff = np.empty((k, d))
        y = np.empty(d)
        ll = 0.0
        ch = 0
        for i in range(b * block, min(n, (b + 1) * block)):
            wi = w[i] if has_w else 1.0
            _full_log_joint(X, i, log_weights, means, prec_chol, log_det, pk, diff, y, buf)
            lse, am = logsumexp_row(buf, k)
            ll += wi * lse
            given = labels[i] if mode == FIXED else 0
            lab = mode_weights(buf, k, lse, am, mode, seed, stream, i, given, resp)
            if track and labels[i] != lab:
                if wi != 0.0:  # a weight-0 row is a removed row: its label does not count
                    ch += 1
                labels[i] = lab
            for c in range(k):
                r = wi * resp[c]
                if r != 0.0:
                    p_nk[b, c] += r
                    for j in range(d):
                        rd = r * diff[c, j]
                        p_s1[b, c, j] += rd
                        if not tied:
                            for l in range(j, d):
                                p_s2[b, c, j, l] += rd * diff[c, l]
            if tied and wi != 0.0:
                for j in range(d):
                    y[j] = X[i, j] - center[j]
                for j in range(d):
                    wy = wi * y[j]
                    for l in range(j, d):
                        p_s2[b, 0, j, l] += wy * y[l]
        p_ll[b] = ll
        p_ch[b] = ch
    nk = np.zeros(k)
    s1 = np.zeros((k, d))
    s2 = np.zeros((ks, d, d))
    ll = 0.0
    ch = 0
    for b in range(nb):  # fixed order: independent of the thread count
        nk += p_nk[b]
        s1 += p_s1[b]
        s2 += p_s2[b]
        ll += p_ll[b]
        ch += p_ch[b]
    for c in range(ks):
        for j in range(d):
            for l in range(j + 1, d):
                s2[c, l, j] = s2[c, j, l]
    return nk, s1, s2, ll, ch


@kernel(parallel=True)
def gauss_pass_diag(X, w, log_weights, means, prec, log_det, mode, seed, stream, labels, block):
    """One EM pass for diag/spherical covariances; returns (nk, s1, s2 (k, d), loglik, n_changed)."""
    n, d = X.shape
    k = means.shape[0]
    has_w = w.shape[0] > 0
    track = labels.shape[0] > 0
    nb = (n + block - 1) // block
    p_nk = np.zeros((nb, k))
    p_s1 = np.zeros((nb, k, d))
    p_s2 = np.zeros((nb, k, d))
    p_ll = np.zeros(nb)
    p_ch = np.zeros(nb, dtype=np.int64)
    for b in prange(nb):
        buf = np.empty(k)
        resp = np.empty(k)
        diff = np.empty((k, d))
        ll = 0.0
        ch = 0
        for i in range(b * block, min(n, (b + 1) * block)):
            wi = w[i] if has_w else 1.0
            _diag_log_joint(X, i, log_weights, means, prec, log_det, diff, buf)
            lse, am = logsumexp_row(buf, k)
            ll += wi * lse
            given = labels[i] if mode == FIXED else 0
            lab = mode_weights(buf, k, lse, am, mode, seed, stream, i, given, resp)
            if track and labels[i] != lab:
                if wi != 0.0:  # a weight-0 row is a removed row: its label does not count
                    ch += 1
                labels[i] = lab
            for c in range(k):
                r = wi * resp[c]
                if r != 0.0:
                    p_nk[b, c] += r
                    for j in range(d):
                        rd = r * diff[c, j]
                        p_s1[b, c, j] += rd
                        p_s2[b, c, j] += rd * diff[c, j]
        p_ll[b] = ll
        p_ch[b] = ch
    nk = np.zeros(k)
    s1 = np.zeros((k, d))
    s2 = np.zeros((k, d))
    ll = 0.0
    ch = 0
    for b in range(nb):
        nk += p_nk[b]
        s1 += p_s1[b]
        s2 += p_s2[b]
        ll += p_ll[b]
        ch += p_ch[b]
    return nk, s1, s2, ll, ch


@kernel(parallel=True)
def gauss_rows_full(X, log_weights, means, prec_chol, log_det, out_ll, out_resp, out_labels):
    """Per-row log-likelihood (n,), posterior (n, k), argmax (n,); empty outputs are skipped."""
    n, d = X.shape
    k = means.shape[0]
    pk = 1 if prec_chol.shape[0] > 1 else 0
    want_ll = out_ll.shape[0] > 0
    want_resp = out_resp.shape[0] > 0
    want_lab = out_labels.shape[0] > 0
    block = 512
    nb = (n + block - 1) // block
    for b in prange(nb):
        buf = np.empty(k)
        diff = np.empty((k, d))
        y = np.empty(d)
        for i in range(b * block, min(n, (b + 1) * block)):
            _full_log_joint(X, i, log_weights, means, prec_chol, log_det, pk, diff, y, buf)
            lse, am = logsumexp_row(buf, k)
            if want_ll:
                out_ll[i] = lse
            if want_resp:
                for c in range(k):
                    out_resp[i, c] = math.exp(buf[c] - lse)
            if want_lab:
                out_labels[i] = am


@kernel(parallel=True)
def gauss_rows_diag(X, log_weights, means, prec, log_det, out_ll, out_resp, out_labels):
    """Per-row outputs for diag/spherical covariances (see :func:`gauss_rows_full`)."""
    n, d = X.shape
    k = means.shape[0]
    want_ll = out_ll.shape[0] > 0
    want_resp = out_resp.shape[0] > 0
    want_lab = out_labels.shape[0] > 0
    block = 512
    nb = (n + block - 1) // block
    for b in prange(nb):
        buf = np.empty(k)
        diff = np.empty((k, d))
        for i in range(b * block, min(n, (b + 1) * block)):
            _diag_log_joint(X, i, log_weights, means, prec, log_det, diff, buf)
            lse, am = logsumexp_row(buf, k)
            if want_ll:
                out_ll[i] = lse
            if want_resp:
                for c in range(k):
                    out_resp[i, c] = math.exp(buf[c] - lse)
            if want_lab:
                out_labels[i] = am


@kernel
def cholesky_precision(cov, pchol):
    """Upper-triangular ``pchol = inv(L).T`` with ``cov = L L.T``; returns sum log diag(pchol).

    Returns NaN when ``cov`` is not (numerically) positive definite.
    """
    d = cov.shape[0]
    L = np.zeros((d, d))
    for j in range(d):
        s = cov[j, j]
        for m in range(j):
            s -= L[j, m] * L[j, m]
        if not s > 0.0 or not math.isfinite(s):
            return np.nan
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, d):
            t = cov[i, j]
            for m in range(j):
                t -= L[i, m] * L[j, m]
            L[i, j] = t / L[j, j]
    # Z = inv(L) by forward substitution; pchol = Z.T
    log_det = 0.0
    for col in range(d):
        for i in range(d):
            pchol[col, i] = 0.0
        for i in range(col, d):
            t = 1.0 if i == col else 0.0
            for m in range(col, i):
                t -= L[i, m] * pchol[col, m]
            pchol[col, i] = t / L[i, i]
        log_det -= math.log(L[col, col])
    return log_det


@kernel
def gauss_mstep_full(nk, s1, s2, old_means, old_cov, old_pchol, reg, tied, center,
                     means, cov, pchol, log_det):
    """M-step for full/tied from the pass statistics, written into the output arrays.

    As scikit-learn, ``10 * eps`` is added to every ``nk`` and ``reg`` to the diagonal.
    A component with ``nk == 0`` keeps its previous parameters.  Returns 0, or c + 1
    for the first component whose regularised covariance is not positive definite
    (1 for tied).
    """
    k, d = old_means.shape
    tiny = 10.0 * np.finfo(np.float64).eps
    for c in range(k):
        if nk[c] > 0.0:
            nka = nk[c] + tiny
            for j in range(d):
                means[c, j] = old_means[c, j] + s1[c, j] / nka
        else:
            means[c] = old_means[c]
    if tied:
        # S2 about z minus each component's offset from z (cross terms included exactly).
        tot = 0.0
        acc = s2[0].copy()
        for c in range(k):
            tot += nk[c] + tiny
            for j in range(d):
                aj = s1[c, j] + nk[c] * (old_means[c, j] - center[j])
                mj = means[c, j] - center[j]
                for l in range(d):
                    al = s1[c, l] + nk[c] * (old_means[c, l] - center[l])
                    ml = means[c, l] - center[l]
                    acc[j, l] += -aj * ml - mj * al + nk[c] * mj * ml
        for j in range(d):
            for l in range(d):
                cov[0, j, l] = acc[j, l] / tot
            cov[0, j, j] += reg
        ld = cholesky_precision(cov[0], pchol[0])
        if not math.isfinite(ld):
            return 1
        for c in range(k):
            log_det[c] = ld
        return 0
    for c in range(k):
        if not nk[c] > 0.0:
            cov[c] = old_cov[c]
            pchol[c] = old_pchol[c]
            pd = 0.0
            for j in range(d):
                pd += math.log(pchol[c, j, j])
            log_det[c] = pd
            continue
        nka = nk[c] + tiny
        for j in range(d):
            dj = s1[c, j] / nka
            for l in range(d):
                dl = s1[c, l] / nka
                cov[c, j, l] = (s2[c, j, l] - s1[c, j] * dl - dj * s1[c, l] + nk[c] * dj * dl) / nka
            cov[c, j, j] += reg
        ld = cholesky_precision(cov[c], pchol[c])
        if not math.isfinite(ld):
            return c + 1
        log_det[c] = ld
    return 0


@kernel
def gauss_mstep_diag(nk, s1, s2, old_means, old_var, reg, spherical, means, var, prec, log_det):
    """M-step for diag/spherical (``var`` (k, d); spherical stores its value in every column).

    Returns 0, or c + 1 for the first component with a non-positive variance.
    """
    k, d = old_means.shape
    tiny = 10.0 * np.finfo(np.float64).eps
    for c in range(k):
        if not nk[c] > 0.0:
            means[c] = old_means[c]
            var[c] = old_var[c]
        else:
            nka = nk[c] + tiny
            mean_var = 0.0
            for j in range(d):
                dj = s1[c, j] / nka
                means[c, j] = old_means[c, j] + dj
                v = (s2[c, j] - 2.0 * s1[c, j] * dj + nk[c] * dj * dj) / nka + reg
                var[c, j] = v
                mean_var += v
            if spherical:
                mean_var /= d
                for j in range(d):
                    var[c, j] = mean_var
        ld = 0.0
        for j in range(d):
            v = var[c, j]
            if not v > 0.0 or not math.isfinite(v):
                return c + 1
            prec[c, j] = 1.0 / math.sqrt(v)
            ld += math.log(prec[c, j])
        log_det[c] = ld
    return 0


@kernel
def check_finite(X):
    """First (row, col) holding NaN or infinity, or (-1, -1)."""
    n, d = X.shape
    for i in range(n):
        for j in range(d):
            if not math.isfinite(X[i, j]):
                return i, j
    return -1, -1


@kernel(parallel=True)
def gauss_log_density_full(X, means, prec_chol, log_det, out):
    """``out[i, c]`` = log N(x_i | mean_c, (P_c P_c^T)^-1), full or (kp = 1) tied form."""
    n, d = X.shape
    k = means.shape[0]
    pk = 1 if prec_chol.shape[0] > 1 else 0
    zero = np.zeros(k)
    for i in prange(n):
        buf = np.empty(k)
        diff = np.empty((k, d))
        y = np.empty(d)
        _full_log_joint(X, i, zero, means, prec_chol, log_det, pk, diff, y, buf)
        for c in range(k):
            out[i, c] = buf[c]
    return out


@kernel(parallel=True)
def gauss_log_density_diag(X, means, prec, log_det, out):
    """``out[i, c]`` = log N(x_i | mean_c, diag(1 / prec_c^2))."""
    n, d = X.shape
    k = means.shape[0]
    zero = np.zeros(k)
    for i in prange(n):
        buf = np.empty(k)
        diff = np.empty((k, d))
        _diag_log_joint(X, i, zero, means, prec, log_det, diff, buf)
        for c in range(k):
            out[i, c] = buf[c]
    return out
