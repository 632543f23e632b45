"""The pictures EM is taught with (matplotlib: ``pip install 'fastem[plot]'``).

Every function returns matplotlib objects (an Axes, or a Figure for several panels) and
never calls ``plt.show()``: save them (``fig.savefig("em.png")``) or show them yourself.
Figures are made without pyplot (``matplotlib.figure.Figure``), so no GUI backend is
needed.
"""

import numpy as np


def _mpl():
    try:  # the optional extra: a clear message without it
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("fastem.plot needs matplotlib: pip install 'fastem[plot]'") from None
    return Figure


def _axes(ax, size=(5, 4)):
    if ax is not None:
        return ax
    return _mpl()(figsize=size).add_subplot()


_COLOURS = np.array([[0.12, 0.47, 0.71], [1.0, 0.5, 0.05], [0.17, 0.63, 0.17],
                     [0.84, 0.15, 0.16], [0.58, 0.4, 0.74], [0.55, 0.34, 0.29],
                     [0.89, 0.47, 0.76], [0.5, 0.5, 0.5], [0.74, 0.74, 0.13],
                     [0.09, 0.75, 0.81]])


def _colours(k):
    return _COLOURS[np.arange(k) % len(_COLOURS)]


_INSTEAD = {"BinomialMixture": "; for a binomial mixture use binomial()",
            "GaussianMixture": "; for a Gaussian mixture use clusters()"}


def _model(model, name, fn):
    """TypeError unless ``model`` is a fastem ``name`` (or a subclass)."""
    import fastem

    if not isinstance(model, getattr(fastem, name)):
        got = type(model).__name__
        hint = _INSTEAD.get(got, "") if fn != "snapshots" else ""
        raise TypeError(f"{fn}() draws a fastem.{name}; got {got}{hint}")


def _dims(dims, d):
    """The two distinct feature indices ``dims`` of a d-feature X, checked."""
    try:
        i, j = dims
    except (TypeError, ValueError):
        raise ValueError(f"dims must be two feature indices; got {dims!r}") from None
    for v in (i, j):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not (
                0 <= v < d):
            raise ValueError(f"dims must be two feature indices in [0, {d}); got {dims!r}")
    if i == j:
        raise ValueError(f"dims must be two different features; got {dims!r}")
    return int(i), int(j)


def loglik(model, ax=None):
    """The mean log-likelihood per EM iteration of the kept run (``lower_bounds_``).

    Returns
    -------
    ax : matplotlib Axes
    """
    _mpl()
    history = np.asarray(getattr(model, "lower_bounds_", None) or [], dtype=np.float64)
    if history.size == 0:
        raise ValueError("the model has no iteration history: fit it first (max_iter >= 1)")
    ax = _axes(ax)
    ax.plot(np.arange(1, history.size + 1), history, marker="o", ms=3, label="kept run")
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("mean log-likelihood")
    ax.set_title(f"{type(model).__name__}: {history.size} iterations")
    ax.grid(alpha=0.3)
    return ax


def _full_covariances(model):
    cov = np.asarray(model.covariances_, dtype=np.float64)
    k, d = np.asarray(model.means_).shape
    ct = model._fitted_covariance_type()
    if ct == "full":
        return cov
    if ct == "tied":
        return np.repeat(cov[None], k, axis=0)
    if ct == "diag":
        return np.stack([np.diag(v) for v in cov])
    return np.stack([np.eye(d) * v for v in cov])


def _ellipse(ax, mean, cov, n_sigma, colour):
    from matplotlib.patches import Ellipse

    vals, vecs = np.linalg.eigh(cov)
    vals = np.clip(vals, 0.0, None)
    angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
    width, height = 2 * n_sigma * np.sqrt(vals[1]), 2 * n_sigma * np.sqrt(vals[0])
    ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, lw=1.2,
                         ec=colour, alpha=1.0 - 0.25 * (n_sigma - 1)))


def clusters(model, X, ax=None, dims=(0, 1)):
    """The rows coloured by their posterior (a soft assignment mixes the components'
    colours), each component's mean and its 1-, 2- and 3-sigma ellipses (the marginal
    Gaussian on ``dims`` when there are more than two features).

    Returns
    -------
    ax : matplotlib Axes
    """
    _mpl()
    _model(model, "GaussianMixture", "clusters")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError("clusters() draws two features of a 2-D X; for one feature use "
                         "snapshots(), which draws a histogram")
    i, j = _dims(dims, X.shape[1])
    resp = np.asarray(model.predict_proba(X), dtype=np.float64)
    colours = np.clip(resp @ _colours(resp.shape[1]), 0, 1)
    ax = _axes(ax)
    seen = ~np.isnan(X[:, [i, j]]).any(axis=1)
    ax.scatter(X[seen, i], X[seen, j], c=colours[seen], s=8, alpha=0.7, lw=0)
    means = np.asarray(model.means_, dtype=np.float64)
    covs = _full_covariances(model)
    for c, colour in enumerate(_colours(means.shape[0])):
        sub = covs[c][np.ix_([i, j], [i, j])]
        for n_sigma in (1, 2, 3):
            _ellipse(ax, means[c, [i, j]], sub, n_sigma, colour)
        ax.plot(*means[c, [i, j]], marker="x", ms=9, mew=2, color=colour)
    ax.set_xlabel(f"feature {i}")
    ax.set_ylabel(f"feature {j}")
    return ax


def _histogram(ax, model, x):
    from scipy.stats import norm

    x = x[~np.isnan(x)]
    ax.hist(x, bins=40, density=True, color="0.8")
    grid = np.linspace(x.min(), x.max(), 400)
    total = np.zeros_like(grid)
    means = np.asarray(model.means_, dtype=np.float64)[:, 0]
    sd = np.sqrt(_full_covariances(model)[:, 0, 0])
    for c, colour in enumerate(_colours(means.shape[0])):
        dens = model.weights_[c] * norm.pdf(grid, means[c], sd[c])
        total += dens
        ax.plot(grid, dens, color=colour, lw=1.2)
    ax.plot(grid, total, color="k", lw=1.5)


def snapshots(model, X, iterations=(1, 3, 5, 10, 15, 25), dims=(0, 1)):
    """Fit ``model``'s settings on ``X`` and show the mixture after each listed EM
    iteration, in a grid (the classic red-blood-cell figure); a histogram with the
    component densities for one-dimensional data.

    All panels share one start: the model's ``random_state`` (a fixed seed is drawn
    when it is None), so panel t is the fit that ``max_iter=t`` gives.

    Returns
    -------
    fig : matplotlib Figure
    """
    import warnings

    Figure = _mpl()
    _model(model, "GaussianMixture", "snapshots")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or 0 in X.shape:
        raise ValueError(f"snapshots() draws a non-empty 2-D X; got shape {X.shape}")
    iterations = list(iterations)
    if not iterations or not all(
            isinstance(t, (int, np.integer)) and not isinstance(t, (bool, np.bool_)) and t >= 1
            for t in iterations):
        raise ValueError(f"iterations must be positive integers; got {iterations!r}")
    if X.shape[1] > 1:
        _dims(dims, X.shape[1])
    params = model.get_params(deep=False)
    if params.get("random_state") is None:
        params["random_state"] = int(np.random.default_rng().integers(2**31))
    cols = min(3, len(iterations))
    rows = -(-len(iterations) // cols)
    fig = Figure(figsize=(4 * cols, 3.4 * rows))
    for n, t in enumerate(iterations):
        ax = fig.add_subplot(rows, cols, n + 1)
        est = type(model)(**{**params, "max_iter": t, "tol": 0.0})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X)
        if X.shape[1] == 1:
            _histogram(ax, est, X[:, 0])
        else:
            clusters(est, X, ax=ax, dims=dims)
        ax.set_title(f"after iteration {t}")
    fig.tight_layout()
    return fig


def binomial(model, X, trials):
    """Per feature, the observed counts' histogram against the fitted mixture's pmf
    (``trials``: one number, or one per feature).

    Returns
    -------
    fig : matplotlib Figure
    """
    Figure = _mpl()
    from scipy.stats import binom

    _model(model, "BinomialMixture", "binomial")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or 0 in X.shape:
        raise ValueError(f"binomial() draws a non-empty 2-D X of counts; got shape {X.shape}")
    d = X.shape[1]
    t = np.asarray(trials, dtype=np.float64).reshape(-1) if np.ndim(trials) <= 1 else None
    if t is None or t.shape[0] not in (1, d):
        raise ValueError(f"binomial() draws one trials value per feature (a number or {d} "
                         "numbers); per-row trials have no single pmf to draw")
    if not np.all((t >= 0) & (t == np.floor(t)) & (t < 2 ** 31)):
        raise ValueError(f"trials must be non-negative integers; got {trials!r}")
    T = np.broadcast_to(t.astype(np.int64), (d,))
    seen = X[~np.isnan(X)]
    if seen.size and (np.any(seen < 0) or np.any(seen != np.floor(seen))
                      or np.any(np.isinf(seen))):
        raise ValueError("X must hold counts: non-negative integers (NaN for missing)")
    if np.any(np.where(np.isnan(X), 0, X) > T):
        raise ValueError("X has counts above their trials")
    from ._validation import check_fitted

    check_fitted(model, "probs_")
    probs = np.asarray(model.probs_, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != d:
        raise ValueError(f"X has {d} features; the model has {probs.shape[-1]}")
    weights = np.asarray(model.weights_, dtype=np.float64)
    fig = Figure(figsize=(4 * min(d, 3), 3.2 * (-(-d // 3))))
    for j in range(d):
        ax = fig.add_subplot(-(-d // 3), min(d, 3), j + 1)
        x = X[~np.isnan(X[:, j]), j]
        support = np.arange(T[j] + 1)
        counts = np.bincount(x.astype(np.int64), minlength=T[j] + 1)[:T[j] + 1]
        ax.bar(support, counts / max(1, x.shape[0]), color="0.8", label="observed")
        pmf = sum(weights[c] * binom.pmf(support, T[j], probs[c, j])
                  for c in range(weights.shape[0]))
        ax.plot(support, pmf, "ko-", ms=3, label="fitted mixture")
        ax.set_title(f"feature {j} ({T[j]} trials)")
        ax.set_xlabel("successes")
    fig.axes[0].legend()
    fig.tight_layout()
    return fig
