"""The hard-data generators make what they promise, and the references are exact."""

import math

import numpy as np
import pytest
from hypothesis import given

from xplearn.testing.hard_data import (
    HARD_CASES,
    MAGNITUDES,
    exact_argkmin,
    exact_sq_distances,
    extreme_magnitudes,
    geographic,
    hard_arrays,
    hard_case,
    mixed_scales,
    offset_data,
    with_duplicates,
)


@pytest.mark.parametrize("name", sorted(HARD_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_case_is_finite_and_of_its_dtype(name, dtype):
    X = hard_case(name, dtype)
    assert X.dtype == dtype
    assert X.ndim == 2
    assert X.shape[0] >= 100
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(X, hard_case(name, dtype))  # reproducible


def test_generators_make_what_they_say():
    rng = np.random.default_rng(0)
    X = offset_data(rng, 500, 3, offset=1e5)
    assert np.all(np.abs(X.mean(axis=0) - 1e5) < 0.5)
    G = geographic(rng, 400, spread=1e-3, n_cities=2)
    assert np.all(np.abs(G[::2] - [48.8566, 2.3522]) < 0.01)
    assert np.all(np.abs(G[1::2] - [51.5074, -0.1278]) < 0.01)
    M = mixed_scales(rng, 2000)
    np.testing.assert_allclose(M.std(axis=0), [1.0, 1e-2, 0.1, 1.0], rtol=0.1)
    D = with_duplicates(rng, 200, 3, n_unique=5)
    assert len(np.unique(D, axis=0)) <= 5
    for dtype, (low, high) in MAGNITUDES.items():
        big = extreme_magnitudes(rng, 50, 2, dtype=dtype)
        small = extreme_magnitudes(rng, 50, 2, large=False, dtype=dtype)
        assert big.dtype == dtype
        assert 0.1 * high < np.abs(big).max() < 10 * high
        assert 0.1 * low < np.abs(small).max() < 10 * low
    with pytest.raises(ValueError, match="n_cities"):
        geographic(rng, 10, n_cities=9)


@pytest.mark.parametrize("magnitude", [1.0, 1e-150, 1e150, 1e200])
def test_exact_sq_distances_match_fsum(magnitude):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4, 3)) * magnitude + 3 * magnitude
    Y = rng.normal(size=(5, 3)) * magnitude
    D = exact_sq_distances(X, Y)
    for i in range(4):
        for j in range(5):
            # in units of the magnitude, the squares stay in range; then scale back
            scaled = math.fsum(((X[i, f] - Y[j, f]) / magnitude) ** 2 for f in range(3))
            expected = scaled * magnitude**2 if magnitude < 1e154 else math.inf
            np.testing.assert_allclose(D[i, j], expected, rtol=1e-14)


def test_exact_argkmin_breaks_ties_by_index():
    Y = np.array([[1.0], [0.0], [1.0], [-1.0], [0.0]])
    distances, indices = exact_argkmin(np.array([[0.0]]), Y, 4)
    np.testing.assert_array_equal(indices, [[1, 4, 0, 2]])
    np.testing.assert_array_equal(distances, [[0.0, 0.0, 1.0, 1.0]])
    _, manhattan = exact_argkmin(np.array([[0.5]]), Y, 2, metric="manhattan")
    np.testing.assert_array_equal(manhattan, [[0, 1]])
    cosine, _ = exact_argkmin(np.array([[2.0]]), np.array([[3.0], [-1.0]]), 2, metric="cosine")
    np.testing.assert_allclose(cosine, [[0.0, 2.0]])


@given(hard_arrays(np.float32))
def test_hard_arrays_float32(X):
    assert X.dtype == np.float32
    assert X.ndim == 2
    assert np.isfinite(X).all()


@given(hard_arrays(np.float64, max_rows=20))
def test_hard_arrays_float64(X):
    assert X.dtype == np.float64
    assert 2 <= X.shape[0] <= 20
    assert np.isfinite(X).all()
