"""GaussianNB fitted on Dask arrays: the classes, then one pass; statistics in memory."""

import numpy as np
import pytest
from sklearn import naive_bayes as sklearn_naive_bayes

from xplearn.naive_bayes import GaussianNB
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")

#: Uneven row blocks (one of them empty) and split columns.
CHUNKS = ((700, 0, 550, 750), (3, 3))
ATTRIBUTES = ("theta_", "var_", "class_count_", "class_prior_", "epsilon_")
NAMES = np.array(["ant", "bee", "cat", "dog"])


def _data(dtype, seed=0):
    """(2000, 6) values in 4 classes of different means and spreads."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=2000)
    centers = rng.normal(scale=3.0, size=(4, 6)) + [50.0, 0, 0, -7.0, 0, 0]
    spreads = rng.uniform(0.5, 2.0, size=(4, 6))
    X = centers[codes] + spreads[codes] * rng.normal(size=(2000, 6))
    weights = rng.uniform(0.0, 3.0, size=2000)
    return X.astype(dtype), codes, weights.astype(dtype)


#: Computations the validation of Dask sample weights makes (sum and minimum together)
WEIGHT_CHECKS = 1


def _tolerances(dtype):
    # float32: the in-memory fit accumulates in float32, the blocks' moments in float64
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 0}


def _assert_in_memory(model):
    for name in ATTRIBUTES + ("_log_normalizer", "_root_half_precision", "_scale_bound"):
        value = getattr(model, name)
        assert isinstance(value, da.Array), name
        # a small in-memory array, not a graph over the training data
        assert len(value.__dask_graph__().layers) == 1, name


def _assert_same(got, expected, dtype):
    for name in ATTRIBUTES:
        value, reference = np.asarray(getattr(got, name)), getattr(expected, name)
        assert value.dtype == reference.dtype, name
        np.testing.assert_allclose(value, reference, err_msg=name, **_tolerances(dtype))
    np.testing.assert_array_equal(np.asarray(got.classes_), np.asarray(expected.classes_))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("labels", ["dask", "host strings"])
def test_fit_on_dask_equals_numpy_with_the_classes_and_one_pass(dtype, weighted, labels):
    X, codes, weights = _data(dtype)
    y = codes if labels == "dask" else NAMES[codes]
    weights = weights if weighted else None
    expected = GaussianNB().fit(X, y, sample_weight=weights)
    X_lazy = da.from_array(X, chunks=CHUNKS)
    y_lazy = da.from_array(y, chunks=(CHUNKS[0],)) if labels == "dask" else y
    lazy_weights = None if weights is None else da.from_array(weights, chunks=(CHUNKS[0],))
    with count_dask_computes() as counter:
        got = GaussianNB().fit(X_lazy, y_lazy, sample_weight=lazy_weights)
    # lazy labels: 1 to find the classes (host labels: none); the pass (X's finiteness
    # checked inside it); the weights' own validation
    weight_checks = 0 if weights is None else WEIGHT_CHECKS
    assert counter.count == (labels == "dask") + 1 + weight_checks
    _assert_in_memory(got)
    _assert_same(got, expected, dtype)
    # the dask-fitted model predicts as the NumPy one, lazily
    for method in ("predict_proba", "predict_log_proba", "predict_joint_log_proba"):
        result = getattr(got, method)(X_lazy)
        assert isinstance(result, da.Array)
        np.testing.assert_allclose(
            result.compute(), getattr(expected, method)(X), **_tolerances(dtype)
        )
    predicted = got.predict(X_lazy)
    np.testing.assert_array_equal(np.asarray(predicted.compute()), expected.predict(X))


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_on_dask_equals_scikit_learn(weighted):
    X, codes, weights = _data(np.float64)
    weights = weights if weighted else None
    lazy_weights = None if weights is None else da.from_array(weights, chunks=(CHUNKS[0],))
    got = GaussianNB().fit(
        da.from_array(X, chunks=CHUNKS), da.from_array(codes, chunks=500), lazy_weights
    )
    expected = sklearn_naive_bayes.GaussianNB().fit(X, codes, sample_weight=weights)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(
            np.asarray(getattr(got, name)), getattr(expected, name), rtol=1e-10, err_msg=name
        )


def test_fit_on_dask_with_priors_and_an_empty_weighted_class():
    X, codes, weights = _data(np.float64)
    weights[codes == 2] = 0.0  # class 2 has rows but no weight
    priors = [0.1, 0.2, 0.3, 0.4]
    expected = GaussianNB(priors=priors).fit(X, codes, sample_weight=weights)
    got = GaussianNB(priors=priors).fit(
        da.from_array(X, chunks=CHUNKS),
        da.from_array(codes, chunks=(CHUNKS[0],)),
        da.from_array(weights, chunks=(CHUNKS[0],)),
    )
    _assert_in_memory(got)
    _assert_same(got, expected, np.float64)


@pytest.mark.parametrize(
    ("dtype", "policy"), [(np.float32, None), (np.float64, None), (np.float32, "mixed")]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_on_dask_merges_as_in_memory(dtype, policy, weighted):
    X, codes, weights = _data(dtype)
    classes = np.arange(4)
    # class 3 is absent from the first batch
    first = np.flatnonzero(codes != 3)[:800]
    rest = np.setdiff1d(np.arange(X.shape[0]), first)
    expected, got = GaussianNB(dtype_policy=policy), GaussianNB(dtype_policy=policy)
    for index, rows in enumerate([first, rest]):
        batch_weights = weights[rows] if weighted else None
        expected.partial_fit(X[rows], codes[rows], classes, sample_weight=batch_weights)
        lazy_weights = None if batch_weights is None else da.from_array(batch_weights, chunks=300)
        X_lazy = da.from_array(X[rows], chunks=(300, 6))
        y_lazy = da.from_array(codes[rows], chunks=300)
        with count_dask_computes() as counter:
            got.partial_fit(X_lazy, y_lazy, classes, sample_weight=lazy_weights)
        # the given classes (on Dask) and the check that y holds only them, the pass;
        # from the second batch on, the given classes compared with the fitted ones and
        # the running statistics read back
        weight_checks = 0 if lazy_weights is None else WEIGHT_CHECKS
        assert counter.count == 3 + 2 * index + weight_checks
    _assert_in_memory(got)
    _assert_same(got, expected, dtype)
    if policy == "mixed":
        residual = np.asarray(got._theta_residual)
        assert residual.dtype == np.float32
        np.testing.assert_allclose(
            np.asarray(got.theta_, dtype=np.float64) + residual,
            np.asarray(expected.theta_, dtype=np.float64) + expected._theta_residual,
            rtol=1e-10,
        )


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_non_finite_value_in_one_block_raises_naming_the_method(method, bad):
    X, codes, _ = _data(np.float64)
    X[1800, 4] = bad  # in the last row block
    arguments = (da.from_array(X, chunks=CHUNKS), da.from_array(codes, chunks=(CHUNKS[0],)))
    extra = {"classes": np.arange(4)} if method == "partial_fit" else {}
    model = GaussianNB()
    with pytest.raises(ValueError, match=rf"GaussianNB\.{method}\(\): .*X"):
        getattr(model, method)(*arguments, **extra)
    assert not hasattr(model, "classes_")  # a failed first call leaves no fitted state
