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
    (n,) int32, updated in place with each row's component; the number of rows whose
    label changed is returned.  Pass an empty int32 array to skip this.
"""

import numpy as np

from ._kernels import binomial as _binomial
from ._kernels._common import HARD, SOFT, STOCHASTIC
from ._kernels._jit import kernel

__all__ = [
    "SOFT",
    "HARD",
    "STOCHASTIC",
    "binomial_log_density",
    "binomial_log_coef_sum",
    "binomial_em_step",
]

_BLOCK = 4096


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
    return _binomial.binomial_log_coef_sum(X, trials, sample_weight, _BLOCK)


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
        X, trials, sample_weight, np.log(weights), probs, mode, seed, iteration, labels, _BLOCK
    )
