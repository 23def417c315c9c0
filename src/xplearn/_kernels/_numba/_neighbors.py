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

The expansion ``||x||^2 - 2 x.y + ||y||^2`` only *selects* candidates, under a proven
error bound (:func:`certify`; ``docs/architecture.rst``, "Exact neighbour sets: the
candidate bound"): a query whose candidate set the bound does not certify is searched
again exactly (:func:`exact_argkmin`, direct float64 differences against every training
row). Candidates are ordered by their float64 distance (:func:`_pair_key`, overflow- and
underflow-safe), ties by the smaller index. Arguments are annotated IN / OUT / INOUT. This module
imports only numpy and numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: metric codes shared with the dispatcher
SQEUCLIDEAN, EUCLIDEAN, MANHATTAN, COSINE = 0, 1, 2, 3
#: values per branch-free scan step of a tile row (see :func:`argkmin_dot`)
_SCAN = 64
#: unit roundoffs of float32 and float64
U32 = 2.0**-24
U64 = 2.0**-53
#: sums of squares outside [_LOW, _HIGH] may have under- or overflowed: scaled again
_LOW = 2.0**-960
_HIGH = 2.0**960
#: absolute floor of the ranking error bound (float32 subnormals in the tiles)
_TINY = 2.0**-100


@njit(cache=True, nogil=True, inline="always")
def _less(a, b):  # pragma: no cover - compiled
    """``a`` orders before ``b``: numbers by value, NaN after everything."""
    return a < b or (b != b and a == a)


@njit(cache=True, nogil=True)
def _safe_norm(X, i):  # pragma: no cover - compiled
    """Euclidean norm of row ``i`` (float64), scaled by its largest magnitude when the
    plain sum of squares would under- or overflow."""
    d = X.shape[1]
    acc = 0.0
    for f in range(d):
        v = np.float64(X[i, f])
        acc += v * v
    if _LOW <= acc <= _HIGH or acc != acc:
        return np.sqrt(acc)
    m = 0.0
    for f in range(d):
        m = max(m, abs(np.float64(X[i, f])))
    if m == 0.0 or m == np.inf:
        return m
    p = math.ldexp(1.0, math.frexp(m)[1])  # a power of two: exact scaling
    s = 1.0 / p
    acc = 0.0
    for f in range(d):
        v = np.float64(X[i, f]) * s
        acc += v * v
    return np.sqrt(acc) * p


@njit(cache=True, nogil=True)
def _pair_key(X, i, Y, j, metric, x_norms, y_norms):  # pragma: no cover - compiled
    """The float64 distance of (X[i], Y[j]) that orders and is returned.

    Direct differences, accumulated in float64 (float32 inputs: differences exact).
    sqeuclidean: the plain sum of squares (inf / 0 only where the true value is not
    representable in float64); euclidean: its square root, recomputed on differences
    scaled by the largest one when the sum left [2**-960, 2**960]; manhattan: the sum of
    absolute differences; cosine: ``1 - x.y / (||x|| ||y||)`` clipped to [0, 2] with the
    rows' safe norms (a zero row is at distance 1).
    """
    d = X.shape[1]
    if metric == MANHATTAN:
        acc = 0.0
        for f in range(d):
            acc += abs(np.float64(X[i, f]) - np.float64(Y[j, f]))
        return acc
    if metric == COSINE:
        nx = x_norms[i]
        ny = y_norms[j]
        if nx != nx or ny != ny:
            return np.nan
        if nx == 0.0 or ny == 0.0:
            return 1.0
        acc = 0.0
        if 2.0**-500 < nx < 2.0**500 and 2.0**-500 < ny < 2.0**500:
            for f in range(d):
                acc += np.float64(X[i, f]) * np.float64(Y[j, f])
            acc = acc / (nx * ny)
        else:
            ix = 1.0 / nx
            iy = 1.0 / ny
            for f in range(d):
                acc += (np.float64(X[i, f]) * ix) * (np.float64(Y[j, f]) * iy)
        v = 1.0 - acc
        if v < 0.0:
            v = 0.0
        elif v > 2.0:
            v = 2.0
        return v
    acc = 0.0
    for f in range(d):
        diff = np.float64(X[i, f]) - np.float64(Y[j, f])
        acc += diff * diff
    if metric == SQEUCLIDEAN or _LOW <= acc <= _HIGH or acc != acc:
        return acc if metric == SQEUCLIDEAN else np.sqrt(acc)
    m = 0.0
    for f in range(d):
        m = max(m, abs(np.float64(X[i, f]) - np.float64(Y[j, f])))
    if m == 0.0 or m == np.inf:
        return m
    # a power of two near the largest difference: scaling by it is exact
    p = math.ldexp(1.0, math.frexp(m)[1])
    s = 1.0 / p
    acc = 0.0
    for f in range(d):
        diff = (np.float64(X[i, f]) - np.float64(Y[j, f])) * s
        acc += diff * diff
    return np.sqrt(acc) * p


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
def _insert_key(vals, idx, row, length, v, j):  # pragma: no cover - compiled
    """Insert (v, j) into the sorted ``vals[row, :length]`` (NaN last; equal keys stay
    first), dropping the last entry."""
    pos = length - 1
    while pos > 0 and _less(v, vals[row, pos - 1]):
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
    """Rows ``r0:r1`` of ``src`` into the tile ``dst`` (float32, or float64 for the
    second ranking pass), rounded once: ``(x - shift) * scale``,
    or ``x / ||x||`` with ``unit`` (zero rows stay zero); ``norms`` (OUT) gets each
    tile row's squared norm (float64 accumulation of the float32 values)."""
    d = src.shape[1]
    for r in range(r1 - r0):
        if unit:
            # scaled by the largest magnitude first: the norm never under/overflows
            m = 0.0
            for f in range(d):
                a = abs(np.float64(src[r0 + r, f]))
                if a > m or a != a:
                    m = a
            if m == 0.0:
                for f in range(d):
                    dst[r, f] = 0.0
            elif m == np.inf or m != m:
                for f in range(d):
                    dst[r, f] = np.nan
            else:
                s = 1.0 / m
                acc = 0.0
                for f in range(d):
                    v = np.float64(src[r0 + r, f]) * s
                    acc += v * v
                inv = 1.0 / np.sqrt(acc)
                for f in range(d):
                    dst[r, f] = np.float64(src[r0 + r, f]) * s * inv  # rounded to dst's dtype
        else:
            for f in range(d):
                dst[r, f] = (np.float64(src[r0 + r, f]) - shift[f]) * scale
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


# fastmath: the error bound holds for any order of the sums and fused multiply-adds; NaN
# or infinite data (on which "nnan"/"ninf" make the scan's choices arbitrary) makes R,
# the query check or the candidates' distances fail the certificate (argkmin_few)
@njit(cache=True, nogil=True, fastmath=True)
def argkmin_packed(X, packed, y_term, shift, scale, k, out_vals, out_idx, x_sq):  # pragma: no cover
    """:func:`argkmin_dot`'s selection for a few queries, on the calling thread, against
    training rows packed at fit (:func:`pack_rows`): one pass over ``packed`` per query,
    no tile conversion, no matrix-product call. The ranking values of ``PACK_BLOCK`` rows
    are accumulated feature by feature along contiguous rows of ``packed`` (a loop that
    runs at full vector width), then compared with the running threshold.
    ``out_vals`` / ``out_idx`` (OUT) have shape (n_queries, k); ``x_sq`` (OUT, float64,
    (n_queries,)) gets each loaded query's squared norm (for :func:`certify`)."""
    nq = X.shape[0]
    d, nt = packed.shape
    xs = np.empty((1, d), dtype=np.float32)
    x_norm = np.empty(1, dtype=np.float64)
    buffer = np.empty(PACK_BLOCK, dtype=np.float32)
    _init_lists(out_vals, out_idx, 0, nq, k)
    for i in range(nq):
        _load_rows(X, i, i + 1, shift, scale, False, xs, x_norm)
        x_sq[i] = x_norm[0]
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
    X,
    Y,
    shift,
    scale,
    unit,
    k,
    q_tile,
    t_tile,
    n_parts,
    part_len,
    out_vals,
    out_idx,
    x_sq,
    item_r2,
    alpha_sq,
    alpha_unit,
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
    x_sq : (n_queries,) float64 OUT squared norms of the loaded (float32) query rows
    item_r2 : (n_work_items,) float64 OUT largest squared norm of the loaded training
        rows each work item met (their maximum is R**2 of :func:`certify`)
    alpha_sq, alpha_unit : -2 and -1 of ``out_vals``' dtype, the dtype the tiles, the
        matrix products and the ranking use: float32 (first pass) or float64 (second
        pass, for the queries float32's bound did not certify)
    """
    nq = X.shape[0]
    nt = Y.shape[0]
    d = X.shape[1]
    n_qb = (nq + q_tile - 1) // q_tile
    alpha = alpha_unit if unit else alpha_sq
    for w in prange(n_qb * n_parts):
        qb = w // n_parts
        p = w - qb * n_parts
        q0 = qb * q_tile
        q1 = min(nq, q0 + q_tile)
        nb = q1 - q0
        t_start = p * part_len
        t_end = min(nt, t_start + part_len)
        xs = np.empty((nb, d), dtype=out_vals.dtype)
        x_norms = np.empty(nb, dtype=np.float64)
        _load_rows(X, q0, q1, shift, scale, unit, xs, x_norms)
        for i in range(nb):
            x_sq[q0 + i] = x_norms[i]
        r2 = 0.0
        ys = np.empty((t_tile, d), dtype=out_vals.dtype)
        y_norms = np.empty(t_tile, dtype=np.float64)
        y_term = np.empty(t_tile, dtype=out_vals.dtype)
        buffer = np.empty(nb * t_tile, dtype=out_vals.dtype)
        vals = out_vals[p]
        idx = out_idx[p]
        _init_lists(vals, idx, q0, q1, k)
        for t0 in range(t_start, t_end, t_tile):
            t1 = min(t_end, t0 + t_tile)
            m = t1 - t0
            _load_rows(Y, t0, t1, shift, scale, unit, ys, y_norms)
            for j in range(m):
                y_term[j] = 0.0 if unit else y_norms[j]
                if y_norms[j] > r2 or y_norms[j] != y_norms[j]:
                    r2 = y_norms[j]
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
        item_r2[w] = r2


@njit(parallel=True, cache=True)
def argkmin_manhattan(
    X, Y, k, q_tile, t_tile, n_parts, part_len, out_vals, out_idx
):  # pragma: no cover - compiled
    """k smallest manhattan distances per query row, per training part (see argkmin_dot).

    Each distance is accumulated in float64 from float64 differences, exactly as
    :func:`_pair_key` computes it (``out_vals`` is float64): the lists rank the float64
    distances, ties by the smaller index. NaN or infinite distances are never inserted
    (a list left with -1 is searched again by :func:`exact_argkmin`).
    """
    nq = X.shape[0]
    nt = Y.shape[0]
    d = X.shape[1]
    n_qb = (nq + q_tile - 1) // q_tile
    for w in prange(n_qb * n_parts):
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
                        v += abs(np.float64(X[row, f]) - np.float64(Y[j, f]))
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
    X, Y, x_term, y_term, alpha, bounds, q_tile, t_tile, counts
):  # pragma: no cover
    """Count, per query, the training rows with an approximate distance within its bound.

    The approximate distance is ``x_term[i] + y_term[j] + alpha * X[i].Y[j]`` (float64
    rows, centered and scaled by the caller); a row is a candidate when it is at most
    ``bounds[i]``, the radius plus a proven bound on the expansion's error (see
    :func:`xplearn._kernels._numba.radius_numpy`); the exact distances decide afterwards.
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
                    if v <= bounds[row]:
                        c += 1
                counts[row] += c


@njit(parallel=True, cache=True)
def radius_fill_dot(
    X, Y, x_term, y_term, alpha, bounds, q_tile, t_tile, indptr, indices
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
                    if v <= bounds[row]:
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
                    v += abs(np.float64(X[row, f]) - np.float64(Y[j, f]))
                if v <= bound:
                    if fill:
                        indices[pos] = j
                    pos += 1
            if not fill:
                counts[row] = pos


@njit(cache=True, nogil=True)
def _exact_row(X, Y, row, indptr, indices, metric, x_norms, y_norms, out):  # pragma: no cover
    """:func:`exact_distances` of query ``row``."""
    for p in range(indptr[row], indptr[row + 1]):
        j = indices[p]
        out[p] = _pair_key(X, row, Y, j, metric, x_norms, y_norms) if j >= 0 else np.nan


@njit(parallel=True, cache=True)
def exact_distances(X, Y, indptr, indices, metric, x_norms, y_norms, out):  # pragma: no cover
    """Float64 distance (:func:`_pair_key`) of every (query row, ``indices[p]``) pair of a
    CSR structure (NaN for an index -1). For the cosine metric ``x_norms`` /
    ``y_norms`` are the rows' safe float64 norms (:func:`row_norms`).
    indptr : (n_queries + 1,) IN; indices : (nnz,) IN; out : (nnz,) float64 OUT
    """
    for row in prange(X.shape[0]):
        _exact_row(X, Y, row, indptr, indices, metric, x_norms, y_norms, out)


@njit(cache=True, nogil=True)
def _exact_topk(X, i, Y, k, metric, x_norms, y_norms, keys, idx, r):  # pragma: no cover
    """The ``k`` best training rows of query ``i`` by (:func:`_pair_key`, index), NaN
    last, into ``keys[r, :k]`` / ``idx[r, :k]``: every training row is measured."""
    nt = Y.shape[0]
    for j in range(nt):
        v = _pair_key(X, i, Y, j, metric, x_norms, y_norms)
        if j < k:
            _insert_key(keys, idx, r, j + 1, v, j)
        elif _less(v, keys[r, k - 1]):
            _insert_key(keys, idx, r, k, v, j)


@njit(parallel=True, cache=True)
def exact_argkmin(X, Y, rows, k, metric, x_norms, y_norms, keys, idx):  # pragma: no cover
    """The exact pass of the queries ``X[rows]`` whose candidates were not certified:
    direct float64 differences against every training row, top ``k`` by (distance,
    index), NaN last. keys : (len(rows), k) float64 OUT; idx : (len(rows), k) int64 OUT.
    """
    for r in prange(rows.shape[0]):
        _exact_topk(X, rows[r], Y, k, metric, x_norms, y_norms, keys, idx, r)


@njit(cache=True, nogil=True)
def _certified(
    keys, idx, i, k, v_last, x_sq, r_norm, scale, metric, d, u, n_train
):  # pragma: no cover
    """Whether query ``i``'s candidates provably contain its exact ``k`` nearest.

    ``keys[i]`` / ``idx[i]``: the candidates' float64 distances, sorted; ``v_last``: the
    largest ranking value selected (every other training row ranked at least as high);
    ``x_sq``: the query's squared norm in the ranking frame; ``r_norm``: R, a bound on
    the training rows' norms there; ``u``: the ranking's unit roundoff. The ranking
    value v_j of every row is within E = (d + 8) u (||x'|| + R)^2 of
    ||x' - y'_j||^2 - ||x'||^2 (cosine: within 2 (d + 8) u of -cos); a row not selected
    is then at a scaled squared distance >= v_last + ||x'||^2 - E, and if that exceeds
    the k-th candidate's (with the float64 distances' own rounding), it is strictly
    farther than the k-th. Proof: ``docs/architecture.rst``.
    """
    n_sel = keys.shape[1]
    if idx[i, n_sel - 1] < 0:
        return False  # NaN or infinite ranking values left the list short
    t = keys[i, k - 1]
    if t != t:
        return False
    if n_sel >= n_train:
        return True  # every training row is a candidate
    margin = (4.0 * d + 16.0) * U64
    if metric == COSINE:
        lower = 1.0 + v_last - 2.0 * (d + 8.0) * u
        return lower > t + 2.0 * margin
    bound = np.sqrt(x_sq) * (1.0 + 4.0 * u) + r_norm
    lower = v_last + x_sq - ((d + 8.0) * u * bound * bound + _TINY)
    if metric == EUCLIDEAN:
        ts = t * scale
        t_sq = ts * ts
    else:
        # below 2**-960 the float64 sum of squares may have underflowed
        t_sq = max(t, _LOW) * scale * scale
    return lower > t_sq * (1.0 + margin)


@njit(parallel=True, cache=True)
def certify(
    keys, idx, k, v_last, x_sq, r_norm, scale, metric, d, u, n_train, ok
):  # pragma: no cover
    """:func:`_certified` of every query. keys, idx : (n_queries, n_select) IN (sorted by
    (key, index)); v_last, x_sq : (n_queries,) float64 IN; ok : (n_queries,) bool OUT."""
    for i in prange(keys.shape[0]):
        ok[i] = _certified(
            keys, idx, i, k, v_last[i], x_sq[i], r_norm, scale, metric, d, u, n_train
        )


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
def argkmin_few(
    X, Y, packed, y_term, shift, scale, r_norm, k, n_select, metric
):  # pragma: no cover
    """The whole search of a few euclidean queries on the calling thread, in one call:
    :func:`argkmin_packed` selects ``n_select`` candidates, whose float64 distances
    (:func:`_pair_key`) and (distance, index) order (as :func:`sort_rows`) give the ``k``
    neighbours when :func:`certify`'s bound holds; a query it does not certify is
    measured against every training row (:func:`exact_argkmin`'s row).
    Returns (float64 distances (nq, k), the same rounded to X's dtype, int64 indices)."""
    nq, d = X.shape
    values = np.empty((nq, n_select), dtype=np.float32)
    candidates = np.empty((nq, n_select), dtype=np.int64)
    x_sq = np.empty(nq, dtype=np.float64)
    out_k = np.empty((nq, k), dtype=np.float64)
    out_d = np.empty((nq, k), dtype=X.dtype)
    out_i = np.empty((nq, k), dtype=np.int64)
    argkmin_packed(X, packed, y_term, shift, scale, n_select, values, candidates, x_sq)
    indices = candidates.reshape(-1)
    indptr = np.arange(0, nq * n_select + 1, n_select)
    keys = np.empty(nq * n_select, dtype=np.float64)
    no_norms = np.empty(0, dtype=np.float64)
    keys2 = keys.reshape(nq, n_select)
    nt = Y.shape[0]
    for row in range(nq):  # on this thread: exact_distances and sort_rows, row by row
        _exact_row(X, Y, row, indptr, indices, metric, no_norms, no_norms, keys)
        _sort_row(indptr, keys, indices, row)
        v_last = np.float64(values[row, n_select - 1])
        finite = True  # the scan ran under fastmath: a non-finite query is not ranked
        for f in range(d):
            finite = finite and np.isfinite(X[row, f])
        if not finite or not _certified(
            keys2, candidates, row, k, v_last, x_sq[row], r_norm, scale, metric, d, U32, nt
        ):
            _exact_topk(X, row, Y, k, metric, no_norms, no_norms, keys2, candidates, row)
        for r in range(k):
            out_k[row, r] = keys2[row, r]
            out_d[row, r] = keys2[row, r]
            out_i[row, r] = candidates[row, r]
    return out_k, out_d, out_i


@njit(parallel=True, cache=True)
def row_norms(X, squared, out):  # pragma: no cover - compiled
    """Row norms of X (float64 accumulation, :func:`_safe_norm` when not ``squared``),
    rounded to ``out``'s dtype; OUT: out."""
    n, d = X.shape
    for i in prange(n):
        if squared:
            acc = 0.0
            for f in range(d):
                v = np.float64(X[i, f])
                acc += v * v
            out[i] = acc
        else:
            out[i] = _safe_norm(X, i)
