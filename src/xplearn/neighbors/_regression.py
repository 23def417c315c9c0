"""k-nearest-neighbours regression."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from sklearn.base import RegressorMixin

from xplearn._xp import array_namespace
from xplearn.base import Capabilities
from xplearn.neighbors._base import _check_weights, _NeighborsBase, neighbor_weights
from xplearn.neighbors._blocks import packed_distances, packed_labels
from xplearn.utils.validation import method_name

__all__ = ["KNeighborsRegressor"]


class KNeighborsRegressor(RegressorMixin, _NeighborsBase):
    """Regression by the (weighted) mean target of the k nearest training rows.

    Runs on every backend; see :class:`~xplearn.neighbors.NearestNeighbors` for the
    search. Multi-output targets of shape (n_samples, n_targets) are supported.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours averaged.
    weights : {"uniform", "distance"} or callable, default="uniform"
        ``"uniform"``: plain mean; ``"distance"``: weights ``1 / d`` (neighbours at
        distance 0, if any, take all the weight); a callable receives the distances
        array (n_queries, n_neighbors) and returns weights of that shape.
    algorithm : {"brute", "auto"}, default="brute"
        Exhaustive search; ``"auto"`` selects it.
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}, default="euclidean"
        Distance.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the kept training rows and targets, the distances and the predictions
        (None: the configured policy; ``"preserve"`` keeps float32 float32).

    Attributes
    ----------
    n_samples_fit_ : int
        Number of training rows.
    effective_metric_ : str
        The metric used.
    effective_metric_params_ : dict
        Empty; for scikit-learn compatibility.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.neighbors import KNeighborsRegressor
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> reg = KNeighborsRegressor(n_neighbors=2).fit(X, np.array([0.0, 1.0, 2.0, 3.0]))
    >>> reg.predict(np.array([[1.4]])).tolist()
    [1.5]
    """

    _capabilities: ClassVar[Capabilities] = replace(
        _NeighborsBase._capabilities, onnx_methods=("predict", "kneighbors")
    )

    def __init__(
        self,
        n_neighbors=5,
        *,
        weights="uniform",
        algorithm="brute",
        metric="euclidean",
        dtype_policy=None,
    ):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.metric = metric
        self.dtype_policy = dtype_policy

    def __sklearn_tags__(self):  # scikit-learn protocol
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Keep the training rows and their targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, of any supported namespace.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets, in X's namespace and on X's device.

        Returns
        -------
        self : KNeighborsRegressor
            The fitted estimator.
        """
        _check_weights(self.weights, f"{method_name(self, 'fit')}: ")
        data = self._fit(X, y, supervised=True)
        self._y = data.y
        return self

    def predict(self, X):
        """Predict the weighted mean target of the neighbours of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Queries in the namespace and on the device the model was fitted on.

        Returns
        -------
        y_pred : array of shape (n_queries,) or (n_queries, n_targets)
            Same namespace, device and float dtype as the distances.
        """
        _check_weights(self.weights, f"{method_name(self, 'predict')}: ")
        return self._validated_infer("predict", X)

    def _infer(self, method: str, xp, X):
        if method == "kneighbors":
            return super()._infer(method, xp, X)
        _check_weights(self.weights, f"{method_name(self, method)}: ")
        distances, indices = self._search(X, False, self.n_neighbors, method)
        return self._average(xp, distances, indices)

    def _average(self, xp, distances, indices):
        """The (weighted) mean target of each query's neighbours."""
        prefix = f"{method_name(self, 'predict')}: "
        k = self.n_neighbors  # not indices.shape[1]: unknown on symbolic arrays
        y = xp.astype(self._y, distances.dtype, copy=False)
        flat = xp.take(y, xp.reshape(indices, (-1,)), axis=0)
        targets = xp.reshape(flat, (-1, k) + tuple(y.shape[1:]))
        return _weighted_mean(xp, distances, targets, self.weights, prefix)

    def _lazy_infer(self, method: str, X):
        """predict of Dask queries: the neighbours' targets travel with the blockwise
        search, and each query block averages them (nothing is computed)."""
        import dask.array as da

        prefix = f"{method_name(self, method)}: "
        _check_weights(self.weights, prefix)
        packed, dtype = self._lazy_neighbors(X, self.n_neighbors, method, labels=self._y)
        meta_xp = array_namespace(packed._meta)
        one_target = self._y.ndim == 1
        # the same prefix as the in-memory predict's (its callable-weights error)
        mean = {
            "weights": self.weights,
            "distance_dtype": dtype,
            "prefix": f"{method_name(self, 'predict')}: ",
        }
        if one_target:
            output, new_axes, meta = "i", {}, meta_xp.empty((0,), dtype=dtype)
        else:
            output, new_axes = "it", {"t": int(self._y.shape[1])}
            meta = meta_xp.empty((0, 0), dtype=dtype)
        return da.blockwise(
            _mean_block,
            output,
            packed,
            "imc",
            new_axes=new_axes,
            concatenate=True,
            dtype=dtype,
            meta=meta,
            one_target=one_target,
            **mean,
        )


def _weighted_mean(xp, distances, targets, weights, prefix: str):
    """The (weighted) mean of the neighbours' ``targets`` (n_queries, k[, n_targets])."""
    weights = neighbor_weights(xp, distances, weights, prefix)
    if weights is None:
        return xp.mean(targets, axis=1)
    if targets.ndim == 3:
        weights = weights[:, :, None]
    return xp.sum(targets * weights, axis=1) / xp.sum(weights, axis=1)


def _mean_block(packed, *, weights, distance_dtype, prefix: str, one_target: bool):
    """predict of one query block from its packed neighbours and targets (a task)."""
    xp = array_namespace(packed)
    distances = packed_distances(packed, distance_dtype)
    targets = xp.astype(packed_labels(packed), distance_dtype)
    if one_target:
        targets = targets[:, :, 0]
    return _weighted_mean(xp, distances, targets, weights, prefix)
