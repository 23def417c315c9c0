"""The graph rewrites of xplearn.onnx._graph: what they change, and that they change nothing
they should not (onnxruntime's outputs against the unrewritten graph, or native)."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from xplearn.linear_model import LogisticRegression
from xplearn.pipeline import make_pipeline
from xplearn.preprocessing import StandardScaler

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("ndonnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from xplearn.onnx import to_onnx  # noqa: E402
from xplearn.onnx._graph import (  # noqa: E402
    eliminate_common_subexpressions,
    fold_constants,
    fuse_linear_classifier,
    fuse_scaler,
    prune,
    remove_identities,
    subtract_as_add,
)


def _run(model, X):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})


def _ops(model):
    return [(node.domain or "ai.onnx", node.op_type) for node in model.graph.node]


def _classification(dtype, n_classes=3, offset=0.0):
    X, y = make_classification(
        n_samples=400, n_features=8, n_informative=5, n_classes=n_classes, random_state=0
    )
    unseen = np.random.default_rng(3).normal(scale=1.5, size=(500, 8))
    return (X + offset).astype(dtype), y, (unseen + offset).astype(dtype)


def _model(nodes, initializers, outputs, elem_type=TensorProto.FLOAT):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", elem_type, ["N", 3])],
        [helper.make_tensor_value_info(name, elem_type, None) for name in outputs],
        [numpy_helper.from_array(value, name) for name, value in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def test_logistic_regression_float32_is_one_linear_classifier():
    X, y, unseen = _classification(np.float32)
    model = LogisticRegression().fit(X, y)
    proto = to_onnx(model, X, methods=("predict", "predict_proba"))
    assert _ops(proto) == [("ai.onnx.ml", "LinearClassifier")]
    onnx.checker.check_model(proto, full_check=True)
    labels, proba = _run(proto, unseen)
    np.testing.assert_array_equal(labels, model.predict(unseen))
    np.testing.assert_allclose(proba, model.predict_proba(unseen), rtol=1e-5, atol=1e-7)


def test_predict_alone_keeps_no_softmax():
    X, y, _ = _classification(np.float32)
    proto = to_onnx(LogisticRegression().fit(X, y), X, methods=("predict",))
    (node,) = proto.graph.node
    post = [a for a in node.attribute if a.name == "post_transform"]
    assert node.op_type == "LinearClassifier"
    assert post[0].s == b"NONE"


def test_decision_function_and_predict_share_one_classifier():
    X, y, unseen = _classification(np.float32)
    model = LogisticRegression().fit(X, y)
    proto = to_onnx(model, X, methods=("predict", "decision_function"))
    assert _ops(proto) == [("ai.onnx.ml", "LinearClassifier")]
    labels, scores = _run(proto, unseen)
    np.testing.assert_array_equal(labels, model.predict(unseen))
    expected = model.decision_function(unseen)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_float64_graphs_keep_standard_operators():
    """ai.onnx.ml's Scaler and LinearClassifier compute in float32: not for float64."""
    X, y, unseen = _classification(np.float64)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    proto = to_onnx(model, X, methods=("predict", "predict_proba"))
    assert all(domain == "ai.onnx" for domain, _ in _ops(proto))
    labels, proba = _run(proto, unseen)
    np.testing.assert_array_equal(labels, model.predict(unseen))
    np.testing.assert_allclose(proba, model.predict_proba(unseen), rtol=1e-10, atol=1e-14)


def test_scaled_pipeline_far_from_the_origin():
    """The Scaler subtracts the offset before scaling, as the native code: data centred
    far from zero keep their precision (folding the offset into the weights would not)."""
    X, y, unseen = _classification(np.float32, offset=1e4)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    proto = to_onnx(model, X, methods=("predict", "predict_proba"))
    assert _ops(proto) == [("ai.onnx.ml", "Scaler"), ("ai.onnx.ml", "LinearClassifier")]
    labels, proba = _run(proto, unseen)
    np.testing.assert_array_equal(labels, model.predict(unseen))
    np.testing.assert_allclose(proba, model.predict_proba(unseen), rtol=1e-4, atol=1e-6)


def test_scaler_transform_alone():
    X, _, unseen = _classification(np.float32)
    scaler = StandardScaler().fit(X)
    proto = to_onnx(scaler, X)
    assert _ops(proto) == [("ai.onnx.ml", "Scaler")]
    (got,) = _run(proto, unseen)
    np.testing.assert_allclose(got, scaler.transform(unseen), rtol=1e-5, atol=1e-6)


def test_common_subexpressions_are_computed_once():
    weights = np.arange(6, dtype=np.float32).reshape(3, 2)
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["a"]),
        helper.make_node("MatMul", ["X", "W"], ["b"]),
        helper.make_node("Relu", ["a"], ["c"]),
        helper.make_node("Relu", ["b"], ["d"]),
        helper.make_node("Add", ["c", "d"], ["sum"]),
        helper.make_node("Relu", ["a"], ["out"]),  # a repeat that is a graph output
    ]
    model = _model(nodes, {"W": weights}, ["sum", "out"])
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    expected = _run(model, X)
    eliminate_common_subexpressions(model.graph)
    prune(model.graph)
    assert [node.op_type for node in model.graph.node] == ["MatMul", "Relu", "Add", "Identity"]
    for got, want in zip(_run(model, X), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_identities_are_bypassed_and_outputs_written_directly():
    nodes = [
        helper.make_node("Identity", ["X"], ["i1"]),
        helper.make_node("Relu", ["i1"], ["r"]),
        helper.make_node("Identity", ["r"], ["i2"]),
        helper.make_node("Neg", ["i2"], ["n"]),
        helper.make_node("Identity", ["n"], ["out"]),
        helper.make_node("Identity", ["X"], ["copy"]),  # the graph input: stays an Identity
    ]
    model = _model(nodes, {}, ["out", "copy"])
    X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    expected = _run(model, X)
    remove_identities(model.graph)
    assert [node.op_type for node in model.graph.node] == ["Relu", "Neg", "Identity"]
    assert model.graph.node[1].output[0] == "out"
    for got, want in zip(_run(model, X), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_constant_subgraphs_are_folded_and_broadcasts_left_to_run():
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    mean = np.array([[0.5, -1.0, 2.0]], dtype=np.float32)
    nodes = [
        helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(weights)),
        helper.make_node("Constant", [], ["m"], value=numpy_helper.from_array(mean)),
        helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0]),
        helper.make_node("MatMul", ["X", "wt"], ["projected"]),
        helper.make_node("MatMul", ["m", "wt"], ["offset"]),  # constant: folded
        helper.make_node("Sub", ["projected", "offset"], ["out"]),
        # a constant broadcast to a larger shape stays a node (folding would grow it)
        helper.make_node(
            "Constant", [], ["shape"], value=numpy_helper.from_array(np.array([50, 2]))
        ),
        helper.make_node("Expand", ["offset", "shape"], ["wide"]),
        helper.make_node("Add", ["wide", "out"], ["out2"]),
    ]
    model = _model(nodes, {}, ["out", "out2"])
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    expected = _run(model, X)
    fold_constants(model)
    prune(model.graph)
    ops = [node.op_type for node in model.graph.node]
    assert "Transpose" not in ops
    assert ops.count("MatMul") == 1
    assert "Expand" in ops
    for got, want in zip(_run(model, X), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_subtracting_a_constant_becomes_adding_its_negation():
    nodes = [
        helper.make_node("MatMul", ["X", "w"], ["projected"]),
        helper.make_node("Sub", ["projected", "offset"], ["out"]),
        helper.make_node("Sub", ["offset", "projected"], ["reversed"]),  # not x - c: kept
        helper.make_node("Sub", ["X", "offset3"], ["shifted"]),
        helper.make_node("Sub", ["shifted", "offset3"], ["twice"]),  # one negated constant
    ]
    initializers = {
        "w": np.arange(6, dtype=np.float32).reshape(3, 2) / 7,
        "offset": np.array([0.3, -1e-8], dtype=np.float32),
        "offset3": np.array([1.5, 0.0, -2.25], dtype=np.float32),
    }
    model = _model(nodes, initializers, ["out", "reversed", "twice"])
    X = np.random.default_rng(1).normal(size=(9, 3)).astype(np.float32)
    expected = _run(model, X)
    subtract_as_add(model.graph)
    assert [node.op_type for node in model.graph.node if node.op_type != "Constant"] == [
        "MatMul",
        "Add",
        "Sub",
        "Add",
        "Add",
    ]
    defined = [name for node in model.graph.node for name in node.output]
    assert len(defined) == len(set(defined))  # one definition per name (SSA)
    for got, want in zip(_run(model, X), expected, strict=True):
        np.testing.assert_array_equal(got, want)  # exactly: x - c == x + (-c)


def test_scaler_fusion_needs_a_single_use_of_the_centred_values():
    nodes = [
        helper.make_node("Sub", ["X", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "scale"], ["scaled"]),
        helper.make_node("Add", ["centred", "scaled"], ["out"]),
    ]
    initializers = {
        "mean": np.array([1.0, 2.0, 3.0], dtype=np.float32),
        "scale": np.array([2.0, 4.0, 8.0], dtype=np.float32),
    }
    model = _model(nodes, initializers, ["out"])
    fuse_scaler(model)
    assert [node.op_type for node in model.graph.node] == ["Sub", "Div", "Add"]


def test_linear_classifier_fusion_needs_constant_weights():
    nodes = [
        helper.make_node("MatMul", ["X", "X_t"], ["scores_raw"]),
        helper.make_node("Add", ["scores_raw", "bias"], ["scores"]),
        helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["X"], ["X_t"]), *nodes],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, 3])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, None)],
        [numpy_helper.from_array(np.zeros(3, dtype=np.float32), "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    fuse_linear_classifier(model)
    assert "LinearClassifier" not in [node.op_type for node in model.graph.node]


@pytest.mark.parametrize("train_block", [None, 64])
def test_neighbour_selection_with_ties_matches_native(monkeypatch, train_block):
    """The exported search selects with TopK (lower position first among equal values),
    one block of training rows or several merged: duplicated training rows (equal
    distances) give exactly the native indices (ties to the smaller training index)."""
    from xplearn._kernels import _xp_impl
    from xplearn.neighbors import KNeighborsClassifier

    if train_block is not None:
        monkeypatch.setattr(_xp_impl, "SYMBOLIC_TRAIN_BLOCK", train_block)
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(100, 4)).astype(np.float32)
    X = np.concatenate([rows, rows, rows[::-1]])  # every row three times: k=7 splits a trio
    y = rng.integers(0, 3, size=X.shape[0])
    model = KNeighborsClassifier(n_neighbors=7).fit(X, y)
    proto = to_onnx(model, X, methods=("kneighbors", "predict"))
    if train_block is not None:
        assert sum(node.op_type == "TopK" for node in proto.graph.node) > 3
    queries = rng.normal(size=(50, 4)).astype(np.float32)
    distances, indices, labels = _run(proto, queries)
    expected_distances, expected_indices = model.kneighbors(queries)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-6)
    np.testing.assert_array_equal(labels, model.predict(queries))
