"""NearestNeighbors and the neighbour search shared by the k-NN estimators."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from xplearn._config import get_config
from xplearn._kernels import argkmin, kernel_input, radius_neighbors, training_index
from xplearn._xp import device_of, is_dask_array, sparse_rows, to_numpy
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.metrics._pairwise import check_metric, check_radius
from xplearn.neighbors._blocks import (
    lazy_kneighbors,
    packed_distances,
    packed_indices,
    run_blocks,
)
from xplearn.utils.validation import check_is_fitted, method_name, validate_data

__all__ = ["NearestNeighbors"]

_FALLBACKS = {
    "dask": (
        "fit keeps the training rows as the given Dask array (computing only the "
        "finiteness check); k-neighbour queries (kneighbors, kneighbors of the training "
        "rows, predict, predict_proba) run lazily, one in-memory search per query block "
        "and training block, merged per query block; radius queries compute the data "
        "and return Dask arrays: ragged results need concrete row lengths"
    ),
}
_CAPABILITIES = Capabilities(fallbacks=_FALLBACKS, onnx_methods=("kneighbors",))


class _NeighborsBase(XPEstimatorMixin, BaseEstimator):
    """Fit (keep the training rows) and search, shared by every neighbour estimator."""

    _capabilities: ClassVar[Capabilities] = _CAPABILITIES

    # -- parameters ---------------------------------------------------------------------

    def _check_params(self, prefix: str) -> str:
        if self.algorithm not in ("brute", "auto"):
            raise ValueError(
                f"{prefix}algorithm must be 'brute' (or 'auto', which selects it), got "
                f"{self.algorithm!r}; xplearn searches exhaustively, in blocks."
            )
        k = self.n_neighbors
        if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1):
            raise ValueError(f"{prefix}n_neighbors must be an integer >= 1, got {k!r}.")
        if getattr(self, "radius", None) is not None:
            check_radius(self.radius, prefix)  # at fit, as scikit-learn validates it
        return check_metric(self.metric, prefix)

    def _fit(self, X, y=None, *, supervised=False, y_kind="numeric"):
        prefix = f"{method_name(self, 'fit')}: "
        metric = self._check_params(prefix)
        lazy = type(X) is not np.ndarray and is_dask_array(X)
        before = dict(vars(self))
        # on Dask the finiteness checks of X and of a numeric y go into their graphs, and
        # run together in one computation below (two if each checked itself)
        data = validate_data(
            self,
            X,
            y,
            method="fit",
            reset=True,
            y_required=supervised,
            y_kind=y_kind,
            defer_finite_check=lazy,
        )
        if lazy and not get_config()["assume_finite"]:
            checked = [data.X] if y_kind == "labels" or data.y is None else [data.X, data.y]
            try:
                run_blocks(*checked)
            except ValueError:
                # as when validation fails: the estimator is left as it was
                self.__dict__.clear()
                self.__dict__.update(before)
                raise
        # kept as given (a view when no conversion was needed): inputs are never modified
        fit_X = kernel_input(data.X, prefix[:-2])
        # what the search derives from the training rows alone, once (not per query)
        index = training_index(fit_X)
        if index is not None and index[2] is not None and (fit_X is X or not fit_X.flags.owndata):
            # few-row queries scan the copy packed here, the others read the rows: a private
            # copy, so that all read the same data whatever the caller later writes into
            # its buffer (scikit-learn keeps a reference to dense X, read by every query)
            fit_X = fit_X.copy()
        self._fit_X = fit_X
        self._fit_index = index
        self.n_samples_fit_ = int(data.X.shape[0])
        self.effective_metric_ = metric
        self.effective_metric_params_ = {}
        return data

    # -- search -------------------------------------------------------------------------

    def _query(self, X, method: str):
        """Validated queries (None: the training rows) and the namespace."""
        if X is None:
            check_is_fitted(self, method)
            return self._fit_X, True
        # the dtype policy picks the queries' dtype (float32 in -> float32 out under
        # "preserve"); the training rows are cast to it (a copy only when they differ)
        return validate_data(self, X, method=method, reset=False).X, False

    def _training_rows(self, dtype):
        return self._fitted_arrays(dtype, "_fit_X")[0]

    def _kneighbors(self, X, n_neighbors, method: str):
        """(distances, indices) of the ``n_neighbors`` nearest training rows."""
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
            raise TypeError(
                f"{method_name(self, method)}: n_neighbors must be an integer, got "
                f"{type(n_neighbors).__name__} {n_neighbors!r}."
            )
        if self._is_lazy_query(X):
            packed, dtype = self._lazy_neighbors(X, n_neighbors, method)
            return packed_distances(packed, dtype), packed_indices(packed)
        queries, own = self._query(X, method)
        return self._search(queries, own, n_neighbors, method)

    def _is_lazy_query(self, X) -> bool:
        """Whether the queries (None: the training rows) are a Dask array."""
        # the NumPy type test first: one-row NumPy calls must not pay for the Dask one
        if X is None:
            return is_dask_array(getattr(self, "_fit_X", None))
        return type(X) is not np.ndarray and is_dask_array(X)

    def _lazy_neighbors(self, X, n_neighbors: int, method: str, labels=None):
        """The packed neighbours of Dask queries (None: the training rows), lazily.

        One search per (query block, training block), merged per query block
        (:mod:`xplearn.neighbors._blocks`); ``labels`` (per training row) travel with
        the indices. Returns the packed Dask array and the distances' dtype.
        """
        prefix = f"{method_name(self, method)}: "
        metric = check_metric(self.metric, prefix)
        if X is None:
            check_is_fitted(self, method)
            queries, own = self._fit_X, True
        else:
            # the finiteness check goes into the queries' graph: nothing computes now
            data = validate_data(self, X, method=method, reset=False, defer_finite_check=True)
            queries, own = data.X, False
        self._check_n_neighbors(n_neighbors, own, prefix)
        training = self._training_rows(queries.dtype)
        packed = lazy_kneighbors(
            queries, training, n_neighbors, metric, own=own, labels=labels, method=prefix[:-2]
        )
        return packed, queries.dtype

    def _validated_infer(self, method: str, X):
        if type(X) is not np.ndarray and is_dask_array(X):
            return self._lazy_infer(method, X)
        return super()._validated_infer(method, X)

    def _lazy_infer(self, method: str, X):
        """Public ``method`` on Dask queries, from :meth:`_lazy_neighbors` (subclasses)."""
        raise NotImplementedError(method)

    def _check_n_neighbors(self, n_neighbors: int, own: bool, prefix: str) -> None:
        """1 <= n_neighbors <= the training rows available (one fewer for ``own``)."""
        n_train = self.n_samples_fit_
        available = n_train - 1 if own else n_train
        if n_neighbors < 1 or n_neighbors > available:
            what = (
                "n_samples_fit - 1 (the query rows are the training rows)"
                if own
                else ("n_samples_fit")
            )
            raise ValueError(
                f"{prefix}Expected 1 <= n_neighbors <= {what} = {available}, got "
                f"n_neighbors={n_neighbors}."
            )

    def _search(self, queries, own: bool, n_neighbors: int, method: str):
        """(distances, indices) for validated queries (``own``: the training rows)."""
        prefix = f"{method_name(self, method)}: "
        metric = check_metric(self.metric, prefix)
        self._check_n_neighbors(n_neighbors, own, prefix)
        Y = self._training_rows(queries.dtype)
        k = n_neighbors + 1 if own else n_neighbors
        # the index describes the fitted rows: only for those, not for a cast copy
        index = getattr(self, "_fit_index", None) if Y is self._fit_X else None
        return argkmin(queries, Y, k, metric, exclude_self=own, method=prefix[:-2], index=index)

    def _infer(self, method: str, xp, X):
        if method != "kneighbors":
            return super()._infer(method, xp, X)
        return self._search(X, False, self.n_neighbors, method)

    def _radius(self, X, radius, sort_results, method: str):
        prefix = f"{method_name(self, method)}: "
        radius = check_radius(self.radius if radius is None else radius, prefix)
        queries, own = self._query(X, method)
        metric = check_metric(self.metric, prefix)
        Y = self._training_rows(queries.dtype)
        return radius_neighbors(
            queries,
            Y,
            radius,
            metric,
            sort_results=bool(sort_results),
            exclude_self=own,
            method=prefix[:-2],
        )

    # -- public k-neighbour queries (every neighbour estimator) --------------------------

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the nearest training rows of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries, in the fitted namespace and on the fitted device. None queries the
            training rows, each excluded from its own neighbours (as scikit-learn).
        n_neighbors : int, default=None
            Number of neighbours (default: the ``n_neighbors`` parameter); at most
            ``n_samples_fit_`` (``n_samples_fit_ - 1`` when X is None).
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : array of shape (n_queries, n_neighbors)
            Increasing along each row; only when ``return_distance``.
        indices : array of shape (n_queries, n_neighbors), int64
            Indices of the training rows; ties go to the smaller index.
        """
        distances, indices = self._kneighbors(X, n_neighbors, "kneighbors")
        return (distances, indices) if return_distance else indices

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Compute the graph of the k nearest neighbours of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries; None queries the training rows (each excluded from its own row).
        n_neighbors : int, default=None
            Number of neighbours; default: the ``n_neighbors`` parameter.
        mode : {"connectivity", "distance"}, default="connectivity"
            Ones, or the distances, as the stored values.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_samples_fit_) or tuple
            On NumPy a CSR matrix (entries of each row by increasing distance); on other
            namespaces its ``(indptr, indices, data)`` arrays.
        """
        prefix = f"{method_name(self, 'kneighbors_graph')}: "
        _check_mode(mode, prefix)
        distances, indices = self._kneighbors(X, n_neighbors, "kneighbors_graph")
        from xplearn._xp import array_namespace

        xp = array_namespace(indices)
        n_queries, k = indices.shape
        indptr = xp.arange(0, n_queries * k + 1, k, dtype=xp.int64, device=device_of(indices))
        data = xp.reshape(distances, (-1,))
        if mode == "connectivity":
            data = xp.ones_like(data)
        return sparse_rows(indptr, xp.reshape(indices, (-1,)), data, self.n_samples_fit_)


def _ragged(indptr, values):
    """A NumPy object array of per-row arrays (scikit-learn's radius results).

    Rows of a NumPy result are NumPy arrays; rows of another namespace's result are
    slices in that namespace.
    """
    bounds = to_numpy(indptr).tolist()
    out = np.empty(len(bounds) - 1, dtype=object)
    for i in range(len(bounds) - 1):
        out[i] = values[bounds[i] : bounds[i + 1]]
    return out


class NearestNeighbors(_NeighborsBase):
    """Unsupervised exact nearest-neighbour search (brute force, in blocks).

    Runs on every backend; the training rows are kept in the namespace and on the
    device they came in. On NumPy the search runs in chunked, parallel numba kernels;
    elsewhere in array-API code; both stream blocks of queries x training rows sized by
    ``working_memory`` and never build the full distance matrix.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours of :meth:`kneighbors` and :meth:`kneighbors_graph`.
    radius : float, default=1.0
        Range of :meth:`radius_neighbors` and :meth:`radius_neighbors_graph`.
    algorithm : {"brute", "auto"}, default="brute"
        Exhaustive search; ``"auto"`` selects it. Tree algorithms are not provided.
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}, default="euclidean"
        Distance (``"l2"``, ``"l1"``, ``"cityblock"`` are aliases).
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the kept training rows and of the distances (None: the configured
        policy). ``"preserve"`` keeps float32 data float32 and float64 float64;
        ``"mixed"`` stores and searches float32 (the returned distances are recomputed
        with float64 accumulation in every case).

    Attributes
    ----------
    n_samples_fit_ : int
        Number of training rows.
    effective_metric_ : str
        The metric used (aliases resolved).
    effective_metric_params_ : dict
        Empty; for scikit-learn compatibility.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when X has string column names.

    Notes
    -----
    Indices agree with scikit-learn's ``algorithm="brute"``; among equal distances the
    smaller training index comes first, on every backend (scikit-learn does not fix that
    order). The neighbour sets are exact whatever the data's offset, clustering or
    magnitude: those that direct float64 differences of the inputs give (a cheap ranking
    proposes candidates and a proven error bound certifies them, else the query is
    searched again in float64, then exactly; see the architecture page). The returned
    distances are those float64 distances rounded once to the data's dtype, so a query
    equal to a training row is at distance 0; NaN distances (NaN rows under
    ``assume_finite``) come last, never as an index outside the training rows. On NumPy,
    ``fit`` keeps a private copy of training sets up to 64 MiB (whose rows it also packs
    for one-row queries), so that later writes into the caller's array change no result.

    On Dask, ``fit`` keeps the training rows as the given Dask array (one computation
    checks them, and a regressor's targets, for NaN and infinity; a classifier's
    classes take one more; persist the array first to keep its blocks in memory), and a
    k-neighbour query on a Dask array computes nothing: each query block is searched
    against each training block in memory, and the per-block neighbours are merged by
    (distance, index), so the result equals the in-memory one. Queries must then be Dask
    arrays; radius queries compute.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.neighbors import NearestNeighbors
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    >>> nn = NearestNeighbors(n_neighbors=2).fit(X)
    >>> distances, indices = nn.kneighbors([[0.9, 0.0]])
    >>> indices.tolist()
    [[1, 0]]
    """

    def __init__(
        self, *, n_neighbors=5, radius=1.0, algorithm="brute", metric="euclidean", dtype_policy=None
    ):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.metric = metric
        self.dtype_policy = dtype_policy

    def fit(self, X, y=None):
        """Keep the training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, of any supported namespace.
        y : None
            Ignored.

        Returns
        -------
        self : NearestNeighbors
            The fitted estimator.
        """
        self._fit(X)
        return self

    def radius_neighbors(
        self, X=None, radius=None, return_distance=True, sort_results=False, return_csr=False
    ):
        """Find the training rows within ``radius`` of each query.

        By default the results come as scikit-learn returns them: NumPy object arrays
        with one array per query. With ``return_csr=True`` they come as the CSR triple
        ``(indptr, indices, distances)`` (``(indptr, indices)`` without distances):
        arrays of X's namespace and device on every backend, the neighbours of query
        ``i`` being entries ``indptr[i]:indptr[i + 1]``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries; None queries the training rows, each excluded from its own result.
        radius : float, default=None
            Range (inclusive); default: the ``radius`` parameter.
        return_distance : bool, default=True
            Also return the distances.
        sort_results : bool, default=False
            Order each query's neighbours by distance (ties by index) instead of by
            index.
        return_csr : bool, default=False
            Return the CSR triple ``(indptr, indices, distances)`` (``(indptr,
            indices)`` without distances): arrays of X's namespace on every backend.

        Returns
        -------
        distances : ndarray of shape (n_queries,) of arrays
            Only when ``return_distance``: one array of distances per query, as
            scikit-learn (a NumPy object array whose items are arrays of X's namespace).
        indices : ndarray of shape (n_queries,) of arrays
            One int64 array of training indices per query.
        """
        indptr, indices, distances = self._radius(X, radius, sort_results, "radius_neighbors")
        if return_csr:
            return (indptr, indices, distances) if return_distance else (indptr, indices)
        ragged_indices = _ragged(indptr, indices)
        if not return_distance:
            return ragged_indices
        return _ragged(indptr, distances), ragged_indices

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity", sort_results=False):
        """Compute the graph of the neighbours within ``radius`` of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries; None queries the training rows (each excluded from its own row).
        radius : float, default=None
            Range (inclusive); default: the ``radius`` parameter.
        mode : {"connectivity", "distance"}, default="connectivity"
            Ones, or the distances, as the stored values.
        sort_results : bool, default=False
            Order each row's entries by distance instead of by index.

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_samples_fit_) or tuple
            On NumPy a CSR matrix; on other namespaces its ``(indptr, indices, data)``.
        """
        prefix = f"{method_name(self, 'radius_neighbors_graph')}: "
        _check_mode(mode, prefix)
        indptr, indices, distances = self._radius(X, radius, sort_results, "radius_neighbors_graph")
        from xplearn._xp import array_namespace

        data = distances if mode == "distance" else array_namespace(distances).ones_like(distances)
        return sparse_rows(indptr, indices, data, self.n_samples_fit_)


def _check_mode(mode: Any, prefix: str) -> None:
    if mode not in ("connectivity", "distance"):
        raise ValueError(f"{prefix}mode must be 'connectivity' or 'distance', got {mode!r}.")


def _check_weights(weights: Any, prefix: str) -> None:
    if weights in ("uniform", "distance", None) or callable(weights):
        return
    raise ValueError(
        f"{prefix}weights must be 'uniform', 'distance' or a callable, got {weights!r}."
    )


def neighbor_weights(xp, distances, weights, prefix: str):
    """Weights of the neighbours (None: uniform), from their distances.

    ``"distance"``: ``1 / d``; a query with neighbours at distance 0 gives weight 1 to
    those and 0 to the others (scikit-learn's rule). A callable gets the distances array
    (X's namespace) and must return an array of the same shape.
    """
    if weights in ("uniform", None):
        return None
    if weights == "distance":
        zero = distances == 0
        any_zero = xp.any(zero, axis=1, keepdims=True)
        inverse = 1 / xp.where(zero, xp.ones_like(distances), distances)
        return xp.where(any_zero, xp.astype(zero, distances.dtype), inverse)
    result = weights(distances)
    if tuple(result.shape) != tuple(distances.shape):
        raise ValueError(
            f"{prefix}the weights callable must return an array of the shape of the distances "
            f"{tuple(distances.shape)}, got shape {tuple(result.shape)}."
        )
    return xp.astype(result, distances.dtype)
