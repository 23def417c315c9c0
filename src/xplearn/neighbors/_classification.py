"""k-nearest-neighbours classification."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from sklearn.base import ClassifierMixin

from xplearn._xp import device_of
from xplearn.base import Capabilities
from xplearn.neighbors._base import _check_weights, _NeighborsBase, neighbor_weights
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
        self._y_votes = _one_hot_votes(data.xp, encoded.codes, encoded.classes, data.X.dtype)
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
            classes = xp.arange(n_classes, dtype=codes.dtype, device=device_of(distances))
            votes = xp.astype(codes[:, :, None] == classes, distances.dtype)
        weights = neighbor_weights(xp, distances, self.weights, prefix)
        if weights is None:
            # uniform: the counts over k (what the weighted form gives with unit weights)
            return xp.sum(votes, axis=1) / k
        proba = xp.sum(votes * weights[:, :, None], axis=1)
        total = xp.sum(proba, axis=1, keepdims=True)
        return proba / xp.where(total == 0, xp.ones_like(total), total)

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
