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

from types import ModuleType
from typing import Any

from xplearn._config import get_config
from xplearn._xp import array_namespace, device_of

__all__ = [
    "LLOYD_CHUNK_MIB",
    "STREAM_CHUNK_MIB",
    "chunk_rows",
    "column_mean_and_variance",
    "lloyd_pass",
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
    budget_mib = get_config()["working_memory"]
    if max_mib is not None:
        budget_mib = min(budget_mib, max_mib)
    budget = budget_mib * 2**20
    rows = max(1, int(budget // max(1, bytes_per_row)))
    return min(n_samples, rows) if n_samples > 0 else 0


def _row_chunks(n_samples: Any, rows: Any):
    """(start, stop) pairs covering ``range(n_samples)``; one pair when n is unknown."""
    if not isinstance(n_samples, int):
        return [(None, None)]
    if n_samples == 0:
        return []
    return [(start, min(n_samples, start + rows)) for start in range(0, n_samples, rows)]


def _itemsize(xp: ModuleType, dtype: Any) -> int:
    return 8 if dtype == xp.float64 else 4


def sq_distances(xp: ModuleType, X: Any, centers: Any, center_norms: Any) -> Any:
    """``||x - c||^2`` for every row of X and center, as ``||x||^2 - 2 x.c + ||c||^2``.

    Clipped at 0 (rounding can make the expansion slightly negative). Returns an array
    of shape (n_rows, n_centers) in X's namespace and dtype.
    """
    x_norms = xp.sum(X * X, axis=1)
    distances = (x_norms[:, None] - 2 * (X @ xp.matrix_transpose(centers))) + center_norms[None, :]
    return xp.clip(distances, 0, None)


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
    per_row = (n_clusters * (2 if needs_onehot else 1) + 2 * n_features) * _itemsize(xp, dtype)
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
    for start, stop in _row_chunks(n_samples, rows):
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


def column_mean_and_variance(
    xp: ModuleType, X: Any, dtype: Any, *, with_variance: bool
) -> tuple[Any, Any, Any]:
    """Column means and (ddof=0) variances of X accumulated in ``dtype``, in chunks.

    Unlike a whole-array ``X - mean``, no temporary larger than a few MiB is made (the
    data is never copied whole, nor upcast whole under "mixed").

    Returns
    -------
    mean : array of shape (n_features,)
    variance : array of shape (n_features,) or None
        Two-pass variances, when ``with_variance``.
    mean_sq_norm : 0-d array
        Mean squared row norm ``mean_i ||x_i||^2`` (one-pass, from the first pass).
    """
    n_samples, n_features = X.shape
    device = device_of(X)
    rows = chunk_rows(n_samples, 2 * n_features * _itemsize(xp, dtype), STREAM_CHUNK_MIB)
    chunks = _row_chunks(n_samples, rows)
    total = xp.zeros((n_features,), dtype=dtype, device=device)
    squares = xp.zeros((), dtype=dtype, device=device)
    for start, stop in chunks:
        chunk = xp.astype(X if start is None else X[start:stop, :], dtype, copy=False)
        total = total + xp.sum(chunk, axis=0)
        squares = squares + xp.sum(chunk * chunk)
    mean = total / n_samples
    mean_sq_norm = squares / n_samples
    if not with_variance:
        return mean, None, mean_sq_norm
    centered_squares = xp.zeros((n_features,), dtype=dtype, device=device)
    for start, stop in chunks:
        chunk = X if start is None else X[start:stop, :]
        centered = xp.astype(chunk, dtype, copy=False) - mean
        centered_squares = centered_squares + xp.sum(centered * centered, axis=0)
    return mean, centered_squares / n_samples, mean_sq_norm
