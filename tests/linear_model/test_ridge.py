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


# Numerical trust (issue 15)


def _mixed_scales(n_samples=100_000, seed=0):
    """Columns of scale 1, 0.01, 300 + 0.1 * noise and 1e4 + noise (issue 15's data)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n_samples, 4))
    X = noise * np.array([1.0, 0.01, 0.1, 1.0]) + np.array([0.0, 0.0, 300.0, 1e4])
    y = X @ np.array([1.0, 100.0, 3.0, 2.0]) + 7.0 + 0.01 * rng.standard_normal(n_samples)
    return X, y


def _exact_ridge(X, y, alpha, magnitude=1.0):
    """Ridge on ``X * magnitude`` by the float64 normal equations of the centered data in
    scaled form (``X`` of order 1): ``w = c (c**2 G + alpha I)^-1 b`` for c < 1, ``(G +
    alpha / c**2 I)^-1 b / c`` otherwise (``G = Xc.T Xc``, ``b = Xc.T yc``), which keeps
    every term in float64's range."""
    centered, target = X - X.mean(axis=0), y - y.mean()
    gram, moment = centered.T @ centered, centered.T @ target
    eye = np.eye(X.shape[1])
    if magnitude >= 1.0:
        coef = np.linalg.solve(gram + (alpha / magnitude / magnitude) * eye, moment) / magnitude
    else:
        coef = magnitude * np.linalg.solve(magnitude**2 * gram + alpha * eye, moment)
    return coef, y.mean() - (X.mean(axis=0) * magnitude) @ coef


def test_float32_mixed_column_scales_match_the_float64_fit(backend):
    """float32 data of mixed column scales and offsets (100k rows): scikit-learn's
    float64 fit of the same float32 values to 1% (the 0.01 column was dropped)."""
    X, y = _mixed_scales()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    expected = sklm.Ridge(alpha=1.0).fit(X32.astype(np.float64), y32.astype(np.float64))
    model = Ridge(alpha=1.0).fit(backend.asarray(X32), backend.asarray(y32))
    assert model.coef_.dtype == backend.xp.float32
    assert_allclose_xp(model.coef_, expected.coef_, rtol=1e-2, atol=0)
    predicted = to_numpy(model.predict(backend.asarray(X32[:100])))
    np.testing.assert_allclose(predicted, expected.predict(X32[:100].astype(np.float64)), rtol=1e-5)


@pytest.mark.parametrize("magnitude", [1e250, 1e-250])
@pytest.mark.parametrize("alpha", [1.0, 1e3])
def test_extreme_magnitudes_fit_exactly(backend, magnitude, alpha):
    """float64 X at 1e+-250: the exact ridge solution of that data (at 1e250 the penalty
    is negligible: the least-squares fit; at 1e-250 it dominates: ``X.T y / alpha``), not
    zeros (the filter's s**2 overflowed) or NaN (underflowed). scikit-learn itself
    fails at 1e250 (its Gram matrix overflows)."""
    skip_without_float64(backend, np.float64)
    X, y = _make_data(5, n_samples=200, n_features=3)
    coef, intercept = _exact_ridge(X, y, alpha, magnitude)
    model = Ridge(alpha=alpha).fit(backend.asarray(X * magnitude), backend.asarray(y))
    assert_allclose_xp(model.coef_, coef, rtol=1e-9, atol=0)
    assert_allclose_xp(model.intercept_, np.asarray(intercept), rtol=1e-9, atol=1e-12)


def test_failed_refit_keeps_the_previous_model(backend):
    X, y = _make_data(8, n_features=3)
    X32, y32 = backend.asarray(X, dtype=np.float32), backend.asarray(y, dtype=np.float32)
    model = Ridge(alpha=0.5).fit(X32, y32)
    coef, predicted = to_numpy(model.coef_).copy(), to_numpy(model.predict(X32))
    bad_X = X[:, :2].copy()
    bad_X[3, 1] = np.inf
    with pytest.raises(ValueError):
        model.fit(backend.asarray(bad_X, dtype=np.float32), y32)
    with pytest.raises(ValueError, match="not representable"):
        model.set_params(alpha=0.0).fit(
            backend.asarray(X[:, :2] * 1e-30, dtype=np.float32),
            backend.asarray(y * 1e30, dtype=np.float32),
        )
    assert model.n_features_in_ == 3
    np.testing.assert_array_equal(to_numpy(model.coef_), coef)
    np.testing.assert_array_equal(to_numpy(model.predict(X32)), predicted)


@pytest.mark.parametrize(
    "params",
    [
        {"fit_intercept": "yes"},
        {"copy_X": "no"},
        {"positive": "no"},
        {"max_iter": 0},
        {"tol": -1.0},
        {"alpha": "big"},
        {"solver": "bogus"},
        {"random_state": "seed"},
    ],
    ids=lambda params: "-".join(f"{key}={value}" for key, value in params.items()),
)
def test_parameters_are_validated_as_scikit_learn_does(params):
    """Each parameter is refused as scikit-learn refuses it: its InvalidParameterError (a
    ValueError and a TypeError), the message naming the method."""
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = _make_data(9)
    with pytest.raises(InvalidParameterError):
        sklm.Ridge(**params).fit(X, y)
    with pytest.raises(InvalidParameterError, match=r"Ridge\.fit\(\): "):
        Ridge(**params).fit(X, y)


def test_float32_mixed_column_scales_without_float64(no_float64):
    """On a device without float64 (float32 QR, two-pass mean): the float64 fit to 1%."""
    X, y = _mixed_scales()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    expected = sklm.Ridge(alpha=1.0).fit(X32.astype(np.float64), y32.astype(np.float64))
    model = Ridge(alpha=1.0).fit(no_float64.asarray(X32), no_float64.asarray(y32))
    np.testing.assert_allclose(to_numpy(model.coef_), expected.coef_, rtol=1e-2)


def test_float32_predictions_far_from_the_origin(backend):
    """float32 X at 1e5 from the origin: predictions around the training mean, the float64
    fit's (scikit-learn, same float32 data) to 1e-3 of their spread."""
    rng = np.random.default_rng(10)
    X32 = (rng.standard_normal((300, 4)) + 1e5).astype(np.float32)
    X64 = X32.astype(np.float64)
    y = (X64 - X64.mean(axis=0)) @ rng.standard_normal(4) + 1e-3 * rng.standard_normal(300)
    expected = sklm.Ridge(alpha=1.0).fit(X64, y).predict(X64)
    model = Ridge(alpha=1.0).fit(backend.asarray(X32), backend.asarray(y, dtype=np.float32))
    predicted = to_numpy(model.predict(backend.asarray(X32))).astype(np.float64)
    np.testing.assert_allclose(predicted, expected, atol=1e-3 * np.std(expected), rtol=0)
