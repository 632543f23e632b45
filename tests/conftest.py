import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "fastem",
    max_examples=int(os.environ.get("FASTEM_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,  # the first example of a new specialisation includes compilation
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("fastem")

JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")

needs_jit = pytest.mark.skipif(JIT_DISABLED, reason="needs compiled kernels (threads, memory)")


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


# Kernels accumulate in float64 whatever the data dtype, and the references compute in
# float64 from the same (already rounded) data: both dtypes must agree to float64 rounding.
RTOL = 1e-10
