"""k-NN on chunked Dask training data: lazy fit, blockwise search merged per query block."""

import numpy as np
import pytest
from sklearn import neighbors as sk

import xplearn
from xplearn import config_context
from xplearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
#: uneven row blocks, an empty one, and the columns split in two chunks
TRAIN_CHUNKS = ((70, 0, 55, 75), (3, 3))
QUERY_CHUNKS = ((20, 0, 30), (2, 4))
ATOL = {np.float64: 1e-12, np.float32: 1e-5}


def _data(dtype, seed=0):
    """Training rows with duplicates in other blocks (distance ties across blocks), and
    queries on some training rows and between duplicates."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 6))
    X[[100, 150, 180]] = X[10]  # four copies of row 10, in three blocks
    X[199] = X[0]
    Q = rng.standard_normal((50, 6))
    Q[3] = X[10]
    Q[7] = X[0]
    y = rng.integers(0, 3, 200)
    return X.astype(dtype), Q.astype(dtype), y


def _dask(X, Q, y=None):
    Xd = da.from_array(X, chunks=TRAIN_CHUNKS)
    Qd = da.from_array(Q, chunks=QUERY_CHUNKS)
    if y is None:
        return Xd, Qd
    return (
        Xd,
        Qd,
        da.from_array(y, chunks=(TRAIN_CHUNKS[0],) + ((y.shape[1],) if y.ndim == 2 else ())),
    )


def _assert_neighbors_equal(lazy, eager, dtype):
    distances, indices = lazy
    expected_distances, expected_indices = eager
    np.testing.assert_array_equal(indices.compute(), expected_indices)
    computed = distances.compute()
    assert computed.dtype == dtype
    np.testing.assert_allclose(computed, expected_distances, rtol=ATOL[dtype], atol=ATOL[dtype])


@DTYPES
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan", "cosine"])
def test_kneighbors_of_chunked_training_data_equals_numpy(metric, dtype):
    X, Q, _ = _data(dtype)
    Xd, Qd = _dask(X, Q)
    with count_dask_computes() as fit_computes:
        lazy = NearestNeighbors(n_neighbors=6, metric=metric).fit(Xd)
    assert fit_computes.count == 1  # the finiteness check of X
    eager = NearestNeighbors(n_neighbors=6, metric=metric).fit(X)
    assert lazy.n_samples_fit_ == eager.n_samples_fit_ == 200
    assert lazy.n_features_in_ == 6
    with count_dask_computes() as query_computes:
        found = lazy.kneighbors(Qd)
        own = lazy.kneighbors()  # the training rows, each without itself
        fewer = lazy.kneighbors(Qd, n_neighbors=2)
    assert query_computes.count == 0
    assert found[1].chunks == ((20, 0, 30), (6,))
    _assert_neighbors_equal(found, eager.kneighbors(Q), dtype)
    _assert_neighbors_equal(own, eager.kneighbors(), dtype)
    _assert_neighbors_equal(fewer, eager.kneighbors(Q, n_neighbors=2), dtype)
    # the ties across blocks come in index order, as in memory
    np.testing.assert_array_equal(found[1][3, :4].compute(), [10, 100, 150, 180])


def test_kneighbors_equal_scikit_learn():
    X, Q, _ = _data(np.float64, seed=3)
    Xd, Qd = _dask(X, Q)
    distances, indices = NearestNeighbors(n_neighbors=5).fit(Xd).kneighbors(Qd)
    ref_distances, ref_indices = sk.NearestNeighbors(n_neighbors=5).fit(X).kneighbors(Q)
    # scikit-learn does not fix the order of ties: compare the rows without ties
    computed = indices.compute()
    untied = np.all(np.diff(ref_distances, axis=1) > 1e-9, axis=1)
    np.testing.assert_array_equal(computed[untied], ref_indices[untied])
    np.testing.assert_allclose(distances.compute(), ref_distances, atol=1e-12)


def test_fit_keeps_the_training_data_lazy():
    X, _, y = _data(np.float64)
    Xd = da.from_array(X, chunks=TRAIN_CHUNKS) * 1.0  # a graph over the input
    model = KNeighborsClassifier().fit(Xd, da.from_array(y, chunks=(TRAIN_CHUNKS[0],)))
    # not materialised: the kept rows are still the graph over the input blocks
    assert len(model._fit_X.__dask_graph__().layers) > 1
    np.testing.assert_array_equal(model._fit_X.compute(), X)
    assert model._y_votes is None  # the codes travel with the search instead


@DTYPES
@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("labels", ["integers", "strings"])
def test_classifier_on_chunked_data_equals_numpy(weights, labels, dtype):
    X, Q, y = _data(dtype)
    if labels == "strings":
        y = np.array(["ant", "bee", "cat"])[y]
        y_fit = y  # host labels come as they are
    else:
        y_fit = da.from_array(y, chunks=(TRAIN_CHUNKS[0],))
    Xd, Qd = _dask(X, Q)
    with count_dask_computes() as fit_computes:
        lazy = KNeighborsClassifier(n_neighbors=5, weights=weights).fit(Xd, y_fit)
    # the finiteness check of X, and the classes of device labels
    assert fit_computes.count == (1 if labels == "strings" else 2)
    eager = KNeighborsClassifier(n_neighbors=5, weights=weights).fit(X, y)
    np.testing.assert_array_equal(np.asarray(lazy.classes_), eager.classes_)
    if labels == "integers":
        assert len(lazy.classes_.__dask_graph__().layers) == 1  # in memory
    with count_dask_computes() as query_computes:
        predicted = lazy.predict(Qd)
        proba = lazy.predict_proba(Qd)
        found = lazy.kneighbors(Qd)
    assert query_computes.count == 0
    assert predicted.chunks == ((20, 0, 30),)
    np.testing.assert_array_equal(predicted.compute(), eager.predict(Q))
    computed = proba.compute()
    assert computed.dtype == dtype
    np.testing.assert_allclose(computed, eager.predict_proba(Q), rtol=ATOL[dtype], atol=1e-12)
    _assert_neighbors_equal(found, eager.kneighbors(Q), dtype)
    assert lazy.score(Qd, eager.predict(Q)) == 1.0


@DTYPES
@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("n_targets", [None, 2])
def test_regressor_on_chunked_data_equals_numpy(weights, n_targets, dtype):
    X, Q, _ = _data(dtype)
    rng = np.random.default_rng(1)
    y = rng.standard_normal(200 if n_targets is None else (200, n_targets)).astype(dtype)
    Xd, Qd, yd = _dask(X, Q, y)
    with count_dask_computes() as fit_computes:
        lazy = KNeighborsRegressor(n_neighbors=4, weights=weights).fit(Xd, yd)
    assert fit_computes.count == 1  # the finiteness checks of X and of y, together
    eager = KNeighborsRegressor(n_neighbors=4, weights=weights).fit(X, y)
    with count_dask_computes() as query_computes:
        predicted = lazy.predict(Qd)
    assert query_computes.count == 0
    computed = predicted.compute()
    assert computed.dtype == dtype
    assert computed.shape == eager.predict(Q).shape
    np.testing.assert_allclose(computed, eager.predict(Q), rtol=ATOL[dtype], atol=ATOL[dtype])


def test_regressor_callable_weights():
    X, Q, _ = _data(np.float64)
    y = np.arange(200, dtype=np.float64)
    Xd, Qd, yd = _dask(X, Q, y)

    def weights(distances):
        return 1.0 / (1.0 + distances)

    lazy = KNeighborsRegressor(weights=weights).fit(Xd, yd).predict(Qd)
    eager = KNeighborsRegressor(weights=weights).fit(X, y).predict(Q)
    np.testing.assert_allclose(lazy.compute(), eager, rtol=1e-12)


@pytest.mark.parametrize(
    ("model", "with_y"),
    [(NearestNeighbors(), False), (KNeighborsClassifier(), True), (KNeighborsRegressor(), True)],
)
def test_nan_in_one_block_raises_at_fit(model, with_y):
    X, _, y = _data(np.float64)
    X[130, 2] = np.nan  # in the third row block
    Xd = da.from_array(X, chunks=TRAIN_CHUNKS)
    arguments = (
        (Xd, da.from_array(y.astype(np.float64), chunks=(TRAIN_CHUNKS[0],))) if with_y else (Xd,)
    )
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"{name}\.fit\(\): .*NaN"):
        model.fit(*arguments)


def test_nan_in_y_raises_at_fit_and_a_failed_fit_leaves_the_model_unfitted():
    X, _, _ = _data(np.float64)
    y = np.arange(200, dtype=np.float64)
    y[140] = np.inf
    model = KNeighborsRegressor()
    message = r"KNeighborsRegressor\.fit\(\): .*y contains inf"
    with count_dask_computes() as computes, pytest.raises(ValueError, match=message):
        model.fit(da.from_array(X, chunks=TRAIN_CHUNKS), da.from_array(y, chunks=50))
    assert computes.count == 1
    assert not hasattr(model, "n_features_in_")
    assert not hasattr(model, "_fit_X")


def test_assume_finite_fit_computes_nothing():
    X, Q, _ = _data(np.float64)
    Xd, Qd = _dask(X, Q)
    with config_context(assume_finite=True), count_dask_computes() as computes:
        model = NearestNeighbors().fit(Xd)
    assert computes.count == 0
    np.testing.assert_array_equal(
        model.kneighbors(Qd)[1].compute(), NearestNeighbors().fit(X).kneighbors(Q)[1]
    )


def test_nan_in_queries_raises_when_computed():
    X, Q, _ = _data(np.float64)
    Q[25, 0] = np.nan
    Xd, Qd = _dask(X, Q)
    distances, _ = NearestNeighbors().fit(Xd).kneighbors(Qd)  # nothing computed yet
    with pytest.raises(ValueError, match=r"NearestNeighbors\.kneighbors\(\): .*NaN"):
        distances.compute()


def test_errors_at_the_call():
    X, Q, y = _data(np.float64)
    Xd, Qd = _dask(X, Q)
    model = NearestNeighbors().fit(Xd)
    with pytest.raises(ValueError, match=r"n_neighbors <= n_samples_fit = 200"):
        model.kneighbors(Qd, n_neighbors=201)
    with pytest.raises(ValueError, match=r"n_samples_fit - 1 .* = 199"):
        model.kneighbors(n_neighbors=200)
    with pytest.raises(ValueError, match=r"X has 5 features"):
        model.kneighbors(Qd[:, :5])
    # NumPy queries to a model fitted on Dask: the fitted namespace is Dask
    with pytest.raises(ValueError, match=r"fitted on dask .* but X is numpy"):
        model.kneighbors(Q)
    classifier = KNeighborsClassifier().fit(Xd, y)
    with pytest.raises(ValueError, match=r"fitted on dask .* but X is numpy"):
        classifier.predict(Q)


def test_radius_neighbors_stay_eager_on_chunked_training_data():
    X, Q, _ = _data(np.float64)
    Xd, Qd = _dask(X, Q)
    lazy = NearestNeighbors(radius=1.5).fit(Xd)
    eager = NearestNeighbors(radius=1.5).fit(X)
    with count_dask_computes() as computes:
        indptr, indices, _ = lazy.radius_neighbors(Qd, return_csr=True)
    assert computes.count >= 1  # ragged results: computed
    expected = eager.radius_neighbors(Q, return_csr=True)
    np.testing.assert_array_equal(np.asarray(indptr), expected[0])
    np.testing.assert_array_equal(np.asarray(indices), expected[1])


@pytest.mark.parametrize("n_neighbors", [1, 7, 40])
def test_many_training_blocks_merge_in_a_tree(n_neighbors):
    # 23 training blocks, more than one merge takes (8): a tree of two levels; blocks
    # of fewer rows than n_neighbors; the copies of row 10 span several blocks
    X, Q, _ = _data(np.float64, seed=2)
    chunks = (*([7] * 20), 0, 40, 20)
    Xd = da.from_array(X, chunks=(chunks, (6,)))
    Qd = da.from_array(Q, chunks=QUERY_CHUNKS)
    lazy = NearestNeighbors(n_neighbors=n_neighbors).fit(Xd)
    eager = NearestNeighbors(n_neighbors=n_neighbors).fit(X)
    with count_dask_computes() as computes:
        found, own = lazy.kneighbors(Qd), lazy.kneighbors()
    assert computes.count == 0
    _assert_neighbors_equal(found, eager.kneighbors(Q), np.float64)
    _assert_neighbors_equal(own, eager.kneighbors(), np.float64)


def test_convert_between_dask_and_numpy():
    X, Q, y = _data(np.float64)
    Xd, Qd, yd = _dask(X, Q, y)
    eager = KNeighborsClassifier().fit(X, y)
    # fitted on Dask, served in memory (the vote then compares the codes: no table)
    served = xplearn.convert(KNeighborsClassifier().fit(Xd, yd), to="numpy")
    np.testing.assert_array_equal(served.predict(Q), eager.predict(Q))
    # fitted in memory, served on Dask: one training block
    moved = xplearn.convert(eager, to="dask")
    np.testing.assert_array_equal(moved.predict(Qd).compute(), eager.predict(Q))
    np.testing.assert_array_equal(moved.kneighbors(Qd)[1].compute(), eager.kneighbors(Q)[1])


def test_merge_orders_by_float64_distances_where_float32_roundings_tie():
    """Rows 0 and 1, in different training blocks, have float64 squared distances 1 +
    2**-24 and 1 to the query: equal once rounded to float32. The in-memory search puts
    row 1 first (float64 order); the block merge must too (until issue 15 it merged the
    rounded values and kept row 0 first)."""
    rng = np.random.default_rng(0)
    Y = np.concatenate([[[1.0, 2.0**-12], [1.0, 0.0]], 5 + rng.random((40, 2))]).astype(np.float32)
    X = np.zeros((3, 2), dtype=np.float32)
    for metric in ("sqeuclidean", "euclidean"):
        eager = NearestNeighbors(n_neighbors=3, metric=metric).fit(Y).kneighbors(X)
        np.testing.assert_array_equal(eager[1][:, :2], [[1, 0]] * 3)
        model = NearestNeighbors(n_neighbors=3, metric=metric)
        model.fit(da.from_array(Y, chunks=((1, 1, 40), 2)))
        _assert_neighbors_equal(model.kneighbors(da.from_array(X, chunks=2)), eager, np.float32)


@DTYPES
@pytest.mark.parametrize("spread", [1e-2, 1e-3, 1e-5])
def test_geographic_data_on_chunked_training_equals_numpy(dtype, spread):
    """Two cities' lat/lon points: the Dask block search equals the in-memory one and the
    direct float64 oracle (stable argsort), ties included."""
    rng = np.random.default_rng(1)
    centers = np.array([[48.8566, 2.3522], [45.7640, 4.8357]])
    Y = (centers[rng.integers(0, 2, 400)] + spread * rng.standard_normal((400, 2))).astype(dtype)
    X = (centers[rng.integers(0, 2, 30)] + spread * rng.standard_normal((30, 2))).astype(dtype)
    diff = X.astype(np.float64)[:, None] - Y.astype(np.float64)[None]
    expected = np.argsort((diff * diff).sum(-1), axis=1, kind="stable")[:, :6]
    eager = NearestNeighbors(n_neighbors=6).fit(Y).kneighbors(X)
    np.testing.assert_array_equal(eager[1], expected)
    model = NearestNeighbors(n_neighbors=6).fit(da.from_array(Y, chunks=((90, 110, 200), 2)))
    _assert_neighbors_equal(model.kneighbors(da.from_array(X, chunks=(12, 2))), eager, dtype)
