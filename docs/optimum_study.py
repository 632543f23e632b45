"""The study of docs/model-selection.md: how often each initialisation reaches the
log-likelihood R mclust 6.0.0 reports (tests/data/mclust_fits.csv) on the classic data sets.

    python docs/optimum_study.py ["strategy name" ...]
"""
import csv, pathlib, warnings, numpy as np, sys, time
DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
import fastem
from sklearn.mixture import GaussianMixture as SK
warnings.simplefilter("ignore")
MAP = {"VII": "spherical", "EEE": "tied", "VVI": "diag", "VVV": "full", "V": "full", "E": "tied"}
rows = [r for r in csv.DictReader(open(DATA / "mclust_fits.csv")) if 2 <= int(r["G"]) <= 4 and r["loglik"] != "NA"]
data = {s: np.loadtxt(DATA / f"{s}.csv", delimiter=",", skiprows=1, ndmin=2) for s in {r["set"] for r in rows}}

def degenerate(g, X):
    cov = np.asarray(g.covariances_, dtype=float)
    var = X.var(axis=0)
    ct = g.covariance_type
    if ct == "full": ev = np.array([np.linalg.eigvalsh(c) for c in cov]).min(axis=1)[:, None]
    elif ct == "tied": ev = np.linalg.eigvalsh(cov).min()[None, None]
    elif ct == "diag": ev = cov
    else: ev = cov[:, None]
    return bool(np.any(ev < 1e-3 * var.min()))

S = dict(tol=1e-8, max_iter=3000)
def collapsed(g):
    cov = np.asarray(g.covariances_, dtype=float); ct = g.covariance_type
    if ct == "full": ev = min(np.linalg.eigvalsh(c).min() for c in cov)
    elif ct == "tied": ev = np.linalg.eigvalsh(cov).min()
    else: ev = cov.min()
    return ev < 10 * g.reg_covar
def prefer(fits):
    proper = [g for g in fits if not collapsed(g)] or fits
    return max(proper, key=lambda g: g.lower_bound_)
def best2(a, b):
    return a if a.lower_bound_ >= b.lower_bound_ else b
strategies = {
    "sklearn kmeans x10": lambda X, G, ct, s: SK(G, covariance_type=ct, n_init=10, random_state=s, **S).fit(X),
    "kmeans x10": lambda X, G, ct, s: fastem.GaussianMixture(G, covariance_type=ct, n_init=10, init_params="kmeans", random_state=s, **S).fit(X),
    "k-means++ x10": lambda X, G, ct, s: fastem.GaussianMixture(G, covariance_type=ct, n_init=10, init_params="k-means++", random_state=s, **S).fit(X),
    "random_from_data x10": lambda X, G, ct, s: fastem.GaussianMixture(G, covariance_type=ct, n_init=10, init_params="random_from_data", random_state=s, **S).fit(X),
    "hierarchical x1": lambda X, G, ct, s: fastem.GaussianMixture(G, covariance_type=ct, init_params="hierarchical", random_state=s, **S).fit(X),
    "hier + 9 k-means++": lambda X, G, ct, s: best2(fastem.GaussianMixture(G, covariance_type=ct, init_params="hierarchical", random_state=s, **S).fit(X), fastem.GaussianMixture(G, covariance_type=ct, n_init=9, init_params="k-means++", random_state=s, **S).fit(X)),
    "hier + 9 rfd": lambda X, G, ct, s: best2(fastem.GaussianMixture(G, covariance_type=ct, init_params="hierarchical", random_state=s, **S).fit(X), fastem.GaussianMixture(G, covariance_type=ct, n_init=9, init_params="random_from_data", random_state=s, **S).fit(X)),
    "rfd x10 prefer proper": lambda X, G, ct, s: prefer([fastem.GaussianMixture(G, covariance_type=ct, init_params="random_from_data", random_state=1000 * s + i, **S).fit(X) for i in range(10)]),
    "k-means++ x10 prefer proper": lambda X, G, ct, s: prefer([fastem.GaussianMixture(G, covariance_type=ct, init_params="k-means++", random_state=1000 * s + i, **S).fit(X) for i in range(10)]),
    "kmeans + 9 rfd prefer proper": lambda X, G, ct, s: prefer([fastem.GaussianMixture(G, covariance_type=ct, init_params="kmeans", random_state=s, **S).fit(X)] + [fastem.GaussianMixture(G, covariance_type=ct, init_params="random_from_data", random_state=1000 * s + i, **S).fit(X) for i in range(1, 10)]),
    "kmeans + 9 k-means++ prefer proper": lambda X, G, ct, s: prefer([fastem.GaussianMixture(G, covariance_type=ct, init_params="kmeans", random_state=s, **S).fit(X)] + [fastem.GaussianMixture(G, covariance_type=ct, init_params="k-means++", random_state=1000 * s + i, **S).fit(X) for i in range(1, 10)]),
    "auto x10": lambda X, G, ct, s: fastem.GaussianMixture(G, covariance_type=ct, n_init=10, random_state=s, **S).fit(X),
    "random x10": lambda X, G, ct, s: fastem.GaussianMixture(G, covariance_type=ct, n_init=10, init_params="random", random_state=s, **S).fit(X),
}
only = [a for a in sys.argv[1:] if a in strategies] if sys.argv[1:] else list(strategies)
for name in only:
    make = strategies[name]
    worse = total = degen = 0; t0 = time.time(); gaps = []
    for r in rows:
        X = data[r["set"]]; G = int(r["G"]); ct = MAP[r["model"]]
        for seed in range(5):
            g = make(X, G, ct, seed)
            ll = float(g.score_samples(X).sum())
            total += 1
            gap = float(r["loglik"]) - ll
            degen += degenerate(g, X)
            if gap > 1e-2:
                worse += 1; gaps.append(f"{r['set']}/{r['model']}/{G}:{gap:.2f}")
    print(f"{name:22s} below mclust {worse:3d}/{total}, degenerate {degen:3d}, {1000*(time.time()-t0)/total:.0f} ms/fit  {sorted(set(gaps))[:6]}", flush=True)

