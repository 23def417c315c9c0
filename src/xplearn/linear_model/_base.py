"""Least squares written once against the Array API: shared solver and LinearRegression.

Every linear model here solves its problem through one path::

    center X and y (weighted means, accumulated per the dtype policy)
    -> scale the rows by sqrt(sample_weight)
    -> thin SVD  X = U diag(s) Vt
    -> coef = Vt.T diag(f(s)) U.T y

with ``f(s) = 1 / s`` (minimum-norm least squares, small singular values cut off as
LAPACK's ``gelsd`` does) for :class:`LinearRegression` and ``f(s) = s / (s**2 + alpha)``
for :class:`~xplearn.linear_model.Ridge`. The intercept is ``y_mean - x_mean @ coef``.

On lazy (Dask) data the fit makes one pass: :func:`~xplearn._kernels._blocks.grouped_moments`
gives the weighted means and the R factor of the centered, row-scaled ``[X | Y]``,
``R = [[R11, R12], [0, R22]]`` (a TSQR, merged on the host). With ``[X | Y] = Q R``,
``||X b - Y||`` is ``||R11 b - R12||`` plus a constant, so the same solver applied to
the thin SVD of the small ``R11`` against ``R12`` gives the same coefficients, and the
singular values of ``R11`` are those of X (:func:`_reduce_blocks`, :func:`_host_solve`).
"""

from __future__ import annotations

import numbers
import warnings
from types import ModuleType
from typing import Any, ClassVar, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import UndefinedMetricWarning

from xplearn._kernels._blocks import grouped_moments
from xplearn._xp import device_of, numpy_namespace
from xplearn._xp._ops import is_lazy, materialize, svd, to_scalar, weighted_mean
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.utils.validation import method_name, validate_data

__all__ = ["LinearRegression"]


class _Centered(NamedTuple):
    """Training data ready for the SVD solve (see :func:`_preprocess`)."""

    X: Any  # (n_samples, n_features), centered and row-scaled, compute dtype
    Y: Any  # (n_samples, n_targets), centered and row-scaled, compute dtype
    x_mean: Any  # (n_features,), accumulation dtype (zeros without an intercept)
    y_mean: Any  # (n_targets,), accumulation dtype (zeros without an intercept)
    y_is_1d: bool


def _preprocess(xp: ModuleType, data: Any, fit_intercept: bool) -> _Centered:
    """Center X and y with their (weighted) means and scale rows by ``sqrt(weights)``.

    The means are accumulated in ``data.dtypes.accumulate`` (float64 under ``"mixed"``);
    the centered data stay in the compute dtype. Nothing is modified in place.
    """
    X, y, weights, device = data.X, data.y, data.sample_weight, data.device
    accumulate, compute = data.dtypes.accumulate, data.dtypes.compute
    y_is_1d = y.ndim == 1
    Y = xp.reshape(y, (-1, 1)) if y_is_1d else y
    if fit_intercept:
        x_mean, _ = weighted_mean(xp, X, weights, accumulate)
        y_mean, _ = weighted_mean(xp, Y, weights, accumulate)
        X = X - xp.astype(x_mean, compute)
        Y = Y - xp.astype(y_mean, compute)
    else:
        x_mean = xp.zeros((X.shape[1],), dtype=accumulate, device=device)
        y_mean = xp.zeros((Y.shape[1],), dtype=accumulate, device=device)
    if weights is not None:
        root = xp.sqrt(weights)[:, None]
        X = X * root
        Y = Y * root
    return _Centered(X, Y, x_mean, y_mean, y_is_1d)


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


def _rcond(dtype_eps: float, shape: tuple[int, int]) -> float:
    """Relative cutoff below which a singular value counts as zero (numerical rank)."""
    return dtype_eps * max(shape)


def _spectral_solve(
    xp: ModuleType, U: Any, s: Any, Vt: Any, Y: Any, alpha: Any, rcond: float
) -> tuple[Any, Any]:
    """``coef = Vt.T diag(f(s)) U.T Y`` with ``f(s) = s / (s**2 + alpha)`` where
    ``s > rcond * s.max()`` and 0 elsewhere.

    Parameters
    ----------
    U, s, Vt : arrays
        Thin SVD of the (centered, row-scaled) design matrix.
    Y : array of shape (n_samples, n_targets)
        Targets, centered and row-scaled like X.
    alpha : array of shape (1,) or (n_targets,)
        L2 penalty per target (0 for least squares).
    rcond : float
        Relative cutoff of the singular values.

    Returns
    -------
    coef : array of shape (n_targets, n_features)
    kept : array of bool, shape (k,)
        Which singular values were used (their count is the numerical rank).
    """
    kept = s > rcond * s[0]
    one = xp.asarray(1.0, dtype=s.dtype, device=device_of(s))
    zero = xp.asarray(0.0, dtype=s.dtype, device=device_of(s))
    # the discarded values get a harmless stand-in, so no 0/0 is ever evaluated
    safe = xp.where(kept, s, one)[:, None]
    filt = xp.where(kept[:, None], safe / (safe * safe + alpha[None, :]), zero)
    coef = Vt.T @ (filt * (U.T @ Y))
    return coef.T, kept


class _Reduced(NamedTuple):
    """Training data reduced to their R factor by one pass (see :func:`_reduce_blocks`),
    host float64."""

    R11: np.ndarray  # (n_features, n_features): X = Q1 R11, same singular values as X
    R12: np.ndarray  # (n_features, n_targets): Q1.T Y
    x_mean: np.ndarray  # (n_features,) (zeros without an intercept)
    y_mean: np.ndarray  # (n_targets,) (zeros without an intercept)
    y_is_1d: bool
    shape: tuple[int, int]  # (n_samples, n_features) of X


def _reduce_blocks(xp: ModuleType, data: Any, fit_intercept: bool) -> _Reduced:
    """The R factor of the (weighted) ``[X | Y]`` in one pass over lazy data.

    :func:`grouped_moments` gives the R of the centered rows scaled by ``sqrt(weights)``
    (what :func:`_preprocess` makes, then QR). Without an intercept the data must not be
    centered: the mean adds ``W m m^T`` to the scatter matrix, so one QR of R stacked
    with the row ``sqrt(W) m`` gives the R of the uncentered rows.
    """
    X, y = data.X, data.y
    y_is_1d = y.ndim == 1
    Y = xp.reshape(y, (-1, 1)) if y_is_1d else y
    n_samples, n_features = X.shape
    moments = grouped_moments(xp.concat([X, Y], axis=1), None, data.sample_weight, r_factor=True)
    r_factor, mean = moments.r_factors[0], moments.means[0]
    if not fit_intercept:
        mean_row = np.sqrt(moments.weights[0]) * mean
        r_factor = np.linalg.qr(np.concatenate([r_factor, mean_row[None, :]]), mode="r")
        mean = np.zeros_like(mean)
    return _Reduced(
        R11=r_factor[:n_features, :n_features],
        R12=r_factor[:n_features, n_features:],
        x_mean=mean[:n_features],
        y_mean=mean[n_features:],
        y_is_1d=y_is_1d,
        shape=(n_samples, n_features),
    )


def _host_solve(reduced: _Reduced, alpha: np.ndarray, rcond: float):
    """:func:`_spectral_solve` on the host, on the thin SVD of ``R11`` against ``R12``.

    ``R11 = U diag(s) Vt`` makes ``X = (Q1 U) diag(s) Vt`` a thin SVD of X (only its
    first ``min(n_samples, n_features)`` singular values, as in memory: R11 of fewer
    rows than columns has zero rows), and ``(Q1 U).T Y = U.T R12``.

    Returns
    -------
    coef : ndarray of shape (n_targets, n_features)
    singular : ndarray of shape (min(n_samples, n_features),)
    kept : ndarray of bool, the singular values used
    """
    npx = numpy_namespace()
    U, s, Vt = np.linalg.svd(reduced.R11, full_matrices=False)
    k = min(reduced.shape)
    coef, kept = _spectral_solve(npx, U[:, :k], s[:k], Vt[:k], reduced.R12, alpha, rcond)
    return np.asarray(coef), s[:k], np.asarray(kept)


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

    def _set_host_solution(self, xp: ModuleType, data: Any, reduced: _Reduced, coef: Any):
        """Set ``coef_`` and ``intercept_`` from a host solution (:func:`_host_solve`),
        in scikit-learn's shapes, as small in-memory arrays of ``xp`` in the compute
        dtype (the intercept as :meth:`_coef_intercept` makes it, in float64)."""
        dtype = np.dtype(data.X.dtype)
        intercept = reduced.y_mean - coef @ reduced.x_mean
        if reduced.y_is_1d:
            coef, intercept = coef[0], intercept.reshape(())
        self.coef_ = xp.asarray(coef.astype(dtype))
        self.intercept_ = xp.asarray(intercept.astype(dtype))

    @staticmethod
    def _coef_intercept(xp: ModuleType, data: Any, centered: _Centered, coef: Any):
        """``coef_`` and ``intercept_`` from the solution, in scikit-learn's shapes."""
        intercept = centered.y_mean - xp.astype(coef, data.dtypes.accumulate) @ centered.x_mean
        intercept = xp.astype(intercept, data.dtypes.compute)
        if centered.y_is_1d:
            # a reshape, not intercept[0]: NumPy would give a scalar, not a 0-d array
            return coef[0, :], xp.reshape(intercept, ())
        return coef, intercept

    def _infer(self, method: str, xp: ModuleType, X: Any) -> Any:
        """``X @ coef_.T + intercept_`` in the dtype of the validated input."""
        coef, intercept = self._fitted_arrays(X.dtype, "coef_", "intercept_")
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

    xplearn solves through one path: center X and y (weighted means), scale rows by
    ``sqrt(sample_weight)``, take the thin SVD ``X = U diag(s) Vt`` and set ``coef =
    Vt.T diag(1 / s) U.T y``, with singular values ``s <= rcond * s.max()`` treated as
    zero.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept. If False, the data are not centered.
    copy_X : bool, default=True
        Kept for scikit-learn compatibility; xplearn never modifies its input.
    tol : float, default=1e-6
        Relative cutoff of the singular values (``cond`` of :func:`scipy.linalg.lstsq`,
        as scikit-learn uses it): those ``<= rcond * s.max()`` count as zero, with
        ``rcond = max(tol, eps * max(n_samples, n_features))`` and ``eps`` the machine
        precision of the compute dtype.
    n_jobs : int, default=None
        Ignored; kept for scikit-learn compatibility (the SVD uses the backend's own
        parallelism).
    positive : bool, default=False
        Non-negative coefficients are not supported: True raises ``NotImplementedError``
        at fit.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and of the fitted attributes; None takes the configured
        default (``"preserve"``). ``"preserve"``: float32 data give float32 coefficients,
        float64 give float64, integers the device's default float. ``"float32"`` /
        ``"float64"``: always that dtype. ``"mixed"``: float32 storage and SVD, with the
        means (and the intercept) accumulated in float64 where the device has it.

    Attributes
    ----------
    coef_ : array of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients; 2-D when y was 2-D.
    intercept_ : 0-d array or array of shape (n_targets,)
        Independent term (zeros when ``fit_intercept=False``).
    rank_ : int
        Numerical rank of the (centered, weighted) design matrix.
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
        self._check_positive()
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
            raise ValueError(
                f"{method_name(self, 'fit')}: tol must be a non-negative number, got {tol!r}."
            )
        data = self._validate_fit(X, y, sample_weight)
        xp = data.xp
        if is_lazy(xp):
            return self._fit_blocks(xp, data, float(tol))
        centered = _preprocess(xp, data, self.fit_intercept)
        U, s, Vt = _thin_svd(xp, centered.X)
        rcond = max(float(tol), _rcond(xp.finfo(s.dtype).eps, centered.X.shape))
        zero = xp.zeros((1,), dtype=s.dtype, device=data.device)
        coef, kept = _spectral_solve(xp, U, s, Vt, centered.Y, zero, rcond)
        coef, intercept = self._coef_intercept(xp, data, centered, coef)
        rank = xp.sum(xp.astype(kept, xp.int32))
        self.coef_, self.intercept_, self.singular_, rank = materialize(
            xp, coef, intercept, s, rank
        )
        self.rank_ = int(to_scalar(rank))
        return self

    def _fit_blocks(self, xp: ModuleType, data: Any, tol: float) -> LinearRegression:
        """``fit`` on lazy (Dask) data: one pass (:func:`_reduce_blocks`), then the
        in-memory solver on the host, on ``R11`` against ``R12``. The cutoff uses the
        machine precision of the compute dtype, as in memory, so the ranks agree.

        Computations: 1, the pass (X's finite check runs inside it), plus validation's:
        1 for y's finite check and 3 for an array of sample weights (finite,
        non-negative, positive sum)."""
        reduced = _reduce_blocks(xp, data, self.fit_intercept)
        dtype = np.dtype(data.X.dtype)
        rcond = max(tol, _rcond(float(np.finfo(dtype).eps), reduced.shape))
        coef, singular, kept = _host_solve(reduced, np.zeros(1), rcond)
        self._set_host_solution(xp, data, reduced, coef)
        self.singular_ = xp.asarray(singular.astype(dtype))
        self.rank_ = int(np.count_nonzero(kept))
        return self
