"""init_params="hierarchical" (issue 14): Ward's agglomeration on mclust's scaled SVD
transform gives R mclust's model-based hierarchical partitions for the EII model.

The partitions below were printed by R mclust 6.0.0:
``hclass(hc(X, modelName = "EII", use = "SVD"), G)`` on tests/data (labels numbered by
first appearance, as ``hclass`` numbers them), every row."""

import pathlib
import warnings

import numpy as np
import pytest

from fastem import GaussianMixture
from fastem._hierarchical import svd_scaled, ward_partition

DATA = pathlib.Path(__file__).parent / "data"

MCLUST_EII = {
    ("faithful", 2): ([176, 96],
        "1212121121211212212122111121111111122121121211121211212112112121"
        "2111211211212111111211112121212111212121121211121121212121121121"
        "2121212121211211121212112111112121211121212211111211211121121212"
        "1111112121121211212121112121212111111112121221121211112121211111"
        "1121112122112121"),
    ("faithful", 3): ([40, 96, 136],
        "1232321123213232232322133123333333322321323231323231232332332323"
        "2133233233232331333233332121232333232123323231323323232123321123"
        "2123212323213233323212332333312121233323212233333213233123123232"
        "3133132323123231232323332123232333333332121223323233312323233311"
        "3323332322332123"),
    ("faithful", 4): ([40, 51, 136, 45],
        "1232341143213434232344133123333333344321323231343231232332332343"
        "2133233233232331333233334121432333432143343231323323432143321143"
        "4143414343413233323412332333312141233323414233333413233143143432"
        "3133134323123431432343334123432333333334141223323433312323433311"
        "3323332342334143"),
    ("iris", 2): ([49, 101],
        "1111111111111111111111111111111111111111121111111122222222222222"
        "2222222222222222222222222222222222222222222222222222222222222222"
        "2222222222222222222222"),
    ("iris", 3): ([49, 62, 39],
        "1111111111111111111111111111111111111111121111111132323222322222"
        "2322222322333322222222322222222223223232232323323223233232323322"
        "2333222332233323332332"),
    ("iris", 4): ([49, 18, 39, 44],
        "1111111111111111111111111111111111111111121111111134323442342424"
        "4342224344333342222444324244224443243434434343343443433234343344"
        "4333444334433343334334"),
    ("diabetes", 2): ([119, 26],
        "1111111111111111111111111111111111111111111111111111111111111111"
        "1111111111111111111111111111111111111111111111112212222222212222"
        "22122111122222222"),
    ("diabetes", 3): ([89, 30, 26],
        "1111111111111111111111112111111112111111121111111211111111111111"
        "1111212111221111121112212212222122222212121211113323333333313333"
        "33233112233333333"),
    ("diabetes", 4): ([89, 30, 12, 14],
        "1111111111111111111111112111111112111111121111111211111111111111"
        "1111212111221111121112212212222122222212121211113323444344414334"
        "44243112243334433"),
}


def load(name):
    return np.loadtxt(DATA / f"{name}.csv", delimiter=",", skiprows=1, ndmin=2)


@pytest.mark.parametrize("key", list(MCLUST_EII), ids=lambda k: f"{k[0]}-{k[1]}")
def test_the_partition_is_mclusts(key):
    name, G = key
    X = load(name)
    sizes, labels = MCLUST_EII[key]
    got = ward_partition(X, np.arange(X.shape[0]), G)
    assert list(np.bincount(got)) == sizes
    assert "".join(str(v + 1) for v in got) == labels


def test_the_transform_whitens_up_to_the_singular_values():
    X = load("iris")
    Z = svd_scaled(X)
    # columns of Z are uncorrelated, with variance s_j / (n - 1) for the scaled data's s_j
    S = (X - X.mean(0)) / X.std(0, ddof=1)
    s = np.linalg.svd(S, compute_uv=False)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.diag(s / (X.shape[0] - 1)),
                               atol=1e-12)
    assert svd_scaled(np.ones((5, 3))).shape == (5, 1)  # constant columns: nothing to scale


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical"])
def test_the_init_is_the_partitions_m_step(ct):
    X = load("faithful")
    g = GaussianMixture(3, covariance_type=ct, init_params="hierarchical", max_iter=0).fit(X)
    labels = ward_partition(X, np.arange(X.shape[0]), 3)
    for c in range(3):
        np.testing.assert_allclose(g.means_[c], X[labels == c].mean(axis=0), rtol=1e-12)
        assert g.weights_[c] == pytest.approx(np.mean(labels == c), rel=1e-12)
    if ct == "full":
        for c in range(3):
            np.testing.assert_allclose(g.covariances_[c],
                                       np.cov(X[labels == c].T, bias=True) + 1e-6 * np.eye(2),
                                       rtol=1e-10)


def test_large_data_agglomerate_a_random_subset_and_every_variant_fits():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (3000, 2)), rng.normal(6, 1, (2000, 2))])
    kw = dict(init_params="hierarchical", random_state=0)
    a = GaussianMixture(2, **kw).fit(X)
    b = GaussianMixture(2, **kw).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)  # the subset follows random_state
    assert sorted(np.round(a.means_[:, 0])) == [0.0, 6.0]
    w = rng.uniform(0.5, 2.0, X.shape[0])
    assert GaussianMixture(2, **kw).fit(X, sample_weight=w).converged_
    Xm = X.copy()
    Xm[::5, 1] = np.nan  # missing values: the init sees the filled sample
    assert sorted(np.round(GaussianMixture(2, **kw).fit(Xm).means_[:, 0])) == [0.0, 6.0]


def test_fewer_distinct_points_than_components():
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]]), 10, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = GaussianMixture(3, init_params="hierarchical", reg_covar=1e-3).fit(X)
    assert np.all(np.isfinite(g.means_))
