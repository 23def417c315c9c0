"""Column statistics: the numba pass against the generic chunked code (the oracle)."""

import math

import numpy as np
import pytest

from xplearn import config_context
from xplearn._kernels import column_mean_and_variance, kernel_backend
from xplearn._kernels._xp_impl import column_mean_and_variance as generic


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_variance", [False, True])
def test_numba_matches_the_generic_code(dtype, with_variance):
    rng = np.random.default_rng(7)
    # far from the origin: the variances must not come from E[x^2] - E[x]^2
    X = (rng.standard_normal((5003, 9)) * rng.uniform(0.1, 10, 9) + 1e3).astype(dtype)
    assert kernel_backend(X) == "numba"
    mean, variance, mean_sq_norm = column_mean_and_variance(
        np, X, dtype, with_variance=with_variance
    )
    ref_mean, ref_variance, ref_norm = generic(np, X, np.float64, with_variance=with_variance)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    assert mean.dtype == dtype
    assert mean_sq_norm.dtype == dtype
    np.testing.assert_allclose(mean, ref_mean, rtol=rtol)
    np.testing.assert_allclose(mean_sq_norm, ref_norm, rtol=rtol)
    if with_variance:
        assert variance.dtype == dtype
        np.testing.assert_allclose(variance, np.var(X.astype(np.float64), axis=0), rtol=1e-5)
        np.testing.assert_allclose(variance, ref_variance, rtol=1e-5)
    else:
        assert variance is None


def test_results_do_not_depend_on_thread_count():
    X = np.random.default_rng(3).standard_normal((10_001, 5))
    with config_context(n_threads=1):
        one = column_mean_and_variance(np, X, np.float64, with_variance=True)
    with config_context(n_threads=2):
        two = column_mean_and_variance(np, X, np.float64, with_variance=True)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_input_is_not_modified_and_fortran_order_is_accepted():
    X = np.asfortranarray(np.random.default_rng(1).standard_normal((100, 4)).astype(np.float32))
    before = X.copy()
    mean, _, _ = column_mean_and_variance(np, X, np.float32, with_variance=False)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n_samples", [1, 3, 17, 100_003])
def test_one_pass_variances_keep_their_digits_far_from_the_origin(n_samples):
    """Means and variances in one pass (per-slot deviations merged with Chan's update):
    on data at 1e6 with unit spread, E[x^2] - E[x]^2 would keep ~4 digits of the
    variance in float64; deviations keep them all. The mean squared row norm follows."""
    rng = np.random.default_rng(n_samples)
    X = 1e6 + rng.standard_normal((n_samples, 3)) * np.array([1.0, 1e-3, 0.0])
    mean, variance, mean_sq_norm = column_mean_and_variance(np, X, np.float64, with_variance=True)
    reference = X.var(axis=0)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    # unit spread: all digits; 1e-3 spread: the values at 1e6 themselves carry ~1e-10
    # (E[x^2] - E[x]^2 would be off by ~1e-4 absolute: 1e-4 and 1e2 relative errors)
    np.testing.assert_allclose(variance[0], reference[0], rtol=1e-9)
    np.testing.assert_allclose(variance[1], reference[1], rtol=1e-5)
    assert variance[2] == 0.0
    np.testing.assert_allclose(mean_sq_norm, (X * X).sum(axis=1).mean(), rtol=1e-14)


def _exact(X):
    """Means and variances of X's values by exactly rounded sums (math.fsum), two-pass
    around the first row, on columns divided by a power of two (exact)."""
    means, variances = [], []
    for column in np.asarray(X, dtype=np.float64).T:
        top = float(np.max(np.abs(column)))
        scale = 2.0 ** math.floor(math.log2(top)) if top > 0 else 1.0
        scaled = column / scale
        shifted = scaled - scaled[0]
        mean = math.fsum(shifted) / len(shifted)
        means.append((scaled[0] + mean) * scale)
        variances.append((math.fsum((shifted - mean) ** 2) / len(shifted), scale))
    return np.array(means), variances


def _far_float32(seed=0, n_samples=20_011):
    rng = np.random.default_rng(seed)
    spreads = np.array([1.0, 1e-2, 30.0, 1e3])
    offsets = np.array([1e4, 1e2, -1e6, 1e8])
    return (offsets + rng.standard_normal((n_samples, 4)) * spreads).astype(np.float32)


@pytest.mark.parametrize("backend_name", ["numpy", "generic", "torch"])
def test_float32_statistics_accumulate_in_float64_on_every_path(backend_name):
    """float32 data, float32 results, float64 sums on the numba and the generic path:
    both give the exact statistics rounded to float32 (the generic code summed in
    float32: 5e-5 relative error at 1e4, so NumPy and torch disagreed)."""
    X = _far_float32()
    if backend_name == "torch":
        torch = pytest.importorskip("torch")
        import array_api_compat.torch as xp

        data = torch.from_numpy(X)
        mean, variance, norm = column_mean_and_variance(xp, data, xp.float32, with_variance=True)
    elif backend_name == "generic":
        mean, variance, norm = generic(np, X, np.float32, with_variance=True)
    else:
        mean, variance, norm = column_mean_and_variance(np, X, np.float32, with_variance=True)
    exact_mean, exact = _exact(X)
    exact_var = np.array([v * s * s for v, s in exact])
    ulp = 2.0**-23
    np.testing.assert_allclose(np.asarray(mean), exact_mean, rtol=ulp)
    np.testing.assert_allclose(np.asarray(variance), exact_var, rtol=ulp)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(float(norm), (X64 * X64).sum(axis=1).mean(), rtol=ulp)


@pytest.mark.parametrize("magnitude", [1e200, 1e-200, 1e250, 1e-250])
@pytest.mark.parametrize("path", ["numba", "generic"])
def test_float64_out_of_range_columns_are_redone_scaled(magnitude, path):
    """Squares of float64 data at 1e+-200 leave the range: those columns are redone on
    values divided by a power of two. Means exact, variances exact where representable
    (inf beyond), no floating-point warning (the suite makes warnings errors)."""
    rng = np.random.default_rng(1)
    X = np.stack(
        [
            rng.standard_normal(3001) * magnitude,
            (5 + rng.standard_normal(3001)) * magnitude,
            rng.standard_normal(3001),  # an ordinary column: kept from the fast pass
            np.full(3001, magnitude),
        ],
        axis=1,
    )
    run = column_mean_and_variance if path == "numba" else generic
    mean, variance, _ = run(np, X, np.float64, with_variance=True)
    exact_mean, exact = _exact(X)
    for column, (scaled, scale) in enumerate(exact):
        # a centred column's mean is exact relative to the spread
        spread = math.sqrt(scaled) * scale
        np.testing.assert_allclose(
            mean[column], exact_mean[column], rtol=1e-14, atol=1e-14 * spread
        )
        if scaled * scale * scale < np.finfo(np.float64).max:
            np.testing.assert_allclose(variance[column], scaled * scale * scale, rtol=1e-13)
        else:
            assert np.isinf(variance[column])
    assert variance[3] == 0.0


def test_float32_accumulation_is_compensated_within_its_bound():
    """Without float64 (accumulate=float32): shifted, scaled, pairwise per chunk and
    Neumaier across chunks, corrected two-pass: relative error within (log2 n + 7) u
    on data at 1e4..1e8, at 1e20 and 1e-20 (plain float32 sums: 5e-5, or inf / 0)."""
    from xplearn._kernels._xp_impl import column_moments
    from xplearn._xp import numpy_namespace

    xp = numpy_namespace()
    X = _far_float32(seed=3, n_samples=50_000)
    rng = np.random.default_rng(4)
    extreme = (rng.standard_normal((50_000, 2)) * [1e20, 1e-20]).astype(np.float32)
    X = np.concatenate([X, extreme], axis=1)
    moments = column_moments(xp, X, None, np.float32)
    assert moments.mean.dtype == np.float32
    scale = moments.scale.astype(np.float64)
    variance = moments.scaled_variance.astype(np.float64) * scale * scale
    exact_mean, exact = _exact(X)
    exact_var = np.array([v * s * s for v, s in exact])
    bound = (math.log2(X.shape[0]) + 7) * 2.0**-24
    np.testing.assert_allclose(variance, exact_var, rtol=bound)
    # means within one rounding plus the sums' error relative to the spread
    error = np.abs(moments.mean.astype(np.float64) - exact_mean)
    assert np.all(error <= 2.0**-23 * np.abs(exact_mean) + bound * np.sqrt(exact_var))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_reaches_the_mean_or_the_norm(dtype, bad):
    """KMeans checks X's finiteness through these sums: a NaN or inf anywhere must
    reach the mean or the mean squared norm, on both paths."""
    X = np.random.default_rng(0).standard_normal((1000, 3)).astype(dtype)
    X[500, 1] = bad
    for run in (column_mean_and_variance, generic):
        with np.errstate(invalid="ignore"):
            mean, _, norm = run(np, X, dtype, with_variance=True)
        assert not (np.all(np.isfinite(mean)) and np.isfinite(norm))
