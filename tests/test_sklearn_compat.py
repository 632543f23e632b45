"""fastem estimators inside scikit-learn's machinery: tags, clone, pipelines, CV (issue 11.1)."""

import warnings

import numpy as np
import pytest

import fastem

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402


def blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0], [12.0, 12.0]])
    return centers[rng.integers(0, 4, n)] + rng.normal(size=(n, 2))


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


@pytest.mark.parametrize("cls", [fastem.GaussianMixture, fastem.BinomialMixture])
def test_tags_say_what_is_true(cls):
    tags = get_tags(cls())
    assert tags.estimator_type == "density_estimator"
    assert tags.requires_fit and not tags.target_tags.required
    assert tags.input_tags.two_d_array and not tags.input_tags.sparse
    assert tags.input_tags.allow_nan  # a NaN cell is a missing value (issue 13)
    assert tags.non_deterministic  # random_state=None: fresh entropy per fit
    assert not get_tags(cls(random_state=0)).non_deterministic
    assert tags.input_tags.positive_only == (cls is fastem.BinomialMixture)


def test_check_is_fitted_and_clone():
    est = fastem.GaussianMixture(3, covariance_type="diag", random_state=1)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    quiet(est.fit, blobs())
    check_is_fitted(est)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(twin)


TIGHT = dict(tol=1e-10, max_iter=500, random_state=0, n_init=2)


def test_pipeline_cross_val_score_equals_scikit_learns():
    X = blobs()
    cv = KFold(3, shuffle=True, random_state=0)
    ours = quiet(cross_val_score, make_pipeline(StandardScaler(),
                                                fastem.GaussianMixture(4, **TIGHT)), X, cv=cv)
    theirs = quiet(cross_val_score, make_pipeline(StandardScaler(),
                                                  SkGaussianMixture(4, **TIGHT)), X, cv=cv)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_grid_search_picks_what_scikit_learn_picks():
    X = blobs(seed=3)
    grid = {"n_components": [2, 3, 4], "covariance_type": ["full", "spherical"]}
    cv = KFold(3, shuffle=True, random_state=0)
    ours = quiet(GridSearchCV(fastem.GaussianMixture(**TIGHT), grid, cv=cv).fit, X)
    theirs = quiet(GridSearchCV(SkGaussianMixture(**TIGHT), grid, cv=cv).fit, X)
    scores = ours.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    # With 4 well-separated blobs both reach the same optimum at 4 components; fewer
    # components have several optima, and which one a start finds differs.
    four = [p["n_components"] == 4 for p in ours.cv_results_["params"]]
    np.testing.assert_allclose(scores[four], theirs.cv_results_["mean_test_score"][four],
                               rtol=1e-6)
    assert ours.best_params_ == theirs.best_params_ and ours.best_params_["n_components"] == 4
    assert isinstance(ours.best_estimator_, fastem.GaussianMixture)


def test_cross_validate_with_several_scorers_in_parallel():
    X = blobs(seed=5)
    scoring = {"loglik": lambda est, X, y=None: est.score(X),
               "neg_bic": lambda est, X, y=None: -est.bic(X)}
    est = fastem.GaussianMixture(4, **TIGHT)
    cv = KFold(3, shuffle=True, random_state=0)
    serial = quiet(cross_validate, est, X, cv=cv, scoring=scoring)
    parallel = quiet(cross_validate, est, X, cv=cv, scoring=scoring, n_jobs=2)
    for key in ("test_loglik", "test_neg_bic"):
        assert np.all(np.isfinite(serial[key]))
        np.testing.assert_array_equal(serial[key], parallel[key])


def counts(n=120, seed=0):
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(n) < 0.4, 0.2, 0.8)[:, None]
    return rng.binomial([10, 4], p * [1.0, 0.9]).astype(np.float64)


def test_binomial_in_a_pipeline_uses_the_constructor_trials():
    from sklearn.preprocessing import FunctionTransformer

    C = counts()
    pipe = quiet(make_pipeline(FunctionTransformer(), fastem.BinomialMixture(
        2, trials=[10, 4], random_state=0)).fit, C, np.arange(len(C)))  # y must be ignored
    direct = quiet(fastem.BinomialMixture(2, random_state=0).fit, C, trials=[10, 4])
    np.testing.assert_array_equal(pipe[-1].probs_, direct.probs_)
    np.testing.assert_array_equal(pipe.predict(C), direct.predict(C, trials=[10, 4]))
    assert pipe.score(C) == direct.score(C, trials=[10, 4])
    # a method's own trials= wins over the constructor's
    m = pipe[-1]
    np.testing.assert_array_equal(m.score_samples(C, trials=[12, 4]),
                                  direct.score_samples(C, trials=[12, 4]))
    assert m.sample(5, random_state=0)[0].shape == (5, 2)


def test_trials_and_sample_weight_are_keyword_only():
    C = counts()
    m = quiet(fastem.BinomialMixture(2, trials=10, random_state=0).fit, C[:, :1])
    for call in (lambda: m.fit(C[:, :1], None, 10), lambda: m.predict(C[:, :1], 10),
                 lambda: m.score_samples(C[:, :1], 10)):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(TypeError):
        fastem.GaussianMixture(2).fit(blobs(), None, np.ones(240))


def _documented_attributes(cls):
    """The names of the numpydoc "Attributes" section of ``cls``'s docstring."""
    import re

    section = cls.__doc__.split("Attributes\n    ----------\n")[1]
    section = re.split(r"\n    [A-Z][a-z]+\n    -+\n", section)[0]
    return set(re.findall(r"^    ([a-z][a-z0-9_]*_) :", section, re.M))


@pytest.mark.parametrize("make", [
    lambda: (fastem.GaussianMixture(2, random_state=0), blobs(), {}),
    lambda: (fastem.BinomialMixture(2, trials=10, random_state=0), counts(), {}),
    lambda: (fastem.KMeans(2, random_state=0), blobs(), {}),
    lambda: (fastem.GaussianMixtureSelection([1, 2], random_state=0), blobs(), {}),
    lambda: (fastem.BinomialMixtureSelection([1, 2], trials=10, random_state=0), counts(), {}),
], ids=["gaussian", "binomial", "kmeans", "gaussian-selection", "binomial-selection"])
def test_fitted_attributes_are_the_documented_ones(make):
    # as scikit-learn's test_fit_docstring_attributes, with names from a data frame so that
    # feature_names_in_ is set too
    pd = pytest.importorskip("pandas")
    est, X, kw = make()
    quiet(est.fit, pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])]), **kw)
    fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
    assert fitted == _documented_attributes(type(est))


def test_metadata_routing_passes_what_is_requested():
    # scikit-learn's metadata routing: a meta-estimator passes sample_weight (or trials)
    # on only as each estimator asks, through set_<method>_request, which survives clone
    from sklearn.base import clone

    X = blobs(120)
    w = np.random.default_rng(1).uniform(0.2, 3.0, X.shape[0])
    with sklearn.config_context(enable_metadata_routing=True):
        gm = fastem.GaussianMixture(4, random_state=0)
        with pytest.raises(Exception, match="sample_weight.*GaussianMixture.set_fit_request"):
            GridSearchCV(gm, {"n_init": [1]}, cv=2).fit(X, sample_weight=w)
        assert gm.set_fit_request(sample_weight=True) is gm
        assert clone(gm).get_metadata_routing().fit.requests == {"sample_weight": True}
        search = quiet(GridSearchCV(gm, {"n_init": [1]}, cv=2).fit, X, sample_weight=w)
        weighted = quiet(fastem.GaussianMixture(4, random_state=0).fit, X, sample_weight=w)
        np.testing.assert_array_equal(search.best_estimator_.means_, weighted.means_)
        # an alias, and False: then the weights are not passed
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                             clone(gm).set_fit_request(sample_weight="w"))
        quiet(pipe.fit, X, w=w)
        scaled = StandardScaler().fit_transform(X)
        np.testing.assert_array_equal(pipe[-1].means_, quiet(
            fastem.GaussianMixture(4, random_state=0).fit, scaled, sample_weight=w).means_)
        with pytest.raises(TypeError, match="not routed to any object"):
            make_pipeline(clone(gm).set_fit_request(sample_weight=False)).fit(
                X, sample_weight=w)
        # trials of a binomial model, and KMeans' score
        C = counts()
        bm = fastem.BinomialMixture(2, random_state=0).set_fit_request(trials=True)
        bm.set_score_request(trials=True)
        bm.set_predict_proba_request(trials=True)
        pipe = quiet(make_pipeline(bm).fit, C, trials=[10, 4])
        direct = quiet(fastem.BinomialMixture(2, random_state=0).fit, C, trials=[10, 4])
        np.testing.assert_array_equal(pipe[-1].probs_, direct.probs_)
        np.testing.assert_array_equal(pipe.predict_proba(C, trials=[12, 4]),
                                      direct.predict_proba(C, trials=[12, 4]))
        assert bm.get_metadata_routing().score.requests == {"trials": True}
        km = fastem.KMeans(3, random_state=0).set_score_request(sample_weight=True)
        assert km.get_metadata_routing().score.requests == {"sample_weight": True}
        assert km.get_metadata_routing().fit.requests == {"sample_weight": None}
    with pytest.raises(TypeError, match="takes \\['sample_weight'\\]"):
        gm.set_fit_request(weights=True)
    with pytest.raises(ValueError, match="True, False, None or an alias"):
        gm.set_fit_request(sample_weight=1.5)
    assert not hasattr(fastem.GaussianMixture, "set_predict_request")  # no metadata there
