"""numba kernels for NumPy arrays on the CPU.

Only :mod:`numpy`, :mod:`numba` and :mod:`llvmlite` are imported here; the functions take
and return NumPy arrays. Thread counts and BLAS limits are set by
:mod:`xplearn._kernels._dispatch`, which calls these.
"""

from __future__ import annotations

import numba
import numpy as np

from xplearn._kernels._numba._lloyd import LARGE_NB, SMALL_NB, lanes, lloyd_pass

__all__ = ["SUPPORTED_DTYPES", "lloyd_pass_numpy", "tile_plan"]

#: dtypes with a compiled specialisation (float32 data is never upcast).
SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Cache budgets of the tiles (bytes): the shifted chunk, and one block of packed centers
# that every row tile of the chunk meets while it is in cache.
_CHUNK_BYTES = 32 * 1024
_CLUSTER_BLOCK_BYTES = 32 * 1024
_ROW_MULTIPLE = 24  # both tiles' row counts (8 and 4) divide the chunk size
_MAX_SLOTS = 24
_SLOT_BYTES = 32 * 1024 * 1024
# Below this many multiply-adds a pass runs on the calling thread: waking the pool costs
# more than it saves (and, on a loaded machine, can cost milliseconds).
_PARALLEL_MIN_WORK = 4_000_000
_CHUNK_SUM_MAX_CLUSTERS = 32


def tile_plan(n_samples: int, n_features: int, n_clusters: int, itemsize: int) -> dict:
    """Tile sizes for one pass; a function of the problem's shape only (not of threads).

    Returns
    -------
    dict
        ``direct``, ``small``, ``block``, ``chunk_rows``, ``cluster_block``, ``n_slots``: see
        :func:`xplearn._kernels._numba._lloyd.lloyd_pass`.
    """
    vector = lanes(itemsize)
    small = n_clusters <= vector
    block = vector * (SMALL_NB if small else LARGE_NB)
    row_bytes = max(1, n_features * itemsize)
    chunk_rows = _CHUNK_BYTES // row_bytes // _ROW_MULTIPLE * _ROW_MULTIPLE
    chunk_rows = int(min(max(chunk_rows, _ROW_MULTIPLE), 1008))
    cluster_block = max(block, _CLUSTER_BLOCK_BYTES // row_bytes // block * block)
    n_chunks = -(-n_samples // chunk_rows)
    per_slot = max(1, n_clusters * n_features * 8)
    n_slots = int(max(1, min(n_chunks, _MAX_SLOTS, max(4, _SLOT_BYTES // per_slot))))
    return {
        # per-chunk partial sums in X's dtype pay off for float32 data and few clusters
        "direct": itemsize == 8 or n_clusters > _CHUNK_SUM_MAX_CLUSTERS,
        "small": small,
        "block": block,
        "chunk_rows": chunk_rows,
        "cluster_block": int(cluster_block),
        "n_slots": n_slots,
    }


def lloyd_pass_numpy(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    centers: np.ndarray,
    shift: np.ndarray | None,
    labels: np.ndarray,
    *,
    update_centers: bool,
    compute_inertia: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, int, float]:
    """Run :func:`lloyd_pass` on NumPy arrays with the current numba thread count.

    ``X`` must be C-contiguous float32/float64; ``centers``, ``shift`` and
    ``sample_weight`` are cast to its dtype (they are small). ``labels`` (int32, C order)
    is updated in place. ``shift=None`` reads X in place (no centered copy of chunks).

    Returns
    -------
    labels, sums, weights, counts, n_changed, inertia
        ``sums`` (float64), ``weights`` (float64) and ``counts`` (int64) are None unless
        ``update_centers``.
    """
    dtype = X.dtype
    n, d = X.shape
    k = centers.shape[0]
    centers = np.ascontiguousarray(centers, dtype=dtype)
    shifted = shift is not None
    shift = np.ascontiguousarray(shift if shifted else np.zeros(d), dtype=dtype)
    if sample_weight is None:
        sample_weight = np.empty(0, dtype=dtype)
    else:
        sample_weight = np.ascontiguousarray(sample_weight, dtype=dtype)
    if update_centers:
        sums = np.empty((k, d), dtype=np.float64)
        weights = np.empty(k, dtype=np.float64)
        counts = np.empty(k, dtype=np.int64)
    else:
        sums = np.empty((1, d), dtype=np.float64)
        weights = np.empty(1, dtype=np.float64)
        counts = np.empty(1, dtype=np.int64)
    plan = tile_plan(n, d, k, dtype.itemsize)
    n_threads = numba.get_num_threads()
    serial = n_threads > 1 and (plan["n_slots"] == 1 or n * max(k, 4) * d < _PARALLEL_MIN_WORK)
    if serial:  # same result (slots do not depend on threads), no pool wake-up
        numba.set_num_threads(1)
    try:
        n_changed, inertia = lloyd_pass(
            X,
            sample_weight,
            centers,
            shift,
            labels,
            sums,
            weights,
            counts,
            bool(update_centers),
            bool(compute_inertia),
            plan["small"],
            plan["block"],
            plan["chunk_rows"],
            plan["cluster_block"],
            plan["n_slots"],
            plan["direct"],
            shifted,
            numba.get_num_threads(),
        )
    finally:
        if serial:
            numba.set_num_threads(n_threads)
    if not update_centers:
        sums = weights = counts = None
    return labels, sums, weights, counts, int(n_changed), float(inertia)
