"""k-nearest-neighbours classification."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import numpy as np
from sklearn.base import ClassifierMixin

from xplearn._xp import array_namespace, device_of, is_dask_array
from xplearn._xp._ops import is_lazy
from xplearn.base import Capabilities
from xplearn.neighbors._base import _check_weights, _NeighborsBase, neighbor_weights
from xplearn.neighbors._blocks import packed_distances, packed_labels
from xplearn.utils._labels import decode_labels, encode_labels
from xplearn.utils.validation import method_name

__all__ = ["KNeighborsClassifier"]

#: Largest one-hot table of the training labels kept at fit (values): the vote then
#: gathers the neighbours' rows of it, the fewest operations for a one-row predict.
#: Beyond it (many rows and many classes), the labels are compared with each class.
_ONE_HOT_MAX_VALUES = 2**22


def _one_hot_votes(xp, codes, classes, dtype):
    """(n_samples, n_classes) table with a 1 in each row's class column, or None when
    it would exceed ``_ONE_HOT_MAX_VALUES``."""
    n_classes = classes.shape[0]
    if codes.shape[0] * n_classes > _ONE_HOT_MAX_VALUES:
        return None
    columns = xp.arange(n_classes, dtype=codes.dtype, device=device_of(codes))
    return xp.astype(codes[:, None] == columns, dtype)


class KNeighborsClassifier(ClassifierMixin, _NeighborsBase):
    """Classifier voting among the k nearest training rows (exact, brute force).

    Runs on every backend; see :class:`~xplearn.neighbors.NearestNeighbors` for the
    search. Class labels may be an array of X's namespace and device, or a NumPy array
    or list of any labels scikit-learn accepts (strings included): predictions come back
    in the form the labels came in.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours that vote.
    weights : {"uniform", "distance"} or callable, default="uniform"
        ``"uniform"``: one vote each; ``"distance"``: votes weighted by ``1 / d``
        (neighbours at distance 0, if any, take all the weight); a callable receives the
        distances array (n_queries, n_neighbors) and returns weights of that shape.
    algorithm : {"brute", "auto"}, default="brute"
        Exhaustive search; ``"auto"`` selects it.
    metric : {"euclidean", "sqeuclidean", "manhattan", "cosine"}, default="euclidean"
        Distance.
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the kept training rows, the distances and the probabilities (None:
        the configured policy; ``"preserve"`` keeps float32 float32).

    Attributes
    ----------
    classes_ : array of shape (n_classes,)
        Sorted class labels (X's namespace for device labels, NumPy for host labels).
    n_samples_fit_ : int
        Number of training rows.
    effective_metric_ : str
        The metric used.
    effective_metric_params_ : dict
        Empty; for scikit-learn compatibility.
    outputs_2d_ : bool
        False: one target.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when X has string column names.

    Notes
    -----
    Ties between classes go to the first class of ``classes_`` (as scikit-learn);
    ties between equally distant neighbours go to the smaller training index.

    Examples
    --------
    >>> from xplearn.neighbors import KNeighborsClassifier
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> clf = KNeighborsClassifier(n_neighbors=3).fit(X, ["a", "a", "b", "b"])
    >>> clf.predict([[1.1]]).tolist()
    ['a']
    """

    _capabilities: ClassVar[Capabilities] = replace(
        _NeighborsBase._capabilities, onnx_methods=("predict", "predict_proba", "kneighbors")
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

    def fit(self, X, y):
        """Keep the training rows and their labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, of any supported namespace.
        y : array-like of shape (n_samples,)
            Class labels: an array of X's namespace and device, or a NumPy array or list
            of any labels.

        Returns
        -------
        self : KNeighborsClassifier
            The fitted estimator.
        """
        prefix = f"{method_name(self, 'fit')}: "
        _check_weights(self.weights, prefix)
        data = self._fit(X, y, supervised=True, y_kind="labels")
        encoded = encode_labels(data.xp, data.device, data.y, prefix, min_classes=1)
        self.classes_ = encoded.classes
        self._y = encoded.codes
        # on Dask the codes travel with the blockwise search (no table: it would be a
        # graph over the labels); elsewhere the vote gathers rows of a one-hot table
        self._y_votes = (
            None
            if is_lazy(data.xp)
            else _one_hot_votes(data.xp, encoded.codes, encoded.classes, data.X.dtype)
        )
        self.outputs_2d_ = False
        return self

    def predict_proba(self, X):
        """Estimate each class's weighted share among the neighbours of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Queries in the namespace and on the device the model was fitted on.

        Returns
        -------
        proba : array of shape (n_queries, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        _check_weights(self.weights, f"{method_name(self, 'predict_proba')}: ")
        return self._validated_infer("predict_proba", X)

    def _vote(self, xp, distances, indices, method):
        """Each class's weighted share among the neighbours (n_queries, n_classes)."""
        prefix = f"{method_name(self, method)}: "
        k = self.n_neighbors  # not indices.shape[1]: unknown on symbolic arrays
        n_classes = self.classes_.shape[0]
        flat = xp.reshape(indices, (-1,))
        if getattr(self, "_y_votes", None) is not None:
            # the neighbours' rows of the one-hot table kept at fit: one gather
            (table,) = self._fitted_arrays(distances.dtype, "_y_votes")
            votes = xp.reshape(xp.take(table, flat, axis=0), (-1, k, n_classes))
        else:
            codes = xp.reshape(xp.take(self._y, flat), (-1, k))
            votes = _code_votes(xp, codes, n_classes, distances.dtype)
        return _class_shares(xp, distances, votes, self.weights, k, prefix)

    def _lazy_infer(self, method: str, X):
        """predict / predict_proba of Dask queries: the neighbours' codes travel with the
        blockwise search, and each query block votes (nothing is computed)."""
        import dask.array as da

        prefix = f"{method_name(self, method)}: "
        _check_weights(self.weights, prefix)
        packed, dtype = self._lazy_neighbors(X, self.n_neighbors, method, labels=self._y)
        meta_xp = array_namespace(packed._meta)
        vote = {
            "weights": self.weights,
            "k": self.n_neighbors,
            "n_classes": int(self.classes_.shape[0]),
            "distance_dtype": dtype,
            "prefix": prefix,
        }
        if method == "predict_proba":
            return da.blockwise(
                _proba_block,
                "iz",
                packed,
                "imc",
                new_axes={"z": vote["n_classes"]},
                concatenate=True,
                dtype=dtype,
                meta=meta_xp.empty((0, 0), dtype=dtype),
                **vote,
            )
        classes = self.classes_
        if is_dask_array(classes):
            # device classes: a small in-memory Dask array, one block for every task
            arguments = [classes, "z"]
            meta = array_namespace(classes._meta).empty((0,), dtype=classes.dtype)
            vote["host_classes"] = None
        else:
            arguments = []
            meta = np.empty((0,), dtype=classes.dtype)
            vote["host_classes"] = classes
        return da.blockwise(
            _predict_block,
            "i",
            packed,
            "imc",
            *arguments,
            concatenate=True,
            dtype=classes.dtype,
            meta=meta,
            **vote,
        )

    def _infer(self, method: str, xp, X):
        if method == "kneighbors":
            return super()._infer(method, xp, X)
        _check_weights(self.weights, f"{method_name(self, method)}: ")
        distances, indices = self._search(X, False, self.n_neighbors, method)
        proba = self._vote(xp, distances, indices, method)
        if method == "predict_proba":
            return proba
        return decode_labels(self.classes_, xp.argmax(proba, axis=1))

    def predict(self, X):
        """Predict the class of each query: the heaviest vote among its neighbours.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Queries in the namespace and on the device the model was fitted on.

        Returns
        -------
        y_pred : array of shape (n_queries,)
            Labels, in the form the training labels came in.
        """
        _check_weights(self.weights, f"{method_name(self, 'predict')}: ")
        return self._validated_infer("predict", X)


def _code_votes(xp, codes, n_classes: int, dtype):
    """(n_queries, k, n_classes) one-hot votes of the neighbours' class codes."""
    classes = xp.arange(n_classes, dtype=codes.dtype, device=device_of(codes))
    return xp.astype(codes[:, :, None] == classes, dtype)


def _class_shares(xp, distances, votes, weights, k: int, prefix: str):
    """Each class's weighted share of the ``votes`` (n_queries, k, n_classes)."""
    weights = neighbor_weights(xp, distances, weights, prefix)
    if weights is None:
        # uniform: the counts over k (what the weighted form gives with unit weights)
        return xp.sum(votes, axis=1) / k
    from xplearn._xp._onnx import is_symbolic

    # scikit-learn's rule (and message): a query whose neighbours all weigh 0 has no
    # vote to share; not checked while a graph is recorded for export (no values)
    if not is_symbolic(xp) and not is_lazy(xp) and bool(xp.any(xp.all(weights == 0, axis=1))):
        raise ValueError(
            f"{prefix}All neighbors of some sample is getting zero weights. Please modify "
            "'weights' to avoid this case if you are using a user-defined function."
        )
    proba = xp.sum(votes * weights[:, :, None], axis=1)
    total = xp.sum(proba, axis=1, keepdims=True)
    return proba / xp.where(total == 0, xp.ones_like(total), total)


def _proba_block(packed, *, weights, k: int, n_classes: int, distance_dtype, prefix: str):
    """predict_proba of one query block from its packed neighbours (a task)."""
    xp = array_namespace(packed)
    distances = packed_distances(packed, distance_dtype)
    codes = xp.astype(packed_labels(packed)[:, :, 0], xp.int64)
    votes = _code_votes(xp, codes, n_classes, distance_dtype)
    return _class_shares(xp, distances, votes, weights, k, prefix)


def _predict_block(packed, classes=None, *, host_classes, **vote):
    """predict of one query block from its packed neighbours (a task): the class with
    the heaviest vote, from ``classes`` (device labels) or ``host_classes``."""
    xp = array_namespace(packed)
    proba = _proba_block(packed, **vote)
    labels = host_classes if classes is None else classes
    return decode_labels(labels, xp.argmax(proba, axis=1))
