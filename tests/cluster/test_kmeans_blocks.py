"""KMeans on Dask arrays (one computation per Lloyd iteration) and k-means|| seeding."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from xplearn.cluster import KMeans
from xplearn.cluster._kmeans_parallel import kmeans_parallel_init
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")


def _blobs(dtype, n_samples=6000, seed=0):
    X, _ = make_blobs(
        n_samples=n_samples, n_features=6, centers=7, cluster_std=2.0, random_state=seed
    )
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_dask_fit_equals_numpy_with_an_explicit_init(dtype, weighted):
    X = _blobs(dtype) + 50.0  # far from the origin: the fit centers the distances
    weights = np.random.default_rng(1).integers(0, 4, X.shape[0]).astype(dtype)
    init = X[::900][:7].copy()
    settings = {"n_clusters": 7, "n_init": 1, "max_iter": 60, "tol": 0.0}
    expected = KMeans(init=init, **settings).fit(X, sample_weight=weights if weighted else None)
    X_lazy = da.from_array(X, chunks=(1100, 3))  # uneven row blocks, split columns
    lazy_weights = da.from_array(weights, chunks=700) if weighted else None
    with count_dask_computes() as counter:
        got = KMeans(init=da.from_array(init), **settings).fit(X_lazy, sample_weight=lazy_weights)
    assert got.n_iter_ == expected.n_iter_
    # X's validation (its finiteness), the weights' (counted apart), the init array's
    # check and values, the data statistics, one per iteration, the final inertia;
    # labels_ stays lazy
    assert counter.count == got.n_iter_ + 5 + (0 if lazy_weights is None else WEIGHT_CHECKS)
    assert isinstance(got.labels_, da.Array)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(
        np.asarray(got.cluster_centers_), expected.cluster_centers_, rtol=rtol, atol=rtol
    )
    np.testing.assert_allclose(got.inertia_, expected.inertia_, rtol=rtol)
    np.testing.assert_array_equal(np.asarray(got.labels_.compute()), expected.labels_)


#: Computations the validation of Dask sample weights makes (sum and minimum together)
WEIGHT_CHECKS = 1


@pytest.mark.parametrize("weighted", [False, True])
def test_empty_clusters_are_relocated_as_in_memory(weighted):
    X = _blobs(np.float64, n_samples=2000)
    weights = np.random.default_rng(2).integers(1, 4, X.shape[0]).astype(float)
    init = np.concatenate([X[:5], X[:1], X[:1]])  # duplicated centers: clusters left empty
    settings = {"n_clusters": 7, "n_init": 1, "max_iter": 30, "tol": 0.0}
    expected = KMeans(init=init, **settings).fit(X, sample_weight=weights if weighted else None)
    got = KMeans(init=da.from_array(init), **settings).fit(
        da.from_array(X, chunks=450),
        sample_weight=da.from_array(weights, chunks=450) if weighted else None,
    )
    np.testing.assert_allclose(np.asarray(got.cluster_centers_), expected.cluster_centers_)
    np.testing.assert_array_equal(np.asarray(got.labels_.compute()), expected.labels_)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_parallel_quality_on_blobs(seed):
    """k-means|| then Lloyd: inertia within 2% of in-memory k-means++."""
    X = _blobs(np.float32, n_samples=8000, seed=seed)
    reference = KMeans(n_clusters=7, init="k-means++", random_state=seed).fit(X)
    lazy = KMeans(n_clusters=7, init="k-means||", random_state=seed).fit(
        da.from_array(X, chunks=1500)
    )
    in_memory = KMeans(n_clusters=7, init="k-means||", random_state=seed).fit(X)
    assert lazy.inertia_ <= 1.02 * reference.inertia_
    assert in_memory.inertia_ <= 1.02 * reference.inertia_


def test_kmeans_parallel_computations():
    X = _blobs(np.float64, n_samples=3000)
    with count_dask_computes() as counter:
        centers = kmeans_parallel_init(
            da.from_array(X, chunks=700),
            7,
            sample_weight=None,
            random_state=np.random.RandomState(0),
            shift=None,
            n_rounds=4,
        )
    assert counter.count == 2 * 4 + 2
    assert centers.shape == (7, 6)
    assert isinstance(centers, np.ndarray)


def test_kmeans_parallel_candidates_carry_their_weights():
    """Rows with zero weight never become centers; heavy rows attract them."""
    X = _blobs(np.float64, n_samples=3000)
    weights = np.zeros(X.shape[0])
    weights[:1500] = 1.0
    centers = kmeans_parallel_init(
        X, 5, sample_weight=weights, random_state=np.random.RandomState(0), shift=None
    )
    heavy = X[:1500]
    nearest = ((heavy[:, None, :] - centers[None]) ** 2).sum(-1).min(1)
    far = KMeans(n_clusters=5, init=centers, n_init=1).fit(X, sample_weight=weights)
    assert np.isfinite(nearest).all()
    assert (
        far.inertia_
        <= 1.05 * KMeans(5, n_init=3, random_state=0).fit(X, sample_weight=weights).inertia_
    )


def test_unknown_init_string_names_k_means_parallel():
    with pytest.raises(ValueError, match="'k-means\\|\\|'"):
        KMeans(n_clusters=2, init="k-means+").fit(np.zeros((4, 2)))


def test_column_moments_in_one_pass_match_numpy():
    from xplearn._kernels._blocks import column_moments

    X = np.random.default_rng(0).normal(loc=1e6, scale=0.5, size=(1000, 3))
    with count_dask_computes() as counter:
        mean, variance, mean_sq_norm = column_moments(da.from_array(X, chunks=(130, 2)))
    assert counter.count == 1
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(variance, X.var(axis=0), rtol=1e-9)
    np.testing.assert_allclose(mean_sq_norm, (X * X).sum(axis=1).mean(), rtol=1e-12)


def test_nan_in_one_block_raises_before_the_passes():
    X = _blobs(np.float64, n_samples=1000)
    X[777, 2] = np.nan
    with pytest.raises(ValueError, match=r"KMeans.fit\(\): Input X contains NaN"):
        KMeans(n_clusters=3, init="k-means||", random_state=0).fit(da.from_array(X, chunks=200))


def test_kmeans_parallel_runs_on_every_backend(backend):
    """k-means|| in memory on any namespace: centers in X's namespace and device, and the
    quality of in-memory k-means++ (inertia within 2%)."""
    from xplearn.testing import assert_on_backend

    X = _blobs(np.float32, n_samples=3000, seed=4)
    reference = KMeans(n_clusters=7, random_state=4).fit(X)
    model = KMeans(n_clusters=7, init="k-means||", random_state=4).fit(backend.asarray(X))
    assert_on_backend(model.cluster_centers_, backend)
    assert model.inertia_ <= 1.02 * reference.inertia_
