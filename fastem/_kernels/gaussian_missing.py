"""Gaussian mixture kernels for data with missing (NaN) cells.

A row's component density is the Gaussian marginal of its observed cells, and the
statistics of the M-step are the expected ones given those cells (Ghahramani & Jordan
1994): a missing block is filled with its conditional mean and its conditional
covariance is added to the second moment.  Both need, per component, the Cholesky factor
of the observed block of the covariance, ``L L^T = S_oo``, the regression
``W = L^-1 S_om`` and the conditional covariance ``C = S_mm - W^T W``; they depend on
the row's pattern of missing cells only.  So the rows are visited in pattern order
(``rows``, from ``fastem._missing``), in *segments* of rows of one pattern, and the
factorisations are computed once per (segment, component):

* whitened residual ``z = L^-1 (x_o - mu_o)``: log density
  ``-(n_o log 2 pi + |z|^2) / 2 - log det L``;
* conditional mean of the missing cells ``mu_m + W^T z``.

Segments are grouped into fixed blocks (a function of the data and the block size
only); each block writes its partial statistics into its own slot, in the layout of the
complete-data kernel (``gaussian.gauss_pass_blocks``), so that the caller adds the slots
in block order: thread-count-independent bits, and the same M-step.

Forms: 0 full (``cov`` (k, d, d)), 1 tied (``cov`` (1, d, d), statistics ``s2`` about
``center``), 2 diagonal (``cov`` (k, 1, d) variances; spherical repeats one over d).
With a diagonal covariance the missing cells are independent of the observed ones: their
conditional mean is the component's mean and their conditional variance its variance.
"""

import math

import numpy as np

from ._common import CHUNK, FIXED, RANDOM, ROWS, SOFT, STOCHASTIC, chunk_posterior
from .gaussian import _chunk_gram_centered, _chunk_maha_full
from ._jit import I32, I64, INT, SEED, data, kernel, ro, rw
from ._vmath import log_pos
from .rng import open_uniform, stream_key, uniform

_LOG_2PI = math.log(2.0 * math.pi)
_TINY_SCALE = 2.0**-600


@kernel
def _factor(S, perm, no, Lc, Wc, Cc):
    """Factorise the covariance ``S`` (d, d) for a pattern whose observed columns are
    ``perm[:no]`` and missing ones ``perm[no:]``: Lc[:no, :no] the lower Cholesky factor
    L of S_oo (see below), Wc[:no, :nm] = L^-1 S_om,
    Cc[:nm, :nm] = S_mm - W^T W.  Returns log det L (half the log-determinant of S_oo),
    or NaN when S_oo is not positive definite (the caller then scores -inf).

    Lc holds the strictly lower part of L and, on its diagonal, 1 / L[a, a] (a
    multiplication in the row loops instead of a division)."""
    d = S.shape[0]
    nm = d - no
    half = 0.0
    for a in range(no):
        pa = perm[a]
        for b in range(a + 1):
            s = S[pa, perm[b]]
            for q in range(b):
                s -= Lc[a, q] * Lc[b, q]
            if a == b:
                if not s > 0.0:
                    return np.nan
                r = math.sqrt(s)
                half += math.log(r)
                Lc[a, a] = 1.0 / r
            else:
                Lc[a, b] = s * Lc[b, b]
    for j in range(nm):
        pj = perm[no + j]
        for a in range(no):
            s = S[perm[a], pj]
            for q in range(a):
                s -= Lc[a, q] * Wc[q, j]
            Wc[a, j] = s * Lc[a, a]
    for i in range(nm):
        pi = perm[no + i]
        for j in range(i, nm):
            s = S[pi, perm[no + j]]
            for a in range(no):
                s -= Wc[a, i] * Wc[a, j]
            Cc[i, j] = s
            Cc[j, i] = s
    return half


@kernel
def _precision_factor(Lc, d, P):
    """P (d, d) = (L^-1)^T, upper triangular, P P^T = S^-1, from ``_factor``'s Lc (the
    strictly lower part of L, 1 / L[a, a] on the diagonal): the complete-data kernels'
    form of a precision factor."""
    for b in range(d):
        P[b, b] = Lc[b, b]
        for a in range(b + 1, d):  # column b of L^-1, by forward substitution
            t = 0.0
            for q in range(b, a):
                t -= Lc[a, q] * P[b, q]
            P[b, a] = t * Lc[a, a]
        for a in range(b):
            P[b, a] = 0.0


@kernel
def _cholesky_in_place(C, nm):
    """Lower Cholesky factor of C[:nm, :nm] in place (upper part zeroed); a non-positive
    pivot (a conditional variance lost to rounding) gives a zero column: no noise there."""
    for a in range(nm):
        for b in range(a + 1):
            s = C[a, b]
            for q in range(b):
                s -= C[a, q] * C[b, q]
            if a == b:
                C[a, a] = math.sqrt(s) if s > 0.0 else 0.0
            else:
                C[a, b] = s / C[b, b] if C[b, b] > 0.0 else 0.0
        for b in range(a + 1, nm):
            C[a, b] = 0.0


@kernel
def _scaled_maha(XT, r, no, pp, mu, Lf, diag, z):
    """|L^-1 (x_o - mu_o)|^2 of chunk row r, every difference scaled by 2**-600 so that
    the squares stay in range for a row whose plain distance overflows (``Lf``: the
    pattern's factor from ``_factor``, or 1 / sd on the diagonal when ``diag``)."""
    q = 0.0
    for a in range(no):
        t = XT[a, r] * _TINY_SCALE - mu[pp[a]] * _TINY_SCALE
        if not diag:
            for b in range(a):
                t -= Lf[a, b] * z[b]
        t *= Lf[a, a]
        z[a] = t
        q += t * t
    return q


MISSING_SIGNATURE = (INT, INT, *data(), ro(1), ro(1, I64), ro(2, I64), ro(1, I64),
                     ro(2, I64), ro(1, I64), INT, ro(1), ro(2), ro(3), ro(1), INT, SEED, INT,
                     rw(1, I32), rw(2), rw(3), rw(4), rw(1), rw(1, I64), rw(1), rw(2),
                     rw(1, I64), rw(2), ro(2), INT)


@kernel
def missing_blocks(b0, b1, XS, XD, w, rows, seg, blk, perm, n_obs, form, log_weights, means,
                   cov, center, mode, seed, stream, labels, p_nk, p_s1, p_s2, p_ll, p_ch,
                   out_ll, out_resp, out_labels, out_imp, noise, row0):
    """One pass over the segment blocks b0..b1 of data with missing cells.

    ``rows`` (n,): row indices in pattern order; ``seg`` (n_segments, 3): each segment's
    [lo, hi) positions in ``rows`` and its pattern; ``blk`` (n_blocks + 1,): block b holds
    segments blk[b]..blk[b + 1]; ``perm`` (n_patterns, d): a pattern's observed columns,
    then its missing ones, each in increasing order; ``n_obs`` (n_patterns,).

    ``mode`` SOFT, HARD, STOCHASTIC, RANDOM or FIXED: statistics into block b's slots
    ``p_nk[b]`` (k,), ``p_s1[b]`` (k, d) about the means, ``p_s2[b]`` (full: (k, d, d)
    about the means, tied: (1, d, d) about ``center``, upper triangles; diagonal:
    (k, 1, d)), ``p_ll[b]`` the weighted log-likelihood, ``p_ch[b]`` label changes
    (``labels`` (n,) int32 tracked when not empty; FIXED reads them).  ``mode`` ROWS:
    per-row outputs, each skipped when empty: ``out_ll`` (n,), ``out_resp`` (n, k),
    ``out_labels`` (n,) first argmax of the log joints, ``out_imp`` (n, d): its missing
    cells are overwritten by their conditional expectation under the mixture, or, when
    ``labels`` is given, drawn from the conditional distribution of component
    ``labels[i]`` with the standard normals ``noise`` (n, d).  ``row0``: the first row's
    index in the whole data (the random modes draw by global row).
    """
    k, d = means.shape
    f64 = XD.shape[0] > 0
    has_w = w.shape[0] > 0
    track = labels.shape[0] > 0
    tied = form == 1
    diag = form == 2
    nf = 1 if tied else k
    stats = mode != ROWS
    want_imp = out_imp.shape[0] > 0
    sampling = want_imp and track
    XT = np.empty((d, CHUNK))  # observed cells, in the pattern's column order
    Z = np.empty((k, d, CHUNK))  # whitened residuals per component
    E = np.empty((d, CHUNK))  # x_hat (observed cells, conditional means), in column order
    L = np.empty((k, CHUNK))
    Q = np.empty((k, CHUNK))
    Lc = np.zeros((nf, d, d))
    Wc = np.zeros((nf, d, d))
    Cc = np.zeros((nf, d, d))
    half = np.empty(nf)
    scratch = np.zeros(d)  # the tied statistics' unused first moments about the centre
    Pc = np.zeros((nf, d, d))  # complete rows: the precision factors (L^-1)^T
    Y = np.empty((d, CHUNK))
    f = np.empty((5, CHUNK))
    mx, acc, cum, wrow, rll = f[0], f[1], f[2], f[3], f[4]
    ib = np.empty((4, CHUNK), dtype=np.int64)
    idx, bits, pick, gone = ib[0], ib[1], ib[2], ib[3]
    zs = np.empty(d)
    for b in range(b0, b1):
        ll = 0.0
        ch = 0
        for s in range(blk[b], blk[b + 1]):
            lo, hi, p = seg[s, 0], seg[s, 1], seg[s, 2]
            no = n_obs[p]
            nm = d - no
            pp = perm[p]
            # the pattern's factorisations, once per segment
            for c in range(nf):
                if diag:
                    h = 0.0
                    for a in range(no):
                        v = cov[c, 0, pp[a]]
                        h += 0.5 * math.log(v)
                        Lc[c, a, a] = 1.0 / math.sqrt(v)
                    half[c] = h
                    if sampling:
                        for j in range(nm):
                            Cc[c, j, j] = math.sqrt(cov[c, 0, pp[no + j]])
                else:
                    half[c] = _factor(cov[c], pp, no, Lc[c], Wc[c], Cc[c])
                    if sampling:
                        _cholesky_in_place(Cc[c], nm)
                    if nm == 0:
                        _precision_factor(Lc[c], d, Pc[c])
            for start in range(lo, hi, CHUNK):
                m = min(CHUNK, hi - start)
                for r in range(m):
                    idx[r] = rows[start + r]
                    wrow[r] = w[idx[r]] if has_w else 1.0
                for a in range(no):
                    col = pp[a]
                    if f64:
                        for r in range(m):
                            XT[a, r] = XD[idx[r], col]
                    else:
                        for r in range(m):
                            XT[a, r] = np.float64(XS[idx[r], col])
                # log joints: L[c, r] = log w_c + log N(x_o; mu_o, S_oo)
                for c in range(k):
                    fc = 0 if tied else c
                    Zc = Z[c]
                    Lf = Lc[fc]
                    if nm == 0 and not diag:
                        # a complete row: the blocked Mahalanobis distance of the
                        # complete-data kernel (no whitened residuals needed)
                        _chunk_maha_full(XT, means[c], m, Pc, fc, Y, Q[c])
                        base = log_weights[c] - 0.5 * no * _LOG_2PI - half[fc]
                        if not (half[fc] == half[fc]):
                            base = -np.inf
                        for r in range(m):
                            L[c, r] = base - 0.5 * Q[c, r]
                        continue
                    for a in range(no):
                        mu = means[c, pp[a]]
                        for r in range(m):
                            Zc[a, r] = XT[a, r] - mu
                    if diag:
                        for a in range(no):
                            g = Lf[a, a]
                            for r in range(m):
                                Zc[a, r] *= g
                    else:
                        for a in range(no):
                            for q in range(a):
                                g = Lf[a, q]
                                for r in range(m):
                                    Zc[a, r] -= g * Zc[q, r]
                            g = Lf[a, a]
                            for r in range(m):
                                Zc[a, r] *= g
                    for r in range(m):
                        Q[c, r] = 0.0
                    for a in range(no):
                        for r in range(m):
                            Q[c, r] += Zc[a, r] * Zc[a, r]
                    base = log_weights[c] - 0.5 * no * _LOG_2PI - half[fc]
                    if not (half[fc] == half[fc]):  # not positive definite: no density
                        base = -np.inf
                    for r in range(m):
                        L[c, r] = base - 0.5 * Q[c, r]
                if stats or out_labels.shape[0] > 0:
                    for r in range(m):  # first argmax of the log joints
                        bst = L[0, r]
                        pick[r] = 0
                        for c in range(1, k):
                            if L[c, r] > bst:
                                bst = L[c, r]
                                pick[r] = c
                lost = chunk_posterior(L, m, k, mx, acc, bits)
                if lost > 0:
                    # Rows below float64's range under every component: the limit
                    # posterior is all on the nearest component (smallest Mahalanobis
                    # distance of the observed cells, found in a rescaled arithmetic,
                    # among the components of positive weight and positive definite
                    # S_oo), else the prior; their log-likelihood is -inf.
                    for r in range(m):
                        top = L[0, r]
                        for c in range(1, k):
                            top = max(top, L[c, r])
                        gone[r] = 0 if top > -np.inf else 1
                        if gone[r] == 0:
                            continue
                        best = -1
                        bq = np.inf
                        for c in range(k):
                            fc = 0 if tied else c
                            if log_weights[c] == -np.inf or not (half[fc] == half[fc]):
                                continue
                            q = _scaled_maha(XT, r, no, pp, means[c], Lc[fc], diag, zs)
                            if q < bq:
                                bq = q
                                best = c
                        pick[r] = 0
                        for c in range(k):
                            if best < 0:
                                L[c, r] = log_weights[c]
                            else:
                                L[c, r] = 0.0 if c == best else -np.inf
                            if L[c, r] > L[pick[r], r]:
                                pick[r] = c
                    chunk_posterior(L, m, k, mx, acc, bits)
                if not stats and out_labels.shape[0] > 0:
                    for r in range(m):
                        out_labels[idx[r]] = pick[r]
                for r in range(m):
                    cum[r] = acc[r]
                log_pos(cum, m, bits)
                for r in range(m):
                    rll[r] = mx[r] + cum[r]
                    acc[r] = 1.0 / acc[r]
                if no == 0:  # nothing observed: log sum_c w_c = log 1, exactly
                    for r in range(m):
                        rll[r] = 0.0
                if lost > 0:  # mx was recomputed from the repaired joints
                    for r in range(m):
                        if gone[r]:
                            rll[r] = -np.inf
                if not stats:
                    if out_ll.shape[0] > 0:
                        for r in range(m):
                            out_ll[idx[r]] = rll[r]
                    if out_resp.shape[0] > 0:
                        for r in range(m):
                            for c in range(k):
                                out_resp[idx[r], c] = L[c, r] * acc[r]
                    if want_imp and nm > 0:
                        for r in range(m):
                            i = idx[r]
                            for j in range(nm):
                                col = pp[no + j]
                                v = 0.0
                                for c in range(k):
                                    if sampling and c != labels[i]:
                                        continue
                                    pc = 1.0 if sampling else L[c, r] * acc[r]
                                    if pc == 0.0:
                                        continue
                                    e = means[c, col]
                                    if not diag:
                                        fc = 0 if tied else c
                                        for a in range(no):
                                            e += Wc[fc, a, j] * Z[c, a, r]
                                    v += pc * e
                                if sampling:
                                    fc = 0 if tied else labels[i]
                                    for q in range(j + 1 if not diag else 0):
                                        v += Cc[fc, j, q] * noise[i, pp[no + q]]
                                    if diag:
                                        v += Cc[fc, j, j] * noise[i, col]
                                out_imp[i, col] = v
                    continue
                # the mode's weights w_i r_ic into L
                for r in range(m):
                    if wrow[r] != 0.0:  # a weight-0 row adds nothing, even at -inf
                        ll += wrow[r] * rll[r]
                if mode == SOFT:
                    for c in range(k):
                        for r in range(m):
                            L[c, r] *= acc[r] * wrow[r]
                elif mode == RANDOM:
                    key = stream_key(seed, stream)
                    for r in range(m):
                        tot = 0.0
                        for c in range(k):
                            u = open_uniform(key, (row0 + idx[r]) * k + c)
                            L[c, r] = u
                            tot += u
                        for c in range(k):
                            L[c, r] *= wrow[r] / tot
                else:
                    if mode == STOCHASTIC:
                        for r in range(m):
                            u = uniform(seed, stream, row0 + idx[r])
                            target = u / acc[r]  # u times the row's sum
                            t = 0.0
                            pr = 0
                            for c in range(k - 1):
                                t += L[c, r]
                                pr += 1 if t <= target else 0
                            while pr > 0 and L[pr, r] == 0.0:
                                pr -= 1
                            pick[r] = pr
                    elif mode == FIXED:
                        for r in range(m):
                            pick[r] = labels[idx[r]]
                    for c in range(k):
                        for r in range(m):
                            L[c, r] = wrow[r] if pick[r] == c else 0.0
                    if track and mode != FIXED:
                        for r in range(m):
                            i = idx[r]
                            if labels[i] != pick[r]:
                                if wrow[r] != 0.0:
                                    ch += 1
                                labels[i] = pick[r]
                # statistics
                for c in range(k):
                    R = L[c]
                    t = 0.0
                    for r in range(m):
                        t += R[r]
                    if t == 0.0:
                        continue
                    p_nk[b, c] += t
                    Zc = Z[c]
                    fc = 0 if tied else c
                    if diag:
                        for a in range(no):
                            col = pp[a]
                            mu = means[c, col]
                            u = 0.0
                            v = 0.0
                            for r in range(m):
                                e = XT[a, r] - mu
                                y = R[r] * e
                                u += y
                                v += y * e
                            p_s1[b, c, col] += u
                            p_s2[b, c, 0, col] += v
                        for j in range(nm):
                            col = pp[no + j]
                            p_s2[b, c, 0, col] += t * cov[c, 0, col]
                        continue
                    # x_hat: the observed cells, then the missing ones, mu_m + W^T z
                    for a in range(no):
                        col = pp[a]
                        for r in range(m):
                            E[col, r] = XT[a, r]
                    for j in range(nm):
                        col = pp[no + j]
                        mu = means[c, col]
                        for r in range(m):
                            E[col, r] = mu
                        for a in range(no):
                            g = Wc[fc, a, j]
                            for r in range(m):
                                E[col, r] += g * Zc[a, r]
                    S2 = p_s2[b, fc]
                    if tied:  # s1 about the means, the second moment about the centre
                        for j in range(d):
                            mu = means[c, j]
                            u = 0.0
                            for r in range(m):
                                u += R[r] * (E[j, r] - mu)
                            p_s1[b, c, j] += u
                        _chunk_gram_centered(E, R, center, m, S2, scratch)
                    else:
                        _chunk_gram_centered(E, R, means[c], m, S2, p_s1[b, c])
                    for i in range(nm):
                        ci = pp[no + i]
                        for j in range(nm):
                            cj = pp[no + j]
                            if ci <= cj:
                                S2[ci, cj] += t * Cc[fc, i, j]
        if stats:
            p_ll[b] = ll
            p_ch[b] = ch


@kernel
def check_missing(XS, XD):
    """(first row and column holding infinity or -1, -1; first row with every cell NaN
    or -1; number of rows with some NaN) of the data (one slot empty)."""
    f64 = XD.shape[0] > 0
    n = XD.shape[0] if f64 else XS.shape[0]
    d = XD.shape[1] if f64 else XS.shape[1]
    inf_i = -1
    inf_j = -1
    empty = -1
    n_nan = 0
    for i in range(n):
        miss = 0
        for j in range(d):
            v = np.float64(XD[i, j]) if f64 else np.float64(XS[i, j])
            if v != v:
                miss += 1
            elif not math.isfinite(v) and inf_i < 0:
                inf_i = i
                inf_j = j
        if miss > 0:
            n_nan += 1
            if miss == d and empty < 0:
                empty = i
    return inf_i, inf_j, empty, n_nan


CHECK_SIGNATURE = data()


_HASH = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: golden-ratio multiplier


@kernel
def group_rows(XS, XD, table_bits, label, first):
    """Number the rows' patterns of NaN cells (d <= 62) in the order of their first row:
    label[i] = the pattern of row i, first[p] = the first row of pattern p; returns the
    number of patterns.  One pass, an open-addressing table of 2**table_bits keys (the
    key: a row's bit mask of NaN cells), no sort."""
    f64 = XD.shape[0] > 0
    n = XD.shape[0] if f64 else XS.shape[0]
    d = XD.shape[1] if f64 else XS.shape[1]
    size = 1 << table_bits
    mask = size - 1
    shift = np.uint64(64 - table_bits)
    keys = np.full(size, -1, dtype=np.int64)
    ids = np.empty(size, dtype=np.int64)
    n_pat = 0
    for i in range(n):
        key = 0
        for j in range(d):
            v = np.float64(XD[i, j]) if f64 else np.float64(XS[i, j])
            if v != v:
                key |= 1 << j
        h = np.int64((np.uint64(key) * _HASH) >> shift)
        while keys[h] != -1 and keys[h] != key:
            h = (h + 1) & mask
        if keys[h] == -1:
            keys[h] = key
            ids[h] = n_pat
            first[n_pat] = i
            n_pat += 1
        label[i] = ids[h]
    return n_pat


@kernel
def place_rows(label, starts, rows):
    """Counting sort: rows[starts[p]:starts[p + 1]] = the rows of pattern p, in order."""
    pos = starts[:-1].copy()
    for i in range(label.shape[0]):
        p = label[i]
        rows[pos[p]] = i
        pos[p] += 1


GROUP_SIGNATURE = (*data(), INT, rw(1, I64), rw(1, I64))
PLACE_SIGNATURE = (ro(1, I64), ro(1, I64), rw(1, I64))
