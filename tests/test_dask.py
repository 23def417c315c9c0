"""Inference on Dask arrays is lazy and blockwise, for every estimator and method.

Each public inference method, called with a Dask array, must return Dask arrays (row
chunks kept, other axes in one chunk) without computing anything; computed on a
dask.distributed cluster of two worker processes, the result must be the in-memory one.
Nothing computed is asserted with a scheduler that counts the computations asked of it.
"""

import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError

import xplearn
from xplearn.cluster import KMeans, MiniBatchKMeans
from xplearn.neighbors import NearestNeighbors
from xplearn.preprocessing import StandardScaler
from xplearn.testing import count_dask_computes
from xplearn.utils.discovery import all_estimators

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

N_FEATURES = 5
ROW_CHUNK = 37  # 100 unseen rows: blocks of 37, 37 and 26
METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "predict_joint_log_proba",
    "transform",
    "decision_function",
    "score_samples",
    "kneighbors",
)
PARAMS = {
    "KMeans": {"n_clusters": 3, "n_init": 1, "random_state": 0},
    "MiniBatchKMeans": {"n_clusters": 3, "random_state": 0},
}
ESTIMATORS = dict(all_estimators())
NAMES = sorted(ESTIMATORS)
LABELS = np.array(["setosa", "versicolor", "virginica"])
RTOL = {np.float32: 1e-5, np.float64: 1e-6}


def _methods(estimator):
    return [method for method in METHODS if hasattr(estimator, method)]


def _training_data(dtype):
    X, codes = make_classification(
        n_samples=150,
        n_features=N_FEATURES,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        random_state=0,
    )
    X = X.astype(dtype)
    continuous = (X @ np.arange(1.0, N_FEATURES + 1) + 0.5).astype(dtype)
    return X, codes, continuous


def _unseen(dtype, n_rows=100):
    return np.random.default_rng(7).normal(scale=1.5, size=(n_rows, N_FEATURES)).astype(dtype)


def _fitted(name, fit_on, dtype):
    """(model to query with Dask arrays, in-memory model giving the expected results).

    ``"numpy"``: fitted on NumPy (classifiers on string labels) and converted to Dask;
    ``"dask"``: fitted on Dask arrays (classifiers on integer labels, a Dask array too).
    """
    estimator = ESTIMATORS[name](**PARAMS.get(name, {}))
    X, codes, continuous = _training_data(dtype)
    if is_classifier(estimator):
        y = LABELS[codes] if fit_on == "numpy" else codes
    elif is_regressor(estimator):
        y = continuous
    else:
        y = None
    if fit_on == "numpy":
        estimator.fit(X, y)
        return xplearn.convert(estimator, "dask"), estimator
    y_lazy = None if y is None else da.from_array(y, chunks=50)
    estimator.fit(da.from_array(X, chunks=(50, N_FEATURES)), y_lazy)
    return estimator, xplearn.convert(estimator, "numpy")


def _parts(result):
    return result if isinstance(result, tuple) else (result,)


def _lazy_call(model, method, X, get=None):
    """``model.method(X)`` asserting it computes nothing and returns Dask arrays."""
    with count_dask_computes(get) as counter:
        result = getattr(model, method)(X)
    assert counter.count == 0, f"{method}() computed {counter.count} time(s)"
    for part in _parts(result):
        assert isinstance(part, da.Array), f"{method}() returned a {type(part).__name__}"
        assert part.chunks[0] == X.chunks[0], f"{method}(): row chunks {part.chunks[0]}"
        assert all(len(chunks) == 1 for chunks in part.chunks[1:]), f"{method}(): {part.chunks}"
    return result


def _assert_same(got, expected, dtype, what):
    expected = np.asarray(expected)
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    if expected.dtype.kind != "f":
        np.testing.assert_array_equal(got, expected, err_msg=what)
        return
    rtol = RTOL[dtype]
    # relative to the output's scale: entries near zero carry the rounding of the larger
    scale = float(np.max(np.abs(expected))) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


# ---------------------------------------------------------------- on the cluster

CASES = [(name, "numpy", dtype) for name in NAMES for dtype in (np.float32, np.float64)] + [
    (name, "dask", np.float64) for name in NAMES
]


def test_every_estimator_is_covered():
    assert len(NAMES) == 13
    assert all(_methods(ESTIMATORS[name]()) for name in NAMES)


@pytest.mark.parametrize(
    ("name", "fit_on", "dtype"),
    CASES,
    ids=[f"{name}-fit-{fit_on}-{np.dtype(dtype).name}" for name, fit_on, dtype in CASES],
)
def test_inference_is_lazy_and_computes_the_in_memory_result(dask_client, name, fit_on, dtype):
    model, reference = _fitted(name, fit_on, dtype)
    X = _unseen(dtype)
    X_lazy = da.from_array(X, chunks=(ROW_CHUNK, N_FEATURES))
    methods = _methods(model)
    lazy = [_parts(_lazy_call(model, method, X_lazy, dask_client.get)) for method in methods]
    # one computation of every method's graph, on the worker processes
    computed = dask_client.compute([part for parts in lazy for part in parts], sync=True)
    position = 0
    for method, parts in zip(methods, lazy, strict=True):
        expected = _parts(getattr(reference, method)(X))
        assert len(parts) == len(expected)
        for index, part in enumerate(expected):
            _assert_same(computed[position], part, dtype, f"{name}.{method}()[{index}]")
            position += 1
    if is_classifier(model) and fit_on == "numpy":
        assert computed[methods.index("predict")].dtype.kind == "U"  # the string labels


#: Computations of ``fit`` on the Dask training data (150 rows in 3 blocks) with
#: ``_fit_params``: the budgets docs/user_guide/dask.rst states (a function of the fitted
#: model for the iterative fits). Classifiers: 1 of them finds the classes.
FIT_COMPUTES = {
    "GaussianNB": 2,
    # X checked, the init array checked and read, the statistics, one per iteration,
    # the final inertia
    "KMeans": lambda model: model.n_iter_ + 5,
    "KNeighborsClassifier": 2,
    "KNeighborsRegressor": 1,
    "LinearDiscriminantAnalysis": 2,
    "LinearRegression": 1,
    # X checked, the classes, one per L-BFGS evaluation (here one per iteration + 1)
    "LogisticRegression": lambda model: 2 + int(model.n_iter_[0]) + 1,
    "MinMaxScaler": 1,
    # X checked, the init rows, one per epoch, the final inertia
    "MiniBatchKMeans": lambda model: model.n_iter_ + 3,
    "NearestNeighbors": 1,
    "PCA": 1,
    "Ridge": 1,
    "StandardScaler": 1,
}
#: Attributes the Dask fit cannot share with the in-memory one: MiniBatchKMeans on Dask
#: takes its minibatches block by block (tests/cluster/test_minibatch_blocks.py checks it
#: against in-memory partial_fit on the same batches).
NOT_COMPARED = {
    "MiniBatchKMeans": {"cluster_centers_", "labels_", "inertia_", "n_iter_", "n_steps_"}
}


def _fit_params(name, X, lazy=False):
    params = dict(PARAMS.get(name, {}))
    if name == "KMeans":  # the same explicit init on both sides, in X's namespace
        init = X[[0, 50, 100]]
        params["init"] = da.from_array(init) if lazy else init
    return params


def _fitted_attributes(model):
    return sorted(
        name
        for name in vars(model)
        if name.endswith("_") and not name.startswith("_") and name != "feature_names_in_"
    )


@pytest.mark.parametrize("name", NAMES)
def test_fit_on_the_cluster_computes_as_stated_and_equals_numpy(dask_client, name):
    X, codes, continuous = _training_data(np.float64)
    reference = ESTIMATORS[name](**_fit_params(name, X))
    y = codes if is_classifier(reference) else continuous if is_regressor(reference) else None
    reference.fit(X, y)
    model = ESTIMATORS[name](**_fit_params(name, X, lazy=True))
    X_lazy = da.from_array(X, chunks=((60, 0, 40, 50), (2, 3)))
    y_lazy = None if y is None else da.from_array(y, chunks=((60, 0, 40, 50),))
    with count_dask_computes(dask_client.get) as counter:
        model.fit(X_lazy, y_lazy)
    budget = FIT_COMPUTES[name]
    budget = budget(model) if callable(budget) else budget
    assert counter.count == budget, f"{name}.fit() computed {counter.count} times, not {budget}"
    assert _fitted_attributes(model) == _fitted_attributes(reference)
    skipped = NOT_COMPARED.get(name, set())
    for attribute in _fitted_attributes(reference):
        got, expected = getattr(model, attribute), getattr(reference, attribute)
        if isinstance(got, da.Array) and attribute != "labels_":
            # small fitted arrays are held in memory, not as a graph over the training data
            assert len(got.__dask_graph__().layers) == 1, f"{name}.{attribute} is a graph"
        if attribute in skipped:
            continue
        if isinstance(expected, (int, float, str, np.integer, np.floating)) or hasattr(
            expected, "shape"
        ):
            _assert_same(np.asarray(got), np.asarray(expected), np.float64, f"{name}.{attribute}")
        else:
            assert got == expected, f"{name}.{attribute}"


@pytest.mark.parametrize("name", NAMES)
def test_nan_in_one_block_raises_when_computed(dask_client, name):
    model, _ = _fitted(name, "numpy", np.float64)
    X = _unseen(np.float64)
    X[50, 3] = np.nan  # in the second of three blocks
    X_lazy = da.from_array(X, chunks=(ROW_CHUNK, N_FEATURES))
    for method in _methods(model):
        parts = _parts(_lazy_call(model, method, X_lazy, dask_client.get))
        message = rf"^{name}\.{method}\(\): Input X contains NaN \(first in column 3\)"
        with pytest.raises(ValueError, match=message):
            dask_client.compute(list(parts), sync=True)


def test_compute_counter_counts_on_the_cluster(dask_client):
    X = da.from_array(_unseen(np.float64), chunks=(ROW_CHUNK, N_FEATURES))
    with count_dask_computes(dask_client.get) as counter:
        total = float(X.sum())
        assert counter.count == 1
        np.asarray(X[:3])
        assert counter.count == 2
    np.testing.assert_allclose(total, _unseen(np.float64).sum())
    # radius queries stay eager (ragged results): they compute, and the counter sees it
    model = xplearn.convert(NearestNeighbors(radius=2.0).fit(_training_data(np.float64)[0]), "dask")
    with count_dask_computes(dask_client.get) as counter:
        model.radius_neighbors(X, return_csr=True)
    assert counter.count >= 1


# ---------------------------------------------------------------- local scheduler


def test_compute_counter_counts_locally():
    X = da.from_array(_unseen(np.float64), chunks=(ROW_CHUNK, N_FEATURES))
    with count_dask_computes() as counter:
        X.sum().compute()
        dask.compute(X.max(), X.min())
    assert counter.count == 2


@pytest.mark.parametrize("name", NAMES)
def test_column_chunks_and_empty_row_chunks(name):
    model, reference = _fitted(name, "numpy", np.float64)
    X = _unseen(np.float64, n_rows=60)
    # several column chunks are joined lazily; row chunks of zero rows give zero rows
    X_lazy = da.from_array(X, chunks=((20, 0, 30, 0, 10), (2, 3)))
    for method in _methods(model):
        parts = _parts(_lazy_call(model, method, X_lazy))
        with count_dask_computes() as counter:
            computed = dask.compute(*parts)
        assert counter.count == 1
        for index, expected in enumerate(_parts(getattr(reference, method)(X))):
            _assert_same(computed[index], expected, np.float64, f"{name}.{method}()[{index}]")


def test_nan_column_is_named_across_column_chunks():
    model, _ = _fitted("StandardScaler", "numpy", np.float64)
    X = _unseen(np.float64)
    X[80, 4] = np.inf
    result = model.transform(da.from_array(X, chunks=(ROW_CHUNK, 2)))
    with pytest.raises(ValueError, match=r"contains infinity \(first in column 4\)"):
        result.compute()


def test_assume_finite_leaves_the_blocks_unchecked():
    model, _ = _fitted("StandardScaler", "numpy", np.float64)
    X = _unseen(np.float64)
    X[5, 0] = np.nan
    with xplearn.config_context(assume_finite=True):
        result = _lazy_call(model, "transform", da.from_array(X, chunks=(ROW_CHUNK, N_FEATURES)))
    assert np.isnan(result.compute()[5, 0])


def test_kneighbors_arguments_stay_lazy():
    model, reference = _fitted("KNeighborsClassifier", "numpy", np.float64)
    X = _unseen(np.float64)
    X_lazy = da.from_array(X, chunks=(ROW_CHUNK, N_FEATURES))
    with count_dask_computes() as counter:
        indices = model.kneighbors(X_lazy, n_neighbors=3, return_distance=False)
    assert counter.count == 0
    assert isinstance(indices, da.Array)
    assert indices.shape == (100, 3)
    expected = reference.kneighbors(X, n_neighbors=3, return_distance=False)
    np.testing.assert_array_equal(indices.compute(), expected)
    assert model.n_neighbors == 5  # the model itself is left as it was


def test_errors_that_need_no_data_are_raised_at_the_call():
    model, _ = _fitted("KNeighborsClassifier", "numpy", np.float64)
    X_lazy = da.from_array(_unseen(np.float64), chunks=(ROW_CHUNK, N_FEATURES))
    with count_dask_computes() as counter:
        with pytest.raises(
            ValueError, match=r"KNeighborsClassifier\.predict\(\): X has 4 features"
        ):
            model.predict(X_lazy[:, :4])
        with pytest.raises(ValueError, match=r"kneighbors\(\): Expected 1 <= n_neighbors <= "):
            model.kneighbors(X_lazy, n_neighbors=1000)
        with pytest.raises(NotFittedError, match=r"KMeans\.predict\(\)"):
            KMeans(3).predict(X_lazy)
        with pytest.raises(ValueError, match=r"same namespace and device"):
            StandardScaler().fit(_unseen(np.float64)).transform(X_lazy)
    assert counter.count == 0


def test_lazily_fitted_arrays_are_computed_with_the_result_only_as_needed():
    X = da.from_array(_training_data(np.float64)[0], chunks=(50, N_FEATURES))
    model = MiniBatchKMeans(n_clusters=3, random_state=0).fit(X)
    scaler = StandardScaler().fit(X)
    X_unseen = da.from_array(_unseen(np.float64), chunks=(ROW_CHUNK, N_FEATURES))
    labels = _lazy_call(model, "predict", X_unseen)
    # the training labels are no input of the predictions
    assert model.labels_.name not in labels.__dask_graph__().layers
    scaled = _lazy_call(scaler, "transform", X_unseen)
    expected = (_unseen(np.float64) - scaler.mean_.compute()) / scaler.scale_.compute()
    np.testing.assert_allclose(scaled.compute(), expected, rtol=1e-12)
