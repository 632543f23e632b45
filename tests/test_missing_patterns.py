"""The pattern index of missing cells (issue 13, point 3): rows grouped by their pattern
of NaN cells, against a plain dictionary of patterns."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastem._missing import PatternIndex


def _naive(X):
    groups = {}
    for i, row in enumerate(np.isnan(X)):
        groups.setdefault(tuple(row), []).append(i)
    return groups  # insertion order: the order of each pattern's first row


@pytest.mark.parametrize("d", [1, 3, 8, 9, 17, 62, 63, 70])  # > 62: the packed-bytes path
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_patterns_group_the_rows_as_a_dictionary_does(d, dtype):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(500, d)).astype(dtype)
    X[rng.random(X.shape) < 0.3] = np.nan
    before = X.copy()
    idx = PatternIndex.of(X)
    groups = _naive(X)
    assert idx.n_patterns == len(groups)
    for p, (pattern, rows) in enumerate(groups.items()):
        assert tuple(idx.patterns[p]) == pattern
        assert list(idx.rows[idx.starts[p]:idx.starts[p + 1]]) == rows
    assert idx.rows.dtype == np.int64 and idx.starts[-1] == X.shape[0]
    assert np.array_equal(X, before, equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), d=st.integers(1, 12), seed=st.integers(0, 2**31 - 1),
       frac=st.floats(0, 1))
def test_every_row_is_in_exactly_one_pattern_that_is_its_own(n, d, seed, frac):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(X.shape) < frac] = np.nan
    idx = PatternIndex.of(X)
    assert np.array_equal(np.sort(idx.rows), np.arange(n))
    for p in range(idx.n_patterns):
        rows = idx.rows[idx.starts[p]:idx.starts[p + 1]]
        assert rows.shape[0] > 0
        assert np.array_equal(np.isnan(X[rows]), np.broadcast_to(idx.patterns[p], (rows.shape[0], d)))
    full = idx.fully_missing()
    assert np.array_equal(np.sort(np.concatenate(
        [idx.rows[idx.starts[p]:idx.starts[p + 1]] for p in full] or [np.empty(0, np.int64)])),
        np.flatnonzero(np.isnan(X).all(axis=1)))


def test_complete_data_is_one_pattern():
    idx = PatternIndex.of(np.ones((10, 4)))
    assert idx.n_patterns == 1 and not idx.patterns.any()
    assert np.array_equal(idx.rows, np.arange(10))


@pytest.mark.parametrize("d", [2, 16, 40])
def test_the_compiled_grouping_equals_the_packed_one(d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(3000, d))
    X[rng.random(X.shape) < 0.2] = np.nan
    a, b = PatternIndex._compiled(X), PatternIndex._packed(X)
    for name in ("patterns", "rows", "starts"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
