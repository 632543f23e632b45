"""The kernels' threads: fastem's own pool of Python threads over fixed row blocks.

Each figure is measured in fresh child processes, all in the same call so that the
ratios compare like with like: a soft-EM fit of (1e6, 2, 3) full float64 (small
profile: 1e4 rows), 5 iterations from a fixed start, best of 5, after a warm-up fit in
the same child.
"""

import json
import os
import subprocess
import sys
import textwrap

from . import common as C

_CHILD = """
import json, os, time, warnings, multiprocessing as mp
import numpy as np, numba, fastem
n = {n}
rng = np.random.default_rng(0)
X = rng.normal(size=(n, 2)); X[: n // 2] += 6
start = dict(weights_init=[0.3, 0.3, 0.4], means_init=X[[0, n // 2, n - 1]],
             precisions_init=np.stack([np.eye(2)] * 3))

def seconds():
    best = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(6):  # the first one is the warm-up
            t0 = time.perf_counter()
            fastem.GaussianMixture(3, tol=0, max_iter=5, **start).fit(X)
            best = min(best, time.perf_counter() - t0) if _ else np.inf
    return best

def child(q):
    q.put(seconds())

if __name__ == "__main__":
    parent = seconds()
    out = dict(parent=parent)
    if {fork}:
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=child, args=(q,))
        p.start()
        out["child"] = q.get()
        p.join()
    print(json.dumps(out))
"""


def _run(threads, fork=False):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    code = textwrap.dedent(_CHILD.format(n=C.rows(1_000_000), fork=fork))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Threads:
    """Fit time with every core (NUMBA_NUM_THREADS = the core count) over one thread: the
    speed-up of the block pool (about 1 / n_cores is ideal)."""

    unit = "ratio"
    rounds = 1
    number = 1
    repeat = 1
    timeout = 1800

    def setup(self):
        C.require("fastem")
        self.one = _run(1)["parent"]
        self.all = _run(os.cpu_count() or 1)["parent"]

    def track_time_ratio_all_cores_over_one(self):
        return self.all / self.one


class ForkedChild:
    """A fit in a child forked after the parent has fitted, over the parent's fit: 1.0
    when the child is as parallel as its parent (fastem's pool is rebuilt in the child;
    Numba's OpenMP pool, used before, could not run after a fork and made this ~2)."""

    unit = "ratio"
    rounds = 1
    number = 1
    repeat = 1
    timeout = 1800

    def setup(self):
        C.require("fastem")
        self.out = _run(os.cpu_count() or 1, fork=True)

    def track_time_ratio_child_over_parent(self):
        return self.out["child"] / self.out["parent"]
