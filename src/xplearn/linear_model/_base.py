"""Least squares written once against the Array API: shared solver and LinearRegression.

Every linear model here solves its problem through one path::

    [X | Y] centered (weighted means) and rows scaled by sqrt(sample_weight), in float64
    wherever the device has it (float32 data are stored as given: the products of
    float32 values are exact in float64)
    -> each column divided by a power of two near its largest magnitude (exact)
    -> R of the QR decomposition (Householder; Q is not formed)
    -> the small problem on R = [[R11, R12], [0, R22]]

``||X b - Y||`` is ``||R11 diag(x_scale) b - R12 diag(y_scale)||`` plus a constant, so
the least-squares problems of X are those of the small ``R11``. :class:`LinearRegression`
equilibrates R11's columns (unit norm), decides the rank relative to ``eps *
max(R11.shape)`` (or ``tol``) and returns the minimum-norm solution in X's units
(:func:`_least_squares`); :class:`~xplearn.linear_model.Ridge` takes the SVD of R11 in
X's units and the filter ``1 / (s + alpha / s)`` (:func:`_ridge_solve`). The intercept is
``y_mean - x_mean @ coef``.

On lazy (Dask) data the fit makes one pass: :func:`~xplearn._kernels._blocks.grouped_moments`
gives the weighted means and the R factor of the centered, row-scaled ``[X | Y]`` (a
TSQR, merged on the host, in float64, each block's QR in powers of two); the same small
solvers run on it (:func:`_reduce_blocks`).
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from types import ModuleType
from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils._param_validation import Interval

from xplearn._kernels._blocks import grouped_moments, power_of_two_scale, triangular_factor
from xplearn._xp import device_of, numpy_namespace
from xplearn._xp._ops import is_lazy, svd, to_scalar, weighted_mean
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.utils.validation import method_name, validate_data, validate_params

__all__ = ["LinearRegression"]


class _Factored(NamedTuple):
    """Training data reduced to the R factor of their centered, row-scaled ``[X | Y]``.

    With ``[X | Y] diag(1 / [x_scale, y_scale]) = Q R`` and ``R = [[R11, R12], [0, R22]]``,
    ``||X b - Y||`` is ``||R11 diag(x_scale) b - R12 diag(y_scale)||`` plus a constant:
    the least-squares problems of X are those of the small ``R11`` (same singular values
    once its columns are multiplied back by ``x_scale``).
    """

    R11: Any  # (k, n_features), k = min(n_samples, n_features + n_targets)
    R12: Any  # (k, n_targets)
    x_scale: Any  # (n_features,) column scales divided out of X before the QR
    y_scale: Any  # (n_targets,)
    x_mean: Any  # (n_features,), work dtype (zeros without an intercept)
    y_mean: Any  # (n_targets,), work dtype (zeros without an intercept)
    y_is_1d: bool


def _factor(xp: ModuleType, data: Any, fit_intercept: bool, work: Any) -> _Factored:
    """Center ``[X | Y]`` (weighted means), scale rows by ``sqrt(weights)``, divide each
    column by a power of two near its largest magnitude (exact; squares of data at
    1e+-250 then stay in range) and take the R of its QR decomposition, all in ``work``.
    One copy of the data in ``work`` and its temporaries; nothing is modified in place."""
    X, y, weights = data.X, data.y, data.sample_weight
    y_is_1d = y.ndim == 1
    Y = xp.reshape(y, (-1, 1)) if y_is_1d else y
    n_features = X.shape[1]
    A = xp.concat([xp.astype(X, work), xp.astype(Y, work)], axis=1)
    if fit_intercept:
        mean, _ = weighted_mean(xp, A, weights, work)
        A = A - mean
        if work != xp.float64:
            # no float64 here: the mean of the residuals corrects the float32 mean (two
            # passes; float32 column sums of data at 1e4 can be units off)
            correction, _ = weighted_mean(xp, A, weights, work)
            A, mean = A - correction, mean + correction
    else:
        mean = xp.zeros((A.shape[1],), dtype=work, device=data.device)
    if weights is not None:
        A = A * xp.sqrt(xp.astype(weights, work))[:, None]
    scale = power_of_two_scale(xp, xp.max(xp.abs(A), axis=0))
    R = triangular_factor(xp, A / scale)
    return _Factored(
        R11=R[:, :n_features],
        R12=R[:, n_features:],
        x_scale=scale[:n_features],
        y_scale=scale[n_features:],
        x_mean=mean[:n_features],
        y_mean=mean[n_features:],
        y_is_1d=y_is_1d,
    )


def _thin_svd(xp: ModuleType, X: Any) -> tuple[Any, Any, Any]:
    """Thin SVD ``U, s, Vt`` of ``X``, also for wide X (n_samples < n_features).

    A wide matrix is decomposed through its transpose, which is tall: the tall-and-skinny
    path is the one Dask implements (and it costs the same elsewhere).
    """
    n_samples, n_features = X.shape
    if n_samples < n_features:
        U_t, s, Vt_t = svd(xp, X.T)
        return Vt_t.T, s, U_t.T
    return svd(xp, X)


def _rank_cutoff(xp: ModuleType, R11: Any, tol: float) -> float:
    """Relative cutoff below which a singular value counts as zero (numerical rank).

    ``max(tol, eps * max(R11.shape))``: NumPy's rule (machine precision of the dtype the
    SVD runs in, times the larger dimension of the matrix it decomposes), applied to the
    small triangular factor the SVD actually works on, whose error is that of the
    factorization, not to ``max(n_samples, n_features)``: at 100k float32 rows that would
    discard every direction below 1.2% of the largest. ``tol`` is scikit-learn's
    ``cond`` (:func:`scipy.linalg.lstsq`, ``gelsd``).
    """
    return max(float(tol), float(xp.finfo(R11.dtype).eps) * max(R11.shape))


def _equilibrate(xp: ModuleType, factored: _Factored) -> _Factored:
    """``R11`` with unit-norm columns (the norms of X's centered columns, divided into
    ``x_scale``) and ``R12`` with entries of order 1: a rank decision on the equilibrated
    matrix does not depend on the units of the features, so a column of scale 0.01 next
    to one of scale 1e4 keeps its information. Exact powers of two first, so the norms
    of an unscaled R (the Dask fit's) cannot overflow."""
    device = device_of(factored.R11)
    R11, R12 = factored.R11, factored.R12
    first = power_of_two_scale(xp, xp.max(xp.abs(R11), axis=0))
    R11 = R11 / first
    norms = xp.sqrt(xp.sum(R11 * R11, axis=0))
    one = xp.asarray(1.0, dtype=R11.dtype, device=device)
    norms = xp.where(norms > 0, norms, one)
    targets = power_of_two_scale(xp, xp.max(xp.abs(R12), axis=0))
    return factored._replace(
        R11=R11 / norms,
        R12=R12 / targets,
        x_scale=factored.x_scale * first * norms,
        y_scale=factored.y_scale * targets,
    )


def _least_squares(xp: ModuleType, factored: _Factored, tol: float) -> tuple[Any, Any, int]:
    """Minimum-norm least squares from the R factor, as ``gelsd``.

    The SVD of the equilibrated ``R11`` (:func:`_equilibrate`) decides the rank (relative
    cutoff :func:`_rank_cutoff`) and gives the solution ``c`` of the scaled problem; the
    coefficients are ``c * y_scale / x_scale``. Below full rank that solution is unique
    only up to X's null space: it is projected on X's row space (``diag(x_scale)`` times
    the kept right singular vectors), which gives the minimum-norm coefficients in the
    units of X, as scikit-learn's.

    Returns
    -------
    coef : array of shape (n_targets, n_features)
    singular : array of shape (min(n_samples, n_features),), those of X (centered,
        weighted), descending
    rank : int
    """
    device = device_of(factored.R11)
    scaled = _equilibrate(xp, factored)
    R11, x_scale = scaled.R11, scaled.x_scale
    n_features = R11.shape[1]
    U, s, Vt = _thin_svd(xp, R11)
    kept = s > _rank_cutoff(xp, R11, tol) * s[0]
    one = xp.asarray(1.0, dtype=s.dtype, device=device)
    zero = xp.asarray(0.0, dtype=s.dtype, device=device)
    inverse = xp.where(kept, one / xp.where(kept, s, one), zero)
    solution = Vt.T @ (inverse[:, None] * (U.T @ scaled.R12))
    coef = (solution / x_scale[:, None]) * scaled.y_scale[None, :]
    rank = int(to_scalar(xp.sum(xp.astype(kept, xp.int32))))
    if rank < n_features:
        # orthogonal projection on X's row space: diag(x_scale) V_rank, its columns
        # brought to order 1 first (a power of two: the span is unchanged)
        basis = (x_scale / xp.max(power_of_two_scale(xp, x_scale)))[:, None] * Vt[:rank, :].T
        Q = xp.linalg.qr(basis)[0]
        coef = Q @ (Q.T @ coef)
    singular = _thin_svd(xp, R11 * x_scale[None, :])[1]
    return coef.T, singular, rank


def _ridge_solve(xp: ModuleType, factored: _Factored, alpha: Any) -> Any:
    """``coef = V diag(s / (s**2 + alpha)) U.T y`` from the SVD of ``R11 diag(x_scale)``
    (the R of the centered X in its own units: Ridge's penalty is not invariant to the
    units of the features), written ``1 / (s + alpha / s)`` so that ``s**2`` never
    overflows or underflows (data at 1e+-250); singular values below the cutoff of
    :func:`_rank_cutoff` (for ``alpha=0``) are left out.

    Returns
    -------
    coef : array of shape (n_targets, n_features)
    """
    device = device_of(factored.R11)
    scaled = _equilibrate(xp, factored)
    M = scaled.R11 * scaled.x_scale[None, :]
    U, s, Vt = _thin_svd(xp, M)
    kept = s > _rank_cutoff(xp, M, 0.0) * s[0]
    one = xp.asarray(1.0, dtype=s.dtype, device=device)
    zero = xp.asarray(0.0, dtype=s.dtype, device=device)
    safe = xp.where(kept, s, one)[:, None]
    filt = xp.where(kept[:, None], one / (safe + alpha[None, :] / safe), zero)
    coef = (Vt.T @ (filt * (U.T @ scaled.R12))) * scaled.y_scale[None, :]
    return coef.T


def _reduce_blocks(xp: ModuleType, data: Any, fit_intercept: bool) -> _Factored:
    """The R factor of the (weighted) ``[X | Y]`` in one pass over lazy data, host
    float64 (:class:`_Factored` with unit scales).

    :func:`grouped_moments` gives the R of the centered rows scaled by ``sqrt(weights)``
    (what :func:`_factor` makes). Without an intercept the data must not be centered:
    the mean adds ``W m m^T`` to the scatter matrix, so one QR of R stacked with the row
    ``sqrt(W) m`` gives the R of the uncentered rows.
    """
    X, y = data.X, data.y
    y_is_1d = y.ndim == 1
    Y = xp.reshape(y, (-1, 1)) if y_is_1d else y
    n_features = X.shape[1]
    moments = grouped_moments(xp.concat([X, Y], axis=1), None, data.sample_weight, r_factor=True)
    r_factor, mean = moments.r_factors[0], moments.means[0]
    if not fit_intercept:
        mean_row = np.sqrt(moments.weights[0]) * mean
        stacked = np.concatenate([r_factor, mean_row[None, :]])
        # the QR of data at 1e+-250 in exact powers of two (its squares would leave float64)
        scale = power_of_two_scale(numpy_namespace(), np.max(np.abs(stacked), axis=0))
        r_factor = np.linalg.qr(stacked / scale, mode="r") * scale
        mean = np.zeros_like(mean)
    # the rows of R below the number of samples are zeros: R11 as the in-memory fit's
    r_factor = r_factor[: min(X.shape[0], r_factor.shape[1])]
    ones = np.ones(r_factor.shape[1])
    return _Factored(
        R11=r_factor[:, :n_features],
        R12=r_factor[:, n_features:],
        x_scale=ones[:n_features],
        y_scale=ones[n_features:],
        x_mean=mean[:n_features],
        y_mean=mean[n_features:],
        y_is_1d=y_is_1d,
    )


def _prediction_offsets(
    xp: ModuleType, factored: _Factored, coef: Any, dtype: Any, n_samples: int
) -> tuple[Any, Any] | None:
    """``(x_offset, y_offset)`` in ``dtype`` when ``X @ coef.T + intercept`` would cancel
    digits (data far from the origin: ``sum |x_mean * coef|`` above 16 times ``|y_mean|``
    plus y's spread), else None. ``x_offset`` is the mean of X rounded to ``dtype`` (X
    minus it is exact near the mean) and ``y_offset = y_mean + coef @ (x_offset -
    x_mean)``, so that ``(X - x_offset) @ coef.T + y_offset`` is the prediction, with
    the rounding error of y instead of that of ``X @ coef.T``."""
    x_mean, y_mean = factored.x_mean, factored.y_mean
    if not bool(xp.any(x_mean != 0)):
        return None
    R12 = factored.R12
    magnitude = power_of_two_scale(xp, xp.max(xp.abs(R12), axis=0))
    scaled = R12 / magnitude
    spread = xp.sqrt(xp.sum(scaled * scaled, axis=0)) * magnitude * factored.y_scale
    spread = spread / math.sqrt(max(n_samples, 1))
    lost = xp.abs(coef) @ xp.abs(x_mean)
    if not bool(xp.any(lost > 16.0 * (xp.abs(y_mean) + spread))):
        return None
    x_offset = xp.astype(xp.astype(x_mean, dtype), x_mean.dtype)
    y_offset = y_mean + coef @ (x_offset - x_mean)
    if factored.y_is_1d:
        y_offset = xp.reshape(y_offset, ())
    return xp.astype(x_offset, dtype), xp.astype(y_offset, dtype)


def _check_solution(estimator: Any, xp: ModuleType, dtype: Any, *arrays: Any) -> None:
    """A clear error instead of a NaN or infinite model: coefficients out of the range of
    the ``dtype`` they are to be stored in (checked before the cast)."""
    largest = float(xp.finfo(dtype).max)
    for array in arrays:
        if not bool(xp.all(xp.abs(array) <= largest)):
            raise ValueError(
                f"{method_name(estimator, 'fit')}: the least-squares solution is not "
                f"representable in {dtype} (coefficients beyond its largest value "
                f"{largest:.3g}, or NaN); rescale X or y."
            )


def _r2_score(xp: ModuleType, y_true: Any, y_pred: Any, weights: Any, dtype: Any) -> float:
    """R^2 averaged uniformly over targets, as :func:`sklearn.metrics.r2_score`.

    A target with constant ``y_true`` scores 1.0 when predicted exactly and 0.0 otherwise
    (scikit-learn's ``force_finite=True``).
    """
    y_true = xp.astype(y_true, dtype)
    y_pred = xp.astype(y_pred, dtype)
    if weights is None:
        squared_error = (y_true - y_pred) ** 2
        mean, _ = weighted_mean(xp, y_true, None, dtype)
        numerator = xp.sum(squared_error, axis=0)
        denominator = xp.sum((y_true - mean) ** 2, axis=0)
    else:
        weights = xp.astype(weights, dtype)
        mean, _ = weighted_mean(xp, y_true, weights, dtype)
        numerator = weights @ ((y_true - y_pred) ** 2)
        denominator = weights @ ((y_true - mean) ** 2)
    device = device_of(numerator)
    one = xp.asarray(1.0, dtype=dtype, device=device)
    zero = xp.asarray(0.0, dtype=dtype, device=device)
    nonzero_denominator = denominator != 0
    safe_denominator = xp.where(nonzero_denominator, denominator, one)
    scores = xp.where(
        nonzero_denominator,
        1.0 - numerator / safe_denominator,
        xp.where(numerator != 0, zero, one),
    )
    return to_scalar(xp.mean(scores))


def _keeping_fitted_model(estimator: Any, fit: Any) -> Any:
    """``fit()``, and on any error the estimator's state as it was before: a failed refit
    leaves the previously fitted model intact (and an unfitted one unfitted)."""
    saved = dict(estimator.__dict__)
    try:
        return fit()
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


class _LinearModel(XPEstimatorMixin, MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Shared fit machinery, ``predict`` and ``score`` of the least-squares models."""

    _capabilities: ClassVar[Capabilities] = Capabilities(
        fallbacks={
            "dask": (
                "fit makes one pass over the data (the R factor of [X | y], merged on the "
                "host) and solves the small problem on the host"
            )
        },
        lazy_fit=True,
        onnx_methods=("predict",),
    )

    def _check_positive(self) -> None:
        if self.positive:
            raise NotImplementedError(
                f"{method_name(self, 'fit')}: positive=True (non-negative coefficients) "
                f"is not supported by xplearn's {type(self).__name__}; use "
                f"sklearn.linear_model.{type(self).__name__}(positive=True) instead, or "
                "set positive=False."
            )

    def _validate_fit(self, X: Any, y: Any, sample_weight: Any) -> Any:
        # the fit on lazy data is one pass: X's finite check rides in it (no compute)
        return validate_data(
            self,
            X,
            y,
            method="fit",
            reset=True,
            sample_weight=sample_weight,
            y_required=True,
            defer_finite_check=True,
        )

    def _set_solution(
        self, xp: ModuleType, data: Any, factored: _Factored, coef: Any, sxp: ModuleType
    ) -> tuple[Any, Any]:
        """``coef_`` and ``intercept_`` from a solution ``coef`` (n_targets, n_features) of
        the small namespace ``sxp`` (``xp`` itself, or NumPy on the host for a lazy
        ``xp``), in scikit-learn's shapes, as in-memory arrays of ``xp`` in the compute
        dtype. The intercept is ``y_mean - coef @ x_mean``, in the work dtype."""
        intercept = factored.y_mean - coef @ factored.x_mean
        compute = np.dtype(data.X.dtype) if sxp is not xp else data.dtypes.compute
        _check_solution(self, sxp, compute, coef, intercept)
        offsets = _prediction_offsets(sxp, factored, coef, compute, data.X.shape[0])
        if sxp is not xp:  # host NumPy -> small in-memory (Dask) arrays
            coef, intercept = coef.astype(compute), intercept.astype(compute)
            if factored.y_is_1d:
                coef, intercept = coef[0], intercept.reshape(())
            offsets = None if offsets is None else tuple(xp.asarray(value) for value in offsets)
            self._x_offset, self._y_offset = (None, None) if offsets is None else offsets
            return xp.asarray(coef), xp.asarray(intercept)
        self._x_offset, self._y_offset = (None, None) if offsets is None else offsets
        coef, intercept = xp.astype(coef, compute), xp.astype(intercept, compute)
        if factored.y_is_1d:
            # a reshape, not intercept[0]: NumPy would give a scalar, not a 0-d array
            return coef[0, :], xp.reshape(intercept, ())
        return coef, intercept

    def _infer(self, method: str, xp: ModuleType, X: Any) -> Any:
        """``X @ coef_.T + intercept_`` in the dtype of the validated input; for data far
        from the origin (decided at fit, :func:`_prediction_offsets`) as ``(X - x_offset)
        @ coef_.T + y_offset``, the same value without the cancellation."""
        coef, intercept = self._fitted_arrays(X.dtype, "coef_", "intercept_")
        if getattr(self, "_x_offset", None) is not None:
            x_offset, y_offset = self._fitted_arrays(X.dtype, "_x_offset", "_y_offset")
            X = X - x_offset
            intercept = xp.reshape(y_offset, tuple(intercept.shape))
        if coef.ndim == 1:
            return X @ coef + intercept
        return X @ coef.T + intercept

    def predict(self, X):
        """Predict with the linear model: ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the namespace and on the device the model was fitted on.

        Returns
        -------
        y_pred : array of shape (n_samples,) or (n_samples, n_targets)
            Predicted values, same namespace and device as X; the dtype of X when it is
            floating (under ``"preserve"``), the fitted dtype otherwise.
        """
        return self._validated_infer("predict", X)

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 of the prediction.

        Computed in the array namespace of X, as :func:`sklearn.metrics.r2_score` with
        ``multioutput="uniform_average"``: ``1 - sum(w (y - y_pred)**2) / sum(w (y -
        mean(y))**2)``, averaged over targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True values for X.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R^2 of ``self.predict(X)`` with respect to y.
        """
        data = validate_data(
            self, X, y, method="score", reset=False, sample_weight=sample_weight, y_required=True
        )
        xp = data.xp
        y_pred = self._infer("predict", data.xp, data.X)
        y_true = data.y
        y_true = xp.reshape(y_true, (-1, 1)) if y_true.ndim == 1 else y_true
        y_pred = xp.reshape(y_pred, (-1, 1)) if y_pred.ndim == 1 else y_pred
        if y_true.shape[1] != y_pred.shape[1]:
            raise ValueError(
                f"{method_name(self, 'score')}: y has {y_true.shape[1]} target(s), but "
                f"{type(self).__name__} was fitted with {y_pred.shape[1]}."
            )
        if y_true.shape[0] < 2:
            warnings.warn(
                "R^2 score is not well-defined with less than two samples.",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            return float("nan")
        return _r2_score(xp, y_true, y_pred, data.sample_weight, data.dtypes.accumulate)


class LinearRegression(_LinearModel):
    """Ordinary least squares linear regression.

    Fits ``y ~ X @ coef_.T + intercept_`` minimizing the (weighted) residual sum of
    squares. The solution is the minimum-norm one, as :func:`scipy.linalg.lstsq`
    (``gelsd``) gives: it is unique also for rank-deficient X and for fewer samples than
    features. Runs on every backend; the fitted attributes live in the namespace and on
    the device of the training data.

    xplearn solves through one path: center X and y (weighted means) and scale rows by
    ``sqrt(sample_weight)``, in float64 wherever the device has it; divide each column
    by a power of two near its largest magnitude; take the R factor of the QR
    decomposition of ``[X | y]``; solve on its leading block ``R11``, columns scaled to
    unit norm, by its SVD, with singular values ``s <= rcond * s.max()`` treated as zero.
    The rank decision is therefore independent of the units of the features, and data
    at 1e+-250 fit exactly.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept. If False, the data are not centered.
    copy_X : bool, default=True
        Kept for scikit-learn compatibility; xplearn never modifies its input.
    tol : float, default=1e-6
        Relative cutoff of the singular values (``cond`` of :func:`scipy.linalg.lstsq`,
        as scikit-learn uses it), applied to the column-equilibrated design matrix:
        those ``<= rcond * s.max()`` count as zero, with ``rcond = max(tol, eps *
        max(R11.shape))``, ``eps`` the machine precision of the dtype the factorization
        runs in (float64 wherever the device has it) and ``R11`` the small triangular
        factor the SVD works on (at most ``n_features + n_targets`` rows): the error of
        the factorization, not ``eps * n_samples``, which at 100k float32 rows would
        discard every direction below 1.2% of the largest.
    n_jobs : int, default=None
        Ignored; kept for scikit-learn compatibility (the SVD uses the backend's own
        parallelism).
    positive : bool, default=False
        Non-negative coefficients are not supported: True raises ``NotImplementedError``
        at fit.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and of the fitted attributes; None takes the configured
        default (``"preserve"``). ``"preserve"``: float32 data give float32 coefficients,
        float64 give float64, integers the device's default float; the centering and
        the factorization run in float64 wherever the device has it (the data are not
        copied to float64 beyond the one centered copy the factorization needs).
        ``"float32"``: float32 throughout (the mean in two passes). ``"float64"``: always
        float64. ``"mixed"``: float32 storage and attributes, float64 computation where
        the device has it.

    Attributes
    ----------
    coef_ : array of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients; 2-D when y was 2-D.
    intercept_ : 0-d array or array of shape (n_targets,)
        Independent term (zeros when ``fit_intercept=False``).
    rank_ : int
        Numerical rank of the (centered, weighted) design matrix with its columns scaled
        to unit norm (scikit-learn decides on the unscaled matrix: a column 1e6 times
        smaller than the others is dropped there, kept here).
    singular_ : array of shape (min(n_samples, n_features),)
        Singular values of the (centered, weighted) design matrix, descending.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    Ridge : Least squares with an L2 penalty.
    sklearn.linear_model.LinearRegression : The scikit-learn estimator this mirrors.

    Notes
    -----
    Unlike scikit-learn, ``intercept_`` is always an array of the input namespace: a 0-d
    array for 1-D y and an array of zeros, not the float 0.0, when
    ``fit_intercept=False``.

    On Dask arrays, ``fit`` makes one pass over the data: the R factor of the (centered,
    weighted) ``[X | y]`` by blocks (a TSQR), then the same solve on its small leading
    block on the host, in float64.

    Coefficients beyond the range of the dtype they are stored in (float32 X at 1e-30
    against y at 1e30) raise a ``ValueError``, never an infinite or NaN model. A failed
    ``fit`` leaves the previously fitted model as it was.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.linear_model import LinearRegression
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> y = X @ np.array([1.0, 2.0]) + 3.0
    >>> reg = LinearRegression().fit(X, y)
    >>> reg.coef_
    array([1., 2.])
    >>> round(float(reg.intercept_), 6)
    3.0
    >>> reg.predict(np.array([[3.0, 5.0]]))
    array([16.])
    """

    _parameter_constraints: ClassVar[dict] = {
        # scikit-learn's (sklearn.linear_model.LinearRegression._parameter_constraints)
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "n_jobs": [None, Integral],
        "positive": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        fit_intercept=True,
        copy_X=True,
        tol=1e-6,
        n_jobs=None,
        positive=False,
        dtype_policy=None,
    ):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive
        self.dtype_policy = dtype_policy

    def fit(self, X, y, sample_weight=None):
        """Fit the linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values, in the namespace and on the device of X.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        self : LinearRegression
            The fitted model.
        """
        validate_params(self, "fit")
        self._check_positive()
        return _keeping_fitted_model(self, lambda: self._fit(X, y, sample_weight))

    def _fit(self, X, y, sample_weight):
        data = self._validate_fit(X, y, sample_weight)
        xp = data.xp
        tol = float(self.tol)
        if is_lazy(xp):
            factored, sxp = _reduce_blocks(xp, data, self.fit_intercept), numpy_namespace()
        else:
            # float64 wherever the device has it, unless dtype_policy="float32"
            work = data.dtypes.accumulate
            factored, sxp = _factor(xp, data, self.fit_intercept, work), xp
        coef, singular, rank = _least_squares(sxp, factored, tol)
        singular = singular[: min(data.X.shape)]
        coef, intercept = self._set_solution(xp, data, factored, coef, sxp)
        if sxp is not xp:
            singular = xp.asarray(np.asarray(singular).astype(np.dtype(data.X.dtype)))
        else:
            singular = xp.astype(singular, data.dtypes.compute)
        self.coef_, self.intercept_, self.singular_ = coef, intercept, singular
        self.rank_ = rank
        return self
