"""Compile (or load from Numba's on-disk cache) every kernel before it is needed."""

import os
import time
import warnings

import numpy as np

def _fixed_kernels():
    """(name, dispatcher, signature) of every function compiled once for all data types."""
    from ._compile import items

    return [(name, fn, sig) for name, (fn, sig, _) in items().items()]


def warmup(dtypes=(np.float32, np.float64), kernels=True, verbose=False, jobs=None):
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
    jobs : int, default=None
        Processes compiling at once: 1 or 2 (None: 2 when the machine has two cores or
        more).  With 2, a child process compiles about half of the kernels into Numba's
        on-disk cache (``NUMBA_CACHE_DIR`` or ``__pycache__``) while this process compiles
        the rest; should the child fail, this process compiles its share too.

    Returns
    -------
    seconds : float
        Time spent.
    """
    from numba.core import config

    from ._compile import ensure, items

    t_start = time.perf_counter()

    def step(name, fn, *args):
        t0 = time.perf_counter()
        fn(*args)
        if verbose:
            print(f"fastem.warmup: {name} ready in {time.perf_counter() - t0:.1f} s", flush=True)

    if jobs is None:
        jobs = 2 if (os.cpu_count() or 1) >= 2 else 1
    step("compiled kernels and pieces", ensure, list(items()), jobs if not config.DISABLE_JIT
         else 1, verbose)
    step("the rest of the estimators", _estimators)
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
