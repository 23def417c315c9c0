"""Clean-up of the graphs ndonnx records, before they are handed out."""

from __future__ import annotations

from typing import Any

__all__ = ["finalize", "inline_zero_size_guards", "prune"]


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


def finalize(model: Any, estimator: Any) -> Any:
    """Simplify a recorded model and stamp its producer."""
    from xplearn import __version__

    inline_zero_size_guards(model.graph)
    prune(model.graph)
    model.producer_name = "xplearn"
    model.producer_version = __version__
    model.graph.name = type(estimator).__name__
    model.doc_string = f"xplearn export of {estimator!r}"
    return model
