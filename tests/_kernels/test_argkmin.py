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


# ---------------------------------------------------------------------------------------
# Exact neighbour sets on hard data (issue 15): every backend against a direct-difference
# float64 oracle, stable argsort (ties by the smaller index)


def _oracle_distances(X, Y, metric):
    """Direct float64 differences; euclidean on differences scaled by a power of two (its
    value is representable even where the squares are not), sqeuclidean the plain sum."""
    A, B = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if metric == "cosine":
        units = []
        for Z in (A, B):  # unit rows, scaled first (no overflow); zero rows stay zero
            Z = Z / np.where((top := np.abs(Z).max(1, keepdims=True)) > 0, top, 1.0)
            units.append(Z / np.where((n := np.linalg.norm(Z, axis=1, keepdims=True)) > 0, n, 1))
        return np.clip(1.0 - units[0] @ units[1].T, 0.0, 2.0)
    diff = A[:, None, :] - B[None, :, :]
    if metric == "manhattan":
        return np.abs(diff).sum(-1)
    with np.errstate(over="ignore", under="ignore"):
        if metric == "sqeuclidean":
            return (diff * diff).sum(-1)
        top = float(np.max(np.abs(diff), initial=0.0))
        scale = 2.0 ** -np.ceil(np.log2(top)) if top > 0 else 1.0
        return np.sqrt(((diff * scale) ** 2).sum(-1)) / scale


def _oracle(X, Y, k, metric):
    D = _oracle_distances(X, Y, metric)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, order, axis=1), order


def _two_cities(rng, n, spread, dtype):
    """Latitude/longitude points around Paris and Lyon, ``spread`` degrees."""
    centers = np.array([[48.8566, 2.3522], [45.7640, 4.8357]])
    return (centers[rng.integers(0, 2, n)] + spread * rng.standard_normal((n, 2))).astype(dtype)


def _hard(case, dtype, seed=0):
    """(queries, training rows) of a named hard case."""
    rng = np.random.default_rng(seed)
    if case.startswith("cities"):
        spread = float(case.split("-", 1)[1])
        return _two_cities(rng, 40, spread, dtype), _two_cities(rng, 700, spread, dtype)
    if case == "cluster+far":  # a float64 cluster of spread 1e-5, unrelated far points
        Y = np.concatenate(
            [3.0 + 1e-5 * rng.standard_normal((400, 3)), 50 * rng.standard_normal((300, 3))]
        )
        return (3.0 + 1e-5 * rng.standard_normal((40, 3))).astype(dtype), Y.astype(dtype)
    if case.startswith("offset"):
        offset = float(case.split("-", 1)[1])
        Y = offset + rng.standard_normal((600, 4))
        return (offset + rng.standard_normal((40, 4))).astype(dtype), Y.astype(dtype)
    if case == "mixed":
        scales, offsets = np.array([1.0, 1e-2, 0.1, 1e3]), np.array([0.0, 5.0, 300.0, 1e4])
        Y = offsets + scales * rng.standard_normal((600, 4))
        return (offsets + scales * rng.standard_normal((40, 4))).astype(dtype), Y.astype(dtype)
    if case == "duplicates":
        unique = rng.standard_normal((25, 3)) + 1e3
        Y = unique[rng.integers(0, 25, 600)]
        return unique[rng.integers(0, 25, 40)].astype(dtype), Y.astype(dtype)
    magnitude = float(case.split("-", 1)[1])  # "magnitude-1e20"
    Y = magnitude * rng.standard_normal((600, 4))
    return (magnitude * rng.standard_normal((40, 4))).astype(dtype), Y.astype(dtype)


HARD = {
    np.float32: [
        "cities-1e-2",
        "cities-1e-3",
        "cities-1e-5",
        "offset-1e2",
        "offset-1e4",
        "mixed",
        "duplicates",
        "magnitude-1e20",
        "magnitude-1e30",
        "magnitude-1e-20",
        "magnitude-1e-23",
        "magnitude-1e-30",
    ],
    np.float64: [
        "cities-1e-2",
        "cities-1e-3",
        "cities-1e-5",
        "cluster+far",
        "offset-1e2",
        "offset-1e8",
        "mixed",
        "duplicates",
        "magnitude-1e150",
        "magnitude-1e200",
        "magnitude-1e-150",
        "magnitude-1e-200",
    ],
}
HARD_PARAMS = [(dtype, case) for dtype, cases in HARD.items() for case in cases]


def _check_exact(distances, indices, X, Y, k, metric):
    ref_d, ref_i = _oracle(X, Y, k, metric)
    distances, indices = to_numpy(distances), to_numpy(indices)
    if metric == "cosine":
        # the oracle's float64 rounding differs from the kernels' (a matrix product):
        # the set is exact up to distances within 1e-15 of the k-th
        D = _oracle_distances(X, Y, metric)
        got = np.take_along_axis(D, indices, 1)
        np.testing.assert_allclose(got, ref_d, rtol=0, atol=1e-14)
    else:
        np.testing.assert_array_equal(indices, ref_i)
    assert indices.min() >= 0
    assert indices.max() < Y.shape[0]
    with np.errstate(over="ignore", under="ignore"):
        expected = ref_d.astype(X.dtype)
    rtol = 2e-7 if X.dtype == np.float32 else 1e-13
    atol = 2e-15 if metric == "cosine" else 0
    np.testing.assert_allclose(distances, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(("dtype", "case"), HARD_PARAMS, ids=str)
def test_numba_argkmin_is_exact_on_hard_data(dtype, case, metric):
    """Until issue 15: two cities' points at 0.01 degree ~20% exact sets, 0.001 and the
    float64 cluster 0%; extreme magnitudes ordered by index (overflowed refine)."""
    from xplearn._kernels._numba import training_index

    X, Y = _hard(case, dtype)
    with np.errstate(over="ignore", under="ignore"):
        _check_exact(*argkmin_numpy(X, Y, 5, metric), X, Y, 5, metric)
        if metric in ("euclidean", "sqeuclidean"):  # the packed few-query path
            index = training_index(Y)
            _check_exact(*argkmin_numpy(X[:3], Y, 5, metric, index), X[:3], Y, 5, metric)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(("dtype", "case"), HARD_PARAMS, ids=str)
def test_xp_argkmin_is_exact_on_hard_data(backend, dtype, case, metric):
    """The array-API path (torch, array-api-strict, kernel='xp') gives the numba path's
    results (until issue 15: torch 0% exact on float32 at 1e19)."""
    from xplearn.testing import skip_without_float64

    skip_without_float64(backend, np.float64)  # exact needs float64 accumulation
    X, Y = _hard(case, dtype)
    with xplearn.config_context(kernel="xp"), np.errstate(over="ignore", under="ignore"):
        d, i = argkmin(backend.asarray(X), backend.asarray(Y), 5, metric)
    with np.errstate(over="ignore", under="ignore"):
        _check_exact(d, i, X, Y, 5, metric)
        _fast_d, fast_i = argkmin_numpy(X, Y, 5, metric)
    if metric != "cosine":
        np.testing.assert_array_equal(to_numpy(i), fast_i)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(
    ("dtype", "case"),
    [(np.float32, "cities-1e-3"), (np.float64, "cluster+far"), (np.float32, "magnitude-1e20"),
     (np.float64, "magnitude-1e-150"), (np.float64, "duplicates")],
    ids=str,
)  # fmt: skip
def test_radius_membership_by_the_exact_distance(backend, dtype, case, metric):
    """Every row whose float64 distance is <= radius, and no other (both paths)."""
    from xplearn.testing import skip_without_float64

    skip_without_float64(backend, np.float64)
    X, Y = _hard(case, dtype)
    D = _oracle_distances(X, Y, metric)
    radius = float(np.quantile(D, 0.02))  # about 2% of the training rows
    for kernel in ("auto", "xp"):
        with xplearn.config_context(kernel=kernel), np.errstate(over="ignore", under="ignore"):
            indptr, indices, _distances = (
                to_numpy(a)
                for a in radius_neighbors(
                    backend.asarray(X), backend.asarray(Y), radius, metric, sort_results=True
                )
            )
        for row in range(X.shape[0]):
            got = indices[indptr[row] : indptr[row + 1]]
            expected = np.flatnonzero(D[row] <= radius)
            if metric == "cosine":  # rounding of the oracle's matrix product
                assert set(got) ^ set(expected) <= set(np.flatnonzero(abs(D[row] - radius) < 1e-14))
                continue
            expected = expected[np.argsort(D[row, expected], kind="stable")]
            np.testing.assert_array_equal(got, expected)


def test_radius_of_1e300_and_bad_radii():
    from xplearn.metrics import pairwise_distances_radius

    X, Y = _data(5, 40, 3, np.float64)
    for kernel in ("auto", "xp"):
        with xplearn.config_context(kernel=kernel):
            indptr, _indices, _ = radius_neighbors(X, Y, 1e300, "euclidean")
            assert int(to_numpy(indptr)[-1]) == 5 * 40  # was a bare OverflowError
            indptr, _, _ = radius_neighbors(X, Y, 1e300, "sqeuclidean")
            assert int(to_numpy(indptr)[-1]) == 5 * 40
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="radius"):
            pairwise_distances_radius(X, Y, bad)


@pytest.mark.parametrize("metric", METRICS)
def test_nan_training_row_never_gives_an_index_out_of_range(backend, metric):
    """With assume_finite a NaN training row is accepted: its distances are NaN and
    order last (as numpy's sort and scikit-learn's brute search); no index -1 (until
    issue 15 every query returned -1, read by NumPy as the last row)."""
    X, Y = _data(6, 30, 3, np.float64, seed=2)
    Y[4, 1] = np.nan
    for kernel in ("auto", "xp"):
        with xplearn.config_context(kernel=kernel, assume_finite=True):
            d, i = argkmin(backend.asarray(X), backend.asarray(Y), 30, metric)
        i = to_numpy(i)
        assert i.min() >= 0
        assert i.max() < 30
        np.testing.assert_array_equal(i[:, -1], 4)
        assert np.isnan(to_numpy(d)[:, -1]).all()
        ref = np.argsort(_oracle_distances(X, Y, metric), axis=1, kind="stable")
        if metric != "cosine":
            np.testing.assert_array_equal(i, ref)


def test_ordered_by_float64_distance_where_float32_roundings_tie():
    """Two float32 training rows whose float64 distances to the query differ but round to
    the same float32 value: the nearer in float64 comes first, on both paths."""
    Y = np.array([[1.0, 2.0**-12], [1.0, 0.0]], dtype=np.float32)
    X = np.zeros((1, 2), dtype=np.float32)
    D = _oracle_distances(X, Y, "sqeuclidean")
    assert D[0, 1] < D[0, 0]
    assert np.float32(D[0, 1]) == np.float32(D[0, 0])
    for kernel in ("auto", "xp"):
        with xplearn.config_context(kernel=kernel):
            _, indices = argkmin(X, Y, 2, "sqeuclidean")
        np.testing.assert_array_equal(to_numpy(indices), [[1, 0]])


def test_exact_property_on_hypothesis_hard_arrays():
    """numba and array-API results equal the direct-difference oracle on hard data."""
    from hypothesis import given
    from hypothesis import strategies as st

    from xplearn.testing.hard_data import hard_arrays

    @given(
        st.sampled_from([np.float32, np.float64]).flatmap(
            lambda dtype: st.tuples(hard_arrays(dtype, min_rows=4, max_rows=40), st.integers(0, 9))
        ),
        st.sampled_from(["euclidean", "sqeuclidean", "manhattan"]),
        st.integers(1, 3),
    )
    def check(data, metric, k):
        Y, split = data
        X = Y[split % 3 :: 3]
        with np.errstate(over="ignore", under="ignore"):
            ref_d, ref_i = _oracle(X, Y, k, metric)
            d, i = argkmin_numpy(X, Y, k, metric)
            np.testing.assert_array_equal(i, ref_i)
            with xplearn.config_context(kernel="xp"):
                _d2, i2 = argkmin(X, Y, k, metric)
            np.testing.assert_array_equal(i2, ref_i)
            np.testing.assert_array_equal(d, ref_d.astype(X.dtype))

    check()
