"""Start-up cost: a fresh Python process that imports fastem and fits a small model.

``timeraw_`` benchmarks run the returned code in a new interpreter (the interpreter's
own start is not timed; ``import fastem`` and the fit are).

* ``warm``: Numba's on-disk cache already holds the kernels (``setup`` runs the very
  same snippet once in a subprocess to make sure of it), so this is import + cache
  loading + a small fit: what a user pays in every new process.
* ``model="warmup"``: ``fastem.warmup()`` instead of a fit, i.e. everything.
* ``cold``: the snippet points ``NUMBA_CACHE_DIR`` at a fresh temporary directory before
  importing fastem (so nothing can be loaded and every kernel used is compiled), and
  removes it at the end: what the very first use on a machine costs.
"""

import os
import subprocess
import sys
import textwrap

from . import common as C

_FIT = {
    "binomial": """
        import numpy as np
        import fastem
        rng = np.random.default_rng(0)
        X = rng.binomial(20, rng.choice([0.2, 0.7], size=2000)).astype(np.float64)
        fastem.BinomialMixture(2, max_iter=20, random_state=0).fit(X, trials=20)
    """,
    "gaussian": """
        import numpy as np
        import fastem
        rng = np.random.default_rng(0)
        X = np.concatenate([rng.normal(-5.0, 1.0, (1000, 2)), rng.normal(5.0, 1.0, (1000, 2))])
        fastem.GaussianMixture(2, random_state=0).fit(X)
    """,
    # everything: every estimator path and the public kernels for both dtypes
    "warmup": """
        import fastem
        fastem.warmup()
    """,
}

_COLD_PRE = """
    import os, tempfile
    _cache_dir = tempfile.mkdtemp(prefix="fastem-asv-numba-")
    os.environ["NUMBA_CACHE_DIR"] = _cache_dir
"""

_COLD_POST = """
    import shutil
    shutil.rmtree(_cache_dir, ignore_errors=True)
"""


def snippet(model, cache):
    """Code of the timed process.  It imports the same fastem as this process (asv drops
    PYTHONPATH from the environment of the processes it starts)."""
    body = textwrap.dedent(_FIT[model])
    if cache == "cold":
        body = textwrap.dedent(_COLD_PRE) + body + textwrap.dedent(_COLD_POST)
    root = os.path.dirname(os.path.dirname(os.path.abspath(C.fastem.__file__)))
    head = f"import sys\nsys.path.insert(0, {root!r})\n"
    return head + "import warnings\nwarnings.simplefilter('ignore')\n" + body


class Startup:
    """Import fastem and fit a small model in a fresh process, warm vs cold Numba cache."""

    params = [["binomial", "gaussian", "warmup"], ["warm", "cold"]]
    param_names = ["model", "cache"]
    number = 1
    repeat = (1, 3, 60.0)
    min_run_count = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 1200

    def setup(self, model, cache):
        C.require("fastem-binomial" if model == "binomial" else "fastem")
        if cache == "warm":
            # Same interpreter and environment as the timed process.
            subprocess.run([sys.executable, "-c", snippet(model, "warm")], check=True,
                           timeout=1200)

    def timeraw_import_and_fit(self, model, cache):
        return snippet(model, cache)
