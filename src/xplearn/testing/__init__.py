"""Helpers for testing estimators on every installed backend.

A :class:`Backend` is one (namespace, device) pair. :func:`available_backends` lists those
installed here (the environment variable ``XPLEARN_BACKENDS``, a comma-separated list of
backend ids or names, narrows it, which is how the nox sessions pick one backend each).
Tests build their data with NumPy, move it with :meth:`Backend.asarray`, and compare the
results with NumPy or scikit-learn through :func:`assert_allclose_xp`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from xplearn._xp import array_namespace, device_of, namespace_name, same_device, to_numpy

__all__ = [
    "Backend",
    "DaskComputeCounter",
    "assert_allclose_xp",
    "assert_on_backend",
    "available_backends",
    "count_dask_computes",
    "cuda_available",
    "skip_without_float64",
]


@dataclass(frozen=True)
class Backend:
    """One array namespace on one device.

    Attributes
    ----------
    id : str
        Test id, e.g. ``"torch-cpu"`` or ``"array_api_strict-device1"``.
    name : str
        Namespace name: ``"numpy"``, ``"array_api_strict"``, ``"torch"``, ``"dask"``,
        ``"cupy"``.
    device_name : str or None
        Device name, or None for the namespace's default device.
    """

    id: str
    name: str
    device_name: str | None = None

    @property
    def xp(self) -> ModuleType:
        """The array-API-compatible namespace."""
        from xplearn._xp import resolve_namespace

        return resolve_namespace(self.name)

    @property
    def device(self) -> Any:
        """The device object."""
        from xplearn._xp import resolve_device

        xp = self.xp
        if self.device_name is None:
            return xp.__array_namespace_info__().default_device()
        return resolve_device(xp, self.device_name)

    @property
    def has_float64(self) -> bool:
        """Whether the device holds float64 arrays."""
        from xplearn._xp import supports_float64

        return supports_float64(self.xp, self.device)

    def asarray(self, array: Any, dtype: Any = None) -> Any:
        """Move a NumPy array (or array-like) to this backend, keeping its dtype.

        Dask arrays are cut into about three row chunks, so chunked code paths run.
        """
        host = np.asarray(array, dtype=dtype)
        if self.name == "dask":
            import dask.array as da

            rows = max(1, -(-host.shape[0] // 3)) if host.ndim else 1
            chunks = (rows,) + host.shape[1:] if host.ndim else ()
            return da.from_array(host, chunks=chunks)
        return self.xp.asarray(host, device=self.device)

    def __str__(self) -> str:
        return self.id


def skip_without_float64(backend: Backend, dtype: Any) -> None:
    """Skip the calling test when ``dtype`` is float64 and ``backend`` has no float64."""
    import pytest

    if np.dtype(dtype) == np.float64 and not backend.has_float64:
        pytest.skip(f"{backend} has no float64")


def cuda_available() -> bool:
    """Whether a CUDA device is usable by torch or CuPy (imports them only if installed)."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return True
    if importlib.util.find_spec("cupy") is not None:
        try:
            import cupy

            return cupy.cuda.runtime.getDeviceCount() > 0
        except Exception:
            return False
    return False


def _candidates() -> list[Backend]:
    backends = [Backend("numpy", "numpy")]
    if importlib.util.find_spec("array_api_strict") is not None:
        backends.append(Backend("array_api_strict-CPU_DEVICE", "array_api_strict", "CPU_DEVICE"))
        # a second device catches hidden conversions to NumPy
        backends.append(Backend("array_api_strict-device1", "array_api_strict", "device1"))
    if importlib.util.find_spec("torch") is not None:
        backends.append(Backend("torch-cpu", "torch", "cpu"))
        import torch

        if torch.cuda.is_available():
            backends.append(Backend("torch-cuda", "torch", "cuda"))
    if importlib.util.find_spec("dask") is not None:
        backends.append(Backend("dask", "dask"))
    if importlib.util.find_spec("cupy") is not None and cuda_available():
        backends.append(Backend("cupy", "cupy"))
    return backends


def available_backends() -> list[Backend]:
    """Backends installed here, narrowed by ``XPLEARN_BACKENDS`` if set.

    ``XPLEARN_BACKENDS`` holds comma-separated backend ids (``torch-cpu``) or namespace
    names (``torch``); an unknown name is an error rather than a silent empty run.
    """
    backends = _candidates()
    wanted = os.environ.get("XPLEARN_BACKENDS", "").strip()
    if not wanted:
        return backends
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    known = {backend.id for backend in backends} | {backend.name for backend in backends}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise RuntimeError(
            f"XPLEARN_BACKENDS names {unknown}, which are not installed or unknown here; "
            f"available: {sorted(known)}."
        )
    return [backend for backend in backends if backend.id in names or backend.name in names]


def no_float64_backend() -> Backend | None:
    """array-api-strict's device without float64, for dtype-policy tests (None if absent)."""
    if importlib.util.find_spec("array_api_strict") is None:
        return None
    import array_api_strict

    names = [str(device) for device in array_api_strict.__array_namespace_info__().devices()]
    if not any("no_float64" in name for name in names):
        return None
    return Backend("array_api_strict-no_float64", "array_api_strict", "no_float64")


def assert_on_backend(array: Any, backend: Backend) -> None:
    """Assert that ``array`` lives in ``backend``'s namespace and on its device."""
    xp = array_namespace(array)
    assert namespace_name(xp) == backend.name, (
        f"expected a {backend.name} array, got {namespace_name(xp)}"
    )
    assert same_device(device_of(array), backend.device), (
        f"expected device {backend.device!r}, got {device_of(array)!r}"
    )


def assert_allclose_xp(
    actual: Any, desired: Any, *, rtol: float = 1e-7, atol: float = 0.0, err_msg: str = ""
) -> None:
    """Compare arrays of any namespaces (moved to NumPy) with ``numpy.testing``."""
    np.testing.assert_allclose(
        to_numpy(actual), to_numpy(desired), rtol=rtol, atol=atol, err_msg=err_msg
    )


class DaskComputeCounter:
    """A Dask scheduler that counts the computations asked of it, then has ``get`` run
    them (see :func:`count_dask_computes`).

    Attributes
    ----------
    count : int
        Computations so far.
    """

    def __init__(self, get: Callable[..., Any]):
        self.get = get
        self.count = 0

    def __call__(self, graph: Any, keys: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self.get(graph, keys, **kwargs)


@contextmanager
def count_dask_computes(get: Callable[..., Any] | None = None) -> Iterator[DaskComputeCounter]:
    """Count every Dask computation started inside the block.

    ``.compute()``, ``dask.compute``, ``np.asarray``, ``bool`` or ``float`` of a Dask
    array: each is one computation, whatever its number of tasks. They run on ``get``: a
    ``distributed.Client.get`` to run them on a cluster, Dask's synchronous scheduler by
    default.

    Yields
    ------
    DaskComputeCounter
        Its ``count`` is the number of computations so far.
    """
    import dask

    counter = DaskComputeCounter(dask.get if get is None else get)
    with dask.config.set(scheduler=counter):
        yield counter
