"""ONNX export: every estimator and method, run in onnxruntime, equals native inference."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from xplearn.cluster import KMeans, MiniBatchKMeans
from xplearn.decomposition import PCA
from xplearn.discriminant_analysis import LinearDiscriminantAnalysis
from xplearn.linear_model import LinearRegression, LogisticRegression, Ridge
from xplearn.naive_bayes import GaussianNB
from xplearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from xplearn.preprocessing import MinMaxScaler, StandardScaler
from xplearn.utils.discovery import all_estimators

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("ndonnx")

from xplearn.onnx import default_methods, output_names, to_onnx  # noqa: E402

N_FEATURES = 12
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}

#: One fitted configuration per estimator (several where a parameter changes the graph),
#: with the kind of target it is fitted on.
CASES = {
    "StandardScaler": (StandardScaler, None),
    "StandardScaler-no-mean": (lambda: StandardScaler(with_mean=False), None),
    "MinMaxScaler-clip": (lambda: MinMaxScaler(feature_range=(-1, 2), clip=True), None),
    "PCA": (lambda: PCA(n_components=5), None),
    "PCA-whiten": (lambda: PCA(n_components=4, whiten=True), None),
    "LinearRegression": (LinearRegression, "continuous"),
    "LinearRegression-2-targets": (LinearRegression, "two-targets"),
    "Ridge": (lambda: Ridge(alpha=3.0), "continuous"),
    "LogisticRegression": (LogisticRegression, "multiclass"),
    "LogisticRegression-binary": (LogisticRegression, "binary"),
    "GaussianNB": (GaussianNB, "multiclass"),
    "LinearDiscriminantAnalysis": (LinearDiscriminantAnalysis, "multiclass"),
    "LinearDiscriminantAnalysis-binary-eigen": (
        lambda: LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto"),
        "binary",
    ),
    "KMeans": (lambda: KMeans(n_clusters=6, n_init=1, random_state=0), None),
    "MiniBatchKMeans": (lambda: MiniBatchKMeans(n_clusters=5, random_state=0), None),
    "NearestNeighbors": (lambda: NearestNeighbors(n_neighbors=4), None),
    "NearestNeighbors-cosine": (lambda: NearestNeighbors(n_neighbors=3, metric="cosine"), None),
    "KNeighborsClassifier": (lambda: KNeighborsClassifier(n_neighbors=5), "multiclass"),
    "KNeighborsClassifier-distance-manhattan": (
        lambda: KNeighborsClassifier(n_neighbors=4, weights="distance", metric="manhattan"),
        "strings",
    ),
    "KNeighborsRegressor": (lambda: KNeighborsRegressor(n_neighbors=3), "continuous"),
}


def _training_data(dtype, target):
    X, y = make_classification(
        n_samples=300,
        n_features=N_FEATURES,
        n_informative=6,
        n_classes=2 if target == "binary" else 3,
        random_state=0,
    )
    X = X.astype(dtype)
    if target in ("continuous", "two-targets"):
        rng = np.random.default_rng(1)
        y = X @ rng.normal(size=(N_FEATURES, 2)) + rng.normal(size=2)
        y = (y[:, 0] if target == "continuous" else y).astype(dtype)
    elif target == "strings":
        y = np.array(["setosa", "versicolor", "virginica"])[y]
    return X, y


def _unseen(dtype, n_rows):
    """Rows the model has not seen: another seed, a wider spread."""
    return (np.random.default_rng(7).normal(scale=1.5, size=(n_rows, N_FEATURES))).astype(dtype)


def _fitted(case, dtype):
    factory, target = CASES[case]
    X, y = _training_data(dtype, target)
    estimator = factory()
    return estimator.fit(X) if target is None else estimator.fit(X, y)


def _run(model, X):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X}), strict=True))


def _native(estimator, method, X):
    result = getattr(estimator, method)(X)
    return result if isinstance(result, tuple) else (result,)


def _assert_same(got, expected, dtype, what):
    expected = np.asarray(expected)
    if expected.dtype.kind in "OUSbiu":
        if expected.dtype.kind in "OU":
            assert got.dtype.kind in "OU", f"{what}: labels must come out as strings"
            got, expected = got.astype(str), expected.astype(str)
        else:
            assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
        np.testing.assert_array_equal(got, expected, err_msg=what)
        return
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    rtol = TOLERANCE[dtype]
    # relative to the output's scale: entries near zero carry the rounding of the larger
    scale = float(np.max(np.abs(expected))) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_method_matches_native(case, dtype):
    estimator = _fitted(case, dtype)
    methods = estimator._capabilities.onnx_methods
    model = to_onnx(estimator, methods=methods)
    onnx.checker.check_model(model, full_check=True)
    assert [graph_input.name for graph_input in model.graph.input] == ["X"]
    for n_rows in (1, 7, 10_000):
        X = _unseen(dtype, n_rows)
        outputs = _run(model, X)
        for method in methods:
            for name, expected in zip(
                output_names(method), _native(estimator, method, X), strict=True
            ):
                _assert_same(outputs[name], expected, dtype, f"{case}.{method} {name} n={n_rows}")


def test_every_estimator_exports():
    """Each estimator of the library declares exportable methods and has a case here."""
    covered = {case.split("-")[0] for case in CASES}
    for name, cls in all_estimators():
        assert cls._capabilities.onnx_methods, f"{name} declares no ONNX method"
        assert name in covered, f"{name} has no export test case"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("LogisticRegression", ("predict", "predict_proba")),
        ("GaussianNB", ("predict", "predict_proba")),
        ("KMeans", ("predict",)),
        ("PCA", ("transform",)),
        ("LinearRegression", ("predict",)),
        ("NearestNeighbors", ("kneighbors",)),
    ],
)
def test_default_methods(case, expected):
    estimator = _fitted(case, np.float64)
    assert default_methods(estimator) == expected
    model = to_onnx(estimator)
    names = [output.name for output in model.graph.output]
    assert names == [name for method in expected for name in output_names(method)]


def test_dtype_follows_fit_then_argument():
    estimator = _fitted("LogisticRegression", np.float32)
    X = _unseen(np.float64, 5)
    assert to_onnx(estimator).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    model = to_onnx(estimator, dtype="float64")
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    # float64 input to a float32 model computes in float64, as native inference does
    _assert_same(_run(model, X)["predict_proba"], estimator.predict_proba(X), np.float64, "f64")
    from_example = to_onnx(estimator, X[:1])
    assert from_example.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_symbolic_batch_dimension():
    model = to_onnx(_fitted("KMeans", np.float64))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param
    assert not dims[0].HasField("dim_value")
    assert dims[1].dim_value == N_FEATURES


def test_string_labels_come_out_as_strings():
    estimator = _fitted("KNeighborsClassifier-distance-manhattan", np.float32)
    X = _unseen(np.float32, 20)
    got = _run(to_onnx(estimator, methods="predict"), X)["predict"]
    assert got.dtype == object
    assert set(got) <= {"setosa", "versicolor", "virginica"}
    np.testing.assert_array_equal(got.astype(str), estimator.predict(X).astype(str))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_pipeline_chains_transformers(dtype):
    X, y = _training_data(dtype, "multiclass")
    pipeline = make_pipeline(
        StandardScaler(), PCA(n_components=6), LogisticRegression(max_iter=500)
    ).fit(X, y)
    model = to_onnx(pipeline)
    onnx.checker.check_model(model, full_check=True)
    for n_rows in (1, 7, 10_000):
        X_new = _unseen(dtype, n_rows)
        outputs = _run(model, X_new)
        _assert_same(outputs["predict"], pipeline.predict(X_new), dtype, "pipeline predict")
        _assert_same(
            outputs["predict_proba"], pipeline.predict_proba(X_new), dtype, "pipeline proba"
        )


def test_pipeline_ending_in_a_transformer():
    X, _ = _training_data(np.float64, None)
    pipeline = make_pipeline(MinMaxScaler(), "passthrough", PCA(n_components=3)).fit(X)
    X_new = _unseen(np.float64, 9)
    got = _run(to_onnx(pipeline), X_new)["transform"]
    _assert_same(got, pipeline.transform(X_new), np.float64, "pipeline transform")


def test_export_leaves_the_estimator_unchanged():
    estimator = _fitted("LogisticRegression", np.float64)
    before = {
        key: np.array(value, copy=True)
        for key, value in vars(estimator).items()
        if isinstance(value, np.ndarray)
    }
    X = _unseen(np.float64, 4)
    expected = estimator.predict_proba(X)
    to_onnx(estimator)
    for key, value in before.items():
        np.testing.assert_array_equal(getattr(estimator, key), value)
    np.testing.assert_array_equal(estimator.predict_proba(X), expected)


# -- errors -------------------------------------------------------------------------------


def test_not_fitted():
    with pytest.raises(NotFittedError, match=r"LogisticRegression\.to_onnx\(\)"):
        to_onnx(LogisticRegression())


def test_scikit_learn_estimator_is_refused_clearly():
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X, y = _training_data(np.float64, "multiclass")
    with pytest.raises(NotImplementedError, match=r"LogisticRegression.*not an xplearn"):
        to_onnx(SkLogisticRegression().fit(X, y))
    pipeline = make_pipeline(StandardScaler(), SkLogisticRegression()).fit(X, y)
    with pytest.raises(NotImplementedError, match="skl2onnx"):
        to_onnx(pipeline)


def test_unknown_method():
    with pytest.raises(NotImplementedError, match=r"KMeans.*\['predict_proba'\].*exportable"):
        to_onnx(_fitted("KMeans", np.float64), methods=("predict_proba",))


def test_lsqr_transform_is_not_exportable():
    X, y = _training_data(np.float64, "multiclass")
    lda = LinearDiscriminantAnalysis(solver="lsqr").fit(X, y)
    with pytest.raises(NotImplementedError, match="lsqr"):
        to_onnx(lda, methods=("transform",))
    to_onnx(lda, methods=("predict",))  # its other methods export


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_features": 3}, "3 features, but LogisticRegression is expecting 12"),
        ({"dtype": "int64"}, "float32 or float64, got int64"),
        ({"X": np.zeros(12)}, "2D"),
        ({"X": np.zeros((1, 12)), "n_features": 5}, "n_features=5 but X has 12"),
        ({"target_opset": 17}, "target_opset=17 is lower than opset 21"),
        ({"methods": ()}, "at least one method"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        to_onnx(_fitted("LogisticRegression", np.float64), **kwargs)
