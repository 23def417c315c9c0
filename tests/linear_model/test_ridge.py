"""Ridge on every backend, against scikit-learn's."""

import numpy as np
import pytest
import sklearn.linear_model as sklm
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone

from xplearn._xp import to_numpy
from xplearn.linear_model import LinearRegression, Ridge
from xplearn.testing import (
    assert_allclose_xp,
    assert_on_backend,
    available_backends,
    skip_without_float64,
)

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def _make_data(seed=0, n_samples=40, n_features=5, n_targets=None):
    """Well-conditioned data with offset features and a non-zero intercept."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) + rng.uniform(-3, 3, n_features)
    shape = (n_features,) if n_targets is None else (n_features, n_targets)
    coef = rng.uniform(-2, 2, shape)
    noise_shape = (n_samples,) if n_targets is None else (n_samples, n_targets)
    y = X @ coef + 1.5 + 0.1 * rng.standard_normal(noise_shape)
    return X, y


def _tolerance(dtype):
    if dtype == np.float64:
        return {"rtol": 1e-6, "atol": 1e-9}
    return {"rtol": 1e-4, "atol": 1e-4}


def _assert_matches(ours, reference, backend, dtype, X):
    tolerance = _tolerance(dtype)
    xp = backend.xp
    expected_dtype = xp.float64 if dtype == np.float64 else xp.float32
    for name in ("coef_", "intercept_"):
        value = getattr(ours, name)
        assert_on_backend(value, backend)
        assert value.dtype == expected_dtype, f"{name} is {value.dtype}"
        expected = np.asarray(getattr(reference, name))  # intercept_ is a NumPy scalar
        assert_allclose_xp(value, expected, err_msg=name, **tolerance)
    assert tuple(ours.coef_.shape) == reference.coef_.shape
    predicted = ours.predict(backend.asarray(X, dtype=dtype))
    assert_on_backend(predicted, backend)
    assert predicted.dtype == expected_dtype
    assert tuple(predicted.shape) == reference.predict(X).shape
    assert_allclose_xp(predicted, reference.predict(X), **tolerance)


@DTYPES
@pytest.mark.parametrize(
    ("n_targets", "alpha"),
    [(None, 1.0), (None, 0.0), (3, 2.5), (3, np.array([0.1, 1.0, 10.0]))],
    ids=["y1d", "y1d-alpha0", "y2d", "y2d-per_target_alpha"],
)
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_matches_sklearn(backend, dtype, n_targets, alpha, fit_intercept, weighted):
    skip_without_float64(backend, dtype)
    X, y = _make_data(0, n_targets=n_targets)
    weights = np.random.default_rng(1).uniform(0.1, 3.0, X.shape[0]) if weighted else None
    params = {"alpha": alpha, "fit_intercept": fit_intercept}
    ours = Ridge(**params).fit(
        backend.asarray(X, dtype),
        backend.asarray(y, dtype),
        sample_weight=None if weights is None else backend.asarray(weights, dtype),
    )
    reference = sklm.Ridge(**params).fit(X, y, sample_weight=weights)
    _assert_matches(ours, reference, backend, dtype, X)
    assert ours.n_iter_ is None
    assert ours.solver_ == "svd"
    expected_shape = () if n_targets is None else (n_targets,)
    assert tuple(ours.intercept_.shape) == expected_shape


@DTYPES
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("alpha", [1e-3, 1.0, [0.5, 5.0]], ids=["small", "one", "per_target"])
def test_fewer_samples_than_features(backend, dtype, fit_intercept, alpha):
    skip_without_float64(backend, dtype)
    X, y = _make_data(2, n_samples=8, n_features=15, n_targets=2)
    params = {"alpha": alpha, "fit_intercept": fit_intercept}
    ours = Ridge(**params).fit(backend.asarray(X, dtype), backend.asarray(y, dtype))
    reference = sklm.Ridge(**params).fit(X, y)
    _assert_matches(ours, reference, backend, dtype, X)


@DTYPES
def test_per_target_alpha_equals_separate_fits(backend, dtype):
    skip_without_float64(backend, dtype)
    X, y = _make_data(3, n_targets=3)
    alphas = [0.01, 1.0, 100.0]
    joint = Ridge(alpha=backend.asarray(alphas, dtype)).fit(
        backend.asarray(X, dtype), backend.asarray(y, dtype)
    )
    for target, alpha in enumerate(alphas):
        single = Ridge(alpha=alpha).fit(backend.asarray(X, dtype), backend.asarray(y[:, target]))
        assert_allclose_xp(joint.coef_[target, :], single.coef_, **_tolerance(dtype))
        # a slice, not [target]: NumPy indexing gives a scalar, which to_numpy rejects
        intercept = joint.intercept_[target : target + 1]
        assert_allclose_xp(intercept, single.intercept_[None], **_tolerance(dtype))


@DTYPES
def test_integer_weights_equal_repeated_rows(backend, dtype):
    skip_without_float64(backend, dtype)
    X, y = _make_data(4, n_samples=30, n_targets=2)
    weights = np.random.default_rng(5).integers(0, 4, X.shape[0])
    weights[:3] = [0, 2, 3]
    repeated = Ridge(alpha=3.0).fit(
        backend.asarray(np.repeat(X, weights, axis=0), dtype),
        backend.asarray(np.repeat(y, weights, axis=0), dtype),
    )
    weighted = Ridge(alpha=3.0).fit(
        backend.asarray(X, dtype), backend.asarray(y, dtype), sample_weight=backend.asarray(weights)
    )
    assert_allclose_xp(weighted.coef_, repeated.coef_, **_tolerance(dtype))
    assert_allclose_xp(weighted.intercept_, repeated.intercept_, **_tolerance(dtype))


@pytest.mark.parametrize("solver", ["auto", "svd", "cholesky"])
def test_solvers_agree_with_sklearn(solver):
    X, y = _make_data(6, n_targets=2)
    ours = Ridge(alpha=0.7, solver=solver).fit(X, y)
    reference = sklm.Ridge(alpha=0.7, solver=solver).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-10)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-10)


def test_alpha_zero_is_linear_regression(backend):
    X, y = _make_data(7, n_targets=2)
    ridge = Ridge(alpha=0.0).fit(backend.asarray(X), backend.asarray(y))
    ols = LinearRegression().fit(backend.asarray(X), backend.asarray(y))
    tolerance = _tolerance(np.float64 if backend.has_float64 else np.float32)
    assert_allclose_xp(ridge.coef_, ols.coef_, **tolerance)
    assert_allclose_xp(ridge.intercept_, ols.intercept_, **tolerance)


def test_float32_preserved_and_mixed_policy(backend):
    X, y = _make_data(8, n_targets=2)
    reference = sklm.Ridge(alpha=0.5).fit(X, y)
    xp = backend.xp
    for policy in ("preserve", "mixed", "float32"):
        ours = Ridge(alpha=0.5, dtype_policy=policy).fit(
            backend.asarray(X, np.float32), backend.asarray(y, np.float32)
        )
        for name in ("coef_", "intercept_"):
            value = getattr(ours, name)
            assert_on_backend(value, backend)
            assert value.dtype == xp.float32, f"{policy}: {name} is {value.dtype}"
        assert_allclose_xp(ours.coef_, reference.coef_, rtol=1e-4, atol=1e-4)
        assert_allclose_xp(ours.intercept_, reference.intercept_, rtol=1e-4, atol=1e-4)
        assert ours.predict(backend.asarray(X, np.float32)).dtype == xp.float32


@given(
    seed=st.integers(0, 2**32 - 1),
    n_samples=st.integers(4, 30),
    n_features=st.integers(1, 8),
    permutation_seed=st.integers(0, 2**32 - 1),
    alpha=st.floats(1e-3, 1e3),
)
def test_invariant_to_row_permutation_and_inputs_unchanged(
    seed, n_samples, n_features, permutation_seed, alpha
):
    X, y = _make_data(seed, n_samples, n_features, n_targets=2)
    weights = np.random.default_rng(seed).uniform(0.5, 2, n_samples)
    before = (X.copy(), y.copy(), weights.copy())
    order = np.random.default_rng(permutation_seed).permutation(n_samples)
    reference = Ridge(alpha=alpha).fit(X, y, sample_weight=weights)
    shuffled = Ridge(alpha=alpha).fit(X[order], y[order], sample_weight=weights[order])
    np.testing.assert_allclose(shuffled.coef_, reference.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(shuffled.intercept_, reference.intercept_, rtol=1e-7, atol=1e-9)
    predicted = reference.predict(X)
    np.testing.assert_allclose(shuffled.predict(X[order]), predicted[order], rtol=1e-7, atol=1e-9)
    for array, copy in zip((X, y, weights), before, strict=True):
        np.testing.assert_array_equal(array, copy)


def test_score(backend):
    dtype = np.float64 if backend.has_float64 else np.float32
    X, y = _make_data(9)
    ours = Ridge(alpha=10.0).fit(backend.asarray(X, dtype), backend.asarray(y, dtype))
    reference = sklm.Ridge(alpha=10.0).fit(X, y)
    score = ours.score(backend.asarray(X, dtype), backend.asarray(y, dtype))
    assert isinstance(score, float)
    np.testing.assert_allclose(score, reference.score(X, y), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Errors and scikit-learn compatibility


@pytest.mark.parametrize(
    "alpha", [-1.0, float("nan"), float("inf"), [1.0, -0.5], [1.0, float("inf")]]
)
def test_negative_or_infinite_alpha_is_an_error(backend, alpha):
    X, y = _make_data(n_targets=2)
    with pytest.raises(ValueError, match=r"Ridge\.fit\(\): .*alpha"):
        Ridge(alpha=alpha).fit(backend.asarray(X), backend.asarray(y))


def test_alpha_of_wrong_length_is_an_error():
    X, y = _make_data(n_targets=3)
    with pytest.raises(ValueError, match="Number of targets and number of penalties"):
        Ridge(alpha=[1.0, 2.0]).fit(X, y)
    with pytest.raises(ValueError, match="1-D array"):
        Ridge(alpha=np.ones((3, 1))).fit(X, y)


@pytest.mark.parametrize("solver", ["lsqr", "sag", "lbfgs", "bogus"])
def test_unsupported_solver_is_an_error(solver):
    X, y = _make_data()
    with pytest.raises(ValueError, match=r"Ridge\.fit\(\): .*solver"):
        Ridge(solver=solver).fit(X, y)


def test_positive_is_not_supported():
    X, y = _make_data()
    with pytest.raises(NotImplementedError, match=r"Ridge\.fit\(\).*positive"):
        Ridge(positive=True).fit(X, y)


def test_y_none_and_bad_y_are_errors(backend):
    X, y = _make_data()
    with pytest.raises(ValueError, match="requires y to be passed"):
        Ridge().fit(backend.asarray(X), None)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Ridge().fit(backend.asarray(X), backend.asarray(y[1:]))
    y[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Ridge().fit(backend.asarray(X), backend.asarray(y))


def test_wrong_number_of_features_at_predict(backend):
    X, y = _make_data(n_features=5)
    model = Ridge().fit(backend.asarray(X), backend.asarray(y))
    with pytest.raises(ValueError, match=r"Ridge\.predict\(\): X has 6 features"):
        model.predict(backend.asarray(np.ones((3, 6))))


def test_parameters_mirror_sklearn():
    ours = Ridge().get_params()
    theirs = sklm.Ridge().get_params()
    assert set(ours) == set(theirs) | {"dtype_policy"}
    for name, value in theirs.items():
        assert ours[name] == value, name
    model = Ridge(alpha=[1.0, 2.0], solver="svd", dtype_policy="mixed")
    assert clone(model).get_params()["alpha"] == [1.0, 2.0]


def test_fit_on_dask_leaves_evaluated_attributes():
    """On Dask the fitted arrays are evaluated once at fit, not recomputed per use."""
    dask_backends = [backend for backend in available_backends() if backend.name == "dask"]
    if not dask_backends:
        pytest.skip("Dask is not among the backends tested")
    (backend,) = dask_backends
    X, y = _make_data(10, n_targets=2)
    model = Ridge().fit(backend.asarray(X), backend.asarray(y))
    for name in ("coef_", "intercept_"):
        value = getattr(model, name)
        assert len(value.__dask_graph__()) == 1, name
    np.testing.assert_allclose(
        to_numpy(model.coef_), sklm.Ridge().fit(X, y).coef_, rtol=1e-6, atol=1e-9
    )
