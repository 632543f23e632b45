"""Gaussian mixtures with full, tied, diag or spherical covariances, fitted by EM."""

import numpy as np

from ._em import ChunkStats, EMMixture, check_interrupt, run_interruptibly
from . import _sources
from ._compile import MISSING_DATA, ensure, gaussian_fit, gaussian_rows
from ._dask import is_dask_array
from ._missing import MissingPlan
from ._sources import (
    DEFAULT_CHUNK_BYTES,
    FileData,
    InMemoryData,
    MemmapRows,
    Sums,
    source_of,
)
from ._stats import GaussianStats
from ._kernels._common import FIXED, RANDOM, SOFT
from ._mstep import cholesky_precision, mstep_diag, mstep_full
from ._passes import (
    block_rows,
    check_finite,
    check_missing,
    column_moments,
    gauss_missing_pass,
    gauss_missing_rows,
    gauss_pass,
    gauss_rows,
    kmeanspp,
    lloyd_pass,
)
from ._validation import (
    EMPTY_F64,
    EMPTY_I32,
    as_float_array,
    check_choice,
    check_feature_names,
    check_fitted,
    check_int,
    check_n_samples,
    check_not_empty,
    check_random_state,
    check_real,
    check_sample_weight,
    check_weights,
    feature_names,
    n_effective_rows,
    wrong_features,
)

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data", "hierarchical", "auto")
_TINY = 10.0 * np.finfo(np.float64).eps  # added to every nk, as scikit-learn does
_EMPTY_2D = np.empty((0, 0), dtype=np.float64)
_EMPTY_I64 = np.empty(0, dtype=np.int64)
_KMEANS_MAX_ITER = 300
_KMEANS_SEED_ROWS = 50_000  # k-means++ seeding runs on a random subset of this many rows
_INTERRUPTIBLE_CELLS = 1 << 20  # predict & co. on more rows x components: Ctrl-C-safe


class _Data(InMemoryData):
    """Data held in memory; ``chunk_rows``: the E-step runs over chunks of that many rows
    (None: one chunk, the whole array; see ``InMemoryData``).  ``has_nan``: whether X may
    hold missing (NaN) cells; its chunks then run the missing-data kernel, on the rows'
    pattern index (``missing_plan()``, built once per chunk)."""

    has_nan = False
    _plan = None

    @property
    def dtype(self):
        return self.X.dtype

    def __init__(self, X, w, chunk_rows=None):
        self.X, self.w = X, w
        self.n_samples, self.n_features = X.shape
        self.total_weight = float(X.shape[0]) if w.shape[0] == 0 else float(w.sum())
        self.chunk_rows = chunk_rows

    def _rows(self, lo, hi):
        part = _Data(self.X[lo:hi], self.w[lo:hi] if self.w.shape[0] else self.w)
        part.has_nan = self.has_nan
        return part

    def missing_plan(self):
        """The chunk's ``MissingPlan``, or None when it has no NaN (today's kernels)."""
        if not self.has_nan:
            return None
        if self._plan is None:
            plan = MissingPlan.of(self.X)
            if plan.index.n_patterns == 1 and plan.n_obs[0] == self.n_features:
                self.has_nan = False  # a chunk of complete rows
                return None
            self._plan = plan
        return self._plan


def _file_data(reader, w, chunk_rows, fit=False):
    """The rows of a memory-mapped file as chunks (``_sources.FileData``), each checked
    the first time it is read: infinity is an error, a NaN cell a missing value (the
    chunk then runs the missing-data kernel), and for a fit (``fit``) a row with every
    cell missing an error."""
    nan_chunks = set()

    def make(X, lo, hi, first):
        if first and _check_chunk(X, lo, fit):
            nan_chunks.add(lo)
        part = _Data(X, w[lo:hi] if w.shape[0] else w)
        part.has_nan = lo in nan_chunks
        return part

    data = FileData(reader, chunk_rows, make)
    data.w = w
    data.total_weight = float(data.n_samples) if w.shape[0] == 0 else float(w.sum())
    data.nan_chunks = nan_chunks
    return data


def _check_chunk(X, lo, fit):
    """Whether rows ``lo, ...`` (X) have a NaN cell; a ValueError for infinity and, in a
    fit, for a row with every cell missing (row numbers of the whole data)."""
    message = _chunk_problem(X, lo, fit)
    if message is not None:
        raise ValueError(message)
    return bool(check_finite(X)[0] >= 0)


def _chunk_problem(X, lo, fit):
    """``_check_chunk``'s error message, or None."""
    i, j = check_finite(X)
    if i < 0:
        return None
    (i, j), empty, _ = check_missing(X)
    if i >= 0:
        return (f"X contains infinity (first at row {lo + i}, column {j}); NaN marks a "
                "missing value, infinity is not allowed")
    if fit and empty >= 0:
        return (f"X has rows with every value missing (NaN), which carry no information: "
                f"row {lo + empty} is the first. Drop them before fitting.")
    return None


def _has_nan(X):
    """Whether X has NaN cells (missing values); infinity is a ValueError.  Complete data
    cost one scan that stops at the first non-finite cell."""
    i, j = check_finite(X)
    if i < 0:
        return False
    (i, j), _, _ = check_missing(X)
    if i >= 0:
        raise ValueError(f"X contains infinity (first at row {i}, column {j}); NaN marks a "
                         "missing value, infinity is not allowed")
    return True


def _check_no_empty_rows(X):
    """A fit's ValueError when some row of X has every cell missing."""
    _, empty, _ = check_missing(X)
    if empty < 0:
        return
    rows = []
    for lo in range(empty, X.shape[0], 1 << 16):
        rows.extend((lo + np.flatnonzero(np.isnan(X[lo:lo + (1 << 16)]).all(axis=1))).tolist())
        if len(rows) >= 5:
            break
    shown = ", ".join(str(r) for r in rows[:5])
    raise ValueError(f"X has rows with every value missing (NaN), which carry no "
                     f"information: rows {shown}{', ...' if len(rows) > 5 else ''}. Drop "
                     "them before fitting.")


def _collapsed(params, floor):
    """Whether some component's covariance has an eigenvalue below ``floor``."""
    cov = params[2]
    if cov.ndim == 3:  # full or tied: (k, d, d)
        return bool(min(np.linalg.eigvalsh(c).min() for c in cov) < floor)
    return bool(cov.min() < floor)


def _rng_state(rng):
    """(a hashable key of a generator's state, a copy of the state) for a Generator or a
    RandomState."""
    import copy

    state = rng.bit_generator.state if isinstance(rng, np.random.Generator) else \
        rng.get_state(legacy=False)
    return repr(state), copy.deepcopy(state)


def _set_rng_state(rng, state):
    if isinstance(rng, np.random.Generator):
        rng.bit_generator.state = state
    else:
        rng.set_state(state)


def _fill_missing(sample):
    """The initialisation's sample (a ``_Data`` that owns its X) with each NaN replaced
    by its column's weighted mean over the sample's observed cells (0 for a column with
    none).  The fill is for the initialisation only: EM then uses the observed cells
    alone."""
    X, w = sample.X, sample.w
    holes = np.isnan(X)
    if holes.any():
        wr = np.ones(X.shape[0]) if not w.shape[0] else w
        seen = (~holes).T @ wr
        total = np.where(holes, 0.0, X).T @ wr
        fill = np.divide(total, seen, out=np.zeros(X.shape[1]), where=seen > 0)
        X[holes] = np.broadcast_to(fill.astype(X.dtype), X.shape)[holes]
    return sample


def _form(covariance_type):
    return {"full": "full", "tied": "tied"}.get(covariance_type, "diag")


def _missing_rows(X, log_weights, means, cov, form, kprec, log_det, full, out_ll, out_resp,
                  out_lab):
    """Per-row outputs of data with NaN cells: its complete rows from the complete-data
    kernel (``kprec``, ``log_det``, ``full`` as ``gauss_rows`` takes them), so that they
    get the numbers they get in a call without the incomplete rows (the missing-data
    kernel works from the covariances, not the precisions: for an ill-conditioned
    component the two differ in the last digits that the condition number leaves), the
    others from the missing-data kernel."""
    plan = MissingPlan.of(X)
    idx = plan.index
    whole = np.flatnonzero(~idx.patterns.any(axis=1))
    if not whole.shape[0]:
        gauss_missing_rows(X, plan, log_weights, means, cov, form, out_ll, out_resp, out_lab)
        return
    p = int(whole[0])
    done = idx.rows[idx.starts[p]:idx.starts[p + 1]]
    rest = np.sort(np.concatenate([idx.rows[:idx.starts[p]], idx.rows[idx.starts[p + 1]:]]))
    for rows, run in ((done, "complete"), (rest, "missing")):
        part = X[rows]
        outs = [np.empty((rows.shape[0],) + o.shape[1:], dtype=o.dtype) if o.shape[0] else o
                for o in (out_ll, out_resp, out_lab)]
        if run == "complete":
            gauss_rows(part, log_weights, means, kprec, log_det, full, *outs, _EMPTY_2D)
        else:
            gauss_missing_rows(part, MissingPlan.of(part), log_weights, means, cov, form, *outs)
        for o, got in zip((out_ll, out_resp, out_lab), outs):
            if o.shape[0]:
                o[rows] = got


class _Lloyd:
    """One Lloyd pass over a chunk at ``centers``: (counts, sums, label changes), which
    add up over chunks; the chunk's ``labels`` are updated."""

    def __init__(self, centers):
        self.centers = centers

    def __call__(self, chunk, labels):
        k, d = self.centers.shape
        cnt, sums, _, changed = lloyd_pass(chunk.X, chunk.w, self.centers, labels,
                                           block_rows(chunk.n_samples, k, d, 0))
        return Sums((cnt, sums, changed))


def _dask_chunk(row0, const, X, w):
    """A Dask block (on its worker) as a chunk; ``const``: the weights' scale (None: as
    given), or (that scale, whether the block has NaN cells)."""
    top, has_nan = const if isinstance(const, tuple) else (const, False)
    X = np.asarray(X)
    X = np.ascontiguousarray(X, dtype=np.float32 if X.dtype == np.float32 else np.float64)
    if w is None:
        w = EMPTY_F64
    else:
        w = np.ascontiguousarray(w, dtype=np.float64)
        w = w if top is None else w / top
    part = _Data(X, w)
    part.row0 = row0
    part.has_nan = has_nan
    return part


def check_block(chunk, labels):
    """What a fit must know of a block before EM (one pass over the blocks): what is
    wrong with its data (the message of its first row with infinity or with every cell
    missing) or None; its first weight that is not finite or negative (global row,
    which) or None; the sum and maximum of its weights and its rows of positive weight
    (None without weights); whether it has NaN cells (missing values)."""
    bad_x = _chunk_problem(chunk.X, chunk.row0, True)
    has_nan = bad_x is None and bool(check_finite(chunk.X)[0] >= 0)
    return (bad_x, *check_block_weights(chunk), has_nan)


def check_block_weights(chunk):
    """``check_block``'s part about the weights: (bad weight, sums)."""
    w = chunk.w
    if not w.shape[0]:
        return None, None
    finite = np.isfinite(w)
    bad_w = None
    if not finite.all():
        bad_w = (chunk.row0 + int(np.argmin(finite)), "nan")
    elif np.any(w < 0):
        bad_w = (chunk.row0 + int(np.argmax(w < 0)), "negative")
    sums = (float(w.sum()), float(w.max()), int(np.count_nonzero(w > 0))) if bad_w is None else None
    return bad_w, sums


def weights_from_checks(checks, n):
    """(scale ``top`` of the weights or None, sum of the scaled weights, rows of positive
    weight) from the blocks' ``check_block`` results, or the first problem as the
    ValueError that an in-memory fit raises."""
    for c in checks:  # the data first, as in memory
        if c[0] is not None:
            raise ValueError(c[0])
    for _, bad_w, *_ in checks:
        if bad_w is not None:
            if bad_w[1] == "nan":
                raise ValueError("sample_weight contains NaN or infinity")
            raise ValueError(f"sample_weight must be >= 0; row {bad_w[0]} is negative")
    if checks[0][2] is None:
        return None, float(n), n
    top = max(c[2][1] for c in checks)
    if not top > 0:
        raise ValueError("sample_weight is zero for every row; it must have a positive sum")
    total = 0.0
    for c in checks:
        total += c[2][0]
    return top, total / top, sum(c[2][2] for c in checks)


_OVERFLOW_MESSAGE = (
    "The spread of X is too large for float64: its squared deviations overflow (values "
    "beyond about 1e150 from the means). Rescale X, e.g. divide it by np.abs(X).max()."
)


def _not_pd_message(c, covariance_type, reg_covar):
    which = "the tied covariance" if covariance_type == "tied" else f"component {c}"
    # The first two sentences are scikit-learn's: code written for it matches on them.
    return (
        "Fitting the mixture model failed because some components have ill-defined "
        "empirical covariance (for instance caused by singleton or collapsed samples). "
        "Try to decrease the number of components, increase reg_covar, or scale the "
        f"input data. Here {which} has a covariance matrix that is not positive definite "
        f"after adding reg_covar={reg_covar:g} to its diagonal (collapsed samples or a "
        "constant feature); for float32 data, passing float64 data can also help."
    )


def _float32_covariances(prec):
    """The covariances (m, d, d) float64 that a float32 model's precision factors
    ``prec`` (m, d, d) say, ``(P P^T)^-1 = U^T U`` with ``U = P^-1``.

    A fit computes in float64 and stores both ``covariances_`` and
    ``precisions_cholesky_`` rounded to float32: two roundings of one model that differ
    by the condition number times float32's resolution, and rounding can even leave an
    ill-conditioned covariance indefinite.  The complete rows are scored with the
    precision factor; the kernels that need a covariance (rows with NaN cells,
    ``impute``, ``sample``, a warm start) take this one, so that a row scores the same
    whatever its neighbours in the call, and every float32 model has a positive definite
    covariance to factorise."""
    U = np.linalg.inv(prec)  # triangular in, triangular out (to rounding)
    return np.ascontiguousarray(np.einsum("kji,kjl->kil", U, U))


class GaussianMixture(EMMixture):
    """Gaussian mixture model fitted by EM: a drop-in for scikit-learn's GaussianMixture.

    Parameters match ``sklearn.mixture.GaussianMixture`` (1.9) in name and meaning, plus
    ``mode``. From the same ``weights_init``, ``means_init`` and ``precisions_init`` the
    fitted parameters agree with scikit-learn's to floating-point rounding.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        "full": one general covariance matrix per component; "tied": one matrix shared by
        all components; "diag": one diagonal matrix per component; "spherical": one
        variance per component.
    mode : {"soft", "hard", "stochastic"}, default="soft"
        "soft": classic EM, stops when the mean log-likelihood changes by less than
        ``tol``. "hard": classification EM, stops when no row changes component.
        "stochastic": each iteration draws every row's component from its posterior; the
        chain never settles, so it runs ``max_iter`` iterations and keeps the iterate with
        the highest observed-data log-likelihood (``converged_`` is False).
    tol : float, default=1e-3
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance so that they stay positive definite.
    max_iter : int, default=100
        EM iterations at most, per initialisation. 0 runs none, as in scikit-learn: the
        fitted parameters are those of the (last) initialisation, ``n_iter_`` is 0,
        ``converged_`` False, ``lower_bound_`` -inf and ``lower_bounds_`` empty, and no
        ConvergenceWarning is given.
    n_init : int, default=1
    init_params : str, default="auto"
        One of "auto", "kmeans", "k-means++", "random", "random_from_data",
        "hierarchical".  "auto": the first restart "kmeans" (so a fit with ``n_init=1``
        is scikit-learn's default fit), the others "random_from_data", and restarts with
        a collapsed component (a covariance eigenvalue below 10 x ``reg_covar``) rank
        below the others: on the classic data sets of docs/model-selection.md, ten
        restarts reach R mclust's optimum in every case, where ten k-means restarts
        (scikit-learn's default) miss one case in twelve.
        "kmeans": responsibilities from fastem's compiled k-means (greedy k-means++
        seeding on a random subset of at most 50,000 rows, then Lloyd iterations over
        all rows). "k-means++": one-hot responsibilities at the k-means++ seeds.
        "random": random responsibilities. "random_from_data": one-hot at random rows.
        "hierarchical": the partition of R mclust's model-based hierarchical agglomeration
        for spherical clusters (Ward's criterion) on mclust's scaled SVD transform of at
        most 2000 rows (a random subset of larger data), then the M-step of that
        partition; mclust's ``hclass(hc(X, "EII", use="SVD"), k)``.
    weights_init : array-like of shape (n_components,), default=None
    means_init : array-like of shape (n_components, n_features), default=None
    precisions_init : array-like, default=None
        Shape (n_components,) spherical, (n_features, n_features) tied,
        (n_components, n_features) diag, (n_components, n_features, n_features) full.
    random_state : int, Generator or RandomState, default=None
    warm_start : bool, default=False
    verbose : int, default=0
    verbose_interval : int, default=10
    decay : float, default=0.6
        Step-size exponent of :meth:`partial_fit` (stepwise EM, Cappé & Moulines 2009):
        batch t weighs (t + 2) ** -decay in the running statistics; in (0.5, 1].
    fit_weights, fit_means, fit_covariances : bool, default=True
        False freezes that group of parameters at its initial value (``weights_init``,
        ``means_init``, ``precisions_init``, which are then required) while EM fits the
        others; the likelihood still never decreases in soft EM, and ``bic``/``aic``
        count only the fitted parameters.  With frozen means the covariances are the
        weighted second moments about them.
    chunk_bytes : int, default=64 MiB
        For data in a memory-mapped file (``np.memmap``, ``np.load(..., mmap_mode="r")``,
        C-contiguous): rows are read in chunks of at most this many bytes, so that the
        process's resident memory stays bounded whatever the file's size (see "Data
        larger than memory" in the README).  Initialisation then seeds on a random
        sample of at most 100,000 rows, and its k-means passes run over every chunk.

    Notes
    -----
    ``fit``, ``predict``, ``predict_proba``, ``score_samples`` (and so ``score``, ``bic``,
    ``aic``) also take a ``dask.array.Array`` with rows in chunks and one chunk along the
    features (``sample_weight`` a NumPy or dask array): each EM pass runs as one task
    per block, which returns the block's statistics, added on the client in block order
    (the data never travel to the client; initialisation fetches a bounded sample of
    rows); the per-row methods return lazy dask arrays.  A block task runs its kernels
    on one thread.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        (n_components,) spherical, (n_features, n_features) tied,
        (n_components, n_features) diag, (n_components, n_features, n_features) full.
    precisions_ : ndarray, shaped as ``covariances_``
    precisions_cholesky_ : ndarray, shaped as ``covariances_``
        Upper-triangular factors P with precision = P @ P.T (full, tied).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean per-sample log-likelihood of the kept run at its last E-step (-inf after a
        fit with ``max_iter=0``).
    lower_bounds_ : list of float
        The same quantity at every iteration of the kept run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The column names of a data frame ``X`` whose names are all strings (only then);
        later calls check them as scikit-learn does.

    Notes
    -----
    float32 input stays float32 (no copy) and the fitted attributes are float32; the
    kernels accumulate statistics in float64 about the current means, so variances do
    not lose precision to cancellation even far from the origin.

    In hard and stochastic mode a component can receive no rows. It then keeps its
    previous mean and covariance and its weight drops to 10·eps/n (scikit-learn's floor),
    so it can only win rows back where it is far more likely than the others.
    """

    _input_tags = {"allow_nan": True}  # NaN cells are missing values

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        mode="soft",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="auto",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        decay=0.6,
        chunk_bytes=DEFAULT_CHUNK_BYTES,
        fit_weights=True,
        fit_means=True,
        fit_covariances=True,
    ):
        self.fit_weights = fit_weights
        self.fit_means = fit_means
        self.fit_covariances = fit_covariances
        self.decay = decay
        self.chunk_bytes = chunk_bytes
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.mode = mode
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ data
    def _check_X(self, X, n_features=None):
        """(X as a float32/float64 C-contiguous 2-D array, whether it has NaN cells, i.e.
        missing values); ``n_features``: what a fitted model expects (its column names
        are then checked too).  Infinity is an error."""
        if n_features is not None:
            check_feature_names(self, X)
        X = as_float_array(X, "X")
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array (n_samples, n_features), got {X.ndim}-D with shape "
                f"{X.shape}. Reshape your data with X.reshape(-1, 1) for a single feature "
                "or X.reshape(1, -1) for a single sample."
            )
        check_not_empty(X, X.shape)
        if n_features is not None and X.shape[1] != n_features:
            raise wrong_features(X, n_features, self)
        return X, _has_nan(X)

    # ------------------------------------------------------------ parameters
    def _frozen(self):
        """The frozen groups' names (constructor flags), validated."""
        out = []
        for flag, init in (("fit_weights", "weights_init"), ("fit_means", "means_init"),
                           ("fit_covariances", "precisions_init")):
            value = getattr(self, flag, True)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{flag} must be a bool; got {value!r}")
            if not value:
                if getattr(self, init) is None:
                    raise ValueError(f"{flag}=False keeps the initial values: give {init}")
                out.append(flag)
        return out

    def _check_model_params(self):
        self._frozen()
        check_int(self.n_components, "n_components", 1)
        check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_real(self.reg_covar, "reg_covar", 0.0)
        check_choice(self.init_params, "init_params", INIT_PARAMS)
        check_int(self.verbose_interval, "verbose_interval", 1)

    def _check_inits(self, d):
        """Validate the user's initial parameters against the data's dimension."""
        k, ct = self.n_components, self.covariance_type
        if self.weights_init is not None:
            check_weights(self.weights_init, k)
        if self.means_init is not None:
            m = as_float_array(self.means_init, "means_init")
            if m.shape != (k, d):
                raise ValueError(f"means_init must have shape ({k}, {d}); got {m.shape}")
            if not np.all(np.isfinite(m)):
                raise ValueError("means_init contains NaN or infinity")
        if self.precisions_init is not None:
            p = np.asarray(as_float_array(self.precisions_init, "precisions_init"), np.float64)
            shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[ct]
            if p.shape != shape:
                raise ValueError(
                    f"precisions_init for covariance_type={ct!r} must have shape {shape}; "
                    f"got {p.shape}"
                )
            if not np.all(np.isfinite(p)):
                raise ValueError("precisions_init contains NaN or infinity")
            if ct in ("diag", "spherical"):
                if np.any(p <= 0):
                    raise ValueError(f"precisions_init must be positive ({ct!r})")
            else:
                for c, mat in enumerate(p.reshape(-1, d, d)):
                    if not np.allclose(mat, mat.T, rtol=1e-8, atol=1e-12):
                        raise ValueError(f"precisions_init[{c}] must be symmetric")
                    if np.any(np.linalg.eigvalsh(mat) <= 0):
                        raise ValueError(f"precisions_init[{c}] must be positive definite")

    def _params_from_covariances(self, weights, means, covariances):
        """Internal parameter tuple from covariances in scikit-learn's shapes."""
        k, d = means.shape
        ct = self.covariance_type
        cov = np.asarray(covariances, dtype=np.float64)
        log_det = np.empty(k)
        if ct in ("full", "tied"):
            cov = np.ascontiguousarray(cov.reshape(-1, d, d))
            prec = np.empty_like(cov)
            for c in range(cov.shape[0]):
                ld = cholesky_precision(cov[c], prec[c])
                if not np.isfinite(ld):
                    raise ValueError(_not_pd_message(c, ct, self.reg_covar))
                log_det[c if ct == "full" else slice(None)] = ld
        else:
            var = cov[:, None] * np.ones((1, d)) if ct == "spherical" else cov
            cov = np.ascontiguousarray(var, dtype=np.float64)
            if np.any(~(cov > 0)):
                raise ValueError(_not_pd_message(int(np.argmin(cov.min(axis=1))), ct, self.reg_covar))
            prec = 1.0 / np.sqrt(cov)
            log_det[:] = np.log(prec).sum(axis=1)
        return (np.array(weights, np.float64), np.array(means, np.float64), cov, prec, log_det)

    def _covariances_from_precisions(self, precisions, d):
        p = np.asarray(precisions, dtype=np.float64)
        if self.covariance_type in ("full", "tied"):
            return np.linalg.inv(p.reshape(-1, d, d)).reshape(p.shape)
        return 1.0 / p

    def _identity_params(self, means):
        """Placeholder parameters for passes whose weights ignore the density."""
        k, d = means.shape
        logw = np.full(k, -np.log(k))
        if self.covariance_type in ("full", "tied"):
            kp = k if self.covariance_type == "full" else 1
            # tile, not broadcast_to: a read-only view would compile a kernel variant of its own
            eye = np.tile(np.eye(d), (kp, 1, 1))
            return (np.exp(logw), means, eye.copy(), eye, np.zeros(k))
        ones = np.ones((k, d))
        return (np.exp(logw), means, ones, ones, np.zeros(k))

    # ------------------------------------------------------------ kernels
    @staticmethod
    def _kernel_prec(prec, covariance_type):
        """Precision factors in the rank the kernels take: (kp, d, d) or (k, 1, d)."""
        return prec if covariance_type in ("full", "tied") else prec.reshape(
            prec.shape[0], 1, prec.shape[1])

    def _pass(self, data, params, mode, seed, stream, labels, ct=None):
        """The E-step over ``data`` (a chunk with ``X``, ``w``, ``total_weight``) at
        ``params``: its statistics (``GaussianStats``).  ``ct``: the covariance type of
        ``params`` (default: the constructor's, as while fitting)."""
        weights, means, cov, prec, log_det = params
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        k, d = means.shape
        ct = self.covariance_type if ct is None else ct
        full = ct in ("full", "tied")
        tied = ct == "tied"
        center = weights @ means
        block = block_rows(data.n_samples, k, d, (1 if tied else k) if full else 1)
        plan = data.missing_plan() if getattr(data, "has_nan", False) else None
        if plan is not None:
            nk, s1, s2, sq, ll, ch = gauss_missing_pass(
                data.X, data.w, plan, log_weights, means, cov, _form(ct), mode, seed, stream,
                data.labels_of(labels), block, center, data.row0)
            return GaussianStats._trusted(ct, nk, s1, s2[0] if tied else (s2 if full else sq),
                                          means, center, ll, data.total_weight, ch)
        nk, s1, s2, sq, ll, ch = gauss_pass(
            data.X, data.w, log_weights, means, self._kernel_prec(prec, ct), log_det, full,
            mode, seed, stream, data.labels_of(labels), block, tied, center, data.row0,
        )
        return GaussianStats._trusted(ct, nk, s1, s2[0] if tied else (s2 if full else sq),
                                      means, center, ll, data.total_weight, ch)

    _chunk_stats = _pass

    def _m_step(self, params, stats):
        _, means, cov, prec, _ = params
        if not (np.array_equal(stats.ref, means) and np.array_equal(
                stats.center, params[0] @ means)):
            stats = stats.about(means, params[0] @ means)  # the M-step's references
        nk, s1, s2, center = stats.nk, stats.s1, stats.s2, stats.center
        if not (np.all(np.isfinite(s1)) and np.all(np.isfinite(s2))):
            raise ValueError(_OVERFLOW_MESSAGE)
        reg = float(self.reg_covar)
        ct = stats.covariance_type
        if ct in ("full", "tied"):
            tied = ct == "tied"
            status, new_means, new_cov, new_prec, log_det = mstep_full(
                nk, s1, s2[None] if tied else s2, means, cov, prec, reg, tied, center)
        else:
            status, new_means, new_cov, new_prec, log_det = mstep_diag(
                nk, s1, s2, means, cov, reg, ct == "spherical")
        if status:
            if not np.all(np.isfinite(new_cov)):
                raise ValueError(_OVERFLOW_MESSAGE)
            raise ValueError(_not_pd_message(status - 1, ct, self.reg_covar))
        weights = nk + _TINY
        weights /= weights.sum()
        frozen = self._frozen() if not (self.fit_weights and self.fit_means
                                        and self.fit_covariances) else ()
        if frozen:
            return self._frozen_m_step(params, stats, frozen, weights, new_means, new_cov,
                                       new_prec, log_det)
        return weights, new_means, new_cov, new_prec, log_det

    def _frozen_m_step(self, params, stats, frozen, weights, means, cov, prec, log_det):
        """The M-step with frozen groups kept at ``params``' values; with frozen means and
        fitted covariances, each covariance is moved from the component's new mean to
        its frozen one (E[(x - m)(x - m)^T] = S + (mu - m)(mu - m)^T)."""
        old_w, old_means, old_cov, old_prec, old_ld = params
        ct = stats.covariance_type
        if "fit_means" in frozen:
            if "fit_covariances" not in frozen:
                shift = means - old_means  # (k, d)
                nk = stats.nk
                cov = cov.copy()
                if ct == "full":
                    cov += shift[:, :, None] * shift[:, None, :]
                elif ct == "tied":
                    cov[0] += np.einsum("c,ci,cj->ij", nk, shift, shift) / max(nk.sum(), 1e-300)
                elif ct == "diag":
                    cov += shift ** 2
                else:
                    cov += np.mean(shift ** 2, axis=1, keepdims=True)
                if ct in ("full", "tied"):
                    prec = np.empty_like(cov)
                    log_det = np.empty(old_means.shape[0])
                    for c in range(cov.shape[0]):
                        ld = cholesky_precision(cov[c], prec[c])
                        if not np.isfinite(ld):
                            raise ValueError(_not_pd_message(c, ct, self.reg_covar))
                        log_det[c if ct == "full" else slice(None)] = ld
                else:
                    prec = 1.0 / np.sqrt(cov)
                    log_det = np.log(prec).sum(axis=1)
            means = old_means
        if "fit_covariances" in frozen:
            cov, prec, log_det = old_cov, old_prec, old_ld
        if "fit_weights" in frozen:
            weights = old_w
        return weights, means, cov, prec, log_det

    def _initialize(self, data, rng, restart=0):
        k, d = self.n_components, data.n_features
        X = data.X
        given = (self.weights_init, self.means_init, self.precisions_init)
        init = self.init_params
        if init == "auto":  # the first restart k-means, the others from random rows
            init = "kmeans" if restart == 0 else "random_from_data"
        if all(v is not None for v in given):
            params = None
        elif init in ("kmeans", "random"):
            if init == "kmeans":
                centers, labels = self._kmeans_shared(data, rng)
                base = self._identity_params(centers)
                mode, seed = FIXED, 0
            else:
                labels = EMPTY_I32
                base = self._identity_params(np.repeat(X[:1].astype(np.float64), k, axis=0))
                mode, seed = RANDOM, int(rng.integers(0, 2**63 - 1))
            # over all the data even when ``data`` is a sample of it (``source``)
            stats, _ = source_of(data).reduce(ChunkStats(self, base, mode, seed, 0), labels)
            params = self._m_step(base, stats)
        elif init == "hierarchical":
            params = self._hierarchical(data, rng)
        else:
            rows = np.arange(data.n_samples) if data.w.shape[0] == 0 else np.flatnonzero(data.w)
            if init == "random_from_data":
                idx = rng.choice(rows, size=k, replace=False)
            else:
                idx = self._kmeanspp(data, rows, rng)
            # One-hot responsibilities on k single rows, as scikit-learn: means at those rows,
            # covariances reg_covar * I, equal weights.
            means = X[idx].astype(np.float64)
            var = np.full((k, d), float(self.reg_covar))
            cov = {"full": np.repeat(np.diag(var[0])[None], k, axis=0),
                   "tied": np.diag(var[0]), "diag": var, "spherical": var[:, 0]}
            params = self._params_from_covariances(np.full(k, 1.0 / k), means,
                                                   cov[self.covariance_type])
        weights = params[0] if self.weights_init is None else check_weights(self.weights_init, k)
        means = params[1] if self.means_init is None else np.array(self.means_init, np.float64)
        if self.precisions_init is not None:
            cov = self._covariances_from_precisions(self.precisions_init, d)
            return self._params_from_covariances(weights, means, cov)
        return (weights, np.ascontiguousarray(means), *params[2:])

    def _restart_rank(self, params, ll):
        """``init_params="auto"``: a restart with a collapsed component (a covariance
        eigenvalue below 10 x ``reg_covar``: a component on a few tied values, which gains
        likelihood without describing a cluster) ranks below every restart without one;
        then, and for every other init, the log-likelihood decides."""
        if self.init_params != "auto":
            return (ll,)
        return (not _collapsed(params, 10.0 * float(self.reg_covar)), ll)

    def _may_drop_restart(self, restart):
        # "auto": the restarts from random rows explore; with reg_covar=0, say, a start
        # on single rows can be singular, and then only that start is lost
        return self.init_params == "auto" and restart > 0

    def _hierarchical(self, data, rng):
        """Parameters of the partition that Ward's agglomeration on mclust's SVD scaling
        cuts into ``n_components`` clusters (``fastem._hierarchical``), from at most 2000
        rows of positive weight drawn at random (all of them when there are fewer: then
        every restart starts from the same partition)."""
        from ._hierarchical import MAX_ROWS, ward_partition

        k = self.n_components
        rows = np.arange(data.n_samples) if data.w.shape[0] == 0 else np.flatnonzero(data.w)
        if rows.shape[0] > MAX_ROWS:
            rows = np.sort(rng.choice(rows, size=MAX_ROWS, replace=False))
        labels = ward_partition(data.X, rows, k)
        part = _Data(np.ascontiguousarray(data.X[rows]),
                     data.w[rows] if data.w.shape[0] else data.w)
        X = part.X.astype(np.float64)
        centers = np.repeat(X.mean(axis=0)[None], k, axis=0)  # the M-step's references
        for c in range(k):
            if np.any(labels == c):
                centers[c] = X[labels == c].mean(axis=0)
        base = self._identity_params(centers)
        stats, _ = part.reduce(ChunkStats(self, base, FIXED, 0, 0), labels)
        return self._m_step(base, stats)

    def _kmeanspp(self, data, rows, rng):
        k = self.n_components
        if rows.shape[0] > _KMEANS_SEED_ROWS:
            rows = np.sort(rng.choice(rows, size=_KMEANS_SEED_ROWS, replace=False))
        n_trials = 2 + int(np.log(k))
        uniforms = rng.random(1 + (k - 1) * n_trials)
        return kmeanspp(data.X, rows.astype(np.int64), data.w, k, n_trials, uniforms)

    def _kmeans_shared(self, data, rng):
        """``_kmeans``, or its result from ``_kmeans_cache`` (set by a model selection
        for the duration of its fits: candidates with the same number of components, data
        and random state differ only in covariance type, and the k-means initialisation
        does not depend on it).  A hit also moves ``rng`` to where the computation would
        have left it, so that what follows draws exactly the same numbers."""
        cache = getattr(self, "_kmeans_cache", None)
        if cache is None or getattr(data, "source", None) is not None:
            return self._kmeans(data, rng)
        X = data.X
        key = (self.n_components, X.__array_interface__["data"][0], X.shape, X.dtype.str,
               id(data.w) if data.w.shape[0] else None, _rng_state(rng)[0])
        hit = cache.get(key)
        if hit is None:
            result = self._kmeans(data, rng)
            cache[key] = hit = (result, _rng_state(rng)[1])
        else:
            _set_rng_state(rng, hit[1])
        return hit[0]

    def _kmeans(self, data, rng):
        """Compiled k-means: k-means++ seeds, then Lloyd passes until labels are stable.

        ``data`` may be a bounded sample of the data (``data.source``: the data read in
        chunks or on Dask): the seeds and the tolerance come from the sample, the Lloyd
        passes run over all of it, a chunk at a time; the labels it returns are then the
        source's (``source.new_labels()``)."""
        rows = np.arange(data.n_samples) if data.w.shape[0] == 0 else np.flatnonzero(data.w)
        centers = data.X[self._kmeanspp(data, rows, rng)].astype(np.float64)
        k, d = centers.shape
        _, var = column_moments(data.X, data.w, block_rows(data.n_samples, k, d, 0))
        tol = 1e-4 * float(var.mean())  # scikit-learn's KMeans tolerance
        source = source_of(data)
        labels = source.new_labels()
        for _ in range(_KMEANS_MAX_ITER):
            check_interrupt()
            (cnt, sums, changed), labels = source.reduce(_Lloyd(centers), labels)
            if changed == 0:
                break
            new = centers.copy()
            full = cnt > 0
            new[full] = sums[full] / cnt[full, None]
            with np.errstate(over="ignore"):  # inf for data beyond ~1e154: stops here
                shift = float(((new - centers) ** 2).sum())
            centers = new
            if shift <= tol:
                _, labels = source.reduce(_Lloyd(centers), labels)  # the final centres' labels
                break
        return centers, labels

    def _fitted_covariance_type(self):
        # Attributes set by hand on an estimator that was never fitted follow the constructor.
        ct = getattr(self, "_fit_covariance_type", None)
        if ct is None:
            ct = check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        elif not isinstance(ct, str) or ct not in COVARIANCE_TYPES:  # set by hand or a file
            raise ValueError(f"The fitted attributes of this GaussianMixture are inconsistent: "
                             f"its fitted covariance type is {ct!r}. Fit the model again.")
        return ct

    def _fitted_params(self):
        """Kernel parameters (float64) from the fitted attributes, and their covariance type.

        The fitted attributes are the truth: constructor parameters changed since the fit
        (``n_components``, ``covariance_type``) do not matter until the next ``fit``.
        Attributes that contradict each other (set by hand, say) raise ValueError.
        """
        check_fitted(self, "means_")
        ct = self._fitted_covariance_type()

        def inconsistent(why):
            return ValueError(
                f"The fitted attributes of this GaussianMixture are inconsistent: {why}. "
                "Fit the model again."
            )

        try:
            weights = np.array(self.weights_, dtype=np.float64)
            means = np.array(self.means_, dtype=np.float64)
            pc = np.array(self.precisions_cholesky_, dtype=np.float64)
            cv = np.array(self.covariances_, dtype=np.float64)
        except (AttributeError, TypeError, ValueError) as exc:
            raise inconsistent(f"they must be numeric arrays ({exc})") from None
        if means.ndim != 2 or 0 in means.shape:
            raise inconsistent(f"means_ has shape {means.shape}, expected (n_components, n_features)")
        k, d = means.shape
        shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[ct]
        if weights.shape != (k,):
            raise inconsistent(f"weights_ has shape {weights.shape}, means_ {means.shape}")
        for name, arr in (("precisions_cholesky_", pc), ("covariances_", cv)):
            if arr.shape != shape:
                raise inconsistent(
                    f"{name} has shape {arr.shape}; covariance_type={ct!r} with means_ of "
                    f"shape {means.shape} needs {shape}"
                )
        for name, arr in (("weights_", weights), ("means_", means), ("precisions_cholesky_", pc),
                          ("covariances_", cv)):
            if not np.all(np.isfinite(arr)):
                raise inconsistent(f"{name} contains NaN or infinity")
        if np.any(weights < 0) or not weights.sum() > 0:
            raise inconsistent("weights_ must be non-negative with a positive sum")
        # a model held in float32 (or lower): its covariance is read from its precision
        # factor (see _float32_covariances)
        single = any(np.asarray(a).dtype != np.float64
                     for a in (self.covariances_, self.precisions_cholesky_))
        if ct in ("full", "tied"):
            prec = np.ascontiguousarray(pc.reshape(-1, d, d))
            cov = np.ascontiguousarray(cv.reshape(-1, d, d))
            diag = np.diagonal(prec, axis1=1, axis2=2)
            if np.any(diag <= 0) or np.any(np.tril(prec, -1) != 0):
                raise inconsistent(
                    "precisions_cholesky_ must be upper-triangular with a positive diagonal"
                )
            log_det = np.broadcast_to(np.log(diag).sum(axis=1), (k,)).copy()
            if single:
                cov = _float32_covariances(prec)
        else:
            if np.any(pc <= 0) or np.any(cv <= 0):
                raise inconsistent("precisions_cholesky_ and covariances_ must be positive")
            prec = np.ascontiguousarray(pc[:, None] * np.ones((1, d)) if ct == "spherical" else pc)
            cov = np.ascontiguousarray(cv[:, None] * np.ones((1, d)) if ct == "spherical" else cv)
            if single:  # the variances the precisions say, as for full covariances
                cov = 1.0 / (prec * prec)
            log_det = np.log(prec).sum(axis=1)
        return (weights, means, cov, prec, log_det), ct

    def _warm_params(self, data):
        params, ct = self._fitted_params()
        k, d = params[1].shape
        if (k, ct, d) != (self.n_components, self.covariance_type, data.n_features):
            raise ValueError(
                f"warm_start=True continues the previous fit (n_components={k}, "
                f"covariance_type={ct!r}, {d} features), but this fit asks for "
                f"n_components={self.n_components}, covariance_type={self.covariance_type!r} "
                f"on data with {data.n_features} features. Set warm_start=False to fit "
                "from scratch."
            )
        return params

    def _fitted_attributes(self, params, data, ct=None):
        weights, means, cov, prec, _ = params
        ct = self.covariance_type if ct is None else ct
        dt = data.dtype
        if ct in ("full", "tied"):
            precisions = np.einsum("kij,klj->kil", prec, prec)
            if ct == "tied":
                cov, prec, precisions = cov[0], prec[0], precisions[0]
        else:
            if ct == "spherical":
                cov, prec = cov[:, 0], prec[:, 0]
            precisions = prec**2
        with np.errstate(over="ignore"):
            attributes = {
                "weights_": weights.astype(dt),
                "means_": means.astype(dt),
                "covariances_": cov.astype(dt),
                "precisions_cholesky_": prec.astype(dt),
                "precisions_": precisions.astype(dt),
            }
        for name, value in attributes.items():
            if not np.all(np.isfinite(value)):
                raise ValueError(
                    f"The fitted {name.rstrip('_')} exceed the range of {dt} (the data's "
                    "dtype). Pass float64 data (X.astype(np.float64)) or rescale X."
                )
        attributes.update(n_features_in_=means.shape[1], _fit_covariance_type=ct,
                          _fit_groups=(bool(self.fit_weights), bool(self.fit_means),
                                       bool(self.fit_covariances)))
        return attributes

    def _n_parameters(self):
        (_, means, _, _, _), ct = self._fitted_params()
        k, d = means.shape
        cov = {"full": k * d * (d + 1) / 2, "tied": d * (d + 1) / 2, "diag": k * d,
               "spherical": k}[ct]
        fitted = getattr(self, "_fit_groups", (True, True, True))  # weights, means, cov
        return int(cov * fitted[2] + k * d * fitted[1] + (k - 1) * fitted[0])

    # ------------------------------------------------------------ public API
    def fit(self, X, y=None, *, sample_weight=None):
        """Estimate the parameters by EM (``n_init`` restarts, the best one is kept).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; weight 2 is the same as repeating the row.

        Returns
        -------
        self : GaussianMixture
        """
        names = gaussian_fit(self.covariance_type, self.mode, self.init_params)
        if is_dask_array(X) or self._file_reader(X) is not None:
            ensure(names)  # NaN cells show in the fit's checks: those kernels compile then
            if is_dask_array(X):
                return self._fit_dask(X, sample_weight)
            return self._fit_file(self._file_reader(X), sample_weight)
        columns = feature_names(X)
        X, has_nan = self._check_X(X)
        # with NaN cells, the missing-data kernels compile beside the others (see _compile)
        ensure(names + MISSING_DATA if has_nan else names)
        self._check_model_params()
        w = check_sample_weight(sample_weight, X.shape[0])
        if has_nan:
            _check_no_empty_rows(X)
        n_rows = n_effective_rows(w, X.shape[0])
        if n_rows < max(2, self.n_components):
            raise ValueError(
                f"Expected n_samples >= max(2, n_components) rows with positive weight, got "
                f"n_samples = {n_rows}, n_components = {self.n_components}"
            )
        self._check_inits(X.shape[1])
        data = _Data(X, w)
        if not has_nan:
            return self._fit_em(data, feature_names=columns)
        data.has_nan = True
        return self._fit_em(data, self._filled_sample(X, w), feature_names=columns)

    def _check_fit_input(self, X, sample_weight=None):
        """The checks ``fit`` makes of its data, without fitting (files and dask arrays:
        checked while fitting)."""
        if is_dask_array(X) or self._file_reader(X) is not None:
            return
        X, has_nan = self._check_X(X)
        check_sample_weight(sample_weight, X.shape[0])
        if has_nan:
            _check_no_empty_rows(X)

    def _filled_sample(self, X, w):
        """What initialisation sees when X has missing cells: at most 100,000 rows of
        positive weight (all of them when there are fewer), with ``_fill_missing``."""
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else None
        rows = _sources.sample_rows(X.shape[0], w, _sources.INIT_SAMPLE_ROWS,
                                    np.random.default_rng(seed))
        return _fill_missing(_Data(X[rows], w[rows] if w.shape[0] else w))  # X[rows]: a copy

    # ------------------------------------------------------------ statistics
    def e_step_stats(self, X, y=None, *, sample_weight=None):
        """Sufficient statistics of a (soft) E-step over the rows of ``X`` at the fitted
        parameters.

        Statistics of disjoint sets of rows add up (``a + b``, ``sum([...])``), so the
        E-step can run over chunks of the data anywhere (another process, a cluster, a
        database cursor); :meth:`m_step` turns the sum into new parameters.  One EM
        iteration over chunks ``X1, X2, ...``::

            model.m_step(sum(model.e_step_stats(Xc) for Xc in (X1, X2)))

        To start such a loop without a fit on all the data, fit on a sample, e.g.
        ``GaussianMixture(k, max_iter=0).fit(sample)`` (initialisation only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        stats : fastem.GaussianStats
            About the fitted means; ``stats.loglik`` is the weighted log-likelihood of
            the rows at the fitted parameters.
        """
        params, ct = self._fitted_params()
        ensure(gaussian_fit(ct, "soft", "given"))
        X, has_nan = self._check_X(X, n_features=params[1].shape[1])
        if has_nan:
            ensure(MISSING_DATA)
        w = check_sample_weight(sample_weight, X.shape[0], scale=False)  # chunks must add up
        data = _Data(X, w)
        data.has_nan = has_nan
        return self._pass(data, params, SOFT, 0, 0, EMPTY_I32, ct)

    def m_step(self, stats):
        """Replace the fitted parameters by those that the statistics ``stats`` give.

        ``stats``: a :class:`fastem.GaussianStats` (usually a sum of
        :meth:`e_step_stats` over all the data) of this model's covariance type, number
        of components and features.  Components with no weight in ``stats`` keep their
        parameters, as in ``fit``.  Only ``weights_``, ``means_``, ``covariances_``,
        ``precisions_cholesky_`` and ``precisions_`` change; nothing changes if this
        raises.  Returns ``self``.
        """
        params, ct = self._fitted_params()
        k, d = params[1].shape

        def mismatch(stats):
            return (f"these statistics are of a {stats.covariance_type!r} model with "
                    f"{stats.ref.shape[0]} components and {stats.ref.shape[1]} features; this "
                    f"model is {ct!r} with {k} components and {d} features")

        ok = (isinstance(stats, GaussianStats) and stats.covariance_type == ct
              and stats.ref.shape == (k, d))
        return self._m_step_from(stats, params, GaussianStats, None if ok else mismatch)

    def _apply_m_step(self, stats, params=None):
        params = self._fitted_params()[0] if params is None else params
        ct = stats.covariance_type
        new = self._m_step(params, stats)
        dt = np.asarray(self.means_).dtype
        dt = dt if dt in (np.float32, np.float64) else np.dtype(np.float64)
        attributes = self._fitted_attributes(new, _Data(np.empty((0, params[1].shape[1]), dt),
                                                        EMPTY_F64), ct)
        self.__dict__.update(attributes)  # one step: nothing half-assigned

    def partial_fit(self, X, y=None, *, sample_weight=None):
        """Online EM: update the parameters from one batch of rows (stepwise EM, Cappé &
        Moulines 2009).

        The first call on an unfitted model fits the batch by ordinary EM (``n_init``,
        ``init_params``, ...; a model fitted by ``fit`` continues from its fit).  Each later
        call runs a soft E-step on the batch at the current parameters, moves the running
        statistics (per unit of weight) towards the batch's, ``s <- (1 - eta) s + eta
        s_batch`` with ``eta = (t + 2) ** -decay`` at the t-th update, and sets the
        parameters from ``s``.  A new ``fit`` discards the running statistics.  The
        updates are soft EM whatever ``mode`` (the hard and stochastic modes are for
        ``fit``, which a first batch gets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The batch; its number of features must be the model's.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixture
            ``lower_bound_`` is the batch's mean log-likelihood before the update.
        """
        def fit_first():
            self.fit(X, sample_weight=sample_weight)

        def batch_stats():
            return self.e_step_stats(X, sample_weight=sample_weight)

        return self._partial_fit(fit_first, batch_stats, self._apply_m_step)

    def _recentred(self, stats):
        # running statistics about the current means: no drift away from the data
        means = np.asarray(self.means_, dtype=np.float64)
        return stats.about(means, np.asarray(self.weights_, dtype=np.float64) @ means)

    # ------------------------------------------------------------ data in files
    def _chunk_rows_for(self, reader):
        check_int(self.chunk_bytes, "chunk_bytes", 1)
        return reader.chunk_rows(self.chunk_bytes)

    def _file_reader(self, X):
        """A chunked reader for a memmap larger than one chunk, else None."""
        reader = MemmapRows.of(X) if isinstance(X, np.memmap) else None
        if reader is None or reader.shape[0] <= self._chunk_rows_for(reader):
            return None
        return reader

    def _fit_file(self, reader, sample_weight):
        n, d = reader.shape
        self._check_model_params()
        w = check_sample_weight(sample_weight, n)
        n_rows = n_effective_rows(w, n)
        if n_rows < max(2, self.n_components):
            raise ValueError(
                f"Expected n_samples >= max(2, n_components) rows with positive weight, got "
                f"n_samples = {n_rows}, n_components = {self.n_components}"
            )
        self._check_inits(d)
        # its own generator: the restarts' draws stay those of random_state
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else None
        rows = _sources.sample_rows(n, w, _sources.INIT_SAMPLE_ROWS, np.random.default_rng(seed))
        sample = reader.rows(rows)
        init = _Data(sample, w[rows] if w.shape[0] else w)
        data = _file_data(reader, w, self._chunk_rows_for(reader), fit=True)
        has_nan = _check_chunk(sample, 0, True)
        given = all(v is not None for v in (self.weights_init, self.means_init,
                                            self.precisions_init))
        if not has_nan and rows.shape[0] < n and self.init_params == "kmeans" and not given:
            # A NaN outside the sample would reach the Lloyd passes of the k-means init,
            # which run over the file: check every chunk first (each chunk is checked
            # once, on its first read, so this costs one read of the file; the other
            # inits' passes are E-steps, which take NaN cells).
            for _ in data.chunks():
                pass
            has_nan = bool(data.nan_chunks)
        if has_nan:
            return self._fit_em(data, _fill_missing(init))  # the init sees the sample alone
        if rows.shape[0] < n:
            init.source = data  # the sample seeds; the passes of the init run over the file
        return self._fit_em(data, init)

    def _fit_dask(self, X, sample_weight):
        """``fit`` on a dask array: every pass runs on its blocks (``fastem._dask``); the
        initialisation sees a bounded sample of rows (as for files)."""
        from . import _dask

        self._check_model_params()
        _dask.check_dask_X(X)
        n, d = X.shape
        dt = np.float32 if X.dtype == np.float32 else np.float64
        wd = _dask.weights_like(sample_weight, X)
        data = _dask.DaskData([X, wd], _dask_chunk, d, dt)
        checks = data.map(check_block)
        top, total, n_rows = weights_from_checks(checks, n)
        if n_rows < max(2, self.n_components):
            raise ValueError(
                f"Expected n_samples >= max(2, n_components) rows with positive weight, got "
                f"n_samples = {n_rows}, n_components = {self.n_components}"
            )
        self._check_inits(d)
        data.consts = [(top, c[3]) for c in checks]
        data.total_weight = total
        init = self._dask_sample(data, X, wd, top, n_rows)
        if any(c[3] for c in checks):
            init.__dict__.pop("source", None)  # the k-means passes would meet NaN cells
            init = _fill_missing(init)
        return self._fit_em(data, init)

    def _dask_sample(self, data, X, wd, top, n_rows):
        """The initialisation's bounded sample of rows of positive weight, fetched."""
        from . import _dask

        n = X.shape[0]
        # its own generator: the restarts' draws stay those of random_state
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else None
        rng = np.random.default_rng(seed)
        positive = None if n_rows == n else _dask.positive_rows(wd)
        rows = _sources.sample_rows(n_rows, EMPTY_F64, _sources.INIT_SAMPLE_ROWS, rng)
        if positive is not None:
            rows = positive[rows]
        sample = _dask_chunk(0, top, X[rows].compute(),
                             None if wd is None else wd[rows].compute())
        if rows.shape[0] < n:
            sample.source = data  # the sample seeds; the init's passes run over all rows
        return sample

    def fit_predict(self, X, y=None, *, sample_weight=None):
        """Fit, then label ``X`` with a final E-step: equals ``fit(X).predict(X)``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _rows(self, X, ll=False, resp=False, labels=False):
        (weights, means, cov, prec, log_det), ct = self._fitted_params()
        if is_dask_array(X):
            ensure(gaussian_rows(ct))
            return self._rows_dask(X, means.shape, ll, resp, labels)
        reader = self._file_reader(X)
        if reader is not None:
            ensure(gaussian_rows(ct))
            return self._rows_file(reader, ll, resp, labels)
        X, has_nan = self._check_X(X, n_features=means.shape[1])
        ensure(gaussian_rows(ct) + MISSING_DATA if has_nan else gaussian_rows(ct))
        n, k = X.shape[0], means.shape[0]
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        out_ll = np.empty(n) if ll else EMPTY_F64
        out_resp = np.empty((n, k)) if resp else _EMPTY_2D
        out_lab = np.empty(n, dtype=np.int64) if labels else _EMPTY_I64
        if has_nan:
            fn = _missing_rows
            args = (X, log_weights, means, cov, _form(ct), self._kernel_prec(prec, ct),
                    log_det, ct in ("full", "tied"), out_ll, out_resp, out_lab)
        else:
            fn = gauss_rows
            args = (X, log_weights, means, self._kernel_prec(prec, ct), log_det,
                    ct in ("full", "tied"), out_ll, out_resp, out_lab, _EMPTY_2D)
        if n * k >= _INTERRUPTIBLE_CELLS:
            run_interruptibly(fn, *args)
        else:  # a thread costs more than the call
            fn(*args)
        # As scikit-learn: log-likelihoods and posteriors in the data's dtype.
        with np.errstate(over="ignore"):
            return out_ll.astype(X.dtype, copy=False), out_resp.astype(X.dtype, copy=False), out_lab

    def _rows_dask(self, X, shape, ll, resp, labels):
        """``_rows`` of a dask array: the asked-for output as a lazy dask array."""
        from . import _dask

        _dask.check_dask_X(X)
        if X.shape[1] != shape[1]:
            raise wrong_features(np.empty((0, X.shape[1])), shape[1], self)
        index = 0 if ll else (1 if resp else 2)
        flag = ("ll", "resp", "labels")[index]
        dt = np.dtype(np.int64) if labels else np.dtype(
            np.float32 if X.dtype == np.float32 else np.float64)
        out = _dask.lazy_rows(self, [X], index, {flag: True}, shape[0], dt)
        return tuple(out if i == index else None for i in range(3))

    def _rows_file(self, reader, ll, resp, labels):
        """``_rows`` over a file read in chunks: the outputs are the only n-sized arrays."""
        (weights, means, cov, prec, log_det), ct = self._fitted_params()
        n, d = reader.shape
        if d != means.shape[1]:
            raise wrong_features(np.empty((0, d)), means.shape[1], self)
        k = means.shape[0]
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        out_ll = np.empty(n) if ll else EMPTY_F64
        out_resp = np.empty((n, k)) if resp else _EMPTY_2D
        out_lab = np.empty(n, dtype=np.int64) if labels else _EMPTY_I64
        data = _file_data(reader, EMPTY_F64, self._chunk_rows_for(reader))
        kprec = self._kernel_prec(prec, ct)
        for part in data.chunks():
            lo, hi = part.row0, part.row0 + part.n_samples
            outs = (out_ll[lo:hi] if ll else EMPTY_F64, out_resp[lo:hi] if resp else _EMPTY_2D,
                    out_lab[lo:hi] if labels else _EMPTY_I64)
            if part.has_nan:
                run_interruptibly(_missing_rows, part.X, log_weights, means, cov, _form(ct),
                                  kprec, log_det, ct in ("full", "tied"), *outs)
            else:
                run_interruptibly(gauss_rows, part.X, log_weights, means, kprec, log_det,
                                  ct in ("full", "tied"), *outs, _EMPTY_2D)
        dt = reader.dtype
        with np.errstate(over="ignore"):
            return out_ll.astype(dt, copy=False), out_resp.astype(dt, copy=False), out_lab

    def score_samples(self, X):
        """Log-likelihood of each row.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            float32 for float32 ``X`` (a row whose log-likelihood is below float32's range
            gets -inf), else float64.
        """
        return self._rows(X, ll=True)[0]

    def predict_proba(self, X):
        """Posterior probability of each component.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            float32 for float32 ``X``, else float64.
        """
        return self._rows(X, resp=True)[1]

    def predict(self, X):
        """Most probable component of each row. Returns ndarray of shape (n_samples,)."""
        return self._rows(X, labels=True)[2]

    def score(self, X, y=None):
        """Mean per-row log-likelihood of ``X``."""
        return super().score(X)

    def bic(self, X, *, sign="sklearn"):
        """Bayesian information criterion of the fitted model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sign : {"sklearn", "mclust"}, default="sklearn"
            "sklearn": ``-2 log L + p log n``, lower is better (scikit-learn's
            convention; L the likelihood, p the number of free parameters);
            "mclust": the same number negated, higher is better (R mclust's).

        Returns
        -------
        bic : float
        """
        return super().bic(X, sign=sign)

    def aic(self, X, *, sign="sklearn"):
        """Akaike information criterion of the fitted model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sign : {"sklearn", "mclust"}, default="sklearn"
            "sklearn": ``-2 log L + 2 p``, lower is better (scikit-learn's
            convention; L the likelihood, p the number of free parameters);
            "mclust": the same number negated, higher is better (R mclust's).

        Returns
        -------
        aic : float
        """
        return super().aic(X, sign=sign)

    def icl(self, X, *, sign="sklearn"):
        """Integrated completed likelihood of the fitted model on ``X``: BIC penalised
        by the entropy of the MAP classification (Biernacki, Celeux & Govaert 2000; R
        mclust's ``icl``), so ``icl >= bic``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sign : {"sklearn", "mclust"}, default="sklearn"
            "sklearn": ``bic - 2 sum_i log max_c p(c | x_i)``, lower is better (scikit-learn's
            convention; L the likelihood, p the number of free parameters);
            "mclust": the same number negated, higher is better (R mclust's).

        Returns
        -------
        icl : float
        """
        return super().icl(X, sign=sign)

    def impute(self, X, method="mean", random_state=None):
        """A copy of ``X`` with each missing (NaN) cell filled in from the fitted mixture.

        ``method="mean"``: the conditional expectation of the row's missing cells given
        its observed ones, ``sum_c p(c | x_o) (mu_cm + S_cmo S_coo^-1 (x_o - mu_co))``
        (for diag and spherical covariances the missing cells are independent of the
        observed ones within a component: ``sum_c p(c | x_o) mu_cm``).  ``method="sample"``:
        a draw from the conditional distribution instead (a component from the posterior
        ``p(c | x_o)``, then the missing cells from that component's conditional
        Gaussian): call it with several seeds for multiple imputation.  Observed cells
        are returned exactly as they are; a row with every cell missing gets the
        mixture's mean (or a draw from the mixture).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        method : {"mean", "sample"}, default="mean"
        random_state : int, Generator or RandomState, default=None
            For ``method="sample"``; defaults to the estimator's ``random_state``.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            In X's dtype (float32 or float64); never X itself.
        """
        (weights, means, cov, _, _), ct = self._fitted_params()
        check_choice(method, "method", ("mean", "sample"))
        X, has_nan = self._check_X(X, n_features=means.shape[1])
        if not has_nan:
            return X.copy()
        ensure(MISSING_DATA)
        n, k = X.shape[0], means.shape[0]
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        plan = MissingPlan.of(X)
        out = X.astype(np.float64)  # a copy: only its NaN cells are written
        form = _form(ct)
        if method == "mean":
            run_interruptibly(gauss_missing_rows, X, plan, log_weights, means, cov, form,
                              EMPTY_F64, _EMPTY_2D, _EMPTY_I64, out)
        else:
            rng = check_random_state(self.random_state if random_state is None else random_state)
            resp = np.empty((n, k))
            run_interruptibly(gauss_missing_rows, X, plan, log_weights, means, cov, form,
                              EMPTY_F64, resp, _EMPTY_I64)
            u = rng.random(n)
            cum = np.cumsum(resp, axis=1)
            # inverse CDF; min(): rounding can leave the last sum a hair below u
            comp = np.minimum((cum < (u * cum[:, -1])[:, None]).sum(axis=1), k - 1)
            noise = rng.standard_normal((n, means.shape[1]))
            run_interruptibly(gauss_missing_rows, X, plan, log_weights, means, cov, form,
                              EMPTY_F64, _EMPTY_2D, _EMPTY_I64, out, comp.astype(np.int32),
                              noise)
        with np.errstate(over="ignore"):
            return out.astype(X.dtype, copy=False)

    def sample(self, n_samples=1, random_state=None):
        """Draw rows from the fitted mixture.

        Labels are drawn independently and returned in draw order (scikit-learn sorts them
        by component).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, Generator or RandomState, default=None
            Defaults to the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of shape (n_samples,)
        """
        (weights, means, cov, _, _), ct = self._fitted_params()
        n_samples = check_n_samples(n_samples)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        k, d = means.shape
        labels = rng.choice(k, size=n_samples, p=weights / weights.sum())
        z = rng.standard_normal((n_samples, d))
        if ct in ("full", "tied"):
            try:
                chol = np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                raise ValueError(
                    "covariances_ is not positive definite; fit the model again."
                ) from None
            if ct == "full":
                offset = np.einsum("nij,nj->ni", chol[labels], z)
            else:
                offset = z @ chol[0].T
        else:
            offset = z * np.sqrt(cov[labels])
        return means[labels] + offset, labels
