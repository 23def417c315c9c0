"""Export to ONNX, from the estimators' own array-API inference code.

:func:`to_onnx` runs an estimator's inference on ndonnx arrays, which record an ONNX
graph; :class:`InferenceSession` runs the result with onnxruntime. Needs the ``onnx``
extra (``pip install 'xplearn[onnx]'``); nothing here is imported by the estimators.
"""

from xplearn.onnx._export import INPUT_NAME, default_methods, output_names, to_onnx
from xplearn.onnx._session import InferenceSession
from xplearn.onnx._skl2onnx import register_skl2onnx

__all__ = [
    "INPUT_NAME",
    "InferenceSession",
    "default_methods",
    "output_names",
    "register_skl2onnx",
    "to_onnx",
]
