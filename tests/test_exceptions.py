"""fastem's NotFittedError and ConvergenceWarning, alone and beside scikit-learn's (issue 11.4)."""

import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fastem
from fastem import BinomialMixture, GaussianMixture

X = np.random.default_rng(0).normal(size=(40, 2))
C = np.random.default_rng(0).binomial(5, 0.4, size=(40, 1)).astype(np.float64)

UNFITTED_CALLS = [
    lambda: GaussianMixture(2).predict(X),
    lambda: GaussianMixture(2).predict_proba(X),
    lambda: GaussianMixture(2).score_samples(X),
    lambda: GaussianMixture(2).sample(3),
    lambda: BinomialMixture(2).predict(C, trials=5),
    lambda: BinomialMixture(2).score(C, trials=5),
]


def test_without_scikit_learn_the_plain_classes_are_used_and_it_is_not_imported():
    code = textwrap.dedent("""
        import sys, warnings
        import numpy as np
        import fastem
        X = np.random.default_rng(0).normal(size=(40, 2))
        try:
            fastem.GaussianMixture(2).predict(X)
        except fastem.NotFittedError as exc:
            assert type(exc) is fastem.NotFittedError, type(exc).__mro__
            assert isinstance(exc, ValueError) and isinstance(exc, AttributeError)
        else:
            raise SystemExit("no error")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fastem.GaussianMixture(2, max_iter=1, tol=0, random_state=0).fit(X)
        assert [w.category for w in caught] == [fastem.ConvergenceWarning], caught
        assert "sklearn" not in sys.modules, "fastem imported scikit-learn"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


@pytest.mark.parametrize("call", UNFITTED_CALLS)
def test_not_fitted_is_also_scikit_learns_error_with_its_words(call):
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils.validation import check_is_fitted

    with pytest.raises(SkNotFitted) as info:
        call()
    exc = info.value
    assert isinstance(exc, fastem.NotFittedError)
    assert isinstance(exc, ValueError) and isinstance(exc, AttributeError)
    # scikit-learn's own message for an unfitted estimator of the same name
    name = "GaussianMixture" if "Gaussian" in str(exc) else "BinomialMixture"
    twin = type(name, (BaseEstimator,), {"fit": lambda self, X: self})()
    with pytest.raises(SkNotFitted) as theirs:
        check_is_fitted(twin)
    assert str(exc) == str(theirs.value)


def test_not_fitted_error_pickles_as_fastems_class():
    import sklearn.exceptions  # noqa: F401  (the bridged class is in use)

    with pytest.raises(fastem.NotFittedError) as info:
        GaussianMixture(2).predict(X)
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is fastem.NotFittedError and back.args == info.value.args


def test_scikit_learn_convergence_filter_silences_fastem():
    from sklearn.exceptions import ConvergenceWarning as SkConvergence

    short = dict(max_iter=1, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=SkConvergence)
        GaussianMixture(2, **short).fit(X)
        BinomialMixture(2, **short).fit(C, trials=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GaussianMixture(2, **short).fit(X)
    assert len(caught) == 1
    assert issubclass(caught[0].category, SkConvergence)
    assert issubclass(caught[0].category, fastem.ConvergenceWarning)
    with warnings.catch_warnings():  # fastem's own class still filters it
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=fastem.ConvergenceWarning)
        GaussianMixture(2, **short).fit(X)
