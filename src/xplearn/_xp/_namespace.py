"""Namespace and device resolution: one namespace, one device, or a clear error."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

# Names users may pass to ``xplearn.convert(..., to=...)`` and the compat module behind each.
_NAMESPACE_MODULES = {
    "numpy": "array_api_compat.numpy",
    "torch": "array_api_compat.torch",
    "cupy": "array_api_compat.cupy",
    "dask": "array_api_compat.dask.array",
    "dask.array": "array_api_compat.dask.array",
    "array_api_strict": "array_api_strict",
}


def is_array(obj: Any) -> bool:
    """Whether ``obj`` is an array of a namespace that xplearn can work with."""
    return array_api_compat.is_array_api_obj(obj) and not _is_sparse(obj)


def is_dask_array(obj: Any) -> bool:
    """Whether ``obj`` is a Dask array; cheap, and imports nothing (Dask included)."""
    # the module name first: a few attribute look-ups rule out every other array type
    return type(obj).__module__.startswith("dask.") and array_api_compat.is_dask_array(obj)


def _is_sparse(obj: Any) -> bool:
    module = type(obj).__module__
    return module.startswith(("scipy.sparse", "cupyx.scipy.sparse")) or hasattr(obj, "tocsr")


def namespace_name(xp: ModuleType) -> str:
    """Short, user-facing name of a namespace: ``"numpy"``, ``"torch"``, ``"dask"``..."""
    name = xp.__name__
    for prefix in ("array_api_compat.", "array_api_compat"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if name == "dask.array":
        return "dask"
    return name or "numpy"


def numpy_namespace() -> ModuleType:
    """The array-API-compatible wrapper of NumPy (xplearn's default namespace)."""
    return array_api_compat.array_namespace(np.empty(0))


def array_namespace(array: Any) -> ModuleType:
    """The array-API-compatible namespace of one array."""
    return array_api_compat.array_namespace(array)


def device_of(array: Any) -> Any:
    """The device of an array (``"cpu"`` for NumPy)."""
    return array_api_compat.device(array)


def _device_key(device: Any) -> str:
    # torch.device("cuda") and torch.device("cuda:0") name the same card for our purpose
    text = str(device)
    return "cuda:0" if text == "cuda" else text


def same_device(device_a: Any, device_b: Any) -> bool:
    """Whether two device objects designate the same device."""
    return _device_key(device_a) == _device_key(device_b)


def get_namespace_and_device(
    *arrays: Any, names: tuple[str, ...] | None = None, method: str | None = None
) -> tuple[ModuleType, Any]:
    """Resolve the one namespace and device shared by ``arrays``.

    ``None`` entries and Python or NumPy scalars are ignored. Inputs that are not arrays (lists,
    pandas objects) count as NumPy, the namespace they will be converted to.

    Parameters
    ----------
    *arrays : array-like or None
        The arrays that must share a namespace and a device.
    names : tuple of str, default=None
        Their names, for error messages (``("X", "y")``); defaults to ``arg0, arg1, ...``.
    method : str, default=None
        The calling method, e.g. ``"KMeans.fit()"``, prefixed to error messages.

    Returns
    -------
    xp : module
        The array-API-compatible namespace.
    device : object
        The device of the arrays.

    Raises
    ------
    ValueError
        If two arrays use different namespaces or devices; the message names both.
    """
    if names is None:
        names = tuple(f"arg{i}" for i in range(len(arrays)))
    prefix = f"{method}: " if method else ""
    found: list[tuple[str, ModuleType, Any]] = []
    for name, array in zip(names, arrays, strict=True):
        if array is None or isinstance(array, (int, float, bool, complex, np.generic)):
            # Python and NumPy scalars (``sample_weight=np.int64(2)``) have no device
            continue
        if is_array(array):
            xp = array_namespace(array)
            found.append((name, xp, device_of(array)))
        else:
            found.append((name, numpy_namespace(), "cpu"))
    if not found:
        return numpy_namespace(), "cpu"
    first_name, xp, device = found[0]
    for name, other_xp, other_device in found[1:]:
        if other_xp is not xp:
            raise ValueError(
                f"{prefix}{first_name} and {name} must use the same namespace; got "
                f"{namespace_name(xp)} for {first_name} and {namespace_name(other_xp)} for "
                f"{name}. Convert them to one array library first."
            )
        if not same_device(device, other_device):
            raise ValueError(
                f"{prefix}{first_name} and {name} must be on the same device; got "
                f"{device!r} for {first_name} and {other_device!r} for {name}."
            )
    return xp, device


def resolve_namespace(to: Any) -> ModuleType:
    """Turn a namespace module or a name (``"numpy"``, ``"torch"``...) into a namespace.

    Raises
    ------
    ValueError
        If the name is unknown.
    ImportError
        If the library is not installed.
    """
    import importlib

    if isinstance(to, str):
        module_name = _NAMESPACE_MODULES.get(to)
        if module_name is None:
            raise ValueError(
                f"convert(): unknown namespace {to!r}; expected one of "
                f"{sorted(_NAMESPACE_MODULES)} or a namespace module."
            )
        return importlib.import_module(module_name)
    if isinstance(to, ModuleType):
        name = to.__name__
        if name.startswith("array_api_compat") or name == "array_api_strict":
            return to
        short = {"dask.array": "dask"}.get(name, name)
        if short in _NAMESPACE_MODULES:
            return importlib.import_module(_NAMESPACE_MODULES[short])
        if hasattr(to, "__array_api_version__"):
            return to
    raise ValueError(
        f"convert(): 'to' must be a namespace module or one of {sorted(_NAMESPACE_MODULES)}; "
        f"got {to!r}."
    )
