"""k-means (Lloyd's algorithm) on fastem's compiled Lloyd pass, with scikit-learn's
conventions and stopping rule.

From the same initial centres, ``fastem.KMeans`` follows scikit-learn's
``KMeans(algorithm="lloyd")``: each iteration assigns every row to its nearest centre
(the first of equal ones) and moves each centre to the weighted mean of its rows; an empty
cluster gets the row farthest from its centre (scikit-learn's relocation), and one still
empty after that sits on the centre of the heaviest cluster (where scikit-learn 1.9 means
to put it: its code puts one of lower index than the heaviest on that cluster's weighted
sum of X less its mean, which fastem does not copy).  The run stops when no label changes
("strict convergence"; as in scikit-learn, the labels are then those of the last pass,
even when that pass relocated a row to an empty cluster) or when the squared shift of the
centres is at most ``tol`` times the mean variance of the features; without strict
convergence the labels are assigned once more to the final centres.  Distances and sums are accumulated in
float64 (scikit-learn computes float32 data in float32).

The passes are ``fastem._passes.LloydShadow``: a fit keeps a float32 copy of X,
transposed (4 n d bytes, made once), and each pass scores every row from it in float32,
twice the vector lanes and half the bytes of float64; a row goes by those scores only
when the gap between its two least exceeds twice a bound on their rounding error, so
that float64 scores would pick the same centre, and the other rows (ties, near ties,
values beyond float32's comfortable range) are scored in float64.  Above
``_SHADOW_MAX_BYTES`` (2 GiB of copy) the passes are ``fastem._passes.LloydBounds``,
from X itself: a per-row lower bound on the distances to the other centres (Hamerly's)
lets a pass skip the scores of rows whose centre cannot have changed.  Either keeps the
per-block sums between passes (from the float64 rows) and moves only the rows that change
cluster.  The iterations are Lloyd's all the same (tested against scikit-learn, the
reference pass, and each other).
"""

import numpy as np

from ._base import BaseEstimator, TransformerOutput
from ._em import run_interruptibly
from ._passes import (KMeansShadow, LloydBounds, LloydShadow, block_rows, check_finite,
                      column_moments, inertia, kmeanspp, lloyd_pass)
from ._validation import (
    EMPTY_F64,
    as_float_array,
    check_choice,
    check_feature_names,
    check_fitted,
    check_int,
    check_not_empty,
    check_random_state,
    check_real,
    check_sample_weight,
    feature_names,
    set_feature_names,
    wrong_features,
)

INITS = ("k-means++", "random")
ALGORITHMS = ("lloyd", "elkan")
# The largest float32 copy of X a fit makes for its passes (see KMeans' Notes); above
# it, the passes read X itself and skip rows by Hamerly's bounds.
_SHADOW_MAX_BYTES = 2 << 30
_SLICE = 1 << 15  # rows per slice of the NumPy passes (no n x d temporaries)


def _check_X(X, n_features=None, who=None):
    """X as a finite C-contiguous float array; ``who``: the fitted model that will use it
    (its number of features ``n_features`` and column names are checked)."""
    if who is not None:
        check_feature_names(who, X)
    X = as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array (n_samples, n_features), got {X.ndim}-D "
                         f"with shape {X.shape}. Reshape your data with X.reshape(-1, 1) "
                         "for a single feature or X.reshape(1, -1) for a single sample.")
    check_not_empty(X, X.shape)
    if n_features is not None and X.shape[1] != n_features:
        raise wrong_features(X, n_features, who)
    X = np.ascontiguousarray(X)
    i, j = check_finite(X)  # compiled, in one read: no (n, d) mask
    if i >= 0:
        raise ValueError(f"X contains NaN or infinity (k-means needs every cell): X[{i}, "
                         f"{j}] is {X[i, j]}")
    return X


def _sq_distances_to(X, centers, labels):
    """||x_i - centers[labels_i]||^2 per row, in slices."""
    out = np.empty(X.shape[0])
    for lo in range(0, X.shape[0], _SLICE):
        part = X[lo:lo + _SLICE].astype(np.float64)
        diff = part - centers[labels[lo:lo + _SLICE]]
        out[lo:lo + _SLICE] = np.einsum("ij,ij->i", diff, diff)
    return out


def _nearest(X, centers):
    """The index of each (checked) row's nearest centre."""
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    lloyd_pass(X, EMPTY_F64, centers, labels, block_rows(X.shape[0], *centers.shape, 0))
    return labels


def _moves(old, new):
    """How far each centre moved (k,), and half the distance from each new centre to the
    nearest other (k,; inf for one centre), widened and narrowed by more than their
    rounding so that the bounds they update stay bounds."""
    shift = np.sqrt(((new - old) ** 2).sum(axis=1)) * (1 + 1e-9)
    k, d = new.shape
    sq = (new ** 2).sum(axis=1)
    sep = np.full(k, np.inf)
    for lo in range(0, k, 512):  # (512, k) at a time: no k x k array for many clusters
        part = new[lo:lo + 512]
        g = sq[lo:lo + 512, None] + sq[None, :] - 2.0 * (part @ new.T)
        # less the rounding of the Gram form, a multiple of eps (||c_i||^2 + ||c_j||^2)
        g -= (4 * d + 16) * 2.3e-16 * (sq[lo:lo + 512, None] + sq[None, :])
        g[np.arange(part.shape[0]), np.arange(lo, lo + part.shape[0])] = np.inf
        sep[lo:lo + 512] = np.sqrt(np.maximum(g.min(axis=1), 0.0))
    return shift, 0.5 * sep * (1 - 1e-9)


class KMeans(TransformerOutput, BaseEstimator):
    """k-means clustering by Lloyd's algorithm, compiled and parallel over fixed blocks of
    rows (thread-count-independent results).

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random"} or array-like of shape (n_clusters, n_features)
        "k-means++": greedy k-means++ seeding (2 + log k trials per centre) on a random
        subset of at most 50,000 rows; "random": distinct random rows; an array: the
        initial centres (then one run, whatever ``n_init``).
    n_init : int or "auto", default=1
        Runs from different seeds; the one with the lowest inertia is kept.  "auto" is
        scikit-learn's (its default): 10 runs for ``init="random"``, else 1.
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative to the mean variance of the features, as scikit-learn's: a run stops when
        the squared Frobenius norm of the centres' shift is at most
        ``tol * mean(X.var(axis=0))``.
    random_state : int, Generator, RandomState or None, default=None
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        Accepted so that scikit-learn code runs unchanged: both give Lloyd's iterations
        (Elkan's algorithm is Lloyd's with distance bounds; fastem's passes use bounds of
        their own whatever this says).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
    inertia_ : float
        Sum of the (weighted) squared distances of the rows to their centres.
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The column names of a data frame ``X`` whose names are all strings (only then).
        ``predict``, ``transform`` and ``score`` check them as scikit-learn does.

    Notes
    -----
    ``fit`` keeps a transposed float32 copy of X for its passes (4 bytes per cell, up to
    2 GiB; scikit-learn's Lloyd keeps a centred float64 copy, 8 bytes per cell); the
    labels and centres are those of float64 distances all the same (see the module's
    docstring).

    ``transform`` follows ``set_output`` (scikit-learn's ``Pipeline(...).set_output``
    and its global ``transform_output``): a DataFrame with the columns
    ``get_feature_names_out()`` ("kmeans0", "kmeans1", ...).
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init=1, max_iter=300, tol=1e-4,
                 random_state=None, algorithm="lloyd"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.algorithm = algorithm

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(estimator_type="clusterer", target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags(), non_deterministic=(
                        self.random_state is None and isinstance(self.init, str)),
                    requires_fit=True, input_tags=InputTags(two_d_array=True, sparse=False))

    # ------------------------------------------------------------------ fitting
    def _initial_centers(self, X, w, k, rng):
        init = self.init
        rows = np.arange(X.shape[0]) if not w.shape[0] else np.flatnonzero(w)
        if rows.shape[0] < k:
            raise ValueError(f"n_samples={rows.shape[0]} rows of positive weight should be "
                             f">= n_clusters={k}")
        if init == "random":
            return X[rng.choice(rows, size=k, replace=False)].astype(np.float64)
        if rows.shape[0] > 50_000:
            rows = np.sort(rng.choice(rows, size=50_000, replace=False))
        n_trials = 2 + int(np.log(k))
        uniforms = rng.random(1 + (k - 1) * n_trials)
        return X[kmeanspp(X, rows.astype(np.int64), w, k, n_trials, uniforms)].astype(
            np.float64)

    def _lloyd(self, X, w, centers, tol, shadow=None):
        """One run from ``centers``: (centres, labels (int32), inertia, iterations).

        With a ``shadow`` (the float32 copy of X) each pass scores every row in float32
        and settles in float64 those it cannot prove (``_kk.lloyd_shadow_blocks``);
        without, each pass skips the scores of rows whose bound proves their centre
        unchanged (Hamerly's bound, ``_kk.lloyd_bounded_blocks``).  Either moves only the
        changed rows in the per-block sums: the same iterations as a pass over every row."""
        n, d = X.shape
        k = centers.shape[0]
        block = block_rows(n, k, d, 0)
        state = (LloydBounds(n, k, d, block) if shadow is None
                 else LloydShadow(shadow, n, k, d, block))
        shift = half = np.zeros(k)
        strict = False
        it = 0
        for it in range(1, max(1, self.max_iter) + 1):
            old = centers
            cnt, sums, changed = state.step(X, w, old, shift, half)
            empty = np.flatnonzero(cnt == 0)
            if empty.shape[0]:
                cnt, sums = self._relocate(X, w, old, state.labels, cnt, sums, empty)
                state.fresh = True  # the kept sums no longer follow the labels
            centers = np.empty_like(old)
            full = cnt > 0
            centers[full] = sums[full] / cnt[full, None]
            if not full.all():  # more clusters than distinct rows: as scikit-learn
                centers[~full] = centers[int(np.argmax(cnt))]
            if changed == 0:
                strict = True
                break
            shift, half = _moves(old, centers)
            if float(((centers - old) ** 2).sum()) <= tol:
                break
        labels = state.labels
        if not strict:  # the labels of the final centres
            state.step(X, w, centers, shift, half)
        return centers, labels, inertia(X, w, centers, labels, block), it

    @staticmethod
    def _relocate(X, w, old, labels, cnt, sums, empty):
        """scikit-learn's relocation of empty clusters: each takes one of the rows farthest
        from their centres (farthest first), which leaves its old cluster."""
        dist = _sq_distances_to(X, old, labels)
        if dist.max() == 0:
            return cnt, sums
        far = np.argpartition(dist, -empty.shape[0])[:-empty.shape[0] - 1:-1]
        cnt, sums = cnt.copy(), sums.copy()
        for new_c, i in zip(empty, far):
            wi = w[i] if w.shape[0] else 1.0
            x = X[i].astype(np.float64)
            sums[labels[i]] -= x * wi
            cnt[labels[i]] -= wi
            sums[new_c] = x * wi
            cnt[new_c] = wi
        return cnt, sums

    def fit(self, X, y=None, sample_weight=None):
        """Cluster ``X``; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
        """
        k = check_int(self.n_clusters, "n_clusters", 1)
        if isinstance(self.n_init, str) and self.n_init == "auto":
            n_init = 10 if isinstance(self.init, str) and self.init == "random" else 1
        else:
            n_init = check_int(self.n_init, "n_init", 1)
        check_choice(self.algorithm, "algorithm", ALGORITHMS)
        check_int(self.max_iter, "max_iter", 1)
        tol = check_real(self.tol, "tol", 0.0)
        columns = feature_names(X)
        X = _check_X(X)
        w = check_sample_weight(sample_weight, X.shape[0], scale=False)
        if w.shape[0] and not w.max() > 0:
            raise ValueError("sample_weight is zero for every row; it must have a positive sum")
        rng = check_random_state(self.random_state)
        given = not isinstance(self.init, str)
        if given:
            centers0 = np.array(as_float_array(self.init, "init"), dtype=np.float64)
            if centers0.shape != (k, X.shape[1]):
                raise ValueError(f"init must have shape ({k}, {X.shape[1]}); got "
                                 f"{centers0.shape}")
            if not np.all(np.isfinite(centers0)):
                raise ValueError("init contains NaN or infinity")
            n_init = 1
        elif self.init not in INITS:
            raise ValueError(f"init must be one of {INITS} or an array; got {self.init!r}")
        if X.shape[0] < k:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={k}")
        # scikit-learn's scale: the mean of the columns' (unweighted) variances (none for
        # tol=0, as there); the compiled two-pass moments need no (n, d) temporary, as
        # np.var would
        tol_abs = 0.0
        if tol > 0:
            tol_abs = tol * float(np.mean(column_moments(
                X, EMPTY_F64, block_rows(X.shape[0], k, X.shape[1], 0))[1]))

        shadow = None  # (its centre numbers are float32 in the scores: exact below 2**24)
        if 4 * X.shape[0] * X.shape[1] <= _SHADOW_MAX_BYTES and k < 2**24:
            try:
                shadow = KMeansShadow(X, block_rows(X.shape[0], k, X.shape[1], 0))
            except MemoryError:  # the copy is for speed: the bounded passes need none
                shadow = None

        def runs():
            best = None
            for _ in range(n_init):
                start = centers0 if given else self._initial_centers(X, w, k, rng)
                result = self._lloyd(X, w, start, tol_abs, shadow)
                if best is None or result[2] < best[2]:
                    best = result
            return best

        centers, labels, total, n_iter = run_interruptibly(runs)
        self.cluster_centers_ = centers.astype(X.dtype)
        self.labels_ = labels.astype(np.int32)
        self.inertia_ = total
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = X.shape[1]
        set_feature_names(self, columns)
        return self

    # ------------------------------------------------------------------ using
    def _centers(self):
        check_fitted(self, "cluster_centers_")
        return np.asarray(self.cluster_centers_, dtype=np.float64)

    def predict(self, X):
        """Index of the nearest centre of each row. Returns ndarray of shape (n_samples,)."""
        centers = self._centers()
        return _nearest(_check_X(X, centers.shape[1], self), centers)

    def fit_predict(self, X, y=None, sample_weight=None):
        """``fit(X).labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Euclidean distance of each row to each centre: ndarray (n_samples, n_clusters)
        (or a DataFrame: see ``set_output``)."""
        return self._wrap(self._distances(X), X)

    def _distances(self, X):
        centers = self._centers()
        X = _check_X(X, centers.shape[1], self)
        out = np.empty((X.shape[0], centers.shape[0]))
        for lo in range(0, X.shape[0], _SLICE):
            part = X[lo:lo + _SLICE].astype(np.float64)
            diff = part[:, None, :] - centers[None]
            out[lo:lo + _SLICE] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        return out.astype(X.dtype, copy=False)

    def fit_transform(self, X, y=None, sample_weight=None):
        """``fit(X).transform(X)``."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def get_feature_names_out(self, input_features=None):
        """Names of ``transform``'s columns: "kmeans0" ... "kmeans{k-1}" (object array).

        ``input_features``, if given, must be the fitted column names
        (``feature_names_in_``), or have ``n_features_in_`` entries when there are none.
        """
        k = self._centers().shape[0]
        if input_features is not None:
            given = np.asarray(input_features, dtype=object)
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and (given.shape != fitted.shape
                                       or not np.all(given == fitted)):
                raise ValueError(f"input_features is not equal to feature_names_in_ "
                                 f"({list(fitted)}); got {list(given)}")
            if given.ndim != 1 or given.shape[0] != self.n_features_in_:
                raise ValueError(f"input_features should have length equal to the number "
                                 f"of features ({self.n_features_in_}); got "
                                 f"{given.shape[0] if given.ndim else given}")
        return np.array([f"kmeans{i}" for i in range(k)], dtype=object)

    def score(self, X, y=None, sample_weight=None):
        """Minus the (weighted) inertia of ``X`` at the fitted centres."""
        centers = self._centers()
        X = _check_X(X, centers.shape[1], self)
        w = check_sample_weight(sample_weight, X.shape[0], scale=False)
        return -inertia(X, w, centers, _nearest(X, centers), block_rows(X.shape[0],
                                                                          *centers.shape, 0))

    def save(self, path):
        """Write this model to ``path`` as JSON (``fastem.load`` reads it)."""
        from . import io

        io.save(self, path)
