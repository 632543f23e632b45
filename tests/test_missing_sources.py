"""Missing values (issue 13) wherever the rows are: a memory-mapped file read in chunks
and the blocks of a dask array give the in-memory fit of the same data with NaN cells;
the per-row methods too.  Small data: 2,400 rows, 3 features, 2 components."""

import warnings

import numpy as np
import pytest

from fastem import GaussianMixture

N, D = 2400, 3
_RNG = np.random.default_rng(13)
X64 = np.concatenate([_RNG.normal(-2.0, 1.0, (1300, D)), _RNG.normal(2.0, 1.3, (1100, D))])
X64[:, 1] += 0.5 * X64[:, 0]
X64 = X64[_RNG.permutation(N)]
X64[_RNG.random((N, D)) < 0.15] = np.nan
X64[np.isnan(X64).all(axis=1), 0] = 0.5  # every row keeps an observed cell
X64[:300] = np.where(np.isnan(X64[:300]), 1.0, X64[:300])  # a complete first chunk
W = _RNG.uniform(0.2, 2.0, N)
START = dict(means_init=[[-2.0, -1.0, -2.0], [2.0, 1.0, 2.0]], weights_init=[0.5, 0.5])
ATTRS = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def _fit(model, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: no convergence
        return model.fit(X, **kw)


def _same(a, b, rtol=1e-10):
    for name in ATTRS:
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-12, err_msg=name)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=rtol)
    assert a.n_iter_ == b.n_iter_


@pytest.fixture(scope="module")
def memmap(tmp_path_factory):
    path = tmp_path_factory.mktemp("missing") / "x.npy"
    np.save(path, X64)
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("ct, mode", [("full", "soft"), ("diag", "hard"), ("tied", "stochastic")])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_file_in_chunks_gives_the_in_memory_fit(memmap, ct, mode, weighted):
    kw = dict(covariance_type=ct, mode=mode, tol=0, max_iter=8, random_state=0, **START)
    w = W if weighted else None
    ref = _fit(GaussianMixture(2, **kw), X64, sample_weight=w)
    got = _fit(GaussianMixture(2, chunk_bytes=7_200, **kw), memmap, sample_weight=w)  # 300 rows
    _same(got, ref)
    chunked = GaussianMixture(2, covariance_type=ct, chunk_bytes=7_200)
    chunked.__dict__.update({k: v for k, v in vars(ref).items() if k.endswith("_")})
    np.testing.assert_allclose(chunked.score_samples(memmap), ref.score_samples(X64), rtol=1e-12)
    np.testing.assert_array_equal(chunked.predict(memmap), ref.predict(X64))


def test_a_file_with_nan_beyond_the_init_sample_is_filled_for_the_init(memmap, monkeypatch):
    # The init sample (here 200 rows) may hold no NaN while later chunks do: the k-means
    # passes of the init must not meet them (they run on the filled sample instead).
    from fastem import _sources

    monkeypatch.setattr(_sources, "INIT_SAMPLE_ROWS", 200)
    got = _fit(GaussianMixture(2, chunk_bytes=7_200, random_state=0), memmap)
    assert np.all(np.isfinite(got.means_)) and np.isfinite(got.lower_bound_)
    assert sorted(np.round(got.means_[:, 0])) == [-2.0, 2.0]


def test_a_dask_array_with_nan_blocks_gives_the_in_memory_fit():
    da = pytest.importorskip("dask.array")
    rows = (300, 700, 800, 600)  # the first block complete, the others with NaN cells
    dX = da.from_array(X64, chunks=(rows, (D,)))
    for ct, mode in (("full", "soft"), ("spherical", "hard")):
        kw = dict(covariance_type=ct, mode=mode, tol=0, max_iter=6, random_state=0, **START)
        ref = _fit(GaussianMixture(2, **kw), X64, sample_weight=W)
        got = _fit(GaussianMixture(2, **kw), dX, sample_weight=W)
        _same(got, ref)
        np.testing.assert_allclose(got.predict_proba(dX).compute(), ref.predict_proba(X64),
                                   rtol=1e-12, atol=1e-15)
    default = _fit(GaussianMixture(2, random_state=0), dX)
    assert sorted(np.round(default.means_[:, 0])) == [-2.0, 2.0]


def test_the_readme_example_runs():
    import pathlib

    text = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    begin = text.index("```python", text.index("## Missing values")) + 9
    code = text[begin:text.index("```", begin)]
    assert "GaussianMixture" in code and "impute" in code
    scope = {"np": np}
    exec(compile("import fastem\n" + code, "README.md", "exec"), scope)  # noqa: S102
    X, filled = scope["X"], scope["X_filled"]
    seen = ~np.isnan(X)
    assert np.array_equal(filled[seen], X[seen]) and not np.isnan(filled).any()
    for draw in scope["draws"]:
        assert np.array_equal(draw[seen], X[seen]) and not np.isnan(draw).any()
