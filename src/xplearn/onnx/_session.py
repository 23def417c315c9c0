"""Run an exported model with onnxruntime, on the CPU or, where available, on CUDA."""

from __future__ import annotations

from typing import Any

import numpy as np

from xplearn.onnx._export import output_names

__all__ = ["InferenceSession"]

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_ONNX_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def _providers(device: str) -> list[str]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if device == "cpu":
        return [_CPU]
    if device == "cuda":
        if _CUDA not in available:
            raise RuntimeError(
                "InferenceSession(device='cuda'): onnxruntime has no CUDA provider here "
                f"(available: {available}); install onnxruntime-gpu, or use device='cpu'."
            )
        return [_CUDA, _CPU]
    if device == "auto":
        return [_CUDA, _CPU] if _CUDA in available else [_CPU]
    raise ValueError(f"InferenceSession(): device must be 'cpu', 'cuda' or 'auto', got {device!r}.")


class InferenceSession:
    """An onnxruntime session for a model exported by :func:`xplearn.onnx.to_onnx`.

    Methods named after the exported ones (``predict``, ``predict_proba``,
    ``transform``, ``kneighbors``...) return that output, so the session stands in for
    the estimator at serving time.

    Parameters
    ----------
    model : onnx.ModelProto, bytes or str
        The exported model, its serialization, or a path to a ``.onnx`` file.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to run: CUDA when ``onnxruntime-gpu`` provides it (``"auto"``), else CPU.
    n_threads : int, default=None
        onnxruntime's intra-op threads (default: xplearn's thread count, which follows
        ``config_context(n_threads=...)`` and threadpoolctl limits). One thread gives
        the lowest latency for one-row calls.

    Attributes
    ----------
    providers : list of str
        The onnxruntime execution providers in use.
    outputs : tuple of str
        The model's output names.
    """

    def __init__(self, model: Any, *, device: str = "auto", n_threads: int | None = None):
        import onnxruntime

        from xplearn.utils._threads import effective_n_threads

        if hasattr(model, "SerializeToString"):
            model = model.SerializeToString()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = (
            effective_n_threads() if n_threads is None else int(n_threads)
        )
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            model, sess_options=options, providers=_providers(device)
        )
        (graph_input,) = self._session.get_inputs()
        self._input_name = graph_input.name
        self._dtype = _ONNX_FLOAT_TYPES.get(graph_input.type)
        self._n_features = graph_input.shape[1]
        self.providers = self._session.get_providers()
        self.outputs = tuple(output.name for output in self._session.get_outputs())

    def _feed(self, X: Any, method: str) -> dict[str, np.ndarray]:
        X = np.asarray(X, dtype=self._dtype)
        if X.ndim != 2 or (isinstance(self._n_features, int) and X.shape[1] != self._n_features):
            raise ValueError(
                f"InferenceSession.{method}(): expected X of shape (n_samples, "
                f"{self._n_features}), got shape {X.shape}."
            )
        return {self._input_name: np.ascontiguousarray(X)}

    def run(self, X: Any, outputs: Any = None) -> dict[str, np.ndarray]:
        """Run the model on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Converted to the model's input dtype.
        outputs : sequence of str, default=None
            Outputs to compute (default: all).

        Returns
        -------
        dict of str to numpy.ndarray
            Output name -> value.
        """
        names = list(self.outputs if outputs is None else outputs)
        values = self._session.run(names, self._feed(X, "run"))
        return dict(zip(names, values, strict=True))

    def _method(self, method: str, X: Any) -> Any:
        names = output_names(method)
        missing = [name for name in names if name not in self.outputs]
        if missing:
            raise AttributeError(
                f"InferenceSession.{method}(): the model has no output {missing[0]!r}; it "
                f"was exported with outputs {list(self.outputs)}. Export it with "
                f"to_onnx(..., methods=(..., {method!r}))."
            )
        values = self._session.run(list(names), self._feed(X, method))
        return tuple(values) if len(values) > 1 else values[0]

    def predict(self, X):
        """The ``predict`` output for X."""
        return self._method("predict", X)

    def predict_proba(self, X):
        """The ``predict_proba`` output for X."""
        return self._method("predict_proba", X)

    def predict_log_proba(self, X):
        """The ``predict_log_proba`` output for X."""
        return self._method("predict_log_proba", X)

    def decision_function(self, X):
        """The ``decision_function`` output for X."""
        return self._method("decision_function", X)

    def transform(self, X):
        """The ``transform`` output for X."""
        return self._method("transform", X)

    def kneighbors(self, X):
        """The ``(distances, indices)`` outputs for X."""
        return self._method("kneighbors", X)

    def __repr__(self) -> str:
        return f"InferenceSession(outputs={list(self.outputs)}, providers={self.providers})"
