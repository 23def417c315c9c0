"""numba kernels for NumPy arrays on the CPU.

Only :mod:`numpy`, :mod:`numba` and :mod:`llvmlite` are imported here; the functions take
and return NumPy arrays. Thread counts and BLAS limits are set by
:mod:`xplearn._kernels._dispatch`, which calls these.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from xplearn._kernels._numba import _neighbors as _nb
from xplearn._kernels._numba._lloyd import (
    LARGE_NB,
    SMALL_NB,
    VECTOR_BYTES,
    WIDE_VECTOR_BYTES,
    lanes,
    lloyd_pass,
)

__all__ = [
    "SUPPORTED_DTYPES",
    "argkmin_numpy",
    "lloyd_pass_numpy",
    "neighbor_tiles",
    "radius_numpy",
    "tile_plan",
]

#: dtypes with a compiled specialisation (float32 data is never upcast).
SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Cache budgets of the tiles (bytes): the shifted chunk, and one block of packed centers
# that every row tile of the chunk meets while it is in cache. With one vector of centers
# (the few-clusters tile) nothing but the chunk competes for the cache, and the chunk is
# read again only by the update (from L2): larger chunks cost less per row there (fewer
# merges of the per-chunk sums; measured 7% faster per pass on (1M, 32, 8) float32).
_CHUNK_BYTES = 32 * 1024
_SMALL_CHUNK_BYTES = 128 * 1024
# at most this many rows per chunk: float32 rows are summed in float32 within a chunk
_MAX_CHUNK_ROWS = 1008
_CLUSTER_BLOCK_BYTES = 32 * 1024
_ROW_MULTIPLE = 24  # both tiles' row counts (8, and 8 or 4) divide the chunk size
_MAX_SLOTS = 24
_SLOT_BYTES = 32 * 1024 * 1024
# Below this many multiply-adds a pass runs on the calling thread: waking the pool costs
# more than it saves (and, on a loaded machine, can cost milliseconds).
_PARALLEL_MIN_WORK = 4_000_000
_CHUNK_SUM_MAX_CLUSTERS = 32


@functools.lru_cache(maxsize=256)
def tile_plan(n_samples: int, n_features: int, n_clusters: int, itemsize: int) -> dict:
    """Tile sizes for one pass; a function of the problem's shape only (not of threads).

    Memoized (a one-row predict repeats the same shape): callers must not modify the
    returned dict.

    Returns
    -------
    dict
        ``direct``, ``small``, ``block``, ``chunk_rows``, ``cluster_block``, ``n_slots``: see
        :func:`xplearn._kernels._numba._lloyd.lloyd_pass`.
    """
    small = n_clusters <= lanes(itemsize, VECTOR_BYTES) * SMALL_NB
    if small:
        block = lanes(itemsize, VECTOR_BYTES) * SMALL_NB
    else:
        block = lanes(itemsize, WIDE_VECTOR_BYTES) * LARGE_NB
    row_bytes = max(1, n_features * itemsize)
    chunk_bytes = _SMALL_CHUNK_BYTES if small else _CHUNK_BYTES
    chunk_rows = chunk_bytes // row_bytes // _ROW_MULTIPLE * _ROW_MULTIPLE
    chunk_rows = int(min(max(chunk_rows, _ROW_MULTIPLE), _MAX_CHUNK_ROWS))
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


@functools.lru_cache(maxsize=64)
def _placeholders(dtype: np.dtype, n_features: int) -> tuple[np.ndarray, ...]:
    """Arrays the Lloyd kernel reads but never writes, kept between calls (a one-row
    predict would otherwise allocate more than it computes): a zero shift, the empty
    weights that mean unit weights, and the unused outputs of a pass that only assigns."""
    return (
        np.zeros(n_features, dtype=dtype),
        np.empty(0, dtype=dtype),
        np.empty((1, n_features), dtype=np.float64),
        np.empty(1, dtype=np.float64),
        np.empty(1, dtype=np.int64),
    )


def lloyd_pass_numpy(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    centers: np.ndarray,
    shift: np.ndarray | None,
    labels: np.ndarray,
    *,
    update_centers: bool,
    compute_inertia: bool,
    around_centers: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, int, float]:
    """Run :func:`lloyd_pass` on NumPy arrays with the current numba thread count.

    ``X`` must be C-contiguous float32/float64; ``centers``, ``shift`` and
    ``sample_weight`` are cast to its dtype (they are small). ``labels`` (int32, C order)
    is updated in place. ``shift=None`` reads X in place (no centered copy of chunks),
    unless ``around_centers`` moves the frame to the centers' mean (see
    :func:`xplearn._kernels._numba._lloyd.lloyd_pass`; the sums are then in that frame).

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
    zero_shift, unit_weights, unused_sums, unused_weights, unused_counts = _placeholders(dtype, d)
    shifted = shift is not None
    shift = np.ascontiguousarray(shift, dtype=dtype) if shifted else zero_shift
    if sample_weight is None:
        sample_weight = unit_weights
    else:
        sample_weight = np.ascontiguousarray(sample_weight, dtype=dtype)
    if update_centers:
        sums = np.empty((k, d), dtype=np.float64)
        weights = np.empty(k, dtype=np.float64)
        counts = np.empty(k, dtype=np.int64)
    else:
        sums, weights, counts = unused_sums, unused_weights, unused_counts
    plan = tile_plan(n, d, k, dtype.itemsize)
    if plan["n_slots"] == 1 or n * max(k, 4) * d < _PARALLEL_MIN_WORK:
        n_threads = 1  # same result (slots do not depend on threads), no pool wake-up
    else:
        n_threads = numba.get_num_threads()
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
        n_threads,
        bool(around_centers),
    )
    if not update_centers:
        sums = weights = counts = None
    return labels, sums, weights, counts, int(n_changed), float(inertia)


# -------------------------------------------------------------------------------------
# Nearest neighbours

# Cache budgets (bytes) of one argkmin work item: a tile of training rows and the dot
# block of a query block against it (both stay in a core's L2 while the tile is scanned).
_TRAIN_TILE_BYTES = 64 * 1024
_DOT_TILE_BYTES = 512 * 1024
_MAX_Q_TILE = 512
# Work items wanted before the training rows are also split into parts (few queries).
_MIN_WORK_ITEMS = 8
_METRIC_CODES = {
    "sqeuclidean": _nb.SQEUCLIDEAN,
    "euclidean": _nb.EUCLIDEAN,
    "manhattan": _nb.MANHATTAN,
    "cosine": _nb.COSINE,
}


def neighbor_tiles(n_queries: int, n_train: int, n_features: int, itemsize: int) -> dict:
    """Tile sizes and training parts for one search; a function of the shape only.

    Returns
    -------
    dict
        ``q_tile`` (queries per block), ``t_tile`` (training rows per tile), ``n_parts``
        and ``part_len`` (training rows split in contiguous parts, a multiple of
        ``t_tile``, when there are fewer than 8 query blocks).
    """
    row_bytes = max(1, n_features * itemsize)
    t_tile = _TRAIN_TILE_BYTES // row_bytes // 64 * 64
    t_tile = int(min(max(t_tile, 64), 4096))
    q_tile = _DOT_TILE_BYTES // (t_tile * itemsize) // 8 * 8
    q_tile = int(min(max(q_tile, 8), _MAX_Q_TILE))
    n_blocks = -(-n_queries // q_tile)
    n_tiles = max(1, -(-n_train // t_tile))
    n_parts = 1
    if n_blocks < _MIN_WORK_ITEMS:
        n_parts = int(min(n_tiles, -(-_MIN_WORK_ITEMS // max(1, n_blocks))))
    part_len = -(-n_tiles // n_parts) * t_tile
    n_parts = max(1, -(-n_train // part_len))
    return {"q_tile": q_tile, "t_tile": t_tile, "n_parts": n_parts, "part_len": int(part_len)}


def _unit_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows of X scaled to unit norm, zero rows left zero; float64 norms)."""
    norms = np.empty(X.shape[0], dtype=np.float64)
    _nb.row_norms(X, False, norms)
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
    return (X * scale[:, None].astype(X.dtype)).astype(X.dtype, copy=False), norms


def _serial_if_small(work: int):
    """Context: one thread when the pool wake-up would cost more than the work."""
    from contextlib import contextmanager

    @contextmanager
    def ctx():
        n_threads = numba.get_num_threads()
        serial = n_threads > 1 and work < _PARALLEL_MIN_WORK
        if serial:
            numba.set_num_threads(1)
        try:
            yield
        finally:
            if serial:
                numba.set_num_threads(n_threads)

    return ctx()


def _exact_distances(X, Y, indptr, indices, code, x_norms, y_norms, dtype):
    distances = np.empty(indices.shape[0], dtype=dtype)
    _nb.exact_distances(X, Y, indptr, indices, code, x_norms, y_norms, distances)
    return distances


#: Largest training set (float32 bytes) packed at fit for few-query searches.
_PACK_MAX_BYTES = 64 * 2**20
#: Queries up to which a search with packed training rows takes the serial packed path.
_PACKED_MAX_QUERIES = 4


def training_index(Y: np.ndarray) -> tuple:
    """What a neighbour search derives from the training rows alone, computed once.

    Returns ``(shift, scale, packed, y_term)``: :func:`center_and_scale`, and (for
    training sets up to 64 MiB in float32) the rows in the float32 ranking form with
    their squared norms, which one-row queries scan directly; else ``None, None``.
    """
    shift, scale = center_and_scale(Y)
    if Y.size == 0 or Y.shape[0] * Y.shape[1] * 4 > _PACK_MAX_BYTES:
        return shift, scale, None, None
    packed = np.empty((Y.shape[1], Y.shape[0]), dtype=np.float32)
    y_term = np.empty(Y.shape[0], dtype=np.float32)
    _nb.pack_rows(Y, shift, scale, packed, y_term)
    return shift, scale, packed, y_term


def center_and_scale(Y: np.ndarray) -> tuple[np.ndarray, float]:
    """Training mean (float64) and a power-of-two scale with ``|y - mean| * scale <= 1``."""
    if Y.size == 0:
        return np.zeros(Y.shape[1]), 1.0
    shift = Y.mean(axis=0, dtype=np.float64)
    spread = max(
        float(np.max(np.abs(Y.max(axis=0) - shift))), float(np.max(np.abs(Y.min(axis=0) - shift)))
    )
    if not np.isfinite(spread) or spread == 0.0:
        return shift, 1.0
    return shift, float(2.0 ** -np.ceil(np.log2(spread)))


def argkmin_numpy(
    X: np.ndarray,
    Y: np.ndarray,
    k: int,
    metric: str,
    index: tuple | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``Y`` to each row of ``X``: (distances, int64 indices).

    ``X`` and ``Y`` are C-contiguous arrays of one dtype (float32 or float64), never
    copied nor upcast whole. For the dot-product metrics, ``k + max(k, 8)`` candidates
    per query are *selected* by a float32 ranking on centered, rescaled tiles (see
    :func:`._neighbors.argkmin_dot`), their distances recomputed exactly (float64
    accumulation, rounded once to X's dtype), and the ``k`` best kept, ordered by
    (distance, index): the ranking's rounding can drop a true neighbour only if more
    than ``max(k, 8)`` candidates lie within its rounding of the k-th distance.
    Manhattan distances are computed directly (exact). ``index`` is
    :func:`training_index` of ``Y`` when the caller keeps it (computed once at fit: a
    pass over the training rows would dominate a one-row query); with its packed rows,
    up to four euclidean queries are ranked serially against them
    (:func:`._neighbors.argkmin_packed`).
    """
    dtype = X.dtype
    n_queries, n_features = X.shape
    n_train = Y.shape[0]
    code = _METRIC_CODES[metric]
    if (
        index is not None
        and index[2] is not None
        and n_queries <= _PACKED_MAX_QUERIES
        and code in (_nb.SQEUCLIDEAN, _nb.EUCLIDEAN)
    ):
        return _argkmin_few(X, Y, k, code, index)
    # the ranking runs in float32 whatever the data's dtype
    plan = neighbor_tiles(n_queries, n_train, n_features, 4)
    x_norms = y_norms = np.empty(0, dtype=np.float64)
    if metric == "manhattan":
        n_select = k
        part_dtype = dtype
    else:
        n_select = min(n_train, k + max(k, 8))
        part_dtype = np.dtype(np.float32)
    part_vals = np.empty((plan["n_parts"], n_queries, n_select), dtype=part_dtype)
    part_idx = np.empty((plan["n_parts"], n_queries, n_select), dtype=np.int64)
    args = (n_select, plan["q_tile"], plan["t_tile"], plan["n_parts"], plan["part_len"])
    with _serial_if_small(n_queries * n_train * n_features):
        if metric == "manhattan":
            _nb.argkmin_manhattan(X, Y, *args, part_vals, part_idx)
        else:
            unit = metric == "cosine"
            if unit:
                shift, scale = np.zeros(n_features), 1.0
                x_norms = np.empty(n_queries, dtype=np.float64)
                y_norms = np.empty(n_train, dtype=np.float64)
                _nb.row_norms(X, False, x_norms)
                _nb.row_norms(Y, False, y_norms)
                _nb.argkmin_dot(X, Y, shift, scale, unit, *args, part_vals, part_idx)
            else:
                shift, scale = center_and_scale(Y) if index is None else index[:2]
                _nb.argkmin_dot(X, Y, shift, scale, unit, *args, part_vals, part_idx)
        if part_idx.shape[0] == 1:
            candidates = part_idx[0]
        else:
            merged_vals = np.empty((n_queries, n_select), dtype=part_dtype)
            candidates = np.empty((n_queries, n_select), dtype=np.int64)
            _nb.merge_parts(part_vals, part_idx, n_select, merged_vals, candidates)
        del part_vals
        indices = np.ascontiguousarray(candidates).reshape(-1)
        indptr = np.arange(0, n_queries * n_select + 1, n_select, dtype=np.int64)
        distances = _exact_distances(X, Y, indptr, indices, code, x_norms, y_norms, dtype)
        _nb.sort_rows(indptr, distances, indices)
    distances = distances.reshape(n_queries, n_select)[:, :k]
    indices = indices.reshape(n_queries, n_select)[:, :k]
    return np.ascontiguousarray(distances), np.ascontiguousarray(indices)


def _argkmin_few(X, Y, k, code, index):
    """:func:`argkmin_numpy` for a few (euclidean) queries against the training rows
    packed at fit: :func:`._neighbors.argkmin_few`, one compiled call on the calling
    thread (a one-row query costs tens of microseconds; waking the pool, or the general
    path's Python bookkeeping, would cost as much)."""
    shift, scale, packed, y_term = index
    n_select = min(Y.shape[0], k + max(k, 8))
    return _nb.argkmin_few(X, Y, packed, y_term, shift, scale, k, n_select, code)


def radius_numpy(
    X: np.ndarray, Y: np.ndarray, radius: float, metric: str, sort_results: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``Y`` within ``radius`` of each row of ``X``, as a CSR triple.

    Returns ``(indptr, indices, distances)``: int64, int64 and X's dtype; within a row
    the indices increase, or, with ``sort_results``, the entries go by (distance,
    index). Candidates come from the expansion with a rounding slack; the exact
    distances (float64 accumulation, rounded to X's dtype) decide.
    """
    dtype = X.dtype
    n_queries, n_features = X.shape
    n_train = Y.shape[0]
    code = _METRIC_CODES[metric]
    plan = neighbor_tiles(n_queries, n_train, n_features, dtype.itemsize)
    q_tile, t_tile = plan["q_tile"], plan["t_tile"]
    counts = np.empty(n_queries, dtype=np.int64)
    indptr = np.zeros(n_queries + 1, dtype=np.int64)
    x_norms = y_norms = np.empty(0, dtype=np.float64)
    with _serial_if_small(n_queries * n_train * n_features):
        if metric == "manhattan":
            empty = np.empty(0, dtype=np.int64)
            _nb.radius_manhattan(X, Y, float(radius), q_tile, counts, indptr, empty, False)
            np.cumsum(counts, out=indptr[1:])
            indices = np.empty(int(indptr[-1]), dtype=np.int64)
            _nb.radius_manhattan(X, Y, float(radius), q_tile, counts, indptr, indices, True)
        else:
            eps = float(np.finfo(dtype).eps)
            slack = dtype.type((n_features + 8) * eps)
            if metric == "cosine":
                X_dot, x_norms = _unit_rows(X)
                Y_dot, y_norms = _unit_rows(Y)
                x_term = np.ones(n_queries, dtype=dtype)
                y_term = np.zeros(n_train, dtype=dtype)
                x_scale, y_scale = x_term, np.ones(n_train, dtype=dtype)
                alpha, bound = dtype.type(-1), dtype.type(radius)
            else:
                X_dot, Y_dot = X, Y
                x_term = np.empty(n_queries, dtype=dtype)
                y_term = np.empty(n_train, dtype=dtype)
                _nb.row_norms(X, True, x_term)
                _nb.row_norms(Y, True, y_term)
                x_scale, y_scale = x_term, y_term
                alpha = dtype.type(-2)
                bound = dtype.type(radius**2 if metric == "euclidean" else radius)
            common = (X_dot, Y_dot, x_term, y_term, alpha, bound, slack, x_scale, y_scale)
            _nb.radius_count_dot(*common, q_tile, t_tile, counts)
            np.cumsum(counts, out=indptr[1:])
            indices = np.empty(int(indptr[-1]), dtype=np.int64)
            _nb.radius_fill_dot(*common, q_tile, t_tile, indptr, indices)
        distances = _exact_distances(X, Y, indptr, indices, code, x_norms, y_norms, dtype)
        if metric != "manhattan":
            keep = distances <= dtype.type(radius)
            if not keep.all():
                rows = np.repeat(np.arange(n_queries), np.diff(indptr))
                kept_per_row = np.bincount(rows[keep], minlength=n_queries)
                indptr = np.zeros(n_queries + 1, dtype=np.int64)
                np.cumsum(kept_per_row, out=indptr[1:])
                indices, distances = indices[keep], distances[keep]
        if sort_results:
            _nb.sort_rows(indptr, distances, indices)
    return indptr, indices, distances
