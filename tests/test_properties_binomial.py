"""Invariants of binomial-mixture EM, checked on data hypothesis generates."""

import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fastem import BinomialMixture, ConvergenceWarning


@st.composite
def problems(draw, max_k=3):
    n = draw(st.integers(2, 60))
    d = draw(st.integers(1, 3))
    k = draw(st.integers(1, min(max_k, n)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    per_row = draw(st.booleans())
    T = rng.integers(1, 20, size=(n, 1) if per_row else (1, 1))
    p = rng.uniform(0, 1, size=(k, d))
    X = rng.binomial(np.broadcast_to(T, (n, d)), p[rng.integers(0, k, n)]).astype(dtype)
    probs_init = rng.uniform(0.05, 0.95, size=(k, d))
    return X, T, k, probs_init, rng


def fit(X, T, k, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return BinomialMixture(k, **kw).fit(X, trials=T)


@given(problems(), st.booleans())
def test_soft_em_loglik_never_decreases(prob, weighted):
    X, T, k, probs_init, rng = prob
    w = rng.uniform(0.1, 3, size=len(X)) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = BinomialMixture(k, probs_init=probs_init, tol=0, max_iter=25).fit(X, trials=T, sample_weight=w)
    lb = np.array(m.lower_bounds_)
    assert np.all(np.diff(lb) >= -1e-12 * np.abs(lb[1:])), lb


@given(problems())
def test_responsibilities_sum_to_one(prob):
    X, T, k, probs_init, _ = prob
    m = fit(X, T, k, probs_init=probs_init, max_iter=3)
    resp = m.predict_proba(X, trials=T)
    assert resp.shape == (len(X), k)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(resp >= 0)


@given(problems(), st.sampled_from(["soft", "hard"]))
def test_permuting_rows_changes_nothing(prob, mode):
    X, T, k, probs_init, rng = prob
    perm = rng.permutation(len(X))
    Tp = T[perm] if T.shape[0] > 1 else T
    a = fit(X, T, k, mode=mode, probs_init=probs_init, tol=0, max_iter=10)
    b = fit(X[perm], Tp, k, mode=mode, probs_init=probs_init, tol=0, max_iter=10)
    # Only the order of floating-point additions differs.
    np.testing.assert_allclose(a.probs_, b.probs_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-9)
    np.testing.assert_array_equal(a.predict(X, trials=T)[perm], b.predict(X[perm], trials=Tp))


@given(problems(max_k=1), st.sampled_from(["soft", "hard", "stochastic"]), st.booleans())
def test_one_component_fit_is_closed_form(prob, mode, weighted):
    X, T, _, _, rng = prob
    w = rng.uniform(0.1, 3, size=len(X)) if weighted else np.ones(len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = BinomialMixture(1, mode=mode, random_state=0, max_iter=2).fit(X, trials=T, sample_weight=w)
    Tb = np.broadcast_to(T, X.shape).astype(np.float64)
    want = (w[:, None] * X).sum(axis=0) / (w[:, None] * Tb).sum(axis=0)
    np.testing.assert_allclose(m.probs_[0], np.clip(want, 1e-10, 1 - 1e-10), rtol=1e-10)
    assert m.weights_.tolist() == [1.0]
