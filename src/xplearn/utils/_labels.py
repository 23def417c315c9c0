"""Class labels: one encoding path shared by every classifier.

Labels come in two forms:

* **device labels**: integer, float or bool labels in X's namespace and on X's device;
  ``classes_`` is then an array of that namespace and predictions come back there too.
* **host labels**: a NumPy array or a list of anything scikit-learn accepts (strings,
  objects, numbers); ``classes_`` is then a NumPy array and predictions come back as NumPy
  arrays, the form they came in, whatever X's namespace. Only the integer codes travel to
  the device.

``classes_`` is sorted as :func:`numpy.unique` sorts (scikit-learn's order).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from xplearn._xp import move_to, numpy_namespace
from xplearn._xp._ops import is_lazy, materialize

__all__ = ["EncodedLabels", "decode_labels", "encode_labels", "encode_with_classes"]


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


def _is_host(labels: Any) -> bool:
    return isinstance(labels, np.ndarray)


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
    if _is_host(y):
        classes, codes = np.unique(y, return_inverse=True)
        codes = move_to(codes.reshape(-1), xp, device)
    else:
        classes = xp.unique_values(y)
        if is_lazy(xp):
            (classes,) = materialize(xp, classes)
        classes = xp.sort(classes)
        codes = xp.searchsorted(classes, y)
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

    Raises
    ------
    ValueError
        If ``y`` holds a label that is not in ``classes``, naming it.
    """
    if _is_host(classes) != _is_host(y):
        raise ValueError(
            f"{prefix}y must come in the form the classes were given: "
            f"{'a NumPy array or list' if _is_host(classes) else 'an array of X namespace'}."
        )
    label_xp = numpy_namespace() if _is_host(classes) else xp
    codes = label_xp.searchsorted(classes, y)
    clipped = label_xp.clip(codes, 0, classes.shape[0] - 1)
    known = label_xp.take(classes, clipped) == y
    if not bool(label_xp.all(known)):
        unknown = y[~known][:5]
        raise ValueError(
            f"{prefix}y contains labels not in classes: {list(np.asarray(unknown).tolist())}; "
            f"the classes are {list(np.asarray(classes).tolist())}."
        )
    return move_to(clipped, xp, device) if _is_host(classes) else clipped


def decode_labels(classes: Any, codes: Any) -> Any:
    """Labels for class indices ``codes``: NumPy for host classes, else ``classes``' namespace."""
    if _is_host(classes):
        from xplearn._xp import to_numpy

        return classes[to_numpy(codes)]
    from xplearn._xp import array_namespace

    return array_namespace(classes).take(classes, codes)
