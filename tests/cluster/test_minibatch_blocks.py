"""MiniBatchKMeans on Dask arrays: mini-batch steps streamed over the row blocks, one
computation per epoch, equal to ``partial_fit`` fed the same mini-batches in memory."""

import itertools

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_classification

from xplearn.cluster import MiniBatchKMeans, kmeans_plusplus
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")

#: uneven row blocks with an empty one, and the columns split in two chunks
CHUNKS = ((700, 0, 550, 750), (3, 3))
N_CLUSTERS = 5
BATCH = 256


def _data(dtype, seed=0):
    X, _ = make_blobs(
        n_samples=sum(CHUNKS[0]),
        n_features=6,
        centers=N_CLUSTERS,
        cluster_std=2.0,
        random_state=seed,
    )
    weights = np.random.default_rng(seed + 1).integers(0, 4, X.shape[0])
    return (X + 20.0).astype(dtype), weights.astype(dtype)


#: Computations the validation of Dask sample weights makes (sum and minimum together)
WEIGHT_CHECKS = 1


def _block_slices():
    offsets = np.cumsum((0, *CHUNKS[0]))
    return [slice(start, stop) for start, stop in itertools.pairwise(offsets) if stop > start]


def _assert_in_memory_backed(model):
    centers = model.cluster_centers_
    assert isinstance(centers, da.Array)
    assert len(centers.__dask_graph__().layers) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("init", ["array", "k-means++"])
def test_fit_equals_partial_fit_on_the_same_mini_batches(dtype, weighted, init):
    X, weights = _data(dtype)
    weights = weights if weighted else None
    n_samples, seed, n_epochs = X.shape[0], 3, 2
    init_size = 3 * BATCH
    settings = {
        "n_clusters": N_CLUSTERS,
        "batch_size": BATCH,
        "max_iter": n_epochs,
        "max_no_improvement": None,
        "tol": 0.0,
        # high enough that light centers are moved onto random batch rows a few times
        "reassignment_ratio": 0.5 if init == "array" else 0.01,
    }
    initial = X[::450][:N_CLUSTERS].copy()

    # the reference: the same draws as the Dask fit (validation rows, the init's rows,
    # k-means++ on them), then, every epoch, partial_fit on the mini-batches of each
    # block in a random order, drawn with replacement from the block's rows
    rng = np.random.RandomState(seed)
    rng.randint(0, n_samples, init_size)
    picks = rng.randint(0, n_samples, init_size)
    if init == "k-means++":
        initial, _ = kmeans_plusplus(
            X[picks],
            N_CLUSTERS,
            sample_weight=None if weights is None else weights[picks],
            random_state=rng,
        )
    expected = MiniBatchKMeans(init=initial, random_state=rng, compute_labels=False, **settings)
    blocks = _block_slices()
    for _ in range(n_epochs):
        for index in rng.permutation(len(blocks)):
            rows = X[blocks[index]]
            n_rows = rows.shape[0]
            for start in range(0, n_rows, BATCH):
                batch = rng.randint(0, n_rows, min(BATCH, n_rows - start))
                expected.partial_fit(
                    rows[batch],
                    sample_weight=None if weights is None else weights[blocks[index]][batch],
                )

    X_lazy = da.from_array(X, chunks=CHUNKS)
    lazy_weights = None if weights is None else da.from_array(weights, chunks=(CHUNKS[0],))
    model = MiniBatchKMeans(
        init=da.from_array(initial) if init == "array" else init, random_state=seed, **settings
    )
    with count_dask_computes() as counter:
        model.fit(X_lazy, sample_weight=lazy_weights)
    # X's finiteness, the weights' checks, the init (an array: its check and its values;
    # k-means++: its rows), one per epoch, the final inertia
    init_computes = 2 if init == "array" else 1
    expected_count = (
        1 + (0 if lazy_weights is None else WEIGHT_CHECKS) + init_computes + n_epochs + 1
    )
    assert counter.count == expected_count

    rtol = 1e-5 if dtype == np.float32 else 1e-10
    _assert_in_memory_backed(model)
    assert model.cluster_centers_.dtype == dtype
    np.testing.assert_allclose(
        np.asarray(model.cluster_centers_), expected.cluster_centers_, rtol=rtol, atol=rtol
    )
    assert model.n_iter_ == n_epochs
    assert model.n_steps_ == expected.n_steps_ == n_epochs * 9
    np.testing.assert_allclose(
        model.inertia_, -expected.score(X, sample_weight=weights), rtol=10 * rtol
    )
    assert isinstance(model.labels_, da.Array)
    np.testing.assert_array_equal(model.labels_.compute(), expected.predict(X))
    predicted = model.predict(X_lazy)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), expected.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_is_partial_fit_on_each_block(dtype, weighted):
    X, weights = _data(dtype, seed=1)
    weights = weights if weighted else None
    settings = {"n_clusters": N_CLUSTERS, "batch_size": BATCH, "random_state": 4}
    expected = MiniBatchKMeans(compute_labels=False, **settings)
    for _ in range(2):
        for block in _block_slices():
            expected.partial_fit(
                X[block], sample_weight=None if weights is None else weights[block]
            )

    X_lazy = da.from_array(X, chunks=CHUNKS)
    lazy_weights = None if weights is None else da.from_array(weights, chunks=(CHUNKS[0],))
    model = MiniBatchKMeans(**settings)
    weight_checks = 0 if lazy_weights is None else WEIGHT_CHECKS
    with count_dask_computes() as counter:
        model.partial_fit(X_lazy, sample_weight=lazy_weights)
    # X's finiteness, the weights' checks, the init's rows (of the first block), the
    # steps, the inertia
    assert counter.count == 1 + weight_checks + 1 + 1 + 1
    with count_dask_computes() as counter:
        model.partial_fit(X_lazy, sample_weight=lazy_weights)
    assert counter.count == 1 + weight_checks + 1 + 1

    rtol = 1e-5 if dtype == np.float32 else 1e-10
    _assert_in_memory_backed(model)
    np.testing.assert_allclose(
        np.asarray(model.cluster_centers_), expected.cluster_centers_, rtol=rtol, atol=rtol
    )
    assert model.n_steps_ == expected.n_steps_ == 6
    np.testing.assert_allclose(
        model.inertia_, -expected.score(X, sample_weight=weights), rtol=10 * rtol
    )
    np.testing.assert_array_equal(model.labels_.compute(), expected.predict(X))


def _blobs(n_samples=4000, seed=0):
    X, _ = make_blobs(
        n_samples=n_samples, n_features=6, centers=8, cluster_std=1.5, random_state=seed
    )
    return X


@pytest.mark.parametrize(
    ("init", "n_init", "init_computes"),
    [("k-means++", "auto", 1), ("k-means||", "auto", 1), ("random", 3, 3)],
)
def test_default_fit_quality_close_to_in_memory(init, n_init, init_computes):
    X = _blobs()
    settings = {"n_clusters": 8, "init": init, "n_init": n_init, "batch_size": 256}
    inertias = [MiniBatchKMeans(random_state=seed, **settings).fit(X).inertia_ for seed in range(3)]
    with count_dask_computes() as counter:
        model = MiniBatchKMeans(random_state=0, **settings).fit(da.from_array(X, chunks=700))
    # X's finiteness, one per init run (its rows; the validation rows with the first),
    # one per epoch, the final inertia
    assert counter.count == 1 + init_computes + model.n_iter_ + 1
    assert model.n_iter_ < 100  # max_no_improvement stopped it
    assert model.inertia_ <= 1.03 * np.median(inertias)
    _assert_in_memory_backed(model)


@pytest.mark.parametrize("chunks", [500, 1000, CHUNKS[0]])
def test_early_stopping_on_overlapping_classes(chunks):
    # overlapping clusters with blocks no larger than a batch: with the blocks in a fixed
    # order and each one a whole batch, the batch inertias repeated in a cycle that the
    # centers' slow drift kept lowering, and every fit ran its max_iter epochs
    X, _ = make_classification(2000, 8, n_informative=5, n_classes=3, random_state=0)
    in_memory = MiniBatchKMeans(random_state=0).fit(X)
    with count_dask_computes() as counter:
        model = MiniBatchKMeans(random_state=0).fit(da.from_array(X, chunks=(chunks, 8)))
    # X's finiteness, the init's rows, one per epoch, the final inertia
    assert counter.count == model.n_iter_ + 3
    assert model.n_iter_ <= 2 * in_memory.n_iter_ < model.max_iter
    assert model.inertia_ <= 1.05 * in_memory.inertia_


def test_tol_and_no_labels():
    X = _blobs(seed=1)
    settings = {"n_clusters": 8, "batch_size": 256, "random_state": 0}
    X_lazy = da.from_array(X, chunks=900)
    with count_dask_computes() as counter:
        model = MiniBatchKMeans(tol=1e-3, max_no_improvement=None, **settings).fit(X_lazy)
    # + 1 for the data's variance
    assert counter.count == 1 + 1 + 1 + model.n_iter_ + 1
    assert model.n_iter_ < 100
    with count_dask_computes() as counter:
        model = MiniBatchKMeans(compute_labels=False, **settings).fit(X_lazy)
    assert counter.count == 1 + 1 + model.n_iter_
    assert not hasattr(model, "labels_")
    exact = -MiniBatchKMeans(**settings).fit(X).score(X)
    assert 0.7 * exact < model.inertia_ < 1.5 * exact  # the smoothed batch estimate


def test_nan_in_one_block_raises():
    X, _ = _data(np.float64)
    X[1500, 4] = np.nan
    with pytest.raises(ValueError, match=r"MiniBatchKMeans.fit\(\): Input X contains NaN"):
        MiniBatchKMeans(n_clusters=N_CLUSTERS).fit(da.from_array(X, chunks=CHUNKS))
