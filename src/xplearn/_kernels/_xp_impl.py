"""Generic array-API implementations of the kernels, chunked by ``working_memory``.

These run on every namespace (torch CPU/CUDA, CuPy, Dask, array-api-strict, NumPy when
``config_context(kernel="xp")``) and are the oracle the numba kernels are tested
against. Rows are processed in chunks whose temporaries (a ``chunk x n_clusters`` block
of distances and its one-hot labels) fit the ``working_memory`` budget: nothing of size
``n_samples x n_clusters`` is materialised when ``n_samples`` is known. Where the number
of rows is not a Python integer (lazy or symbolic arrays), the whole input is one chunk,
so the code has no data-dependent Python control flow.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from xplearn._config import _config
from xplearn._xp import array_namespace, device_of, supports_float64, to_numpy
from xplearn._xp._onnx import SYMBOLIC_TRAIN_BLOCK, is_symbolic, smallest_k

__all__ = [
    "LLOYD_CHUNK_MIB",
    "STREAM_CHUNK_MIB",
    "ColumnMoments",
    "bytes_per_item",
    "chunk_rows",
    "column_mean_and_variance",
    "column_moments",
    "euclidean_to_centers",
    "lloyd_pass",
    "row_chunks",
    "sq_distances",
]


#: Cap (MiB) on the temporaries of streaming passes over X (statistics, seeding,
#: relocation): chunks this size already run at full speed, and using the whole
#: ``working_memory`` there would make a copy of X whenever X fits in it.
STREAM_CHUNK_MIB = 4
#: Cap (MiB) on the temporaries of the generic Lloyd pass (distance blocks); larger than
#: the streaming cap so that GPUs get big matrix products.
LLOYD_CHUNK_MIB = 64


def chunk_rows(n_samples: Any, bytes_per_row: int, max_mib: float | None = None) -> Any:
    """Rows per chunk so that a chunk's temporaries fit ``working_memory``.

    Parameters
    ----------
    n_samples : int or None
        Number of rows; None (unknown) means one chunk.
    bytes_per_row : int
        Temporary bytes one row of a chunk needs.
    max_mib : float, default=None
        A tighter cap than ``working_memory`` (MiB), if smaller.

    Returns
    -------
    int or None
        At least 1; ``n_samples`` itself when all rows fit (or n_samples is unknown).
    """
    if not isinstance(n_samples, int):
        return n_samples
    budget_mib = _config.get()["working_memory"]  # read only: get_config() copies
    if max_mib is not None:
        budget_mib = min(budget_mib, max_mib)
    budget = budget_mib * 2**20
    rows = max(1, int(budget // max(1, bytes_per_row)))
    return min(n_samples, rows) if n_samples > 0 else 0


def row_chunks(n_samples: Any, rows: Any) -> list[tuple[Any, Any]]:
    """(start, stop) pairs covering ``range(n_samples)``; one pair when n is unknown."""
    if not isinstance(n_samples, int):
        return [(None, None)]
    if n_samples == 0:
        return []
    return [(start, min(n_samples, start + rows)) for start in range(0, n_samples, rows)]


def bytes_per_item(xp: ModuleType, dtype: Any) -> int:
    """Bytes per element of a float dtype of ``xp`` (8 for float64, else 4)."""
    return 8 if dtype == xp.float64 else 4


def sq_distances(xp: ModuleType, X: Any, centers: Any, center_norms: Any) -> Any:
    """``||x - c||^2`` for every row of X and center, as ``||x||^2 - 2 x.c + ||c||^2``.

    Clipped at 0 (rounding can make the expansion slightly negative). Returns an array
    of shape (n_rows, n_centers) in X's namespace and dtype.
    """
    x_norms = xp.sum(X * X, axis=1)
    distances = (x_norms[:, None] - 2 * (X @ xp.matrix_transpose(centers))) + center_norms[None, :]
    return xp.clip(distances, 0, None)


def euclidean_to_centers(xp: ModuleType, X: Any, centers: Any) -> Any:
    """``||x - c||`` for every row of X and center, by direct differences.

    Exact to the rounding of the result wherever it is representable, whatever the data's
    offset, spread or magnitude: the differences are taken in float64 where the device has
    it (float32 data then cannot overflow or underflow), and each (row, center) difference
    is divided by its largest entry before squaring (undone after the square root) only where its squares could leave the dtype, which float64 data at
    1e+-160 needs. Rows go in chunks of ``working_memory``; a lazy or symbolic input is one
    chunk, with no data-dependent Python control flow (the ONNX export records it).
    Returns an array of shape (n_rows, n_centers) of X's dtype.
    """
    dtype = X.dtype
    device = device_of(X)
    wide = xp.float64 if supports_float64(xp, device) else dtype
    C = xp.astype(centers, wide)[None, :, :]
    n_clusters, n_features = centers.shape
    info = xp.finfo(wide)
    # |d|^2 * n_features must stay within [smallest normal / eps, max]
    high = math.sqrt(float(info.max) / (4.0 * max(1, n_features)))
    low = math.sqrt(float(info.smallest_normal) / float(info.eps))
    rows = chunk_rows(X.shape[0], 3 * max(1, n_clusters * n_features) * bytes_per_item(xp, wide))
    blocks = []
    for start, stop in row_chunks(X.shape[0], rows):
        chunk = X if start is None else X[start:stop, ...]
        diff = xp.astype(chunk, wide)[:, None, :] - C
        magnitude = xp.max(xp.abs(diff), axis=2, keepdims=True)
        outside = (magnitude > 0) & ((magnitude > high) | (magnitude < low))
        scale = xp.where(outside, magnitude, xp.ones((), dtype=wide, device=device))
        diff = diff / scale
        distances = xp.sqrt(xp.sum(diff * diff, axis=2)) * scale[:, :, 0]
        blocks.append(xp.astype(distances, dtype))
    if not blocks:
        return xp.zeros((0, n_clusters), dtype=dtype, device=device)
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=0)


def lloyd_pass(
    X: Any,
    sample_weight: Any | None,
    centers: Any,
    shift: Any | None,
    labels: Any | None,
    *,
    update_centers: bool,
    compute_inertia: bool,
    accumulate_dtype: Any,
) -> tuple[Any, Any, Any, Any, Any, Any]:
    """One Lloyd pass over X, chunk by chunk, written against the array API.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Data, float32 or float64.
    sample_weight : array of shape (n_samples,) or None
        Non-negative weights (None: unit weights).
    centers : array of shape (n_clusters, n_features)
        Centers, in the frame of ``X - shift``; X's dtype.
    shift : array of shape (n_features,) or None
        Subtracted from every row of X before distances are computed.
    labels : array of shape (n_samples,) or None
        Previous labels, to count how many change; not modified.
    update_centers : bool
        Compute the per-cluster sums, weights and counts.
    compute_inertia : bool
        Compute the exact weighted inertia ``sum_i w_i ||x_i - shift - c_label(i)||^2``.
    accumulate_dtype : dtype
        Dtype of the sums, weights and inertia.

    Returns
    -------
    labels : array of shape (n_samples,), int32
    sums : array (n_clusters, n_features) or None
    weights : array (n_clusters,) or None
    counts : array (n_clusters,) of int64 or None
    n_changed : 0-d int array or None (None when ``labels`` is None)
    inertia : 0-d array of ``accumulate_dtype`` or None
    """
    xp = array_namespace(X)
    device = device_of(X)
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    dtype = X.dtype
    center_norms = xp.sum(centers * centers, axis=1)
    needs_onehot = update_centers or compute_inertia
    per_row = (n_clusters * (2 if needs_onehot else 1) + 2 * n_features) * bytes_per_item(xp, dtype)
    rows = chunk_rows(n_samples, per_row, LLOYD_CHUNK_MIB)
    clusters = xp.arange(n_clusters, device=device)
    label_chunks = []
    sums = weights = counts = inertia = None
    if update_centers:
        sums = xp.zeros((n_clusters, n_features), dtype=accumulate_dtype, device=device)
        weights = xp.zeros((n_clusters,), dtype=accumulate_dtype, device=device)
        counts = xp.zeros((n_clusters,), dtype=xp.int64, device=device)
    if compute_inertia:
        inertia = xp.zeros((), dtype=accumulate_dtype, device=device)
    for start, stop in row_chunks(n_samples, rows):
        chunk = X if start is None else X[start:stop, :]
        if shift is not None:
            chunk = chunk - shift
        # ||x||^2 is the same for every center of a row: the argmin needs only the rest
        partial = center_norms[None, :] - 2 * (chunk @ xp.matrix_transpose(centers))
        chunk_labels = xp.astype(xp.argmin(partial, axis=1), xp.int32)
        label_chunks.append(chunk_labels)
        if not needs_onehot:
            continue
        onehot = xp.astype(chunk_labels[:, None] == xp.astype(clusters, xp.int32)[None, :], dtype)
        if sample_weight is None:
            weighted = onehot
        else:
            chunk_weight = sample_weight if start is None else sample_weight[start:stop]
            weighted = onehot * chunk_weight[:, None]
        if update_centers:
            sums = sums + xp.astype(xp.matrix_transpose(weighted) @ chunk, accumulate_dtype)
            weights = weights + xp.astype(xp.sum(weighted, axis=0), accumulate_dtype)
            counts = counts + xp.sum(xp.astype(onehot, xp.int64), axis=0)
        if compute_inertia:
            # one-hot @ centers picks each row's center exactly (one nonzero term)
            diff = xp.astype(chunk - onehot @ centers, accumulate_dtype)
            per_sample = xp.sum(diff * diff, axis=1)
            if sample_weight is not None:
                per_sample = per_sample * xp.astype(chunk_weight, accumulate_dtype)
            inertia = inertia + xp.sum(per_sample)
    if len(label_chunks) == 1:
        new_labels = label_chunks[0]
    elif label_chunks:
        new_labels = xp.concat(label_chunks, axis=0)
    else:
        new_labels = xp.zeros((0,), dtype=xp.int32, device=device)
    n_changed = None
    if labels is not None:
        n_changed = xp.sum(xp.astype(new_labels != labels, xp.int64))
    return new_labels, sums, weights, counts, n_changed, inertia


class ColumnMoments(NamedTuple):
    """Weighted column statistics in a form that cannot overflow or underflow.

    ``variance = scaled_variance * scale**2`` (ddof=0): ``scale`` is a power of two per
    column (ones where the plain sums kept their range), so a variance beyond the dtype's
    range (float64 data at 1e200, float32 accumulated in float32 at 1e20) is still exact
    in scaled form, and so is its square root ``sqrt(scaled_variance) * scale``. All four
    are arrays of the accumulation dtype; ``mean`` is never out of range (it is within
    the data's).
    """

    mean: Any
    scaled_variance: Any
    scale: Any
    total: Any


def power_of_two_scale(xp: ModuleType, magnitude: Any, dtype: Any) -> Any:
    """Per column ``2**e`` near ``magnitude`` (ones for 0), with ``e`` clipped so that both
    ``2**e`` and ``2**-e`` are normal numbers of ``dtype``: dividing by it is exact (but
    for values that become subnormal, negligible next to the largest one)."""
    finfo = xp.finfo(dtype)
    max_exponent = float(round(math.log2(float(finfo.max)))) - 2  # 126 / 1022
    positive = magnitude > 0
    safe = xp.where(positive, magnitude, xp.ones_like(magnitude))
    exponent = xp.clip(xp.floor(xp.log2(safe)), -max_exponent, max_exponent)
    two = xp.asarray(2.0, dtype=dtype, device=device_of(magnitude))
    return xp.pow(two, exponent)


#: Rows summed by the library's own ``sum`` before the balanced tree takes over.
_LEAF_ROWS = 8


def _pairwise_rows_sum(xp: ModuleType, values: Any) -> Any:
    """Column sums in which at most ``_LEAF_ROWS - 1 + ceil(log2(n / _LEAF_ROWS))``
    roundings reach each term, whatever the library's own summation: leaves of
    ``_LEAF_ROWS`` rows summed by ``xp.sum`` (one call over the whole chunk), then a
    balanced tree of additions (pairs of halves) over the leaves."""
    n_rows = values.shape[0]
    whole = n_rows - n_rows % _LEAF_ROWS
    leaves = []
    if whole:
        shape = (whole // _LEAF_ROWS, _LEAF_ROWS) + tuple(values.shape[1:])
        leaves.append(xp.sum(xp.reshape(values[:whole, ...], shape), axis=1))
    if whole < n_rows:
        leaves.append(xp.sum(values[whole:, ...], axis=0)[None, ...])
    if not leaves:
        return xp.zeros(values.shape[1:], dtype=values.dtype, device=device_of(values))
    values = leaves[0] if len(leaves) == 1 else xp.concat(leaves, axis=0)
    while values.shape[0] > 1:
        half = values.shape[0] // 2
        pairs = values[:half, ...] + values[half : 2 * half, ...]
        if values.shape[0] % 2:
            pairs = xp.concat((pairs, values[2 * half :, ...]), axis=0)
        values = pairs
    return values[0, ...]


class _Sum:
    """A running sum of per-chunk column sums, the chunk totals added with Neumaier's
    compensation (2 more roundings, however many chunks). In float32 (``tree``) each
    chunk is summed in leaves and a balanced tree (:func:`_pairwise_rows_sum`), whatever
    the library's own summation: bound ``(L + ceil(log2(m / L)) + 2) u sum|a|``, m rows
    per chunk, L = ``_LEAF_ROWS``; wider sums use the library's sum (or a matrix product
    with the weights) per chunk."""

    def __init__(self, xp: ModuleType, shape: tuple, dtype: Any, device: Any, tree: bool):
        self.xp, self.tree = xp, tree
        self.total = xp.zeros(shape, dtype=dtype, device=device)
        self.error = xp.zeros(shape, dtype=dtype, device=device)

    def add_rows(self, values: Any, weights: Any | None = None) -> None:
        xp = self.xp
        if not self.tree:
            part = xp.sum(values, axis=0) if weights is None else weights @ values
        else:
            if weights is not None:
                values = values * weights[:, None]
            part = _pairwise_rows_sum(xp, values)
        total = self.total + part
        bigger = xp.abs(self.total) >= xp.abs(part)
        self.error = self.error + xp.where(
            bigger, (self.total - total) + part, (part - total) + self.total
        )
        self.total = total

    def value(self) -> Any:
        return self.total + self.error


#: Cap (MiB) on one temporary of the moments' passes over NumPy memory: small enough
#: that NumPy's allocations of each chunk's temporaries are reused rather than mapped
#: afresh (page faults cost more than the sums: 1M x 32 float32 under "float32" 830 ->
#: 136 ms). Libraries with caching allocators (torch, CuPy) keep ``STREAM_CHUNK_MIB``.
_MOMENTS_CHUNK_MIB = 0.25


def _moments_chunk_mib(xp: ModuleType) -> float:
    import array_api_compat

    numpy_memory = array_api_compat.is_numpy_namespace(xp) or (
        array_api_compat.is_array_api_strict_namespace(xp)
    )
    return _MOMENTS_CHUNK_MIB if numpy_memory else STREAM_CHUNK_MIB


def _moments_pass(
    xp: ModuleType, X: Any, weights: Any | None, dtype: Any, scaled: bool
) -> ColumnMoments:
    """Shifted (by the first row) two-pass column moments of X in ``dtype``, chunked.

    ``scaled``: every value is first divided by its column's power of two of the largest
    magnitude (an extra pass for the magnitudes), so no square or sum can leave the range
    of ``dtype``. In float32 the sums are compensated (:class:`_Sum`), with the corrected
    two-pass variance ``(sum c^2 - (sum c)^2 / W) / W`` (Chan, Golub & LeVeque).
    """
    n_samples, n_features = X.shape
    device = device_of(X)
    rows = chunk_rows(n_samples, n_features * bytes_per_item(xp, dtype), _moments_chunk_mib(xp))
    chunks = row_chunks(n_samples, rows)
    compensated = dtype == xp.float32

    def chunk_of(start, stop):
        chunk = X if start is None else X[start:stop, ...]
        weight = None if weights is None or start is None else weights[start:stop]
        return xp.astype(chunk, dtype, copy=False), (weights if start is None else weight)

    one = xp.ones((n_features,), dtype=dtype, device=device)
    scale = one
    if scaled:
        magnitude = xp.zeros((n_features,), dtype=X.dtype, device=device)
        for start, stop in chunks:
            chunk = X if start is None else X[start:stop, ...]
            magnitude = xp.maximum(magnitude, xp.max(xp.abs(chunk), axis=0))
        scale = power_of_two_scale(xp, xp.astype(magnitude, dtype), dtype)
    inverse = one / scale
    # the shift: a data point, so deviations from it are as small as the spread allows
    # and a constant column gets exactly its value and a variance of exactly 0
    shift = xp.astype(X[0, :], dtype) * inverse
    if weights is None:
        total = xp.asarray(float(n_samples), dtype=dtype, device=device)
    else:
        total_sum = _Sum(xp, (), dtype, device, compensated)
        for start, stop in chunks:
            total_sum.add_rows(chunk_of(start, stop)[1][:, None])
        total = xp.reshape(total_sum.value(), ())

    def deviations(start, stop, center):
        # a new array (never X itself), then updated in place: fewer temporaries, which
        # NumPy would map and unmap for every chunk (page faults cost more than the sums)
        chunk, weight = chunk_of(start, stop)
        if not scaled:
            return chunk - center, weight
        values = chunk * inverse
        values -= center
        return values, weight

    sums = _Sum(xp, (n_features,), dtype, device, compensated)
    for start, stop in chunks:
        sums.add_rows(*deviations(start, stop, shift))
    # the first estimate of the mean (over the scale: within the data's range); the
    # second pass measures around it and corrects it by the mean residual (the
    # corrected two-pass algorithm): deviations from the first row round at
    # eps |x - x_0|, which is a large error for the mean of centred data
    center = shift + sums.value() / total
    squares = _Sum(xp, (n_features,), dtype, device, compensated)
    residuals = _Sum(xp, (n_features,), dtype, device, compensated)
    for start, stop in chunks:
        centered, weight = deviations(start, stop, center)
        residuals.add_rows(centered, weight)
        centered *= centered
        squares.add_rows(centered, weight)
    correction = residuals.value() / total
    m2 = xp.maximum(squares.value() - residuals.value() * correction, xp.zeros_like(center))
    mean = (center + correction) * scale
    return ColumnMoments(mean, m2 / total, scale, total)


def column_moments(
    xp: ModuleType, X: Any, sample_weight: Any | None = None, accumulate: Any = None
) -> ColumnMoments:
    """Weighted column means and variances of X, overflow-safe, in chunks.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), n_samples >= 1
        Finite float data.
    sample_weight : array of shape (n_samples,), default=None
        Non-negative weights with a positive sum (None: unit weights).
    accumulate : dtype, default=None
        Dtype of the sums; None: float64 where X's device has it, else X's dtype.

    Returns
    -------
    ColumnMoments
        In ``accumulate``. Data narrower than the accumulator (float32 summed in float64)
        cannot leave its range: one shifted two-pass. Data as wide takes the same passes,
        and only columns whose sums left the range (or whose variance could have
        underflowed) are redone scaled; float32 sums are compensated (bound in
        :class:`_Sum` and :func:`_moments_pass`).
    """
    accumulate = _accumulate_dtype(xp, X) if accumulate is None else accumulate
    weights = None if sample_weight is None else xp.astype(sample_weight, accumulate, copy=False)
    # data as wide as the accumulator can overflow here (inf - inf, squares at 1e200 in
    # float64, 1e20 in float32): such columns are flagged and redone below, so NumPy's
    # warnings are not the user's
    with np.errstate(over="ignore", invalid="ignore"):
        moments = _moments_pass(xp, X, weights, accumulate, scaled=False)
    if X.dtype == xp.float32 and accumulate != xp.float32:
        return moments  # squares of float32 values stay inside float64's range
    return repair_out_of_range(xp, X, weights, moments)


def _out_of_range(xp: ModuleType, moments: ColumnMoments) -> Any:
    """Columns whose plain (unscaled) sums may have overflowed (not finite) or whose
    squared deviations may have underflowed (total below ``W * tiny``: each square that
    became subnormal lost at most ``tiny * eps / 2``), as a boolean array."""
    m2 = moments.scaled_variance * moments.total
    tiny = xp.finfo(m2.dtype).smallest_normal
    finite = xp.isfinite(m2) & xp.isfinite(moments.mean)
    return ~finite | (m2 < moments.total * tiny)


def repair_out_of_range(
    xp: ModuleType, X: Any, weights: Any | None, moments: ColumnMoments
) -> ColumnMoments:
    """``moments`` with the columns :func:`_out_of_range` flags recomputed scaled (a pass
    over those columns only: none on ordinary data)."""
    suspect = _out_of_range(xp, moments)
    if not bool(xp.any(suspect)):
        return moments
    columns = xp.take(X, xp.nonzero(suspect)[0], axis=1)
    # NaN or inf in X lands here too: it must reach the result, not warn (callers
    # check X's finiteness through these sums)
    with np.errstate(over="ignore", invalid="ignore"):
        redone = _moments_pass(xp, columns, weights, moments.mean.dtype, scaled=True)
    # each flagged column takes its redone value: position = flagged columns before it
    position = xp.cumulative_sum(xp.astype(suspect, xp.int64)) - 1
    position = xp.clip(position, 0, None)
    fixed = [
        xp.where(suspect, xp.take(new, position, axis=0), old)
        for old, new in zip(moments[:3], redone[:3], strict=True)
    ]
    return ColumnMoments(*fixed, moments.total)


def scaled_product(xp: ModuleType, value: Any, scale: Any, dtype: Any) -> Any:
    """``value * scale**2`` for non-negative ``value``, inf where it exceeds the range of
    ``dtype`` (no overflow is evaluated, so no floating-point warning)."""
    # (below 1 the product is at most value: no need for a limit that would overflow)
    large = xp.where(scale > 1, scale, xp.ones_like(scale))
    largest = xp.asarray(float(xp.finfo(dtype).max), dtype=value.dtype, device=device_of(value))
    limit = (largest / large) / large
    inside = value <= limit
    safe = xp.where(inside, value, xp.zeros_like(value))
    inf = xp.asarray(float("inf"), dtype=value.dtype, device=device_of(value))
    return xp.where(inside, (safe * scale) * scale, inf)


def column_mean_and_variance(
    xp: ModuleType, X: Any, dtype: Any, *, with_variance: bool
) -> tuple[Any, Any, Any]:
    """Column means and (ddof=0) variances of X, returned in ``dtype``, in chunks.

    Sums accumulate in float64 wherever X's device has it (overflow-safe, see
    :func:`column_moments`); on a device without float64, in float32, compensated. No
    temporary larger than a few MiB is made (X is never copied or upcast whole).

    Returns
    -------
    mean : array of shape (n_features,)
    variance : array of shape (n_features,) or None
        Shifted two-pass variances, when ``with_variance``; inf beyond ``dtype``'s range.
    mean_sq_norm : 0-d array
        Mean squared row norm ``mean_i ||x_i||^2 = sum_f (mean_f^2 + variance_f)``.
    """
    moments = column_moments(xp, X)
    variance = scaled_product(xp, moments.scaled_variance, moments.scale, dtype)
    mean_sq_norm = _sum_of_squares(xp, moments.mean, variance, dtype)
    mean = xp.astype(moments.mean, dtype)
    variance = xp.astype(variance, dtype) if with_variance else None
    return mean, variance, mean_sq_norm


def _sum_of_squares(xp: ModuleType, mean: Any, variance: Any, dtype: Any) -> Any:
    """``sum_f (mean_f^2 + variance_f)`` in ``dtype``: inf (without a floating-point
    warning) where a term could take it out of range (each is capped at max / d); NaN
    anywhere reaches it."""
    cap = float(xp.finfo(dtype).max) / (2 * max(1, mean.shape[0]))
    big = (xp.abs(mean) > math.sqrt(cap)) | (variance > cap)
    zero = xp.zeros_like(mean)
    safe_mean = xp.where(big, zero, mean)
    total = xp.sum(safe_mean * safe_mean + xp.where(big, zero, variance))
    inf = xp.asarray(float("inf"), dtype=total.dtype, device=device_of(total))
    return xp.astype(xp.where(xp.any(big), inf, total), dtype)


# -------------------------------------------------------------------------------------
# Nearest neighbours

#: Metrics of the pairwise and neighbour kernels.
METRICS = ("euclidean", "sqeuclidean", "manhattan", "cosine")
#: Cap (MiB) on the temporaries of one block of a neighbour search.
NEIGHBOR_CHUNK_MIB = 64
#: Training rows per block of a neighbour search (before the working-memory cap).
_TRAIN_BLOCK = 4096


def _accumulate_dtype(xp: ModuleType, X: Any) -> Any:
    from xplearn._xp import supports_float64

    return xp.float64 if supports_float64(xp, device_of(X)) else X.dtype


def unit_rows(xp: ModuleType, X: Any) -> Any:
    """Rows of X scaled to unit norm; zero rows stay zero (cosine distance 1 to all).

    Each row is divided by its largest magnitude before its norm is taken, so that no
    square overflows or underflows (float32 rows at 1e20 or 1e-30 keep their direction).
    """
    if X.shape[1] == 0:
        return X
    largest = xp.max(xp.abs(X), axis=1)
    positive = largest > 0
    one = xp.ones_like(largest)
    scaled = X / xp.where(positive, largest, one)[:, None]
    norms = xp.sqrt(xp.sum(scaled * scaled, axis=1))
    return scaled / xp.where(positive, norms, one)[:, None]


def distance_block(xp: ModuleType, X: Any, Y: Any, metric: str) -> Any:
    """Distances between every row of X and of Y (one block, X's dtype).

    euclidean / sqeuclidean through the expansion ``||x||^2 - 2 x.y + ||y||^2`` clipped
    at 0, as scikit-learn; cosine as ``1 - x.y / (||x|| ||y||)`` clipped to [0, 2].
    """
    if metric == "manhattan":
        return xp.sum(xp.abs(X[:, None, :] - Y[None, :, :]), axis=2)
    if metric == "cosine":
        block = 1 - unit_rows(xp, X) @ xp.matrix_transpose(unit_rows(xp, Y))
        return xp.clip(block, 0, 2)
    block = sq_distances(xp, X, Y, xp.sum(Y * Y, axis=1))
    return xp.sqrt(block) if metric == "euclidean" else block


#: Cap (MiB) on one matrix product of ``pairwise_distances`` (within ``working_memory``):
#: few large BLAS calls (many small ones cost a multi-threaded BLAS its synchronisation).
PAIRWISE_PRODUCT_MIB = 64
#: Cap (MiB) on one temporary of the elementwise passes over a product in host memory:
#: blocks this size stay in cache through them. On an accelerator the product is one block.
PAIRWISE_HOST_CHUNK_MIB = 2
#: Cap (MiB) on the temporaries of the direct differences of a batch of pairs.
_PAIR_BATCH_MIB = 8


def _on_host(X: Any) -> bool:
    """Whether X is in host memory (NumPy, torch CPU, array-api-strict), not on a GPU."""
    import array_api_compat

    kind = getattr(device_of(X), "type", None)  # torch devices
    if kind is not None:
        return kind == "cpu"
    return not array_api_compat.is_cupy_array(X)


def _host_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the OS does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def _format_bytes(n_bytes: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes} bytes"


def allocate_result(
    xp: ModuleType, shape: tuple[int, int], dtype: Any, device: Any, method: str, on_host: bool
) -> Any:
    """``xp.empty(shape)`` for a result, or at once a MemoryError naming its full size.

    Host arrays larger than the machine's physical memory are refused before anything is
    allocated (an operating system that over-commits memory would otherwise accept the
    allocation and fail, or kill the process, only when the pages are written); a failed
    allocation (NumPy's MemoryError, torch's "can't allocate memory" RuntimeError, a CUDA
    out-of-memory error) becomes a MemoryError with the same message.
    """
    itemsize = bytes_per_item(xp, dtype)
    n_bytes = math.prod(shape) * itemsize
    name = "float64" if dtype == xp.float64 else "float32"
    what = (
        f"{method}: the result of shape {tuple(shape)} {name} needs {_format_bytes(n_bytes)} "
        f"({' x '.join(str(n) for n in shape)} x {itemsize} bytes)"
    )
    advice = (
        "Compute it in blocks of rows of X, or ask only for the nearest rows "
        "(pairwise_distances_argkmin, pairwise_distances_radius)."
    )
    limit = _host_memory() if on_host else None
    if limit is not None and n_bytes > limit:
        raise MemoryError(
            f"{what}, more than this machine's memory ({_format_bytes(limit)}). {advice}"
        )
    try:
        return xp.empty(tuple(shape), dtype=dtype, device=device)
    except (MemoryError, RuntimeError) as error:
        if not isinstance(error, MemoryError) and "memory" not in str(error).lower():
            raise
        raise MemoryError(f"{what}, which could not be allocated: {error} {advice}") from error


def _tolerance(xp: ModuleType, dtype: Any, accumulate: Any) -> float:
    """Relative error an entry of the expansion must be proven below to be kept: well
    under float32's rounding (2**-24) when float64 accumulates, 2**-40 for float64 data;
    2**-16 where float32 has to accumulate (most entries are then kept)."""
    if accumulate == xp.float32:
        return 2.0**-16
    return 2.0**-30 if dtype == xp.float32 else 2.0**-40


class _Expansion:
    """What every block of one ``pairwise_distances`` call shares, and the block itself.

    euclidean / sqeuclidean: ``||a||^2 + ||b||^2 - 2 a.b`` on ``a = s (x - c)``,
    ``b = s (y - c)``, accumulated in float64 where the device has it, as one matrix
    product of rows augmented with their squared norms; ``c`` is the mean of the rows of
    X and Y together (a large common offset cancels before any product) and ``s`` a
    power of two that brings data whose squares would leave the accumulation's range
    near 1 (float64 data, or float32 accumulated in float32). The expansion's rounding
    error is at most ``(3 d + 4) u (||a||^2 + ||b||^2)`` (``d`` features, ``u`` the unit
    roundoff: the norms and the augmented product of ``d + 2`` terms); entries whose
    value is not above ``K (||a||^2 + max_b ||b||^2)``, ``K = (3 d + 4) u / tolerance``
    (:func:`_tolerance`), are recomputed by direct differences of the input values (tight
    clusters far apart, duplicates, anything the expansion cancels), so every entry has
    a relative error below the tolerance, plus the direct sum's ``d u`` and the final
    rounding.

    cosine: ``1 - u.v`` on rows scaled to unit norm (:func:`unit_rows`, in the
    accumulation dtype), absolute error at most ``(d + 4) u``; entries below
    ``(d + 4) u / tolerance`` (at most 2**-6; 1/2 in float32) are recomputed as
    ``||u - v||^2 / 2``, whose relative error is about ``u`` over the angle.

    manhattan: direct sums of ``|x - y|`` in the accumulation dtype (no expansion).
    """

    def __init__(self, xp: ModuleType, X: Any, Y: Any, metric: str, same: bool, host: bool):
        self.xp, self.X, self.Y, self.metric, self.same = xp, X, Y, metric, same
        self.Y_columns = None
        dtype = X.dtype
        self.accumulate = acc = _accumulate_dtype(xp, X)
        n_x, n_features = X.shape
        self.n_features = n_features
        self.cap = PAIRWISE_HOST_CHUNK_MIB if host else PAIRWISE_PRODUCT_MIB
        finfo = xp.finfo(acc)
        unit = float(finfo.eps) / 2
        tolerance = _tolerance(xp, dtype, acc)
        # float32 values squared and summed stay inside float64's range: no scaling
        self.check_range = acc == dtype
        self.low = math.sqrt(float(finfo.smallest_normal) / unit)
        self.high = math.sqrt(float(finfo.max) / (16 * (n_features + 1)))
        if metric == "manhattan":
            self.Xa = xp.astype(X, acc)
            self.Ya = self.Xa if same else xp.astype(Y, acc)
            return
        device = device_of(X)
        ones_x = xp.ones((n_x, 1), dtype=acc, device=device)
        ones_y = ones_x if same else xp.ones((Y.shape[0], 1), dtype=acc, device=device)
        if metric == "cosine":
            # [u, 1] . [-v, 1] = 1 - u.v, straight from the product
            self.Xa = unit_rows(xp, xp.astype(X, acc))
            self.Ya = self.Xa if same else unit_rows(xp, xp.astype(Y, acc))
            self.X_aug = xp.concat([self.Xa, ones_x], axis=1)
            self.Y_aug_t = xp.matrix_transpose(xp.concat([-self.Ya, ones_y], axis=1))
            # only near-parallel rows gain from the recomputation (its error is about
            # u / angle); float32 accumulation gains over a wider range of angles
            cap = 0.5 if acc == xp.float32 else 2.0**-6
            bound = min(cap, (n_features + 4) * unit / tolerance)
            self.threshold = xp.full((n_x, 1), bound, dtype=acc, device=device)
            return
        self.scale = 1.0
        if self.check_range:
            largest = max(_max_abs(xp, X), _max_abs(xp, Y))
            if largest > 0 and not self.low <= largest <= self.high:
                self.scale = 2.0 ** -round(math.log2(largest))
        Xa = xp.astype(X, acc, copy=False)
        if self.scale != 1.0:
            Xa = Xa * self.scale
        if same:
            Ya = Xa
            center = xp.mean(Xa, axis=0)
        else:
            Ya = xp.astype(Y, acc, copy=False)
            if self.scale != 1.0:
                Ya = Ya * self.scale
            center = (xp.sum(Xa, axis=0) + xp.sum(Ya, axis=0)) / (n_x + Y.shape[0])
        Xc = Xa - center
        Yc = Xc if same else Ya - center
        self.x_norms = xp.sum(Xc * Xc, axis=1)
        self.y_norms = self.x_norms if same else xp.sum(Yc * Yc, axis=1)
        # [a, ||a||^2, 1] . [-2 b, 1, ||b||^2] = the expansion, straight from the product
        self.X_aug = xp.concat([Xc, self.x_norms[:, None], ones_x], axis=1)
        self.Y_aug_t = xp.matrix_transpose(
            xp.concat([Yc * -2.0, ones_y, self.y_norms[:, None]], axis=1)
        )
        self.bound = (3 * n_features + 4) * unit / tolerance
        # a per-row threshold (one comparison per entry): every entry below the exact
        # bound K (||a||^2 + ||b||^2) is below it; the few it catches are then sorted out
        self.threshold = (self.x_norms[:, None] + xp.max(self.y_norms)) * self.bound

    def rows_per_block(self, n_x: int, n_y: int) -> tuple[int, int]:
        """Rows per matrix product, and per block of elementwise passes within one."""
        per_pair = self.n_features if self.metric == "manhattan" else 1
        per_row = n_y * per_pair * bytes_per_item(self.xp, self.accumulate)
        block = chunk_rows(n_x, per_row, self.cap)
        if self.metric == "manhattan":
            return block, block
        return max(block, chunk_rows(n_x, per_row, PAIRWISE_PRODUCT_MIB)), block

    def product(self, start: int, stop: int) -> Any:
        """The expansion (cosine: ``1 - u.v``) of rows ``start:stop`` of X against every
        row of Y, as one matrix product (None for manhattan)."""
        if self.metric == "manhattan":
            return None
        return self.X_aug[start:stop, :] @ self.Y_aug_t

    def block(self, start: int, stop: int, distances: Any) -> Any:
        """Distances of rows ``start:stop`` of X to every row of Y from their rows of
        :meth:`product` (overwritten), in the accumulation dtype: inf where the true value
        is beyond X's dtype's range (no NumPy warning)."""
        # NaN from the square root of a negative expansion: such entries are recomputed
        with np.errstate(over="ignore", invalid="ignore"):
            return self._block(start, stop, distances)

    def _block(self, start: int, stop: int, distances: Any) -> Any:
        xp = self.xp
        if self.metric == "manhattan":
            return self._manhattan(start, stop)
        if self.same:
            # the diagonal is set to 0 by the caller: keep it out of the suspects
            square = distances[:, start:stop]
            ids = xp.arange(stop - start, device=device_of(square))
            inf = xp.full_like(square, float("inf"))
            distances[:, start:stop] = xp.where(ids[:, None] == ids[None, :], inf, square)
        suspect = distances <= self.threshold[start:stop, :]
        if self.metric == "cosine":
            two = xp.asarray(2.0, dtype=distances.dtype, device=device_of(distances))
            values = xp.minimum(distances, two)
        elif self.metric == "euclidean":
            values = xp.sqrt(distances)
            if self.scale != 1.0:
                values = values / self.scale
        else:
            values = distances if self.scale == 1.0 else (distances / self.scale) / self.scale
        size = suspect.shape[0] * suspect.shape[1]
        count = _count_true(xp, suspect)
        if count and self.metric != "cosine" and 64 * count > size:
            # many suspects: the exact bound, entry by entry, before any recomputation
            total = self.x_norms[start:stop, None] + self.y_norms[None, :]
            suspect = suspect & (distances <= self.bound * total)
            count = _count_true(xp, suspect)
        dense = self.metric != "cosine" and self.scale == 1.0 and self.n_features <= 16
        if count and dense and 4 * count > size:
            # most of the block (cities' own rows): direct differences for all of it are
            # cheaper than gathering the pairs; squares that may have underflowed (float64
            # differences below 1e-146) are still recomputed scaled, pair by pair
            squared = self._direct_squares(start, stop)
            exact = xp.sqrt(squared) if self.metric == "euclidean" else squared
            values = xp.where(suspect, exact, values)
            if not self.check_range:
                return values
            suspect = suspect & (squared < self.low * self.low)
            count = _count_true(xp, suspect)
        if count:
            rows, cols = xp.nonzero(suspect)
            values[suspect] = self._exact(rows + start, cols)
        return values

    def _direct_squares(self, start: int, stop: int) -> Any:
        """Squared distances of rows ``start:stop`` of X to all of Y by direct differences
        of the input values (accumulation dtype), one feature at a time (few features:
        a reduction over a short last axis is slow)."""
        xp = self.xp
        acc = self.accumulate
        a = xp.astype(self.X[start:stop, :], acc)
        if self.Y_columns is None:  # the columns of Y as rows, once per call
            self.Y_columns = xp.matrix_transpose(xp.astype(self.Y, acc))
        total = xp.zeros((stop - start, self.Y.shape[0]), dtype=acc, device=device_of(a))
        for k in range(self.n_features):
            diff = a[:, k : k + 1] - self.Y_columns[k : k + 1, :]
            total = total + diff * diff
        return total

    def _manhattan(self, start: int, stop: int) -> Any:
        xp = self.xp
        n_y = self.Ya.shape[0]
        a = self.Xa[start:stop, None, :]
        per_col = max(1, (stop - start) * self.n_features) * bytes_per_item(xp, self.accumulate)
        cols = max(1, int(self.cap * 2**20 // per_col))
        if cols >= n_y:
            return xp.sum(xp.abs(a - self.Ya[None, :, :]), axis=2)
        parts = []
        for c0 in range(0, n_y, cols):
            parts.append(xp.sum(xp.abs(a - self.Ya[None, c0 : min(n_y, c0 + cols), :]), axis=2))
        return xp.concat(parts, axis=1)

    def _exact(self, rows: Any, cols: Any) -> Any:
        """Distances of the pairs ``(X[rows[p]], Y[cols[p]])`` by direct differences, in
        the accumulation dtype, batch by batch."""
        xp = self.xp
        n_pairs = rows.shape[0]
        per_pair = 3 * max(1, self.n_features) * bytes_per_item(xp, self.accumulate)
        step = max(1, int(_PAIR_BATCH_MIB * 2**20 // per_pair))
        parts = []
        for p0 in range(0, n_pairs, step):
            p1 = min(n_pairs, p0 + step)
            parts.append(self._exact_batch(rows[p0:p1], cols[p0:p1]))
        return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)

    def _exact_batch(self, rows: Any, cols: Any) -> Any:
        xp = self.xp
        acc = self.accumulate
        if self.metric == "cosine":
            diff = xp.take(self.Xa, rows, axis=0) - xp.take(self.Ya, cols, axis=0)
            return xp.clip(0.5 * xp.sum(diff * diff, axis=1), 0, 2)
        diff = xp.astype(xp.take(self.X, rows, axis=0), acc) - xp.astype(
            xp.take(self.Y, cols, axis=0), acc
        )
        squared = xp.sum(diff * diff, axis=1)
        if self.check_range:
            # differences whose squares left the range: divided by the largest first
            largest = xp.max(xp.abs(diff), axis=1)
            if bool(xp.any((largest > self.high) | ((largest > 0) & (largest < self.low)))):
                one = xp.ones_like(largest)
                safe = xp.where(largest > 0, largest, one)
                ratio = diff / safe[:, None]
                unit = xp.sum(ratio * ratio, axis=1)
                if self.metric == "euclidean":
                    return largest * xp.sqrt(unit)
                return (largest * largest) * unit
        return xp.sqrt(squared) if self.metric == "euclidean" else squared


def _count_true(xp: ModuleType, mask: Any) -> int:
    """Number of True entries of a boolean array."""
    count_nonzero = getattr(xp, "count_nonzero", None)
    if count_nonzero is not None:
        return int(count_nonzero(mask))
    return int(xp.sum(xp.astype(mask, xp.int64)))


def _max_abs(xp: ModuleType, X: Any) -> float:
    return float(xp.max(xp.abs(X))) if X.shape[0] * X.shape[1] else 0.0


def pairwise_distances(
    X: Any, Y: Any, metric: str, same: bool, method: str = "pairwise_distances()"
) -> Any:
    """The ``(n_X, n_Y)`` distance matrix, in X's dtype, computed in row blocks of X.

    The result is allocated first (a MemoryError naming its size at once if it cannot
    be, see :func:`allocate_result`); each matrix product fits 64 MiB and
    ``working_memory``, and the passes over it go by blocks of a few MiB on the host. The accuracy contract is that of
    :class:`_Expansion`. ``same`` (Y is X) sets the diagonal to exact zeros. Eager
    namespaces only (the result is written block by block).
    """
    xp = array_namespace(X)
    device = device_of(X)
    n_x, n_y = X.shape[0], Y.shape[0]
    host = _on_host(X)
    out = allocate_result(xp, (n_x, n_y), X.dtype, device, method, host)
    if n_x == 0 or n_y == 0:
        return out
    terms = _Expansion(xp, X, Y, metric, same, host)
    product_rows, rows = terms.rows_per_block(n_x, n_y)
    import array_api_compat

    # NumPy, torch and CuPy cast while they copy; others need the cast made first
    casts = array_api_compat.is_numpy_namespace(xp) or array_api_compat.is_torch_namespace(xp)
    casts = casts or array_api_compat.is_cupy_namespace(xp)
    for p0, p1 in row_chunks(n_x, product_rows):
        product = terms.product(p0, p1)
        for b0, b1 in row_chunks(p1 - p0, rows):
            start, stop = p0 + b0, p0 + b1
            part = None if product is None else product[b0:b1, :]
            block = terms.block(start, stop, part)
            with np.errstate(over="ignore"):  # beyond float32's range: inf
                out[start:stop, :] = block if casts else xp.astype(block, out.dtype)
            if not same:
                continue
            square = out[start:stop, start:stop]
            ids = xp.arange(stop - start, device=device)
            out[start:stop, start:stop] = xp.where(
                ids[:, None] == ids[None, :], xp.zeros_like(square), square
            )
    return out


#: Sums of squares outside [2**-960, 2**960] (float64; [2**-100, 2**100] in float32) may
#: have under- or overflowed: the euclidean distance is then recomputed on scaled
#: differences.
_SAFE_RANGE = {8: (2.0**-960, 2.0**960), 4: (2.0**-100, 2.0**100)}
#: absolute floor of the ranking error bound (float32 subnormals)
_TINY = 2.0**-100


def _unit_roundoff(xp: ModuleType, dtype: Any) -> float:
    return float(xp.finfo(dtype).eps) / 2


def _safe_row_norms(xp: ModuleType, A: Any) -> Any:
    """Euclidean norms along the last axis, rescaled by the largest magnitude where the
    plain sum of squares leaves the safe range (no spurious overflow or underflow)."""
    low, high = _SAFE_RANGE[bytes_per_item(xp, A.dtype)]
    sq = xp.sum(A * A, axis=-1)
    plain = xp.sqrt(sq)
    if is_symbolic(xp):
        return plain
    bad = ~((sq >= low) & (sq <= high)) & ~xp.isnan(sq)
    if not bool(xp.any(bad)):
        return plain
    m = xp.max(xp.abs(A), axis=-1)
    usable = bad & (m > 0) & (m < xp.inf)
    m1 = xp.where(usable, m, xp.ones_like(m))
    # a power of two near the largest magnitude: scaling by it is exact
    m1 = xp.pow(xp.full_like(m1, 2.0), xp.floor(xp.log2(m1)))
    scaled = xp.sqrt(xp.sum((A / m1[..., None]) ** 2, axis=-1)) * m1
    return xp.where(usable, scaled, xp.where(bad, m, plain))


def pair_keys(xp: ModuleType, A: Any, B: Any, metric: str, a_norms=None, b_norms=None) -> Any:
    """Distances between matching rows of ``A`` and ``B`` (broadcast; last axis the
    features), in their dtype (the accumulation dtype), as the numba kernels' keys:
    direct differences; sqeuclidean the plain sum of squares; euclidean its root,
    recomputed on scaled differences where the sum under- or overflowed; cosine
    ``1 - a.b / (||a|| ||b||)`` clipped to [0, 2] (zero rows at 1)."""
    if metric == "manhattan":
        return xp.sum(xp.abs(A - B), axis=-1)
    if metric == "cosine":
        na = _safe_row_norms(xp, A) if a_norms is None else a_norms
        nb = _safe_row_norms(xp, B) if b_norms is None else b_norms
        lo, hi = 2.0**-500, 2.0**500
        plain = (na > lo) & (na < hi) & (nb > lo) & (nb < hi)
        positive = (na > 0) & (nb > 0)
        one = xp.ones_like(na * nb)
        denominator = xp.where(plain, na * nb, one)
        ratio = xp.sum(A * B, axis=-1) / denominator
        if not is_symbolic(xp) and not bool(xp.all(plain | ~positive)):
            ia = 1 / xp.where(positive & ~plain, na, xp.ones_like(na))
            ib = 1 / xp.where(positive & ~plain, nb, xp.ones_like(nb))
            scaled = xp.sum((A * ia[..., None]) * (B * ib[..., None]), axis=-1)
            ratio = xp.where(plain, ratio, scaled)
        out = xp.clip(xp.where(positive, 1 - ratio, one), 0, 2)
        return xp.where(xp.isnan(na * nb), na * nb, out)
    diff = A - B
    sq = xp.sum(diff * diff, axis=-1)
    if metric == "sqeuclidean":
        return sq
    return _safe_row_norms(xp, diff) if not is_symbolic(xp) else xp.sqrt(sq)


def exact_pair_distances(xp: ModuleType, X_rows: Any, Y_rows: Any, metric: str) -> Any:
    """Distances between matching rows of two arrays of the same shape (last axis the
    features), accumulated in float64 where the device has it (:func:`pair_keys`),
    rounded to X's dtype."""
    acc = _accumulate_dtype(xp, X_rows)
    keys = pair_keys(xp, xp.astype(X_rows, acc), xp.astype(Y_rows, acc), metric)
    return xp.astype(keys, X_rows.dtype)


def _smallest(xp: ModuleType, values: Any, k: int, by_index: bool = False) -> tuple[Any, Any]:
    """The k smallest values of each row and their column positions.

    The namespace's own top-k where it has one (torch) unless ``by_index``, else a stable
    sort. Order among equal values is fixed by the callers (they re-sort by index); with
    ``by_index`` the k-th place itself goes to the smallest position among equal values
    (torch's top-k picks any: fine for a ranking, not for exact distances).
    """
    if k == values.shape[1]:
        positions = xp.broadcast_to(xp.arange(k, device=device_of(values))[None, :], values.shape)
        return values, positions
    topk = None if by_index else getattr(xp, "topk", None)
    if topk is not None:
        return topk(values, k, dim=1, largest=False, sorted=False)
    if is_symbolic(xp):
        return smallest_k(xp, values, k)
    order = xp.argsort(values, axis=1, stable=True)[:, :k]
    return xp.take_along_axis(values, order, axis=1), order


def _sort_by_value_then_index(xp: ModuleType, values: Any, indices: Any) -> tuple[Any, Any]:
    """Each row's (values, indices) ordered by value (NaN last), ties by the smaller
    index."""
    by_index = xp.argsort(indices, axis=1, stable=True)
    values = xp.take_along_axis(values, by_index, axis=1)
    indices = xp.take_along_axis(indices, by_index, axis=1)
    by_value = xp.argsort(values, axis=1, stable=True)
    return (
        xp.take_along_axis(values, by_value, axis=1),
        xp.take_along_axis(indices, by_value, axis=1),
    )


def _ranking_frame(xp: ModuleType, Ya: Any, symbolic: bool):
    """(shift, scale) of the ranking: the training mean and a power of two bringing the
    centered values to at most 1 (as the numba kernels' ``center_and_scale``)."""
    shift = xp.mean(Ya, axis=0)
    if symbolic:
        return shift, 1.0
    spread = float(xp.max(xp.abs(Ya - shift))) if Ya.shape[0] else 0.0
    if not math.isfinite(spread) or spread == 0.0:
        return xp.where(xp.isfinite(shift), shift, xp.zeros_like(shift)), 1.0
    return shift, 2.0 ** -math.ceil(math.log2(spread))


def _quiet():
    """NumPy's floating-point warnings off: overflowing plain sums are detected and
    recomputed scaled, and NaN inputs give NaN distances, on purpose."""
    return np.errstate(all="ignore")


def argkmin(X: Any, Y: Any, k: int, metric: str, keys: bool = False) -> tuple[Any, Any]:
    """The ``k`` nearest rows of Y to each row of X: (distances, int64 indices).

    Same contract and same results as the numba kernel: the k rows with the smallest
    distances by direct differences (:func:`pair_keys`, in float64 where the device has
    it), ties by the smaller index, NaN last. The expansion, in that accumulation dtype
    on rows centered on the training mean and scaled by a power of two, selects
    ``k + max(k, 8)`` candidates per query (manhattan: the exact distances, ``k``),
    blocks of queries x training rows sized by ``working_memory``; their exact distances
    are sorted, and a query whose candidates the error bound does not certify (see the
    numba ``certify``) is measured against every training row. With ``keys`` the
    distances come in the accumulation dtype, unrounded (the Dask merge).
    """
    with _quiet():
        return _argkmin(X, Y, k, metric, keys)


def _argkmin(X: Any, Y: Any, k: int, metric: str, keys: bool) -> tuple[Any, Any]:
    xp = array_namespace(X)
    device = device_of(X)
    n_queries, n_features = X.shape
    n_train = Y.shape[0]
    symbolic = is_symbolic(xp)
    acc = _accumulate_dtype(xp, X)
    u = _unit_roundoff(xp, acc)
    itemsize = bytes_per_item(xp, acc)
    exact_block = metric == "manhattan"
    n_select = k if exact_block else min(n_train, k + max(k, 8))
    train_block = SYMBOLIC_TRAIN_BLOCK if symbolic else _TRAIN_BLOCK
    cols = min(n_train, max(train_block, n_select))
    per_pair = n_features if exact_block else 4
    rows = chunk_rows(n_queries, (cols + 2 * n_select) * per_pair * itemsize, NEIGHBOR_CHUNK_MIB)
    Xa, Ya = xp.astype(X, acc, copy=False), xp.astype(Y, acc, copy=False)
    scale = 1.0
    y_norms = None
    if exact_block:
        Xd = Xa
    elif metric == "cosine":
        y_norms = _safe_row_norms(xp, Ya)
        Xd = _unit(xp, Xa, _safe_row_norms(xp, Xa))
        Yd_all = _unit(xp, Ya, y_norms)
    else:
        shift, scale = _ranking_frame(xp, Ya, symbolic)
        Xd = (Xa - shift) * scale
    out_d, out_i = [], []
    r_sq = None
    for q0, q1 in row_chunks(n_queries, rows):
        Xq = Xa if q0 is None else Xa[q0:q1, :]
        Xq_dot = Xd if q0 is None else Xd[q0:q1, :]
        best_v = best_i = None
        for t0 in range(0, n_train, cols):
            t1 = min(n_train, t0 + cols)
            if exact_block:
                block = pair_keys(xp, Xq[:, None, :], Ya[None, t0:t1, :], metric)
            elif metric == "cosine":
                block = -(Xq_dot @ xp.matrix_transpose(Yd_all[t0:t1, :]))
            else:
                Yt = (Ya[t0:t1, :] - shift) * scale
                y_term = xp.sum(Yt * Yt, axis=1)
                if not symbolic and q0 in (None, 0):
                    tile_max = xp.max(y_term)
                    r_sq = tile_max if r_sq is None else xp.maximum(r_sq, tile_max)
                block = y_term[None, :] - 2 * (Xq_dot @ xp.matrix_transpose(Yt))
            values, positions = _smallest(xp, block, min(n_select, t1 - t0), exact_block)
            positions = xp.astype(positions, xp.int64) + t0
            if best_v is not None:
                values = xp.concat([best_v, values], axis=1)
                positions = xp.concat([best_i, positions], axis=1)
            values, positions = _sort_by_value_then_index(xp, values, positions)
            best_v, best_i = values[:, :n_select], positions[:, :n_select]
        if exact_block:
            found, best_i = best_v, best_i
        else:
            flat = xp.reshape(best_i, (-1,))
            # -1, not best_i.shape[0]: the number of queries may be symbolic (ONNX export)
            Y_rows = xp.reshape(xp.take(Ya, flat, axis=0), (-1, n_select, n_features))
            b_norms = None
            if y_norms is not None:
                b_norms = xp.reshape(xp.take(y_norms, flat, axis=0), (-1, n_select))
            found = pair_keys(xp, Xq[:, None, :], Y_rows, metric, b_norms=b_norms)
            found, best_i = _sort_by_value_then_index(xp, found, best_i)
        if not symbolic:
            ok = _certified(xp, found, best_i, best_v, Xq_dot, r_sq, scale, metric, k, u, n_train)
            found, best_i = _exact_where_uncertified(
                xp, ok, found[:, :k], best_i[:, :k], Xq, Ya, k, metric, y_norms
            )
        out_d.append(found[:, :k])
        out_i.append(best_i[:, :k])
    if not out_d:
        return (
            xp.zeros((0, k), dtype=acc if keys else X.dtype, device=device),
            xp.zeros((0, k), dtype=xp.int64, device=device),
        )
    found = out_d[0] if len(out_d) == 1 else xp.concat(out_d, axis=0)
    indices = out_i[0] if len(out_i) == 1 else xp.concat(out_i, axis=0)
    return (found if keys else xp.astype(found, X.dtype)), indices


def _unit(xp: ModuleType, A: Any, norms: Any) -> Any:
    """Rows of A over their (safe) norms; zero rows stay zero, NaN rows NaN."""
    positive = norms > 0
    big = xp.max(xp.abs(A), axis=1) if A.shape[0] else norms
    big = xp.where(positive & (big < xp.inf), big, xp.ones_like(big))
    ratio = xp.where(positive, big / xp.where(positive, norms, xp.ones_like(norms)), 0 * norms)
    return (A / big[:, None]) * ratio[:, None]


def _certified(xp, found, best_i, best_v, Xq_dot, r_sq, scale, metric, k, u, n_train):
    """Per query, whether its candidates provably hold its exact k nearest: the numba
    ``certify`` rule, written against the array API (``u``: the ranking's roundoff)."""
    d = Xq_dot.shape[1]
    t = found[:, k - 1]
    valid = ~xp.isnan(t)
    if metric == "manhattan" or best_i.shape[1] >= n_train:
        return valid & ~xp.isnan(best_v[:, -1]) if metric == "manhattan" else valid
    margin = (4.0 * d + 16.0) * u
    v_last = best_v[:, -1]
    if metric == "cosine":
        lower = 1 + v_last - 2.0 * (d + 8.0) * u
        return valid & (lower > t + 2 * margin)
    x_sq = xp.sum(Xq_dot * Xq_dot, axis=1)
    reach = xp.sqrt(x_sq) * (1 + 4 * u) + xp.sqrt(r_sq) * (1 + 4 * u)
    lower = v_last + x_sq - ((d + 8.0) * u * reach * reach + _TINY)
    if metric == "euclidean":
        t_sq = (t * scale) * (t * scale)
    else:
        low = _SAFE_RANGE[8 if u < 1e-10 else 4][0]
        t_sq = xp.maximum(t, xp.full_like(t, low)) * scale * scale
    return valid & (lower > t_sq * (1 + margin))


def _exact_where_uncertified(xp, ok, found, best_i, Xq, Ya, k, metric, y_norms):
    """``found`` / ``best_i`` with the rows not ``ok`` replaced by an exact pass: direct
    differences against every training row, top k by (distance, index), NaN last."""
    if bool(xp.all(ok)):
        return found, best_i
    ok_host = np.asarray(to_numpy(ok), dtype=bool)
    failed = np.flatnonzero(~ok_host)
    device = device_of(Xq)
    Xf = xp.take(Xq, xp.asarray(failed, device=device), axis=0)
    n_train, n_features = Ya.shape
    step = max(1, int(NEIGHBOR_CHUNK_MIB * 2**20 // (max(1, failed.size * n_features) * 8 * 3)))
    step = min(n_train, max(step, k))
    best_v = best_j = None
    x_norms = _safe_row_norms(xp, Xf) if metric == "cosine" else None
    for t0 in range(0, n_train, step):
        t1 = min(n_train, t0 + step)
        b_norms = None if y_norms is None else y_norms[None, t0:t1]
        a_norms = None if x_norms is None else x_norms[:, None]
        block = pair_keys(xp, Xf[:, None, :], Ya[None, t0:t1, :], metric, a_norms, b_norms)
        order = xp.argsort(block, axis=1, stable=True)[:, : min(k, t1 - t0)]
        values = xp.take_along_axis(block, order, axis=1)
        positions = xp.astype(order, xp.int64) + t0
        if best_v is not None:
            values = xp.concat([best_v, values], axis=1)
            positions = xp.concat([best_j, positions], axis=1)
            values, positions = _sort_by_value_then_index(xp, values, positions)
        best_v, best_j = values[:, :k], positions[:, :k]
    n = found.shape[0]
    where = np.arange(n)
    where[failed] = n + np.arange(failed.size)
    where = xp.asarray(where, device=device)
    found = xp.take(xp.concat([found, best_v], axis=0), where, axis=0)
    best_i = xp.take(xp.concat([best_i, best_j], axis=0), where, axis=0)
    return found, best_i


def radius_neighbors(
    X: Any, Y: Any, radius: float, metric: str, sort_results: bool
) -> tuple[Any, Any, Any]:
    """Rows of Y within ``radius`` of each row of X, as ``(indptr, indices, distances)``.

    Membership by the exact distance (:func:`pair_keys` in float64 where the device has
    it, ``<= radius``), as the numba kernel; candidates from the expansion on centered,
    scaled rows in that dtype, within the radius plus a proven bound of its error (exact
    block for manhattan), block by block. Within a row, indices increase, or go by
    (distance, index) with ``sort_results``. Needs a namespace with data-dependent
    output shapes (``nonzero``): eager namespaces.
    """
    with _quiet():
        return _radius_neighbors(X, Y, radius, metric, sort_results)


def _radius_neighbors(
    X: Any, Y: Any, radius: float, metric: str, sort_results: bool
) -> tuple[Any, Any, Any]:
    xp = array_namespace(X)
    device = device_of(X)
    n_queries, n_features = X.shape
    n_train = Y.shape[0]
    acc = _accumulate_dtype(xp, X)
    u = _unit_roundoff(xp, acc)
    itemsize = bytes_per_item(xp, acc)
    exact_block = metric == "manhattan"
    cols = min(max(n_train, 1), _TRAIN_BLOCK)
    per_pair = n_features if exact_block else 4
    rows = chunk_rows(n_queries, cols * per_pair * itemsize, NEIGHBOR_CHUNK_MIB)
    Xa, Ya = xp.astype(X, acc, copy=False), xp.astype(Y, acc, copy=False)
    radius = float(radius)
    margin = (4.0 * n_features + 16.0) * u
    y_norms = x_norms = None
    if metric == "cosine":
        x_norms, y_norms = _safe_row_norms(xp, Xa), _safe_row_norms(xp, Ya)
        Xd, Yd = _unit(xp, Xa, x_norms), _unit(xp, Ya, y_norms)
        x_term = xp.ones((n_queries,), dtype=acc, device=device)
        y_term = xp.zeros((n_train,), dtype=acc, device=device)
        alpha = -1
        bounds = x_term * (radius + 2.0 * (n_features + 8.0) * u + 2 * margin)
    elif not exact_block:
        shift, scale = _ranking_frame(xp, Ya, False)
        Xd, Yd = (Xa - shift) * scale, (Ya - shift) * scale
        x_term, y_term = xp.sum(Xd * Xd, axis=1), xp.sum(Yd * Yd, axis=1)
        r_norm = float(xp.sqrt(xp.max(y_term))) * (1 + 4 * u) if n_train else 0.0
        reach = xp.sqrt(x_term) * (1 + 4 * u) + r_norm
        alpha = -2
        if metric == "euclidean":
            r_scaled = radius * scale
            r_sq = r_scaled * r_scaled
        else:
            low = _SAFE_RANGE[itemsize][0]
            r_sq = (radius + n_features * low * 2.0**-60) * scale * scale
        bounds = r_sq * (1 + margin) + (n_features + 8.0) * u * reach * reach + _TINY
    found_rows, found_cols = [], []
    for q0, q1 in row_chunks(n_queries, rows):
        for t0 in range(0, n_train, cols):
            t1 = min(n_train, t0 + cols)
            if exact_block:
                block = pair_keys(xp, Xa[q0:q1, None, :], Ya[None, t0:t1, :], metric)
                mask = block <= radius
            else:
                block = (x_term[q0:q1, None] + y_term[None, t0:t1]) + alpha * (
                    Xd[q0:q1, :] @ xp.matrix_transpose(Yd[t0:t1, :])
                )
                mask = block <= bounds[q0:q1, None]
            r, c = xp.nonzero(mask)
            found_rows.append(xp.astype(r, xp.int64) + q0)
            found_cols.append(xp.astype(c, xp.int64) + t0)
    if found_rows:
        rows_all = xp.concat(found_rows, axis=0)
        cols_all = xp.concat(found_cols, axis=0)
    else:
        rows_all = cols_all = xp.zeros((0,), dtype=xp.int64, device=device)
    order = xp.argsort(rows_all * max(n_train, 1) + cols_all, stable=True)
    rows_all, cols_all = xp.take(rows_all, order), xp.take(cols_all, order)
    keys = _pair_keys_chunked(xp, Xa, Ya, rows_all, cols_all, metric, x_norms, y_norms)
    (keep,) = xp.nonzero(keys <= radius)
    rows_all, cols_all = xp.take(rows_all, keep), xp.take(cols_all, keep)
    keys = xp.take(keys, keep)
    if sort_results:
        by_distance = xp.argsort(keys, stable=True)
        by_row = xp.argsort(xp.take(rows_all, by_distance), stable=True)
        order = xp.take(by_distance, by_row)
        rows_all, cols_all = xp.take(rows_all, order), xp.take(cols_all, order)
        keys = xp.take(keys, order)
    boundaries = xp.arange(n_queries + 1, dtype=xp.int64, device=device)
    indptr = xp.astype(xp.searchsorted(rows_all, boundaries, side="left"), xp.int64)
    return indptr, cols_all, xp.astype(keys, X.dtype)


def _pair_keys_chunked(xp, Xa, Ya, rows, cols, metric, x_norms=None, y_norms=None):
    """Exact distances (:func:`pair_keys`) of the pairs (Xa[rows[p]], Ya[cols[p]]), in
    chunks of pairs."""
    n_pairs = rows.shape[0]
    n_features = Xa.shape[1]
    step = chunk_rows(n_pairs, 3 * n_features * 8, NEIGHBOR_CHUNK_MIB) or 1
    parts = []
    for p0 in range(0, n_pairs, step):
        p1 = min(n_pairs, p0 + step)
        a = xp.take(Xa, rows[p0:p1], axis=0)
        b = xp.take(Ya, cols[p0:p1], axis=0)
        a_norms = None if x_norms is None else xp.take(x_norms, rows[p0:p1])
        b_norms = None if y_norms is None else xp.take(y_norms, cols[p0:p1])
        parts.append(pair_keys(xp, a, b, metric, a_norms, b_norms))
    if not parts:
        return xp.zeros((0,), dtype=Xa.dtype, device=device_of(Xa))
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def drop_self(distances: Any, indices: Any) -> tuple[Any, Any]:
    """Remove each query's own index from its k + 1 neighbours (queries = training rows).

    When the row's own index is absent (more than k duplicates come first), the first
    column goes instead, as scikit-learn does; the others keep their order.
    """
    xp = array_namespace(indices)
    n, width = indices.shape
    device = device_of(indices)
    is_self = indices == xp.arange(n, dtype=indices.dtype, device=device)[:, None]
    found = xp.any(is_self, axis=1)
    first = xp.arange(width, device=device)[None, :] == 0
    drop = xp.where(found[:, None], is_self, first)
    # stable: the kept entries keep their order, the dropped one goes last
    order = xp.argsort(xp.astype(drop, xp.int8), axis=1, stable=True)[:, : width - 1]
    return xp.take_along_axis(distances, order, axis=1), xp.take_along_axis(indices, order, axis=1)


def drop_self_csr(indptr: Any, indices: Any, distances: Any) -> tuple[Any, Any, Any]:
    """Remove each query's own index from a CSR result (queries = training rows)."""
    xp = array_namespace(indices)
    device = device_of(indices)
    positions = xp.arange(indices.shape[0], dtype=xp.int64, device=device)
    rows = xp.astype(xp.searchsorted(indptr, positions, side="right"), xp.int64) - 1
    (keep,) = xp.nonzero(indices != rows)
    boundaries = xp.arange(indptr.shape[0], dtype=xp.int64, device=device)
    new_indptr = xp.searchsorted(xp.take(rows, keep), boundaries, side="left")
    return xp.astype(new_indptr, xp.int64), xp.take(indices, keep), xp.take(distances, keep)
