"""Feature scaling written once against the Array API: StandardScaler and MinMaxScaler."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

from xplearn._kernels._blocks import grouped_moments, to_host
from xplearn._xp import array_namespace, numpy_namespace, resolve_dtypes
from xplearn._xp._ops import is_lazy, to_scalar, weighted_mean, weighted_variance
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.utils.validation import method_name, validate_data

__all__ = ["MinMaxScaler", "StandardScaler"]


def _constant_features(xp: Any, variance: Any, mean: Any, n_samples: Any) -> Any:
    """Features whose variance is indistinguishable from rounding noise.

    A constant column can get a tiny non-zero variance from rounding; dividing by its
    square root would blow the column up. The bound is the floating-point error of the
    two-pass variance, as scikit-learn uses.
    """
    eps = xp.finfo(variance.dtype).eps
    upper_bound = n_samples * eps * variance + (n_samples * mean * eps) ** 2
    return variance <= upper_bound


def _forget(estimator: Any, names: tuple[str, ...]) -> None:
    """Drop fitted state, so that the next (partial) fit starts afresh."""
    for name in names + ("n_features_in_", "feature_names_in_", "_fit_context"):
        estimator.__dict__.pop(name, None)


def _batch_moments(
    xp: Any, X: Any, weights: Any, dtype: Any, with_std: bool
) -> tuple[Any, Any, Any]:
    """Mean, variance (None without ``with_std``) and total weight of one batch.

    The batch is shifted by its first row before summing (the "shifted data" algorithm):
    a constant feature then gets exactly its value as mean and exactly 0 as variance, and
    data far from 0 relative to its spread loses no precision to the offset, which
    matters when ``dtype`` is float32.
    """
    X = xp.astype(X, dtype, copy=False)
    shift = X[0, :]
    centered = X - shift
    mean, count = weighted_mean(xp, centered, weights, dtype)
    variance = weighted_variance(xp, centered, weights, mean, dtype) if with_std else None
    return mean + shift, variance, count


def _blocks_moments(X: Any, weights: Any, accumulate: Any, with_std: bool) -> tuple[Any, Any, Any]:
    """A lazy batch's ``(mean, variance, count)`` as host arrays of ``accumulate``, as
    :func:`_batch_moments` gives them in memory (variance None without ``with_std``), from
    one computation: the blocks' means and squared deviations, merged on the host in
    float64 (:func:`~xplearn._kernels._blocks.grouped_moments`)."""
    moments = grouped_moments(X, sample_weight=weights, extremes=True)
    total = moments.weights[0]
    mean, variance = moments.means[0], moments.squares[0] / total
    # a constant column gets exactly its value and variance 0, as the shifted sums in
    # memory give it (a mean summed from the blocks can be off by a rounding error)
    constant = moments.minimums[0] == moments.maximums[0]
    mean = np.where(constant, moments.minimums[0], mean)
    variance = np.where(constant, 0.0, variance)
    dtype = np.dtype(accumulate)
    variance = variance.astype(dtype) if with_std else None
    return mean.astype(dtype), variance, np.asarray(total, dtype=dtype)


class _Running(NamedTuple):
    """What a scaler saw before this batch: its count (total weight), stored mean and
    variance, and what storing the mean in float32 rounded off ("mixed"), or None."""

    seen: Any
    mean: Any
    var: Any
    residual: Any


def _running_state(scaler: Any, host: bool) -> _Running:
    """The scaler's running statistics; on the host (one computation of the small fitted
    Dask arrays) for a fit made of host statistics."""
    mean, var, residual = scaler.mean_, scaler.var_, getattr(scaler, "_mean_residual", None)
    if host:
        present = [array for array in (mean, var, residual) if array is not None]
        values = iter(to_host(*present))
        mean, var, residual = (
            None if array is None else next(values) for array in (mean, var, residual)
        )
    return _Running(scaler.n_samples_seen_, mean, var, residual)


def _running_mean(xp: Any, running: _Running, dtype: Any) -> Any:
    """The running mean in ``dtype``, with what float32 storage rounded off restored."""
    mean = xp.astype(running.mean, dtype)
    if running.residual is not None:
        mean = mean + xp.astype(running.residual, dtype)
    return mean


def _combine_moments(
    xp: Any, running: _Running, batch_mean: Any, batch_variance: Any, batch_count: Any, dtype: Any
) -> tuple[Any, Any, Any]:
    """Merge a batch's mean and variance into the scaler's running ones.

    Chan, Golub & LeVeque's pairwise update: with ``delta = batch_mean - mean``,
    ``mean += delta * n_b / n`` and ``M2 = M2_a + M2_b + delta**2 * n_a * n_b / n``, where
    ``M2 = variance * count``. Counts are sums of weights when the batches were weighted.
    """
    seen = running.seen
    mean = _running_mean(xp, running, dtype)
    total = batch_count + seen
    delta = batch_mean - mean
    new_mean = mean + delta * (batch_count / total)
    if batch_variance is None:
        return new_mean, None, total
    variance = xp.astype(running.var, dtype)
    m2 = (
        variance * seen
        + batch_variance * batch_count
        + delta * delta * (seen * batch_count / total)
    )
    return new_mean, m2 / total, total


def _scaler_statistics(
    xp: Any,
    device: Any,
    batch: tuple[Any, Any, Any],
    running: _Running | None,
    with_std: bool,
    compute: Any,
    accumulate: Any,
) -> tuple[Any, Any, Any, Any]:
    """``(mean_, var_, scale_, residual)`` of a StandardScaler from one batch's ``(mean,
    variance, count)`` in ``accumulate`` and what it saw before (None on a first call).

    The final step of every fit: in memory in the data's namespace, after a blockwise
    pass on the host (NumPy) from the merged block statistics. ``var_`` and ``scale_``
    are None without ``with_std``; ``residual`` (what storing the mean in ``compute``
    rounded off) is None unless ``accumulate`` is wider than ``compute``.
    """
    mean, variance, count = batch
    if running is not None:
        mean, variance, count = _combine_moments(xp, running, mean, variance, count, accumulate)
    var = scale = residual = None
    if with_std:
        constant = _constant_features(xp, variance, mean, count)
        one = xp.asarray(1.0, dtype=accumulate, device=device)
        var = xp.astype(variance, compute)
        scale = xp.astype(xp.where(constant, one, xp.sqrt(variance)), compute)
    stored_mean = xp.astype(mean, compute)
    if accumulate != compute:
        # "mixed": keep what storing the mean in float32 rounded off, so that later
        # partial_fit calls combine with the float64 mean (the variance needs no such
        # care: its float32 rounding is relative to itself)
        residual = xp.astype(mean - xp.astype(stored_mean, accumulate), compute)
    return stored_mean, var, scale, residual


class StandardScaler(XPEstimatorMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardize features by removing the mean and scaling to unit variance.

    ``z = (x - mean_) / scale_``, with statistics computed over the samples, optionally
    weighted. Runs on every backend; the fitted attributes live in the namespace and on the
    device of the training data.

    Parameters
    ----------
    copy : bool, default=True
        Kept for scikit-learn compatibility; xplearn never scales its input in place.
    with_mean : bool, default=True
        Center the data before scaling.
    with_std : bool, default=True
        Scale the data to unit variance.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and of the fitted attributes; None takes the configured
        default (``"preserve"``). ``"preserve"``: float32 data gives float32 statistics,
        float64 gives float64, integers the device's default float. ``"mixed"``: float32
        storage with the means and variances accumulated in float64 where the device has
        it, then stored in float32.

    Attributes
    ----------
    scale_ : array of shape (n_features,) or None
        Per-feature scaling (standard deviation, 1 for constant features); None if
        ``with_std=False``.
    mean_ : array of shape (n_features,) or None
        Per-feature mean; None if both ``with_mean`` and ``with_std`` are False.
    var_ : array of shape (n_features,) or None
        Per-feature variance (ddof=0); None if ``with_std=False``.
    n_samples_seen_ : int or float
        Samples seen (the sum of the weights when ``sample_weight`` was given).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The scikit-learn estimator this mirrors.

    Notes
    -----
    On a Dask array, ``fit`` and ``partial_fit`` make **one** pass over the row blocks
    (their weighted means and squared deviations, merged on the host with Chan et al.'s
    pairwise update; X's finiteness is checked in the same pass), plus the validation of
    lazy ``sample_weight``, and one more in a later ``partial_fit`` to read the running
    statistics; the fitted arrays are small in-memory Dask arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.preprocessing import StandardScaler
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    >>> StandardScaler().fit(X).transform(X)
    array([[-1.22474487,  0.        ],
           [ 0.        ,  0.        ],
           [ 1.22474487,  0.        ]])
    """

    _capabilities: ClassVar[Capabilities] = Capabilities(onnx_methods=("transform",))

    def __init__(self, *, copy=True, with_mean=True, with_std=True, dtype_policy=None):
        self.copy = copy
        self.with_mean = with_mean
        self.with_std = with_std
        self.dtype_policy = dtype_policy

    def fit(self, X, y=None, sample_weight=None):
        """Compute the mean and standard deviation of every feature.

        Forgets what earlier calls to :meth:`fit` or :meth:`partial_fit` saw.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        self : StandardScaler
            The fitted scaler.
        """
        _forget(self, ("n_samples_seen_", "mean_", "var_", "scale_", "_mean_residual"))
        return self._partial_fit(X, sample_weight, "fit")

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the mean and standard deviation with one more batch of samples.

        The first call fixes the namespace, device, dtype and number of features; later
        batches must match them. Batches are combined with the parallel formula of Chan,
        Golub and LeVeque, so any split of the data gives the statistics of the whole
        (up to rounding).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of training data.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample of the batch.

        Returns
        -------
        self : StandardScaler
            The updated scaler.
        """
        return self._partial_fit(X, sample_weight, "partial_fit")

    def _partial_fit(self, X, sample_weight, method):
        first_call = not hasattr(self, "n_samples_seen_")
        needs_moments = self.with_mean or self.with_std
        # the one pass over lazy data checks its values (without moments there is none)
        data = validate_data(
            self,
            X,
            method=method,
            reset=first_call,
            sample_weight=sample_weight,
            defer_finite_check=needs_moments,
        )
        xp, device, weights = data.xp, data.device, data.sample_weight
        if first_call:
            compute, accumulate = data.dtypes.compute, data.dtypes.accumulate
        else:
            # later batches are computed in the dtypes of the first one
            compute = self._fit_context[2]
            plan = resolve_dtypes(xp, device, compute, self.dtype_policy)
            accumulate = plan.accumulate if plan.compute == compute else compute
        X = xp.astype(data.X, compute, copy=False)

        if weights is None:
            batch_seen = X.shape[0]
        if not needs_moments:
            if weights is not None:
                batch_seen = to_scalar(xp.sum(xp.astype(weights, accumulate)))
            self.n_samples_seen_ = batch_seen + (0 if first_call else self.n_samples_seen_)
            self.mean_ = self.var_ = self.scale_ = None
            return self

        lazy = is_lazy(xp)
        if lazy:
            # one pass over the blocks; the rest on the host, as in memory
            batch = _blocks_moments(X, weights, accumulate, self.with_std)
            fit_xp, fit_device = numpy_namespace(), "cpu"
            accumulate, compute = np.dtype(accumulate), np.dtype(compute)
        else:
            batch = _batch_moments(xp, X, weights, accumulate, self.with_std)
            fit_xp, fit_device = xp, device
        if weights is not None:
            batch_seen = to_scalar(batch[2])
        running = None if first_call else _running_state(self, host=lazy)
        fitted = _scaler_statistics(
            fit_xp, fit_device, batch, running, self.with_std, compute, accumulate
        )
        if lazy:  # small in-memory Dask arrays, not graphs over X
            fitted = [None if array is None else xp.asarray(array) for array in fitted]
        self.mean_, self.var_, self.scale_, residual = fitted
        if residual is None:
            self.__dict__.pop("_mean_residual", None)
        else:
            self._mean_residual = residual
        self.n_samples_seen_ = batch_seen + (0 if first_call else self.n_samples_seen_)
        return self

    def transform(self, X, copy=None):
        """Standardize X with the fitted statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the scaler was fitted on.
        copy : bool, default=None
            Ignored: the input is never modified.

        Returns
        -------
        X_new : array of shape (n_samples, n_features)
            Scaled data, same namespace and device as X.
        """
        X_new = self._validated_infer("transform", X)
        if X_new is X:  # nothing to do: still return a new array, never the input itself
            X_new = array_namespace(X_new).asarray(X_new, copy=True)
        return X_new

    def _infer(self, method: str, xp: Any, X: Any) -> Any:
        X_new = X
        if self.with_mean:
            (mean,) = self._fitted_arrays(X.dtype, "mean_")
            X_new = X_new - mean
        if self.with_std:
            (scale,) = self._fitted_arrays(X.dtype, "scale_")
            X_new = X_new / scale
        return X_new

    def inverse_transform(self, X, copy=None):
        """Undo the scaling: ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Scaled data.
        copy : bool, default=None
            Ignored: the input is never modified.

        Returns
        -------
        X_original : array of shape (n_samples, n_features)
        """
        data = validate_data(self, X, method="inverse_transform", reset=False)
        X_original = data.X
        if self.with_std:
            (scale,) = self._fitted_arrays(data.dtypes.compute, "scale_")
            X_original = X_original * scale
        if self.with_mean:
            (mean,) = self._fitted_arrays(data.dtypes.compute, "mean_")
            X_original = X_original + mean
        if X_original is X:
            X_original = data.xp.asarray(X_original, copy=True)
        return X_original


def _minmax_statistics(
    xp: Any, device: Any, batch: tuple[Any, Any], seen: tuple[Any, Any] | None, low, high
) -> tuple[Any, Any, Any, Any, Any]:
    """``(scale_, min_, data_min_, data_max_, data_range_)`` of a MinMaxScaler from one
    batch's column ``(minimums, maximums)`` and those seen before (None on a first call).

    The final step of every fit: in memory in the data's namespace, after a blockwise
    pass on the host (NumPy) from the merged block extremes.
    """
    data_min, data_max = batch
    if seen is not None:
        data_min = xp.minimum(seen[0], data_min)
        data_max = xp.maximum(seen[1], data_max)
    data_range = data_max - data_min
    # ranges within rounding noise of zero count as constant features (scale 1), as
    # in scikit-learn; dividing by them would blow the feature up
    eps = xp.finfo(data_range.dtype).eps
    one = xp.asarray(1.0, dtype=data_range.dtype, device=device)
    safe_range = xp.where(data_range < 10 * eps, one, data_range)
    scale = (high - low) / safe_range
    return scale, low - data_min * scale, data_min, data_max, data_range


_MINMAX_STATE = ("n_samples_seen_", "min_", "scale_", "data_min_", "data_max_", "data_range_")


class MinMaxScaler(XPEstimatorMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale each feature to a given range.

    ``X_scaled = X * scale_ + min_`` where ``scale_ = (max - min) / (data_max_ -
    data_min_)`` over ``feature_range = (min, max)``; constant features get scale 1.

    Parameters
    ----------
    feature_range : tuple (min, max), default=(0, 1)
        Desired range of the transformed data.
    copy : bool, default=True
        Kept for scikit-learn compatibility; the input is never modified.
    clip : bool, default=False
        Clip transformed values of unseen data to ``feature_range``.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and fitted attributes; None takes the configured default.
        Minima and maxima are exact in any dtype, so ``"mixed"`` behaves as float32.

    Attributes
    ----------
    min_ : array of shape (n_features,)
        Per-feature offset.
    scale_ : array of shape (n_features,)
        Per-feature relative scaling.
    data_min_ : array of shape (n_features,)
        Per-feature minimum seen.
    data_max_ : array of shape (n_features,)
        Per-feature maximum seen.
    data_range_ : array of shape (n_features,)
        ``data_max_ - data_min_``.
    n_samples_seen_ : int
        Number of samples seen.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    sklearn.preprocessing.MinMaxScaler : The scikit-learn estimator this mirrors.

    Notes
    -----
    On a Dask array, ``fit`` and ``partial_fit`` make **one** pass over the row blocks
    (their column extremes, merged on the host; X's finiteness is checked in the same
    pass), and one more in a later ``partial_fit`` to read the extremes seen before; the
    fitted arrays are small in-memory Dask arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.preprocessing import MinMaxScaler
    >>> MinMaxScaler().fit_transform(np.array([[1.0, -1.0], [3.0, 1.0]]))
    array([[0., 0.],
           [1., 1.]])
    """

    _capabilities: ClassVar[Capabilities] = Capabilities(onnx_methods=("transform",))

    def __init__(self, feature_range=(0, 1), *, copy=True, clip=False, dtype_policy=None):
        self.feature_range = feature_range
        self.copy = copy
        self.clip = clip
        self.dtype_policy = dtype_policy

    def fit(self, X, y=None):
        """Compute the per-feature minimum and maximum.

        Forgets what earlier calls to :meth:`fit` or :meth:`partial_fit` saw.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : MinMaxScaler
            The fitted scaler.
        """
        _forget(self, _MINMAX_STATE)
        return self._partial_fit(X, "fit")

    def partial_fit(self, X, y=None):
        """Update the per-feature minimum and maximum with one more batch of samples.

        The first call fixes the namespace, device, dtype and number of features; later
        batches must match them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of training data.
        y : None
            Ignored.

        Returns
        -------
        self : MinMaxScaler
            The updated scaler.
        """
        return self._partial_fit(X, "partial_fit")

    def _partial_fit(self, X, method):
        low, high = self._checked_range(method)
        first_call = not hasattr(self, "n_samples_seen_")
        # the one pass over lazy data checks its values
        data = validate_data(self, X, method=method, reset=first_call, defer_finite_check=True)
        xp = data.xp
        X = data.X if first_call else xp.astype(data.X, self._fit_context[2], copy=False)
        n_samples_seen = X.shape[0]
        if not first_call:
            n_samples_seen = n_samples_seen + self.n_samples_seen_
        if is_lazy(xp):
            # one pass: the blocks' extremes, merged on the host; the rest on the host, as
            # in memory (extremes are exact in float64, so the cast back loses nothing)
            moments = grouped_moments(X, extremes=True)
            dtype = np.dtype(X.dtype)
            batch = (moments.minimums[0].astype(dtype), moments.maximums[0].astype(dtype))
            seen = None if first_call else to_host(self.data_min_, self.data_max_)
            fitted = _minmax_statistics(numpy_namespace(), "cpu", batch, seen, low, high)
            # small in-memory Dask arrays, not graphs over X
            fitted = [xp.asarray(array) for array in fitted]
        else:
            batch = (xp.min(X, axis=0), xp.max(X, axis=0))
            seen = None if first_call else (self.data_min_, self.data_max_)
            fitted = _minmax_statistics(xp, data.device, batch, seen, low, high)
        self.scale_, self.min_, self.data_min_, self.data_max_, self.data_range_ = fitted
        self.n_samples_seen_ = n_samples_seen
        return self

    def _checked_range(self, method: str) -> tuple[float, float]:
        low, high = self.feature_range
        if not low < high:
            raise ValueError(
                f"{method_name(self, method)}: minimum of the desired feature range must be "
                f"smaller than its maximum; got feature_range={self.feature_range!r}."
            )
        return float(low), float(high)

    def transform(self, X):
        """Scale X to ``feature_range``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the scaler was fitted on.

        Returns
        -------
        X_new : array of shape (n_samples, n_features)
        """
        # _infer checks feature_range when clip is set
        return self._validated_infer("transform", X)

    def _infer(self, method: str, xp: Any, X: Any) -> Any:
        scale, offset = self._fitted_arrays(X.dtype, "scale_", "min_")
        X_new = X * scale + offset
        if self.clip:
            low, high = self._checked_range(method)
            X_new = xp.clip(X_new, low, high)
        return X_new

    def inverse_transform(self, X):
        """Undo the scaling: ``(X - min_) / scale_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Scaled data.

        Returns
        -------
        X_original : array of shape (n_samples, n_features)
        """
        data = validate_data(self, X, method="inverse_transform", reset=False)
        scale, offset = self._fitted_arrays(data.dtypes.compute, "scale_", "min_")
        return (data.X - offset) / scale
