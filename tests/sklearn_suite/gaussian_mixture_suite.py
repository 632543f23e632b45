"""scikit-learn's own GaussianMixture tests, run against ``fastem.GaussianMixture``.

The tests are not copied into this repository: this module imports the installed
``sklearn/mixture/tests/test_gaussian_mixture.py`` while ``sklearn.mixture.GaussianMixture``
is fastem's class, so every ``GaussianMixture`` in those tests is fastem's (scikit-learn's
private helpers that they import stay scikit-learn's), and collects its tests here.
The file name does not start with ``test_``: a plain ``pytest`` skips it, and CI runs it
on its own, with the float32 variants (``ci/sklearn_tests.sh``)::

    SKLEARN_RUN_FLOAT32_TESTS=1 pytest tests/sklearn_suite/gaussian_mixture_suite.py

Every other test of that file must pass.  The few excluded below test something that
fastem does not claim to share with scikit-learn; each says why.
"""

import importlib
import sys

import pytest

import fastem

pytest.importorskip("sklearn")
import sklearn.mixture  # noqa: E402

MODULE = "sklearn.mixture.tests.test_gaussian_mixture"

PRIVATE = "excluded (tests a private scikit-learn helper)"
MOCK = "excluded (mocks scikit-learn internals)"
WORDING = "excluded (exact wording of a parameter-validation error)"
ARRAY_API = "excluded (array API)"

EXCLUDED = {
    "test_suffstat_sk_full": (PRIVATE, "_estimate_gaussian_covariances_full"),
    "test_suffstat_sk_tied": (PRIVATE, "_estimate_gaussian_covariances_tied"),
    "test_suffstat_sk_diag": (PRIVATE, "_estimate_gaussian_covariances_diag"),
    "test_gaussian_suffstat_sk_spherical": (PRIVATE, "_estimate_gaussian_covariances_spherical"),
    "test_compute_log_det_cholesky": (PRIVATE, "_compute_log_det_cholesky"),
    "test_gaussian_mixture_log_probabilities": (PRIVATE, "_estimate_log_gaussian_prob"),
    "test_gaussian_mixture_precisions_init": (
        PRIVATE, "calls the estimator's private _set_parameters(params) and "
        "_initialize(X, resp), scikit-learn's internal signatures; the same property "
        "(precisions_init gives the matching precisions_cholesky_) is tested in "
        "tests/test_gaussian.py through max_iter=0"),
    "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters": (
        MOCK, "counts calls of sklearn.mixture._gaussian_mixture._estimate_gaussian_parameters"),
    "test_check_weights": (WORDING, "matches 'The parameter 'weights' should ...'; fastem "
                                    "says 'weights_init must ...'"),
    "test_check_means": (WORDING, "matches 'The parameter 'means' should have the shape'"),
    "test_check_precisions": (WORDING, "matches \"'full precision' should be symmetric, "
                                       "positive-definite\" and the like"),
    "test_gaussian_mixture_array_api_compliance": (ARRAY_API, "fastem computes with NumPy"),
    "test_gaussian_mixture_raises_where_array_api_not_implemented": (
        ARRAY_API, "fastem computes with NumPy"),
}


def _import_with_fastem():
    if MODULE in sys.modules:  # bound to scikit-learn's class already
        raise RuntimeError(f"{MODULE} was imported before this harness; run it on its own")
    theirs = sklearn.mixture.GaussianMixture
    sklearn.mixture.GaussianMixture = fastem.GaussianMixture
    try:
        # A normal import, so that pytest rewrites its asserts (clear failure reports).
        module = importlib.import_module(MODULE)
    finally:
        sklearn.mixture.GaussianMixture = theirs
    assert module.GaussianMixture is fastem.GaussianMixture
    return module


_module = _import_with_fastem()
_tests = {name: obj for name, obj in vars(_module).items()
          if name.startswith("test_") and callable(obj)}
_stale = sorted(set(EXCLUDED) - set(_tests))
if _stale:
    raise RuntimeError(f"excluded tests that {MODULE} no longer has: {_stale}")
for _name, (_why, _detail) in EXCLUDED.items():
    # First among the test's marks, so that pytest reports this reason and not one of
    # the test's own skip conditions.
    _test = _tests[_name]
    _mark = pytest.mark.skipif(True, reason=f"{_why}: {_detail}").mark
    _test.pytestmark = [_mark, *getattr(_test, "pytestmark", [])]
globals().update(_tests)
