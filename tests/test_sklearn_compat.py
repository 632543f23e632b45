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
    assert not tags.input_tags.allow_nan
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
