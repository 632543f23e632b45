"""Compile (or load from Numba's on-disk cache) every kernel before it is needed."""

import time
import warnings

import numpy as np


def _fixed_kernels():
    """(name, dispatcher, signature) of every kernel compiled once for all data types."""
    from ._kernels import binomial as kb
    from ._kernels import gaussian as kg
    from ._kernels import kmeans as kk

    return [
        ("gaussian pass (full)", kg.gauss_full, kg.PASS_SIGNATURE),
        ("gaussian pass (tied)", kg.gauss_tied, kg.PASS_SIGNATURE),
        ("gaussian pass (diag, spherical)", kg.gauss_diag, kg.PASS_SIGNATURE),
        ("finite check", kg.check_finite, kg.CHECK_SIGNATURE),
        ("k-means++", kk.kmeanspp, kk.KMEANSPP_SIGNATURE),
        ("Lloyd pass", kk.lloyd_blocks, kk.LLOYD_SIGNATURE),
        ("column moments", kk.moment_blocks, kk.MOMENT_SIGNATURE),
        ("binomial pass", kb.binomial_blocks, kb.PASS_SIGNATURE),
        ("binomial coefficients", kb.coef_blocks, kb.COEF_SIGNATURE),
        ("count check", kb.check_counts, kb.CHECK_SIGNATURE),
        ("row codes", kb.row_code_weights, kb.CODES_SIGNATURE),
    ]


def warmup(dtypes=(np.float32, np.float64), kernels=True, verbose=False):
    """Compile (or load from the on-disk cache) every kernel up front.

    Call it once, e.g. at service start-up or while building a container image
    (``python -m fastem warmup``), so that no later ``fit`` or ``predict`` pauses for
    compilation.  With a warm on-disk cache this takes about a second.

    Parameters
    ----------
    dtypes : sequence of dtypes, default=(float32, float64)
        Data dtypes to prepare the public kernels of :mod:`fastem.kernels` for (the
        estimators' kernels serve both dtypes with one compilation).
    kernels : bool, default=True
        Also prepare the public functions of :mod:`fastem.kernels`.
    verbose : bool, default=False
        Print what is being compiled and how long it took.

    Returns
    -------
    seconds : float
        Time spent.
    """
    from ._kernels._jit import prepared

    t_start = time.perf_counter()

    def step(name, fn, *args):
        t0 = time.perf_counter()
        fn(*args)
        if verbose:
            print(f"fastem.warmup: {name} ready in {time.perf_counter() - t0:.1f} s", flush=True)

    for name, fn, sig in _fixed_kernels():
        step(name, prepared, fn, sig)
    step("M-steps and the rest of the estimators", _estimators)
    if kernels:
        for dtype in dtypes:
            step(f"public kernels ({np.dtype(dtype)})", _public_kernels, np.dtype(dtype))
    return time.perf_counter() - t_start


def _estimators():
    """Tiny fits through every code path of the estimators (the big kernels are ready)."""
    from .binomial import BinomialMixture
    from .exceptions import ConvergenceWarning
    from .gaussian import COVARIANCE_TYPES, GaussianMixture

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    X[6:] += 5
    counts = rng.integers(0, 4, size=(12, 2)).astype(np.float64)
    w = np.ones(12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for mode in ("soft", "hard", "stochastic"):
            for init in ("random", "random_from_data"):
                b = BinomialMixture(2, trials=3, mode=mode, init_params=init, max_iter=2,
                                    random_state=0)
                b.fit(counts, sample_weight=w)
            b.predict_proba(counts)
            b.score_samples(counts)
            for ct in COVARIANCE_TYPES:
                for init in ("kmeans", "random", "k-means++"):
                    g = GaussianMixture(2, covariance_type=ct, mode=mode, init_params=init,
                                        max_iter=2, random_state=0)
                    g.fit(X, sample_weight=w)
                g.score_samples(X)
                g.predict(X)


def _public_kernels(dtype):
    from . import kernels as K
    from .gaussian import COVARIANCE_TYPES

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2)).astype(dtype)
    counts = rng.integers(0, 4, size=(12, 2)).astype(dtype)
    T = np.full((1, 1), 3, dtype=dtype)
    e, lab = np.empty(0), np.empty(0, dtype=np.int32)
    K.binomial_log_density(counts, T, np.full((2, 2), 0.5))
    K.binomial_log_coef_sum(counts, T, e)
    K.binomial_em_step(counts, T, e, np.full(2, 0.5), np.full((2, 2), 0.5), K.SOFT, 0, 1, lab)
    means = X[:2].astype(np.float64)
    precs = {"full": np.stack([np.eye(2)] * 2), "tied": np.eye(2), "diag": np.ones((2, 2)),
             "spherical": np.ones(2)}
    for ct in COVARIANCE_TYPES:
        getattr(K, f"gaussian_log_density_{ct}")(X, means, precs[ct])
        getattr(K, f"gaussian_em_step_{ct}")(X, e, np.full(2, 0.5), means, precs[ct], K.SOFT, 0,
                                             1, lab)
