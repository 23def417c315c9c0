"""skl2onnx interop: converters that let ``skl2onnx.to_onnx`` convert xplearn estimators.

:func:`register_skl2onnx` registers, for every xplearn estimator class, a parser where
needed, a shape calculator and a converter with skl2onnx. The converter exports the
estimator with :func:`xplearn.onnx.to_onnx` (the estimator's own array-API inference,
recorded by ndonnx) and inlines that graph into skl2onnx's container, so scikit-learn
pipelines mixing scikit-learn and xplearn steps convert as a whole.

skl2onnx is imported only when :func:`register_skl2onnx` is called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xplearn.onnx._export import INPUT_NAME, ONNX_OPSET, to_onnx

__all__ = ["register_skl2onnx"]

#: Options the classifiers' converters accept: skl2onnx's own classifiers' options that
#: skl2onnx's parser implements around the converter (``nocl`` is read by its ZipMap:
#: only its default, class labels rather than class indices, is supported).
_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "output_class_labels": [False, True],
    "nocl": [False],
}

#: Per kind of estimator: the methods exported with to_onnx.
_METHODS = {
    "classifier": ("predict", "predict_proba"),
    "regressor": ("predict",),
    "cluster": ("predict", "transform"),
    "neighbors": ("kneighbors",),
    "transformer": ("transform",),
}
#: Per kind: skl2onnx's outputs, in its order, as (to_onnx graph output feeding it, kind
#: of the declared type: "label" follows classes_, "int64", "float" follows the input).
_OUTPUTS = {
    "classifier": (("predict", "label"), ("predict_proba", "float")),
    "regressor": (("predict", "float"),),
    "cluster": (("predict", "int64"), ("transform", "float")),
    # skl2onnx's NearestNeighbors convention: (index, distance), indices first
    "neighbors": (("indices", "int64"), ("distances", "float")),
    "transformer": (("transform", "float"),),
}


def _import_skl2onnx() -> Any:
    try:
        import skl2onnx
    except ImportError as error:
        raise ImportError(
            "register_skl2onnx() needs skl2onnx, which is not installed: "
            "pip install skl2onnx (or pip install 'xplearn[onnx,skl2onnx]')."
        ) from error
    return skl2onnx


def _kind(cls: type) -> str | None:
    """How skl2onnx sees an estimator class: its outputs follow from this."""
    from sklearn.base import ClassifierMixin, ClusterMixin, RegressorMixin, TransformerMixin

    methods = set(cls._capabilities.onnx_methods)
    if issubclass(cls, ClassifierMixin) and {"predict", "predict_proba"} <= methods:
        return "classifier"
    if issubclass(cls, RegressorMixin) and "predict" in methods:
        return "regressor"
    if issubclass(cls, ClusterMixin) and {"predict", "transform"} <= methods:
        return "cluster"
    if "kneighbors" in methods:
        return "neighbors"
    if issubclass(cls, TransformerMixin) and "transform" in methods:
        return "transformer"
    return None


def _alias(cls: type) -> str:
    return f"Xplearn{cls.__name__}"


# -- shapes and types -----------------------------------------------------------------


def _float_type(input_type: Any) -> type:
    """skl2onnx's convention: double in, double out; anything else gives float."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return DoubleTensorType if isinstance(input_type, DoubleTensorType) else FloatTensorType


def _label_type(estimator: Any) -> type:
    """Int64TensorType for integer, boolean or integral float classes; else strings."""
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    classes = np.asarray(estimator.classes_)
    if classes.dtype.kind in "biu":
        return Int64TensorType
    if classes.dtype.kind == "f":
        if not np.all(classes == np.round(classes)):
            raise NotImplementedError(
                f"register_skl2onnx(): {type(estimator).__name__} has non-integer float "
                "classes; skl2onnx represents class labels as int64 or strings."
            )
        return Int64TensorType
    return StringTensorType


def _n_targets(estimator: Any) -> int:
    for name, axis in (("coef_", 0), ("_y", 1)):
        value = getattr(estimator, name, None)
        if value is not None and len(value.shape) == 2:
            return int(value.shape[axis])
    return 1


def _n_features_out(estimator: Any) -> int | None:
    try:
        return len(estimator.get_feature_names_out())
    except Exception:  # unknown width: skl2onnx accepts None
        return None


def _declared_shapes(estimator: Any, kind: str, n_rows: Any) -> list[list[Any]]:
    if kind == "classifier":
        return [[n_rows], [n_rows, len(estimator.classes_)]]
    if kind == "regressor":
        return [[n_rows, _n_targets(estimator)]]
    if kind == "cluster":
        return [[n_rows], [n_rows, int(estimator.cluster_centers_.shape[0])]]
    if kind == "neighbors":
        k = int(estimator.n_neighbors)
        return [[n_rows, k], [n_rows, k]]
    return [[n_rows, _n_features_out(estimator)]]


def _shape_calculator(operator: Any) -> None:
    """Set the types and shapes of an xplearn operator's outputs, skl2onnx's way."""
    from skl2onnx.common.data_types import Int64TensorType

    estimator = operator.raw_operator
    kind = _kind(type(estimator))
    expected = len(_OUTPUTS[kind])
    if len(operator.inputs) != 1 or len(operator.outputs) != expected:
        raise RuntimeError(
            f"register_skl2onnx(): {type(estimator).__name__} takes 1 input and gives "
            f"{expected} outputs, got {len(operator.inputs)} and {len(operator.outputs)}."
        )
    input_type = operator.inputs[0].type
    n_rows = operator.inputs[0].get_first_dimension()
    shapes = _declared_shapes(estimator, kind, n_rows)
    for variable, (_, type_kind), shape in zip(
        operator.outputs, _OUTPUTS[kind], shapes, strict=True
    ):
        if type_kind == "label":
            tensor_type = _label_type(estimator)
        elif type_kind == "int64":
            tensor_type = Int64TensorType
        else:
            tensor_type = _float_type(input_type)
        variable.type = tensor_type(shape)


def _parse_neighbors(scope, model, inputs, custom_parsers=None):
    """Declare (index, distance), as skl2onnx does for its NearestNeighbors."""
    from skl2onnx.common.data_types import Int64TensorType, guess_tensor_type

    operator = scope.declare_local_operator(_alias(type(model)), model)
    operator.inputs = inputs
    operator.outputs.append(scope.declare_local_variable("index", Int64TensorType()))
    operator.outputs.append(
        scope.declare_local_variable("distance", guess_tensor_type(inputs[0].type))
    )
    return operator.outputs


# -- the converter ----------------------------------------------------------------------


def _subgraphs(node: Any) -> list[Any]:
    """The graphs a node's attributes hold (If branches, Loop and Scan bodies)."""
    graphs = []
    for attribute in node.attribute:
        if attribute.HasField("g"):
            graphs.append(attribute.g)
        graphs.extend(attribute.graphs)
    return graphs


def _graph_names(graph: Any, names: dict[str, None]) -> None:
    """Every value name of a graph and its subgraphs, in order of appearance."""
    for value in (*graph.input, *graph.initializer, *graph.value_info, *graph.output):
        names[value.name] = None
    for sparse in graph.sparse_initializer:
        names[sparse.values.name] = None
        names[sparse.indices.name] = None
    for node in graph.node:
        for name in (*node.input, *node.output):
            names[name] = None
        for subgraph in _subgraphs(node):
            _graph_names(subgraph, names)
    names.pop("", None)  # an omitted optional input stays omitted


def _rename(graph: Any, mapping: dict[str, str], node_name: Any) -> None:
    """Rename, in place, every value of a graph and its subgraphs through ``mapping``,
    and every node through ``node_name``."""
    for value in (*graph.input, *graph.initializer, *graph.value_info, *graph.output):
        value.name = mapping[value.name]
    for sparse in graph.sparse_initializer:
        sparse.values.name = mapping[sparse.values.name]
        sparse.indices.name = mapping[sparse.indices.name]
    for node in graph.node:
        node.input[:] = [mapping.get(name, name) for name in node.input]
        node.output[:] = [mapping.get(name, name) for name in node.output]
        node.name = node_name(node.name or node.op_type)
        for subgraph in _subgraphs(node):
            _rename(subgraph, mapping, node_name)


def _check_opset(container: Any, estimator: Any) -> None:
    opset = container.target_opset_onnx
    if opset is not None and opset < ONNX_OPSET:
        raise ValueError(
            f"register_skl2onnx(): target_opset={opset} is lower than opset {ONNX_OPSET}, "
            f"which the graph of xplearn's {type(estimator).__name__} uses; call "
            f"skl2onnx.to_onnx(..., target_opset={ONNX_OPSET}) or higher (skl2onnx's "
            "default is its latest tested opset)."
        )


def _input_dtype(input_type: Any) -> str | None:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    if isinstance(input_type, DoubleTensorType):
        return "float64"
    if isinstance(input_type, FloatTensorType):
        return "float32"
    return None  # integer or boolean input: cast to the dtype the model was fitted in


def _elem_type(value_info: Any) -> int:
    return value_info.type.tensor_type.elem_type


def _converter(scope, operator, container):
    """Inline the graph :func:`xplearn.onnx.to_onnx` records into skl2onnx's container."""
    from onnx import TensorProto, helper

    estimator = operator.raw_operator
    _check_opset(container, estimator)
    kind = _kind(type(estimator))
    source = operator.inputs[0]
    n_features = source.get_second_dimension()
    model = to_onnx(
        estimator,
        n_features=n_features if isinstance(n_features, int) else None,
        dtype=_input_dtype(source.type),
        methods=_METHODS[kind],
    )
    graph = model.graph

    # rename every value and node, reserving the names in skl2onnx's scope
    prefix = f"{operator.full_name}_"
    names: dict[str, None] = {}
    _graph_names(graph, names)
    mapping = {name: scope.get_unique_variable_name(prefix + name) for name in names}
    _rename(graph, mapping, lambda name: scope.get_unique_operator_name(prefix + name))

    def node(op_type, inputs, outputs, **attributes):
        name = scope.get_unique_operator_name(prefix + op_type)
        return helper.make_node(op_type, inputs, outputs, name=name, **attributes)

    # skl2onnx's input -> the graph's input "X": a Cast where the types differ (an
    # integer input goes to the dtype the estimator was fitted in)
    graph_input = mapping[INPUT_NAME]
    (input_type,) = [_elem_type(value) for value in graph.input if value.name == graph_input]
    if source.type.to_onnx_type().tensor_type.elem_type == input_type:
        nodes = [node("Identity", [source.full_name], [graph_input])]
    else:
        nodes = [node("Cast", [source.full_name], [graph_input], to=input_type)]
    # skl2onnx sorts the nodes again (by their inputs); the exported graphs hold no
    # subgraph (to_onnx inlines ndonnx's If guards), whose outer reads it would not see
    nodes.extend(graph.node)

    # the graph's outputs -> skl2onnx's outputs, cast to the declared types
    by_name = {value.name: value for value in graph.output}
    for variable, (name, _) in zip(operator.outputs, _OUTPUTS[kind], strict=True):
        value = by_name[mapping[name]]
        current = value.name
        target_type = variable.type.to_onnx_type().tensor_type.elem_type
        rank = len(value.type.tensor_type.shape.dim)
        steps = []
        if _elem_type(value) != target_type:
            steps.append(("Cast", {"to": target_type}))
        if kind == "regressor" and rank == 1:  # skl2onnx's regressors give (N, 1)
            steps.append(("Reshape", {}))
        if not steps:
            steps.append(("Identity", {}))
        for index, (op_type, attributes) in enumerate(steps):
            last = index == len(steps) - 1
            out = variable.full_name if last else scope.get_unique_variable_name(prefix + op_type)
            inputs = [current]
            if op_type == "Reshape":
                shape = scope.get_unique_variable_name(prefix + "shape")
                container.add_initializer(shape, TensorProto.INT64, [2], [-1, 1])
                inputs.append(shape)
            nodes.append(node(op_type, inputs, [out], **attributes))
            current = out

    for tensor in graph.initializer:
        container.initializers.append(tensor)
    for node in nodes:
        container.nodes.append(node)
    for opset in model.opset_import:
        container.node_domain_version_pair_sets.add((opset.domain, opset.version))


# -- registration -------------------------------------------------------------------


def register_skl2onnx() -> list[type]:
    """Register every xplearn estimator with skl2onnx.

    Afterwards ``skl2onnx.to_onnx`` converts xplearn estimators, alone or as steps of
    scikit-learn pipelines (or column transformers...) that mix them with scikit-learn
    estimators. Each xplearn step becomes the graph :func:`xplearn.onnx.to_onnx`
    exports, inlined into skl2onnx's model. Calling it again is harmless.

    The xplearn graphs use ONNX opset 21: convert with skl2onnx's default
    ``target_opset`` or ``skl2onnx.to_onnx(..., target_opset=21)`` or higher; a lower
    ``target_opset`` raises a ``ValueError`` when an xplearn step is converted.

    Outputs follow skl2onnx's conventions for the same kind of scikit-learn estimator:

    - classifiers: ``label`` (int64 for integer classes, strings for string classes)
      and ``probabilities`` (``predict_proba``), which skl2onnx turns into a ZipMap
      unless the option ``zipmap=False`` is given (``"columns"`` also works); ZipMap
      needs float32 probabilities, so convert float64 models with ``zipmap=False``;
    - regressors: ``variable`` of shape ``(N, 1)``, or ``(N, n_targets)``;
    - KMeans and MiniBatchKMeans: ``label`` (int64, ``predict``) and ``scores``
      (``transform``: the distances to the cluster centres);
    - NearestNeighbors: ``index`` (int64) and ``distance``, of shape
      ``(N, n_neighbors)``: ``kneighbors`` in skl2onnx's order (indices first);
    - transformers: ``variable`` (``transform``).

    Float outputs have the input's type: float64 for a ``DoubleTensorType`` input,
    float32 otherwise.

    Returns
    -------
    list of type
        The xplearn estimator classes registered.

    Raises
    ------
    ImportError
        If skl2onnx is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from skl2onnx import to_onnx
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from xplearn.linear_model import LogisticRegression
    >>> from xplearn.onnx import register_skl2onnx
    >>> classes = register_skl2onnx()
    >>> X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    >>> onx = to_onnx(pipe, X[:1], options={"zipmap": False})
    >>> [output.name for output in onx.graph.output]
    ['label', 'probabilities']
    """
    skl2onnx = _import_skl2onnx()
    from xplearn.utils.discovery import all_estimators

    registered = []
    for _, cls in all_estimators():
        kind = _kind(cls)
        if kind is None:
            continue
        skl2onnx.update_registered_converter(
            cls,
            _alias(cls),
            _shape_calculator,
            _converter,
            overwrite=True,
            parser=_parse_neighbors if kind == "neighbors" else None,
            options=_CLASSIFIER_OPTIONS if kind == "classifier" else None,
        )
        registered.append(cls)
    return registered
