"""LinearRegression on every backend, against scikit-learn's."""

import warnings

import numpy as np
import pytest
import sklearn.linear_model as sklm
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, UndefinedMetricWarning
from sklearn.metrics import r2_score

from xplearn import config_context
from xplearn._xp import to_numpy
from xplearn.linear_model import LinearRegression
from xplearn.testing import assert_allclose_xp, assert_on_backend, skip_without_float64

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


def _fit_both(backend, dtype, X, y, sample_weight=None, **params):
    """Fit xplearn on ``backend`` in ``dtype`` and scikit-learn on float64 NumPy."""
    ours = LinearRegression(**params).fit(
        backend.asarray(X, dtype=dtype),
        backend.asarray(y, dtype=dtype),
        sample_weight=None if sample_weight is None else backend.asarray(sample_weight, dtype),
    )
    reference = sklm.LinearRegression(**params).fit(X, y, sample_weight=sample_weight)
    return ours, reference


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
@pytest.mark.parametrize("n_targets", [None, 3], ids=["y1d", "y2d"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_matches_sklearn(backend, dtype, n_targets, fit_intercept, weighted):
    skip_without_float64(backend, dtype)
    X, y = _make_data(0, n_targets=n_targets)
    weights = np.random.default_rng(1).uniform(0.1, 3.0, X.shape[0]) if weighted else None
    ours, reference = _fit_both(backend, dtype, X, y, weights, fit_intercept=fit_intercept)
    _assert_matches(ours, reference, backend, dtype, X)
    assert ours.rank_ == reference.rank_
    assert isinstance(ours.rank_, int)
    assert_on_backend(ours.singular_, backend)
    assert_allclose_xp(ours.singular_, reference.singular_, **_tolerance(dtype))
    assert ours.n_features_in_ == X.shape[1]
    if n_targets is None:
        assert ours.intercept_.ndim == 0
    else:
        assert tuple(ours.intercept_.shape) == (n_targets,)
    if not fit_intercept:
        assert_allclose_xp(ours.intercept_, np.zeros(np.shape(ours.intercept_)), atol=0)


@DTYPES
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
def test_fewer_samples_than_features_gives_min_norm(backend, dtype, fit_intercept):
    """n_samples < n_features: the minimum-norm solution, as scipy's lstsq."""
    skip_without_float64(backend, dtype)
    X, y = _make_data(2, n_samples=8, n_features=15, n_targets=2)
    ours, reference = _fit_both(backend, dtype, X, y, fit_intercept=fit_intercept)
    _assert_matches(ours, reference, backend, dtype, X)
    assert ours.rank_ == reference.rank_ == (7 if fit_intercept else 8)
    # an exact interpolation of the training data
    assert_allclose_xp(ours.predict(backend.asarray(X, dtype=dtype)), y, rtol=1e-3, atol=1e-3)


@DTYPES
def test_rank_deficient_duplicated_column(backend, dtype):
    skip_without_float64(backend, dtype)
    X, y = _make_data(3, n_features=4)
    X = np.concatenate([X, X[:, [1]]], axis=1)
    ours, reference = _fit_both(backend, dtype, X, y)
    _assert_matches(ours, reference, backend, dtype, X)
    assert ours.rank_ == reference.rank_ == 4
    coef = to_numpy(ours.coef_)
    # the minimum-norm solution splits the duplicated feature's weight evenly
    np.testing.assert_allclose(coef[1], coef[4], **_tolerance(dtype))


@DTYPES
def test_integer_weights_equal_repeated_rows(backend, dtype):
    skip_without_float64(backend, dtype)
    X, y = _make_data(4, n_samples=30, n_targets=2)
    weights = np.random.default_rng(5).integers(0, 4, X.shape[0])
    weights[:3] = [0, 2, 3]
    repeated = LinearRegression().fit(
        backend.asarray(np.repeat(X, weights, axis=0), dtype),
        backend.asarray(np.repeat(y, weights, axis=0), dtype),
    )
    weighted = LinearRegression().fit(
        backend.asarray(X, dtype), backend.asarray(y, dtype), sample_weight=backend.asarray(weights)
    )
    tolerance = _tolerance(dtype)
    assert_allclose_xp(weighted.coef_, repeated.coef_, **tolerance)
    assert_allclose_xp(weighted.intercept_, repeated.intercept_, **tolerance)


def test_float32_preserved_and_mixed_policy(backend):
    X, y = _make_data(6, n_targets=2)
    reference = sklm.LinearRegression().fit(X, y)
    xp = backend.xp
    for policy in ("preserve", "mixed", "float32"):
        ours = LinearRegression(dtype_policy=policy).fit(
            backend.asarray(X, np.float32), backend.asarray(y, np.float32)
        )
        for name in ("coef_", "intercept_", "singular_"):
            value = getattr(ours, name)
            assert_on_backend(value, backend)
            assert value.dtype == xp.float32, f"{policy}: {name} is {value.dtype}"
        assert_allclose_xp(ours.coef_, reference.coef_, rtol=1e-4, atol=1e-4)
        assert_allclose_xp(ours.intercept_, np.asarray(reference.intercept_), rtol=1e-4, atol=1e-4)
        assert ours.predict(backend.asarray(X, np.float32)).dtype == xp.float32


def test_float64_policy_and_global_config(backend):
    if not backend.has_float64:
        pytest.skip(f"{backend} has no float64")
    X, y = _make_data(7)
    X32, y32 = backend.asarray(X, np.float32), backend.asarray(y, np.float32)
    ours = LinearRegression(dtype_policy="float64").fit(X32, y32)
    assert ours.coef_.dtype == backend.xp.float64
    with config_context(dtype_policy="float64"):
        assert LinearRegression().fit(X32, y32).coef_.dtype == backend.xp.float64


def test_mixed_policy_without_float64(no_float64):
    """On a device without float64 "mixed" accumulates in float32, with no error."""
    X, y = _make_data(8)
    ours = LinearRegression(dtype_policy="mixed").fit(
        no_float64.asarray(X, np.float32), no_float64.asarray(y, np.float32)
    )
    assert ours.coef_.dtype == no_float64.xp.float32
    assert_on_backend(ours.coef_, no_float64)
    reference = sklm.LinearRegression().fit(X, y)
    assert_allclose_xp(ours.coef_, reference.coef_, rtol=1e-4, atol=1e-4)


def test_integer_input_uses_default_float(backend):
    rng = np.random.default_rng(9)
    X = rng.integers(-5, 5, (20, 3))
    y = X @ np.array([1, -2, 3]) + 4
    ours = LinearRegression().fit(backend.asarray(X), backend.asarray(y))
    assert backend.xp.isdtype(ours.coef_.dtype, "real floating")
    assert_allclose_xp(ours.coef_, np.array([1.0, -2.0, 3.0]), rtol=1e-4, atol=1e-4)
    assert_allclose_xp(ours.intercept_, np.asarray(4.0), rtol=1e-4)


@pytest.mark.parametrize("n_targets", [None, 2], ids=["y1d", "y2d"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_score_matches_r2_score(backend, n_targets, weighted):
    dtype = np.float64 if backend.has_float64 else np.float32
    X, y = _make_data(10, n_targets=n_targets)
    X_test, y_test = _make_data(11, n_samples=25, n_targets=n_targets)
    y_test = y_test + 0.5  # some error for R^2 to measure
    weights = np.random.default_rng(12).uniform(0.1, 2, 25) if weighted else None
    ours = LinearRegression().fit(backend.asarray(X, dtype), backend.asarray(y, dtype))
    reference = sklm.LinearRegression().fit(X, y)
    score = ours.score(
        backend.asarray(X_test, dtype),
        backend.asarray(y_test, dtype),
        sample_weight=None if weights is None else backend.asarray(weights, dtype),
    )
    assert isinstance(score, float)
    expected = r2_score(y_test, reference.predict(X_test), sample_weight=weights)
    np.testing.assert_allclose(score, expected, rtol=1e-6 if dtype == np.float64 else 1e-4)


def test_score_constant_target_and_single_sample():
    """Constant y: 1.0 if predicted exactly, 0.0 otherwise (scikit-learn's convention)."""
    X = np.array([[1.0], [2.0], [3.0]])
    model = LinearRegression().fit(X, np.array([2.0, 2.0, 2.0]))
    assert model.score(X, np.array([2.0, 2.0, 2.0])) == 1.0
    assert model.score(X, np.array([3.0, 3.0, 3.0])) == 0.0
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        assert np.isnan(model.score(X[:1], np.array([2.0])))


@given(
    seed=st.integers(0, 2**32 - 1),
    n_samples=st.integers(8, 30),
    n_features=st.integers(1, 5),
    permutation_seed=st.integers(0, 2**32 - 1),
    weighted=st.booleans(),
)
def test_invariant_to_row_permutation_and_inputs_unchanged(
    seed, n_samples, n_features, permutation_seed, weighted
):
    X, y = _make_data(seed, n_samples, n_features)
    weights = np.random.default_rng(seed).uniform(0.5, 2, n_samples) if weighted else None
    X_before, y_before = X.copy(), y.copy()
    weights_before = None if weights is None else weights.copy()
    order = np.random.default_rng(permutation_seed).permutation(n_samples)
    reference = LinearRegression().fit(X, y, sample_weight=weights)
    shuffled = LinearRegression().fit(
        X[order], y[order], sample_weight=None if weights is None else weights[order]
    )
    np.testing.assert_allclose(shuffled.coef_, reference.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(shuffled.intercept_, reference.intercept_, rtol=1e-7, atol=1e-9)
    predicted = reference.predict(X)
    np.testing.assert_allclose(shuffled.predict(X[order]), predicted[order], rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    if weights is not None:
        np.testing.assert_array_equal(weights, weights_before)


def test_inputs_unchanged_on_backend(backend):
    X, y = _make_data(13, n_targets=2)
    X_backend, y_backend = backend.asarray(X), backend.asarray(y)
    weights = backend.asarray(np.linspace(0.5, 2.0, X.shape[0]))
    model = LinearRegression().fit(X_backend, y_backend, sample_weight=weights)
    model.predict(X_backend)
    model.score(X_backend, y_backend)
    np.testing.assert_array_equal(to_numpy(X_backend), X)
    np.testing.assert_array_equal(to_numpy(y_backend), y)
    np.testing.assert_array_equal(to_numpy(weights), np.linspace(0.5, 2.0, X.shape[0]))


# ---------------------------------------------------------------------------------------
# Errors and scikit-learn compatibility


def test_y_none_is_an_error():
    X, _ = _make_data()
    with pytest.raises(ValueError, match="requires y to be passed"):
        LinearRegression().fit(X, None)


def test_y_of_wrong_length_is_an_error(backend):
    X, y = _make_data()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LinearRegression().fit(backend.asarray(X), backend.asarray(y[:-1]))


def test_nan_in_y_is_an_error(backend):
    X, y = _make_data()
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"LinearRegression\.fit\(\).*NaN"):
        LinearRegression().fit(backend.asarray(X), backend.asarray(y))


def test_wrong_number_of_features_at_predict(backend):
    X, y = _make_data(n_features=5)
    model = LinearRegression().fit(backend.asarray(X), backend.asarray(y))
    with pytest.raises(ValueError, match=r"LinearRegression\.predict\(\): X has 4 features"):
        model.predict(backend.asarray(X[:, :4]))


def test_not_fitted():
    with pytest.raises(NotFittedError, match=r"LinearRegression\.predict\(\)"):
        LinearRegression().predict(np.ones((2, 2)))


def test_positive_is_not_supported():
    X, y = _make_data()
    with pytest.raises(NotImplementedError, match=r"LinearRegression\.fit\(\).*positive"):
        LinearRegression(positive=True).fit(X, y)


def test_negative_tol_is_an_error():
    X, y = _make_data()
    with pytest.raises(ValueError, match=r"LinearRegression\.fit\(\): .*'tol' parameter"):
        LinearRegression(tol=-1.0).fit(X, y)


def test_score_with_wrong_number_of_targets():
    X, y = _make_data(n_targets=2)
    model = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="2"):
        model.score(X, np.stack([y[:, 0]] * 3, axis=1))


def test_parameters_mirror_sklearn():
    """Every scikit-learn parameter is accepted, plus dtype_policy; clone works."""
    ours = LinearRegression().get_params()
    theirs = sklm.LinearRegression().get_params()
    assert set(ours) == set(theirs) | {"dtype_policy"}
    for name, value in theirs.items():
        assert ours[name] == value, name
    model = LinearRegression(fit_intercept=False, tol=1e-8, dtype_policy="mixed")
    assert clone(model).get_params() == model.get_params()


def test_column_vector_y_keeps_2d_attributes():
    X, y = _make_data()
    ours = LinearRegression().fit(X, y[:, None])
    reference = sklm.LinearRegression().fit(X, y[:, None])
    assert ours.coef_.shape == reference.coef_.shape == (1, X.shape[1])
    assert ours.intercept_.shape == reference.intercept_.shape == (1,)
    assert ours.predict(X).shape == (X.shape[0], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(ours.predict(X), reference.predict(X), rtol=1e-10)


# Numerical trust (issue 15): the information of every column kept, extremes fitted exactly


def _mixed_scales(n_samples=100_000, seed=0):
    """Columns of scale 1, 0.01, 300 + 0.1 * noise and 1e4 + noise (the issue's data),
    a target with a coefficient of 100 on the 0.01 column."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n_samples, 4))
    X = noise * np.array([1.0, 0.01, 0.1, 1.0]) + np.array([0.0, 0.0, 300.0, 1e4])
    y = X @ np.array([1.0, 100.0, 3.0, 2.0]) + 7.0 + 0.01 * rng.standard_normal(n_samples)
    return X, y


def _lstsq_with_intercept(X, y):
    """Float64 least squares with an intercept: the oracle (coef, intercept), on the
    centered data (an intercept column next to data at 1e7 would cost lstsq its digits)."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    x_mean, y_mean = X.mean(axis=0), y.mean()
    coef = np.linalg.lstsq(X - x_mean, y - y_mean, rcond=None)[0]
    return coef, y_mean - x_mean @ coef


def test_float32_mixed_column_scales_keep_every_column(backend):
    """float32 data of mixed column scales and offsets (100k rows): the float64 fit of
    the same float32 values to 1%, full rank (the eps * n_samples cutoff dropped the
    0.01 column: coefficient ~0, rank 3)."""
    X, y = _mixed_scales()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    expected_coef, expected_intercept = _lstsq_with_intercept(X32, y32)
    model = LinearRegression().fit(backend.asarray(X32), backend.asarray(y32))
    assert model.coef_.dtype == backend.xp.float32
    assert model.rank_ == 4
    assert_allclose_xp(model.coef_, expected_coef, rtol=1e-2, atol=0)
    predicted = to_numpy(model.predict(backend.asarray(X32[:100])))
    np.testing.assert_allclose(
        predicted, X32[:100].astype(np.float64) @ expected_coef + expected_intercept, rtol=1e-5
    )


@pytest.mark.parametrize("magnitude", [1e250, 1e-250])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
def test_extreme_magnitudes_fit_exactly(backend, magnitude, fit_intercept):
    """float64 X at 1e+-250: the coefficients of the unscaled fit divided by the scale
    (was: all zero, the mean of y, at 1e250; NaN at 1e-250)."""
    skip_without_float64(backend, np.float64)
    X, y = _make_data(5, n_samples=200, n_features=3)
    if fit_intercept:
        coef, intercept = _lstsq_with_intercept(X, y)
    else:
        coef, intercept = np.linalg.lstsq(X, y, rcond=None)[0], 0.0
    model = LinearRegression(fit_intercept=fit_intercept).fit(
        backend.asarray(X * magnitude), backend.asarray(y)
    )
    assert model.rank_ == 3
    assert_allclose_xp(model.coef_, coef / magnitude, rtol=1e-9, atol=0)
    assert_allclose_xp(model.intercept_, np.asarray(intercept), rtol=1e-9, atol=1e-12)
    singular = np.linalg.svd(X - X.mean(axis=0) if fit_intercept else X, compute_uv=False)
    assert_allclose_xp(model.singular_, singular * magnitude, rtol=1e-9, atol=0)
    score = model.score(backend.asarray(X * magnitude), backend.asarray(y))
    assert score > 0.9


def test_rank_deficient_columns_of_different_scales_give_min_norm(backend):
    """Collinear columns of different scales: the column scaling does not change which
    solution is returned, the minimum-norm one in the units of X (np.linalg.pinv's)."""
    rng = np.random.default_rng(6)
    base = rng.standard_normal((60, 2))
    X = np.column_stack([base[:, 0], 1e-3 * base[:, 0], base[:, 1], 50.0 * base[:, 1]])
    y = base @ np.array([2.0, -1.0]) + 0.1 * rng.standard_normal(60)
    centered = X - X.mean(axis=0)
    expected = np.linalg.pinv(centered) @ (y - y.mean())
    model = LinearRegression().fit(backend.asarray(X), backend.asarray(y))
    assert model.rank_ == 2
    assert_allclose_xp(model.coef_, expected, rtol=1e-6, atol=1e-12)


def test_coefficients_out_of_float32_range_are_an_error(backend):
    """float32 X at 1e-30 against y at 1e30: coefficients near 1e60 have no float32, a
    clear error instead of an infinite or NaN model."""
    X, y = _make_data(7, n_samples=50, n_features=2)
    with pytest.raises(ValueError, match=r"LinearRegression\.fit\(\): .*not representable"):
        LinearRegression().fit(
            backend.asarray(X * 1e-30, dtype=np.float32),
            backend.asarray(y * 1e30, dtype=np.float32),
        )


def test_failed_refit_keeps_the_previous_model(backend):
    """A refit that fails (NaN in X; coefficients out of range) leaves the previously
    fitted model as it was: its coefficients, its feature count, and predict."""
    X, y = _make_data(8, n_samples=50, n_features=3)
    X32, y32 = backend.asarray(X, dtype=np.float32), backend.asarray(y, dtype=np.float32)
    model = LinearRegression().fit(X32, y32)
    coef, predicted = to_numpy(model.coef_).copy(), to_numpy(model.predict(X32))
    bad_X = X[:, :2].copy()
    bad_X[3, 1] = np.nan
    with pytest.raises(ValueError):
        model.fit(backend.asarray(bad_X, dtype=np.float32), y32)
    with pytest.raises(ValueError, match="not representable"):
        model.fit(
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
        {"tol": -1.0},
        {"tol": float("nan")},
        {"n_jobs": "two"},
    ],
    ids=lambda params: "-".join(f"{key}={value}" for key, value in params.items()),
)
def test_parameters_are_validated_as_scikit_learn_does(params):
    """Each parameter is refused as scikit-learn refuses it: its InvalidParameterError (a
    ValueError and a TypeError), the message naming the method."""
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = _make_data(9)
    with pytest.raises(InvalidParameterError):
        sklm.LinearRegression(**params).fit(X, y)
    with pytest.raises(InvalidParameterError, match=r"LinearRegression\.fit\(\): "):
        LinearRegression(**params).fit(X, y)


def test_float32_mixed_column_scales_without_float64(no_float64):
    """On a device without float64 (float32 QR, two-pass mean): the float64 fit to 1%
    (a one-pass float32 mean of the 1e4 column, units off, biased the coefficient by
    13%)."""
    X, y = _mixed_scales()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    expected_coef, _ = _lstsq_with_intercept(X32, y32)
    model = LinearRegression().fit(no_float64.asarray(X32), no_float64.asarray(y32))
    assert model.rank_ == 4
    np.testing.assert_allclose(to_numpy(model.coef_), expected_coef, rtol=1e-2)


@pytest.mark.parametrize("offset", [1e5, 1e7])
def test_float32_predictions_far_from_the_origin(backend, offset):
    """float32 X at 1e5..1e7 from the origin: ``X @ coef_ + intercept_`` in float32 would
    cancel (ulp(4e5) = 0.03 against a spread of 1); predictions are made around the
    training mean: the float64 fit's predictions to 1e-3 of their spread."""
    rng = np.random.default_rng(10)
    X32 = (rng.standard_normal((300, 4)) + offset).astype(np.float32)
    X64 = X32.astype(np.float64)
    y = (X64 - X64.mean(axis=0)) @ rng.standard_normal(4) + 1e-3 * rng.standard_normal(300)
    coef, intercept = _lstsq_with_intercept(X64, y)
    expected = X64 @ coef + intercept
    model = LinearRegression().fit(backend.asarray(X32), backend.asarray(y, dtype=np.float32))
    predicted = to_numpy(model.predict(backend.asarray(X32))).astype(np.float64)
    np.testing.assert_allclose(predicted, expected, atol=1e-3 * np.std(expected), rtol=0)
