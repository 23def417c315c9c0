"""The Lloyd-pass kernels: numba against the array-API oracle, dispatch and threads."""

import numpy as np
import pytest

import xplearn
from xplearn._kernels import kernel_backend, kernel_session, last_session_threads, lloyd_pass
from xplearn._kernels._numba import lloyd_pass_numpy, tile_plan
from xplearn._kernels._numba._lloyd import LARGE_MR, SMALL_MR
from xplearn._xp import to_numpy
from xplearn.testing import assert_allclose_xp

# (n_samples, n_features, n_clusters): few clusters (one vector of lanes), many clusters
# in one cache block, many clusters in several blocks (d=96 float32: 85 per block), and
# sizes that are not multiples of the tiles' 6 / 4 rows or of the chunk size.
SHAPES = [
    (1, 3, 1),
    (7, 2, 3),
    (97, 5, 4),
    (301, 17, 9),
    (1000, 32, 8),
    (523, 64, 40),
    (700, 96, 200),
    (50, 3, 50),
]


def _problem(n, d, k, dtype, seed=0, weighted=False):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) + 5 * rng.integers(0, 3, (n, 1))).astype(dtype)
    centers = X[rng.choice(n, k, replace=False)] + rng.normal(0, 0.1, (k, d))
    shift = X.mean(axis=0).astype(dtype)
    weights = rng.uniform(0.5, 2.0, n).astype(dtype) if weighted else None
    return X, (centers - shift).astype(dtype), shift, weights


def _reference(X, centers, shift, weights):
    """Exact float64 assignment, sums, weights and inertia."""
    Xs = X.astype(np.float64) - shift
    distances = ((Xs[:, None, :] - centers.astype(np.float64)[None]) ** 2).sum(-1)
    labels = distances.argmin(1)
    w = np.ones(len(X)) if weights is None else weights.astype(np.float64)
    k = centers.shape[0]
    sums = np.zeros(centers.shape)
    np.add.at(sums, labels, w[:, None] * Xs)
    return (
        labels,
        sums,
        np.bincount(labels, weights=w, minlength=k),
        np.bincount(labels, minlength=k),
        float((distances.min(1) * w).sum()),
        distances,
    )


def _no_near_ties(distances, labels, rtol):
    """Rows whose best and second-best centers are well separated (rounding-proof)."""
    ordered = np.sort(distances, axis=1)
    if ordered.shape[1] < 2:
        return np.ones(len(labels), dtype=bool)
    gap = ordered[:, 1] - ordered[:, 0]
    return gap > rtol * (1 + np.abs(distances).max(axis=1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d", "k"), SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_numba_matches_exact_and_xp(n, d, k, dtype, weighted):
    """The numba pass gives the exact labels, sums, weights, counts and inertia, and
    agrees with the array-API implementation (its oracle)."""
    X, centers, shift, weights = _problem(n, d, k, dtype, seed=n + k, weighted=weighted)
    labels_ref, sums_ref, w_ref, counts_ref, inertia_ref, distances = _reference(
        X, centers, shift, weights
    )
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    clear = _no_near_ties(distances, labels_ref, 1e-12 if dtype == np.float64 else 1e-5)
    previous = np.zeros(n, dtype=np.int32)
    results = {}
    for kernel in ("numba", "xp"):
        with xplearn.config_context(kernel=kernel):
            results[kernel] = lloyd_pass(
                X,
                centers,
                sample_weight=weights,
                shift=shift,
                labels=previous.copy(),
                compute_inertia=True,
                accumulate_dtype=np.float64,
            )
    for result in results.values():
        np.testing.assert_array_equal(result.labels[clear], labels_ref[clear])
        assert result.labels.dtype == np.int32
        if clear.all():
            np.testing.assert_allclose(result.sums, sums_ref, rtol=rtol, atol=rtol * 10)
            np.testing.assert_allclose(result.weights, w_ref, rtol=rtol)
            np.testing.assert_array_equal(result.counts, counts_ref)
        np.testing.assert_allclose(result.inertia, inertia_ref, rtol=rtol)
        assert result.n_changed == int((result.labels != previous).sum())
    np.testing.assert_array_equal(results["numba"].labels, results["xp"].labels)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ties_pick_the_first_center(dtype):
    """Duplicated centers: every row goes to the first copy, as np.argmin."""
    X, centers, shift, _ = _problem(200, 6, 3, dtype)
    centers = np.concatenate([centers[:1], centers, centers[::-1], centers]).astype(dtype)
    labels_ref = _reference(X, centers, shift, None)[0]
    for kernel in ("numba", "xp"):
        with xplearn.config_context(kernel=kernel):
            result = lloyd_pass(X, centers, shift=shift, update_centers=False)
        np.testing.assert_array_equal(result.labels, labels_ref)
        assert set(np.unique(result.labels)) <= {0, 2, 3}


def test_labels_only_pass_leaves_outputs_empty():
    X, centers, shift, _ = _problem(100, 4, 3, np.float64)
    result = lloyd_pass(X, centers, shift=shift, update_centers=False)
    for name in ("sums", "weights", "counts", "inertia", "n_changed"):
        assert getattr(result, name) is None


@pytest.mark.parametrize("n_samples", [5000, 40_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_thread_count(dtype, n_samples):
    """Partial sums live in slots fixed by the shape, merged in order: bit-identical.

    5000 rows: a pass small enough to run on the calling thread whatever the setting;
    40_000: one thread runs the serial compilation of the slot loop, two the parallel
    one, and both give the same bits.
    """
    X, centers, shift, weights = _problem(n_samples, 16, 12, dtype, weighted=True)
    outputs = []
    for n_threads in (1, 2):
        with xplearn.config_context(n_threads=n_threads):
            outputs.append(
                lloyd_pass(X, centers, sample_weight=weights, shift=shift, compute_inertia=True)
            )
    one, two = outputs
    np.testing.assert_array_equal(one.labels, two.labels)
    np.testing.assert_array_equal(one.sums, two.sums)
    np.testing.assert_array_equal(one.weights, two.weights)
    assert one.inertia == two.inertia


def test_float32_sums_are_accumulated_in_float64():
    """Many float32 rows in one cluster: chunk sums (<= ~1000 rows) in float32, then
    float64, stay accurate where a running float32 sum drifts."""
    n = 200_000
    X = np.full((n, 2), 0.1, dtype=np.float32)
    centers = np.zeros((1, 2), dtype=np.float32)
    _, sums, weights, counts, _, _ = lloyd_pass_numpy(
        X,
        None,
        centers,
        np.zeros(2, np.float32),
        np.zeros(n, np.int32),
        update_centers=True,
        compute_inertia=False,
    )
    exact = n * np.float64(np.float32(0.1))
    running = np.cumsum(X[:, 0], dtype=np.float32)[-1]
    np.testing.assert_allclose(sums[0], exact, rtol=2e-5)
    assert abs(sums[0, 0] - exact) < abs(running - exact) / 10
    assert weights[0] == n
    assert counts[0] == n


def test_xp_implementation_chunks_by_working_memory():
    """A tiny working_memory forces many chunks: same result as one chunk."""
    X, centers, shift, weights = _problem(997, 8, 5, np.float64, weighted=True)
    with xplearn.config_context(kernel="xp"):
        whole = lloyd_pass(X, centers, sample_weight=weights, shift=shift, compute_inertia=True)
        with xplearn.config_context(working_memory=0.01):  # ~10 KiB: 50-row chunks
            chunked = lloyd_pass(
                X, centers, sample_weight=weights, shift=shift, compute_inertia=True
            )
    np.testing.assert_array_equal(whole.labels, chunked.labels)
    np.testing.assert_allclose(whole.sums, chunked.sums, rtol=1e-12)
    np.testing.assert_allclose(whole.inertia, chunked.inertia, rtol=1e-12)


def test_backends_agree_with_numpy(backend):
    """Every backend's pass equals NumPy's (numba) pass."""
    X, centers, shift, weights = _problem(300, 5, 4, np.float32, weighted=True)
    reference = lloyd_pass(X, centers, sample_weight=weights, shift=shift, compute_inertia=True)
    result = lloyd_pass(
        backend.asarray(X),
        backend.asarray(centers),
        sample_weight=backend.asarray(weights),
        shift=backend.asarray(shift),
        compute_inertia=True,
    )
    np.testing.assert_array_equal(to_numpy(result.labels), reference.labels)
    assert_allclose_xp(result.sums, reference.sums, rtol=1e-5, atol=1e-4)
    assert_allclose_xp(result.weights, reference.weights, rtol=1e-6)
    np.testing.assert_allclose(result.inertia, reference.inertia, rtol=1e-5)


def test_dispatch_picks_numba_only_for_numpy_floats():
    X = np.zeros((3, 2))
    assert kernel_backend(X) == "numba"
    assert kernel_backend(X.astype(np.float32)) == "numba"
    assert kernel_backend(X.astype(np.int64)) == "xp"
    with xplearn.config_context(kernel="xp"):
        assert kernel_backend(X) == "xp"
    with xplearn.config_context(kernel="numba"):
        assert kernel_backend(X) == "numba"


def test_kernel_numba_with_other_namespace_is_a_clear_error():
    import array_api_strict as xps

    X = xps.asarray(np.zeros((3, 2)))
    with (
        xplearn.config_context(kernel="numba"),
        pytest.raises(
            ValueError, match=r"KMeans\.fit\(\): config kernel='numba' needs a NumPy array"
        ),
    ):
        kernel_backend(X, "KMeans.fit()")
    assert kernel_backend(X) == "xp"


def test_session_follows_n_threads_config_and_restores():
    import numba

    before = numba.get_num_threads()
    with xplearn.config_context(n_threads=1), kernel_session():
        assert numba.get_num_threads() == 1
        assert last_session_threads() == 1
    assert numba.get_num_threads() == before


def test_session_limits_blas_to_one_thread():
    from threadpoolctl import threadpool_info

    with kernel_session():
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert all(n == 1 for n in blas)


def test_tile_plan_is_a_function_of_the_shape_only():
    for n, d, k in [(10, 2, 3), (10**6, 32, 8), (10**5, 128, 1000)]:
        for itemsize in (4, 8):
            plan = tile_plan(n, d, k, itemsize)
            assert plan["chunk_rows"] % SMALL_MR == plan["chunk_rows"] % LARGE_MR == 0
            assert plan["cluster_block"] % plan["block"] == 0
            assert 1 <= plan["n_slots"] <= 24
            assert plan["small"] == (k <= 32 // itemsize)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d", "k"), [(1000, 32, 8), (523, 64, 40), (701, 96, 200), (5, 3, 2)])
def test_unshifted_pass_reads_X_in_place(n, d, k, dtype):
    """shift=None: full chunks are read in place (no centered copy), the last one padded;
    same results as the shifted pass on the same geometry."""
    X, centers, shift, weights = _problem(n, d, k, dtype, seed=7, weighted=True)
    raw_centers = (centers + shift).astype(dtype)
    unshifted = lloyd_pass(
        X, raw_centers, sample_weight=weights, compute_inertia=True, accumulate_dtype=np.float64
    )
    with xplearn.config_context(kernel="xp"):
        oracle = lloyd_pass(
            X,
            raw_centers,
            sample_weight=weights,
            compute_inertia=True,
            accumulate_dtype=np.float64,
        )
    labels_ref, _, w_ref, counts_ref, inertia_ref, distances = _reference(
        X, raw_centers, np.zeros(d), weights
    )
    np.testing.assert_array_equal(unshifted.counts, counts_ref)
    clear = _no_near_ties(distances, labels_ref, 1e-12 if dtype == np.float64 else 1e-5)
    np.testing.assert_array_equal(unshifted.labels[clear], labels_ref[clear])
    np.testing.assert_array_equal(unshifted.labels, oracle.labels)
    np.testing.assert_allclose(unshifted.sums, oracle.sums, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(unshifted.weights, w_ref, rtol=1e-6)
    np.testing.assert_allclose(unshifted.inertia, inertia_ref, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_vector_buffers_start_on_a_cache_line(dtype, n):
    from xplearn._kernels._numba._lloyd import _aligned_empty

    buffer = _aligned_empty(n, np.dtype(dtype))
    assert buffer.ctypes.data % 64 == 0
    assert buffer.shape == (n,)
    assert buffer.dtype == dtype
    buffer[:] = 1  # the whole requested length is writable


@pytest.mark.parametrize(
    ("x_dtype", "sums_dtype"),
    [(np.float32, np.float32), (np.float32, np.float64), (np.float64, np.float64)],
)
@pytest.mark.parametrize("d", [1, 8, 30, 67])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shifted", [False, True])
def test_add_rows_matches_a_scatter_add(x_dtype, sums_dtype, d, weighted, shifted):
    """The vector row-adding intrinsic (whole vectors, then a scalar tail) adds each row,
    minus the shift, times its weight, to its cluster's row, also into a padded (strided)
    sums array."""
    from numba import njit

    from xplearn._kernels._numba._lloyd import add_rows

    @njit
    def run(xb, lab, m, weights, start, sums, shift):
        add_rows(xb, lab, m, weights, start, sums, shift)

    rng = np.random.default_rng(d)
    k, m, start = 5, 41, 3
    xb = rng.standard_normal((m + 2, d)).astype(x_dtype)
    lab = rng.integers(0, k, m + 2).astype(np.int32)
    weights = rng.uniform(0.5, 2.0, start + m).astype(x_dtype) if weighted else np.empty(0, x_dtype)
    padded = np.zeros((k, d + 5), dtype=sums_dtype)
    sums = padded[:, :d]
    sums[:] = rng.standard_normal((k, d))
    expected = sums.astype(np.float64)
    w = weights[start : start + m].astype(np.float64) if weighted else np.ones(m)
    shift = rng.standard_normal(d).astype(x_dtype) * 3 if shifted else np.empty(0, x_dtype)
    rows = (xb[:m] - shift).astype(np.float64) if shifted else xb[:m].astype(np.float64)
    np.add.at(expected, lab[:m], w[:, None] * rows)
    run(xb, lab, m, weights, start, sums, shift)
    tolerance = 1e-5 if np.float32 in (x_dtype, sums_dtype) else 1e-12
    np.testing.assert_allclose(sums, expected, rtol=tolerance, atol=tolerance)
    assert not padded[:, d:].any()  # the padding is left alone


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("d", "k"), [(1, 3), (17, 40), (64, 200)])
def test_tile_widths_give_identical_distances(dtype, d, k):
    """The many-clusters tile on 256-bit and 512-bit vectors (each lane accumulates one
    (row, cluster) dot product in feature order, whatever the width): the same labels and
    the same minima to the bit, and the labels of an exact argmin where no near tie.
    Both widths compile on any x86-64 CPU (LLVM splits vectors wider than the hardware's)."""
    from numba import njit

    from xplearn._kernels._numba._lloyd import _make_tile_kernel, pack_centers

    rng = np.random.default_rng(d + k)
    n = 48  # a multiple of both row counts
    xb = rng.standard_normal((n, d)).astype(dtype)
    centers = rng.standard_normal((k, d)).astype(dtype)
    results = []
    for mr, nb, vector_bytes in [(4, 2, 32), (8, 2, 64), (4, 4, 64)]:
        tile = _make_tile_kernel(mr, nb, vector_bytes)

        @njit
        def assign(xb, packed, norms, bv, bi, lab, best, tile=tile, mr=mr):
            for r0 in range(0, xb.shape[0], mr):
                tile(xb, r0, packed, norms, 0, norms.shape[0], bv, bi, lab, best, True, True)

        block = vector_bytes // np.dtype(dtype).itemsize * nb
        kpad = -(-k // block) * block
        packed, norms = np.empty(kpad * d, dtype), np.empty(kpad, dtype)
        pack_centers(centers, block, 1, packed, norms)
        lab, best = np.empty(n, np.int32), np.empty(n, dtype)
        state = np.empty(n * block, dtype), np.empty(n * block, np.int32)
        assign(xb, packed, norms, *state, lab, best)
        results.append((lab, best))
    for lab, best in results[1:]:
        np.testing.assert_array_equal(lab, results[0][0])
        np.testing.assert_array_equal(best, results[0][1])
    distances = ((xb[:, None, :].astype(np.float64) - centers[None]) ** 2).sum(-1)
    exact = distances.argmin(1)
    clear = _no_near_ties(distances, exact, 1e-12 if dtype == np.float64 else 1e-5)
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(results[0][0][clear], exact[clear])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("d", [1, 13, 32])
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_few_clusters_tile(dtype, step, d, offset):
    """The few-clusters tile, one feature per step (256-bit) or feature pairs (512-bit;
    an odd last feature paired with zero), gives the exact argmin; its prefetch of the rows
    ahead (in-place reads of X) is only a hint: same labels and minima with and without
    it, also on the last rows of an array, where the rows ahead lie past its end. Data far
    from the origin is read in place with the shift subtracted as the rows are read."""
    from numba import njit

    from xplearn._kernels._numba._lloyd import SMALL_MR, _make_one_vector_kernel, pack_centers

    tile = _make_one_vector_kernel(SMALL_MR, 128, step)

    @njit
    def assign(xb, packed, norms, shift, lab, best, streaming):
        for r0 in range(0, xb.shape[0], SMALL_MR):
            tile(xb, r0, packed, norms, shift, lab, best, streaming)

    rng = np.random.default_rng(d + step)
    lanes = 32 // np.dtype(dtype).itemsize
    shift = np.full(d, offset, dtype) if offset else np.empty(0, dtype)  # (0,): no shift
    X = (rng.standard_normal((1000, d)) + offset).astype(dtype)
    k = lanes - 1  # one padding cluster
    centers = rng.standard_normal((k, d)).astype(dtype)
    packed, norms = np.empty(lanes * (d + 1), dtype), np.empty(lanes, dtype)
    pack_centers(centers, lanes, step, packed, norms)
    tail = X[-64:]  # a view whose rows "ahead" are past the end of X's buffer
    outputs = []
    for streaming in (False, True):
        lab, best = np.empty(64, np.int32), np.empty(64, dtype)
        assign(tail, packed, norms, shift, lab, best, streaming)
        outputs.append((lab, best))
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
    rows = (tail - offset).astype(dtype).astype(np.float64)  # shifted, rounded in X's dtype
    distances = ((rows[:, None, :] - centers[None]) ** 2).sum(-1)
    exact = distances.argmin(1)
    clear = _no_near_ties(distances, exact, 1e-12 if dtype == np.float64 else 1e-5)
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(outputs[1][0][clear], exact[clear])
    # the minimum is ||c||^2 - 2 x.c (without the row's own squared norm)
    row_norms = (rows**2).sum(1)
    expected = distances.min(1) - row_norms
    tolerance = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(outputs[1][1], expected, rtol=tolerance, atol=tolerance * d)
