"""BinomialMixture with missing counts (issue 13, point 7): a NaN count is an unobserved
cell, whose factor leaves the likelihood and whose trials leave the statistics."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from fastem import BinomialMixture

P = np.array([[0.2, 0.7, 0.5], [0.8, 0.3, 0.6]])
PROBS0 = np.array([[0.35, 0.58, 0.45], [0.6, 0.41, 0.5]])  # no exact ties of a row's joints
WEIGHTS0 = np.array([0.45, 0.55])


def _data(seed, n=600, frac=0.2, per_row=True):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, n)
    T = rng.integers(4, 16, (n, 1)).astype(np.float64) if per_row else np.full((n, 1), 10.0)
    X = rng.binomial(np.broadcast_to(T.astype(np.int64), (n, 3)), P[z]).astype(np.float64)
    X[rng.random(X.shape) < frac] = np.nan
    empty = np.isnan(X).all(axis=1)
    X[empty, 0] = np.minimum(2.0, T[empty, 0])  # every row keeps one observed count
    return X, T


# A slow, obvious reference, row by row, from the definition: the observed cells' factors.
def _ref_row_terms(X, T, weights, probs):
    """(per-row log-likelihood, responsibilities (n, k)) from the observed cells only."""
    n, k = X.shape[0], probs.shape[0]
    ll, resp = np.empty(n), np.empty((n, k))
    for i in range(n):
        seen = ~np.isnan(X[i])
        t = np.broadcast_to(T[i], X[i].shape)[seen]
        joint = np.array([weights[c] * np.prod(binom.pmf(X[i, seen], t, probs[c, seen]))
                          for c in range(k)])
        ll[i] = np.log(joint.sum())
        resp[i] = joint / joint.sum()
    return ll, resp


def _ref_em_step(X, T, weights, probs, hard=False):
    ll, resp = _ref_row_terms(X, T, weights, probs)
    if hard:
        resp = np.eye(probs.shape[0])[np.argmax(resp, axis=1)]
    Tb = np.broadcast_to(T, X.shape)
    seen = ~np.isnan(X)
    sx = resp.T @ np.where(seen, X, 0.0)
    stt = resp.T @ np.where(seen, Tb, 0.0)
    nk = resp.sum(axis=0)
    new = probs.copy()
    ok = stt > 0
    new[ok] = np.clip(sx[ok] / stt[ok], 1e-10, 1 - 1e-10)
    return nk / nk.sum(), new, ll.mean()


def _fit(X, T, mode="soft", max_iter=25, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BinomialMixture(2, mode=mode, max_iter=max_iter, tol=0, probs_init=PROBS0,
                               weights_init=WEIGHTS0, random_state=0, **kw).fit(X, trials=T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("per_row", [True, False])
def test_soft_em_with_missing_counts_matches_the_reference(dtype, per_row):
    X, T = _data(1, per_row=per_row)
    g = _fit(X.astype(dtype), T.astype(dtype))
    w, p, lls = WEIGHTS0, PROBS0, []
    for _ in range(25):
        w, p, ll = _ref_em_step(X, T, w, p)
        lls.append(ll)
    np.testing.assert_allclose(g.probs_, p, rtol=1e-8)
    np.testing.assert_allclose(g.weights_, w, rtol=1e-8)
    np.testing.assert_allclose(g.lower_bounds_, lls, rtol=1e-10)
    ll, resp = _ref_row_terms(X, T, g.weights_, g.probs_)
    np.testing.assert_allclose(g.score_samples(X.astype(dtype), trials=T), ll, rtol=1e-10)
    np.testing.assert_allclose(g.predict_proba(X.astype(dtype), trials=T), resp, rtol=1e-9,
                               atol=1e-12)


def test_hard_em_step_with_missing_counts_matches_the_reference():
    X, T = _data(2)
    _, resp = _ref_row_terms(X, T, WEIGHTS0, PROBS0)
    assert np.min(np.abs(resp[:, 0] - 0.5)) > 1e-6  # labels not decided by rounding
    g = _fit(X, T, mode="hard", max_iter=1)
    w, p, ll = _ref_em_step(X, T, WEIGHTS0, PROBS0, hard=True)
    np.testing.assert_allclose(g.probs_, p, rtol=1e-10)
    np.testing.assert_allclose(g.weights_, w, rtol=1e-10)
    assert g.lower_bound_ == pytest.approx(ll, rel=1e-12)


def test_stochastic_em_with_missing_counts_recovers_the_components():
    X, T = _data(3, n=3000)
    g = _fit(X, T, mode="stochastic", max_iter=30)
    order = np.argsort(g.probs_[:, 0])
    assert np.all(np.isfinite(g.probs_)) and np.allclose(g.probs_[order], P, atol=0.05)
    again = _fit(X, T, mode="stochastic", max_iter=30)
    assert np.array_equal(g.probs_, again.probs_)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), frac=st.floats(0.0, 0.6))
def test_soft_em_never_decreases_the_observed_data_likelihood(seed, frac):
    X, T = _data(seed, n=200, frac=frac)
    g = _fit(X, T, max_iter=15)
    lb = np.asarray(g.lower_bounds_)
    assert np.all(np.diff(lb) >= -1e-10 * np.abs(lb[1:]))


def test_a_missing_count_is_the_same_as_dropping_its_feature():
    """One feature missing in every row: the fit of the other features, that feature's
    probabilities kept where they started."""
    X, T = _data(4, frac=0.0)
    M = X.copy()
    M[:, 2] = np.nan
    a = _fit(M, T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = BinomialMixture(2, max_iter=25, tol=0, probs_init=PROBS0[:, :2],
                            weights_init=WEIGHTS0).fit(X[:, :2], trials=T)
    np.testing.assert_allclose(a.probs_[:, :2], b.probs_, rtol=1e-12)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-12)
    assert np.array_equal(a.probs_[:, 2], PROBS0[:, 2])
    np.testing.assert_allclose(a.score_samples(M, trials=T), b.score_samples(X[:, :2], trials=T),
                               rtol=1e-12)


def test_rows_with_every_count_missing():
    X, T = _data(5)
    g = _fit(X, T)
    empty = np.full((2, 3), np.nan)
    np.testing.assert_allclose(g.predict_proba(empty, trials=10), [g.weights_] * 2, rtol=1e-14)
    # log of the mixing weights' sum: 0 to rounding
    np.testing.assert_allclose(g.score_samples(empty, trials=10), [0.0, 0.0], atol=1e-15)
    bad = np.vstack([X[:5], empty, X[5:10]])
    with pytest.raises(ValueError, match=r"every count missing.*rows \[5, 6\]"):
        _fit(bad, 15)
    with pytest.raises(ValueError, match="infinity"):
        _fit(np.where(np.isnan(X), np.inf, X), T)
    Tn = T.copy()
    Tn[7] = np.nan
    with pytest.raises(ValueError, match="trials contains NaN"):
        _fit(X, Tn)


def test_the_user_array_is_not_changed_and_complete_data_is_unchanged():
    X, T = _data(6)
    before = X.copy()
    g = _fit(X, T)
    assert np.array_equal(X, before, equal_nan=True)
    C, _ = _data(6, frac=0.0)
    a = _fit(C, T)
    assert a.n_distinct_rows_ <= C.shape[0]  # complete data: rows still merged
    assert g.n_distinct_rows_ == X.shape[0]  # missing cells: not merged


def test_files_and_dask_with_missing_counts_fit_as_in_memory(tmp_path):
    da = pytest.importorskip("dask.array")
    X, _ = _data(7, per_row=False)
    a = _fit(X, 10)
    path = tmp_path / "m.npy"
    np.save(path, X)
    b = _fit(np.load(path, mmap_mode="r"), 10, chunk_bytes=2_000)
    c = _fit(da.from_array(X, chunks=(150, 3)), 10)
    for other in (b, c):
        np.testing.assert_allclose(other.probs_, a.probs_, rtol=1e-10)
        np.testing.assert_allclose(other.weights_, a.weights_, rtol=1e-10)
    np.testing.assert_allclose(c.score_samples(da.from_array(X, chunks=(150, 3)), trials=10)
                               .compute(), a.score_samples(X, trials=10), rtol=1e-12)


def test_the_readme_example_runs():
    import pathlib

    text = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    start = text.index("fastem.BinomialMixture(2, trials=10", text.index("## Missing values"))
    begin = text.rindex("```python", 0, start) + 9
    code = text[begin:text.index("```", begin)]
    scope = {"np": np}
    exec(compile("import fastem\n" + code, "README.md", "exec"), scope)  # noqa: S102
    assert np.all(np.abs(scope["bm"].probs_ - 0.3) < 0.05)
