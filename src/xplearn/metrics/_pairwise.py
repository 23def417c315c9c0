"""Public pairwise-distance functions: full matrices, k nearest, and radius searches."""

from __future__ import annotations

import numbers
from typing import Any

from xplearn._kernels import argkmin, radius_neighbors
from xplearn._kernels import pairwise_distances as _pairwise_distances
from xplearn._xp import get_namespace_and_device, resolve_dtypes
from xplearn.utils.validation import (
    _as_2d_or_raise,
    _check_dtype,
    _check_finite,
    _to_namespace_input,
)

__all__ = [
    "PAIRWISE_METRICS",
    "check_metric",
    "pairwise_distances",
    "pairwise_distances_argkmin",
    "pairwise_distances_radius",
]

#: Metrics every function of :mod:`xplearn.metrics` (and the neighbour estimators) takes.
PAIRWISE_METRICS = ("euclidean", "sqeuclidean", "manhattan", "cosine")
_ALIASES = {"l2": "euclidean", "l1": "manhattan", "cityblock": "manhattan"}


def check_metric(metric: Any, prefix: str) -> str:
    """The canonical name of ``metric`` (``"l2"`` -> ``"euclidean"``), or a ValueError."""
    if isinstance(metric, str):
        name = _ALIASES.get(metric, metric)
        if name in PAIRWISE_METRICS:
            return name
    raise ValueError(
        f"{prefix}metric must be one of {list(PAIRWISE_METRICS)} (or the aliases "
        f"{sorted(_ALIASES)}), got {metric!r}."
    )


def _validate_pair(X: Any, Y: Any, name: str) -> tuple[Any, Any, Any, Any]:
    """X and Y (None: X) as arrays of one namespace, device and float dtype."""
    prefix = f"{name}(): "
    xp, device = get_namespace_and_device(X, Y, names=("X", "Y"), method=f"{name}()")
    arrays = []
    for what, value in (("X", X), ("Y", Y)):
        if value is None:
            arrays.append(None)
            continue
        array = _to_namespace_input(value, what, prefix, xp, device)
        _check_dtype(xp, array, what, prefix)
        _as_2d_or_raise(xp, array, prefix.replace("X", what) if what == "Y" else prefix)
        arrays.append(array)
    X, Y = arrays
    dtype = resolve_dtypes(xp, device, X.dtype, "preserve", method=f"{name}()").compute
    if Y is not None:
        if Y.shape[1] != X.shape[1]:
            raise ValueError(
                f"{prefix}X and Y must have the same number of features: X has "
                f"{X.shape[1]} features, but Y has {Y.shape[1]}."
            )
        other = resolve_dtypes(xp, device, Y.dtype, "preserve", method=f"{name}()").compute
        # two float dtypes: compute in the wider, as NumPy's promotion would
        if other != dtype and other == xp.float64:
            dtype = other
    X = xp.astype(X, dtype, copy=False)
    _check_finite(xp, X, "X", prefix)
    if Y is not None:
        Y = xp.astype(Y, dtype, copy=False)
        _check_finite(xp, Y, "Y", prefix)
    return xp, X, Y, dtype


def pairwise_distances(X, Y=None, metric="euclidean"):
    """Compute the distances between every row of X and every row of Y.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Rows, of any supported namespace.
    Y : array-like of shape (n_samples_Y, n_features), default=None
        Other rows, same namespace and device as X; None means X. With None or X
        itself the diagonal is exactly zero (identical rows elsewhere too, except
        cosine zero rows, at distance 1 as in scikit-learn).
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}, default="euclidean"
        ``"l2"``, ``"l1"`` and ``"cityblock"`` are accepted as aliases.

    Returns
    -------
    distances : array of shape (n_samples_X, n_samples_Y)
        Same namespace and device as X; float32 for float32 input, float64 for float64,
        the device's default float for integer input.

    Raises
    ------
    MemoryError
        At once, before any computation, when the result cannot be allocated (or is
        larger than the machine's memory); the message names its shape and size. On
        Dask the result is lazy and nothing is checked.

    Notes
    -----
    Accuracy, on any data: euclidean, sqeuclidean and manhattan accumulate in float64
    wherever the device has it, so float32 results are within about one unit in the
    last place of the exact distance of the input values (relative error below
    ``2**-24 + 2**-30``) and float64 results within ``2**-40``. euclidean /
    sqeuclidean use the expansion ``||a||^2 - 2 a.b + ||b||^2`` on rows centred at
    the mean of X and Y (one matrix product per block), and recompute by direct
    differences every entry its rounding bound does not clear (tight clusters far
    apart, duplicates); data whose squares would leave the range is scaled by a power
    of two, so euclidean is finite wherever the true distance is, and sqeuclidean is
    inf only beyond the dtype's range. cosine: ``1 - u.v`` of unit rows in float64,
    absolute error a few float64 epsilons, near-parallel rows recomputed as
    ``||u - v||^2 / 2``. On a device without float64, float32 accumulates and
    relative errors stay below about ``2**-16``. The result has X's float dtype;
    products are computed in row blocks of at most 64 MiB and ``working_memory``.
    """
    metric = check_metric(metric, "pairwise_distances(): ")
    same = Y is None or Y is X
    _, X, Y_, _ = _validate_pair(X, None if same else Y, "pairwise_distances")
    return _pairwise_distances(X, X if same else Y_, metric, same=same)


def _check_count(value: Any, what: str, prefix: str, upper: int, upper_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{prefix}{what} must be an integer, got {type(value).__name__} {value!r}.")
    if value < 1 or value > upper:
        raise ValueError(
            f"{prefix}Expected 1 <= {what} <= {upper_name} = {upper}, got {what}={value}."
        )
    return int(value)


def pairwise_distances_argkmin(X, Y, k, metric="euclidean"):
    """Find the k nearest rows of Y to each row of X, and their distances.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Query rows, of any supported namespace.
    Y : array-like of shape (n_samples_Y, n_features)
        Rows searched, same namespace and device as X.
    k : int
        Number of neighbours, ``1 <= k <= n_samples_Y``.
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}, default="euclidean"
        Distance.

    Returns
    -------
    distances : array of shape (n_samples_X, k)
        Distances in increasing order along each row (X's float dtype).
    indices : array of shape (n_samples_X, k), int64
        Row indices into Y; among equal distances the smaller index comes first, on
        every backend.

    Notes
    -----
    The search streams blocks of queries x rows of Y and keeps only the best candidates
    of each query (numba kernels on NumPy, array-API code elsewhere). The expansion
    ``||x||^2 - 2 x.y + ||y||^2`` only selects ``k + max(k, 8)`` candidates; their
    distances are then recomputed exactly (float64 accumulation where the device has
    it) and the k best kept, so identical rows are at distance exactly 0.
    """
    name = "pairwise_distances_argkmin"
    prefix = f"{name}(): "
    metric = check_metric(metric, prefix)
    _, X, Y, _ = _validate_pair(X, Y, name)
    if Y is None:
        raise ValueError(f"{prefix}Y is required, got None.")
    k = _check_count(k, "k", prefix, Y.shape[0], "n_samples_Y")
    return argkmin(X, Y, k, metric, method=f"{name}()")


def pairwise_distances_radius(X, Y, radius, metric="euclidean", *, sort_results=False):
    """Find the rows of Y within ``radius`` of each row of X, as a CSR triple.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Query rows, of any supported namespace.
    Y : array-like of shape (n_samples_Y, n_features)
        Rows searched, same namespace and device as X.
    radius : float
        Non-negative distance bound (inclusive), in the units of ``metric``.
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}, default="euclidean"
        Distance.
    sort_results : bool, default=False
        Order each row's neighbours by distance (ties by index) instead of by index.

    Returns
    -------
    indptr : array of shape (n_samples_X + 1,), int64
        The neighbours of query ``i`` are entries ``indptr[i]:indptr[i + 1]``.
    indices : array of shape (nnz,), int64
        Row indices into Y.
    distances : array of shape (nnz,)
        Exact distances (X's float dtype).

    Notes
    -----
    Candidates come from the expansion with a margin for its rounding; their exact
    distances decide. On Dask the search runs eagerly (its output sizes depend on the
    data) and the results are returned as Dask arrays.
    """
    name = "pairwise_distances_radius"
    prefix = f"{name}(): "
    metric = check_metric(metric, prefix)
    _, X, Y, _ = _validate_pair(X, Y, name)
    if Y is None:
        raise ValueError(f"{prefix}Y is required, got None.")
    radius = check_radius(radius, prefix)
    return radius_neighbors(
        X, Y, radius, metric, sort_results=bool(sort_results), method=f"{name}()"
    )


def check_radius(radius: Any, prefix: str) -> float:
    """``radius`` as a float >= 0, or a ValueError naming it."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not radius >= 0:
        raise ValueError(f"{prefix}radius must be a real number >= 0, got {radius!r}.")
    return float(radius)
