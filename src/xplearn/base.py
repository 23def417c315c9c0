"""The base every xplearn estimator builds on, capability declarations, and ``convert``."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from xplearn._config import DTYPE_POLICIES
from xplearn._xp import (
    is_array,
    is_dask_array,
    move_to,
    namespace_name,
    resolve_device,
    resolve_namespace,
    supports_float64,
)
from xplearn.utils.validation import check_is_fitted, validate_data

__all__ = ["BACKENDS", "Capabilities", "XPEstimatorMixin", "convert"]

#: Every backend xplearn knows; an estimator's capabilities name a subset.
BACKENDS = ("numpy", "array_api_strict", "torch", "cupy", "dask")


@dataclass(frozen=True)
class Capabilities:
    """What one estimator supports, declared once next to its class.

    The test suite reads it to skip or xfail (with the reason given here) and the docs
    render it as the support table, so the two cannot drift apart.

    Attributes
    ----------
    backends : tuple of str
        Backends the estimator runs on, from :data:`BACKENDS`.
    fallbacks : dict of str to str
        Backend -> how the estimator falls back there (e.g. a host round trip of a small
        matrix), shown in the docs.
    dtype_policies : tuple of str
        Supported values of ``dtype_policy``.
    lazy_fit : bool
        Whether ``fit`` on Dask arrays stays lazy except for a stated number of computes.
    onnx_methods : tuple of str
        Methods that export to ONNX.
    expected_failed_checks : dict of str to str
        scikit-learn common checks this estimator is known to fail -> why. The test suite
        marks them as expected failures (strict), and the docs list them.
    """

    backends: tuple[str, ...] = BACKENDS
    fallbacks: dict[str, str] = field(default_factory=dict)
    dtype_policies: tuple[str, ...] = DTYPE_POLICIES
    lazy_fit: bool = False
    onnx_methods: tuple[str, ...] = ()
    expected_failed_checks: dict[str, str] = field(default_factory=dict)


class XPEstimatorMixin:
    """Mixin of every xplearn estimator; put it first among the bases.

    It declares array-API support to scikit-learn's tags and gives access to where the
    estimator was fitted (namespace, device, dtype), which :func:`validate_data` records.
    """

    _capabilities: ClassVar[Capabilities] = Capabilities()

    def __sklearn_tags__(self):  # scikit-learn protocol
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags

    @property
    def fit_namespace_(self) -> str:
        """Name of the namespace the fitted attributes live in (``"numpy"``, ``"torch"``...)."""
        check_is_fitted(self, "fit_namespace_")
        return self._fit_context[0]

    @property
    def fit_device_(self) -> Any:
        """Device the fitted attributes live on."""
        check_is_fitted(self, "fit_device_")
        return self._fit_context[1]

    def _infer(self, method: str, xp: ModuleType, X: Any) -> Any:
        """The inference of public ``method`` on validated input: the one code path.

        ``X`` has passed :func:`validate_data` (right namespace, shape and compute dtype);
        the public method validates, then calls this. The code is written against ``xp``
        and free of Python-side data-dependent control flow and host transfers, so it
        runs eagerly on NumPy, torch, CuPy, lazily on Dask and symbolically on ndonnx,
        where :func:`xplearn.onnx.to_onnx` records it as an ONNX graph. Methods listed in
        ``_capabilities.onnx_methods`` implement it.

        Returns
        -------
        array, or tuple of arrays (``kneighbors``: distances, indices)
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no array-API inference for {method}()."
        )

    def _validated_infer(self, method: str, X: Any) -> Any:
        """Public ``method`` on X: :func:`validate_data`, then :meth:`_infer`.

        On a Dask array nothing is computed: the result is a Dask array whose blocks run
        :meth:`_infer` on the row blocks of X, in memory (:mod:`xplearn._lazy`).
        """
        # the NumPy type test first: one-row NumPy calls must not pay for the Dask one
        if type(X) is not np.ndarray and is_dask_array(X):
            from xplearn._lazy import lazy_infer

            return lazy_infer(self, method, X)
        data = validate_data(self, X, method=method, reset=False)
        return self._infer(method, data.xp, data.X)

    def _fitted_arrays(self, dtype: Any, *names: str) -> list[Any]:
        """Fitted attributes ``names`` cast to ``dtype`` (no copy when already of it)."""
        arrays = [getattr(self, name) for name in names]
        # NumPy arrays already of ``dtype`` (a dtype object or a scalar type such as
        # np.float32: == holds for both) are returned as is, without the namespace
        # look-up, which costs microseconds per call. Other dtypes (torch, array-api-strict)
        # are not compared with NumPy's, where the comparison could warn.
        if isinstance(dtype, np.dtype) or dtype is np.float32 or dtype is np.float64:
            for array in arrays:
                if type(array) is not np.ndarray or array.dtype != dtype:
                    break
            else:
                if arrays:
                    return arrays
        from xplearn._xp import array_namespace

        xp = array_namespace(arrays[0])
        return [xp.astype(array, dtype, copy=False) for array in arrays]


def _is_xplearn_estimator(obj: Any) -> bool:
    return isinstance(obj, XPEstimatorMixin) and isinstance(obj, BaseEstimator)


def _dtype_name(dtype: Any) -> str:
    """``"float32"`` for np.float32, np.dtype("float32"), torch.float32, array-api-strict's..."""
    for attribute in ("name", "__name__"):  # np.dtype("float32").name, np.float32.__name__
        name = getattr(dtype, attribute, None)
        if isinstance(name, str):
            return name
    return str(dtype).rsplit(".", 1)[-1]  # torch.float32, array_api_strict.float32


def _is_host_only(value: Any) -> bool:
    """NumPy arrays of strings or objects (``feature_names_in_``) stay NumPy arrays."""
    return isinstance(value, np.ndarray) and value.dtype.kind in "OUSV"


def _no_float64_message(owner: str, xp: ModuleType, device: Any) -> str:
    return (
        f"convert(): {owner} has float64 fitted arrays, but device {device!r} of "
        f"{namespace_name(xp)} has no float64. Fit with dtype_policy='float32'."
    )


def _convert_value(value: Any, xp: ModuleType, device: Any, owner: str, arrays: bool = True) -> Any:
    """Convert the arrays in ``value`` (recursing into containers and estimators).

    ``arrays=False`` inside scikit-learn estimators (a Pipeline, a ColumnTransformer):
    their own arrays stay NumPy, since they are not array-API aware, while the xplearn
    estimators they hold are converted.
    """
    if _is_host_only(value):
        return value
    if is_array(value):
        if not arrays:
            return value
        if not supports_float64(xp, device) and "float64" in str(value.dtype):
            raise ValueError(_no_float64_message(owner, xp, device))
        return move_to(value, xp, device)
    if _is_xplearn_estimator(value):
        return _convert_estimator(value, xp, device)
    if isinstance(value, BaseEstimator):
        # scikit-learn containers (Pipeline, ColumnTransformer...) hold xplearn steps
        converted = copy.copy(value)
        converted.__dict__ = {
            key: _convert_value(item, xp, device, owner, arrays=False)
            for key, item in vars(value).items()
        }
        return converted
    if isinstance(value, list):
        return [_convert_value(item, xp, device, owner, arrays) for item in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_convert_value(item, xp, device, owner, arrays) for item in value)
    if isinstance(value, dict):
        return {key: _convert_value(item, xp, device, owner, arrays) for key, item in value.items()}
    return value


def _convert_estimator(estimator: Any, xp: ModuleType, device: Any) -> Any:
    check_is_fitted(estimator, "convert")
    name = type(estimator).__name__
    dtype_name = _dtype_name(estimator._fit_context[2])
    if dtype_name == "float64" and not supports_float64(xp, device):
        raise ValueError(_no_float64_message(name, xp, device))
    converted = copy.copy(estimator)
    converted.__dict__ = {
        key: _convert_value(value, xp, device, name)
        for key, value in vars(estimator).items()
        if key != "_fit_context"
    }
    dtype = getattr(xp, dtype_name)
    # what arrays of that dtype report (np.dtype("float32"), not the scalar type np.float32)
    dtype = xp.empty((0,), dtype=dtype, device=device).dtype
    converted._fit_context = (namespace_name(xp), device, dtype)
    return converted


def convert(estimator: Any, to: Any, device: Any = None) -> Any:
    """Return a copy of a fitted estimator whose fitted arrays live in another namespace.

    Fit on a GPU, serve on a CPU; or fit with NumPy and predict on torch tensors. The
    original estimator is left unchanged.

    Parameters
    ----------
    estimator : fitted xplearn estimator, or scikit-learn Pipeline of them
        The model to move.
    to : str or module
        Target namespace: ``"numpy"``, ``"torch"``, ``"cupy"``, ``"dask"``,
        ``"array_api_strict"``, or a namespace module (``numpy``, ``torch``...).
    device : str or device, default=None
        Target device (``"cuda"``, ``"cpu"``, ``torch.device("cuda:1")``...); default: the
        namespace's default device.

    Returns
    -------
    estimator
        A fitted copy whose array attributes are arrays of ``to`` on ``device``.

    Raises
    ------
    NotFittedError
        If the estimator is not fitted.
    ValueError
        Unknown namespace, or float64 attributes for a device without float64.

    Examples
    --------
    >>> import numpy as np
    >>> import xplearn
    >>> from xplearn.preprocessing import StandardScaler
    >>> scaler = StandardScaler().fit(np.arange(6.0).reshape(3, 2))
    >>> moved = xplearn.convert(scaler, to="array_api_strict")
    >>> moved.fit_namespace_
    'array_api_strict'
    """
    xp = resolve_namespace(to)
    device = resolve_device(xp, device)
    if device is None:
        device = xp.__array_namespace_info__().default_device()
    return _convert_value(estimator, xp, device, type(estimator).__name__)
