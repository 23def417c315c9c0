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


def _exact_keys(X, Y, indptr, indices, code, x_norms, y_norms):
    """Float64 distances (:func:`._neighbors._pair_key`) of the pairs of a CSR structure."""
    keys = np.empty(indices.shape[0], dtype=np.float64)
    _nb.exact_distances(X, Y, indptr, indices, code, x_norms, y_norms, keys)
    return keys


#: Largest training set (float32 bytes) packed at fit for few-query searches.
_PACK_MAX_BYTES = 64 * 2**20
#: Queries up to which a search with packed training rows takes the serial packed path.
_PACKED_MAX_QUERIES = 4
#: Above this many features the float32 ranking's error bound ((d + 8) u) is too loose
#: to certify anything: the search is exact from the start.
_MAX_RANKED_FEATURES = 100_000


def training_index(Y: np.ndarray) -> tuple:
    """What a neighbour search derives from the training rows alone, computed once.

    Returns ``(shift, scale, packed, y_term, r_norm)``: :func:`center_and_scale`, and
    (for training sets up to 64 MiB in float32) the rows in the float32 ranking form
    with their squared norms, which one-row queries scan directly, and R, a bound on
    the norms of the ranking rows (for :func:`._neighbors.certify`); else
    ``None, None, None``.
    """
    shift, scale = center_and_scale(Y)
    if Y.size == 0 or Y.shape[0] * Y.shape[1] * 4 > _PACK_MAX_BYTES:
        return shift, scale, None, None, None
    packed = np.empty((Y.shape[1], Y.shape[0]), dtype=np.float32)
    y_term = np.empty(Y.shape[0], dtype=np.float32)
    _nb.pack_rows(Y, shift, scale, packed, y_term)
    return shift, scale, packed, y_term, _norm_bound(float(np.max(y_term)))


def _norm_bound(max_sq: float) -> float:
    """R >= every ranking row's norm, from the largest (float32 / float64-rounded)
    squared norm met: inflated by 4 float32 roundings (NaN stays NaN: no certificate)."""
    return float(np.sqrt(max_sq) * (1.0 + 4.0 * _nb.U32))


def center_and_scale(Y: np.ndarray) -> tuple[np.ndarray, float]:
    """Training mean (float64) and a power-of-two scale with ``|y - mean| * scale <= 1``."""
    if Y.size == 0:
        return np.zeros(Y.shape[1]), 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        shift = Y.mean(axis=0, dtype=np.float64)
        if not np.all(np.isfinite(shift)):
            # float64 data beyond ~1e304 overflows the sum: the mean of the scaled rows
            big = float(np.max(np.abs(Y)))
            shift = (Y / big).mean(axis=0, dtype=np.float64) * big
        spread = max(
            float(np.max(np.abs(Y.max(axis=0) - shift))),
            float(np.max(np.abs(Y.min(axis=0) - shift))),
        )
    if not np.isfinite(spread) or spread == 0.0:
        return np.where(np.isfinite(shift), shift, 0.0), 1.0
    return shift, float(2.0 ** -np.ceil(np.log2(spread)))


def argkmin_numpy(
    X: np.ndarray,
    Y: np.ndarray,
    k: int,
    metric: str,
    index: tuple | None = None,
    keys: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``Y`` to each row of ``X``: (distances, int64 indices).

    ``X`` and ``Y`` are C-contiguous arrays of one dtype (float32 or float64), never
    copied nor upcast whole. The result is the exact one: the ``k`` rows with the
    smallest float64 distances (direct differences, :func:`._neighbors._pair_key`),
    ties by the smaller index, NaN distances last. For the dot-product metrics,
    ``k + max(k, 8)`` candidates per query are *selected* by a float32 ranking on
    centered, rescaled tiles (:func:`._neighbors.argkmin_dot`), their float64 distances
    computed and sorted, and :func:`._neighbors.certify` proves, per query, that no
    other training row can be among the k nearest; the queries it cannot certify
    (clusters much tighter than the data's extent, extreme magnitudes, NaN) are measured
    against every training row (:func:`._neighbors.exact_argkmin`). Manhattan
    distances are computed directly (exact). ``index`` is :func:`training_index` of
    ``Y`` when the caller keeps it (computed once at fit: a pass over the training rows
    would dominate a one-row query); with its packed rows, up to four euclidean queries
    are ranked serially against them (:func:`._neighbors.argkmin_few`). The distances
    come rounded once to X's dtype, or as the float64 values with ``keys`` (what the
    Dask block search merges).
    """
    dtype = X.dtype
    out_dtype = np.dtype(np.float64) if keys else dtype
    n_queries, n_features = X.shape
    n_train = Y.shape[0]
    code = _METRIC_CODES[metric]
    n_select = min(n_train, k + max(k, 8))
    if (
        index is not None
        and index[2] is not None
        and n_queries <= _PACKED_MAX_QUERIES
        and code in (_nb.SQEUCLIDEAN, _nb.EUCLIDEAN)
        and n_features <= _MAX_RANKED_FEATURES
    ):
        shift, scale, packed, y_term, r_norm = index
        found, distances, indices = _nb.argkmin_few(
            X, Y, packed, y_term, shift, scale, r_norm, k, n_select, code
        )
        return (found if keys else distances), indices
    plan = neighbor_tiles(n_queries, n_train, n_features, 4)  # manhattan's tiles
    x_norms = y_norms = np.empty(0, dtype=np.float64)
    if code == _nb.COSINE:
        x_norms = np.empty(n_queries, dtype=np.float64)
        y_norms = np.empty(n_train, dtype=np.float64)
        _nb.row_norms(X, False, x_norms)
        _nb.row_norms(Y, False, y_norms)
    with _serial_if_small(n_queries * n_train * n_features):
        if code == _nb.MANHATTAN or n_features > _MAX_RANKED_FEATURES:
            if code == _nb.MANHATTAN:
                n_select = k
                part_vals = np.empty((plan["n_parts"], n_queries, k), dtype=np.float64)
                part_idx = np.empty((plan["n_parts"], n_queries, k), dtype=np.int64)
                args = (k, plan["q_tile"], plan["t_tile"], plan["n_parts"], plan["part_len"])
                _nb.argkmin_manhattan(X, Y, *args, part_vals, part_idx)
                found, candidates = _merged(part_vals, part_idx, n_queries, k)
                ok = candidates[:, k - 1] >= 0  # else NaN or infinite distances
            else:
                found = np.empty((n_queries, k))
                candidates = np.empty((n_queries, k), dtype=np.int64)
                ok = np.zeros(n_queries, dtype=bool)
        else:
            unit = code == _nb.COSINE
            if unit:
                shift, scale = np.zeros(n_features), 1.0
            else:
                shift, scale = center_and_scale(Y) if index is None else index[:2]
            frame = (shift, scale, unit, code, x_norms, y_norms)
            found, candidates, ok = _ranked_pass(X, Y, k, n_select, frame, np.float32)
            failed = np.flatnonzero(~ok)
            if failed.size and np.isfinite(scale):
                # the same ranking in float64 (a bound 2**29 times tighter) for the queries
                # float32's did not certify: tight clusters far apart, mostly
                Xf = np.ascontiguousarray(X[failed])
                xf_norms = x_norms[failed] if unit else x_norms
                frame = (shift, scale, unit, code, xf_norms, y_norms)
                found_f, cand_f, ok_f = _ranked_pass(Xf, Y, k, n_select, frame, np.float64)
                found[failed], candidates[failed], ok[failed] = found_f, cand_f, ok_f
        failed = np.flatnonzero(~ok)
        if failed.size:
            exact_keys = np.empty((failed.size, k), dtype=np.float64)
            exact_idx = np.empty((failed.size, k), dtype=np.int64)
            _nb.exact_argkmin(X, Y, failed, k, code, x_norms, y_norms, exact_keys, exact_idx)
            found = np.ascontiguousarray(found[:, :k])
            candidates = np.ascontiguousarray(candidates[:, :k])
            found[failed] = exact_keys
            candidates[failed] = exact_idx
    with np.errstate(over="ignore"):  # float32 sqeuclidean beyond 1e19: inf
        distances = np.ascontiguousarray(found[:, :k], dtype=out_dtype)
    return distances, np.ascontiguousarray(candidates[:, :k])


def _ranked_pass(X, Y, k, n_select, frame, rank_dtype):
    """Candidates by the expansion in ``rank_dtype`` tiles, their float64 distances
    sorted, and which queries :func:`._neighbors.certify` proves exact:
    ``(keys (nq, n_select) float64, indices (nq, n_select), ok (nq,) bool)``."""
    shift, scale, unit, code, x_norms, y_norms = frame
    n_queries, n_features = X.shape
    n_train = Y.shape[0]
    rank_dtype = np.dtype(rank_dtype)
    plan = neighbor_tiles(n_queries, n_train, n_features, rank_dtype.itemsize)
    part_vals = np.empty((plan["n_parts"], n_queries, n_select), dtype=rank_dtype)
    part_idx = np.empty((plan["n_parts"], n_queries, n_select), dtype=np.int64)
    args = (n_select, plan["q_tile"], plan["t_tile"], plan["n_parts"], plan["part_len"])
    n_items = -(-n_queries // plan["q_tile"]) * plan["n_parts"]
    x_sq = np.empty(n_queries, dtype=np.float64)
    item_r2 = np.zeros(max(n_items, 1), dtype=np.float64)
    alphas = (rank_dtype.type(-2.0), rank_dtype.type(-1.0))
    _nb.argkmin_dot(X, Y, shift, scale, unit, *args, part_vals, part_idx, x_sq, item_r2, *alphas)
    r_norm = _norm_bound(float(item_r2.max()))
    vals, candidates = _merged(part_vals, part_idx, n_queries, n_select)
    v_last = vals[:, n_select - 1].astype(np.float64)
    del part_vals, vals
    indices = candidates.reshape(-1)
    indptr = np.arange(0, n_queries * n_select + 1, n_select, dtype=np.int64)
    keys = _exact_keys(X, Y, indptr, indices, code, x_norms, y_norms)
    _nb.sort_rows(indptr, keys, indices)
    keys = keys.reshape(n_queries, n_select)
    ok = np.empty(n_queries, dtype=bool)
    u = _nb.U32 if rank_dtype.itemsize == 4 else _nb.U64
    _nb.certify(keys, candidates, k, v_last, x_sq, r_norm, scale, code, n_features, u, n_train, ok)
    return keys, candidates, ok


def _merged(part_vals, part_idx, n_queries, width):
    """The parts' sorted lists merged into one (n_queries, width) list per query."""
    if part_idx.shape[0] == 1:
        return part_vals[0], part_idx[0]
    vals = np.empty((n_queries, width), dtype=part_vals.dtype)
    idx = np.empty((n_queries, width), dtype=np.int64)
    _nb.merge_parts(part_vals, part_idx, width, vals, idx)
    return vals, idx


def _unit_rows64(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows of X scaled to unit norm in float64, zero rows left zero; safe norms)."""
    norms = np.empty(X.shape[0], dtype=np.float64)
    _nb.row_norms(X, False, norms)
    positive = (norms > 0) & np.isfinite(norms)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        big = np.max(np.abs(X), axis=1).astype(np.float64) if X.size else np.ones(0)
        big = np.where(positive, big, 1.0)
        # scaled by the largest magnitude first: no overflow whatever the data
        unit = (X / big[:, None]) * np.where(positive, big / np.where(positive, norms, 1.0), 0.0)[
            :, None
        ]
    return np.ascontiguousarray(unit, dtype=np.float64), norms


def radius_numpy(
    X: np.ndarray, Y: np.ndarray, radius: float, metric: str, sort_results: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``Y`` within ``radius`` of each row of ``X``, as a CSR triple.

    Returns ``(indptr, indices, distances)``: int64, int64 and X's dtype; within a row
    the indices increase, or, with ``sort_results``, the entries go by (distance,
    index). Membership is decided by the float64 distance (:func:`._neighbors._pair_key`,
    ``<= radius``), returned rounded once to X's dtype. Candidates come from the
    expansion on float64 rows centered on the training mean and scaled by a power of
    two, within the radius plus a proven bound of the expansion's error
    (``E = (d + 8) u64 (||x'|| + R)^2``, as :func:`._neighbors.certify`), so that no
    member is missed.
    """
    dtype = X.dtype
    n_queries, n_features = X.shape
    n_train = Y.shape[0]
    code = _METRIC_CODES[metric]
    plan = neighbor_tiles(n_queries, n_train, n_features, 8)
    q_tile, t_tile = plan["q_tile"], plan["t_tile"]
    counts = np.empty(n_queries, dtype=np.int64)
    indptr = np.zeros(n_queries + 1, dtype=np.int64)
    x_norms = y_norms = np.empty(0, dtype=np.float64)
    radius = float(radius)
    u, margin = _nb.U64, (4.0 * n_features + 16.0) * _nb.U64
    with _serial_if_small(n_queries * n_train * n_features), np.errstate(over="ignore"):
        if metric == "manhattan":
            empty = np.empty(0, dtype=np.int64)
            _nb.radius_manhattan(X, Y, radius, q_tile, counts, indptr, empty, False)
            np.cumsum(counts, out=indptr[1:])
            indices = np.empty(int(indptr[-1]), dtype=np.int64)
            _nb.radius_manhattan(X, Y, radius, q_tile, counts, indptr, indices, True)
        else:
            if metric == "cosine":
                X_dot, x_norms = _unit_rows64(X)
                Y_dot, y_norms = _unit_rows64(Y)
                x_term = np.ones(n_queries)
                y_term = np.zeros(n_train)
                alpha = -1.0
                slack = 2.0 * (n_features + 8.0) * u + 2.0 * margin
                bounds = np.full(n_queries, radius + slack)
            else:
                shift, scale = center_and_scale(Y)
                X_dot = (X - shift) * scale
                Y_dot = (Y - shift) * scale
                x_term = np.empty(n_queries)
                y_term = np.empty(n_train)
                _nb.row_norms(X_dot, True, x_term)
                _nb.row_norms(Y_dot, True, y_term)
                r_norm = np.sqrt(y_term.max(initial=0.0)) * (1.0 + 4.0 * u)
                reach = np.sqrt(x_term) * (1.0 + 4.0 * u) + r_norm
                alpha = -2.0
                if metric == "euclidean":
                    r_scaled = radius * scale
                    r_sq = r_scaled * r_scaled  # inf, not OverflowError, beyond 1e154
                else:
                    # float64 sums of squares below 2**-960 may have underflowed
                    r_sq = (radius + n_features * 2.0**-1070) * scale * scale
                bounds = r_sq * (1.0 + margin) + (n_features + 8.0) * u * reach * reach
                bounds += 2.0**-1000
            common = (X_dot, Y_dot, x_term, y_term, alpha, bounds)
            _nb.radius_count_dot(*common, q_tile, t_tile, counts)
            np.cumsum(counts, out=indptr[1:])
            indices = np.empty(int(indptr[-1]), dtype=np.int64)
            _nb.radius_fill_dot(*common, q_tile, t_tile, indptr, indices)
        keys = _exact_keys(X, Y, indptr, indices, code, x_norms, y_norms)
        keep = keys <= radius
        if not keep.all():
            rows = np.repeat(np.arange(n_queries), np.diff(indptr))
            kept_per_row = np.bincount(rows[keep], minlength=n_queries)
            indptr = np.zeros(n_queries + 1, dtype=np.int64)
            np.cumsum(kept_per_row, out=indptr[1:])
            indices, keys = indices[keep], keys[keep]
        if sort_results:
            _nb.sort_rows(indptr, keys, indices)
        return indptr, indices, keys.astype(dtype)
