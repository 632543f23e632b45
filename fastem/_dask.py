"""Dask arrays as a data source: every pass runs on the blocks, where they are.

A model's data on Dask is a set of dask arrays with the same row chunks (X, and the
sample weights or trials when they are arrays), one chunk along the features.  A pass
is one task per row block: the task builds the model's chunk from its blocks
(``make(row0, const, *blocks)``; ``row0`` is the block's first row in the whole data, so
stochastic draws are keyed by global row, and ``const`` something computed once per
block, e.g. the binomial coefficients' sum) and returns what ``fn(chunk, labels)`` gives:
small statistics.  The client adds them in block order, so a fixed chunking gives the
same bits on any scheduler and any number of workers, and another chunking differs only
by rounding.  The data never travel to the client.

Hard EM keeps each block's labels where the block's task ran: a pass's results are
persisted (``dask.persist``) and only their statistics are computed; the next pass's
tasks take the labels from there.

Each block task runs its kernels on one thread (``threads_per_pass(1)``): Dask already
runs one task per worker thread, and the blocks' statistics do not depend on it.
Compiled kernels load from Numba's on-disk cache in each worker process (the client
compiles anything missing before the first pass), once per process, not per task.

dask is imported only here, and only when a dask array is passed.
"""

import numpy as np

from ._passes import threads_per_pass

EMPTY_I32 = np.empty(0, dtype=np.int32)


def is_dask_array(X):
    """True for a ``dask.array.Array`` (told without importing dask)."""
    t = type(X)
    return t.__name__ == "Array" and t.__module__.split(".")[0] == "dask"


def as_dask(x):
    """``x`` itself if it is a dask array, else None."""
    return x if is_dask_array(x) else None


def check_dask_X(X, name="X", allow_1d=False):
    """The row chunks of a dask array that a model can take, or a ValueError that says
    why not: a known number of rows in every chunk, one chunk along the features, numeric."""
    if X.ndim not in ((1, 2) if allow_1d else (2,)):
        want = "1-D (n_samples,) or 2-D" if allow_1d else "a 2-D"
        raise ValueError(f"Expected {want} dask array (n_samples, n_features) for {name}; got "
                         f"{X.ndim}-D with shape {X.shape}")
    if any(np.isnan(c) for axis in X.chunks for c in axis):
        raise ValueError(
            f"{name} is a dask array with unknown chunk sizes (after boolean indexing, say); "
            f"call {name}.compute_chunk_sizes() first, or {name} = {name}.persist() then that")
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        raise ValueError(
            f"{name} is a dask array split along the features into {len(X.chunks[1])} chunks; "
            f"each block must hold whole rows: {name} = {name}.rechunk({{1: -1}})")
    if X.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} must be real-valued; got dtype "
                         f"{X.dtype}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; got a dask array of dtype {X.dtype}")
    if 0 in X.shape:
        raise ValueError(f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a "
                         "minimum of 1 is required.")
    return X.chunks[0]


def like_rows(a, X, name):
    """``a`` (a dask array or a NumPy-like one with X's number of rows) as a dask array
    with the row chunks of X."""
    import dask.array as da

    if not is_dask_array(a):
        a = np.asarray(a)
        if a.shape[:1] != X.shape[:1]:
            raise ValueError(f"{name} must have {X.shape[0]} rows, one per row of X; got shape "
                             f"{a.shape}")
        return da.from_array(a, chunks=(X.chunks[0],) + tuple((s,) for s in a.shape[1:]))
    if a.shape[:1] != X.shape[:1]:
        raise ValueError(f"{name} must have {X.shape[0]} rows, one per row of X; got shape "
                         f"{a.shape}")
    if any(np.isnan(c) for axis in a.chunks for c in axis):
        raise ValueError(f"{name} is a dask array with unknown chunk sizes; call "
                         f"{name}.compute_chunk_sizes() first")
    chunks = (X.chunks[0],) + tuple((s,) for s in a.shape[1:])
    return a if a.chunks == chunks else a.rechunk(chunks)


def weights_like(sample_weight, X):
    """``sample_weight`` (None, or NumPy or dask, one weight per row) as a dask vector with
    X's row chunks, or None."""
    if sample_weight is None:
        return None
    w = like_rows(sample_weight, X, "sample_weight")
    if w.ndim != 1:
        raise ValueError(f"sample_weight must have shape ({X.shape[0]},), one weight per row "
                         f"of X; got {w.shape}")
    return w


def _block_task(fn, make, row0, const, hard, labels, *blocks):
    with threads_per_pass(1):
        chunk = make(row0, const, *blocks)
        if not hard:
            return fn(chunk, EMPTY_I32)
        labels = (np.full(chunk.n_samples, -1, dtype=np.int32) if labels is None
                  else labels.copy())  # a task's input is not changed
        return fn(chunk, labels), labels


def _first(pair):
    return pair[0]


def _second(pair):
    return pair[1]


class DaskData:
    """The driver's view of data in dask arrays (see the module docstring).

    ``arrays``: dask arrays with the same row chunks, or None for an absent one (its
    block is None); ``make``: picklable ``make(row0, const, *blocks)`` -> a chunk; the
    model sets ``total_weight`` and anything else it needs.
    """

    row0 = 0

    def __init__(self, arrays, make, n_features, dtype):
        first = next(a for a in arrays if a is not None)
        rows = tuple(int(r) for r in first.chunks[0])
        self.n_samples, self.n_features, self.dtype = int(sum(rows)), n_features, dtype
        self.block_rows = rows
        self.starts = [0] + list(np.cumsum(rows)[:-1].tolist())
        self.n_blocks = len(rows)
        self.make = make
        self.consts = [None] * self.n_blocks
        self._blocks = [
            [None] * self.n_blocks if a is None else list(a.to_delayed().ravel())
            for a in arrays
        ]

    def new_labels(self):
        """Hard EM's labels: none yet (every row -1), kept per block."""
        return [None] * self.n_blocks

    def _tasks(self, fn, labels, hard):
        import dask

        fn_node, make_node = dask.delayed(fn), dask.delayed(self.make)  # one copy each
        task = dask.delayed(_block_task, pure=False)
        return [
            task(fn_node, make_node, self.starts[b], self.consts[b], hard,
                 labels[b] if hard else None, *(blocks[b] for blocks in self._blocks))
            for b in range(self.n_blocks)
        ]

    def map(self, fn):
        """``fn(chunk, EMPTY_I32)`` of every block, computed, in block order (a list)."""
        import dask

        return list(dask.compute(*self._tasks(fn, None, False)))

    def reduce(self, fn, labels=EMPTY_I32):
        """(the sum over blocks, in block order, of ``fn(chunk, labels of the chunk)``,
        the labels after it): ``labels`` a list from :meth:`new_labels` for hard EM."""
        import dask

        hard = isinstance(labels, list)
        parts = self._tasks(fn, labels, hard)
        if hard:
            parts = list(dask.persist(*parts))
            results = dask.compute(*(dask.delayed(_first)(p) for p in parts))
            labels = [dask.delayed(_second)(p) for p in parts]
        else:
            results = dask.compute(*parts)
        total = None
        for r in results:
            total = r if total is None else total + r
        return total, labels


def _rows_block(*args):
    *blocks, model, index, kwargs = args
    with threads_per_pass(1):
        return model._rows(*blocks, **kwargs)[index]


def lazy_rows(model, arrays, index, kwargs, n_components, dtype):
    """A per-row output of ``model._rows`` over dask arrays (X first, then the per-row
    arrays ``_rows`` takes positionally after it), as a lazy dask array with X's row
    chunks: ``index`` 0 (log-likelihoods), 1 (posteriors, (n, k)) or 2 (labels).  The
    blocks see a copy of the model as it is now: a later fit does not change them."""
    import copy

    import dask.array as da

    X = arrays[0]
    snapshot = copy.deepcopy(model)
    ndim = len(X.chunks)
    if index == 1:
        extra = {"chunks": (X.chunks[0], (n_components,))}
        if ndim == 1:
            extra["new_axis"] = 1
    else:
        extra = {"chunks": (X.chunks[0],)}
        if ndim == 2:
            extra["drop_axis"] = 1
    return da.map_blocks(_rows_block, *arrays, snapshot, index, kwargs, dtype=dtype,
                         meta=np.empty((0,) * (2 if index == 1 else 1), dtype), **extra)


def positive_rows(w):
    """Indices of the rows of positive weight of a dask weight vector (computed)."""
    import dask.array as da

    return np.asarray(da.flatnonzero(w > 0).compute(), dtype=np.int64)
