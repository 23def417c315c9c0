"""Ridge regression written once against the Array API, through the shared SVD solver."""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from xplearn._xp import is_array, move_to, numpy_namespace
from xplearn._xp._ops import is_lazy
from xplearn.base import Capabilities
from xplearn.linear_model._base import (
    _factor,
    _keeping_fitted_model,
    _LinearModel,
    _reduce_blocks,
    _ridge_solve,
)
from xplearn.utils.validation import method_name, validate_params

__all__ = ["Ridge"]

#: Values of ``solver`` accepted: all give the same exact solution, through one SVD.
_SOLVERS = ("auto", "svd", "cholesky")
#: scikit-learn's iterative or special-purpose solvers, which xplearn does not provide.
_SKLEARN_ONLY_SOLVERS = ("lsqr", "sparse_cg", "sag", "saga", "lbfgs")


class Ridge(_LinearModel):
    """Linear least squares with L2 regularization.

    Minimizes ``||y - X w||^2_2 + alpha * ||w||^2_2`` (the squared error weighted by
    ``sample_weight``), one problem per target. Runs on every backend; the fitted
    attributes live in the namespace and on the device of the training data.

    xplearn solves every case through one exact path: center X and y (weighted means)
    and scale rows by ``sqrt(sample_weight)``, in float64 wherever the device has it;
    take the R factor of the QR decomposition of ``[X | y]`` (columns divided by powers
    of two first), the thin SVD ``R11 = U diag(s) Vt`` of its leading block in X's units
    (the same singular values and right singular vectors as X) and set ``coef = Vt.T
    diag(1 / (s + alpha / s)) U.T R12`` (``s / (s**2 + alpha)`` without squaring ``s``,
    so X at 1e+-250 gives the exact solution of that data; scikit-learn's Gram matrix
    overflows at 1e250). This is scikit-learn's ``"svd"`` solution; its ``"cholesky"``
    solver computes the same, so both names (and ``"auto"``) select this path. It also
    handles fewer samples than features.

    Parameters
    ----------
    alpha : float or array-like of shape (n_targets,), default=1.0
        Non-negative, finite strength of the penalty. An array gives one penalty per
        target.
    fit_intercept : bool, default=True
        Whether to fit an intercept. If False, the data are not centered.
    copy_X : bool, default=True
        Kept for scikit-learn compatibility; xplearn never modifies its input.
    max_iter : int, default=None
        Ignored: the solver is direct. Kept for scikit-learn compatibility.
    tol : float, default=1e-4
        Ignored: the solver is direct. Kept for scikit-learn compatibility.
    solver : {"auto", "svd", "cholesky"}, default="auto"
        All three select the same SVD-based exact solver. scikit-learn's iterative
        solvers (``"lsqr"``, ``"sparse_cg"``, ``"sag"``, ``"saga"``, ``"lbfgs"``) are not
        available and raise ``ValueError``.
    positive : bool, default=False
        Non-negative coefficients are not supported: True raises ``NotImplementedError``
        at fit.
    random_state : int, RandomState instance or None, default=None
        Ignored: the solver is deterministic. Kept for scikit-learn compatibility.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and of the fitted attributes; None takes the configured
        default (``"preserve"``). ``"preserve"``: float32 data give float32 coefficients,
        float64 give float64, integers the device's default float; the centering and
        the factorization run in float64 wherever the device has it. ``"float32"``:
        float32 throughout (the mean in two passes). ``"float64"``: always float64.
        ``"mixed"``: float32 storage and attributes, float64 computation where the
        device has it.

    Attributes
    ----------
    coef_ : array of shape (n_features,) or (n_targets, n_features)
        Weight vector(s); 2-D when y was 2-D.
    intercept_ : 0-d array or array of shape (n_targets,)
        Independent term (zeros when ``fit_intercept=False``).
    n_iter_ : None
        Always None: the solver is direct.
    solver_ : str
        The solver used: always ``"svd"``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    LinearRegression : Ordinary least squares.
    sklearn.linear_model.Ridge : The scikit-learn estimator this mirrors.

    Notes
    -----
    Unlike scikit-learn, ``intercept_`` is always an array of the input namespace: a 0-d
    array for 1-D y and an array of zeros, not the float 0.0, when
    ``fit_intercept=False``; ``solver_`` is ``"svd"`` where scikit-learn would report
    ``"cholesky"``.

    On Dask arrays, ``fit`` makes one pass over the data: the R factor of the (centered,
    weighted) ``[X | y]`` by blocks (a TSQR), then the same SVD solve on its small
    leading block on the host, in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.linear_model import Ridge
    >>> X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    >>> y = np.array([0.0, 0.1, 1.0])
    >>> reg = Ridge(alpha=1.0).fit(X, y)
    >>> reg.coef_
    array([0.27142857, 0.27142857])
    >>> round(float(reg.intercept_), 6)
    0.185714
    """

    _capabilities: ClassVar[Capabilities] = replace(
        _LinearModel._capabilities,
        expected_failed_checks={
            "check_non_transformer_estimators_n_iter": (
                "n_iter_ is None: the solver is direct (one SVD), as scikit-learn's own "
                "Ridge with its direct solvers"
            )
        },
    )

    _parameter_constraints: ClassVar[dict] = {
        # scikit-learn's (sklearn.linear_model.Ridge._parameter_constraints)
        "alpha": [Interval(numbers.Real, 0, None, closed="left"), "array-like"],
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "solver": [
            StrOptions({"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs"})
        ],
        "positive": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        copy_X=True,
        max_iter=None,
        tol=1e-4,
        solver="auto",
        positive=False,
        random_state=None,
        dtype_policy=None,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state
        self.dtype_policy = dtype_policy

    def _check_solver(self) -> None:
        prefix = f"{method_name(self, 'fit')}: "
        if self.solver in _SOLVERS:
            return
        if self.solver in _SKLEARN_ONLY_SOLVERS:
            raise ValueError(
                f"{prefix}solver={self.solver!r} is not supported by xplearn's Ridge, which "
                f"solves exactly through one SVD; use solver in {_SOLVERS} (all give the "
                "same solution)."
            )
        raise ValueError(f"{prefix}solver must be one of {_SOLVERS}, got {self.solver!r}.")

    def _check_alpha_scalar(self) -> None:
        """Reject a negative or NaN scalar alpha before looking at the data."""
        alpha = self.alpha
        if isinstance(alpha, bool) or (
            isinstance(alpha, numbers.Real) and not (alpha >= 0 and math.isfinite(alpha))
        ):
            raise ValueError(
                f"{method_name(self, 'fit')}: alpha must be non-negative and finite: a "
                f"number >= 0 or an array of one per target, got alpha={alpha!r}."
            )

    def _alpha_array(self, xp: ModuleType, device: Any, dtype: Any, n_targets: int) -> Any:
        """``alpha`` as an array of shape (1,) or (n_targets,) of ``xp`` on ``device``."""
        prefix = f"{method_name(self, 'fit')}: "
        alpha = self.alpha
        if isinstance(alpha, numbers.Real):
            return xp.asarray([float(alpha)], dtype=dtype, device=device)
        try:
            if is_array(alpha):
                values = xp.astype(move_to(alpha, xp, device), dtype)
            else:
                values = xp.asarray(alpha, dtype=dtype, device=device)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{prefix}alpha must be a non-negative number or an array of shape "
                f"(n_targets,), got alpha={alpha!r}."
            ) from error
        if values.ndim == 0:
            values = xp.reshape(values, (1,))
        if values.ndim != 1:
            raise ValueError(
                f"{prefix}alpha must be a number or a 1-D array of shape (n_targets,), got "
                f"an array of shape {tuple(values.shape)}."
            )
        if values.shape[0] not in (1, n_targets):
            raise ValueError(
                f"{prefix}Number of targets and number of penalties do not correspond: "
                f"{values.shape[0]} != {n_targets}; alpha must be a number or have one "
                "value per target."
            )
        if bool(xp.any(~(values >= 0))) or not bool(xp.all(xp.isfinite(values))):
            raise ValueError(
                f"{prefix}alpha must be non-negative and finite (not NaN), got alpha={alpha!r}."
            )
        return values

    def fit(self, X, y, sample_weight=None):
        """Fit the ridge regression model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values, in the namespace and on the device of X.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (a float gives every sample that weight).

        Returns
        -------
        self : Ridge
            The fitted model.
        """
        validate_params(self, "fit")
        self._check_positive()
        self._check_solver()
        self._check_alpha_scalar()
        return _keeping_fitted_model(self, lambda: self._fit(X, y, sample_weight))

    def _fit(self, X, y, sample_weight):
        data = self._validate_fit(X, y, sample_weight)
        xp = data.xp
        if is_lazy(xp):
            factored, sxp = _reduce_blocks(xp, data, self.fit_intercept), numpy_namespace()
            alpha = self._alpha_array(sxp, "cpu", np.float64, factored.R12.shape[1])
        else:
            work = data.dtypes.accumulate  # float64 where the device has it
            factored, sxp = _factor(xp, data, self.fit_intercept, work), xp
            alpha = self._alpha_array(xp, data.device, work, factored.R12.shape[1])
        coef = _ridge_solve(sxp, factored, alpha)
        self.coef_, self.intercept_ = self._set_solution(xp, data, factored, coef, sxp)
        self.n_iter_ = None
        self.solver_ = "svd"
        return self
