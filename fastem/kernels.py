"""Public low-level kernels: stable signatures, documented shapes.

Every function here is a Numba-compiled function: call it from Python or from inside
your own ``@numba.njit`` code.  Inputs are not validated (that is the job of the model
classes); pass C-contiguous arrays of the documented shapes and dtypes.  Data arrays may
be float32 or float64; parameters and results are float64.

Conventions
-----------
``X``
    (n, d) data, float32 or float64.
``trials``
    (n_t, d_t) array of X's dtype with n_t in {1, n} and d_t in {1, d}: a (1, 1) array
    is one trial count for every cell, (n, 1) one per row, (n, d) one per cell.  It is
    broadcast by indexing, never copied.
``sample_weight``
    (n,) float64 row weights, or an empty float64 array for unit weights.
``mode``
    :data:`SOFT` (posterior responsibilities), :data:`HARD` (one-hot argmax) or
    :data:`STOCHASTIC` (one-hot draw from the posterior, keyed by
    ``(seed, iteration, row)`` so it does not depend on the thread count).
``labels``
    (n,) int32, updated in place with each row's component; the number of rows with
    positive weight whose label changed is returned.  Pass an empty int32 array to skip
    this.
``prec_chol`` (Gaussian kernels)
    The Cholesky factor of the precision, in scikit-learn's shapes and convention
    (``precisions_cholesky_``): full (k, d, d) and tied (d, d) upper-triangular ``P``
    with precision ``P @ P.T``; diag (k, d) and spherical (k,) inverse standard
    deviations.  float64.

Gaussian statistics are taken about the current means (``diff = x - means[c]``), which
keeps the M-step free of cancellation: with ``nk``, ``s1 = sum r diff`` and
``s2 = sum r diff diff^T``, the new mean is ``means[c] + s1[c] / nk[c]`` and the new full
covariance ``(s2[c] - outer(s1[c], s1[c]) / nk[c]) / nk[c] + reg_covar * I`` (diag: the
same with squares).  For tied covariances ``s2`` is a single (d, d) matrix about
``center = weights @ means`` (see :func:`gaussian_em_step_tied`).
"""

import numpy as np

from ._kernels import binomial as _binomial
from ._kernels import gaussian as _gaussian
from ._kernels._common import HARD, SOFT, STOCHASTIC
from ._kernels._jit import kernel

__all__ = [
    "SOFT",
    "HARD",
    "STOCHASTIC",
    "binomial_log_density",
    "binomial_log_coef_sum",
    "binomial_em_step",
    "gaussian_log_density_full",
    "gaussian_log_density_tied",
    "gaussian_log_density_diag",
    "gaussian_log_density_spherical",
    "gaussian_em_step_full",
    "gaussian_em_step_tied",
    "gaussian_em_step_diag",
    "gaussian_em_step_spherical",
]



@kernel
def binomial_log_density(X, trials, probs):
    """Per-component binomial log-probabilities.

    Parameters
    ----------
    X : (n, d) float32 or float64 counts
    trials : (n_t, d_t) array of X's dtype (see module conventions)
    probs : (k, d) float64 success probabilities, strictly inside (0, 1)

    Returns
    -------
    (n, k) float64 array: ``sum_j log Binomial(X[i, j] | trials[i, j], probs[c, j])``,
    binomial coefficients included.
    """
    out = np.empty((X.shape[0], probs.shape[0]))
    return _binomial.binomial_log_density(X, trials, probs, out)


@kernel
def binomial_log_coef_sum(X, trials, sample_weight):
    """``sum_i w_i sum_j log C(trials_ij, X_ij)``: the parameter-free part of the likelihood.

    Returns
    -------
    float
    """
    return _binomial.binomial_log_coef_sum(X, trials, sample_weight, _binomial.BLOCK)


@kernel
def binomial_em_step(X, trials, sample_weight, weights, probs, mode, seed, iteration, labels):
    """One pass over the data: E-step in ``mode`` and the sufficient statistics.

    Nothing of size (n, k) is allocated.  Rows are processed in fixed blocks whose
    partial sums are added in a fixed order, so results do not depend on the number of
    threads.

    Parameters
    ----------
    X : (n, d) float32 or float64 counts
    trials : (n_t, d_t) array of X's dtype
    sample_weight : (n,) float64, or empty for unit weights
    weights : (k,) float64 mixing weights
    probs : (k, d) float64 success probabilities, strictly inside (0, 1)
    mode : int, one of SOFT, HARD, STOCHASTIC
    seed, iteration : int
        Key of the stochastic draws (ignored by the other modes).
    labels : (n,) int32 or empty int32

    Returns
    -------
    nk : (k,) float64
        ``sum_i w_i r_ic``, where ``r_ic`` are the row's weights in the given mode.
    sum_x : (k, d) float64
        ``sum_i w_i r_ic X_ij``.
    sum_t : (k, d) float64
        ``sum_i w_i r_ic trials_ij``.  The M-step is ``probs = sum_x / sum_t`` and
        ``weights = nk / nk.sum()``.
    loglik : float
        Observed-data log-likelihood at the given parameters, *without* the binomial
        coefficients; add :func:`binomial_log_coef_sum` for the full value.
    n_changed : int
        Rows whose label differs from ``labels`` on entry.
    """
    return _binomial.binomial_pass(
        X, trials, sample_weight, np.log(weights), probs, mode, seed, iteration, labels, _binomial.BLOCK
    )


# --------------------------------------------------------------------------- Gaussian
@kernel
def _log_det_tri(prec_chol):
    kp, d = prec_chol.shape[0], prec_chol.shape[1]
    out = np.zeros(kp)
    for c in range(kp):
        for j in range(d):
            out[c] += np.log(prec_chol[c, j, j])
    return out


@kernel
def gaussian_log_density_full(X, means, prec_chol):
    """Per-component Gaussian log-densities, full covariances.

    Parameters
    ----------
    X : (n, d) float32 or float64
    means : (k, d) float64
    prec_chol : (k, d, d) float64, upper-triangular, precision = P @ P.T

    Returns
    -------
    (n, k) float64 array of ``log N(X[i] | means[c], inv(P_c P_c^T))``.
    """
    out = np.empty((X.shape[0], means.shape[0]))
    return _gaussian.gauss_log_density(X, means, prec_chol, _log_det_tri(prec_chol), True, out)


@kernel
def gaussian_log_density_tied(X, means, prec_chol):
    """As :func:`gaussian_log_density_full` with one shared (d, d) ``prec_chol``."""
    k, d = means.shape
    p3 = prec_chol.reshape((1, d, d))
    ld = np.full(k, _log_det_tri(p3)[0])
    out = np.empty((X.shape[0], k))
    return _gaussian.gauss_log_density(X, means, p3, ld, True, out)


@kernel
def gaussian_log_density_diag(X, means, prec_chol):
    """As :func:`gaussian_log_density_full` with (k, d) inverse standard deviations."""
    k, d = means.shape
    ld = np.log(prec_chol).sum(axis=1)
    out = np.empty((X.shape[0], k))
    return _gaussian.gauss_log_density(X, means, prec_chol.reshape((k, 1, d)), ld, False, out)


@kernel
def gaussian_log_density_spherical(X, means, prec_chol):
    """As :func:`gaussian_log_density_full` with (k,) inverse standard deviations."""
    k, d = means.shape
    prec = np.empty((k, d))
    for c in range(k):
        prec[c, :] = prec_chol[c]
    return gaussian_log_density_diag(X, means, prec)


@kernel
def gaussian_em_step_full(X, sample_weight, weights, means, prec_chol, mode, seed, iteration,
                          labels):
    """One pass: E-step in ``mode`` and sufficient statistics, full covariances.

    Parameters
    ----------
    X : (n, d) float32 or float64
    sample_weight : (n,) float64 or empty
    weights : (k,) float64
    means : (k, d) float64
    prec_chol : (k, d, d) float64 upper-triangular
    mode, seed, iteration, labels : see the module conventions

    Returns
    -------
    nk : (k,) ``sum_i w_i r_ic``
    s1 : (k, d) ``sum_i w_i r_ic (x_i - means[c])``
    s2 : (k, d, d) ``sum_i w_i r_ic (x_i - means[c])(x_i - means[c])^T``
    loglik : float, observed-data log-likelihood at the given parameters
    n_changed : int
    """
    k, d = means.shape
    nk, s1, s2, _, ll, ch = _gaussian.gauss_pass(
        X, sample_weight, np.log(weights), means, prec_chol, _log_det_tri(prec_chol), True,
        mode, seed, iteration, labels, _gaussian.block_rows(X.shape[0], k, d, k), False,
        np.zeros(d))
    return nk, s1, s2, ll, ch


@kernel
def gaussian_em_step_tied(X, sample_weight, weights, means, prec_chol, mode, seed, iteration,
                          labels):
    """One pass for a tied (d, d) ``prec_chol``.

    Returns ``(nk (k,), s1 (k, d), s2 (d, d), loglik, n_changed)`` where ``s2`` is
    ``sum_i w_i (x_i - z)(x_i - z)^T`` about ``z = weights @ means``.  The tied
    covariance is then ``(s2 - sum_c [a_c v_c^T + v_c a_c^T - nk_c v_c v_c^T]) / sum(nk)``
    with ``v_c = new_mean_c - z`` and ``a_c = s1_c + nk_c (means_c - z)``.
    """
    k, d = means.shape
    p3 = prec_chol.reshape((1, d, d))
    ld = np.full(k, _log_det_tri(p3)[0])
    nk, s1, s2, _, ll, ch = _gaussian.gauss_pass(
        X, sample_weight, np.log(weights), means, p3, ld, True, mode, seed, iteration, labels,
        _gaussian.block_rows(X.shape[0], k, d, 1), True, weights @ means)
    return nk, s1, s2[0], ll, ch


@kernel
def gaussian_em_step_diag(X, sample_weight, weights, means, prec_chol, mode, seed, iteration,
                          labels):
    """One pass for diagonal covariances (``prec_chol`` (k, d) inverse std. deviations).

    Returns ``(nk (k,), s1 (k, d), s2 (k, d), loglik, n_changed)`` with
    ``s2[c, j] = sum_i w_i r_ic (x_ij - means[c, j])^2``.
    """
    k, d = means.shape
    nk, s1, _, sq, ll, ch = _gaussian.gauss_pass(
        X, sample_weight, np.log(weights), means, prec_chol.reshape((k, 1, d)),
        np.log(prec_chol).sum(axis=1), False, mode, seed, iteration, labels,
        _gaussian.block_rows(X.shape[0], k, d, 1), False, np.zeros(d))
    return nk, s1, sq, ll, ch


@kernel
def gaussian_em_step_spherical(X, sample_weight, weights, means, prec_chol, mode, seed,
                               iteration, labels):
    """As :func:`gaussian_em_step_diag` with (k,) inverse standard deviations.

    The spherical variance of component c is the mean over j of the diag variances.
    """
    k, d = means.shape
    prec = np.empty((k, d))
    for c in range(k):
        prec[c, :] = prec_chol[c]
    return gaussian_em_step_diag(X, sample_weight, weights, means, prec, mode, seed, iteration,
                                 labels)
