"""Public low-level kernels: stable signatures, documented shapes, checked arguments.

Call every function here from Python or from inside your own ``@numba.njit`` code.
From Python it runs its checks and then the compiled kernel the estimators use (nothing
new is compiled for it); inside compiled code it is compiled into your function.  Each
one checks its arguments before it touches the data, in time independent of the number
of rows, and raises the same exceptions in both worlds:

* :class:`KernelTypeError` (a ``TypeError`` that is also a ``ValueError``) for an
  argument of the wrong kind: not an array, the wrong number of dimensions, a data dtype
  other than float32/float64, ``trials`` of another dtype than ``X``, labels that are not
  a writeable int32 array, a mode that is not an integer.  Under Numba this is decided
  at compile time, so a wrong type costs no compilation of the kernel itself;
* ``ValueError`` for wrong shapes and lengths (X against means, precisions, weights,
  trials, labels, sample_weight), an unknown ``mode``, and parameters that would make the
  result meaningless (negative or all-zero weights, non-finite means, precisions with a
  non-positive diagonal, probabilities outside (0, 1)).

What is not checked, because it would cost a pass over the data: that ``X`` and
``trials`` are finite (and, for the binomial kernels, integer counts with
``0 <= X <= trials``).  Out-of-range data gives meaningless numbers, never an access
outside the arrays.

Parameters (weights, means, precisions, probabilities) may be any real dtype and memory
layout: they are copied to C-contiguous float64 (k-sized, so this costs nothing).  Data
arrays (``X``, ``trials``, ``sample_weight``, ``labels``) are used in place, in any layout
and read-only or not (except ``labels``, which is written): the compiled kernels take
every layout, so no combination compiles anything new.

Conventions
-----------
``X``
    (n, d) data, float32 or float64, d >= 1.
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
    with precision ``P @ P.T`` (only the upper triangle is read); diag (k, d) and
    spherical (k,) inverse standard deviations.

Gaussian statistics are taken about the current means (``diff = x - means[c]``), which
keeps the M-step free of cancellation: with ``nk``, ``s1 = sum r diff`` and
``s2 = sum r diff diff^T``, the new mean is ``means[c] + s1[c] / nk[c]`` and the new full
covariance ``(s2[c] - outer(s1[c], s1[c]) / nk[c]) / nk[c] + reg_covar * I`` (diag: the
same with squares).  For tied covariances ``s2`` is a single (d, d) matrix about
``center = weights @ means`` (see :func:`gaussian_em_step_tied`).

A row whose density underflows float64 under every component (a far outlier against
narrow components) gets log-likelihood ``-inf`` and, as its posterior, the exact limit:
all of it on the component at the smallest Mahalanobis distance.
"""

import functools
import inspect

import numba
import numpy as np
from numba import types
from numba.extending import overload

from . import _passes
from ._kernels._common import HARD, SOFT, STOCHASTIC
from numba.extending import register_jitable

# The argument checks are plain Python for a Python call (nothing to compile) and are
# compiled into the caller's code when called from a user's @njit function.
_checks = register_jitable

__all__ = [
    "SOFT",
    "HARD",
    "STOCHASTIC",
    "KernelTypeError",
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


class KernelTypeError(TypeError, ValueError):
    """An argument of the wrong kind (array rank, dtype, writeability, scalar type).

    A ``TypeError``, and also a ``ValueError`` so that one ``except ValueError`` catches
    every rejected call (as numpy's ``AxisError`` is both a ``ValueError`` and an
    ``IndexError``).
    """


# --------------------------------------------------------------------------- type checks
# These run while Numba types a call (in Python, not in compiled code): each returns a
# message for the first argument of the wrong kind, or None.
_DATA = (types.float32, types.float64)


_WANT = {"data": "a {n}-D float32 or float64 array", "like": "a {n}-D array of X's dtype",
         "float64": "a {n}-D float64 array", "labels": "a writeable 1-D int32 array",
         "real": "a {n}-D array of real numbers", "int": "an integer"}


def _kind_ok(t, kind, ndim, like):
    if kind == "int":
        return isinstance(t, types.Integer)
    if not (isinstance(t, types.Array) and t.ndim == ndim):
        return False
    if kind == "data":
        return t.dtype in _DATA
    if kind == "like":  # trials: the dtype of X
        return t.dtype == like.dtype
    if kind == "float64":
        return t.dtype == types.float64
    if kind == "labels":  # written in place
        return t.dtype == types.int32 and t.mutable
    return isinstance(t.dtype, (types.Integer, types.Float))  # "real": copied to float64


def _kind_problem(func, name, t, kind, ndim=None, like=None):
    if _kind_ok(t, kind, ndim, like):
        return None
    want = _WANT[kind].format(n=ndim)
    if kind == "like":
        want += f" ({like.dtype})"
    return f"{func}: {name} must be {want}; got {t}"


def _first_problem(func, checks):
    """``checks``: (name, numba type, kind, ndim) tuples; X must come first."""
    X = checks[0][1]
    for name, t, kind, ndim in checks:
        problem = _kind_problem(func, name, t, kind, ndim, like=X)
        if problem:
            return problem
    return None


# --------------------------------------------------------------------------- value checks
@_checks
def _need_rows(func, X):
    if X.shape[1] < 1:
        raise ValueError(func + ": X must have at least one column; got shape (" +
                         str(X.shape[0]) + ", 0)")


@_checks
def _need_optional_rows(func, name, length, n):
    if length != 0 and length != n:
        raise ValueError(func + ": " + name + " has length " + str(length) + " but X has " +
                         str(n) + " rows (pass an empty array to leave it out)")


@_checks
def _need_mode(func, mode):
    if mode != SOFT and mode != HARD and mode != STOCHASTIC:
        raise ValueError(func + ": mode must be SOFT (0), HARD (1) or STOCHASTIC (2); got " +
                         str(mode))


@_checks
def _need_shape(func, name, got, want):
    """``got``, ``want``: tuples of the same length (the ranks were checked while typing)."""
    same = True
    for i in range(len(got)):
        if got[i] != want[i]:
            same = False
    if not same:
        g = ""
        w = ""
        for i in range(len(got)):
            g += ("" if i == 0 else ", ") + str(got[i])
            w += ("" if i == 0 else ", ") + str(want[i])
        raise ValueError(func + ": " + name + " must have shape (" + w + "), from X and " +
                         "means/probs; got (" + g + ")")


@_checks
def _weights(func, weights, k):
    """(k,) float64 copy of the mixing weights: finite, >= 0, not all zero."""
    if weights.shape[0] != k:
        raise ValueError(func + ": weights has length " + str(weights.shape[0]) + " but there are " +
                         str(k) + " components")
    w = weights.astype(np.float64)
    total = 0.0
    for c in range(k):
        if not (w[c] >= 0.0 and w[c] < np.inf):
            raise ValueError(func + ": weights must be finite and >= 0")
        total += w[c]
    if not total > 0.0:
        raise ValueError(func + ": weights must not all be 0")
    return w


@_checks
def _finite_params(func, name, a):
    """C-contiguous float64 copy of a parameter array whose entries must be finite."""
    out = np.ascontiguousarray(a).astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(func + ": " + name + " contains NaN or infinity")
    return out


@_checks
def _triangular(func, prec):
    """Checked (kp, d, d) factors: a positive diagonal (the log-determinant is its sum)."""
    for c in range(prec.shape[0]):
        for j in range(prec.shape[1]):
            if not prec[c, j, j] > 0.0:
                raise ValueError(func + ": prec_chol must have a positive diagonal")
    return prec


@_checks
def _positive(func, name, a):
    if not np.all(a > 0.0):
        raise ValueError(func + ": " + name + " must be > 0")
    return a


@_checks
def _probabilities(func, probs):
    if not (np.all(probs > 0.0) and np.all(probs < 1.0)):
        raise ValueError(func + ": probs must lie strictly between 0 and 1")
    return probs


@_checks
def _log_det_tri(prec_chol):
    kp, d = prec_chol.shape[0], prec_chol.shape[1]
    out = np.zeros(kp)
    for c in range(kp):
        for j in range(d):
            out[c] += np.log(prec_chol[c, j, j])
    return out


def _raiser(message):
    """An implementation that raises ``message`` (every public kernel's first argument is X)."""
    def fail(X, *args):
        raise KernelTypeError(message)

    return fail


def _check_types(func, checks):
    """None when every argument has the right kind, else an implementation that raises."""
    problem = _first_problem(func, checks)
    return None if problem is None else _raiser(problem)


def _public(typer):
    """Make the documented signature below a public kernel checked by ``typer``.

    ``typer`` maps argument types to an implementation (the checks, then the private
    kernel) or to a raiser.  Inside a user's compiled function, a call resolves through
    Numba's overload machinery to that implementation.  From Python, the same
    implementation runs as Python (the checks are plain Python there) around the compiled
    pass kernels the estimators use, so a Python call compiles nothing (a compiled
    wrapper would re-link and re-optimise the whole pass kernel, ~20 s per argument-type
    combination).
    """

    def wrap(f):
        impls = {}
        sig = inspect.signature(f)

        @functools.wraps(f)
        def call(*args, **kwargs):
            if kwargs:
                args = sig.bind(*args, **kwargs).args
            try:
                key = tuple(numba.typeof(a) for a in args)
            except ValueError as exc:  # an object Numba has no type for
                raise KernelTypeError(f"{f.__name__}: {exc}") from None
            impl = impls.get(key)
            if impl is None:
                impl = impls[key] = typer(*key)
            return impl(*args)

        overload(call)(typer)
        return call

    return wrap


# --------------------------------------------------------------------------- Gaussian
@_checks
def _means(func, X, means):
    _need_rows(func, X)
    d = X.shape[1]
    if means.shape[0] < 1 or means.shape[1] != d:
        raise ValueError(func + ": means must have shape (k, " + str(d) +
                         ") with k >= 1 to match X; got (" + str(means.shape[0]) + ", " +
                         str(means.shape[1]) + ")")
    return _finite_params(func, "means", means)


# Per covariance type: checked float64 copies (means (k, d), precision factors in the
# private kernels' form, log_det (k,)).
@_checks
def _params_full(func, X, means, prec_chol):
    mu = _means(func, X, means)
    k, d = mu.shape
    _need_shape(func, "prec_chol", prec_chol.shape, (k, d, d))
    p3 = _triangular(func, _finite_params(func, "prec_chol", prec_chol))
    return mu, p3, _log_det_tri(p3)


@_checks
def _params_tied(func, X, means, prec_chol):
    mu = _means(func, X, means)
    k, d = mu.shape
    _need_shape(func, "prec_chol", prec_chol.shape, (d, d))
    p3 = _triangular(func, _finite_params(func, "prec_chol", prec_chol).reshape((1, d, d)))
    return mu, p3, np.full(k, _log_det_tri(p3)[0])


@_checks
def _params_diag(func, X, means, prec_chol):
    mu = _means(func, X, means)
    k, d = mu.shape
    _need_shape(func, "prec_chol", prec_chol.shape, (k, d))
    p = _positive(func, "prec_chol", _finite_params(func, "prec_chol", prec_chol))
    return mu, p.reshape((k, 1, d)), np.log(p).sum(axis=1)


@_checks
def _params_spherical(func, X, means, prec_chol):
    mu = _means(func, X, means)
    k, d = mu.shape
    _need_shape(func, "prec_chol", prec_chol.shape, (k,))
    s = _positive(func, "prec_chol", _finite_params(func, "prec_chol", prec_chol))
    p = np.empty((k, d))
    for c in range(k):
        p[c, :] = s[c]
    return mu, p.reshape((k, 1, d)), np.log(p).sum(axis=1)


_PREC_NDIM = {"full": 3, "tied": 2, "diag": 2, "spherical": 1}
_PARAMS = {"full": _params_full, "tied": _params_tied, "diag": _params_diag,
           "spherical": _params_spherical}


def _gauss_overloads(ct):
    """Typers (density, em_step) for one covariance type, for :func:`_public`.

    Each maps argument types to an implementation (checks, then the private kernel),
    which runs as Python for a Python call and is compiled into a user's ``@njit`` code.
    """
    density_name = f"gaussian_log_density_{ct}"
    step_name = f"gaussian_em_step_{ct}"
    pn = _PREC_NDIM[ct]
    params = _PARAMS[ct]
    full = ct in ("full", "tied")
    tied = ct == "tied"

    def density_ol(X, means, prec_chol):
        fail = _check_types(density_name, [("X", X, "data", 2), ("means", means, "real", 2),
                                           ("prec_chol", prec_chol, "real", pn)])
        if fail is not None:
            return fail

        def impl(X, means, prec_chol):
            mu, prec, log_det = params(density_name, X, means, prec_chol)
            k = mu.shape[0]
            out = np.empty((X.shape[0], k))
            _passes.gauss_rows(X, np.zeros(k), mu, prec, log_det, full, np.empty(0),
                               np.empty((0, 0)), np.empty(0, dtype=np.int64), out)
            return out

        return impl

    def step_ol(X, sample_weight, weights, means, prec_chol, mode, seed, iteration, labels):
        fail = _check_types(step_name, [
            ("X", X, "data", 2), ("sample_weight", sample_weight, "float64", 1),
            ("weights", weights, "real", 1), ("means", means, "real", 2),
            ("prec_chol", prec_chol, "real", pn), ("mode", mode, "int", None),
            ("seed", seed, "int", None), ("iteration", iteration, "int", None),
            ("labels", labels, "labels", 1)])
        if fail is not None:
            return fail

        def impl(X, sample_weight, weights, means, prec_chol, mode, seed, iteration, labels):
            mu, prec, log_det = params(step_name, X, means, prec_chol)
            n, d = X.shape
            k = mu.shape[0]
            w = _weights(step_name, weights, k)
            _need_optional_rows(step_name, "sample_weight", sample_weight.shape[0], n)
            _need_optional_rows(step_name, "labels", labels.shape[0], n)
            _need_mode(step_name, mode)
            ks = (1 if tied else k) if full else 1
            center = w @ mu if tied else np.zeros(d)
            nk, s1, s2, sq, ll, ch = _passes.gauss_pass(
                X, sample_weight, np.log(w), mu, prec, log_det, full, mode, seed, iteration,
                labels, _passes.block_rows(n, k, d, ks), tied, center)
            return nk, s1, _second_moments(s2, sq), ll, ch

        return impl

    # The statistics the public kernel returns: (k, d, d) full, (d, d) tied, (k, d) diag.
    if tied:
        _second_moments = _tied_moments
    elif full:
        _second_moments = _full_moments
    else:
        _second_moments = _diag_moments
    return density_ol, step_ol


@_checks
def _full_moments(s2, sq):
    return s2


@_checks
def _tied_moments(s2, sq):
    return s2[0]


@_checks
def _diag_moments(s2, sq):
    return sq


_density_full, _step_full = _gauss_overloads("full")
_density_tied, _step_tied = _gauss_overloads("tied")
_density_diag, _step_diag = _gauss_overloads("diag")
_density_spherical, _step_spherical = _gauss_overloads("spherical")


@_public(_density_full)
def gaussian_log_density_full(X, means, prec_chol):
    """Per-component Gaussian log-densities, full covariances.

    Parameters
    ----------
    X : (n, d) float32 or float64
    means : (k, d) real
    prec_chol : (k, d, d) real, upper-triangular with a positive diagonal,
        precision = P @ P.T

    Returns
    -------
    (n, k) float64 array of ``log N(X[i] | means[c], inv(P_c P_c^T))``.
    """


@_public(_density_tied)
def gaussian_log_density_tied(X, means, prec_chol):
    """As :func:`gaussian_log_density_full` with one shared (d, d) ``prec_chol``."""


@_public(_density_diag)
def gaussian_log_density_diag(X, means, prec_chol):
    """As :func:`gaussian_log_density_full` with (k, d) positive inverse standard deviations."""


@_public(_density_spherical)
def gaussian_log_density_spherical(X, means, prec_chol):
    """As :func:`gaussian_log_density_full` with (k,) positive inverse standard deviations."""


@_public(_step_full)
def gaussian_em_step_full(X, sample_weight, weights, means, prec_chol, mode, seed, iteration,
                          labels):
    """One pass: E-step in ``mode`` and sufficient statistics, full covariances.

    Parameters
    ----------
    X : (n, d) float32 or float64
    sample_weight : (n,) float64 or empty
    weights : (k,) real, >= 0 and not all 0
    means : (k, d) real
    prec_chol : (k, d, d) real, upper-triangular with a positive diagonal
    mode, seed, iteration, labels : see the module conventions

    Returns
    -------
    nk : (k,) ``sum_i w_i r_ic``
    s1 : (k, d) ``sum_i w_i r_ic (x_i - means[c])``
    s2 : (k, d, d) ``sum_i w_i r_ic (x_i - means[c])(x_i - means[c])^T``
    loglik : float, observed-data log-likelihood at the given parameters
    n_changed : int
    """


@_public(_step_tied)
def gaussian_em_step_tied(X, sample_weight, weights, means, prec_chol, mode, seed, iteration,
                          labels):
    """One pass for a tied (d, d) ``prec_chol``.

    Returns ``(nk (k,), s1 (k, d), s2 (d, d), loglik, n_changed)`` where ``s2`` is
    ``sum_i w_i (x_i - z)(x_i - z)^T`` about ``z = weights @ means``.  The tied
    covariance is then ``(s2 - sum_c [a_c v_c^T + v_c a_c^T - nk_c v_c v_c^T]) / sum(nk)``
    with ``v_c = new_mean_c - z`` and ``a_c = s1_c + nk_c (means_c - z)``.
    """


@_public(_step_diag)
def gaussian_em_step_diag(X, sample_weight, weights, means, prec_chol, mode, seed, iteration,
                          labels):
    """One pass for diagonal covariances (``prec_chol`` (k, d) inverse std. deviations).

    Returns ``(nk (k,), s1 (k, d), s2 (k, d), loglik, n_changed)`` with
    ``s2[c, j] = sum_i w_i r_ic (x_ij - means[c, j])^2``.
    """


@_public(_step_spherical)
def gaussian_em_step_spherical(X, sample_weight, weights, means, prec_chol, mode, seed,
                               iteration, labels):
    """As :func:`gaussian_em_step_diag` with (k,) inverse standard deviations.

    The spherical variance of component c is the mean over j of the diag variances.
    """


# --------------------------------------------------------------------------- binomial
@_checks
def _trials(func, X, trials):
    n, d = X.shape
    tn, td = trials.shape
    if not ((tn == 1 or tn == n) and (td == 1 or td == d)):
        raise ValueError(func + ": trials must have shape (1 or n, 1 or d) = (1 or " + str(n) +
                         ", 1 or " + str(d) + "); got (" + str(tn) + ", " + str(td) + ")")


@_checks
def _probs(func, X, probs):
    _need_rows(func, X)
    if probs.shape[0] < 1 or probs.shape[1] != X.shape[1]:
        raise ValueError(func + ": probs must have shape (k, " + str(X.shape[1]) +
                         ") with k >= 1 to match X; got (" + str(probs.shape[0]) + ", " +
                         str(probs.shape[1]) + ")")
    return _probabilities(func, np.ascontiguousarray(probs).astype(np.float64))


def _binom_density_ol(X, trials, probs):
    func = "binomial_log_density"
    fail = _check_types(func, [("X", X, "data", 2), ("trials", trials, "like", 2),
                               ("probs", probs, "real", 2)])
    if fail is not None:
        return fail

    def impl(X, trials, probs):
        p = _probs(func, X, probs)
        _trials(func, X, trials)
        k = p.shape[0]
        out = np.empty((X.shape[0], k))
        _passes.binomial_rows(X, trials, np.zeros(k), p, True, np.empty(0), np.empty((0, 0)),
                              np.empty(0, dtype=np.int64), out)
        return out

    return impl


def _binom_coef_ol(X, trials, sample_weight):
    func = "binomial_log_coef_sum"
    fail = _check_types(func, [("X", X, "data", 2), ("trials", trials, "like", 2),
                               ("sample_weight", sample_weight, "float64", 1)])
    if fail is not None:
        return fail

    def impl(X, trials, sample_weight):
        _need_rows(func, X)
        _trials(func, X, trials)
        _need_optional_rows(func, "sample_weight", sample_weight.shape[0], X.shape[0])
        return _passes.binomial_log_coef_sum(X, trials, sample_weight, _passes.BINOMIAL_BLOCK)

    return impl


def _binom_step_ol(X, trials, sample_weight, weights, probs, mode, seed, iteration, labels):
    func = "binomial_em_step"
    fail = _check_types(func, [
        ("X", X, "data", 2), ("trials", trials, "like", 2),
        ("sample_weight", sample_weight, "float64", 1), ("weights", weights, "real", 1),
        ("probs", probs, "real", 2), ("mode", mode, "int", None), ("seed", seed, "int", None),
        ("iteration", iteration, "int", None), ("labels", labels, "labels", 1)])
    if fail is not None:
        return fail

    def impl(X, trials, sample_weight, weights, probs, mode, seed, iteration, labels):
        p = _probs(func, X, probs)
        _trials(func, X, trials)
        n = X.shape[0]
        w = _weights(func, weights, p.shape[0])
        _need_optional_rows(func, "sample_weight", sample_weight.shape[0], n)
        _need_optional_rows(func, "labels", labels.shape[0], n)
        _need_mode(func, mode)
        return _passes.binomial_pass(X, trials, sample_weight, np.log(w), p, mode, seed,
                                     iteration, labels, _passes.BINOMIAL_BLOCK)

    return impl


@_public(_binom_density_ol)
def binomial_log_density(X, trials, probs):
    """Per-component binomial log-probabilities.

    Parameters
    ----------
    X : (n, d) float32 or float64 counts
    trials : (n_t, d_t) array of X's dtype (see module conventions)
    probs : (k, d) real success probabilities, strictly inside (0, 1)

    Returns
    -------
    (n, k) float64 array: ``sum_j log Binomial(X[i, j] | trials[i, j], probs[c, j])``,
    binomial coefficients included.
    """


@_public(_binom_coef_ol)
def binomial_log_coef_sum(X, trials, sample_weight):
    """``sum_i w_i sum_j log C(trials_ij, X_ij)``: the parameter-free part of the likelihood.

    Returns
    -------
    float
    """


@_public(_binom_step_ol)
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
    weights : (k,) real mixing weights, >= 0 and not all 0
    probs : (k, d) real success probabilities, strictly inside (0, 1)
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
