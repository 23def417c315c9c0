"""MiniBatchKMeans against scikit-learn (same random stream), backends and errors."""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SKKMeans
from sklearn.cluster import MiniBatchKMeans as SKMiniBatchKMeans

from xplearn.cluster import KMeans, MiniBatchKMeans
from xplearn.testing import assert_allclose_xp, assert_on_backend

pytestmark = pytest.mark.filterwarnings("error")


def _blobs(n=1200, d=5, k=6, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 3 * rng.integers(0, k, (n, 1))
    return X.astype(dtype)


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": 100, "max_iter": 3},
        {"batch_size": 100, "max_iter": 3, "reassignment_ratio": 0.2},
        {"batch_size": 64, "max_iter": 10, "tol": 1e-3},
        {"batch_size": 50, "max_iter": 20, "max_no_improvement": 2},
        {"batch_size": 100, "max_iter": 2, "init": "k-means++"},
        {"batch_size": 100, "max_iter": 2, "init": "random", "n_init": 2},
        {"batch_size": 5000, "max_iter": 2, "compute_labels": False},
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_matches_sklearn_with_same_random_state(params, weighted):
    """Same seed, same batches, same updates, reassignments and early stopping."""
    X = _blobs()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(X)) if weighted else None
    params = {"init": X[:6] + 0.1, **params}
    ref = SKMiniBatchKMeans(6, random_state=3, **params).fit(X, sample_weight=weights)
    ours = MiniBatchKMeans(6, random_state=3, **params).fit(X, sample_weight=weights)
    assert ours.n_steps_ == ref.n_steps_
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-9)
    if params.get("compute_labels", True):
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_partial_fit_matches_sklearn():
    X = _blobs(seed=2)
    params = {"init": X[:6] + 0.1, "random_state": 0, "reassignment_ratio": 0.05}
    ref, ours = SKMiniBatchKMeans(6, **params), MiniBatchKMeans(6, **params)
    for start in range(0, 1200, 300):
        batch = X[start : start + 300]
        ref.partial_fit(batch)
        ours.partial_fit(batch)
        np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    assert ours.n_steps_ == ref.n_steps_ == 4
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-9)


@pytest.mark.parametrize(
    "params",
    [
        {"init": "k-means++", "n_init": "auto"},
        {"init": "k-means++", "n_init": 3},
        {"init": "random", "n_init": "auto"},
    ],
)
def test_kmeans_with_same_random_state_matches_sklearn(params):
    """KMeans draws its seeds as scikit-learn does: same random_state, same clustering."""
    X = _blobs(900, 4, 5, seed=4)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    for seed in range(2):
        ref = SKKMeans(5, random_state=seed, **params).fit(X, sample_weight=weights)
        ours = KMeans(5, random_state=seed, **params).fit(X, sample_weight=weights)
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_backend_agrees_with_numpy(backend, dtype):
    if dtype == np.float64 and not backend.has_float64:
        pytest.skip(f"{backend} has no float64")
    if backend.name == "dask":
        pytest.skip(
            "fit on Dask draws each batch within one row block (blocks in a random order per "
            "epoch), not anywhere in X: compared with partial_fit on the same batches in "
            "test_minibatch_blocks.py"
        )
    n = 400
    X = _blobs(n, 4, 4, seed=5, dtype=dtype)
    init = (X[:4] + 0.1).astype(dtype)
    params = {"init": init, "batch_size": 80, "max_iter": 2, "random_state": 0}
    ref = MiniBatchKMeans(4, **params).fit(X)
    params["init"] = backend.asarray(init)
    X_b = backend.asarray(X)
    ours = MiniBatchKMeans(4, **params).fit(X_b)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    assert_on_backend(ours.cluster_centers_, backend)
    assert_on_backend(ours.labels_, backend)
    assert_allclose_xp(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=rtol)
    assert_allclose_xp(ours.labels_, ref.labels_)
    assert ours.n_steps_ == ref.n_steps_
    ours.partial_fit(X_b[:60, :])
    ref.partial_fit(X[:60])
    assert_allclose_xp(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=rtol)


def test_float32_is_preserved():
    X = _blobs(300, 3, 3, seed=6, dtype=np.float32)
    model = MiniBatchKMeans(3, random_state=0, batch_size=50).fit(X)
    assert model.cluster_centers_.dtype == np.float32
    assert model.transform(X).dtype == np.float32
    assert model.labels_.dtype == np.int32


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"batch_size": 0}, r"MiniBatchKMeans\.fit\(\): The 'batch_size' parameter of"),
        ({"max_no_improvement": -1}, r"'max_no_improvement' parameter of MiniBatchKMeans must"),
        ({"init_size": 0}, r"'init_size' parameter of MiniBatchKMeans must be an int"),
        ({"reassignment_ratio": -0.1}, r"'reassignment_ratio' parameter of MiniBatchKMeans"),
        ({"n_clusters": 50}, r"n_samples=20 should be >= n_clusters=50"),
        ({"n_clusters": 0}, r"'n_clusters' parameter of MiniBatchKMeans must be an int"),
    ],
)
def test_invalid_parameters(params, message):
    X = np.random.default_rng(0).standard_normal((20, 2))
    with pytest.raises(ValueError, match=message):
        MiniBatchKMeans(**params).fit(X)


def test_partial_fit_checks_the_namespace_and_features():
    import array_api_strict as xps

    X = np.random.default_rng(0).standard_normal((30, 3))
    model = MiniBatchKMeans(2, random_state=0).partial_fit(X)
    with pytest.raises(ValueError, match=r"MiniBatchKMeans\.partial_fit\(\): X has 2 features"):
        model.partial_fit(X[:, :2])
    with pytest.raises(ValueError, match=r"partial_fit\(\): X must use the same namespace"):
        model.partial_fit(xps.asarray(X))


def test_small_init_size_warns():
    X = np.random.default_rng(0).standard_normal((50, 2))
    with pytest.warns(RuntimeWarning, match="init_size=2 should be larger than n_clusters=3"):
        MiniBatchKMeans(3, init_size=2, random_state=0).fit(X)


@pytest.mark.parametrize("kind", ["near", "dups"])
def test_labels_are_predict_when_centers_coincide(backend, kind):
    """labels_ (fit and partial_fit) is predict(X) row for row when centers coincide to
    1e-15 or are duplicates: fit assigned at the origin, predict around the centers'
    mean, and near-ties went different ways (all 290 rows of "near" before)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from xplearn._xp import to_numpy

    if not backend.has_float64:
        pytest.skip("float64 data")
    rng = np.random.default_rng(0)
    if kind == "near":
        X = np.array([[100.3, -40.7, 2.1]]) + rng.uniform(-1e-13, 1e-13, (290, 3))
    else:
        points = np.array([[0.3, 0.4, 0.5]]) + rng.standard_normal((3, 3)) * 1e-15
        X = points[rng.integers(0, 3, 290)]
    X_b = backend.asarray(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MiniBatchKMeans(5, batch_size=64, n_init=1, random_state=0).fit(X_b)
        np.testing.assert_array_equal(to_numpy(model.labels_), to_numpy(model.predict(X_b)))
        model.partial_fit(X_b)
        np.testing.assert_array_equal(to_numpy(model.labels_), to_numpy(model.predict(X_b)))
