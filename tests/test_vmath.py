"""The vectorisable exp and log the kernels use instead of scalar libm calls."""

import numpy as np
import pytest

from fastem._kernels import _vmath
from fastem._kernels._jit import kernel

pytestmark = pytest.mark.kernels


@kernel
def _exp(x):
    out = x.copy()
    _vmath.exp_nonpos(out, out.shape[0], np.empty(out.shape[0], dtype=np.int64))
    return out


@kernel
def _log(x):
    out = x.copy()
    _vmath.log_pos(out, out.shape[0], np.empty(out.shape[0], dtype=np.int64))
    return out


def test_exp_nonpos_matches_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([-rng.exponential(3.0, 5000), -rng.uniform(0, 700, 5000),
                        [0.0, -0.0, -1e-300, -np.log(2), -707.9, -709.0, -np.inf]])
    got = _exp(x)
    want = np.exp(x)
    want[x < -708.0] = 0.0  # documented: below -708 gives exactly 0
    # Relative error grows with |x| (fastmath may reassociate the range reduction):
    # bounded by 4e-16 * max(1, |x|); exact zeros below -708.
    rel = np.abs(got - want) / np.where(want > 0, want, 1.0)
    assert np.all(rel <= 4e-16 * np.maximum(1.0, np.abs(x))), rel.max()
    assert np.all(got[x < -708.0] == 0.0)


def test_log_pos_matches_numpy():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(1.0, 64.0, 5000), np.exp(rng.uniform(-700, 700, 5000)),
                        [1.0, np.nextafter(1.0, 2.0), np.nextafter(1.0, 0.0), np.sqrt(2.0),
                         np.nextafter(np.sqrt(2.0), 2.0), 2.0, 1e-300, 1e300]])
    got = _log(x)
    want = np.log(x)
    # Relative error near 1e-16, except where log x is itself near 0 (x near 1): there the
    # absolute error is what counts.
    np.testing.assert_allclose(got, want, rtol=4e-16, atol=4e-16)
