"""Column names, as scikit-learn keeps them: a fit on a data frame whose column names are
all strings records ``feature_names_in_``; later calls check the names (a warning when
only one side has names, an error naming what differs); KMeans, a transformer, has
``get_feature_names_out`` and ``set_output``.  scikit-learn runs these checks on its own
estimators in its test_common (they are not in ``check_estimator``'s list)."""

import json
import os
import warnings

import numpy as np
import pytest

import fastem

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import (  # noqa: E402
    check_dataframe_column_names_consistency,
    check_get_feature_names_out_error,
    check_global_output_transform_pandas,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
)

HERE = os.path.basename(__file__)

FLOAT_ESTIMATORS = [
    fastem.GaussianMixture(random_state=0),
    fastem.GaussianMixture(2, covariance_type="diag", random_state=0),
    fastem.GaussianMixture(2, mode="hard", random_state=0),
    fastem.KMeans(3, random_state=0),
    fastem.GaussianMixtureSelection(n_components=[1, 2], covariance_types=["diag"],
                                    random_state=0),
]


@pytest.mark.parametrize("estimator", FLOAT_ESTIMATORS, ids=repr)
def test_scikit_learns_column_name_check(estimator):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
    # no call inside fastem passes on an array of its own and warns about it
    assert not [w for w in record if "feature names" in str(w.message)], \
        [str(w.message) for w in record]


KMEANS_CHECKS = [check_get_feature_names_out_error, check_transformer_get_feature_names_out,
                 check_transformer_get_feature_names_out_pandas, check_set_output_transform,
                 check_set_output_transform_pandas, check_global_output_transform_pandas]


# (the set_output checks fit on a frame and transform an array, and the other way round:
# the warnings that say so are expected there)
@pytest.mark.filterwarnings("ignore:X (has|does not have valid) feature names:UserWarning")
@pytest.mark.parametrize("check", KMEANS_CHECKS, ids=lambda c: c.__name__)
def test_scikit_learns_transformer_output_checks(check):
    check("KMeans", fastem.KMeans(2, random_state=0))


def counts(n=80, d=3, seed=0):
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(n) < 0.5, 0.2, 0.8)[:, None]
    return rng.binomial(10, np.repeat(p, d, axis=1))


def frame(X, names=None):
    names = [f"col_{j}" for j in range(X.shape[1])] if names is None else names
    return pd.DataFrame(X, columns=names)


def uses(est, kw=None):
    """The methods of a fitted ``est`` that take X, as (name, call)."""
    kw = kw or {}
    out = [(m, getattr(est, m)) for m in ("predict", "predict_proba", "score_samples",
                                         "score", "transform", "e_step_stats")
           if hasattr(est, m)]
    return [(m, (lambda f: lambda X: f(X, **kw))(f)) for m, f in out]


CASES = [
    (lambda names: names[::-1], "Feature names must be in the same order as they were in fit.\n"),
    (lambda names: ["other_" + n for n in names],
     "Feature names unseen at fit time:\n- other_col_0\n- other_col_1\n- other_col_2\n"
     "Feature names seen at fit time, yet now missing:\n- col_0\n- col_1\n- col_2\n"),
    (lambda names: names[:2], "Feature names seen at fit time, yet now missing:\n- col_2\n"),
]


@pytest.mark.parametrize("make", [
    lambda: (fastem.BinomialMixture(2, trials=10, random_state=0), {"trials": 10}),
    lambda: (fastem.BinomialMixtureSelection(n_components=[1, 2], trials=10, random_state=0),
             {"trials": 10}),
    lambda: (fastem.GaussianMixture(2, random_state=0), {}),
    lambda: (fastem.KMeans(2, random_state=0), {}),
], ids=["binomial", "binomial-selection", "gaussian", "kmeans"])
def test_names_are_kept_checked_and_forgotten(make):
    est, kw = make()
    X = counts().astype(np.float64)
    df = frame(X)
    est.fit(df, **({"trials": 10} if "Binomial" in type(est).__name__ else {}))
    names = list(df.columns)
    assert est.feature_names_in_.dtype == object
    assert list(est.feature_names_in_) == names
    methods = uses(est, kw if "Binomial" in type(est).__name__ else {})
    # a selection's methods are its best model's, which names itself
    who = type(getattr(est, "best_estimator_", est)).__name__
    for name, call in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            same = call(df)
        with pytest.warns(UserWarning, match="X does not have valid feature names, but "
                                             f"{who} was fitted with") as rec:
            plain = call(X)
        # the warning points at the caller's line, not into fastem
        assert os.path.basename(rec[0].filename) == HERE, rec[0].filename
        if isinstance(same, np.ndarray):
            np.testing.assert_array_equal(same, plain)
        for change, message in CASES:
            bad = frame(X[:, :len(change(names))], change(names))
            with pytest.raises(ValueError) as err:
                call(bad)
            assert str(err.value) == ("The feature names should match those that were "
                                      "passed during fit.\n" + message), name
    # a fit on an array forgets the names; a frame then only warns
    est.fit(X, **({"trials": 10} if "Binomial" in type(est).__name__ else {}))
    assert not hasattr(est, "feature_names_in_")
    for name, call in methods:
        with pytest.warns(UserWarning, match=f"X has feature names, but {who} was fitted "
                                             "without"):
            call(df)


def test_frames_without_string_names_are_arrays():
    X = np.random.default_rng(0).normal(size=(40, 2))
    g = fastem.GaussianMixture(2, random_state=0).fit(pd.DataFrame(X))  # names 0, 1
    assert not hasattr(g, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g.predict(X)
        g.predict(pd.DataFrame(X))
    with pytest.raises(TypeError, match="mix strings with other types"):
        fastem.GaussianMixture(2).fit(pd.DataFrame(X, columns=["a", 1]))
    with pytest.raises(TypeError, match="mix strings with other types"):
        g.predict(pd.DataFrame(X, columns=["a", 1]))


def test_many_unseen_names_are_cut_short():
    X = np.random.default_rng(0).normal(size=(40, 8))
    g = fastem.GaussianMixture(1, random_state=0).fit(frame(X))
    with pytest.raises(ValueError) as err:
        g.score(frame(X, [f"z{j}" for j in range(8)]))
    assert str(err.value).endswith("- z3\n- z4\n- ...\n"
                                   "Feature names seen at fit time, yet now missing:\n"
                                   "- col_0\n- col_1\n- col_2\n- col_3\n- col_4\n- ...\n")


def test_partial_fit_keeps_the_first_batchs_names():
    X = np.random.default_rng(0).normal(size=(60, 3))
    g = fastem.GaussianMixture(2, random_state=0).partial_fit(frame(X[:30]))
    assert list(g.feature_names_in_) == ["col_0", "col_1", "col_2"]
    g.partial_fit(frame(X[30:]))
    with pytest.raises(ValueError, match="same order"):
        g.partial_fit(frame(X[30:], ["col_2", "col_1", "col_0"]))


def test_m_step_and_save_load_keep_the_names(tmp_path):
    X = np.random.default_rng(0).normal(size=(60, 3))
    g = fastem.GaussianMixture(2, random_state=0).fit(frame(X))
    g.m_step(g.e_step_stats(frame(X)))
    assert list(g.feature_names_in_) == ["col_0", "col_1", "col_2"]
    for model in (g, fastem.KMeans(2, random_state=0).fit(frame(X)),
                  fastem.GaussianMixtureSelection([1, 2], random_state=0).fit(frame(X))):
        path = tmp_path / "m.json"
        model.save(path)
        back = fastem.load(path)
        assert back.feature_names_in_.dtype == object
        np.testing.assert_array_equal(back.feature_names_in_, model.feature_names_in_)
        with pytest.raises(ValueError, match="same order"):
            back.predict(frame(X, ["col_1", "col_0", "col_2"]))
        doc = json.loads(path.read_text())
        for junk in ({"array": {"dtype": "object", "shape": [2], "values": ["a", "b"]}},
                     {"array": {"dtype": "object", "shape": [3], "values": ["a", "b", 3]}},
                     {"array": {"dtype": "int64", "shape": [3], "values": [1, 2, 3]}},
                     "abc"):
            doc["model"]["fitted"]["feature_names_in_"] = junk
            path.write_text(json.dumps(doc))
            with pytest.raises(ValueError, match="feature_names_in_"):
                fastem.load(path)


def test_kmeans_in_a_pandas_pipeline():
    rng = np.random.default_rng(0)
    X = frame(np.r_[rng.normal(0, 1, (30, 3)), rng.normal(6, 1, (30, 3))])
    X.index = [f"r{i}" for i in range(60)]
    pipe = make_pipeline(StandardScaler(), fastem.KMeans(2, random_state=0))
    out = pipe.set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == ["kmeans0", "kmeans1"] and list(out.index) == list(X.index)
    km = pipe[-1]
    np.testing.assert_array_equal(out.to_numpy(), km.set_output(transform="default")
                                  .transform(StandardScaler().set_output(transform="pandas")
                                             .fit(X).transform(X)))
    assert clone(km.set_output(transform="pandas"))._sklearn_output_config == \
        {"transform": "pandas"}
    with pytest.raises(ValueError, match="must be one of"):
        km.set_output(transform="arrow")
    assert km.set_output() is km  # None changes nothing
    with pytest.raises(ValueError, match="input_features is not equal"):
        km.get_feature_names_out(["a", "b", "c"])
    with pytest.raises(NotFittedError):
        fastem.KMeans(2).get_feature_names_out()


def test_polars_output_needs_polars(monkeypatch):
    import sys

    X = np.random.default_rng(0).normal(size=(20, 2))
    km = fastem.KMeans(2, random_state=0).fit(X).set_output(transform="polars")
    monkeypatch.setitem(sys.modules, "polars", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install polars"):
        km.transform(X)
