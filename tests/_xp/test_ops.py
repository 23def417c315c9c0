"""Operations the standard lacks, checked against NumPy on every backend."""

import numpy as np
import pytest

from xplearn._xp import to_numpy
from xplearn._xp._ops import (
    eigh,
    flip_sign_rows,
    is_lazy,
    svd,
    to_scalar,
    weighted_mean,
    weighted_variance,
)
from xplearn.testing import assert_allclose_xp, assert_on_backend


def _float_dtype(backend, name):
    if name == "float64" and not backend.has_float64:
        pytest.skip("no float64 on this device")
    return name


RTOL = {"float32": 1e-4, "float64": 1e-10}


@pytest.fixture
def rng():
    return np.random.default_rng(42)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_eigh_matches_numpy(backend, rng, dtype):
    _float_dtype(backend, dtype)
    A = rng.normal(size=(6, 6))
    A = (A @ A.T + np.diag(np.arange(1.0, 7.0))).astype(dtype)
    values, vectors = eigh(backend.xp, backend.asarray(A))
    assert_on_backend(values, backend)
    assert_on_backend(vectors, backend)
    expected_values, expected_vectors = np.linalg.eigh(A.astype(np.float64))
    values_np, vectors_np = to_numpy(values), to_numpy(vectors)
    assert values_np.dtype == np.dtype(dtype)
    np.testing.assert_allclose(values_np, expected_values, rtol=RTOL[dtype])
    assert np.all(np.diff(values_np) >= 0)  # ascending
    # eigenvectors are defined up to sign: compare after fixing it
    signs = np.sign(np.sum(vectors_np * expected_vectors, axis=0))
    np.testing.assert_allclose(vectors_np * signs, expected_vectors, rtol=0, atol=100 * RTOL[dtype])
    # A v = lambda v
    np.testing.assert_allclose(
        A.astype(np.float64) @ vectors_np,
        vectors_np * values_np,
        rtol=0,
        atol=1000 * RTOL[dtype],
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_svd_matches_numpy(backend, rng, dtype):
    _float_dtype(backend, dtype)
    A = (rng.normal(size=(30, 4)) * [5.0, 3.0, 2.0, 0.5]).astype(dtype)
    U, S, Vt = svd(backend.xp, backend.asarray(A))
    for part in (U, S, Vt):
        assert_on_backend(part, backend)
    U_np, S_np, Vt_np = to_numpy(U), to_numpy(S), to_numpy(Vt)
    assert U_np.shape == (30, 4)
    assert S_np.shape == (4,)
    assert Vt_np.shape == (4, 4)
    assert S_np.dtype == np.dtype(dtype)
    expected_U, expected_S, expected_Vt = np.linalg.svd(A.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(S_np, expected_S, rtol=RTOL[dtype])
    assert np.all(np.diff(S_np) <= 0)  # descending
    signs = np.sign(np.sum(Vt_np * expected_Vt, axis=1))
    np.testing.assert_allclose(Vt_np * signs[:, None], expected_Vt, atol=100 * RTOL[dtype])
    np.testing.assert_allclose(U_np * signs, expected_U, atol=100 * RTOL[dtype])
    np.testing.assert_allclose((U_np * S_np) @ Vt_np, A, atol=1000 * RTOL[dtype])


def test_svd_dask_with_column_chunks(rng):
    da = pytest.importorskip("dask.array")
    from xplearn._xp import resolve_namespace

    A = rng.normal(size=(40, 6))
    lazy = da.from_array(A, chunks=(10, 2))  # several column chunks
    U, S, Vt = svd(resolve_namespace("dask"), lazy)
    np.testing.assert_allclose(to_numpy(S), np.linalg.svd(A, compute_uv=False), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(U) * to_numpy(S) @ to_numpy(Vt), A, atol=1e-10)


def test_flip_sign_rows_makes_max_abs_entry_positive(backend, rng):
    V = rng.normal(size=(5, 7))
    V[1] = -np.abs(V[1])  # a row that must flip
    V[2] = np.abs(V[2])  # a row that must not
    flipped, signs = flip_sign_rows(backend.xp, backend.asarray(V))
    assert_on_backend(flipped, backend)
    assert_on_backend(signs, backend)
    flipped_np, signs_np = to_numpy(flipped), to_numpy(signs)
    assert signs_np.shape == (5,)
    assert set(np.unique(signs_np)) <= {-1.0, 1.0}
    assert signs_np[1] == -1.0
    assert signs_np[2] == 1.0
    rows = np.arange(5)
    assert np.all(flipped_np[rows, np.argmax(np.abs(flipped_np), axis=1)] > 0)
    np.testing.assert_array_equal(flipped_np, V * signs_np[:, None])
    # applying it again changes nothing
    again, signs_again = flip_sign_rows(backend.xp, flipped)
    np.testing.assert_array_equal(to_numpy(again), flipped_np)
    np.testing.assert_array_equal(to_numpy(signs_again), np.ones(5))


def test_flip_sign_rows_ties_pick_the_first_entry(backend):
    V = np.array([[1.0, -1.0], [-1.0, 1.0], [0.5, -2.0]])
    flipped, signs = flip_sign_rows(backend.xp, backend.asarray(V))
    np.testing.assert_array_equal(to_numpy(signs), [1.0, -1.0, -1.0])
    np.testing.assert_array_equal(to_numpy(flipped), [[1.0, -1.0], [1.0, -1.0], [-0.5, 2.0]])


def test_flip_sign_rows_keeps_float32(backend, rng):
    V = rng.normal(size=(3, 4)).astype(np.float32)
    flipped, signs = flip_sign_rows(backend.xp, backend.asarray(V))
    assert flipped.dtype == backend.xp.float32
    assert signs.dtype == backend.xp.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_mean_and_variance_match_numpy(backend, rng, dtype, weighted):
    _float_dtype(backend, dtype)
    X = (rng.normal(size=(25, 4)) * [1.0, 10.0, 0.1, 1000.0] + [0.0, -3.0, 5.0, 1e4]).astype(dtype)
    w = rng.uniform(0.0, 3.0, size=25).astype(dtype) if weighted else None
    xp = backend.xp
    acc = getattr(xp, dtype)
    X_b = backend.asarray(X)
    w_b = None if w is None else backend.asarray(w)
    mean, total = weighted_mean(xp, X_b, w_b, acc)
    variance = weighted_variance(xp, X_b, w_b, mean, acc)
    for array in (mean, total, variance):
        assert_on_backend(array, backend)
        assert array.dtype == acc
    assert tuple(mean.shape) == (4,)
    assert tuple(total.shape) == ()
    expected_mean = np.average(X.astype(np.float64), axis=0, weights=w)
    expected_variance = np.average((X.astype(np.float64) - expected_mean) ** 2, axis=0, weights=w)
    expected_total = 25.0 if w is None else np.sum(w.astype(np.float64))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert_allclose_xp(mean, expected_mean, rtol=rtol, atol=rtol * 1e-3)
    assert_allclose_xp(variance, expected_variance, rtol=rtol * 10)
    assert to_scalar(total) == pytest.approx(expected_total, rel=rtol)
    if w is None:
        np.testing.assert_allclose(
            to_numpy(variance), np.var(X.astype(np.float64), axis=0), rtol=rtol * 10
        )


def test_weighted_statistics_accumulate_in_float64(backend, rng):
    if not backend.has_float64:
        pytest.skip("no float64 on this device")
    X = (rng.normal(size=(50, 3)) + 1000.0).astype(np.float32)
    xp = backend.xp
    X_b = backend.asarray(X)
    mean, _ = weighted_mean(xp, X_b, None, xp.float64)
    variance = weighted_variance(xp, X_b, None, mean, xp.float64)
    assert mean.dtype == xp.float64
    assert variance.dtype == xp.float64
    X64 = X.astype(np.float64)
    assert_allclose_xp(mean, X64.mean(axis=0), rtol=1e-14)
    assert_allclose_xp(variance, X64.var(axis=0), rtol=1e-12)
    assert X_b.dtype == xp.float32  # input untouched


def test_integer_weights_equal_repeated_rows(backend, rng):
    X = rng.normal(size=(8, 3))
    repeats = np.array([0, 1, 2, 3, 1, 0, 4, 1])
    xp = backend.xp
    dtype = xp.float64 if backend.has_float64 else xp.float32
    X_b = backend.asarray(X.astype(np.float64 if backend.has_float64 else np.float32))
    w_b = backend.asarray(repeats.astype(np.float64 if backend.has_float64 else np.float32))
    mean, total = weighted_mean(xp, X_b, w_b, dtype)
    variance = weighted_variance(xp, X_b, w_b, mean, dtype)
    X_rep = np.repeat(X, repeats, axis=0)
    assert to_scalar(total) == repeats.sum()
    assert_allclose_xp(mean, X_rep.mean(axis=0), rtol=1e-6)
    assert_allclose_xp(variance, X_rep.var(axis=0), rtol=1e-6)


def test_to_scalar_and_is_lazy(backend):
    total = backend.xp.sum(backend.asarray(np.arange(5.0)))
    value = to_scalar(total)
    assert isinstance(value, float)
    assert value == 10.0
    assert is_lazy(backend.xp) is (backend.name == "dask")
