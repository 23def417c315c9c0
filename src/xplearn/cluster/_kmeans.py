"""K-means clustering written once against the Array API: KMeans and MiniBatchKMeans.

The algorithms (greedy k-means++, Lloyd iterations with scikit-learn's convergence rules
and empty-cluster relocation, mini-batch updates with low-count reassignment) are written
here against ``xp``; the per-sample work goes through :func:`xplearn._kernels.lloyd_pass`,
which runs fused numba kernels on NumPy/CPU and chunked array-API code elsewhere.

Randomness comes from a NumPy ``RandomState`` on the host, drawn exactly as scikit-learn
draws it (same calls, same order), so a given ``random_state`` gives scikit-learn's seeds
and mini-batches. NumPy appears here only for that host-side bookkeeping (random draws,
per-chunk totals, the k-sized reassignment decision), never for the math on the data.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import warnings
from typing import Any, ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from xplearn._config import DTYPE_POLICIES, get_config
from xplearn._kernels import (
    STREAM_CHUNK_MIB,
    chunk_rows,
    column_mean_and_variance,
    euclidean_to_centers,
    kernel_input,
    kernel_session,
    lloyd_pass,
    sq_distances,
)
from xplearn._kernels._blocks import (
    column_moments,
    lloyd_block,
    map_row_blocks,
    row_block_offsets,
    to_host,
)
from xplearn._xp import (
    array_namespace,
    device_of,
    get_namespace_and_device,
    is_array,
    move_to,
    namespace_name,
    numpy_namespace,
    supports_float64,
    to_numpy,
)
from xplearn._xp._ops import is_lazy, materialize, one_column_chunk, to_scalar
from xplearn.base import Capabilities, XPEstimatorMixin
from xplearn.cluster._kmeans_parallel import kmeans_parallel_init
from xplearn.utils.validation import (
    check_finite_through_sums,
    method_name,
    validate_data,
    validate_params,
)

__all__ = ["KMeans", "MiniBatchKMeans", "kmeans_plusplus"]

_FALLBACKS = {
    "numpy": (
        "float32/float64 data runs the parallel numba kernels; other dtypes (and "
        "config kernel='xp') the generic chunked array-API code."
    ),
    "dask": (
        "Not lazy: each iteration computes two scalars (labels changed, center shift) to "
        "test convergence, and k-means++ one per center."
    ),
    "torch": "Random draws (seeding, mini-batches) are made on the host, a few per step.",
    "cupy": "Random draws (seeding, mini-batches) are made on the host, a few per step.",
}

_DTYPE_DOC = """dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Dtype of the computation and of the fitted attributes; None takes the configured
        default (``"preserve"``). ``"preserve"``: float32 data is clustered in float32
        (never upcast; the numba kernels still add the per-cluster sums in float64) and
        gives float32 centers, float64 gives float64, integers the device's default
        float. ``"float32"`` / ``"float64"``: always that dtype (float64 on a device
        without it is an error). ``"mixed"``: float32 data and distances, with the
        center sums, means, variances and inertia accumulated in float64 where the
        device has it; centers are stored in float32."""


# ---------------------------------------------------------------------------------------
# Small helpers written against xp


def _is_array_like(value: Any) -> bool:
    return not isinstance(value, str) and not callable(value) and value is not None


def _row_ranges(n_samples: int, rows: int):
    return [(start, min(n_samples, start + rows)) for start in range(0, n_samples, max(1, rows))]


def _chunk(X: Any, start: int, stop: int, shift: Any | None) -> Any:
    block = X[start:stop, :]
    return block if shift is None else block - shift


def _check_squares_in_range(mean_sq: float, info: Any, n_features: int, prefix: str) -> None:
    """Refuse data whose squared distances the Lloyd pass cannot compute in ``dtype``.

    ``mean_sq`` is the data's mean squared distance to the frame the pass measures in
    (the origin, or the data mean when X is shifted), accumulated in float64. The pass
    ranks ``||c||^2 - 2 x.c`` in X's dtype: float32 data at 1e+-30 has squares (1e+-60)
    beyond float32's range, where every distance would be inf or 0 and the clustering
    silently arbitrary. ``info`` is the ``finfo`` of X's dtype.
    """
    high = float(info.max) / (64.0 * max(1, n_features))
    low = float(info.smallest_normal) * 1024.0  # subnormal squares lose their digits
    if mean_sq > 0 and not low <= mean_sq <= high:
        raise ValueError(
            f"{prefix}the squared distances of X (about {mean_sq:.3g}) are outside the "
            f"range {info.dtype} arithmetic can compare ({low:.3g} to {high:.3g}); "
            "rescale X (e.g. with StandardScaler) or fit float64 data."
        )


def _is_same_clustering(xp, labels1: Any, labels2: Any, n_clusters: int) -> bool:
    """Whether two labelings are the same partition up to a renaming of the labels.

    As scikit-learn's check: every cluster of ``labels1`` maps to a single cluster of
    ``labels2``. Pairs ``(a, b)`` are encoded, sorted, and a cluster ``a`` met with two
    different ``b`` is a difference.
    """
    pairs = xp.astype(labels1, xp.int64) * n_clusters + xp.astype(labels2, xp.int64)
    ordered = xp.sort(pairs)
    if ordered.shape[0] < 2:
        return True
    first = ordered[:-1] // n_clusters
    second = ordered[1:] // n_clusters
    conflict = (first == second) & (ordered[:-1] != ordered[1:])
    return not bool(to_scalar(xp.any(conflict)))


def _validate_centers(
    xp,
    centers: Any,
    n_clusters: int,
    n_features: int,
    dtype: Any,
    device: Any,
    prefix: str,
    what: str,
) -> Any:
    """Check an initial-centers array (namespace, shape, finiteness); cast it to dtype."""
    if not is_array(centers):
        try:
            host = np.asarray(centers, dtype=float)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{prefix}{what} must be an array of shape (n_clusters, n_features), got "
                f"{type(centers).__name__}: {error}"
            ) from error
        centers = move_to(host, xp, device)
    else:
        get_namespace_and_device(
            xp.zeros((), device=device), centers, names=("X", what), method=prefix[:-2]
        )
    if centers.ndim != 2 or centers.shape[0] != n_clusters or centers.shape[1] != n_features:
        raise ValueError(
            f"{prefix}The shape of the initial centers {tuple(centers.shape)} does not match "
            f"the number of clusters {n_clusters} and the number of features {n_features}: "
            f"{what} must have shape ({n_clusters}, {n_features})."
        )
    centers = xp.astype(centers, dtype)
    if not bool(to_scalar(xp.all(xp.isfinite(centers)))):
        raise ValueError(f"{prefix}{what} contains NaN or infinity; finite values are required.")
    return centers


def kmeans_plusplus(
    X: Any,
    n_clusters: int,
    *,
    sample_weight: Any = None,
    random_state: Any = None,
    n_local_trials: int | None = None,
    shift: Any = None,
) -> tuple[Any, Any]:
    """Greedy k-means++ seeding, written against the array API.

    Each new center is the best (lowest potential) of ``n_local_trials`` candidates
    drawn with probability proportional to the (weighted) squared distance to the
    closest center chosen so far (2 + log(k) trials by default, as scikit-learn).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Data of any supported namespace (float32 or float64).
    n_clusters : int
        Number of centers.
    sample_weight : array of shape (n_samples,), default=None
        Non-negative weights; None for unit weights.
    random_state : int, RandomState instance or None, default=None
        Source of the random draws (on the host).
    n_local_trials : int, default=None
        Candidates per step; None gives ``2 + int(log(n_clusters))``.
    shift : array of shape (n_features,), default=None
        If given, distances are computed on ``X - shift`` (chunk by chunk) and the
        returned centers are in that frame.

    Returns
    -------
    centers : array of shape (n_clusters, n_features)
        The chosen centers (rows of X, minus ``shift``), X's namespace and dtype.
    indices : ndarray of shape (n_clusters,)
        Their row indices in X (NumPy integers).
    """
    xp = array_namespace(X)
    device = device_of(X)
    random_state = check_random_state(random_state)
    n_samples, n_features = X.shape
    dtype = X.dtype
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    itemsize = 8 if dtype == xp.float64 else 4
    # per-row temporaries of a chunk: the shifted rows, their squares, and a few
    # (rows x trials) distance blocks
    rows = chunk_rows(
        n_samples, (3 * n_features + 4 * n_local_trials + 2) * itemsize, STREAM_CHUNK_MIB
    )
    ranges = _row_ranges(n_samples, rows)
    # keep each step's candidate distances for its second half if they fit a small budget
    budget = min(get_config()["working_memory"] / 2, 4 * STREAM_CHUNK_MIB) * 2**20
    keep_candidates = n_local_trials * n_samples * itemsize <= budget
    weights = None if sample_weight is None else xp.astype(sample_weight, dtype)

    def weighted(part: Any | None, c: int) -> Any:
        """``w * part`` on chunk c (part None: the chunk's weights alone)."""
        if weights is None:
            return part
        start, stop = ranges[c]
        return weights[start:stop] if part is None else part * weights[start:stop]

    def draw(parts: list[Any] | None, targets: np.ndarray) -> list[int]:
        """Row i with cumsum(w * values)[i-1] <= t < cumsum(w * values)[i], per target t.

        ``values`` is given chunk by chunk (``parts``; None for ones). The cumulative sum
        is taken only inside the chunks holding a target: no n_samples-long cumulative
        array is ever made.
        """
        chunk_parts = [None] * len(ranges) if parts is None else parts
        totals = np.asarray(
            [to_scalar(xp.sum(weighted(part, c))) for c, part in enumerate(chunk_parts)]
        )
        bounds = np.cumsum(totals)
        picked = []
        for target in targets:
            c = min(int(np.searchsorted(bounds, target, side="right")), len(ranges) - 1)
            start, stop = ranges[c]
            local = target - (bounds[c - 1] if c else 0.0)
            cumulative = xp.cumulative_sum(weighted(chunk_parts[c], c))
            position = xp.searchsorted(
                cumulative, xp.asarray([local], dtype=dtype, device=device), side="right"
            )
            picked.append(min(start + int(to_scalar(position[0])), stop - 1))
        return picked

    if weights is None:
        first = min(int(random_state.random_sample() * n_samples), n_samples - 1)
    else:
        first = draw(None, [random_state.random_sample() * to_scalar(xp.sum(weights))])[0]
    indices = [first]
    chosen = xp.take(X, xp.asarray([first], device=device), axis=0)
    if shift is not None:
        chosen = chosen - shift
    centers = [chosen]

    def distances_to(candidates: Any, c: int) -> Any:
        start, stop = ranges[c]
        norms = xp.sum(candidates * candidates, axis=1)
        return sq_distances(xp, _chunk(X, start, stop, shift), candidates, norms)

    # squared distance of every row to its closest chosen center, kept chunk by chunk
    closest = [distances_to(chosen, c)[:, 0] for c in range(len(ranges))]
    potential = sum(to_scalar(xp.sum(weighted(part, c))) for c, part in enumerate(closest))
    for _ in range(1, n_clusters):
        draws = random_state.uniform(size=n_local_trials) * potential
        candidate_ids = draw(closest, draws)
        candidates = xp.take(X, xp.asarray(candidate_ids, device=device), axis=0)
        if shift is not None:
            candidates = candidates - shift
        potentials = xp.zeros((n_local_trials,), dtype=dtype, device=device)
        kept = []
        for c in range(len(ranges)):
            block = xp.minimum(distances_to(candidates, c), closest[c][:, None])
            if weights is None:
                potentials = potentials + xp.sum(block, axis=0)
            else:
                potentials = potentials + weighted(None, c) @ block
            if keep_candidates:
                kept.append(block)
        best = int(to_scalar(xp.argmin(potentials)))
        potential = to_scalar(potentials[best])
        best_candidate = candidates[best : best + 1, :]
        for c in range(len(ranges)):
            if keep_candidates:
                closest[c] = kept[c][:, best]
            else:
                closest[c] = xp.minimum(distances_to(best_candidate, c)[:, 0], closest[c])
        del kept
        indices.append(candidate_ids[best])
        centers.append(best_candidate)
    return xp.concat(centers, axis=0), np.asarray(indices)


# ---------------------------------------------------------------------------------------
# Shared base


class _BaseKMeans(
    XPEstimatorMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """Parameters, initialisation and inference shared by KMeans and MiniBatchKMeans."""

    _capabilities: ClassVar[Capabilities] = Capabilities(
        fallbacks=_FALLBACKS,
        onnx_methods=("predict", "transform"),
        expected_failed_checks={
            "check_sample_weight_equivalence_on_dense_data": (
                "the random seeding draws differ between weighted and repeated rows, so "
                "the clusterings (and their label numbering) differ; scikit-learn declares "
                "the same failure for its KMeans. With a fixed init, integer weights equal "
                "repeated rows exactly (tests/cluster/test_kmeans.py)"
            ),
        },
    )
    _default_n_init: ClassVar[int] = 10
    #: scikit-learn's constraints (sklearn.cluster.KMeans._parameter_constraints), with
    #: xplearn's "k-means||" init and dtype_policy: the same values pass and fail
    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "k-means||", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "dtype_policy": [StrOptions(set(DTYPE_POLICIES)), None],
    }

    # -- parameter checks ---------------------------------------------------------------

    def _check_common_params(self, prefix: str, method: str = "fit") -> None:
        validate_params(self, method)
        k = self.n_clusters
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"{prefix}n_clusters must be an integer >= 1, got {k!r}.")
        init = self.init
        if isinstance(init, str) and init not in ("k-means++", "k-means||", "random"):
            raise ValueError(
                f"{prefix}init must be 'k-means++', 'k-means||', 'random', an array of shape "
                f"(n_clusters, n_features) or a callable, got {init!r}."
            )
        n_init = self.n_init
        if not (
            n_init == "auto"
            if isinstance(n_init, str)
            else (
                isinstance(n_init, numbers.Integral)
                and not isinstance(n_init, bool)
                and n_init >= 1
            )
        ):
            raise ValueError(f"{prefix}n_init must be 'auto' or an integer >= 1, got {n_init!r}.")
        max_iter = self.max_iter
        if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
            raise ValueError(f"{prefix}max_iter must be an integer >= 1, got {max_iter!r}.")
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
            raise ValueError(f"{prefix}tol must be a real number >= 0, got {tol!r}.")

    def _resolved_n_init(self) -> int:
        if self.n_init != "auto":
            n_init = int(self.n_init)
        elif isinstance(self.init, str) and self.init in ("k-means++", "k-means||"):
            n_init = 1
        elif isinstance(self.init, str) or callable(self.init):
            n_init = self._default_n_init
        else:
            n_init = 1
        if _is_array_like(self.init) and n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"{type(self).__name__} instead of n_init={n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            n_init = 1
        return n_init

    # -- initialisation -------------------------------------------------------------------

    def _init_centroids(
        self,
        xp,
        X: Any,
        shift: Any | None,
        sample_weight: Any | None,
        init_array: Any | None,
        random_state: np.random.RandomState,
        prefix: str,
        init_size: int | None = None,
    ) -> Any:
        """Initial centers in the frame of ``X - shift`` (X's dtype and namespace)."""
        n_samples, n_features = X.shape
        device = device_of(X)
        # as scikit-learn: the subsample is drawn whatever the init (same random stream)
        if init_size is not None and init_size < n_samples:
            picked = xp.asarray(random_state.randint(0, n_samples, init_size), device=device)
            if init_array is None:
                X = xp.take(X, picked, axis=0)
                if sample_weight is not None:
                    sample_weight = xp.take(sample_weight, picked, axis=0)
                n_samples = init_size
        if init_array is not None:
            return init_array if shift is None else init_array - shift
        init = self.init
        if isinstance(init, str) and init == "k-means||":
            centers = kmeans_parallel_init(
                X,
                self.n_clusters,
                sample_weight=sample_weight,
                random_state=random_state,
                shift=None if shift is None else to_host(shift)[0],
            )
            return xp.asarray(centers, device=device)
        if isinstance(init, str) and init == "k-means++":
            centers, _ = kmeans_plusplus(
                X,
                self.n_clusters,
                sample_weight=sample_weight,
                random_state=random_state,
                shift=shift,
            )
            return centers
        if isinstance(init, str) and init == "random":
            # always with p (uniform without weights), as scikit-learn: same draws
            if sample_weight is None:
                weights = np.full(n_samples, 1.0 / n_samples)
            else:
                weights = to_numpy(sample_weight).astype(np.float64)
            seeds = random_state.choice(
                n_samples, size=self.n_clusters, replace=False, p=weights / weights.sum()
            )
            centers = xp.take(X, xp.asarray(seeds, device=device), axis=0)
            return centers if shift is None else centers - shift
        centers = init(X, self.n_clusters, random_state=random_state)
        if is_array(centers) and array_namespace(centers) is not xp:
            raise ValueError(
                f"{prefix}the init callable returned a {namespace_name(array_namespace(centers))} "
                f"array, but X is a {namespace_name(xp)} array; it must return centers in X's "
                "namespace."
            )
        centers = _validate_centers(
            xp,
            centers,
            self.n_clusters,
            n_features,
            X.dtype,
            device,
            prefix,
            "the centers returned by the init callable",
        )
        return centers if shift is None else centers - shift

    def _checked_init_array(self, xp, X: Any, prefix: str) -> Any | None:
        if not _is_array_like(self.init):
            return None
        return _validate_centers(
            xp, self.init, self.n_clusters, X.shape[1], X.dtype, device_of(X), prefix, "init"
        )

    # -- inference ------------------------------------------------------------------------

    def _check_test_data(self, X: Any, method: str, sample_weight: Any = None):
        data = validate_data(self, X, method=method, reset=False, sample_weight=sample_weight)
        (centers,) = self._fitted_arrays(data.dtypes.compute, "cluster_centers_")
        return data, centers

    def predict(self, X):
        """Index of the closest center of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        labels : array of shape (n_samples,), int32
            Cluster index of each sample (the first closest center on ties).
        """
        return self._validated_infer("predict", X)

    def transform(self, X):
        """Euclidean distance of each sample to every center.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.

        Returns
        -------
        distances : array of shape (n_samples, n_clusters)
            Same namespace, device and dtype as the (validated) X.

        Notes
        -----
        Computed as ``sqrt(||x||^2 - 2 x.c + ||c||^2)`` around the mean of the centers, in
        the data's dtype (scikit-learn upcasts float32 to float64 here): in float32,
        distances much smaller than the spread of the data carry an absolute error of
        about ``sqrt(eps) * spread``. A row whose magnitude (or the centers' spread) would
        make the squares overflow or underflow (float32 beyond about 1e18 or below
        1e-15) is measured in units of that magnitude: the distances are finite wherever
        they are representable.
        """
        return self._validated_infer("transform", X)

    def _infer(self, method: str, xp, X: Any) -> Any:
        (centers,) = self._fitted_arrays(X.dtype, "cluster_centers_")
        if method == "predict":
            return lloyd_pass(
                X,
                centers,
                update_centers=False,
                method=method_name(self, method),
                around_centers=True,
            ).labels
        return self._transform(xp, X, centers)

    @staticmethod
    def _transform(xp, X: Any, centers: Any) -> Any:
        # direct differences (float64 where the device has it), as exact as scikit-learn's
        # float64 expansion and finite wherever the distance is: the expansion
        # ||x||^2 - 2 x.c + ||c||^2 in X's dtype kept ~3 digits of float32 distances
        # between clusters far from each other (two cities' coordinates)
        return euclidean_to_centers(xp, X, centers)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the cluster index of each training sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        labels : array of shape (n_samples,), int32
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances of the training samples to the centers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        distances : array of shape (n_samples, n_clusters)
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) inertia of X with respect to the fitted centers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the namespace and on the device the model was fitted on.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        score : float
            ``-sum_i w_i ||x_i - c_label(i)||^2``.
        """
        data, centers = self._check_test_data(X, "score", sample_weight=sample_weight)
        # the squared distances of float32 rows at 1e20 are 1e40: summed in float64
        # where the device has it (the score is a Python float anyway)
        accumulate = data.dtypes.accumulate
        if supports_float64(data.xp, data.device):
            accumulate = data.xp.float64
        result = lloyd_pass(
            data.X,
            centers,
            sample_weight=data.sample_weight,
            update_centers=False,
            compute_inertia=True,
            accumulate_dtype=accumulate,
            method=method_name(self, "score"),
            around_centers=True,
        )
        return -result.inertia

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


# ---------------------------------------------------------------------------------------
# KMeans


def _relocate_empty_clusters(xp, X, sample_weight, shift, centers, labels, sums, weights, n_empty):
    """Move empty clusters onto the points farthest from their centers (scikit-learn's rule).

    The ``n_empty`` points with the largest distance to their assigned (old) center are
    taken in decreasing distance (ties: lower row index first); the i-th empty cluster
    (in index order) becomes that point alone, and the point's weight and coordinates are
    removed from its former cluster's sums. Nothing moves when every point sits on its
    center (more clusters than distinct points).
    """
    n_samples = X.shape[0]
    n_clusters, n_features = centers.shape
    device = device_of(X)
    rows = chunk_rows(n_samples, 3 * n_features * 8, STREAM_CHUNK_MIB)
    best_values, best_rows = [], []
    for start, stop in _row_ranges(n_samples, rows):
        block = _chunk(X, start, stop, shift)
        diff = block - xp.take(centers, xp.astype(labels[start:stop], xp.int64), axis=0)
        distances = xp.sum(diff * diff, axis=1)
        order = xp.argsort(-distances, stable=True)[:n_empty]
        best_values.append(xp.take(distances, order, axis=0))
        best_rows.append(order + start)
    values = xp.concat(best_values, axis=0)
    candidates = xp.concat(best_rows, axis=0)
    if not bool(to_scalar(xp.max(values) > 0)):
        return sums, weights
    # descending distance, ascending row index on ties: sort by row, then stable by value
    by_row = xp.argsort(candidates, stable=True)
    values = xp.take(values, by_row, axis=0)
    candidates = xp.take(candidates, by_row, axis=0)
    far = xp.take(candidates, xp.argsort(-values, stable=True)[:n_empty], axis=0)
    far = [int(v) for v in to_numpy(far)]
    empty = [int(v) for v in to_numpy(xp.nonzero(weights == 0)[0])]
    cluster_ids = xp.arange(n_clusters, device=device)
    for new_id, point in zip(empty, far, strict=True):
        point_index = xp.asarray([point], device=device)
        row = xp.astype(_chunk(xp.take(X, point_index, axis=0), 0, 1, shift), sums.dtype)
        weight = (
            xp.ones((1,), dtype=sums.dtype, device=device)
            if sample_weight is None
            else xp.astype(xp.take(sample_weight, point_index, axis=0), sums.dtype)
        )
        old_id = int(to_scalar(labels[point]))
        is_old = xp.astype(cluster_ids == old_id, sums.dtype)
        is_new = cluster_ids == new_id
        contribution = row * weight[:, None]
        sums = sums - is_old[:, None] * contribution
        sums = xp.where(is_new[:, None], contribution, sums)
        weights = weights - is_old * weight
        weights = xp.where(is_new, weight, weights)
    return sums, weights


def _average_centers(xp, sums, weights, dtype):
    """sums / weights; empty clusters go to the location of the heaviest one (as sklearn)."""
    positive = weights > 0
    one = xp.ones_like(weights)
    centers = sums / xp.where(positive, weights, one)[:, None]
    heaviest = int(to_scalar(xp.argmax(weights)))
    centers = xp.where(positive[:, None], centers, centers[heaviest : heaviest + 1, :])
    return xp.astype(centers, dtype)


class KMeans(_BaseKMeans):
    """K-means clustering (Lloyd's algorithm), on any array backend.

    Same parameters and semantics as :class:`sklearn.cluster.KMeans` with
    ``algorithm="lloyd"``: greedy k-means++ seeding, ``n_init`` restarts keeping the
    lowest inertia, convergence when no label changes or when the squared center shift
    is below ``tol`` times the mean feature variance, empty clusters moved to the points
    farthest from their centers. The data is centered (by its mean) for the distance
    computations, without copying it. Each iteration makes one pass over X: on NumPy
    arrays a parallel numba kernel with register-blocked distance tiles and a fused
    argmin; elsewhere chunked array-API code bounded by ``working_memory``.

    On Dask arrays the fit keeps the centers on the host and makes one computation per
    iteration (per-block sums from the in-memory kernels, each block on its worker);
    ``labels_`` stays a lazy Dask array. See "Scaling out with Dask" in the user guide.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters (and centers).
    init : {"k-means++", "k-means||", "random"}, callable or array of shape \
(n_clusters, n_features), default="k-means++"
        Initialisation: greedy k-means++ (``2 + log(n_clusters)`` candidates per step),
        k-means|| (scalable k-means++: a few oversampling passes, then the weighted
        candidates clustered in memory; a handful of passes over X whatever
        ``n_clusters``, the choice for Dask arrays), ``n_clusters`` distinct random rows
        (drawn with probability proportional to the sample weights), an array of initial
        centers (same namespace as X), or a callable ``init(X, n_clusters,
        random_state=...)`` returning one.
    n_init : "auto" or int, default="auto"
        Number of runs from different seeds; the lowest inertia wins. ``"auto"``: 1 for
        k-means++, k-means|| or an array, 10 for "random" or a callable.
    max_iter : int, default=300
        Maximum number of Lloyd iterations of one run.
    tol : float, default=1e-4
        Convergence tolerance on the squared shift of the centers between two
        iterations, relative to the mean variance of the features.
    verbose : int, default=0
        Kept for scikit-learn compatibility; nothing is printed.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation (drawn on the host).
    copy_x : bool, default=True
        Kept for scikit-learn compatibility: X is never modified (nor copied).
    algorithm : {"lloyd"}, default="lloyd"
        Only Lloyd's algorithm is implemented.
    {dtype_doc}

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        Coordinates of the centers (namespace and device of the training data). If the
        algorithm stopped before converging, they are not the means of ``labels_``.
    labels_ : array of shape (n_samples,), int32
        Cluster of each training sample (consistent with ``predict`` on the training
        data).
    inertia_ : float
        Weighted sum of squared distances of the samples to their closest center.
    n_iter_ : int
        Number of iterations of the best run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    sklearn.cluster.KMeans : The scikit-learn estimator this mirrors.
    MiniBatchKMeans : Faster, approximate updates from mini-batches.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.cluster import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]], dtype=float)
    >>> km = KMeans(n_clusters=2, init=np.array([[1.0, 1.0], [9.0, 1.0]])).fit(X)
    >>> km.labels_
    array([0, 0, 0, 1, 1, 1], dtype=int32)
    >>> km.cluster_centers_
    array([[ 1.,  2.],
           [10.,  2.]])
    """

    # fit on Dask: a stated number of computations (see _fit_blocks), labels_ lazy
    _capabilities: ClassVar[Capabilities] = dataclasses.replace(
        _BaseKMeans._capabilities, lazy_fit=True
    )
    _default_n_init: ClassVar[int] = 10
    _parameter_constraints: ClassVar[dict] = {
        **_BaseKMeans._parameter_constraints,
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],  # elkan: a clear error at fit
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        dtype_policy=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.dtype_policy = dtype_policy

    def fit(self, X, y=None, sample_weight=None):
        """Compute the k-means clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace. It is neither modified nor copied
            (float32 stays float32 under the default dtype policy).
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (None: equal weights).

        Returns
        -------
        self : KMeans
            The fitted estimator.

        Raises
        ------
        ValueError
            Invalid parameters, ``n_clusters`` larger than the number of samples, an
            init array of the wrong shape or namespace, NaN or infinity in X, negative
            sample weights.
        """
        prefix = f"{method_name(self, 'fit')}: "
        self._check_common_params(prefix)
        if self.algorithm != "lloyd":
            raise ValueError(f"{prefix}algorithm must be 'lloyd', got {self.algorithm!r}.")
        # X's finiteness is checked below: in memory through the column sums of the data
        # mean (one pass over X for both); on Dask in a computation of its own (deferred
        # into X's graph, the check would run again in every pass of the fit)
        data = validate_data(
            self, X, method="fit", reset=True, sample_weight=sample_weight, check_finite=False
        )
        xp, weights = data.xp, data.sample_weight
        X = kernel_input(data.X, prefix[:-2])  # one copy at most, for non-C-ordered NumPy
        compute, accumulate = data.dtypes.compute, data.dtypes.accumulate
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(
                f"{prefix}n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        init_array = self._checked_init_array(xp, X, prefix)
        n_init = self._resolved_n_init()
        random_state = check_random_state(self.random_state)
        if is_lazy(xp):
            check_finite_through_sums(xp, X, [xp.sum(X)], prefix)
            return self._fit_blocks(xp, X, weights, init_array, n_init, random_state, prefix)

        with kernel_session(X, method=prefix[:-2]):
            mean, variance, mean_sq_norm = column_mean_and_variance(
                xp, X, accumulate, with_variance=self.tol > 0
            )
            check_finite_through_sums(xp, X, [mean, mean_sq_norm], prefix)
            tol = float(to_scalar(xp.mean(variance))) * self.tol if self.tol > 0 else 0.0
            # Distances are computed around the data mean, as scikit-learn does, when the
            # mean is far from the origin compared with the spread of the data (there,
            # centering avoids the cancellation error of ||x||^2 - 2 x.c + ||c||^2); data
            # already near the origin is read in place, without a centered copy per chunk.
            offset = float(to_scalar(xp.sum(mean * mean)))
            spread = float(to_scalar(mean_sq_norm)) - offset
            shift = xp.astype(mean, compute) if offset > spread else None
            frame_sq = spread if shift is not None else float(to_scalar(mean_sq_norm))
            _check_squares_in_range(frame_sq, xp.finfo(compute), X.shape[1], prefix)
            best = None
            for _ in range(n_init):
                centers = self._init_centroids(
                    xp, X, shift, weights, init_array, random_state, prefix
                )
                run = self._lloyd(xp, X, weights, centers, shift, tol, accumulate, prefix)
                labels, inertia = run[0], run[1]
                if best is None or (
                    inertia < best[1]
                    and not _is_same_clustering(xp, labels, best[0], self.n_clusters)
                ):
                    best = run
        labels, inertia, centers, n_iter, n_distinct = best
        if n_distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({n_distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = centers  # stored by _lloyd, in X's frame and dtype
        self._n_features_out = self.n_clusters
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        return self

    def _lloyd(self, xp, X, weights, centers, shift, tol, accumulate, prefix):
        """One run of Lloyd's algorithm from ``centers`` (in the shifted frame).

        Returns (labels, inertia, centers in X's frame and dtype, n_iter, number of
        non-empty clusters); the labels are those ``predict`` gives for those centers.
        """
        method = prefix[:-2]
        compute = X.dtype
        labels = None
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007 - used after the loop
            result = lloyd_pass(
                X,
                centers,
                sample_weight=weights,
                shift=shift,
                labels=labels,
                accumulate_dtype=accumulate,
                method=method,
            )
            labels = result.labels
            sums, cluster_weights = result.sums, result.weights
            n_empty = int(to_scalar(xp.sum(xp.astype(cluster_weights == 0, xp.int64))))
            if n_empty:
                sums, cluster_weights = _relocate_empty_clusters(
                    xp, X, weights, shift, centers, labels, sums, cluster_weights, n_empty
                )
            new_centers = _average_centers(xp, sums, cluster_weights, compute)
            step = xp.astype(new_centers, accumulate) - xp.astype(centers, accumulate)
            center_shift = float(to_scalar(xp.sum(step * step)))
            centers = new_centers
            if result.n_changed == 0 or center_shift <= tol:
                # converged: no label changed (strict), or the centers barely moved
                break
        # A last assignment with the final centers as stored (cluster_centers_, in X's
        # frame) and the very call predict makes (around_centers): labels_ is
        # predict(X) to the bit, even where centers coincide to rounding (the fit's
        # frame, the data mean, would round their distances differently); it also gives
        # the exact inertia.
        stored = xp.astype(centers if shift is None else centers + shift, compute)
        final = lloyd_pass(
            X,
            stored,
            sample_weight=weights,
            labels=labels,
            compute_inertia=True,
            accumulate_dtype=accumulate,
            method=method,
            around_centers=True,
        )
        n_distinct = int(to_scalar(xp.sum(xp.astype(final.counts > 0, xp.int64))))
        return final.labels, final.inertia, stored, n_iter, n_distinct

    def _fit_blocks(self, xp, X, weights, init_array, n_init, random_state, prefix):
        """``fit`` on a lazy (Dask) array: the centers stay on the host and every pass over
        X is one computation of per-block results (:func:`map_row_blocks`), each block
        running the in-memory kernels.

        Computations: 1 for the data's mean and variance, those of the init (2 for an array: its check and its
        values; ``2 * n_rounds + 2`` for ``"k-means||"``; about one per center for
        ``"k-means++"``), 1 per Lloyd iteration, 1 for the final inertia;
        ``labels_`` stays lazy; an iteration that leaves clusters empty makes one more,
        to find the far points they move to. Convergence is tested on the center shift
        alone (in memory, an iteration where no label changes also stops: there the
        shift is 0).
        """
        compute = X.dtype
        mean, variance, mean_sq_norm = column_moments(X)
        tol = float(np.mean(variance)) * self.tol if self.tol > 0 else 0.0
        offset = float(mean @ mean)
        dtype = np.dtype(str(compute).rsplit(".", 1)[-1])
        shift = mean.astype(dtype) if offset > mean_sq_norm - offset else None
        frame_sq = float(mean_sq_norm - offset) if shift is not None else float(mean_sq_norm)
        _check_squares_in_range(frame_sq, np.finfo(dtype), X.shape[1], prefix)
        best = None
        for _ in range(n_init):
            if init_array is not None:
                centers = to_host(init_array)[0].astype(dtype)
                centers = centers if shift is None else centers - shift
            elif isinstance(self.init, str) and self.init == "k-means||":
                centers = kmeans_parallel_init(
                    X,
                    self.n_clusters,
                    sample_weight=weights,
                    random_state=random_state,
                    shift=shift,
                )
            else:
                shift_xp = None if shift is None else xp.asarray(shift)
                centers = self._init_centroids(xp, X, shift_xp, weights, None, random_state, prefix)
                centers = to_host(centers)[0].astype(dtype)
            run = self._lloyd_blocks(xp, X, weights, centers, shift, tol)
            if best is None or run[1] < best[1]:
                best = run
        inertia, centers, n_iter, n_distinct = best[1:]
        if n_distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({n_distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=3,
            )
        final_centers = centers if shift is None else centers + shift
        self.cluster_centers_ = xp.asarray(final_centers.astype(dtype))
        self._n_features_out = self.n_clusters
        self.labels_ = X.map_blocks(
            _assign_block, final_centers.astype(dtype), dtype=np.int32, drop_axis=1
        )
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        return self

    def _lloyd_blocks(self, xp, X, weights, centers, shift, tol):
        """Lloyd's algorithm over the row blocks of X from host ``centers`` (shifted
        frame): one computation per iteration. Returns (None, inertia, centers, n_iter,
        number of non-empty clusters)."""
        host = numpy_namespace()
        dtype = centers.dtype
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007 - used after the loop
            sums, cluster_weights, _, _ = _add_parts(
                map_row_blocks(lloyd_block, X, weights, constants=(centers, shift, False))
            )
            n_empty = int(np.count_nonzero(cluster_weights == 0))
            if n_empty:  # one more computation, in the iterations that need it
                sums, cluster_weights = self._relocate_blocks(
                    X, weights, centers, shift, sums, cluster_weights, n_empty
                )
            new_centers = _average_centers(host, sums, cluster_weights, dtype)
            step = new_centers.astype(np.float64) - centers.astype(np.float64)
            center_shift = float(np.sum(step * step))
            centers = new_centers
            if center_shift <= tol:
                break
        _, _, counts, inertia = _add_parts(
            map_row_blocks(lloyd_block, X, weights, constants=(centers, shift, True))
        )
        return None, inertia, centers, n_iter, int(np.count_nonzero(counts))

    @staticmethod
    def _relocate_blocks(X, weights, centers, shift, sums, cluster_weights, n_empty):
        """Empty clusters moved as in memory (:func:`_relocate_empty_clusters`: onto the
        points farthest from their centers, in decreasing distance, ties to the lower
        row), from each block's ``n_empty`` farthest rows: one more computation."""
        parts = map_row_blocks(
            _farthest_block,
            X,
            weights,
            per_block=row_block_offsets(X),
            constants=(centers, shift, n_empty),
        )
        distances = np.concatenate([part[0] for part in parts])
        if distances.size == 0 or not distances.max() > 0:
            return sums, cluster_weights
        indices, rows, row_weights, labels = (
            np.concatenate([part[field] for part in parts]) for field in (1, 2, 3, 4)
        )
        by_index = np.argsort(indices, kind="stable")
        far = by_index[np.argsort(-distances[by_index], kind="stable")[:n_empty]]
        sums, cluster_weights = sums.copy(), cluster_weights.copy()
        for new_id, point in zip(np.flatnonzero(cluster_weights == 0), far, strict=True):
            contribution = rows[point] * row_weights[point]
            old_id = labels[point]
            sums[old_id] -= contribution
            cluster_weights[old_id] -= row_weights[point]
            sums[new_id] = contribution
            cluster_weights[new_id] = row_weights[point]
        return sums, cluster_weights


def _farthest_block(block, sample_weight, offset, centers, shift, n_far):
    """The block's ``n_far`` rows farthest from their closest center (host arrays):
    squared distances, global row indices, the rows (shifted, float64), their weights
    and labels."""
    xp = array_namespace(block)
    local = xp.astype(xp.asarray(centers), block.dtype)
    local_shift = None if shift is None else xp.astype(xp.asarray(shift), block.dtype)
    labels = lloyd_pass(block, local, shift=local_shift, update_centers=False).labels
    rows = block if local_shift is None else block - local_shift
    diff = rows - xp.take(local, xp.astype(labels, xp.int64), axis=0)
    distances = xp.sum(diff * diff, axis=1)
    order = xp.argsort(-distances, stable=True)[:n_far]
    weights = (
        np.ones(int(order.shape[0]))
        if sample_weight is None
        else to_numpy(xp.take(sample_weight, order, axis=0)).astype(np.float64)
    )
    return (
        to_numpy(xp.take(distances, order, axis=0)).astype(np.float64),
        to_numpy(order).astype(np.int64) + offset,
        to_numpy(xp.take(rows, order, axis=0)).astype(np.float64),
        weights,
        to_numpy(xp.take(labels, order, axis=0)).astype(np.int64),
    )


def _assign_block(block, centers):
    """Labels of one block (its own namespace): the index of the closest center."""
    xp = array_namespace(block)
    local = xp.astype(xp.asarray(centers), block.dtype)
    return lloyd_pass(block, local, update_centers=False, around_centers=True).labels


def _add_parts(parts):
    """Per-block (sums, weights, counts, inertia) added in block order (deterministic)."""
    sums, weights, counts, inertia = (
        parts[0][0].copy(),
        parts[0][1].copy(),
        parts[0][2].copy(),
        parts[0][3],
    )
    for part in parts[1:]:
        sums += part[0]
        weights += part[1]
        counts += part[2]
        inertia += part[3]
    return sums, weights, counts, inertia


KMeans.__doc__ = KMeans.__doc__.replace("{dtype_doc}", _DTYPE_DOC)


# ---------------------------------------------------------------------------------------
# MiniBatchKMeans steps, shared by the in-memory fit and the fit over Dask row blocks


def _reassignment_due(counts: Any, n_since_last_reassign: int, batch_size: int) -> tuple[bool, int]:
    """scikit-learn's rule for when a mini-batch step may reassign light centers: some
    center has received nothing yet, or ``10 * n_clusters`` samples went by since the last
    time. Returns (whether it may, the updated number of samples since)."""
    xp = array_namespace(counts)
    n_since = n_since_last_reassign + batch_size
    if bool(to_scalar(xp.any(counts == 0))) or n_since >= 10 * counts.shape[0]:
        return True, 0
    return False, n_since


def _mini_batch_update(
    xp,
    X,
    sample_weight,
    centers,
    counts,
    random_state,
    reassign,
    reassignment_ratio,
    accumulate,
    method,
):
    """One mini-batch step: assign the batch, move every touched center to the running
    weighted mean of what it received, then (when ``reassign``) move the centers whose
    accumulated weight is below ``reassignment_ratio`` times the largest onto random rows
    of the batch. Returns (new centers, new counts, batch inertia)."""
    device = device_of(X)
    result = lloyd_pass(
        X,
        centers,
        sample_weight=sample_weight,
        compute_inertia=True,
        accumulate_dtype=accumulate,
        method=method,
    )
    received = xp.astype(result.weights, counts.dtype)
    totals = counts + received
    touched = received > 0
    one = xp.ones_like(totals)
    moved = (
        xp.astype(centers, counts.dtype) * counts[:, None] + xp.astype(result.sums, counts.dtype)
    ) / xp.where(touched, totals, one)[:, None]
    new_centers = xp.astype(
        xp.where(touched[:, None], moved, xp.astype(centers, counts.dtype)), centers.dtype
    )
    counts = totals
    if reassign:
        host_counts = to_numpy(counts).astype(np.float64)
        to_reassign = host_counts < reassignment_ratio * host_counts.max()
        batch = X.shape[0]
        if to_reassign.sum() > 0.5 * batch:
            keep = np.argsort(host_counts)[int(0.5 * batch) :]
            to_reassign[keep] = False
        n_reassigns = int(to_reassign.sum())
        if n_reassigns:
            picks = random_state.choice(batch, replace=False, size=n_reassigns)
            targets = np.flatnonzero(to_reassign)
            cluster_ids = xp.arange(centers.shape[0], device=device)
            for target, pick in zip(targets.tolist(), picks.tolist(), strict=True):
                row = xp.take(X, xp.asarray([pick], device=device), axis=0)
                new_centers = xp.where((cluster_ids == target)[:, None], row, new_centers)
        if to_reassign.any():
            floor = host_counts[~to_reassign].min()
            mask = xp.asarray(to_reassign, device=device)
            counts = xp.where(mask, xp.asarray(floor, dtype=counts.dtype, device=device), counts)
    # a lazy backend would otherwise chain every step's graph onto the next one, and
    # each convergence test would recompute the whole history
    new_centers, counts, inertia = materialize(xp, new_centers, counts, result.inertia)
    return new_centers, counts, inertia


def _early_stopping(step, batch_inertia, alpha, squared_diff, tol, max_no_improvement, smoothed):
    """scikit-learn's early stopping of mini-batch k-means after step ``step`` (0-based).

    ``batch_inertia`` is the batch's inertia per unit of weight, ``alpha`` the weight of
    a batch in the exponentially weighted average, ``smoothed`` the running
    (average, its minimum, steps without improvement). The first step is left out (its
    inertia is that of the initial centers). Returns (stop, *updated smoothed).
    """
    ewa, ewa_min, no_improvement = smoothed
    if step == 0:
        return False, ewa, ewa_min, no_improvement
    ewa = batch_inertia if ewa is None else ewa * (1 - alpha) + batch_inertia * alpha
    if tol > 0.0 and squared_diff <= tol:
        return True, ewa, ewa_min, no_improvement
    if ewa_min is None or ewa < ewa_min:
        no_improvement, ewa_min = 0, ewa
    else:
        no_improvement += 1
    stop = max_no_improvement is not None and no_improvement >= max_no_improvement
    return stop, ewa, ewa_min, no_improvement


@dataclasses.dataclass
class _StreamState:
    """What mini-batch k-means carries from one row block to the next (small, host)."""

    centers: np.ndarray
    counts: np.ndarray
    random_state: np.random.RandomState
    n_since_last_reassign: int = 0
    ewa_inertia: float | None = None
    ewa_inertia_min: float | None = None
    no_improvement: int = 0
    n_steps: int = 0
    total_weight: float = 0.0
    stopped: bool = False


@dataclasses.dataclass(frozen=True)
class _StreamPlan:
    """How the steps over a row block are made (constant over a fit).

    ``batch_size`` None: the whole block is one step (``partial_fit``); otherwise
    ``ceil(rows / batch_size)`` steps, on batches of up to ``batch_size`` of the block's
    rows drawn uniformly with replacement (``fit``).
    """

    batch_size: int | None
    reassign_batch_size: int
    reassignment_ratio: float
    accumulate: str
    method: str
    n_samples: int = 0
    early_stopping: bool = False
    tol: float = 0.0
    max_no_improvement: int | None = None
    add_weights: bool = False


def _stream_block(block, sample_weight, state: _StreamState, plan: _StreamPlan) -> _StreamState:
    """The mini-batch steps over one row block (in its own namespace, on its worker):
    the next state. The given state is left as it is (a task may run twice)."""
    state = copy.deepcopy(state)
    xp = array_namespace(block)
    n_rows = int(block.shape[0])
    if plan.add_weights:
        state.total_weight += (
            n_rows if sample_weight is None else float(to_scalar(xp.sum(sample_weight)))
        )
    if state.stopped or n_rows == 0:
        return state
    device = device_of(block)
    accumulate = getattr(xp, plan.accumulate)
    centers = xp.astype(move_to(state.centers, xp, device), block.dtype)
    counts = xp.astype(move_to(state.counts, xp, device), accumulate)
    ranges = [(0, n_rows)] if plan.batch_size is None else _row_ranges(n_rows, plan.batch_size)
    with kernel_session(block):
        for start, stop in ranges:
            if plan.batch_size is None:
                batch, weights = block, sample_weight
            else:
                # drawn with replacement (as scikit-learn's batches): a block that is a
                # single batch is then a different batch every epoch, and the smoothed
                # inertia has the sampling noise that lets early stopping see a plateau
                picks = state.random_state.randint(0, n_rows, stop - start)
                rows = xp.asarray(picks, device=device)
                batch = xp.take(block, rows, axis=0)
                weights = None if sample_weight is None else xp.take(sample_weight, rows, axis=0)
            reassign, state.n_since_last_reassign = _reassignment_due(
                counts, state.n_since_last_reassign, plan.reassign_batch_size
            )
            new_centers, counts, inertia = _mini_batch_update(
                xp,
                batch,
                weights,
                centers,
                counts,
                state.random_state,
                reassign and plan.reassignment_ratio > 0,
                plan.reassignment_ratio,
                accumulate,
                plan.method,
            )
            stopping = False
            if plan.early_stopping:
                batch_weight = (
                    float(stop - start) if weights is None else float(to_scalar(xp.sum(weights)))
                )
                squared_diff = 0.0
                if plan.tol > 0.0:
                    diff = xp.astype(new_centers, accumulate) - xp.astype(centers, accumulate)
                    squared_diff = float(to_scalar(xp.sum(diff * diff)))
                if batch_weight > 0:  # a weightless batch says nothing about the inertia
                    stopping, *smoothed = _early_stopping(
                        state.n_steps,
                        float(inertia) / batch_weight,
                        min(2.0 * (stop - start) / (plan.n_samples + 1), 1.0),
                        squared_diff,
                        plan.tol,
                        plan.max_no_improvement,
                        (state.ewa_inertia, state.ewa_inertia_min, state.no_improvement),
                    )
                    state.ewa_inertia, state.ewa_inertia_min, state.no_improvement = smoothed
            centers = new_centers
            state.n_steps += 1
            if stopping:
                state.stopped = True
                break
    state.centers = np.asarray(to_numpy(centers))
    state.counts = np.asarray(to_numpy(counts))
    return state


def _chain_row_blocks(function, X, sample_weight, state, *constants, order=None):
    """``state = function(block, weight_block, state, *constants)`` over the row blocks
    of X (in ``order``, indices of row blocks; all of them in turn by default), the
    final state. On a Dask array, one computation: each call runs on the worker holding
    its block, and only the (small) state travels from one to the next; on an in-memory
    array, one direct call."""
    if not is_lazy(array_namespace(X)):
        return function(X, sample_weight, state, *constants)
    import dask

    X = one_column_chunk(X)
    blocks = X.to_delayed().ravel()
    weights = (
        [None] * len(blocks)
        if sample_weight is None
        else sample_weight.rechunk((X.chunks[0],)).to_delayed().ravel()
    )
    shared = [dask.delayed(value) for value in constants]
    current = dask.delayed(state)
    for index in range(len(blocks)) if order is None else order:
        current = dask.delayed(function, pure=True)(blocks[index], weights[index], current, *shared)
    (final,) = dask.compute(current)
    return final


def _gather_rows(X, sample_weight, index_sets):
    """The rows of X (and their weights, or None) at each of ``index_sets``, host arrays,
    in one computation (Dask reads them as one sorted, duplicate-free selection)."""
    unique, inverse = np.unique(np.concatenate(index_sets), return_inverse=True)
    lazy = [X[unique, :]] if sample_weight is None else [X[unique, :], sample_weight[unique]]
    host = to_host(*lazy)
    rows = host[0][inverse]
    weights = None if sample_weight is None else host[1][inverse]
    gathered, start = [], 0
    for indices in index_sets:
        stop = start + len(indices)
        gathered.append((rows[start:stop], None if weights is None else weights[start:stop]))
        start = stop
    return gathered


# ---------------------------------------------------------------------------------------
# MiniBatchKMeans


class MiniBatchKMeans(_BaseKMeans):
    """Mini-batch K-means clustering, on any array backend.

    Same parameters and semantics as :class:`sklearn.cluster.MiniBatchKMeans`: each
    step assigns a random mini-batch (drawn with probability proportional to the sample
    weights) with the same fused kernel as :class:`KMeans`, moves every touched center
    to the running weighted mean of the points it received, and occasionally reassigns
    centers whose accumulated weight is below ``reassignment_ratio`` times the largest
    to random points of the batch. Early stopping follows scikit-learn (exponentially
    weighted average of the batch inertia, ``max_no_improvement``, ``tol``).

    On Dask arrays the fit streams the row blocks, one computation per epoch: every
    epoch visits the non-empty blocks in a new random order, each block giving
    ``ceil(rows / batch_size)`` mini-batches drawn with replacement from its own rows on
    its worker, and only the small state (centers, counts, random state) travels from
    one block to the next; the init reads ``init_size`` random rows. The result is that
    of ``partial_fit`` fed those mini-batches in that order (a batch holds rows of one
    block, rather than rows drawn anywhere in X). ``partial_fit`` on a Dask array is
    ``partial_fit`` on each of its row blocks. ``labels_`` stays a lazy Dask array. See "Scaling out with Dask"
    in the user guide.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {"k-means++", "random"}, callable or array of shape (n_clusters, n_features), \
default="k-means++"
        Initialisation, computed on ``init_size`` random samples.
    max_iter : int, default=100
        Maximum number of passes over the data (epochs).
    batch_size : int, default=1024
        Size of the mini-batches.
    verbose : int, default=0
        Kept for scikit-learn compatibility; nothing is printed.
    compute_labels : bool, default=True
        Compute ``labels_`` and ``inertia_`` on the whole data once fitted.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the mini-batch draws (on the host).
    tol : float, default=0.0
        Early stopping on the squared change of the centers, relative to the mean feature
        variance; 0 disables it.
    max_no_improvement : int or None, default=10
        Stop after this many steps without improvement of the smoothed batch inertia;
        None disables it.
    init_size : int, default=None
        Samples used for the initialisation (default ``3 * batch_size``, at least
        ``3 * n_clusters``).
    n_init : "auto" or int, default="auto"
        Initialisations tried (the best on a validation sample is kept); ``"auto"``: 1
        for k-means++ or an array, 3 otherwise.
    reassignment_ratio : float, default=0.01
        Centers with accumulated weight below this fraction of the largest are moved.
    {dtype_doc}

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, n_features)
        Coordinates of the centers.
    labels_ : array of shape (n_samples,), int32
        Cluster of each training sample (if ``compute_labels``).
    inertia_ : float
        Weighted inertia of the training data (if ``compute_labels``; otherwise an
        estimate from the smoothed batch inertia).
    n_iter_ : int
        Number of epochs run.
    n_steps_ : int
        Number of mini-batches processed.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.

    See Also
    --------
    sklearn.cluster.MiniBatchKMeans : The scikit-learn estimator this mirrors.
    KMeans : Exact Lloyd iterations over all the data.

    Examples
    --------
    >>> import numpy as np
    >>> from xplearn.cluster import MiniBatchKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 0], [4, 4]], dtype=float)
    >>> init = np.array([[0.0, 2.0], [5.0, 2.0]])
    >>> mbk = MiniBatchKMeans(n_clusters=2, init=init, batch_size=6, random_state=0).fit(X)
    >>> mbk.cluster_centers_[:, 0].round(1).tolist()
    [1.0, 4.0]
    >>> mbk.predict(np.array([[0.0, 0.0], [5.0, 5.0]]))
    array([0, 1], dtype=int32)
    """

    # fit on Dask: a stated number of computations (see _fit_blocks), labels_ lazy
    _capabilities: ClassVar[Capabilities] = dataclasses.replace(
        _BaseKMeans._capabilities,
        lazy_fit=True,
        fallbacks={
            **_FALLBACKS,
            "dask": (
                "fit streams the row blocks (one computation per epoch): the mini-batch "
                "steps of a block run on its worker and only the centers travel; each "
                "epoch visits the blocks in a random order, and a batch is drawn (with "
                "replacement) from one block's rows, not from all of X."
            ),
        },
    )
    _default_n_init: ClassVar[int] = 3

    _parameter_constraints: ClassVar[dict] = {
        **_BaseKMeans._parameter_constraints,
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "compute_labels": ["boolean"],
        "max_no_improvement": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "init_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "reassignment_ratio": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        max_iter=100,
        batch_size=1024,
        verbose=0,
        compute_labels=True,
        random_state=None,
        tol=0.0,
        max_no_improvement=10,
        init_size=None,
        n_init="auto",
        reassignment_ratio=0.01,
        dtype_policy=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.dtype_policy = dtype_policy

    def _check_minibatch_params(self, prefix: str, method: str = "fit") -> None:
        self._check_common_params(prefix, method)
        batch = self.batch_size
        if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:
            raise ValueError(f"{prefix}batch_size must be an integer >= 1, got {batch!r}.")
        patience = self.max_no_improvement
        if patience is not None and (
            isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0
        ):
            raise ValueError(
                f"{prefix}max_no_improvement must be None or an integer >= 0, got {patience!r}."
            )
        size = self.init_size
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1
        ):
            raise ValueError(f"{prefix}init_size must be None or an integer >= 1, got {size!r}.")
        ratio = self.reassignment_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not ratio >= 0:
            raise ValueError(f"{prefix}reassignment_ratio must be >= 0, got {ratio!r}.")

    def _check_params_vs_input(self, n_samples: int, prefix: str) -> None:
        if n_samples < self.n_clusters:
            raise ValueError(
                f"{prefix}n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        self._batch_size = min(int(self.batch_size), n_samples)
        init_size = self.init_size
        if init_size is None:
            init_size = 3 * self._batch_size
            if init_size < self.n_clusters:
                init_size = 3 * self.n_clusters
        elif init_size < self.n_clusters:
            warnings.warn(
                f"init_size={init_size} should be larger than n_clusters={self.n_clusters}. "
                "Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning,
                stacklevel=3,
            )
            init_size = 3 * self.n_clusters
        self._init_size = min(int(init_size), n_samples)

    def _random_reassign(self) -> bool:
        """Whether this step may reassign low-count centers (as scikit-learn)."""
        due, self._n_since_last_reassign = _reassignment_due(
            self._counts, self._n_since_last_reassign, self._batch_size
        )
        return due

    def _mini_batch_step(
        self, xp, X, sample_weight, centers, random_state, random_reassign, accumulate, method
    ):
        """Assign a mini-batch, move the touched centers, reassign the light ones.

        Returns (new centers, batch inertia); updates ``self._counts``.
        """
        new_centers, self._counts, inertia = _mini_batch_update(
            xp,
            X,
            sample_weight,
            centers,
            self._counts,
            random_state,
            random_reassign and self.reassignment_ratio > 0,
            self.reassignment_ratio,
            accumulate,
            method,
        )
        return new_centers, inertia

    def _mini_batch_convergence(self, step, n_samples, centers_squared_diff, batch_inertia):
        """Early stopping: smoothed batch inertia and center change (as scikit-learn)."""
        stop, self._ewa_inertia, self._ewa_inertia_min, self._no_improvement = _early_stopping(
            step,
            batch_inertia / self._batch_size,
            min(self._batch_size * 2.0 / (n_samples + 1), 1),
            centers_squared_diff,
            self._tol,
            self.max_no_improvement,
            (self._ewa_inertia, self._ewa_inertia_min, self._no_improvement),
        )
        return stop

    def _fit_blocks(self, xp, X, weights, init_array, n_init, random_state, prefix, accumulate):
        """``fit`` on a lazy (Dask) array: epochs of mini-batch steps over the non-empty
        row blocks in a random order (a permutation per epoch), each block giving
        ``ceil(rows / batch_size)`` batches of its rows drawn with replacement on its
        worker (what ``partial_fit`` fed those batches in that order gives); the state
        (centers, counts, smoothed inertia, random state) is small and travels from
        block to block.

        Computations (besides X's validation): 1 for the data's variance when ``tol > 0``;
        for the init, 1 per run reading its ``init_size`` random rows (and, with
        ``n_init > 1``, the validation rows, in the first), or 2 for an init array (its
        check and its values); **1 per epoch** (``n_iter_``; early stopping ends the epoch
        where it happens); 1 for ``inertia_`` when ``compute_labels`` (``labels_`` stays
        lazy).
        """
        method = prefix[:-2]
        n_samples = X.shape[0]
        dtype = np.dtype(X.dtype)
        if self.tol > 0:
            _, variance, _ = column_moments(X)
            self._tol = float(np.mean(variance)) * self.tol
        else:
            self._tol = 0.0
        centers = self._initial_centers_from_rows(
            X, weights, init_array, n_init, random_state, prefix, accumulate
        )
        state = _StreamState(
            centers=centers.astype(dtype),
            counts=np.zeros(self.n_clusters, dtype=np.dtype(accumulate)),
            random_state=copy.deepcopy(random_state),
        )
        plan = _StreamPlan(
            batch_size=self._batch_size,
            reassign_batch_size=self._batch_size,
            reassignment_ratio=float(self.reassignment_ratio),
            accumulate=np.dtype(accumulate).name,
            method=method,
            n_samples=n_samples,
            early_stopping=True,
            tol=self._tol,
            max_no_improvement=self.max_no_improvement,
        )
        # the non-empty row blocks, visited in a new random order every epoch: in a
        # fixed order the batch inertias would repeat in a cycle that the centers' slow
        # drift keeps lowering, and early stopping would never see a plateau
        blocks = np.flatnonzero(np.asarray(X.chunks[0]) > 0)
        n_epochs = 0
        for n_epochs in range(1, self.max_iter + 1):
            first = dataclasses.replace(plan, add_weights=n_epochs == 1)
            order = blocks[state.random_state.permutation(blocks.size)].tolist()
            state = _chain_row_blocks(_stream_block, X, weights, state, first, order=order)
            if state.stopped:
                break
        # the caller's RandomState (if one was given) ends where the fit's draws ended
        random_state.set_state(state.random_state.get_state())
        self._store_stream_state(xp, state)
        self.n_steps_ = state.n_steps
        self.n_iter_ = n_epochs
        if self.compute_labels:
            self._set_labels_blocks(X, weights, state.centers)
        else:
            self.inertia_ = (state.ewa_inertia or 0.0) * state.total_weight
        return self

    def _initial_centers_from_rows(
        self, X, weights, init_array, n_init, random_state, prefix, accumulate
    ):
        """The init of ``fit`` on a Dask array, host centers: the same random draws as in
        memory, each run's ``init`` on its ``init_size`` random rows read to the host (a
        callable gets those rows as a NumPy array), the best run on the validation rows."""
        host_xp = numpy_namespace()
        n_samples = X.shape[0]
        validation = random_state.randint(0, n_samples, self._init_size)
        if init_array is not None:
            # the init's subsample is drawn whatever the init (the same random stream)
            if self._init_size < n_samples:
                random_state.randint(0, n_samples, self._init_size)
            return to_host(init_array)[0]
        best_inertia, best_centers = None, None
        valid_rows = valid_weights = None
        for run in range(n_init):
            if self._init_size < n_samples:
                picks = random_state.randint(0, n_samples, self._init_size)
            else:
                picks = np.arange(n_samples)
            if n_init > 1 and run == 0:
                (rows, row_weights), (valid_rows, valid_weights) = _gather_rows(
                    X, weights, [picks, validation]
                )
            else:
                ((rows, row_weights),) = _gather_rows(X, weights, [picks])
            with kernel_session(rows, method=prefix[:-2]):
                centers = self._init_centroids(
                    host_xp, rows, None, row_weights, None, random_state, prefix
                )
                if n_init == 1:
                    return to_numpy(centers)
                inertia = lloyd_pass(
                    valid_rows,
                    centers,
                    sample_weight=valid_weights,
                    update_centers=False,
                    compute_inertia=True,
                    accumulate_dtype=accumulate,
                    method=prefix[:-2],
                ).inertia
            if best_inertia is None or inertia < best_inertia:
                best_inertia, best_centers = inertia, to_numpy(centers)
        return best_centers

    def _partial_fit_blocks(self, xp, X, weights, has_centers, prefix, accumulate):
        """``partial_fit`` on a lazy (Dask) array: ``partial_fit`` on each row block in
        order (one step per non-empty block, on its worker), the first call initialised
        from the first non-empty block as ``partial_fit`` on it would be.

        Computations (besides X's validation): on the first call 1 reading the init's
        rows (2 for an init array: its check and its values), then 1 for the steps, and
        1 for ``inertia_`` when ``compute_labels`` (``labels_`` stays lazy).
        """
        dtype = np.dtype(X.dtype)
        if has_centers:
            # the (in-memory backed) centers go into the computation as they are: the
            # first block's task receives their values, with no computation of their own
            centers, counts = self.cluster_centers_, np.asarray(to_numpy(self._counts))
            n_since = self._n_since_last_reassign
        else:
            offsets = row_block_offsets(X)
            first = next(index for index, rows in enumerate(X.chunks[0]) if rows)
            n_first = int(X.chunks[0][first])
            self._check_params_vs_input(n_first, prefix)
            init_array = self._checked_init_array(xp, X, prefix)
            self._tol = 0.0
            random_state = self._random_state
            if self._init_size < n_first:
                picks = random_state.randint(0, n_first, self._init_size)
            else:
                picks = np.arange(n_first)
            if init_array is not None:
                centers = to_host(init_array)[0]
            else:
                ((rows, row_weights),) = _gather_rows(X, weights, [picks + offsets[first]])
                with kernel_session(rows, method=prefix[:-2]):
                    centers = to_numpy(
                        self._init_centroids(
                            numpy_namespace(), rows, None, row_weights, None, random_state, prefix
                        )
                    )
            counts = np.zeros(self.n_clusters, dtype=np.dtype(accumulate))
            n_since = 0
        state = _StreamState(
            centers=centers.astype(dtype),
            counts=counts.astype(np.dtype(accumulate)),
            random_state=self._random_state,
            n_since_last_reassign=n_since,
        )
        plan = _StreamPlan(
            batch_size=None,
            reassign_batch_size=self._batch_size,
            reassignment_ratio=float(self.reassignment_ratio),
            accumulate=np.dtype(accumulate).name,
            method=prefix[:-2],
        )
        state = _chain_row_blocks(_stream_block, X, weights, state, plan)
        self._random_state.set_state(state.random_state.get_state())
        self._store_stream_state(xp, state)
        if self.compute_labels:
            self._set_labels_blocks(X, weights, state.centers)
        self.n_steps_ += state.n_steps
        return self

    def _store_stream_state(self, xp, state: _StreamState) -> None:
        """The fitted centers (an in-memory array of ``xp``) and the step state of a fit
        over row blocks, kept on the host for later ``partial_fit`` calls."""
        self.cluster_centers_ = xp.asarray(state.centers)
        self._n_features_out = self.n_clusters
        self._counts = state.counts
        self._n_since_last_reassign = state.n_since_last_reassign
        self._ewa_inertia = state.ewa_inertia
        self._ewa_inertia_min = state.ewa_inertia_min
        self._no_improvement = state.no_improvement

    def _set_labels_blocks(self, X, weights, centers: np.ndarray) -> None:
        """``inertia_`` (one computation, per-block sums added in block order) and the
        lazy ``labels_`` of a Dask array for host ``centers``."""
        _, _, _, self.inertia_ = _add_parts(
            map_row_blocks(lloyd_block, X, weights, constants=(centers, None, True))
        )
        self.labels_ = one_column_chunk(X).map_blocks(
            _assign_block, centers, dtype=np.int32, drop_axis=1
        )

    def fit(self, X, y=None, sample_weight=None):
        """Compute the centers from mini-batches of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, of any supported namespace.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (mini-batches are drawn proportionally).

        Returns
        -------
        self : MiniBatchKMeans
            The fitted estimator.
        """
        prefix = f"{method_name(self, 'fit')}: "
        self._check_minibatch_params(prefix)
        data = validate_data(self, X, method="fit", reset=True, sample_weight=sample_weight)
        xp, X, weights, device = data.xp, data.X, data.sample_weight, data.device
        accumulate = data.dtypes.accumulate
        n_samples = X.shape[0]
        self._check_params_vs_input(n_samples, prefix)
        init_array = self._checked_init_array(xp, X, prefix)
        n_init = self._resolved_n_init()
        random_state = check_random_state(self.random_state)
        method = prefix[:-2]
        if is_lazy(xp):
            return self._fit_blocks(
                xp, X, weights, init_array, n_init, random_state, prefix, accumulate
            )

        with kernel_session(X, method=method):
            if self.tol > 0:
                _, variance, _ = column_mean_and_variance(xp, X, accumulate, with_variance=True)
                self._tol = float(to_scalar(xp.mean(variance))) * self.tol
            else:
                self._tol = 0.0
            validation = xp.asarray(
                random_state.randint(0, n_samples, self._init_size), device=device
            )
            X_valid = xp.take(X, validation, axis=0)
            weights_valid = None if weights is None else xp.take(weights, validation, axis=0)
            best_inertia, init_centers = None, None
            for _ in range(n_init):
                centers = self._init_centroids(
                    xp,
                    X,
                    None,
                    weights,
                    init_array,
                    random_state,
                    prefix,
                    init_size=self._init_size,
                )
                inertia = lloyd_pass(
                    X_valid,
                    centers,
                    sample_weight=weights_valid,
                    update_centers=False,
                    compute_inertia=True,
                    accumulate_dtype=accumulate,
                    method=method,
                ).inertia
                if best_inertia is None or inertia < best_inertia:
                    init_centers, best_inertia = centers, inertia
            centers = init_centers
            self._counts = xp.zeros((self.n_clusters,), dtype=accumulate, device=device)
            self._ewa_inertia = None
            self._ewa_inertia_min = None
            self._no_improvement = 0
            self._n_since_last_reassign = 0
            # mini-batches are drawn as RandomState.choice(n, size, p=w / sum(w)) does
            # (one uniform draw per sample, then the inverse of the weights' cdf), so
            # the same random_state gives scikit-learn's batches
            if weights is None:
                cdf = None
                total_weight = float(n_samples)
            else:
                host_weights = to_numpy(weights).astype(np.float64)
                total_weight = float(host_weights.sum())
                cdf = np.cumsum(host_weights / total_weight)
                cdf /= cdf[-1]
            n_steps = (self.max_iter * n_samples) // self._batch_size
            step = 0
            for step in range(n_steps):
                uniform = random_state.random_sample(self._batch_size)
                if cdf is None:
                    picks = np.minimum((uniform * n_samples).astype(np.int64), n_samples - 1)
                else:
                    picks = cdf.searchsorted(uniform, side="right")
                batch = xp.take(X, xp.asarray(picks, device=device), axis=0)
                new_centers, batch_inertia = self._mini_batch_step(
                    xp,
                    batch,
                    None,
                    centers,
                    random_state,
                    self._random_reassign(),
                    accumulate,
                    method,
                )
                if self._tol > 0.0:
                    diff = xp.astype(new_centers, accumulate) - xp.astype(centers, accumulate)
                    squared_diff = float(to_scalar(xp.sum(diff * diff)))
                else:
                    squared_diff = 0.0
                centers = new_centers
                if self._mini_batch_convergence(step, n_samples, squared_diff, batch_inertia):
                    break
            self.cluster_centers_ = centers
            self._n_features_out = self.n_clusters
            self.n_steps_ = step + 1
            self.n_iter_ = math.ceil((step + 1) * self._batch_size / n_samples)
            if self.compute_labels:
                # predict's call (around_centers): labels_ is predict(X) to the bit
                final = lloyd_pass(
                    X,
                    centers,
                    sample_weight=weights,
                    update_centers=False,
                    compute_inertia=True,
                    accumulate_dtype=accumulate,
                    method=method,
                    around_centers=True,
                )
                self.labels_ = final.labels
                self.inertia_ = final.inertia
            else:
                self.inertia_ = (self._ewa_inertia or 0.0) * total_weight
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centers with one mini-batch.

        The first call initialises the centers from this batch (``init`` on up to
        ``init_size`` of its samples); later calls must pass data of the same namespace,
        device and number of features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One mini-batch.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        self : MiniBatchKMeans
            The updated estimator.
        """
        prefix = f"{method_name(self, 'partial_fit')}: "
        self._check_minibatch_params(prefix, "partial_fit")
        has_centers = hasattr(self, "cluster_centers_")
        data = validate_data(
            self, X, method="partial_fit", reset=not has_centers, sample_weight=sample_weight
        )
        xp, X, weights, device = data.xp, data.X, data.sample_weight, data.device
        accumulate = data.dtypes.accumulate
        method = prefix[:-2]
        self._random_state = getattr(self, "_random_state", None) or check_random_state(
            self.random_state
        )
        self.n_steps_ = getattr(self, "n_steps_", 0)
        if is_lazy(xp):
            return self._partial_fit_blocks(xp, X, weights, has_centers, prefix, accumulate)
        with kernel_session(X, method=method):
            if not has_centers:
                self._check_params_vs_input(X.shape[0], prefix)
                init_array = self._checked_init_array(xp, X, prefix)
                self._tol = 0.0
                self.cluster_centers_ = self._init_centroids(
                    xp,
                    X,
                    None,
                    weights,
                    init_array,
                    self._random_state,
                    prefix,
                    init_size=self._init_size,
                )
                self._counts = xp.zeros((self.n_clusters,), dtype=accumulate, device=device)
                self._n_since_last_reassign = 0
            (centers,) = self._fitted_arrays(data.dtypes.compute, "cluster_centers_")
            centers, _ = self._mini_batch_step(
                xp,
                X,
                weights,
                centers,
                self._random_state,
                self._random_reassign(),
                accumulate,
                method,
            )
            self.cluster_centers_ = centers
            if self.compute_labels:
                # predict's call (around_centers): labels_ is predict(X) to the bit
                final = lloyd_pass(
                    X,
                    centers,
                    sample_weight=weights,
                    update_centers=False,
                    compute_inertia=True,
                    accumulate_dtype=accumulate,
                    method=method,
                    around_centers=True,
                )
                self.labels_ = final.labels
                self.inertia_ = final.inertia
        self.n_steps_ += 1
        self._n_features_out = self.n_clusters
        return self


MiniBatchKMeans.__doc__ = MiniBatchKMeans.__doc__.replace("{dtype_doc}", _DTYPE_DOC)
