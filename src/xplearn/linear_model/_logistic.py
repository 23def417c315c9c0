"""Logistic regression written once against the Array API, fitted by an on-device L-BFGS.

The objective is scikit-learn's (``sklearn.linear_model._linear_loss.LinearModelLoss``)::

    sum_i s_i * loss_i / sum_i s_i  +  ||coef||^2 / (2 * C * sum_i s_i)

with ``s_i`` the sample weight times the class weight of sample ``i``, the intercept not
penalized, ``loss_i`` the binomial log-loss (two classes: one coefficient row, sigmoid) or
the multinomial one (softmax over one row per class, the symmetric over-parametrization
that scikit-learn uses). It is minimized from zero by
:func:`xplearn.utils._optimize.minimize_lbfgs`, which mirrors the iteration of SciPy's
L-BFGS-B as scikit-learn calls it (``gtol=tol``, ``ftol=64 * eps``, ``maxls=50``), so the
iterates, ``n_iter_`` and the solution agree with scikit-learn's ``lbfgs`` solver.

Value and gradient come from one fused pass over the data (:class:`_LogisticLoss`): one
matrix product for the linear predictor, the numerically stable log-sum-exp (softplus for
two classes), and one matrix product for the gradient. Everything stays in the namespace
and on the device of X; only a few scalars per evaluation reach the host, for the line
search.

On Dask, the same L-BFGS runs on the host (NumPy vectors of the accumulation dtype) and
each evaluation is one computation (:class:`_BlockwiseLogisticLoss`): every row block
evaluates its share of the objective and gradient with the in-memory
:class:`_LogisticLoss`, in its own namespace, and the shares are added on the host, where
the penalty joins them. The iterates, ``n_iter_`` and the solution are those of the
in-memory fit, up to the rounding of the sums.
"""

from __future__ import annotations

import math
import numbers
import warnings
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from xplearn._config import DTYPE_POLICIES
from xplearn._kernels._blocks import map_row_blocks, to_host
from xplearn._xp import array_namespace, device_of, move_to, numpy_namespace, to_numpy
from xplearn._xp._onnx import row_max, softmax_rows
from xplearn._xp._ops import is_lazy, materialize, to_scalar
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.utils._labels import (
    check_label_kinds,
    decode_labels,
    encode_labels,
    is_host_labels,
)
from xplearn.utils._optimize import minimize_lbfgs
from xplearn.utils.validation import method_name, validate_data, validate_params

__all__ = ["LogisticRegression"]

_PENALTIES = ("l2", None)
_SKLEARN_ONLY_SOLVERS = ("liblinear", "newton-cg", "newton-cholesky", "sag", "saga")
#: scikit-learn's relative-reduction tolerance of L-BFGS-B: 64 * float64 eps, whatever
#: the dtype (so that float32 fits are not cut short at float32's 64 * eps = 7.6e-6).
_FTOL = 64.0 * float(np.finfo(np.float64).eps)

_CONVERGENCE_ADVICE = (
    "Increase the number of iterations to improve the convergence (max_iter={max_iter}).\n"
    "You might also want to scale the data as shown in:\n"
    "    https://scikit-learn.org/stable/modules/preprocessing.html"
)


# ---------------------------------------------------------------------------------------
# Inference: functions of xp, the input and the fitted arrays, free of data-dependent
# Python control flow (the binary/multinomial branch depends on a shape only).


def _decision(xp: ModuleType, X: Any, coef: Any, intercept: Any) -> Any:
    """Scores ``X @ coef.T + intercept``: shape (n,) for one row of coef, else (n, K)."""
    scores = X @ coef.T + intercept
    if coef.shape[0] == 1:
        return xp.reshape(scores, (-1,))
    return scores


def _softplus_parts(xp: ModuleType, z: Any) -> tuple[Any, Any]:
    """``exp(-|z|)`` and ``softplus(z) = log(1 + exp(z))``, overflow-free."""
    e = xp.exp(-xp.abs(z))
    zero = xp.zeros((), dtype=z.dtype, device=device_of(z))
    return e, xp.maximum(z, zero) + xp.log1p(e)


def _sigmoid(xp: ModuleType, z: Any, e: Any) -> Any:
    """``1 / (1 + exp(-z))`` from ``e = exp(-|z|)``, without overflow."""
    r = 1.0 / (1.0 + e)
    return xp.where(z >= 0, r, e * r)


def _log_softmax(xp: ModuleType, scores: Any) -> Any:
    shifted = scores - row_max(xp, scores, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def _predict_proba(xp: ModuleType, scores: Any) -> Any:
    if scores.ndim == 1:
        e, _ = _softplus_parts(xp, scores)
        p = _sigmoid(xp, scores, e)
        return xp.stack([1.0 - p, p], axis=1)
    return softmax_rows(xp, scores, lambda values: _softmax(xp, values))


def _softmax(xp: ModuleType, scores: Any) -> Any:
    shifted = xp.exp(scores - row_max(xp, scores, axis=1, keepdims=True))
    return shifted / xp.sum(shifted, axis=1, keepdims=True)


def _predict_log_proba(xp: ModuleType, scores: Any) -> Any:
    if scores.ndim == 1:
        # log sigmoid(z) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z)
        _, softplus_pos = _softplus_parts(xp, scores)
        _, softplus_neg = _softplus_parts(xp, -scores)
        return xp.stack([-softplus_pos, -softplus_neg], axis=1)
    return _log_softmax(xp, scores)


def _predict_codes(xp: ModuleType, scores: Any) -> Any:
    if scores.ndim == 1:
        return xp.astype(scores > 0, xp.int64)
    return xp.argmax(scores, axis=1)


# ---------------------------------------------------------------------------------------
# Training: the fused loss and gradient


def _compensated_sum(xp: ModuleType, values: Any) -> tuple[Any, Any]:
    """Sum of a 1-D array as an unevaluated pair ``hi + lo`` of 0-d arrays of its dtype.

    In float32, a plain sum of 10^5 per-sample losses is good to about 1e-7 relative, the
    size of the decrease of the objective near the optimum: the line search then cannot
    tell a better point from a worse one. Here the values are summed exactly, in fixed
    point: scaled by a power of two ``2^e`` with ``n max|v| 2^e <= 2^62``, rounded to
    integers (an error of at most ``2^-e / 2`` each, far below the values' own rounding)
    and summed in int64, which is exact. The integer total is returned as ``hi + lo``
    (its float rounding and the exact remainder), scaled back by ``2^-e``; added in
    double precision on the host, it is good to about the rounding of the values
    themselves (random, about 1e-7 / sqrt(n) relative). A handful of array operations on
    the device, no data-dependent control flow; non-finite values give the plain sum.
    """
    dtype, device = values.dtype, device_of(values)
    two = xp.asarray(2.0, dtype=dtype, device=device)
    zero = xp.zeros((), dtype=dtype, device=device)
    tiny = xp.asarray(xp.finfo(dtype).smallest_normal, dtype=dtype, device=device)
    top = xp.max(xp.abs(values))
    finite = xp.isfinite(top)
    magnitude = xp.maximum(top * float(values.shape[0]), tiny)
    exponent = xp.clip(62.0 - xp.ceil(xp.log2(magnitude)), min=-100.0, max=100.0)
    exponent = xp.where(finite, exponent, zero)
    safe = xp.where(finite, values, zero)
    total = xp.sum(xp.astype(xp.round(safe * xp.pow(two, exponent)), xp.int64))
    rounded = xp.astype(total, dtype)
    remainder = total - xp.astype(rounded, xp.int64)
    inverse = xp.pow(two, -exponent)
    hi = xp.where(finite, rounded * inverse, xp.sum(values))
    lo = xp.astype(remainder, dtype) * inverse
    return hi, lo


class _LogisticLoss:
    """Objective and gradient of (penalized) logistic regression, in one pass.

    The parameters are one flat vector in the accumulation dtype: the coefficients, row
    by row (``(n_rows, n_features)``, one row for two classes, one per class otherwise),
    then the ``n_rows`` intercepts when ``fit_intercept``. Matrix products run in the
    compute dtype; the sums over samples are accumulated in ``accumulate``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), compute dtype
    codes : integer array of shape (n_samples,)
        Class index of every sample.
    n_classes : int
    weights : array of shape (n_samples,) or None
        ``s_i / sum(s)`` in the compute dtype; None for unit weights.
    l2 : float
        ``1 / (C * sum(s))``; 0 for no penalty.
    n_total : int, default=None
        Number of samples of the whole data set, whose ``1 / n_total`` scales the unit
        weights; None: X's rows. (A row block of a larger data set gives its share of
        the objective and gradient, see :func:`_loss_block`.)
    """

    def __init__(
        self,
        xp: ModuleType,
        X: Any,
        codes: Any,
        n_classes: int,
        weights: Any,
        l2: float,
        fit_intercept: bool,
        compute: Any,
        accumulate: Any,
        n_total: int | None = None,
    ):
        self.xp, self.X = xp, X
        self.n_samples, self.n_features = X.shape
        self.binary = n_classes == 2
        self.n_rows = 1 if self.binary else n_classes
        self.fit_intercept = fit_intercept
        self.compute, self.accumulate = compute, accumulate
        self.l2 = l2
        self.weights = weights
        # unit weights: every per-sample term is scaled by 1/n instead
        n_total = self.n_samples if n_total is None else n_total
        self.scale = 1.0 / n_total if weights is None else None
        device = device_of(X)
        if self.binary:
            self.target = xp.astype(codes, compute)
        else:
            # one-hot targets, one row per class (the scores are computed transposed,
            # (n_classes, n_samples), so that the reductions over classes run across
            # contiguous rows and the gradient is a plain product with X)
            classes = xp.reshape(xp.arange(n_classes, device=device), (-1, 1))
            onehot = xp.astype(xp.reshape(codes, (1, -1)) == classes, compute)
            # ... and times the normalized sample weights, for the gradient
            if weights is None:
                onehot_weighted = onehot * self.scale
            else:
                onehot_weighted = onehot * xp.reshape(weights, (1, -1))
            # (left lazy on Dask: recomputing them is cheap, and they keep X's chunks)
            self.onehot, self.onehot_weighted = onehot, onehot_weighted

    @property
    def n_params(self) -> int:
        return self.n_rows * (self.n_features + int(self.fit_intercept))

    def split(self, params: Any) -> tuple[Any, Any]:
        """``(coef (n_rows, n_features), intercept (n_rows,) or None)`` from the vector."""
        n_coef = self.n_rows * self.n_features
        coef = self.xp.reshape(params[:n_coef], (self.n_rows, self.n_features))
        intercept = params[n_coef:] if self.fit_intercept else None
        return coef, intercept

    def _weighted_sum(self, values: Any) -> Any:
        """``sum_i w_i values_i`` accumulated in the accumulation dtype.

        Without float64 accumulation, the sum is compensated and returned as an
        unevaluated pair ``(hi, lo)`` (see :func:`_compensated_sum`).
        """
        xp, acc = self.xp, self.accumulate
        if acc != xp.float64:
            weighted = values * (self.scale if self.weights is None else self.weights)
            return _compensated_sum(xp, xp.astype(weighted, acc, copy=False))
        if self.weights is None:
            return xp.sum(xp.astype(values, acc, copy=False)) * self.scale
        return xp.sum(xp.astype(values * self.weights, acc, copy=False))

    def __call__(self, params: Any) -> tuple[Any, Any]:
        """Objective and gradient (like ``params``), in the accumulation dtype.

        The objective is a 0-d array, or a pair of them (``hi + lo``, added on the host in
        double precision by the optimizer) when the accumulation dtype is not float64.
        """
        xp, X, acc = self.xp, self.X, self.accumulate
        coef, intercept = self.split(params)
        coef_c = xp.astype(coef, self.compute, copy=False)
        if self.binary:
            z = X @ coef_c[0, :]
            if intercept is not None:
                z = z + xp.astype(intercept, self.compute)
            e, softplus = _softplus_parts(xp, z)
            loss = self._weighted_sum(softplus - self.target * z)
            residual = _sigmoid(xp, z, e) - self.target
            residual = residual * (self.scale if self.weights is None else self.weights)
            grad_coef = xp.reshape(residual @ X, (1, -1))
            grad_intercept = xp.reshape(xp.sum(xp.astype(residual, acc, copy=False)), (1,))
        else:
            # scores transposed, (n_classes, n_samples), shifted by their column max
            Z = coef_c @ X.T
            if intercept is not None:
                Z += xp.reshape(xp.astype(intercept, self.compute), (-1, 1))
            Z -= xp.max(Z, axis=0, keepdims=True)
            E = xp.exp(Z)
            norm = xp.sum(E, axis=0)
            # loss_i = logsumexp(z_i) - z_i[y_i]; the one-hot sum picks z_i[y_i] exactly
            picked = xp.sum(self.onehot * Z, axis=0)
            loss = self._weighted_sum(xp.log(norm) - picked)
            # gradient of the scores: w_i * (softmax_i - onehot_i), in place of E
            factor = (self.scale / norm) if self.weights is None else (self.weights / norm)
            E *= xp.reshape(factor, (1, -1))
            E -= self.onehot_weighted
            grad_coef = E @ X
            grad_intercept = xp.sum(xp.astype(E, acc, copy=False), axis=1)
        grad_coef = xp.astype(grad_coef, acc, copy=False)
        if intercept is None:
            grad_intercept = None
        return _penalized(xp, loss, grad_coef, grad_intercept, coef, self.l2)


def _penalized(
    xp: ModuleType, loss: Any, grad_coef: Any, grad_intercept: Any | None, coef: Any, l2: float
) -> tuple[Any, Any]:
    """The data term's value and gradient plus the L2 penalty ``l2 / 2 * ||coef||^2``; the
    gradient as one flat vector (coefficients row by row, then the intercepts, if any).

    Shared by the in-memory objective and the blockwise one (on the host), so that both
    add the penalty in the same way.
    """
    if l2 > 0:
        penalty = (0.5 * l2) * xp.sum(coef * coef)
        # a (hi, lo) pair takes the small penalty into its low part
        loss = (loss[0], loss[1] + penalty) if isinstance(loss, tuple) else loss + penalty
        grad_coef = grad_coef + l2 * coef
    grad = xp.reshape(grad_coef, (-1,))
    if grad_intercept is not None:
        grad = xp.concat([grad, grad_intercept])
    return loss, grad


# ---------------------------------------------------------------------------------------
# Training on Dask: the same objective, one computation per evaluation


def _loss_block(
    block: Any,
    codes: Any,
    weights: Any,
    params: np.ndarray,
    n_classes: int,
    fit_intercept: bool,
    n_total: int,
    accumulate: str,
) -> tuple[list[float], np.ndarray]:
    """One row block's share of the unpenalized objective and of its gradient, on the host.

    The block (a NumPy or CuPy chunk of X, compute dtype) runs the in-memory
    :class:`_LogisticLoss` in its own namespace, with the host ``params`` moved there in
    the accumulation dtype (named by ``accumulate``) and unit weights scaled by
    ``1 / n_total``. Returns the parts of the value (Python floats whose sum it is) and
    the gradient in float64.
    """
    xp = array_namespace(block)
    n_params = (1 if n_classes == 2 else n_classes) * (block.shape[1] + int(fit_intercept))
    if block.shape[0] == 0:  # an empty chunk adds nothing (and has no maximum to take)
        return [], np.zeros(n_params)
    acc = getattr(xp, accumulate)
    loss = _LogisticLoss(
        xp, block, codes, n_classes, weights, 0.0, fit_intercept, block.dtype, acc, n_total
    )
    local = xp.astype(move_to(params, xp, device_of(block)), acc)
    value, grad = loss(local)
    parts = value if isinstance(value, tuple) else (value,)
    return [float(part) for part in parts], np.asarray(to_numpy(grad), dtype=np.float64)


class _BlockwiseLogisticLoss:
    """The objective of :class:`_LogisticLoss` over the row blocks of a Dask array, as a
    function of host (NumPy) parameters: one computation per evaluation.

    Each evaluation maps :func:`_loss_block` over the row blocks (:func:`map_row_blocks`,
    one ``dask.compute``); the blocks' values are added on the host in exact (``fsum``)
    double precision, their gradients in float64, and the penalty is added on the host
    as in memory (:func:`_penalized`). The parameters, and so the whole L-BFGS state,
    are NumPy arrays of the accumulation dtype.

    Parameters
    ----------
    X : Dask array of shape (n_samples, n_features), compute dtype
    codes : Dask array of shape (n_samples,)
    n_classes : int
    weights : Dask array of shape (n_samples,) or None
        ``s_i / sum(s)`` in the compute dtype; None for unit weights.
    l2 : float
        ``1 / (C * sum(s))``; 0 for no penalty.
    fit_intercept : bool
    accumulate : numpy.dtype
        The accumulation dtype (float32 or float64).
    """

    def __init__(self, X, codes, n_classes, weights, l2, fit_intercept, accumulate):
        self.X, self.codes, self.weights = X, codes, weights
        self.n_samples, self.n_features = X.shape
        self.n_classes = n_classes
        self.n_rows = 1 if n_classes == 2 else n_classes
        self.l2, self.fit_intercept = l2, fit_intercept
        self.accumulate = np.dtype(accumulate)

    @property
    def n_params(self) -> int:
        return self.n_rows * (self.n_features + int(self.fit_intercept))

    def split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(coef (n_rows, n_features), intercept (n_rows,) or None)`` from the vector."""
        n_coef = self.n_rows * self.n_features
        coef = params[:n_coef].reshape(self.n_rows, self.n_features)
        return coef, (params[n_coef:] if self.fit_intercept else None)

    def __call__(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective (a float64 0-d array) and gradient (accumulation dtype) at ``params``."""
        constants = (
            params,
            self.n_classes,
            bool(self.fit_intercept),
            self.n_samples,
            self.accumulate.name,
        )
        results = map_row_blocks(_loss_block, self.X, self.codes, self.weights, constants=constants)
        value = np.asarray(math.fsum(part for parts, _ in results for part in parts))
        grad = np.sum([grad for _, grad in results], axis=0).astype(self.accumulate)
        n_coef = self.n_rows * self.n_features
        grad_coef = grad[:n_coef].reshape(self.n_rows, self.n_features)
        grad_intercept = grad[n_coef:] if self.fit_intercept else None
        coef, _ = self.split(params)
        return _penalized(numpy_namespace(), value, grad_coef, grad_intercept, coef, self.l2)


# ---------------------------------------------------------------------------------------
# The estimator


class LogisticRegression(XPEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression (aka logit, MaxEnt) classifier, fitted with L-BFGS.

    Minimizes scikit-learn's objective::

        sum_i s_i * loss_i / sum_i s_i  +  ||coef||^2 / (2 * C * sum_i s_i)

    where ``s_i`` is the sample weight times the class weight of sample ``i`` and the
    intercept is not penalized. Two classes give the binomial model (one coefficient
    row, ``P(classes_[1]) = sigmoid(x @ coef_[0] + intercept_[0])``); more give the
    multinomial (softmax) model with one row per class, as scikit-learn's ``lbfgs``
    solver fits it. The optimizer is xplearn's L-BFGS written against the Array API: it
    runs where the data live (a GPU tensor stays on the GPU), and mirrors SciPy's
    L-BFGS-B iteration, so ``coef_``, ``intercept_`` and ``n_iter_`` agree with
    scikit-learn's ``lbfgs`` solver.

    Parameters
    ----------
    penalty : {"l2", None}, default="l2"
        ``"l2"``: the L2 penalty above; None: no penalty (``C`` is ignored).
    C : float, default=1.0
        Inverse of the regularization strength, > 0; ``numpy.inf`` means no penalty.
    tol : float, default=1e-4
        Stop when the largest absolute entry of the gradient is at most ``tol``
        (SciPy's ``gtol``), or when the objective decreases by less than ``64 * eps``
        relative.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalized) intercept.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes: ``{label: weight}`` (1 for the classes not given), or
        ``"balanced"``: ``sum(s) / (n_classes * class_sums)``, the class sums being
        sums of sample weights (counts without ``sample_weight``). They multiply
        ``sample_weight``.
    solver : {"lbfgs"}, default="lbfgs"
        Only L-BFGS is available; scikit-learn's other solvers raise ``ValueError``.
    max_iter : int, default=100
        Most L-BFGS iterations; a ``ConvergenceWarning`` is emitted when they are all
        used.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        None takes the configured default (``"preserve"``). ``"preserve"``: float32
        data are fitted in float32 (products, per-sample terms, sums, optimizer state and
        fitted attributes), float64 in float64, integers in the device's default float.
        ``"float32"`` / ``"float64"``: always that dtype. ``"mixed"``: float32 data and
        matrix products, with the optimizer state (coefficients, gradient, L-BFGS
        memory) and every sum over samples (objective, intercept gradient, class
        weights) in float64 where the device has it; the fitted attributes are float32.
        In float32 the objective is summed with compensation (an error-free pairwise
        sum, added on the host in double precision), so that the line search can still
        tell better from worse near the optimum.

    Attributes
    ----------
    classes_ : array of shape (n_classes,)
        Sorted class labels: an array of X's namespace when y was one, else a NumPy
        array (e.g. strings); predictions come back in the same form.
    coef_ : array of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for two classes (for ``classes_[1]``).
    intercept_ : array of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).
    n_iter_ : array of shape (1,), int32
        Number of L-BFGS iterations.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The scikit-learn estimator this mirrors.

    Notes
    -----
    Differences from scikit-learn: ``penalty`` is not deprecated here and takes only
    ``"l2"`` or None (scikit-learn 1.8 deprecated it in favour of ``l1_ratio`` and
    ``C=np.inf``); only the ``"lbfgs"`` solver exists, without ``warm_start``;
    ``predict_log_proba`` is computed stably (log-softmax), not as ``log(predict_proba)``,
    so it stays finite where probabilities underflow. The fitted attributes live in the
    namespace and on the device of X.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.linear_model import LogisticRegression
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> y = np.array(["no", "no", "yes", "yes"])
    >>> clf = LogisticRegression().fit(X, y)
    >>> clf.predict(np.array([[-3.0], [3.0]]))
    array(['no', 'yes'], dtype='<U3')
    >>> clf.predict_proba(np.array([[0.0]])).round(3)
    array([[0.5, 0.5]])
    """

    _capabilities: ClassVar[Capabilities] = Capabilities(
        fallbacks={
            "dask": (
                "fit: one computation per L-BFGS evaluation (each row block adds its "
                "share of the loss and gradient, the optimizer state stays on the host), "
                "plus X's finiteness check, the classes (Dask labels) and the weight "
                "total (with sample or class weights)"
            )
        },
        onnx_methods=("decision_function", "predict", "predict_proba", "predict_log_proba"),
    )
    #: scikit-learn's constraints (sklearn.linear_model.LogisticRegression's, for the
    #: parameters xplearn has) and dtype_policy: the same values pass and fail; the
    #: penalties and solvers xplearn lacks are refused after them, with a clear message
    _parameter_constraints: ClassVar[dict] = {
        "penalty": [StrOptions({"l1", "l2", "elasticnet"}), None],
        "C": [Interval(numbers.Real, 0, None, closed="right")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [StrOptions({"lbfgs", *_SKLEARN_ONLY_SOLVERS})],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "dtype_policy": [StrOptions(set(DTYPE_POLICIES)), None],
    }

    def __init__(
        self,
        penalty="l2",
        *,
        C=1.0,
        tol=1e-4,
        fit_intercept=True,
        class_weight=None,
        solver="lbfgs",
        max_iter=100,
        dtype_policy=None,
    ):
        self.penalty = penalty
        self.C = C
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.max_iter = max_iter
        self.dtype_policy = dtype_policy

    # -- parameters -------------------------------------------------------------------

    def _check_params(self) -> None:
        validate_params(self, "fit")
        prefix = f"{method_name(self, 'fit')}: "
        if self.solver != "lbfgs":
            raise ValueError(
                f"{prefix}solver={self.solver!r} is not supported by xplearn's "
                "LogisticRegression, which has only solver='lbfgs'; use "
                "sklearn.linear_model.LogisticRegression for the other solvers."
            )
        if self.penalty not in _PENALTIES:
            raise ValueError(
                f"{prefix}penalty must be 'l2' or None, got {self.penalty!r}; other "
                "penalties need solvers that xplearn does not provide."
            )
        C = self.C
        if self.penalty is None and C != 1.0:
            warnings.warn(
                f"{prefix}Setting penalty=None will ignore the C parameter.",
                UserWarning,
                stacklevel=3,
            )

    def _l2_strength(self) -> float:
        """``1 / C`` (0 without penalty); divided by the weight sum at fit."""
        if self.penalty is None or math.isinf(self.C):
            return 0.0
        return 1.0 / float(self.C)

    def _class_weights(self, xp, device, classes, codes, sample_weight, accumulate, prefix):
        """Per-class weights (n_classes,) in ``accumulate``, or None."""
        n_classes = classes.shape[0]
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):  # "balanced"
            sums = _class_sums(xp, device, codes, n_classes, sample_weight, accumulate)
            return xp.sum(sums) / (n_classes * sums)
        weights = self._dict_class_weights(to_numpy(classes).tolist(), prefix)
        return xp.asarray(weights, dtype=accumulate, device=device)

    def _dict_class_weights(self, labels: list, prefix: str) -> list[float]:
        """The weight of each class of ``labels`` from a dict ``class_weight`` (1 if absent)."""
        unknown = [key for key in self.class_weight if key not in labels]
        if unknown:
            raise ValueError(
                f"{prefix}class_weight has labels that are not classes of y: {unknown}; "
                f"the classes are {labels}."
            )
        return [float(self.class_weight.get(label, 1.0)) for label in labels]

    def _blockwise_weights(self, xp, device, classes, codes, sample_weight, accumulate, prefix):
        """On Dask: the per-sample weights ``s_i`` (sample weight times class weight, a lazy
        array of the accumulation dtype, or None) and their sum ``sum(s)``.

        The class weights are found on the host from the per-class sums of the sample
        weights (counts without them) and, for device labels, the classes' values, in one
        computation, so that every later pass over the data is blockwise (no reduction over
        all the rows left in the weights' graph); ``sum(s)`` is then ``sum_k weight_k *
        sum_k``. Without class weights, ``sum(s)`` is one computation, none without weights.
        """
        n_samples, n_classes = codes.shape[0], classes.shape[0]
        if self.class_weight is None:
            if sample_weight is None:
                return None, float(n_samples)
            weights = xp.astype(sample_weight, accumulate)
            return weights, float(to_host(xp.sum(weights))[0])
        sums = _class_sums(xp, device, codes, n_classes, sample_weight, accumulate)
        if is_host_labels(classes):
            (sums,), labels = to_host(sums), classes
        else:
            sums, labels = to_host(sums, classes)
        dtype = np.dtype(accumulate)
        if isinstance(self.class_weight, str):  # "balanced", as in memory
            sums = sums.astype(dtype)
            class_weight = np.sum(sums) / (n_classes * sums)
        else:
            class_weight = np.asarray(
                self._dict_class_weights(labels.tolist(), prefix), dtype=dtype
            )
        per_sample = xp.take(xp.asarray(class_weight, device=device), codes)
        weights = per_sample
        if sample_weight is not None:
            weights = xp.astype(sample_weight, accumulate) * per_sample
        total = math.fsum((class_weight.astype(np.float64) * sums).tolist())
        return weights, total

    # -- fit ---------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit the model by minimizing the penalized log-loss with L-BFGS.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace.
        y : array-like of shape (n_samples,)
            Class labels: an array of X's namespace and device (numbers), or a NumPy
            array or list of any labels scikit-learn accepts (strings included).
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative weight of each sample, in X's namespace.

        Returns
        -------
        self : LogisticRegression
            The fitted model.
        """
        self._check_params()
        prefix = f"{method_name(self, 'fit')}: "
        data = validate_data(
            self,
            X,
            y,
            method="fit",
            reset=True,
            sample_weight=sample_weight,
            y_required=True,
            y_kind="labels",
        )
        xp, device = data.xp, data.device
        compute, accumulate = data.dtypes.compute, data.dtypes.accumulate
        try:
            classes, codes = encode_labels(xp, device, data.y, prefix)
            if is_lazy(xp):
                weights, weight_sum = self._blockwise_weights(
                    xp, device, classes, codes, data.sample_weight, accumulate, prefix
                )
            else:
                class_weight = self._class_weights(
                    xp, device, classes, codes, data.sample_weight, accumulate, prefix
                )
        except ValueError:
            # a failed fit must not leave an unfitted estimator looking fitted
            for name in ("n_features_in_", "feature_names_in_", "_fit_context"):
                self.__dict__.pop(name, None)
            raise
        n_classes = classes.shape[0]

        if not is_lazy(xp):
            weights = data.sample_weight
            if class_weight is not None:
                per_sample = xp.take(class_weight, codes)
                weights = (
                    per_sample if weights is None else xp.astype(weights, accumulate) * per_sample
                )
            if weights is None:
                weight_sum = float(data.X.shape[0])
            else:
                weights = xp.astype(weights, accumulate)
                weight_sum = to_scalar(xp.sum(weights))
        normalized = None if weights is None else xp.astype(weights / weight_sum, compute)
        l2 = self._l2_strength() / weight_sum

        if is_lazy(xp):
            # on Dask: the L-BFGS state on the host, one computation per evaluation, each
            # row block adding its share of the objective (see _BlockwiseLogisticLoss)
            loss = _BlockwiseLogisticLoss(
                data.X, codes, n_classes, normalized, l2, bool(self.fit_intercept), accumulate
            )
            x0 = np.zeros((loss.n_params,), dtype=np.dtype(accumulate))
        else:
            loss = _LogisticLoss(
                xp,
                data.X,
                codes,
                n_classes,
                normalized,
                l2,
                bool(self.fit_intercept),
                compute,
                accumulate,
            )
            x0 = xp.zeros((loss.n_params,), dtype=accumulate, device=device)
        result = minimize_lbfgs(
            loss,
            x0,
            max_iter=int(self.max_iter),
            pgtol=float(self.tol),
            ftol=_FTOL,
            m=10,
            max_ls=50,
        )
        if result.status != 0:
            message = (
                f"{prefix}lbfgs failed to converge after {result.n_iter} iteration(s) "
                f"(status={result.status}):\n{result.message}\n"
            )
            if result.n_iter == self.max_iter:
                message += "\n" + _CONVERGENCE_ADVICE.format(max_iter=self.max_iter)
            warnings.warn(message, ConvergenceWarning, stacklevel=2)

        coef, intercept = loss.split(result.x)
        if is_lazy(xp):
            # small in-memory-backed Dask arrays (no graph over X)
            host_dtype = np.dtype(compute)
            if intercept is None:
                intercept = np.zeros((loss.n_rows,))
            self.coef_ = xp.asarray(coef.astype(host_dtype))
            self.intercept_ = xp.asarray(intercept.astype(host_dtype))
            self.n_iter_ = xp.asarray(np.asarray([result.n_iter], dtype=np.int32))
            self.classes_ = classes
            return self
        if intercept is None:
            intercept = xp.zeros((loss.n_rows,), dtype=compute, device=device)
        self.coef_, self.intercept_ = materialize(
            xp, xp.astype(coef, compute), xp.astype(intercept, compute)
        )
        self.n_iter_ = xp.asarray([result.n_iter], dtype=xp.int32, device=device)
        self.classes_ = classes
        return self

    # -- inference ---------------------------------------------------------------------

    def _infer(self, method: str, xp: ModuleType, X: Any) -> Any:
        coef, intercept = self._fitted_arrays(X.dtype, "coef_", "intercept_")
        scores = _decision(xp, X, coef, intercept)
        if method == "decision_function":
            return scores
        if method == "predict_proba":
            return _predict_proba(xp, scores)
        if method == "predict_log_proba":
            return _predict_log_proba(xp, scores)
        return decode_labels(self.classes_, _predict_codes(xp, scores))

    def decision_function(self, X):
        """Confidence scores: ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the namespace and on the device the model was fitted on.

        Returns
        -------
        scores : array of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the score of ``classes_[1]`` (positive: predicted); else one
            score per class.
        """
        return self._validated_infer("decision_function", X)

    def predict_proba(self, X):
        """Class probabilities: the sigmoid (two classes) or the softmax of the scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the namespace and on the device the model was fitted on.

        Returns
        -------
        proba : array of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; rows sum to 1.
        """
        return self._validated_infer("predict_proba", X)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed stably (log-softmax).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the namespace and on the device the model was fitted on.

        Returns
        -------
        log_proba : array of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        return self._validated_infer("predict_log_proba", X)

    def predict(self, X):
        """Predict the class of every sample: the one with the highest score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, in the namespace and on the device the model was fitted on.

        Returns
        -------
        labels : array of shape (n_samples,)
            Labels from ``classes_``: in X's namespace when the training labels were,
            else a NumPy array.
        """
        return self._validated_infer("predict", X)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` with respect to ``y`` (optionally weighted).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels, in the form the training labels had.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, in X's namespace.

        Returns
        -------
        score : float
            The (weighted) fraction of correctly classified samples.
        """
        data = validate_data(
            self,
            X,
            y,
            method="score",
            reset=False,
            sample_weight=sample_weight,
            y_required=True,
            y_kind="labels",
        )
        xp = data.xp
        coef, intercept = self._fitted_arrays(data.dtypes.compute, "coef_", "intercept_")
        predicted = decode_labels(
            self.classes_, _predict_codes(xp, _decision(xp, data.X, coef, intercept))
        )
        check_label_kinds(data.y, self.classes_, f"{method_name(self, 'score')}: ")
        host = is_host_labels(self.classes_)
        if host != is_host_labels(data.y):
            form = "a NumPy array or list" if host else "an array of X's namespace"
            raise ValueError(
                f"{method_name(self, 'score')}: y must come in the form the training labels "
                f"had: {form}."
            )
        if host:
            correct = move_to(np.asarray(predicted == data.y), xp, data.device)
        else:
            correct = predicted == data.y
        correct = xp.astype(correct, data.dtypes.accumulate)
        if data.sample_weight is None:
            return to_scalar(xp.mean(correct))
        weights = xp.astype(data.sample_weight, data.dtypes.accumulate)
        return to_scalar(xp.sum(weights * correct) / xp.sum(weights))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


def _class_sums(xp, device, codes, n_classes: int, sample_weight, accumulate):
    """Each class's total sample weight (its count without weights), in ``accumulate``."""
    columns = xp.reshape(xp.arange(n_classes, device=device), (1, -1))
    onehot = xp.astype(xp.reshape(codes, (-1, 1)) == columns, accumulate)
    if sample_weight is None:
        return xp.sum(onehot, axis=0)
    return xp.astype(sample_weight, accumulate) @ onehot
