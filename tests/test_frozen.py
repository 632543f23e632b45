"""Frozen parameters (issue 15, point 5): fit_weights / fit_means / fit_covariances on
GaussianMixture and fit_probs on BinomialMixture keep their initial values exactly while EM
fits the rest; soft EM still never decreases the likelihood; bic counts fitted parameters."""

import itertools
import warnings

import numpy as np
import pytest

from fastem import BinomialMixture, GaussianMixture

RNG = np.random.default_rng(0)
X = np.concatenate([RNG.normal(0, 1, (300, 2)), RNG.normal(4, 0.6, (300, 2))])
X[:, 1] += 0.3 * X[:, 0]
M0 = np.array([[0.5, 0.5], [3.5, 3.5]])
W0 = np.array([0.3, 0.7])
P0 = {"full": np.array([np.eye(2), 2 * np.eye(2)]), "tied": np.eye(2),
      "diag": np.array([[1.0, 0.5], [2.0, 1.0]]), "spherical": np.array([1.0, 2.0])}
GROUPS = ("fit_weights", "fit_means", "fit_covariances")
COMBOS = [dict(zip(GROUPS, c)) for c in itertools.product([True, False], repeat=3)
          if not all(c)]


def _fit(ct, max_iter=30, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(2, covariance_type=ct, weights_init=W0, means_init=M0,
                               precisions_init=P0[ct], tol=0, max_iter=max_iter, **kw).fit(X)


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("flags", COMBOS, ids=lambda f: "-".join(k for k, v in f.items() if not v))
def test_frozen_groups_keep_their_initial_values(ct, flags):
    start = _fit(ct, max_iter=0)
    g = _fit(ct, **flags)
    for flag, name in (("fit_weights", "weights_"), ("fit_means", "means_"),
                       ("fit_covariances", "covariances_")):
        same = np.array_equal(getattr(g, name), getattr(start, name))
        assert same == (not flags[flag]), name  # frozen: exactly; fitted: moved
    lb = np.array(g.lower_bounds_)
    assert np.all(np.diff(lb) >= -1e-12 * np.abs(lb[1:]))
    k, d = 2, 2
    n_cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d,
             "spherical": k}[ct]
    want = (k - 1) * flags["fit_weights"] + k * d * flags["fit_means"] + n_cov * flags[
        "fit_covariances"]
    assert g._n_parameters() == want
    assert g.bic(X) == pytest.approx(-2 * g.score(X) * X.shape[0] + want * np.log(X.shape[0]))


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical"])
def test_with_frozen_means_the_covariances_are_about_them(ct):
    start = _fit(ct, max_iter=0)
    r = start.predict_proba(X)  # the E-step at the start
    g = _fit(ct, max_iter=1, fit_means=False)
    nk = r.sum(axis=0)
    S = np.stack([(r[:, c, None, None] * (X - M0[c])[:, :, None] * (X - M0[c])[:, None, :]).sum(0)
                  for c in range(2)])
    reg = 1e-6
    if ct == "full":
        want = S / nk[:, None, None] + reg * np.eye(2)
    elif ct == "tied":
        want = S.sum(0) / X.shape[0] + reg * np.eye(2)
    elif ct == "diag":
        want = np.stack([np.diag(S[c]) / nk[c] for c in range(2)]) + reg
    else:
        want = np.array([np.trace(S[c]) / (2 * nk[c]) for c in range(2)]) + reg
    np.testing.assert_allclose(g.covariances_, want, rtol=1e-10)


@pytest.mark.parametrize("flag, init", [("fit_weights", "weights_init"),
                                        ("fit_means", "means_init"),
                                        ("fit_covariances", "precisions_init")])
def test_a_frozen_group_needs_its_initial_values(flag, init):
    with pytest.raises(ValueError, match=f"{flag}=False keeps the initial values: give {init}"):
        GaussianMixture(2, **{flag: False}).fit(X)
    with pytest.raises(ValueError, match=f"{flag} must be a bool"):
        GaussianMixture(2, **{flag: "no"}).fit(X)


def test_binomial_frozen_probabilities():
    rng = np.random.default_rng(1)
    z = rng.integers(0, 2, 500)
    C = rng.binomial(10, np.array([0.2, 0.7])[z][:, None], size=(500, 3)).astype(float)
    probs0 = np.array([[0.25, 0.25, 0.25], [0.65, 0.65, 0.65]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = BinomialMixture(2, trials=10, probs_init=probs0, weights_init=[0.5, 0.5],
                            fit_probs=False, tol=0, max_iter=20).fit(C)
    assert np.array_equal(b.probs_, probs0)
    assert not np.allclose(b.weights_, [0.5, 0.5])
    lb = np.array(b.lower_bounds_)
    assert np.all(np.diff(lb) >= -1e-12 * np.abs(lb[1:]))
    assert b._n_parameters() == 1
    with pytest.raises(ValueError, match="fit_probs=False keeps the initial values: give probs_init"):
        BinomialMixture(2, trials=10, fit_probs=False).fit(C)
