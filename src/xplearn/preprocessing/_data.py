"""Feature scaling written once against the Array API: StandardScaler and MinMaxScaler."""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import InvalidParameterError

from xplearn._kernels._blocks import grouped_moments, to_host
from xplearn._kernels._dispatch import column_moments
from xplearn._kernels._xp_impl import ColumnMoments, power_of_two_scale, scaled_product
from xplearn._xp import array_namespace, numpy_namespace, resolve_dtypes
from xplearn._xp._dtypes import statistics_dtype
from xplearn._xp._ops import is_lazy, to_scalar
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.utils.validation import method_name, validate_data, validate_params

__all__ = ["MinMaxScaler", "StandardScaler"]


def _constant_features(xp: Any, moments: ColumnMoments, count: float) -> Any:
    """Features whose variance is indistinguishable from rounding noise.

    scikit-learn's rule (``_is_constant_feature``), evaluated on the scaled moments (both
    sides scale by ``scale**2``, so nothing overflows): ``var <= n eps var + (n mean
    eps)**2``, the error bound of a two-pass variance, with the accumulator's ``eps``
    (float64 where the device has it, as scikit-learn). float32 accumulation is
    compensated, its error grows as ``log2(n)`` (bound in the dtype-policy page), and
    ``n`` is capped accordingly: with ``n eps32`` itself, every feature of 2**24 rows
    would count as constant.
    """
    variance = moments.scaled_variance
    eps = float(xp.finfo(variance.dtype).eps)
    if variance.dtype == xp.float32:
        count = min(count, 2.0 * (math.log2(max(count, 2.0)) + 7.0))
    mean = moments.mean / moments.scale
    upper_bound = count * eps * variance + (count * eps * mean) ** 2
    return variance <= upper_bound


def _batch_moments(xp: Any, X: Any, weights: Any, dtype: Any) -> ColumnMoments:
    """Mean and (scaled) variance of one in-memory batch, accumulated in ``dtype``.

    Shifted by the first row (a constant feature gets exactly its value as mean and
    exactly 0 as variance; data far from 0 loses nothing to the offset) and scaled
    where the sums would leave the range (:func:`~xplearn._kernels._dispatch.column_moments`).
    """
    return column_moments(xp, X, weights, dtype)


def _blocks_moments(X: Any, weights: Any, accumulate: Any) -> ColumnMoments:
    """A lazy batch's moments as host arrays of ``accumulate``, as :func:`_batch_moments`
    gives them in memory, from one computation: the blocks' means and squared
    deviations, merged on the host in float64
    (:func:`~xplearn._kernels._blocks.grouped_moments`); a second pass over X divided by
    powers of two only for float64 columns whose squares left the range."""
    host = numpy_namespace()
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range columns: redone below
        moments = grouped_moments(X, sample_weight=weights, extremes=True)
    total = moments.weights[0]
    mean, squares = moments.means[0], moments.squares[0]
    lowest, highest = moments.minimums[0], moments.maximums[0]
    # a constant column gets exactly its value and variance 0, as the shifted sums in
    # memory give it (a mean summed from the blocks can be off by a rounding error)
    constant = lowest == highest
    mean = np.where(constant, lowest, mean)
    squares = np.where(constant, 0.0, squares)
    magnitude = np.maximum(np.abs(lowest), np.abs(highest))
    wide = power_of_two_scale(host, magnitude, np.float64)
    scaled_squares = squares / wide / wide
    flagged = ~np.isfinite(squares) | ~np.isfinite(mean) | (squares < total * _TINY64)
    flagged &= ~constant
    if np.any(flagged):
        again = grouped_moments(X / wide, sample_weight=weights)
        mean = np.where(flagged, again.means[0] * wide, mean)
        scaled_squares = np.where(flagged, again.squares[0], scaled_squares)
    dtype = np.dtype(accumulate)
    scale = power_of_two_scale(host, magnitude.astype(dtype), dtype)
    # from the float64 scale to that of the accumulator (the same where it is float64)
    ratio = wide / scale.astype(np.float64)
    scaled_variance = scaled_squares * ratio * ratio / total
    return ColumnMoments(
        mean.astype(dtype), scaled_variance.astype(dtype), scale, np.asarray(total, dtype=dtype)
    )


_TINY64 = float(np.finfo(np.float64).smallest_normal)


class _Running(NamedTuple):
    """What a scaler saw before this batch: its count (total weight), stored mean,
    variance and scale, and what storing the mean in float32 rounded off, or None."""

    seen: Any
    mean: Any
    var: Any
    scale: Any
    residual: Any


def _running_state(scaler: Any, host: bool) -> _Running:
    """The scaler's running statistics; on the host (one computation of the small fitted
    Dask arrays) for a fit made of host statistics."""
    arrays = (scaler.mean_, scaler.var_, scaler.scale_, getattr(scaler, "_mean_residual", None))
    if host:
        present = [array for array in arrays if array is not None]
        values = iter(to_host(*present))
        arrays = tuple(None if array is None else next(values) for array in arrays)
    return _Running(scaler.n_samples_seen_, *arrays)


def _running_mean(xp: Any, running: _Running, dtype: Any) -> Any:
    """The running mean in ``dtype``, with what float32 storage rounded off restored."""
    mean = xp.astype(running.mean, dtype)
    if running.residual is not None:
        mean = mean + xp.astype(running.residual, dtype)
    return mean


def _combine_moments(
    xp: Any, running: _Running, batch: ColumnMoments, dtype: Any, with_std: bool
) -> ColumnMoments:
    """Merge a batch's moments into the scaler's running ones.

    Chan, Golub & LeVeque's pairwise update: with ``delta = batch_mean - mean``,
    ``mean += delta * n_b / n`` and ``M2 = M2_a + M2_b + delta**2 * n_a * n_b / n``, where
    ``M2 = variance * count``; counts are sums of weights when the batches were weighted.
    Everything is divided by a common power of two first (from the largest mean or
    standard deviation of either side), so no difference or square can overflow.
    """
    seen, count = running.seen, batch.total
    mean = _running_mean(xp, running, dtype)
    batch_std = xp.sqrt(batch.scaled_variance) * batch.scale
    magnitude = xp.maximum(xp.abs(mean), xp.abs(batch.mean))
    std = None
    if with_std and running.var is not None:
        # the stored scale_ is the standard deviation (rounded) except for constant
        # features (1): it stays exact where var_ left the range of its dtype
        var, scale = xp.astype(running.var, dtype), xp.astype(running.scale, dtype)
        std = xp.where(scale == 1, xp.sqrt(var), scale)
        magnitude = xp.maximum(magnitude, xp.maximum(std, batch_std))
    factor = power_of_two_scale(xp, magnitude, dtype)
    total = count + seen
    delta = batch.mean / factor - mean / factor
    new_mean = (mean / factor + delta * (count / total)) * factor
    if std is None:
        return ColumnMoments(new_mean, xp.zeros_like(new_mean), factor, total)
    ratio = batch.scale / factor
    std = std / factor
    m2 = (
        std * std * seen
        + batch.scaled_variance * ratio * ratio * count
        + delta * delta * (seen * count / total)
    )
    return ColumnMoments(new_mean, m2 / total, factor, total)


def _scaler_statistics(
    xp: Any,
    device: Any,
    batch: ColumnMoments,
    running: _Running | None,
    with_std: bool,
    compute: Any,
    accumulate: Any,
) -> tuple[Any, Any, Any, Any]:
    """``(mean_, var_, scale_, residual)`` of a StandardScaler from one batch's moments
    in ``accumulate`` and what it saw before (None on a first call).

    The final step of every fit: in memory in the data's namespace, after a blockwise
    pass on the host (NumPy) from the merged block statistics. ``var_`` and ``scale_``
    are None without ``with_std``; ``residual`` (what storing the mean in ``compute``
    rounded off) is None unless ``accumulate`` is wider than ``compute``. ``var_`` is
    inf only where the variance itself exceeds ``compute``'s range; ``scale_`` (at most
    the largest magnitude of the data) is always exact.
    """
    moments = batch
    if running is not None:
        moments = _combine_moments(xp, running, batch, accumulate, with_std)
    mean = moments.mean
    var = scale = residual = None
    if with_std:
        constant = _constant_features(xp, moments, float(to_scalar(moments.total)))
        one = xp.asarray(1.0, dtype=accumulate, device=device)
        largest = xp.asarray(float(xp.finfo(compute).max), dtype=accumulate, device=device)
        std = xp.minimum(xp.sqrt(moments.scaled_variance) * moments.scale, largest)
        var = xp.astype(
            scaled_product(xp, moments.scaled_variance, moments.scale, compute), compute
        )
        scale = xp.astype(xp.where(constant, one, std), compute)
    stored_mean = xp.astype(mean, compute)
    if accumulate != compute:
        # keep what storing the mean in float32 rounded off, so that later partial_fit
        # calls combine with the float64 mean (the variance needs no such care: its
        # float32 rounding is relative to itself)
        residual = xp.astype(mean - xp.astype(stored_mean, accumulate), compute)
    return stored_mean, var, scale, residual


def _restore_on_failure(estimator: Any, names: tuple[str, ...]):
    """The estimator's fitted state (``names`` and what validation records), to put back
    if a (re)fit fails after validation: a failed fit leaves the previous model intact."""
    keys = names + ("n_features_in_", "feature_names_in_", "_fit_context")
    saved = {key: estimator.__dict__[key] for key in keys if key in estimator.__dict__}

    def restore() -> None:
        for key in keys:
            estimator.__dict__.pop(key, None)
        estimator.__dict__.update(saved)

    return restore


_STANDARD_STATE = ("n_samples_seen_", "mean_", "var_", "scale_", "_mean_residual")


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
        float64 gives float64, integers the device's default float; the sums accumulate
        in float64 wherever the device has it (in float32, compensated, without it).
        ``"mixed"``: float32 storage, float64 sums where the device has it. ``"float32"``:
        float32 throughout, compensated sums. See the dtype-policy page.

    Attributes
    ----------
    scale_ : array of shape (n_features,) or None
        Per-feature scaling (standard deviation, 1 for constant features); None if
        ``with_std=False``.
    mean_ : array of shape (n_features,) or None
        Per-feature mean; None if both ``with_mean`` and ``with_std`` are False.
    var_ : array of shape (n_features,) or None
        Per-feature variance (ddof=0); None if ``with_std=False``. ``inf`` only where the
        variance exceeds the stored dtype's range (``scale_`` is exact there).
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
    Numerical guarantee: ``mean_`` and ``var_`` are the exact statistics of the input
    values rounded once to the stored dtype (float64 sums around the first row), on every
    backend; the variance is shifted and scaled by powers of two, so ``scale_`` is exact
    and the transform has unit variance at any magnitude (float32 1e+-30, float64
    1e+-250). Constant features follow scikit-learn's rule. A failed ``fit`` or
    ``partial_fit`` leaves the previous model unchanged.

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

    #: scikit-learn's (sklearn.preprocessing.StandardScaler._parameter_constraints)
    _parameter_constraints: ClassVar[dict] = {
        "copy": ["boolean"],
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
    }

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
        return self._partial_fit(X, sample_weight, "fit", first_call=True)

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
        first_call = not hasattr(self, "n_samples_seen_")
        return self._partial_fit(X, sample_weight, "partial_fit", first_call=first_call)

    def _partial_fit(self, X, sample_weight, method, *, first_call):
        validate_params(self, method)
        restore = _restore_on_failure(self, _STANDARD_STATE)
        try:
            fitted = self._fitted_state(X, sample_weight, method, first_call)
        except BaseException:
            restore()
            raise
        # assigned only once everything is computed: a failed call changes nothing
        for name in _STANDARD_STATE:
            self.__dict__.pop(name, None)
        self.__dict__.update(fitted)
        return self

    def _fitted_state(self, X, sample_weight, method, first_call) -> dict[str, Any]:
        """The fitted attributes after this batch (fit: the only one), as a dict."""
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
            compute, plan = data.dtypes.compute, data.dtypes
        else:
            # later batches are computed in the dtypes of the first one
            compute = self._fit_context[2]
            plan = resolve_dtypes(xp, device, compute, self.dtype_policy)
            if plan.compute != compute:
                plan = type(plan)(compute, compute)
        accumulate = statistics_dtype(xp, device, plan, self.dtype_policy)
        X = xp.astype(data.X, compute, copy=False)
        seen_before = 0 if first_call else self.n_samples_seen_

        if weights is None:
            batch_seen = X.shape[0]
        if not needs_moments:
            if weights is not None:
                batch_seen = to_scalar(xp.sum(xp.astype(weights, accumulate)))
            return {
                "n_samples_seen_": batch_seen + seen_before,
                "mean_": None,
                "var_": None,
                "scale_": None,
            }

        lazy = is_lazy(xp)
        if lazy:
            # one pass over the blocks; the rest on the host, as in memory
            batch = _blocks_moments(X, weights, accumulate)
            fit_xp, fit_device = numpy_namespace(), "cpu"
            accumulate, compute = np.dtype(accumulate), np.dtype(compute)
        else:
            batch = _batch_moments(xp, X, weights, accumulate)
            fit_xp, fit_device = xp, device
        if weights is not None:
            batch_seen = to_scalar(batch.total)
        running = None if first_call else _running_state(self, host=lazy)
        fitted = _scaler_statistics(
            fit_xp, fit_device, batch, running, self.with_std, compute, accumulate
        )
        if lazy:  # small in-memory Dask arrays, not graphs over X
            fitted = [None if array is None else xp.asarray(array) for array in fitted]
        state = dict(zip(("mean_", "var_", "scale_"), fitted[:3], strict=True))
        if fitted[3] is not None:
            state["_mean_residual"] = fitted[3]
        state["n_samples_seen_"] = batch_seen + seen_before
        return state

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
    # halves never overflow (float32 values of opposite signs near 3e38 would): the
    # range is inf only where it exceeds the dtype, and the scale stays exact
    half_range = data_max / 2 - data_min / 2
    largest = float(xp.finfo(half_range.dtype).max)
    inside = half_range <= largest / 2
    zero = xp.zeros_like(half_range)
    inf = xp.asarray(float("inf"), dtype=half_range.dtype, device=device)
    data_range = xp.where(inside, xp.where(inside, half_range, zero) * 2, inf)
    # a range within rounding noise of the values counts as a constant feature (scale
    # 1): 10 eps relative to the largest magnitude (scikit-learn: 10 eps absolute, which
    # calls every feature of magnitude 1e-16 constant and scales the rounding noise of
    # 1e5 up); so does a range whose reciprocal would overflow
    eps = float(xp.finfo(half_range.dtype).eps)
    magnitude = xp.maximum(xp.abs(data_min), xp.abs(data_max))
    half_span = high / 2 - low / 2
    constant = (half_range <= 5 * eps * magnitude) | (half_range < half_span / largest)
    half = xp.asarray(0.5, dtype=half_range.dtype, device=device)
    scale = half_span / xp.where(constant, half, half_range)
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
        The range is taken from halves, so ``scale_`` stays finite and exact for values
        of opposite signs near the dtype's maximum (``data_range_`` is ``inf`` there); a
        range within ``10 eps`` of the largest magnitude is constant (scale 1).

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

    #: scikit-learn's (sklearn.preprocessing.MinMaxScaler._parameter_constraints)
    _parameter_constraints: ClassVar[dict] = {
        "feature_range": [tuple],
        "copy": ["boolean"],
        "clip": ["boolean"],
    }

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
        return self._partial_fit(X, "fit", first_call=True)

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
        first_call = not hasattr(self, "n_samples_seen_")
        return self._partial_fit(X, "partial_fit", first_call=first_call)

    def _partial_fit(self, X, method, *, first_call):
        validate_params(self, method)
        low, high = self._checked_range(method)
        restore = _restore_on_failure(self, _MINMAX_STATE)
        try:
            fitted, n_samples_seen = self._fitted_state(X, method, first_call, low, high)
        except BaseException:
            restore()
            raise
        # assigned only once everything is computed: a failed call changes nothing
        self.scale_, self.min_, self.data_min_, self.data_max_, self.data_range_ = fitted
        self.n_samples_seen_ = n_samples_seen
        return self

    def _fitted_state(self, X, method, first_call, low, high):
        """``(scale_, min_, data_min_, data_max_, data_range_)`` and ``n_samples_seen_``
        after this batch."""
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
            with np.errstate(over="ignore", invalid="ignore"):
                # only the extremes are used: means and squares of values near the
                # dtype's maximum may overflow on the host, harmlessly
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
        return fitted, n_samples_seen

    def _checked_range(self, method: str) -> tuple[float, float]:
        feature_range = self.feature_range
        prefix = method_name(self, method)
        if not isinstance(feature_range, tuple) or len(feature_range) != 2:
            raise InvalidParameterError(
                f"{prefix}: the 'feature_range' parameter must be a tuple (min, max); got "
                f"{feature_range!r}."
            )
        low, high = feature_range
        for value in feature_range:
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                raise InvalidParameterError(
                    f"{prefix}: the 'feature_range' parameter must hold two real numbers; "
                    f"got {feature_range!r}."
                )
        if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(high - low)):
            raise ValueError(
                f"{prefix}: feature_range must be finite, with a finite width; got "
                f"feature_range={feature_range!r}."
            )
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
