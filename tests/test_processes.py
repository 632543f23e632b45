"""Process safety: forked and spawned children, concurrent threads, Ctrl-C.

Everything that could take the test process down runs in a child Python process, so a
crash becomes a failed assertion with the child's output.
"""

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import needs_jit
from fastem import BinomialMixture, GaussianMixture
from fastem import kernels as K

HERE = os.path.dirname(os.path.abspath(__file__))


def run_child(code, tmp_path, timeout=600):
    """Run ``code`` as a script in a fresh interpreter; return its last stdout line parsed
    as JSON.  (A file, not ``-c``: spawned children re-import the parent's __main__.)"""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [HERE] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, (
        f"child exited with {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}"
        f"\n--- stderr\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


COMMON = """
import json, multiprocessing as mp, numpy as np, fastem
rng = np.random.default_rng(0)
X = rng.normal(size=(3000, 3)); X[1500:] += 4
C = rng.integers(0, 6, size=(3000, 2)).astype(float)

def fits():
    g = fastem.GaussianMixture(2, random_state=0, max_iter=20).fit(X)
    b = fastem.BinomialMixture(2, random_state=0, max_iter=20).fit(C, trials=5)
    return [g.means_.tolist(), g.covariances_.tolist(), b.probs_.tolist(),
            g.predict_proba(X[:50]).tolist()]

def child(q):
    q.put(fits())
"""


@needs_jit
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_fit_in_a_child_process_after_the_parent_fitted(method, tmp_path):
    # The parent runs parallel kernels first: with GNU OpenMP, a forked child used to die
    # on its first parallel launch ("fork() called from a process already using GNU
    # OpenMP"); fastem's kernels now run their blocks serially there, with the same bits.
    out = run_child(COMMON + f"""
if __name__ == "__main__":
    parent = fits()
    ctx = mp.get_context({method!r})
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    got = q.get(timeout=300)
    p.join(60)
    print(json.dumps(dict(exitcode=p.exitcode, same=got == parent)))
""", tmp_path)
    assert out == {"exitcode": 0, "same": True}


@needs_jit
def test_public_kernels_and_threads_in_a_forked_child(tmp_path):
    out = run_child(COMMON + """
from concurrent.futures import ThreadPoolExecutor
from fastem import kernels as K

def step():
    means = X[:2].copy()
    return K.gaussian_em_step_full(X, np.empty(0), np.full(2, 0.5), means,
                                   np.stack([np.eye(3)] * 2), K.SOFT, 0, 1,
                                   np.empty(0, np.int32))[0].tolist()

def threaded(q):
    with ThreadPoolExecutor(3) as ex:
        res = list(ex.map(lambda _: (fits(), step()), range(3)))
    q.put(res)

if __name__ == "__main__":
    want = (fits(), step())
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=threaded, args=(q,))
    p.start()
    got = q.get(timeout=300)
    p.join(60)
    print(json.dumps(dict(exitcode=p.exitcode, same=all(list(g) == list(want) for g in got))))
""", tmp_path)
    assert out == {"exitcode": 0, "same": True}


def _gauss_job(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4000, 3))
    X[: 2000] += 3
    ct = ["full", "tied", "diag", "spherical"][seed % 4]
    mode = ["soft", "hard", "stochastic"][seed % 3]
    m = GaussianMixture(3, covariance_type=ct, mode=mode, random_state=seed,
                        max_iter=15).fit(X)
    return m.means_, m.lower_bounds_, m.predict_proba(X)


def _binom_job(seed):
    rng = np.random.default_rng(seed)
    C = rng.integers(0, 8, size=(4000, 2)).astype(float)
    m = BinomialMixture(2, random_state=seed, max_iter=15).fit(C, trials=7)
    return m.probs_, m.lower_bounds_, m.predict_proba(C, trials=7)


def _kernel_job(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(5000, 3))
    labels = np.full(5000, -1, np.int32)
    out = K.gaussian_em_step_diag(X, np.empty(0), np.full(2, 0.5), X[:2].copy(),
                                  np.ones((2, 3)), K.HARD, seed, 1, labels)
    return out[0], out[1], labels


@needs_jit
@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")  # catch_warnings is not thread-safe
def test_concurrent_threads_give_the_serial_results():
    jobs = [(f, s) for s in range(6) for f in (_gauss_job, _binom_job, _kernel_job)]
    serial = [f(s) for f, s in jobs]
    with ThreadPoolExecutor(4) as ex:
        threaded = list(ex.map(lambda job: job[0](job[1]), jobs))
    for a, b in zip(serial, threaded):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


@needs_jit
def test_ctrl_c_during_a_fit_raises_keyboard_interrupt_and_changes_nothing(tmp_path):
    out = run_child("""
import json, os, signal, threading, time, warnings
import numpy as np, fastem
rng = np.random.default_rng(0)
X = rng.normal(size=(200_000, 6)); X[::2] += 3
m = fastem.GaussianMixture(4, random_state=0, max_iter=2, tol=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m.fit(X[:2000])                          # compiled, and a fitted state to keep
before = {k: np.array(getattr(m, k)).tolist() for k in ("means_", "covariances_", "weights_")}
m.set_params(max_iter=100_000)
sent = []
def interrupt():
    sent.append(time.perf_counter())
    os.kill(os.getpid(), signal.SIGINT)
threading.Timer(1.0, interrupt).start()
kind = None
try:
    m.fit(X)
except BaseException as exc:
    kind = type(exc).__name__
    delay = time.perf_counter() - sent[0]
after = {k: np.array(getattr(m, k)).tolist() for k in before}
m.set_params(max_iter=3).fit(X[:5000])       # a later fit works
print(json.dumps(dict(kind=kind, delay=delay, unchanged=after == before,
                      refit=bool(np.isfinite(m.means_).all()))))
""", tmp_path)
    assert out["kind"] == "KeyboardInterrupt"
    assert out["unchanged"] and out["refit"]
    assert out["delay"] < 1.0, out  # "within about a second"


@needs_jit
def test_ctrl_c_during_a_large_predict_is_a_keyboard_interrupt(tmp_path):
    out = run_child("""
import json, os, signal, threading, time
import numpy as np, fastem
rng = np.random.default_rng(0)
X = rng.normal(size=(1000, 4))
m = fastem.GaussianMixture(8, random_state=0, max_iter=3, tol=0).fit(X)
m.predict_proba(X)
big = rng.normal(size=(1_000_000, 4))
kinds = []
for _ in range(3):
    threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    try:
        for _ in range(50):
            m.predict_proba(big)
        kinds.append(None)
    except BaseException as exc:
        kinds.append(type(exc).__name__)
print(json.dumps(dict(kinds=kinds)))
""", tmp_path)
    assert out["kinds"] == ["KeyboardInterrupt"] * 3


@needs_jit
def test_bounds_checked_run_turns_an_out_of_bounds_index_into_index_error(tmp_path):
    # What CI's NUMBA_BOUNDSCHECK=1 run relies on: a private kernel (no argument checks)
    # given a labels array shorter than X raises IndexError instead of writing past it.
    # (The kernels are serial functions run on Python threads, so the exception reaches
    # the caller; Numba would drop it inside a parallel region.)
    os.environ["FASTEM_TEST_CACHE"] = str(tmp_path / "cache")
    try:
        out = run_child("""
import json, os
os.environ.update(NUMBA_BOUNDSCHECK="1", NUMBA_OPT="0",
                  NUMBA_CACHE_DIR=os.environ["FASTEM_TEST_CACHE"])
import numpy as np
from fastem import _passes
X = np.ones((300, 1)); T = np.full((1, 1), 2.0)
short = np.full(10, -1, np.int32)
try:
    _passes.binomial_pass(X, T, np.empty(0), np.log([0.5, 0.5]), np.full((2, 1), 0.5), 1, 0,
                          1, short, 64)
    kind = None
except IndexError:
    kind = "IndexError"
print(json.dumps(dict(kind=kind)))
""", tmp_path)
    finally:
        del os.environ["FASTEM_TEST_CACHE"]
    assert out == {"kind": "IndexError"}


@needs_jit
def test_fits_and_public_kernels_never_start_numbas_thread_pool(tmp_path):
    # fastem runs its blocks on Python threads: no OpenMP/TBB/workqueue pool is started,
    # so nothing of Numba's threading layer can be inherited half-alive by a forked child.
    out = run_child(COMMON + """
import numba
from numba.np.ufunc import parallel
from fastem import kernels as K
fits()
K.gaussian_log_density_diag(X, X[:2], np.ones((2, 3)))
K.binomial_em_step(C, np.full((1, 1), 5.0), np.empty(0), np.full(2, 0.5), np.full((2, 2), 0.5),
                   K.SOFT, 0, 1, np.empty(0, np.int32))

@numba.njit
def user(X):
    return K.gaussian_log_density_spherical(X, X[:2], np.ones(2))

user(X)
print(json.dumps(bool(parallel._is_initialized)))
""", tmp_path)
    assert out is False
