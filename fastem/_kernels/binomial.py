"""Binomial (coin) mixture kernels.

Data layout: ``X`` (n, d) counts as float32 or float64; ``T`` trials of the same dtype,
shape (1 or n, 1 or d) and broadcast over X by index (no broadcast copy is made).  Both
come in two slots, float32 (``XS``, ``TS``) and float64 (``XD``, ``TD``), the unused pair
empty, so that one compiled kernel serves both dtypes (see ``_jit``).
``w`` per-row weights (n,) float64, or an empty array for unit weights.  Parameters
(``log_weights`` (k,), ``probs`` (k, d)) and every accumulator are float64.
"""

import math

import numba
import numpy as np

from . import gaussian as _kg
from ._common import CHUNK, find_lost, lost_onehot
from ._jit import BOOL, I32, I64, INT, NONE, SEED, Piece, Slot, c_array, data, kernel, ro, rw
_TINY_SCALE = 2.0**-600


@kernel
def _load_chunk(XS, XD, TS, TD, start, m, tn, td, XT, FT):
    """XT = counts, FT = failures of rows start..start+m, transposed, from the used slot."""
    if XD.shape[0] > 0:
        _load_from(XD, TD, start, m, tn, td, XT, FT)
    else:
        _load_from(XS, TS, start, m, tn, td, XT, FT)


@kernel(inline="always")
def _load_from(X, T, start, m, tn, td, XT, FT):
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


@kernel
def _load_chunk_missing(XS, XD, TS, TD, start, m, tn, td, XT, FT):
    """``_load_chunk`` for counts with missing cells (NaN): a missing cell loads as 0
    successes and 0 failures, so that its factor leaves the likelihood (log 1 = 0), its
    trials leave the statistics and its binomial coefficient is log C(0, 0) = 0, with no
    branch in the kernels that read XT and FT.  A row with every cell missing then gets
    the mixing weights as posterior and log-likelihood 0."""
    if XD.shape[0] > 0:
        _load_missing_from(XD, TD, start, m, tn, td, XT, FT)
    else:
        _load_missing_from(XS, TS, start, m, tn, td, XT, FT)


@kernel(inline="always")
def _load_missing_from(X, T, start, m, tn, td, XT, FT):
    d = X.shape[1]
    for r in range(m):
        i = start + r
        for j in range(d):
            x = np.float64(X[i, j])
            seen = x == x
            XT[j, r] = x if seen else 0.0
            FT[j, r] = (np.float64(T[i * tn, j * td]) - x) if seen else 0.0


@kernel
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
        best = np.int64(-1)  # not the literal -1: see find_lost
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


@kernel
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
def _chunk_stats(XT, FT, m, L, b, p_nk, p_sx, p_sf):
    """Add the chunk's statistics (L holds w_i r_ic) into block b's slots: ``p_nk[b]`` (k,)
    sum of w_i r_ic, ``p_sx[b]`` (k, d) sum w_i r_ic x, ``p_sf[b]`` (k, d) sum w_i r_ic
    (t - x)."""
    d = XT.shape[0]
    for c in range(L.shape[0]):
        R = L[c]
        t = 0.0
        for r in range(m):
            t += R[r]
        if t == 0.0:
            continue
        p_nk[b, c] += t
        for j in range(d):
            a = 0.0
            e = 0.0
            for r in range(m):
                a += R[r] * XT[j, r]
                e += R[r] * FT[j, r]
            p_sx[b, c, j] += a
            p_sf[b, c, j] += e


# --------------------------------------------------------------------------- slots, pieces
# As the Gaussian kernels (see ``_jit.Slot``): the kernels below are loops over chunks that
# call their pieces through a table of addresses; posterior, weights and per-row outputs
# are the Gaussian model's own pieces (the same compiled functions).
_C2, _C1, _I1 = c_array(2), c_array(1), c_array(1, I64)
BLOAD = Slot("binomial_load", NONE, (*data(), *data(), INT, INT, INT, INT, _C2, _C2))
BLOGJ = Slot("binomial_log_joint", NONE, (_C2, _C2, INT, ro(1), ro(2), ro(2), _C2))
BRESCUE = Slot("binomial_rescue", I64, (_C2, _C2, INT, ro(1), ro(2), ro(2), _C2, _I1))
BSTATS = Slot("binomial_stats", NONE, (_C2, _C2, INT, _C2, INT, rw(2), rw(3), rw(3)))
BCOEF = Slot("binomial_coef", NONE, (_C2, _C2, INT, _C1))

_call_load = BLOAD.call
_call_log_joint = BLOGJ.call
_call_rescue = BRESCUE.call
_call_stats = BSTATS.call
_call_coef = BCOEF.call
_call_posterior = _kg.POSTERIOR.call
_call_weights = _kg.WEIGHTS.call
_call_outputs = _kg.OUTPUTS.call

PIECES = {
    "load": Piece("binomial_load", _load_chunk, BLOAD),
    "load_missing": Piece("binomial_load_missing", _load_chunk_missing, BLOAD),
    "log_joint": Piece("binomial_log_joint", _chunk_log_joint, BLOGJ),
    "rescue": Piece("binomial_rescue", _chunk_rescue, BRESCUE),
    "stats": Piece("binomial_stats", _chunk_stats, BSTATS),
    "coef": Piece("binomial_coef", _chunk_log_coef, BCOEF),
}


def _load(missing):
    return PIECES["load_missing" if missing else "load"]


def pass_pieces(mode, missing=False):
    """The pieces (in slot order) of the statistics kernel for a mode (``missing``: the
    counts have NaN cells)."""
    return [_load(missing), PIECES["log_joint"], _kg.PIECES["posterior"], PIECES["rescue"],
            _kg.PIECES[_kg.weights_piece(mode)], PIECES["stats"]]


def rows_pieces(missing=False):
    """The pieces (in slot order) of the per-row kernel."""
    return [_load(missing), PIECES["log_joint"], PIECES["rescue"], PIECES["coef"],
            _kg.PIECES["outputs"]]


def coef_pieces(missing=False):
    """The pieces (in slot order) of ``coef_blocks``."""
    return [_load(missing), PIECES["coef"]]


# The kernels run the row blocks b0..b1 (rows b * block .. (b + 1) * block), each block
# adding into its own slot b of the partials (see the Gaussian kernels).  ``lp``, ``lq``
# (k, d): log p and log(1 - p).  Per block b: the statistics of ``_chunk_stats``,
# ``p_ll[b]`` sum w_i log p(x_i) without the binomial coefficients (they do not depend on
# the parameters), ``p_ch[b]`` labels changed.  The per-row kernel writes the per-row
# outputs instead (coefficients included when ``with_coef``), each skipped when passed
# empty: ``out_ll`` (n,), ``out_resp`` (n, k), ``out_labels`` (n,), ``out_logd`` (n, k).
@kernel
def binomial_blocks(b0, b1, block, XS, XD, TS, TD, w, log_weights, lp, lq, with_coef, mode,
                    seed, stream, labels, p_nk, p_sx, p_sf, p_ll, p_ch, out_ll, out_resp,
                    out_labels, out_logd, fns, row0):
    """Statistics pass over the row blocks b0..b1 (``fns``: ``pass_pieces``; ``row0``: the
    first row's index in the whole data)."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = lp.shape
    tn = 1 if max(TS.shape[0], TD.shape[0]) > 1 else 0
    td = 1 if max(TS.shape[1], TD.shape[1]) > 1 else 0
    has_w = w.shape[0] > 0
    track = labels.shape[0] > 0
    XT = np.empty((d, CHUNK))
    FT = np.empty((d, CHUNK))
    L = np.empty((k, CHUNK))
    f = np.zeros((3, CHUNK))
    mx, acc, cum = f[0], f[1], f[2]
    ib = np.empty((3, CHUNK), dtype=np.int64)
    bits, pick, lost = ib[0], ib[1], ib[2]
    for b in range(b0, b1):
        lo = b * block
        hi = min(n, lo + block)
        ll = 0.0
        ch = 0
        for start in range(lo, hi, CHUNK):
            m = min(CHUNK, hi - start)
            _call_load(fns[0], XS, XD, TS, TD, start, m, tn, td, XT, FT)
            _call_log_joint(fns[1], XT, FT, m, log_weights, lp, lq, L)
            n_lost = _call_posterior(fns[2], L, m, k, mx, acc, bits)
            if n_lost > 0:  # L was left as it was: repair the lost rows, then normalise
                _call_rescue(fns[3], XT, FT, m, log_weights, lp, lq, L, lost)
                _call_posterior(fns[2], L, m, k, mx, acc, bits)
            cll, cch = _call_weights(fns[4], L, m, k, start, w, has_w, mode, seed, stream,
                                     labels, track, mx, acc, cum, pick, lost, n_lost, row0)
            ll += cll
            ch += cch
            _call_stats(fns[5], XT, FT, m, L, b, p_nk, p_sx, p_sf)
        p_ll[b] = ll
        p_ch[b] = ch


@kernel
def binomial_rows_blocks(b0, b1, block, XS, XD, TS, TD, w, log_weights, lp, lq, with_coef,
                         mode, seed, stream, labels, p_nk, p_sx, p_sf, p_ll, p_ch, out_ll,
                         out_resp, out_labels, out_logd, fns, row0):
    """Per-row outputs over the row blocks b0..b1 (``fns``: ``rows_pieces``)."""
    n = max(XS.shape[0], XD.shape[0])
    k, d = lp.shape
    tn = 1 if max(TS.shape[0], TD.shape[0]) > 1 else 0
    td = 1 if max(TS.shape[1], TD.shape[1]) > 1 else 0
    XT = np.empty((d, CHUNK))
    FT = np.empty((d, CHUNK))
    L = np.empty((k, CHUNK))
    f = np.zeros((3, CHUNK))
    mx, acc, coef = f[0], f[1], f[2]
    ib = np.empty((2, CHUNK), dtype=np.int64)
    bits, lost = ib[0], ib[1]
    end = min(n, b1 * block)
    for start in range(b0 * block, end, CHUNK):
        m = min(CHUNK, end - start)
        _call_load(fns[0], XS, XD, TS, TD, start, m, tn, td, XT, FT)
        _call_log_joint(fns[1], XT, FT, m, log_weights, lp, lq, L)
        n_lost = find_lost(L, m, k, mx, lost)
        if n_lost > 0:  # log joints beyond float64's range under every component
            _call_rescue(fns[2], XT, FT, m, log_weights, lp, lq, L, lost)
        if with_coef:
            _call_coef(fns[3], XT, FT, m, coef)
        _call_outputs(fns[4], L, m, k, start, coef, mx, acc, bits, lost, n_lost, out_ll,
                      out_resp, out_labels, out_logd)


PASS_SIGNATURE = (INT, INT, INT, *data(), *data(), ro(1), ro(1), ro(2), ro(2), BOOL, INT, SEED,
                  INT, rw(1, I32), rw(2), rw(3), rw(3), rw(1), rw(1, I64), rw(1), rw(2),
                  rw(1, I64), rw(2), ro(1, I64), INT)


@kernel
def coef_blocks(b0, b1, block, XS, XD, TS, TD, w, part, fns):
    """part[b] = sum over the rows of block b of w_i sum_j log C(t_ij, x_ij) (``fns``:
    ``coef_pieces``)."""
    n = max(XS.shape[0], XD.shape[0])
    d = max(XS.shape[1], XD.shape[1])
    tn = 1 if max(TS.shape[0], TD.shape[0]) > 1 else 0
    td = 1 if max(TS.shape[1], TD.shape[1]) > 1 else 0
    has_w = w.shape[0] > 0
    XT = np.empty((d, CHUNK))
    FT = np.empty((d, CHUNK))
    coef = np.empty(CHUNK)
    for b in range(b0, b1):
        lo = b * block
        hi = min(n, lo + block)
        s = 0.0
        for start in range(lo, hi, CHUNK):
            m = min(CHUNK, hi - start)
            _call_load(fns[0], XS, XD, TS, TD, start, m, tn, td, XT, FT)
            _call_coef(fns[1], XT, FT, m, coef)
            for r in range(m):
                wi = w[start + r] if has_w else 1.0
                if wi != 0.0:
                    s += wi * coef[r]
        part[b] = s


COEF_SIGNATURE = (INT, INT, INT, *data(), *data(), ro(1), rw(1), ro(1, I64))


@kernel
def log_pq(probs):
    """(log p, log(1 - p)) for a (k, d) array of probabilities."""
    return np.log(probs), np.log1p(-probs)


LOG_PQ_SIGNATURE = (ro(2),)


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


MSTEP_SIGNATURE = (ro(1), ro(2), ro(2), rw(1), rw(2), numba.types.float64, BOOL)
