"""Inference on Dask arrays: the in-memory inference of each row block, computing nothing.

A public inference method called with a Dask array returns Dask arrays at once; the work
happens when they are computed, block by block, possibly on dask.distributed workers:

* :func:`~xplearn.utils.validation.validate_data` checks what needs no data (shape,
  dtype, number of features) and casts X lazily; the finiteness check goes into X's graph,
  so that a block with NaN raises the usual error when it is computed.
* The estimator's ``_infer`` runs on each row block (whole rows: one column chunk), in
  the block's own namespace: on NumPy blocks the numba kernels run, on CuPy blocks the
  CuPy code. The estimator it runs on is a *twin* of the fitted one whose Dask arrays are
  in-memory arrays: the twin is a task of the same graph, computed with the result,
  never before (the fitted arrays may themselves be lazy, e.g. after a lazy fit).
* What the result looks like (dtype, columns, class labels of any dtype) comes from a
  *probe*: ``_infer`` run now on two rows, with stand-ins of the fitted Dask arrays of
  their shapes and dtypes. The probe also raises, now, the errors that depend on the
  parameters only (e.g. more neighbours than training rows), and records which fitted
  arrays the inference reads: the twin computes only those.

The configuration in effect at the call (``kernel``, ``working_memory``...) is the one
the blocks run under, wherever and whenever they are computed.
"""

from __future__ import annotations

import functools
import warnings
from types import ModuleType
from typing import Any

import numpy as np

from xplearn._config import config_context, get_config
from xplearn._xp import (
    array_namespace,
    device_of,
    is_dask_array,
    namespace_name,
    resolve_namespace,
    same_device,
)
from xplearn._xp._ops import one_column_chunk
from xplearn.utils.validation import validate_data

__all__ = ["lazy_infer"]

#: Probe rows: two, so that no one-row special case decides what the blocks get.
_PROBE_ROWS = 2
#: Where a probe estimator records the names of the attributes its inference reads.
_READS = "_lazy_probe_reads"


def lazy_infer(estimator: Any, method: str, X: Any, infer_method: str | None = None) -> Any:
    """Public ``method`` of a fitted ``estimator`` on a Dask array, lazily and blockwise.

    Parameters
    ----------
    estimator : fitted xplearn estimator
        Fitted on Dask arrays (or converted to Dask with :func:`xplearn.convert`).
    method : str
        The public method called, for validation and its messages.
    X : dask.array.Array of shape (n_samples, n_features)
        The input.
    infer_method : str, default=None
        The ``_infer`` method to run on the blocks, when it is not ``method`` (e.g.
        ``kneighbors`` for ``kneighbors_graph``).

    Returns
    -------
    dask.array.Array, or tuple of them (``kneighbors``)
        The row chunks of X; every other axis in one chunk. Nothing has been computed.
    """
    infer_method = method if infer_method is None else infer_method
    data = validate_data(estimator, X, method=method, reset=False, defer_finite_check=True)
    X = one_column_chunk(data.X)
    chunk_xp = array_namespace(X._meta)
    outputs, reads = _probe(estimator, infer_method, X, chunk_xp)
    twin = _twin(estimator, reads, chunk_xp)
    config = get_config()
    # key names that say what the tasks do, e.g. "kmeans-predict-<hash>"
    token = f"{type(estimator).__name__.lower()}-{infer_method}"

    import dask.array as da

    rows = X.chunks[0]
    # zero-row outputs: the meta data of the result, and what an empty block gives
    if not isinstance(outputs, tuple):
        empty = outputs[:0]
        layout = _layout(rows, empty, input_ndim=2)
        return da.map_blocks(
            _infer_block, X, twin, infer_method, config, empty, token=token, **layout
        )
    empty = tuple(output[:0] for output in outputs)
    # several outputs: one task per block computes them together (one search for the
    # distances and the indices); each output then picks its part of the block's tuple
    objects = np.empty((0,), dtype=object)
    blocks = da.map_blocks(
        _infer_block,
        X,
        twin,
        infer_method,
        config,
        empty,
        token=token,
        **_layout(rows, objects, input_ndim=2),
    )
    return tuple(
        da.map_blocks(
            _pick, blocks, index, token=f"{token}-{index}", **_layout(rows, part, input_ndim=1)
        )
        for index, part in enumerate(empty)
    )


def _layout(rows: tuple, empty: Any, input_ndim: int) -> dict[str, Any]:
    """``map_blocks`` arguments for an output like ``empty`` (zero rows) from blocks of
    ``input_ndim`` dimensions: the row chunks ``rows``, every other axis in one chunk."""
    layout = {
        "chunks": (rows,) + tuple((size,) for size in empty.shape[1:]),
        "dtype": empty.dtype,
        "meta": empty,
    }
    if empty.ndim < input_ndim:
        layout["drop_axis"] = list(range(empty.ndim, input_ndim))
    elif empty.ndim > input_ndim:
        layout["new_axis"] = list(range(input_ndim, empty.ndim))
    return layout


def _infer_block(block: Any, twin: Any, method: str, config: dict, empty: Any) -> Any:
    """The in-memory inference of one row block (a task of the result's graph)."""
    if block.shape[0] == 0:
        # nothing to infer; the code paths are not all written for empty input
        return empty
    xp = array_namespace(block)
    device = device_of(block)
    fit_namespace, fit_device, _ = twin._fit_context
    if namespace_name(xp) != fit_namespace or not same_device(device, fit_device):
        from xplearn.base import convert

        twin = convert(twin, xp, device)
    with config_context(**config):
        return twin._infer(method, xp, block)


def _pick(block: tuple, index: int) -> Any:
    """Output ``index`` of a block's outputs."""
    return block[index]


# ----------------------------------------------------------------------- the twin


def _twin(estimator: Any, reads: set[str], xp: ModuleType) -> Any:
    """A Dask Delayed of ``estimator`` whose Dask arrays are in-memory arrays of ``xp``.

    Fitted Dask arrays that the inference does not read (``reads``: e.g. the training
    labels ``labels_``) are left out, so that computing the twin does not compute them.
    """
    import dask

    state = {
        name: value
        for name, value in vars(estimator).items()
        if name in reads or not _holds_dask_array(value)
    }
    # impure: no hashing of the state to name the task (the result's keys are new anyway)
    return dask.delayed(_build_twin, pure=False)(type(estimator), state, namespace_name(xp))


def _build_twin(cls: type, state: dict, namespace: str) -> Any:
    """The estimator of class ``cls`` and (computed) attributes ``state``, in ``namespace``.

    Runs as a task: Dask has replaced the Dask arrays in ``state`` by their values.
    """
    from xplearn.base import convert

    twin = cls.__new__(cls)
    # a computed 0-d array may come as a NumPy scalar, which the inference code takes
    # for a Python number: make it a 0-d array again, as the fitted attribute was
    twin.__dict__.update(_replace(state, np.generic, np.asarray))
    return convert(twin, resolve_namespace(namespace))


# ---------------------------------------------------------------------- the probe


def _probe(estimator: Any, method: str, X: Any, xp: ModuleType) -> tuple[Any, set[str]]:
    """``_infer`` on two rows of ones with stand-ins (zeros) for the fitted Dask arrays.

    Returns
    -------
    outputs : array or tuple of arrays
        Of the dtypes and trailing shapes the blocks will give.
    reads : set of str
        Names of the attributes the inference read.
    """
    cls = _recording_class(type(estimator))
    probe = cls.__new__(cls)
    probe.__dict__.update(_replace(vars(estimator), _dask_array_type(), _stand_in))
    rows = xp.ones((_PROBE_ROWS, X.shape[1]), dtype=X.dtype)
    probe._fit_context = (namespace_name(xp), device_of(rows), estimator._fit_context[2])
    reads: set[str] = set()
    probe.__dict__[_READS] = reads
    # the stand-ins' values are meaningless: so are the warnings they provoke
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        outputs = probe._infer(method, xp, rows)
    return outputs, reads


def _stand_in(array: Any) -> Any:
    """Zeros of a Dask array's shape and dtype, in the namespace of its blocks.

    Zeros: valid indices, and (on NumPy) pages the system maps only when written, so
    that stand-ins of large fitted arrays (training rows, labels) cost no memory.
    """
    if any(size != size for size in array.shape):  # NaN: unknown chunk sizes
        raise ValueError(
            f"a fitted array has an unknown shape {array.shape}; call "
            "compute_chunk_sizes() on the arrays the model was fitted on."
        )
    xp = array_namespace(array._meta)
    return xp.zeros(tuple(int(size) for size in array.shape), dtype=array.dtype)


@functools.cache
def _recording_class(cls: type) -> type:
    """A subclass of ``cls``, of the same name, whose instances record the names of the
    attributes read (in their ``_READS`` set), so that the probe learns what the
    inference needs."""

    def __getattribute__(self, name):
        reads = object.__getattribute__(self, "__dict__").get(_READS)
        if reads is not None:
            reads.add(name)
        return super(recording, self).__getattribute__(name)

    namespace = {
        "__getattribute__": __getattribute__,
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
    }
    recording = type(cls.__name__, (cls,), namespace)
    return recording


# ------------------------------------------------------------------ state helpers


def _dask_array_type() -> type:
    import dask.array as da

    return da.Array


def _holds_dask_array(value: Any) -> bool:
    if is_dask_array(value):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_dask_array(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_dask_array(item) for item in value.values())
    return False


def _replace(value: Any, kind: type, function: Any) -> Any:
    """``value`` with every instance of ``kind`` replaced by ``function(instance)``,
    inside lists, tuples (named or not) and dicts too."""
    if isinstance(value, kind):
        return function(value)
    if isinstance(value, list):
        return [_replace(item, kind, function) for item in value]
    if isinstance(value, tuple):
        items = [_replace(item, kind, function) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {key: _replace(item, kind, function) for key, item in value.items()}
    return value
