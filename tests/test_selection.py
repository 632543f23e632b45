"""Model selection (issue 14): GaussianMixtureSelection / BinomialMixtureSelection, and
the criteria BIC, AIC, ICL in scikit-learn's sign and in R mclust's.

mclust figures: computed by R mclust 6.0.0 (`Mclust(X, G, modelNames)`, its default
hierarchical initialisation) on the data in tests/data (see its README); its parameters are
copied to 17 significant digits, so that fastem's criteria at exactly those parameters can
be compared with the values mclust reports."""

import pathlib
import warnings

import numpy as np
import pytest

import fastem
from fastem import BinomialMixtureSelection, GaussianMixture, GaussianMixtureSelection

DATA = pathlib.Path(__file__).parent / "data"


def load(name):
    return np.loadtxt(DATA / f"{name}.csv", delimiter=",", skiprows=1, ndmin=2)


# (data, mclust model, G): (loglik, df, bic, icl) as Mclust reports them, in mclust's sign;
# ``at``: (loglik, bic, icl) at the returned parameters, from mclust's own
# ``estep(X, modelName, parameters)`` and ``bic(modelName, loglik, n, d, G)``, ICL = BIC +
# 2 sum log max z (Mclust's figures belong to the E-step before its last M-step, which
# moves the parameters by up to its relative tolerance 1e-5); weights, means (d x G as R
# stores them, flattened by dimension), covariances ((G, d, d) flattened in R's order).
MCLUST = {
    ("faithful", "EEE", 3): dict(
        at=(-1126.321913534787, -2314.30764979883, -2357.889493496719),
        loglik=-1126.326236468260, df=11, bic=-2314.316295665777, icl=-2357.824248954817,
        weights=[0.16567839905644066, 0.35636962651330778, 0.47795197443025117],
        means=[3.7930655292303186, 2.0375963146129594, 4.4632447198396026,
               77.521051332351348, 54.491157600821957, 80.833438776323248],
        sigma=[0.078254480991346784] * 3 + [0.4801978534671843] * 6 + [33.767146396097132] * 3),
    ("iris", "VVV", 2): dict(
        at=(-214.354704370513, -574.017832269817, -574.019098675685),
        loglik=-214.354704370513, df=29, bic=-574.017832269817, icl=-574.019098675685,
        weights=[0.33332911011182342, 0.66667088988817658],
        means=[5.0060063928484606, 6.2619888471375926, 3.4280142114754439,
               2.8719964165417462, 1.4620020308213824, 4.905977167584493,
               0.24599932361915769, 1.6759912794312415],
        sigma=[0.12176230601653718, 0.43497288545231455, 0.097226044121508481,
               0.12094155128281846, 0.016027170364009375, 0.4488653586406548,
               0.010124469290959365, 0.16550230489938098, 0.097226044121508481,
               0.12094155128281846, 0.14080177807082678, 0.10961736524325931,
               0.011461847616251179, 0.14138003003294797, 0.0091128790254576576,
               0.079232428674499158, 0.016027170364009375, 0.4488653586406548,
               0.011461847616251179, 0.14138003003294797, 0.029556039885867833,
               0.67484202412246796, 0.0059481845316947876, 0.28587362010300166,
               0.010124469290959365, 0.16550230489938098, 0.0091128790254576576,
               0.079232428674499158, 0.0059481845316947876, 0.28587362010300166,
               0.0108840999375491, 0.17863487416807936]),
    ("diabetes", "VVV", 3): dict(
        at=(-2303.493014127263, -4751.311306784723, -4770.231184754211),
        loglik=-2303.495560644135, df=29, bic=-4751.316399818467, icl=-4770.168894730062,
        weights=[0.53689741161168369, 0.26501285526146062, 0.19808973312685582],
        means=[90.962394522642128, 104.53347958681054, 229.42136429920208,
               357.79083405034191, 494.82589551641667, 1098.2599013806648,
               163.74858224781102, 309.55829003618112, 81.60001453827276],
        sigma=[57.180438568940119, 185.02902524499544, 5529.2500432631787,
               75.832055394076832, 1282.3398219943381, 20389.087797520639,
               14.731986441465445, -509.73132606092605, -2486.2084257603074,
               75.832055394076832, 1282.3398219943381, 20389.087797520639,
               2101.7655288114688, 14039.283430538897, 83132.476484918268,
               322.82293953729339, -2559.0250726101413, -10393.003903200213,
               14.731986441465445, -509.73132606092605, -2486.2084257603074,
               322.82293953729339, -2559.0250726101413, -10393.003903200213,
               2416.9907375968905, 23835.72776679138, 2217.5333159122547]),
    ("galaxies", "V", 4): dict(
        at=(-765.691655817499, -1579.857223354905, -1599.044122184404),
        loglik=-765.693991213558, df=11, bic=-1579.861894147023, icl=-1598.907218010560,
        weights=[0.084406346363850249, 0.3866032927571883, 0.37116156196083044,
                 0.15782879891813098],
        means=[9707.4915122782386, 19804.25917877235, 22879.486221473951, 24459.535999171949],
        sigma=[177296.74161376653, 436160.9308010448, 1261611.2768261384, 34437115.298953131]),
    ("faithful", "VVI", 3): dict(
        at=(-1131.932155010307, -2342.345538948757, -2387.391074984746),
        loglik=-1131.942290138167, df=14, bic=-2342.365809204477, icl=-2387.744159102090,
        weights=[0.45359361594730885, 0.35553648016034795, 0.19086990389234332],
        means=[4.4763815943435281, 2.0355409456037248, 3.8435389577636232,
               81.542559617658071, 54.469075882623876, 76.19918352484342],
        sigma=[0.079624027895465674, 0.068471381529432704, 0.10574030378474537, 0, 0, 0, 0, 0,
               0, 27.260105856101319, 33.636108384636572, 37.188410958535123]),
}
TYPES = {"EEE": "tied", "VVV": "full", "VVI": "diag", "V": "full"}


def _at_mclust_parameters(name, model, G):
    """A GaussianMixture holding exactly mclust's fitted parameters (max_iter=0: the
    initial parameters are the fitted ones)."""
    X = load(name)
    d = X.shape[1]
    f = MCLUST[name, model, G]
    means = np.array(f["means"]).reshape(d, G).T
    S = np.array(f["sigma"], dtype=np.float64).reshape((G, d, d), order="F")
    ct = TYPES[model]
    if ct == "tied":
        cov = S[0]
    elif ct == "diag":
        cov = np.stack([np.diag(s) for s in S])
    else:
        cov = S
    prec = np.linalg.inv(cov) if ct != "diag" else 1.0 / cov
    g = GaussianMixture(G, covariance_type=ct, weights_init=f["weights"], means_init=means,
                        precisions_init=prec, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return X, g.fit(X), f


@pytest.mark.parametrize("key", list(MCLUST), ids=lambda k: "-".join(map(str, k)))
def test_criteria_at_mclusts_parameters_are_mclusts(key):
    X, g, f = _at_mclust_parameters(*key)
    n = X.shape[0]
    assert g._n_parameters() == f["df"]
    # Mclust's reported BIC is its definition applied to its reported log-likelihood
    assert 2 * f["loglik"] - f["df"] * np.log(n) == pytest.approx(f["bic"], rel=1e-12)
    loglik = float(g.score_samples(X).sum())
    at_loglik, at_bic, at_icl = f["at"]
    assert loglik == pytest.approx(at_loglik, rel=1e-11)
    # mclust's sign: higher is better
    assert g.bic(X, sign="mclust") == pytest.approx(at_bic, rel=1e-11)
    assert g.icl(X, sign="mclust") == pytest.approx(at_icl, rel=1e-10)
    assert f["icl"] <= f["bic"] and at_icl <= at_bic
    # scikit-learn's sign: the same numbers negated; the definitions spelled out
    assert g.bic(X) == pytest.approx(-2 * loglik + f["df"] * np.log(n), rel=1e-12)
    assert g.aic(X) == pytest.approx(-2 * loglik + 2 * f["df"], rel=1e-12)
    assert g.aic(X, sign="mclust") == -g.aic(X)
    map_log = np.log(g.predict_proba(X).max(axis=1)).sum()
    assert g.icl(X) == pytest.approx(g.bic(X) - 2 * map_log, rel=1e-12)
    assert g.icl(X) >= g.bic(X)


def test_binomial_criteria_follow_the_same_definitions():
    rng = np.random.default_rng(0)
    z = rng.integers(0, 2, 400)
    X = rng.binomial(12, np.array([0.2, 0.7])[z][:, None], size=(400, 3)).astype(float)
    m = fastem.BinomialMixture(2, trials=12, random_state=0).fit(X)
    ll = m.score_samples(X).sum()
    p = m._n_parameters()
    assert p == 2 * 3 + 1
    assert m.bic(X) == pytest.approx(-2 * ll + p * np.log(400), rel=1e-12)
    assert m.bic(X, sign="mclust") == -m.bic(X)
    assert m.icl(X) == pytest.approx(m.bic(X) - 2 * np.log(m.predict_proba(X).max(1)).sum(),
                                     rel=1e-12)
    assert m.icl(X) >= m.bic(X)
    with pytest.raises(ValueError, match="sign"):
        m.bic(X, sign="R")


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_selection_table_and_best_are_the_standalone_fits():
    X = load("faithful")
    sel = _quiet(GaussianMixtureSelection(range(1, 4), covariance_types=("tied", "diag"),
                                          random_state=0, tol=1e-6).fit, X)
    c = sel.criteria_
    assert list(c["n_components"]) == [1, 1, 2, 2, 3, 3]
    assert list(c["covariance_type"]) == ["tied", "diag"] * 3
    assert all(len(v) == 6 for v in c.values())
    for i in range(6):
        g = _quiet(GaussianMixture(int(c["n_components"][i]),
                                   covariance_type=c["covariance_type"][i], random_state=0,
                                   tol=1e-6).fit, X)
        assert c["log_likelihood"][i] == pytest.approx(g.score(X) * X.shape[0], rel=1e-12)
        assert c["bic"][i] == pytest.approx(g.bic(X), rel=1e-12)
        assert c["aic"][i] == pytest.approx(g.aic(X), rel=1e-12)
        assert c["icl"][i] == pytest.approx(g.icl(X), rel=1e-12)
        assert c["n_parameters"][i] == g._n_parameters()
        assert c["converged"][i] == g.converged_ and c["error"][i] is None
    best = int(np.argmin(c["bic"]))
    assert sel.best_index_ == best
    assert sel.best_params_ == {"n_components": int(c["n_components"][best]),
                                "covariance_type": c["covariance_type"][best]}
    assert sel.best_params_ == {"n_components": 3, "covariance_type": "tied"}  # mclust: EEE 3
    b = sel.best_estimator_
    np.testing.assert_array_equal(sel.predict(X), b.predict(X))
    np.testing.assert_array_equal(sel.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(sel.score_samples(X), b.score_samples(X))
    assert sel.score(X) == b.score(X) and sel.bic(X) == b.bic(X) and sel.icl(X) == b.icl(X)
    assert sel.sample(5, random_state=1)[0].shape == (5, 2)
    for crit in ("aic", "icl"):
        other = _quiet(GaussianMixtureSelection(range(1, 4), covariance_types=("tied", "diag"),
                                                criterion=crit, random_state=0, tol=1e-6).fit, X)
        assert other.best_index_ == int(np.argmin(other.criteria_[crit]))
        np.testing.assert_allclose(other.criteria_[crit], c[crit], rtol=1e-12)


def test_failed_candidates_get_nan_and_a_reason():
    X = load("faithful")[:5]
    sel = _quiet(GaussianMixtureSelection([1, 2, 7], covariance_types=["full"],
                                          random_state=0).fit, X)
    c = sel.criteria_
    assert np.isnan(c["bic"][2]) and np.isnan(c["icl"][2]) and not c["converged"][2]
    assert "n_components" in c["error"][2]
    assert c["error"][0] is None and np.isfinite(c["bic"][0])
    with pytest.raises(ValueError, match="every candidate failed"):
        _quiet(GaussianMixtureSelection([6, 7], covariance_types=["full"]).fit, X)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_components=[]), "empty"),
    (dict(n_components=0), "n_components must be >= 1; got 0"),
    (dict(n_components=[2, -1]), "got -1"),
    (dict(n_components=[2.5]), "2.5"),
    (dict(criterion="waic"), "waic"),
    (dict(covariance_types=()), "empty"),
    (dict(covariance_types=("full", "round")), "round"),
    (dict(tolerance=1e-3), "tolerance"),
    (dict(covariance_type="full"), "covariance_type"),
])
def test_bad_parameters_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixtureSelection(**kwargs).fit(load("faithful"))


def test_sklearn_conventions():
    from sklearn.base import clone

    sel = GaussianMixtureSelection([1, 2], covariance_types=["diag"], tol=1e-4, max_iter=50,
                                   random_state=0)
    params = sel.get_params()
    assert params["tol"] == 1e-4 and params["max_iter"] == 50 and params["criterion"] == "bic"
    twin = clone(sel)
    assert twin.get_params() == params
    twin.set_params(reg_covar=1e-3, criterion="aic")
    assert twin.reg_covar == 1e-3 and twin.get_params()["reg_covar"] == 1e-3
    assert "reg_covar" not in sel.get_params()
    assert "tol=0.0001" in repr(sel)
    with pytest.raises(fastem.NotFittedError):
        sel.predict(load("faithful"))
    out = _quiet(sel.fit, load("faithful"))
    assert out is sel and sel.best_estimator_.tol == 1e-4 and sel.best_estimator_.max_iter == 50


def test_binomial_selection_finds_two_coins():
    rng = np.random.default_rng(3)
    z = rng.integers(0, 2, 600)
    X = rng.binomial(10, np.array([0.2, 0.75])[z][:, None], size=(600, 4)).astype(float)
    sel = _quiet(BinomialMixtureSelection(range(1, 5), random_state=0).fit, X, trials=10)
    assert sel.best_params_ == {"n_components": 2}
    assert "covariance_type" not in sel.criteria_
    m = fastem.BinomialMixture(2, random_state=0).fit(X, trials=10)
    assert sel.criteria_["bic"][1] == pytest.approx(m.bic(X, trials=10), rel=1e-12)
    np.testing.assert_array_equal(sel.predict(X, trials=10), m.predict(X, trials=10))
    same = _quiet(BinomialMixtureSelection(range(1, 5), trials=10, random_state=0).fit, X)
    np.testing.assert_array_equal(same.criteria_["bic"], sel.criteria_["bic"])


def test_the_readme_example_runs():
    text = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    begin = text.index("```python", text.index("## Model selection")) + 9
    code = text[begin:text.index("```", begin)]
    scope = {"np": np}
    exec(compile("import fastem\n" + code, "README.md", "exec"), scope)  # noqa: S102
    assert scope["sel"].best_params_["n_components"] == 3
    assert len(scope["table"]["bic"]) == 5 * 4
