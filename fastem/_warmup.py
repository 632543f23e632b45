"""Ahead-of-time compilation of every kernel specialisation the models use."""

import time
import warnings

import numpy as np


def warmup(dtypes=(np.float32, np.float64), kernels=True, verbose=False):
    """Compile (or load from the on-disk cache) every kernel specialisation up front.

    Call it once, e.g. at service start-up, so that no later ``fit`` or ``predict`` pauses
    for compilation. With a warm on-disk cache this takes well under a second per dtype; a
    cold compile takes a few minutes, once per installation.

    Parameters
    ----------
    dtypes : sequence of dtypes, default=(float32, float64)
        Data dtypes to prepare for.
    kernels : bool, default=True
        Also compile the public functions of :mod:`fastem.kernels`.
    verbose : bool, default=False
        Print what is being compiled and how long it took.

    Returns
    -------
    seconds : float
        Time spent.
    """
    from . import kernels as K
    from .exceptions import ConvergenceWarning
    from .binomial import BinomialMixture
    from .gaussian import COVARIANCE_TYPES, GaussianMixture

    t_start = time.perf_counter()
    rng = np.random.default_rng(0)
    for dtype in dtypes:
        dtype = np.dtype(dtype)
        t0 = time.perf_counter()
        X = rng.normal(size=(12, 2)).astype(dtype)
        X[6:] += 5
        counts = rng.integers(0, 4, size=(12, 2)).astype(dtype)
        w = np.ones(12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for mode in ("soft", "hard", "stochastic"):
                for init in ("random", "random_from_data"):
                    b = BinomialMixture(2, mode=mode, init_params=init, max_iter=2, random_state=0)
                    b.fit(counts, trials=3, sample_weight=w)
                b.predict_proba(counts, trials=3)
                b.score_samples(counts, trials=3)
                b.predict(counts, trials=3)
                for ct in COVARIANCE_TYPES:
                    for init in ("kmeans", "random", "k-means++"):
                        g = GaussianMixture(2, covariance_type=ct, mode=mode, init_params=init,
                                            max_iter=2, random_state=0)
                        g.fit(X, sample_weight=w)
                    g.score_samples(X)
                    g.predict_proba(X)
                    g.predict(X)
            if kernels:
                T = np.full((1, 1), 3, dtype=dtype)
                e, lab = np.empty(0), np.empty(0, dtype=np.int32)
                K.binomial_log_density(counts, T, np.full((2, 2), 0.5))
                K.binomial_log_coef_sum(counts, T, e)
                K.binomial_em_step(counts, T, e, np.full(2, 0.5), np.full((2, 2), 0.5), K.SOFT, 0,
                                   1, lab)
                means = X[:2].astype(np.float64)
                precs = {"full": np.stack([np.eye(2)] * 2), "tied": np.eye(2),
                         "diag": np.ones((2, 2)), "spherical": np.ones(2)}
                for ct in COVARIANCE_TYPES:
                    getattr(K, f"gaussian_log_density_{ct}")(X, means, precs[ct])
                    getattr(K, f"gaussian_em_step_{ct}")(X, e, np.full(2, 0.5), means, precs[ct],
                                                         K.SOFT, 0, 1, lab)
        if verbose:
            print(f"fastem.warmup: {dtype} ready in {time.perf_counter() - t0:.1f} s")
    return time.perf_counter() - t_start
