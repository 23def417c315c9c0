"""Linear discriminant analysis written once against the Array API."""

from __future__ import annotations

import math
import numbers
import warnings
from numbers import Integral, Real
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from xplearn._kernels._blocks import Moments, grouped_moments, map_row_blocks
from xplearn._xp import (
    array_namespace,
    device_of,
    move_to,
    numpy_namespace,
    supports_float64,
    to_numpy,
)
from xplearn._xp._dtypes import check_policy
from xplearn._xp._onnx import row_max, softmax_rows
from xplearn._xp._ops import eigh, flip_sign_rows, is_lazy, materialize, svd, to_scalar
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.naive_bayes import (
    _check_priors_shape,
    _one_hot,
    _priors_array,
    _safe_log,
)
from xplearn.utils._labels import decode_labels, encode_labels
from xplearn.utils.validation import method_name, validate_data, validate_params

__all__ = ["LinearDiscriminantAnalysis"]

_SOLVERS = ("svd", "lsqr", "eigen")


def _small_namespace(xp: ModuleType) -> ModuleType:
    """Where the small (n_features x n_features, n_classes x n_features) matrices are
    decomposed: ``xp`` itself, or NumPy on the host for a lazy namespace (Dask), whose
    linear algebra wants tall-and-skinny matrices and whose graphs would only grow."""
    return numpy_namespace() if is_lazy(xp) else xp


def _to_small(sxp: ModuleType, xp: ModuleType, *arrays: Any) -> list[Any]:
    """Materialized arrays of ``xp`` as arrays of the small-matrix namespace ``sxp``."""
    arrays = materialize(xp, *arrays)
    return list(arrays) if sxp is xp else [to_numpy(array) for array in arrays]


def _thin_svd(xp: ModuleType, matrix: Any) -> tuple[Any, Any]:
    """Singular values and right singular vectors ``(S, Vt)`` of a 2-D array, tall or wide
    (a wide one through its transpose: the tall-and-skinny path is the one Dask has)."""
    n_rows, n_columns = matrix.shape
    if n_rows < n_columns:
        U, S, _ = svd(xp, matrix.T)
        return S, U.T
    _, S, Vt = svd(xp, matrix)
    return S, Vt


def _flip_columns(xp: ModuleType, matrix: Any) -> Any:
    """Columns signed so that each one's largest-magnitude entry is positive."""
    if matrix.shape[1] == 0:
        return matrix
    flipped, _ = flip_sign_rows(xp, matrix.T)
    return flipped.T


def _eye(xp: ModuleType, n: int, dtype: Any, device: Any) -> Any:
    return xp.eye(n, dtype=dtype, device=device)


class LinearDiscriminantAnalysis(
    XPEstimatorMixin,
    ClassNamePrefixFeaturesOutMixin,
    ClassifierMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Linear discriminant analysis.

    A classifier with a linear decision boundary: a Gaussian density per class with one
    covariance matrix shared by all classes, and Bayes' rule. It also projects data on
    the directions that best separate the classes (:meth:`transform`). The semantics are
    those of :class:`sklearn.discriminant_analysis.LinearDiscriminantAnalysis`, computed
    with the array library of the input: NumPy, PyTorch, CuPy, Dask or any Array API
    namespace. Fitted attributes live in that namespace and on that device.

    Parameters
    ----------
    solver : {"svd", "lsqr", "eigen"}, default="svd"
        ``"svd"``: singular value decompositions of the within-class scaled data and of
        the class centers; never forms the covariance matrix (unless
        ``store_covariance``). ``"lsqr"``: solves ``covariance_ @ coef_.T = means_.T``;
        classification only (no :meth:`transform`). ``"eigen"``: the generalized
        eigenproblem of the between- and within-class covariance matrices. ``"lsqr"``
        and ``"eigen"`` support ``shrinkage``.
    shrinkage : "auto", float or None, default=None
        Shrinkage of the class covariance matrices towards a multiple of the identity:
        None for none, a float in [0, 1] for a fixed amount, ``"auto"`` for the
        Ledoit-Wolf amount (on standardized features, as scikit-learn). Not supported by
        the ``"svd"`` solver.
    priors : array-like of shape (n_classes,), default=None
        Class prior probabilities; by default the class proportions of the data. Priors
        that do not sum to 1 are renormalized with a ``UserWarning``, as scikit-learn.
    n_components : int, default=None
        Number of components of :meth:`transform`, at most
        ``min(n_classes - 1, n_features)`` (the default).
    store_covariance : bool, default=False
        With ``solver="svd"``, also compute ``covariance_`` (always computed by the
        other solvers).
    tol : float, default=1e-4
        Absolute threshold for a singular value of the within-class scaled data to be
        significant (``"svd"`` solver only).
    covariance_estimator : None
        Kept for scikit-learn compatibility; only None is supported (a custom covariance
        estimator is not array-API aware).
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and fitted attributes; None takes the configured default
        (``"preserve"``). ``"preserve"``: float32 data gives float32 attributes and
        outputs, float64 gives float64, integers the device's default float; the class
        means, standard deviations and covariance matrices of float32 data accumulate in
        float64 where the device has it (the SVD of the scaled data stays float32).
        ``"mixed"``: float32 storage and decomposition of the data (``"svd"``), with the
        class means, standard deviations and covariance matrices accumulated in float64
        where the device has it, and the small decompositions done in float64; attributes
        stored in float32.

    Attributes
    ----------
    coef_ : array of shape (n_classes, n_features), or (1, n_features) for 2 classes
        Weight vectors.
    intercept_ : array of shape (n_classes,), or (1,) for 2 classes
        Intercepts.
    covariance_ : array of shape (n_features, n_features)
        Within-class covariance matrix ``sum_k priors_[k] * C_k`` (biased, possibly
        shrunk, class covariances ``C_k``). With ``solver="svd"`` only when
        ``store_covariance``.
    explained_variance_ratio_ : array of shape (n_components,)
        Fraction of the between-class variance explained by each component (``"svd"``
        and ``"eigen"`` solvers).
    means_ : array of shape (n_classes, n_features)
        Class means.
    priors_ : array of shape (n_classes,)
        Class priors (summing to 1).
    scalings_ : array of shape (rank, rank_between) for "svd", (n_features, n_features) \
for "eigen"
        Projection onto the discriminant directions (``"svd"`` and ``"eigen"``). Each
        column is signed so that its largest-magnitude entry is positive, which makes
        :meth:`transform` deterministic across backends; scikit-learn keeps LAPACK's
        signs, so its transform may differ from this one by the sign of a column.
    xbar_ : array of shape (n_features,)
        Overall (prior-weighted) mean (``"svd"`` solver).
    classes_ : array of shape (n_classes,)
        Class labels, sorted. An array of X's namespace for numeric labels given in it,
        else a NumPy array (strings, lists); predictions come back in the same form.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    sklearn.discriminant_analysis.LinearDiscriminantAnalysis : The scikit-learn estimator
        this mirrors.

    Notes
    -----
    Class means and covariances are products of a one-hot class matrix with the data:
    no Python loop over samples (``shrinkage="auto"`` loops over the classes, one
    matrix product each). The generalized eigenproblem of ``"eigen"`` is solved by
    whitening with the eigendecomposition of the within-class covariance; directions in
    which that covariance is singular (below ``n_features * eps`` times its largest
    eigenvalue) are dropped, which gives the pseudo-inverse where scikit-learn's
    Cholesky factorization fails. ``"lsqr"`` uses the same pseudo-inverse. Past the
    ``min(n_classes - 1, n_features)`` leading ones, the eigen solver's ``scalings_``
    columns span the null space of the between-class covariance in an arbitrary basis,
    as in scikit-learn. The inference methods are free of data-dependent Python control
    flow. They evaluate the scores divided by a power of two (``_decision_scale``, at
    least twice the largest row 1-norm of ``coef_``), which is exact and cannot
    overflow for finite X: ``predict_proba``, ``predict_log_proba`` and ``predict`` are
    finite and right for queries whose scores leave the dtype (float32 at 1e30), and
    ``decision_function`` is +-inf there, never NaN.

    On Dask arrays, ``fit`` makes one pass over X (one computation, which also checks X
    for NaN and infinity): per row block, each class's count, mean, squared deviations
    and the R factor of its centered rows, merged on the host; the solvers then work on
    these small matrices. ``shrinkage="auto"`` makes a second pass (the Ledoit-Wolf
    amount needs a fourth moment of the standardized classes), and labels given as a
    Dask array one more computation, to find the classes.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.discriminant_analysis import LinearDiscriminantAnalysis
    >>> X = np.array([[-1, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> y = np.array([1, 1, 1, 2, 2, 2])
    >>> LinearDiscriminantAnalysis().fit(X, y).predict([[-0.8, -1]])
    array([1])
    """

    _capabilities: ClassVar[Capabilities] = Capabilities(
        fallbacks={
            "dask": (
                "fit makes one pass over X for the class statistics (counts, means, "
                "centered R factors; a second one with shrinkage='auto'); the small "
                "matrices (n_features x n_features, n_classes x n_features) are "
                "decomposed on the host and the fitted attributes are in-memory Dask arrays"
            ),
        },
        lazy_fit=True,
        onnx_methods=(
            "predict",
            "predict_proba",
            "predict_log_proba",
            "decision_function",
            "transform",
        ),
    )

    _parameter_constraints: ClassVar[dict] = {
        # scikit-learn's (LinearDiscriminantAnalysis._parameter_constraints); a custom
        # covariance estimator is refused later, with its own message
        "solver": [StrOptions({"svd", "lsqr", "eigen"})],
        "shrinkage": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both"), None],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "priors": ["array-like", None],
        "store_covariance": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "covariance_estimator": [HasMethods("fit"), None],
    }

    def __init__(
        self,
        solver="svd",
        shrinkage=None,
        priors=None,
        n_components=None,
        store_covariance=False,
        tol=1e-4,
        covariance_estimator=None,
        dtype_policy=None,
    ):
        self.solver = solver
        self.shrinkage = shrinkage
        self.priors = priors
        self.n_components = n_components
        self.store_covariance = store_covariance
        self.tol = tol
        self.covariance_estimator = covariance_estimator
        self.dtype_policy = dtype_policy

    # -- parameter checks ---------------------------------------------------------------

    def _check_params(self, prefix: str) -> None:
        if self.solver not in _SOLVERS:
            raise ValueError(f"{prefix}solver must be one of {_SOLVERS}; got {self.solver!r}.")
        shrinkage = self.shrinkage
        if (
            shrinkage is not None
            and shrinkage != "auto"
            and (
                isinstance(shrinkage, (bool, str))
                or not isinstance(shrinkage, numbers.Real)
                or not 0.0 <= float(shrinkage) <= 1.0
            )
        ):
            raise ValueError(
                f"{prefix}shrinkage must be None, 'auto' or a float in [0, 1]; got "
                f"shrinkage={shrinkage!r}."
            )
        if self.solver == "svd" and shrinkage is not None:
            raise NotImplementedError(
                f"{prefix}shrinkage not supported with 'svd' solver; use solver='lsqr' or "
                f"'eigen' with shrinkage={shrinkage!r}."
            )
        if self.covariance_estimator is not None:
            raise ValueError(
                f"{prefix}covariance_estimator is not supported by xplearn (a custom "
                "estimator is not array-API aware); leave it None and use shrinkage with "
                "solver='lsqr' or 'eigen'."
            )
        n_components = self.n_components
        if n_components is not None and (
            isinstance(n_components, bool)
            or not isinstance(n_components, numbers.Integral)
            or n_components < 1
        ):
            raise ValueError(
                f"{prefix}n_components must be None or an int >= 1; got "
                f"n_components={n_components!r}."
            )
        tol = self.tol
        if (
            isinstance(tol, bool)
            or not isinstance(tol, numbers.Real)
            or not math.isfinite(tol)
            or tol < 0
        ):
            raise ValueError(f"{prefix}tol must be a float >= 0; got tol={tol!r}.")
        if not isinstance(self.store_covariance, bool):
            raise ValueError(
                f"{prefix}store_covariance must be a bool; got "
                f"store_covariance={self.store_covariance!r}."
            )

    def _accumulates_in_float64(self, xp: ModuleType, device: Any) -> bool:
        """Whether sums over samples go to float64: wherever the device has it, except
        under ``dtype_policy="float32"``."""
        return check_policy(self.dtype_policy) != "float32" and supports_float64(xp, device)

    def _fit_priors(self, xp, device, counts, n_samples, dtype, prefix, stacklevel=4):
        n_classes = counts.shape[0]
        if self.priors is None:
            return counts / n_samples
        priors = _priors_array(xp, device, self.priors, dtype, prefix)
        _check_priors_shape(xp, priors, n_classes, prefix)
        if bool(xp.any(priors < 0)):
            raise ValueError(
                f"{prefix}priors must be non-negative, got {to_numpy(priors).tolist()}."
            )
        total = xp.sum(priors)
        if not bool(total > 0):
            raise ValueError(f"{prefix}priors must not all be zero.")
        if bool(xp.abs(total - 1.0) > 1e-5):
            warnings.warn(
                f"{prefix}The priors do not sum to 1. Renormalizing",
                UserWarning,
                stacklevel=stacklevel,
            )
            priors = priors / total
        return priors

    # -- fit ----------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit the model to X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace; more samples than classes.
        y : array-like of shape (n_samples,)
            Class labels: an array of X's namespace and device, or a NumPy array or list
            of any labels (strings included). At least 2 classes.

        Returns
        -------
        self : LinearDiscriminantAnalysis
            The fitted estimator.
        """
        prefix = f"{method_name(self, 'fit')}: "
        validate_params(self, "fit")
        self._check_params(prefix)
        saved = dict(self.__dict__)
        try:
            return self._fit(X, y, prefix)
        except BaseException:
            # a failed (re)fit leaves the model as it was: the previous fit intact, or
            # unfitted; never half-fitted
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit(self, X, y, prefix):
        data = validate_data(
            self,
            X,
            y,
            method="fit",
            reset=True,
            y_required=True,
            y_kind="labels",
            ensure_min_samples=2,
            # on Dask, the fit's pass over X checks it too (no computation of its own)
            defer_finite_check=True,
        )
        xp, device = data.xp, data.device
        compute, accumulate = data.dtypes.compute, data.dtypes.accumulate
        if accumulate != xp.float64 and self._accumulates_in_float64(xp, device):
            # float32 data stay float32 in the SVD of the scaled data and the attributes;
            # means, deviations and covariances of data far from 0 need float64's digits
            accumulate = xp.float64
        encoded = encode_labels(xp, device, data.y, prefix)
        classes = encoded.classes
        n_samples, n_features = data.X.shape
        n_classes = classes.shape[0]
        if n_samples == n_classes:
            raise ValueError(
                f"{prefix}The number of samples must be more than the number of classes; "
                f"got {n_samples} samples of {n_classes} classes."
            )
        max_components = min(n_classes - 1, n_features)
        if self.n_components is not None and self.n_components > max_components:
            raise ValueError(
                f"{prefix}n_components cannot be larger than min(n_features, n_classes - 1) "
                f"= {max_components}; got n_components={self.n_components}."
            )
        self._max_components = (
            max_components if self.n_components is None else int(self.n_components)
        )

        if is_lazy(xp):
            return self._fit_blocks(xp, data.X, encoded, compute, prefix)

        X = xp.astype(data.X, accumulate, copy=False)
        # Shift by the first row: a constant feature is then exactly 0 once centered (so
        # its within-class deviation is exactly 0), and float32 data far from 0 loses no
        # precision. Covariances do not depend on the shift; the means get it back.
        shift = X[0, :]
        shifted = X - shift
        one_hot = _one_hot(xp, encoded.codes, n_classes, accumulate, device)
        counts = xp.sum(one_hot, axis=0)
        shifted_means = (one_hot.T @ shifted) / counts[:, None]
        centered = shifted - one_hot @ shifted_means  # exact: one 1 per row of one_hot
        counts, shifted_means, shift = materialize(xp, counts, shifted_means, shift)
        priors = self._fit_priors(xp, device, counts, n_samples, accumulate, prefix)

        stats = _Statistics(
            xp=xp,
            device=device,
            compute=compute,
            accumulate=accumulate,
            shifted=shifted,
            centered=centered,
            one_hot=one_hot,
            counts=counts,
            shifted_means=shifted_means,
            shift=shift,
            priors=priors,
        )
        solve = self._solve_svd if self.solver == "svd" else self._solve_covariance
        fitted = _with_class_attributes(solve(stats), shifted_means + shift, priors)
        names = list(fitted)
        values = [_stored(xp, device, fitted[name], compute) for name in names]
        for name, value in zip(names, materialize(xp, *values), strict=True):
            setattr(self, name, value)
        self.classes_ = classes
        self._n_features_out = self._max_components
        self._decision_scale = _decision_scale(fitted["coef_"], fitted["intercept_"], compute)
        return self

    def _fit_blocks(self, xp, X, encoded, compute, prefix):
        """``fit`` on a lazy (Dask) array, from blockwise class statistics.

        One pass over X (:func:`grouped_moments`, one computation; X's finiteness is
        checked inside it) gives each class's count, mean, squared deviations, centered
        R factor (``R.T @ R`` its scatter matrix) and column extremes, host float64. Every
        solver then works on the host with these small matrices and shares its final
        step with the in-memory fit: ``"svd"`` takes the SVD of the classes' R factors
        stacked (that of the class-centered data), scaled by the within-class standard
        deviations; ``"lsqr"`` and ``"eigen"`` form the covariance matrices from the R
        factors. ``shrinkage="auto"`` makes a second pass, for the fourth moments of the
        standardized classes that the Ledoit-Wolf amount needs.

        Computations: 1, plus 1 with ``shrinkage="auto"``, plus the 1 that
        :func:`encode_labels` made earlier for labels given as a Dask array.
        """
        hxp = numpy_namespace()
        n_samples = X.shape[0]
        n_classes = encoded.classes.shape[0]
        moments = _exact_constant_features(
            grouped_moments(X, encoded.codes, n_groups=n_classes, r_factor=True, extremes=True)
        )
        counts = moments.counts.astype(np.float64)
        priors = self._fit_priors(
            hxp, device_of(counts), counts, n_samples, hxp.float64, prefix, stacklevel=5
        )
        means = moments.means
        scatters = np.einsum("kij,kil->kjl", moments.r_factors, moments.r_factors)
        if self.solver == "svd":
            fitted: dict[str, Any] = {}
            if self.store_covariance:
                fitted["covariance_"] = _within_covariance_of_moments(
                    moments, scatters, priors, None
                )
            std = np.sqrt(np.sum(moments.squares, axis=0) / n_samples)
            std = np.where(std == 0, 1.0, std)
            # the stacked R factors have the class-centered data's singular values and
            # right singular vectors (their Gram matrix is its scatter matrix)
            stacked = np.reshape(moments.r_factors, (-1, moments.r_factors.shape[2]))
            S, Vt = _thin_svd(hxp, (stacked / std) * math.sqrt(1.0 / n_samples))
            fitted.update(self._svd_solution(hxp, std, S, Vt, means, priors, n_samples))
        else:
            fourth = pooled_fourth = None
            pooled = moments.pooled() if self.solver == "eigen" else None
            if self.shrinkage == "auto":
                fourth, pooled_fourth = _standardized_fourth_moments(
                    X, encoded.codes, moments, pooled
                )
            within = _within_covariance_of_moments(
                moments, scatters, priors, self.shrinkage, fourth
            )
            total = None
            if pooled is not None:
                total = _covariance_of_moments(
                    pooled,
                    pooled.r_factors[0].T @ pooled.r_factors[0],
                    self.shrinkage,
                    None if pooled_fourth is None else pooled_fourth[0],
                )
            fitted = self._covariance_solution(hxp, within, total, means, priors)
        fitted = _with_class_attributes(fitted, means, priors)
        dtype = np.dtype(compute)
        for name, value in fitted.items():
            # small in-memory Dask arrays, not graphs over X
            setattr(self, name, xp.asarray(np.asarray(value).astype(dtype)))
        self.classes_ = encoded.classes
        self._n_features_out = self._max_components
        self._decision_scale = _decision_scale(fitted["coef_"], fitted["intercept_"], dtype)
        return self

    def _within_covariance(self, stats, shrinkage):
        """``sum_k priors[k] * C_k`` (C_k the possibly shrunk, biased class covariances),
        scikit-learn's ``_class_cov``; products of the class-centered data over all rows."""
        xp, device, acc = stats.xp, stats.device, stats.accumulate
        n_features = stats.centered.shape[1]
        if shrinkage == "auto":
            covariance = None
            for k in range(stats.counts.shape[0]):
                mask = stats.one_hot[:, k : k + 1]
                block = _ledoit_wolf(
                    xp,
                    stats.centered * mask,
                    stats.counts[k],
                    stats.shifted_means[k, :] + stats.shift,
                )
                term = stats.priors[k] * block
                covariance = term if covariance is None else covariance + term
            return covariance
        # every sample weighted by its class's prior / count: one matrix product
        weights = stats.one_hot @ (stats.priors / stats.counts)
        covariance = (stats.centered * weights[:, None]).T @ stats.centered
        if shrinkage:
            shrinkage = float(shrinkage)
            squares = xp.sum(stats.centered * stats.centered, axis=1)
            traces = (stats.one_hot.T @ squares) / stats.counts
            mu = xp.sum(stats.priors * traces) / n_features
            covariance = (1.0 - shrinkage) * covariance + (shrinkage * mu) * _eye(
                xp, n_features, acc, device
            )
        return covariance

    def _total_covariance(self, stats, shrinkage):
        """``_cov(X, shrinkage)`` of scikit-learn: the covariance of all samples."""
        xp, device, acc = stats.xp, stats.device, stats.accumulate
        n_samples, n_features = stats.shifted.shape
        mean = xp.sum(stats.shifted, axis=0) / n_samples
        centered = stats.shifted - mean
        if shrinkage == "auto":
            count = xp.asarray(float(n_samples), dtype=acc, device=device)
            return _ledoit_wolf(xp, centered, count, mean + stats.shift)
        covariance = (centered.T @ centered) / n_samples
        if shrinkage:
            shrinkage = float(shrinkage)
            mu = xp.sum(centered * centered) / (n_samples * n_features)
            covariance = (1.0 - shrinkage) * covariance + (shrinkage * mu) * _eye(
                xp, n_features, acc, device
            )
        return covariance

    def _solve_covariance(self, stats) -> dict[str, Any]:
        """The ``"lsqr"`` and ``"eigen"`` solvers."""
        xp = stats.xp
        sxp = _small_namespace(xp)
        within = self._within_covariance(stats, self.shrinkage)
        total = None
        if self.solver == "eigen":
            total = self._total_covariance(stats, self.shrinkage)
            within, total, means, priors = _to_small(
                sxp, xp, within, total, stats.shifted_means + stats.shift, stats.priors
            )
        else:
            within, means, priors = _to_small(
                sxp, xp, within, stats.shifted_means + stats.shift, stats.priors
            )
        return self._covariance_solution(sxp, within, total, means, priors)

    def _covariance_solution(self, xp, within, total, means, priors) -> dict[str, Any]:
        """The small step of the ``"lsqr"`` and ``"eigen"`` solvers, shared by the
        in-memory and the blockwise fits: from the within-class (and, for ``"eigen"``,
        total) covariance matrices, the class means and priors to the fitted arrays."""
        whitening = _whitening(xp, within)
        fitted: dict[str, Any] = {"covariance_": within}
        if self.solver == "eigen":
            between = total - within
            reduced = whitening.T @ between @ whitening
            reduced = (reduced + reduced.T) / 2.0
            values, vectors = eigh(xp, reduced)
            values = xp.flip(values, axis=0)
            vectors = whitening @ xp.flip(vectors, axis=1)
            fitted["explained_variance_ratio_"] = (values / xp.sum(values))[
                : min(self._max_components, values.shape[0])
            ]
            fitted["scalings_"] = _flip_columns(xp, vectors)
        # coef_ = means @ covariance^+ (scipy's lstsq solution, and the eigen solver's
        # means @ V @ V.T for V the generalized eigenvectors)
        coef = (means @ whitening) @ whitening.T
        fitted["coef_"] = coef
        fitted["intercept_"] = -0.5 * xp.sum(means * coef, axis=1) + _safe_log(xp, priors)
        return fitted

    def _solve_svd(self, stats) -> dict[str, Any]:
        xp, device, compute, acc = stats.xp, stats.device, stats.compute, stats.accumulate
        sxp = _small_namespace(xp)
        n_samples = stats.centered.shape[0]
        fitted: dict[str, Any] = {}
        if self.store_covariance:
            fitted["covariance_"] = self._within_covariance(stats, None)

        # 1) within-class scaling by the standard deviation of the class-centered data
        centered = stats.centered
        mean = xp.sum(centered, axis=0) / n_samples
        deviation = centered - mean
        std = xp.sqrt(xp.sum(deviation * deviation, axis=0) / n_samples)
        one = xp.asarray(1.0, dtype=acc, device=device)
        std = xp.where(std == 0, one, std)
        # 2) SVD of the centered, scaled data (in the compute dtype, as PCA's "full")
        scaled = (centered / std) * math.sqrt(1.0 / n_samples)
        S, Vt = _thin_svd(xp, xp.astype(scaled, compute, copy=False))
        std, S, Vt, means, priors = _to_small(
            sxp, xp, std, S, Vt, stats.shifted_means + stats.shift, stats.priors
        )
        S, Vt = sxp.astype(S, acc), sxp.astype(Vt, acc)
        fitted.update(self._svd_solution(sxp, std, S, Vt, means, priors, n_samples))
        return fitted

    def _svd_solution(self, xp, std, S, Vt, means, priors, n_samples) -> dict[str, Any]:
        """The small step of the ``"svd"`` solver, shared by the in-memory and the
        blockwise fits: from the within-class standard deviations ``std`` and the SVD
        ``(S, Vt)`` of the class-centered data scaled by ``1 / (std * sqrt(n_samples))``,
        the class means and priors to the fitted arrays."""
        n_classes = means.shape[0]
        fitted: dict[str, Any] = {}
        rank = int(to_scalar(xp.sum(xp.astype(self.tol < S, xp.int32))))
        scalings = (Vt[:rank, :] / std).T / S[:rank]

        # 3) between-class scaling: SVD of the scaled, prior-weighted class centers
        xbar = priors @ means
        factor = 1.0 / (n_classes - 1)
        centers = xp.sqrt((n_samples * priors) * factor)[:, None] * (means - xbar)
        S, Vt = _thin_svd(xp, centers @ scalings)
        squares = S * S
        fitted["explained_variance_ratio_"] = (squares / xp.sum(squares))[
            : min(self._max_components, squares.shape[0])
        ]
        threshold = self.tol * S[0]
        rank = int(to_scalar(xp.sum(xp.astype(threshold < S, xp.int32))))
        scalings = _flip_columns(xp, scalings @ Vt.T[:, :rank])
        coef = (means - xbar) @ scalings
        intercept = -0.5 * xp.sum(coef * coef, axis=1) + _safe_log(xp, priors)
        coef = coef @ scalings.T
        fitted["intercept_"] = intercept - xbar @ coef.T
        fitted["coef_"] = coef
        fitted["scalings_"] = scalings
        fitted["xbar_"] = xbar
        return fitted

    # -- inference ----------------------------------------------------------------------

    def _infer(self, method: str, xp: ModuleType, X: Any) -> Any:
        if method == "transform":
            return self._transform(xp, X)
        # the scores divided by a power of two: finite for any finite X (``k * z`` may
        # overflow, ``X @ coef_.T`` may give inf - inf = NaN for X at 1e30)
        z = self._decision(X)
        device = device_of(z)
        scale = float(self._decision_scale)
        k = xp.asarray(scale, dtype=z.dtype, device=device)
        # k times a value beyond +-big overflows: such scores are clipped there first
        big = xp.asarray(float(xp.finfo(z.dtype).max) / scale, dtype=z.dtype, device=device)
        # one score column for two classes (coef_'s shape: known on symbolic arrays too)
        binary = self.coef_.shape[0] == 1
        if method == "decision_function":
            scores = k * xp.clip(z, -big, big)
            # +-inf where the score exceeds the dtype (no overflow warning), never NaN
            infinite = xp.asarray(float("inf"), dtype=z.dtype, device=device)
            scores = xp.where(xp.abs(z) > big, xp.sign(z) * infinite, scores)
            return xp.reshape(scores, (-1,)) if binary else scores
        if method == "predict":
            # two classes: one score column, positive for the second class
            codes = xp.astype(z[:, 0] > 0, xp.int64) if binary else xp.argmax(z, axis=1)
            return decode_labels(self.classes_, codes)
        if binary:
            proba = self._binary_proba(xp, k * xp.clip(z[:, 0], -big, big))
        else:
            # differences to the row's largest score, <= 0 (from -max on): exp cannot
            # overflow, and the largest term is exactly 1
            shifted = k * xp.maximum(z - row_max(xp, z, axis=1, keepdims=True), -big)
            proba = softmax_rows(xp, shifted, lambda values: _softmax(xp, values))
        if method == "predict_proba":
            return proba
        # the log of the probabilities, as scikit-learn (whose common checks compare the
        # two), zeros first replaced by the smallest normal number, so it is finite
        tiny = xp.asarray(
            xp.finfo(proba.dtype).smallest_normal, dtype=proba.dtype, device=device_of(proba)
        )
        return xp.log(xp.where(proba == 0, tiny, proba))

    def _decision(self, X: Any) -> Any:
        """Scores divided by ``_decision_scale``, shape (n_samples, n_classes), or
        (n_samples, 1) for 2 classes: ``X @ (coef_ / k).T + intercept_ / k``. Dividing by
        a power of two is exact, so ``k`` times the result is ``X @ coef_.T +
        intercept_`` to the bit wherever that does not overflow."""
        coef, intercept = self._fitted_arrays(X.dtype, "coef_", "intercept_")
        k = float(self._decision_scale)
        return X @ (coef / k).T + intercept / k

    def decision_function(self, X):
        """Decision function: the log-posterior of each class up to a constant.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        scores : array of shape (n_samples,) for 2 classes, else (n_samples, n_classes)
            ``X @ coef_.T + intercept_``; for 2 classes the log-likelihood ratio of the
            second class.
        """
        return self._validated_infer("decision_function", X)

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

    @staticmethod
    def _binary_proba(xp: ModuleType, scores: Any) -> Any:
        """Logistic sigmoid of +-scores, without overflow (exp of non-positive numbers
        only; infinite scores give 0 and 1); each class's probability is computed, not 1
        - the other's, so that a probability near 0 does not round to 0 (scikit-learn
        takes 1 - p: the same up to 1 ulp of 1)."""
        small = xp.exp(-xp.abs(scores))
        large = 1.0 / (1.0 + small)
        small = small * large
        positive = scores >= 0
        return xp.stack(
            [xp.where(positive, small, large), xp.where(positive, large, small)], axis=1
        )

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

    def predict_log_proba(self, X):
        """Log-probability of each class for each sample.

        The log of :meth:`predict_proba` (finite for any finite X: the scores are taken
        relative to the row's largest, overflow-free); zero probabilities are replaced
        by the smallest normal number first, as scikit-learn does, so the result is
        finite.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        log_proba : array of shape (n_samples, n_classes)
        """
        return self._validated_infer("predict_log_proba", X)

    def transform(self, X):
        """Project X on the discriminant directions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        X_new : array of shape (n_samples, n_components)
            ``(X - xbar_) @ scalings_`` (``"svd"``, at most its rank columns) or
            ``X @ scalings_`` (``"eigen"``), first ``n_components`` columns. The sign of
            each column follows ``scalings_``'s convention (see its description).
        """
        self._check_transform_solver()
        return self._validated_infer("transform", X)

    def _check_transform_solver(self) -> None:
        if self.solver == "lsqr":
            raise NotImplementedError(
                f"{method_name(self, 'transform')}: transform not implemented for 'lsqr' "
                "solver (use 'svd' or 'eigen')."
            )

    def _transform(self, xp: ModuleType, X: Any) -> Any:
        self._check_transform_solver()
        (scalings,) = self._fitted_arrays(X.dtype, "scalings_")
        # the svd solver keeps at most its rank columns (a shape, not data, decides)
        scalings = scalings[:, : min(self._max_components, scalings.shape[1])]
        if self.solver == "svd":
            (xbar,) = self._fitted_arrays(X.dtype, "xbar_")
            return (X - xbar) @ scalings
        return X @ scalings


class _Statistics:
    """What the solvers share: the data shifted and class-centered, class sizes, means."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _with_class_attributes(fitted: dict[str, Any], means: Any, priors: Any) -> dict[str, Any]:
    """The solver's arrays with ``means_`` and ``priors_``; for two classes, ``coef_`` and
    ``intercept_`` become the second class's minus the first's (one score column)."""
    fitted["means_"] = means
    fitted["priors_"] = priors
    if means.shape[0] == 2:
        coef, intercept = fitted["coef_"], fitted["intercept_"]
        fitted["coef_"] = coef[1:2, :] - coef[0:1, :]
        fitted["intercept_"] = intercept[1:2] - intercept[0:1]
    return fitted


# -- blockwise fit: the solvers' statistics from grouped moments (host, float64) ----------


def _exact_constant_features(moments: Moments) -> Moments:
    """``moments`` with the columns that are constant within a class made exact: zero
    deviations and R-factor column, the constant itself as the mean. The in-memory fit
    gets this from its shift by the first row (a feature constant over the data is then
    exactly 0); block means are only rounded, and the ``"svd"`` solver divides by the
    standard deviations, which would turn their rounding noise into a direction."""
    constant = moments.minimums == moments.maximums  # (n_classes, n_features)
    moments.squares = np.where(constant, 0.0, moments.squares)
    moments.means = np.where(constant, moments.minimums, moments.means)
    moments.r_factors = np.where(constant[:, None, :], 0.0, moments.r_factors)
    return moments


def _covariance_of_moments(
    moments: Moments, scatter: np.ndarray, shrinkage: Any, fourth: float | None = None
) -> np.ndarray:
    """scikit-learn's ``_cov(X, shrinkage)`` of the rows of a one-group ``moments`` with
    scatter matrix ``scatter``: the biased covariance, shrunk by a fixed amount or, for
    ``"auto"``, by Ledoit-Wolf's (``fourth``: the sum of the squared squared norms of the
    standardized centered rows, from :func:`_standardized_fourth_moments`)."""
    hxp = numpy_namespace()
    count = float(moments.counts[0])
    n_features = scatter.shape[0]
    if shrinkage == "auto":
        variance = moments.squares[0] / count
        scale = _standard_scale(hxp, variance, count, moments.means[0])
        covariance = scatter / (scale[:, None] * scale[None, :]) / count
        return _ledoit_wolf_shrunk(
            hxp, covariance, variance / (scale * scale), fourth, count, scale
        )
    covariance = scatter / count
    if shrinkage:
        shrinkage = float(shrinkage)
        mu = np.sum(moments.squares[0]) / (count * n_features)
        covariance = (1.0 - shrinkage) * covariance + (shrinkage * mu) * np.eye(n_features)
    return covariance


def _within_covariance_of_moments(
    moments: Moments,
    scatters: np.ndarray,
    priors: np.ndarray,
    shrinkage: Any,
    fourth: np.ndarray | None = None,
) -> np.ndarray:
    """``sum_k priors[k] * C_k`` (scikit-learn's ``_class_cov``) from each class's
    moments and scatter matrix ``scatters[k]``; the fixed shrinkage is applied to the
    sum, as the in-memory fit does."""
    n_classes, n_features = moments.means.shape
    if shrinkage == "auto":
        return sum(
            priors[k]
            * _covariance_of_moments(moments.group(k), scatters[k], "auto", float(fourth[k]))
            for k in range(n_classes)
        )
    counts = moments.counts.astype(np.float64)
    covariance = np.einsum("k,kij->ij", priors / counts, scatters)
    if shrinkage:
        shrinkage = float(shrinkage)
        traces = np.sum(moments.squares, axis=1) / counts
        mu = np.sum(priors * traces) / n_features
        covariance = (1.0 - shrinkage) * covariance + (shrinkage * mu) * np.eye(n_features)
    return covariance


def _standardized_fourth_moments(
    X: Any, codes: Any, moments: Moments, pooled: Moments | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The statistic the Ledoit-Wolf amount needs beyond the moments, in one pass over X:
    for each class (and, when ``pooled`` is given, for all the rows around their mean),
    the sum over its rows of ``||(x - mean) / scale||**4``, ``scale`` the standard
    deviations of :func:`_standard_scale`."""
    hxp = numpy_namespace()

    def centering(group: Moments) -> tuple[np.ndarray, np.ndarray]:
        counts = group.counts.astype(np.float64)[:, None]
        scales = _standard_scale(hxp, group.squares / counts, counts, group.means)
        return group.means, scales

    means, scales = centering(moments)
    pooled_mean, pooled_scale = (None, None) if pooled is None else centering(pooled)
    parts = map_row_blocks(
        _fourth_moments_block,
        X,
        codes,
        constants=(means, scales, pooled_mean, pooled_scale),
    )
    fourth = sum(part[0] for part in parts)
    pooled_fourth = None if pooled is None else sum(part[1] for part in parts)
    return fourth, pooled_fourth


def _fourth_moments_block(
    block: Any,
    codes: Any,
    means: np.ndarray,
    scales: np.ndarray,
    pooled_mean: np.ndarray | None,
    pooled_scale: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The work of :func:`_standardized_fourth_moments` on one row block, in the block's
    namespace and float64; only the sums come to the host."""
    xp = array_namespace(block)
    device = device_of(block)
    values = xp.astype(block, xp.float64)

    def local(host: np.ndarray) -> Any:
        return move_to(host, xp, device)

    def fourth(rows: Any, mean: np.ndarray, scale: np.ndarray) -> float:
        standardized = (rows - local(mean)) / local(scale)
        norms = xp.sum(standardized * standardized, axis=1)
        return float(to_numpy(xp.sum(norms * norms)))

    n_classes = means.shape[0]
    per_class = np.zeros(n_classes)
    for k in range(n_classes):
        rows = values[codes == k, ...]
        if rows.shape[0]:
            per_class[k] = fourth(rows, means[k], scales[k])
    pooled = np.zeros(1)
    if pooled_mean is not None and values.shape[0]:
        pooled[0] = fourth(values, pooled_mean[0], pooled_scale[0])
    return per_class, pooled


def _decision_scale(coef: Any, intercept: Any, dtype: Any) -> float:
    """The power of two ``k`` by which :meth:`LinearDiscriminantAnalysis._decision`
    divides the scores: at least twice the largest 1-norm of a row of ``coef`` (so
    ``|x @ coef.T| / k <= max |x| / 2`` cannot overflow) and ``|intercept| / 2**60``, at
    most what ``dtype`` holds with room to spare; 1 for a zero model."""
    coef = np.abs(np.asarray(to_numpy(coef), dtype=np.float64))
    intercept = np.abs(np.asarray(to_numpy(intercept), dtype=np.float64))
    largest = max(2.0 * float(np.max(np.sum(coef, axis=1))), float(np.max(intercept)) * 2.0**-60)
    if not largest > 0 or not math.isfinite(largest):
        return 1.0
    try:
        info = np.finfo(np.dtype(dtype))
    except TypeError:  # torch's, array-api-strict's... dtype: by its name
        info = np.finfo(str(dtype).rsplit(".", 1)[-1])
    exponent = math.ceil(math.log2(largest))
    exponent = min(max(exponent, info.minexp + 2), info.maxexp - 4)
    return 2.0**exponent


def _softmax(xp: ModuleType, scores: Any) -> Any:
    exp = xp.exp(scores - row_max(xp, scores, axis=1, keepdims=True))
    return exp / xp.sum(exp, axis=1, keepdims=True)


def _stored(xp: ModuleType, device: Any, value: Any, dtype: Any) -> Any:
    """A fitted array in ``xp`` on ``device`` (back from the small namespace) in ``dtype``."""
    value = move_to(value, xp, device)
    return xp.astype(value, dtype)


def _whitening(xp: ModuleType, covariance: Any) -> Any:
    """``W`` with ``W.T @ covariance @ W = I`` on the range of ``covariance`` (and ``W @
    W.T`` its pseudo-inverse), from its eigendecomposition. Directions with eigenvalues
    below ``n_features * eps`` times the largest are dropped (zero columns)."""
    values, vectors = eigh(xp, (covariance + covariance.T) / 2.0)
    dtype = values.dtype
    device = device_of(values)
    cutoff = xp.max(xp.abs(values)) * (covariance.shape[0] * xp.finfo(dtype).eps)
    keep = values > cutoff
    one = xp.asarray(1.0, dtype=dtype, device=device)
    zero = xp.asarray(0.0, dtype=dtype, device=device)
    inverse_root = xp.where(keep, 1.0 / xp.sqrt(xp.where(keep, values, one)), zero)
    return vectors * inverse_root


def _ledoit_wolf(xp: ModuleType, centered: Any, count: Any, mean: Any) -> Any:
    """scikit-learn's ``_cov(X, "auto")`` for one class: Ledoit-Wolf shrunk covariance of
    the standardized samples, rescaled.

    ``centered`` holds the class's centered samples and zero rows elsewhere (the other
    classes' rows are masked out); ``count`` is the number of class samples and ``mean``
    its (unshifted) mean, used to detect constant features as scikit-learn's
    ``StandardScaler`` does.
    """
    variance = xp.sum(centered * centered, axis=0) / count
    scale = _standard_scale(xp, variance, count, mean)
    standardized = centered / scale
    covariance = (standardized.T @ standardized) / count
    squares = standardized * standardized
    row_norms = xp.sum(squares, axis=1)
    return _ledoit_wolf_shrunk(
        xp,
        covariance,
        xp.sum(squares, axis=0) / count,
        xp.sum(row_norms * row_norms),  # sum of the entries of X2.T @ X2
        count,
        scale,
    )


def _standard_scale(xp: ModuleType, variance: Any, count: Any, mean: Any) -> Any:
    """The standard deviations by which :func:`_ledoit_wolf` standardizes: 1 for the
    features whose variance is rounding noise (StandardScaler's bound of the two-pass
    algorithm, with float64's eps where the device has it)."""
    device = device_of(variance)
    eps = xp.finfo(xp.float64 if supports_float64(xp, device) else xp.float32).eps
    constant = variance <= count * eps * variance + (count * mean * eps) ** 2
    one = xp.asarray(1.0, dtype=variance.dtype, device=device)
    return xp.where(constant, one, xp.sqrt(variance))


def _ledoit_wolf_shrunk(
    xp: ModuleType, covariance: Any, trace_terms: Any, beta_sum: Any, count: Any, scale: Any
) -> Any:
    """The Ledoit-Wolf shrunk covariance, rescaled by ``scale``, from the statistics of
    the standardized samples: their covariance, its diagonal terms (the mean squares of
    the columns) and ``beta_sum``, the sum over samples of their squared norm squared
    (a fourth moment). Shared by the in-memory and the blockwise fits."""
    device = device_of(covariance)
    dtype = covariance.dtype
    n_features = covariance.shape[0]
    if n_features == 1:  # the shrinkage does not change a 1 x 1 covariance
        return covariance * (scale[:, None] * scale[None, :])
    mu = xp.sum(trace_terms) / n_features
    delta_sum = xp.sum(covariance * covariance)  # sum((X.T @ X)**2) / n**2
    beta = (beta_sum / count - delta_sum) / (n_features * count)
    delta = (delta_sum - 2.0 * mu * xp.sum(trace_terms) + n_features * mu * mu) / n_features
    beta = xp.minimum(beta, delta)
    zero = xp.asarray(0.0, dtype=dtype, device=device)
    one = xp.asarray(1.0, dtype=dtype, device=device)
    shrinkage = xp.where(beta == 0, zero, beta / xp.where(delta == 0, one, delta))
    shrunk = (1.0 - shrinkage) * covariance + (shrinkage * mu) * xp.eye(
        n_features, dtype=dtype, device=device
    )
    return shrunk * (scale[:, None] * scale[None, :])
