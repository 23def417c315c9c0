"""Moving arrays between namespaces and devices: values and dtypes survive every hop."""

import warnings

import array_api_strict
import numpy as np
import pytest

from xplearn._xp import (
    array_namespace,
    device_of,
    move_to,
    namespace_name,
    resolve_device,
    resolve_namespace,
    same_device,
    to_numpy,
)
from xplearn.testing import assert_on_backend

torch = pytest.importorskip("torch")
da = pytest.importorskip("dask.array")

DEVICE1 = array_api_strict.Device("device1")

# (namespace name, device) hops; None = the namespace's default device
HOPS = [
    ("numpy", None),
    ("torch", None),
    ("array_api_strict", DEVICE1),
    ("dask", None),
    ("array_api_strict", None),
    ("numpy", None),
]


def _host(dtype):
    rng = np.random.default_rng(0)
    if dtype == "bool":
        return rng.random((5, 3)) > 0.5
    values = rng.normal(size=(5, 3)) * 100
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "bool"])
def test_round_trip_keeps_values_and_dtype(dtype):
    host = _host(dtype)
    array = host
    for name, device in HOPS:
        xp = resolve_namespace(name)
        array = move_to(array, xp, device)
        assert namespace_name(array_namespace(array)) == name
        if device is not None:
            assert same_device(device_of(array), device)
        assert str(array.dtype).rsplit(".", 1)[-1] == dtype
        back = to_numpy(array)
        assert isinstance(back, np.ndarray)
        assert back.dtype == host.dtype
        np.testing.assert_array_equal(back, host)


@pytest.mark.parametrize("source", ["numpy", "torch", "array_api_strict", "dask"])
@pytest.mark.parametrize("target", ["numpy", "torch", "array_api_strict", "dask"])
def test_every_pair_of_namespaces(source, target):
    host = _host("float64")
    array = move_to(
        host, resolve_namespace(source), DEVICE1 if source == "array_api_strict" else None
    )
    moved = move_to(array, resolve_namespace(target))
    assert namespace_name(array_namespace(moved)) == target
    np.testing.assert_array_equal(to_numpy(moved), host)


def test_move_to_every_backend_device(backend):
    host = _host("float32")
    moved = move_to(host, backend.xp, backend.device)
    assert_on_backend(moved, backend)
    assert moved.dtype == backend.xp.float32
    np.testing.assert_array_equal(to_numpy(moved), host)


def test_move_to_same_namespace_and_device_returns_the_same_object(backend):
    array = backend.asarray(_host("float64"))
    assert move_to(array, backend.xp, backend.device) is array
    default = backend.xp.__array_namespace_info__().default_device()
    if same_device(default, backend.device):
        # device=None means the default device
        assert move_to(array, backend.xp) is array
    else:
        moved = move_to(array, backend.xp)
        assert moved is not array
        assert same_device(device_of(moved), default)


def test_move_to_other_device_of_same_namespace():
    array = array_api_strict.asarray(_host("float64"))
    moved = move_to(array, array_api_strict, DEVICE1)
    assert moved is not array
    assert moved.device == DEVICE1
    back = move_to(moved, array_api_strict, array_api_strict.Device("CPU_DEVICE"))
    assert back.device == array_api_strict.Device("CPU_DEVICE")
    np.testing.assert_array_equal(to_numpy(back), _host("float64"))


def test_move_to_device_without_float64_keeps_float32():
    device = array_api_strict.Device("no_float64")
    moved = move_to(_host("float32"), array_api_strict, device)
    assert moved.device == device
    assert moved.dtype == array_api_strict.float32


def test_move_to_leaves_non_arrays_alone():
    xp = resolve_namespace("torch")
    for value in (None, 3, 2.5, "abc", [1.0, 2.0]):
        assert move_to(value, xp) is value


def test_move_to_does_not_touch_the_source():
    host = _host("float64")
    keep = host.copy()
    moved = move_to(host, resolve_namespace("torch"))
    moved2 = move_to(moved, array_api_strict, DEVICE1)
    np.testing.assert_array_equal(host, keep)
    np.testing.assert_array_equal(to_numpy(moved2), keep)


def test_move_read_only_numpy_array_without_warnings():
    host = _host("float64")
    host.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("torch", "array_api_strict", "dask"):
            moved = move_to(host, resolve_namespace(name))
            np.testing.assert_array_equal(to_numpy(moved), host)


def test_to_numpy_of_numpy_is_identity():
    host = _host("float64")
    assert to_numpy(host) is host


def test_to_numpy_on_every_backend(backend):
    host = _host("float32")
    result = to_numpy(backend.asarray(host))
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, host)


def test_to_numpy_torch_tensor_requiring_grad():
    tensor = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    result = to_numpy(tensor * 2)  # a non-leaf tensor with a grad_fn too
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, [[2.0, 4.0], [6.0, 8.0]])
    np.testing.assert_array_equal(to_numpy(tensor), [[1.0, 2.0], [3.0, 4.0]])
    assert tensor.requires_grad  # the source is left as it was
    moved = move_to(tensor, resolve_namespace("numpy"))
    assert isinstance(moved, np.ndarray)
    moved = move_to(tensor, array_api_strict, DEVICE1)
    np.testing.assert_array_equal(to_numpy(moved), [[1.0, 2.0], [3.0, 4.0]])


def test_to_numpy_dask_computes():
    lazy = da.from_array(_host("float64"), chunks=(2, 3)) + 1
    result = to_numpy(lazy)
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, _host("float64") + 1)


def test_to_numpy_array_api_strict_other_device():
    array = array_api_strict.asarray(_host("int64"), device=DEVICE1)
    np.testing.assert_array_equal(to_numpy(array), _host("int64"))


def test_to_numpy_zero_dimensional(backend):
    array = backend.xp.sum(backend.asarray(np.arange(4.0)))
    result = to_numpy(array)
    assert result.shape == ()
    assert float(result) == 6.0


def test_resolve_device():
    assert resolve_device(array_api_strict, "device1") == DEVICE1
    assert resolve_device(array_api_strict, None) is None
    assert resolve_device(resolve_namespace("torch"), "cpu") == torch.device("cpu")
    assert resolve_device(resolve_namespace("numpy"), "cpu") == "cpu"
    assert resolve_device(array_api_strict, DEVICE1) is DEVICE1
    with pytest.raises(ValueError):
        resolve_device(array_api_strict, "no_such_device")
