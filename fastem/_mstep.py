"""The Gaussian M-step: parameters from a pass's statistics, in NumPy.

The work is k-sized (no pass over the data), so compiling it bought nothing but seconds
of a cold start.  NumPy's linear algebra only: importing ``scipy.linalg`` would add a
fifth of a second to every process's first fit.

Statistics (see the pass kernels): ``nk`` (k,), ``s1`` (k, d) about the current means,
``s2`` (k, d, d) about the current means (full), (1, d, d) about ``center`` with the row
weights alone (tied), or (k, d) squares (diag/spherical).  As in scikit-learn, ``10 *
eps`` is added to every ``nk`` and ``reg_covar`` to each variance.  A component with
``nk == 0`` keeps its previous parameters.
"""

import numpy as np

TEN_EPS = 10.0 * np.finfo(np.float64).eps


def cholesky_precision(cov, pchol):
    """Write the upper-triangular ``inv(L).T`` for ``cov = L L^T`` into ``pchol``; return
    ``sum log diag(pchol)``, or NaN (``pchol`` untouched) when ``cov`` is not (numerically)
    positive definite."""
    if not np.all(np.isfinite(cov)):
        return np.nan
    # LAPACK's potrf reads the lower triangle, as the compiled kernels used to.
    try:
        L = np.linalg.cholesky(np.tril(cov) + np.tril(cov, -1).T)
    except np.linalg.LinAlgError:  # not positive definite
        return np.nan
    if not np.all(np.diagonal(L) > 0.0):
        return np.nan
    inv = np.linalg.solve(L, np.eye(cov.shape[0]))
    pchol[...] = np.triu(inv.T)  # exactly triangular: the kernels may read the zeros
    return float(np.sum(np.log(np.diagonal(pchol))))


def _stacked_cholesky_precision(cov):
    """``cholesky_precision`` of every matrix of a (k, d, d) stack at once, or None when
    one of them is not positive definite (the caller then finds which, one by one)."""
    if not np.all(np.isfinite(cov)):
        return None
    try:
        L = np.linalg.cholesky(np.tril(cov) + np.swapaxes(np.tril(cov, -1), 1, 2))
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.diagonal(L, axis1=1, axis2=2) > 0.0):
        return None
    eye = np.broadcast_to(np.eye(cov.shape[1]), cov.shape)
    return np.triu(np.swapaxes(np.linalg.solve(L, eye), 1, 2))


def _mirror_reg(cov, reg):
    d = cov.shape[-1]
    cov[..., np.arange(d), np.arange(d)] += reg
    return cov


def mstep_full(nk, s1, s2, old_means, old_cov, old_pchol, reg, tied, center):
    """M-step for full and tied covariances.

    Returns ``(status, means (k, d), cov, pchol, log_det (k,))`` with ``cov`` and
    ``pchol`` (k, d, d) for full, (1, d, d) for tied; ``status`` is 0, or c + 1 for the
    first component whose regularised covariance is not positive definite (1 for tied).
    """
    k, d = old_means.shape
    pos = nk > 0.0
    nka = nk + TEN_EPS
    means = old_means.copy()
    means[pos] = old_means[pos] + s1[pos] / nka[pos, None]
    if tied:
        # s2 is about the centre z: subtract each component's offset from z (cross terms
        # included exactly).
        a = s1 + nk[:, None] * (old_means - center)
        v = means - center
        acc = s2[0] - a.T @ v - v.T @ a + v.T @ (nk[:, None] * v)
        cov = _mirror_reg((acc / nka.sum())[None], reg)
        pchol = np.zeros_like(cov)
        ld = cholesky_precision(cov[0], pchol[0])
        return (0 if np.isfinite(ld) else 1), means, cov, pchol, np.full(k, ld)
    dv = s1 / nka[:, None]
    cov = (s2 - s1[:, :, None] * dv[:, None, :] - dv[:, :, None] * s1[:, None, :]
           + nk[:, None, None] * dv[:, :, None] * dv[:, None, :]) / nka[:, None, None]
    cov = _mirror_reg(cov, reg)
    if pos.all():  # the common case: every component at once, one LAPACK call per stack
        pchol = _stacked_cholesky_precision(cov)
        if pchol is not None:
            return 0, means, cov, pchol, np.sum(np.log(np.diagonal(pchol, axis1=1, axis2=2)),
                                                 axis=1)
    pchol = np.zeros_like(cov)
    log_det = np.empty(k)
    for c in range(k):
        if not pos[c]:
            cov[c], pchol[c] = old_cov[c], old_pchol[c]
            log_det[c] = np.sum(np.log(np.diagonal(pchol[c])))
            continue
        log_det[c] = cholesky_precision(cov[c], pchol[c])
        if not np.isfinite(log_det[c]):
            return c + 1, means, cov, pchol, log_det
    return 0, means, cov, pchol, log_det


def mstep_diag(nk, s1, s2, old_means, old_var, reg, spherical):
    """M-step for diag and spherical covariances (``var`` (k, d); spherical holds its
    value in every column).  Returns ``(status, means, var, prec, log_det)`` with
    ``prec = 1 / sqrt(var)``; ``status`` 0, or c + 1 for the first component with a
    variance that is not positive and finite."""
    pos = (nk > 0.0)[:, None]
    nka = (nk + TEN_EPS)[:, None]
    dv = s1 / nka
    means = np.where(pos, old_means + dv, old_means)
    var = (s2 - 2.0 * s1 * dv + nk[:, None] * dv * dv) / nka + reg
    if spherical:
        var = np.repeat(var.mean(axis=1, keepdims=True), var.shape[1], axis=1)
    var = np.where(pos, var, old_var)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.all((var > 0.0) & np.isfinite(var), axis=1)
        prec = 1.0 / np.sqrt(var)
        log_det = np.sum(np.log(prec), axis=1)
    status = 0 if ok.all() else int(np.argmin(ok)) + 1
    return status, means, var, prec, log_det
