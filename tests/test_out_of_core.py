"""Data in memory-mapped files, read in chunks (issue 12, point 2): the same fit, and a
resident memory bounded by the chunk budget, not by the file."""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from conftest import needs_jit
from fastem import BinomialMixture, GaussianMixture
from fastem._sources import MemmapRows

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(-3, 1, (3000, 3)), rng.normal(3, 1.5, (2000, 3))])
    X = X[rng.permutation(X.shape[0])]
    path = tmp_path_factory.mktemp("ooc") / "x.npy"
    np.save(path, X)
    return X, path


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("mode", ["soft", "hard", "stochastic"])
def test_a_file_read_in_chunks_fits_as_the_array(data_file, ct, mode):
    X, path = data_file
    M = np.load(path, mmap_mode="r")
    assert MemmapRows.of(M) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = GaussianMixture(2, covariance_type=ct, mode=mode, random_state=0, tol=0,
                            max_iter=8, chunk_bytes=10_000).fit(M)  # 416 rows per chunk
        b = GaussianMixture(2, covariance_type=ct, mode=mode, random_state=0, tol=0,
                            max_iter=8).fit(X)
    # 5,000 rows: the initialisation sample is all of them, the chunked sums differ
    # from the whole-array ones by rounding only
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.score_samples(M), b.score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(a.predict_proba(M), b.predict_proba(X), rtol=1e-9, atol=1e-12)
    assert np.array_equal(a.predict(M), b.predict(X))


def test_views_float32_and_refusals(data_file, tmp_path):
    X, path = data_file
    M = np.load(path, mmap_mode="r")
    assert MemmapRows.of(M[100:]) is not None  # a view: its own position in the file
    np.testing.assert_array_equal(MemmapRows.of(M[100:]).rows(np.array([0, 1, 7])),
                                  X[[100, 101, 107]])
    assert MemmapRows.of(M[:, :2]) is None  # not C-contiguous: read as an array
    assert MemmapRows.of(np.asarray(X)) is None
    p32 = tmp_path / "x32.npy"
    np.save(p32, X.astype(np.float32))
    M32 = np.load(p32, mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(2, random_state=0, chunk_bytes=4_000).fit(M32)
    assert g.means_.dtype == np.float32
    assert g.score_samples(M32).dtype == np.float32
    bad = tmp_path / "inf.npy"
    Xn = X.copy()
    Xn[4321, 1] = np.inf  # a NaN is a missing value (issue 13); infinity is an error
    np.save(bad, Xn)
    with pytest.raises(ValueError, match="infinity .*row 4321, column 1"):
        GaussianMixture(2, chunk_bytes=4_000).fit(np.load(bad, mmap_mode="r"))
    Xn[4321, 1] = 0.0
    Xn[4400] = np.nan
    np.save(bad, Xn)
    with pytest.raises(ValueError, match="every value missing.*row 4400"):
        GaussianMixture(2, chunk_bytes=4_000).fit(np.load(bad, mmap_mode="r"))
    with pytest.raises(ValueError, match="chunk_bytes"):
        GaussianMixture(2, chunk_bytes=0).fit(M)


_RSS_CHILD = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    import fastem
    warnings.simplefilter("ignore")

    def status(key):  # KiB
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))

    path, budget, as_array = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    small = np.random.default_rng(0).normal(size=(2000, 4))
    fastem.GaussianMixture(2, max_iter=2, random_state=0).fit(small)  # kernels loaded
    X = np.load(path, mmap_mode="r")
    if as_array:
        X = np.asarray(X)  # an ordinary array over the same map: every page is touched
    # The process's peak RSS from here on: its high-water mark VmHWM, reset by writing 5
    # to clear_refs.  (ru_maxrss is that peak too, but it keeps the peak of the imports
    # and kernel loading once a thread has exited, and cannot be reset.)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    fastem.GaussianMixture(2, max_iter=4, tol=0, random_state=0, chunk_bytes=budget).fit(X)
    print((status("VmHWM") - before) * 1024)
""")


@needs_jit
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB: Linux")
def test_peak_resident_memory_is_bounded_by_the_budget_not_the_file(tmp_path):
    """A file of 10x the chunk budget: the fit's peak RSS grows by about the budget (and
    the 100,000-row initialisation sample); the same map scanned as an array grows by
    the whole file (so the measurement can tell the difference)."""
    budget = 8 << 20
    n = 10 * budget // (4 * 8)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(n, 4))
    X[: n // 2] += 4.0
    path = tmp_path / "big.npy"
    np.save(path, X)
    size = X.nbytes
    del X

    def growth(as_array):
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(path), str(budget),
                              "1" if as_array else "0"], capture_output=True, text=True,
                             timeout=600, env=dict(os.environ))
        assert out.returncode == 0, out.stderr[-2000:]
        return int(out.stdout.strip().splitlines()[-1])

    chunked, scanned = growth(False), growth(True)
    assert chunked < 0.35 * size, (chunked, size)
    assert scanned > 0.8 * size, (scanned, size)


def test_both_ways_of_reading_give_the_same_fit(data_file):
    """Mapped rows released after use (mode "r"), or file reads into a buffer (mode "c": a
    private map, whose pages must not be dropped): the same bits."""
    X, path = data_file
    r, c = np.load(path, mmap_mode="r"), np.load(path, mmap_mode="c")
    assert MemmapRows.of(r).zero_copy in (True, False)  # True where madvise exists
    assert MemmapRows.of(c).zero_copy is False
    fits = []
    for M in (r, c):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(GaussianMixture(2, random_state=0, tol=0, max_iter=5,
                                        chunk_bytes=10_000).fit(M))
    assert np.array_equal(fits[0].means_, fits[1].means_)
    assert np.array_equal(fits[0].covariances_, fits[1].covariances_)
    assert np.array_equal(fits[0].score_samples(r), fits[1].score_samples(c))


def test_kmeans_init_on_a_file_runs_lloyd_over_every_chunk(data_file, monkeypatch):
    """A file larger than the initialisation sample: k-means++ seeds on the sample, the
    Lloyd passes and the first M-step over all of the file's rows, a chunk at a time,
    with the labels kept out of memory (``FileLabels``)."""
    from fastem import _sources, gaussian
    from fastem._sources import FileLabels

    X, path = data_file
    M = np.load(path, mmap_mode="r")
    monkeypatch.setattr(_sources, "INIT_SAMPLE_ROWS", 300)
    seen = []
    call = gaussian._Lloyd.__call__

    def spy(self, chunk, labels):
        root = labels
        while getattr(root, "base", None) is not None:
            root = root.base
        root = getattr(root, "obj", root)  # a memoryview: what it views
        seen.append((chunk.row0, chunk.n_samples, type(root), labels.shape[0]))
        return call(self, chunk, labels)

    monkeypatch.setattr(gaussian._Lloyd, "__call__", spy)
    g = GaussianMixture(2, max_iter=0, random_state=0, chunk_bytes=10_000).fit(M)
    chunk = 10_000 // 24
    passes = len(seen) // -(-X.shape[0] // chunk)
    assert passes >= 2 and len(seen) == passes * -(-X.shape[0] // chunk)
    first = seen[: len(seen) // passes]
    assert [r for r, *_ in first] == list(range(0, X.shape[0], chunk))
    assert sum(m for _, m, *_ in first) == X.shape[0]
    assert all(m == n for _, m, _, n in seen)
    if FileLabels.available():
        import mmap

        assert all(t is mmap.mmap for _, _, t, _ in seen)  # views of the mapped labels
    # the two clusters at -3 and +3 are found from a 300-row sample's seeds
    assert np.allclose(np.sort(g.means_[:, 0]), [-3, 3], atol=0.3)


@pytest.fixture(scope="module")
def counts_file(tmp_path_factory):
    rng = np.random.default_rng(11)
    n = 3000
    z = rng.integers(0, 2, n)
    p = np.array([[0.2, 0.7, 0.5], [0.8, 0.3, 0.6]])
    C = rng.binomial(20, p[z]).astype(np.float64)
    path = tmp_path_factory.mktemp("ooc") / "c.npy"
    np.save(path, C)
    return C, path


@pytest.mark.parametrize("mode", ["soft", "hard", "stochastic"])
@pytest.mark.parametrize("init", ["random", "random_from_data"])
def test_binomial_counts_in_a_file_fit_as_the_array(counts_file, mode, init):
    """BinomialMixture on a memmap of counts read in chunks: the fit of the array (which
    merges repeated rows; the file's chunks are not merged: every row, to rounding)."""
    C, path = counts_file
    M = np.load(path, mmap_mode="r")
    kw = dict(trials=20, mode=mode, init_params=init, random_state=0, max_iter=8, tol=0)
    w = np.random.default_rng(2).uniform(0, 2, C.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = BinomialMixture(2, chunk_bytes=5_000, **kw).fit(M, sample_weight=w)  # 208 rows
        b = BinomialMixture(2, **kw).fit(C, sample_weight=w)
    assert a.n_distinct_rows_ == C.shape[0]
    for name in ("weights_", "probs_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=1e-13)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-12)
    np.testing.assert_allclose(a.score_samples(M), b.score_samples(C), rtol=1e-12)
    np.testing.assert_allclose(a.predict_proba(M), b.predict_proba(C), rtol=1e-10, atol=1e-14)
    assert np.array_equal(a.predict(M), b.predict(C))


def test_binomial_file_checks_each_chunk_and_uses_a_bounded_sample(counts_file, tmp_path,
                                                                 monkeypatch):
    from fastem import _sources

    C, path = counts_file
    bad = C.copy()
    bad[2345, 2] = 21  # more successes than trials, in a chunk far from the first
    p = tmp_path / "bad.npy"
    np.save(p, bad)
    with pytest.raises(ValueError, match=r"X\[2345, 2\] = 21.0 but trials = 20"):
        BinomialMixture(2, trials=20, chunk_bytes=5_000).fit(np.load(p, mmap_mode="r"))
    monkeypatch.setattr(_sources, "INIT_SAMPLE_ROWS", 100)
    M = np.load(path, mmap_mode="r")
    with pytest.raises(ValueError, match=r"X\[2345, 2\]"):  # also when outside the sample
        BinomialMixture(2, trials=20, chunk_bytes=5_000, init_params="random_from_data",
                        random_state=0).fit(np.load(p, mmap_mode="r"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = BinomialMixture(2, trials=20, chunk_bytes=5_000, random_state=0).fit(M)
    assert np.allclose(np.sort(g.probs_[:, 0]), [0.2, 0.8], atol=0.03)
