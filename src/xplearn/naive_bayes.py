"""Gaussian naive Bayes written once against the Array API."""

from __future__ import annotations

import math
import numbers
from types import ModuleType
from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions

from xplearn._config import DTYPE_POLICIES
from xplearn._kernels._blocks import (
    Moments,
    grouped_moments,
    map_row_blocks,
    merge_moments,
    to_host,
)
from xplearn._kernels._xp_impl import STREAM_CHUNK_MIB, bytes_per_item, chunk_rows, row_chunks
from xplearn._xp import (
    array_namespace,
    device_of,
    is_array,
    move_to,
    namespace_name,
    numpy_namespace,
    resolve_dtypes,
    to_numpy,
)
from xplearn._xp._dtypes import statistics_dtype
from xplearn._xp._onnx import is_symbolic, row_max, softmax_rows
from xplearn._xp._ops import is_lazy, materialize
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.utils._labels import (
    decode_labels,
    encode_labels,
    encode_with_classes,
    is_host_labels,
)
from xplearn.utils.validation import method_name, validate_data, validate_params

__all__ = ["GaussianNB"]

#: scikit-learn common checks that the foundation's validation does not let pass yet.
_FITTED_STATE = (
    "classes_",
    "theta_",
    "var_",
    "class_count_",
    "class_prior_",
    "epsilon_",
    "_theta_residual",
    "_log_normalizer",
    "_root_half_precision",
    "_scale_bound",
)


# ---------------------------------------------------------------------------------------
# Helpers shared with discriminant_analysis (private to the two modules)


def _one_hot(xp: ModuleType, codes: Any, n_classes: int, dtype: Any, device: Any) -> Any:
    """``(n_samples, n_classes)`` indicator matrix of class ``codes``, built by comparison."""
    classes = xp.reshape(xp.arange(n_classes, dtype=codes.dtype, device=device), (1, -1))
    return xp.astype(xp.reshape(codes, (-1, 1)) == classes, dtype)


def _safe_log(xp: ModuleType, values: Any) -> Any:
    """``log(values)`` with ``-inf`` for zeros, without NumPy's divide-by-zero warning."""
    one = xp.asarray(1.0, dtype=values.dtype, device=device_of(values))
    minus_inf = xp.asarray(-math.inf, dtype=values.dtype, device=device_of(values))
    positive = values > 0
    return xp.where(positive, xp.log(xp.where(positive, values, one)), minus_inf)


def _logsumexp_rows(xp: ModuleType, values: Any) -> Any:
    """``log(sum(exp(values), axis=1))`` as scikit-learn computes it (``log1p`` of the
    non-maximal terms), stable for any finite or infinite entries; shape (n_samples, 1)."""
    device = device_of(values)
    dtype = values.dtype
    largest = row_max(xp, values, axis=1, keepdims=True)
    is_max = values == largest
    n_max = xp.sum(xp.astype(is_max, dtype), axis=1, keepdims=True)
    zero = xp.asarray(0.0, dtype=dtype, device=device)
    minus_inf = xp.asarray(-math.inf, dtype=dtype, device=device)
    shift = xp.where(xp.isfinite(largest), largest, zero)
    others = xp.where(is_max, minus_inf, values)
    total = xp.sum(xp.exp(others - shift), axis=1, keepdims=True)
    total = xp.where(total == 0, total, total / n_max)
    return xp.log1p(total) + xp.log(n_max) + largest


def _check_priors_shape(xp: ModuleType, priors: Any, n_classes: int, prefix: str) -> None:
    if priors.ndim != 1 or priors.shape[0] != n_classes:
        raise ValueError(
            f"{prefix}Number of priors must match number of classes: got priors of shape "
            f"{tuple(priors.shape)} for {n_classes} classes."
        )
    if not bool(xp.all(xp.isfinite(priors))):
        raise ValueError(f"{prefix}priors must be finite, got {to_numpy(priors).tolist()}.")


def _priors_array(xp: ModuleType, device: Any, priors: Any, dtype: Any, prefix: str) -> Any:
    """User priors (list, NumPy array or array of any namespace) as an array of ``xp``
    of ``dtype`` (cast on the host first: the device may lack float64)."""
    hxp = numpy_namespace()
    try:
        host = hxp.asarray(to_numpy(priors) if is_array(priors) else priors)
        host = hxp.astype(host, hxp.float64 if dtype == xp.float64 else hxp.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{prefix}priors must be an array of numbers, got {priors!r}.") from error
    return xp.astype(move_to(host, xp, device), dtype)


def _labels_like(xp: ModuleType, device: Any, y: Any, labels: Any, prefix: str) -> Any:
    """``labels`` (e.g. ``partial_fit``'s ``classes=``) in the form ``y`` came in: a NumPy
    array for host labels, else an array of ``xp`` on ``device`` of y's dtype."""
    if is_host_labels(y):
        return to_numpy(labels) if is_array(labels) else numpy_namespace().asarray(labels)
    if not is_array(labels) or _namespace_differs(xp, labels):
        labels = move_to(numpy_namespace().asarray(to_numpy(labels)), xp, device)
    labels = _as_label_dtype(xp, labels, y.dtype, prefix)
    return labels


def _namespace_differs(xp: ModuleType, array: Any) -> bool:
    return namespace_name(array_namespace(array)) != namespace_name(xp)


def _as_label_dtype(xp: ModuleType, labels: Any, dtype: Any, prefix: str) -> Any:
    """Cast device labels to ``dtype``, refusing casts that change a label (0.5 -> 0)."""
    if labels.dtype == dtype:
        return labels
    cast = xp.astype(labels, dtype)
    if not bool(xp.all(xp.astype(cast, labels.dtype) == labels)):
        raise ValueError(
            f"{prefix}classes {to_numpy(labels).tolist()} cannot be represented in the dtype "
            f"of y ({dtype})."
        )
    return cast


# ---------------------------------------------------------------------------------------
# The statistics of a fit: one batch's, merged with what was seen before


class _Running(NamedTuple):
    """What a model saw before this batch: its fitted class counts, means, variances and
    priors, and what storing the means in float32 rounded off ("mixed"), or None."""

    class_count: Any
    theta: Any
    var: Any
    class_prior: Any
    theta_residual: Any


def _class_statistics(
    xp: ModuleType, device: Any, X: Any, codes: Any, weights: Any, n_classes: int, smoothing: float
) -> tuple[Any, Any, Any, Any]:
    """One in-memory batch's ``(counts, means, variances, epsilon)`` per class, in X's
    dtype; the counts are sums of weights when weighted, epsilon is ``smoothing`` times
    the largest (unweighted) feature variance of the batch, as in scikit-learn."""
    dtype = X.dtype
    epsilon = smoothing * xp.max(xp.var(X, axis=0))
    # per-class weighted sums: products with the one-hot class matrix; two passes
    # (means, then squared deviations from them) as scikit-learn
    one_hot = _one_hot(xp, codes, n_classes, dtype, device)
    weighted = one_hot if weights is None else one_hot * xp.astype(weights, dtype)[:, None]
    counts = xp.sum(weighted, axis=0)
    one = xp.asarray(1.0, dtype=dtype, device=device)
    safe_counts = xp.where(counts > 0, counts, one)[:, None]
    batch_mean = (weighted.T @ X) / safe_counts
    centered = X - one_hot @ batch_mean  # exact: one 1 per row of one_hot
    batch_var = (weighted.T @ (centered * centered)) / safe_counts
    return counts, batch_mean, batch_var, epsilon


def _class_moments_block(
    block: Any, codes: Any, sample_weight: Any, n_classes: int
) -> tuple[Moments, Moments | None]:
    """The per-class (weighted) moments of one row block and, when weighted, the
    unweighted moments of all its rows (for epsilon), host float64."""
    by_class = grouped_moments(block, codes, sample_weight, n_groups=n_classes)
    unweighted = None if sample_weight is None else grouped_moments(block)
    return by_class, unweighted


def _blocks_class_statistics(
    X: Any, codes: Any, weights: Any, n_classes: int, accumulate: Any, smoothing: float
) -> tuple[Any, Any, Any, Any]:
    """A lazy batch's ``(counts, means, variances, epsilon)`` as host NumPy arrays of
    ``accumulate``, as :func:`_class_statistics` gives them in memory, from **one**
    computation: per-block moments (:func:`grouped_moments` on each block), merged on the
    host in float64 with Chan et al.'s pairwise update."""
    parts = map_row_blocks(_class_moments_block, X, codes, weights, constants=(n_classes,))
    by_class, unweighted = parts[0]
    for block_by_class, block_unweighted in parts[1:]:
        by_class = merge_moments(by_class, block_by_class)
        if unweighted is not None:
            unweighted = merge_moments(unweighted, block_unweighted)
    everything = by_class.pooled() if unweighted is None else unweighted
    dtype = np.dtype(accumulate)
    largest_variance = np.max(everything.squares[0] / everything.weights[0])
    counts = by_class.weights
    safe_counts = np.where(counts > 0, counts, 1.0)[:, None]
    return (
        counts.astype(dtype),
        by_class.means.astype(dtype),
        (by_class.squares / safe_counts).astype(dtype),
        np.asarray(smoothing * largest_variance.astype(dtype), dtype=dtype),
    )


def _fitted_statistics(
    xp: ModuleType,
    device: Any,
    batch: tuple[Any, Any, Any, Any],
    running: _Running | None,
    priors: Any,
    *,
    weighted: bool,
    fit_priors: bool,
    compute: Any,
    accumulate: Any,
) -> list[Any]:
    """The fitted arrays of a GaussianNB from one batch's ``(counts, means, variances,
    epsilon)`` in ``accumulate`` and what it saw before (None on a first call).

    The final step of every fit: in memory in the data's namespace, after a blockwise pass
    on the host (NumPy) from the merged block statistics. Returns ``[theta_, var_,
    class_count_, class_prior_, epsilon_, theta residual (None unless accumulate is wider
    than compute), log normalizer, inverse standard deviations, scale bound]`` (the
    last three: :func:`_gaussian_constants`).
    """
    counts, batch_mean, batch_var, epsilon = batch
    # scikit-learn leaves a class whose batch weights sum to ~0 (np.isclose) unchanged
    present = (counts > (1e-8 if weighted else 0.0))[:, None]
    if running is None:
        # classes absent from the first batch start at 0, as in scikit-learn
        zero = xp.asarray(0.0, dtype=accumulate, device=device)
        theta = xp.where(present, batch_mean, zero)
        var = xp.where(present, batch_var, zero)
        seen = counts
        prior = priors
    else:
        seen_before = xp.astype(running.class_count, accumulate)
        theta_before = xp.astype(running.theta, accumulate)
        if running.theta_residual is not None:
            theta_before = theta_before + xp.astype(running.theta_residual, accumulate)
        # as scikit-learn: the new epsilon is taken off the stored variances
        var_before = xp.astype(running.var, accumulate) - epsilon
        theta, var = _combine(
            xp, seen_before, theta_before, var_before, counts, batch_mean, batch_var
        )
        theta = xp.where(present, theta, theta_before)
        var = xp.where(present, var, var_before)
        seen = seen_before + counts
        prior = running.class_prior
    var = var + epsilon
    if fit_priors:
        prior = seen / xp.sum(seen)

    stored_theta = xp.astype(theta, compute)
    with np.errstate(over="ignore"):  # float32 data at 1e20: var_ and epsilon_ are inf
        stored_var = xp.astype(var, compute)  # (1e40), the inference constants are finite
        stored_epsilon = xp.astype(xp.asarray(epsilon, dtype=accumulate, device=device), compute)
    stored_prior = xp.astype(prior, compute)
    residual = None
    if accumulate != compute:
        # "mixed": keep what storing the means in float32 rounded off, so that later
        # partial_fit calls combine with the float64 means
        residual = xp.astype(theta - xp.astype(stored_theta, accumulate), compute)
    # what inference would recompute on every call, from the variances before they are
    # stored: float32 data at 1e-30 has variances (1e-60) that float32 cannot hold, but
    # its inverse standard deviations (1e30) and log-normalizers it can
    constants = _gaussian_constants(
        xp, var, xp.astype(prior, accumulate), xp.astype(theta, accumulate)
    )
    return [
        stored_theta,
        stored_var,
        xp.astype(seen, compute),
        stored_prior,
        stored_epsilon,
        residual,
        *(xp.astype(constant, compute) for constant in constants),
    ]


# ---------------------------------------------------------------------------------------


class GaussianNB(XPEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Gaussian naive Bayes.

    Each class is modelled by independent normal distributions of the features; the
    semantics are those of :class:`sklearn.naive_bayes.GaussianNB` (same variance
    smoothing, same online updates of Chan, Golub and LeVeque in :meth:`partial_fit`),
    computed with the array library of the input: NumPy, PyTorch, CuPy, Dask or any Array
    API namespace. Fitted attributes live in that namespace and on that device.

    Parameters
    ----------
    priors : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes (non-negative, summing to 1). If given, they
        are not adjusted to the data.
    var_smoothing : float, default=1e-9
        Portion of the largest variance of all features that is added to every variance,
        for numerical stability.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and fitted attributes; None takes the configured default
        (``"preserve"``). ``"preserve"``: float32 data gives float32 attributes and
        probabilities, float64 gives float64, integers the device's default float.
        ``"mixed"``: float32 storage, with the class counts, means and variances (and
        their online updates) accumulated in float64 where the device has it, then stored
        in float32.

    Attributes
    ----------
    classes_ : array of shape (n_classes,)
        Class labels, sorted. An array of X's namespace for numeric labels given in it,
        else a NumPy array (strings, lists); predictions come back in the same form.
    class_count_ : array of shape (n_classes,)
        Number of training samples (sum of their weights) seen in each class.
    class_prior_ : array of shape (n_classes,)
        Probability of each class.
    theta_ : array of shape (n_classes, n_features)
        Mean of each feature per class.
    var_ : array of shape (n_classes, n_features)
        Variance of each feature per class (including ``epsilon_``).
    epsilon_ : 0-d array
        Absolute additive value to variances: ``var_smoothing`` times the largest
        (unweighted) feature variance of the data of the last call to ``fit`` or
        ``partial_fit``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    sklearn.naive_bayes.GaussianNB : The scikit-learn estimator this mirrors.

    Notes
    -----
    The per-class sums are products of a one-hot class matrix with the data, so fitting
    has no Python loop over samples or classes. The inference methods are free of
    data-dependent Python control flow (they loop over the fitted classes only).

    On a Dask array, ``fit`` makes one computation to find the classes of lazy labels
    (none for NumPy labels) and **one** pass over the row blocks (per-class weighted
    means and squared deviations, merged on the host; X's finiteness is checked in the
    same pass), plus the validation of lazy ``sample_weight``; the fitted arrays are small
    in-memory Dask arrays. ``partial_fit`` merges a Dask batch as in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.naive_bayes import GaussianNB
    >>> X = np.array([[-1, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> y = np.array([1, 1, 1, 2, 2, 2])
    >>> GaussianNB().fit(X, y).predict([[-0.8, -1]])
    array([1])
    """

    _capabilities: ClassVar[Capabilities] = Capabilities(
        fallbacks={
            "dask": (
                "fit computes the class statistics in one pass (fitted attributes are "
                "in-memory Dask arrays); the classes are found with one compute"
            ),
        },
        onnx_methods=("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba"),
    )

    #: scikit-learn's constraints (sklearn.naive_bayes.GaussianNB's) and dtype_policy
    _parameter_constraints: ClassVar[dict] = {
        "priors": ["array-like", None],
        "var_smoothing": [Interval(numbers.Real, 0, None, closed="left")],
        "dtype_policy": [StrOptions(set(DTYPE_POLICIES)), None],
    }

    def __init__(self, *, priors=None, var_smoothing=1e-9, dtype_policy=None):
        self.priors = priors
        self.var_smoothing = var_smoothing
        self.dtype_policy = dtype_policy

    # -- fit ----------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit Gaussian naive Bayes to X, y.

        Forgets what earlier calls to :meth:`fit` or :meth:`partial_fit` saw.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace.
        y : array-like of shape (n_samples,)
            Class labels: an array of X's namespace and device, or a NumPy array or list
            of any labels (strings included). At least 2 classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        self : GaussianNB
            The fitted estimator.
        """
        # a fit that fails (invalid data, found in the one pass over a Dask array too)
        # leaves the model fitted before it as it was
        previous = {
            name: self.__dict__[name]
            for name in _FITTED_STATE + ("n_features_in_", "feature_names_in_", "_fit_context")
            if name in self.__dict__
        }
        self._forget()
        try:
            return self._partial_fit(X, y, None, sample_weight, "fit")
        except BaseException:
            self._forget()
            self.__dict__.update(previous)
            raise

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the model with one more batch of samples.

        The first call fixes the classes, namespace, device, dtype and number of
        features; later batches must match them. Per-class means and variances are
        combined as scikit-learn does (Chan, Golub and LeVeque's pairwise update).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of training data.
        y : array-like of shape (n_samples,)
            Class labels of the batch, each one of ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class that can appear in y. Required on the first call; later calls
            may omit it or must repeat the same classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample of the batch.

        Returns
        -------
        self : GaussianNB
            The updated estimator.
        """
        return self._partial_fit(X, y, classes, sample_weight, "partial_fit")

    def _forget(self) -> None:
        for name in _FITTED_STATE + ("n_features_in_", "feature_names_in_", "_fit_context"):
            self.__dict__.pop(name, None)

    def _check_params(self, method: str) -> float:
        validate_params(self, method)
        return float(self.var_smoothing)

    def _partial_fit(self, X, y, classes, sample_weight, method):
        prefix = f"{method_name(self, method)}: "
        smoothing = self._check_params(method)
        first_call = not hasattr(self, "classes_")
        if first_call and method == "partial_fit" and classes is None:
            raise ValueError(
                f"{prefix}classes must be passed on the first call to partial_fit: the list "
                "of every class that can appear in y."
            )
        try:
            return self._update(X, y, classes, sample_weight, method, prefix, smoothing, first_call)
        except BaseException:
            if first_call:  # a failed first call must not leave a half-fitted model
                self._forget()
            raise

    def _update(self, X, y, classes, sample_weight, method, prefix, smoothing, first_call):
        data = validate_data(
            self,
            X,
            y,
            method=method,
            reset=first_call,
            sample_weight=sample_weight,
            y_required=True,
            y_kind="labels",
            # the one pass over lazy data checks its values
            defer_finite_check=True,
        )
        xp, device, weights = data.xp, data.device, data.sample_weight
        if first_call:
            plan = data.dtypes
        else:
            # later batches are computed in the dtypes of the first one
            plan = resolve_dtypes(
                xp, device, self._fit_context[2], self.dtype_policy, method=prefix[:-2]
            )
        compute = plan.compute if first_call else self._fit_context[2]
        # the class means and variances are sums over samples: float64 where the device
        # has it (float32 data at 1e-30 has variances of 1e-60), as the dtype policy says
        accumulate = statistics_dtype(xp, device, plan, self.dtype_policy)
        if not first_call and plan.compute != compute:
            accumulate = compute

        codes, labels = self._encode(xp, device, data.y, classes, first_call, prefix)
        n_classes = labels.shape[0]
        X = xp.astype(data.X, compute, copy=False)
        lazy = is_lazy(xp)
        if lazy:
            # one pass over the blocks; the rest on the host, as in memory
            batch = _blocks_class_statistics(X, codes, weights, n_classes, accumulate, smoothing)
            fit_xp, fit_device = numpy_namespace(), "cpu"
            compute, accumulate = np.dtype(compute), np.dtype(accumulate)
        else:
            X = xp.astype(X, accumulate, copy=False)
            batch = _class_statistics(xp, device, X, codes, weights, n_classes, smoothing)
            fit_xp, fit_device = xp, device
        running = None if first_call else self._running_state(host=lazy)
        if first_call:
            priors = self._initial_priors(fit_xp, fit_device, n_classes, accumulate, prefix)
        fitted = _fitted_statistics(
            fit_xp,
            fit_device,
            batch,
            running,
            priors if first_call else None,
            weighted=weights is not None,
            fit_priors=self.priors is None,
            compute=compute,
            accumulate=accumulate,
        )
        if lazy:  # small in-memory Dask arrays, not graphs over X
            fitted = [None if array is None else xp.asarray(array) for array in fitted]
        else:
            fitted = materialize(xp, *fitted)
        (
            self.theta_,
            self.var_,
            self.class_count_,
            self.class_prior_,
            self.epsilon_,
            self._theta_residual,
            self._log_normalizer,
            self._root_half_precision,
            self._scale_bound,
        ) = fitted
        if first_call:
            self.classes_ = labels
        return self

    def _running_state(self, host: bool) -> _Running:
        """What the model saw before this batch; on the host (one computation of the
        small fitted Dask arrays) for a fit made of host statistics."""
        residual = getattr(self, "_theta_residual", None)
        state = [self.class_count_, self.theta_, self.var_, self.class_prior_]
        if host:
            state = to_host(*state, *([] if residual is None else [residual]))
            residual = None if residual is None else state.pop()
        return _Running(*state, residual)

    def _encode(self, xp, device, y, classes, first_call, prefix):
        """Class codes of y and the classes: found in y (``fit``), taken from ``classes``
        (first ``partial_fit``) or the fitted ones (later calls)."""
        if first_call and classes is None:
            encoded = encode_labels(xp, device, y, prefix)
            return encoded.codes, encoded.classes
        if first_call:
            given = _labels_like(xp, device, y, classes, prefix)
            labels = encode_labels(xp, device, given, prefix).classes
            return encode_with_classes(xp, device, y, labels, prefix), labels
        labels = self.classes_
        if classes is not None:
            given = _labels_like(xp, device, y, classes, prefix)
            given = encode_labels(xp, device, given, prefix, min_classes=1).classes
            # both on the host in one go (one computation of lazy ones)
            host_given, host_labels = to_host(given, labels)
            same = host_given.shape == host_labels.shape and bool(np.all(host_given == host_labels))
            if not same:
                raise ValueError(
                    f"{prefix}classes={host_given.tolist()} is not the same as on the "
                    f"last call to partial_fit, was: {host_labels.tolist()}."
                )
        return encode_with_classes(xp, device, y, labels, prefix), labels

    def _initial_priors(self, xp, device, n_classes, dtype, prefix):
        """Validated user priors, or None."""
        if self.priors is None:
            return None
        priors = _priors_array(xp, device, self.priors, dtype, prefix)
        _check_priors_shape(xp, priors, n_classes, prefix)
        total = xp.sum(priors)
        # np.isclose(total, 1.0): rtol=1e-5, atol=1e-8
        if not bool(xp.abs(total - 1.0) <= 1e-8 + 1e-5):
            raise ValueError(
                f"{prefix}The sum of the priors should be 1, got {float(to_numpy(total))}."
            )
        if bool(xp.any(priors < 0)):
            raise ValueError(
                f"{prefix}Priors must be non-negative, got {to_numpy(priors).tolist()}."
            )
        return priors

    # -- inference ----------------------------------------------------------------------

    def _infer(self, method: str, xp: ModuleType, X: Any) -> Any:
        joint, scale = self._joint_log_likelihood(xp, X)
        if method == "predict":  # a positive scale keeps the joint's argmax
            return decode_labels(self.classes_, xp.argmax(joint, axis=1))
        if scale is None:  # every value in range: the joint itself, as scikit-learn
            if method == "predict_joint_log_proba":
                return joint
            if method == "predict_proba":
                return softmax_rows(xp, joint, lambda values: xp.exp(_log_proba(xp, values)))
            return _log_proba(xp, joint)
        scale = scale[:, None]
        # back in log units: -inf where a value leaves the dtype (no warning: intended)
        with np.errstate(over="ignore"):
            if method == "predict_joint_log_proba":
                return joint * scale * scale
            # differences to the row's best class: 0 for the best, -inf only where a
            # probability underflows
            relative = (joint - row_max(xp, joint, axis=1, keepdims=True)) * scale * scale
        if method == "predict_proba":
            return softmax_rows(xp, relative, lambda values: xp.exp(_log_proba(xp, values)))
        return _log_proba(xp, relative)

    def _joint_log_likelihood(self, xp: ModuleType, X: Any) -> tuple[Any, Any]:
        """``(jll, None)``, the joint log-likelihood of each row and class, where every
        value is in the dtype's range; else ``(jll / s**2, s)`` with a per-row scale
        ``s`` (shape (n_rows,)): 1 for rows in range, a bound of the row's largest
        scaled deviation ``|x - theta| / std`` for the others.

        float32 rows at 1e20 have squared deviations of 1e40: unscaled, every class's
        log-likelihood is -inf and the probabilities NaN, although their differences
        (and so the probabilities) are representable. Computed arrays pay one check of
        the result (the scaled pass runs again only when a row left the range); ONNX
        graphs always take the scaled pass, which gives the same values for rows in range.
        """
        (theta,) = self._fitted_arrays(X.dtype, "theta_")
        bound = getattr(self, "_scale_bound", None)  # read here: lazy inference's twin has it
        if getattr(self, "_root_half_precision", None) is not None and X.dtype == self.var_.dtype:
            constant, inverse_std = self._log_normalizer, self._root_half_precision  # at fit
        elif getattr(self, "_root_half_precision", None) is not None:
            names = ("_log_normalizer", "_root_half_precision")
            constant, inverse_std = self._fitted_arrays(X.dtype, *names)
        else:  # a model without them (e.g. pickled by an older xplearn)
            var, prior = self._fitted_arrays(X.dtype, "var_", "class_prior_")
            constant, inverse_std, _ = _gaussian_constants(xp, var, prior, theta)
        if not is_symbolic(xp):
            with np.errstate(over="ignore"):  # an overflow takes the scaled pass below
                half = _half_distances(xp, X, theta, inverse_std, None)
            # half >= 0: its maximum is finite when every value is (NaN propagates)
            if math.isfinite(float(xp.max(half))):
                return constant - half, None
        if bound is not None:
            (bound,) = self._fitted_arrays(X.dtype, "_scale_bound")
        else:
            var, prior = self._fitted_arrays(X.dtype, "var_", "class_prior_")
            bound = _gaussian_constants(xp, var, prior, theta)[2]
        # s = max(1, bound / high) with |x - theta| * w <= bound = |x| * max_c(w) +
        # max |theta * w|: the scaled squares sum to at most n_features * high**2, a
        # quarter of the dtype's maximum; s is exactly 1 for rows in range
        high = math.sqrt(float(xp.finfo(X.dtype).max) / (4.0 * theta.shape[1]))
        bound = bound / high
        largest = row_max(xp, xp.abs(X) * bound[1:], axis=1) + bound[0]
        scale = xp.maximum(largest, xp.ones((), dtype=X.dtype, device=device_of(X)))
        inverse = 1.0 / scale
        half = _half_distances(xp, X, theta, inverse_std, inverse)
        inverse = inverse[:, None]
        return constant * (inverse * inverse) - half, scale

    def predict_joint_log_proba(self, X):
        """Joint log-probability ``log P(x, c)`` of each sample and class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        jll : array of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; same namespace and device as X.
        """
        return self._validated_infer("predict_joint_log_proba", X)

    def predict_log_proba(self, X):
        """Log-probability of each class for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        log_proba : array of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return self._validated_infer("predict_log_proba", X)

    def predict_proba(self, X):
        """Probability of each class for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        proba : array of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        return self._validated_infer("predict_proba", X)

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        y_pred : array of shape (n_samples,)
            Labels from ``classes_``: in X's namespace for device labels, a NumPy array for
            host labels.
        """
        return self._validated_infer("predict", X)


def _half_distances(
    xp: ModuleType, X: Any, theta: Any, inverse_std: Any, row_factor: Any | None
) -> Any:
    """Half the squared Mahalanobis distances ``sum(((x - theta) * w * f)**2)`` of every
    row and class (n_rows, n_classes), ``w = inverse_std = 1 / sqrt(2 var)``, with a
    per-row factor ``f`` (None: 1).

    The direct form keeps scikit-learn's precision (no expansion), the deviations are
    divided by the standard deviations before they are squared (no overflow of the
    squares of large deviations with large variances); the (rows, n_classes,
    n_features) deviations are made chunk by chunk of rows within working_memory (one
    chunk, hence a handful of ONNX nodes, when rows are symbolic); vecdot squares and
    sums in one call.
    """
    n_classes, n_features = theta.shape
    if X.shape[0] == 1:  # one row is one chunk whatever working_memory says
        weights = inverse_std if row_factor is None else inverse_std * row_factor
        deviation = (X[:, None, :] - theta[None, :, :]) * weights[None]
        return xp.vecdot(deviation, deviation)
    per_row = 2 * n_classes * n_features * bytes_per_item(xp, X.dtype)
    rows = chunk_rows(X.shape[0], per_row, STREAM_CHUNK_MIB)
    blocks = []
    for start, stop in row_chunks(X.shape[0], rows):
        chunk = X if start is None else X[start:stop, :]
        weights = inverse_std[None, :, :]
        if row_factor is not None:
            factor = row_factor if start is None else row_factor[start:stop]
            weights = weights * factor[:, None, None]
        deviation = (chunk[:, None, :] - theta[None, :, :]) * weights
        blocks.append(xp.vecdot(deviation, deviation))
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=0)


def _log_proba(xp: ModuleType, joint: Any) -> Any:
    """Normalised log-probabilities from the joint log-likelihood (as scikit-learn)."""
    return joint - _logsumexp_rows(xp, joint)


def _gaussian_constants(xp: ModuleType, var: Any, prior: Any, theta: Any) -> tuple[Any, Any, Any]:
    """The per-class terms of the joint log-likelihood that do not depend on the sample:
    ``log prior - sum(log(2 pi var)) / 2`` (n_classes,), ``w = 1 / sqrt(2 var)``
    (n_classes, n_features: the 1/2 of the exponent folded in, so that the half squared
    distances are ``sum(((x - theta) * w)**2)``), and the bound of the scaled deviations
    (n_features + 1,): ``[max |theta * w|, max over classes of w per feature]``."""
    constant = _safe_log(xp, prior) - 0.5 * xp.sum(xp.log((2.0 * math.pi) * var), axis=1)
    inverse_std = 1.0 / xp.sqrt(2.0 * var)
    bound = xp.concat(
        [
            xp.reshape(xp.max(xp.abs(theta * inverse_std)), (1,)),
            xp.max(inverse_std, axis=0),
        ]
    )
    return constant, inverse_std, bound


def _combine(xp, seen, theta, var, counts, batch_mean, batch_var):
    """Merge per-class batch means and variances into running ones (scikit-learn's
    ``GaussianNB._update_mean_variance``, for every class at once); classes not seen
    before take the batch's statistics."""
    total = seen + counts
    one = xp.asarray(1.0, dtype=total.dtype, device=device_of(total))
    safe_total = xp.where(total > 0, total, one)
    seen, counts, total = seen[:, None], counts[:, None], safe_total[:, None]
    new_theta = (counts * batch_mean + seen * theta) / total
    difference = theta - batch_mean
    ssd = seen * var + counts * batch_var + (counts * seen / total) * difference * difference
    new_var = ssd / total
    first = seen == 0
    return xp.where(first, batch_mean, new_theta), xp.where(first, batch_var, new_var)
