"""Mixtures of binomials ("coins"), fitted by soft, hard or stochastic EM."""

import numpy as np

from ._compile import binomial_fit, ensure
from ._compile import binomial_rows as binomial_rows_names
from ._dask import is_dask_array
from ._em import ChunkStats, EMMixture, run_interruptibly
from . import _sources
from ._sources import DEFAULT_CHUNK_BYTES, FileData, InMemoryData, MemmapRows, source_of
from ._stats import BinomialStats
from ._kernels._common import RANDOM, SOFT
from .gaussian import check_block_weights, weights_from_checks
from ._passes import BINOMIAL_BLOCK as BLOCK
from ._passes import (
    binomial_log_coef_sum,
    binomial_mstep,
    binomial_pass,
    binomial_rows,
    check_counts,
    row_code_weights,
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
    check_sample_weight,
    check_weights,
    feature_names,
    n_effective_rows,
    wrong_features,
)

#: Fitted success probabilities are kept in ``[PROB_EPS, 1 - PROB_EPS]`` so that every
#: log-likelihood stays finite (log(1e-10) is about -23 per trial).
PROB_EPS = 1e-10


# Compress rows to distinct rows with summed weights when the code table stays this small
# and the data has at least twice as many rows as possible codes.
_MAX_CODES = 1 << 22

_EMPTY_2D = np.empty((0, 0), dtype=np.float64)
_INTERRUPTIBLE_CELLS = 1 << 20  # per-row outputs for more rows x components: Ctrl-C-safe
_EMPTY_I64 = np.empty(0, dtype=np.int64)

# What every count error adds: checks written for other estimators feed arbitrary
# floats, and the message has to say that this model takes nothing else.
_COUNTS = "BinomialMixture models counts: non-negative integers no larger than trials"
_COUNT_ERRORS = {
    1: "X contains infinity at row {i}, column {j} (NaN marks a missing count; infinity is "
       "not a count)",
    2: "Negative values in data: X[{i}, {j}] = {x} is negative. " + _COUNTS + ".",
    3: "X[{i}, {j}] = {x} is not an integer. " + _COUNTS + ".",
    4: "trials contains NaN or infinity (at row {i}, column {j} of X)",
    5: "trials must be >= 1; got {t} for row {i}, column {j} of X",
    6: "trials must be integers; got {t} for row {i}, column {j} of X",
    7: "counts cannot exceed trials; X[{i}, {j}] = {x} but trials = {t}. " + _COUNTS
       + " (trials is a constructor parameter and a keyword of every method).",
    8: "trials must be at most 2**53 (about 9.0e15, float64's exact integers); got {t} for "
       "row {i}, column {j} of X",
}
_NEGATIVE = 2


class _Data(InMemoryData):
    """Validated data ready for the kernels; ``chunk_rows``: see ``InMemoryData``."""

    def __init__(self, X, T, w, chunk_rows=None, missing=None):
        self.X, self.T, self.w = X, T, w
        # NaN cells (missing counts): the kernels' variant that leaves them out
        self.missing = bool(np.isnan(X).any()) if missing is None else bool(missing)
        self.n_samples, self.n_features = X.shape
        self.total_weight = float(X.shape[0]) if w.shape[0] == 0 else float(w.sum())
        self._offset = None
        self.chunk_rows = chunk_rows

    @property
    def loglik_offset(self):
        # The binomial coefficients do not depend on the parameters: summed once per fit.
        if self._offset is None:
            self._offset = binomial_log_coef_sum(self.X, self.T, self.w, BLOCK, self.missing)
        return self._offset

    def _rows(self, lo, hi):
        T = self.T[lo:hi] if self.T.shape[0] > 1 else self.T
        return _Data(self.X[lo:hi], T, self.w[lo:hi] if self.w.shape[0] else self.w,
                     missing=self.missing)


def _count_error(X, T, row0=0, rows=None):
    """The message for the first bad count of X (2-D) with trials T, or None.  X's rows
    are rows ``row0``... of the whole data, or the rows ``rows`` of it."""
    code, i, j = check_counts(X, T, allow_nan=True)
    if code in (3, 7):
        # A negative value anywhere is the plainer error (and the one scikit-learn's
        # checks for positive-only estimators look for); found on the error path only.
        negative = np.argwhere(X < 0)
        if negative.shape[0]:
            code, (i, j) = _NEGATIVE, negative[0]
    if not code:
        return None
    t = T[i if T.shape[0] > 1 else 0, j if T.shape[1] > 1 else 0]
    row = row0 + i if rows is None else int(rows[i])
    return _COUNT_ERRORS[code].format(i=row, j=j, x=X[i, j], t=t)


def _all_missing_error(X, row0=0, rows=None):
    """The message for the rows of X with every count missing (NaN), or None: such a row
    carries no information, and a fit refuses it."""
    empty = np.flatnonzero(np.isnan(X).all(axis=1))
    if not empty.shape[0]:
        return None
    first = [int(row0 + i if rows is None else rows[i]) for i in empty[:5]]
    return (f"X has {empty.shape[0]} row(s) with every count missing (NaN), which carry "
            f"no information; the first: rows {first}. Drop them before fit.")


def _block_data(X, trials, T, w):
    """Counts X (1-D or 2-D) and trials (``T``, per row or cell, else ``trials``) of one
    block as a 2-D X and its broadcastable T."""
    X = as_float_array(X, "X")
    orig = X.shape
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    return X, _check_trials(trials if T is None else T, X, orig)


def _dask_chunk(row0, const, X, T=None, w=None):
    """A Dask block (on its worker) as a chunk.  ``const``: (trials when not per row, the
    weights' scale or None, the block's binomial-coefficient sum or None, whether it has
    missing counts or None: look)."""
    trials, top, offset, *missing = const
    X, T = _block_data(X, trials, T, w)
    if w is None:
        w = EMPTY_F64
    else:
        w = np.ascontiguousarray(w, dtype=np.float64)
        w = w if top is None else w / top
    part = _Data(X, T, w, missing=missing[0] if missing and missing[0] is not None else None)
    part.row0 = row0
    part._offset = offset
    return part


def _check_dask_block(chunk, labels):
    """``gaussian.check_block`` for counts, and the block's (unscaled) coefficient sum and
    whether it has missing counts."""
    bad = _count_error(chunk.X, chunk.T, chunk.row0)
    if bad is None and chunk.missing:
        bad = _all_missing_error(chunk.X, chunk.row0)
    bad_w, sums = check_block_weights(chunk)
    coef = None if bad or bad_w else chunk.loglik_offset
    return bad, bad_w, sums, (coef, chunk.missing)


def _compress(data):
    """Distinct rows of ``data`` with their summed weights, or None when not worth it.

    Coin tosses and other small counts repeat a lot: EM then costs O(distinct rows) per
    iteration instead of O(n).  Weight-0 rows disappear, as they should.
    """
    X, T = data.X, data.T
    n = data.n_samples
    if data.missing:  # NaN has no digit (the fit is the same, only not merged)
        return None
    x_radix = X.max(axis=0).astype(np.int64) + 1
    per_row_t = T.shape[0] > 1
    t_radix = (T.max(axis=0).astype(np.int64) + 1) if per_row_t else np.ones(0, np.int64)
    n_codes = 1
    for r in np.concatenate([x_radix, t_radix]):
        n_codes *= int(r)
        if n_codes > min(_MAX_CODES, n // 2):
            return None
    table = row_code_weights(X, T, data.w, x_radix, t_radix, n_codes)
    codes = np.flatnonzero(table)
    if codes.shape[0] > n // 2:
        return None
    weights = table[codes]
    radices = np.concatenate([x_radix, t_radix])
    digits = np.empty((codes.shape[0], radices.shape[0]), dtype=np.int64)
    rest = codes.copy()
    for j in range(radices.shape[0] - 1, -1, -1):  # decode, last digit first
        digits[:, j] = rest % radices[j]
        rest //= radices[j]
    d = X.shape[1]
    Xc = np.ascontiguousarray(digits[:, :d], dtype=X.dtype)
    Tc = np.ascontiguousarray(digits[:, d:], dtype=X.dtype) if per_row_t else T
    compressed = _Data(Xc, Tc, weights)
    compressed.total_weight = data.total_weight
    return compressed


def _check_trials(trials, X, orig_shape):
    """Return trials as a (1 or n, 1 or d) array of X's dtype, broadcast by index."""
    T = as_float_array(trials, "trials")
    if len(orig_shape) == 1 and T.shape == (orig_shape[0], 1):
        T = T.reshape(-1)  # per-row trials as a column, as the message below offers
    try:
        shape = np.broadcast_shapes(T.shape, orig_shape)
    except ValueError:
        shape = None
    if shape != tuple(orig_shape):
        raise ValueError(
            f"trials must be an integer or an array broadcastable to X's shape {tuple(orig_shape)} "
            f"(per row: shape ({orig_shape[0]}, 1); per cell: the shape of X); got shape {T.shape}"
        )
    if len(orig_shape) == 1:
        T = T.reshape(-1, 1)  # per-row trials for 1-D X
    else:
        T = T.reshape((1,) * (2 - T.ndim) + T.shape)
    return np.ascontiguousarray(T, dtype=X.dtype)


class BinomialMixture(EMMixture):
    """Mixture of independent binomials, fitted by EM.

    Each row of ``X`` counts successes in ``trials`` attempts for ``n_features``
    independent features; row ``i`` comes from component ``c`` with probability
    ``weights_[c]``, and then ``X[i, j] ~ Binomial(trials[i, j], probs_[c, j])``.
    ``trials=1`` gives a Bernoulli mixture (binary data).

    Parameters
    ----------
    n_components : int, default=2
        Number of mixture components.
    trials : int or array-like of shape (n_features,), default=1
        Trials used by every method called without ``trials=``: one count for every
        cell, or one per feature.  Per-row trials vary with the data, so they are passed
        to the methods (``fit(X, trials=T)``); a Pipeline cannot pass them, so this
        parameter is what its ``fit``, ``predict`` and ``score`` use.
    mode : {"soft", "hard", "stochastic"}, default="soft"
        ``"soft"``: classic EM with posterior responsibilities; stops when the mean
        per-sample log-likelihood changes by less than ``tol``.
        ``"hard"``: classification EM, each row given wholly to its most probable
        component; stops when no assignment changes.
        ``"stochastic"``: each iteration draws every row's component from its posterior.
        The chain never settles, so it runs ``max_iter`` iterations and keeps the
        iterate with the highest observed-data log-likelihood; ``converged_`` is False.
    tol : float, default=1e-3
        Soft-EM convergence threshold on the change of the mean log-likelihood.
    max_iter : int, default=100
        Maximum number of EM iterations per initialisation. 0 runs none, as
        ``GaussianMixture`` (and scikit-learn): the fitted parameters are those of the
        (last) initialisation, ``n_iter_`` is 0, ``converged_`` False, ``lower_bound_``
        -inf and ``lower_bounds_`` empty.
    n_init : int, default=1
        Number of initialisations; the run with the highest log-likelihood is kept.
    init_params : {"random", "random_from_data"}, default="random"
        ``"random"``: random responsibilities followed by an M-step.
        ``"random_from_data"``: each component starts at the frequencies of a random row.
        Ignored for the probabilities when ``probs_init`` is given.
    weights_init : array-like of shape (n_components,), default=None
        Initial mixing weights (uniform when None and ``fit_weights=False``).
    probs_init : array-like of shape (n_components,) or (n_components, n_features), default=None
        Initial success probabilities; a 1-D value is used for every feature.
    fit_weights : bool, default=True
        If False the mixing weights stay at ``weights_init`` (uniform when not given).
    fit_probs : bool, default=True
        If False the success probabilities stay at ``probs_init`` (then required) and EM
        fits the weights only; ``bic``/``aic`` count only the fitted parameters.
    random_state : int, numpy Generator or RandomState, default=None
        Seeds initialisation and the stochastic-EM draws. Stochastic EM draws come from
        a counter-based generator keyed by (seed, iteration, row), so results depend on
        ``random_state`` only, not on the number of threads.
    warm_start : bool, default=False
        If True, ``fit`` starts from the previous solution (and ``n_init`` is ignored).
    verbose : int, default=0
        1 prints each iteration, 2 adds time and log-likelihood.
    decay : float, default=0.6
        Step-size exponent of :meth:`partial_fit` (stepwise EM, Cappé & Moulines 2009):
        batch t weighs (t + 2) ** -decay in the running statistics; in (0.5, 1].
    chunk_bytes : int, default=64 MiB
        For ``X`` in a memory-mapped file (``np.memmap``, ``np.load(path,
        mmap_mode="r")``, C-contiguous float32 or float64 counts): the rows are read in
        chunks of about this many bytes, so that memory stays bounded by it, not by the
        file (see ``GaussianMixture``).  Such a fit does not merge repeated rows.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    probs_ : ndarray of shape (n_components, n_features)
        Success probabilities, kept in ``[PROB_EPS, 1 - PROB_EPS]`` with
        ``PROB_EPS = 1e-10`` so that log-likelihoods stay finite. Always float64.
    converged_ : bool
    n_iter_ : int
        Iterations of the kept run.
    lower_bound_ : float
        Mean per-sample observed-data log-likelihood (binomial coefficients included) of
        the kept run, at the parameters of its last E-step (as scikit-learn).
    lower_bounds_ : list of float
        The same quantity at every iteration of the kept run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The column names of a data frame ``X`` whose names are all strings (only then);
        later calls check them as scikit-learn does.
    n_distinct_rows_ : int
        Rows EM iterated over: soft and hard EM merge repeated rows (same counts and
        trials) into one weighted row, so their cost per iteration follows the number of
        distinct rows, not ``n_samples``. The result is the same fit.

    Notes
    -----
    ``fit`` and the per-row methods take dask arrays as ``GaussianMixture`` does (see its
    Notes); ``trials`` then a number, per feature, or a dask (or NumPy) array per row or
    cell.  Such a fit, and one on a memory-mapped file, does not merge repeated rows.

    A component that receives no weight in an iteration (possible in hard and
    stochastic EM) keeps its previous probabilities and gets mixing weight 0.
    """

    _input_tags = {"positive_only": True, "allow_nan": True}  # counts; NaN: missing

    def __init__(
        self,
        n_components=2,
        *,
        trials=1,
        mode="soft",
        tol=1e-3,
        max_iter=100,
        n_init=1,
        init_params="random",
        weights_init=None,
        probs_init=None,
        fit_weights=True,
        random_state=None,
        warm_start=False,
        verbose=0,
        decay=0.6,
        chunk_bytes=DEFAULT_CHUNK_BYTES,
        fit_probs=True,
    ):
        self.fit_probs = fit_probs
        self.decay = decay
        self.chunk_bytes = chunk_bytes
        self.n_components = n_components
        self.trials = trials
        self.mode = mode
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.probs_init = probs_init
        self.fit_weights = fit_weights
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------------ data
    def _prepare(self, X, trials, sample_weight=None, n_features=None, scale_weights=True,
                 for_fit=False):
        """Validated data; ``n_features``: what a fitted model expects (None while
        fitting; else the column names are checked too).

        ``trials=None``: the constructor's ``trials`` (what a Pipeline's calls get).
        """
        if trials is None:
            trials = self.trials
        if n_features is not None:
            check_feature_names(self, X)
        X = as_float_array(X, "X")
        orig_shape = X.shape
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        elif X.ndim != 2:
            raise ValueError(
                f"X must be 1-D (n_samples,) or 2-D (n_samples, n_features); got {X.ndim}-D"
            )
        check_not_empty(X, orig_shape)
        if n_features is not None and X.shape[1] != n_features:
            raise wrong_features(X, n_features, self)
        T = _check_trials(trials, X, orig_shape)
        bad = _count_error(X, T)
        if bad:
            raise ValueError(bad)
        data = None
        if for_fit:
            data = _Data(X, T, EMPTY_F64)
            if data.missing:
                bad = _all_missing_error(X)
                if bad:
                    raise ValueError(bad)
        w = check_sample_weight(sample_weight, X.shape[0], scale=scale_weights)
        return _Data(X, T, w, missing=None if data is None else data.missing)

    # ------------------------------------------------------------ EM hooks
    def _check_model_params(self):
        check_int(self.n_components, "n_components", 1)
        check_choice(self.init_params, "init_params", {"random", "random_from_data"})
        if not isinstance(self.fit_weights, (bool, np.bool_)):
            raise ValueError(f"fit_weights must be a bool; got {self.fit_weights!r}")
        fit_probs = getattr(self, "fit_probs", True)
        if not isinstance(fit_probs, (bool, np.bool_)):
            raise ValueError(f"fit_probs must be a bool; got {fit_probs!r}")
        if not fit_probs and self.probs_init is None:
            raise ValueError("fit_probs=False keeps the initial values: give probs_init")
        if self.weights_init is not None:
            check_weights(self.weights_init, self.n_components)

    def _check_probs_init(self, d):
        k = self.n_components
        p = np.array(self.probs_init, dtype=np.float64, copy=True)
        if p.shape == (k,):
            p = np.repeat(p[:, None], d, axis=1)
        if p.shape != (k, d):
            raise ValueError(
                f"probs_init must have shape ({k},) or ({k}, {d}); got {np.shape(self.probs_init)}"
            )
        if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
            raise ValueError("probs_init must hold probabilities in [0, 1]")
        return np.clip(p, PROB_EPS, 1.0 - PROB_EPS)

    def _initialize(self, data, rng, restart=0):
        k, d = self.n_components, data.n_features
        if self.weights_init is not None:
            weights = check_weights(self.weights_init, k)
        else:
            weights = np.full(k, 1.0 / k)
        if self.probs_init is not None:
            return weights, self._check_probs_init(d)
        if self.init_params == "random":
            probs = np.full((k, d), 0.5)
            seed = int(rng.integers(0, 2**63 - 1))
            # over all the data even when ``data`` is a sample of it (``source``)
            stats, _ = source_of(data).reduce(ChunkStats(self, (weights, probs), RANDOM, seed, 0))
            w_rand = weights.copy()
            binomial_mstep(stats.nk, stats.sx, stats.st, w_rand, probs, PROB_EPS, True)
            if self.fit_weights and self.weights_init is None:
                weights = w_rand
            return weights, probs
        # random_from_data: rows with positive weight, distinct indices
        rows = np.arange(data.n_samples) if data.w.shape[0] == 0 else np.flatnonzero(data.w)
        idx = rng.choice(rows, size=k, replace=False)
        T = np.broadcast_to(data.T, data.X.shape)
        # In float64: 1 - PROB_EPS rounds to 1 in float32.
        freq = data.X[idx].astype(np.float64) / T[idx].astype(np.float64)
        freq[np.isnan(freq)] = 0.5  # a missing count: no information on that feature
        probs = np.clip(freq, PROB_EPS, 1.0 - PROB_EPS)
        return weights, probs

    def _fitted_params(self):
        """(weights, probs) as float64 copies of the fitted attributes, checked.

        The fitted attributes are the truth: constructor parameters changed since the fit
        do not matter until the next ``fit``.  Attributes that contradict each other (set by
        hand, say) raise ValueError.
        """
        check_fitted(self, "probs_")

        def inconsistent(why):
            return ValueError(
                f"The fitted attributes of this BinomialMixture are inconsistent: {why}. "
                "Fit the model again."
            )

        try:
            weights = np.array(self.weights_, dtype=np.float64)
            probs = np.array(self.probs_, dtype=np.float64)
        except (AttributeError, TypeError, ValueError) as exc:
            raise inconsistent(f"they must be numeric arrays ({exc})") from None
        if probs.ndim != 2 or 0 in probs.shape or weights.shape != probs.shape[:1]:
            raise inconsistent(
                f"weights_ has shape {weights.shape} and probs_ {probs.shape}; expected "
                "(n_components,) and (n_components, n_features)"
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not weights.sum() > 0:
            raise inconsistent("weights_ must be finite, non-negative, with a positive sum")
        if not np.all((probs > 0) & (probs < 1)):
            raise inconsistent("probs_ must lie strictly between 0 and 1")
        return weights, probs

    def _warm_params(self, data):
        weights, probs = self._fitted_params()
        k, d = probs.shape
        if (k, d) != (self.n_components, data.n_features):
            raise ValueError(
                f"warm_start=True continues the previous fit (n_components={k}, {d} features), "
                f"but this fit asks for n_components={self.n_components} on data with "
                f"{data.n_features} features. Set warm_start=False to fit from scratch."
            )
        return weights, probs

    def _chunk_stats(self, chunk, params, mode, seed, iteration, labels):
        """The E-step over a chunk (``X``, ``T``, ``w``, ``total_weight`` and the constant
        ``loglik_offset``, its binomial coefficients) at ``params``: a ``BinomialStats``."""
        weights, probs = params
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        nk, sx, st, ll, changed = binomial_pass(
            chunk.X, chunk.T, chunk.w, log_weights, probs, mode, seed, iteration,
            chunk.labels_of(labels), BLOCK, chunk.row0, chunk.missing,
        )
        # (random responsibilities: an initialisation, whose log-likelihood is not used)
        offset = chunk.loglik_offset if mode != RANDOM else 0.0
        return BinomialStats._trusted(nk, sx, st, ll + offset, chunk.total_weight, changed)

    def _m_step(self, params, stats, fit_weights=None):
        weights, probs = params[0].copy(), params[1].copy()
        fit_weights = self.fit_weights if fit_weights is None else fit_weights
        binomial_mstep(stats.nk, stats.sx, stats.st, weights, probs, PROB_EPS, bool(fit_weights))
        if not getattr(self, "fit_probs", True):
            probs = params[1].copy()  # frozen: the initial probabilities, exactly
        return weights, probs

    def _fitted_attributes(self, params, data):
        weights, probs = params
        return {"weights_": weights, "probs_": probs, "n_features_in_": probs.shape[1],
                "n_distinct_rows_": data.n_samples, "_fit_free_weights": bool(self.fit_weights),
                "_fit_groups": (bool(self.fit_weights), bool(getattr(self, "fit_probs", True)))}

    def _n_parameters(self):
        _, probs = self._fitted_params()
        k, d = probs.shape
        free = getattr(self, "_fit_free_weights", self.fit_weights)
        fit_probs = getattr(self, "_fit_groups", (free, True))[1]
        return k * d * fit_probs + (k - 1 if free else 0)

    # ------------------------------------------------------------ public API
    def fit(self, X, y=None, *, trials=None, sample_weight=None):
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features)
            Success counts (non-negative integers, at most ``trials``).
        y : ignored
            Present so that a Pipeline can call ``fit(X, y)``.
        trials : int or array-like broadcastable to X, default=None
            Number of trials per row (shape (n_samples, 1)) or per cell; None: the
            constructor's ``trials``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; weight 2 is the same as repeating the row.

        Returns
        -------
        self : BinomialMixture
        """
        ensure(binomial_fit(self.mode, self.init_params))
        if is_dask_array(X):
            return self._fit_dask(X, trials, sample_weight)
        reader = self._file_reader(X)
        if reader is not None:
            return self._fit_file(reader, trials, sample_weight)
        columns = feature_names(X)
        data = self._prepare(X, trials, sample_weight, for_fit=True)
        self._check_model_params()
        self._check_fit_rows(n_effective_rows(data.w, data.n_samples), data.n_features)
        # Soft and hard EM only depend on a row's counts and weight, so repeated rows can
        # be merged; stochastic EM draws a label per row and must see every row.
        em_data = _compress(data) if self.mode != "stochastic" else None
        return self._fit_em(em_data or data, init_data=data, feature_names=columns)

    def _check_fit_input(self, X, trials=None, sample_weight=None):
        """The checks ``fit`` makes of its data, without fitting (files and dask arrays:
        checked while fitting)."""
        if is_dask_array(X) or self._file_reader(X) is not None:
            return
        self._prepare(X, trials, sample_weight, for_fit=True)

    def _check_fit_rows(self, n_rows, d):
        if n_rows < self.n_components:
            raise ValueError(
                f"X has {n_rows} rows with positive weight but n_components={self.n_components}; "
                "need at least one row per component"
            )
        if self.probs_init is not None:
            self._check_probs_init(d)

    # ------------------------------------------------------------ other data sources
    def _dask_trials(self, trials, X):
        """(trials as a dask array with X's row chunks when per row, else None; the
        trials otherwise), checked against X's shape."""
        from . import _dask

        trials = self.trials if trials is None else trials
        n = X.shape[0]
        if not is_dask_array(trials):
            t = np.asarray(trials) if not np.isscalar(trials) else None
            per_row = t is not None and n > 1 and t.shape[:1] == (n,) and (
                t.ndim == 2 or X.ndim == 1)
            if not per_row:
                d = X.shape[1] if X.ndim == 2 else 1
                _check_trials(trials, np.empty((0, d)), X.shape)  # raises for a wrong shape
                return None, trials
        Td = _dask.like_rows(trials, X, "trials")
        if Td.ndim > 2 or (Td.ndim == 2 and Td.shape[1] not in (1, X.shape[-1])):
            raise ValueError(f"trials must be broadcastable to X's shape {X.shape}; got "
                             f"shape {Td.shape}")
        return Td, None

    def _fit_dask(self, X, trials, sample_weight):
        """``fit`` on dask arrays: every pass runs on the blocks (``fastem._dask``); the
        initialisation sees a bounded sample of rows.  Repeated rows are not merged."""
        from . import _dask

        self._check_model_params()
        _dask.check_dask_X(X, allow_1d=True)
        n, d = X.shape[0], (X.shape[1] if X.ndim == 2 else 1)
        dt = np.float32 if X.dtype == np.float32 else np.float64
        Td, small = self._dask_trials(trials, X)
        wd = _dask.weights_like(sample_weight, X)
        data = _dask.DaskData([X, Td, wd], _dask_chunk, d, dt)
        data.consts = [(small, None, None)] * data.n_blocks
        checks = data.map(_check_dask_block)
        top, total, n_rows = weights_from_checks(checks, n)
        self._check_fit_rows(n_rows, d)
        data.consts = [(small, top, c[3][0] if top is None else c[3][0] / top, c[3][1])
                       for c in checks]
        data.total_weight = total
        # the initialisation's bounded sample (its own generator, as GaussianMixture's)
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else None
        rows = _sources.sample_rows(n_rows, EMPTY_F64, _sources.INIT_SAMPLE_ROWS, np.random.default_rng(seed))
        if n_rows < n:
            rows = _dask.positive_rows(wd)[rows]
        sample = _dask_chunk(0, (small, top, None), X[rows].compute(),
                             None if Td is None else Td[rows].compute(),
                             None if wd is None else wd[rows].compute())
        if rows.shape[0] < n:
            sample.source = data
        return self._fit_em(data, init_data=sample)

    def _file_reader(self, X):
        """A chunked reader for a memmap of counts larger than one chunk, else None."""
        reader = MemmapRows.of(X) if isinstance(X, np.memmap) else None
        if reader is None:
            return None
        check_int(self.chunk_bytes, "chunk_bytes", 1)
        if reader.shape[0] <= reader.chunk_rows(self.chunk_bytes):
            return None
        return reader

    def _file_data(self, reader, trials, w, for_fit=True):
        """The rows of a memory-mapped file of counts as chunks (``_sources.FileData``):
        each chunk's counts checked, and its binomial coefficients summed, when first read."""
        n, d = reader.shape
        T = _check_trials(self.trials if trials is None else trials,
                          np.empty((0, d), reader.dtype), (n, d))
        offsets = {}

        def make(X, lo, hi, first):
            Tc = T[lo:hi] if T.shape[0] > 1 else T
            if first:
                part = _Data(X, Tc, w[lo:hi] if w.shape[0] else w)
                bad = _count_error(X, Tc, lo) or (
                    for_fit and part.missing and _all_missing_error(X, lo))
                if bad:
                    raise ValueError(bad)
                offsets[lo] = (part.loglik_offset, part.missing)
            else:
                part = _Data(X, Tc, w[lo:hi] if w.shape[0] else w, missing=offsets[lo][1])
            part._offset = offsets[lo][0]
            return part

        data = FileData(reader, reader.chunk_rows(self.chunk_bytes), make)
        data.T, data.w = T, w
        data.total_weight = float(n) if w.shape[0] == 0 else float(w.sum())
        return data

    def _fit_file(self, reader, trials, sample_weight):
        n, d = reader.shape
        self._check_model_params()
        w = check_sample_weight(sample_weight, n)
        self._check_fit_rows(n_effective_rows(w, n), d)
        data = self._file_data(reader, trials, w)
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else None
        rows = _sources.sample_rows(n, w, _sources.INIT_SAMPLE_ROWS, np.random.default_rng(seed))
        Xs = reader.rows(rows)
        Ts = data.T[rows] if data.T.shape[0] > 1 else data.T
        bad = _count_error(Xs, Ts, rows=rows) or _all_missing_error(Xs, rows=rows)
        if bad:
            raise ValueError(bad)
        sample = _Data(Xs, Ts, w[rows] if w.shape[0] else w)
        if rows.shape[0] < n:
            sample.source = data
        return self._fit_em(data, init_data=sample)

    # ------------------------------------------------------------ statistics
    def e_step_stats(self, X, y=None, *, trials=None, sample_weight=None):
        """Sufficient statistics of a (soft) E-step over the rows of ``X`` at the fitted
        parameters; they add up over disjoint sets of rows, and :meth:`m_step` turns a
        sum into new parameters (see ``GaussianMixture.e_step_stats``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Counts.
        y : ignored
        trials : int or array-like, default=None
            As in :meth:`fit` (None: the constructor's ``trials``).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        stats : fastem.BinomialStats
            ``stats.loglik`` is the weighted log-likelihood of the rows at the fitted
            parameters, binomial coefficients included.
        """
        params = self._fitted_params()
        ensure(binomial_fit("soft", "given"))
        data = self._prepare(X, trials, sample_weight, n_features=params[1].shape[1],
                             scale_weights=False)  # chunks must add up
        return self._chunk_stats(data, params, SOFT, 0, 0, EMPTY_I32)

    def m_step(self, stats):
        """Replace ``weights_`` and ``probs_`` by those that ``stats`` (a
        :class:`fastem.BinomialStats` of this model's shape, usually a sum of
        :meth:`e_step_stats` over all the data) give; weights stay fixed if the fit had
        ``fit_weights=False``.  Components with no weight keep their probabilities.
        Nothing changes if this raises.  Returns ``self``.
        """
        params = self._fitted_params()
        shape = params[1].shape

        def mismatch(stats):
            return (f"these statistics are of a model with {stats.sx.shape[0]} components and "
                    f"{stats.sx.shape[1]} features; this model has {shape[0]} and {shape[1]}")

        ok = isinstance(stats, BinomialStats) and stats.sx.shape == shape
        return self._m_step_from(stats, params, BinomialStats, None if ok else mismatch)

    def _apply_m_step(self, stats, params=None):
        params = self._fitted_params() if params is None else params
        free = getattr(self, "_fit_free_weights", self.fit_weights)
        weights, probs = self._m_step(params, stats, bool(free))
        self.__dict__.update(weights_=weights, probs_=probs)

    def partial_fit(self, X, y=None, *, trials=None, sample_weight=None):
        """Online EM: update the parameters from one batch of counts (stepwise EM; see
        ``GaussianMixture.partial_fit``).  The first call on an unfitted model fits the
        batch by ordinary EM; the updates are soft EM whatever ``mode``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        trials : int or array-like, default=None
            As in :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : BinomialMixture
        """
        def fit_first():
            self.fit(X, trials=trials, sample_weight=sample_weight)

        def batch_stats():
            return self.e_step_stats(X, trials=trials, sample_weight=sample_weight)

        return self._partial_fit(fit_first, batch_stats, self._apply_m_step)

    def fit_predict(self, X, y=None, *, trials=None, sample_weight=None):
        """Fit, then label ``X`` with a final E-step: equals ``fit(X).predict(X)``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X, trials=trials, sample_weight=sample_weight).predict(X, trials=trials)

    def _rows(self, X, trials, ll=False, resp=False, labels=False, coef=True):
        weights, probs = self._fitted_params()
        ensure(binomial_rows_names())
        if is_dask_array(X):
            return self._rows_dask(X, trials, probs.shape, ll, resp, labels)
        reader = self._file_reader(X)
        if reader is not None:
            if reader.shape[1] != probs.shape[1]:
                raise wrong_features(np.empty((0, reader.shape[1])), probs.shape[1], self)
            data = self._file_data(reader, trials, EMPTY_F64, for_fit=False)
        else:
            data = self._prepare(X, trials, n_features=probs.shape[1])
        n, k = data.n_samples, probs.shape[0]
        out_ll = np.empty(n) if ll else EMPTY_F64
        out_resp = np.empty((n, k)) if resp else _EMPTY_2D
        out_lab = np.empty(n, dtype=np.int64) if labels else _EMPTY_I64
        with np.errstate(divide="ignore"):
            log_weights = np.log(weights)
        for part in data.chunks():  # one chunk in memory; a file's chunks one by one
            lo, hi = part.row0, part.row0 + part.n_samples
            args = (part.X, part.T, log_weights, probs, coef, out_ll[lo:hi] if ll else out_ll,
                    out_resp[lo:hi] if resp else out_resp,
                    out_lab[lo:hi] if labels else out_lab, _EMPTY_2D, part.missing)
            if (hi - lo) * k >= _INTERRUPTIBLE_CELLS:
                run_interruptibly(binomial_rows, *args)
            else:  # a thread costs more than the call
                binomial_rows(*args)
        return out_ll, out_resp, out_lab

    def _rows_dask(self, X, trials, shape, ll, resp, labels):
        """``_rows`` of dask arrays: the asked-for output as a lazy dask array."""
        from . import _dask

        _dask.check_dask_X(X, allow_1d=True)
        d = X.shape[1] if X.ndim == 2 else 1
        if d != shape[1]:
            raise wrong_features(np.empty((0, d)), shape[1], self)
        Td, small = self._dask_trials(trials, X)
        index = 0 if ll else (1 if resp else 2)
        kwargs = {("ll", "resp", "labels")[index]: True}
        if Td is None:
            kwargs["trials"] = small
        dt = np.dtype(np.int64) if labels else np.dtype(np.float64)
        out = _dask.lazy_rows(self, [X] + ([Td] if Td is not None else []), index, kwargs,
                              shape[0], dt)
        return tuple(out if i == index else None for i in range(3))

    def score_samples(self, X, *, trials=None):
        """Per-row log-likelihood, binomial coefficients included.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        return self._rows(X, trials, ll=True)[0]

    def predict_proba(self, X, *, trials=None):
        """Posterior probability of each component for each row.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
        """
        return self._rows(X, trials, resp=True)[1]

    def predict(self, X, *, trials=None):
        """Most probable component of each row.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self._rows(X, trials, labels=True)[2]

    def score(self, X, y=None, *, trials=None):
        """Mean per-row log-likelihood of ``X`` (``y`` ignored)."""
        return super().score(X, trials=trials)

    def bic(self, X, *, trials=None, sign="sklearn"):
        """Bayesian information criterion of the fitted model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        trials : see :meth:`fit`
        sign : {"sklearn", "mclust"}, default="sklearn"
            "sklearn": ``-2 log L + p log n``, lower is better (scikit-learn's
            convention; L the likelihood, p the number of free parameters);
            "mclust": the same number negated, higher is better (R mclust's).

        Returns
        -------
        bic : float
        """
        return super().bic(X, trials=trials, sign=sign)

    def aic(self, X, *, trials=None, sign="sklearn"):
        """Akaike information criterion of the fitted model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        trials : see :meth:`fit`
        sign : {"sklearn", "mclust"}, default="sklearn"
            "sklearn": ``-2 log L + 2 p``, lower is better (scikit-learn's
            convention; L the likelihood, p the number of free parameters);
            "mclust": the same number negated, higher is better (R mclust's).

        Returns
        -------
        aic : float
        """
        return super().aic(X, trials=trials, sign=sign)

    def icl(self, X, *, trials=None, sign="sklearn"):
        """Integrated completed likelihood of the fitted model on ``X``: BIC penalised
        by the entropy of the MAP classification (Biernacki, Celeux & Govaert 2000; R
        mclust's ``icl``), so ``icl >= bic``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        trials : see :meth:`fit`
        sign : {"sklearn", "mclust"}, default="sklearn"
            "sklearn": ``bic - 2 sum_i log max_c p(c | x_i)``, lower is better (scikit-learn's
            convention; L the likelihood, p the number of free parameters);
            "mclust": the same number negated, higher is better (R mclust's).

        Returns
        -------
        icl : float
        """
        return super().icl(X, trials=trials, sign=sign)

    def sample(self, n_samples=1, *, trials=None, random_state=None):
        """Draw rows from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
        trials : int or array-like broadcastable to (n_samples, n_features), default=None
            None: the constructor's ``trials``.
        random_state : int, Generator or RandomState, default=None
            Defaults to the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), int64
        labels : ndarray of shape (n_samples,)
            Component of each row, in draw order.
        """
        weights, probs = self._fitted_params()
        n_samples = check_n_samples(n_samples)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        k, d = probs.shape
        T = as_float_array(self.trials if trials is None else trials, "trials")
        try:
            T = np.broadcast_to(T, (n_samples, d))
        except ValueError:
            raise ValueError(
                f"trials must be broadcastable to ({n_samples}, {d}); got shape {T.shape}"
            ) from None
        if not np.all(np.isfinite(T)) or np.any(T < 1) or np.any(T != np.floor(T)):
            raise ValueError("trials must be integers >= 1")
        labels = rng.choice(k, size=n_samples, p=weights / weights.sum())
        X = rng.binomial(T.astype(np.int64), probs[labels])
        return X, labels
