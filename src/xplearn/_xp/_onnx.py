"""The symbolic backend: ndonnx arrays, which record an ONNX graph instead of computing.

Estimators' inference code runs unchanged on ndonnx (it is an Array API namespace); the
few things that differ live here, so that no estimator imports ndonnx or spox.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "SYMBOLIC_TRAIN_BLOCK",
    "is_symbolic",
    "row_max",
    "smallest_k",
    "softmax_rows",
    "symbolic_constant",
    "symbolic_namespace",
    "symbolic_take_labels",
]


def is_symbolic(xp: ModuleType) -> bool:
    """Whether ``xp`` records a graph for export (ndonnx) rather than computing."""
    return xp.__name__ == "ndonnx"


#: Training rows per block of a neighbour search recorded for export. The batch size of
#: a graph is unknown, so blocks bound nothing per query row; fewer, larger blocks save
#: the per-block selection and merge nodes (one block up to this many training rows).
SYMBOLIC_TRAIN_BLOCK = 65_536


def smallest_k(xp: ModuleType, values: Any, k: int) -> tuple[Any, Any]:
    """The ``k`` smallest values of each row of a 2-D ndonnx array and their int64
    column positions, as one ONNX ``TopK`` (ndonnx has no top-k; a stable argsort of the
    whole row would sort all of it). Among equal values TopK takes the lower position."""
    import spox.opset.ai.onnx.v21 as operators

    count = operators.constant(value=np.asarray([k], dtype=np.int64))
    smallest, positions = operators.top_k(values.unwrap_spox(), count, axis=1, largest=0, sorted=1)
    return xp.asarray(smallest), xp.asarray(positions)


def symbolic_namespace() -> ModuleType:
    """The ndonnx namespace, or a clear ImportError naming the extra to install."""
    try:
        import ndonnx
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ONNX export needs ndonnx, onnx and onnxruntime: pip install 'xplearn[onnx]'."
        ) from error
    return ndonnx


def symbolic_constant(value: Any) -> Any:
    """A fitted array (any namespace, or a NumPy array of strings) as an ndonnx constant."""
    from xplearn._xp._convert import to_numpy

    ndx = symbolic_namespace()
    array = to_numpy(value)
    if array.dtype.kind in "OU":
        # class labels: ONNX strings (ndonnx's utf8); objects must all be str already
        array = array.astype(str)
    return ndx.asarray(np.ascontiguousarray(array))


def row_max(xp: ModuleType, values: Any, axis: int, keepdims: bool = False) -> Any:
    """``xp.max(values, axis=axis, keepdims=keepdims)``.

    On ndonnx this is a single ONNX ReduceMax: ndonnx's ``max`` wraps it in a guard for
    zero-size input and in a NaN-propagation pass, which together cost a one-row ONNX
    call several microseconds. Callers use it where the reduced axis is never empty (a
    fixed number of classes) and NaN cannot occur (inputs are validated finite).
    """
    if not is_symbolic(xp):
        return xp.max(values, axis=axis, keepdims=keepdims)
    # opset 21: the one ndonnx itself emits
    import spox.opset.ai.onnx.v21 as operators

    axes = operators.constant(value=np.asarray([axis], dtype=np.int64))
    reduced = operators.reduce_max(values.unwrap_spox(), axes, keepdims=1 if keepdims else 0)
    return xp.asarray(reduced)


def softmax_rows(xp: ModuleType, scores: Any, native: Any) -> Any:
    """Row-wise softmax of a 2-D ``scores``: ``native(scores)`` when computing, one ONNX
    Softmax node on ndonnx.

    ``native`` is the estimator's own stable formula (as scikit-learn computes it);
    onnxruntime's Softmax subtracts the row maximum too, so the two agree to rounding
    (a few ulps), and the graph saves the five nodes (ReduceMax, Sub, Exp, ReduceSum,
    Div) that dominate a one-row call.
    """
    if not is_symbolic(xp):
        return native(scores)
    import spox.opset.ai.onnx.v21 as operators

    return xp.asarray(operators.softmax(scores.unwrap_spox(), axis=-1))


def symbolic_take_labels(xp: ModuleType, classes: Any, codes: Any) -> Any:
    """``take(classes, codes)`` on ndonnx, without the Gather when the classes are
    ``0, 1, ..., n - 1`` of the codes' dtype (the codes are then the labels)."""
    try:
        values = classes.unwrap_numpy()
    except (ValueError, TypeError, AttributeError):  # not a constant: no shortcut
        values = None
    if (
        values is not None
        and values.dtype.kind in "iu"
        and str(classes.dtype) == str(codes.dtype)
        and np.array_equal(values, np.arange(values.shape[0]))
    ):
        return codes
    return xp.take(classes, codes)
