"""The estimator mixin, capability declarations and ``xplearn.convert``."""

import dataclasses
import pickle

import array_api_strict
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

import xplearn
from xplearn._config import DTYPE_POLICIES
from xplearn._xp import (
    array_namespace,
    device_of,
    move_to,
    namespace_name,
    resolve_namespace,
    same_device,
)
from xplearn.base import BACKENDS, Capabilities, XPEstimatorMixin, convert
from xplearn.preprocessing import MinMaxScaler, StandardScaler
from xplearn.testing import assert_allclose_xp

torch = pytest.importorskip("torch")
da = pytest.importorskip("dask.array")

DEVICE1 = array_api_strict.Device("device1")
ARRAY_ATTRIBUTES = {
    StandardScaler: ("mean_", "var_", "scale_"),
    MinMaxScaler: ("min_", "scale_", "data_min_", "data_max_", "data_range_"),
}


@pytest.fixture
def X_np():
    rng = np.random.default_rng(1)
    return rng.normal(size=(20, 4)) * [1.0, 5.0, 0.1, 30.0] + [0.0, 2.0, -1.0, 7.0]


def _assert_attributes_in(estimator, name, device=None):
    for attribute in ARRAY_ATTRIBUTES[type(estimator)]:
        value = getattr(estimator, attribute)
        assert namespace_name(array_namespace(value)) == name, attribute
        if device is not None:
            assert same_device(device_of(value), device), attribute


# ------------------------------------------------------------------------------ convert


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_torch_to_numpy(cls, X_np):
    X_t = torch.asarray(X_np)
    model = cls().fit(X_t)
    expected = model.transform(X_t)
    moved = xplearn.convert(model, to="numpy")
    _assert_attributes_in(moved, "numpy")
    assert moved.fit_namespace_ == "numpy"
    assert moved.fit_device_ == "cpu"
    result = moved.transform(X_np)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(moved.inverse_transform(result), X_np, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_numpy_to_torch(cls, X_np):
    model = cls().fit(X_np)
    moved = convert(model, to="torch")
    _assert_attributes_in(moved, "torch", torch.device("cpu"))
    assert moved.fit_namespace_ == "torch"
    result = moved.transform(torch.asarray(X_np))
    assert isinstance(result, torch.Tensor)
    assert result.dtype == torch.float64
    np.testing.assert_allclose(result.numpy(), model.transform(X_np), rtol=1e-12, atol=1e-14)


def test_to_array_api_strict_device1(X_np):
    model = StandardScaler().fit(torch.asarray(X_np))
    moved = convert(model, to="array_api_strict", device="device1")
    _assert_attributes_in(moved, "array_api_strict", DEVICE1)
    assert moved.fit_device_ == DEVICE1
    result = moved.transform(array_api_strict.asarray(X_np, device=DEVICE1))
    assert result.device == DEVICE1
    assert_allclose_xp(result, model.transform(torch.asarray(X_np)), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="same namespace and device"):
        moved.transform(array_api_strict.asarray(X_np))  # CPU_DEVICE


def test_device_object_and_module_targets(X_np):
    model = MinMaxScaler().fit(X_np)
    moved = convert(model, to=array_api_strict, device=DEVICE1)
    assert moved.fit_device_ == DEVICE1
    moved = convert(model, to=torch)
    assert moved.fit_namespace_ == "torch"
    moved = convert(model, to=np)
    assert moved.fit_namespace_ == "numpy"


def test_to_and_from_dask(X_np):
    model = StandardScaler().fit(X_np)
    lazy = convert(model, to="dask")
    _assert_attributes_in(lazy, "dask")
    X_d = da.from_array(X_np, chunks=(7, 4))
    np.testing.assert_allclose(
        lazy.transform(X_d).compute(), model.transform(X_np), rtol=1e-12, atol=1e-14
    )
    dask_fitted = StandardScaler().fit(X_d)
    back = convert(dask_fitted, to="numpy")
    _assert_attributes_in(back, "numpy")
    np.testing.assert_allclose(back.mean_, model.mean_, rtol=1e-12)


def test_convert_every_backend_round_trip(backend, X_np):
    model = StandardScaler().fit(X_np)
    moved = convert(model, to=backend.name, device=backend.device_name)
    _assert_attributes_in(moved, backend.name, backend.device)
    result = moved.transform(backend.asarray(X_np))
    assert_allclose_xp(result, model.transform(X_np), rtol=1e-12, atol=1e-14)
    back = convert(moved, to="numpy")
    for attribute in ARRAY_ATTRIBUTES[StandardScaler]:
        np.testing.assert_array_equal(getattr(back, attribute), getattr(model, attribute))


def test_unfitted_estimator_cannot_be_converted():
    with pytest.raises(NotFittedError, match=r"^StandardScaler.convert\(\): .*not fitted"):
        convert(StandardScaler(), to="torch")


def test_original_unchanged_after_convert(X_np):
    model = StandardScaler().fit(torch.asarray(X_np))
    before = {name: getattr(model, name).clone() for name in ARRAY_ATTRIBUTES[StandardScaler]}
    context = model._fit_context
    moved = convert(model, to="numpy")
    assert moved is not model
    assert model._fit_context == context
    assert model.fit_namespace_ == "torch"
    for name, value in before.items():
        assert isinstance(getattr(model, name), torch.Tensor)
        assert torch.equal(getattr(model, name), value)
        assert getattr(moved, name) is not getattr(model, name)
    # refitting the copy leaves the original alone, and the other way round
    moved.fit(X_np * 3.0)
    for name, value in before.items():
        assert torch.equal(getattr(model, name), value)
    model.fit(torch.asarray(X_np[:5]))
    assert isinstance(moved.mean_, np.ndarray)
    np.testing.assert_allclose(moved.mean_, (X_np * 3.0).mean(axis=0), rtol=1e-12)


def test_params_are_kept(X_np):
    model = MinMaxScaler(feature_range=(-2, 3), clip=True).fit(X_np)
    moved = convert(model, to="torch")
    assert moved.get_params() == model.get_params()
    assert moved.n_features_in_ == 4
    assert moved.n_samples_seen_ == 20


def test_float64_model_to_device_without_float64(no_float64, X_np):
    model = StandardScaler().fit(X_np)
    with pytest.raises(ValueError, match="float64") as info:
        convert(model, to="array_api_strict", device=no_float64.device)
    message = str(info.value)
    assert message.startswith("convert(): StandardScaler has float64 fitted arrays")
    assert "no_float64" in message
    assert "dtype_policy='float32'" in message


@pytest.mark.parametrize("fit_dtype", ["float32", "float64"])
@pytest.mark.parametrize("policy", ["float32", "mixed"])
def test_float32_model_to_device_without_float64(no_float64, X_np, policy, fit_dtype):
    model = StandardScaler(dtype_policy=policy).fit(X_np.astype(fit_dtype))
    moved = convert(model, to="array_api_strict", device="no_float64")
    assert moved.mean_.dtype == array_api_strict.float32
    assert moved._fit_context[2] == array_api_strict.float32
    X = array_api_strict.asarray(X_np.astype(np.float32), device=no_float64.device)
    result = moved.transform(X)
    assert result.dtype == array_api_strict.float32
    assert_allclose_xp(result, model.transform(X_np.astype(np.float32)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype_policy", ["float32", "float64", "mixed", "preserve"])
@pytest.mark.parametrize("target", ["torch", "array_api_strict", "dask", "numpy"])
def test_convert_keeps_the_fit_dtype(X_np, dtype_policy, target):
    model = StandardScaler(dtype_policy=dtype_policy).fit(X_np.astype(np.float32))
    moved = convert(model, to=target)
    expected = "float64" if dtype_policy == "float64" else "float32"
    assert str(moved._fit_context[2]).rsplit(".", 1)[-1] == expected
    assert str(moved.mean_.dtype).rsplit(".", 1)[-1] == expected
    assert moved._fit_context[2] == moved.mean_.dtype
    # integer input at transform goes to the fitted dtype, in the new namespace
    X_int = move_to(np.ones((3, 4), dtype=np.int64), resolve_namespace(target))
    result = moved.transform(X_int)
    assert namespace_name(array_namespace(result)) == target
    assert str(result.dtype).rsplit(".", 1)[-1] == expected


def test_model_without_arrays_to_device_without_float64(no_float64, X_np):
    model = StandardScaler(with_mean=False, with_std=False).fit(X_np)
    assert model.mean_ is None
    with pytest.raises(ValueError, match="has float64 fitted arrays"):
        convert(model, to="array_api_strict", device=no_float64.device)
    model = StandardScaler(with_mean=False, with_std=False).fit(X_np.astype(np.float32))
    moved = convert(model, to="array_api_strict", device=no_float64.device)
    assert moved._fit_context[2] == array_api_strict.float32


def test_pipeline_of_xplearn_steps_converts(X_np):
    pipeline = make_pipeline(StandardScaler(), MinMaxScaler(feature_range=(-1, 1)))
    pipeline.fit(torch.asarray(X_np))
    expected = pipeline.transform(torch.asarray(X_np))
    moved = convert(pipeline, to="numpy")
    assert type(moved) is type(pipeline)
    assert moved is not pipeline
    for (_, step), (_, original) in zip(moved.steps, pipeline.steps, strict=True):
        assert step.fit_namespace_ == "numpy"
        assert original.fit_namespace_ == "torch"
    result = moved.transform(X_np)
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result, expected.numpy(), rtol=1e-12, atol=1e-14)
    # and on to array-api-strict's second device
    moved = convert(moved, to="array_api_strict", device="device1")
    result = moved.transform(array_api_strict.asarray(X_np, device=DEVICE1))
    assert result.device == DEVICE1


def test_pipeline_with_unfitted_step_cannot_be_converted():
    with pytest.raises(NotFittedError):
        convert(make_pipeline(StandardScaler()), to="torch")


def test_convert_keeps_feature_names(X_np):
    class FrameLike:
        columns = ("a", "b", "c", "d")

        def __array__(self, dtype=None, copy=None):
            return X_np

    model = StandardScaler().fit(FrameLike())
    for target in ("torch", "array_api_strict", "dask"):
        moved = convert(model, to=target)
        assert isinstance(moved.feature_names_in_, np.ndarray)
        np.testing.assert_array_equal(moved.feature_names_in_, ["a", "b", "c", "d"])
        assert_allclose_xp(moved.mean_, model.mean_)


def test_unknown_target():
    with pytest.raises(ValueError, match="unknown namespace 'jax'"):
        convert(StandardScaler().fit(np.ones((2, 2))), to="jax")


def test_partial_fit_continues_after_convert(X_np):
    model = StandardScaler().partial_fit(X_np[:10])
    moved = convert(model, to="torch")
    moved.partial_fit(torch.asarray(X_np[10:]))
    full = StandardScaler().fit(X_np)
    assert moved.n_samples_seen_ == 20
    assert_allclose_xp(moved.mean_, full.mean_, rtol=1e-12)
    assert_allclose_xp(moved.var_, full.var_, rtol=1e-12)


# ------------------------------------------------------------------------------- pickle


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
@pytest.mark.parametrize("where", ["numpy", "torch", "array_api_strict-device1"])
def test_pickle_round_trip(cls, where, X_np):
    if where == "numpy":
        X = X_np
    elif where == "torch":
        X = torch.asarray(X_np)
    else:
        X = array_api_strict.asarray(X_np, device=DEVICE1)
    model = cls().fit(X)
    restored = pickle.loads(pickle.dumps(model))
    assert restored.fit_namespace_ == model.fit_namespace_
    assert same_device(restored.fit_device_, model.fit_device_)
    assert restored._fit_context[2] == model._fit_context[2]
    for attribute in ARRAY_ATTRIBUTES[cls]:
        assert_allclose_xp(getattr(restored, attribute), getattr(model, attribute), rtol=0)
    assert_allclose_xp(restored.transform(X), model.transform(X), rtol=0)


# --------------------------------------------------------------------------- the mixin


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_sklearn_tags(cls):
    tags = cls().__sklearn_tags__()
    assert tags.array_api_support is True
    assert tags.transformer_tags is not None  # TransformerMixin's tags survive


def test_fit_namespace_and_device_properties(backend, X_np):
    model = MinMaxScaler().fit(backend.asarray(X_np))
    assert model.fit_namespace_ == backend.name
    assert same_device(model.fit_device_, backend.device)


def test_fit_properties_unfitted():
    model = StandardScaler()
    with pytest.raises(NotFittedError):
        _ = model.fit_namespace_
    with pytest.raises(NotFittedError):
        _ = model.fit_device_
    assert not hasattr(model, "fit_namespace_")


def test_fitted_arrays_casts_without_copy(X_np):
    model = StandardScaler().fit(X_np)
    mean, scale = model._fitted_arrays(np.float64, "mean_", "scale_")
    assert mean is model.mean_ or np.shares_memory(mean, model.mean_)
    assert scale is model.scale_ or np.shares_memory(scale, model.scale_)
    (mean32,) = model._fitted_arrays(np.float32, "mean_")
    assert mean32.dtype == np.float32
    assert model.mean_.dtype == np.float64


def test_clone(X_np):
    model = StandardScaler(with_mean=False, dtype_policy="float32").fit(torch.asarray(X_np))
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    assert not hasattr(fresh, "n_features_in_")


# ------------------------------------------------------------------------ Capabilities


def test_capabilities_defaults():
    capabilities = Capabilities()
    assert capabilities.backends == BACKENDS
    assert capabilities.dtype_policies == DTYPE_POLICIES
    assert capabilities.fallbacks == {}
    assert capabilities.lazy_fit is False
    assert capabilities.onnx_methods == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        capabilities.lazy_fit = True


def test_capabilities_fallbacks_are_not_shared():
    a, b = Capabilities(), Capabilities()
    assert a.fallbacks is not b.fallbacks


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_scaler_capabilities(cls):
    capabilities = cls._capabilities
    assert isinstance(capabilities, Capabilities)
    assert set(capabilities.backends) <= set(BACKENDS)
    assert set(capabilities.dtype_policies) <= set(DTYPE_POLICIES)
    assert capabilities.onnx_methods == ("transform",)
    for method in capabilities.onnx_methods:
        assert callable(getattr(cls, method))
    assert issubclass(cls, XPEstimatorMixin)
    assert cls.__mro__[1] is XPEstimatorMixin  # the mixin comes first among the bases


def test_backends_constant():
    assert BACKENDS == ("numpy", "array_api_strict", "torch", "cupy", "dask")
