"""Reaching the optimum (issue 14, point 3): with ``n_init=10`` and the default
``init_params="auto"``, every fit on the classic data sets (each covariance type, 2 to 4
components) ends at least at the log-likelihood R mclust 6.0.0 reports
(tests/data/mclust_fits.csv, see tests/data/README.md), without a collapsed component;
ten k-means restarts (scikit-learn's default init) miss some (docs/model-selection.md)."""

import csv
import pathlib
import warnings

import numpy as np
import pytest

from fastem import GaussianMixture

DATA = pathlib.Path(__file__).parent / "data"
TYPES = {"VII": "spherical", "EEE": "tied", "VVI": "diag", "VVV": "full", "E": "tied",
         "V": "full"}
CASES = [r for r in csv.DictReader(open(DATA / "mclust_fits.csv"))
         if 2 <= int(r["G"]) <= 4 and r["loglik"] != "NA"]
_X = {}


def load(name):
    if name not in _X:
        _X[name] = np.loadtxt(DATA / f"{name}.csv", delimiter=",", skiprows=1, ndmin=2)
    return _X[name]


def _fit(X, G, ct, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(G, covariance_type=ct, n_init=10, random_state=0, tol=1e-8,
                               max_iter=3000, **kw).fit(X)


def _min_eigenvalue(g):
    cov = np.asarray(g.covariances_, dtype=np.float64)
    if g.covariance_type == "full":
        return min(np.linalg.eigvalsh(c).min() for c in cov)
    if g.covariance_type == "tied":
        return np.linalg.eigvalsh(cov).min()
    return cov.min()


def test_every_case_reaches_mclusts_log_likelihood():
    assert len(CASES) == 48
    below = []
    for r in CASES:
        X = load(r["set"])
        g = _fit(X, int(r["G"]), TYPES[r["model"]])
        ll = float(g.score_samples(X).sum())
        if ll < float(r["loglik"]) - 1e-2 or _min_eigenvalue(g) < 10 * g.reg_covar:
            below.append((r["set"], r["model"], r["G"], ll, float(r["loglik"])))
    assert not below, below


def test_ten_kmeans_restarts_do_not():
    # the cases of docs/model-selection.md that k-means restarts miss in every seed
    for name, model, G in (("diabetes", "VVI", 4), ("faithful", "VVV", 4), ("galaxies", "V", 4)):
        X = load(name)
        want = next(float(r["loglik"]) for r in CASES
                    if (r["set"], r["model"], int(r["G"])) == (name, model, G))
        km = _fit(X, G, TYPES[model], init_params="kmeans")
        auto = _fit(X, G, TYPES[model])
        assert km.score(X) * X.shape[0] < want - 1.0, name
        assert auto.score(X) * X.shape[0] >= want - 1e-2, name


def test_auto_with_one_restart_is_the_kmeans_fit():
    X = load("faithful")
    for ct in ("full", "diag"):
        a = GaussianMixture(3, covariance_type=ct, random_state=4).fit(X)
        b = GaussianMixture(3, covariance_type=ct, random_state=4, init_params="kmeans").fit(X)
        for name in ("weights_", "means_", "covariances_", "lower_bound_", "n_iter_"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_a_restart_that_cannot_be_fitted_is_dropped_in_auto_only():
    # reg_covar=0: a start on single rows has zero covariances; k-means' start does not
    X = load("faithful")
    g = _fit(X, 2, "full", reg_covar=0.0)
    km = _fit(X, 2, "full", reg_covar=0.0, init_params="kmeans")
    assert g.lower_bound_ >= km.lower_bound_ - 1e-12
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        _fit(X, 2, "full", reg_covar=0.0, init_params="random_from_data")


@pytest.mark.parametrize("name", ["faithful", "iris", "diabetes", "acidity", "galaxies"])
def test_the_selection_is_at_least_as_good_as_mclustBIC(name):
    """mclust's best model by BIC over the same candidates (here 1-5 components): fastem's
    selection picks the same one, or one with a better BIC (galaxies: fastem's 3-component
    fit reaches a higher likelihood than mclust's, and its BIC then beats mclust's best)."""
    from fastem import GaussianMixtureSelection

    X = load(name)
    rows = [r for r in csv.DictReader(open(DATA / "mclust_fits.csv"))
            if r["set"] == name and r["bic"] != "NA" and int(r["G"]) <= 5]
    best = max(rows, key=lambda r: float(r["bic"]))
    cts = ("full", "tied") if X.shape[1] == 1 else ("full", "tied", "diag", "spherical")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = GaussianMixtureSelection(range(1, 6), covariance_types=cts, n_init=10,
                                       random_state=0, tol=1e-6, max_iter=2000).fit(X)
    ours = sel.criteria_["bic"][sel.best_index_]
    assert ours <= -float(best["bic"]) + 0.05
    if name != "galaxies":
        assert sel.best_params_ == {"n_components": int(best["G"]),
                                    "covariance_type": TYPES[best["model"]]}


def test_restarts_really_start_from_different_seeds():
    from fastem._validation import EMPTY_F64
    from fastem.gaussian import _Data

    X = load("faithful")
    data = _Data(X, EMPTY_F64)
    rows = np.arange(X.shape[0])
    rng = np.random.default_rng(0)
    g = GaussianMixture(4)
    seeds = [tuple(g._kmeanspp(data, rows, rng)) for _ in range(10)]  # one per restart
    assert len(set(seeds)) >= 8
    starts = [g._initialize(data, rng, restart)[1] for restart in range(4)]
    for a in starts[1:]:  # "auto": k-means first, then random rows
        assert not np.allclose(a, starts[0])
