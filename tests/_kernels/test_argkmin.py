"""The neighbour kernels: numba against the array-API oracle and an exact reference."""

import numpy as np
import pytest

import xplearn
from xplearn._kernels import argkmin, radius_neighbors
from xplearn._kernels._numba import argkmin_numpy, neighbor_tiles, radius_numpy
from xplearn._xp import to_numpy

METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]
# (n_queries, n_train, n_features, k): one query, k = n_train, sizes that are not
# multiples of the tiles, several query blocks and training tiles, and few queries
# against many training tiles (training parts merged, k larger than a tile's share)
SHAPES = [
    (1, 50, 3, 4),
    (7, 9, 2, 9),
    (97, 301, 5, 5),
    (300, 2100, 17, 10),
    (600, 700, 64, 3),
    (3, 5000, 64, 5),
    (2, 1100, 64, 300),
]


def _data(n_queries, n_train, n_features, dtype, seed=0):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((n_train, n_features)) + 3 * rng.integers(0, 3, (n_train, 1))
    X = rng.standard_normal((n_queries, n_features)) + 1.5
    return X.astype(dtype), Y.astype(dtype)


def _exact(X, Y, metric):
    A, B = X.astype(np.float64), Y.astype(np.float64)
    if metric == "manhattan":
        return np.abs(A[:, None] - B[None]).sum(-1)
    if metric == "cosine":
        na = np.linalg.norm(A, axis=1)[:, None]
        nb = np.linalg.norm(B, axis=1)[None]
        return np.clip(1 - (A @ B.T) / (na * nb), 0, 2)
    sq = ((A[:, None] - B[None]) ** 2).sum(-1)
    return np.sqrt(sq) if metric == "euclidean" else sq


def _reference_argkmin(X, Y, k, metric):
    """The float64 distances' stable order (ties by index), distances rounded once."""
    D = _exact(X, Y, metric)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, order, axis=1).astype(X.dtype), order


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_numba_argkmin_matches_exact_reference(shape, metric, dtype):
    n_queries, n_train, n_features, k = shape
    X, Y = _data(n_queries, n_train, n_features, dtype)
    distances, indices = argkmin_numpy(X, Y, k, metric)
    ref_d, ref_i = _reference_argkmin(X, Y, k, metric)
    assert distances.dtype == dtype
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, ref_i)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(distances, ref_d, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("metric", METRICS)
def test_xp_oracle_matches_numba(metric, dtype):
    X, Y = _data(150, 1300, 6, dtype, seed=3)
    with xplearn.config_context(kernel="xp", working_memory=1):
        oracle = argkmin(X, Y, 7, metric)
        oracle_radius = radius_neighbors(X, Y, 1.0 if metric != "cosine" else 0.05, metric)
    fast = argkmin(X, Y, 7, metric)
    np.testing.assert_array_equal(to_numpy(oracle[1]), fast[1])
    np.testing.assert_allclose(to_numpy(oracle[0]), fast[0], rtol=1e-6, atol=1e-12)
    fast_radius = radius_neighbors(X, Y, 1.0 if metric != "cosine" else 0.05, metric)
    for a, b in zip(oracle_radius[:2], fast_radius[:2], strict=True):
        np.testing.assert_array_equal(to_numpy(a), b)
    np.testing.assert_allclose(to_numpy(oracle_radius[2]), fast_radius[2], rtol=1e-6)


def test_ties_go_to_the_smaller_index_on_every_backend(backend):
    # a grid: many exactly equal distances, and duplicated training rows
    Y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, 0.0]])
    X = np.array([[0.0, 0.0], [1.0, 0.0]])
    distances, indices = argkmin(backend.asarray(X), backend.asarray(Y), 5, "euclidean")
    assert to_numpy(indices).tolist() == [[0, 1, 2, 3, 4], [1, 5, 0, 2, 4]]
    np.testing.assert_allclose(to_numpy(distances)[1, :2], [0.0, 0.0], atol=0)


def test_far_offset_data_keeps_exact_neighbours():
    """Selection runs on centered, rescaled float32 tiles: an offset of 1e6 in float64
    data loses nothing, and identical points are at distance exactly 0."""
    X, Y = _data(40, 500, 8, np.float64, seed=5)
    shift = 1e6
    distances, indices = argkmin_numpy(X + shift, Y + shift, 6, "euclidean")
    ref_d, ref_i = _reference_argkmin(X + shift, Y + shift, 6, "euclidean")
    np.testing.assert_array_equal(indices, ref_i)
    np.testing.assert_allclose(distances, ref_d, rtol=1e-9)
    d_self, i_self = argkmin_numpy(Y[:5] + shift, Y + shift, 1, "euclidean")
    assert i_self.ravel().tolist() == list(range(5))
    assert np.all(d_self == 0)


@pytest.mark.parametrize("sort_results", [False, True])
@pytest.mark.parametrize("metric", METRICS)
def test_numba_radius_matches_exact_reference(metric, sort_results):
    X, Y = _data(120, 900, 5, np.float64, seed=1)
    radius = {"euclidean": 2.0, "sqeuclidean": 4.0, "manhattan": 3.0, "cosine": 0.1}[metric]
    indptr, indices, distances = radius_numpy(X, Y, radius, metric, sort_results)
    D = _exact(X, Y, metric)
    for row in range(X.shape[0]):
        got = indices[indptr[row] : indptr[row + 1]]
        expected = np.flatnonzero(D[row] <= radius)
        if sort_results:
            expected = expected[np.lexsort((expected, D[row, expected]))]
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_allclose(distances[indptr[row] : indptr[row + 1]], D[row, got])


def test_result_does_not_depend_on_the_thread_count():
    numba = pytest.importorskip("numba")
    X, Y = _data(50, 4000, 16, np.float32, seed=9)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = argkmin_numpy(X, Y, 6, "euclidean")
        numba.set_num_threads(previous)
        many = argkmin_numpy(X, Y, 6, "euclidean")
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(one[1], many[1])
    np.testing.assert_array_equal(one[0], many[0])


def test_tiles_depend_on_the_shape_only():
    plan = neighbor_tiles(10_000, 100_000, 64, 4)
    assert plan["n_parts"] == 1
    few = neighbor_tiles(3, 100_000, 64, 4)
    assert few["n_parts"] > 1
    assert few["part_len"] % few["t_tile"] == 0
    assert few["n_parts"] * few["part_len"] >= 100_000


def test_numba_kernel_refuses_other_arrays_when_forced():
    torch = pytest.importorskip("torch")
    X = torch.zeros((3, 2), dtype=torch.float64)
    with xplearn.config_context(kernel="numba"), pytest.raises(ValueError, match="kernel='numba'"):
        argkmin(X, X, 1, "euclidean", method="f()")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_xp_oracle_far_offset_data(backend, dtype):
    """The array-API search also ranks on centered rows: a large offset loses nothing."""
    from xplearn.testing import skip_without_float64

    skip_without_float64(backend, dtype)
    X, Y = _data(30, 400, 5, np.float64, seed=6)
    offset = 1e4 if dtype == np.float32 else 1e7
    X, Y = (X + offset).astype(dtype), (Y + offset).astype(dtype)
    with xplearn.config_context(kernel="xp"):
        _, indices = argkmin(backend.asarray(X), backend.asarray(Y), 3, "sqeuclidean")
    _, expected = argkmin_numpy(X, Y, 3, "sqeuclidean")
    exact = _exact(X, Y, "sqeuclidean")
    got = np.take_along_axis(exact, to_numpy(indices), 1)
    np.testing.assert_allclose(got, np.take_along_axis(exact, expected, 1), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean"])
@pytest.mark.parametrize("n_queries", [1, 4, 5])
@pytest.mark.parametrize("n_train", [20, 3000])
def test_packed_training_index_gives_the_same_neighbours(n_train, n_queries, metric, dtype):
    """Few queries scan the rows packed at fit (in blocks of PACK_BLOCK rows: 3000 ends
    with a partial block, 20 is less than one); more queries take the tiled kernel: both
    return the exact k nearest (same as without an index), far offsets included."""
    from xplearn._kernels._numba import training_index

    X, Y = _data(n_queries, n_train, 19, dtype, seed=5)
    X, Y = X + 1e4, Y + 1e4  # a large common offset: the ranking must be centered
    index = training_index(Y)
    assert index[2] is not None  # small enough to pack
    got_d, got_i = argkmin_numpy(X, Y, 7, metric, index)
    plain_d, plain_i = argkmin_numpy(X, Y, 7, metric)
    np.testing.assert_array_equal(got_i, plain_i)
    np.testing.assert_array_equal(got_d, plain_d)
    exact = _exact(X, Y, metric)
    np.testing.assert_array_equal(got_i, np.argsort(exact, axis=1, kind="stable")[:, :7])


def test_manhattan_ranks_the_float64_distances():
    # float32 rows whose float64 sums differ below float32's resolution: 1 - 2**-26 (row
    # 0) and 1 - 2**-25 (row 1) both round to 1.0. The order is that of the float64
    # distances (the direct-difference reference), not of the rounded values returned:
    # row 1 is nearer. (Until issue 15 the rounded values were ranked, row 0 first.)
    Y = np.array(
        [[0.5, 0.25, 0.25 - 2.0**-26], [0.5, 0.25 - 2.0**-25, 0.25], [0.5, 0.5, 0.5]],
        dtype=np.float32,
    )
    X = np.zeros((1, 3), dtype=np.float32)
    distances, indices = argkmin_numpy(X, Y, 1, "manhattan")
    assert distances[0, 0] == np.float32(1.0)
    assert indices[0, 0] == 1
    distances, indices = argkmin_numpy(X, Y, 2, "manhattan")
    np.testing.assert_array_equal(indices[0], [1, 0])
    np.testing.assert_array_equal(distances[0], [1.0, 1.0])
