"""Tests of the missing-data reference (tests/reference.py, issue 13 point 6).

The reference is what fastem's missing-data EM will be checked against, so it
is itself checked here against things that do not share its code: scikit-learn
on complete data, scipy's multivariate normal and numerical integration for the
marginal likelihood, the precision-matrix form of the Gaussian conditional,
EM's monotonicity, and two classic data sets with published maximum-likelihood
estimates (one component: the ML mean and covariance under missing data).
"""
import numpy as np
import pytest
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

import reference as ref

TYPES = ("full", "tied", "diag", "spherical")
nan = np.nan


def _random_covariances(rng, covariance_type, k, d):
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


def _random_problem(seed, covariance_type, n=50, d=3, k=3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    labels = rng.integers(k, size=n)
    X = centers[labels] + rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.7
    weights = rng.dirichlet(np.full(k, 3.0))
    means = centers + rng.normal(scale=0.5, size=(k, d))
    covs = _random_covariances(rng, covariance_type, k, d)
    return rng, X, weights, means, covs


def _knock_out(rng, X, fraction):
    """Copy of X with about `fraction` of the cells NaN, every row keeping one cell."""
    X = X.copy()
    n, d = X.shape
    mask = rng.random((n, d)) < fraction
    for i in np.nonzero(mask.all(axis=1))[0]:
        mask[i, rng.integers(d)] = False
    X[mask] = np.nan
    return X


def _sklearn_step(X, weights, means, covs, covariance_type, reg_covar):
    gm = GaussianMixture(n_components=weights.shape[0], covariance_type=covariance_type,
                         reg_covar=reg_covar)
    gm.weights_, gm.means_, gm.covariances_ = weights.copy(), means.copy(), covs.copy()
    gm.precisions_cholesky_ = _compute_precision_cholesky(covs, covariance_type)
    score_samples = gm.score_samples(X)
    proba = gm.predict_proba(X)
    mean_log_prob, log_resp = gm._e_step(X)
    gm._m_step(X, log_resp)
    return score_samples, proba, mean_log_prob, gm


# --------------------------------------------------------------------------
# 1. Without NaN the reference is ordinary EM (scikit-learn, same start).
# --------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", TYPES)
def test_complete_data_step_equals_sklearn(covariance_type):
    _, X, weights, means, covs = _random_problem(0, covariance_type)
    reg = 1e-3
    score_samples, proba, mean_log_prob, gm = _sklearn_step(
        X, weights, means, covs, covariance_type, reg)

    ll_rows = ref.missing_loglik_rows(X, weights, means, covs, covariance_type)
    np.testing.assert_allclose(ll_rows, score_samples, rtol=1e-10, atol=1e-12)
    resp = ref.missing_responsibilities(X, weights, means, covs, covariance_type)
    np.testing.assert_allclose(resp, proba, rtol=1e-10, atol=1e-12)

    new_w, new_m, new_c, loglik = ref.missing_em_step(
        X, weights, means, covs, covariance_type, reg)
    np.testing.assert_allclose(loglik, mean_log_prob, rtol=1e-10)
    np.testing.assert_allclose(new_w, gm.weights_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(new_m, gm.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(new_c, gm.covariances_, rtol=1e-10, atol=1e-12)
    assert np.shape(new_c) == np.shape(covs)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_complete_data_em_equals_gaussian_em(covariance_type):
    """Several iterations agree with the existing complete-data reference too."""
    _, X, weights, means, covs = _random_problem(1, covariance_type, n=30)
    w, m, c, lls = ref.missing_em(X, weights, means, covs, covariance_type, 1e-4, 5)
    history = ref.gaussian_em(X, weights, means, covs, covariance_type, 1e-4, 5)
    np.testing.assert_allclose([h[3] for h in history], lls, rtol=1e-10)
    np.testing.assert_allclose(w, history[-1][0], rtol=1e-10)
    np.testing.assert_allclose(m, history[-1][1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c, history[-1][2], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# 2. The E-step: marginal densities and conditional moments.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", TYPES)
def test_loglik_rows_match_scipy_marginals(covariance_type):
    rng, X, weights, means, covs = _random_problem(2, covariance_type, n=20, d=4)
    X = _knock_out(rng, X, 0.3)
    full = ref.full_covariances(covs, covariance_type, weights.shape[0], X.shape[1])
    ll = ref.missing_loglik_rows(X, weights, means, covs, covariance_type)
    resp = ref.missing_responsibilities(X, weights, means, covs, covariance_type)
    for i in range(X.shape[0]):
        o = np.nonzero(~np.isnan(X[i]))[0]
        logs = np.array([np.log(weights[c]) + multivariate_normal(
            means[c][o], full[c][np.ix_(o, o)]).logpdf(X[i, o]) for c in range(len(weights))])
        np.testing.assert_allclose(ll[i], logsumexp(logs), rtol=1e-12)
        np.testing.assert_allclose(resp[i], np.exp(logs - logsumexp(logs)), rtol=1e-10,
                                   atol=1e-14)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_marginal_equals_numerical_integration(covariance_type):
    """d = 2: integrating the mixture density over the missing coordinate with
    scipy.integrate.quad gives the row's observed-data likelihood."""
    rng = np.random.default_rng(3)
    weights = np.array([0.35, 0.65])
    means = np.array([[0.0, 1.0], [2.0, -1.0]])
    covs = {"full": np.array([[[1.0, 0.6], [0.6, 2.0]], [[0.5, -0.3], [-0.3, 0.8]]]),
            "tied": np.array([[1.0, 0.7], [0.7, 1.5]]),
            "diag": np.array([[1.0, 2.0], [0.5, 0.8]]),
            "spherical": np.array([1.3, 0.6])}[covariance_type]
    full = ref.full_covariances(covs, covariance_type, 2, 2)
    X = np.array([[0.7, nan], [nan, -0.4], [rng.normal(), nan]])

    def density(point):
        return sum(weights[c] * multivariate_normal(means[c], full[c]).pdf(point)
                   for c in range(2))

    ll = ref.missing_loglik_rows(X, weights, means, covs, covariance_type)
    for i, row in enumerate(X):
        j = int(np.nonzero(np.isnan(row))[0][0])  # the missing coordinate

        def integrand(t, row=row, j=j):
            point = row.copy()
            point[j] = t
            return density(point)

        value, err = integrate.quad(integrand, -np.inf, np.inf, epsabs=0, epsrel=1e-12)
        np.testing.assert_allclose(ll[i], np.log(value), rtol=0, atol=1e-9)


def test_conditional_matches_precision_form():
    """x_hat and C agree with the precision-matrix form of the Gaussian
    conditional: Cov[x_m | x_o] = inv(P_mm), E = mu_m - inv(P_mm) P_mo (x_o - mu_o)."""
    rng = np.random.default_rng(4)
    d = 5
    A = rng.normal(size=(d, d))
    S = A @ A.T + 0.3 * np.eye(d)
    mu = rng.normal(size=d)
    P = np.linalg.inv(S)
    for mis in ([0], [1, 3], [0, 2, 4], [1, 2, 3, 4]):
        x = rng.normal(size=d)
        x[mis] = np.nan
        obs = [j for j in range(d) if j not in mis]
        x_hat, C = ref.missing_conditional(x, mu, S)
        P_mm_inv = np.linalg.inv(P[np.ix_(mis, mis)])
        expected_mean = mu[mis] - P_mm_inv @ P[np.ix_(mis, obs)] @ (x[obs] - mu[obs])
        np.testing.assert_allclose(x_hat[mis], expected_mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(x_hat[obs], x[obs])
        np.testing.assert_allclose(C[np.ix_(mis, mis)], P_mm_inv, rtol=1e-10, atol=1e-12)
        C_obs = C.copy()
        C_obs[np.ix_(mis, mis)] = 0.0
        assert not C_obs.any()


def test_diag_and_spherical_conditionals_are_mean_and_variance():
    X = np.array([[1.0, nan, 3.0], [nan, nan, 0.5]])
    means = np.array([[0.2, -0.7, 1.1]])
    var = np.array([[0.4, 2.5, 0.9]])
    full = ref.full_covariances(var, "diag", 1, 3)
    x_hat, C = ref.missing_conditional(X[0], means[0], full[0])
    assert x_hat[1] == means[0, 1] and C[1, 1] == var[0, 1]
    x_hat, C = ref.missing_conditional(X[1], means[0], full[0])
    np.testing.assert_array_equal(x_hat[:2], means[0, :2])
    np.testing.assert_array_equal(np.diag(C)[:2], var[0, :2])
    full = ref.full_covariances(np.array([1.7]), "spherical", 1, 3)
    x_hat, C = ref.missing_conditional(X[0], means[0], full[0])
    assert x_hat[1] == means[0, 1] and C[1, 1] == 1.7


def test_rows_with_nothing_observed():
    weights = np.array([0.2, 0.8])
    means = np.array([[0.0, 0.0], [1.0, 1.0]])
    covs = np.array([1.0, 2.0])
    X = np.array([[nan, nan], [0.5, nan]])
    ll = ref.missing_loglik_rows(X, weights, means, covs, "spherical")
    resp = ref.missing_responsibilities(X, weights, means, covs, "spherical")
    assert ll[0] == 0.0
    np.testing.assert_array_equal(resp[0], weights)
    with pytest.raises(ValueError, match="no observed cell"):
        ref.missing_em_step(X, weights, means, covs, "spherical", 1e-6)
    with pytest.raises(ValueError, match="infinity"):
        ref.missing_loglik_rows(np.array([[np.inf, 1.0]]), weights, means, covs,
                                "spherical")


@pytest.mark.parametrize("covariance_type", TYPES)
def test_sample_weight_equals_duplicated_rows(covariance_type):
    rng, X, weights, means, covs = _random_problem(5, covariance_type, n=15)
    X = _knock_out(rng, X, 0.25)
    counts = rng.integers(1, 4, size=X.shape[0])
    a = ref.missing_em_step(X, weights, means, covs, covariance_type, 1e-5,
                            sample_weight=counts.astype(float))
    b = ref.missing_em_step(np.repeat(X, counts, axis=0), weights, means, covs,
                            covariance_type, 1e-5)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# 3. EM never decreases the observed-data log-likelihood.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("seed,fraction", [(10, 0.1), (11, 0.2), (12, 0.3)])
def test_loglik_never_decreases(covariance_type, seed, fraction):
    rng, X, weights, means, covs = _random_problem(seed, covariance_type, n=30, d=3, k=2)
    X = _knock_out(rng, X, fraction)
    assert 0.05 < np.isnan(X).mean() < 0.4
    # reg_covar = 0: the M-step is then the exact maximiser, so EM is monotone.
    *_, lls = ref.missing_em(X, weights, means, covs, covariance_type, 0.0, 30)
    lls = np.array(lls)
    assert np.all(np.isfinite(lls))
    assert np.all(np.diff(lls) >= -1e-12 * np.maximum(1.0, np.abs(lls[1:])))
    assert lls[-1] > lls[0]


# --------------------------------------------------------------------------
# 4. One component: the classic ML mean and covariance under missing data.
# --------------------------------------------------------------------------
# Little & Rubin (1987), Statistical Analysis with Missing Data, Table 6.1
# (adapted from Snedecor & Cochran, Statistical Methods, 6th ed., Table 6.9.1):
# size (hundreds of apples) of 18 trees and, for 12 of them, worms (% of apples
# with worms).  Values as distributed in R package mvnmle, data(apple) (read
# from its data/apple.rda).
APPLE = np.array([
    [8, 59], [6, 58], [11, 56], [22, 53], [14, 50], [17, 45], [18, 43], [24, 42],
    [19, 39], [23, 38], [26, 30], [40, 27],
    [4, nan], [4, nan], [5, nan], [6, nan], [8, nan], [10, nan]], dtype=float)

# Draper & Smith (1966) cement data with missing values (Rubin 1976; Little &
# Rubin 1987), R package mvnmle, data(missvals).
MISSVALS = np.array([
    [7, 26, 6, 60, 78.5], [1, 29, 15, 52, 74.3], [11, 56, 8, 20, 104.3],
    [11, 31, 8, 47, 87.6], [7, 52, 6, 33, 95.9], [11, 55, 9, 22, 109.2],
    [3, 71, 17, nan, 102.7], [1, 31, 22, nan, 72.5], [2, 54, 18, nan, 93.1],
    [nan, nan, 4, nan, 115.9], [nan, nan, 23, nan, 83.8], [nan, nan, 9, nan, 113.3],
    [nan, nan, 8, nan, 109.4]])


def _monotone_mle(X, blocks):
    """Closed-form ML mean and covariance for a monotone pattern (Anderson 1957;
    Little & Rubin 2002, sections 7.2 and 7.4): the likelihood factorises into
    the marginal of the first block (all rows) and, for each later block, its
    least-squares regression on all earlier variables over the rows where it
    is observed (ML, divisor n)."""
    d = X.shape[1]
    mu = np.zeros(d)
    S = np.zeros((d, d))
    first = list(blocks[0])
    rows = ~np.isnan(X[:, first]).any(axis=1)
    Y = X[rows][:, first]
    mu[first] = Y.mean(axis=0)
    S[np.ix_(first, first)] = np.cov(Y, rowvar=False, bias=True).reshape(len(first), -1)
    prev = first
    for block in blocks[1:]:
        block = list(block)
        rows = ~np.isnan(X[:, prev + block]).any(axis=1)
        Z = X[rows][:, prev + block]
        m = Z.mean(axis=0)
        V = np.cov(Z, rowvar=False, bias=True)
        p = len(prev)
        beta = np.linalg.solve(V[:p, :p], V[:p, p:])          # (p, b)
        resid = V[p:, p:] - V[p:, :p] @ beta                   # residual covariance
        intercept = m[p:] - beta.T @ m[:p]
        S_pp = S[np.ix_(prev, prev)]
        mu[block] = intercept + beta.T @ mu[prev]
        S[np.ix_(prev, block)] = S_pp @ beta
        S[np.ix_(block, prev)] = (S_pp @ beta).T
        S[np.ix_(block, block)] = resid + beta.T @ S_pp @ beta
        prev = prev + block
    return mu, S


def _fit_one_component(X, n_iter):
    start_mean = np.nanmean(X, axis=0)[None, :]
    start_cov = np.diag(np.nanvar(X, axis=0))[None, :, :]
    w, m, c, lls = ref.missing_em(X, [1.0], start_mean, start_cov, "full", 0.0, n_iter)
    # the log-likelihood at the final parameters (lls[-1] is at the previous ones)
    final = ref.missing_loglik_rows(X, w, m, c, "full").sum()
    return m[0], c[0], final


def test_apple_one_component_is_published_mle():
    """Apple data (Little & Rubin 1987, Table 6.1; R mvnmle data(apple)).

    Published estimates: R package mvnmle's documented example `mlest(apple)`
    (nlm on the exact observed-data likelihood; output as recorded in
    haishuo/pymvnmle tests/references/apple_reference.json, generated by that
    package's tests/r_scripts/generate_r_references.R):
        muhat    = (14.722265587140136, 49.333248446740669)
        sigmahat = [[ 89.534149681512773, -90.696532296720122],
                    [-90.696532296720122, 114.69470032845283 ]]
        value/-2 = -74.217476133121025  (mlest's objective omits the
                   (number of observed cells) / 2 * log(2 pi) constant)
    nlm stops at a relative gradient tolerance, so these figures are accurate to
    about 5 significant digits (14.72227 vs the exact 265/18 = 14.72222); they
    are compared at rtol 1e-5, and the exact ML values are checked to 1e-8
    against the closed form (Anderson 1957): size's mean and variance from all
    18 trees, the regression of worms on size from the 12 complete ones:
    mu = (14.7222, 49.3333), S11 = 89.5340, S12 = -90.6967, S22 = 114.6950
    (to 2 decimals 14.72, 49.33, 89.53, -90.70, 114.69; the book's own page
    with these figures could not be retrieved to cite).
    """
    mean, cov, loglik = _fit_one_component(APPLE, 100)

    mu_cf, S_cf = _monotone_mle(APPLE, [[0], [1]])
    np.testing.assert_allclose(mu_cf, [265 / 18, 49.333333333333333], rtol=1e-12)
    np.testing.assert_allclose(mean, mu_cf, rtol=1e-8)
    np.testing.assert_allclose(cov, S_cf, rtol=1e-8)

    r_mu = np.array([14.722265587140136, 49.333248446740669])
    r_sigma = np.array([[89.534149681512773, -90.696532296720122],
                        [-90.696532296720122, 114.69470032845283]])
    np.testing.assert_allclose(mean, r_mu, rtol=1e-5)
    np.testing.assert_allclose(cov, r_sigma, rtol=1e-5)
    np.testing.assert_allclose(np.round(mean, 2), [14.72, 49.33])
    np.testing.assert_allclose(np.round(cov, 2), [[89.53, -90.70], [-90.70, 114.69]])

    n_observed = np.sum(~np.isnan(APPLE))  # 30 cells
    r_loglik = -74.217476133121025
    np.testing.assert_allclose(loglik + 0.5 * n_observed * np.log(2 * np.pi), r_loglik,
                               rtol=0, atol=1e-8)
    assert loglik + 0.5 * n_observed * np.log(2 * np.pi) >= r_loglik - 1e-12


def test_missvals_one_component_is_published_mle():
    """Draper & Smith cement data with missing values (R mvnmle data(missvals),
    Rubin 1976), five variables, monotone pattern (x3, x5 always observed; x1, x2
    in 9 rows; x4 in 6).

    Published estimates: R mvnmle's documented example `mlest(missvals,
    iterlim = 400)`, as recorded in haishuo/pymvnmle
    tests/references/missvals_reference.json:
        muhat = (6.6551660306808111, 49.965258011630283, 11.769230501209805,
                 27.047090472686431, 95.423076760497381)
        diag(sigmahat) = (21.825568787239664, 238.01241053145014,
                          37.869824468131164, 294.18303268448375, 208.90487129864388)
        value/-2 = -86.978323784901889
    (nlm-accurate to about 5 significant digits, compared at rtol 2e-5), and the
    exact closed form (factored likelihood) to 1e-8.
    """
    mean, cov, loglik = _fit_one_component(MISSVALS, 600)

    mu_cf, S_cf = _monotone_mle(MISSVALS, [[2, 4], [0, 1], [3]])
    np.testing.assert_allclose(mean, mu_cf, rtol=1e-8)
    np.testing.assert_allclose(cov, S_cf, rtol=1e-8, atol=1e-8 * np.abs(S_cf).max())

    r_mu = np.array([6.6551660306808111, 49.965258011630283, 11.769230501209805,
                     27.047090472686431, 95.423076760497381])
    r_sigma = np.array([
        [21.825568787239664, 20.864341285827901, -24.900388855506396,
         -11.473448545211733, 46.953038117192904],
        [20.864341285827901, 238.01241053145014, -15.817377384383333,
         -252.07228960405672, 195.60362068104104],
        [-24.900388855506396, -15.817377384383333, 37.869824468131164,
         -9.5992127298212324, -47.556216057213561],
        [-11.473448545211733, -252.07228960405672, -9.5992127298212324,
         294.18303268448375, -190.59848378080528],
        [46.953038117192904, 195.60362068104104, -47.556216057213561,
         -190.59848378080528, 208.90487129864388]])
    np.testing.assert_allclose(mean, r_mu, rtol=2e-5)
    np.testing.assert_allclose(cov, r_sigma, rtol=2e-5, atol=2e-5 * np.abs(r_sigma).max())

    n_observed = np.sum(~np.isnan(MISSVALS))
    r_loglik = -86.978323784901889
    np.testing.assert_allclose(loglik + 0.5 * n_observed * np.log(2 * np.pi), r_loglik,
                               rtol=0, atol=1e-8)
