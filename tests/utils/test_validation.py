"""Input validation: every bad input gets the standard exception, naming the method."""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from xplearn import config_context
from xplearn._xp import array_namespace, namespace_name, to_numpy
from xplearn.base import XPEstimatorMixin
from xplearn.linear_model import LinearRegression
from xplearn.preprocessing import MinMaxScaler, StandardScaler
from xplearn.testing import assert_allclose_xp, assert_on_backend, count_dask_computes
from xplearn.utils import validation as validation_module
from xplearn.utils.validation import (
    Validated,
    check_finite_through_sums,
    check_is_fitted,
    check_sample_weight,
    method_name,
    validate_data,
)

torch = pytest.importorskip("torch")
array_api_strict = pytest.importorskip("array_api_strict")


class Recorder(XPEstimatorMixin, BaseEstimator):
    """A minimal estimator that validates X, y and sample_weight the way estimators do."""

    def __init__(self, dtype_policy=None, y_required=False, ensure_min_samples=1):
        self.dtype_policy = dtype_policy
        self.y_required = y_required
        self.ensure_min_samples = ensure_min_samples

    def fit(self, X, y=None, sample_weight=None):
        self.validated_ = validate_data(
            self,
            X,
            y,
            method="fit",
            reset=True,
            sample_weight=sample_weight,
            y_required=self.y_required,
            ensure_min_samples=self.ensure_min_samples,
        )
        return self

    def predict(self, X):
        return validate_data(self, X, method="predict", reset=False)


@pytest.fixture
def X_np():
    return np.random.default_rng(0).normal(size=(10, 5))


# ----------------------------------------------------------------------------- bad X


def _with(X, row, column, value):
    X = X.copy()
    X[row, column] = value
    return X


@pytest.mark.parametrize(
    ("value", "kind"), [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")]
)
def test_non_finite_X_names_the_column(backend, X_np, value, kind):
    X = backend.asarray(_with(X_np, 4, 3, value))
    with pytest.raises(ValueError, match=f"contains {kind} \\(first in column 3\\)") as info:
        StandardScaler().fit(X)
    assert str(info.value).startswith("StandardScaler.fit(): Input X contains")


def test_non_finite_X_first_bad_column_reported(X_np):
    X = _with(_with(X_np, 0, 4, np.inf), 7, 1, np.nan)
    with pytest.raises(ValueError, match="NaN \\(first in column 1\\)"):
        MinMaxScaler().fit(X)


def test_non_finite_at_transform(backend, X_np):
    scaler = StandardScaler().fit(backend.asarray(X_np))
    with pytest.raises(ValueError, match=r"^StandardScaler.transform\(\): Input X contains NaN"):
        to_numpy(scaler.transform(backend.asarray(_with(X_np, 2, 0, np.nan))))  # Dask: lazily
    with pytest.raises(
        ValueError, match=r"^StandardScaler.inverse_transform\(\): Input X contains infinity"
    ):
        scaler.inverse_transform(backend.asarray(_with(X_np, 2, 0, np.inf)))


def test_huge_finite_values_are_accepted(X_np):
    # the sum overflows to inf, but every value is finite
    X = np.full((4, 2), np.finfo(np.float64).max / 2)
    X[:, 1] = 1.0
    MinMaxScaler().fit(X)


def test_inf_and_minus_inf_give_our_error_not_a_numpy_warning(X_np):
    X = _with(_with(X_np, 0, 2, np.inf), 1, 3, -np.inf)
    with pytest.raises(ValueError, match="infinity \\(first in column 2\\)"):
        StandardScaler().fit(X)


@pytest.mark.parametrize("backend", ["numpy", "torch", "array_api_strict"])
def test_finite_sums_clear_X_without_its_own_pass(backend, X_np, monkeypatch):
    module = {"numpy": np, "torch": torch, "array_api_strict": array_api_strict}[backend]
    X = module.asarray(X_np)
    xp = array_namespace(X)
    calls = []
    monkeypatch.setattr(validation_module, "_raise_if_not_finite", lambda *a: calls.append(a))
    check_finite_through_sums(xp, X, [xp.sum(X, axis=0), xp.sum(X * X)], "Est.fit(): ")
    assert calls == []


@pytest.mark.parametrize("backend", ["numpy", "torch", "array_api_strict"])
@pytest.mark.parametrize(("value", "kind"), [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_sums_give_the_usual_error(backend, X_np, value, kind):
    module = {"numpy": np, "torch": torch, "array_api_strict": array_api_strict}[backend]
    X = module.asarray(_with(X_np, 4, 3, value))
    xp = array_namespace(X)
    with pytest.raises(
        ValueError, match=rf"^Est\.fit\(\): Input X contains {kind} \(first in column 3\)"
    ):
        check_finite_through_sums(xp, X, [xp.mean(X, axis=0)], "Est.fit(): ")


def test_overflowing_sums_of_finite_values_pass():
    X = np.full((4, 2), np.finfo(np.float64).max / 2)
    with np.errstate(over="ignore"):
        sums = [np.sum(X, axis=0)]
    assert not np.isfinite(sums[0]).any()
    check_finite_through_sums(np, X, sums, "Est.fit(): ")  # every value is finite


def test_finite_check_through_sums_respects_assume_finite(X_np):
    X = _with(X_np, 0, 0, np.nan)
    with config_context(assume_finite=True):
        check_finite_through_sums(np, X, [X.sum(axis=0)], "Est.fit(): ")
    with pytest.raises(ValueError, match="NaN"):
        check_finite_through_sums(np, X, [X.sum(axis=0)], "Est.fit(): ")


def test_assume_finite_skips_the_check(X_np):
    X = _with(X_np, 0, 0, np.nan)
    with config_context(assume_finite=True):
        scaler = MinMaxScaler().fit(X)
    assert np.isnan(scaler.data_min_[0])


def test_1d_X(backend):
    with pytest.raises(ValueError, match="Reshape your data") as info:
        StandardScaler().fit(backend.asarray(np.arange(5.0)))
    message = str(info.value)
    assert message.startswith("StandardScaler.fit(): Expected a 2D array for X, got a 1D array")
    assert "array.reshape(-1, 1)" in message


def test_1d_X_at_transform(backend, X_np):
    scaler = MinMaxScaler().fit(backend.asarray(X_np))
    with pytest.raises(ValueError, match=r"^MinMaxScaler.transform\(\): .*Reshape your data"):
        scaler.transform(backend.asarray(X_np[0]))


def test_3d_X(backend):
    with pytest.raises(ValueError, match=r"got an array with dim 3 of shape \(2, 3, 4\)") as info:
        StandardScaler().fit(backend.asarray(np.ones((2, 3, 4))))
    assert str(info.value).startswith("StandardScaler.fit(): Expected a 2D array")


@pytest.mark.parametrize("scalar", [3.0, np.float64(3.0), np.array(3.0)])
def test_scalar_X(scalar):
    with pytest.raises(ValueError, match=r"^StandardScaler.fit\(\): .*scalar array.*Reshape"):
        StandardScaler().fit(scalar)


def test_none_X():
    with pytest.raises(
        ValueError, match=r"^StandardScaler.fit\(\): Expected a 2D array for X, got None"
    ):
        StandardScaler().fit(None)


def test_empty_X(backend):
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)") as info:
        StandardScaler().fit(backend.asarray(np.empty((0, 3))))
    assert str(info.value).startswith("StandardScaler.fit(): ")
    assert "minimum of 1 is required" in str(info.value)


def test_zero_features(backend):
    with pytest.raises(ValueError, match=r"^MinMaxScaler.fit\(\): Found array with 0 feature\(s\)"):
        MinMaxScaler().fit(backend.asarray(np.empty((3, 0))))


def test_ensure_min_samples():
    with pytest.raises(ValueError, match=r"^Recorder.fit\(\): Found array with 1 sample\(s\)"):
        Recorder(ensure_min_samples=2).fit(np.ones((1, 2)))
    Recorder(ensure_min_samples=2).fit(np.ones((2, 2)))


def test_complex_X(backend, X_np):
    if backend.name == "array_api_strict" or backend.name == "torch":
        X = backend.xp.asarray(backend.asarray(X_np), dtype=backend.xp.complex128)
    else:
        X = backend.asarray(X_np.astype(np.complex128))
    with pytest.raises(ValueError, match="Complex data not supported") as info:
        StandardScaler().fit(X)
    assert str(info.value).startswith("StandardScaler.fit(): ")


def test_complex_list():
    with pytest.raises(ValueError, match=r"^StandardScaler.fit\(\): Complex data not supported"):
        StandardScaler().fit([[1 + 2j, 3.0]])


@pytest.mark.parametrize(
    "X", [[["a", "b"], ["c", "d"]], np.array([["1.5", "x"]]), np.array([[b"1", b"2"]])]
)
def test_string_X(X):
    with pytest.raises(ValueError, match=r"^StandardScaler.fit\(\): X must have a numeric dtype"):
        StandardScaler().fit(X)


def test_object_X_with_strings():
    X = np.array([["a", 1.0], [2.0, 3.0]], dtype=object)
    with pytest.raises(ValueError, match=r"^StandardScaler.fit\(\): X must contain numbers"):
        StandardScaler().fit(X)


def test_object_X_with_numbers_is_converted():
    X = np.array([[1, 2.0], [3.0, 4]], dtype=object)
    scaler = StandardScaler().fit(X)
    np.testing.assert_allclose(scaler.mean_, [2.0, 3.0])
    assert scaler.mean_.dtype == np.float64


@pytest.mark.parametrize("X", [np.array([[{}, 1.0], [2.0, 3.0]], dtype=object), [[{"a": 1}, 2.0]]])
def test_object_X_with_dict(X):
    with pytest.raises(TypeError, match=r"^StandardScaler.fit\(\): X must contain numbers"):
        StandardScaler().fit(X)


def test_ragged_list():
    with pytest.raises(ValueError, match=r"^MinMaxScaler.fit\(\): X must contain numbers"):
        MinMaxScaler().fit([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "coo_matrix", "csr_array"])
def test_sparse_X(fmt, X_np):
    sparse = pytest.importorskip("scipy.sparse")
    X = getattr(sparse, fmt)(X_np)
    with pytest.raises(TypeError, match="sparse") as info:
        StandardScaler().fit(X)
    assert str(info.value).startswith("StandardScaler.fit(): X is a sparse matrix")
    # at transform too, whatever the model was fitted on
    for fitted_on in (X_np, torch.asarray(X_np)):
        scaler = StandardScaler().fit(fitted_on)
        with pytest.raises(TypeError, match=r"^StandardScaler.transform\(\): X is a sparse"):
            scaler.transform(X)


# ----------------------------------------------------------------- namespaces and devices


def test_numpy_X_with_torch_y():
    with pytest.raises(ValueError, match="must use the same namespace") as info:
        Recorder().fit(np.ones((4, 2)), torch.ones(4))
    message = str(info.value)
    assert message.startswith("Recorder.fit(): X and y must use the same namespace")
    assert "numpy for X" in message
    assert "torch for y" in message


def test_numpy_X_with_torch_sample_weight():
    with pytest.raises(ValueError, match="must use the same namespace") as info:
        StandardScaler().fit(np.ones((4, 2)), sample_weight=torch.ones(4))
    message = str(info.value)
    assert message.startswith("StandardScaler.fit(): X and sample_weight must use the same")
    assert "torch for sample_weight" in message


def test_torch_X_with_numpy_sample_weight():
    with pytest.raises(ValueError, match="X and sample_weight must use the same namespace"):
        StandardScaler().fit(torch.ones((4, 2)), sample_weight=np.ones(4))


def test_devices_must_match_at_fit():
    X = array_api_strict.asarray(np.ones((4, 2)), device=array_api_strict.Device("CPU_DEVICE"))
    w = array_api_strict.asarray(np.ones(4), device=array_api_strict.Device("device1"))
    with pytest.raises(ValueError, match="must be on the same device") as info:
        StandardScaler().fit(X, sample_weight=w)
    assert "CPU_DEVICE" in str(info.value)
    assert "device1" in str(info.value)


def test_numpy_X_on_torch_fitted_model(X_np):
    scaler = StandardScaler().fit(torch.asarray(X_np))
    with pytest.raises(ValueError, match=r"xplearn\.convert") as info:
        scaler.transform(X_np)
    message = str(info.value)
    assert message.startswith("StandardScaler.transform(): X must use the same namespace")
    assert "fitted on torch" in message
    assert "X is numpy" in message


def test_torch_X_on_numpy_fitted_model(X_np):
    scaler = MinMaxScaler().fit(X_np)
    with pytest.raises(ValueError, match=r"xplearn\.convert") as info:
        scaler.inverse_transform(torch.asarray(X_np))
    assert str(info.value).startswith("MinMaxScaler.inverse_transform(): ")


def test_other_device_than_fit_is_an_error(X_np):
    scaler = StandardScaler().fit(array_api_strict.asarray(X_np))
    X1 = array_api_strict.asarray(X_np, device=array_api_strict.Device("device1"))
    with pytest.raises(ValueError, match="same namespace and device") as info:
        scaler.transform(X1)
    assert "device1" in str(info.value)
    assert "CPU_DEVICE" in str(info.value)


def test_lists_go_where_the_model_lives(backend, X_np):
    scaler = StandardScaler().fit(backend.asarray(X_np))
    result = scaler.transform(X_np.tolist())
    assert_on_backend(result, backend)
    assert_allclose_xp(result, scaler.transform(backend.asarray(X_np)), rtol=1e-12)


# --------------------------------------------------------------------------- y


def test_y_wrong_length(backend, X_np):
    with pytest.raises(ValueError, match="inconsistent numbers of samples") as info:
        Recorder().fit(backend.asarray(X_np), backend.asarray(np.ones(7)))
    message = str(info.value)
    assert message.startswith("Recorder.fit(): X and y have inconsistent numbers of samples")
    assert "[10, 7]" in message


def test_y_3d(X_np):
    with pytest.raises(
        ValueError, match=r"^Recorder.fit\(\): y must be 1D .* got shape \(10, 1, 1\)"
    ):
        Recorder().fit(X_np, np.ones((10, 1, 1)))


def test_y_nan(X_np):
    y = np.ones(10)
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"^Recorder.fit\(\): Input y contains NaN"):
        Recorder().fit(X_np, y)


def test_y_required(X_np):
    with pytest.raises(ValueError, match=r"^Recorder.fit\(\): Recorder requires y to be passed"):
        Recorder(y_required=True).fit(X_np)


def test_y_is_cast_and_kept_on_backend(backend, X_np):
    X = backend.asarray(X_np.astype(np.float32))
    y = backend.asarray(np.arange(10))
    validated = Recorder().fit(X, y).validated_
    assert validated.y.dtype == backend.xp.float32
    assert_on_backend(validated.y, backend)
    assert_allclose_xp(validated.y, np.arange(10.0))


def test_y_list_with_numpy_X(X_np):
    validated = Recorder().fit(X_np, list(range(10))).validated_
    assert isinstance(validated.y, np.ndarray)
    assert validated.y.dtype == np.float64


# --------------------------------------------------------------------- sample_weight


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (np.array([1.0] * 9 + [-0.5]), "sample_weight has negative values"),
        (np.ones(9), r"sample_weight.shape == \(9,\), expected \(10,\)"),
        (np.ones((10, 1)), r"sample_weight.shape == \(10, 1\), expected \(10,\)"),
        (np.array([1.0] * 9 + [np.nan]), "Input sample_weight contains NaN"),
        (np.array([1.0] * 9 + [np.inf]), "Input sample_weight contains infinity"),
        (np.zeros(10), "sample_weight sums to zero"),
        (-1.0, "sample_weight has negative values"),
        (0, "sample_weight sums to zero"),
    ],
)
def test_bad_sample_weight(backend, X_np, weights, match):
    if isinstance(weights, np.ndarray):
        weights = backend.asarray(weights)
    with pytest.raises(ValueError, match=match) as info:
        StandardScaler().fit(backend.asarray(X_np), sample_weight=weights)
    assert str(info.value).startswith("StandardScaler.fit(): ")


def test_string_sample_weight(X_np):
    with pytest.raises(ValueError, match="sample_weight must have a numeric dtype"):
        StandardScaler().fit(X_np, sample_weight=["a"] * 10)


@pytest.mark.parametrize("scalar", [2, 2.5, np.int64(2), np.float32(0.5)])
def test_scalar_sample_weight_is_uniform(backend, X_np, scalar):
    X = backend.asarray(X_np)
    weighted = StandardScaler().fit(X, sample_weight=scalar)
    plain = StandardScaler().fit(X)
    assert_allclose_xp(weighted.mean_, plain.mean_, rtol=1e-12)
    assert_allclose_xp(weighted.var_, plain.var_, rtol=1e-12)
    assert weighted.n_samples_seen_ == pytest.approx(10 * float(scalar))


def test_check_sample_weight_directly(backend):
    xp, device = backend.xp, backend.device
    weights = check_sample_weight(
        backend.asarray(np.array([1, 2, 3])), 3, xp=xp, device=device, dtype=xp.float32
    )
    assert weights.dtype == xp.float32
    assert_on_backend(weights, backend)
    full = check_sample_weight(3.0, 4, xp=xp, device=device, dtype=xp.float32)
    assert_allclose_xp(full, np.full(4, 3.0))
    with pytest.raises(ValueError, match=r"^Foo.fit\(\): sample_weight has negative values"):
        check_sample_weight(
            backend.asarray(np.array([1.0, -1.0])),
            2,
            xp=xp,
            device=device,
            dtype=xp.float32,
            prefix="Foo.fit(): ",
        )


# ---------------------------------------------------------------- n_features, fitted


def test_wrong_number_of_features(backend):
    scaler = StandardScaler().fit(backend.asarray(np.ones((4, 5))))
    for method in ("transform", "inverse_transform"):
        with pytest.raises(ValueError, match="X has 3 features") as info:
            getattr(scaler, method)(backend.asarray(np.ones((4, 3))))
        message = str(info.value)
        assert message.startswith(f"StandardScaler.{method}(): X has 3 features")
        assert "expecting 5 features" in message


def test_wrong_number_of_features_at_partial_fit(backend):
    scaler = MinMaxScaler().partial_fit(backend.asarray(np.ones((4, 5))))
    with pytest.raises(ValueError, match=r"^MinMaxScaler.partial_fit\(\): X has 3 features"):
        scaler.partial_fit(backend.asarray(np.ones((4, 3))))


@pytest.mark.parametrize("estimator", [StandardScaler(), MinMaxScaler()])
@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_unfitted(estimator, method):
    with pytest.raises(NotFittedError, match="is not fitted yet") as info:
        getattr(estimator, method)(np.ones((2, 2)))
    name = type(estimator).__name__
    assert str(info.value).startswith(f"{name}.{method}(): this {name} instance")


def test_check_is_fitted_and_method_name():
    scaler = StandardScaler()
    assert method_name(scaler, "fit") == "StandardScaler.fit()"
    with pytest.raises(NotFittedError, match=r"^StandardScaler.score\(\): "):
        check_is_fitted(scaler, "score")
    scaler.fit(np.ones((2, 2)))
    check_is_fitted(scaler, "score")


@pytest.mark.parametrize(
    "fit_kwargs",
    [
        {"sample_weight": np.ones(3)},  # wrong length
        {"sample_weight": -np.ones(10)},
    ],
)
def test_failed_fit_leaves_an_unfitted_estimator_unfitted(X_np, fit_kwargs):
    scaler = StandardScaler()
    with pytest.raises(ValueError, match="sample_weight"):
        scaler.fit(X_np, **fit_kwargs)
    assert not hasattr(scaler, "n_features_in_")
    with pytest.raises(NotFittedError):
        scaler.transform(X_np)


def test_failed_fit_with_bad_y_leaves_no_state(X_np):
    estimator = Recorder()
    with pytest.raises(ValueError, match="inconsistent"):
        estimator.fit(X_np, np.ones(3))
    assert not hasattr(estimator, "n_features_in_")
    assert not hasattr(estimator, "_fit_context")


def test_failed_refit_keeps_the_old_fit(X_np):
    """Issue 15: a refit that fails leaves the previous model intact (it used to be
    forgotten)."""
    scaler = StandardScaler().fit(X_np)
    before = scaler.transform(X_np)
    with pytest.raises(ValueError, match="NaN"):
        scaler.fit(_with(X_np, 0, 0, np.nan))
    np.testing.assert_array_equal(scaler.transform(X_np), before)


# ----------------------------------------------------------------- what is recorded


def test_validated_fields(backend, X_np):
    X = backend.asarray(X_np.astype(np.float32))
    w = backend.asarray(np.ones(10, dtype=np.float32))
    validated = Recorder(dtype_policy="mixed").fit(X, sample_weight=w).validated_
    assert isinstance(validated, Validated)
    assert validated.xp is backend.xp
    assert validated.X.dtype == backend.xp.float32
    assert validated.sample_weight.dtype == backend.xp.float32
    assert validated.y is None
    assert_on_backend(validated.X, backend)
    expected = backend.xp.float64 if backend.has_float64 else backend.xp.float32
    assert validated.dtypes.accumulate == expected


def test_fit_records_namespace_device_dtype(backend, X_np):
    scaler = StandardScaler(dtype_policy="float32").fit(backend.asarray(X_np))
    assert scaler.n_features_in_ == 5
    assert scaler.fit_namespace_ == backend.name
    name, device, dtype = scaler._fit_context
    assert name == backend.name
    assert str(device) == str(backend.device)
    assert dtype == backend.xp.float32
    assert dtype == scaler.mean_.dtype


def test_inference_dtype_follows_float_input(X_np):
    scaler = StandardScaler().fit(X_np.astype(np.float32))
    assert scaler.transform(X_np).dtype == np.float64  # float64 in, float64 out
    assert scaler.transform(X_np.astype(np.float32)).dtype == np.float32
    # integers go to the fitted dtype
    assert scaler.transform(np.ones((2, 5), dtype=np.int64)).dtype == np.float32


class FrameLike:
    """The part of a pandas DataFrame that validation looks at: columns and __array__."""

    def __init__(self, values, columns):
        self.values = np.asarray(values)
        self.columns = list(columns)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)


def test_feature_names_are_recorded_and_checked(X_np):
    columns = ["a", "b", "c", "d", "e"]
    scaler = StandardScaler().fit(FrameLike(X_np, columns))
    np.testing.assert_array_equal(scaler.feature_names_in_, columns)
    assert scaler.feature_names_in_.dtype == object
    scaler.transform(FrameLike(X_np, columns))
    scaler.transform(X_np)  # plain arrays carry no names
    with pytest.raises(ValueError, match="feature names should match") as info:
        scaler.transform(FrameLike(X_np, ["b", "a", "c", "d", "e"]))
    assert str(info.value).startswith("StandardScaler.transform(): ")
    # refitting on unnamed data forgets the names
    scaler.fit(X_np)
    assert not hasattr(scaler, "feature_names_in_")


def test_non_string_column_names_are_not_recorded(X_np):
    scaler = StandardScaler().fit(FrameLike(X_np, range(5)))
    assert not hasattr(scaler, "feature_names_in_")


# ------------------------------------------------------------- inputs never modified


@pytest.mark.parametrize("estimator", [StandardScaler(), MinMaxScaler()])
def test_read_only_numpy_inputs(estimator, X_np):
    X = X_np.copy()
    X.setflags(write=False)
    w = np.linspace(0.5, 2.0, 10)
    w.setflags(write=False)
    kwargs = {"sample_weight": w} if isinstance(estimator, StandardScaler) else {}
    estimator.fit(X, **kwargs)
    estimator.partial_fit(X, **kwargs)
    Xt = estimator.transform(X)
    Xt.setflags(write=False)
    estimator.inverse_transform(Xt)
    estimator.fit_transform(X)
    np.testing.assert_array_equal(X, X_np)


@pytest.mark.parametrize(
    "estimator",
    [
        StandardScaler(),
        StandardScaler(with_mean=False, with_std=False),
        MinMaxScaler(),
        MinMaxScaler(clip=True),
    ],
)
def test_inputs_unchanged_on_every_backend(backend, X_np, estimator):
    X = backend.asarray(X_np)
    before = X_np.copy()
    kwargs = {}
    if isinstance(estimator, StandardScaler):
        kwargs["sample_weight"] = backend.asarray(np.linspace(0.5, 2.0, 10))
    estimator.fit(X, **kwargs)
    Xt = estimator.transform(X)
    assert Xt is not X
    Xi = estimator.inverse_transform(Xt)
    assert Xi is not Xt
    assert_allclose_xp(X, before, rtol=0)


def test_torch_inputs_unchanged_and_not_aliased(X_np):
    X = torch.asarray(X_np.copy())
    w = torch.linspace(0.5, 2.0, 10, dtype=torch.float64)
    X_before, w_before = X.clone(), w.clone()
    scaler = StandardScaler().fit(X, sample_weight=w)
    Xt = scaler.transform(X)
    assert torch.equal(X, X_before)
    assert torch.equal(w, w_before)
    Xt += 1000.0  # writing to the output never reaches the input or the model
    assert torch.equal(X, X_before)
    np.testing.assert_allclose(scaler.transform(X).numpy(), Xt.numpy() - 1000.0, atol=1e-10)
    identity = StandardScaler(with_mean=False, with_std=False).fit(X)
    out = identity.transform(X)
    out += 1.0
    assert torch.equal(X, X_before)


def test_namespace_of_result(backend, X_np):
    result = MinMaxScaler().fit(backend.asarray(X_np)).transform(backend.asarray(X_np))
    assert namespace_name(backend.xp) == backend.name
    assert_on_backend(result, backend)


# ------------------------------------------------- predict-time fast path on NumPy
#
# validate_data takes a shortcut for an ordinary float ndarray at predict time. It must
# return exactly what the full path returns, and leave every error to the full path.


class Inverter(Recorder):
    """Validates like ``inverse_transform``: ``n_features`` columns, not ``n_features_in_``."""

    def inverse(self, X, n_features=3):
        return validate_data(self, X, method="inverse", reset=False, n_features=n_features)

    def predict_two(self, X):
        return validate_data(self, X, method="predict_two", reset=False, ensure_min_samples=2)


def _validate_both_ways(monkeypatch, call):
    """``call()`` with the fast path, then with the full path only (the behaviour before
    the fast path existed): (fast, full)."""
    fast = call()
    with monkeypatch.context() as patch:
        patch.setattr(validation_module, "_numpy_inference_fast_path", lambda *args: None)
        full = call()
    return fast, full


def _raise_both_ways(monkeypatch, kind, call):
    """The exceptions ``call()`` raises with the fast path and with the full path only."""
    with pytest.raises(kind) as fast:
        call()
    with monkeypatch.context() as patch:
        patch.setattr(validation_module, "_numpy_inference_fast_path", lambda *args: None)
        with pytest.raises(kind) as full:
            call()
    assert type(fast.value) is type(full.value)
    assert str(fast.value) == str(full.value)
    return str(fast.value)


def _assert_same_validated(fast, full, X):
    assert isinstance(fast, Validated)
    assert fast.xp is full.xp
    assert fast.device == full.device
    assert type(fast.device) is type(full.device)
    assert fast.dtypes == full.dtypes
    assert fast.dtypes.compute is full.dtypes.compute
    assert fast.dtypes.accumulate is full.dtypes.accumulate
    assert fast.y is full.y is None
    assert fast.sample_weight is full.sample_weight is None
    assert type(fast.X) is type(full.X) is np.ndarray
    assert fast.X.dtype == full.X.dtype
    np.testing.assert_array_equal(fast.X, full.X)
    # no copy when X already has the compute dtype, a new array otherwise (both paths)
    assert (fast.X is X) == (full.X is X)


@pytest.mark.parametrize("policy", [None, "preserve", "float32", "float64", "mixed"])
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows", [1, 7, 2000])  # 2000 x 5: above the isfinite size limit
def test_fast_path_returns_what_the_full_path_returns(
    monkeypatch, X_np, policy, fit_dtype, input_dtype, n_rows
):
    estimator = Recorder(dtype_policy=policy).fit(X_np.astype(fit_dtype))
    X = np.random.default_rng(1).normal(size=(n_rows, 5)).astype(input_dtype)
    before = X.copy()
    assert validation_module._numpy_inference_fast_path(estimator, X, 1, None) is not None
    fast, full = _validate_both_ways(monkeypatch, lambda: estimator.predict(X))
    _assert_same_validated(fast, full, X)
    np.testing.assert_array_equal(X, before)
    if fast.X.dtype == input_dtype:
        assert fast.X is X


@pytest.mark.parametrize("policy", ["preserve", "float32", "float64", "mixed"])
def test_fast_path_follows_the_configured_policy(monkeypatch, X_np, policy):
    estimator = Recorder().fit(X_np)
    X = X_np[:1].astype(np.float32)
    with config_context(dtype_policy=policy):
        fast, full = _validate_both_ways(monkeypatch, lambda: estimator.predict(X))
    _assert_same_validated(fast, full, X)
    # and the next call outside the context is back to the default
    assert estimator.predict(X).dtypes.compute == np.float32


def test_fast_path_with_n_features_and_min_samples(monkeypatch, X_np):
    estimator = Inverter().fit(X_np)
    X = X_np[:2, :3].copy()
    fast, full = _validate_both_ways(monkeypatch, lambda: estimator.inverse(X))
    _assert_same_validated(fast, full, X)
    assert fast.X is X
    fast, full = _validate_both_ways(monkeypatch, lambda: estimator.predict_two(X_np[:2]))
    _assert_same_validated(fast, full, X_np[:2])
    message = _raise_both_ways(monkeypatch, ValueError, lambda: estimator.inverse(X_np[:1]))
    assert message.startswith("Inverter.inverse(): X has 5 features, but Inverter is expecting 3")
    message = _raise_both_ways(monkeypatch, ValueError, lambda: estimator.predict_two(X_np[:1]))
    assert message.startswith("Inverter.predict_two(): Found array with 1 sample(s)")
    assert "minimum of 2 is required" in message


def test_fast_path_read_only_and_non_contiguous_inputs(monkeypatch, X_np):
    estimator = Recorder().fit(X_np)
    read_only = X_np[:1].copy()
    read_only.setflags(write=False)
    fortran = np.asfortranarray(X_np)
    strided = X_np[::2, :]
    for X in (read_only, fortran, strided):
        fast, full = _validate_both_ways(monkeypatch, lambda X=X: estimator.predict(X))
        _assert_same_validated(fast, full, X)
        assert fast.X is X


def test_fast_path_declines_what_it_does_not_cover(X_np):
    fast_path = validation_module._numpy_inference_fast_path
    estimator = Recorder().fit(X_np)
    row = X_np[:1]
    assert fast_path(estimator, row, 1, None) is not None
    assert fast_path(Recorder(), row, 1, None) is None  # not fitted
    assert fast_path(estimator, row.astype(np.int64), 1, None) is None
    assert fast_path(estimator, row.astype(np.float16), 1, None) is None
    assert fast_path(estimator, row.astype(">f8"), 1, None) is None  # not native order
    assert fast_path(estimator, X_np[0], 1, None) is None
    assert fast_path(estimator, row[:, :3], 1, None) is None
    assert fast_path(estimator, row, 2, None) is None
    assert fast_path(estimator, _with(row, 0, 1, np.nan), 1, None) is None
    bad_policy = Recorder().fit(X_np).set_params(dtype_policy="float16")
    assert fast_path(bad_policy, row, 1, None) is None
    unhashable_policy = Recorder().fit(X_np).set_params(dtype_policy=["float32"])
    assert fast_path(unhashable_policy, row, 1, None) is None
    on_torch = Recorder().fit(torch.asarray(X_np))
    assert fast_path(on_torch, row, 1, None) is None


def test_fast_path_not_taken_with_y_or_sample_weight(monkeypatch, X_np):
    estimator = Recorder().fit(X_np)
    calls = []
    monkeypatch.setattr(
        validation_module, "_numpy_inference_fast_path", lambda *args: calls.append(args)
    )
    validate_data(estimator, X_np, np.ones(10), method="partial_fit", reset=False)
    validate_data(estimator, X_np, method="partial_fit", reset=False, sample_weight=np.ones(10))
    validate_data(estimator, X_np, method="fit", reset=True)
    validate_data(estimator, X_np.tolist(), method="predict", reset=False)
    assert calls == []
    estimator.predict(X_np)
    assert len(calls) == 1


def _bad_rows(X_np):
    row = X_np[:1]
    bad = {
        "nan": (_with(row, 0, 3, np.nan), ValueError),
        "inf": (_with(row, 0, 1, np.inf), ValueError),
        "minus_inf_float32": (_with(row, 0, 4, -np.inf).astype(np.float32), ValueError),
        "inf_and_minus_inf": (_with(_with(row, 0, 0, np.inf), 0, 2, -np.inf), ValueError),
        "many_rows_nan": (_with(np.tile(X_np, (500, 1)), 4321, 2, np.nan), ValueError),
        "n_features": (row[:, :3], ValueError),
        "1d": (X_np[0], ValueError),
        "3d": (row[None], ValueError),
        "int_nan_free_but_wrong_width": (row[:, :4].astype(np.int64), ValueError),
        "object_strings": (np.array([["a", 1.0, 2.0, 3.0, 4.0]], dtype=object), ValueError),
        "strings": (np.array([["a", "b", "c", "d", "e"]]), ValueError),
        "complex": (row.astype(np.complex128), ValueError),
        "list_nan": (_with(row, 0, 0, np.nan).tolist(), ValueError),
        "list_wrong_width": (row[:, :2].tolist(), ValueError),
        "torch": (torch.asarray(row), ValueError),
        "none": (None, ValueError),
    }
    return bad


BAD_ROWS = [
    "nan",
    "inf",
    "minus_inf_float32",
    "inf_and_minus_inf",
    "many_rows_nan",
    "n_features",
    "1d",
    "3d",
    "int_nan_free_but_wrong_width",
    "object_strings",
    "strings",
    "complex",
    "list_nan",
    "list_wrong_width",
    "torch",
    "none",
]


@pytest.mark.parametrize("case", BAD_ROWS)
@pytest.mark.parametrize("policy", [None, "float32"])
def test_bad_rows_get_the_same_errors_as_before(monkeypatch, X_np, case, policy):
    X, kind = _bad_rows(X_np)[case]
    estimator = Recorder(dtype_policy=policy).fit(X_np)
    message = _raise_both_ways(monkeypatch, kind, lambda: estimator.predict(X))
    assert message.startswith("Recorder.predict(): ")
    expected = {
        "nan": "Input X contains NaN (first in column 3)",
        "inf": "Input X contains infinity (first in column 1)",
        "minus_inf_float32": "Input X contains infinity (first in column 4)",
        "inf_and_minus_inf": "Input X contains infinity (first in column 0)",
        "many_rows_nan": "Input X contains NaN (first in column 2)",
        "n_features": "X has 3 features, but Recorder is expecting 5 features",
        "1d": "Expected a 2D array for X, got a 1D array of shape (5,)",
        "3d": "got an array with dim 3 of shape (1, 1, 5)",
        "int_nan_free_but_wrong_width": "X has 4 features, but Recorder is expecting 5",
        "object_strings": "X must contain numbers",
        "strings": "X must have a numeric dtype, got dtype <U1",
        "complex": "Complex data not supported",
        "list_nan": "Input X contains NaN (first in column 0)",
        "list_wrong_width": "X has 2 features, but Recorder is expecting 5",
        "torch": "X must use the same namespace and device as the fitted Recorder",
        "none": "Expected a 2D array for X, got None",
    }[case]
    assert expected in message


def test_unfitted_gets_the_same_error_as_before(monkeypatch, X_np):
    message = _raise_both_ways(monkeypatch, NotFittedError, lambda: Recorder().predict(X_np[:1]))
    assert message.startswith("Recorder.predict(): this Recorder instance is not fitted")


def test_unknown_policy_gets_the_same_error_as_before(monkeypatch, X_np):
    estimator = Recorder().fit(X_np).set_params(dtype_policy="float16")
    message = _raise_both_ways(monkeypatch, ValueError, lambda: estimator.predict(X_np[:1]))
    assert message.startswith("Recorder.predict(): dtype_policy must be one of")


def test_integer_row_takes_the_fitted_dtype(monkeypatch, X_np):
    estimator = Recorder().fit(X_np.astype(np.float32))
    X = np.ones((1, 5), dtype=np.int64)
    fast, full = _validate_both_ways(monkeypatch, lambda: estimator.predict(X))
    _assert_same_validated(fast, full, X)
    assert fast.X.dtype == np.float32


def test_overflowing_cast_warns_once_and_reports_infinity(X_np):
    # float64 values beyond float32's range become inf under dtype_policy="float32": the
    # fast path stays silent and the full path warns (once) and raises, as before
    estimator = Recorder(dtype_policy="float32").fit(X_np)
    X = _with(X_np[:1], 0, 2, 1e300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=r"contains infinity \(first in column 2\)"):
            estimator.predict(X)
    assert [str(w.message) for w in caught] == ["overflow encountered in cast"]


def test_huge_finite_values_many_rows_pass(monkeypatch):
    # the sum of the fast path's large-array check overflows: the full path accepts X
    X = np.full((3000, 2), np.finfo(np.float64).max / 2)
    estimator = Recorder().fit(X[:10])
    fast, full = _validate_both_ways(monkeypatch, lambda: estimator.predict(X))
    _assert_same_validated(fast, full, X)
    assert fast.X is X


@pytest.mark.parametrize("n_rows", [1, 2000])
def test_fast_path_honours_assume_finite(monkeypatch, X_np, n_rows):
    estimator = Recorder().fit(X_np)
    X = _with(np.tile(X_np[:1], (n_rows, 1)), 0, 1, np.nan)
    with pytest.raises(ValueError, match="contains NaN"):
        estimator.predict(X)
    with config_context(assume_finite=True):
        assert validation_module._numpy_inference_fast_path(estimator, X, 1, None) is not None
        fast, full = _validate_both_ways(monkeypatch, lambda: estimator.predict(X))
    _assert_same_validated(fast, full, X)
    assert fast.X is X
    assert np.isnan(fast.X[0, 1])
    # outside the context, the check is back
    with pytest.raises(ValueError, match="contains NaN"):
        estimator.predict(X)


def test_fast_path_on_a_model_converted_to_numpy(monkeypatch, X_np):
    from xplearn import convert

    estimator = convert(Recorder().fit(torch.asarray(X_np)), to="numpy")
    X = X_np[:1]
    assert validation_module._numpy_inference_fast_path(estimator, X, 1, None) is not None
    fast, full = _validate_both_ways(monkeypatch, lambda: estimator.predict(X))
    _assert_same_validated(fast, full, X)


# ------------------------------------------------------------------ _fitted_arrays


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
def test_fitted_arrays_without_cast_are_the_attributes(X_np, fit_dtype):
    scaler = StandardScaler().fit(X_np.astype(fit_dtype))
    for dtype in (fit_dtype, np.dtype(fit_dtype), scaler.mean_.dtype):
        mean, scale = scaler._fitted_arrays(dtype, "mean_", "scale_")
        assert mean is scaler.mean_
        assert scale is scaler.scale_
    other = np.float64 if fit_dtype is np.float32 else np.float32
    (mean,) = scaler._fitted_arrays(other, "mean_")
    assert mean.dtype == other
    np.testing.assert_allclose(mean, scaler.mean_, rtol=1e-6)
    assert scaler.mean_.dtype == fit_dtype  # the attribute is not changed


def test_fitted_arrays_on_other_backends(backend, X_np):
    scaler = StandardScaler().fit(backend.asarray(X_np.astype(np.float32)))
    (mean,) = scaler._fitted_arrays(backend.xp.float32, "mean_")
    assert mean.dtype == backend.xp.float32
    assert_on_backend(mean, backend)
    if backend.has_float64:
        (mean,) = scaler._fitted_arrays(backend.xp.float64, "mean_")
        assert mean.dtype == backend.xp.float64
        assert_on_backend(mean, backend)


# --------------------------------------------------------------------- lazy (Dask) inputs


def test_lazy_sample_weight_is_checked_in_one_computation():
    da = pytest.importorskip("dask.array")

    lazy = da.from_array(np.array([1.0, 2.0, 0.0, 4.0] * 5), chunks=6)
    with count_dask_computes() as counter:
        checked = check_sample_weight(
            lazy, 20, xp=array_namespace(lazy), device=None, dtype=np.float64
        )
    assert counter.count == 1
    np.testing.assert_array_equal(checked.compute(), lazy.compute())
    for values, match in [
        ([1.0, -0.5, np.nan], "contains NaN"),  # the NaN is named before the sign
        ([1.0, np.inf, 2.0], "contains infinity"),
        ([1.0, -0.5, 2.0], "negative values"),
        ([0.0, 0.0, 0.0], "sums to zero"),
        ([1e308, 1e308, 1.0], None),  # the sum overflows: finite weights all the same
    ]:
        weights = da.from_array(np.array(values), chunks=2)
        if match is None:
            check_sample_weight(
                weights, 3, xp=array_namespace(weights), device=None, dtype=np.float64
            )
            continue
        with pytest.raises(ValueError, match=rf"^Foo\.fit\(\): .*{match}"):
            check_sample_weight(
                weights,
                3,
                xp=array_namespace(weights),
                device=None,
                dtype=np.float64,
                prefix="Foo.fit(): ",
            )


def test_deferred_check_of_lazy_y_raises_when_computed():
    da = pytest.importorskip("dask.array")

    X = da.from_array(np.ones((12, 2)), chunks=4)
    y = np.arange(12.0)
    y[9] = np.nan
    with count_dask_computes() as counter:
        data = validate_data(
            LinearRegression(),
            X,
            da.from_array(y, chunks=4),
            method="fit",
            reset=True,
            defer_finite_check=True,
        )
    assert counter.count == 0
    with pytest.raises(ValueError, match=r"^LinearRegression\.fit\(\): Input y contains NaN"):
        data.y.compute()


# ---------------------------------------------------------------------------------------
# Parameters as strict as scikit-learn's; Dask arrays of unknown chunk sizes (issue 15)


def _parameter_cases():
    import sklearn.cluster
    import sklearn.linear_model
    import sklearn.naive_bayes

    from xplearn.cluster import KMeans, MiniBatchKMeans
    from xplearn.linear_model import LogisticRegression
    from xplearn.naive_bayes import GaussianNB

    nan, inf = float("nan"), float("inf")
    kmeans = [
        {"n_clusters": 0}, {"n_clusters": 2.0}, {"n_init": 0}, {"n_init": "x"},
        {"n_init": 1.5}, {"max_iter": 0}, {"tol": -1.0}, {"tol": nan}, {"tol": inf},
        {"init": "x"}, {"verbose": -1}, {"verbose": "x"}, {"random_state": "x"},
        {"random_state": -1}, {"n_init": "auto"}, {"tol": 0.0}, {"verbose": True},
    ]  # fmt: skip
    return [
        (LogisticRegression, sklearn.linear_model.LogisticRegression, [
            {"C": inf}, {"C": nan}, {"C": 0}, {"C": -1}, {"C": "1"}, {"C": True},
            {"tol": -1}, {"tol": nan}, {"tol": inf}, {"max_iter": 0}, {"max_iter": 1.5},
            {"max_iter": -1}, {"fit_intercept": "yes"}, {"fit_intercept": 1},
            {"fit_intercept": np.True_}, {"class_weight": "x"}, {"class_weight": [1, 2]},
            {"penalty": "x"}, {"solver": "x"}, {"class_weight": "balanced"},
        ]),
        (GaussianNB, sklearn.naive_bayes.GaussianNB, [
            {"var_smoothing": -1}, {"var_smoothing": nan}, {"var_smoothing": inf},
            {"var_smoothing": "1"}, {"var_smoothing": 0}, {"var_smoothing": True},
            {"priors": "ab"}, {"priors": 3},
        ]),
        (KMeans, sklearn.cluster.KMeans, [
            *kmeans, {"copy_x": "yes"}, {"copy_x": 0}, {"algorithm": "x"},
        ]),
        (MiniBatchKMeans, sklearn.cluster.MiniBatchKMeans, [
            *kmeans, {"batch_size": 0}, {"compute_labels": "yes"},
            {"max_no_improvement": -1}, {"init_size": 0}, {"reassignment_ratio": -1},
            {"reassignment_ratio": nan}, {"max_no_improvement": None},
        ]),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("ours", "theirs", "params"),
    [(ours, theirs, params) for ours, theirs, cases in _parameter_cases() for params in cases],
    ids=lambda value: value.__name__ if isinstance(value, type) else repr(value),
)
def test_parameters_refused_as_scikit_learn_refuses_them(ours, theirs, params):
    """Each value scikit-learn's parameter validation refuses (InvalidParameterError, a
    ValueError and a TypeError) is refused with the same exception class and message by
    the xplearn twin, and each value it accepts passes ours."""
    from sklearn.utils._param_validation import InvalidParameterError

    X = np.random.default_rng(0).standard_normal((40, 3))
    y = np.arange(40) % 2
    clusterer = "n_clusters" in ours().get_params()
    extra = {"n_clusters": 2} if clusterer and "n_clusters" not in params else {}
    args = (X,) if clusterer else (X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence, verbose output of the twins
        try:
            theirs(**extra, **params).fit(*args)
        except InvalidParameterError as error:
            expected = error
        else:
            expected = None
        if expected is None:
            ours(**extra, **params).fit(*args)
            return
        with pytest.raises(InvalidParameterError) as raised:
            ours(**extra, **params).fit(*args)
    # scikit-learn's message after the method (the option sets print in any order, and
    # xplearn's init has "k-means||" too)
    message, theirs_message = str(raised.value), str(expected)
    head, _, tail = theirs_message.partition(" must be ")
    assert message.startswith(f"{ours.__name__}.fit(): {head} must be ")
    assert message.endswith(tail.rpartition(". Got ")[2])


def _masked_dask(n=60):
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    X = da.from_array(rng.standard_normal((n, 3)), chunks=20)
    y = da.from_array(np.arange(n) % 2, chunks=20)
    keep = da.from_array(rng.random(n) > 0.3, chunks=20)
    return X, y, keep


@pytest.mark.parametrize("estimator", ["KMeans", "GaussianNB", "LogisticRegression"])
def test_dask_unknown_chunk_sizes_get_one_clear_error(estimator):
    """A Dask array made by boolean masking (unknown chunk sizes): fit raises one
    ValueError naming compute_chunk_sizes() (fit failed deep inside: "'float' object
    cannot be interpreted as an integer", or with a NaN sample count); after
    compute_chunk_sizes() the same call works; blockwise predict needs no sizes."""
    from xplearn.cluster import KMeans
    from xplearn.linear_model import LogisticRegression
    from xplearn.naive_bayes import GaussianNB

    X, y, keep = _masked_dask()
    Xm, ym = X[keep], y[keep]
    assert np.isnan(Xm.shape[0])
    make = {
        "KMeans": lambda: KMeans(2, n_init=1, random_state=0),
        "GaussianNB": GaussianNB,
        "LogisticRegression": LogisticRegression,
    }[estimator]
    args = (Xm,) if estimator == "KMeans" else (Xm, ym)
    with pytest.raises(ValueError, match=rf"{estimator}\.fit\(\): X is a Dask array with "
                       r"unknown chunk sizes .*X\.compute_chunk_sizes\(\)"):  # fmt: skip
        make().fit(*args)
    if estimator != "KMeans":
        with pytest.raises(ValueError, match=r"y is a Dask array with unknown chunk sizes"):
            make().fit(X[keep].compute_chunk_sizes(), ym)
    known = [array.compute_chunk_sizes() for array in args]
    model = make().fit(*known)
    np.testing.assert_array_equal(model.predict(Xm).compute(), model.predict(known[0]).compute())
