"""Class labels: one encoding path shared by every classifier.

Labels come in two forms:

* **device labels**: integer, float or bool labels in X's namespace and on X's device;
  ``classes_`` is then an array of that namespace and predictions come back there too.
* **host labels**: a NumPy array or a list of anything scikit-learn accepts (strings,
  objects, numbers); ``classes_`` is then a NumPy array and predictions come back as NumPy
  arrays, the form they came in, whatever X's namespace (for Dask X, lazily: Dask arrays of
  NumPy blocks). Only the integer codes travel to the device.

``classes_`` is sorted as :func:`numpy.unique` sorts (scikit-learn's order).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from xplearn._xp import array_namespace, move_to, numpy_namespace, to_numpy
from xplearn._xp._onnx import is_symbolic, symbolic_take_labels
from xplearn._xp._ops import is_lazy

__all__ = [
    "EncodedLabels",
    "check_label_kinds",
    "decode_labels",
    "encode_labels",
    "encode_with_classes",
    "is_host_labels",
]


class EncodedLabels(NamedTuple):
    """Result of :func:`encode_labels`.

    Attributes
    ----------
    classes : array of shape (n_classes,)
        Sorted distinct labels: an array of X's namespace (device labels) or a NumPy
        array (host labels).
    codes : array of shape (n_samples,)
        Index of each sample's label in ``classes``; integer array of X's namespace on X's
        device.
    """

    classes: Any
    codes: Any


def is_host_labels(labels: Any) -> bool:
    """Whether ``labels`` are host labels (a NumPy array), not an array of X's namespace."""
    return isinstance(labels, np.ndarray)


def _label_kind(labels: Any) -> str:
    """``"string"``, ``"number"`` or ``"mixed"``: what the labels are (scikit-learn's
    ``unique_labels`` tells strings from numbers the same way). Device arrays hold
    numbers; nothing is computed."""
    if not is_host_labels(labels):
        return "number"
    if labels.dtype.kind in "US":
        return "string"
    if labels.dtype.kind != "O":
        return "number"
    kinds = {isinstance(label, str) for label in labels.ravel().tolist()}
    if len(kinds) > 1:
        return "mixed"
    return "string" if True in kinds else "number"


def check_label_kinds(y: Any, classes: Any, prefix: str) -> None:
    """Refuse labels ``y`` of another kind than the fitted ``classes``, as scikit-learn's
    ``accuracy_score`` does (``unique_labels``: "Mix of label input types"): string labels
    scored against a model fitted on numbers would otherwise just never match (a score
    of 0.0).

    Raises
    ------
    ValueError
        One of y and classes holds strings and the other numbers, or y holds both.
    """
    kind, fitted = _label_kind(y), _label_kind(classes)
    if kind == fitted and kind != "mixed":
        return
    given = np.unique(to_numpy(y).astype(str) if kind == "mixed" else to_numpy(y))
    raise ValueError(
        f"{prefix}Mix of label input types (string and number); Got {given} and "
        f"{to_numpy(classes)}: y holds {kind} labels, the model was fitted on {fitted} "
        "labels."
    )


def _sortable(xp: ModuleType, labels: Any) -> Any:
    # sort and searchsorted take no bool arrays in the standard: encode bools as 0/1
    return xp.astype(labels, xp.int8) if labels.dtype == xp.bool else labels


def encode_labels(
    xp: ModuleType, device: Any, y: Any, prefix: str, *, min_classes: int = 2
) -> EncodedLabels:
    """Find the classes of validated labels ``y`` and encode ``y`` as class indices.

    Parameters
    ----------
    xp, device
        Namespace and device of X: where the codes go.
    y : array of shape (n_samples,)
        Labels as returned by ``validate_data(..., y_kind="labels")``.
    prefix : str
        ``"Estimator.method(): "`` for messages.
    min_classes : int, default=2
        Fewer distinct labels is an error.

    Returns
    -------
    EncodedLabels

    Raises
    ------
    ValueError
        Fewer than ``min_classes`` classes.
    """
    if is_host_labels(y):
        classes, codes = np.unique(y, return_inverse=True)
        codes = move_to(codes.reshape(-1), xp, device)
    else:
        classes = xp.unique_values(y)
        if is_lazy(xp):
            # computed and sorted on the host, so that classes_ is an in-memory array,
            # not a graph of sort tasks over the computed values
            import dask

            (values,) = dask.compute(classes)
            values = np.sort(np.asarray(values))
            codes = xp.searchsorted(
                xp.asarray(values.astype(np.int8) if values.dtype == bool else values),
                _sortable(xp, y),
            )
            classes = xp.asarray(values)
        else:
            classes = xp.sort(_sortable(xp, classes))
            codes = xp.searchsorted(classes, _sortable(xp, y))
            if y.dtype == xp.bool:
                classes = xp.astype(classes, xp.bool)
    n_classes = classes.shape[0]
    if n_classes < min_classes:
        from xplearn._xp import to_numpy

        found = to_numpy(classes).tolist()[0] if n_classes else None
        raise ValueError(
            f"{prefix}needs samples of at least {min_classes} classes in the data, but the "
            f"data contains only one class: {found!r}. This solver needs samples of at least "
            f"2 classes in the data."
        )
    return EncodedLabels(classes, codes)


def encode_with_classes(xp: ModuleType, device: Any, y: Any, classes: Any, prefix: str) -> Any:
    """Encode ``y`` against known ``classes`` (``partial_fit``, ``score``).

    Device labels of two numeric dtypes are compared in the wider one.

    Raises
    ------
    ValueError
        If ``y`` holds a label that is not in ``classes`` (the message names the unknown
        labels), or if ``y`` and ``classes`` come in different forms.
    """
    host = is_host_labels(classes)
    if host != is_host_labels(y):
        raise ValueError(
            f"{prefix}y must come in the form the classes were given: "
            f"{'a NumPy array or list' if host else 'an array of the namespace of X'}."
        )
    label_xp = numpy_namespace() if host else xp
    if not host and y.dtype != classes.dtype:
        wider = classes.dtype if xp.isdtype(classes.dtype, "real floating") else y.dtype
        y, classes = xp.astype(y, wider), xp.astype(classes, wider)
    sortable_classes, sortable_y = _sortable(label_xp, classes), _sortable(label_xp, y)
    codes = label_xp.searchsorted(sortable_classes, sortable_y)
    clipped = label_xp.clip(codes, 0, classes.shape[0] - 1)
    known = label_xp.take(sortable_classes, clipped) == sortable_y
    if not bool(label_xp.all(known)):
        # built on the host: lazy and strict namespaces cannot slice by a mask here
        from xplearn._xp import to_numpy

        host_y, host_known = to_numpy(y), to_numpy(known)
        unknown = np.unique(host_y[~host_known]).tolist()
        raise ValueError(
            f"{prefix}y contains labels not in classes: {unknown[:10]}; the classes are "
            f"{to_numpy(classes).tolist()}."
        )
    return move_to(clipped, xp, device) if host else clipped


def decode_labels(classes: Any, codes: Any) -> Any:
    """Labels for class indices ``codes``: NumPy for host classes, else ``classes``' namespace."""
    if is_host_labels(classes):
        return classes[codes if type(codes) is np.ndarray else to_numpy(codes)]
    xp = array_namespace(classes)
    if is_symbolic(xp):
        return symbolic_take_labels(xp, classes, codes)
    return xp.take(classes, codes)
