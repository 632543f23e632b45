"""Fixtures and reporting for scikit-learn's GaussianMixture tests run against fastem.

scikit-learn's tests take two fixtures from scikit-learn's own conftest, which is not
loaded here (it also limits thread pools and rewrites collection for its whole test
suite).  They are provided below with the same meaning and the same environment
variables: ``global_dtype`` is float64, plus float32 when ``SKLEARN_RUN_FLOAT32_TESTS=1``;
``global_random_seed`` is 42, or what ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` says (one seed
``N``, a range ``N-M``, or ``all`` for 0-99).
"""

import collections
import os

import numpy as np
import pytest

SUITE_FILE = "gaussian_mixture_suite.py"


def _float32_param():
    run = os.environ.get("SKLEARN_RUN_FLOAT32_TESTS", "0") == "1"
    skip = pytest.mark.skipif(not run, reason="float32 variant: set SKLEARN_RUN_FLOAT32_TESTS=1")
    return pytest.param(np.float32, marks=skip, id="float32")


@pytest.fixture(params=[_float32_param(), pytest.param(np.float64, id="float64")])
def global_dtype(request):
    return request.param


def _random_seeds():
    spec = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if spec is None:
        return [42]
    if spec == "all":
        return list(range(100))
    low, _, high = spec.partition("-")
    seeds = list(range(int(low), int(high or low) + 1))
    if not seeds or seeds[0] < 0 or seeds[-1] > 99:
        raise ValueError(f"SKLEARN_TESTS_GLOBAL_RANDOM_SEED must lie in [0, 99]; got {spec!r}")
    return seeds


@pytest.fixture(params=_random_seeds())
def global_random_seed(request):
    return request.param


def pytest_terminal_summary(terminalreporter):
    """Counts of the scikit-learn tests: collected, by outcome, and excluded by reason."""
    final = {}  # nodeid -> outcome; a failed setup or teardown counts as a failure
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) is None or SUITE_FILE not in report.nodeid:
                continue
            if report.failed:
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
