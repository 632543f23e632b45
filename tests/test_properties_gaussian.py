"""Invariants of Gaussian-mixture EM on data hypothesis generates."""

import warnings

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import reference as ref
from fastem import ConvergenceWarning, GaussianMixture

TYPES = ["full", "tied", "diag", "spherical"]


@st.composite
def problems(draw, max_k=3):
    n = draw(st.integers(10, 80))
    d = draw(st.integers(1, 3))
    k = draw(st.integers(1, max_k))
    ct = draw(st.sampled_from(TYPES))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offset = draw(st.sampled_from([0.0, 100.0]))
    centres = rng.normal(0, draw(st.floats(0.5, 5.0)), size=(k, d)) + offset
    X = (centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))).astype(dtype)
    means = X[rng.choice(n, k, replace=False)].astype(np.float64)
    var = X.astype(np.float64).var(axis=0) + 0.1
    cov = {"full": np.repeat(np.diag(var)[None], k, axis=0), "tied": np.diag(var),
           "diag": np.tile(var, (k, 1)), "spherical": np.full(k, var.mean())}[ct]
    start = dict(weights_init=np.full(k, 1.0 / k), means_init=means,
                 precisions_init=ref.precisions_from_covariances(cov, ct)[0])
    return X, k, ct, start, rng


def fit(X, k, ct, start, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(k, covariance_type=ct, reg_covar=1e-4, **start, **kw).fit(X)


@given(problems())
def test_soft_em_loglik_never_decreases(prob):
    # Monotonicity is a theorem for exact EM only: reg_covar moves the M-step off the
    # likelihood's maximiser (hypothesis found a 1.6e-9 relative dip with reg_covar=1e-4).
    X, k, ct, start, _ = prob
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m = GaussianMixture(k, covariance_type=ct, reg_covar=0.0, tol=0, max_iter=20,
                                **start).fit(X)
    except ValueError as exc:  # a component collapsed: exact EM is undefined there
        assume("not positive definite" not in str(exc))
        raise
    lb = np.array(m.lower_bounds_)
    assert np.all(np.diff(lb) >= -1e-9 * np.abs(lb[1:])), lb


@given(problems())
def test_responsibilities_sum_to_one(prob):
    X, k, ct, start, _ = prob
    resp = fit(X, k, ct, start, max_iter=3).predict_proba(X)
    assert resp.shape == (len(X), k) and np.all(resp >= 0) and resp.dtype == X.dtype
    # float32 data get float32 posteriors (as scikit-learn): each of the k rounded by half
    # an ulp, and the sum too
    rtol = 1e-12 if resp.dtype == np.float64 else k * np.finfo(np.float32).eps
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=rtol)


@given(problems(), st.sampled_from(["soft", "hard"]))
def test_permuting_rows_changes_nothing(prob, mode):
    X, k, ct, start, rng = prob
    perm = rng.permutation(len(X))
    a = fit(X, k, ct, start, mode=mode, tol=0, max_iter=8)
    b = fit(X[perm], k, ct, start, mode=mode, tol=0, max_iter=8)
    rtol = 1e-8 if X.dtype == np.float64 else 1e-5  # attributes are rounded to X's dtype
    np.testing.assert_allclose(a.means_, b.means_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-9)
    np.testing.assert_array_equal(a.predict(X)[perm], b.predict(X[perm]))


@given(problems(max_k=1), st.sampled_from(["soft", "hard", "stochastic"]))
def test_one_component_fit_is_closed_form(prob, mode):
    X, _, ct, _, _ = prob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = GaussianMixture(1, covariance_type=ct, mode=mode, reg_covar=1e-4, max_iter=2,
                            random_state=0).fit(X)
    mean, cov = ref.gaussian_one_component_mle(X, 1e-4, ct)
    rtol = 1e-9 if X.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(m.means_[0], mean, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(m.covariances_, cov, rtol=rtol)
