"""Public pairwise functions: scikit-learn's results, every backend, clear errors."""

import decimal
import functools
import warnings

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
from xplearn.testing import assert_allclose_xp, assert_on_backend, hard_data, skip_without_float64

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


# ---------------------------------------------------------------------------------------
# pairwise_distances on hard data: exact references, and never worse than scikit-learn

#: The relative error xplearn's distances may always have: one unit in the last place of
#: float32; for float64, the tolerance the expansion is held to (2**-40). scikit-learn's
#: own error on the same data may only raise it.
FLOOR = {np.dtype(np.float32): 2.0**-23, np.dtype(np.float64): 2.0**-40}


def _geographic_tight(rng, dtype):
    return hard_data.geographic(rng, 300, spread=1e-5 if dtype == np.float64 else 1e-4, n_cities=3)


def _spanning(rng, dtype):
    """Rows of very different magnitudes in one data set (tiny pairs next to huge ones)."""
    low, high = (1e-30, 1e30) if dtype == np.float32 else (1e-200, 1e200)
    magnitudes = np.array([low, 1.0, high])[np.arange(300) % 3]
    return rng.normal(size=(300, 3)) * magnitudes[:, None]


def _beyond_squares(rng, dtype):
    """Magnitudes whose squares leave float32 (1e20) or float64 (1e200), with an offset."""
    magnitude = 1e20 if dtype == np.float32 else 1e200
    return (5 + rng.normal(size=(300, 3))) * magnitude


def _below_squares(rng, dtype):
    magnitude = 1e-20 if dtype == np.float32 else 1e-200
    return rng.normal(size=(300, 3)) * magnitude


EXTRA_CASES = {
    "geographic_tight": _geographic_tight,
    "spanning": _spanning,
    "beyond_squares": _beyond_squares,
    "below_squares": _below_squares,
}
HARD_NAMES = sorted(hard_data.HARD_CASES) + sorted(EXTRA_CASES)


@functools.cache
def _hard_pair(name, dtype):
    dtype = np.dtype(dtype)
    if name in EXTRA_CASES:
        data = EXTRA_CASES[name](np.random.default_rng(0), dtype).astype(dtype)
    else:
        data = hard_data.hard_case(name, dtype)
    return data[:40], data[40:100]


def _exact_euclidean(X, Y, squared=False):
    """Distances by direct float64 differences, each pair divided by its largest
    difference first (so no square under- or overflows; inf beyond float64)."""
    diff = np.asarray(X, np.float64)[:, None, :] - np.asarray(Y, np.float64)[None, :, :]
    largest = np.max(np.abs(diff), axis=-1)
    safe = np.where(largest > 0, largest, 1.0)
    unit = ((diff / safe[..., None]) ** 2).sum(-1)
    if not squared:
        return largest * np.sqrt(unit)
    with np.errstate(over="ignore", under="ignore"):
        return (largest * largest) * unit


def _exact_cosine(X, Y):
    """Cosine distances in 80-digit decimal arithmetic from the exact input values."""
    decimal.getcontext().prec = 80
    rows = [[[decimal.Decimal(float(v)) for v in row] for row in Z] for Z in (X, Y)]
    norms = [[sum(v * v for v in row).sqrt() for row in Z] for Z in rows]
    out = np.empty((len(X), len(Y)))
    for i, a in enumerate(rows[0]):
        for j, b in enumerate(rows[1]):
            if norms[0][i] == 0 or norms[1][j] == 0:
                out[i, j] = 1.0  # scikit-learn's convention for zero rows
                continue
            value = 1 - sum(p * q for p, q in zip(a, b, strict=True)) / (norms[0][i] * norms[1][j])
            out[i, j] = 0.0 if abs(value) < decimal.Decimal("1e-70") else float(value)
    return out


@functools.cache
def _exact(name, dtype, metric):
    X, Y = _hard_pair(name, dtype)
    if metric == "cosine":
        return _exact_cosine(X, Y)
    if metric == "manhattan":
        return np.abs(X.astype(np.float64)[:, None, :] - Y.astype(np.float64)[None]).sum(-1)
    return _exact_euclidean(X, Y, squared=metric == "sqeuclidean")


def _max_error(got, exact, dtype):
    """Largest relative error of ``got`` (a result in ``dtype``): beyond the dtype's range
    the result must be inf; below its normal range, errors count relative to its
    smallest normal number (what the dtype can resolve there)."""
    got = np.asarray(to_numpy(got), dtype=np.float64)
    finfo = np.finfo(dtype)
    beyond = exact > float(finfo.max)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(got - exact) / np.maximum(exact, float(finfo.smallest_normal))
    error = np.where(beyond, np.where(got == np.inf, 0.0, np.inf), error)
    return float(np.max(np.where(np.isnan(error), np.inf, error)))


def _sklearn_error(name, dtype, metric):
    X, Y = _hard_pair(name, dtype)
    # scikit-learn's result on this data may warn (overflow): no concern of this test
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        theirs = sk_pairwise_distances(X, Y, metric=metric)
    return _max_error(theirs, _exact(name, dtype, metric), dtype)


@DTYPES
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("name", HARD_NAMES)
def test_pairwise_distances_on_hard_data_exact_and_never_worse_than_sklearn(
    backend, name, metric, dtype
):
    """Offsets 1e2..1e8, cities 1e-2..1e-5 degree wide, mixed scales, duplicates,
    magnitudes whose squares leave the dtype: float32 results are correctly rounded to
    about one unit in the last place (float64 accumulation), float64 ones within 2**-40;
    euclidean is finite wherever the true distance is, sqeuclidean inf only beyond the
    dtype's range; and no result is less accurate than scikit-learn's on the same data."""
    skip_without_float64(backend, dtype)
    X, Y = _hard_pair(name, dtype)
    got = pairwise_distances(backend.asarray(X), backend.asarray(Y), metric=metric)
    assert_on_backend(got, backend)
    assert got.dtype == backend.asarray(X).dtype
    ours = _max_error(got, _exact(name, dtype, metric), dtype)
    floor = FLOOR[np.dtype(dtype)]
    assert ours <= max(_sklearn_error(name, dtype, metric), floor)
    if metric != "cosine" or dtype == np.float32:
        assert ours <= floor
    else:
        # float64 cosine: relative error about eps / angle for near-parallel rows
        absolute = np.abs(to_numpy(got) - _exact(name, dtype, metric))
        assert np.max(absolute) <= 16 * np.finfo(np.float64).eps


def test_pairwise_distances_of_offset_float32_data_as_the_issue_measured():
    """Issue 15: float32 data 1e4 from the origin had relative errors up to 20 (the
    float32 expansion); scikit-learn (float64 accumulation) 5e-7."""
    rng = np.random.default_rng(0)
    X = (1e4 + rng.standard_normal((200, 3))).astype(np.float32)
    Y = (1e4 + rng.standard_normal((150, 3))).astype(np.float32)
    exact = _exact_euclidean(X, Y)
    assert _max_error(pairwise_distances(X, Y), exact, np.float32) <= 2.0**-23


def _diagonal_data(dtype):
    """float32 rows 30 from the origin (issue 15: 0.06 on the diagonal), with duplicate
    rows and a zero row."""
    rng = np.random.default_rng(3)
    X = 30 + rng.standard_normal((50, 4))
    X[10] = X[3]
    X[20] = 0.0
    return X.astype(dtype)


@DTYPES
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("how", ["Y=None", "Y=X"])
def test_pairwise_distances_diagonal_is_exactly_zero(backend, metric, dtype, how):
    skip_without_float64(backend, dtype)
    X = backend.asarray(_diagonal_data(dtype))
    D = to_numpy(
        pairwise_distances(X, metric=metric)
        if how == "Y=None"
        else pairwise_distances(X, X, metric=metric)
    )
    np.testing.assert_array_equal(np.diag(D), 0.0)
    # identical rows elsewhere: exactly 0 as well
    assert D[3, 10] == 0.0
    assert D[10, 3] == 0.0
    reference = sk_pairwise_distances(_diagonal_data(dtype).astype(np.float64), metric=metric)
    np.testing.assert_allclose(D, reference, rtol=1e-6, atol=1e-6 if metric == "cosine" else 0)


@pytest.mark.parametrize("metric", METRICS)
def test_pairwise_distances_dask_is_lazy_and_blockwise_exact(metric):
    """Dask: a lazy result (several blocks of rows), equal to NumPy's, zero diagonal."""
    da = pytest.importorskip("dask.array")
    X, Y = _hard_pair("geographic_1e-3", np.dtype(np.float32))
    Xd = da.from_array(np.asarray(X), chunks=(15, 2))
    got = pairwise_distances(Xd, da.from_array(np.asarray(Y), chunks=(25, 1)), metric=metric)
    assert isinstance(got, da.Array)
    assert got.numblocks == (3, 3)
    np.testing.assert_array_equal(got.compute(), pairwise_distances(X, Y, metric=metric))
    same = pairwise_distances(Xd, metric=metric).compute()
    np.testing.assert_array_equal(np.diag(same), 0.0)


def test_pairwise_distances_without_float64_as_accurate_as_float32_allows(no_float64):
    """float32 accumulated in float32 (a device without float64): the expansion keeps
    only entries it proves within 2**-16, the others are direct float32 sums; finite at
    1e20, zero diagonal."""
    for name in ("offset_1e5", "geographic_1e-3", "duplicates", "beyond_squares", "spanning"):
        X, Y = _hard_pair(name, np.dtype(np.float32))
        got = pairwise_distances(no_float64.asarray(X), no_float64.asarray(Y))
        assert got.dtype == no_float64.xp.float32
        assert (
            _max_error(got, _exact(name, np.dtype(np.float32), "euclidean"), np.float32) <= 2.0**-14
        )
    X = no_float64.asarray(_diagonal_data(np.float32))
    np.testing.assert_array_equal(np.diag(to_numpy(pairwise_distances(X))), 0.0)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_pairwise_distances_too_large_fails_at_once_naming_its_size(backend, metric):
    """3M x 3M float32 needs 32.7 TiB: a MemoryError naming the method and the full
    shape before anything is computed (scikit-learn's np.empty fails at once too; the
    old blockwise code computed for minutes first). Dask: the result is lazy, no error."""
    row = backend.asarray(np.ones((1, 2), dtype=np.float32))
    X = backend.xp.broadcast_to(row, (3_000_000, 2))
    if backend.name == "dask":
        result = pairwise_distances(X, metric=metric)
        assert result.shape == (3_000_000, 3_000_000)
        return
    with pytest.raises(
        MemoryError,
        match=r"pairwise_distances\(\): the result of shape \(3000000, 3000000\) float32 "
        r"needs 32\.7 TiB \(3000000 x 3000000 x 4 bytes\)",
    ):
        pairwise_distances(X, metric=metric)
