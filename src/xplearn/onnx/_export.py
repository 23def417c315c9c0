"""``to_onnx``: record an estimator's own array-API inference as an ONNX graph."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from xplearn._xp import is_array
from xplearn._xp._onnx import symbolic_constant, symbolic_namespace
from xplearn.utils.validation import check_is_fitted

__all__ = ["INPUT_NAME", "ONNX_OPSET", "default_methods", "output_names", "to_onnx"]

#: Name of the graph's input (shape ``("N", n_features)``).
INPUT_NAME = "X"
#: The ONNX opset ndonnx emits (``ai.onnx``).
ONNX_OPSET = 21
#: Methods exported by default, in this order, when the estimator has them.
_DEFAULT_CHOICES = (("predict", "predict_proba"), ("transform",), ("kneighbors",))
_FLOAT_DTYPES = ("float32", "float64")


def _is_xplearn(estimator: Any) -> bool:
    from xplearn.base import XPEstimatorMixin

    return isinstance(estimator, XPEstimatorMixin) and isinstance(estimator, BaseEstimator)


def _exportable_methods(estimator: Any) -> tuple[str, ...]:
    return tuple(estimator._capabilities.onnx_methods)


def default_methods(estimator: Any) -> tuple[str, ...]:
    """The methods :func:`to_onnx` exports when ``methods`` is not given.

    Classifiers: ``predict`` and ``predict_proba``; regressors and clusterers:
    ``predict``; transformers: ``transform``; NearestNeighbors: ``kneighbors``.
    """
    available = _exportable_methods(estimator)
    for choice in _DEFAULT_CHOICES:
        chosen = tuple(method for method in choice if method in available)
        if chosen:
            return chosen
    return available


def output_names(method: str) -> tuple[str, ...]:
    """Names of the graph outputs a method produces: its own name, or for
    ``kneighbors`` the pair ``("distances", "indices")``."""
    return ("distances", "indices") if method == "kneighbors" else (method,)


def _not_exportable(estimator: Any, what: str) -> NotImplementedError:
    name = type(estimator).__name__
    return NotImplementedError(f"to_onnx(): {name} cannot be exported to ONNX: {what}.")


def _steps(model: Any) -> tuple[list[Any], Any]:
    """(transformers, final estimator) of a Pipeline, or ([], model)."""
    if not isinstance(model, Pipeline):
        return [], model
    steps = [step for _, step in model.steps if step is not None and step != "passthrough"]
    if not steps:
        raise ValueError("to_onnx(): the Pipeline has no estimator to export.")
    return steps[:-1], steps[-1]


def _check_exportable(estimator: Any, methods: tuple[str, ...]) -> None:
    if not _is_xplearn(estimator):
        raise _not_exportable(
            estimator,
            "it is not an xplearn estimator (export scikit-learn estimators with skl2onnx; "
            "xplearn.onnx.register_skl2onnx() lets skl2onnx convert pipelines that mix "
            "both)",
        )
    check_is_fitted(estimator, "to_onnx")
    available = _exportable_methods(estimator)
    if not available:
        raise _not_exportable(estimator, "it declares no exportable inference method")
    unknown = [method for method in methods if method not in available]
    if unknown:
        raise _not_exportable(
            estimator, f"methods {unknown} are not exportable; exportable: {list(available)}"
        )


def _symbolic_copy(estimator: Any) -> Any:
    """A shallow copy of a fitted estimator whose arrays are ndonnx constants.

    Cached helpers of the eager fast path (attributes starting with ``_cache``) are left
    out: the copy must go through the plain inference code.
    """
    symbolic = copy.copy(estimator)
    state = {}
    for key, value in vars(estimator).items():
        if key.startswith("_cache"):
            continue
        if is_array(value) or (isinstance(value, np.ndarray) and value.dtype.kind in "OU"):
            value = symbolic_constant(value)
        state[key] = value
    symbolic.__dict__ = state
    return symbolic


def _fitted_dtype_name(estimator: Any) -> str:
    dtype = estimator._fit_context[2]
    return str(to_numpy_dtype(dtype))


def to_numpy_dtype(dtype: Any) -> np.dtype:
    """NumPy dtype of the same name as ``dtype`` (of any namespace), e.g. torch.float32."""
    name = getattr(dtype, "name", None) or str(dtype).rsplit(".", 1)[-1]
    return np.dtype(name)


def _compute_dtype_name(estimator: Any, input_dtype: str) -> str:
    """The dtype ``validate_data`` would compute in for a NumPy input of ``input_dtype``."""
    from xplearn._xp import numpy_namespace
    from xplearn.utils.validation import _inference_dtypes

    xp = numpy_namespace()
    plan = _inference_dtypes(
        estimator,
        xp,
        "cpu",
        np.dtype(input_dtype),
        getattr(estimator, "dtype_policy", None),
        f"{type(estimator).__name__}.to_onnx(): ",
    )
    return np.dtype(plan.compute).name


def _apply(estimator: Any, symbolic: Any, method: str, ndx: Any, X: Any) -> Any:
    """Run the inference of ``method`` on symbolic X, cast as validation would cast it.

    ``symbolic`` is the estimator's :func:`_symbolic_copy`, made once per export so
    that every method reads the same constants.
    """
    compute = _compute_dtype_name(estimator, str(X.dtype))
    if str(X.dtype) != compute:
        X = ndx.astype(X, getattr(ndx, compute))
    return symbolic._infer(method, ndx, X)


def _resolve_input(model: Any, first: Any, X: Any, n_features: Any, dtype: Any):
    expected = first.n_features_in_
    if X is not None:
        shape = tuple(X.shape)
        if len(shape) != 2:
            raise ValueError(
                f"to_onnx(): X must be 2D of shape (n_samples, n_features) to give the input "
                f"type, got shape {shape}."
            )
        if n_features is not None and n_features != shape[1]:
            raise ValueError(f"to_onnx(): n_features={n_features} but X has {shape[1]} features.")
        n_features = shape[1]
        if dtype is None:
            dtype = X.dtype
    if n_features is None:
        n_features = expected
    if n_features != expected:
        name = type(first).__name__
        raise ValueError(
            f"to_onnx(): the input has {n_features} features, but {name} is expecting "
            f"{expected} features as input."
        )
    dtype_name = _fitted_dtype_name(first) if dtype is None else str(to_numpy_dtype(dtype))
    if dtype_name not in _FLOAT_DTYPES:
        raise ValueError(
            f"to_onnx(): the input dtype must be float32 or float64, got {dtype_name}."
        )
    return n_features, dtype_name


def to_onnx(model, X=None, *, n_features=None, dtype=None, methods=None, target_opset=None):
    """Export a fitted estimator (or Pipeline of them) to an ONNX model.

    The graph is recorded by running the estimator's own array-API inference code on
    ndonnx arrays, so the ONNX model computes what ``predict``/``transform``... compute.

    Parameters
    ----------
    model : fitted xplearn estimator, or sklearn.pipeline.Pipeline of them
        In a Pipeline, every step but the last is a transformer (its ``transform`` is
        chained); the last step's ``methods`` are exported.
    X : array-like of shape (n_samples, n_features), default=None
        Example input: gives the number of features and the dtype. Its values are unused.
    n_features : int, default=None
        Number of input features (default: X's, else the model's ``n_features_in_``).
    dtype : {"float32", "float64"} or dtype, default=None
        Input dtype (default: X's, else the dtype the model was fitted in). The graph
        computes as the model does for a NumPy input of this dtype (its ``dtype_policy``).
    methods : str or sequence of str, default=None
        Methods whose results become the outputs, e.g. ``("predict", "predict_proba")``.
        Default: :func:`default_methods` of the final estimator.
    target_opset : int, default=None
        Highest ONNX opset the consumer supports; the graph uses opset 21 (what ndonnx
        emits), so a smaller value is an error.

    Returns
    -------
    onnx.ModelProto
        One input ``"X"`` of shape ``("N", n_features)`` (symbolic batch size) and one
        output per method, named after it (``kneighbors``: ``"distances"`` and
        ``"indices"``). Class labels come out in the type of ``classes_`` (strings as
        ONNX strings).

    Raises
    ------
    NotImplementedError
        If a step is not an xplearn estimator or cannot export a requested method.
    ValueError
        On a wrong number of features, a non-float dtype or an unsupported opset.
    NotFittedError
        If a step is not fitted.
    """
    ndx = symbolic_namespace()
    if target_opset is not None and target_opset < ONNX_OPSET:
        raise ValueError(
            f"to_onnx(): target_opset={target_opset} is lower than opset {ONNX_OPSET}, "
            "which the exported graphs use."
        )
    transformers, final = _steps(model)
    if methods is None:
        _check_exportable(final, ())
        methods = default_methods(final)
    elif isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    if not methods:
        raise ValueError("to_onnx(): methods must name at least one method.")
    for step in transformers:
        _check_exportable(step, ("transform",))
    _check_exportable(final, methods)
    first = transformers[0] if transformers else final
    n_features, dtype_name = _resolve_input(model, first, X, n_features, dtype)

    X_symbolic = ndx.argument(shape=("N", n_features), dtype=getattr(ndx, dtype_name))
    current = X_symbolic
    for step in transformers:
        current = _apply(step, _symbolic_copy(step), "transform", ndx, current)
    outputs = {}
    symbolic_final = _symbolic_copy(final)
    for method in methods:
        result = _apply(final, symbolic_final, method, ndx, current)
        parts = result if isinstance(result, tuple) else (result,)
        for name, part in zip(output_names(method), parts, strict=True):
            outputs[name] = part
    from xplearn.onnx._graph import finalize

    return finalize(ndx.build({INPUT_NAME: X_symbolic}, outputs), model)
