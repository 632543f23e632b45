"""Public kernels check their arguments (O(1)) before touching data: from Python and from
inside a user's @njit function alike.  Before issue 10 every call below was accepted; a
short ``labels`` array hung the process writing out of bounds.

Marked ``kernels``: also run with NUMBA_DISABLE_JIT=1 (the same checks, in Python).
"""

import warnings

import numpy as np
from numba.core.errors import NumbaPendingDeprecationWarning
import pytest

from conftest import needs_jit
from fastem import kernels as K

pytestmark = pytest.mark.kernels

N, D, KC = 40, 3, 2
rng = np.random.default_rng(0)
X = rng.normal(size=(N, D))
E = np.empty(0)
L0 = np.empty(0, np.int32)
W = np.full(KC, 0.5)
MEANS = X[:KC].copy()
PREC = {"full": np.stack([np.eye(D)] * KC), "tied": np.eye(D), "diag": np.ones((KC, D)),
        "spherical": np.ones(KC)}
COUNTS = rng.integers(0, 5, size=(N, D)).astype(np.float64)
T1 = np.full((1, 1), 5.0)
PROBS = np.full((KC, D), 0.4)


def gauss_args(ct, **change):
    a = dict(X=X, sample_weight=E, weights=W, means=MEANS, prec_chol=PREC[ct], mode=K.HARD,
             seed=1, iteration=2, labels=np.full(N, -1, np.int32))
    a.update(change)
    return tuple(a.values())


def binom_args(**change):
    a = dict(X=COUNTS, trials=T1, sample_weight=E, weights=W, probs=PROBS, mode=K.SOFT,
             seed=1, iteration=2, labels=L0)
    a.update(change)
    return tuple(a.values())


TYPES = ["full", "tied", "diag", "spherical"]
STEP = {ct: getattr(K, f"gaussian_em_step_{ct}") for ct in TYPES}
DENSITY = {ct: getattr(K, f"gaussian_log_density_{ct}") for ct in TYPES}

# (argument change, message fragment): each must be refused with a ValueError.
GAUSS_VALUE_CASES = [
    (dict(labels=np.full(N - 30, -1, np.int32)), "labels has length 10 but X has 40 rows"),
    (dict(sample_weight=np.ones(N + 1)), "sample_weight has length 41"),
    (dict(weights=np.full(3, 1 / 3)), "weights has length 3 but there are 2 components"),
    (dict(weights=np.array([0.5, -0.5])), "weights must be finite and >= 0"),
    (dict(weights=np.zeros(2)), "weights must not all be 0"),
    (dict(weights=np.array([np.nan, 1.0])), "weights must be finite"),
    (dict(means=MEANS[:, :2]), "means must have shape (k, 3)"),
    (dict(means=np.empty((0, D))), "means must have shape (k, 3) with k >= 1"),
    (dict(means=np.array([[np.inf, 0, 0], [0, 0, 0]])), "means contains NaN or infinity"),
    (dict(mode=7), "mode must be SOFT (0), HARD (1) or STOCHASTIC (2); got 7"),
    (dict(mode=-1), "mode must be"),
    (dict(X=np.empty((N, 0)), means=np.empty((KC, 0))), "at least one column"),
]
PREC_VALUE_CASES = {
    "full": [(np.stack([np.eye(D)] * 3), "prec_chol must have shape (2, 3, 3)"),
             (-np.stack([np.eye(D)] * KC), "positive diagonal"),
             (np.stack([np.eye(D) * np.nan] * KC), "NaN or infinity")],
    "tied": [(np.eye(2), "prec_chol must have shape (3, 3)"), (-np.eye(D), "positive diagonal")],
    "diag": [(np.ones((KC, 2)), "prec_chol must have shape (2, 3)"),
             (np.zeros((KC, D)), "must be > 0")],
    "spherical": [(np.ones(3), "prec_chol must have shape (2)"), (-np.ones(KC), "must be > 0")],
}
GAUSS_TYPE_CASES = [
    (dict(X=X[:, 0]), "X must be a 2-D float32 or float64 array"),
    (dict(X=X.astype(np.int64)), "X must be a 2-D float32 or float64 array"),
    (dict(X=X.astype(np.complex128)), "X must be a 2-D float32 or float64 array"),
    (dict(sample_weight=np.ones(N, np.float32)), "sample_weight must be a 1-D float64 array"),
    (dict(weights=[0.5, 0.5]), "weights must be a 1-D array of real numbers"),
    (dict(means=MEANS.astype(bool)), "means must be a 2-D array of real numbers"),
    (dict(mode=1.0), "mode must be an integer"),
    (dict(seed="0"), "seed must be an integer"),
    (dict(labels=np.full(N, -1, np.int64)), "labels must be a writeable 1-D int32 array"),
]


def _readonly(a):
    a = a.copy()
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("case", range(len(GAUSS_VALUE_CASES)))
def test_gaussian_step_refuses_wrong_shapes_and_values(ct, case):
    change, message = GAUSS_VALUE_CASES[case]
    if "X" in change:  # an X of another width needs matching parameters
        change = dict(change, prec_chol={"full": np.empty((KC, 0, 0)), "tied": np.empty((0, 0)),
                                         "diag": np.empty((KC, 0)), "spherical": np.ones(KC)}[ct])
    with pytest.raises(ValueError, match=f"gaussian_em_step_{ct}: .*" + _re(message)):
        STEP[ct](*gauss_args(ct, **change))


@pytest.mark.parametrize("ct", TYPES)
def test_gaussian_precisions_are_checked(ct):
    for prec, message in PREC_VALUE_CASES[ct]:
        with pytest.raises(ValueError, match=_re(message)):
            STEP[ct](*gauss_args(ct, prec_chol=prec))
        with pytest.raises(ValueError, match=_re(message)):
            DENSITY[ct](X, MEANS, prec)


@pytest.mark.parametrize("ct", ["full", "diag"])
@pytest.mark.parametrize("case", range(len(GAUSS_TYPE_CASES) + 1))
def test_gaussian_step_refuses_wrong_types(ct, case):
    if case == len(GAUSS_TYPE_CASES):
        change, message = dict(labels=_readonly(np.full(N, -1, np.int32))), "writeable"
    else:
        change, message = GAUSS_TYPE_CASES[case]
    with pytest.raises(K.KernelTypeError, match=_re(message)) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)  # a list argument
        STEP[ct](*gauss_args(ct, **change))
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_gaussian_density_refuses_wrong_types_and_shapes():
    with pytest.raises(K.KernelTypeError, match="prec_chol must be a 3-D"):
        K.gaussian_log_density_full(X, MEANS, PREC["tied"])
    with pytest.raises(ValueError, match="means must have shape"):
        K.gaussian_log_density_diag(X, MEANS[:, :1], PREC["diag"])


BINOM_VALUE_CASES = [
    (dict(trials=np.full((N, 2), 5.0)), "trials must have shape (1 or n, 1 or d) = (1 or 40, 1 or 3); got (40, 2)"),
    (dict(trials=np.full((3, 1), 5.0)), "got (3, 1)"),
    (dict(trials=np.empty((0, 0))), "got (0, 0)"),
    (dict(labels=np.full(5, -1, np.int32)), "labels has length 5"),
    (dict(sample_weight=np.ones(3)), "sample_weight has length 3"),
    (dict(weights=np.full(3, 1 / 3)), "weights has length 3"),
    (dict(probs=np.full((KC, 2), 0.5)), "probs must have shape (k, 3)"),
    (dict(probs=np.full((KC, D), 1.0)), "strictly between 0 and 1"),
    (dict(probs=np.full((KC, D), np.nan)), "strictly between 0 and 1"),
    (dict(mode=3), "mode must be"),
]


@pytest.mark.parametrize("case", range(len(BINOM_VALUE_CASES)))
def test_binomial_step_refuses_wrong_shapes_and_values(case):
    change, message = BINOM_VALUE_CASES[case]
    with pytest.raises(ValueError, match="binomial_em_step: .*" + _re(message)):
        K.binomial_em_step(*binom_args(**change))


def test_binomial_kernels_refuse_wrong_types():
    with pytest.raises(K.KernelTypeError, match="trials must be a 2-D array of X's dtype"):
        K.binomial_em_step(*binom_args(trials=np.full((1, 1), 5, np.float32)))
    with pytest.raises(K.KernelTypeError, match="trials must be a 2-D array"):
        K.binomial_log_density(COUNTS, 5.0, PROBS)
    with pytest.raises(K.KernelTypeError, match="X must be a 2-D float32 or float64"):
        K.binomial_log_coef_sum(COUNTS[:, 0], T1, E)
    with pytest.raises(ValueError, match="binomial_log_coef_sum: sample_weight has length 2"):
        K.binomial_log_coef_sum(COUNTS, T1, np.ones(2))
    with pytest.raises(ValueError, match="binomial_log_density: probs must lie"):
        K.binomial_log_density(COUNTS, T1, np.zeros((KC, D)))


def test_parameters_of_any_real_dtype_and_layout_give_the_same_result():
    want = K.gaussian_em_step_full(*gauss_args("full", labels=L0))
    ints = K.gaussian_log_density_diag(X, np.round(MEANS), np.ones((KC, D), np.int64))
    np.testing.assert_array_equal(ints, K.gaussian_log_density_diag(X, np.round(MEANS),
                                                                    np.ones((KC, D))))
    prec_f = np.asfortranarray(PREC["full"])
    got = K.gaussian_em_step_full(*gauss_args("full", labels=L0, means=np.asfortranarray(MEANS),
                                              prec_chol=prec_f,
                                              weights=np.full(KC, 0.5, np.float32)))
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)


def test_inputs_other_than_labels_are_never_modified():
    args = gauss_args("full", sample_weight=np.ones(N))
    keep = [np.array(a, copy=True) for a in args]
    STEP["full"](*args)
    for a, b, name in zip(args, keep, ["X", "w", "weights", "means", "prec", "m", "s", "i"]):
        np.testing.assert_array_equal(a, b, err_msg=name)
    args = binom_args(sample_weight=np.ones(N))
    keep = [np.array(a, copy=True) for a in args]
    K.binomial_em_step(*args)
    K.binomial_log_density(COUNTS, T1, PROBS)
    for a, b in zip(args[:5], keep[:5]):
        np.testing.assert_array_equal(a, b)


def _re(message):
    import re

    return re.escape(message)


# ------------------------------------------------------------------ the same from @njit
@needs_jit
def test_checks_raise_inside_a_users_njit_function():
    import numba

    @numba.njit
    def user(X, means, mode, labels):
        prec = np.ones((means.shape[0], X.shape[1]))
        return K.gaussian_em_step_diag(X, np.empty(0), np.full(means.shape[0], 0.5), means,
                                       prec, mode, 0, 1, labels)[0]

    ok = user(X, MEANS, K.SOFT, L0)
    np.testing.assert_allclose(ok.sum(), N)
    with pytest.raises(ValueError, match="labels has length 3 but X has 40 rows"):
        user(X, MEANS, K.HARD, np.full(3, -1, np.int32))
    with pytest.raises(ValueError, match="mode must be"):
        user(X, MEANS, 7, L0)
    with pytest.raises(ValueError, match="means must have shape"):
        user(X, MEANS[:, :2], K.SOFT, L0)

    @numba.njit
    def user_bad_type(X):
        return K.binomial_log_density(X, np.ones((1, 1), np.float32), np.full((2, 3), 0.5))

    with pytest.raises(K.KernelTypeError, match="trials must be a 2-D array of X's dtype"):
        user_bad_type(COUNTS)
