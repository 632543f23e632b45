"""``python -m fastem demo``: the coin example and a million-row binomial mixture."""

import time
import warnings

import numpy as np

from .exceptions import ConvergenceWarning
from .binomial import BinomialMixture
from .gaussian import GaussianMixture

HEADS = np.array([5, 9, 8, 4, 7])


def coin_example():
    print("Two coins (Do & Batzoglou, 2008): five sets of ten tosses with 5, 9, 8, 4, 7 heads;")
    print("the coin is picked with probability 1/2 each time; EM starts at biases 0.6 and 0.5.\n")
    kw = dict(weights_init=[0.5, 0.5], probs_init=[0.6, 0.5], fit_weights=False)
    print("Soft EM (classic):")
    print("  iter   theta_A   theta_B   log-likelihood at the iteration's start")
    m = BinomialMixture(2, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for it in range(1, 11):
            m.set_params(max_iter=it, tol=0).fit(HEADS, trials=10)
            a, b = m.probs_.ravel()
            print(f"  {it:4d}   {a:.4f}    {b:.4f}    {m.lower_bounds_[-1] * len(HEADS):.6f}")
    hard = BinomialMixture(2, mode="hard", **kw).fit(HEADS, trials=10)
    a, b = hard.probs_.ravel()
    print("\nHard EM (each set given wholly to its likelier coin) from the same start:")
    print(f"  A gets the sets with {HEADS[hard.predict(HEADS, trials=10) == 0].tolist()} heads, "
          f"B the others: theta_A = {a:.4f}, theta_B = {b:.4f},")
    print(f"  no assignment changes after iteration {hard.n_iter_ - 1}, so it stops "
          f"(converged_={hard.converged_}).\n")


def synthetic_binomial(n=1_000_000, seed=0):
    rng = np.random.default_rng(seed)
    weights = np.array([0.5, 0.3, 0.2])
    probs = np.array([[0.2, 0.7, 0.5, 0.1], [0.6, 0.3, 0.5, 0.9], [0.9, 0.8, 0.1, 0.5]])
    trials = 20
    z = rng.choice(3, size=n, p=weights)
    X = rng.binomial(trials, probs[z]).astype(np.float32)
    print(f"Synthetic binomial mixture: {n:,} rows x {X.shape[1]} features, 20 trials, "
          "3 components")
    m = BinomialMixture(3, init_params="random_from_data", n_init=2, tol=1e-6, max_iter=200,
                        random_state=0)
    m.fit(X[:2000], trials=trials)  # first call compiles (or loads the on-disk cache)
    t0 = time.perf_counter()
    m.fit(X, trials=trials)
    dt = time.perf_counter() - t0
    order = np.argsort(-m.weights_)
    print(f"  fitted in {dt:.2f} s ({m.n_iter_} iterations of the kept run, 2 restarts, "
          f"converged={m.converged_})")
    print("  component   weight (truth)    probs (truth)")
    for c, o in enumerate(order):
        found = " ".join(f"{p:.3f}" for p in m.probs_[o])
        true = " ".join(f"{p:.3f}" for p in probs[c])
        print(f"  {c:9d}   {m.weights_[o]:.3f} ({weights[c]:.3f})   {found}  ({true})")
    err = np.abs(m.probs_[order] - probs).max()
    print(f"  largest error in a probability: {err:.4f}\n")


def blood_cells(seed=0, plots=None):
    """Two overlapping elliptical clusters, in the spirit of the red-blood-cell anemia data;
    ``plots``: a folder to write the figures of the fit into (needs matplotlib)."""
    rng = np.random.default_rng(seed)
    # Mean corpuscular volume (fL) and haemoglobin concentration (g/dL): a healthy group and
    # an iron-deficient group with smaller, paler cells and more spread. Simulated values.
    healthy = rng.multivariate_normal([90.0, 34.0], [[25.0, 2.5], [2.5, 1.0]], size=300)
    anaemic = rng.multivariate_normal([76.0, 31.0], [[49.0, 6.0], [6.0, 2.25]], size=100)
    X = np.vstack([healthy, anaemic])
    print("Red blood cells (simulated): 300 healthy + 100 anaemic people, cell volume and "
          "haemoglobin, two overlapping elliptical clusters.")
    start = dict(means_init=[[80.0, 32.0], [85.0, 33.0]], weights_init=[0.5, 0.5],
                 precisions_init=np.repeat(np.linalg.inv(np.cov(X.T))[None], 2, axis=0))
    gm = GaussianMixture(2, covariance_type="full", tol=1e-6, max_iter=200, **start).fit(X)
    print("  iteration   mean log-likelihood")
    for it, lb in enumerate(gm.lower_bounds_, 1):
        if it <= 10 or it % 10 == 0 or it == gm.n_iter_:
            print(f"  {it:9d}   {lb:.6f}")
    for c in np.argsort(-gm.weights_):
        sd = np.sqrt(np.diag(gm.covariances_[c]))
        r = gm.covariances_[c][0, 1] / (sd[0] * sd[1])
        print(f"  component: weight {gm.weights_[c]:.2f}, mean ({gm.means_[c][0]:.1f} fL, "
              f"{gm.means_[c][1]:.1f} g/dL), sd ({sd[0]:.1f}, {sd[1]:.2f}), correlation {r:.2f}")
    print("  (truth: weights 0.75 / 0.25, means (90, 34) and (76, 31), correlations 0.5 / 0.57)\n")
    if plots is not None:
        import os

        from . import plot

        os.makedirs(plots, exist_ok=True)
        paths = [os.path.join(plots, name) for name in
                 ("blood_cells_snapshots.png", "blood_cells_loglik.png", "blood_cells_fit.png")]
        plot.snapshots(gm, X).savefig(paths[0], dpi=90)
        plot.loglik(gm).figure.savefig(paths[1], dpi=90)
        ax = plot.clusters(gm, X)
        ax.set_xlabel("mean cell volume (fL)")
        ax.set_ylabel("haemoglobin (g/dL)")
        ax.figure.savefig(paths[2], dpi=90)
        print("  figures written: " + ", ".join(paths) + "\n")


def gaussian_million(n=1_000_000, seed=0):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [4.0, 1.0], [-2.0, 5.0]])
    covs = np.array([[[1.0, 0.5], [0.5, 1.0]], [[0.5, 0.0], [0.0, 2.0]],
                     [[1.5, -0.7], [-0.7, 1.0]]])
    z = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    X = means[z] + np.einsum("nij,nj->ni", np.linalg.cholesky(covs)[z], rng.normal(size=(n, 2)))
    start = dict(weights_init=[1 / 3] * 3, means_init=X[:3], tol=0, max_iter=20,
                 precisions_init=np.repeat(np.eye(2)[None], 3, axis=0))
    print(f"Gaussian mixture, {n:,} rows x 2 features, 3 full-covariance components, "
          "20 EM iterations from the same start:")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixture(3, **start).fit(X[:2000])  # compile (or load the on-disk cache)
        t0 = time.perf_counter()
        ours = GaussianMixture(3, **start).fit(X)
    t_ours = time.perf_counter() - t0
    print(f"  fastem:       {t_ours:6.2f} s   mean log-likelihood {ours.lower_bound_:.6f}")
    try:
        from sklearn.mixture import GaussianMixture as SKGaussianMixture
    except ImportError:
        print("  scikit-learn is not installed: pip install scikit-learn to compare.")
        return
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SKGaussianMixture(3, **start).fit(X)
    t_sk = time.perf_counter() - t0
    print(f"  scikit-learn: {t_sk:6.2f} s   mean log-likelihood {sk.lower_bound_:.6f}")
    print(f"  same answer: largest difference in the means {np.abs(ours.means_ - sk.means_).max():.1e};"
          f" fastem {t_sk / t_ours:.1f}x faster\n")


def main(plots=None):
    print("(The first run compiles fastem's kernels, about a minute; later runs load them "
          "from the on-disk cache.)\n")
    coin_example()
    synthetic_binomial()
    blood_cells(plots=plots)
    gaussian_million()
