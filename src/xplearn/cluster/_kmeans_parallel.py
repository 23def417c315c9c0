"""k-means|| seeding (scalable k-means++, Bahmani et al., VLDB 2012), pass by pass.

Greedy k-means++ picks one center per pass over the data: k passes, each a computation
on a lazy backend. k-means|| instead oversamples ``oversampling_factor * n_clusters``
candidates per pass, each row with probability proportional to its (weighted) squared
distance to the candidates so far, for a few rounds; the candidates, weighted by the
(weighted) number of rows closest to each, are then clustered in memory (k-means++ and
Lloyd) into ``n_clusters`` centers. Unlike dask-ml, the candidates keep those weights in
the final clustering, as the paper prescribes.

Every pass is :func:`xplearn._kernels._blocks.map_row_blocks`: one computation of a
Dask array (the numba kernels on its NumPy chunks), a direct call in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xplearn._kernels._blocks import lloyd_block, map_row_blocks, n_row_blocks
from xplearn._xp import array_namespace, move_to, to_numpy

__all__ = ["kmeans_parallel_init"]


def _cost_block(block, sample_weight, centers, shift):
    """Weighted sum of squared distances of the block's rows to their closest center."""
    return lloyd_block(block, sample_weight, centers, shift, True)[3]


def _sample_block(block, sample_weight, seed, centers, shift, factor):
    """The block's rows drawn with probability ``min(1, factor * w * d^2)`` (host array,
    in the shifted frame), with their own random stream."""
    from xplearn._kernels._xp_impl import sq_distances

    xp = array_namespace(block)
    device = getattr(block, "device", None)
    local = xp.astype(move_to(centers, xp, device), block.dtype)
    rows = block if shift is None else block - xp.astype(move_to(shift, xp, device), block.dtype)
    norms = xp.sum(local * local, axis=1)
    nearest = to_numpy(xp.min(sq_distances(xp, rows, local, norms), axis=1)).astype(np.float64)
    weights = 1.0 if sample_weight is None else to_numpy(sample_weight).astype(np.float64)
    probability = np.minimum(1.0, factor * weights * nearest)
    drawn = np.random.default_rng(seed).random(nearest.shape[0]) < probability
    return to_numpy(rows)[drawn]


def kmeans_parallel_init(
    X: Any,
    n_clusters: int,
    *,
    sample_weight: Any,
    random_state: np.random.RandomState,
    shift: np.ndarray | None,
    oversampling_factor: float = 2.0,
    n_rounds: int = 5,
) -> np.ndarray:
    """Initial centers by k-means|| (host NumPy array of X's dtype, in the frame of
    ``X - shift``).

    Computations of a lazy X: one for the first center, two per round (the cost, then
    the draws), one for the candidates' weights: ``2 * n_rounds + 2`` in all.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Data of any namespace; Dask arrays are processed block by block.
    n_clusters : int
    sample_weight : array of shape (n_samples,) or None
    random_state : numpy.random.RandomState
        Source of every draw (the first row, one seed per block and round, the final
        clustering's seed).
    shift : host array of shape (n_features,) or None
        Subtracted from the rows (the data mean, when the fit centers).
    oversampling_factor : float, default=2.0
        Expected candidates drawn per round, in multiples of ``n_clusters``.
    n_rounds : int, default=5
        Rounds of oversampling (the paper finds 5 enough).
    """
    from xplearn.cluster._kmeans import KMeans

    n_samples = X.shape[0]
    dtype = np.dtype(str(X.dtype).rsplit(".", 1)[-1])
    first = int(random_state.randint(n_samples))
    candidates = np.asarray(to_numpy(X[first : first + 1, :]), dtype=np.float64)
    if shift is not None:
        candidates = candidates - shift
    candidates = candidates.astype(dtype)
    expected = oversampling_factor * n_clusters
    for _ in range(n_rounds):
        cost = sum(map_row_blocks(_cost_block, X, sample_weight, constants=(candidates, shift)))
        if not cost > 0:  # every row sits on a candidate
            break
        seeds = random_state.randint(0, 2**31 - 1, size=n_row_blocks(X))
        drawn = map_row_blocks(
            _sample_block,
            X,
            sample_weight,
            per_block=list(seeds),
            constants=(candidates, shift, expected / cost),
        )
        candidates = np.concatenate([candidates, *(part.astype(dtype) for part in drawn)])
    parts = map_row_blocks(lloyd_block, X, sample_weight, constants=(candidates, shift, False))
    weights = parts[0][1].copy()
    for part in parts[1:]:
        weights += part[1]
    if candidates.shape[0] <= n_clusters:
        # fewer distinct candidates than clusters (e.g. few distinct rows): all of them,
        # repeated; the Lloyd iterations then relocate the empty clusters
        repeats = -(-n_clusters // candidates.shape[0])
        return np.tile(candidates, (repeats, 1))[:n_clusters].astype(dtype)
    # the candidates are few (about oversampling_factor * n_clusters * n_rounds): several
    # seedings of their clustering cost nothing next to one pass over X
    final = KMeans(
        n_clusters=n_clusters,
        init="k-means++",
        n_init=10,
        random_state=random_state.randint(0, 2**31 - 1),
        dtype_policy="preserve",
    )
    with_weight = weights > 0
    if int(with_weight.sum()) < n_clusters:
        with_weight[:] = True  # keep the zero-weight candidates rather than too few rows
    final.fit(candidates[with_weight], sample_weight=weights[with_weight])
    return np.asarray(final.cluster_centers_, dtype=dtype)
