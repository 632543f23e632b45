import collections
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


SKLEARN_SUITE = "sklearn_gaussian_mixture_suite.py"  # scikit-learn's tests on fastem


def pytest_terminal_summary(terminalreporter):
    """Counts of the scikit-learn tests: collected, by outcome, and excluded by reason."""
    final = {}  # nodeid -> outcome; a failed setup or teardown counts as a failure
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) is None or SKLEARN_SUITE not in report.nodeid:
                continue
            if hasattr(report, "wasxfail"):
                final[report.nodeid] = "xfailed" if report.skipped else "xpassed"
            elif report.failed:
                final[report.nodeid] = "failed" if report.when == "call" else "error"
            elif report.skipped:
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
                reason = reason.removeprefix("Skipped: ")
                final[report.nodeid] = (
                    reason.partition(":")[0] if reason.startswith("excluded") else "skipped")
            elif report.when == "call":
                final.setdefault(report.nodeid, "passed")
    if not final:
        return
    counts = collections.Counter(final.values())
    excluded = {k: n for k, n in counts.items() if k.startswith("excluded")}
    summary = {k: n for k, n in counts.items() if k not in excluded}
    summary["excluded"] = sum(excluded.values())
    terminalreporter.section("scikit-learn's test_gaussian_mixture.py on fastem")
    terminalreporter.write_line(f"{len(final)} collected: " + ", ".join(
        f"{n} {k}" for k, n in sorted(summary.items())))
    for reason, n in sorted(excluded.items()):
        terminalreporter.write_line(f"  {n} {reason}")
