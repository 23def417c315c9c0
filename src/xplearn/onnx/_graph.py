"""Clean-up of the graphs ndonnx records, before they are handed out."""

from __future__ import annotations

from typing import Any

__all__ = [
    "eliminate_common_subexpressions",
    "finalize",
    "fold_constants",
    "fuse_linear_classifier",
    "fuse_scaler",
    "inline_zero_size_guards",
    "prune",
    "remove_identities",
    "subtract_as_add",
]

#: ai.onnx.ml opset declared when a fusion emits one of its operators (Scaler and
#: LinearClassifier are unchanged since version 1; 3 is what onnxruntime and skl2onnx
#: have long supported).
ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 3


def _is_zero_size_guard(node: Any, producers: dict[str, Any]) -> bool:
    """An ``If`` whose condition is ``Equal(<size>, 0)``: ndonnx's guard for empty input.

    ndonnx wraps matmul and min/max reductions in such an If, whose then-branch returns a
    placeholder for zero-size arrays and whose else-branch is the computation itself.
    """
    if node.op_type != "If":
        return False
    condition = producers.get(node.input[0])
    if condition is None or condition.op_type not in ("Equal", "Cast"):
        return False
    if condition.op_type == "Cast":
        condition = producers.get(condition.input[0])
        if condition is None or condition.op_type != "Equal":
            return False
    sources = [producers.get(name) for name in condition.input]
    return any(
        source is not None and source.op_type in ("Size", "Mul", "ReduceProd") for source in sources
    )


def inline_zero_size_guards(graph: Any) -> None:
    """Replace ndonnx's zero-size ``If`` guards by their else-branch, in place.

    Each guard costs a one-row onnxruntime call about a microsecond (the If and its
    condition), a large share of a 10 µs call. The else-branch computes the same
    result for non-empty inputs; for an empty batch, MatMul and reductions over the
    feature or class axis (never empty in an exported model) give empty results too.
    """
    import onnx
    from onnx import helper

    producers = {output: node for node in graph.node for output in node.output}
    nodes = []
    for node in graph.node:
        if not _is_zero_size_guard(node, producers):
            nodes.append(node)
            continue
        (else_branch,) = [
            attribute.g for attribute in node.attribute if attribute.name == "else_branch"
        ]
        renamed = {
            output.name: outer
            for output, outer in zip(else_branch.output, node.output, strict=True)
        }
        produced = set()
        for inner in else_branch.node:
            copied = onnx.NodeProto()
            copied.CopyFrom(inner)
            copied.output[:] = [renamed.get(name, name) for name in inner.output]
            produced.update(inner.output)
            nodes.append(copied)
        for output, outer in zip(else_branch.output, node.output, strict=True):
            if output.name not in produced:  # the branch returns an outer value as is
                nodes.append(helper.make_node("Identity", [output.name], [outer]))
    del graph.node[:]
    graph.node.extend(nodes)


def prune(graph: Any) -> None:
    """Drop nodes whose outputs nothing uses (the guards' conditions), in place."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(output in needed for output in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
            for attribute in node.attribute:  # values a subgraph reads from outside
                if attribute.HasField("g"):
                    needed.update(_outer_inputs(attribute.g))
    del graph.node[:]
    graph.node.extend(reversed(kept))
    unused = [init for init in graph.initializer if init.name not in needed]
    for initializer in unused:
        graph.initializer.remove(initializer)


def _outer_inputs(graph: Any) -> set[str]:
    produced = {output for node in graph.node for output in node.output}
    produced.update(init.name for init in graph.initializer)
    used = {name for node in graph.node for name in node.input if name}
    used.update(output.name for output in graph.output)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                used.update(_outer_inputs(attribute.g))
    return used - produced


# -------------------------------------------------------------------------------------
# Graph rewrites. Each keeps what the graph computes: exactly (constant folding, common
# subexpressions) or to rounding (the fusions into ai.onnx.ml operators, float32 only,
# where a one-row onnxruntime call pays per node, ~0.5 us each, for a 10 us call).


def _constant_values(graph: Any) -> dict[str, Any]:
    """Name -> NumPy value of every initializer and Constant node's output."""
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attribute.t)
    return values


def _consumers(graph: Any) -> dict[str, list[Any]]:
    uses: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            uses.setdefault(name, []).append(node)
    return uses


def _has_subgraph(node: Any) -> bool:
    return any(attribute.HasField("g") or len(attribute.graphs) for attribute in node.attribute)


def _attribute(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _constant_node(name: str, value: Any) -> Any:
    from onnx import helper, numpy_helper

    # an unnamed tensor: equal constants then serialize alike (common subexpressions)
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value))


def fold_constants(model: Any) -> None:
    """Replace each standard node whose inputs are all constants by a Constant of its
    output, in place (e.g. the transposed components, and ``mean @ components.T``, which
    the recorded PCA transform computes on every call), when the output is no larger
    than its inputs (a broadcast is left to run). The values come from onnx's reference
    implementation of the operator, so folding changes nothing that is computed."""
    import numpy as np
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    opset = next(
        (entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None
    )
    values = _constant_values(graph)
    nodes = []
    for node in graph.node:
        inputs = [name for name in node.input if name]
        foldable = (
            node.domain in ("", "ai.onnx")
            and node.op_type != "Constant"
            and inputs
            and all(name in values for name in inputs)
            and len(node.output) == 1
            and not _has_subgraph(node)
        )
        if foldable:
            evaluator = ReferenceEvaluator(node, opsets={"": opset} if opset else None)
            (result,) = evaluator.run(None, {name: values[name] for name in inputs})
            result = np.ascontiguousarray(result)
            if result.size <= sum(values[name].size for name in inputs):
                nodes.append(_constant_node(node.output[0], result))
                values[node.output[0]] = result
                continue
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)


def subtract_as_add(graph: Any) -> None:
    """``Sub(x, c)`` of a floating constant ``c`` -> ``Add(x, -c)``, in place: the same
    values (IEEE subtraction is the addition of the negation), and a form onnxruntime
    fuses with a preceding MatMul into one Gemm (the PCA transform's offset)."""
    import numpy as np

    values = _constant_values(graph)
    negated: set[str] = set()
    nodes = []
    for node in graph.node:
        constant = values.get(node.input[1]) if len(node.input) == 2 else None
        if (
            node.op_type == "Sub"
            and node.domain in ("", "ai.onnx")
            and node.input[0] not in values
            and constant is not None
            and constant.dtype.kind == "f"
        ):
            negated_name = f"{node.input[1]}_negated"
            if negated_name not in negated:  # one constant for every Sub of it
                negated.add(negated_name)
                nodes.append(_constant_node(negated_name, np.negative(constant)))
            add = node.__class__()
            add.CopyFrom(node)
            add.op_type = "Add"
            add.input[1] = negated_name
            nodes.append(add)
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)


def remove_identities(graph: Any) -> None:
    """Bypass ``Identity`` nodes (the inlined guards leave chains of them, and ndonnx
    names the outputs through one), in place.

    An Identity producing a graph output is removed too when its input is another node's
    output used by nothing else as a graph output: that node then writes the graph
    output directly.
    """
    if any(_has_subgraph(node) for node in graph.node):
        return
    outputs = _graph_outputs(graph)
    source: dict[str, str] = {}
    for node in graph.node:
        node.input[:] = [source.get(name, name) for name in node.input]
        if node.op_type == "Identity" and not node.domain and node.output[0] not in outputs:
            source[node.output[0]] = node.input[0]
    nodes = [
        node
        for node in graph.node
        if not (node.op_type == "Identity" and not node.domain and node.output[0] in source)
    ]
    produced = {name for node in nodes for name in node.output}
    renames: dict[str, str] = {}
    for node in nodes:
        if node.op_type != "Identity" or node.domain or node.output[0] not in outputs:
            continue
        value = node.input[0]
        if value in produced and value not in outputs and value not in renames:
            renames[value] = node.output[0]
    if renames:
        named = set(renames.values())
        nodes = [
            node for node in nodes if not (node.op_type == "Identity" and node.output[0] in named)
        ]
        for node in nodes:
            node.input[:] = [renames.get(name, name) for name in node.input]
            node.output[:] = [renames.get(name, name) for name in node.output]
    del graph.node[:]
    graph.node.extend(nodes)


def eliminate_common_subexpressions(graph: Any) -> None:
    """Compute each distinct (operator, inputs, attributes) once, in place.

    Several exported methods share their first steps (``predict`` and ``predict_proba``
    both compute the decision scores); ndonnx records them once per method. A repeat
    that produces a graph output becomes an Identity of the first one's value.
    """
    from onnx import helper

    if any(_has_subgraph(node) for node in graph.node):
        return  # subgraphs may read outer names: leave such graphs alone
    graph_outputs = {output.name for output in graph.output}
    renamed: dict[str, str] = {}
    seen: dict[tuple, Any] = {}
    nodes = []
    for node in graph.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]
        key = (
            node.domain,
            node.op_type,
            tuple(node.input),
            tuple(sorted(attribute.SerializeToString() for attribute in node.attribute)),
        )
        first = seen.get(key)
        if first is None:
            seen[key] = node
            nodes.append(node)
            continue
        for output, existing in zip(node.output, first.output, strict=True):
            if output in graph_outputs:  # named by the graph: a copy of the first's value
                nodes.append(helper.make_node("Identity", [existing], [output]))
            else:
                renamed[output] = existing
    del graph.node[:]
    graph.node.extend(nodes)


def _feature_vector(value: Any, n_features: int | None) -> Any:
    """``value`` as a 1-D float vector over the features, or None if it is not one."""
    import numpy as np

    if value is None or value.dtype.kind != "f":
        return None
    flat = np.asarray(value).reshape(-1)
    if value.ndim > 2 or (value.ndim == 2 and value.shape[0] != 1):
        return None
    if n_features is not None and flat.shape[0] not in (1, n_features):
        return None
    return flat


def _declare_ml_opset(model: Any) -> None:
    if not any(entry.domain == ML_DOMAIN for entry in model.opset_import):
        entry = model.opset_import.add()
        entry.domain = ML_DOMAIN
        entry.version = ML_OPSET


def fuse_scaler(model: Any) -> None:
    """``Div(Sub(X, offset), scale)`` (or ``Mul`` by ``1 / scale``) on float32 features ->
    one ``ai.onnx.ml.Scaler``, in place: a standard scaler in one node, as skl2onnx emits
    it. The division becomes a multiplication by the rounded reciprocal (an ulp at most).
    """
    import numpy as np

    from onnx import TensorProto, helper

    graph = model.graph
    if any(_has_subgraph(node) for node in graph.node):
        return
    values = _constant_values(graph)
    uses = _consumers(graph)
    float32_inputs = {
        value.name for value in graph.input if value.type.tensor_type.elem_type == TensorProto.FLOAT
    }
    float32_inputs.update(
        node.output[0]
        for node in graph.node
        if node.op_type == "Cast" and _attribute(node, "to", None) == TensorProto.FLOAT
    )
    replaced: dict[int, Any] = {}
    dropped: set[int] = set()
    for node in graph.node:
        if node.op_type != "Sub" or node.domain or node.input[0] not in float32_inputs:
            continue
        offset = _feature_vector(values.get(node.input[1]), None)
        following = uses.get(node.output[0], [])
        if offset is None or len(following) != 1 or node.output[0] in _graph_outputs(graph):
            continue
        (scaling,) = following
        if (
            scaling.op_type not in ("Div", "Mul")
            or scaling.domain
            or scaling.input[0] != node.output[0]
        ):
            continue
        factor = _feature_vector(values.get(scaling.input[1]), None)
        if factor is None:
            continue
        factor64 = factor.astype(np.float64)
        scale = 1.0 / factor64 if scaling.op_type == "Div" else factor64
        width = max(offset.shape[0], scale.shape[0])
        if offset.shape[0] not in (1, width) or scale.shape[0] not in (1, width):
            continue
        offset = np.broadcast_to(offset.astype(np.float64), (width,))
        scale = np.broadcast_to(scale, (width,))
        replaced[id(scaling)] = helper.make_node(
            "Scaler",
            [node.input[0]],
            [scaling.output[0]],
            domain=ML_DOMAIN,
            offset=offset.astype(np.float32).tolist(),
            scale=scale.astype(np.float32).tolist(),
        )
        dropped.add(id(node))
    if not replaced:
        return
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    _declare_ml_opset(model)


def _graph_outputs(graph: Any) -> set[str]:
    return {output.name for output in graph.output}


def fuse_linear_classifier(model: Any) -> None:
    """``ArgMax(Add(MatMul(X, W), b), axis=1)`` on float32 with constant ``W``, ``b`` -> one
    ``ai.onnx.ml.LinearClassifier`` giving the labels (class indices) and the scores, in
    place, as in skl2onnx's graphs; a Softmax that alone reads the scores becomes the
    classifier's SOFTMAX post-transform (onnxruntime subtracts the row maximum too).
    """
    import numpy as np

    from onnx import helper

    graph = model.graph
    if any(_has_subgraph(node) for node in graph.node):
        return
    values = _constant_values(graph)
    uses = _consumers(graph)
    producers = {output: node for node in graph.node for output in node.output}
    outputs = _graph_outputs(graph)
    replaced: dict[int, Any] = {}
    dropped: set[int] = set()
    for node in graph.node:
        if node.op_type != "ArgMax" or node.domain:
            continue
        if _attribute(node, "keepdims", 1) != 0 or _attribute(node, "select_last_index", 0):
            continue
        if _attribute(node, "axis", 0) not in (1, -1):
            continue
        add = producers.get(node.input[0])
        if add is None or add.op_type != "Add" or add.domain:
            continue
        matmul = producers.get(add.input[0])
        bias = values.get(add.input[1])
        if matmul is None or matmul.op_type != "MatMul" or matmul.domain or bias is None:
            continue
        weights = values.get(matmul.input[1])
        if weights is None or weights.ndim != 2 or weights.dtype != np.float32:
            continue
        n_classes = weights.shape[1]
        if bias.dtype != np.float32 or bias.reshape(-1).shape[0] != n_classes or n_classes < 2:
            continue
        if bias.ndim > 2 or (bias.ndim == 2 and bias.shape[0] != 1):
            continue
        if len(uses.get(matmul.output[0], [])) != 1 or matmul.output[0] in outputs:
            continue
        # scores used only by a Softmax over the classes: the classifier applies it
        scores, post_transform = add.output[0], "NONE"
        others = [user for user in uses.get(scores, []) if user is not node]
        if (
            len(others) == 1
            and others[0].op_type == "Softmax"
            and not others[0].domain
            and _attribute(others[0], "axis", -1) in (1, -1)
            and scores not in outputs
        ):
            (softmax,) = others
            scores, post_transform = softmax.output[0], "SOFTMAX"
            dropped.add(id(softmax))
        replaced[id(node)] = helper.make_node(
            "LinearClassifier",
            [matmul.input[0]],
            [node.output[0], scores],
            domain=ML_DOMAIN,
            coefficients=np.ascontiguousarray(weights.T).reshape(-1).tolist(),
            intercepts=bias.reshape(-1).tolist(),
            classlabels_ints=list(range(n_classes)),
            post_transform=post_transform,
        )
        dropped.update((id(matmul), id(add)))
    if not replaced:
        return
    # the classifier goes where the Add was: before every other user of the scores
    by_add = {}
    for argmax in graph.node:
        if id(argmax) in replaced:
            by_add[producers[argmax.input[0]].output[0]] = replaced[id(argmax)]
    order = []
    for node in graph.node:
        if id(node) in dropped and node.op_type == "Add":
            order.append(by_add[node.output[0]])
        elif id(node) not in dropped and id(node) not in replaced:
            order.append(node)
    del graph.node[:]
    graph.node.extend(order)
    _declare_ml_opset(model)


def finalize(model: Any, estimator: Any) -> Any:
    """Simplify a recorded model and stamp its producer."""
    from xplearn import __version__

    inline_zero_size_guards(model.graph)
    prune(model.graph)
    remove_identities(model.graph)
    fold_constants(model)
    eliminate_common_subexpressions(model.graph)
    remove_identities(model.graph)  # the repeats that CSE turned into Identity
    fuse_scaler(model)
    fuse_linear_classifier(model)
    subtract_as_add(model.graph)  # after the fusions, which look for Sub
    prune(model.graph)
    model.producer_name = "xplearn"
    model.producer_version = __version__
    model.graph.name = type(estimator).__name__
    model.doc_string = f"xplearn export of {estimator!r}"
    return model
