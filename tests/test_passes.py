"""fastem._passes: the Python side of the passes (block sums, threads)."""

import numpy as np
import pytest

from fastem import _passes
from fastem._kernels._common import sum_blocks as compiled_sum_blocks


@pytest.mark.parametrize("shape", [(1,), (7,), (2442, 3, 5), (128, 4, 6, 6)])
def test_block_sums_are_sequential_and_match_the_compiled_ones(shape):
    # Values over twenty orders of magnitude: any other order of the additions shows.
    rng = np.random.default_rng(0)
    p = rng.normal(size=shape) * 10.0 ** rng.uniform(-10, 10, size=shape)
    want = np.zeros(shape[1:])
    for b in range(shape[0]):
        want = want + p[b]
    got = _passes.sum_blocks(p)
    assert np.array_equal(got, want)
    assert np.array_equal(got, compiled_sum_blocks(p))


def test_block_sums_of_no_blocks_and_of_counts():
    assert np.array_equal(_passes.sum_blocks(np.zeros((0, 3))), np.zeros(3))
    assert _passes.sum_blocks(np.arange(5, dtype=np.int64)) == 10


def test_serial_switch_and_thread_count(monkeypatch):
    monkeypatch.setenv("FASTEM_SERIAL", "1")
    assert _passes.n_threads() == 1
    monkeypatch.setenv("FASTEM_SERIAL", "0")
    assert _passes.n_threads() >= 1


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_run_blocks_covers_every_block_once_and_reraises(threads, monkeypatch):
    monkeypatch.setattr(_passes, "n_threads", lambda: threads)
    seen = []

    def kernel(b0, b1, out):
        seen.append((b0, b1))
        out[b0:b1] += 1

    out = np.zeros(37)
    _passes.run_blocks(kernel, 37, out)
    assert np.array_equal(out, np.ones(37))
    assert len(seen) == threads

    def failing(b0, b1):  # fails in the last range: on a pool thread when threads > 1
        if b1 == 10:
            raise IndexError("block range %d..%d" % (b0, b1))

    with pytest.raises(IndexError):
        _passes.run_blocks(failing, 10)
