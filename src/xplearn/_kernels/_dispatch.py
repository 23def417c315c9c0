"""Choose, per call, the numba or the array-API implementation of a kernel.

The numba kernels run for NumPy arrays (on the CPU by construction) of float32 or
float64 when the configured ``kernel`` is ``"auto"`` or ``"numba"``; everything else
(torch, CuPy, Dask, array-api-strict, other dtypes, ``kernel="xp"``) runs the generic
chunked code of :mod:`xplearn._kernels._xp_impl`. Asking for ``kernel="numba"`` with an
input numba cannot take is an error, never a silent fallback.

Around numba calls, :func:`kernel_session` sets numba's thread count to
:func:`xplearn.utils._threads.effective_n_threads` (``config n_threads``, then the limits
set from outside, then the CPU count; without an explicit ``n_threads``, divided among the
sessions running concurrently in other threads) and limits BLAS to one thread, restoring
both on exit. Estimators open one session per public method call so that the (costly) thread-pool
inspection happens once per fit, not once per iteration; a kernel called outside any
session opens its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from xplearn._config import get_config
from xplearn._kernels import _xp_impl
from xplearn._xp import array_namespace, namespace_name, numpy_namespace
from xplearn._xp._ops import to_scalar
from xplearn.utils._threads import effective_n_threads, single_threaded_blas

__all__ = [
    "LloydResult",
    "argkmin",
    "column_moments",
    "kernel_backend",
    "kernel_input",
    "kernel_session",
    "last_session_threads",
    "lloyd_pass",
    "pairwise_distances",
    "radius_neighbors",
    "training_index",
]

_NUMBA_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_local = threading.local()
# numba sessions running now, in all threads: sessions started while others run (e.g.
# joblib's threading backend) share the cores instead of each taking all of them
_active_lock = threading.Lock()
_active_sessions = 0


_numba_module = None


def _numba_kernels():
    """``xplearn._kernels._numba``, imported on first use (numba is heavy to import) and
    kept: an import statement per call costs a one-row predict about a microsecond."""
    global _numba_module
    if _numba_module is None:
        from xplearn._kernels import _numba

        _numba_module = _numba
    return _numba_module


def _numba_can_take(X: Any) -> bool:
    return isinstance(X, np.ndarray) and X.dtype in _NUMBA_DTYPES


def kernel_backend(X: Any, method: str | None = None) -> str:
    """``"numba"`` or ``"xp"``: the implementation the kernels use for ``X`` now.

    Parameters
    ----------
    X : array
        The data the kernel will read.
    method : str, default=None
        The public method calling, e.g. ``"KMeans.fit()"``, for the error message.

    Raises
    ------
    ValueError
        If ``config_context(kernel="numba")`` is set and X is not a NumPy float32 or
        float64 array.
    """
    kernel = get_config()["kernel"]
    if kernel == "xp":
        return "xp"
    usable = _numba_can_take(X)
    if kernel == "numba" and not usable:
        prefix = f"{method}: " if method else ""
        xp = array_namespace(X)
        raise ValueError(
            f"{prefix}config kernel='numba' needs a NumPy array of float32 or float64 (on "
            f"the CPU), but the data is a {namespace_name(xp)} array of dtype {X.dtype}. "
            "Use kernel='auto' (numba where it applies, array-API code elsewhere) or "
            "kernel='xp'."
        )
    return "numba" if usable else "xp"


def kernel_input(X: Any, method: str | None = None) -> Any:
    """X in the memory layout the selected kernel reads without copying.

    The numba kernels stream C-contiguous rows: a NumPy array in another layout (e.g.
    Fortran order) is copied once here, by the caller at the start of a fit, rather than
    once per pass. Other inputs are returned unchanged.
    """
    if kernel_backend(X, method) == "numba" and not X.flags.c_contiguous:
        return np.ascontiguousarray(X)
    return X


def _numba_thread_cap() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


@contextmanager
def kernel_session(X: Any = None, method: str | None = None) -> Iterator[None]:
    """Thread settings for numba kernels over ``X`` (no-op for the array-API backend).

    Sets ``numba.set_num_threads(effective_n_threads())`` and single-threaded BLAS for
    the duration; re-entrant (an inner session reuses the outer one's settings).

    Parameters
    ----------
    X : array, default=None
        The data the kernels will read; None opens a numba session unconditionally.
    method : str, default=None
        Public method calling, for the error of :func:`kernel_backend`.
    """
    if getattr(_local, "active", False) or (X is not None and kernel_backend(X, method) != "numba"):
        yield
        return
    import numba

    global _active_sessions
    with _active_lock:
        _active_sessions += 1
        concurrent = _active_sessions
    try:
        n_threads = max(1, min(effective_n_threads(), _numba_thread_cap()))
        if get_config()["n_threads"] is None:
            n_threads = max(1, n_threads // concurrent)
        previous = numba.get_num_threads()
        _local.active = True
        _local.last_threads = n_threads
        try:
            numba.set_num_threads(n_threads)
            with single_threaded_blas():
                yield
        finally:
            numba.set_num_threads(previous)
            _local.active = False
    finally:
        with _active_lock:
            _active_sessions -= 1


def last_session_threads() -> int | None:
    """Number of threads of this thread's latest numba session (None if none yet)."""
    return getattr(_local, "last_threads", None)


def _numba_moments(X: Any) -> Any:
    """Column means and variances of a NumPy float array from the one-pass numba kernel
    (float64), as :class:`~xplearn._kernels._xp_impl.ColumnMoments`; float64 columns
    whose sums left the range are redone scaled (none on ordinary data)."""
    from xplearn._kernels._numba._stats import N_SLOTS, column_moments

    n_samples, n_features = X.shape
    with kernel_session():
        mean, deviations = column_moments(np.ascontiguousarray(X), max(1, min(N_SLOTS, n_samples)))
    ones = np.ones(n_features)
    moments = _xp_impl.ColumnMoments(mean, deviations / n_samples, ones, np.float64(n_samples))
    if X.dtype == np.float32:  # float32 deviations squared stay inside float64's range
        return moments
    return _xp_impl.repair_out_of_range(numpy_namespace(), X, None, moments)


def column_moments(
    xp, X: Any, sample_weight: Any | None = None, accumulate: Any = None
) -> _xp_impl.ColumnMoments:
    """Weighted column means and variances of X in overflow-safe (scaled) form.

    Unweighted NumPy float data accumulated in float64 goes through the one-pass numba
    kernel; everything else through the chunked generic code
    (:func:`xplearn._kernels._xp_impl.column_moments`, which documents the result).
    ``accumulate`` None: float64 where X's device has it.
    """
    wide = accumulate is None or accumulate == xp.float64
    if sample_weight is None and wide and kernel_backend(X) == "numba":
        return _xp_impl.ColumnMoments(*(xp.asarray(part) for part in _numba_moments(X)))
    return _xp_impl.column_moments(xp, X, sample_weight, accumulate)


def column_mean_and_variance(
    xp, X: Any, dtype: Any, *, with_variance: bool
) -> tuple[Any, Any | None, Any]:
    """Column means, (ddof=0) variances and the mean squared row norm of X, in ``dtype``.

    Sums accumulate in float64 wherever X's device has it, whatever ``dtype`` (float32
    in compensated form on a device without float64), and are overflow-safe. NumPy
    float data goes through one parallel numba pass that gives all three (variances
    from deviations, merged across row slots with Chan's update); other inputs through
    the chunked generic code (:func:`xplearn._kernels._xp_impl.column_mean_and_variance`).
    Same return values; the variances are None unless ``with_variance``; a variance (or
    the norm) beyond ``dtype``'s range is inf, and NaN or inf in X reaches the norm.
    """
    if kernel_backend(X) != "numba":
        return _xp_impl.column_mean_and_variance(xp, X, dtype, with_variance=with_variance)
    mean, scaled_variance, scale, _ = _numba_moments(X)
    with np.errstate(over="ignore", invalid="ignore"):
        variance = _xp_impl.scaled_product(numpy_namespace(), scaled_variance, scale, dtype)
        mean_sq_norm = _xp_impl._sum_of_squares(numpy_namespace(), mean, variance, dtype)
    return (
        xp.asarray(mean.astype(dtype)),
        xp.asarray(variance.astype(dtype)) if with_variance else None,
        xp.asarray(np.asarray(mean_sq_norm, dtype=dtype)),
    )


@dataclass
class LloydResult:
    """What one Lloyd pass returns.

    Attributes
    ----------
    labels : array of shape (n_samples,), int32
        Index of the closest center of each row (first one on ties).
    sums : array of shape (n_clusters, n_features) or None
        Per-cluster sums of the weighted, shifted rows (``accumulate_dtype``).
    weights : array of shape (n_clusters,) or None
        Per-cluster summed weights (``accumulate_dtype``).
    counts : array of shape (n_clusters,) or None
        Per-cluster number of rows (integers).
    n_changed : int or None
        Number of labels that differ from the ``labels`` passed in.
    inertia : float or None
        Exact weighted inertia, when requested.
    """

    labels: Any
    sums: Any = None
    weights: Any = None
    counts: Any = None
    n_changed: int | None = None
    inertia: float | None = None


def lloyd_pass(
    X: Any,
    centers: Any,
    *,
    sample_weight: Any | None = None,
    shift: Any | None = None,
    labels: Any | None = None,
    update_centers: bool = True,
    compute_inertia: bool = False,
    accumulate_dtype: Any = None,
    method: str | None = None,
    around_centers: bool = False,
) -> LloydResult:
    """One fused pass of Lloyd's algorithm: assign every row, and sum per cluster.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Data, float32 or float64, never copied on the numba path (C-contiguous input).
    centers : array of shape (n_clusters, n_features)
        Centers in the frame of ``X - shift``, same namespace and dtype as X.
    sample_weight : array of shape (n_samples,), default=None
        Non-negative weights; None for unit weights.
    shift : array of shape (n_features,), default=None
        Subtracted from every row before distances (the data mean at fit time).
    labels : array of shape (n_samples,) of int32, default=None
        Previous labels, to count changes. The numba path updates this array in place
        and returns it; do not reuse it afterwards.
    update_centers : bool, default=True
        Also compute the per-cluster sums, weights and counts.
    compute_inertia : bool, default=False
        Also compute the exact weighted inertia.
    accumulate_dtype : dtype, default=None
        Dtype of the returned sums and weights (default: X's dtype).
    method : str, default=None
        Calling public method, for error messages.
    around_centers : bool, default=False
        With ``shift=None``: compute the distances around the centers' mean, for data
        whose frame nobody chose (``predict``): far from the origin, the expansion
        ``||x||^2 - 2 x.c + ||c||^2`` cancels (float32 data at 5e4 from it keeps no
        digit of the distances between its clusters). The numba pass moves the frame
        only when the centers' mean is farther from the origin than their spread (else
        X is read in place, as at fit; decided inside the compiled call); the array-API
        path always moves it. The returned sums, if any, are then in the moved frame.

    Returns
    -------
    LloydResult
    """
    if accumulate_dtype is None:
        accumulate_dtype = X.dtype
    if kernel_backend(X, method) == "numba":
        # a pass this small runs on the calling thread and calls no BLAS: no session (its
        # thread-pool bookkeeping would cost more than a one-row predict)
        work = X.shape[0] * max(centers.shape[0], 4) * X.shape[1]
        with nullcontext() if work < _numba_kernels()._PARALLEL_MIN_WORK else kernel_session():
            return _lloyd_numba(
                X,
                centers,
                sample_weight,
                shift,
                labels,
                update_centers,
                compute_inertia,
                accumulate_dtype,
                around_centers,
            )
    if around_centers and shift is None:
        origin = array_namespace(centers).mean(centers, axis=0)
        shift, centers = origin, centers - origin
    new_labels, sums, weights, counts, n_changed, inertia = _xp_impl.lloyd_pass(
        X,
        sample_weight,
        centers,
        shift,
        labels,
        update_centers=update_centers,
        compute_inertia=compute_inertia,
        accumulate_dtype=accumulate_dtype,
    )
    return LloydResult(
        labels=new_labels,
        sums=sums,
        weights=weights,
        counts=counts,
        n_changed=None if n_changed is None else int(to_scalar(n_changed)),
        inertia=None if inertia is None else to_scalar(inertia),
    )


def _lloyd_numba(
    X,
    centers,
    sample_weight,
    shift,
    labels,
    update_centers,
    compute_inertia,
    accumulate_dtype,
    around_centers,
) -> LloydResult:
    n_samples = X.shape[0]
    X = np.ascontiguousarray(X)
    had_labels = labels is not None
    if not had_labels:
        labels = np.empty(n_samples, dtype=np.int32)
        labels.fill(-1)
    else:
        labels = np.ascontiguousarray(labels, dtype=np.int32)
    new_labels, sums, weights, counts, n_changed, inertia = _numba_kernels().lloyd_pass_numpy(
        X,
        None if sample_weight is None else np.asarray(sample_weight),
        np.asarray(centers),
        None if shift is None else np.asarray(shift),
        labels,
        update_centers=update_centers,
        compute_inertia=compute_inertia,
        around_centers=around_centers,
    )
    if sums is not None:
        sums = sums.astype(accumulate_dtype, copy=False)
        weights = weights.astype(accumulate_dtype, copy=False)
    return LloydResult(
        labels=new_labels,
        sums=sums,
        weights=weights,
        counts=counts,
        n_changed=n_changed if had_labels else None,
        inertia=inertia if compute_inertia else None,
    )


# -------------------------------------------------------------------------------------
# Nearest neighbours


def _numba_pair(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    """X and Y as C-contiguous NumPy arrays of X's dtype (no copy when already so)."""
    return np.ascontiguousarray(X), np.ascontiguousarray(Y, dtype=X.dtype)


def _host_fallback(X: Any, Y: Any):
    """(NumPy namespace, X, Y on the host) for lazy namespaces, whose data-dependent
    outputs (sorts along rows, ragged results) are computed eagerly."""
    from xplearn._xp import numpy_namespace, to_numpy

    return (
        numpy_namespace(),
        numpy_namespace().asarray(to_numpy(X)),
        numpy_namespace().asarray(to_numpy(Y)),
    )


def training_index(Y: Any) -> Any:
    """What the numba neighbour search derives from the training rows ``Y`` alone (their
    mean, a power-of-two scale, and the rows in ranking form for one-row queries), for a
    caller to compute once and pass to :func:`argkmin`; None where the generic
    implementation runs (it needs nothing)."""
    if not _numba_can_take(Y):
        return None
    from xplearn._kernels._numba import training_index

    return training_index(Y)


def argkmin(
    X: Any,
    Y: Any,
    k: int,
    metric: str,
    *,
    exclude_self: bool = False,
    method: str | None = None,
    index: Any = None,
    keys: bool = False,
) -> tuple[Any, Any]:
    """The ``k`` nearest rows of ``Y`` to each row of ``X``: exactly the rows that direct
    float64 differences of the inputs rank first (ties by the smaller index, NaN
    distances last), on every backend.

    Parameters
    ----------
    X : array of shape (n_queries, n_features)
        Queries, float32 or float64.
    Y : array of shape (n_train, n_features)
        Training rows, same namespace, device and dtype as X.
    k : int
        Number of neighbours, ``1 <= k <= n_train``.
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}
    exclude_self : bool, default=False
        X are the training rows: drop each row's own index (``k - 1`` columns returned).
    method : str, default=None
        Calling public method, for error messages.
    index : object, default=None
        :func:`training_index` of ``Y``, when the caller keeps it (computed at fit).
    keys : bool, default=False
        Return the distances unrounded, in the accumulation dtype (float64 where the
        device has it): the values that order the result (a merge of several searches,
        e.g. the Dask block search, then orders as one search does).

    Returns
    -------
    distances : array of shape (n_queries, k), X's dtype (accumulation dtype with keys)
        Exact distances (float64 accumulation), increasing along each row.
    indices : array of shape (n_queries, k), int64
        Training indices; among equal distances the smaller index comes first.
    """
    if kernel_backend(X, method) == "numba":
        from xplearn._kernels._numba import _PARALLEL_MIN_WORK, argkmin_numpy

        # a search this small runs on the calling thread: no session (its thread-pool
        # bookkeeping would cost more than a one-row query)
        work = X.shape[0] * Y.shape[0] * X.shape[1]
        with nullcontext() if work < _PARALLEL_MIN_WORK else kernel_session():
            result = argkmin_numpy(*_numba_pair(X, Y), int(k), metric, index, bool(keys))
        return _xp_impl.drop_self(*result) if exclude_self else result
    from xplearn._xp._ops import is_lazy

    xp = array_namespace(X)
    if is_lazy(xp):
        _, X_host, Y_host = _host_fallback(X, Y)
        result = _xp_impl.argkmin(X_host, Y_host, int(k), metric, bool(keys))
        if exclude_self:
            result = _xp_impl.drop_self(*result)
        return tuple(xp.asarray(part) for part in result)
    result = _xp_impl.argkmin(X, Y, int(k), metric, bool(keys))
    return _xp_impl.drop_self(*result) if exclude_self else result


def radius_neighbors(
    X: Any,
    Y: Any,
    radius: float,
    metric: str,
    *,
    sort_results: bool = False,
    exclude_self: bool = False,
    method: str | None = None,
) -> tuple[Any, Any, Any]:
    """Rows of ``Y`` within ``radius`` of each row of ``X``, as a CSR triple.

    ``exclude_self``: X are the training rows; each row's own index is dropped.

    Returns
    -------
    indptr : array of shape (n_queries + 1,), int64
    indices : array of shape (nnz,), int64
        Increasing within a row, or ordered by (distance, index) with ``sort_results``.
    distances : array of shape (nnz,), X's dtype
        Exact distances (float64 accumulation, rounded once); a training row is within
        ``radius`` when its float64 distance is.
    """
    xp = array_namespace(X)
    if kernel_backend(X, method) == "numba":
        from xplearn._kernels._numba import radius_numpy

        with kernel_session():
            result = radius_numpy(*_numba_pair(X, Y), float(radius), metric, bool(sort_results))
        return _xp_impl.drop_self_csr(*result) if exclude_self else result
    from xplearn._xp._ops import is_lazy

    if is_lazy(xp):
        _, X_host, Y_host = _host_fallback(X, Y)
        result = _xp_impl.radius_neighbors(X_host, Y_host, float(radius), metric, sort_results)
        if exclude_self:
            result = _xp_impl.drop_self_csr(*result)
        return tuple(xp.asarray(part) for part in result)
    result = _xp_impl.radius_neighbors(X, Y, float(radius), metric, bool(sort_results))
    return _xp_impl.drop_self_csr(*result) if exclude_self else result


def pairwise_distances(
    X: Any, Y: Any, metric: str, same: bool = False, method: str = "pairwise_distances()"
) -> Any:
    """The full distance matrix between the rows of X and Y, in row chunks (array API).

    One matrix product per chunk (BLAS on NumPy): there is no reduction to fuse, so the
    generic code is the fast path on every eager backend. On Dask the result is lazy:
    one task per (row block of X, row block of Y) runs the same code on the blocks.
    """
    from xplearn._xp._ops import is_lazy

    if is_lazy(array_namespace(X)):
        return _pairwise_distances_lazy(X, Y, metric, same)
    return _xp_impl.pairwise_distances(X, Y, metric, same, method)


def _pairwise_distances_lazy(X: Any, Y: Any, metric: str, same: bool) -> Any:
    """Dask X, Y: the distance matrix as a Dask array of blocks (rows of X x rows of Y),
    each computed in memory by :func:`_xp_impl.pairwise_distances`; nothing computed now.
    With ``same``, the blocks on the diagonal (the same rows twice) get exact zeros."""
    import dask.array as da

    from xplearn._xp._ops import one_column_chunk

    X = one_column_chunk(X)
    Y = X if same else one_column_chunk(Y)
    # each block's first row index, to find the diagonal blocks (chunk sizes may be unknown)
    ones = da.ones_like(X[:, 0], dtype=np.int64)
    starts_x = da.cumsum(ones) - 1
    starts_y = starts_x if same else da.cumsum(da.ones_like(Y[:, 0], dtype=np.int64)) - 1
    return da.blockwise(
        _pairwise_block,
        "ij",
        X,
        "ik",
        Y,
        "jk",
        starts_x,
        "i",
        starts_y,
        "j",
        metric=metric,
        same=same,
        config=get_config(),
        dtype=X.dtype,
        concatenate=True,
        meta=X._meta,
    )


def _pairwise_block(
    X: Any, Y: Any, rows: Any, cols: Any, *, metric: str, same: bool, config: dict
) -> Any:
    """One block of :func:`_pairwise_distances_lazy` (a task of its graph)."""
    from xplearn._config import config_context

    with config_context(**config):
        diagonal = same and rows.shape == cols.shape and rows.shape[0] > 0 and rows[0] == cols[0]
        return _xp_impl.pairwise_distances(X, X if diagonal else Y, metric, diagonal)
