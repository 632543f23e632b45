"""GaussianMixture: same answers as scikit-learn, float32, degenerate cases, input handling."""

import warnings

import numba
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SKGaussianMixture

import reference as ref
from conftest import needs_jit
from fastem import ConvergenceWarning, GaussianMixture

TYPES = ["full", "tied", "diag", "spherical"]
MODES = ["soft", "hard", "stochastic"]


def blobs(n=300, d=3, k=3, seed=0, dtype=np.float64, scale=4.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, scale, size=(k, d))
    z = rng.integers(0, k, n)
    X = centres[z] + rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, size=(k, d))[z]
    return X.astype(dtype), centres, z


def inits(ct, X, k, seed=1):
    """Initial parameters in scikit-learn's shapes, deliberately off the data's optimum."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    X64 = X.astype(np.float64)
    means = X64[rng.choice(len(X), k, replace=False)]
    cov = np.cov(X64.T).reshape(d, d) * 0.5 + np.eye(d) * 0.1
    full = np.repeat(cov[None], k, axis=0)
    covs = {"full": full, "tied": cov, "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
            "spherical": np.diagonal(full, axis1=1, axis2=2).mean(axis=1)}[ct]
    precisions, _ = ref.precisions_from_covariances(covs, ct)
    weights = rng.dirichlet(np.ones(k) * 5)
    return dict(weights_init=weights, means_init=means, precisions_init=precisions)


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # scikit-learn's own ConvergenceWarning
        return fn(*a, **kw)


# ------------------------------------------------------------------ scikit-learn agreement
@pytest.mark.parametrize("ct", TYPES)
def test_same_answers_as_scikit_learn(ct, dtype):
    X, _, _ = blobs(dtype=dtype)
    # Initial parameters in the data's dtype: scikit-learn would otherwise compute (part of)
    # a float32 fit in float64.
    start = {k: v.astype(dtype) for k, v in inits(ct, X, 3).items()}
    kw = dict(covariance_type=ct, tol=0, max_iter=10, **start)
    ours = quiet(GaussianMixture(3, **kw).fit, X)
    sk = quiet(SKGaussianMixture(3, **kw).fit, X)
    rtol = 1e-8 if dtype == np.float64 else 1e-4
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        got, want = getattr(ours, name), getattr(sk, name)
        assert got.shape == want.shape and got.dtype == dtype, name
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max(),
                                   err_msg=name)
    np.testing.assert_allclose(ours.lower_bound_, sk.lower_bound_, rtol=rtol)
    np.testing.assert_allclose(ours.lower_bounds_, sk.lower_bounds_, rtol=rtol)
    assert ours.n_iter_ == sk.n_iter_ == 10 and not ours.converged_
    np.testing.assert_allclose(ours.score_samples(X), sk.score_samples(X), rtol=rtol)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=10 * rtol)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    np.testing.assert_allclose(ours.bic(X), sk.bic(X), rtol=rtol)
    np.testing.assert_allclose(ours.aic(X), sk.aic(X), rtol=rtol)


@pytest.mark.parametrize("ct", TYPES)
def test_max_iter_zero_is_the_initialisation(ct, dtype):
    X, _, _ = blobs(n=200, seed=9, dtype=dtype)
    start = {k: v.astype(dtype) for k, v in inits(ct, X, 3, seed=2).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # max_iter=0 is not a failure to converge
        ours = GaussianMixture(3, covariance_type=ct, max_iter=0, **start).fit(X)
    cov = ref.covariances_from_precisions(start["precisions_init"].astype(np.float64), ct)
    precisions, chol = ref.precisions_from_covariances(cov, ct)
    # precisions_cholesky_ is the upper factor of precisions_init (scikit-learn issue 26415)
    want = dict(weights_=start["weights_init"], means_=start["means_init"], covariances_=cov,
                precisions_=precisions, precisions_cholesky_=chol)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for name, value in want.items():
        got = getattr(ours, name)
        assert got.dtype == dtype, name
        np.testing.assert_allclose(got, value, rtol=rtol, atol=rtol * np.abs(value).max(),
                                   err_msg=name)
    assert (ours.n_iter_, ours.converged_, ours.lower_bound_, ours.lower_bounds_) == (
        0, False, -np.inf, [])
    # scikit-learn's first lower bound is the log-likelihood at the same initialisation
    sk = quiet(SKGaussianMixture(3, covariance_type=ct, max_iter=1, **start).fit, X)
    np.testing.assert_allclose(ours.score(X), sk.lower_bounds_[0], rtol=rtol)


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_max_iter_zero_with_each_init_then_warm_start(init):
    X, _, _ = blobs(n=200, seed=10)
    m = GaussianMixture(3, init_params=init, max_iter=0, n_init=2, random_state=0).fit(X)
    assert m.n_iter_ == 0 and not m.converged_ and m.lower_bound_ == -np.inf
    assert np.all(np.isfinite(m.score_samples(X)))
    start = m.means_.copy()
    m.set_params(warm_start=True, max_iter=1)
    quiet(m.fit, X)  # one EM step from the initialisation
    assert m.n_iter_ == 1 and len(m.lower_bounds_) == 1 and np.isfinite(m.lower_bound_)
    assert not np.array_equal(m.means_, start)
    fitted = m.means_.copy()
    m.set_params(max_iter=0)
    m.fit(X)  # a warm start with no iteration keeps the parameters, as scikit-learn
    np.testing.assert_array_equal(m.means_, fitted)
    assert m.n_iter_ == 0 and not m.converged_ and m.lower_bound_ == -np.inf


def test_convergence_warning_starts_with_scikit_learns_words():
    X, _, _ = blobs(seed=11)
    for mode in ("soft", "hard"):
        with pytest.warns(ConvergenceWarning) as caught:
            GaussianMixture(3, mode=mode, max_iter=1, tol=0, random_state=0).fit(X)
        text = str(caught[0].message)
        assert text.startswith("Best performing initialization did not converge. ")
        assert f"({mode} EM) stopped at max_iter=1" in text
    with warnings.catch_warnings():  # a filter on scikit-learn's text silences fastem too
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="Best performing initialization did not")
        GaussianMixture(3, max_iter=1, tol=0, random_state=0).fit(X)


@pytest.mark.parametrize("ct", TYPES)
def test_soft_convergence_matches_scikit_learn(ct):
    X, _, _ = blobs(seed=3)
    kw = dict(covariance_type=ct, tol=1e-4, max_iter=200, **inits(ct, X, 3, seed=4))
    ours, sk = GaussianMixture(3, **kw).fit(X), SKGaussianMixture(3, **kw).fit(X)
    assert ours.converged_ and sk.converged_ and ours.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(ours.means_, sk.means_, rtol=1e-8)


def test_parameter_names_are_scikit_learns_plus_mode():
    # plus decay (partial_fit's step sizes) and chunk_bytes (files read in chunks)
    assert set(GaussianMixture().get_params()) == set(SKGaussianMixture().get_params()) | {
        "mode", "decay", "chunk_bytes", "fit_weights", "fit_means", "fit_covariances"}
    ours, sk = GaussianMixture().get_params(), SKGaussianMixture().get_params()
    # the one default of its own: init_params="auto" (issue 14), which is "kmeans" for
    # the first restart, so a default fit (n_init=1) is scikit-learn's default fit
    assert ours.pop("init_params") == "auto" and sk.pop("init_params") == "kmeans"
    assert all(ours[k] == sk[k] for k in sk)


# ------------------------------------------------------------------ modes and driver
@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_fits_every_covariance_type(ct, mode):
    X, centres, z = blobs(n=400, seed=5, scale=6.0)
    m = quiet(GaussianMixture(3, covariance_type=ct, mode=mode, random_state=0, max_iter=30).fit,
              X)
    # Each true centre is recovered by some component.
    dist = np.linalg.norm(m.means_[:, None] - centres[None], axis=2)
    assert np.all(dist.min(axis=0) < 0.5), dist
    np.testing.assert_array_equal(m.fit_predict(X), m.fit(X).predict(X))
    if mode == "hard":
        assert m.converged_
    if mode == "stochastic":
        assert not m.converged_ and m.lower_bound_ == max(m.lower_bounds_)


def test_hard_mode_stops_when_no_assignment_changes(capsys):
    X, _, _ = blobs(n=300, seed=6)
    m = GaussianMixture(3, mode="hard", random_state=0, verbose=2, verbose_interval=1).fit(X)
    out = capsys.readouterr().out
    assert m.converged_ and f"Iteration {m.n_iter_}\t" in out
    assert out.count("labels changed 0") == 1


def test_stochastic_reproducible_and_seed_dependent():
    X, _, _ = blobs(n=300, seed=7, scale=1.5)
    fit = lambda rs: GaussianMixture(3, mode="stochastic", max_iter=8, random_state=rs).fit(X)
    a, b, c = fit(0), fit(0), fit(1)
    assert a.lower_bounds_ == b.lower_bounds_ and np.array_equal(a.means_, b.means_)
    assert a.lower_bounds_ != c.lower_bounds_


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data"])
def test_init_params(init):
    X, centres, _ = blobs(n=600, seed=8, scale=8.0)
    # tol is tight because random responsibilities start every component at the global mean
    # (scikit-learn stops there after two iterations with its default tol, and so do we).
    m = quiet(GaussianMixture(3, init_params=init, random_state=0, n_init=3, max_iter=500,
                              tol=1e-10).fit, X)
    dist = np.linalg.norm(m.means_[:, None] - centres[None], axis=2)
    assert np.all(dist.min(axis=0) < 0.5), (init, dist)


def test_kmeans_init_matches_lloyd_fixed_point():
    """After fastem's k-means, each centre is the mean of its points (a Lloyd fixed point)."""
    X, _, _ = blobs(n=500, seed=9)
    gm = GaussianMixture(3, random_state=0)
    from fastem.gaussian import _Data

    centers, labels = gm._kmeans(_Data(X, np.empty(0)), np.random.default_rng(0))
    want_labels, want_centers, _ = ref.lloyd_step(X, centers)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_allclose(centers, want_centers, rtol=1e-3)


def test_warm_start_and_n_init():
    X, _, _ = blobs(n=300, seed=10)
    kw = dict(tol=0, **inits("full", X, 3))
    a = quiet(GaussianMixture(3, max_iter=3, warm_start=True, **kw).fit, X)
    quiet(a.fit, X)
    b = quiet(GaussianMixture(3, max_iter=6, **kw).fit, X)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    one = GaussianMixture(3, random_state=0, init_params="random_from_data").fit(X)
    five = GaussianMixture(3, random_state=0, init_params="random_from_data", n_init=5).fit(X)
    assert five.lower_bound_ >= one.lower_bound_


@needs_jit
@pytest.mark.parametrize("ct", TYPES)
def test_fit_bit_identical_with_one_and_two_threads(ct):
    X, _, _ = blobs(n=20000, d=4, seed=11)
    out = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            for mode in MODES:
                m = quiet(GaussianMixture(3, covariance_type=ct, mode=mode, random_state=0,
                                          max_iter=5).fit, X)
                out.append((m.means_, m.covariances_, m.lower_bounds_))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(out[:3], out[3:]):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


# ------------------------------------------------------------------ closed forms and weights
@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_one_component_fit_is_sample_mean_and_covariance(ct, weighted):
    X, _, _ = blobs(n=200, d=3, seed=12)
    w = np.random.default_rng(0).uniform(0.1, 3, size=200) if weighted else None
    m = GaussianMixture(1, covariance_type=ct, reg_covar=1e-3).fit(X, sample_weight=w)
    mean, cov = ref.gaussian_one_component_mle(X, 1e-3, ct, sample_weight=w)
    np.testing.assert_allclose(m.means_[0], mean, rtol=1e-10)
    np.testing.assert_allclose(m.covariances_, cov, rtol=1e-10)
    assert m.weights_.tolist() == [1.0]


@pytest.mark.parametrize("ct", TYPES)
def test_weight_two_equals_repeated_row_and_zero_equals_removed(ct, dtype):
    X, _, _ = blobs(n=120, seed=13, dtype=dtype)
    w = np.random.default_rng(1).integers(0, 3, size=120)
    kw = dict(covariance_type=ct, tol=0, max_iter=8, **inits(ct, X, 3, seed=2))
    for mode in ("soft", "hard"):
        a = quiet(GaussianMixture(3, mode=mode, **kw).fit, X, sample_weight=w)
        b = quiet(GaussianMixture(3, mode=mode, **kw).fit, np.repeat(X, w, axis=0))
        rtol = 1e-10 if dtype == np.float64 else 1e-5  # attributes are rounded to float32
        np.testing.assert_allclose(a.means_, b.means_, rtol=rtol)
        np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=rtol)
        np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)


# ------------------------------------------------------------------ float32
def test_float32_input_is_not_copied_and_parameters_stay_float32():
    X = blobs(n=100, dtype=np.float32)[0]
    gm = GaussianMixture(2)
    assert gm._check_X(X)[0] is X
    gm.fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(gm, name).dtype == np.float32
    # per-row results in the data's dtype, as scikit-learn's
    assert gm.score_samples(X).dtype == gm.predict_proba(X).dtype == np.float32
    assert gm.score_samples(X.astype(np.float64)).dtype == np.float64
    assert gm.predict_proba(X.tolist()).dtype == np.float64
    np.testing.assert_allclose(gm.score_samples(X), gm.score_samples(X.astype(np.float64)),
                               rtol=1e-6)
    assert gm.score(X) == float(np.mean(gm.score_samples(X)))


@pytest.mark.parametrize("ct", TYPES)
def test_float32_far_from_origin_keeps_variances_right(ct):
    """scikit-learn issue 30382: float32 data at 1e4 with unit variance."""
    rng = np.random.default_rng(14)
    X = (1e4 + rng.normal(size=(20000, 2))).astype(np.float32)
    X[:10000, 0] += 10
    m = GaussianMixture(2, covariance_type=ct, random_state=0, tol=1e-6).fit(X)
    cov = np.asarray(m.covariances_, np.float64)
    var = {"full": lambda c: np.diagonal(c, axis1=1, axis2=2), "tied": np.diag,
           "diag": lambda c: c, "spherical": lambda c: c}[ct](cov)
    assert np.all(var > 0)
    np.testing.assert_allclose(var, 1.0, rtol=0.05)


# ------------------------------------------------------------------ degenerate cases
def test_not_positive_definite_names_component_and_remedies():
    rng = np.random.default_rng(15)
    X = np.vstack([np.tile([[5.0, 5.0]], (20, 1)), rng.normal(size=(40, 2))])
    gm = GaussianMixture(2, reg_covar=0.0, means_init=[[5.0, 5.0], [0.0, 0.0]],
                         precisions_init=np.repeat(np.eye(2)[None], 2, axis=0) * 1e4,
                         weights_init=[0.3, 0.7])
    with pytest.raises(ValueError, match=r"component 0 .*not positive definite.*reg_covar"):
        gm.fit(X)
    with pytest.raises(ValueError, match=r"^Fitting the mixture model failed because some "
                       "components have ill-defined empirical covariance"):  # sklearn's words
        gm.fit(X)
    gm.set_params(reg_covar=1e-6)
    assert np.all(np.isfinite(gm.fit(X).covariances_))


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("mode", ["hard", "stochastic"])
def test_empty_component_keeps_parameters_with_zero_weight(ct, mode):
    X, _, _ = blobs(n=200, d=2, k=2, seed=16)
    kw = inits(ct, X, 3, seed=3)
    kw["means_init"] = np.vstack([kw["means_init"][:2], [[1e3, 1e3]]])  # far from every row
    m = quiet(GaussianMixture(3, covariance_type=ct, mode=mode, random_state=0, max_iter=5,
                              **kw).fit, X)
    np.testing.assert_array_equal(m.means_[2], [1e3, 1e3])
    assert m.weights_[2] < 1e-12
    if ct in ("full", "diag", "spherical"):
        prec0, _ = ref.precisions_from_covariances(ref.covariances_from_precisions(
            kw["precisions_init"], ct), ct)
        np.testing.assert_allclose(m.precisions_[2], prec0[2], rtol=1e-10)
    assert np.all(np.isfinite(m.score_samples(X)))


@pytest.mark.parametrize("ct", TYPES)
def test_k1_d1_duplicates_and_constant_feature(ct):
    rng = np.random.default_rng(17)
    x1 = rng.normal(size=(100, 1))
    sk = SKGaussianMixture(2, covariance_type=ct, **inits(ct, x1, 2), tol=0, max_iter=5)
    ours = GaussianMixture(2, covariance_type=ct, **inits(ct, x1, 2), tol=0, max_iter=5)
    np.testing.assert_allclose(quiet(ours.fit, x1).means_, quiet(sk.fit, x1).means_, rtol=1e-8)
    dup = np.repeat(rng.normal(size=(5, 2)), 20, axis=0)
    m = GaussianMixture(3, covariance_type=ct, random_state=0).fit(dup)
    assert np.all(np.isfinite(m.covariances_)) and np.all(np.isfinite(m.score_samples(dup)))
    const = np.column_stack([rng.normal(size=200), np.full(200, 7.0)])
    m = GaussianMixture(2, covariance_type=ct, random_state=0).fit(const)
    np.testing.assert_allclose(m.means_[:, 1], 7.0)
    assert np.all(np.isfinite(m.score_samples(const)))
    if ct == "diag":
        np.testing.assert_allclose(m.covariances_[:, 1], 1e-6, rtol=1e-6)


# ------------------------------------------------------------------ input handling
@pytest.mark.parametrize(
    "X, match",
    [
        ([[1.0, np.nan], [2.0, 3.0], [1.0, np.inf]], "infinity .*row 2, column 1"),
        ([[1.0, 2.0], [-np.inf, 3.0], [1.0, 1.0]], "infinity"),
        ([[1.0, 2.0], [np.nan, np.nan], [1.0, 1.0], [np.nan, np.nan]],
         "every value missing .*rows 1, 3"),
        ([1.0, 2.0, 3.0], "2-D array.*reshape"),
        (np.empty((0, 2)), "empty"),
        ([["a", "b"], ["c", "d"]], "numeric"),
        ([[1.0, 2.0]], "n_samples >= max\\(2, n_components\\)"),
        ([[1 + 2j, 2], [3, 4]], "real-valued"),
    ],
)
def test_bad_input_raises_clear_error(X, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(X)


def test_sparse_and_non_numeric_objects_are_type_errors_that_say_why():
    from scipy import sparse

    X = np.random.default_rng(0).normal(size=(20, 2))
    m = GaussianMixture(2, random_state=0).fit(X)
    for bad, match in [(sparse.csr_array(X), "Sparse input is not supported"),
                       (np.array([[{"a": 1}, 2.0]] * 20, dtype=object),
                        "must be numeric.*argument must be a string or a real number")]:
        for call in (GaussianMixture(2).fit, m.predict, m.score_samples):
            with pytest.raises(TypeError, match=match) as info:
                call(bad)
            assert isinstance(info.value, ValueError)  # as every other bad input
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(5, 0\)\) while a minimum"):
        GaussianMixture(2).fit(np.empty((5, 0)))


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(covariance_type="banana"), "covariance_type"),
        (dict(reg_covar=-1), "reg_covar"),
        (dict(init_params="magic"), "init_params"),
        (dict(verbose_interval=0), "verbose_interval"),
        (dict(weights_init=[0.2, 0.2]), "sum to 1"),
        (dict(means_init=[[0.0, 0.0]]), r"means_init must have shape \(2, 2\)"),
        (dict(precisions_init=np.ones((2, 2))), r"must have shape \(2, 2, 2\)"),
        (dict(precisions_init=np.array([[[1, 2], [0, 1]]] * 2)), "symmetric"),
        (dict(precisions_init=np.array([[[1, 2], [2, 1]]] * 2)), "positive definite"),
        (dict(covariance_type="diag", precisions_init=-np.ones((2, 2))), "positive"),
        (dict(mode="lukewarm"), "mode"),
    ],
)
def test_bad_parameters_raise(params, match):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, **params).fit(X)


def test_predict_checks_features_and_fitted():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="not fitted"):
        GaussianMixture(2).predict(X)
    m = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2 features as input"):
        m.predict(np.ones((4, 3)))


def test_accepts_lists_fortran_strided_integer_and_dataframes():
    X, _, _ = blobs(n=120, d=2, seed=18)
    Xi = np.round(X * 10).astype(np.int64)
    kw = dict(random_state=0, **inits("full", Xi.astype(float), 2))
    want = quiet(GaussianMixture(2, **kw).fit, Xi.astype(np.float64)).means_
    big = np.zeros((120, 4), dtype=np.int64)
    big[:, ::2] = Xi
    for variant in (Xi.tolist(), np.asfortranarray(Xi), big[:, ::2], Xi):
        np.testing.assert_allclose(quiet(GaussianMixture(2, **kw).fit, variant).means_, want,
                                   rtol=1e-12)


    class FrameLike:  # what pandas offers numpy: __array__ (and a frame-like that is not pandas)
        def __init__(self, values):
            self.values = values

        def __array__(self, dtype=None, copy=None):
            return np.asarray(self.values, dtype=dtype)

    np.testing.assert_allclose(quiet(GaussianMixture(2, **kw).fit, FrameLike(Xi)).means_, want,
                               rtol=1e-12)


def test_accepts_pandas_dataframe():
    pd = pytest.importorskip("pandas")
    X, _, _ = blobs(n=120, d=2, seed=18)
    kw = dict(random_state=0, **inits("full", X, 2))
    want = quiet(GaussianMixture(2, **kw).fit, X).means_
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1].astype(np.float32)})  # mixed dtypes
    np.testing.assert_allclose(quiet(GaussianMixture(2, **kw).fit, df).means_, want, rtol=1e-6)


def test_callers_arrays_are_not_modified():
    X, _, _ = blobs(n=100, seed=19)
    kw = inits("full", X, 3)
    w = np.random.default_rng(0).uniform(0, 2, size=100)
    copies = [X.copy(), w.copy()] + [np.array(v, copy=True) for v in kw.values()]
    for mode in MODES:
        m = GaussianMixture(3, mode=mode, random_state=0, **kw).fit(X, sample_weight=w)
        m.predict_proba(X)
        m.score_samples(X)
    for a, b in zip([X, w] + list(kw.values()), copies):
        np.testing.assert_array_equal(a, b)


def test_sample_draw_order_and_moments():
    X, _, _ = blobs(n=400, seed=20)
    for ct in TYPES:
        m = GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
        S, lab = m.sample(30000, random_state=1)
        assert S.shape == (30000, 3) and lab.shape == (30000,)
        assert np.any(np.diff(lab) < 0)  # not sorted by component: draw order
        for c in range(3):
            np.testing.assert_allclose(S[lab == c].mean(axis=0), m.means_[c], atol=0.1)
        S2, lab2 = m.sample(30000, random_state=1)
        np.testing.assert_array_equal(S, S2)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="^Invalid value for 'n_samples'"):
            m.sample(bad)


def test_fit_memory_is_small_next_to_input():
    """Peak memory of a fit grows by far less than the input array (no (n, k) arrays)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import numpy as np, warnings
        from fastem import GaussianMixture
        def status():
            return {l.split(':')[0]: int(l.split()[1]) * 1024 for l in open('/proc/self/status')
                    if l.startswith(('VmHWM', 'VmRSS'))}
        warnings.simplefilter('ignore')
        rng = np.random.default_rng(0)
        X = rng.normal(size=(1_000_000, 4)).astype(np.float32)
        GaussianMixture(8, max_iter=2, random_state=0).fit(X[:3000])  # compile
        open('/proc/self/clear_refs', 'w').write('5')
        before = status()['VmRSS']
        GaussianMixture(8, max_iter=3, tol=0, random_state=0).fit(X)
        print(status()['VmHWM'] - before)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    growth = int(out.stdout.split()[-1])
    # Labels for k-means (4 MB) and the compiled-code working set are allowed; one (n, k)
    # float64 array would be 64 MB.
    assert growth < 0.05 * 16e6 + 20e6, f"fit grew peak memory by {growth / 2**20:.1f} MiB"
