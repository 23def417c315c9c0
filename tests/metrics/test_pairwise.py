"""Public pairwise functions: scikit-learn's results, every backend, clear errors."""

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances as sk_pairwise_distances

import xplearn
from xplearn._xp import to_numpy
from xplearn.metrics import (
    pairwise_distances,
    pairwise_distances_argkmin,
    pairwise_distances_radius,
)
from xplearn.testing import assert_allclose_xp, assert_on_backend, skip_without_float64

METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def _data(dtype, seed=0, n_x=60, n_y=90, d=5):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n_x, d)).astype(dtype),
        rng.standard_normal((n_y, d)).astype(dtype),
    )


@DTYPES
@pytest.mark.parametrize("metric", METRICS)
def test_pairwise_distances_matches_sklearn(backend, metric, dtype):
    skip_without_float64(backend, dtype)
    X, Y = _data(dtype)
    expected = sk_pairwise_distances(X, Y, metric=metric)
    got = pairwise_distances(backend.asarray(X), backend.asarray(Y), metric=metric)
    assert_on_backend(got, backend)
    expected_dtype = backend.xp.float32 if dtype == np.float32 else backend.xp.float64
    assert got.dtype == expected_dtype
    rtol, atol = (1e-4, 1e-4) if dtype == np.float32 else (1e-9, 1e-9)
    assert_allclose_xp(got, expected, rtol=rtol, atol=atol)


def test_pairwise_distances_chunked_and_same():
    X, _ = _data(np.float64, n_x=300)
    with xplearn.config_context(working_memory=0.01):
        got = pairwise_distances(X)
    np.testing.assert_allclose(got, sk_pairwise_distances(X), atol=1e-9)
    assert np.all(np.diag(got) == 0)


@DTYPES
@pytest.mark.parametrize("metric", METRICS)
def test_argkmin_on_every_backend_agrees_with_numpy(backend, metric, dtype):
    skip_without_float64(backend, dtype)
    X, Y = _data(dtype, seed=1)
    ref_d, ref_i = pairwise_distances_argkmin(X, Y, 4, metric=metric)
    D = sk_pairwise_distances(X.astype(np.float64), Y.astype(np.float64), metric=metric)
    np.testing.assert_array_equal(ref_i, np.argsort(D, axis=1, kind="stable")[:, :4])
    d, i = pairwise_distances_argkmin(backend.asarray(X), backend.asarray(Y), 4, metric=metric)
    assert_on_backend(d, backend)
    assert_on_backend(i, backend)
    assert d.dtype == backend.asarray(X).dtype
    np.testing.assert_array_equal(to_numpy(i), ref_i)
    assert_allclose_xp(d, ref_d, rtol=1e-5 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("metric", METRICS)
def test_radius_on_every_backend_agrees_with_numpy(backend, metric):
    X, Y = _data(np.float32, seed=2)
    radius = 0.2 if metric == "cosine" else 2.0
    ref = pairwise_distances_radius(X, Y, radius, metric=metric, sort_results=True)
    got = pairwise_distances_radius(
        backend.asarray(X), backend.asarray(Y), radius, metric=metric, sort_results=True
    )
    for part in got:
        assert_on_backend(part, backend)
    np.testing.assert_array_equal(to_numpy(got[0]), ref[0])
    np.testing.assert_array_equal(to_numpy(got[1]), ref[1])
    assert_allclose_xp(got[2], ref[2], rtol=1e-5)
    D = sk_pairwise_distances(X, Y, metric=metric)
    assert ref[0][-1] == int(np.sum(radius >= D))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda X: pairwise_distances_argkmin(X, X, 0), r"1 <= k <= n_samples_Y = 10, got k=0"),
        (lambda X: pairwise_distances_argkmin(X, X, 11), r"n_samples_Y = 10, got k=11"),
        (lambda X: pairwise_distances(X, metric="minkowski"), r"metric must be one of"),
        (lambda X: pairwise_distances(X, X[:, :2]), r"X has 3 features, but Y has 2"),
        (lambda X: pairwise_distances_radius(X, X, -1.0), r"radius must be a real number >= 0"),
        (
            lambda X: pairwise_distances_argkmin(np.where(X > 0.5, np.nan, X), X, 2),
            r"pairwise_distances_argkmin\(\): Input X contains NaN",
        ),
    ],
)
def test_errors_name_the_function(call, match):
    X = np.random.default_rng(0).random((10, 3))
    with pytest.raises(ValueError, match=match):
        call(X)


def test_mixed_namespaces_are_an_error():
    torch = pytest.importorskip("torch")
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same namespace"):
        pairwise_distances(X, torch.zeros((3, 2), dtype=torch.float64))


def test_inputs_unchanged_and_integers_accepted():
    X = np.arange(12).reshape(6, 2)
    before = X.copy()
    d, i = pairwise_distances_argkmin(X, X, 2)
    np.testing.assert_array_equal(X, before)
    assert d.dtype == np.float64
    np.testing.assert_array_equal(i[:, 0], np.arange(6))
