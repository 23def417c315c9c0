"""One-pass grouped moments over row blocks (xplearn._kernels._blocks.grouped_moments)."""

import math

import numpy as np
import pytest

from xplearn._kernels._blocks import grouped_moments
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")


def _data(seed=0, n_samples=500, n_features=4, offset=1e3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * [1.0, 3.0, 0.1, 2.0][:n_features] + offset
    codes = rng.integers(0, 3, n_samples)
    weights = rng.integers(0, 4, n_samples).astype(np.float64)
    return X, codes, weights


def _expected(X, codes, weights, n_groups):
    """Straightforward two-pass statistics of each group (NumPy, float64)."""
    rows = []
    for group in range(n_groups):
        member = codes == group
        values, w = X[member], weights[member]
        total = w.sum()
        mean = w @ values / total
        centered = values - mean
        scatter = (centered * w[:, None]).T @ centered
        rows.append((member.sum(), total, mean, w @ centered**2, scatter))
    return rows


@pytest.mark.parametrize("chunks", [500, 170, 41])
def test_dask_blocks_merge_to_the_two_pass_statistics(chunks):
    X, codes, weights = _data()
    with count_dask_computes() as counter:
        moments = grouped_moments(
            da.from_array(X, chunks=(chunks, 2)),
            da.from_array(codes, chunks=chunks),
            da.from_array(weights, chunks=chunks),
            n_groups=3,
            r_factor=True,
            extremes=True,
        )
    assert counter.count == 1
    for group, (count, total, mean, squares, scatter) in enumerate(_expected(X, codes, weights, 3)):
        assert moments.counts[group] == count
        np.testing.assert_allclose(moments.weights[group], total, rtol=1e-13)
        np.testing.assert_allclose(moments.means[group], mean, rtol=1e-13)
        np.testing.assert_allclose(moments.squares[group], squares, rtol=1e-9)
        r_factor = moments.r_factors[group]
        np.testing.assert_allclose(r_factor.T @ r_factor, scatter, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(np.triu(r_factor), r_factor)
        member = X[codes == group]
        np.testing.assert_array_equal(moments.minimums[group], member.min(axis=0))
        np.testing.assert_array_equal(moments.maximums[group], member.max(axis=0))


def test_in_memory_is_one_block_and_pooled_is_the_whole_data():
    X, _, _ = _data(seed=1)
    moments = grouped_moments(X, r_factor=True)
    np.testing.assert_allclose(moments.means[0], X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(moments.squares[0] / X.shape[0], X.var(axis=0), rtol=1e-10)
    X, codes, _ = _data(seed=2)
    pooled = grouped_moments(
        da.from_array(X, chunks=60),
        codes=da.from_array(codes, chunks=60),
        n_groups=3,
        r_factor=True,
    ).pooled()
    centered = X - X.mean(axis=0)
    np.testing.assert_allclose(pooled.means[0], X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(
        pooled.r_factors[0].T @ pooled.r_factors[0], centered.T @ centered, rtol=1e-9
    )
    # the singular values of R are those of the centered data
    np.testing.assert_allclose(
        np.linalg.svd(pooled.r_factors[0], compute_uv=False),
        np.linalg.svd(centered, compute_uv=False),
        rtol=1e-10,
    )


def test_empty_groups_blocks_and_fewer_rows_than_columns():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(9, 5))
    codes = np.array([0, 0, 2, 2, 2, 0, 0, 2, 0])  # group 1 empty; blocks of 2 rows
    moments = grouped_moments(
        da.from_array(X, chunks=((2, 0, 2, 2, 3), 5)),
        da.from_array(codes, chunks=((2, 0, 2, 2, 3),)),
        n_groups=3,
        r_factor=True,
        extremes=True,
    )
    assert moments.counts.tolist() == [5, 0, 4]
    assert moments.weights[1] == 0
    assert np.all(moments.r_factors[1] == 0)
    assert np.all(np.isinf(moments.minimums[1]))
    for group in (0, 2):
        centered = X[codes == group] - X[codes == group].mean(axis=0)
        r_factor = moments.r_factors[group]
        np.testing.assert_allclose(r_factor.T @ r_factor, centered.T @ centered, atol=1e-12)


def test_a_device_block_takes_host_codes_and_weights():
    # a Dask array of device blocks (CuPy) may come with host labels: the block function
    # moves them to the block's namespace (torch stands in for CuPy here)
    torch = pytest.importorskip("torch")
    from xplearn._kernels._blocks import _moments_of_groups_block

    X, codes, weights = _data(seed=4, n_samples=60)
    moments = _moments_of_groups_block(torch.asarray(X), codes, weights, 3, True, True)
    for group, (count, total, mean, squares, _) in enumerate(_expected(X, codes, weights, 3)):
        assert moments.counts[group] == count
        np.testing.assert_allclose(moments.weights[group], total, rtol=1e-13)
        # a block's means are offsets from its reference row (see Moments.references)
        block_mean = moments.references[group] + moments.means[group]
        np.testing.assert_allclose(block_mean, mean, rtol=1e-13)
        np.testing.assert_allclose(moments.squares[group], squares, rtol=1e-9)


def test_dask_moments_keep_their_digits_far_from_the_origin():
    """Block means at 1e5 from the origin differ by less than their rounding: merged as
    offsets from each block's first row, the variance stays exact to float64 rounding (it
    was 1.8e-12 off, merged from the means' difference)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3001, 3)) + 1e5
    moments = grouped_moments(da.from_array(X, chunks=((700, 1, 0, 1300, 1000), (3,))))
    exact_mean = np.array([math.fsum(column) / X.shape[0] for column in X.T])
    np.testing.assert_allclose(moments.means[0], exact_mean, rtol=1e-15)
    exact = np.array(
        [math.fsum((column - m) ** 2) for column, m in zip(X.T, exact_mean, strict=True)]
    )
    np.testing.assert_allclose(moments.squares[0], exact, rtol=1e-14)
    assert moments.references is None


@pytest.mark.parametrize("magnitude", [1e250, 1e-250])
def test_r_factor_of_extreme_data_on_uneven_blocks(magnitude):
    """float64 data at 1e+-250 (squares out of float64's range) on uneven blocks: the
    R factor is ``magnitude`` times that of the data at 1 (QR in powers of two), the means
    scale alike, and the sums of squares are the scaled ones where representable (inf, no
    warning, where they are not)."""
    X, codes, weights = _data(offset=5.0)
    reference = grouped_moments(X, codes, weights, n_groups=3, r_factor=True)
    moments = grouped_moments(
        da.from_array(X * magnitude, chunks=((130, 0, 1, 369), (4,))),
        da.from_array(codes, chunks=100),
        da.from_array(weights, chunks=100),
        n_groups=3,
        r_factor=True,
    )
    # R is unique up to the signs of its rows
    np.testing.assert_allclose(
        np.abs(moments.r_factors) / magnitude, np.abs(reference.r_factors), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(moments.means / magnitude, reference.means, rtol=1e-12)
    if magnitude > 1:
        assert np.all(np.isinf(moments.squares))
    else:
        np.testing.assert_array_equal(moments.squares, 0.0)  # 1e-500: below float64
