"""Missing values (NaN cells): the rows of a chunk grouped by their pattern of missing cells.

EM with missing data factorises, per iteration, the observed block of each component's
covariance once per (pattern, component), then runs over the rows of each pattern; the
pattern index here is built once per fit, in slices of rows so that no temporary of
size n x d exists (the masks are packed to bits first), and holds only int arrays of
size n (the rows in pattern order) and the patterns themselves.
"""

import numpy as np

_SLICE = 1 << 16  # rows per slice of the mask packing


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
