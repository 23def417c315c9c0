"""LinearDiscriminantAnalysis fitted on Dask arrays from blockwise class statistics: one
pass over X (two with ``shrinkage="auto"``), results equal to the in-memory fit."""

import numpy as np
import pytest
import sklearn.discriminant_analysis

from xplearn.discriminant_analysis import LinearDiscriminantAnalysis as LDA
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")

# uneven row blocks with an empty one, and the columns split in two chunks
CHUNKS = ((700, 0, 550, 750), (3, 3))
SETTINGS = [
    {},
    {"store_covariance": True},
    {"n_components": 1},
    {"priors": [0.5, 0.3, 0.2]},
    {"tol": 0.5},  # drops within-class directions: a rank below n_features
    {"solver": "lsqr"},
    {"solver": "lsqr", "shrinkage": 0.3},
    {"solver": "lsqr", "shrinkage": "auto", "priors": [0.2, 0.3, 0.5]},
    {"solver": "eigen"},
    {"solver": "eigen", "shrinkage": 0.6, "n_components": 1},
    {"solver": "eigen", "shrinkage": "auto"},
]
ATTRIBUTES = (
    "coef_",
    "intercept_",
    "means_",
    "priors_",
    "covariance_",
    "scalings_",
    "explained_variance_ratio_",
    "xbar_",
)
RTOL = {np.float32: 1e-4, np.float64: 1e-10}


def _data(dtype, n_classes=3, n_samples=2000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_samples)
    shifts = rng.normal(size=(n_classes, 6)) * 2.0
    X = rng.normal(size=(n_samples, 6)) * [1.0, 2.0, 0.5, 1.5, 1.0, 3.0] + shifts[y]
    X[:, 2] += 0.5 * X[:, 0]  # correlated features
    return (X + 20.0).astype(dtype), y  # away from the origin


def _lazy(X):
    return da.from_array(X, chunks=CHUNKS)


def _assert_close(got, expected, dtype, name):
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == expected.shape, name
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(
        got, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale, err_msg=name
    )


def _assert_in_memory_backed(model, dtype):
    for name in ATTRIBUTES:
        if hasattr(model, name):
            value = getattr(model, name)
            assert isinstance(value, da.Array), name
            assert len(value.__dask_graph__().layers) == 1, name  # not a graph over X
            assert value.dtype == dtype, name


def _assert_fits_equal(got, expected, dtype, solver):
    for name in ATTRIBUTES:
        assert hasattr(got, name) == hasattr(expected, name), name
        if not hasattr(expected, name):
            continue
        value, reference = np.asarray(getattr(got, name)), getattr(expected, name)
        if name == "scalings_" and solver == "eigen":
            # past the leading components, the columns span the between-class null space
            # in an arbitrary basis (as in scikit-learn)
            leading = expected._max_components
            value, reference = value[:, :leading], reference[:, :leading]
        _assert_close(value, reference, dtype, name)
    np.testing.assert_array_equal(np.asarray(got.classes_), expected.classes_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_dask_fit_equals_numpy_fit(settings, dtype):
    X, y = _data(dtype)
    expected = LDA(**settings).fit(X, y)
    with count_dask_computes() as counter:
        got = LDA(**settings).fit(_lazy(X), da.from_array(y, chunks=600))
    # the classes (labels given as a Dask array), the pass over X (its finiteness checked
    # inside); shrinkage="auto" makes a second pass for its fourth moments
    assert counter.count == 2 + (settings.get("shrinkage") == "auto")
    _assert_in_memory_backed(got, dtype)
    _assert_fits_equal(got, expected, dtype, settings.get("solver", "svd"))

    # the dask-fitted model predicts (lazily) what the NumPy one does
    X_new = _data(dtype, seed=1)[0]
    X_lazy = da.from_array(X_new, chunks=500)
    np.testing.assert_array_equal(
        np.asarray(got.predict(X_lazy).compute()), expected.predict(X_new)
    )
    _assert_close(got.predict_proba(X_lazy).compute(), expected.predict_proba(X_new), dtype, "p")
    if settings.get("solver") != "lsqr":
        _assert_close(got.transform(X_lazy).compute(), expected.transform(X_new), dtype, "t")


@pytest.mark.parametrize("solver", ["svd", "lsqr", "eigen"])
def test_host_labels_and_two_classes(solver):
    X, y = _data(np.float64, n_classes=2)
    labels = np.array(["no", "yes"])[y]
    expected = LDA(solver=solver).fit(X, labels)
    with count_dask_computes() as counter:
        got = LDA(solver=solver).fit(_lazy(X), labels)
    assert counter.count == 1  # host labels: the classes are found on the host
    assert got.coef_.shape == (1, X.shape[1])
    _assert_in_memory_backed(got, np.float64)
    _assert_fits_equal(got, expected, np.float64, solver)
    np.testing.assert_array_equal(np.asarray(got.predict(_lazy(X)).compute()), expected.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["svd", "eigen"])
def test_constant_feature_as_in_memory(solver, dtype):
    # a constant feature has no within-class spread: exactly, as in memory, not the
    # rounding noise of the block means (which the svd solver's scaling would amplify)
    X, y = _data(dtype)
    X[:, 3] = 7.3
    expected = LDA(solver=solver).fit(X, y)
    got = LDA(solver=solver).fit(_lazy(X), y)
    _assert_fits_equal(got, expected, dtype, solver)
    coef = np.asarray(got.coef_)
    assert np.max(np.abs(coef[:, 3])) < 1e-6 * np.max(np.abs(coef))


def test_equals_scikit_learn():
    X, y = _data(np.float64)
    for settings in ({}, {"solver": "lsqr", "shrinkage": "auto"}, {"solver": "eigen"}):
        expected = sklearn.discriminant_analysis.LinearDiscriminantAnalysis(**settings).fit(X, y)
        got = LDA(**settings).fit(_lazy(X), y)
        for name in ("coef_", "intercept_", "means_", "explained_variance_ratio_"):
            if hasattr(expected, name):
                np.testing.assert_allclose(
                    np.asarray(getattr(got, name)), getattr(expected, name), rtol=1e-8, atol=1e-10
                )
        np.testing.assert_allclose(
            np.asarray(got.predict_proba(_lazy(X)).compute()),
            expected.predict_proba(X),
            atol=1e-10,
        )


@pytest.mark.parametrize("settings", [{}, {"solver": "lsqr", "shrinkage": "auto"}], ids=str)
def test_nan_in_one_block_raises(settings):
    X, y = _data(np.float64)
    X[1500, 4] = np.nan  # in the third (non-empty) row block
    model = LDA(**settings)
    with pytest.raises(ValueError, match=r"LinearDiscriminantAnalysis\.fit\(\): .*NaN"):
        model.fit(_lazy(X), y)
    assert not hasattr(model, "coef_")  # no half-fitted model


def test_priors_not_summing_to_one_warn():
    X, y = _data(np.float64)
    with pytest.warns(UserWarning, match=r"LinearDiscriminantAnalysis\.fit\(\): The priors do"):
        got = LDA(priors=[2.0, 1.0, 1.0]).fit(_lazy(X), y)
    np.testing.assert_allclose(np.asarray(got.priors_), [0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match=r"LinearDiscriminantAnalysis\.fit\(\): priors must"):
        LDA(priors=[-1.0, 1.0, 1.0]).fit(_lazy(X), y)
