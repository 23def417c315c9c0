"""Map-reduce over row blocks: how a fit makes one pass over lazy (Dask) data per compute.

A fit on a Dask array keeps its small state (centers, candidates, sums) on the host and
runs the per-row work where the data lives: :func:`map_row_blocks` calls a function on
every row block (a NumPy or CuPy chunk, on a worker) and brings the per-block results
back in block order, in **one** ``dask.compute``. Each block runs the in-memory code
(the numba kernels on NumPy chunks). In-memory arrays are a single block, so the same
fit code serves every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from xplearn._xp import array_namespace
from xplearn._xp._ops import is_lazy

__all__ = [
    "column_moments",
    "lloyd_block",
    "map_row_blocks",
    "n_row_blocks",
    "row_block_offsets",
    "to_host",
]


def to_host(*arrays: Any) -> list[np.ndarray]:
    """Arrays (lazy ones included) as host NumPy arrays: one ``dask.compute`` for all the
    lazy ones together, none for the others."""
    from xplearn._xp import to_numpy

    lazy = [index for index, array in enumerate(arrays) if is_lazy(array_namespace(array))]
    values = list(arrays)
    if lazy:
        import dask

        computed = dask.compute(*(arrays[index] for index in lazy))
        for index, value in zip(lazy, computed, strict=True):
            values[index] = value
    return [np.asarray(to_numpy(value)) for value in values]


def n_row_blocks(X: Any) -> int:
    """Number of row blocks :func:`map_row_blocks` cuts ``X`` into."""
    if is_lazy(array_namespace(X)):
        return len(X.chunks[0])
    return 1


def row_block_offsets(X: Any) -> list[int]:
    """Index of the first row of each row block of ``X``."""
    if not is_lazy(array_namespace(X)):
        return [0]
    return [int(offset) for offset in np.cumsum((0, *X.chunks[0][:-1]))]


def map_row_blocks(
    function: Callable[..., Any],
    X: Any,
    *row_aligned: Any,
    per_block: Sequence[Any] | None = None,
    constants: Sequence[Any] = (),
) -> list[Any]:
    """``function(block, *aligned_blocks, [per_block[i]], *constants)`` for every row
    block of ``X``, computed: one ``dask.compute`` for a Dask array (the blocks are its
    row chunks, its columns in one chunk), a direct call on the whole array otherwise.

    Parameters
    ----------
    function : callable
        A module-level (picklable) function; it receives a block of X in the block's own
        namespace (NumPy, CuPy...) and returns something small (host arrays, numbers).
    X : array of shape (n_samples, n_features)
    *row_aligned : arrays of shape (n_samples,) or None
        Cut like X's rows (e.g. sample weights); None is passed through as None.
    per_block : sequence, default=None
        One extra argument per block (e.g. a random seed), after the aligned blocks.
    constants : sequence, default=()
        Arguments given to every call (small host arrays: centers, a shift).

    Returns
    -------
    list
        The results, in block order.
    """
    if not is_lazy(array_namespace(X)):
        extra = () if per_block is None else (per_block[0],)
        return [function(X, *row_aligned, *extra, *constants)]
    import dask

    X = X.rechunk({1: -1})
    blocks = X.to_delayed().ravel()
    aligned = [
        [None] * len(blocks)
        if array is None
        else array.rechunk((X.chunks[0],)).to_delayed().ravel()
        for array in row_aligned
    ]
    # the constants once in the graph, shared by every task (not pickled per task)
    shared = [dask.delayed(value) for value in constants]
    tasks = []
    for index, block in enumerate(blocks):
        extra = () if per_block is None else (per_block[index],)
        arguments = (block, *(parts[index] for parts in aligned), *extra, *shared)
        tasks.append(dask.delayed(function, pure=True)(*arguments))
    return list(dask.compute(*tasks))


def lloyd_block(
    block: Any,
    sample_weight: Any,
    centers: np.ndarray,
    shift: np.ndarray | None,
    compute_inertia: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One Lloyd pass over one block (the numba kernel on a NumPy block): its per-cluster
    sums (float64), weights, counts and, when asked, inertia, on the host."""
    from xplearn._kernels._dispatch import kernel_session, lloyd_pass
    from xplearn._xp import move_to, to_numpy

    xp = array_namespace(block)
    device = getattr(block, "device", None)
    dtype = block.dtype
    local_centers = xp.astype(move_to(centers, xp, device), dtype)
    local_shift = None if shift is None else xp.astype(move_to(shift, xp, device), dtype)
    with kernel_session(block):
        result = lloyd_pass(
            block,
            local_centers,
            sample_weight=sample_weight,
            shift=local_shift,
            compute_inertia=compute_inertia,
            accumulate_dtype=xp.float64,
        )
    return (
        to_numpy(result.sums).astype(np.float64),
        to_numpy(result.weights).astype(np.float64),
        to_numpy(result.counts).astype(np.int64),
        float(result.inertia) if compute_inertia else 0.0,
    )


def _moments_block(block: Any) -> tuple[int, np.ndarray, np.ndarray]:
    """(rows, column means, column sums of squared deviations) of a block, float64."""
    from xplearn._xp import to_numpy

    values = np.asarray(to_numpy(block), dtype=np.float64)
    n_rows = values.shape[0]
    if n_rows == 0:
        return 0, np.zeros(values.shape[1]), np.zeros(values.shape[1])
    mean = values.mean(axis=0)
    deviations = values - mean
    return n_rows, mean, np.einsum("ij,ij->j", deviations, deviations)


def column_moments(X: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """Column means, (ddof=0) variances and the mean squared row norm of X, host float64,
    in one pass (one computation of a Dask array): per-block means and squared
    deviations, merged with Chan et al.'s pairwise formula (no ``E[x^2] - E[x]^2``
    cancellation for data far from the origin)."""
    parts = map_row_blocks(_moments_block, X)
    count, mean, squares = parts[0][0], parts[0][1].copy(), parts[0][2].copy()
    for n_rows, block_mean, block_squares in parts[1:]:
        if n_rows == 0:
            continue
        total = count + n_rows
        delta = block_mean - mean
        mean += delta * (n_rows / total)
        squares += block_squares + delta * delta * (count * n_rows / total)
        count = total
    variance = squares / max(count, 1)
    return mean, variance, float(np.sum(variance + mean * mean))
