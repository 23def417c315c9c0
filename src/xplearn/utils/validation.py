"""Input validation shared by every estimator.

Every public method starts with :func:`validate_data`. It resolves the namespace, device
and dtypes (through :mod:`xplearn._xp`), checks shapes, dtypes and finiteness, and returns
the arrays to compute with. Error messages name the method (``"PCA.transform(): ..."``),
what was expected and what was got. Inputs are never modified: a conversion makes a new
array, and an input already in the right form is returned as is, for the caller to read.
"""

from __future__ import annotations

import math
import numbers
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import (
    InvalidParameterError,
    validate_parameter_constraints,
)

from xplearn._config import DTYPE_POLICIES, _config, get_config
from xplearn._xp import (
    DtypePlan,
    array_namespace,
    get_namespace_and_device,
    is_array,
    move_to,
    namespace_name,
    numpy_namespace,
    resolve_dtypes,
    same_device,
)
from xplearn._xp._namespace import _is_sparse
from xplearn._xp._ops import is_lazy, one_column_chunk, to_scalar

__all__ = [
    "Validated",
    "check_finite_through_sums",
    "check_is_fitted",
    "check_sample_weight",
    "method_name",
    "validate_data",
    "validate_params",
]


class Validated(NamedTuple):
    """What :func:`validate_data` returns.

    Attributes
    ----------
    X : array of shape (n_samples, n_features)
        X in namespace ``xp`` on ``device``, of dtype ``dtypes.compute``.
    y : array or None
        y in the same namespace and device (numeric targets cast to ``dtypes.compute``).
    sample_weight : array of shape (n_samples,) or None
        Validated, non-negative weights of dtype ``dtypes.compute``.
    xp : module
        The array namespace.
    device : object
        The device.
    dtypes : DtypePlan
        Compute and accumulation dtypes chosen by the dtype policy.
    """

    X: Any
    y: Any
    sample_weight: Any
    xp: ModuleType
    device: Any
    dtypes: DtypePlan


def method_name(estimator: Any, method: str) -> str:
    """``"PCA.transform()"`` for ``estimator`` a PCA and ``method`` ``"transform"``."""
    return f"{type(estimator).__name__}.{method}()"


def validate_params(estimator: Any, method: str) -> None:
    """Check ``estimator``'s parameters against its class's ``_parameter_constraints``.

    The constraints are scikit-learn's (:mod:`sklearn.utils._param_validation`), so a
    parameter is accepted or refused exactly as scikit-learn's twin does; the error is
    scikit-learn's :class:`~sklearn.utils._param_validation.InvalidParameterError` (a
    ValueError and a TypeError) with its message, prefixed with the method.

    Parameters
    ----------
    estimator : estimator instance
        Its class may define ``_parameter_constraints`` (``{name: [constraints]}``);
        parameters without an entry are not checked here.
    method : str
        The method being called (``"fit"``), for the message.

    Raises
    ------
    InvalidParameterError
        A parameter of the wrong type or out of its range.
    """
    constraints = getattr(type(estimator), "_parameter_constraints", None)
    if not constraints:
        return
    try:
        validate_parameter_constraints(
            constraints, estimator.get_params(deep=False), caller_name=type(estimator).__name__
        )
    except InvalidParameterError as error:
        raise InvalidParameterError(f"{method_name(estimator, method)}: {error}") from None


def _check_known_shape(array: Any, what: str, prefix: str) -> None:
    """A Dask array whose chunk sizes are unknown (e.g. made by boolean masking) cannot
    be matched row for row with y or weights, nor split into the passes of a fit: one
    clear error that says how to fix it, instead of a failure deep inside."""
    shape = getattr(array, "shape", ())
    if any(isinstance(size, float) and math.isnan(size) for size in shape):
        raise ValueError(
            f"{prefix}{what} is a Dask array with unknown chunk sizes (shape "
            f"{tuple(shape)}), as boolean masking makes; call {what}.compute_chunk_sizes() "
            "first (one computation; DataFrame.to_dask_array(lengths=True) for a DataFrame)."
        )


def check_is_fitted(estimator: Any, method: str) -> None:
    """Raise :class:`sklearn.exceptions.NotFittedError` if ``estimator`` is not fitted.

    Parameters
    ----------
    estimator : estimator instance
        An xplearn estimator; fitted once ``fit`` has set ``n_features_in_``.
    method : str
        The method being called, for the message.
    """
    if not hasattr(estimator, "n_features_in_"):
        name = type(estimator).__name__
        raise NotFittedError(
            f"{method_name(estimator, method)}: this {name} instance is not fitted yet. "
            f"Call 'fit' with appropriate arguments before using this estimator."
        )


def _host_array(value: Any, what: str, prefix: str) -> np.ndarray:
    """Convert a non-array input (list, DataFrame, object array) to a NumPy array."""
    try:
        array = np.asarray(value)
        if array.dtype == object:
            array = array.astype(np.float64)
    except (TypeError, ValueError) as error:
        kind = type(error)
        raise kind(
            f"{prefix}{what} must contain numbers, but converting it to a numeric array "
            f"failed: {error}"
        ) from error
    return array


def _check_dtype(xp: ModuleType, array: Any, what: str, prefix: str) -> None:
    dtype = array.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "OUSVMm":
        raise ValueError(
            f"{prefix}{what} must have a numeric dtype, got dtype {dtype}. Encode strings "
            "and other non-numeric values as numbers first."
        )
    if xp.isdtype(dtype, "complex floating"):
        raise ValueError(
            f"{prefix}Complex data not supported: {what} has dtype {dtype}; xplearn "
            "estimators need real numbers."
        )


def _check_finite(xp: ModuleType, array: Any, what: str, prefix: str) -> None:
    """Raise ValueError naming the first column with NaN or infinity."""
    if get_config()["assume_finite"]:
        return
    _raise_if_not_finite(xp, array, what, prefix)


def check_finite_through_sums(xp: ModuleType, X: Any, sums: Any, prefix: str) -> None:
    """Finiteness check of X from sums of its values the caller computed anyway.

    Any NaN or infinity in X makes a sum over it non-finite, in any order and precision;
    so finite ``sums`` (e.g. the column means, and the mean squared row norm) clear X
    without a pass of its own. Non-finite sums (NaN or inf in X, or an overflow of finite
    values) fall back to the full check, which raises the usual error or, after an
    overflow, passes.

    Parameters
    ----------
    xp : namespace
        X's namespace.
    X : array of shape (n_samples, n_features)
        The validated data (``validate_data(..., check_finite=False)``).
    sums : list of arrays
        Reductions over every value of X (in X's namespace).
    prefix : str
        Error message prefix naming the method.
    """
    if get_config()["assume_finite"]:
        return
    # a lazy sum is computed here: the sum of huge finite values must not warn
    with np.errstate(over="ignore", invalid="ignore"):
        if all(bool(xp.all(xp.isfinite(total))) for total in sums):
            return
    _raise_if_not_finite(xp, X, "X", prefix)


def _raise_if_not_finite(xp: ModuleType, array: Any, what: str, prefix: str) -> None:
    """The check of :func:`_check_finite`, whatever ``assume_finite`` says."""
    # One cheap reduction: a finite sum means every value is finite (barring overflow,
    # which the detailed check below then clears). The sum of huge finite values, or of
    # inf and -inf, must not warn: only our error below speaks.
    if array.shape[0] == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if bool(xp.isfinite(xp.sum(array))):
            return
    finite = xp.isfinite(array)
    if bool(xp.all(finite)):
        return
    if array.ndim == 1:
        nan_count = to_scalar(xp.sum(xp.astype(xp.isnan(array), xp.int32)))
        kind = "NaN" if nan_count > 0 else "infinity"
        raise ValueError(f"{prefix}Input {what} contains {kind}; finite values are required.")
    bad_columns = ~xp.all(finite, axis=0)
    column = int(to_scalar(xp.argmax(xp.astype(bad_columns, xp.int32))))
    has_nan = bool(xp.any(xp.isnan(array[:, column])))
    kind = "NaN" if has_nan else "infinity"
    raise ValueError(
        f"{prefix}Input {what} contains {kind} (first in column {column}); finite values "
        "are required. Impute or drop missing values first."
    )


def _finite_when_computed(X: Any, prefix: str, what: str = "X") -> Any:
    """Dask array X (2-D in one column chunk), each block checked by :func:`_check_finite`
    when it is computed: checking now would compute X. The error names the column within
    X, and ``what`` ("X", "y")."""
    if X.ndim == 2:
        X = one_column_chunk(X)
    if get_config()["assume_finite"]:
        return X
    return X.map_blocks(
        _finite_block, what, prefix, dtype=X.dtype, meta=X._meta, token="check-finite"
    )


def _finite_block(block: Any, what: str, prefix: str) -> Any:
    """One block of a lazy input, checked (the task :func:`_finite_when_computed` maps)."""
    _raise_if_not_finite(array_namespace(block), block, what, prefix)
    return block


def _as_2d_or_raise(xp: ModuleType, X: Any, prefix: str) -> None:
    if X.ndim == 2:
        return
    if X.ndim == 0:
        raise ValueError(
            f"{prefix}Expected a 2D array for X, got a scalar array instead: X={X!r}. "
            "Reshape your data to (n_samples, n_features)."
        )
    if X.ndim == 1:
        raise ValueError(
            f"{prefix}Expected a 2D array for X, got a 1D array of shape {tuple(X.shape)} "
            "instead. Reshape your data either using array.reshape(-1, 1) if your data has "
            "a single feature or array.reshape(1, -1) if it contains a single sample."
        )
    raise ValueError(
        f"{prefix}Expected a 2D array for X, got an array with dim {X.ndim} of shape "
        f"{tuple(X.shape)}. Expected <= 2."
    )


def _to_namespace_input(value: Any, what: str, prefix: str, xp: ModuleType, device: Any) -> Any:
    """An input as an array of ``xp``: arrays pass, other array-likes are converted."""
    if _is_sparse(value):
        raise TypeError(
            f"{prefix}{what} is a sparse matrix ({type(value).__name__}), but sparse input is "
            "not supported; pass a dense array (e.g. X.toarray())."
        )
    if is_array(value):
        if isinstance(value, np.ndarray) and value.dtype == object:
            return move_to(_host_array(value, what, prefix), xp, device)
        return value
    return move_to(_host_array(value, what, prefix), xp, device)


def _feature_names(X: Any) -> np.ndarray | None:
    columns = getattr(X, "columns", None)
    if columns is None or is_array(X):
        return None
    names = [str(column) for column in columns]
    if not all(isinstance(column, str) for column in columns):
        return None
    return np.asarray(names, dtype=object)


def validate_data(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    method: str,
    reset: bool,
    sample_weight: Any = None,
    y_required: bool = False,
    ensure_min_samples: int = 1,
    n_features: int | None = None,
    y_kind: str = "numeric",
    defer_finite_check: bool = False,
    check_finite: bool = True,
) -> Validated:
    """Validate ``X`` (and ``y``, ``sample_weight``) for a method of ``estimator``.

    Parameters
    ----------
    estimator : estimator instance
        The estimator whose method is called. Its ``dtype_policy`` parameter (if any)
        selects the dtypes. With ``reset=True`` the namespace, device, dtype and
        ``n_features_in_`` are recorded on it.
    X : array-like of shape (n_samples, n_features)
        Input data: an array of any supported namespace, or an array-like (list, pandas
        object), which is converted to NumPy at fit and to the fitted namespace later.
    y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
        Targets. Numeric targets (``y_kind="numeric"``) must be in the namespace and on
        the device of X and are cast to the compute dtype. Class labels
        (``y_kind="labels"``) are either an array of X's namespace on X's device, or
        host labels of any kind (a NumPy array or a list, e.g. strings), returned as is.
    method : str
        Name of the public method, e.g. ``"fit"``, for messages.
    reset : bool
        True in ``fit`` (record what was seen), False in predict/transform (check it).
    sample_weight : array-like of shape (n_samples,) or float, default=None
        Non-negative weights.
    y_required : bool, default=False
        Whether ``y=None`` is an error.
    ensure_min_samples : int, default=1
        Fewer samples than this is an error.
    n_features : int, default=None
        With ``reset=False``, the number of columns X must have, when it is not
        ``n_features_in_`` (e.g. ``inverse_transform`` takes ``n_components_`` columns).
    y_kind : {"numeric", "labels"}, default="numeric"
        How y is validated: regression targets, or class labels (1-D; a column vector is
        raveled with a ``DataConversionWarning``, as scikit-learn does).
    defer_finite_check : bool, default=False
        For a lazy (Dask) X at inference: instead of checking X for NaN and infinity now,
        which would compute it, return X in one column chunk with the check in its graph,
        so that each block raises the same error when it is computed. Other inputs are
        checked now, as always.
    check_finite : bool, default=True
        False leaves X's check for NaN and infinity to the caller, which must then call
        :func:`check_finite_through_sums` (a caller that sums X's columns anyway saves a
        pass over X) or :func:`_check_finite`.

    Returns
    -------
    Validated
    """
    if (
        type(X) is np.ndarray
        and not reset
        and y is None
        and sample_weight is None
        and not y_required
    ):
        validated = _numpy_inference_fast_path(estimator, X, ensure_min_samples, n_features)
        if validated is not None:
            return validated

    prefix = f"{method_name(estimator, method)}: "
    estimator_name = type(estimator).__name__
    if not reset:
        check_is_fitted(estimator, method)
    if X is None:
        raise ValueError(f"{prefix}Expected a 2D array for X, got None.")
    if y_required and y is None:
        raise ValueError(
            f"{prefix}{estimator_name} requires y to be passed, but the target y is None."
        )

    feature_names = _feature_names(X)
    # host labels (NumPy arrays, lists) may accompany X of any namespace
    y_for_namespace = None if y_kind == "labels" and _is_host_labels(y) else y
    if reset:
        xp, device = get_namespace_and_device(
            X,
            y_for_namespace,
            sample_weight,
            names=("X", "y", "sample_weight"),
            method=prefix[:-2],
        )
    else:
        xp, device = _check_same_as_fit(estimator, X, y_for_namespace, sample_weight, prefix)
    X = _to_namespace_input(X, "X", prefix, xp, device)
    _check_dtype(xp, X, "X", prefix)
    _as_2d_or_raise(xp, X, prefix)
    if is_lazy(xp):
        # blockwise inference works on unknown row chunks: it needs no row count
        if reset or y is not None or sample_weight is not None or not defer_finite_check:
            _check_known_shape(X, "X", prefix)
        for value, what in ((y, "y"), (sample_weight, "sample_weight")):
            if value is not None and is_array(value):
                _check_known_shape(value, what, prefix)
    n_samples, n_columns = X.shape
    if n_samples is None or n_samples < ensure_min_samples:
        raise ValueError(
            f"{prefix}Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) while a "
            f"minimum of {ensure_min_samples} is required."
        )
    if n_columns < 1:
        raise ValueError(
            f"{prefix}Found array with 0 feature(s) (shape={tuple(X.shape)}) while a minimum "
            "of 1 is required."
        )

    if not reset:
        if n_features is not None:
            if n_columns != n_features:
                raise ValueError(
                    f"{prefix}X has {n_columns} features, but {estimator_name} is expecting "
                    f"{n_features} features as input."
                )
        elif n_columns != estimator.n_features_in_:
            expected = estimator.n_features_in_
            raise ValueError(
                f"{prefix}X has {n_columns} features, but {estimator_name} is expecting "
                f"{expected} features as input: it was fitted with {expected} features."
            )
        else:
            _check_feature_names(estimator, feature_names, prefix)

    policy = getattr(estimator, "dtype_policy", None)
    if reset:
        dtypes = resolve_dtypes(xp, device, X.dtype, policy, method=prefix[:-2])
    else:
        dtypes = _inference_dtypes(estimator, xp, device, X.dtype, policy, prefix)
    X = xp.astype(X, dtypes.compute, copy=False)
    if defer_finite_check and is_lazy(xp):
        X = _finite_when_computed(X, prefix)
    elif check_finite:
        _check_finite(xp, X, "X", prefix)

    if y is not None and y_kind == "labels":
        y = _validate_labels(xp, y, n_samples, prefix)
    elif y is not None:
        y = _validate_y(
            xp, device, y, n_samples, dtypes.compute, prefix, defer_finite_check and is_lazy(xp)
        )
    if sample_weight is not None:
        sample_weight = check_sample_weight(
            sample_weight, n_samples, xp=xp, device=device, dtype=dtypes.compute, prefix=prefix
        )

    if reset:
        # Recorded only once every input is valid: a fit that fails validation must not
        # leave a previously unfitted estimator looking fitted.
        estimator.n_features_in_ = n_columns
        if feature_names is not None:
            estimator.feature_names_in_ = feature_names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        # X.dtype, not dtypes.compute: NumPy's namespace gives scalar types (np.float32)
        # where arrays carry dtype objects; record what the arrays actually hold.
        estimator._fit_context = (namespace_name(xp), device, X.dtype)
    return Validated(X, y, sample_weight, xp, device, dtypes)


# ------------------------------------------------------------ predict-time fast path
#
# predict/transform on one NumPy row must cost little more than the arithmetic. For the
# common case (a float32/float64 ndarray with the fitted number of columns, on a model
# fitted with NumPy, finite values) the checks below are enough: they return exactly
# what the full path returns. Anything else, including every input the full path would
# reject, goes through the full path, so errors and their messages do not change.

_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
#: The namespace the full path resolves for NumPy arrays (array_api_compat.numpy), the
#: very same module object, so that downstream code behaves identically.
_NUMPY_XP = numpy_namespace()
#: (dtype policy, input dtype) -> (DtypePlan, dtype to cast X to or None). On NumPy the
#: plan for float input depends on nothing else; at most 4 x 2 entries.
_NUMPY_PLANS: dict[tuple[str, np.dtype], tuple[DtypePlan, Any]] = {}
#: Up to this many values, finiteness is checked by counting isfinite (it raises no
#: floating-point flags, so no np.errstate, whose context costs more than the whole check
#: on one row); above, with one sum under np.errstate, which allocates nothing.
_SMALL_FINITE_CHECK = 4096
_isfinite = np.isfinite
_count_nonzero = np.count_nonzero
_sum = np.add.reduce
_new_tuple = tuple.__new__


def _numpy_plan(policy: str, dtype: np.dtype) -> tuple[DtypePlan, Any] | None:
    """The dtype plan of float ``dtype`` input under ``policy`` on NumPy, memoized in
    ``_NUMPY_PLANS`` (None for an unknown policy: the full path raises its error)."""
    if policy not in DTYPE_POLICIES:
        return None
    plan = resolve_dtypes(_NUMPY_XP, "cpu", dtype, policy)
    cast_to = None if np.dtype(plan.compute) is dtype else plan.compute
    entry = _NUMPY_PLANS[(policy, dtype)] = (plan, cast_to)
    return entry


def _numpy_inference_fast_path(
    estimator: Any, X: np.ndarray, ensure_min_samples: int, n_features: int | None
) -> Validated | None:
    """What the full path returns for an ordinary ndarray at predict time, or None.

    None (take the full path) unless X is 2-D, float32 or float64 (native byte order),
    has enough rows and the expected columns, the estimator is fitted on NumPy/CPU, the
    dtype policy is a known one and X is finite (or ``assume_finite`` is set).
    """
    dtype = X.dtype
    if (dtype is not _FLOAT64 and dtype is not _FLOAT32) or X.ndim != 2:
        return None
    fitted_features = getattr(estimator, "n_features_in_", None)
    context = getattr(estimator, "_fit_context", None)
    if fitted_features is None or context is None:
        return None
    n_samples, n_columns = X.shape
    expected = fitted_features if n_features is None else n_features
    if n_columns != expected or n_columns < 1 or n_samples < ensure_min_samples:
        return None
    if context[0] != "numpy" or context[1] != "cpu":
        return None
    config = _config.get()  # read-only: get_config() would copy the dict
    policy = getattr(estimator, "dtype_policy", None)
    if policy is None:
        policy = config["dtype_policy"]
    if type(policy) is not str:
        return None
    entry = _NUMPY_PLANS.get((policy, dtype))
    if entry is None:
        entry = _numpy_plan(policy, dtype)
        if entry is None:
            return None
    plan, cast_to = entry
    if cast_to is not None:
        # a float64 -> float32 cast may overflow: stay silent here, the full path then
        # recasts (and warns, once) and reports the infinity
        with np.errstate(over="ignore", invalid="ignore"):
            X = X.astype(cast_to, copy=False)
    if not config["assume_finite"]:
        size = X.size
        if size <= _SMALL_FINITE_CHECK:
            if _count_nonzero(_isfinite(X)) != size:
                return None
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                total = _sum(X, axis=None)
            if not math.isfinite(total):
                return None  # NaN/inf, or an overflowing sum: the full path decides
    # tuple.__new__: the NamedTuple constructor's keyword handling costs as much again
    return _new_tuple(Validated, (X, None, None, _NUMPY_XP, "cpu", plan))


def _check_feature_names(estimator: Any, feature_names: Any, prefix: str) -> None:
    """At predict/transform time, named columns must be those seen at fit, in order."""
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None or feature_names is None:
        return
    if len(fitted) != len(feature_names) or not all(
        str(a) == str(b) for a, b in zip(fitted, feature_names, strict=True)
    ):
        raise ValueError(
            f"{prefix}The feature names should match those that were passed during fit: "
            f"fitted with {list(fitted)}, got {list(feature_names)}."
        )


def _check_same_as_fit(
    estimator: Any, X: Any, y: Any, sample_weight: Any, prefix: str
) -> tuple[ModuleType, Any]:
    """At predict/transform time, inputs must live where the fitted attributes live."""
    fit_namespace, fit_device, _ = estimator._fit_context
    if _is_sparse(X):
        # the clear "sparse is not supported" error, not a misleading namespace mismatch
        _to_namespace_input(X, "X", prefix, numpy_namespace(), "cpu")
    if not is_array(X):
        # array-likes (lists, DataFrames) go where the model lives
        from xplearn._xp import resolve_namespace

        return resolve_namespace(fit_namespace), fit_device
    xp, device = get_namespace_and_device(
        X, y, sample_weight, names=("X", "y", "sample_weight"), method=prefix[:-2]
    )
    name = type(estimator).__name__
    if namespace_name(xp) != fit_namespace or not same_device(device, fit_device):
        raise ValueError(
            f"{prefix}X must use the same namespace and device as the fitted {name}: it was "
            f"fitted on {fit_namespace} ({fit_device}), but X is {namespace_name(xp)} "
            f"({device}). Move the model with xplearn.convert({name.lower()}, "
            f"to={namespace_name(xp)!r}) or the data to {fit_namespace}."
        )
    return xp, device


def _inference_dtypes(
    estimator: Any, xp: ModuleType, device: Any, input_dtype: Any, policy: Any, prefix: str
) -> DtypePlan:
    """Dtypes for predict/transform: the input's float dtype under "preserve" (so float32
    in gives float32 out), the fitted dtype for integer input, the policy's otherwise."""
    if xp.isdtype(input_dtype, "real floating"):
        return resolve_dtypes(xp, device, input_dtype, policy, method=prefix[:-2])
    fitted = estimator._fit_context[2]
    return DtypePlan(fitted, fitted)


def _is_host_labels(y: Any) -> bool:
    return y is not None and (isinstance(y, np.ndarray) or not is_array(y))


def _validate_labels(xp: ModuleType, y: Any, n_samples: int, prefix: str) -> Any:
    """Class labels: 1-D, one per sample, no NaN; host labels stay NumPy arrays."""
    if _is_sparse(y):
        raise TypeError(f"{prefix}y is a sparse matrix, but class labels must be dense.")
    if _is_host_labels(y):
        y = np.asarray(y)
        label_xp = numpy_namespace()
    else:
        label_xp = xp
    if y.ndim == 2 and y.shape[1] == 1:
        import warnings

        from sklearn.exceptions import DataConversionWarning

        # scikit-learn's checks match the start of this message: the method comes last
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            f"shape of y to (n_samples,), for example using ravel() (in {prefix[:-2]}).",
            DataConversionWarning,
            stacklevel=3,
        )
        y = label_xp.reshape(y, (-1,))
    if y.ndim != 1:
        raise ValueError(
            f"{prefix}y must be 1D of shape (n_samples,) with one class label per sample, "
            f"got shape {tuple(y.shape)}."
        )
    if y.shape[0] != n_samples:
        raise ValueError(
            f"{prefix}X and y have inconsistent numbers of samples: X has {n_samples}, y has "
            f"{y.shape[0]}. Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {y.shape[0]}]"
        )
    if isinstance(y, np.ndarray) and y.dtype.kind in "OUS":
        if y.dtype.kind == "O" and any(label is None for label in y.tolist()):
            raise ValueError(f"{prefix}y contains None; every sample needs a class label.")
        return y
    if label_xp.isdtype(y.dtype, "complex floating"):
        raise ValueError(f"{prefix}Complex data not supported: y has dtype {y.dtype}.")
    if label_xp.isdtype(y.dtype, "real floating"):
        _check_finite(label_xp, y, "y", prefix)
        if not bool(label_xp.all(label_xp.round(y) == y)):
            raise ValueError(
                f"{prefix}Unknown label type: continuous. A classifier needs class labels, "
                "but y holds non-integer floats; use a regressor for a continuous target, "
                "or encode the classes as integers or strings."
            )
    return y


def _validate_y(
    xp: ModuleType,
    device: Any,
    y: Any,
    n_samples: int,
    dtype: Any,
    prefix: str,
    defer_finite_check: bool = False,
) -> Any:
    y = _to_namespace_input(y, "y", prefix, xp, device)
    _check_dtype(xp, y, "y", prefix)
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{prefix}y must be 1D of shape (n_samples,) or 2D of shape (n_samples, "
            f"n_targets), got shape {tuple(y.shape)}."
        )
    if y.shape[0] != n_samples:
        raise ValueError(
            f"{prefix}X and y have inconsistent numbers of samples: X has {n_samples}, y has "
            f"{y.shape[0]}. Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {y.shape[0]}]"
        )
    y = xp.astype(y, dtype, copy=False)
    if defer_finite_check:  # lazy y, checked in its graph like X
        return _finite_when_computed(y, prefix, "y")
    _check_finite(xp, y, "y", prefix)
    return y


def check_sample_weight(
    sample_weight: Any,
    n_samples: int,
    *,
    xp: ModuleType,
    device: Any,
    dtype: Any,
    prefix: str = "",
) -> Any:
    """Validate ``sample_weight`` and return it as an array of ``xp`` on ``device``.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or float
        A scalar means the same weight for every sample.
    n_samples : int
        Number of samples of X.
    xp, device, dtype
        Namespace, device and dtype of the result.
    prefix : str
        Method name prefix for messages.

    Returns
    -------
    array of shape (n_samples,)

    Raises
    ------
    ValueError
        Wrong shape, NaN/inf, negative values, or weights summing to zero.
    """
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, (bool, np.bool_)):
        sample_weight = xp.full((n_samples,), float(sample_weight), dtype=dtype, device=device)
    else:
        sample_weight = _to_namespace_input(sample_weight, "sample_weight", prefix, xp, device)
        _check_dtype(xp, sample_weight, "sample_weight", prefix)
        if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
            raise ValueError(
                f"{prefix}sample_weight.shape == {tuple(sample_weight.shape)}, expected "
                f"({n_samples},): one weight per sample."
            )
        sample_weight = xp.astype(sample_weight, dtype, copy=False)
    if is_lazy(xp):
        _check_lazy_weights(xp, sample_weight, prefix)
        return sample_weight
    _check_finite(xp, sample_weight, "sample_weight", prefix)
    if bool(xp.any(sample_weight < 0)):
        raise ValueError(f"{prefix}sample_weight has negative values; weights must be >= 0.")
    if not bool(xp.sum(sample_weight) > 0):
        raise ValueError(f"{prefix}sample_weight sums to zero; at least one must be positive.")
    return sample_weight


def _check_lazy_weights(xp: ModuleType, sample_weight: Any, prefix: str) -> None:
    """The checks of :func:`check_sample_weight` on a Dask array in one computation: the
    sum and the minimum (a finite sum means finite weights, barring overflow; a NaN or an
    infinity is then located by the detailed check, on the error path only)."""
    import dask

    with np.errstate(over="ignore", invalid="ignore"):
        total, smallest = (
            float(value) for value in dask.compute(xp.sum(sample_weight), xp.min(sample_weight))
        )
    if not math.isfinite(total):
        _check_finite(xp, sample_weight, "sample_weight", prefix)
    if smallest < 0:
        raise ValueError(f"{prefix}sample_weight has negative values; weights must be >= 0.")
    if not total > 0:
        raise ValueError(f"{prefix}sample_weight sums to zero; at least one must be positive.")
