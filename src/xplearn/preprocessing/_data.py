"""Feature scaling written once against the Array API: StandardScaler and MinMaxScaler."""

from __future__ import annotations

from typing import Any, ClassVar

from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

from xplearn._xp import array_namespace, resolve_dtypes
from xplearn._xp._ops import to_scalar, weighted_mean, weighted_variance
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


def _running_mean(xp: Any, scaler: Any, dtype: Any) -> Any:
    """The running mean in ``dtype``, with what float32 storage rounded off restored."""
    mean = xp.astype(scaler.mean_, dtype)
    residual = getattr(scaler, "_mean_residual", None)
    if residual is not None:
        mean = mean + xp.astype(residual, dtype)
    return mean


def _combine_moments(
    xp: Any, scaler: Any, batch_mean: Any, batch_variance: Any, batch_count: Any, dtype: Any
) -> tuple[Any, Any, Any]:
    """Merge a batch's mean and variance into the scaler's running ones.

    Chan, Golub & LeVeque's pairwise update: with ``delta = batch_mean - mean``,
    ``mean += delta * n_b / n`` and ``M2 = M2_a + M2_b + delta**2 * n_a * n_b / n``, where
    ``M2 = variance * count``. Counts are sums of weights when the batches were weighted.
    """
    seen = scaler.n_samples_seen_
    mean = _running_mean(xp, scaler, dtype)
    total = batch_count + seen
    delta = batch_mean - mean
    new_mean = mean + delta * (batch_count / total)
    if batch_variance is None:
        return new_mean, None, total
    variance = xp.astype(scaler.var_, dtype)
    m2 = (
        variance * seen
        + batch_variance * batch_count
        + delta * delta * (seen * batch_count / total)
    )
    return new_mean, m2 / total, total


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
        data = validate_data(self, X, method=method, reset=first_call, sample_weight=sample_weight)
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
        if not (self.with_mean or self.with_std):
            if weights is not None:
                batch_seen = to_scalar(xp.sum(xp.astype(weights, accumulate)))
            self.n_samples_seen_ = batch_seen + (0 if first_call else self.n_samples_seen_)
            self.mean_ = self.var_ = self.scale_ = None
            return self

        mean, variance, count = _batch_moments(xp, X, weights, accumulate, self.with_std)
        if weights is not None:
            batch_seen = to_scalar(count)
        if not first_call:
            mean, variance, count = _combine_moments(xp, self, mean, variance, count, accumulate)
            batch_seen = batch_seen + self.n_samples_seen_
        self.n_samples_seen_ = batch_seen
        if self.with_std:
            constant = _constant_features(xp, variance, mean, count)
            one = xp.asarray(1.0, dtype=accumulate, device=device)
            scale = xp.where(constant, one, xp.sqrt(variance))
            self.var_ = xp.astype(variance, compute)
            self.scale_ = xp.astype(scale, compute)
        else:
            self.var_ = None
            self.scale_ = None
        self.mean_ = xp.astype(mean, compute)
        if accumulate != compute:
            # "mixed": keep what storing the mean in float32 rounded off, so that later
            # partial_fit calls combine with the float64 mean (the variance needs no such
            # care: its float32 rounding is relative to itself)
            self._mean_residual = xp.astype(mean - xp.astype(self.mean_, accumulate), compute)
        else:
            self.__dict__.pop("_mean_residual", None)
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
        data = validate_data(self, X, method=method, reset=first_call)
        xp = data.xp
        X = data.X if first_call else xp.astype(data.X, self._fit_context[2], copy=False)
        data_min = xp.min(X, axis=0)
        data_max = xp.max(X, axis=0)
        n_samples_seen = X.shape[0]
        if not first_call:
            data_min = xp.minimum(self.data_min_, data_min)
            data_max = xp.maximum(self.data_max_, data_max)
            n_samples_seen = n_samples_seen + self.n_samples_seen_
        data_range = data_max - data_min
        # ranges within rounding noise of zero count as constant features (scale 1), as
        # in scikit-learn; dividing by them would blow the feature up
        eps = xp.finfo(data_range.dtype).eps
        one = xp.asarray(1.0, dtype=X.dtype, device=data.device)
        safe_range = xp.where(data_range < 10 * eps, one, data_range)
        self.scale_ = (high - low) / safe_range
        self.min_ = low - data_min * self.scale_
        self.data_min_ = data_min
        self.data_max_ = data_max
        self.data_range_ = data_range
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
