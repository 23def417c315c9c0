"""Principal component analysis written once against the Array API."""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from array_api_compat import is_dask_array
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions

from xplearn._kernels._blocks import grouped_moments, map_row_blocks
from xplearn._xp import device_of, move_to, numpy_namespace
from xplearn._xp._ops import (
    eigh,
    flip_sign_rows,
    is_lazy,
    materialize,
    orthonormal_basis,
    svd,
    to_scalar,
)
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.utils.validation import method_name, validate_data, validate_params

__all__ = ["PCA"]

_SOLVERS = ("auto", "full", "covariance_eigh", "randomized")
_NORMALIZERS = ("auto", "QR", "none")


class PCA(XPEstimatorMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis (PCA).

    Linear dimensionality reduction by a singular value decomposition of the centered
    data, projecting it onto the directions of largest variance. The semantics are
    those of :class:`sklearn.decomposition.PCA` (same solvers, same ``"auto"`` policy,
    same sign convention: the largest-magnitude entry of each component is positive),
    computed with the array library of the input: NumPy, PyTorch, CuPy, Dask or any
    Array API namespace. Fitted attributes live in that namespace and on that device.

    Parameters
    ----------
    n_components : int, float or None, default=None
        Number of components to keep. An int in ``[0, min(n_samples, n_features)]``
        (``[1, ...]`` with the randomized solver); a float in ``(0, 1)`` keeps the
        smallest number of components whose explained variance ratio exceeds it
        (solvers ``"full"`` and ``"covariance_eigh"`` only); None keeps
        ``min(n_samples, n_features)``. ``"mle"`` is not supported.
    copy : bool, default=True
        Kept for scikit-learn compatibility; xplearn never modifies its input.
    whiten : bool, default=False
        Scale the projected data to unit component-wise variance: ``transform`` divides
        by ``sqrt(explained_variance_)``, ``inverse_transform`` multiplies back.
    svd_solver : {"auto", "full", "covariance_eigh", "randomized"}, default="auto"
        ``"full"``: exact thin SVD of the centered data. ``"covariance_eigh"``:
        eigendecomposition of the ``n_features x n_features`` covariance matrix, fast
        for tall and skinny data (on Dask the small matrix is decomposed on the host).
        ``"randomized"``: Halko et al.'s randomized SVD with QR-normalized power
        iterations. ``"auto"``: ``"covariance_eigh"`` if ``n_features <= 1000`` and
        ``n_samples >= 10 * n_features``; else ``"full"`` if ``max(X.shape) <= 500``;
        else ``"randomized"`` if ``1 <= n_components < 0.8 * min(X.shape)``; else
        ``"full"``. ``"arpack"`` is not supported (no Array API implementation).
    tol : float, default=0.0
        Kept for scikit-learn compatibility (used by ``"arpack"`` only); ignored.
    iterated_power : int or "auto", default="auto"
        Number of power iterations of the randomized solver; ``"auto"`` is 7 if
        ``n_components < 0.1 * min(X.shape)``, else 4.
    n_oversamples : int, default=10
        Extra random vectors of the randomized solver.
    power_iteration_normalizer : {"auto", "QR", "none"}, default="auto"
        Normalization of the randomized solver's power iterations. ``"auto"`` is
        ``"none"`` for at most 2 iterations, else ``"QR"`` (scikit-learn picks LU on
        NumPy, which the Array API lacks; ``"LU"`` is rejected).
    random_state : int, RandomState instance or None, default=None
        Seed of the randomized solver's Gaussian test matrix, drawn on the host with
        NumPy exactly as scikit-learn draws it, then moved to the data's device.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and fitted attributes; None takes the configured
        default (``"preserve"``). ``"preserve"``: float32 data gives float32 attributes
        and outputs, float64 gives float64, integers the device's default float.
        ``"mixed"``: float32 storage and decompositions, with the mean, the centering,
        the covariance matrix of ``"covariance_eigh"`` and the variances accumulated in
        float64 where the device has it; attributes stored in float32.

    Attributes
    ----------
    components_ : array of shape (n_components_, n_features)
        Principal axes, sorted by decreasing explained variance.
    explained_variance_ : array of shape (n_components_,)
        Variance explained by each component (``singular_values_**2 / (n_samples - 1)``).
    explained_variance_ratio_ : array of shape (n_components_,)
        Fraction of the total variance explained by each component.
    singular_values_ : array of shape (n_components_,)
        Singular values of the centered data for the kept components.
    mean_ : array of shape (n_features,)
        Per-feature empirical mean.
    n_components_ : int
        Number of kept components.
    n_samples_ : int
        Number of training samples.
    noise_variance_ : 0-d array
        Noise variance of the probabilistic PCA model (Tipping and Bishop 1999): the
        mean of the discarded variances; 0 when every component is kept.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    sklearn.decomposition.PCA : The scikit-learn estimator this mirrors.

    Notes
    -----
    ``transform`` is ``(X - mean_) @ components_.T`` (divided by
    ``sqrt(explained_variance_)`` when whitening), free of data-dependent Python
    control flow, so it exports to ONNX. At least 2 samples are needed to fit.

    On a Dask array, ``fit`` runs over the row blocks and decomposes small matrices on
    the host. ``"full"`` and ``"covariance_eigh"`` (and ``"auto"`` when it picks them)
    make one computation: each block gives its mean and the R factor of its centered
    rows, merged into the R of the centered data (a tall-and-skinny QR), whose SVD has
    the data's singular values and right singular vectors; X's finiteness is checked in
    that pass. ``"randomized"`` makes ``n_iter + 2``: X's finiteness check, one per power
    iteration and one for the final projection (``A.T @ A @ Q`` and the R of ``A @ Q``
    for the centered data ``A``, centered exactly); wide data (fewer samples than
    features) with it take the generic array-API code instead. ``fit_transform``
    returns the lazy, blockwise ``transform`` of X.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.decomposition import PCA
    >>> X = np.array([[-1.0, -1.0], [-2.0, -1.0], [-3.0, -2.0], [1.0, 1.0], [2.0, 1.0],
    ...               [3.0, 2.0]])
    >>> pca = PCA(n_components=2).fit(X)
    >>> pca.explained_variance_ratio_
    array([0.99244289, 0.00755711])
    >>> pca.singular_values_
    array([6.30061232, 0.54980396])
    """

    _capabilities: ClassVar[Capabilities] = Capabilities(
        fallbacks={
            "dask": (
                "fit runs over the row blocks: 'full' and 'covariance_eigh' in one "
                "computation (a tall-and-skinny QR, decomposed on the host), "
                "'randomized' in n_iter + 2; fitted attributes are in-memory Dask arrays"
            ),
        },
        onnx_methods=("transform",),
    )

    _parameter_constraints: ClassVar[dict] = {
        # scikit-learn's (sklearn.decomposition.PCA._parameter_constraints)
        "n_components": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            StrOptions({"mle"}),
            None,
        ],
        "copy": ["boolean"],
        "whiten": ["boolean"],
        "svd_solver": [StrOptions({"auto", "full", "covariance_eigh", "arpack", "randomized"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "iterated_power": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")],
        "n_oversamples": [Interval(Integral, 1, None, closed="left")],
        "power_iteration_normalizer": [StrOptions({"auto", "QR", "LU", "none"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=None,
        *,
        copy=True,
        whiten=False,
        svd_solver="auto",
        tol=0.0,
        iterated_power="auto",
        n_oversamples=10,
        power_iteration_normalizer="auto",
        random_state=None,
        dtype_policy=None,
    ):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.dtype_policy = dtype_policy

    # -- parameter checks ---------------------------------------------------------------

    def _check_params(self) -> None:
        # scikit-learn's constraints first (its InvalidParameterError, its message), then
        # what xplearn does not implement ("mle", "arpack", "LU")
        validate_params(self, "fit")
        prefix = f"{method_name(self, 'fit')}: "
        n_components = self.n_components
        if isinstance(n_components, str):
            raise ValueError(
                f"{prefix}n_components={n_components!r} is not supported: xplearn's PCA "
                "takes None, an int >= 0 or a float in (0, 1) (Minka's 'mle' is not "
                "implemented)."
            )
        if n_components is not None:
            is_int = isinstance(n_components, numbers.Integral) and not isinstance(
                n_components, bool
            )
            is_fraction = (
                isinstance(n_components, numbers.Real)
                and not isinstance(n_components, (numbers.Integral, bool))
                and 0.0 < float(n_components) < 1.0
            )
            if not (is_int and n_components >= 0) and not is_fraction:
                raise ValueError(
                    f"{prefix}n_components must be None, an int >= 0 or a float in "
                    f"(0, 1); got n_components={n_components!r}."
                )
        if self.svd_solver == "arpack":
            raise ValueError(
                f"{prefix}svd_solver='arpack' is not supported: ARPACK has no Array API "
                "implementation. Use 'randomized' for a truncated decomposition, or "
                "'full' / 'covariance_eigh'."
            )
        if self.svd_solver not in _SOLVERS:
            raise ValueError(
                f"{prefix}svd_solver must be one of {_SOLVERS}; got svd_solver={self.svd_solver!r}."
            )
        if not isinstance(self.whiten, bool):
            raise ValueError(f"{prefix}whiten must be a bool; got whiten={self.whiten!r}.")
        if not isinstance(self.copy, bool):
            raise ValueError(f"{prefix}copy must be a bool; got copy={self.copy!r}.")
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
            raise ValueError(f"{prefix}tol must be a float >= 0; got tol={tol!r}.")
        power = self.iterated_power
        if power != "auto" and (
            isinstance(power, bool) or not isinstance(power, numbers.Integral) or power < 0
        ):
            raise ValueError(
                f"{prefix}iterated_power must be 'auto' or an int >= 0; got "
                f"iterated_power={power!r}."
            )
        oversamples = self.n_oversamples
        if (
            isinstance(oversamples, bool)
            or not isinstance(oversamples, numbers.Integral)
            or oversamples < 1
        ):
            raise ValueError(
                f"{prefix}n_oversamples must be an int >= 1; got n_oversamples={oversamples!r}."
            )
        try:
            check_random_state(self.random_state)
        except ValueError as error:
            raise ValueError(
                f"{prefix}random_state must be None, an int or a numpy.random.RandomState; "
                f"got random_state={self.random_state!r}."
            ) from error
        normalizer = self.power_iteration_normalizer
        if normalizer == "LU":
            raise ValueError(
                f"{prefix}power_iteration_normalizer='LU' is not supported: the Array API "
                "has no LU factorization. Use 'QR' (or 'auto', which picks QR)."
            )
        if normalizer not in _NORMALIZERS:
            raise ValueError(
                f"{prefix}power_iteration_normalizer must be one of {_NORMALIZERS}; got "
                f"power_iteration_normalizer={normalizer!r}."
            )

    def _choose_solver(self, n_samples: int, n_features: int, n_components: Any) -> str:
        """scikit-learn's ``svd_solver="auto"`` policy."""
        if self.svd_solver != "auto":
            return self.svd_solver
        if n_features <= 1_000 and n_samples >= 10 * n_features:
            return "covariance_eigh"
        if max(n_samples, n_features) <= 500:
            return "full"
        if 1 <= n_components < 0.8 * min(n_samples, n_features):
            return "randomized"
        return "full"

    def _check_n_components(
        self, n_components: Any, solver: str, n_samples: int, n_features: int
    ) -> None:
        prefix = f"{method_name(self, 'fit')}: "
        bound = min(n_samples, n_features)
        if solver == "randomized":
            if not isinstance(n_components, numbers.Integral):
                raise ValueError(
                    f"{prefix}n_components={n_components!r} (a fraction of the variance) "
                    "needs svd_solver='full' or 'covariance_eigh'; got "
                    "svd_solver='randomized', which needs an int."
                )
            if not 1 <= n_components <= bound:
                raise ValueError(
                    f"{prefix}n_components={n_components!r} must be between 1 and "
                    f"min(n_samples, n_features)={bound} with svd_solver='randomized'."
                )
        elif not 0 <= n_components <= bound:
            raise ValueError(
                f"{prefix}n_components={n_components!r} must be between 0 and "
                f"min(n_samples, n_features)={bound} with svd_solver={solver!r}."
            )

    # -- fit ----------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Fit the model with X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace; at least 2 samples.
        y : None
            Ignored.

        Returns
        -------
        self : PCA
            The fitted estimator.
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit the model with X and project X on the components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace; at least 2 samples.
        y : None
            Ignored.

        Returns
        -------
        X_new : array of shape (n_samples, n_components_)
            Projected data, same namespace and device as X (on Dask, a lazy array:
            :meth:`transform` of X).
        """
        data = self._fit(X)
        if is_lazy(data.xp):
            return self.transform(X)  # lazy and blockwise, as transform on Dask
        return self._infer("transform", data.xp, data.X)

    def _fit(self, X):
        self._check_params()
        # A one-pass fit over Dask blocks checks X's finiteness inside that pass (no
        # computation of its own); the multi-pass randomized one checks it up front, once.
        one_pass = self._is_one_pass_on_dask(X)
        data = validate_data(
            self, X, method="fit", reset=True, ensure_min_samples=2, defer_finite_check=one_pass
        )
        xp, device, X = data.xp, data.device, data.X
        compute, accumulate = data.dtypes.compute, data.dtypes.accumulate
        n_samples, n_features = X.shape
        bound = min(n_samples, n_features)

        n_components = bound if self.n_components is None else self.n_components
        solver = self._choose_solver(n_samples, n_features, n_components)
        self._check_n_components(n_components, solver, n_samples, n_features)
        self._fit_svd_solver = solver
        # wide Dask data with the randomized solver (which transposes it) runs the generic
        # array-API code below instead
        if is_lazy(xp) and (solver != "randomized" or n_samples >= n_features):
            self._fit_blocks(xp, X, solver, n_components, compute)
            return data

        # the mean accumulated in float64 (no float64 copy of X); X centered in its own
        # dtype around the mean rounded to it (exact where x is within a factor 2 of the
        # mean), the rounding of the mean kept apart: ``residual``
        mean = xp.sum(X, axis=0, dtype=accumulate) / n_samples
        rounded = xp.astype(mean, X.dtype)
        shifted = X - rounded
        if accumulate == X.dtype:
            # no wider accumulator: the mean of the shifted data (small numbers) corrects
            # the mean (two passes; float32 column sums of data at 1e4 can be units off)
            residual = xp.sum(shifted, axis=0) / n_samples
            mean = mean + residual
        else:
            residual = mean - xp.astype(rounded, accumulate)
        dof = n_samples - 1

        if solver == "covariance_eigh":
            covariance = _covariance(xp, shifted, residual, dof)
            singular_values, vt, explained_variance, total_variance = _spectrum(
                xp, solver, None, dof, bound, compute, accumulate, covariance=covariance
            )
        else:
            centered = xp.astype(shifted - xp.astype(residual, X.dtype), compute, copy=False)
            if solver == "randomized":
                singular_values, vt = self._randomized_svd(xp, device, centered, n_components)
                singular_values = xp.astype(singular_values, accumulate)
                explained_variance = singular_values**2 / dof
                wide = xp.astype(centered, accumulate, copy=False)
                total_variance = xp.sum(wide * wide) / dof
            else:
                singular_values, vt, explained_variance, total_variance = _spectrum(
                    xp, solver, centered, dof, bound, compute, accumulate
                )

        vt, _ = flip_sign_rows(xp, xp.astype(vt, compute, copy=False))
        n_components, fitted = self._select_components(
            xp,
            solver,
            n_components,
            bound,
            accumulate,
            (mean, vt, explained_variance, singular_values, total_variance),
        )
        fitted = materialize(xp, *fitted)
        _check_representable(self, xp, fitted[1], compute)
        self._set_fitted(
            tuple(xp.astype(array, compute) for array in fitted), n_components, n_samples
        )
        return data

    def _is_one_pass_on_dask(self, X: Any) -> bool:
        """Whether fitting X makes one pass over Dask blocks (a solver other than
        randomized), read from X's shape before validation; False for other inputs."""
        if not is_dask_array(X) or getattr(X, "ndim", None) != 2:
            return False
        n_samples, n_features = X.shape
        if math.isnan(n_samples) or math.isnan(n_features):
            return False
        n_components = min(X.shape) if self.n_components is None else self.n_components
        return self._choose_solver(n_samples, n_features, n_components) != "randomized"

    def _select_components(
        self,
        xp: ModuleType,
        solver: str,
        n_components: Any,
        bound: int,
        accumulate: Any,
        spectrum: tuple[Any, ...],
    ) -> tuple[int, tuple[Any, ...]]:
        """The number of components kept and the fitted arrays (components, explained
        variances and ratios, singular values, mean, noise variance), in ``accumulate``,
        from the full spectrum: the step the in-memory and the Dask-block fits share."""
        mean, vt, explained_variance, singular_values, total_variance = materialize(xp, *spectrum)
        device = device_of(explained_variance)
        # constant data: ratios of 0 rather than scikit-learn's 0/0 = NaN (and warning)
        one = xp.asarray(1.0, dtype=accumulate, device=device)
        ratio = explained_variance / xp.where(total_variance > 0, total_variance, one)

        if isinstance(n_components, numbers.Real) and not isinstance(
            n_components, numbers.Integral
        ):
            # smallest k whose cumulated ratio exceeds the fraction (side="right", as
            # scikit-learn, see its issue #15669); at most the number available
            cumulative = xp.cumulative_sum(ratio)
            # a 1-element threshold: Dask's searchsorted fails on 0-d values
            threshold = xp.asarray([float(n_components)], dtype=ratio.dtype, device=device)
            found = xp.searchsorted(cumulative, threshold, side="right")[0]
            n_components = min(int(to_scalar(found)) + 1, ratio.shape[0])
        n_components = int(n_components)

        if n_components < bound:
            if solver == "randomized":
                noise = (total_variance - xp.sum(explained_variance)) / (bound - n_components)
            else:
                noise = xp.mean(explained_variance[n_components:])
        else:
            noise = xp.asarray(0.0, dtype=accumulate, device=device)
        # NumPy reductions give NumPy scalars; the attribute is a 0-d array everywhere
        noise = xp.asarray(noise, dtype=accumulate, device=device)
        fitted = (
            vt[:n_components, :],
            explained_variance[:n_components],
            ratio[:n_components],
            singular_values[:n_components],
            mean,
            noise,
        )
        return n_components, fitted

    def _set_fitted(self, fitted: tuple[Any, ...], n_components: int, n_samples: int) -> None:
        """Store the fitted arrays of :meth:`_select_components` (cast and materialized)."""
        (
            self.components_,
            self.explained_variance_,
            self.explained_variance_ratio_,
            self.singular_values_,
            self.mean_,
            self.noise_variance_,
        ) = fitted
        self.n_components_ = n_components
        self.n_samples_ = n_samples

    def _fit_blocks(self, xp: ModuleType, X: Any, solver: str, n_components: Any, compute: Any):
        """``fit`` on a Dask array, over its row blocks (:func:`map_row_blocks`): each block
        sends small host results (float64), merged and decomposed on the host, which then
        runs the in-memory fit's last step (:meth:`_select_components`) in NumPy.

        Computations: ``"full"`` and ``"covariance_eigh"`` make **one** (a tall-and-skinny
        QR: the mean and the ``R`` of the centered data, whose SVD has the data's singular
        values and right singular vectors, and ``R.T @ R / (n_samples - 1)`` is the
        covariance; X's finiteness is checked in the same pass). ``"randomized"`` makes
        ``n_iter + 1`` (:meth:`_randomized_svd_blocks`) after X's finiteness check.
        """
        host = numpy_namespace()
        n_samples, n_features = X.shape
        bound = min(n_samples, n_features)
        dof = n_samples - 1
        if solver == "randomized":
            mean, squares, singular_values, vt = self._randomized_svd_blocks(
                X, n_components, compute == xp.float32
            )
            explained_variance = singular_values**2 / dof
            total_variance = np.asarray(squares / dof)
        else:
            moments = grouped_moments(X, r_factor=True)
            mean = moments.means[0]
            singular_values, vt, explained_variance, total_variance = _spectrum(
                host, solver, moments.r_factors[0], dof, bound, np.float64, np.float64
            )
        vt, _ = flip_sign_rows(host, vt)
        n_components, fitted = self._select_components(
            host,
            solver,
            n_components,
            bound,
            np.float64,
            (mean, vt, explained_variance, singular_values, total_variance),
        )
        dtype = np.dtype(compute)
        _check_representable(self, host, np.asarray(fitted[1]), dtype)
        # in-memory Dask arrays: no graph over X behind the attributes
        self._set_fitted(
            tuple(xp.asarray(np.asarray(array, dtype=dtype)) for array in fitted),
            n_components,
            n_samples,
        )

    def _randomized_settings(
        self, n_samples: int, n_features: int, n_components: int
    ) -> tuple[int, int, str]:
        """Number of random vectors, of power iterations and the normalizer resolved."""
        n_iter = self.iterated_power
        if n_iter == "auto":
            n_iter = 7 if n_components < 0.1 * min(n_samples, n_features) else 4
        normalizer = self.power_iteration_normalizer
        if normalizer == "auto":
            normalizer = "none" if n_iter <= 2 else "QR"
        return n_components + self.n_oversamples, n_iter, normalizer

    def _test_matrix(self, n_rows: int, n_random: int, float32: bool) -> np.ndarray:
        """The Gaussian test matrix, drawn on the host as scikit-learn draws it, so that
        a random_state gives the same decomposition on every backend."""
        random_state = check_random_state(self.random_state)
        matrix = random_state.normal(size=(n_rows, n_random))
        if float32:
            matrix = matrix.astype("float32")  # on the host: the device may lack float64
        return matrix

    def _randomized_svd(self, xp: ModuleType, device: Any, A: Any, n_components: int):
        """Singular values and right singular vectors (``S``, ``Vt``) of the centered data
        by scikit-learn's ``_randomized_svd`` (Halko et al. 2009, algorithm 4.3)."""
        n_samples, n_features = A.shape
        n_random, n_iter, normalizer = self._randomized_settings(
            n_samples, n_features, n_components
        )
        transpose = n_samples < n_features
        if transpose:
            A = A.T

        Q = self._test_matrix(A.shape[1], n_random, A.dtype == xp.float32)
        Q = xp.astype(move_to(Q, xp, device), A.dtype, copy=False)

        def normalize(matrix):
            return orthonormal_basis(xp, matrix) if normalizer == "QR" else matrix

        for _ in range(n_iter):
            Q = normalize(A @ Q)
            Q = normalize(A.T @ Q)
        Q = orthonormal_basis(xp, A @ Q)

        U_hat, S, Vt = svd(xp, Q.T @ A)
        if transpose:
            # A = X.T, so X's right singular vectors are A's left ones
            return S[:n_components], (Q @ U_hat)[:, :n_components].T
        return S[:n_components], Vt[:n_components, :]

    def _randomized_svd_blocks(self, X: Any, n_components: int, float32: bool):
        """:meth:`_randomized_svd` of tall data over the row blocks of X: one computation
        per power iteration and one for the final projection (``n_iter + 1``), each a
        :func:`_sketch` giving, for the current ``Q``, the R factor of ``A @ Q`` and
        ``A.T @ A @ Q`` (``A`` the centered data, centered exactly). The iterates span
        the same subspaces as in memory (the result depends on nothing else), with
        ``orth(A @ Q) = A @ Q @ W`` for the ``W`` of :func:`_orthonormalizer` (that
        basis is accurate to rounding times the condition number of ``A @ Q``, so ``Q``
        is kept orthonormal on the host, with the ``"none"`` normalizer too).

        Returns the mean, the total sum of squared deviations (host float64), ``S`` and
        ``Vt``.
        """
        n_samples, n_features = X.shape
        n_random, n_iter, normalizer = self._randomized_settings(
            n_samples, n_features, n_components
        )
        host = numpy_namespace()
        Q = self._test_matrix(n_features, n_random, float32).astype(np.float64)
        for _ in range(n_iter):
            sketch = _sketch(X, Q)
            if normalizer == "none":
                # A.T @ (A @ Q), orthonormalized here although the in-memory fit does not:
                # the same span (all the result depends on), without the growing powers
                # of the singular values that would spoil the R factor's conditioning
                Q = orthonormal_basis(host, sketch.gram_product)
                continue
            W = _orthonormalizer(sketch.r_factor)
            if W.shape[1]:  # else A is 0: no direction to refine
                Q = orthonormal_basis(host, sketch.gram_product @ W)  # orth(A.T @ orth(A @ Q))
        sketch = _sketch(X, Q)
        W = _orthonormalizer(sketch.r_factor)
        # orth(A @ Q).T @ A, padded with zero rows where A @ Q has a lower rank
        projected = np.zeros((n_random, n_features))
        projected[: W.shape[1]] = (sketch.gram_product @ W).T
        _, S, Vt = np.linalg.svd(projected, full_matrices=False)
        return sketch.mean, float(np.sum(sketch.squares)), S[:n_components], Vt[:n_components]

    # -- inference ----------------------------------------------------------------------

    def _infer(self, method: str, xp: ModuleType, X: Any) -> Any:
        dtype = X.dtype
        mean, components = self._fitted_arrays(dtype, "mean_", "components_")
        # as scikit-learn: project, then subtract the projected mean (no centered copy
        # of X; in an ONNX graph, one MatMul and a constant)
        X_new = X @ components.T - mean[None, :] @ components.T
        if self.whiten:
            # near-zero variances (rank-deficient data) are clipped at eps, as scikit-learn
            (variance,) = self._fitted_arrays(dtype, "explained_variance_")
            eps = xp.asarray(xp.finfo(dtype).eps, dtype=dtype, device=device_of(variance))
            X_new = X_new / xp.maximum(xp.sqrt(variance), eps)
        return X_new

    def transform(self, X):
        """Project X on the principal components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        X_new : array of shape (n_samples, n_components_)
            ``(X - mean_) @ components_.T``, divided by ``sqrt(explained_variance_)``
            when ``whiten``; same namespace and device as X.
        """
        return self._validated_infer("transform", X)

    def inverse_transform(self, X):
        """Map projected data back to the original feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Projected data.

        Returns
        -------
        X_original : array of shape (n_samples, n_features)
            ``X @ components_ + mean_`` (components scaled by
            ``sqrt(explained_variance_)`` when ``whiten``); same namespace and device as X.
        """
        data = validate_data(
            self,
            X,
            method="inverse_transform",
            reset=False,
            n_features=getattr(self, "n_components_", None),
        )
        xp, X, dtype = data.xp, data.X, data.dtypes.compute
        mean, components = self._fitted_arrays(dtype, "mean_", "components_")
        if self.whiten:
            (variance,) = self._fitted_arrays(dtype, "explained_variance_")
            components = xp.sqrt(variance)[:, None] * components
        return X @ components + mean

    @property
    def _n_features_out(self):
        """Number of output features, for ``get_feature_names_out``."""
        return self.components_.shape[0]


#: Rows per chunk of the float64 Gram matrix of float32 data (a few MiB of float64).
_GRAM_CHUNK_ELEMENTS = 1 << 20


def _covariance(xp: ModuleType, shifted: Any, residual: Any, dof: int) -> Any:
    """Covariance matrix, in ``residual``'s (accumulation) dtype, of the data ``shifted``
    by the mean rounded to their dtype (``residual``: the rounding, the mean of
    ``shifted``): ``(S.T @ S - n r r.T) / dof``.

    For float32 data accumulated in float64 the Gram matrix is first taken in float32
    (the speed of the common case); its rounding grows like ``eps32 * sqrt(n)`` times
    its trace (the float32 sums of n products; BLAS's blocked sums do better), which by
    Weyl's inequality bounds the error of every eigenvalue. Where that bound exceeds 1%
    of the smallest eigenvalue (directions of small variance, rank deficiency), or the
    float32 products overflow or underflow (data beyond 1e19 or below 1e-19), the Gram
    matrix is recomputed in float64, over chunks of rows (the products of float32 values
    are exact in float64; no float64 copy of the data).
    """
    n_samples, n_features = shifted.shape
    accumulate = residual.dtype
    correction = float(n_samples) * (residual[:, None] * residual[None, :])
    if shifted.dtype == accumulate:
        return (shifted.T @ shifted - correction) / dof
    with warnings.catch_warnings():
        # a tentative product: where it overflows (data beyond 1e19 in float32), the
        # float64 one below replaces it
        warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
        gram = xp.astype(shifted.T @ shifted, accumulate)
    trace = to_scalar(xp.sum(xp.abs(xp.linalg.diagonal(gram))))
    estimate = float(xp.finfo(shifted.dtype).eps) * math.sqrt(n_samples) * trace
    smallest = -math.inf
    if math.isfinite(trace) and bool(xp.all(xp.isfinite(gram))):
        smallest = to_scalar(xp.min(xp.linalg.eigvalsh((gram + gram.T) / 2.0)))
    info = xp.finfo(shifted.dtype)
    # products below the normal numbers (data near 1e-20 in float32) lose their digits
    floor = n_samples * float(info.smallest_normal) / float(info.eps)
    if not smallest >= max(100.0 * estimate, floor):
        step = max(1, _GRAM_CHUNK_ELEMENTS // max(n_features, 1))
        gram = xp.zeros((n_features, n_features), dtype=accumulate, device=device_of(shifted))
        for start in range(0, n_samples, step):
            chunk = xp.astype(shifted[start : min(start + step, n_samples), ...], accumulate)
            gram = gram + chunk.T @ chunk
    return (gram - correction) / dof


def _check_representable(estimator: Any, xp: ModuleType, variances: Any, dtype: Any) -> None:
    """A clear error where the explained variances (computed in the accumulation dtype)
    leave the range of the dtype they are to be stored in: float32 data near 1e30 have
    variances near 1e60, near 1e-30 of 1e-60 (below its normal numbers)."""
    info = xp.finfo(dtype)
    magnitudes = xp.abs(variances)
    outside = (magnitudes > float(info.max)) | (
        (magnitudes > 0) & (magnitudes < float(info.smallest_normal))
    )
    if bool(xp.any(outside)):
        largest = to_scalar(xp.max(magnitudes))
        raise ValueError(
            f"{method_name(estimator, 'fit')}: the explained variances (up to {largest:.3g}) "
            f"are outside the range of {dtype} (normal numbers {float(info.smallest_normal):.3g}"
            f" to {float(info.max):.3g}); rescale X (StandardScaler) or fit float64 data."
        )


def _spectrum(
    xp: ModuleType,
    solver: str,
    matrix: Any,
    dof: int,
    bound: int,
    compute: Any,
    accumulate: Any,
    covariance: Any = None,
) -> tuple[Any, Any, Any, Any]:
    """Singular values, right singular vectors (rows), explained variances and total
    variance of the ``"full"`` or ``"covariance_eigh"`` solver from ``matrix``: the
    centered data, or the R factor of its QR decomposition (the Dask fit), which has the
    same singular values, right singular vectors and ``matrix.T @ matrix``; or from the
    ``covariance`` matrix itself (``"covariance_eigh"``, ``matrix`` unused)."""
    if solver == "full":
        _, singular_values, vt = svd(xp, xp.astype(matrix, compute, copy=False))
        # the R of wide data has more rows than the data: its extra singular values are 0
        singular_values = xp.astype(singular_values[:bound], accumulate)
        explained_variance = singular_values**2 / dof
        return singular_values, vt[:bound, :], explained_variance, xp.sum(explained_variance)
    if covariance is None:
        covariance = (matrix.T @ matrix) / dof
    eigenvalues, eigenvectors = eigh(xp, covariance)
    eigenvalues = xp.flip(eigenvalues, axis=0)
    vt = xp.flip(eigenvectors, axis=1).T
    # C is positive semi-definite: negative eigenvalues are rounding noise
    zero = xp.asarray(0.0, dtype=eigenvalues.dtype, device=device_of(eigenvalues))
    explained_variance = xp.maximum(eigenvalues, zero)
    singular_values = xp.sqrt(explained_variance * dof)
    return singular_values, vt, explained_variance, xp.sum(explained_variance)


# ------------------------------------------------- randomized SVD over Dask row blocks


@dataclass
class _Sketch:
    """What one pass of the blockwise randomized SVD gathers for a host matrix ``Q``
    (``A`` the rows centered on their mean), host float64."""

    count: int
    mean: np.ndarray  # (n_features,)
    squares: np.ndarray  # (n_features,) sums of squared deviations
    r_factor: np.ndarray  # (k, k) upper triangular, R.T @ R = (A @ Q).T @ (A @ Q)
    gram_product: np.ndarray  # (n_features, k): A.T @ A @ Q


def _r_factor(rows: np.ndarray, size: int) -> np.ndarray:
    """The (size, size) R of the QR decomposition of ``rows`` (zero rows below when
    there are fewer rows than columns)."""
    r_factor = np.zeros((size, size))
    if rows.shape[0] and size:
        computed = np.linalg.qr(rows, mode="r")
        r_factor[: computed.shape[0]] = computed
    return r_factor


def _sketch_block(block: Any, test_matrix: np.ndarray) -> _Sketch | None:
    """The :class:`_Sketch` of one row block (centered on its own mean), computed in the
    block's namespace in float64; None for an empty block."""
    from xplearn._xp import array_namespace, to_numpy

    if block.shape[0] == 0:
        return None
    xp = array_namespace(block)
    values = xp.astype(block, xp.float64)
    mean = xp.mean(values, axis=0)
    centered = values - mean
    product = centered @ move_to(test_matrix, xp, device_of(block))
    return _Sketch(
        count=int(block.shape[0]),
        mean=to_numpy(mean),
        squares=to_numpy(xp.sum(centered * centered, axis=0)),
        r_factor=_r_factor(np.asarray(to_numpy(product)), test_matrix.shape[1]),
        gram_product=to_numpy(centered.T @ product),
    )


def _merge_sketches(first: _Sketch, second: _Sketch, test_matrix: np.ndarray) -> _Sketch:
    """The sketch of the union of two row sets, exact: around the common mean, the
    scatter gains ``w delta delta.T`` (``delta`` the means' difference, ``w = n1 n2 / n``,
    Chan et al.), so ``A.T @ A @ Q`` gains ``w delta (delta @ Q)`` and R is the QR of
    both R's stacked with the row ``sqrt(w) (delta @ Q)``."""
    count = first.count + second.count
    delta = second.mean - first.mean
    weight = first.count * second.count / count
    projected = delta @ test_matrix
    stacked = np.concatenate(
        [first.r_factor, second.r_factor, np.sqrt(weight) * projected[None, :]]
    )
    return _Sketch(
        count=count,
        mean=first.mean + delta * (second.count / count),
        squares=first.squares + second.squares + weight * delta * delta,
        r_factor=_r_factor(stacked, test_matrix.shape[1]),
        gram_product=first.gram_product + second.gram_product + weight * np.outer(delta, projected),
    )


def _sketch(X: Any, test_matrix: np.ndarray) -> _Sketch:
    """The :class:`_Sketch` of all of X for ``Q = test_matrix``: one computation."""
    merged = None
    for part in map_row_blocks(_sketch_block, X, constants=(test_matrix,)):
        if part is not None:
            merged = part if merged is None else _merge_sketches(merged, part, test_matrix)
    return merged


def _orthonormalizer(r_factor: np.ndarray) -> np.ndarray:
    """``W`` (k, r) such that ``P @ W`` is an orthonormal basis of the range of any ``P``
    whose R factor is ``r_factor``: ``V / sigma`` from the SVD ``R = U diag(sigma) V.T``,
    over the singular values above ``sqrt(eps) * max(sigma)`` (the numerical rank: the
    directions below, such as those of more random vectors than the data's rank, are
    rounding noise, which ``1 / sigma`` would blow up)."""
    _, sigma, vt = np.linalg.svd(r_factor)
    if sigma.size == 0 or not sigma[0] > 0:
        return np.zeros((r_factor.shape[0], 0))
    keep = sigma > sigma[0] * np.sqrt(np.finfo(np.float64).eps)
    return vt[keep].T / sigma[keep]
