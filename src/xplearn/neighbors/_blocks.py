"""k-neighbour search of Dask queries against Dask training rows, lazily and blockwise.

A model fitted on a Dask array keeps its training rows as that Dask array (nothing is
computed at fit beyond the validation). A k-neighbour query on a Dask array then builds,
without computing anything:

* one task per (query block, training block): the in-memory search
  (:func:`xplearn._kernels.argkmin`, numba on NumPy blocks) of the query block against
  the training block, with the training block's row numbers as the indices, and the
  labels or targets of the neighbours found, when the estimator has any;
* merges of a query block's per-training-block results, ``_MERGE_FAN_IN`` at a time in
  a tree: the ``k`` best by (distance, index), the order of the in-memory search.

Each training block contributes its ``min(k, rows)`` nearest rows, so the merge sees
every row of the global ``k`` nearest. The exact distances of the in-memory search
depend on the two rows only, so the merged result is the in-memory result, ties
included: each block's distances travel as the float64 values that order the
in-memory search (not rounded to the data's dtype, whose roundings can tie where the
float64 values do not), and are rounded once at the end, as in memory. Results travel
packed in one float64 array of shape ``(n_queries, k, 2 + n_label_columns)``: distance,
training index (exact up to 2**53), then the labels (integer labels convert to float64
and back exactly).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from xplearn._config import config_context, get_config
from xplearn._xp import array_namespace
from xplearn._xp._ops import one_column_chunk

__all__ = [
    "lazy_kneighbors",
    "packed_distances",
    "packed_indices",
    "packed_labels",
    "run_blocks",
]

#: Columns of a packed result before the labels: the distance and the training index.
_LEADING = 2
#: Training blocks whose neighbours one merge task takes at a time.
_MERGE_FAN_IN = 8


def lazy_kneighbors(
    queries: Any,
    training: Any,
    n_neighbors: int,
    metric: str,
    *,
    own: bool = False,
    labels: Any = None,
    method: str | None = None,
) -> Any:
    """The ``n_neighbors`` nearest training rows of each query, packed, as a Dask array.

    Parameters
    ----------
    queries : dask.array.Array of shape (n_queries, n_features)
        Validated queries (the training rows themselves when ``own``).
    training : dask.array.Array of shape (n_train, n_features)
        Training rows, of the queries' dtype.
    n_neighbors : int
        Number of neighbours returned, checked by the caller.
    metric : str
        A resolved metric name.
    own : bool, default=False
        The queries are the training rows: each row is left out of its own neighbours
        (as in memory: when the row is not among its ``n_neighbors + 1`` nearest, the
        first of them goes instead).
    labels : dask.array.Array of shape (n_train,) or (n_train, n_columns), default=None
        Labels or targets of the training rows, carried along with the indices.
    method : str, default=None
        Calling public method, for error messages.

    Returns
    -------
    dask.array.Array of shape (n_queries, n_neighbors, 2 + n_columns), float64
        Row chunks of the queries; read it with :func:`packed_distances`,
        :func:`packed_indices` and :func:`packed_labels`. Nothing is computed.
    """
    import dask.array as da

    queries = one_column_chunk(queries)
    training = one_column_chunk(training)
    train_chunks = training.chunks[0]
    n_train = training.shape[0]
    k_search = n_neighbors + 1 if own else n_neighbors
    # the global row numbers of each training block: its neighbours' indices
    rows = da.arange(n_train, chunks=(train_chunks,), dtype=np.int64)
    arguments = [queries, "iq", training, "jq", rows, "j"]
    n_label_columns = 0
    if labels is not None:
        labels = da.reshape(labels, (n_train, -1)) if labels.ndim == 1 else labels
        n_label_columns = labels.shape[1]
        arguments += [labels.rechunk((train_chunks, -1)), "jt"]
    width = _LEADING + n_label_columns
    meta_xp = array_namespace(queries._meta)
    meta = meta_xp.empty((0, 0, 0), dtype=meta_xp.float64)
    name = f"kneighbors-{method or 'search'}".lower().replace(".", "-").replace("()", "")
    with warnings.catch_warnings():
        # one task per (query block, training block) is the plan, not an accident
        warnings.simplefilter("ignore", da.PerformanceWarning)
        found = da.blockwise(
            _search_block,
            "ijc",
            *arguments,
            k=k_search,
            metric=metric,
            width=width,
            config=get_config(),
            method=method,
            new_axes={"c": width},
            adjust_chunks={"j": tuple(min(k_search, size) for size in train_chunks)},
            concatenate=True,
            dtype=np.float64,
            meta=meta,
            token=f"{name}-blocks",
        )
    # a tree of merges, ``_MERGE_FAN_IN`` training blocks at a time: a query block then
    # never holds more than ``_MERGE_FAN_IN * k`` candidates per row, however many
    # training blocks there are
    while len(found.chunks[1]) > 1:
        sizes = found.chunks[1]
        groups = [sum(sizes[at : at + _MERGE_FAN_IN]) for at in range(0, len(sizes), _MERGE_FAN_IN)]
        found = found.rechunk({1: tuple(groups)})
        found = found.map_blocks(
            _merge_block,
            k=k_search,
            chunks=(found.chunks[0], tuple(min(k_search, size) for size in groups), (width,)),
            dtype=np.float64,
            meta=meta,
            token=f"{name}-partial-merge",
        )
    merge_arguments = [found, "ijc"]
    if own:
        # the queries' own row numbers, to leave each row out of its neighbours
        query_rows = da.arange(queries.shape[0], chunks=(queries.chunks[0],), dtype=np.int64)
        merge_arguments += [query_rows, "i"]
    return da.blockwise(
        _merge_block,
        "imc",
        *merge_arguments,
        k=k_search,
        new_axes={"m": n_neighbors},
        concatenate=True,
        dtype=np.float64,
        meta=meta,
        token=f"{name}-merge",
    )


def run_blocks(*arrays: Any) -> None:
    """Compute every block of the Dask ``arrays`` in one computation, keeping nothing:
    the checks in their graphs (e.g. finiteness) run, and raise."""
    import dask

    dask.compute(*(array.map_blocks(_no_rows, chunks=_no_row_chunks(array)) for array in arrays))


def _no_row_chunks(array: Any) -> tuple:
    return ((0,) * len(array.chunks[0]), *array.chunks[1:])


def _no_rows(block: Any) -> Any:
    """The block without its rows: what :func:`run_blocks` keeps of it."""
    return block[:0]


def packed_distances(packed: Any, dtype: Any) -> Any:
    """Distances (of ``dtype``) of a packed result, a block or a Dask array."""
    xp = array_namespace(packed)
    distances = packed[:, :, 0]
    if dtype != xp.float64:
        # beyond the dtype's largest value (and its half ulp) the rounding is inf: written
        # out, so that the cast, which runs when the graph computes, does not warn
        limit = float(np.finfo(np.float32).max) * (1 + 2.0**-25)
        distances = xp.where(distances >= limit, xp.full_like(distances, np.inf), distances)
    return xp.astype(distances, dtype)


def packed_indices(packed: Any) -> Any:
    """Training indices (int64) of a packed result, a block or a Dask array."""
    xp = array_namespace(packed)
    return xp.astype(packed[:, :, 1], xp.int64)


def packed_labels(packed: Any) -> Any:
    """Labels of the neighbours of a packed result: (n_queries, k, n_columns) float64."""
    return packed[:, :, _LEADING:]


def _search_block(
    queries: Any,
    training: Any,
    rows: Any,
    labels: Any = None,
    *,
    k: int,
    metric: str,
    width: int,
    config: dict,
    method: str | None,
) -> Any:
    """One query block against one training block (a task): the packed ``min(k, rows)``
    nearest, ordered by (distance, index), with global indices."""
    from xplearn._kernels import argkmin

    xp = array_namespace(queries)
    k_block = min(k, training.shape[0])
    if queries.shape[0] == 0 or k_block == 0:
        return xp.zeros((queries.shape[0], k_block, width), dtype=xp.float64)
    with config_context(**config):
        # the unrounded (float64) distances: float32 roundings can tie where the float64
        # values, which order the in-memory search, do not
        distances, local = argkmin(queries, training, k_block, metric, method=method, keys=True)
    flat = xp.reshape(local, (-1,))  # the array API takes 1-D indices
    indices = xp.reshape(xp.take(rows, flat), local.shape)
    columns = [xp.astype(distances, xp.float64), xp.astype(indices, xp.float64)]
    packed = xp.stack(columns, axis=2)
    if labels is None:
        return packed
    found = xp.take(labels, flat, axis=0)
    found = xp.reshape(xp.astype(found, xp.float64), (*local.shape, labels.shape[1]))
    return xp.concat([packed, found], axis=2)


def _merge_block(found: Any, query_rows: Any = None, *, k: int) -> Any:
    """The ``k`` best of a query block's per-training-block results (a task).

    The blocks come in training order, each sorted by (distance, index): a stable sort by
    distance keeps equal distances in index order, as the in-memory search does. With
    ``query_rows`` (queries = training rows), each row's own index is then dropped.
    """
    from xplearn._kernels._xp_impl import drop_self

    xp = array_namespace(found)
    order = xp.argsort(found[:, :, 0], axis=1, stable=True)[:, :k]
    best = xp.take_along_axis(found, order[:, :, None], axis=1)
    if query_rows is None or best.shape[0] == 0:
        return best if query_rows is None else best[:, : k - 1, :]
    # drop_self compares each row's indices with its position in the block: shift the
    # global indices by the block's first row number for the comparison
    first = query_rows[0]
    indices = xp.astype(best[:, :, 1], xp.int64) - first
    positions = xp.reshape(xp.arange(best.shape[1], dtype=xp.int64), (1, -1))
    positions = xp.broadcast_to(positions, indices.shape)
    # drop_self orders its first argument like the indices it keeps: the kept columns
    kept_columns, _ = drop_self(positions, indices)
    return xp.take_along_axis(best, kept_columns[:, :, None], axis=1)
