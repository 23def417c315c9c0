"""LinearRegression and Ridge on Dask arrays: one pass over the data (the R factor of
``[X | y]``), the in-memory solver on the host, the in-memory NumPy results."""

import numpy as np
import pytest
import sklearn.linear_model as sklm

from xplearn.linear_model import LinearRegression, Ridge
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")

#: Uneven row blocks (one of them empty) and split column chunks.
CHUNKS = ((700, 0, 550, 750), (3, 3))
#: Computations of fit on Dask data: the pass over [X | y] (the finiteness of X and y is
#: checked inside it), plus the sample weights' checks (finite, non-negative, positive
#: sum), which validate_data makes in one computation.
PASS, Y_CHECK, WEIGHT_CHECKS = 1, 0, 1
ESTIMATORS = pytest.mark.parametrize("estimator", [LinearRegression, Ridge])
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def _make_data(n_targets=None, seed=0, n_samples=2000, n_features=6):
    """Offset, correlated features, a non-zero intercept, positive weights with zeros."""
    rng = np.random.default_rng(seed)
    mixing = np.eye(n_features) + 0.3 * rng.standard_normal((n_features, n_features))
    X = rng.standard_normal((n_samples, n_features)) @ mixing + rng.uniform(-5, 5, n_features)
    shape = (n_features,) if n_targets is None else (n_features, n_targets)
    noise = 0.1 * rng.standard_normal((n_samples,) if n_targets is None else (n_samples, n_targets))
    y = X @ rng.uniform(-2, 2, shape) + 1.5 + noise
    weights = rng.uniform(0, 3, n_samples) * (rng.uniform(size=n_samples) > 0.1)
    return X, y, weights


def _lazy(X, y, weights, chunks=CHUNKS):
    """Dask copies, y and the weights cut differently from X's rows."""
    return (
        da.from_array(X, chunks=chunks),
        da.from_array(y, chunks=(300,) + y.shape[1:]),
        None if weights is None else da.from_array(weights, chunks=900),
    )


def _tolerance(dtype):
    # float64: the same math (SVD of R11 vs SVD of the centered X); float32: the lazy path
    # solves in float64, the in-memory one in float32
    return {"rtol": 1e-10, "atol": 1e-10} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-4}


def _assert_in_memory_backed(model, names):
    for name in names:
        value = getattr(model, name)
        assert isinstance(value, da.Array), name
        assert len(value.__dask_graph__().layers) == 1, f"{name} is a graph over the data"


def _assert_same_fit(got, expected, dtype, names):
    for name in names:
        value, reference = getattr(got, name), getattr(expected, name)
        assert value.dtype == reference.dtype, name
        assert value.shape == reference.shape, name
        np.testing.assert_allclose(np.asarray(value), reference, err_msg=name, **_tolerance(dtype))


def _fitted_arrays(estimator):
    return (
        ("coef_", "intercept_", "singular_")
        if estimator is LinearRegression
        else (
            "coef_",
            "intercept_",
        )
    )


@ESTIMATORS
@DTYPES
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n_targets", [None, 3], ids=["1d", "3targets"])
def test_dask_fit_equals_numpy_fit(estimator, dtype, fit_intercept, weighted, n_targets):
    X, y, weights = _make_data(n_targets)
    X, y, weights = X.astype(dtype), y.astype(dtype), weights.astype(dtype)
    weights = weights if weighted else None
    params = {"fit_intercept": fit_intercept}
    if estimator is Ridge and n_targets:
        params["alpha"] = np.array([0.1, 10.0, 1000.0])  # one penalty per target
    expected = estimator(**params).fit(X, y, sample_weight=weights)
    X_lazy, y_lazy, weights_lazy = _lazy(X, y, weights)
    with count_dask_computes() as counter:
        got = estimator(**params).fit(X_lazy, y_lazy, sample_weight=weights_lazy)
    assert counter.count == PASS + Y_CHECK + (WEIGHT_CHECKS if weighted else 0)
    names = _fitted_arrays(estimator)
    _assert_in_memory_backed(got, names)
    _assert_same_fit(got, expected, dtype, names)
    assert got.n_features_in_ == expected.n_features_in_
    if estimator is LinearRegression:
        assert got.rank_ == expected.rank_ == X.shape[1]
    else:
        assert got.n_iter_ is None
        assert got.solver_ == expected.solver_
    prediction = got.predict(X_lazy)
    assert isinstance(prediction, da.Array)
    np.testing.assert_allclose(
        prediction.compute(), expected.predict(X), **_tolerance(dtype), err_msg="predict"
    )


@ESTIMATORS
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_targets", [None, 2], ids=["1d", "2targets"])
def test_dask_fit_equals_scikit_learn(estimator, fit_intercept, n_targets):
    X, y, weights = _make_data(n_targets, seed=3)
    params = {"fit_intercept": fit_intercept}
    expected = getattr(sklm, estimator.__name__)(**params).fit(X, y, sample_weight=weights)
    got = estimator(**params).fit(*_lazy(X, y, weights))
    for name in ("coef_", "intercept_"):
        np.testing.assert_allclose(
            np.asarray(getattr(got, name)), getattr(expected, name), rtol=1e-8, atol=1e-10
        )


@DTYPES
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rank_deficient_linear_regression(dtype, fit_intercept):
    """Duplicated and linearly dependent columns: the minimum-norm solution, the numerical
    rank and the singular values of the in-memory fit and of scikit-learn's."""
    X, y, weights = _make_data(seed=5, n_features=4)
    # a copy and an affine combination: rank 4 centered, 5 uncentered
    X = np.column_stack([X, X[:, 0], X[:, 1] - 2.0 * X[:, 2] + 3.0])
    X, y, weights = X.astype(dtype), y.astype(dtype), weights.astype(dtype)
    expected = LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=weights)
    got = LinearRegression(fit_intercept=fit_intercept).fit(*_lazy(X, y, weights))
    assert got.rank_ == expected.rank_ == (4 if fit_intercept else 5)
    # the singular values cut off are noise (in float32, of size eps * s.max())
    kept = expected.rank_
    np.testing.assert_allclose(
        np.asarray(got.singular_)[:kept], expected.singular_[:kept], **_tolerance(dtype)
    )
    _assert_same_fit(got, expected, dtype, ("coef_", "intercept_"))
    if dtype == np.float64:
        reference = sklm.LinearRegression(fit_intercept=fit_intercept).fit(
            X, y, sample_weight=weights
        )
        assert got.rank_ == reference.rank_
        np.testing.assert_allclose(np.asarray(got.coef_), reference.coef_, rtol=1e-8)
        np.testing.assert_allclose(np.asarray(got.intercept_), reference.intercept_, rtol=1e-8)
        np.testing.assert_allclose(
            np.asarray(got.singular_)[:kept], reference.singular_[:kept], rtol=1e-8
        )


@ESTIMATORS
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fewer_samples_than_features(estimator, fit_intercept):
    X, y, weights = _make_data(seed=7, n_samples=30, n_features=40)
    expected = estimator(fit_intercept=fit_intercept).fit(X, y, sample_weight=weights)
    got = estimator(fit_intercept=fit_intercept).fit(
        *_lazy(X, y, weights, chunks=((10, 0, 20), (25, 15)))
    )
    _assert_same_fit(got, expected, np.float64, _fitted_arrays(estimator))
    if estimator is LinearRegression:
        assert got.rank_ == expected.rank_


def test_ridge_penalties_as_dask_array_cost_one_compute():
    X, y, _ = _make_data(n_targets=2, seed=9)
    alpha = np.array([0.5, 50.0])
    expected = Ridge(alpha=alpha).fit(X, y)
    X_lazy, y_lazy, _ = _lazy(X, y, None)
    with count_dask_computes() as counter:
        got = Ridge(alpha=da.from_array(alpha)).fit(X_lazy, y_lazy)
    assert counter.count == PASS + Y_CHECK + 1
    _assert_same_fit(got, expected, np.float64, ("coef_", "intercept_"))
    with pytest.raises(ValueError, match=r"Ridge\.fit\(\): Number of targets"):
        Ridge(alpha=np.ones(3)).fit(X_lazy, y_lazy)
    with pytest.raises(ValueError, match=r"Ridge\.fit\(\): alpha must be non-negative"):
        Ridge(alpha=np.array([1.0, -1.0])).fit(X_lazy, y_lazy)


@ESTIMATORS
def test_nan_in_one_block_raises_the_usual_error(estimator):
    X, y, _ = _make_data()
    X[1500, 4] = np.nan  # in the last row block
    X_lazy, y_lazy, _ = _lazy(X, y, None)
    message = rf"{estimator.__name__}\.fit\(\): Input X contains NaN"
    with pytest.raises(ValueError, match=message):
        estimator().fit(X_lazy, y_lazy)
    X, y, _ = _make_data()
    y[10] = np.inf
    with pytest.raises(ValueError, match=rf"{estimator.__name__}\.fit\(\): Input y contains"):
        estimator().fit(*_lazy(X, y, None)[:2])


@ESTIMATORS
def test_positive_raises_on_dask(estimator):
    X, y, _ = _make_data()
    with pytest.raises(NotImplementedError, match=rf"{estimator.__name__}\.fit\(\): positive"):
        estimator(positive=True).fit(*_lazy(X, y, None)[:2])


# Numerical trust (issue 15): the R-factor pass keeps every column and survives extremes

#: Uneven row blocks, one of them empty.
UNEVEN = ((30_000, 0, 17, 49_983, 20_000), (4,))


def _mixed_scales(n_samples=100_000, seed=0):
    """Columns of scale 1, 0.01, 300 + 0.1 * noise and 1e4 + noise (issue 15's data)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n_samples, 4))
    X = noise * np.array([1.0, 0.01, 0.1, 1.0]) + np.array([0.0, 0.0, 300.0, 1e4])
    y = X @ np.array([1.0, 100.0, 3.0, 2.0]) + 7.0 + 0.01 * rng.standard_normal(n_samples)
    return X, y


@ESTIMATORS
def test_float32_mixed_column_scales_on_uneven_blocks(estimator):
    """float32, 100k rows in uneven blocks: scikit-learn's float64 fit of the same float32
    values to 1% (the eps * n_samples cutoff dropped the 0.01 column from
    LinearRegression, rank 3)."""
    X, y = _mixed_scales()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    reference = getattr(sklm, estimator.__name__)().fit(X32.astype(float), y32.astype(float))
    model = estimator().fit(da.from_array(X32, chunks=UNEVEN), da.from_array(y32, chunks=40_000))
    assert model.coef_.dtype == np.float32
    np.testing.assert_allclose(np.asarray(model.coef_), reference.coef_, rtol=1e-2, atol=0)
    if estimator is LinearRegression:
        assert model.rank_ == 4


@pytest.mark.parametrize("magnitude", [1e250, 1e-250])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_extreme_magnitudes_on_uneven_blocks(magnitude, fit_intercept):
    """float64 X at 1e+-250 in uneven blocks: the unscaled fit's coefficients divided by
    the scale (np.linalg.lstsq), the same as in memory."""
    X, y, _ = _make_data(seed=3, n_samples=600, n_features=3)
    design = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    chunks = ((250, 0, 1, 349), (3,))
    model = LinearRegression(fit_intercept=fit_intercept).fit(
        da.from_array(X * magnitude, chunks=chunks), da.from_array(y, chunks=200)
    )
    np.testing.assert_allclose(np.asarray(model.coef_), solution[:3] / magnitude, rtol=1e-9)
    if fit_intercept:
        np.testing.assert_allclose(float(model.intercept_), solution[3], rtol=1e-9)
    in_memory = LinearRegression(fit_intercept=fit_intercept).fit(X * magnitude, y)
    np.testing.assert_allclose(np.asarray(model.coef_), in_memory.coef_, rtol=1e-9)
    ridge = Ridge(alpha=1.0).fit(
        da.from_array(X * magnitude, chunks=chunks), da.from_array(y, chunks=200)
    )
    np.testing.assert_allclose(
        np.asarray(ridge.coef_), Ridge(alpha=1.0).fit(X * magnitude, y).coef_, rtol=1e-9
    )
