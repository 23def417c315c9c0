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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from xplearn._xp import array_namespace
from xplearn._xp._ops import is_lazy

__all__ = [
    "Moments",
    "column_moments",
    "grouped_moments",
    "lloyd_block",
    "map_row_blocks",
    "merge_moments",
    "n_row_blocks",
    "power_of_two_scale",
    "row_block_offsets",
    "to_host",
    "triangular_factor",
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


def triangular_factor(xp: Any, matrix: Any) -> Any:
    """``R`` of the reduced QR decomposition of a 2-D in-memory array (Householder, as
    LAPACK's ``geqrf``): shape ``(min(n_rows, n_columns), n_columns)``, upper triangular
    (trapezoidal when wide). ``Q`` is not formed where the library can skip it (NumPy,
    CuPy, PyTorch); the Array API's ``qr`` forms it elsewhere."""
    import array_api_compat

    if array_api_compat.is_numpy_array(matrix):
        return np.linalg.qr(matrix, mode="r")
    if array_api_compat.is_cupy_array(matrix):
        import cupy

        return cupy.linalg.qr(matrix, mode="r")
    if array_api_compat.is_torch_array(matrix):
        import torch

        return torch.linalg.qr(matrix, mode="r")[1]
    return xp.linalg.qr(matrix)[1]


def power_of_two_scale(xp: Any, magnitudes: Any) -> Any:
    """Powers of two near ``magnitudes`` (non-negative, finite), 1 where a magnitude is 0:
    dividing by them is exact (no rounding, barring subnormal results) and brings every
    entry to ``[0.5, 2)`` times the magnitude's scale, so that squares and sums of
    products of data at 1e+-250 stay in range."""
    from xplearn._xp import device_of

    device = device_of(magnitudes)
    one = xp.asarray(1.0, dtype=magnitudes.dtype, device=device)
    positive = magnitudes > 0
    exponent = xp.round(xp.log2(xp.where(positive, magnitudes, one)))
    return xp.where(
        positive, xp.pow(xp.asarray(2.0, dtype=magnitudes.dtype, device=device), exponent), one
    )


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


# ------------------------------------------------------------ grouped moments, one pass


@dataclass
class Moments:
    """Weighted statistics of the rows of each group (class) of a data set, host float64.

    Attributes
    ----------
    counts : ndarray of shape (n_groups,), int64
        Rows in each group (whatever their weights).
    weights : ndarray of shape (n_groups,)
        Total weight of each group (its row count when unweighted).
    means : ndarray of shape (n_groups, n_features)
        Weighted column means of each group (0 for an empty group).
    squares : ndarray of shape (n_groups, n_features)
        Weighted sums of squared deviations from the group's mean (variance times weight).
    r_factors : ndarray of shape (n_groups, n_features, n_features) or None
        Upper-triangular ``R`` with ``R.T @ R`` the weighted scatter matrix of the group
        around its mean, ``sum_i w_i (x_i - m)(x_i - m)^T``: what a QR decomposition of the
        group's centered rows (scaled by the square roots of their weights) gives, without
        forming the scatter matrix (whose rounding error would be that of the squared
        condition number). None unless asked for.
    minimums, maximums : ndarray of shape (n_groups, n_features) or None
        Column extremes of each group (+inf / -inf for an empty group). None unless asked.
    references : ndarray of shape (n_groups, n_features) or None
        While blocks merge: a row of each group, ``means`` being the offsets of the means
        from it (far from the origin, the difference of two block means keeps its digits
        only as a difference of offsets). None in what :func:`grouped_moments` returns.
    """

    counts: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    squares: np.ndarray
    r_factors: np.ndarray | None = None
    minimums: np.ndarray | None = None
    maximums: np.ndarray | None = None
    references: np.ndarray | None = None

    def pooled(self) -> Moments:
        """The moments of all the groups together, as one group."""
        merged = self.group(0)
        for group in range(1, self.counts.shape[0]):
            merged = merge_moments(merged, self.group(group))
        return merged

    def group(self, group: int) -> Moments:
        """The moments of one group, as a one-group :class:`Moments`."""

        def pick(values):
            return None if values is None else values[group : group + 1]

        return Moments(*(pick(getattr(self, field)) for field in Moments.__dataclass_fields__))


def _upper_r(rows: np.ndarray, n_features: int) -> np.ndarray:
    """The (n_features, n_features) R of a QR decomposition of ``rows`` (zero rows below
    when there are fewer rows than columns)."""
    r_factor = np.zeros((n_features, n_features))
    if rows.shape[0]:
        # columns brought to order 1 by exact powers of two first: the QR of data at
        # 1e+-250 (whose squares leave float64) is then that of ordinary data, scaled back
        scale = power_of_two_scale(np, np.max(np.abs(rows), axis=0))
        computed = np.linalg.qr(rows / scale, mode="r") * scale
        r_factor[: computed.shape[0]] = computed
    return r_factor


def _sum_of_squares(xp: Any, centered: Any, weights: Any = None) -> Any:
    """Column sums of (weighted) squares, of the columns divided by a power of two near
    their largest magnitude and multiplied back: no overflow or underflow in the sum of
    data at 1e+-250; infinite only where the true sum exceeds the dtype (no warning)."""
    scale = power_of_two_scale(xp, xp.max(xp.abs(centered), axis=0))
    scaled = centered / scale
    sums = xp.sum(scaled * scaled, axis=0) if weights is None else weights @ (scaled * scaled)
    with np.errstate(over="ignore"):
        return (sums * scale) * scale


def _moments_of_groups_block(
    block: Any,
    codes: Any,
    sample_weight: Any,
    n_groups: int,
    with_r: bool,
    with_extremes: bool,
) -> Moments:
    """The :class:`Moments` of one row block (the work of :func:`grouped_moments`): in the
    block's namespace, in float64; only the (small) results come to the host."""
    from xplearn._xp import device_of, move_to, to_numpy

    xp = array_namespace(block)
    device = device_of(block)
    n_features = block.shape[1]
    values = xp.astype(block, xp.float64)
    # codes and weights may come from host labels while the block is on a device (CuPy)
    codes = None if codes is None else move_to(codes, xp, device)
    weights = (
        None if sample_weight is None else xp.astype(move_to(sample_weight, xp, device), xp.float64)
    )
    counts = np.zeros(n_groups, dtype=np.int64)
    totals = np.zeros(n_groups)
    references = np.zeros((n_groups, n_features))
    means = np.zeros((n_groups, n_features))
    squares = np.zeros((n_groups, n_features))
    r_factors = np.zeros((n_groups, n_features, n_features)) if with_r else None
    minimums = np.full((n_groups, n_features), np.inf) if with_extremes else None
    maximums = np.full((n_groups, n_features), -np.inf) if with_extremes else None
    for group in range(n_groups):
        if codes is None:
            rows, row_weights = values, weights
        else:
            member = codes == group
            rows = values[member, ...]
            row_weights = None if weights is None else weights[member]
        n_rows = rows.shape[0]
        counts[group] = n_rows
        if n_rows == 0:
            continue
        # offsets from the group's first row: far from the origin the mean of the
        # offsets keeps the digits a mean of the values rounds off (see Moments)
        original, reference = rows, rows[0, ...]
        references[group] = to_numpy(reference)
        rows = rows - reference
        if row_weights is None:
            total = float(n_rows)
            mean = xp.sum(rows, axis=0) / total
            centered = rows - mean
            scaled = centered
            group_squares = _sum_of_squares(xp, centered)
        else:
            total = float(xp.sum(row_weights))
            if total > 0:
                mean = (row_weights @ rows) / total
            else:  # only zero weights: no mass, the mean is not used
                mean = xp.zeros(n_features, dtype=xp.float64)
            centered = rows - mean
            scaled = centered * xp.sqrt(row_weights)[:, None]
            group_squares = _sum_of_squares(xp, centered, row_weights)
        totals[group] = total
        means[group] = to_numpy(mean)
        squares[group] = to_numpy(group_squares)
        if with_r:
            r_factors[group] = _upper_r(np.asarray(to_numpy(scaled)), n_features)
        if with_extremes:
            minimums[group] = to_numpy(xp.min(original, axis=0))
            maximums[group] = to_numpy(xp.max(original, axis=0))
    return Moments(counts, totals, means, squares, r_factors, minimums, maximums, references)


def merge_moments(first: Moments, second: Moments) -> Moments:
    """The moments of the union of two row sets (per group): Chan et al.'s pairwise update
    for the means and squared deviations; for R, a QR of both R factors stacked with the
    mean-difference row ``sqrt(w1 w2 / w) (m2 - m1)``, whose outer product is the scatter
    the two means' difference adds (so no scatter matrix is ever formed)."""
    weights = first.weights + second.weights
    counts = first.counts + second.counts
    safe = np.where(weights > 0, weights, 1.0)
    references = None
    delta = second.means - first.means
    if first.references is not None or second.references is not None:
        zero = np.zeros_like(first.means)
        first_ref = zero if first.references is None else first.references
        second_ref = zero if second.references is None else second.references
        # the means' difference from the references' (exact for nearby rows) and the
        # offsets'; the merged offsets are from the first part's reference, or from the
        # second's where the first part is empty
        delta = (second_ref - first_ref) + delta
        empty = (first.counts == 0)[:, None]
        references = np.where(empty, second_ref, first_ref)
    share = (second.weights / safe)[:, None]
    means = first.means + delta * share
    if references is not None:
        means = np.where(empty, second.means, means)
    cross = (first.weights * second.weights / safe)[:, None]
    with np.errstate(over="ignore"):  # inf only where the true sum exceeds float64
        squares = first.squares + second.squares + (np.abs(delta) * np.sqrt(cross)) ** 2
    r_factors = None
    if first.r_factors is not None:
        r_factors = np.empty_like(first.r_factors)
        n_features = first.means.shape[1]
        for group in range(weights.shape[0]):
            correction = (np.sqrt(cross[group]) * delta[group])[None, :]
            stacked = np.concatenate([first.r_factors[group], second.r_factors[group], correction])
            r_factors[group] = _upper_r(stacked, n_features)
    minimums = maximums = None
    if first.minimums is not None:
        minimums = np.minimum(first.minimums, second.minimums)
        maximums = np.maximum(first.maximums, second.maximums)
    return Moments(counts, weights, means, squares, r_factors, minimums, maximums, references)


def grouped_moments(
    X: Any,
    codes: Any = None,
    sample_weight: Any = None,
    *,
    n_groups: int = 1,
    r_factor: bool = False,
    extremes: bool = False,
) -> Moments:
    """Per-group weighted means, squared deviations (and optionally R factors and column
    extremes) of the rows of X, host float64, in **one** pass: one computation of a Dask
    array (per-block moments merged on the host, in block order), a direct computation on
    an in-memory array (one block).

    The R factor makes tall-and-skinny QR fits one pass: the SVD of R is that of the
    centered data (PCA), least squares on centered ``[X, y]`` is least squares on its R
    (linear models), the within-class R of LDA is the QR of the classes' R stacked.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Any namespace; each block's work runs in its own (NumPy, CuPy).
    codes : array of shape (n_samples,) of ints in ``[0, n_groups)``, default=None
        Each row's group (class index). None: one group, all the rows.
    sample_weight : array of shape (n_samples,), default=None
        Non-negative row weights. None: 1 for every row.
    n_groups : int, default=1
        Number of groups.
    r_factor : bool, default=False
        Also compute each group's R factor (:attr:`Moments.r_factors`).
    extremes : bool, default=False
        Also compute each group's column minimums and maximums.

    Returns
    -------
    Moments
    """
    parts = map_row_blocks(
        _moments_of_groups_block,
        X,
        codes,
        sample_weight,
        constants=(n_groups, r_factor, extremes),
    )
    merged = parts[0]
    for part in parts[1:]:
        merged = merge_moments(merged, part)
    if merged.references is not None:
        means = merged.references + merged.means
        merged = replace(merged, means=means, references=None)
    return merged
