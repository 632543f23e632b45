"""fastem._compile: what each call compiles is listed completely, and shared fairly
between two processes."""

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import needs_jit
from fastem import _compile

# A fresh cache; compile what ensure() lists (in this process only, so that the events
# below see everything); then the call itself must compile nothing more.
_CHILD = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    from numba.core import event
    import fastem
    from fastem import _compile

    compiled = []

    class Listener(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__qualname__)

        def on_end(self, ev):
            pass

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    X[150:] += 6
    XN = X.copy()
    XN[::7, 1] = np.nan  # missing values: the missing-data kernels
    C = rng.binomial(10, 0.3, size=(300, 3)).astype(float)
    warnings.simplefilter("ignore")
    out = {}
    for case in json.loads(sys.argv[1]):
        kind, a, b = case
        if kind.startswith("gaussian"):
            names = _compile.gaussian_fit(a, b, "kmeans") + _compile.gaussian_rows(a)
            if kind == "gaussian-nan":
                names += _compile.MISSING_DATA
        else:
            names = _compile.binomial_fit(a, b) + _compile.binomial_rows()
        _compile.ensure(names, n_jobs=1)
        compiled.clear()
        with event.install_listener("numba:compile", Listener()):
            if kind.startswith("gaussian"):
                Xk = XN if kind == "gaussian-nan" else X
                g = fastem.GaussianMixture(2, covariance_type=a, mode=b, max_iter=3,
                                           random_state=0).fit(Xk)
                g.predict(Xk)
                g.score_samples(Xk)
                if kind == "gaussian-nan":
                    g.impute(Xk)
            else:
                m = fastem.BinomialMixture(2, trials=10, mode=a, init_params=b, max_iter=3,
                                           random_state=0).fit(C)
                m.predict_proba(C)
                m.score_samples(C)
        out[" ".join(case)] = [n for n in compiled if not n.startswith("ol_")]
    print(json.dumps(out))
""")


@needs_jit
def test_ensure_lists_everything_a_fit_and_its_predictions_compile(tmp_path):
    """If a fit needed a function that ensure() was not given, a cold first fit would
    compile it alone afterwards, outside the two-process share."""
    import json

    cases = [["gaussian", "full", "soft"], ["gaussian", "spherical", "hard"],
             ["binomial", "soft", "random"], ["gaussian-nan", "full", "soft"]]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cases)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    extra = json.loads(out.stdout.strip().splitlines()[-1])
    assert extra == {" ".join(c): [] for c in cases}


def test_unknown_parameters_list_nothing():
    # validation raises later, with its own message
    assert _compile.gaussian_fit("round", "soft", "kmeans") == ()
    assert _compile.gaussian_fit("full", "fuzzy", "kmeans") == ()
    assert _compile.gaussian_rows("round") == ()
    assert _compile.binomial_fit("fuzzy", "random") == ()


def test_every_listed_name_is_a_known_function():
    table = _compile.items()
    for ct in ("full", "tied", "diag", "spherical"):
        for mode in ("soft", "hard", "stochastic"):
            for init in ("kmeans", "k-means++", "random", "random_from_data"):
                assert set(_compile.gaussian_fit(ct, mode, init)) <= set(table)
        assert set(_compile.gaussian_rows(ct)) <= set(table)
    for mode in ("soft", "hard", "stochastic"):
        for init in ("random", "random_from_data"):
            assert set(_compile.binomial_fit(mode, init)) <= set(table)
    assert set(_compile.binomial_rows()) <= set(table)


def test_split_shares_the_work_and_keeps_everything():
    table = {f"f{i}": (None, None, c) for i, c in enumerate([3.0, 2.0, 2.0, 1.0, 1.0, 0.5])}
    mine, child = _compile.split(list(table), table, 2)
    assert sorted(mine + child) == sorted(table)
    cost = lambda names: sum(table[n][2] for n in names)  # noqa: E731
    # the child's share includes its start-up time
    assert abs(cost(mine) - (cost(child) + _compile._CHILD_START)) <= 3.0
    assert _compile.split(list(table), table, 1) == (list(table), [])


def test_jobs_from_the_environment(monkeypatch):
    monkeypatch.setenv("FASTEM_COMPILE_JOBS", "1")
    assert _compile.jobs() == 1
    monkeypatch.setenv("FASTEM_COMPILE_JOBS", "2")
    assert _compile.jobs() == 2
    monkeypatch.setenv("FASTEM_COMPILE_JOBS", "many")
    assert _compile.jobs() == 1
    monkeypatch.delenv("FASTEM_COMPILE_JOBS")
    assert _compile.jobs() == (2 if (os.cpu_count() or 1) >= 2 else 1)


@needs_jit
def test_is_cached_sees_the_index(tmp_path):
    # compiled above or by earlier tests into the test cache: the finite check is there
    from fastem._kernels import gaussian as kg
    from fastem._kernels._jit import prepared

    prepared(kg.finite_blocks, kg.CHECK_SIGNATURE)
    assert _compile.is_cached(kg.finite_blocks, kg.CHECK_SIGNATURE)
    assert not _compile.is_cached(kg.finite_blocks, (kg.CHECK_SIGNATURE[0],))


@pytest.mark.parametrize("bad", [object(), None])
def test_is_cached_is_false_when_it_cannot_tell(bad):
    assert _compile.is_cached(bad, ()) is False


def _fake_table():
    import numba

    @numba.njit
    def one(x):
        return x + 1.0

    @numba.njit
    def two(x):
        return x * 2.0

    f64 = (numba.types.float64,)
    return {"one": (one, f64, 5.0), "two": (two, f64, 5.0)}


@needs_jit
def test_a_failed_child_leaves_everything_to_this_process(monkeypatch):
    table = _fake_table()
    started = []

    def failing_child(names, verbose=False):
        started.append(list(names))
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    monkeypatch.setattr(_compile, "items", lambda: table)
    monkeypatch.setattr(_compile, "_start_child", failing_child)
    monkeypatch.setattr(_compile, "_ready", set())
    _compile.ensure(["one", "two"], n_jobs=2)
    assert started and started[0]  # the work was shared out ...
    for name, (fn, sig, _) in table.items():  # ... and still all of it was done here
        assert [tuple(s) for s in fn.signatures] == [sig], name
    assert fn(3.0) == 6.0


def test_waiting_for_a_child_is_bounded():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    _compile._wait(child, expected=-5.95)  # a timeout of 1 s
    assert child.returncode is not None
