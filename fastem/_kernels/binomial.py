"""Binomial (coin) mixture kernels.

Data layout: ``X`` (n, d) counts as float32 or float64; ``T`` trials of the same dtype,
shape (1 or n, 1 or d) and broadcast over X by index (no broadcast copy is made);
``w`` per-row weights (n,) float64, or an empty array for unit weights.  Parameters
(``log_weights`` (k,), ``probs`` (k, d)) and every accumulator are float64.
"""

import math

import numpy as np
from numba import prange

from ._common import izeros, log_pq, logsumexp_row, mode_weights, sum_blocks, zeros
from ._jit import kernel

BLOCK = 4096  # rows per parallel block; fixed, so results never depend on the thread count


@kernel(inline="always")
def _log_joint(X, T, i, tn, td, log_weights, lp, lq, buf):
    k, d = lp.shape
    ti = i * tn
    for c in range(k):
        s = log_weights[c]
        for j in range(d):
            x = X[i, j]
            s += x * lp[c, j] + (T[ti, j * td] - x) * lq[c, j]
        buf[c] = s


@kernel(inline="always")
def _log_coef_row(X, T, i, tn, td):
    s = 0.0
    ti = i * tn
    for j in range(X.shape[1]):
        x = np.float64(X[i, j])
        t = np.float64(T[ti, j * td])
        s += math.lgamma(t + 1.0) - math.lgamma(x + 1.0) - math.lgamma(t - x + 1.0)
    return s


@kernel(parallel=True)
def binomial_pass(X, T, w, log_weights, probs, mode, seed, stream, labels, block):
    """One EM pass: E-step in the given mode plus the weighted sufficient statistics.

    Returns ``(nk (k,), sum_x (k, d), sum_t (k, d), loglik, n_changed)`` where
    ``loglik = sum_i w_i log sum_c exp(log_weights_c + sum_j [x log p + (t-x) log(1-p)])``
    (the binomial coefficients are left out: they do not depend on the parameters) and
    ``n_changed`` counts rows of positive weight whose label differs from ``labels`` (updated in place;
    pass an empty int32 array to skip label tracking).
    """
    n, d = X.shape
    k = probs.shape[0]
    lp, lq = log_pq(probs)
    tn = 1 if T.shape[0] > 1 else 0
    td = 1 if T.shape[1] > 1 else 0
    has_w = w.shape[0] > 0
    track = labels.shape[0] > 0
    nb = (n + block - 1) // block
    p_nk = zeros((nb, k))
    p_sx = zeros((nb, k, d))
    p_st = zeros((nb, k, d))
    p_ll = zeros((nb,))
    p_ch = izeros(nb)
    for b in prange(nb):
        buf = np.empty(k)
        resp = np.empty(k)
        ll = 0.0
        ch = 0
        for i in range(b * block, min(n, (b + 1) * block)):
            wi = w[i] if has_w else 1.0
            _log_joint(X, T, i, tn, td, log_weights, lp, lq, buf)
            lse, am = logsumexp_row(buf, k)
            ll += wi * lse
            lab = mode_weights(buf, k, lse, am, mode, seed, stream, i, 0, resp)
            if track and labels[i] != lab:
                if wi != 0.0:  # a weight-0 row is a removed row: its label does not count
                    ch += 1
                labels[i] = lab
            ti = i * tn
            for c in range(k):
                r = wi * resp[c]
                if r != 0.0:
                    p_nk[b, c] += r
                    for j in range(d):
                        p_sx[b, c, j] += r * X[i, j]
                        p_st[b, c, j] += r * T[ti, j * td]
        p_ll[b] = ll
        p_ch[b] = ch
    # Fixed-order reduction: the result does not depend on the thread count.
    nk = sum_blocks(p_nk)
    sx = sum_blocks(p_sx)
    st = sum_blocks(p_st)
    ll = sum_blocks(p_ll)[()]
    ch = sum_blocks(p_ch)[()]
    return nk, sx, st, ll, ch


@kernel(parallel=True)
def binomial_rows(X, T, log_weights, probs, with_coef, out_ll, out_resp, out_labels):
    """Per-row outputs at fixed parameters; each output is skipped when passed empty.

    ``out_ll`` (n,): log-likelihood of the row (with binomial coefficients when
    ``with_coef``); ``out_resp`` (n, k): posterior; ``out_labels`` (n,): argmax.
    """
    n, d = X.shape
    k = probs.shape[0]
    lp, lq = log_pq(probs)
    tn = 1 if T.shape[0] > 1 else 0
    td = 1 if T.shape[1] > 1 else 0
    want_ll = out_ll.shape[0] > 0
    want_resp = out_resp.shape[0] > 0
    want_lab = out_labels.shape[0] > 0
    block = 1024
    nb = (n + block - 1) // block
    for b in prange(nb):
        buf = np.empty(k)
        for i in range(b * block, min(n, (b + 1) * block)):
            _log_joint(X, T, i, tn, td, log_weights, lp, lq, buf)
            lse, am = logsumexp_row(buf, k)
            if want_ll:
                out_ll[i] = lse + _log_coef_row(X, T, i, tn, td) if with_coef else lse
            if want_resp:
                for c in range(k):
                    out_resp[i, c] = math.exp(buf[c] - lse)
            if want_lab:
                out_labels[i] = am


@kernel(parallel=True)
def binomial_log_coef_sum(X, T, w, block):
    """``sum_i w_i sum_j log C(t_ij, x_ij)`` with a fixed-order block reduction."""
    n = X.shape[0]
    tn = 1 if T.shape[0] > 1 else 0
    td = 1 if T.shape[1] > 1 else 0
    has_w = w.shape[0] > 0
    nb = (n + block - 1) // block
    part = zeros((nb,))
    for b in prange(nb):
        s = 0.0
        for i in range(b * block, min(n, (b + 1) * block)):
            wi = w[i] if has_w else 1.0
            if wi != 0.0:
                s += wi * _log_coef_row(X, T, i, tn, td)
        part[b] = s
    return sum_blocks(part)[()]


@kernel(parallel=True)
def binomial_log_density(X, T, probs, out):
    """``out[i, c] = sum_j log Binom(x_ij | t_ij, probs[c, j])`` (coefficients included)."""
    n, d = X.shape
    k = probs.shape[0]
    lp, lq = log_pq(probs)
    tn = 1 if T.shape[0] > 1 else 0
    td = 1 if T.shape[1] > 1 else 0
    zero = zeros((k,))
    for i in prange(n):
        buf = np.empty(k)
        _log_joint(X, T, i, tn, td, zero, lp, lq, buf)
        coef = _log_coef_row(X, T, i, tn, td)
        for c in range(k):
            out[i, c] = buf[c] + coef
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
    5 T below 1, 6 T not an integer, 7 X above T.
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
            if x != math.floor(x):
                return 3, i, j
            if not math.isfinite(t):
                return 4, i, j
            if t < 1:
                return 5, i, j
            if t != math.floor(t):
                return 6, i, j
            if x > t:
                return 7, i, j
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
