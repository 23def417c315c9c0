"""Chunked nearest-neighbour kernels for NumPy arrays on the CPU (numba, parallel).

Brute-force search streams the ``n_queries x n_train`` distances through tiles that fit
in a core's cache and never writes the whole matrix:

* **argkmin** (:func:`argkmin_dot`, :func:`argkmin_manhattan`): a work item is one block
  of ``q_tile`` queries against one *part* (a contiguous range) of the training rows. For
  each tile of ``t_tile`` training rows, the dot block ``X_q @ Y_t.T`` is one BLAS call
  (single-threaded inside the parallel region: the dispatcher's kernel session limits
  BLAS) into a per-item scratch buffer; each row of the tile is then scanned while it is
  hot in cache: ``v = s_j + alpha * x.y_j`` (the row constant is left out) is compared
  with the row's current ``k``-th best and, rarely, inserted into the sorted list of the
  ``k`` best. Training rows are visited in increasing order and an equal value never
  displaces an earlier one, so ties keep the smaller training index. Work items run in
  parallel (``prange``) over query blocks, and also over training parts when there are
  too few query blocks to occupy the threads; :func:`merge_parts` then merges the parts'
  sorted lists in part order (ties still go to the smaller index).
* **radius** (:func:`radius_count_dot`, :func:`radius_fill_dot` and the manhattan
  versions): two passes over the same tiles, one counting the candidates per query, one
  writing their indices (in increasing order) into the CSR arrays sized by the first.
* **exact distances** (:func:`exact_distances`): the distance of each selected
  (query, training row) pair, recomputed directly from the rows with float64
  accumulation, and :func:`sort_rows`, which orders each CSR row by (distance, index).

The expansion ``||x||^2 - 2 x.y + ||y||^2`` only *selects* candidates; the distances
returned are the exact ones. Arguments are annotated IN / OUT / INOUT. This module
imports only numpy and numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: metric codes shared with the dispatcher
SQEUCLIDEAN, EUCLIDEAN, MANHATTAN, COSINE = 0, 1, 2, 3
#: values per branch-free scan step of a tile row (see :func:`argkmin_dot`)
_SCAN = 64


@njit(cache=True, nogil=True)
def _insert(vals, idx, row, k, v, j):  # pragma: no cover - compiled
    """Insert (v, j) into the sorted list ``vals[row, :k]``; equal values stay first."""
    pos = k - 1
    while pos > 0 and vals[row, pos - 1] > v:
        vals[row, pos] = vals[row, pos - 1]
        idx[row, pos] = idx[row, pos - 1]
        pos -= 1
    vals[row, pos] = v
    idx[row, pos] = j


@njit(cache=True, nogil=True)
def _init_lists(vals, idx, q0, q1, k):  # pragma: no cover - compiled
    for i in range(q0, q1):
        for r in range(k):
            vals[i, r] = np.inf
            idx[i, r] = -1


@njit(cache=True, nogil=True)
def _load_rows(src, r0, r1, shift, scale, unit, dst, norms):  # pragma: no cover - compiled
    """Rows ``r0:r1`` of ``src`` into the float32 tile ``dst``: ``(x - shift) * scale``,
    or ``x / ||x||`` with ``unit`` (zero rows stay zero); ``norms`` (OUT) gets each
    tile row's squared norm (float64 accumulation of the float32 values)."""
    d = src.shape[1]
    for r in range(r1 - r0):
        if unit:
            acc = 0.0
            for f in range(d):
                v = np.float64(src[r0 + r, f])
                acc += v * v
            inv = 1.0 / np.sqrt(acc) if acc > 0.0 else 0.0
            for f in range(d):
                dst[r, f] = np.float32(np.float64(src[r0 + r, f]) * inv)
        else:
            for f in range(d):
                dst[r, f] = np.float32((np.float64(src[r0 + r, f]) - shift[f]) * scale)
        acc = 0.0
        for f in range(d):
            v = np.float64(dst[r, f])
            acc += v * v
        norms[r] = acc


#: training rows whose ranking values one step of the one-query scan computes together
#: (a float32 buffer that stays in L1)
PACK_BLOCK = 512


@njit(cache=True, nogil=True)
def pack_rows(Y, shift, scale, packed, y_term):  # pragma: no cover - compiled
    """The ranking form of the training rows, once, feature-major for the one-query scan.

    ``packed`` (OUT, float32, shape (d, n)) gets ``(y - shift) * scale`` transposed,
    exactly the values :func:`argkmin_dot` loads tile by tile; ``y_term`` (OUT, float32,
    shape (n,)) their squared norms.
    """
    n, d = Y.shape
    row = np.empty((1, d), dtype=np.float32)
    norm = np.empty(1, dtype=np.float64)
    for j in range(n):
        _load_rows(Y, j, j + 1, shift, scale, False, row, norm)
        for f in range(d):
            packed[f, j] = row[0, f]
        y_term[j] = np.float32(norm[0])


@njit(cache=True, nogil=True, fastmath=True)
def argkmin_packed(X, packed, y_term, shift, scale, k, out_vals, out_idx):  # pragma: no cover
    """:func:`argkmin_dot`'s selection for a few queries, on the calling thread, against
    training rows packed at fit (:func:`pack_rows`): one pass over ``packed`` per query,
    no tile conversion, no matrix-product call. The ranking values of ``PACK_BLOCK`` rows
    are accumulated feature by feature along contiguous rows of ``packed`` (a loop that
    runs at full vector width), then compared with the running threshold.
    ``out_vals`` / ``out_idx`` (OUT) have shape (n_queries, k)."""
    nq = X.shape[0]
    d, nt = packed.shape
    xs = np.empty((1, d), dtype=np.float32)
    x_norm = np.empty(1, dtype=np.float64)
    buffer = np.empty(PACK_BLOCK, dtype=np.float32)
    _init_lists(out_vals, out_idx, 0, nq, k)
    for i in range(nq):
        _load_rows(X, i, i + 1, shift, scale, False, xs, x_norm)
        threshold = out_vals[i, k - 1]
        for c0 in range(0, nt, PACK_BLOCK):
            m = min(PACK_BLOCK, nt - c0)
            # views, not offset indexing: the loops below then vectorise
            dots = buffer[:m]
            for j in range(m):
                dots[j] = 0.0
            for f in range(d):
                x_f = xs[0, f]
                column = packed[f, c0 : c0 + m]
                for j in range(m):
                    dots[j] += x_f * column[j]
            norms = y_term[c0 : c0 + m]
            for j in range(m):
                v = norms[j] - np.float32(2.0) * dots[j]
                if v < threshold:
                    _insert(out_vals, out_idx, i, k, v, c0 + j)
                    threshold = out_vals[i, k - 1]


@njit(parallel=True, cache=True)
def argkmin_dot(
    X, Y, shift, scale, unit, k, q_tile, t_tile, n_parts, part_len, out_vals, out_idx
):  # pragma: no cover - compiled
    """Per training part, the k best candidates of each query row by a float32 ranking.

    The ranking value of training row j for query i is ``||y'_j||^2 - 2 x'_i.y'_j``
    (squared euclidean distance less the row constant) with ``x' = (x - shift) * scale``
    (shift: the training mean, scale: a power of two bringing the centered values near
    1, so that float32 keeps the precision of the differences whatever the data's offset
    and magnitude), or ``-x'.y'`` on unit rows with ``unit`` (cosine). Tiles are
    converted to float32 as they are loaded (one conversion of a training tile per query
    block), so float64 data is neither copied nor upcast and the matrix products run at
    float32 speed; the caller recomputes the candidates' distances exactly.

    X : (n_queries, d) IN; Y : (n_train, d) IN (float32 or float64)
    shift : (d,) float64 IN; scale : float; unit : bool
    k : candidates per query (<= n_train); q_tile, t_tile : tile sizes
    n_parts, part_len : training rows split into ``n_parts`` ranges of ``part_len``
    out_vals : (n_parts, n_queries, k) float32 OUT ranking values, sorted per row
    out_idx : (n_parts, n_queries, k) int64 OUT training indices (-1 where empty)
    """
    nq = X.shape[0]
    nt = Y.shape[0]
    d = X.shape[1]
    n_qb = (nq + q_tile - 1) // q_tile
    alpha = np.float32(-1.0) if unit else np.float32(-2.0)
    for w in prange(n_qb * n_parts):
        qb = w // n_parts
        p = w - qb * n_parts
        q0 = qb * q_tile
        q1 = min(nq, q0 + q_tile)
        nb = q1 - q0
        t_start = p * part_len
        t_end = min(nt, t_start + part_len)
        xs = np.empty((nb, d), dtype=np.float32)
        x_norms = np.empty(nb, dtype=np.float64)
        _load_rows(X, q0, q1, shift, scale, unit, xs, x_norms)
        ys = np.empty((t_tile, d), dtype=np.float32)
        y_norms = np.empty(t_tile, dtype=np.float64)
        y_term = np.empty(t_tile, dtype=np.float32)
        buffer = np.empty(nb * t_tile, dtype=np.float32)
        vals = out_vals[p]
        idx = out_idx[p]
        _init_lists(vals, idx, q0, q1, k)
        for t0 in range(t_start, t_end, t_tile):
            t1 = min(t_end, t0 + t_tile)
            m = t1 - t0
            _load_rows(Y, t0, t1, shift, scale, unit, ys, y_norms)
            for j in range(m):
                y_term[j] = 0.0 if unit else np.float32(y_norms[j])
            dots = buffer[: nb * m].reshape((nb, m))
            np.dot(xs, ys[:m].T, dots)
            for i in range(nb):
                row = q0 + i
                threshold = vals[row, k - 1]
                for c0 in range(0, m, _SCAN):
                    c1 = min(m, c0 + _SCAN)
                    # branch-free count first (vectorised): most chunks have no candidate
                    hits = 0
                    for j in range(c0, c1):
                        hits += np.int32(y_term[j] + alpha * dots[i, j] < threshold)
                    if hits == 0:
                        continue
                    for j in range(c0, c1):
                        v = y_term[j] + alpha * dots[i, j]
                        if v < threshold:
                            _insert(vals, idx, row, k, v, t0 + j)
                            threshold = vals[row, k - 1]


@njit(parallel=True, cache=True)
def argkmin_manhattan(
    X, Y, k, q_tile, t_tile, n_parts, part_len, out_vals, out_idx
):  # pragma: no cover - compiled
    """k smallest manhattan distances per query row, per training part (see argkmin_dot).

    Each distance is accumulated in float64 and rounded to ``out_vals``' dtype *before*
    it is compared: the lists then rank exactly the values returned, so rows whose
    rounded distances tie keep the smaller index, as in the exact recomputation.
    """
    nq = X.shape[0]
    nt = Y.shape[0]
    d = X.shape[1]
    n_qb = (nq + q_tile - 1) // q_tile
    for w in prange(n_qb * n_parts):
        rounded = np.empty(1, dtype=out_vals.dtype)
        qb = w // n_parts
        p = w - qb * n_parts
        q0 = qb * q_tile
        q1 = min(nq, q0 + q_tile)
        t_start = p * part_len
        t_end = min(nt, t_start + part_len)
        vals = out_vals[p]
        idx = out_idx[p]
        _init_lists(vals, idx, q0, q1, k)
        for t0 in range(t_start, t_end, t_tile):
            t1 = min(t_end, t0 + t_tile)
            for row in range(q0, q1):
                threshold = vals[row, k - 1]
                for j in range(t0, t1):
                    v = 0.0
                    for f in range(d):
                        v += abs(X[row, f] - Y[j, f])
                    rounded[0] = v
                    v = rounded[0]
                    if v < threshold:
                        _insert(vals, idx, row, k, v, j)
                        threshold = vals[row, k - 1]


@njit(parallel=True, cache=True)
def merge_parts(part_vals, part_idx, k, out_vals, out_idx):  # pragma: no cover - compiled
    """Merge the parts' sorted lists (n_parts, n_queries, k) into (n_queries, k).

    Parts are merged in order and an equal value never displaces an earlier one, so ties
    keep the smaller training index (parts hold increasing index ranges).
    """
    n_parts, nq, _ = part_vals.shape
    for row in prange(nq):
        for r in range(k):
            out_vals[row, r] = part_vals[0, row, r]
            out_idx[row, r] = part_idx[0, row, r]
        for p in range(1, n_parts):
            for r in range(k):
                v = part_vals[p, row, r]
                if not v < out_vals[row, k - 1]:
                    break
                _insert(out_vals, out_idx, row, k, v, part_idx[p, row, r])


@njit(parallel=True, cache=True)
def radius_count_dot(
    X, Y, x_term, y_term, alpha, bound, slack, x_scale, y_scale, q_tile, t_tile, counts
):  # pragma: no cover - compiled
    """Count, per query, the training rows with an approximate distance within ``bound``.

    The approximate distance is ``x_term[i] + y_term[j] + alpha * X[i].Y[j]``; a row is a
    candidate when it is at most ``bound + slack * (x_scale[i] + y_scale[j])`` (rounding
    of the expansion); the exact distances decide afterwards.
    counts : (n_queries,) int64 OUT
    """
    nq = X.shape[0]
    nt = Y.shape[0]
    n_qb = (nq + q_tile - 1) // q_tile
    for qb in prange(n_qb):
        q0 = qb * q_tile
        q1 = min(nq, q0 + q_tile)
        Xb = X[q0:q1]
        for i in range(q0, q1):
            counts[i] = 0
        for t0 in range(0, nt, t_tile):
            t1 = min(nt, t0 + t_tile)
            dots = np.dot(Xb, Y[t0:t1].T)
            for i in range(q1 - q0):
                row = q0 + i
                c = 0
                for j in range(t1 - t0):
                    v = x_term[row] + y_term[t0 + j] + alpha * dots[i, j]
                    if v <= bound + slack * (x_scale[row] + y_scale[t0 + j]):
                        c += 1
                counts[row] += c


@njit(parallel=True, cache=True)
def radius_fill_dot(
    X, Y, x_term, y_term, alpha, bound, slack, x_scale, y_scale, q_tile, t_tile, indptr, indices
):  # pragma: no cover - compiled
    """Write the candidates counted by :func:`radius_count_dot` (increasing indices).

    indptr : (n_queries + 1,) int64 IN; indices : (nnz,) int64 OUT
    """
    nq = X.shape[0]
    nt = Y.shape[0]
    n_qb = (nq + q_tile - 1) // q_tile
    for qb in prange(n_qb):
        q0 = qb * q_tile
        q1 = min(nq, q0 + q_tile)
        Xb = X[q0:q1]
        fill = indptr[q0:q1].copy()
        for t0 in range(0, nt, t_tile):
            t1 = min(nt, t0 + t_tile)
            dots = np.dot(Xb, Y[t0:t1].T)
            for i in range(q1 - q0):
                row = q0 + i
                pos = fill[i]
                for j in range(t1 - t0):
                    v = x_term[row] + y_term[t0 + j] + alpha * dots[i, j]
                    if v <= bound + slack * (x_scale[row] + y_scale[t0 + j]):
                        indices[pos] = t0 + j
                        pos += 1
                fill[i] = pos


@njit(parallel=True, cache=True)
def radius_manhattan(X, Y, bound, q_tile, counts, indptr, indices, fill):  # pragma: no cover
    """Manhattan radius search: counts (``fill=False``) or indices (``fill=True``).

    counts : (n_queries,) int64 OUT (count pass); indptr IN / indices OUT (fill pass)
    """
    nq = X.shape[0]
    nt = Y.shape[0]
    d = X.shape[1]
    n_qb = (nq + q_tile - 1) // q_tile
    for qb in prange(n_qb):
        q0 = qb * q_tile
        q1 = min(nq, q0 + q_tile)
        for row in range(q0, q1):
            pos = indptr[row] if fill else 0
            for j in range(nt):
                v = 0.0
                for f in range(d):
                    v += abs(X[row, f] - Y[j, f])
                if v <= bound:
                    if fill:
                        indices[pos] = j
                    pos += 1
            if not fill:
                counts[row] = pos


@njit(cache=True, nogil=True)
def _exact_row(X, Y, row, indptr, indices, metric, x_norms, y_norms, out):  # pragma: no cover
    """:func:`exact_distances` of query ``row``."""
    d = X.shape[1]
    for p in range(indptr[row], indptr[row + 1]):
        j = indices[p]
        acc = 0.0
        if metric == MANHATTAN:
            for f in range(d):
                acc += abs(np.float64(X[row, f]) - np.float64(Y[j, f]))
        elif metric == COSINE:
            for f in range(d):
                acc += np.float64(X[row, f]) * np.float64(Y[j, f])
            denominator = x_norms[row] * y_norms[j]
            acc = 1.0 - acc / denominator if denominator > 0.0 else 1.0
            acc = min(max(acc, 0.0), 2.0)
        else:
            for f in range(d):
                diff = np.float64(X[row, f]) - np.float64(Y[j, f])
                acc += diff * diff
            if metric == EUCLIDEAN:
                acc = np.sqrt(acc)
        out[p] = acc


@njit(parallel=True, cache=True)
def exact_distances(X, Y, indptr, indices, metric, x_norms, y_norms, out):  # pragma: no cover
    """Distance of every (query row, ``indices[p]``) pair of a CSR structure.

    Accumulated in float64 and rounded once to ``out``'s dtype. For the cosine metric
    ``x_norms`` / ``y_norms`` are the rows' float64 norms (a zero row is at distance 1).
    indptr : (n_queries + 1,) IN; indices : (nnz,) IN; out : (nnz,) OUT
    """
    for row in prange(X.shape[0]):
        _exact_row(X, Y, row, indptr, indices, metric, x_norms, y_norms, out)


@njit(cache=True, nogil=True)
def _sort_row(indptr, distances, indices, row):  # pragma: no cover - compiled
    """:func:`sort_rows` of row ``row``."""
    start = indptr[row]
    stop = indptr[row + 1]
    if stop - start < 2:
        return
    row_idx = indices[start:stop].copy()
    row_dist = distances[start:stop].copy()
    by_index = np.argsort(row_idx, kind="mergesort")
    row_idx = row_idx[by_index]
    row_dist = row_dist[by_index]
    by_distance = np.argsort(row_dist, kind="mergesort")
    for r in range(stop - start):
        indices[start + r] = row_idx[by_distance[r]]
        distances[start + r] = row_dist[by_distance[r]]


@njit(parallel=True, cache=True)
def sort_rows(indptr, distances, indices):  # pragma: no cover - compiled
    """Order each CSR row by (distance, index), in place.

    indptr IN; distances, indices INOUT
    """
    for row in prange(indptr.shape[0] - 1):
        _sort_row(indptr, distances, indices, row)


@njit(cache=True, nogil=True)
def argkmin_few(X, Y, packed, y_term, shift, scale, k, n_select, metric):  # pragma: no cover
    """The whole search of a few euclidean queries on the calling thread, in one call:
    :func:`argkmin_packed` selects ``n_select`` candidates, whose exact distances
    (as :func:`exact_distances`) and (distance, index) order (as :func:`sort_rows`) give the
    ``k`` neighbours. Returns (distances (nq, k) of X's dtype, indices (nq, k) int64)."""
    nq = X.shape[0]
    values = np.empty((nq, n_select), dtype=np.float32)
    candidates = np.empty((nq, n_select), dtype=np.int64)
    argkmin_packed(X, packed, y_term, shift, scale, n_select, values, candidates)
    indices = candidates.reshape(-1)
    indptr = np.arange(0, nq * n_select + 1, n_select)
    distances = np.empty(nq * n_select, dtype=X.dtype)
    no_norms = np.empty(0, dtype=np.float64)
    for row in range(nq):  # on this thread: exact_distances and sort_rows, row by row
        _exact_row(X, Y, row, indptr, indices, metric, no_norms, no_norms, distances)
        _sort_row(indptr, distances, indices, row)
    return (
        np.ascontiguousarray(distances.reshape(nq, n_select)[:, :k]),
        np.ascontiguousarray(indices.reshape(nq, n_select)[:, :k]),
    )


@njit(parallel=True, cache=True)
def row_norms(X, squared, out):  # pragma: no cover - compiled
    """Row norms of X (float64 accumulation), rounded to ``out``'s dtype; OUT: out."""
    n, d = X.shape
    for i in prange(n):
        acc = 0.0
        for f in range(d):
            v = np.float64(X[i, f])
            acc += v * v
        out[i] = acc if squared else np.sqrt(acc)
