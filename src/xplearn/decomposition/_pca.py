"""Principal component analysis written once against the Array API."""

from __future__ import annotations

import numbers
from types import ModuleType
from typing import Any, ClassVar

from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state

from xplearn._xp import device_of, move_to
from xplearn._xp._ops import (
    eigh,
    flip_sign_rows,
    materialize,
    orthonormal_basis,
    svd,
    to_scalar,
    weighted_mean,
)
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.utils.validation import (
    method_name,
    validate_data,
)

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
                "fit computes the decomposition once (fitted attributes are in-memory "
                "Dask arrays); covariance_eigh decomposes the n_features x n_features "
                "covariance on the host"
            ),
        },
        onnx_methods=("transform",),
    )

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
            Projected data, same namespace and device as X.
        """
        data = self._fit(X)
        return self._infer("transform", data.xp, data.X)

    def _fit(self, X):
        self._check_params()
        data = validate_data(self, X, method="fit", reset=True, ensure_min_samples=2)
        xp, device, X = data.xp, data.device, data.X
        compute, accumulate = data.dtypes.compute, data.dtypes.accumulate
        n_samples, n_features = X.shape
        bound = min(n_samples, n_features)

        n_components = bound if self.n_components is None else self.n_components
        solver = self._choose_solver(n_samples, n_features, n_components)
        self._check_n_components(n_components, solver, n_samples, n_features)
        self._fit_svd_solver = solver

        mean, _ = weighted_mean(xp, X, None, accumulate)
        centered = xp.astype(X, accumulate, copy=False) - mean
        dof = n_samples - 1

        if solver == "full":
            _, singular_values, vt = svd(xp, xp.astype(centered, compute, copy=False))
            singular_values = xp.astype(singular_values, accumulate)
            explained_variance = singular_values**2 / dof
            total_variance = xp.sum(explained_variance)
        elif solver == "covariance_eigh":
            covariance = (centered.T @ centered) / dof
            eigenvalues, eigenvectors = eigh(xp, covariance)
            eigenvalues = xp.flip(eigenvalues, axis=0)
            vt = xp.flip(eigenvectors, axis=1).T
            # C is positive semi-definite: negative eigenvalues are rounding noise
            zero = xp.asarray(0.0, dtype=eigenvalues.dtype, device=device)
            explained_variance = xp.maximum(eigenvalues, zero)
            singular_values = xp.sqrt(explained_variance * dof)
            total_variance = xp.sum(explained_variance)
        else:
            singular_values, vt = self._randomized_svd(
                xp, device, xp.astype(centered, compute, copy=False), n_components
            )
            singular_values = xp.astype(singular_values, accumulate)
            explained_variance = singular_values**2 / dof
            total_variance = xp.sum(centered * centered) / dof

        vt, _ = flip_sign_rows(xp, xp.astype(vt, compute, copy=False))
        mean, vt, explained_variance, singular_values, total_variance = materialize(
            xp, mean, vt, explained_variance, singular_values, total_variance
        )
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

        fitted = materialize(
            xp,
            *(
                xp.astype(array, compute)
                for array in (
                    vt[:n_components, :],
                    explained_variance[:n_components],
                    ratio[:n_components],
                    singular_values[:n_components],
                    mean,
                    noise,
                )
            ),
        )
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
        return data

    def _randomized_svd(self, xp: ModuleType, device: Any, A: Any, n_components: int):
        """Singular values and right singular vectors (``S``, ``Vt``) of the centered data
        by scikit-learn's ``_randomized_svd`` (Halko et al. 2009, algorithm 4.3)."""
        n_samples, n_features = A.shape
        n_random = n_components + self.n_oversamples
        n_iter = self.iterated_power
        if n_iter == "auto":
            n_iter = 7 if n_components < 0.1 * min(n_samples, n_features) else 4
        normalizer = self.power_iteration_normalizer
        if normalizer == "auto":
            normalizer = "none" if n_iter <= 2 else "QR"
        transpose = n_samples < n_features
        if transpose:
            A = A.T

        # The Gaussian test matrix is drawn on the host, as scikit-learn draws it, so that
        # a random_state gives the same decomposition on every backend.
        random_state = check_random_state(self.random_state)
        Q = random_state.normal(size=(A.shape[1], n_random))
        if A.dtype == xp.float32:
            Q = Q.astype("float32")  # on the host: the device may lack float64
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
