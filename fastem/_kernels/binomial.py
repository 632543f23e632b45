"""Binomial (coin) mixture kernels.

Data layout: ``X`` (n, d) counts as float32 or float64; ``T`` trials of the same dtype,
shape (1 or n, 1 or d) and broadcast over X by index (no broadcast copy is made);
``w`` per-row weights (n,) float64, or an empty array for unit weights.  Parameters
(``log_weights`` (k,), ``probs`` (k, d)) and every accumulator are float64.
"""

import math

import numpy as np
from numba import prange

from ._common import (
    plain,
    CHUNK,
    chunk_outputs,
    chunk_posterior,
    chunk_weights,
    find_lost,
    izeros,
    lost_onehot,
    log_pq,
    sum_blocks,
    zeros,
)
from ._jit import kernel
from ._state import serial_only

BLOCK = 4096  # rows per parallel block; fixed, so results never depend on the thread count
_TINY_SCALE = 2.0**-600
_MAX_TRIALS = 2.0**53  # above this, float64 no longer holds every integer


@kernel(inline="always")
def _load_chunk(X, T, start, m, tn, td, XT, FT):
    """XT[j, r] = x, FT[j, r] = t - x (failures) for rows start..start+m, as float64.

    The common trials layouts get their own loops (LLVM cannot vectorise ``T[i * tn, j * td]``
    with strides only known at run time).
    """
    d = X.shape[1]
    if tn == 0 and td == 0:  # one number of trials for everything (coin tosses)
        t = np.float64(T[0, 0])
        for j in range(d):
            for r in range(m):
                x = np.float64(X[start + r, j])
                XT[j, r] = x
                FT[j, r] = t - x
    elif tn == 1 and td == 0:  # trials per row
        for j in range(d):
            for r in range(m):
                x = np.float64(X[start + r, j])
                XT[j, r] = x
                FT[j, r] = np.float64(T[start + r, 0]) - x
    else:
        for r in range(m):
            i = start + r
            for j in range(d):
                x = np.float64(X[i, j])
                XT[j, r] = x
                FT[j, r] = np.float64(T[i * tn, j * td]) - x


@kernel(inline="always")
def _chunk_log_joint(XT, FT, m, log_weights, lp, lq, L):
    """L[c, :m] = log w_c + sum_j x log p_cj + (t - x) log(1 - p_cj) (no coefficients)."""
    k, d = lp.shape
    for c in range(k):
        lw = log_weights[c]
        for r in range(m):
            L[c, r] = lw
        for j in range(d):
            a = lp[c, j]
            q = lq[c, j]
            for r in range(m):
                L[c, r] += XT[j, r] * a + FT[j, r] * q


@kernel
def _chunk_rescue(XT, FT, m, log_weights, lp, lq, L, lost):
    """Repair the lost rows of a chunk's log joints L (every component -inf, which takes
    counts near 1e307); returns their number and sets ``lost[:m]``.  The limit posterior is
    all on the component with the largest log joint, compared here with the counts
    scaled by 2**-600 (see the Gaussian ``_chunk_rescue``)."""
    k, d = lp.shape
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
        best = -1
        best_s = -np.inf
        for c in range(k):
            if log_weights[c] == -np.inf:
                continue
            t = 0.0
            for j in range(d):
                t += XT[j, r] * _TINY_SCALE * lp[c, j] + FT[j, r] * _TINY_SCALE * lq[c, j]
            if t > best_s:
                best_s = t
                best = c
        lost_onehot(L, k, r, best, log_weights)
    return n


@kernel(inline="always")
def _chunk_log_coef(XT, FT, m, out):
    """out[:m] = sum_j log C(t, x) per row (lgamma is scalar libm: used off the EM loop)."""
    for r in range(m):
        s = 0.0
        for j in range(XT.shape[0]):
            x = XT[j, r]
            f = FT[j, r]
            s += math.lgamma(x + f + 1.0) - math.lgamma(x + 1.0) - math.lgamma(f + 1.0)
        out[r] = s


@kernel
def _pass_block(X, T, lo, hi, tn, td, w, log_weights, lp, lq, mode, seed, stream, labels,
                nk, sx, sf):
    """Rows lo..hi of one EM pass: adds to nk, sum x, sum (t - x); returns (loglik, n_changed).

    A serial function per parallel block (see the Gaussian ``_pass_block`` for why).
    """
    d = X.shape[1]
    k = lp.shape[0]
    has_w = w.shape[0] > 0
    track = labels.shape[0] > 0
    XT = np.empty((d, CHUNK))
    FT = np.empty((d, CHUNK))
    L = np.empty((k, CHUNK))
    f = np.empty((3, CHUNK))
    mx, acc, cum = f[0], f[1], f[2]
    ib = np.empty((3, CHUNK), dtype=np.int64)
    bits, pick, lost = ib[0], ib[1], ib[2]
    ll = 0.0
    ch = 0
    for start in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - start)
        _load_chunk(X, T, start, m, tn, td, XT, FT)
        _chunk_log_joint(XT, FT, m, log_weights, lp, lq, L)
        n_lost = chunk_posterior(L, m, k, mx, acc, bits)
        if n_lost > 0:  # log joints beyond float64's range under every component
            _chunk_log_joint(XT, FT, m, log_weights, lp, lq, L)
            _chunk_rescue(XT, FT, m, log_weights, lp, lq, L, lost)
            chunk_posterior(L, m, k, mx, acc, bits)
        cll, cch = chunk_weights(L, m, k, start, w, has_w, mode, seed, stream, labels,
                                 track, mx, acc, cum, pick, lost, n_lost)
        ll += cll
        ch += cch
        for c in range(k):  # L now holds w_i * r_ic
            R = L[c]
            t = 0.0
            for r in range(m):
                t += R[r]
            if t == 0.0:
                continue
            nk[c] += t
            for j in range(d):
                a = 0.0
                e = 0.0
                for r in range(m):
                    a += R[r] * XT[j, r]
                    e += R[r] * FT[j, r]
                sx[c, j] += a
                sf[c, j] += e
    return ll, ch


@kernel(parallel=True)
def _pass_blocks(X, T, tn, td, w, log_weights, lp, lq, mode, seed, stream, labels, block,
                 p_nk, p_sx, p_sf, p_ll, p_ch):
    """The blocks of ``binomial_pass`` on Numba's thread pool (the same loop as its serial path)."""
    n = X.shape[0]
    for b in prange(p_ll.shape[0]):
        p_ll[b], p_ch[b] = _pass_block(X, T, b * block, min(n, (b + 1) * block), tn, td, w,
                                       log_weights, lp, lq, mode, seed, stream, labels,
                                       p_nk[b], p_sx[b], p_sf[b])


@kernel
def binomial_pass(X, T, w, log_weights, probs, mode, seed, stream, labels, block):
    """One EM pass: E-step in the given mode plus the weighted sufficient statistics.

    Returns ``(nk (k,), sum_x (k, d), sum_t (k, d), loglik, n_changed)`` where
    ``loglik = sum_i w_i log sum_c exp(log_weights_c + sum_j [x log p + (t-x) log(1-p)])``
    (the binomial coefficients are left out: they do not depend on the parameters) and
    ``n_changed`` counts rows of positive weight whose label differs from ``labels`` (updated in place;
    pass an empty int32 array to skip label tracking).  Rows go through in chunks of
    CHUNK transposed rows (see ``_common``), so every inner loop vectorises.
    """
    n, d = X.shape
    k = probs.shape[0]
    lp, lq = log_pq(probs)
    tn = 1 if T.shape[0] > 1 else 0
    td = 1 if T.shape[1] > 1 else 0
    nb = (n + block - 1) // block
    p_nk = np.zeros((nb, k))
    p_sx = np.zeros((nb, k, d))
    p_sf = np.zeros((nb, k, d))
    p_ll = np.zeros(nb)
    p_ch = np.zeros(nb, dtype=np.int64)
    if serial_only():
        for b in range(nb):
            p_ll[b], p_ch[b] = _pass_block(X, T, b * block, min(n, (b + 1) * block), tn, td, w,
                                           log_weights, lp, lq, mode, seed, stream, labels,
                                           p_nk[b], p_sx[b], p_sf[b])
    else:
        _pass_blocks(X, T, tn, td, w, log_weights, lp, lq, mode, seed, stream, labels, block,
                     p_nk, p_sx, p_sf, p_ll, p_ch)
    # Fixed-order reduction: the result does not depend on the thread count.
    nk = sum_blocks(p_nk)
    sx = sum_blocks(p_sx)
    st = sum_blocks(p_sf)
    for c in range(k):
        for j in range(d):
            st[c, j] += sx[c, j]
    ll = sum_blocks(p_ll)[()]
    ch = sum_blocks(p_ch)[()]
    return nk, sx, st, ll, ch


@kernel
def _rows_block(X, T, lo, hi, tn, td, log_weights, lp, lq, with_coef, out_ll, out_resp,
                out_labels, out_logd):
    """Rows lo..hi of ``binomial_rows``."""
    d = X.shape[1]
    k = lp.shape[0]
    XT = np.empty((d, CHUNK))
    FT = np.empty((d, CHUNK))
    L = np.empty((k, CHUNK))
    f = np.empty((3, CHUNK))
    mx, acc, coef = f[0], f[1], f[2]
    ib = np.empty((2, CHUNK), dtype=np.int64)
    bits, lost = ib[0], ib[1]
    for start in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - start)
        _load_chunk(X, T, start, m, tn, td, XT, FT)
        _chunk_log_joint(XT, FT, m, log_weights, lp, lq, L)
        if with_coef:
            _chunk_log_coef(XT, FT, m, coef)
        else:
            for r in range(m):
                coef[r] = 0.0
        n_lost = find_lost(L, m, k, mx, lost)
        if n_lost > 0:
            _chunk_rescue(XT, FT, m, log_weights, lp, lq, L, lost)
        chunk_outputs(L, m, k, start, coef, mx, acc, bits, lost, n_lost, out_ll, out_resp,
                      out_labels, out_logd)


@kernel(parallel=True)
def _rows_blocks(X, T, tn, td, log_weights, lp, lq, with_coef, block, out_ll, out_resp,
                 out_labels, out_logd):
    """The blocks of ``binomial_rows`` on Numba's thread pool."""
    n = X.shape[0]
    for b in prange((n + block - 1) // block):
        _rows_block(X, T, b * block, min(n, (b + 1) * block), tn, td, log_weights, lp, lq,
                    with_coef, out_ll, out_resp, out_labels, out_logd)


@kernel
def binomial_rows(X, T, log_weights, probs, with_coef, out_ll, out_resp, out_labels,
                  out_logd):
    """Per-row outputs at fixed parameters; each output is skipped when passed empty.

    ``out_ll`` (n,): log-likelihood of the row (with binomial coefficients when
    ``with_coef``); ``out_resp`` (n, k): posterior; ``out_labels`` (n,): argmax;
    ``out_logd`` (n, k): log weight + log density of each component.
    """
    n = X.shape[0]
    lp, lq = log_pq(probs)
    tn = 1 if T.shape[0] > 1 else 0
    td = 1 if T.shape[1] > 1 else 0
    block = 16 * CHUNK
    if serial_only():
        for b in range((n + block - 1) // block):
            _rows_block(X, T, b * block, min(n, (b + 1) * block), tn, td, log_weights, lp, lq,
                        with_coef, out_ll, out_resp, out_labels, out_logd)
    else:
        _rows_blocks(X, T, tn, td, log_weights, lp, lq, with_coef, block, out_ll, out_resp,
                     out_labels, out_logd)


@kernel
def _coef_block(X, T, w, lo, hi, tn, td):
    """Rows lo..hi of ``binomial_log_coef_sum``."""
    d = X.shape[1]
    has_w = w.shape[0] > 0
    XT = np.empty((d, CHUNK))
    FT = np.empty((d, CHUNK))
    coef = np.empty(CHUNK)
    s = 0.0
    for start in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - start)
        _load_chunk(X, T, start, m, tn, td, XT, FT)
        _chunk_log_coef(XT, FT, m, coef)
        for r in range(m):
            wi = w[start + r] if has_w else 1.0
            if wi != 0.0:
                s += wi * coef[r]
    return s


@kernel(parallel=True)
def _coef_blocks(X, T, w, tn, td, block, part):
    n = X.shape[0]
    for b in prange(part.shape[0]):
        part[b] = _coef_block(X, T, w, b * block, min(n, (b + 1) * block), tn, td)


@kernel
def binomial_log_coef_sum(X, T, w, block):
    """``sum_i w_i sum_j log C(t_ij, x_ij)`` with a fixed-order block reduction."""
    n, d = X.shape
    tn = 1 if T.shape[0] > 1 else 0
    td = 1 if T.shape[1] > 1 else 0
    nb = (n + block - 1) // block
    part = np.zeros(nb)
    if serial_only():
        for b in range(nb):
            part[b] = _coef_block(X, T, w, b * block, min(n, (b + 1) * block), tn, td)
    else:
        _coef_blocks(X, T, w, tn, td, block, part)
    return sum_blocks(part)[()]


@kernel
def binomial_log_density(X, T, probs, out):
    """``out[i, c] = sum_j log Binom(x_ij | t_ij, probs[c, j])`` (coefficients included)."""
    binomial_rows(X, T, zeros((probs.shape[0],)), probs, plain(True), zeros((0,)), zeros((0, 0)),
                  izeros(0), out)
    return out


@kernel
def binomial_mstep(nk, sx, st, weights, probs, eps, fit_weights):
    """M-step in place from the statistics; a component with no weight keeps its probs.

    Returns the number of components that received no weight.
    """
    k, d = probs.shape
    empty = 0
    tot = 0.0
    for c in range(k):
        tot += nk[c]
    for c in range(k):
        if nk[c] <= 0.0:
            empty += 1
        for j in range(d):
            if st[c, j] > 0.0:
                p = sx[c, j] / st[c, j]
                probs[c, j] = min(max(p, eps), 1.0 - eps)
        if fit_weights:
            weights[c] = nk[c] / tot
    return empty


@kernel
def check_counts(X, T):
    """First problem in counts X against trials T as (code, row, col); code 0 = none.

    Codes: 1 X not finite, 2 X negative, 3 X not an integer, 4 T not finite,
    5 T below 1, 6 T not an integer, 7 X above T, 8 T above 2**53 (beyond exact integers).
    """
    n, d = X.shape
    tn = 1 if T.shape[0] > 1 else 0
    td = 1 if T.shape[1] > 1 else 0
    for i in range(n):
        for j in range(d):
            x = X[i, j]
            t = T[i * tn, j * td]
            if not math.isfinite(x):
                return 1, i, j
            if x < 0:
                return 2, i, j
            # np.floor stays float: math.floor gives an int64, undefined beyond 2**63.
            if x != np.floor(x):
                return 3, i, j
            if not math.isfinite(t):
                return 4, i, j
            if t < 1:
                return 5, i, j
            if t != np.floor(t):
                return 6, i, j
            if x > t:
                return 7, i, j
            if t > _MAX_TRIALS:
                return 8, i, j
    return 0, -1, -1


@kernel
def row_code_weights(X, T, w, x_radix, t_radix, n_codes):
    """Sum of row weights per distinct row, rows encoded in mixed radix.

    A row's code is built from its counts (radix ``x_radix[j]`` = max count + 1) and, when
    trials vary by row (``T`` has n rows), its trials (radix ``t_radix[j]``).  Returns a
    float64 table of length ``n_codes`` (weight per code; weight-0 rows add nothing).
    """
    n, d = X.shape
    has_w = w.shape[0] > 0
    per_row_t = T.shape[0] > 1
    td = 1 if T.shape[1] > 1 else 0
    table = np.zeros(n_codes)
    for i in range(n):
        code = 0
        for j in range(d):
            code = code * x_radix[j] + np.int64(X[i, j])
        if per_row_t:
            for j in range(T.shape[1]):
                code = code * t_radix[j] + np.int64(T[i, j * td])
        table[code] += w[i] if has_w else 1.0
    return table
