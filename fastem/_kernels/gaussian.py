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

import numpy as np
from numba import prange

from ._common import izeros, sum_blocks, zeros
from ._vmath import exp_nonpos
from .rng import uniform, uniforms4
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


CHUNK = 64  # rows transposed into a (d, CHUNK) tile so every inner loop runs over rows


@kernel(inline="always")
def _load_chunk(X, start, m, XT):
    d = X.shape[1]
    for r in range(m):
        for j in range(d):
            XT[j, r] = X[start + r, j]


@kernel(inline="always")
def _chunk_diff(XT, m, means, c, D):
    for j in range(XT.shape[0]):
        mu = means[c, j]
        for r in range(m):
            D[j, r] = XT[j, r] - mu


@kernel(inline="always")
def _chunk_log_joint(XT, m, log_weights, means, prec, log_det, full, pk, D, Y, L):
    """L[c, :m] = log w_c + log N(x | mu_c, .) for the chunk; D, Y are (d, CHUNK) scratch."""
    d = XT.shape[0]
    k = means.shape[0]
    half_const = -0.5 * d * LOG_2PI
    for c in range(k):
        _chunk_diff(XT, m, means, c, D)
        base = log_weights[c] + half_const + log_det[c]
        for r in range(m):
            L[c, r] = 0.0
        if full:
            cc = c * pk
            for j in range(d):
                for r in range(m):
                    Y[j, r] = 0.0
            for l in range(d):
                for j in range(l, d):
                    p = prec[cc, l, j]
                    for r in range(m):
                        Y[j, r] += D[l, r] * p
            for j in range(d):
                for r in range(m):
                    L[c, r] += Y[j, r] * Y[j, r]
        else:
            for j in range(d):
                p = prec[c, 0, j]
                for r in range(m):
                    t = D[j, r] * p
                    L[c, r] += t * t
        for r in range(m):
            L[c, r] = base - 0.5 * L[c, r]


@kernel(inline="always")
def _chunk_posterior(L, m, k, mx, acc, bits):
    """Turn L[:, :m] into exp(L - max) in place; acc = row sums, returns nothing.

    The row's log-likelihood is then mx + log(acc) and its posterior L / acc.
    """
    for r in range(m):
        mx[r] = L[0, r]
    for c in range(1, k):
        for r in range(m):
            mx[r] = max(mx[r], L[c, r])
    for r in range(m):
        acc[r] = 0.0
    for c in range(k):
        row = L[c]
        for r in range(m):
            row[r] -= mx[r]
        exp_nonpos(row, m, bits)
        for r in range(m):
            acc[r] += row[r]


@kernel(inline="always")
def _chunk_weights(L, m, k, start, w, has_w, mode, seed, stream, labels, track, mx, acc):
    """Overwrite L[:, :m] (exp(L - max), row sums acc) with w_i times the mode's weights.

    Returns (sum_i w_i loglik_i, n_changed) over the chunk.
    """
    ll = 0.0
    for r in range(m):
        lse = mx[r] + math.log(acc[r])
        wi = w[start + r] if has_w else 1.0
        ll += wi * lse
        mx[r] = wi / acc[r]  # reuse: scale turning exp(L - max) into w_i * posterior
    ch = 0
    if mode == 2:
        # Draws first, in a branch-free loop over rows that the vectoriser can take.
        for r in range(m):
            acc[r] *= uniform(seed, stream, start + r)
    if mode == 0:  # SOFT
        if track:  # labels on request: the argmax is the first entry equal to exp(0) = 1
            for r in range(m):
                pick = 0
                while L[pick, r] < 1.0:
                    pick += 1
                i = start + r
                if labels[i] != pick:
                    if mx[r] != 0.0:
                        ch += 1
                    labels[i] = pick
        for c in range(k):
            for r in range(m):
                L[c, r] *= mx[r]
        return ll, ch
    for r in range(m):
        i = start + r
        scale = mx[r]
        if mode == 4:  # FIXED
            pick = labels[i]
        elif mode == 1:  # HARD: first maximum
            pick = 0
            best = L[0, r]
            for c in range(1, k):
                if L[c, r] > best:
                    best = L[c, r]
                    pick = c
        elif mode == 2:  # STOCHASTIC: inverse CDF of the posterior at a keyed uniform
            u = acc[r]  # uniform * row sum, drawn above
            cum = 0.0
            pick = 0
            for c in range(k):
                p = L[c, r]
                if p > 0.0:
                    pick = c
                cum += p
                if cum > u:
                    break
        else:  # RANDOM responsibilities for initialisation
            tot = 0.0
            for g in range(0, k, 4):
                u0, u1, u2, u3 = uniforms4(seed, stream, i, g // 4)
                L[g, r] = u0
                if g + 1 < k:
                    L[g + 1, r] = u1
                if g + 2 < k:
                    L[g + 2, r] = u2
                if g + 3 < k:
                    L[g + 3, r] = u3
            for c in range(k):
                tot += L[c, r]
            wi = w[i] if has_w else 1.0
            for c in range(k):
                L[c, r] *= wi / tot
            continue
        if track and labels[i] != pick:
            if scale != 0.0:  # a weight-0 row is a removed row: its label does not count
                ch += 1
            labels[i] = pick
        wi = w[i] if has_w else 1.0
        for c in range(k):
            L[c, r] = 0.0
        L[pick, r] = wi
    return ll, ch


@kernel(parallel=True)
def gauss_pass(X, w, log_weights, means, prec, log_det, full, mode, seed, stream, labels,
               block, tied, center):
    """One EM pass over X; returns (nk, s1, s2, loglik, n_changed).

    ``full``: ``prec`` is (kp, d, d) upper-triangular Cholesky factors of the precisions
    (kp = 1 when ``tied``); otherwise (k, 1, d) inverse standard deviations (one array
    rank for both forms keeps a single compiled specialisation per dtype).  ``s2`` is
    (k, d, d) about each component's mean (full), (1, d, d) about ``center`` (tied), or
    (k, d) squares (diagonal forms).  Rows go through in chunks of CHUNK transposed
    rows, so the inner loops run over rows and vectorise.
    """
    n, d = X.shape
    k = means.shape[0]
    pk = 1 if (full and prec.shape[0] > 1) else 0
    ks = (1 if tied else k) if full else 0
    has_w = w.shape[0] > 0
    track = labels.shape[0] > 0
    nb = (n + block - 1) // block
    p_nk = zeros((nb, k))
    p_s1 = zeros((nb, k, d))
    p_s2 = zeros((nb, ks, d, d))
    p_sq = zeros((nb, k if not full else 0, d))
    p_ll = zeros((nb,))
    p_ch = izeros(nb)
    for b in prange(nb):
        XT = np.empty((d, CHUNK))
        D = np.empty((d, CHUNK))
        Y = np.empty((d, CHUNK))
        L = np.empty((k, CHUNK))
        mx = np.empty(CHUNK)
        acc = np.empty(CHUNK)
        bits = np.empty(CHUNK, dtype=np.int64)
        ll = 0.0
        ch = 0
        stop = min(n, (b + 1) * block)
        for start in range(b * block, stop, CHUNK):
            m = min(CHUNK, stop - start)
            _load_chunk(X, start, m, XT)
            _chunk_log_joint(XT, m, log_weights, means, prec, log_det, full, pk, D, Y, L)
            _chunk_posterior(L, m, k, mx, acc, bits)
            cll, cch = _chunk_weights(L, m, k, start, w, has_w, mode, seed, stream, labels,
                                      track, mx, acc)
            ll += cll
            ch += cch
            # Statistics about each component's current mean; L now holds w_i * r_ic.
            for c in range(k):
                R = L[c]
                s = 0.0
                for r in range(m):
                    s += R[r]
                if s == 0.0:
                    continue
                p_nk[b, c] += s
                _chunk_diff(XT, m, means, c, D)
                for j in range(d):
                    t = 0.0
                    for r in range(m):
                        Y[j, r] = R[r] * D[j, r]
                        t += Y[j, r]
                    p_s1[b, c, j] += t
                if full and not tied:
                    for j in range(d):
                        for l in range(j, d):
                            t = 0.0
                            for r in range(m):
                                t += Y[j, r] * D[l, r]
                            p_s2[b, c, j, l] += t
                elif not full:
                    for j in range(d):
                        t = 0.0
                        for r in range(m):
                            t += Y[j, r] * D[j, r]
                        p_sq[b, c, j] += t
            if tied:
                for j in range(d):
                    z = center[j]
                    for r in range(m):
                        D[j, r] = XT[j, r] - z
                        Y[j, r] = D[j, r] * (w[start + r] if has_w else 1.0)
                for j in range(d):
                    for l in range(j, d):
                        t = 0.0
                        for r in range(m):
                            t += Y[j, r] * D[l, r]
                        p_s2[b, 0, j, l] += t
        p_ll[b] = ll
        p_ch[b] = ch
    # Fixed-order reduction: the result does not depend on the thread count.
    nk = sum_blocks(p_nk)
    s1 = sum_blocks(p_s1)
    s2 = sum_blocks(p_s2)
    sq = sum_blocks(p_sq)
    ll = sum_blocks(p_ll)[()]
    ch = sum_blocks(p_ch)[()]
    for c in range(ks):
        for j in range(d):
            for l in range(j + 1, d):
                s2[c, l, j] = s2[c, j, l]
    return nk, s1, s2, sq, ll, ch


@kernel(parallel=True)
def gauss_rows(X, log_weights, means, prec, log_det, full, out_ll, out_resp, out_labels):
    """Per-row log-likelihood (n,), posterior (n, k), argmax (n,); empty outputs are skipped."""
    n, d = X.shape
    k = means.shape[0]
    pk = 1 if (full and prec.shape[0] > 1) else 0
    want_ll = out_ll.shape[0] > 0
    want_resp = out_resp.shape[0] > 0
    want_lab = out_labels.shape[0] > 0
    block = 16 * CHUNK
    nb = (n + block - 1) // block
    for b in prange(nb):
        XT = np.empty((d, CHUNK))
        D = np.empty((d, CHUNK))
        Y = np.empty((d, CHUNK))
        L = np.empty((k, CHUNK))
        mx = np.empty(CHUNK)
        acc = np.empty(CHUNK)
        bits = np.empty(CHUNK, dtype=np.int64)
        stop = min(n, (b + 1) * block)
        for start in range(b * block, stop, CHUNK):
            m = min(CHUNK, stop - start)
            _load_chunk(X, start, m, XT)
            _chunk_log_joint(XT, m, log_weights, means, prec, log_det, full, pk, D, Y, L)
            if want_lab:
                for r in range(m):
                    pick = 0
                    best = L[0, r]
                    for c in range(1, k):
                        if L[c, r] > best:
                            best = L[c, r]
                            pick = c
                    out_labels[start + r] = pick
            if want_ll or want_resp:
                _chunk_posterior(L, m, k, mx, acc, bits)
                for r in range(m):
                    if want_ll:
                        out_ll[start + r] = mx[r] + math.log(acc[r])
                    if want_resp:
                        inv = 1.0 / acc[r]
                        for c in range(k):
                            out_resp[start + r, c] = L[c, r] * inv


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
def gauss_log_density(X, means, prec, log_det, full, out):
    """``out[i, c]`` = log N(x_i | mean_c, .) in the form given by ``full`` (see gauss_pass)."""
    n, d = X.shape
    k = means.shape[0]
    pk = 1 if (full and prec.shape[0] > 1) else 0
    zero = zeros((k,))
    nb = (n + CHUNK - 1) // CHUNK
    for b in prange(nb):
        XT = np.empty((d, CHUNK))
        D = np.empty((d, CHUNK))
        Y = np.empty((d, CHUNK))
        L = np.empty((k, CHUNK))
        start = b * CHUNK
        m = min(CHUNK, n - start)
        _load_chunk(X, start, m, XT)
        _chunk_log_joint(XT, m, zero, means, prec, log_det, full, pk, D, Y, L)
        for r in range(m):
            for c in range(k):
                out[start + r, c] = L[c, r]
    return out
