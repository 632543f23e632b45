"""``python -m fastem demo``: the coin example and a million-row binomial mixture."""

import time
import warnings

import numpy as np

from ._em import ConvergenceWarning
from .binomial import BinomialMixture

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
    print(f"  A gets the sets with {HEADS[hard.predict(HEADS, 10) == 0].tolist()} heads, "
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
    m.fit(X[:2000], trials)  # first call compiles (or loads the on-disk cache)
    t0 = time.perf_counter()
    m.fit(X, trials)
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


def main():
    coin_example()
    synthetic_binomial()
