"""Model-based hierarchical agglomeration for initialisation (``init_params="hierarchical"``).

R mclust starts EM from a model-based hierarchical clustering (Fraley 1998) of the data
after a scaled SVD transformation (its default ``hcUse = "SVD"``: columns centred and
scaled to unit variance, rotated onto their principal axes, each axis divided by the
square root of its singular value), on a random subset of at most 2000 rows when there
are more.  For the spherical, equal-volume model (mclust's ``"EII"``) the merge that
costs the classification likelihood least is the one that increases the within-cluster
sum of squares least: Ward's criterion.  So this is Ward's agglomeration (SciPy's
compiled ``linkage``; memory quadratic in the subset: 16 MB at 2000 rows) on mclust's
transform; it gives mclust's ``hclass(hc(X, "EII", use = "SVD"), G)`` partitions.  mclust's
default agglomeration model is ``"VVV"`` (unconstrained covariances), whose criterion
needs per-cluster determinants with a regulariser for small clusters; that one is not
reproduced here.
"""

import numpy as np

#: Rows of the agglomeration at most (mclust.options("subset")).
MAX_ROWS = 2000


def svd_scaled(X):
    """mclust's ``hcUse = "SVD"`` transform of the rows X (m, d): centred, scaled to unit
    (n - 1) variance per column (constant columns dropped), times V D^(-1/2) of the
    scaled data's SVD."""
    X = np.asarray(X, dtype=np.float64)
    Z = X - X.mean(axis=0)
    sd = Z.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
    keep = sd > 0
    if not keep.any():
        return np.zeros((X.shape[0], 1))
    Z = Z[:, keep] / sd[keep]
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    s = np.where(s > 0, s, 1.0)
    return (Z @ vt.T) / np.sqrt(s)


def ward_partition(X, rows, k):
    """Labels (len(rows),) in 0..k-1, numbered by first appearance, of Ward's
    agglomeration of X[rows] on mclust's SVD transform cut at k clusters (fewer when the
    rows have fewer distinct points)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    m = rows.shape[0]
    if m < 2 or k <= 1:
        return np.zeros(m, dtype=np.int32)
    Z = svd_scaled(X[rows])
    tree = linkage(Z, method="ward")
    cut = fcluster(tree, k, criterion="maxclust")
    _, first, inverse = np.unique(cut, return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], dtype=np.int64)
    rank[np.argsort(first)] = np.arange(first.shape[0])
    return rank[inverse.ravel()].astype(np.int32)
