"""skl2onnx interop: pipelines mixing scikit-learn and xplearn steps convert with
``skl2onnx.to_onnx`` once :func:`xplearn.onnx.register_skl2onnx` ran, and compute what
the fitted pipelines compute."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.decomposition import PCA as SkPCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler as SkMinMaxScaler
from sklearn.preprocessing import StandardScaler as SkStandardScaler

from xplearn.cluster import KMeans, MiniBatchKMeans
from xplearn.decomposition import PCA
from xplearn.discriminant_analysis import LinearDiscriminantAnalysis
from xplearn.linear_model import LinearRegression, LogisticRegression, Ridge
from xplearn.naive_bayes import GaussianNB
from xplearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from xplearn.preprocessing import MinMaxScaler, StandardScaler
from xplearn.utils.discovery import all_estimators

skl2onnx = pytest.importorskip("skl2onnx")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("ndonnx")

from xplearn.onnx import register_skl2onnx  # noqa: E402

N_FEATURES = 10
BATCHES = (1, 7, 1000)
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
FLOAT32 = pytest.mark.parametrize("dtype", [np.float32], ids=["float32"])


@pytest.fixture(scope="module", autouse=True)
def _registered():
    register_skl2onnx()


def _training_data(dtype, target=None, n_classes=3):
    X, y = make_classification(
        n_samples=300,
        n_features=N_FEATURES,
        n_informative=6,
        n_classes=n_classes,
        random_state=0,
    )
    X = X.astype(dtype)
    if target in ("continuous", "two-targets"):
        rng = np.random.default_rng(1)
        y = X @ rng.normal(size=(N_FEATURES, 2)) + rng.normal(size=2)
        y = (y[:, 0] if target == "continuous" else y).astype(dtype)
    elif target == "strings":
        y = np.array(["setosa", "versicolor", "virginica", "other"])[y]
    return X, y


def _unseen(dtype, n_rows):
    """Rows the models have not seen: another seed, a wider spread."""
    return np.random.default_rng(7).normal(scale=1.5, size=(n_rows, N_FEATURES)).astype(dtype)


def _convert(model, dtype, **kwargs):
    """skl2onnx's conversion, checked (FloatTensorType or DoubleTensorType input)."""
    onx = skl2onnx.to_onnx(model, np.zeros((1, N_FEATURES), dtype=dtype), **kwargs)
    onnx.checker.check_model(onx, full_check=True)
    return onx


def _run(onx, X):
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    (graph_input,) = session.get_inputs()
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {graph_input.name: X}), strict=True))


def _assert_labels(got, expected, what):
    expected = np.asarray(expected)
    if expected.dtype.kind in "OU":
        assert got.dtype.kind in "OU", f"{what}: labels must come out as strings"
        got, expected = got.astype(str), expected.astype(str)
    else:
        assert got.dtype == np.int64, f"{what}: skl2onnx labels are int64, got {got.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    np.testing.assert_array_equal(got, expected, err_msg=what)


def _assert_close(got, expected, dtype, what):
    expected = np.asarray(expected)
    assert got.dtype == dtype, f"{what}: dtype {got.dtype} != {np.dtype(dtype)}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    rtol = TOLERANCE[dtype]
    # relative to the output's scale: entries near zero carry the rounding of the larger
    scale = float(np.max(np.abs(expected))) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def _assert_classifier(outputs, model, X, dtype, what):
    _assert_labels(outputs["label"], model.predict(X), f"{what} label")
    _assert_close(outputs["probabilities"], model.predict_proba(X), dtype, f"{what} proba")


# -- (a) scikit-learn transformer, then an xplearn classifier -----------------------------


@DTYPES
@pytest.mark.parametrize("target", [None, "strings"], ids=["int-labels", "string-labels"])
def test_sklearn_scaler_then_xplearn_logistic_regression(dtype, target):
    X, y = _training_data(dtype, target, n_classes=4)
    pipeline = make_pipeline(SkStandardScaler(), LogisticRegression()).fit(X, y)
    onx = _convert(pipeline, dtype, options={"zipmap": False})
    assert [output.name for output in onx.graph.output] == ["label", "probabilities"]
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        _assert_classifier(_run(onx, X_new), pipeline, X_new, dtype, f"n={n_rows}")


@FLOAT32  # ZipMap (onnxruntime) takes float32 probabilities only
@pytest.mark.parametrize("target", [None, "strings"], ids=["int-labels", "string-labels"])
def test_default_zipmap(dtype, target):
    X, y = _training_data(dtype, target)
    pipeline = make_pipeline(SkStandardScaler(), LogisticRegression()).fit(X, y)
    onx = _convert(pipeline, dtype)
    assert [output.name for output in onx.graph.output] == ["output_label", "output_probability"]
    classes = pipeline.classes_
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        outputs = _run(onx, X_new)
        _assert_labels(outputs["output_label"], pipeline.predict(X_new), f"n={n_rows} label")
        rows = outputs["output_probability"]
        assert all(set(row) == set(classes.tolist()) for row in rows)
        probabilities = np.array([[row[label] for label in classes.tolist()] for row in rows])
        _assert_close(
            probabilities.astype(dtype), pipeline.predict_proba(X_new), dtype, f"n={n_rows}"
        )


@FLOAT32
def test_zipmap_columns_and_class_labels(dtype):
    X, y = _training_data(dtype, "strings")
    pipeline = make_pipeline(SkStandardScaler(), LogisticRegression()).fit(X, y)
    X_new = _unseen(dtype, 7)
    expected = pipeline.predict_proba(X_new)
    outputs = _run(_convert(pipeline, dtype, options={"zipmap": "columns"}), X_new)
    for column, label in enumerate(pipeline.classes_):
        _assert_close(outputs[f"s{label}"], expected[:, column], dtype, label)
    onx = _convert(pipeline, dtype, options={"zipmap": False, "output_class_labels": True})
    outputs = _run(onx, X_new)
    np.testing.assert_array_equal(outputs["class_labels"].astype(str), pipeline.classes_)


# -- (b) scikit-learn transformer, then xplearn KMeans ------------------------------------


@FLOAT32  # skl2onnx's SimpleImputer gives the ONNX-ML Imputer: float32 only in onnxruntime
def test_sklearn_imputer_then_xplearn_kmeans(dtype):
    X, _ = _training_data(dtype)
    X[::11, 3] = np.nan
    pipeline = make_pipeline(SimpleImputer(), KMeans(n_clusters=5, n_init=2, random_state=0))
    pipeline.fit(X)
    onx = _convert(pipeline, dtype)
    assert [output.name for output in onx.graph.output] == ["label", "scores"]
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        X_new[::3, 3] = np.nan
        outputs = _run(onx, X_new)
        _assert_labels(outputs["label"], pipeline.predict(X_new), f"n={n_rows} label")
        _assert_close(outputs["scores"], pipeline.transform(X_new), dtype, f"n={n_rows}")


@DTYPES
def test_sklearn_pca_then_xplearn_minibatch_kmeans(dtype):
    X, _ = _training_data(dtype)
    pipeline = make_pipeline(SkPCA(n_components=5), MiniBatchKMeans(n_clusters=4, random_state=0))
    pipeline.fit(X)
    onx = _convert(pipeline, dtype)
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        outputs = _run(onx, X_new)
        _assert_labels(outputs["label"], pipeline.predict(X_new), f"n={n_rows} label")
        _assert_close(outputs["scores"], pipeline.transform(X_new), dtype, f"n={n_rows}")


# -- (c) xplearn transformers, then a scikit-learn classifier -----------------------------


@DTYPES
def test_xplearn_transformers_then_sklearn_logistic_regression(dtype):
    X, y = _training_data(dtype)
    pipeline = make_pipeline(StandardScaler(), PCA(n_components=6), SkLogisticRegression())
    pipeline.fit(X, y)
    onx = _convert(pipeline, dtype, options={"zipmap": False})
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        _assert_classifier(_run(onx, X_new), pipeline, X_new, dtype, f"n={n_rows}")


@DTYPES
def test_column_transformer_mixing_both(dtype):
    X, y = _training_data(dtype, "strings")
    columns = ColumnTransformer(
        [("xplearn", StandardScaler(), [0, 1, 2, 3]), ("sklearn", SkMinMaxScaler(), [4, 5, 6])],
        remainder="drop",
    )
    pipeline = make_pipeline(columns, KNeighborsClassifier(n_neighbors=5)).fit(X, y)
    onx = _convert(pipeline, dtype, options={"zipmap": False})
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        _assert_classifier(_run(onx, X_new), pipeline, X_new, dtype, f"n={n_rows}")


# -- (d) regressors, neighbours -----------------------------------------------------------


@DTYPES
@pytest.mark.parametrize(
    ("factory", "target"),
    [
        (lambda: Ridge(alpha=2.0), "continuous"),
        (lambda: Ridge(alpha=2.0), "two-targets"),
        (lambda: KNeighborsRegressor(n_neighbors=4, weights="distance"), "continuous"),
        (lambda: KNeighborsRegressor(n_neighbors=3), "two-targets"),
    ],
    ids=["Ridge", "Ridge-2-targets", "KNeighborsRegressor", "KNeighborsRegressor-2-targets"],
)
def test_sklearn_scaler_then_xplearn_regressor(dtype, factory, target):
    X, y = _training_data(dtype, target)
    pipeline = make_pipeline(SkStandardScaler(), factory()).fit(X, y)
    onx = _convert(pipeline, dtype)
    assert [output.name for output in onx.graph.output] == ["variable"]
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        expected = pipeline.predict(X_new)
        # skl2onnx's regressors give (N, 1) for one target
        expected = expected.reshape(n_rows, -1)
        _assert_close(_run(onx, X_new)["variable"], expected, dtype, f"n={n_rows}")


@DTYPES
def test_sklearn_scaler_then_xplearn_kneighbors_classifier(dtype):
    X, y = _training_data(dtype, "strings")
    pipeline = make_pipeline(
        SkStandardScaler(), KNeighborsClassifier(n_neighbors=6, weights="distance")
    ).fit(X, y)
    onx = _convert(pipeline, dtype, options={"zipmap": False})
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        _assert_classifier(_run(onx, X_new), pipeline, X_new, dtype, f"n={n_rows}")


# -- (e) every xplearn estimator alone ----------------------------------------------------

#: One fitted configuration per estimator, with the kind of target it is fitted on.
CASES = {
    "GaussianNB": (GaussianNB, "multiclass"),
    "KMeans": (lambda: KMeans(n_clusters=6, n_init=1, random_state=0), None),
    "KNeighborsClassifier": (lambda: KNeighborsClassifier(n_neighbors=5), "strings"),
    "KNeighborsRegressor": (lambda: KNeighborsRegressor(n_neighbors=3), "continuous"),
    "LinearDiscriminantAnalysis": (LinearDiscriminantAnalysis, "multiclass"),
    "LinearRegression": (LinearRegression, "two-targets"),
    "LogisticRegression": (LogisticRegression, "binary"),
    "MinMaxScaler": (lambda: MinMaxScaler(feature_range=(-1, 2), clip=True), None),
    "MiniBatchKMeans": (lambda: MiniBatchKMeans(n_clusters=5, random_state=0), None),
    "NearestNeighbors": (lambda: NearestNeighbors(n_neighbors=4), None),
    "PCA": (lambda: PCA(n_components=5, whiten=True), None),
    "Ridge": (lambda: Ridge(alpha=3.0), "continuous"),
    "StandardScaler": (StandardScaler, None),
}


def _fitted(case, dtype):
    factory, target = CASES[case]
    X, y = _training_data(dtype, target, n_classes=2 if target == "binary" else 3)
    estimator = factory()
    return estimator.fit(X) if target is None else estimator.fit(X, y)


def _expected(estimator, X):
    """Native results, named and shaped as skl2onnx's outputs."""
    if hasattr(estimator, "predict_proba"):
        return {"label": estimator.predict(X), "probabilities": estimator.predict_proba(X)}
    if hasattr(estimator, "cluster_centers_"):
        return {"label": estimator.predict(X), "scores": estimator.transform(X)}
    if hasattr(estimator, "predict"):
        return {"variable": estimator.predict(X).reshape(len(X), -1)}
    if hasattr(estimator, "kneighbors"):
        distances, indices = estimator.kneighbors(X)
        return {"index": indices, "distance": distances}
    return {"variable": estimator.transform(X)}


def test_every_estimator_registers():
    classes = register_skl2onnx()
    assert sorted(cls.__name__ for cls in classes) == sorted(CASES)
    assert {name for name, _ in all_estimators()} == set(CASES)


@DTYPES
@pytest.mark.parametrize("case", list(CASES))
def test_every_estimator_alone(case, dtype):
    estimator = _fitted(case, dtype)
    is_classifier = hasattr(estimator, "predict_proba")
    options = {id(estimator): {"zipmap": False}} if is_classifier else None
    onx = _convert(estimator, dtype, options=options)
    opsets = {opset.domain: opset.version for opset in onx.opset_import}
    assert opsets[""] >= 21
    for n_rows in BATCHES:
        X_new = _unseen(dtype, n_rows)
        outputs = _run(onx, X_new)
        expected = _expected(estimator, X_new)
        assert list(outputs) == list(expected)
        for name, value in expected.items():
            what = f"{case} {name} n={n_rows}"
            if name in ("label", "index"):
                _assert_labels(outputs[name], value, what)
            else:
                _assert_close(outputs[name], value, dtype, what)


def test_declared_output_types_and_shapes():
    estimator = _fitted("NearestNeighbors", np.float64)
    onx = _convert(estimator, np.float64)
    declared = {
        output.name: (
            output.type.tensor_type.elem_type,
            [dim.dim_value or None for dim in output.type.tensor_type.shape.dim],
        )
        for output in onx.graph.output
    }
    assert declared == {
        "index": (onnx.TensorProto.INT64, [None, 4]),
        "distance": (onnx.TensorProto.DOUBLE, [None, 4]),
    }


def test_integer_input_is_cast():
    """skl2onnx's Int64TensorType input: cast to the fitted dtype; float32 output."""
    from skl2onnx.common.data_types import Int64TensorType

    estimator = _fitted("StandardScaler", np.float64)
    onx = skl2onnx.to_onnx(estimator, initial_types=[("X", Int64TensorType([None, N_FEATURES]))])
    onnx.checker.check_model(onx, full_check=True)
    X_new = np.round(_unseen(np.float64, 7) * 3).astype(np.int64)
    got = _run(onx, X_new)["variable"]
    _assert_close(got, estimator.transform(X_new.astype(np.float64)), np.float32, "int64 input")


# -- (f) registration, errors, laziness ---------------------------------------------------


def test_register_twice_is_harmless():
    from skl2onnx._supported_operators import sklearn_operator_name_map

    first, second = register_skl2onnx(), register_skl2onnx()
    assert first == second
    for cls in first:
        assert sklearn_operator_name_map[cls] == f"Xplearn{cls.__name__}"
    estimator = _fitted("LogisticRegression", np.float32)
    X_new = _unseen(np.float32, 7)
    outputs = _run(_convert(estimator, np.float32, options={"zipmap": False}), X_new)
    _assert_classifier(outputs, estimator, X_new, np.float32, "after two registrations")


@pytest.mark.parametrize("target_opset", [18, {"": 20, "ai.onnx.ml": 3}])
def test_lower_target_opset_is_refused_clearly(target_opset):
    pipeline = make_pipeline(SkStandardScaler(), _fitted("Ridge", np.float64))
    pipeline.steps[0][1].fit(_training_data(np.float64)[0])
    with pytest.raises(ValueError, match=r"target_opset=(18|20) is lower than opset 21.*Ridge"):
        skl2onnx.to_onnx(pipeline, np.zeros((1, N_FEATURES)), target_opset=target_opset)


def test_explicit_target_opset_21():
    estimator = _fitted("KMeans", np.float32)
    onx = _convert(estimator, np.float32, target_opset=21)
    assert {opset.domain: opset.version for opset in onx.opset_import}[""] == 21


def test_unsupported_option_value():
    estimator = _fitted("GaussianNB", np.float32)
    with pytest.raises(ValueError, match="nocl"):
        _convert(estimator, np.float32, options={id(estimator): {"nocl": True}})


def test_skl2onnx_is_imported_only_on_registration():
    code = (
        "import sys, xplearn, xplearn.onnx, xplearn.linear_model, xplearn.cluster; "
        "assert 'skl2onnx' not in sys.modules, 'skl2onnx imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_skl2onnx(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import skl2onnx now fails
    with pytest.raises(ImportError, match="pip install skl2onnx"):
        register_skl2onnx()
