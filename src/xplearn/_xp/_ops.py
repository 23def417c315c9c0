"""Operations the Array API standard lacks, or that some namespaces lack.

Each function takes the namespace ``xp`` first. Where a library has a native fast path it
is used; otherwise generic code written against ``xp`` (or, for small matrices on lazy
backends, a host round trip of a d x d matrix) does the job.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat

from xplearn._xp._convert import move_to, to_numpy


def is_lazy(xp: ModuleType) -> bool:
    """Whether ``xp`` builds a graph instead of computing (Dask)."""
    return array_api_compat.is_dask_namespace(xp)


def to_scalar(value: Any) -> float:
    """A Python float from a 0-d array of any namespace (computes a lazy one)."""
    if array_api_compat.is_dask_array(value):
        value = value.compute()
    return float(value)


def one_column_chunk(X: Any) -> Any:
    """Dask array X with all its columns in one chunk (lazily; as is when they already are),
    for row-block operations that need whole rows."""
    return X if len(X.chunks[1]) == 1 else X.rechunk({1: -1})


def materialize(xp: ModuleType, *arrays: Any) -> tuple[Any, ...]:
    """Evaluate the (small) fitted arrays of a lazy backend once, in one shared pass.

    Left lazy, a fitted attribute would carry the whole graph of the fit and recompute it
    on every access and every ``predict``. The results are wrapped back as in-memory
    arrays of ``xp``; eager namespaces get their arrays back unchanged.
    """
    if not is_lazy(xp):
        return arrays
    import dask

    computed = dask.compute(*arrays)
    # a computed 0-d array comes back as a NumPy scalar, which asarray accepts
    return tuple(xp.asarray(array) if hasattr(array, "dtype") else array for array in computed)


def orthonormal_basis(xp: ModuleType, matrix: Any) -> Any:
    """``Q`` of the reduced QR decomposition of a 2-D array.

    Dask's ``qr`` needs one column chunk, and takes a wide matrix only in one row chunk
    (its TSQR on wide row blocks returns wrong chunk metadata), so lazy inputs are
    rechunked first; the matrices QR sees here are thin, so the rechunk is cheap.
    """
    if array_api_compat.is_dask_array(matrix):
        n_rows, n_columns = matrix.shape
        matrix = matrix.rechunk({0: -1, 1: -1} if n_rows <= n_columns else {1: -1})
    return xp.linalg.qr(matrix)[0]


def eigh(xp: ModuleType, matrix: Any) -> tuple[Any, Any]:
    """Eigen-decomposition of a small symmetric matrix: ``(eigenvalues, eigenvectors)``.

    Eigenvalues come in ascending order. Dask has no ``eigh``: its (small, d x d) matrix
    is computed and decomposed on the host, and the result wrapped back.
    """
    linalg = getattr(xp, "linalg", None)
    if linalg is not None and hasattr(linalg, "eigh"):
        return tuple(linalg.eigh(matrix))
    import numpy as np

    values, vectors = np.linalg.eigh(to_numpy(matrix))
    return move_to(values, xp), move_to(vectors, xp)


def svd(xp: ModuleType, matrix: Any) -> tuple[Any, Any, Any]:
    """Thin SVD ``U, S, Vt`` of a 2-D array, descending singular values.

    Dask's tall-and-skinny SVD needs the columns in one chunk; they are rechunked so.
    """
    if array_api_compat.is_dask_array(matrix) and len(matrix.chunks[1]) > 1:
        matrix = matrix.rechunk({1: -1})
    return tuple(xp.linalg.svd(matrix, full_matrices=False))


def flip_sign_rows(xp: ModuleType, vectors: Any) -> tuple[Any, Any]:
    """Signs that make each row's largest-magnitude entry positive.

    Returns ``(vectors * signs[:, None], signs)``, so that callers can apply the same signs
    to the matching left singular vectors. Ties in magnitude pick the first entry, which
    makes the convention deterministic across backends.
    """
    device = array_api_compat.device(vectors)
    max_index = xp.reshape(xp.argmax(xp.abs(vectors), axis=1), (-1, 1))
    if hasattr(xp, "take_along_axis"):
        picked = xp.take_along_axis(vectors, max_index, axis=1)[:, 0]
    else:  # Dask: select with a one-hot mask (exact: one entry plus zeros)
        columns = xp.reshape(xp.arange(vectors.shape[1], device=device), (1, -1))
        zero = xp.asarray(0.0, dtype=vectors.dtype, device=device)
        picked = xp.sum(xp.where(columns == max_index, vectors, zero), axis=1)
    one = xp.asarray(1.0, dtype=vectors.dtype, device=device)
    signs = xp.where(picked < 0, -one, one)
    return vectors * signs[:, None], signs


def weighted_mean(xp: ModuleType, X: Any, weights: Any | None, dtype: Any) -> tuple[Any, Any]:
    """Column means of ``X`` accumulated in ``dtype``, and the total weight.

    Returns
    -------
    mean : array of shape (n_features,), dtype ``dtype``
    total_weight : 0-d array of dtype ``dtype`` (n_samples when unweighted)
    """
    X_acc = xp.astype(X, dtype, copy=False)
    if weights is None:
        total = xp.asarray(X.shape[0], dtype=dtype, device=array_api_compat.device(X))
        return xp.sum(X_acc, axis=0) / total, total
    weights = xp.astype(weights, dtype, copy=False)
    total = xp.sum(weights)
    return (weights @ X_acc) / total, total


def weighted_variance(xp: ModuleType, X: Any, weights: Any | None, mean: Any, dtype: Any) -> Any:
    """Column variances (ddof=0) around ``mean``, two-pass, accumulated in ``dtype``."""
    centered = xp.astype(X, dtype, copy=False) - mean
    squares = centered * centered
    if weights is None:
        return xp.sum(squares, axis=0) / X.shape[0]
    weights = xp.astype(weights, dtype, copy=False)
    return (weights @ squares) / xp.sum(weights)
