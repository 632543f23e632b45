"""Pieces shared by every model's kernels: mode codes, per-chunk weights, reductions."""

import numpy as np

from ._jit import kernel
from ._vmath import exp_nonpos, log_pos
from .rng import open_uniform, scale_by_uniforms, stream_key

# Mode codes understood by every one-pass kernel.
SOFT = 0  # posterior responsibilities
HARD = 1  # one-hot at the most probable component (classification EM)
STOCHASTIC = 2  # one-hot draw from the posterior (stochastic EM)
RANDOM = 3  # random responsibilities (initialisation); ignores the parameters
FIXED = 4  # one-hot at a given label (statistics of a given partition, e.g. k-means)
ROWS = 5  # no statistics: per-row outputs (log-likelihood, posterior, labels, log joints)


# Every one-pass kernel works on chunks of CHUNK rows held transposed, as (features, CHUNK)
# tiles and a (k, CHUNK) tile L of log joint densities, so that inner loops run over rows
# and vectorise. The helpers below turn L into the weights the mode gives each row.
# 256 rows: the calls made once per chunk (these helpers are compiled once and called,
# not inlined) cost little against the work.  Against 64 rows, one serial pass over
# (1e6, 2) data with 3 full components took 0.67x the time, at (1e5, 32) with 16 0.89x.
CHUNK = 256


# The three helpers that every model's pass kernel calls once per chunk are compiled once
# and called, not inlined: Numba would otherwise type and lower their code again inside
# every kernel (seconds of a cold start); per chunk of CHUNK rows a call costs little.
@kernel
def chunk_posterior(L, m, k, mx, acc, bits):
    """Turn L[:, :m] into exp(L - max) in place; acc = row sums.

    The row's log-likelihood is then mx + log(acc) and its posterior L / acc.  Returns the
    number of *lost* rows, whose log joint is -inf under every component (a density below
    float64's range, e.g. a far outlier against narrow components).  If there are any,
    L is left as it was, for the model to repair those rows (``lost_onehot``) before it
    calls this again.
    """
    for r in range(m):
        mx[r] = L[0, r]
    for c in range(1, k):
        for r in range(m):
            mx[r] = max(mx[r], L[c, r])
    lost = np.int64(0)  # not the literal 0: see find_lost
    for r in range(m):
        lost += 0 if mx[r] > -np.inf else 1
    if lost > 0:
        return lost
    for r in range(m):
        acc[r] = 0.0
    for c in range(k):
        row = L[c]
        for r in range(m):
            row[r] -= mx[r]
        exp_nonpos(row, m, bits)
        for r in range(m):
            acc[r] += row[r]
    return lost


@kernel(inline="always")
def find_lost(L, m, k, mx, lost):
    """lost[r] = 1 for the rows of L[:, :m] whose log joint is -inf (or NaN) under every
    component, else 0; returns their number.  ``mx`` is CHUNK-long scratch."""
    for r in range(m):
        mx[r] = L[0, r]
    for c in range(1, k):
        for r in range(m):
            mx[r] = max(mx[r], L[c, r])
    # np.int64, not a bare 0: while Numba infers types it first sees n as the literal 0,
    # and callers given that value compile their callees once more for Literal[int](0)
    n = np.int64(0)
    for r in range(m):
        f = 0 if mx[r] > -np.inf else 1
        lost[r] = f
        n += f
    return n


@kernel  # not inlined: Numba would leave a reference to this dispatcher behind, and
def lost_onehot(L, k, r, best, log_weights):  # at NUMBA_OPT=0 that blocks the cache
    """Log joints of a lost row r: the exact limit of its posterior, all of it on ``best``
    (the component it is least far from, which the model finds in a rescaled
    arithmetic); the prior ``log_weights`` when even that overflowed (best < 0)."""
    for c in range(k):
        if best < 0:
            L[c, r] = log_weights[c]
        else:
            L[c, r] = 0.0 if c == best else -np.inf


@kernel(inline="always")
def chunk_argmax(L, m, k, best, pick):
    """pick[:m] = the first c of largest L[c, r] per row (best[:m]: that value)."""
    for r in range(m):
        best[r] = L[0, r]
        pick[r] = 0
    for c in range(1, k):
        for r in range(m):
            v = L[c, r]
            pick[r] = c if v > best[r] else pick[r]
            best[r] = max(best[r], v)


@kernel(inline="always")
def _loglik_and_scale(L, m, start, w, has_w, mx, acc, cum, pick, lost, n_lost):
    """The chunk's sum of w_i loglik_i; leaves mx[r] = w_i / acc[r], the scale that turns
    exp(L - max) into w_i times the posterior (see ``chunk_weights``)."""
    for r in range(m):
        cum[r] = acc[r]
    log_pos(cum, m, pick)  # cum, pick: scratch until the one-hot modes
    ll = 0.0
    if n_lost > 0:
        for r in range(m):
            wi = w[start + r] if has_w else 1.0
            if wi != 0.0:  # a weight-0 row adds nothing, even at -inf
                ll += -np.inf if lost[r] else wi * (mx[r] + cum[r])
    for r in range(m):
        wi = w[start + r] if has_w else 1.0
        if n_lost == 0:
            ll += wi * (mx[r] + cum[r])
        mx[r] = wi / acc[r]
    return ll


@kernel(inline="always")
def _soft_weights(L, m, k, start, labels, track, mx):
    """Soft EM's weights w_i r_ic into L; returns the label changes when tracked (the
    argmax is the first entry equal to exp(0) = 1)."""
    ch = 0
    if track:
        for r in range(m):
            p = 0
            while p < k - 1 and L[p, r] < 1.0:
                p += 1
            i = start + r
            if labels[i] != p:
                if mx[r] != 0.0:
                    ch += 1
                labels[i] = p
    for c in range(k):
        for r in range(m):
            L[c, r] *= mx[r]
    return ch


@kernel
def chunk_weights_basic(L, m, k, start, w, has_w, mode, seed, stream, labels, track,
                        mx, acc, cum, pick, lost, n_lost, row0):
    """``chunk_weights`` for soft EM and the FIXED mode (the statistics of given labels,
    e.g. of the k-means initialisation's partition) only: what a soft fit compiles."""
    ll = _loglik_and_scale(L, m, start, w, has_w, mx, acc, cum, pick, lost, n_lost)
    if mode == SOFT:
        return ll, _soft_weights(L, m, k, start, labels, track, mx)
    for r in range(m):
        pick[r] = labels[start + r]
    return ll, _one_hot(L, m, k, start, w, has_w, labels, track, mx, pick)


@kernel(inline="always")
def _random_weights(L, m, k, start, w, has_w, seed, stream, row0):
    """Random responsibilities (initialisation only; the parameters are ignored) times w_i:
    uniforms keyed by (seed, stream) and the counter (row, component) in row-major order,
    the row counted from ``row0`` (the chunk's first row in the whole data)."""
    key = stream_key(seed, stream)
    for r in range(m):
        i = start + r
        tot = 0.0
        for c in range(k):
            u = open_uniform(key, (row0 + i) * k + c)
            L[c, r] = u
            tot += u
        wi = w[i] if has_w else 1.0
        for c in range(k):
            L[c, r] *= wi / tot


@kernel
def chunk_weights_random(L, m, k, start, w, has_w, mode, seed, stream, labels, track,
                         mx, acc, cum, pick, lost, n_lost, row0):
    """``chunk_weights`` for the RANDOM mode only (``mode`` is ignored)."""
    ll = _loglik_and_scale(L, m, start, w, has_w, mx, acc, cum, pick, lost, n_lost)
    _random_weights(L, m, k, start, w, has_w, seed, stream, row0)
    return ll, np.int64(0)


@kernel
def chunk_weights(L, m, k, start, w, has_w, mode, seed, stream, labels, track,
                  mx, acc, cum, pick, lost, n_lost, row0):
    """Overwrite L[:, :m] (exp(L - max), row sums acc) with w_i times the mode's weights.

    ``cum`` (float) and ``pick`` (int64) are CHUNK-long scratch.  Every loop
    runs over the rows of the chunk, so the one-hot modes vectorise like the soft one.
    When ``n_lost`` > 0, rows with ``lost[r]`` have a log-likelihood of -inf (below
    float64's range); their weights in L are already the limit posterior.
    ``row0``: the data's first row in the whole data set, so that the random modes draw by
    global row index (a chunked pass draws as an unchunked one).
    Returns (sum_i w_i loglik_i, n_changed) over the chunk.
    """
    ll = _loglik_and_scale(L, m, start, w, has_w, mx, acc, cum, pick, lost, n_lost)
    if mode == SOFT:
        return ll, _soft_weights(L, m, k, start, labels, track, mx)
    if mode == RANDOM:
        _random_weights(L, m, k, start, w, has_w, seed, stream, row0)
        return ll, 0
    if mode == HARD:
        chunk_argmax(L, m, k, cum, pick)
    elif mode == STOCHASTIC:
        # Inverse CDF of the posterior at a keyed uniform u: the label is the number of
        # c < k - 1 whose cumulative weight cum_c is <= u * acc (cum never decreases, so
        # that count picks a c of positive weight). The last component needs no test:
        # cum_{k-1} is acc's own sum, > u * acc. Should rounding ever make the pick the
        # last component while its weight is 0, the row goes to its last positive one.
        scale_by_uniforms(acc, m, seed, stream, row0 + start)  # keyed by the global row
        for r in range(m):
            cum[r] = 0.0
            pick[r] = 0
        for c in range(k - 1):
            for r in range(m):
                cum[r] += L[c, r]
                pick[r] += 1 if cum[r] <= acc[r] else 0
        bad = 0
        for r in range(m):
            bad += 1 if (pick[r] == k - 1 and L[k - 1, r] == 0.0) else 0
        if bad > 0:
            for r in range(m):
                p = pick[r]
                while p > 0 and L[p, r] == 0.0:  # some entry is exp(0) = 1
                    p -= 1
                pick[r] = p
    else:  # FIXED: the given labels
        for r in range(m):
            pick[r] = labels[start + r]
    return ll, _one_hot(L, m, k, start, w, has_w, labels, track, mx, pick)


@kernel(inline="always")
def _one_hot(L, m, k, start, w, has_w, labels, track, mx, pick):
    """L = w_i one-hot at pick[r]; labels updated when tracked; returns their changes."""
    ch = 0
    if track:
        for r in range(m):
            i = start + r
            if labels[i] != pick[r]:
                if mx[r] != 0.0:  # a weight-0 row is a removed row: its label does not count
                    ch += 1
                labels[i] = pick[r]
    for c in range(k):
        if has_w:
            for r in range(m):
                L[c, r] = w[start + r] if pick[r] == c else 0.0
        else:
            for r in range(m):
                L[c, r] = 1.0 if pick[r] == c else 0.0
    return ch


@kernel
def chunk_outputs(L, m, k, start, coef, mx, acc, bits, lost, n_lost, out_ll, out_resp,
                  out_labels, out_logd):
    """Write a chunk's per-row outputs from its log joints L[:, :m] (L is consumed).

    ``coef[:m]`` is a per-row term of every log density that does not depend on the
    component (the binomial coefficient; zeros where there is none).  Each output is
    skipped when passed empty: ``out_logd`` (n, k) log joints, ``out_labels`` (n,) first
    argmax, ``out_ll`` (n,) log-likelihood, ``out_resp`` (n, k) posterior.  ``mx``,
    ``acc`` (float) and ``bits`` (int64) are CHUNK-long scratch.  When ``n_lost`` > 0,
    rows with ``lost[r]`` (see ``find_lost``) hold their limit posterior in L; their
    log joints and log-likelihood are -inf.
    """
    if out_logd.shape[0] > 0:
        for r in range(m):
            for c in range(k):
                out_logd[start + r, c] = L[c, r] + coef[r]
        if n_lost > 0:
            for r in range(m):
                if lost[r]:
                    for c in range(k):
                        out_logd[start + r, c] = -np.inf
    if out_labels.shape[0] > 0:
        chunk_argmax(L, m, k, mx, bits)  # mx, bits: scratch here
        for r in range(m):
            out_labels[start + r] = bits[r]
    want_ll = out_ll.shape[0] > 0
    if want_ll or out_resp.shape[0] > 0:
        chunk_posterior(L, m, k, mx, acc, bits)
        if out_resp.shape[0] > 0:
            for r in range(m):
                inv = 1.0 / acc[r]
                for c in range(k):
                    out_resp[start + r, c] = L[c, r] * inv
        if want_ll:
            log_pos(acc, m, bits)
            for r in range(m):
                out_ll[start + r] = mx[r] + acc[r] + coef[r]
            if n_lost > 0:
                for r in range(m):
                    if lost[r]:
                        out_ll[start + r] = -np.inf


@kernel
def sum_blocks(p):
    """Sum over the first axis, block 0 first (for compiled callers; the Python driver
    adds in the same order)."""
    nb = p.shape[0]
    flat = p.reshape((nb, -1))
    out = np.zeros(flat.shape[1], dtype=p.dtype)
    for b in range(nb):
        for j in range(flat.shape[1]):
            out[j] += flat[b, j]
    return out.reshape(p.shape[1:])
