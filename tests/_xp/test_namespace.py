"""Namespace and device resolution: one namespace, one device, or an error naming both."""

import array_api_compat
import array_api_strict
import numpy as np
import pytest

from xplearn._xp import (
    array_namespace,
    device_of,
    get_namespace_and_device,
    is_array,
    namespace_name,
    numpy_namespace,
    resolve_namespace,
    same_device,
)

torch = pytest.importorskip("torch")
da = pytest.importorskip("dask.array")


def test_same_namespace_and_device_on_every_backend(backend):
    X = backend.asarray(np.ones((4, 3)))
    y = backend.asarray(np.zeros(4))
    xp, device = get_namespace_and_device(X, y, None, names=("X", "y", "sample_weight"))
    assert namespace_name(xp) == backend.name
    assert xp is backend.xp
    assert same_device(device, backend.device)


def test_single_array_numpy():
    xp, device = get_namespace_and_device(np.ones(3))
    assert xp is array_api_compat.numpy
    assert device == "cpu"


def test_nothing_given_is_numpy_on_cpu():
    assert get_namespace_and_device() == (numpy_namespace(), "cpu")
    assert get_namespace_and_device(None, None) == (numpy_namespace(), "cpu")


@pytest.mark.parametrize("scalar", [1, 2.5, True, np.float64(2.0), np.int64(3), np.float32(1)])
def test_scalars_are_ignored(scalar):
    X = torch.ones((3, 2))
    xp, device = get_namespace_and_device(X, scalar, names=("X", "sample_weight"))
    assert namespace_name(xp) == "torch"
    assert device == torch.device("cpu")


def test_none_is_ignored():
    X = torch.ones((3, 2))
    xp, _ = get_namespace_and_device(None, X, None, names=("y", "X", "w"))
    assert namespace_name(xp) == "torch"


def test_lists_count_as_numpy():
    xp, device = get_namespace_and_device([[1.0, 2.0]], np.ones(2), names=("X", "y"))
    assert xp is numpy_namespace()
    assert device == "cpu"
    with pytest.raises(ValueError, match="must use the same namespace") as info:
        get_namespace_and_device([[1.0, 2.0]], torch.ones(1), names=("X", "y"))
    assert "numpy for X" in str(info.value)
    assert "torch for y" in str(info.value)


@pytest.mark.parametrize("order", ["numpy_first", "torch_first"])
def test_mixed_numpy_and_torch_is_an_error_naming_both(order):
    arrays = [np.ones((3, 2)), torch.ones(3)]
    names = ("X", "y")
    if order == "torch_first":
        arrays.reverse()
    with pytest.raises(ValueError, match="must use the same namespace") as info:
        get_namespace_and_device(*arrays, names=names, method="Foo.fit()")
    message = str(info.value)
    assert message.startswith("Foo.fit(): X and y must use the same namespace")
    assert "numpy" in message
    assert "torch" in message
    first, second = ("numpy", "torch") if order == "numpy_first" else ("torch", "numpy")
    assert f"{first} for X" in message
    assert f"{second} for y" in message


def test_mixed_namespace_error_names_the_offending_third_array():
    with pytest.raises(ValueError, match="X and sample_weight must use the same namespace"):
        get_namespace_and_device(
            np.ones((3, 2)), np.ones(3), torch.ones(3), names=("X", "y", "sample_weight")
        )


def test_mixed_numpy_and_dask_is_an_error():
    with pytest.raises(ValueError, match="must use the same namespace") as info:
        get_namespace_and_device(da.ones((3, 2)), np.ones(3), names=("X", "y"))
    assert "dask for X" in str(info.value)


def test_default_names_are_positional():
    with pytest.raises(ValueError, match="arg0 and arg1 must use the same namespace"):
        get_namespace_and_device(np.ones(2), torch.ones(2))


def test_array_api_strict_devices_must_match():
    a = array_api_strict.asarray([1.0, 2.0], device=array_api_strict.Device("CPU_DEVICE"))
    b = array_api_strict.asarray([1.0, 2.0], device=array_api_strict.Device("device1"))
    with pytest.raises(ValueError, match="must be on the same device") as info:
        get_namespace_and_device(a, b, names=("X", "y"), method="Bar.predict()")
    message = str(info.value)
    assert message.startswith("Bar.predict(): X and y must be on the same device")
    assert "CPU_DEVICE" in message
    assert "device1" in message
    assert message.index("CPU_DEVICE") < message.index("device1")


def test_array_api_strict_same_non_default_device():
    device = array_api_strict.Device("device1")
    a = array_api_strict.asarray([1.0], device=device)
    b = array_api_strict.asarray([2.0], device=device)
    xp, found = get_namespace_and_device(a, b)
    assert xp is array_api_strict
    assert found == device


def test_is_array():
    assert is_array(np.ones(2))
    assert is_array(torch.ones(2))
    assert is_array(da.ones(2))
    assert is_array(array_api_strict.ones(2))
    assert not is_array([1.0, 2.0])
    assert not is_array(None)
    assert not is_array("abc")


def test_sparse_matrices_are_not_arrays():
    sparse = pytest.importorskip("scipy.sparse")
    assert not is_array(sparse.csr_matrix(np.eye(3)))
    assert not is_array(sparse.csr_array(np.eye(3)))


def test_array_namespace_and_device_of(backend):
    array = backend.asarray(np.ones(3))
    assert array_namespace(array) is backend.xp
    assert same_device(device_of(array), backend.device)


def test_same_device():
    assert same_device("cpu", "cpu")
    assert same_device(torch.device("cpu"), torch.device("cpu"))
    assert same_device(torch.device("cuda"), torch.device("cuda:0"))
    assert not same_device(torch.device("cuda:0"), torch.device("cuda:1"))
    assert not same_device(
        array_api_strict.Device("CPU_DEVICE"), array_api_strict.Device("device1")
    )


@pytest.mark.parametrize(
    ("name", "module", "short"),
    [
        ("numpy", "array_api_compat.numpy", "numpy"),
        ("torch", "array_api_compat.torch", "torch"),
        ("dask", "array_api_compat.dask.array", "dask"),
        ("dask.array", "array_api_compat.dask.array", "dask"),
        ("array_api_strict", "array_api_strict", "array_api_strict"),
    ],
)
def test_resolve_namespace_by_name(name, module, short):
    xp = resolve_namespace(name)
    assert xp.__name__ == module
    assert namespace_name(xp) == short


def test_resolve_namespace_by_module():
    assert resolve_namespace(np) is array_api_compat.numpy
    assert resolve_namespace(torch) is array_api_compat.torch
    assert resolve_namespace(da) is array_api_compat.dask.array
    assert resolve_namespace(array_api_strict) is array_api_strict
    assert resolve_namespace(array_api_compat.torch) is array_api_compat.torch


def test_resolve_namespace_agrees_with_array_namespace(backend):
    array = backend.asarray(np.ones(2))
    assert resolve_namespace(backend.name) is array_namespace(array)


@pytest.mark.parametrize("bad", ["jax", "NumPy", "", "np"])
def test_resolve_namespace_unknown_name(bad):
    with pytest.raises(ValueError, match="unknown namespace") as info:
        resolve_namespace(bad)
    assert repr(bad) in str(info.value)
    assert "'numpy'" in str(info.value)  # lists the known names


@pytest.mark.parametrize("bad", [None, 3, object()])
def test_resolve_namespace_bad_type(bad):
    with pytest.raises(ValueError, match="'to' must be a namespace module"):
        resolve_namespace(bad)


def test_resolve_namespace_rejects_non_array_module():
    import json

    with pytest.raises(ValueError, match="'to' must be a namespace module"):
        resolve_namespace(json)
