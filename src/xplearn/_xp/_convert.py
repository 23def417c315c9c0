"""Moving arrays between namespaces and devices: DLPack first, then host round trips."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from xplearn._xp._namespace import array_namespace, device_of, is_array, same_device


def to_numpy(array: Any) -> np.ndarray:
    """Return ``array`` as a NumPy array on the host (a copy only where needed).

    Works for NumPy, torch (any device, with or without grad), CuPy, Dask (computes),
    array-api-strict (any device) and any namespace that supports DLPack on the CPU.
    """
    if isinstance(array, np.ndarray):
        return array
    if isinstance(array, np.generic):  # NumPy reductions return scalars, not 0-d arrays
        return np.asarray(array)
    if array_api_compat.is_torch_array(array):
        return array.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(array):
        return array.get()
    if array_api_compat.is_dask_array(array):
        return to_numpy(array.compute())
    if is_array(array):
        try:
            return np.from_dlpack(array)
        except (BufferError, TypeError, RuntimeError, ValueError, AttributeError):
            pass
    return np.asarray(array)


def move_to(array: Any, xp: ModuleType, device: Any = None) -> Any:
    """Return ``array`` in namespace ``xp`` on ``device`` (default: xp's default device).

    Non-array values (scalars, strings, lists) are returned unchanged. An array already in
    ``xp`` on ``device`` is returned as is, not copied.

    DLPack is tried first (zero-copy between libraries on the same device), then a round
    trip through host memory.
    """
    if not is_array(array):
        return array
    source_xp = array_namespace(array)
    if device is None:
        device = _default_device(xp)
    if source_xp is xp:
        if same_device(device_of(array), device):
            return array
        return _to_device(xp, array, device)
    if array_api_compat.is_dask_namespace(xp):
        return xp.from_array(to_numpy(array))
    if not array_api_compat.is_dask_array(array):
        try:
            moved = xp.from_dlpack(array)
            if same_device(device_of(moved), device):
                return moved
        except (BufferError, TypeError, RuntimeError, ValueError, AttributeError):
            pass
    return xp.asarray(to_numpy(array), device=device)


def _to_device(xp: ModuleType, array: Any, device: Any) -> Any:
    try:
        return array_api_compat.to_device(array, device)
    except (ValueError, TypeError, RuntimeError):
        return xp.asarray(to_numpy(array), device=device)


def _default_device(xp: ModuleType) -> Any:
    try:
        return xp.__array_namespace_info__().default_device()
    except AttributeError:  # pragma: no cover - every supported namespace has it
        return None


def resolve_device(xp: ModuleType, device: Any) -> Any:
    """Turn a device given by name (``"cuda"``, ``"cpu"``, ``"device1"``) into a device object."""
    if device is None or not isinstance(device, str):
        return device
    if xp.__name__ == "array_api_strict":
        return xp.Device(device)
    if array_api_compat.is_torch_namespace(xp):
        import torch

        return torch.device(device)
    if array_api_compat.is_cupy_namespace(xp):
        import cupy

        return cupy.cuda.Device(int(device.split(":")[1]) if ":" in device else 0)
    return device


def sparse_rows(indptr: Any, indices: Any, data: Any, n_columns: int) -> Any:
    """A row-sparse result: a SciPy CSR matrix for NumPy arrays, else the
    ``(indptr, indices, data)`` triple in the arrays' own namespace (the sparse formats of
    other array libraries differ too much to be returned portably)."""
    if not isinstance(indices, np.ndarray):
        return indptr, indices, data
    from scipy.sparse import csr_matrix

    return csr_matrix((data, indices, indptr), shape=(indptr.shape[0] - 1, n_columns))
