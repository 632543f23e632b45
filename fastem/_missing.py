"""Missing values (NaN cells): the rows of a chunk grouped by their pattern of missing cells.

EM with missing data factorises, per iteration, the observed block of each component's
covariance once per (pattern, component), then runs over the rows of each pattern; the
pattern index here is built once per fit, in slices of rows so that no temporary of
size n x d exists (the masks are packed to bits first), and holds only int arrays of
size n (the rows in pattern order) and the patterns themselves.
"""

import numpy as np

_SLICE = 1 << 16  # rows per slice of the mask packing
_MAX_COMPILED_D = 62  # a row's NaN mask fits an int64 key


class PatternIndex:
    """Rows of X grouped by their pattern of missing (NaN) cells.

    Attributes
    ----------
    patterns : ndarray of bool, shape (n_patterns, n_features)
        True where a cell is missing; patterns in the order of their first row.
    rows : ndarray of int64, shape (n_samples,)
        Row indices, pattern by pattern; within a pattern in increasing order.
    starts : ndarray of int64, shape (n_patterns + 1,)
        Pattern ``p`` holds ``rows[starts[p]:starts[p + 1]]``.
    """

    def __init__(self, patterns, rows, starts):
        self.patterns, self.rows, self.starts = patterns, rows, starts

    @property
    def n_patterns(self):
        return self.patterns.shape[0]

    @classmethod
    def of(cls, X):
        """The pattern index of a 2-D float array X (NaN = missing)."""
        n, d = X.shape
        if d <= _MAX_COMPILED_D and X.dtype in (np.float32, np.float64):
            return cls._compiled(X)
        return cls._packed(X)

    @classmethod
    def _compiled(cls, X):
        """One compiled pass with a hash table of the rows' NaN bit masks, then a
        counting sort: O(n d), no sort of n keys."""
        from ._kernels import gaussian_missing as kgm
        from ._kernels._jit import prepared
        from ._passes import slots

        n, d = X.shape
        label = np.empty(n, dtype=np.int64)
        first = np.empty(max(1, min(n, 1 << d)), dtype=np.int64)
        bits = max(4, int(np.ceil(np.log2(2 * first.shape[0]))))  # table at most half full
        n_pat = int(prepared(kgm.group_rows, kgm.GROUP_SIGNATURE)(*slots(X), bits, label,
                                                                    first))
        starts = np.zeros(n_pat + 1, dtype=np.int64)
        np.cumsum(np.bincount(label, minlength=n_pat), out=starts[1:])
        rows = np.empty(n, dtype=np.int64)
        prepared(kgm.place_rows, kgm.PLACE_SIGNATURE)(label, starts, rows)
        patterns = np.isnan(X[first[:n_pat]])
        return cls(patterns, rows, starts)

    @classmethod
    def _packed(cls, X):
        """Any width: the masks packed to bytes, grouped by a sort."""
        n, d = X.shape
        width = (d + 7) // 8
        packed = np.empty((n, width), dtype=np.uint8)
        for lo in range(0, n, _SLICE):
            hi = min(n, lo + _SLICE)
            packed[lo:hi] = np.packbits(np.isnan(X[lo:hi]), axis=1)
        # one opaque value per row: its packed mask, compared as bytes
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, width))).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        # number the patterns in the order of their first row (deterministic, readable)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.shape[0])
        label = rank[inverse.ravel()]
        rows = np.argsort(label, kind="stable").astype(np.int64)
        counts = np.bincount(label, minlength=order.shape[0])
        starts = np.zeros(order.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        patterns = np.unpackbits(packed[first[order]], axis=1, count=d).astype(bool)
        return cls(patterns, rows, starts)

    def fully_missing(self):
        """Indices of the patterns with every cell missing."""
        return np.flatnonzero(self.patterns.all(axis=1))


class MissingPlan:
    """How the missing-data kernel visits a chunk's rows: its ``PatternIndex`` cut into
    segments (rows of one pattern within one block of ``block`` positions), and the
    blocks' first segments.  The blocks depend on the data and ``block`` only, never on
    the thread count.

    Attributes
    ----------
    index : PatternIndex
    perm : ndarray of int64, shape (n_patterns, n_features)
        A pattern's observed columns, then its missing ones, each in increasing order.
    n_obs : ndarray of int64, shape (n_patterns,)
    """

    def __init__(self, index):
        self.index = index
        pats = index.patterns
        # a stable sort of the missing flags puts the observed columns first, in order
        self.perm = np.ascontiguousarray(np.argsort(pats, axis=1, kind="stable"), np.int64)
        self.n_obs = (pats.shape[1] - pats.sum(axis=1)).astype(np.int64)
        self._cuts = {}

    @classmethod
    def of(cls, X):
        return cls(PatternIndex.of(X))

    @property
    def n_samples(self):
        return self.index.rows.shape[0]

    def segments(self, block):
        """(seg (n_segments, 3) int64 [lo, hi, pattern], blk (n_blocks + 1,) int64)."""
        got = self._cuts.get(block)
        if got is None:
            n = self.n_samples
            starts = self.index.starts
            nb = max(1, (n + block - 1) // block)
            edges = np.unique(np.concatenate([starts, np.arange(nb + 1, dtype=np.int64) * block]))
            edges = edges[edges <= n]
            lo, hi = edges[:-1], edges[1:]
            pattern = np.searchsorted(starts, lo, side="right") - 1
            seg = np.ascontiguousarray(np.stack([lo, hi, pattern], axis=1), dtype=np.int64)
            blk = np.searchsorted(lo, np.arange(nb + 1, dtype=np.int64) * block).astype(np.int64)
            blk[-1] = lo.shape[0]
            got = self._cuts[block] = (seg, blk)
        return got
