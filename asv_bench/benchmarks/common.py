"""Shared pieces of the benchmark suite: profile, cached data generators, initial
parameters, estimator factories and small timing helpers.

Nothing here is a benchmark (asv only collects names starting with ``time_``,
``peakmem_``, ``track_``, ``timeraw_`` ...).

Environment variables
---------------------
FASTEM_BENCH_PROFILE
    ``full`` (default) or ``small``. ``small`` divides every row count by 100 (and
    the matmul size by 4) so that ``asv check`` and a ``--quick`` run finish fast, e.g.
    in CI. Results of the two profiles are not comparable: run the small profile with
    ``--dry-run`` (nothing saved) or into another results directory (see README).
"""

import functools
import os
import time
import warnings

import numpy as np

# A missing fastem skips its benchmarks; a fastem that fails to import makes them fail
# (with the original error) while the scikit-learn/NumPy benchmarks still run.
try:
    import fastem

    FASTEM_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover
    fastem = None
    FASTEM_IMPORT_ERROR = exc

PROFILE = os.environ.get("FASTEM_BENCH_PROFILE", "full").strip().lower() or "full"
if PROFILE not in ("full", "small"):
    raise ValueError(f"FASTEM_BENCH_PROFILE must be 'full' or 'small'; got {PROFILE!r}")
SMALL = PROFILE == "small"
#: Every row count is divided by this.
ROW_DIVISOR = 100 if SMALL else 1


def rows(n):
    """Row count ``n`` of the full profile, shrunk by the small profile."""
    return max(1000, int(n) // ROW_DIVISOR)


#: Main grid of (n_samples, n_features, n_components) of the full profile.
SHAPES = [
    (100_000, 2, 3),
    (1_000_000, 2, 3),
    (1_000_000, 16, 16),
    (200_000, 64, 8),
    (1_000_000, 8, 32),
]
#: Shapes whose data is >= 64 MB in float64: peak-memory comparisons are run on these.
BIG_SHAPES = [s for s in SHAPES if s[0] * s[1] * 8 >= 64e6]
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
DTYPES = ["float32", "float64"]
IMPLEMENTATIONS = ["fastem", "sklearn"]
MODES = ["soft", "hard", "stochastic"]


def shape_id(shape):
    """Parameter value shown by asv for a shape: 'n x d x k' (row count before shrinking)."""
    n, d, k = shape
    return f"{n:.0e}x{d}x{k}".replace("e+0", "e")


SHAPE_IDS = [shape_id(s) for s in SHAPES]
BIG_SHAPE_IDS = [shape_id(s) for s in BIG_SHAPES]
_SHAPE_BY_ID = {shape_id(s): s for s in SHAPES}


def parse_shape(sid):
    """(n_samples after the profile's shrinking, n_features, n_components)."""
    n, d, k = _SHAPE_BY_ID[sid]
    return rows(n), d, k


def n_iterations(sid):
    """Fixed EM iteration count (``tol=0``) used for a shape of the main grid.

    5 everywhere: a fit is then 5 passes over the data plus a constant set-up, and
    per-iteration cost is the fit time / 5.
    """
    return 5


# --------------------------------------------------------------------- Gaussian data
@functools.lru_cache(maxsize=4)
def gaussian_truth(d, k, seed=0):
    """True generating parameters (weights, means, covariances) of a Gaussian blob mixture.

    Means are drawn in a cube large enough that every pair of means is at least
    ``MIN_SEP = 12`` apart while every covariance has eigenvalues in [0.25, 2.25]
    (standard deviations <= 1.5): the blobs are well separated.
    """
    rng = np.random.default_rng(seed + 7919 * d + 104729 * k)
    weights = 1.0 + rng.random(k)
    weights /= weights.sum()
    side = 24.0 * max(1.0, k ** (1.0 / d))
    min_sep = 12.0
    for _ in range(1000):
        means = rng.uniform(-side / 2, side / 2, size=(k, d))
        diff = means[:, None, :] - means[None, :, :]
        dist = np.sqrt((diff**2).sum(-1)) + np.eye(k) * 1e9
        if dist.min() >= min_sep:
            break
        side *= 1.05
    covs = np.empty((k, d, d))
    for c in range(k):
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        eig = rng.uniform(0.25, 2.25, size=d)
        covs[c] = (q * eig) @ q.T
    return weights, means, covs


@functools.lru_cache(maxsize=2)
def gaussian_blobs(n, d, k, dtype="float64", seed=0):
    """``(X, labels)``: ``n`` rows from :func:`gaussian_truth`, C-contiguous, read-only.

    Cached per (n, d, k, dtype, seed). Generated in blocks straight into the output
    array, so the peak memory of the generation is the data plus a few MB (this keeps
    the ``peakmem_`` benchmarks about the fit, not about the generator). float32 data
    is the float64 data cast block by block (same values, rounded).
    """
    weights, means, covs = gaussian_truth(d, k, seed)
    chol = np.linalg.cholesky(covs)
    rng = np.random.default_rng([seed, n, d, k])
    X = np.empty((n, d), dtype=dtype)
    labels = rng.choice(k, size=n, p=weights).astype(np.int32)
    block = 65536
    for start in range(0, n, block):
        stop = min(n, start + block)
        z = rng.standard_normal((stop - start, d))
        lab = labels[start:stop]
        out = np.empty_like(z)
        for c in range(k):
            idx = np.flatnonzero(lab == c)
            if idx.size:
                out[idx] = z[idx] @ chol[c].T + means[c]
        X[start:stop] = out
    X.setflags(write=False)
    labels.setflags(write=False)
    return X, labels


def gaussian_init(d, k, covariance_type, seed=0):
    """``weights_init``, ``means_init``, ``precisions_init`` from the true parameters,
    in scikit-learn's format for ``covariance_type``:

    full: (k, d, d) inverses of the covariances; tied: (d, d) inverse of the
    weight-averaged covariance; diag: (k, d) inverses of the variances; spherical: (k,)
    inverses of the mean variance.
    """
    weights, means, covs = gaussian_truth(d, k, seed)
    if covariance_type == "full":
        prec = np.linalg.inv(covs)
        prec = 0.5 * (prec + np.swapaxes(prec, 1, 2))
    elif covariance_type == "tied":
        prec = np.linalg.inv(np.einsum("k,kij->ij", weights, covs))
        prec = 0.5 * (prec + prec.T)
    elif covariance_type == "diag":
        prec = 1.0 / np.einsum("kii->ki", covs)
    elif covariance_type == "spherical":
        prec = 1.0 / np.einsum("kii->ki", covs).mean(axis=1)
    else:
        raise ValueError(covariance_type)
    return dict(weights_init=weights.copy(), means_init=means.copy(), precisions_init=prec)


def _fastem_model(name):
    """``fastem.<name>``; NotImplementedError (asv: skip) if fastem or the class is
    missing; the import error itself (asv: failure) if fastem is installed but broken."""
    if fastem is None:
        err = FASTEM_IMPORT_ERROR
        if isinstance(err, ModuleNotFoundError) and err.name == "fastem":
            raise NotImplementedError("fastem is not installed")
        raise RuntimeError(f"import fastem failed: {err!r}") from err
    cls = getattr(fastem, name, None)
    if cls is None:
        raise NotImplementedError(f"fastem.{name} does not exist yet")
    return cls


def require(implementation):
    """Raise NotImplementedError (asv: skip) when ``implementation`` is unavailable.

    ``fastem`` means fastem.GaussianMixture, ``fastem-binomial`` fastem.BinomialMixture.
    """
    if implementation == "fastem":
        _fastem_model("GaussianMixture")
    elif implementation == "fastem-binomial":
        _fastem_model("BinomialMixture")
    elif implementation == "sklearn":
        try:
            import sklearn.mixture  # noqa: F401
        except ImportError:
            raise NotImplementedError("scikit-learn is not installed") from None


_WARMED_UP = set()


def warmup_fastem(dtype=None):
    """``fastem.warmup`` (compile, or load from the on-disk cache, every kernel the models
    use), once per process and dtype, if fastem has it.

    Asks for the one dtype in use and no public kernels when the signature allows
    (``warmup(dtypes=..., kernels=False)``), else calls ``warmup()``.  With a warm cache
    this costs well under a second, paid in ``setup`` only.
    """
    fn = getattr(fastem, "warmup", None) if fastem is not None else None
    key = "all" if dtype is None else np.dtype(dtype).name
    if fn is None or key in _WARMED_UP or "all" in _WARMED_UP:
        return
    try:
        if dtype is None:
            fn()
        else:
            fn(dtypes=(np.dtype(dtype),), kernels=False)
    except TypeError:  # another signature
        fn()
        key = "all"
    _WARMED_UP.add(key)


def gaussian_estimator(implementation, d, k, covariance_type, *, mode="soft", max_iter=5,
                       tol=0.0, init=True, seed=0, **extra):
    """A Gaussian mixture of ``implementation`` with fixed work.

    ``init=True``: start from the true parameters (no k-means); ``tol=0`` so soft EM runs
    exactly ``max_iter`` iterations.
    """
    kw = dict(n_components=k, covariance_type=covariance_type, tol=tol, max_iter=max_iter,
              random_state=seed, **extra)
    if init:
        kw.update(gaussian_init(d, k, covariance_type, seed))
    if implementation == "fastem":
        return fastem.GaussianMixture(mode=mode, **kw)
    if mode != "soft":
        raise NotImplementedError("scikit-learn has soft EM only")
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(**kw)


def quiet_fit(est, *args, **kwargs):
    """``est.fit`` with convergence warnings silenced (tol=0 never converges)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kwargs)


def warm_gaussian(implementation, X, k, covariance_type, mode="soft"):
    """Fit on a small slice so no timed call includes Numba compilation (or first-call
    import costs of scikit-learn), for this dtype / covariance type / mode."""
    if implementation == "fastem":
        warmup_fastem(X.dtype)
    d = X.shape[1]
    small = X[: max(4 * k, 2000)]
    est = gaussian_estimator(implementation, d, k, covariance_type, mode=mode, max_iter=2)
    quiet_fit(est, small)
    est.predict_proba(small[:100])
    est.score_samples(small[:100])


def best_of(fn, repeat=3):
    """Smallest wall time (time.perf_counter) of ``repeat`` calls of ``fn()``."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def current_rss():
    """Resident set size of this process now, in bytes (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


# --------------------------------------------------------------------- binomial data
#: Binomial mixture of the binomial benchmarks: 4 components, one feature.
BINOM_WEIGHTS = np.array([0.4, 0.3, 0.2, 0.1])
BINOM_PROBS = np.array([0.15, 0.4, 0.65, 0.9])
#: Start of EM: near, not at, the truth (identical for every implementation).
BINOM_WEIGHTS_INIT = np.array([0.25, 0.25, 0.25, 0.25])
BINOM_PROBS_INIT = np.array([0.2, 0.35, 0.6, 0.8])
BINOM_DATASETS = ["varied-trials", "coins-10"]


@functools.lru_cache(maxsize=1)
def binomial_data(dataset, n, seed=0):
    """``(X, trials)`` for a binomial benchmark dataset: X float64 of shape (n, 1),
    read-only.

    ``varied-trials``: per-row trials drawn uniformly from 1..99 (mean 50), so (count,
    trials) pairs repeat little for a one-feature model (~5000 distinct pairs);
    ``trials`` is an (n, 1) array. ``coins-10``: ten coin tosses per row, ``trials`` is the
    scalar 10 and only 11 distinct rows exist.
    """
    rng = np.random.default_rng([seed, n, 1 if dataset == "coins-10" else 2])
    z = rng.choice(len(BINOM_WEIGHTS), size=n, p=BINOM_WEIGHTS)
    if dataset == "varied-trials":
        trials = rng.integers(1, 100, size=(n, 1)).astype(np.float64)
        X = rng.binomial(trials.astype(np.int64), BINOM_PROBS[z][:, None]).astype(np.float64)
        trials.setflags(write=False)
    elif dataset == "coins-10":
        trials = 10
        X = rng.binomial(10, BINOM_PROBS[z][:, None]).astype(np.float64)
    else:
        raise ValueError(dataset)
    X.setflags(write=False)
    return X, trials
