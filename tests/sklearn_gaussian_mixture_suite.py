"""scikit-learn's own GaussianMixture tests, run against ``fastem.GaussianMixture``.

The tests are not copied into this repository: this module imports the installed
``sklearn/mixture/tests/test_gaussian_mixture.py`` while ``sklearn.mixture.GaussianMixture``
is fastem's class, so every ``GaussianMixture`` in those tests is fastem's (scikit-learn's
private helpers that they import stay scikit-learn's), and collects its tests here.
The file name does not start with ``test_``: a plain ``pytest`` skips it, and CI runs it
on its own, with the float32 variants (``ci/sklearn_tests.sh``)::

    SKLEARN_RUN_FLOAT32_TESTS=1 pytest tests/sklearn_gaussian_mixture_suite.py

The counts (collected, passed, excluded by reason) are printed at the end of the run
(``pytest_terminal_summary`` in ``conftest.py``).

Every other test of that file must pass.  The few excluded below test something that
fastem does not claim to share with scikit-learn; each says why.  ``CONFLICTS`` lists the
tests that fail because of a deliberate difference in fastem; they run as strict xfails,
so a change of outcome is noticed.
"""

import importlib
import os
import sys

import numpy as np
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


CONFLICTS = {
    "test_gaussian_mixture_setting_best_params": (
        "a component that holds a single row gets variance 0 (to rounding) and reg_covar=0, "
        "and fastem raises scikit-learn's own 'ill-defined empirical covariance' error. "
        "scikit-learn passes only because it computes variances from uncentred moments "
        "and 10*eps added to the component's weight leaves about x**2 * 1e-15 of them: "
        "moved so that the row sits at the origin, scikit-learn raises too. fastem "
        "centres its moments (translation invariant, accurate for float32 far from 0)"),
}


# scikit-learn's tests take two fixtures from scikit-learn's conftest, which is not loaded
# here (it also limits thread pools and changes collection for its whole suite).  Same
# meaning, same environment variables: ``global_dtype`` is float64, and float32 with
# SKLEARN_RUN_FLOAT32_TESTS=1; ``global_random_seed`` is 42, or what
# SKLEARN_TESTS_GLOBAL_RANDOM_SEED says (a seed N, a range N-M, or "all" for 0-99).
def _float32_param():
    run = os.environ.get("SKLEARN_RUN_FLOAT32_TESTS", "0") == "1"
    skip = pytest.mark.skipif(not run, reason="float32 variant: set SKLEARN_RUN_FLOAT32_TESTS=1")
    return pytest.param(np.float32, marks=skip, id="float32")


@pytest.fixture(params=[_float32_param(), pytest.param(np.float64, id="float64")])
def global_dtype(request):
    return request.param


def _random_seeds():
    spec = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if spec is None:
        return [42]
    if spec == "all":
        return list(range(100))
    low, _, high = spec.partition("-")
    seeds = list(range(int(low), int(high or low) + 1))
    if not seeds or seeds[0] < 0 or seeds[-1] > 99:
        raise ValueError(f"SKLEARN_TESTS_GLOBAL_RANDOM_SEED must lie in [0, 99]; got {spec!r}")
    return seeds


@pytest.fixture(params=_random_seeds())
def global_random_seed(request):
    return request.param


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
_stale = sorted((set(EXCLUDED) | set(CONFLICTS)) - set(_tests))
if _stale:
    raise RuntimeError(f"excluded tests that {MODULE} no longer has: {_stale}")
for _name, (_why, _detail) in EXCLUDED.items():
    # First among the test's marks, so that pytest reports this reason and not one of
    # the test's own skip conditions.
    _test = _tests[_name]
    _mark = pytest.mark.skipif(True, reason=f"{_why}: {_detail}").mark
    _test.pytestmark = [_mark, *getattr(_test, "pytestmark", [])]
for _name, _why in CONFLICTS.items():
    pytest.mark.xfail(strict=True, raises=ValueError,
                      reason=f"conflicts with a fastem design choice: {_why}")(_tests[_name])
globals().update(_tests)
