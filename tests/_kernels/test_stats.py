"""Column statistics: the numba pass against the generic chunked code (the oracle)."""

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
