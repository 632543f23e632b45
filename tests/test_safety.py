"""Trust at every boundary (estimators): fitted state, extreme values, weights, inputs.

Each test here failed on the main branch before issue 10: with a crash, garbage, NaN, a
silent acceptance, or a fit that depended on the scale of the weights.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
from fastem import BinomialMixture, ConvergenceWarning, GaussianMixture

TYPES = ["full", "tied", "diag", "spherical"]
GAUSS_ATTRS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def blobs(n=150, d=2, k=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, size=(k, d))
    return (centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))).astype(dtype)


def counts(n=150, d=3, seed=0, trials=10):
    rng = np.random.default_rng(seed)
    p = np.array([[0.2, 0.5, 0.8], [0.7, 0.3, 0.4]])[:, :d]
    z = rng.integers(0, 2, n)
    return rng.binomial(trials, p[z]).astype(np.float64)


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*a, **kw)


def snapshot(m, names):
    return {n: np.array(getattr(m, n), copy=True) for n in names}


def assert_same(snap, m):
    for name, value in snap.items():
        np.testing.assert_array_equal(getattr(m, name), value, err_msg=name)


# ------------------------------------------------------------------ 1. fitted state is the truth
@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("new", [dict(n_components=1), dict(n_components=6),
                                 dict(covariance_type="tied"), dict(covariance_type="spherical")])
def test_gaussian_methods_follow_the_fit_not_changed_parameters(ct, new):
    X = blobs()
    m = GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
    before = (m.predict_proba(X), m.predict(X), m.score_samples(X), m.score(X), m.bic(X),
              m.aic(X), m.sample(20, random_state=1))
    m.set_params(**new)
    for _ in range(3):  # the old crash needed a few calls to corrupt the heap
        after = (m.predict_proba(X), m.predict(X), m.score_samples(X), m.score(X), m.bic(X),
                 m.aic(X), m.sample(20, random_state=1))
    assert after[0].shape == (len(X), 3)
    for a, b in zip(before, after):
        if isinstance(a, tuple):
            for u, v in zip(a, b):
                np.testing.assert_array_equal(u, v)
        else:
            np.testing.assert_array_equal(a, b)
    m.fit(X)  # the next fit takes the new parameters
    assert m.weights_.shape == (m.n_components,)


@pytest.mark.parametrize("new", [dict(n_components=1), dict(n_components=5),
                                 dict(fit_weights=False), dict(mode="hard")])
def test_binomial_methods_follow_the_fit_not_changed_parameters(new):
    C = counts()
    m = BinomialMixture(3, random_state=0).fit(C, trials=10)
    before = (m.predict_proba(C, trials=10), m.predict(C, trials=10), m.score_samples(C, trials=10), m.bic(C, trials=10),
              m.aic(C, trials=10), m.sample(20, trials=10, random_state=1))
    m.set_params(**new)
    for _ in range(3):
        after = (m.predict_proba(C, trials=10), m.predict(C, trials=10), m.score_samples(C, trials=10),
                 m.bic(C, trials=10), m.aic(C, trials=10), m.sample(20, trials=10, random_state=1))
    assert after[0].shape == (len(C), 3)
    for a, b in zip(before, after):
        if isinstance(a, tuple):
            for u, v in zip(a, b):
                np.testing.assert_array_equal(u, v)
        else:
            np.testing.assert_array_equal(a, b)


def test_data_with_other_n_features_is_refused_after_fit():
    X = blobs(d=2)
    g = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="3 features, but GaussianMixture is expecting 2 features as input"):
        g.predict(np.hstack([X, X[:, :1]]))
    b = BinomialMixture(2, random_state=0).fit(counts(d=2), trials=10)
    with pytest.raises(ValueError, match="3 features"):
        b.predict(counts(d=3), trials=10)


@pytest.mark.parametrize("change", ["features", "n_components", "covariance_type"])
def test_gaussian_warm_start_refuses_an_incompatible_fit(change):
    X = blobs(d=2)
    m = GaussianMixture(2, warm_start=True, random_state=0).fit(X)
    snap = snapshot(m, GAUSS_ATTRS + ("lower_bound_", "n_iter_"))
    Y = X
    if change == "features":
        Y = np.hstack([X, X[:, :1]])
    elif change == "n_components":
        m.set_params(n_components=3)
    else:
        m.set_params(covariance_type="diag")
    with pytest.raises(ValueError, match="warm_start=False"):
        m.fit(Y)
    assert_same(snap, m)  # the refused fit changed nothing
    m.set_params(warm_start=False).fit(Y)  # and a fresh fit works


@pytest.mark.parametrize("change", ["features", "n_components"])
def test_binomial_warm_start_refuses_an_incompatible_fit(change):
    C = counts(d=2)
    m = BinomialMixture(2, warm_start=True, random_state=0).fit(C, trials=10)
    snap = snapshot(m, ("weights_", "probs_", "lower_bound_"))
    if change == "features":
        C = counts(d=3)
    else:
        m.set_params(n_components=3)
    with pytest.raises(ValueError, match="warm_start=False"):
        m.fit(C, trials=10)
    assert_same(snap, m)


def test_inconsistent_hand_set_attributes_raise():
    X = blobs()
    m = GaussianMixture(3, random_state=0).fit(X)
    m.weights_ = m.weights_[:2]
    with pytest.raises(ValueError, match="inconsistent"):
        m.predict(X)
    m = GaussianMixture(3, random_state=0).fit(X)
    m.precisions_cholesky_ = m.precisions_cholesky_.transpose(0, 2, 1)  # lower triangular
    with pytest.raises(ValueError, match="upper-triangular"):
        m.score_samples(X)
    m = GaussianMixture(3, random_state=0, covariance_type="diag").fit(X)
    m.means_ = m.means_[:, :1]
    with pytest.raises(ValueError, match="inconsistent"):
        m.predict_proba(X[:, :1])
    b = BinomialMixture(2, random_state=0).fit(counts(), trials=10)
    b.probs_ = np.where(b.probs_ > 0.5, 1.0, b.probs_)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        b.score_samples(counts(), trials=10)


def test_failed_fit_leaves_the_estimator_as_it_was():
    X = blobs()
    m = GaussianMixture(2, random_state=0).fit(X)
    snap = snapshot(m, GAUSS_ATTRS + ("n_features_in_", "lower_bound_"))
    with pytest.raises(ValueError):  # not positive definite on collapsed data, mid-fit
        m.set_params(reg_covar=0.0, n_components=2).fit(np.repeat(X[:2], 20, axis=0))
    assert_same(snap, m)


def test_unfitted_estimators_raise_value_error():
    for m, kw in ((GaussianMixture(), {}), (BinomialMixture(), {"trials": 10})):
        for method in ("predict", "predict_proba", "score_samples", "score", "bic", "aic"):
            with pytest.raises(ValueError, match="not fitted"):
                getattr(m, method)(np.ones((3, 2)), **kw)
        with pytest.raises(ValueError, match="not fitted"):
            m.sample(3)


def test_bic_of_a_zero_dimensional_input_is_a_value_error():
    m = GaussianMixture(1).fit(blobs(d=1))
    with pytest.raises(ValueError):
        m.bic(np.float64(3.0))


# ------------------------------------------------------------------ 4. no NaN, ever
def _finite(m, names):
    for name in names:
        assert np.all(np.isfinite(getattr(m, name))), name


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_one_far_outlier_gives_the_closed_form_one_component_fit(ct, init):
    # A narrow start (k-means++ / random_from_data: covariances reg_covar * I) puts the
    # outlier beyond float64's range under every component: it used to turn into NaN.
    # For full/tied the covariance is rank-one to float64 (eigenvalues ~1e301 and ~1): its
    # Cholesky succeeds or not by rounding (fastmath differs between NUMBA_OPT levels), so
    # there the clear error is an equally correct answer.  Never NaN.
    X = blobs(n=200, d=2, k=1)
    X[7] = 1e152
    est = GaussianMixture(1, covariance_type=ct, init_params=init, random_state=0,
                          reg_covar=1e-6)
    if ct in ("full", "tied"):
        try:
            m = est.fit(X)
        except ValueError as exc:
            assert "reg_covar" in str(exc) and "scale" in str(exc), exc
            return
    else:
        m = est.fit(X)
    _finite(m, GAUSS_ATTRS)
    assert np.isfinite(m.lower_bound_)
    mean, cov = ref.gaussian_one_component_mle(X, 1e-6, ct)
    np.testing.assert_allclose(m.means_[0], mean, rtol=1e-12)
    np.testing.assert_allclose(m.covariances_, cov, rtol=1e-12)


@pytest.mark.parametrize("ct", TYPES)
def test_far_outlier_gets_its_own_component_or_a_clear_error(ct):
    X = blobs(n=200, d=2, k=2, seed=3)
    X[11] = [1e152, -1e152]
    for init in ("kmeans", "k-means++", "random_from_data", "random"):
        try:
            m = quiet(GaussianMixture(3, covariance_type=ct, init_params=init, random_state=0,
                                      max_iter=50).fit, X)
        except ValueError as exc:  # allowed, if it says what to change
            assert "reg_covar" in str(exc) or "Rescale" in str(exc), exc
            continue
        _finite(m, GAUSS_ATTRS)
        assert not np.isnan(m.lower_bound_) and not np.any(np.isnan(m.lower_bounds_))
        proba = m.predict_proba(X)
        assert np.all(np.isfinite(proba))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_spread_beyond_float64_is_a_clear_error():
    X = blobs(n=100, d=2, k=1)
    X[0] = 1e200
    with pytest.raises(ValueError, match="Rescale X"):
        GaussianMixture(1).fit(X)


@pytest.mark.parametrize("ct", TYPES)
def test_rows_beyond_range_score_minus_inf_and_go_to_the_nearest_component(ct):
    X = blobs(n=200, d=2, k=2, seed=4)
    m = GaussianMixture(2, covariance_type=ct, random_state=0).fit(X)
    far = np.array([[1e160, 1e160], [-1e170, 0.0]]) + m.means_[:1]
    ll = m.score_samples(far)
    assert np.all(ll == -np.inf)
    proba = m.predict_proba(far)
    assert set(np.unique(proba)) <= {0.0, 1.0} and np.all(proba.sum(axis=1) == 1.0)
    # The limit posterior: the component with the smallest Mahalanobis distance.
    pc = np.asarray(m.precisions_cholesky_, np.float64)
    scaled = (far[:, None, :] - m.means_[None]) * 2.0**-600
    if ct == "full":
        q = np.einsum("nkj,kjl->nkl", scaled, pc)
    elif ct == "tied":
        q = scaled @ pc
    elif ct == "diag":
        q = scaled * pc[None]
    else:
        q = scaled * pc[None, :, None]
    nearest = np.argmin((q**2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(m.predict(far), nearest)
    np.testing.assert_array_equal(proba.argmax(axis=1), nearest)


@pytest.mark.parametrize("ct", TYPES)
def test_rows_beyond_range_with_missing_cells_score_minus_inf_too(ct):
    """The same limit in the missing-data kernel: a far row scores -inf (not 0, as its
    repaired log joints would give) and goes to the component nearest in its observed
    cells, whether or not it has missing ones, next to ordinary incomplete rows."""
    X = blobs(n=200, d=3, k=2, seed=4)
    m = GaussianMixture(2, covariance_type=ct, random_state=0).fit(X)
    mu = m.means_
    far = np.array([[1e160, np.nan, 1e160], [np.nan, -1e170, 0.0], [1e165, 2e165, -1e165],
                    [mu[1, 0], np.nan, mu[1, 2]], [np.nan, np.nan, 1e158]])
    far[:3, 2] += mu[0, 2]
    lost = np.array([True, True, True, False, True])
    ll = m.score_samples(far)
    assert np.all(ll[lost] == -np.inf) and np.isfinite(ll[~lost]).all()
    proba = m.predict_proba(far)
    assert set(np.unique(proba[lost])) <= {0.0, 1.0}
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # the nearest component by the Mahalanobis distance of the observed cells, in a
    # rescaled arithmetic: (x_o - mu_o)^T S_oo^-1 (x_o - mu_o) with S the covariance
    cov = ref.full_covariances(m.covariances_, ct, 2, 3)
    for i in np.flatnonzero(lost):
        o = ~np.isnan(far[i])
        q = []
        for c in range(2):
            e = (far[i, o] * 2.0**-600 - mu[c, o] * 2.0**-600)
            q.append(e @ np.linalg.solve(cov[c][np.ix_(o, o)], e))
        assert m.predict(far[i:i + 1])[0] == np.argmin(q), i
        assert m.predict(far)[i] == np.argmin(q) == proba[i].argmax(), i
    # the complete far row: as the complete-data kernel says
    np.testing.assert_array_equal(m.predict_proba(far[2:3]), proba[2:3])


def test_float32_parameters_that_overflow_float32_are_a_clear_error():
    X = np.array([[1e30], [0]], np.float32)
    with pytest.raises(ValueError, match="float64"):
        GaussianMixture(1, reg_covar=0).fit(X)
    m = GaussianMixture(1, reg_covar=0).fit(X.astype(np.float64))  # what the message says
    assert np.isfinite(m.covariances_).all() and m.covariances_[0, 0, 0] == pytest.approx(2.5e59)


@pytest.mark.parametrize("ct", TYPES)
def test_extreme_float32_values(ct):
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(100, 2)) * 1e18).astype(np.float32)  # squares near float32's max
    try:
        m = quiet(GaussianMixture(2, covariance_type=ct, random_state=0).fit, X)
    except ValueError as exc:
        assert "float64" in str(exc)
    else:
        _finite(m, GAUSS_ATTRS)
        assert np.all(np.isfinite(m.score_samples(X)))


def test_binomial_trials_beyond_exact_integers_are_refused():
    with pytest.raises(ValueError, match="2\\*\\*53"):
        BinomialMixture(2).fit(np.array([[1.0], [2.0], [3.0]]), trials=1e300)


# sample_weight scaled by any positive constant gives the same fit.
scales = st.floats(-20, 200).map(lambda e: 10.0**e)


@given(scales, st.sampled_from(TYPES), st.sampled_from(["soft", "hard"]))
def test_gaussian_fit_is_invariant_to_the_scale_of_sample_weight(c, ct, mode):
    X = blobs(n=80, seed=6)
    w = np.random.default_rng(7).uniform(0.5, 2.0, size=len(X))
    kw = dict(covariance_type=ct, mode=mode, random_state=0, max_iter=10, tol=0)
    a = quiet(GaussianMixture(3, **kw).fit, X, sample_weight=w)
    b = quiet(GaussianMixture(3, **kw).fit, X, sample_weight=w * c)
    for name in GAUSS_ATTRS:
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-9)


@given(scales, st.sampled_from(["soft", "hard", "stochastic"]))
def test_binomial_fit_is_invariant_to_the_scale_of_sample_weight(c, mode):
    C = counts(n=80, seed=8)
    w = np.random.default_rng(9).uniform(0.5, 2.0, size=len(C))
    kw = dict(mode=mode, random_state=0, max_iter=10, tol=0)
    a = quiet(BinomialMixture(2, **kw).fit, C, trials=10, sample_weight=w)
    b = quiet(BinomialMixture(2, **kw).fit, C, trials=10, sample_weight=w * c)
    np.testing.assert_allclose(b.probs_, a.probs_, rtol=1e-9)
    np.testing.assert_allclose(b.weights_, a.weights_, rtol=1e-9)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-9)


@given(st.floats(100, 300), st.integers(1, 3), st.sampled_from(TYPES),
       st.sampled_from(["kmeans", "k-means++", "random", "random_from_data"]),
       st.sampled_from(["soft", "hard", "stochastic"]), st.integers(0, 2**16))
def test_far_outliers_never_give_nan(exponent, k, ct, init, mode, seed):
    rng = np.random.default_rng(seed)
    X = blobs(n=60, d=2, k=2, seed=seed)
    X[rng.integers(0, len(X))] = rng.choice([-1, 1], size=2) * 10.0**exponent
    w = rng.uniform(0, 2, size=len(X))  # weight-0 rows included
    try:
        m = quiet(GaussianMixture(k, covariance_type=ct, init_params=init, mode=mode,
                                  random_state=0, max_iter=10).fit, X, sample_weight=w)
    except ValueError:
        return
    _finite(m, GAUSS_ATTRS)
    assert not np.any(np.isnan(m.lower_bounds_))
    for out in (m.predict_proba(X), m.score_samples(X)):
        assert not np.any(np.isnan(out))


# ------------------------------------------------------------------ 7. inputs are never modified
def readonly(a):
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("mode", ["soft", "hard", "stochastic"])
def test_gaussian_reads_read_only_inputs_and_changes_nothing(ct, mode, dtype):
    X = readonly(blobs(dtype=dtype))
    w = readonly(np.random.default_rng(0).uniform(0, 2, len(X)))
    keep = X.copy(), w.copy()
    inits = dict(weights_init=readonly(np.full(3, 1 / 3)), means_init=readonly(X[:3]))
    m = quiet(GaussianMixture(3, covariance_type=ct, mode=mode, random_state=0, max_iter=5,
                              **inits).fit, X, sample_weight=w)
    m.predict(X), m.predict_proba(X), m.score_samples(X), m.bic(X)
    quiet(m.set_params(warm_start=True).fit, X, sample_weight=w)
    np.testing.assert_array_equal(X, keep[0])
    np.testing.assert_array_equal(w, keep[1])


@pytest.mark.parametrize("mode", ["soft", "hard", "stochastic"])
def test_binomial_reads_read_only_inputs_and_changes_nothing(mode):
    C = readonly(counts())
    T = readonly(np.full((len(C), 1), 10.0))
    w = readonly(np.random.default_rng(0).uniform(0, 2, len(C)))
    keep = C.copy(), T.copy(), w.copy()
    m = quiet(BinomialMixture(2, mode=mode, random_state=0, max_iter=5).fit, C, trials=T,
              sample_weight=w)
    m.predict(C, trials=T), m.predict_proba(C, trials=T), m.score_samples(C, trials=T)
    quiet(m.set_params(warm_start=True).fit, C, trials=T, sample_weight=w)
    for a, b in zip((C, T, w), keep):
        np.testing.assert_array_equal(a, b)


def test_binomial_random_from_data_on_float32_keeps_probabilities_inside_0_1():
    # Found by the fuzzer: the clip to 1 - 1e-10 was done in float32, where it is 1.0.
    X = np.array([[1], [0], [1], [0]], np.float32)
    m = BinomialMixture(2, init_params="random_from_data", random_state=0, max_iter=5).fit(X)
    assert np.all((m.probs_ > 0) & (m.probs_ < 1)) and np.isfinite(m.lower_bound_)
    assert np.all(np.isfinite(m.score_samples(X)))


@pytest.mark.parametrize("X", [np.array(2.0), 2.0, np.float32(1.0)])
def test_zero_dimensional_data_is_refused(X):
    # Found by the fuzzer: np.ascontiguousarray turned a 0-d array into one row.
    with pytest.raises(ValueError, match="0-D"):
        BinomialMixture(1, max_iter=3).fit(X, trials=5)
    with pytest.raises(ValueError, match="0-D"):
        GaussianMixture(1).fit(X)
    b = BinomialMixture(1, max_iter=3).fit(np.array([2.0, 3.0]), trials=5)
    with pytest.raises(ValueError, match="0-D"):
        b.predict(X, trials=5)


@pytest.mark.parametrize("ct", ["full", "tied"])
def test_a_float32_covariance_indefinite_by_rounding_is_read_from_the_precision(ct):
    """A float32 fit of ill-conditioned data can store covariances_ that rounding made
    indefinite; the model then uses the covariance its precision factor gives, so that
    sample, impute and rows with missing cells work and agree with the complete rows."""
    X = np.array([[1143.3435, -423.51935], [-32.74849, -166.8244]], np.float32)
    g = GaussianMixture(1, covariance_type=ct, random_state=0).fit(X)
    assert np.linalg.eigvalsh(np.asarray(g.covariances_, np.float64).reshape(2, 2))[0] < 0
    P = np.asarray(g.precisions_cholesky_, np.float64).reshape(2, 2)
    implied = np.linalg.inv(P @ P.T)
    draws, _ = g.sample(20000, random_state=0)
    assert np.isfinite(draws).all()
    emp = np.cov(draws.T)
    # 20000 draws: the sample covariance is within a few percent of the implied one
    np.testing.assert_allclose(emp, implied, rtol=0.05)
    # a complete row scores the same beside incomplete rows (the missing-data kernel
    # factorises the covariance) as alone (the complete-data kernel, the precision)
    Q = np.array([[1.0, 2.0], [np.nan, 3.0], [600.0, np.nan], [555.3, -295.2]], np.float32)
    both = g.score_samples(Q)
    alone = g.score_samples(Q[[0, 3]])
    np.testing.assert_allclose(both[[0, 3]], alone, rtol=1e-5)
    # incomplete rows: the Gaussian marginal of the implied covariance
    mu = np.asarray(g.means_, np.float64)[0]
    for i, j in ((1, 1), (2, 0)):
        want = -0.5 * (np.log(2 * np.pi * implied[j, j]) + (Q[i, j] - mu[j])**2 / implied[j, j])
        assert both[i] == pytest.approx(want, rel=1e-5)
    imp = g.impute(Q)
    assert np.isfinite(imp).all()
    cond = mu[0] + implied[0, 1] / implied[1, 1] * (3.0 - mu[1])
    assert imp[1, 0] == pytest.approx(cond, rel=1e-4)
    # a warm start on data with missing cells continues from it
    h = GaussianMixture(1, covariance_type=ct, random_state=0, warm_start=True,
                        max_iter=2).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        h.fit(np.vstack([X, [[np.nan, 0.5]]]).astype(np.float32))
    assert np.isfinite(h.lower_bound_)


@pytest.mark.parametrize("ct", TYPES)
def test_a_float32_model_scores_a_row_alike_whatever_its_neighbours(ct):
    """float32 covariances_ and precisions_cholesky_ are two roundings of one fit that
    differ by the condition number times float32's resolution (found by the fuzzer: 4
    rows in 3 dimensions, reg_covar-sized variances, 1e-6 apart); the rows beside one
    with a NaN cell (the missing-data kernel, which factorises a covariance) score as
    they do alone (the complete-data kernel, the precision factor)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 3)).astype(np.float32)
    g = GaussianMixture(1, covariance_type=ct, random_state=0).fit(X)
    Q = np.concatenate([rng.normal(size=(10, 3)), X])
    hole = np.concatenate([Q, [[np.nan, 0.0, 0.0]]])
    np.testing.assert_allclose(g.score_samples(hole)[:-1], g.score_samples(Q), rtol=1e-9)
    np.testing.assert_allclose(g.predict_proba(hole)[:-1], g.predict_proba(Q), rtol=1e-9)
