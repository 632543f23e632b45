"""GaussianMixture with missing values (issue 13): a NaN cell is unobserved, the E-step
uses each row's observed marginal and the M-step the expected sufficient statistics of
Ghahramani & Jordan (1994); checked against the slow reference in tests/reference.py."""

import functools
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import reference as ref
from fastem import GaussianMixture
from fastem.exceptions import ConvergenceWarning

TYPES = ("full", "tied", "diag", "spherical")
nan = np.nan
N_ITER = 25


def _covariances(rng, covariance_type, k, d):
    """Well-conditioned random covariances in covariance_type's shape."""
    def spd():
        A = rng.normal(size=(d, d))
        return A @ A.T / d + 0.5 * np.eye(d)

    if covariance_type == "full":
        return np.stack([spd() for _ in range(k)])
    if covariance_type == "tied":
        return spd()
    if covariance_type == "diag":
        return rng.uniform(0.5, 2.0, size=(k, d))
    return rng.uniform(0.5, 2.0, size=k)


def _knock_out(rng, X, frac):
    """Copy of X with about ``frac`` of its cells NaN, every row keeping one cell."""
    X = X.copy()
    mask = rng.random(X.shape) < frac
    for i in np.flatnonzero(mask.all(axis=1)):
        mask[i, rng.integers(X.shape[1])] = False
    X[mask] = nan
    return X


def _problem(seed, covariance_type, n=200, d=3, k=2, frac=0.2):
    """(X with NaN cells, start (weights, means, covariances as fastem will see them))."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.5, size=(k, d))
    z = rng.integers(k, size=n)
    X = centers[z] + rng.normal(size=(n, d)) @ (0.6 * rng.normal(size=(d, d)) + 0.5 * np.eye(d))
    weights = rng.dirichlet(np.full(k, 5.0))
    means = centers + rng.normal(scale=0.5, size=(k, d))
    covs = _covariances(rng, covariance_type, k, d)
    # fastem gets precisions and inverts them: the reference starts from that inverse
    covs = ref.covariances_from_precisions(
        ref.precisions_from_covariances(covs, covariance_type)[0], covariance_type)
    return _knock_out(rng, X, frac), (weights, means, covs)


def _model(covariance_type, start, max_iter=N_ITER, **kw):
    weights, means, covs = start
    prec = ref.precisions_from_covariances(covs, covariance_type)[0]
    return GaussianMixture(len(weights), covariance_type=covariance_type, tol=0,
                           max_iter=max_iter, weights_init=weights, means_init=means,
                           precisions_init=prec, **{"random_state": 0, **kw})


def _fit(model, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, **kw)


def _close(got, want, rtol):
    """assert_allclose, with an absolute slack scaled to the array (off-diagonals near 0)."""
    want = np.asarray(want, dtype=np.float64)
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=rtol,
                               atol=rtol * max(1.0, np.abs(want).max()))


def _sample_weight(n, seed=99):
    w = np.random.default_rng(seed).uniform(0.2, 3.0, n)
    w[[4, 17]] = 0.0  # rows of weight 0 count for nothing
    return w


@functools.lru_cache(maxsize=None)
def _reference_fit(covariance_type, weighted):
    """(X, start, sample_weight, reference.missing_em over N_ITER iterations), cached:
    several tests compare against the same reference run."""
    X, start = _problem(1, covariance_type)
    sw = _sample_weight(X.shape[0]) if weighted else None
    return X, start, sw, ref.missing_em(X, *start, covariance_type, 1e-6, N_ITER,
                                        sample_weight=sw)


def _assert_same_fit(g, result, rtol, rtol_ll):
    w, m, c, lls = result
    _close(g.weights_, w, rtol)
    _close(g.means_, m, rtol)
    _close(g.covariances_, c, rtol)
    np.testing.assert_allclose(g.lower_bounds_, lls, rtol=rtol_ll)
    assert g.lower_bound_ == pytest.approx(lls[-1], rel=rtol_ll)


# --------------------------------------------------------------------------
# 1. Soft EM from a given start is the reference's EM.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("covariance_type", TYPES)
def test_soft_em_matches_the_reference(covariance_type, weighted):
    X, start, sw, result = _reference_fit(covariance_type, weighted)
    g = _fit(_model(covariance_type, start), X, sample_weight=sw)
    assert g.n_iter_ == N_ITER and g.means_.dtype == np.float64
    _assert_same_fit(g, result, 1e-8, 1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_float32_input_accumulates_in_float64(covariance_type):
    """float32 X: float32 attributes, equal to the float64 reference on the same (rounded)
    data, rounded to float32."""
    X, start = _problem(1, covariance_type)
    X32 = X.astype(np.float32)
    result = ref.missing_em(X32.astype(np.float64), *start, covariance_type, 1e-6, N_ITER)
    g = _fit(_model(covariance_type, start), X32)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(g, name).dtype == np.float32, name
    # float32 accumulation over 200 rows x 25 iterations would be off by ~1e-5; float64
    # accumulation leaves only the final rounding to float32 (~6e-8).
    _assert_same_fit(g, result, 1e-6, 1e-10)


# --------------------------------------------------------------------------
# 2. Per-row outputs at the fitted parameters.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", TYPES)
def test_per_row_outputs_match_the_reference(covariance_type):
    X, _ = _problem(2, covariance_type, k=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g = GaussianMixture(3, covariance_type=covariance_type, tol=1e-8, max_iter=40,
                            random_state=0).fit(X)  # the init on column-mean-filled rows
    Y, _ = _problem(3, covariance_type, n=150, k=3, frac=0.35)  # other rows
    params = (g.weights_, g.means_, g.covariances_, covariance_type)
    ll = ref.missing_loglik_rows(Y, *params)
    resp = ref.missing_responsibilities(Y, *params)
    np.testing.assert_allclose(g.score_samples(Y), ll, rtol=1e-10)
    np.testing.assert_allclose(g.predict_proba(Y), resp, rtol=1e-9, atol=1e-12)
    top2 = np.sort(resp, axis=1)[:, -2:]
    assert np.min(top2[:, 1] - top2[:, 0]) > 1e-6  # labels not decided by rounding
    np.testing.assert_array_equal(g.predict(Y), np.argmax(resp, axis=1))
    assert g.score(Y) == pytest.approx(ll.mean(), rel=1e-10)
    k, d = g.means_.shape
    p = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d,
         "spherical": k}[covariance_type] + k * d + k - 1
    assert g._n_parameters() == p
    n = Y.shape[0]
    assert g.bic(Y) == pytest.approx(-2 * ll.sum() + p * np.log(n), rel=1e-10)
    assert g.aic(Y) == pytest.approx(-2 * ll.sum() + 2 * p, rel=1e-10)
    # rows with every cell missing: the prior, and log 1 = 0
    E = np.vstack([Y[:3], np.full((2, d), nan), Y[3:6]])
    proba = g.predict_proba(E)
    np.testing.assert_allclose(proba[3:5], [g.weights_] * 2, rtol=1e-14)
    np.testing.assert_allclose(g.score_samples(E)[3:5], [0.0, 0.0], atol=1e-14)
    np.testing.assert_allclose(proba[[0, 1, 2, 5, 6, 7]], resp[:6], rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------
# 3. EM never decreases the observed-data log-likelihood.
# --------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), frac=st.floats(0.05, 0.6),
       covariance_type=st.sampled_from(TYPES), k=st.integers(2, 3))
def test_soft_em_never_decreases_the_observed_data_likelihood(seed, frac, covariance_type, k):
    X, _ = _problem(seed, covariance_type, n=150, k=k, frac=frac)
    # reg_covar = 0: the M-step is then the exact maximiser, so EM is monotone
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            g = GaussianMixture(k, covariance_type=covariance_type, tol=0, max_iter=15,
                                reg_covar=0.0, random_state=seed % 1000).fit(X)
        except ValueError as exc:
            # with no regularisation a component can collapse onto too few observed
            # values (seed 3, frac 0.53125, diag, k 3: its variance reaches 0), which is
            # the clear error scikit-learn raises too, not a likelihood that decreases
            assume("not positive definite" not in str(exc))
            raise
    lb = np.asarray(g.lower_bounds_)
    assert lb.shape == (15,) and np.all(np.isfinite(lb))
    assert np.all(np.diff(lb) >= -1e-10 * np.abs(lb[1:]))


# --------------------------------------------------------------------------
# 4. Hard and stochastic EM.
# --------------------------------------------------------------------------
def _step_with(X, resp, means, covs, covariance_type, reg_covar, sample_weight=None):
    """reference.missing_em_step's M-step with the responsibilities ``resp`` given
    (Ghahramani & Jordan's expected statistics under each component's conditional)."""
    n, d = X.shape
    k = means.shape[0]
    full = ref.full_covariances(covs, covariance_type, k, d)
    w = np.ones(n) if sample_weight is None else sample_weight
    wr = w[:, None] * resp
    nk = wr.sum(axis=0)
    new_means = np.empty((k, d))
    scatter = np.zeros((k, d, d))
    for c in range(k):
        cond = [ref.missing_conditional(X[i], means[c], full[c]) for i in range(n)]
        x_hat = np.array([h for h, _ in cond])
        new_means[c] = wr[:, c] @ x_hat / nk[c]
        for i in range(n):
            diff = x_hat[i] - new_means[c]
            scatter[c] += wr[i, c] * (np.outer(diff, diff) + cond[i][1])
    eye = np.eye(d)
    if covariance_type == "full":
        new = scatter / nk[:, None, None] + reg_covar * eye
    elif covariance_type == "tied":
        new = scatter.sum(axis=0) / w.sum() + reg_covar * eye
    else:
        new = np.diagonal(scatter, axis1=1, axis2=2) / nk[:, None] + reg_covar
        new = new if covariance_type == "diag" else new.mean(axis=1)
    weights = (nk + 10 * np.finfo(float).eps) / np.sum(nk + 10 * np.finfo(float).eps)
    return weights, new_means, new


def _hard_labels(X, weights, means, covs, covariance_type):
    resp = ref.missing_responsibilities(X, weights, means, covs, covariance_type)
    top2 = np.sort(resp, axis=1)[:, -2:]
    assert np.min(top2[:, 1] - top2[:, 0]) > 1e-6  # labels not decided by rounding
    return np.argmax(resp, axis=1)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_hard_em_matches_the_hand_computed_steps(covariance_type):
    """Hard EM: one-hot at the reference posterior's argmax, then the expected statistics
    of the missing cells under the chosen component; it stops after the first iteration
    (beyond the first) in which no label changes."""
    X, start = _problem(4, covariance_type)
    g1 = _fit(_model(covariance_type, start, max_iter=1, mode="hard"), X)
    g = _fit(_model(covariance_type, start, max_iter=30, mode="hard"), X)

    weights, means, covs = start
    k = len(weights)
    labels, lls = None, []
    for it in range(1, 31):
        new_labels = _hard_labels(X, weights, means, covs, covariance_type)
        assert np.bincount(new_labels, minlength=k).min() > 0  # no empty component
        lls.append(ref.missing_loglik_rows(X, weights, means, covs, covariance_type).mean())
        weights, means, covs = _step_with(X, np.eye(k)[new_labels], means, covs,
                                          covariance_type, 1e-6)
        if it == 1:
            _close(g1.weights_, weights, 1e-10)
            _close(g1.means_, means, 1e-10)
            _close(g1.covariances_, covs, 1e-10)
            assert g1.lower_bound_ == pytest.approx(lls[0], rel=1e-12)
        if labels is not None and np.array_equal(labels, new_labels):
            break
        labels = new_labels
    assert 2 < it < 30 and g.converged_ and g.n_iter_ == it
    np.testing.assert_allclose(g.lower_bounds_, lls, rtol=1e-10)
    _close(g.weights_, weights, 1e-8)
    _close(g.means_, means, 1e-8)
    _close(g.covariances_, covs, 1e-8)
    np.testing.assert_array_equal(
        g.predict(X), _hard_labels(X, g.weights_, g.means_, g.covariances_, covariance_type))


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_stochastic_em_is_reproducible_and_finite(covariance_type):
    X, start = _problem(5, covariance_type, n=300, frac=0.3)
    a = _fit(_model(covariance_type, start, max_iter=20, mode="stochastic", random_state=3), X)
    b = _fit(_model(covariance_type, start, max_iter=20, mode="stochastic", random_state=3), X)
    for name in ("weights_", "means_", "covariances_"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.all(np.isfinite(getattr(a, name))), name
    assert a.lower_bounds_ == b.lower_bounds_ and np.all(np.isfinite(a.lower_bounds_))
    assert a.lower_bound_ == max(a.lower_bounds_) and not a.converged_
    # the kept iterate is scored as reported
    w, m, c = a.weights_, a.means_, a.covariances_
    assert ref.missing_loglik_rows(X, w, m, c, covariance_type).mean() == pytest.approx(
        a.lower_bound_, rel=1e-10)


def test_stochastic_em_with_one_component_is_soft_em():
    """One component: every draw is component 0, the soft posterior; the kept iterate
    is the one the best log-likelihood was computed at (before its M-step)."""
    X, _ = _problem(6, "full", frac=0.3)
    start = (np.array([1.0]), np.array([[3.0, -2.0, 1.0]]), 2.0 * np.eye(3)[None])
    s = _fit(_model("full", start, max_iter=8, mode="stochastic"), X)
    w, m, c, lls = ref.missing_em(X, *start, "full", 1e-6, 8)
    np.testing.assert_allclose(s.lower_bounds_, lls, rtol=1e-10)
    best = int(np.argmax(lls))
    assert best == 7  # EM increases it every iteration from this poor start
    w, m, c, _ = ref.missing_em(X, *start, "full", 1e-6, best)
    _close(s.means_, m, 1e-9)
    _close(s.covariances_, c, 1e-9)


# --------------------------------------------------------------------------
# 5. Missing cells touch only their own rows and features.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_a_feature_missing_everywhere_is_the_same_as_dropping_it(covariance_type):
    """The observed-data likelihood of the other features does not involve the missing
    feature's parameters, and their update uses their cells alone (spherical excepted:
    its one variance mixes every feature)."""
    X, start = _problem(7, covariance_type, frac=0.0)
    M = X.copy()
    M[:, 2] = nan
    a = _fit(_model(covariance_type, start), M)
    weights, means, covs = start
    sub = {"full": lambda c: c[:, :2, :2], "tied": lambda c: c[:2, :2],
           "diag": lambda c: c[:, :2]}[covariance_type]
    b = _fit(_model(covariance_type, (weights, means[:, :2], sub(covs))), X[:, :2])
    _close(a.weights_, b.weights_, 1e-10)
    _close(a.means_[:, :2], b.means_, 1e-10)
    _close(sub(a.covariances_), b.covariances_, 1e-10)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(a.score_samples(M), b.score_samples(X[:, :2]), rtol=1e-12)
    if covariance_type == "diag":  # independent of the rest: never moved (but reg_covar)
        np.testing.assert_allclose(a.means_[:, 2], means[:, 2], rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_complete_rows_score_the_same_next_to_incomplete_ones(covariance_type):
    """A complete row gets the same log-likelihood and posterior whether its call holds
    rows with NaN (the missing-data kernel) or not (the complete-data kernel)."""
    X, start = _problem(8, covariance_type, frac=0.3)
    g = _fit(_model(covariance_type, start, max_iter=5), X)
    complete = ~np.isnan(X).any(axis=1)
    assert 20 < complete.sum() < X.shape[0]
    np.testing.assert_allclose(g.score_samples(X)[complete], g.score_samples(X[complete]),
                               rtol=1e-12)
    np.testing.assert_allclose(g.predict_proba(X)[complete], g.predict_proba(X[complete]),
                               rtol=1e-10, atol=1e-14)
    # and the complete-data fit is the reference's too
    C = X[complete]
    h = _fit(_model(covariance_type, start, max_iter=5), C)
    _assert_same_fit(h, ref.missing_em(C, *start, covariance_type, 1e-6, 5), 1e-8, 1e-10)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_the_initialisation_sees_the_rows_with_column_means_filled_in(init_params):
    """Fewer than 100,000 rows: every row initialises, each NaN replaced by its column's
    mean over the observed cells (for the initialisation only)."""
    X, _ = _problem(17, "full", k=3, frac=0.3)
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)

    def init(data):
        return GaussianMixture(3, max_iter=0, init_params=init_params,
                               random_state=4).fit(data)

    a, b = init(X), init(filled)
    for name in ("weights_", "means_", "covariances_"):
        _close(getattr(a, name), getattr(b, name), 1e-12)


# --------------------------------------------------------------------------
# 6. warm_start, e_step_stats + m_step, partial_fit.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", TYPES)
def test_warm_start_continues_the_fit(covariance_type):
    X, start, _, result = _reference_fit(covariance_type, False)
    g = _fit(_model(covariance_type, start, max_iter=10), X)
    np.testing.assert_allclose(g.lower_bounds_, result[3][:10], rtol=1e-10)
    g.set_params(warm_start=True, max_iter=N_ITER - 10)
    _fit(g, X)
    w, m, c, lls = result
    _assert_same_fit(g, (w, m, c, lls[10:]), 1e-8, 1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_e_step_stats_of_two_halves_then_m_step_is_one_iteration(covariance_type):
    X, start = _problem(9, covariance_type)
    sw = _sample_weight(X.shape[0], seed=5)
    g = _fit(_model(covariance_type, start, max_iter=0), X)  # the start, as it is
    _close(g.covariances_, start[2], 1e-12)
    a = g.e_step_stats(X[:120], sample_weight=sw[:120])
    b = g.e_step_stats(X[120:], sample_weight=sw[120:])
    ll = ref.missing_loglik_rows(X, *start, covariance_type)
    assert (a + b).loglik == pytest.approx(np.sum(sw * ll), rel=1e-11)
    g.m_step(a + b)
    w, m, c, _ = ref.missing_em_step(X, *start, covariance_type, 1e-6, sample_weight=sw)
    _close(g.weights_, w, 1e-10)
    _close(g.means_, m, 1e-10)
    _close(g.covariances_, c, 1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_partial_fit_after_fit_is_one_em_step_on_the_batch(covariance_type):
    X, start = _problem(10, covariance_type)
    g = _fit(_model(covariance_type, start, max_iter=0), X)
    batch = X[:90]
    g.partial_fit(batch)
    w, m, c, ll = ref.missing_em_step(batch, *start, covariance_type, 1e-6)
    assert g.lower_bound_ == pytest.approx(ll, rel=1e-11)
    _close(g.weights_, w, 1e-10)
    _close(g.means_, m, 1e-10)
    _close(g.covariances_, c, 1e-10)


def test_files_and_dask_with_missing_cells_fit_as_in_memory(tmp_path):
    X, start = _problem(18, "full", n=600)
    a = _fit(_model("full", start, max_iter=5), X)
    path = tmp_path / "m.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    b = _fit(_model("full", start, max_iter=5, chunk_bytes=2_000), mm)
    others = [(b, lambda g: g.score_samples(mm))]
    try:
        import dask.array as da
    except ImportError:
        pass
    else:
        D = da.from_array(X, chunks=(150, 3))
        others.append((_fit(_model("full", start, max_iter=5), D),
                       lambda g: g.score_samples(D).compute()))
    for g, score in others:
        _close(g.means_, a.means_, 1e-10)
        _close(g.covariances_, a.covariances_, 1e-10)
        np.testing.assert_allclose(g.lower_bounds_, a.lower_bounds_, rtol=1e-12)
        np.testing.assert_allclose(score(g), a.score_samples(X), rtol=1e-12)


# --------------------------------------------------------------------------
# 7. Bad input, and the user's arrays are never written.
# --------------------------------------------------------------------------
def test_infinity_and_rows_with_nothing_observed_are_errors():
    X, start = _problem(11, "full")
    g = _fit(_model("full", start, max_iter=2), X)
    for value in (np.inf, -np.inf):
        B = X.copy()
        B[7, 1] = value
        for call in (lambda: _fit(_model("full", start, max_iter=2), B), lambda: g.predict(B),
                     lambda: g.predict_proba(B), lambda: g.score_samples(B),
                     lambda: g.impute(B), lambda: g.e_step_stats(B)):
            with pytest.raises(ValueError, match="infinity"):
                call()
    B = X.copy()
    B[[1, 3]] = nan
    with pytest.raises(ValueError, match=r"every value missing.*rows 1, 3\b"):
        _fit(_model("full", start, max_iter=2), B)
    with pytest.raises(ValueError, match=r"every value missing.*rows 1, 3\b"):
        GaussianMixture(2).fit(B)


def test_nan_in_parameters_and_weights_is_an_error():
    X, (weights, means, covs) = _problem(12, "diag")
    prec = 1.0 / covs
    good = dict(weights_init=weights, means_init=means, precisions_init=prec)
    sw = np.ones(X.shape[0])
    sw[5] = nan
    with pytest.raises(ValueError, match="sample_weight"):
        GaussianMixture(2, covariance_type="diag").fit(X, sample_weight=sw)
    for name, value in good.items():
        bad = np.array(value, dtype=float)
        bad.flat[1] = nan
        with pytest.raises(ValueError, match=name):
            GaussianMixture(2, covariance_type="diag", **{**good, name: bad}).fit(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_user_array_is_never_changed(dtype):
    X, start = _problem(13, "tied", frac=0.3)
    X = X.astype(dtype)
    before = X.copy()
    g = _fit(_model("tied", start, max_iter=3), X)
    g.predict(X), g.predict_proba(X), g.score_samples(X), g.score(X), g.e_step_stats(X)
    g.impute(X), g.impute(X, method="sample", random_state=0)
    g.partial_fit(X)
    assert np.array_equal(X, before, equal_nan=True)


# --------------------------------------------------------------------------
# 8. impute.
# --------------------------------------------------------------------------
def _reference_impute(X, weights, means, covs, covariance_type):
    """sum_c p(c | x_o) E_c[x | x_o], row by row from the reference."""
    k, d = np.shape(means)
    full = ref.full_covariances(covs, covariance_type, k, d)
    resp = ref.missing_responsibilities(X, weights, means, covs, covariance_type)
    out = np.array(X, dtype=np.float64)
    for i in np.flatnonzero(np.isnan(X).any(axis=1)):
        out[i] = sum(resp[i, c] * ref.missing_conditional(X[i], means[c], full[c])[0]
                     for c in range(k))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", TYPES)
def test_impute_mean_is_the_posterior_weighted_conditional_mean(covariance_type, dtype):
    X, start = _problem(14, covariance_type, k=3, d=4, frac=0.3)
    X = X.astype(dtype)
    g = _fit(_model(covariance_type, start, max_iter=5), X)
    Y, _ = _problem(15, covariance_type, n=120, k=3, d=4, frac=0.4)
    Y = np.vstack([Y, np.full((1, 4), nan)]).astype(dtype)
    out = g.impute(Y)
    assert out.dtype == dtype and out.shape == Y.shape and not np.isnan(out).any()
    seen = ~np.isnan(Y)
    assert np.array_equal(out[seen], Y[seen])  # bit for bit
    want = _reference_impute(Y.astype(np.float64), g.weights_, g.means_, g.covariances_,
                             covariance_type)
    rtol = 1e-10 if dtype == np.float64 else 1e-6
    _close(out[~seen], want[~seen], rtol)
    _close(out[-1], np.asarray(g.weights_, np.float64) @ np.asarray(g.means_, np.float64), rtol)
    # no NaN: an equal copy
    C = np.ascontiguousarray(Y[seen.all(axis=1)])
    copy = g.impute(C)
    assert copy is not C and not np.shares_memory(copy, C)
    assert copy.dtype == dtype and np.array_equal(copy, C)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_impute_sample_is_reproducible_and_keeps_the_observed_cells(covariance_type):
    X, start = _problem(16, covariance_type, frac=0.3)
    g = _fit(_model(covariance_type, start, max_iter=3), X)
    a = g.impute(X, method="sample", random_state=7)
    b = g.impute(X, method="sample", random_state=7)
    c = g.impute(X, method="sample", random_state=8)
    seen = ~np.isnan(X)
    assert np.array_equal(a, b) and not np.isnan(a).any()
    assert np.array_equal(a[seen], X[seen]) and np.array_equal(c[seen], X[seen])
    assert not np.any(a[~seen] == c[~seen])
    a32 = g.impute(X.astype(np.float32), method="sample", random_state=7)
    assert a32.dtype == np.float32 and np.array_equal(a32[seen], X.astype(np.float32)[seen])
    with pytest.raises(ValueError, match="method"):
        g.impute(X, method="median")


def _fixed_model(weights, means, covs, covariance_type="full"):
    """A model at the given parameters: max_iter=0 keeps the initial ones."""
    data = np.random.default_rng(0).normal(size=(50, np.shape(means)[1]))
    return GaussianMixture(len(weights), covariance_type=covariance_type, max_iter=0,
                           weights_init=weights, means_init=means,
                           precisions_init=ref.precisions_from_covariances(
                               covs, covariance_type)[0]).fit(data)


def test_impute_sample_draws_from_the_conditional_gaussian():
    S = np.array([[2.0, 0.8, -0.5], [0.8, 1.5, 0.3], [-0.5, 0.3, 1.0]])
    mu = np.array([1.0, -2.0, 0.5])
    g = _fixed_model(np.array([1.0]), mu[None], S[None])
    N = 20000
    for row in ([0.7, nan, -0.4], [nan, 0.1, nan], [nan, nan, nan]):
        row = np.array(row)
        mis = np.isnan(row)
        draws = g.impute(np.tile(row, (N, 1)), method="sample", random_state=1)[:, mis]
        x_hat, C = ref.missing_conditional(row, mu, S)
        Cm = C[np.ix_(mis, mis)]
        mean_se = np.sqrt(np.diag(Cm) / N)
        assert np.all(np.abs(draws.mean(axis=0) - x_hat[mis]) < 5 * mean_se)
        emp = np.atleast_2d(np.cov(draws, rowvar=False))
        # standard error of a sample covariance: sqrt((s_ii s_jj + s_ij^2) / N)
        cov_se = np.sqrt((np.outer(np.diag(Cm), np.diag(Cm)) + Cm**2) / N)
        assert np.all(np.abs(emp - Cm) < 5 * cov_se)


def test_impute_sample_picks_components_by_their_posterior():
    weights = np.array([0.4, 0.6])
    means = np.array([[-0.5, -8.0], [0.5, 8.0]])
    covs = np.array([[[1.0, 0.5], [0.5, 2.0]], [[1.0, -0.3], [-0.3, 1.5]]])
    g = _fixed_model(weights, means, covs)
    N = 20000
    row = np.array([0.2, nan])
    draws = g.impute(np.tile(row, (N, 1)), method="sample", random_state=2)[:, 1]
    post = ref.missing_responsibilities(row[None], weights, means, covs, "full")[0]
    assert 0.2 < post[1] < 0.8
    high = draws > 0  # the components are 16 apart in the missing coordinate
    assert abs(high.mean() - post[1]) < 5 * np.sqrt(post[1] * post[0] / N)
    for c, part in ((0, draws[~high]), (1, draws[high])):
        x_hat, C = ref.missing_conditional(row, means[c], covs[c])
        assert abs(part.mean() - x_hat[1]) < 5 * np.sqrt(C[1, 1] / part.size)
        assert abs(part.var() - C[1, 1]) < 5 * C[1, 1] * np.sqrt(2 / part.size)


# --------------------------------------------------------------------------
# 9. One component: a published maximum-likelihood estimate under missing data.
# --------------------------------------------------------------------------
# Little & Rubin (1987), Statistical Analysis with Missing Data, Table 6.1 (adapted from
# Snedecor & Cochran, Statistical Methods, 6th ed., Table 6.9.1): size (hundreds of
# apples) of 18 trees and, for 12 of them, worms (% of apples with worms).  Values as
# distributed in R package mvnmle, data(apple) (copied from tests/test_reference_missing.py,
# which has the sources of the estimates below).
APPLE = np.array([
    [8, 59], [6, 58], [11, 56], [22, 53], [14, 50], [17, 45], [18, 43], [24, 42],
    [19, 39], [23, 38], [26, 30], [40, 27],
    [4, nan], [4, nan], [5, nan], [6, nan], [8, nan], [10, nan]], dtype=float)


def test_apple_one_component_is_the_published_mle():
    """R mvnmle's `mlest(apple)`: muhat = (14.722265587140136, 49.333248446740669),
    sigmahat = [[89.534149681512773, -90.696532296720122], [., 114.69470032845283]]
    (nlm-accurate to about 5 significant digits), value/-2 = -74.217476133121025
    (without the (observed cells)/2 log 2 pi constant); to 2 decimals 14.72, 49.33,
    89.53, -90.70, 114.69.  And the exact closed form (Anderson 1957): size from all 18
    trees, worms from its least-squares regression on size over the 12 complete ones."""
    g = GaussianMixture(1, tol=1e-12, max_iter=10_000, reg_covar=0.0).fit(APPLE)
    assert g.converged_
    mean, cov = g.means_[0], g.covariances_[0]
    np.testing.assert_allclose(mean, [14.722265587140136, 49.333248446740669], rtol=1e-5)
    np.testing.assert_allclose(cov, [[89.534149681512773, -90.696532296720122],
                                     [-90.696532296720122, 114.69470032845283]], rtol=1e-5)
    np.testing.assert_allclose(np.round(mean, 2), [14.72, 49.33])
    np.testing.assert_allclose(np.round(cov, 2), [[89.53, -90.70], [-90.70, 114.69]])

    size, (x, y) = APPLE[:, 0], APPLE[:12].T
    beta = np.cov(x, y, bias=True)[0, 1] / x.var()
    resid = y.var() - beta**2 * x.var()
    mu = [size.mean(), y.mean() + beta * (size.mean() - x.mean())]
    S = [[size.var(), beta * size.var()],
         [beta * size.var(), resid + beta**2 * size.var()]]
    # tol=1e-12 on the mean log-likelihood: the parameters are within ~5e-7
    np.testing.assert_allclose(mean, mu, rtol=2e-6)
    np.testing.assert_allclose(cov, S, rtol=2e-6)

    # EM run to the end reaches the exact MLE to rounding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        h = GaussianMixture(1, tol=0, max_iter=300, reg_covar=0.0).fit(APPLE)
    np.testing.assert_allclose(h.means_[0], mu, rtol=1e-12)
    np.testing.assert_allclose(h.covariances_[0], S, rtol=1e-12)

    loglik = g.score(APPLE) * APPLE.shape[0] + 0.5 * 30 * np.log(2 * np.pi)  # 30 cells seen
    assert loglik == pytest.approx(-74.217476133121025, abs=1e-8)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_complete_rows_score_alike_beside_incomplete_ones(covariance_type):
    """A complete row gets the same log-likelihood, posterior and label whether its call
    holds a row with NaN cells or not, even for an ill-conditioned model (three rows in
    3-D, scale 1000: a covariance of condition number about 1e12, far rows at -7e11),
    where the missing-data kernel's numbers (from the covariances) and the complete-data
    kernel's (from the precisions) part in the fifth digit (found by the fuzzer)."""
    rng = np.random.default_rng(0)
    g = GaussianMixture(1, covariance_type=covariance_type, random_state=0).fit(
        rng.normal(size=(3, 3)) * 1000)
    X = rng.normal(size=(10, 3))
    hole = X[:2].copy()
    hole[0, 0] = np.nan
    hole[1, 1:] = np.nan
    both = np.concatenate([X[:4], hole, X[4:]])
    keep = np.r_[0:4, 6:12]
    np.testing.assert_array_equal(g.score_samples(both)[keep], g.score_samples(X))
    np.testing.assert_array_equal(g.predict_proba(both)[keep], g.predict_proba(X))
    np.testing.assert_array_equal(g.predict(both)[keep], g.predict(X))
    # and the incomplete rows as they score alone
    np.testing.assert_array_equal(g.score_samples(both)[4:6], g.score_samples(hole))
