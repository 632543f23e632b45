"""fastem.plot (issue 15, point 3): every figure renders to a PNG that is not blank, returns
matplotlib objects, and never needs a screen."""

import io
import sys
import warnings

import numpy as np
import pytest

import fastem

mpl = pytest.importorskip("matplotlib")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from fastem import plot  # noqa: E402


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    buf.seek(0)
    img = imread(buf)
    return img


def _not_blank(img):
    rgb = img[..., :3].reshape(-1, 3)
    colours = np.unique(np.round(rgb, 2), axis=0)
    return rgb.std() > 0.02 and colours.shape[0] > 20


def _cells(seed=0):
    rng = np.random.default_rng(seed)
    healthy = rng.multivariate_normal([90.0, 34.0], [[25.0, 2.5], [2.5, 1.0]], size=300)
    anaemic = rng.multivariate_normal([76.0, 31.0], [[49.0, 6.0], [6.0, 2.25]], size=100)
    return np.vstack([healthy, anaemic])


@pytest.fixture(scope="module")
def fitted():
    X = _cells()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return X, fastem.GaussianMixture(2, random_state=0).fit(X)


def test_loglik_and_clusters_return_axes_that_render(fitted):
    X, gm = fitted
    ax = plot.loglik(gm)
    assert isinstance(ax, Axes) and len(ax.lines[0].get_xdata()) == gm.n_iter_
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), gm.lower_bounds_)
    assert _not_blank(_png(ax.figure))
    ax = plot.clusters(gm, X)
    assert isinstance(ax, Axes)
    assert len(ax.patches) == 2 * 3  # 1, 2, 3 sigma per component
    assert _not_blank(_png(ax.figure))
    fig = Figure()
    mine = fig.add_subplot()
    assert plot.clusters(gm, X, ax=mine) is mine


def test_clusters_projects_higher_dimensions_and_colours_softly():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 1, (200, 3)), rng.normal(1.5, 1, (200, 3))])
    gm = fastem.GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    ax = plot.clusters(gm, X, dims=(0, 2))
    colours = ax.collections[0].get_facecolors()[:, :3]
    assert np.unique(np.round(colours, 2), axis=0).shape[0] > 10  # mixed, not two colours


def test_snapshots_show_the_listed_iterations(fitted):
    X, gm = fitted
    fig = plot.snapshots(gm, X, iterations=(1, 3, 5, 10, 15, 25))
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert [a.get_title() for a in fig.axes][-1] == "after iteration 25"
    assert _not_blank(_png(fig))
    x = np.loadtxt(__file__.replace("test_plot.py", "data/galaxies.csv"), delimiter=",",
                   skiprows=1)
    fig = plot.snapshots(fastem.GaussianMixture(3, random_state=0), x, iterations=(1, 10))
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) > 10  # histogram bars
    assert _not_blank(_png(fig))
    with pytest.raises(ValueError, match="positive"):
        plot.snapshots(gm, X, iterations=(0,))


def test_binomial_histograms(fitted):
    rng = np.random.default_rng(2)
    C = rng.binomial(10, np.array([0.2, 0.7])[rng.integers(0, 2, 400)][:, None],
                     (400, 2)).astype(float)
    b = fastem.BinomialMixture(2, trials=10, random_state=0).fit(C)
    fig = plot.binomial(b, C, 10)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert _not_blank(_png(fig))


def test_never_shows_and_says_which_extra_when_matplotlib_is_missing(monkeypatch, fitted):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() was called"))
    X, gm = fitted
    plot.loglik(gm)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'fastem\[plot\]'"):
        plot.loglik(gm)


def test_the_demo_writes_its_figures(tmp_path, capsys):
    from fastem import cli

    from fastem._demo import blood_cells

    blood_cells(plots=str(tmp_path))
    for name in ("blood_cells_snapshots.png", "blood_cells_loglik.png", "blood_cells_fit.png"):
        assert _not_blank(imread(tmp_path / name)), name
    assert "figures written" in capsys.readouterr().out
    assert cli._parser().parse_args(["demo", "--plots", "d"]).plots == "d"


def test_wrong_models_and_arguments_raise_clear_errors(fitted):
    """A wrong model is a TypeError naming the right function, a bad argument a ValueError
    naming it (never an IndexError or AttributeError from inside matplotlib or NumPy)."""
    X, g = fitted
    C = np.random.default_rng(3).binomial(5, 0.3, size=(60, 2)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = fastem.BinomialMixture(2, trials=5, random_state=0).fit(C)
    km = fastem.KMeans(2, random_state=0).fit(X)
    for call, match in [
        (lambda: plot.clusters(b, C), "GaussianMixture; got BinomialMixture; for a binomial"),
        (lambda: plot.clusters(km, X), "GaussianMixture; got KMeans$"),
        (lambda: plot.snapshots(b, C), "GaussianMixture; got BinomialMixture$"),
        (lambda: plot.binomial(g, X, 5), "BinomialMixture; got GaussianMixture; for a Gauss"),
    ]:
        with pytest.raises(TypeError, match=match):
            call()
    for call, match in [
        (lambda: plot.clusters(g, X, dims=(0, 2)), r"indices in \[0, 2\); got \(0, 2\)"),
        (lambda: plot.clusters(g, X, dims=(-1, 0)), r"in \[0, 2\)"),
        (lambda: plot.clusters(g, X, dims=(1, 1)), "two different features"),
        (lambda: plot.clusters(g, X, dims=(1,)), "two feature indices; got"),
        (lambda: plot.clusters(g, X, dims="ab"), "two feature indices"),
        (lambda: plot.snapshots(g, X, iterations=(1.5,)), "positive integers"),
        (lambda: plot.snapshots(g, X, iterations=(1,), dims=(0, 7)), r"in \[0, 2\)"),
        (lambda: plot.binomial(b, C, -1), "non-negative integers"),
        (lambda: plot.binomial(b, C, [5, 5, 5]), "a number or 2 numbers"),
        (lambda: plot.binomial(b, C + 6, 5), "counts above their trials"),
        (lambda: plot.binomial(b, C - 1, 5), "counts: non-negative integers"),
        (lambda: plot.binomial(b, C[:, :1], 5), "1 features; the model has 2"),
        (lambda: plot.binomial(fastem.BinomialMixture(2, trials=5), C, 5), "not fitted"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
    assert isinstance(plot.clusters(g, X, dims=np.array([1, 0])), Axes)
