"""StandardScaler and MinMaxScaler against scikit-learn, on every backend and dtype policy."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import preprocessing as sk

from xplearn import config_context
from xplearn._xp import to_numpy
from xplearn.preprocessing import MinMaxScaler, StandardScaler
from xplearn.testing import (
    assert_allclose_xp,
    assert_on_backend,
    available_backends,
)

SCALES = np.array([1.0, 5.0, 0.1, 30.0, 2.0])
OFFSETS = np.array([0.0, 2.0, -1.0, 7.0, 50.0])


def make_X(n_samples=40, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n_samples, 5)) * SCALES + OFFSETS).astype(dtype)


def make_weights(n_samples=40, seed=1):
    return np.random.default_rng(seed).uniform(0.1, 3.0, size=n_samples)


TOL = {"float64": {"rtol": 1e-6, "atol": 1e-9}, "float32": {"rtol": 1e-5, "atol": 1e-5}}


def _dtype_or_skip(backend, dtype):
    if dtype == "float64" and not backend.has_float64:
        pytest.skip("no float64 on this device")
    return dtype


def _check_dtype(array, backend, dtype):
    assert_on_backend(array, backend)
    assert array.dtype == getattr(backend.xp, dtype), (array.dtype, dtype)


def _maybe(backend, array):
    return None if array is None else backend.asarray(array)


# ------------------------------------------------------------------------ StandardScaler


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("with_mean", "with_std"), [(True, True), (True, False), (False, True)])
def test_standard_scaler_matches_sklearn(backend, dtype, weighted, with_mean, with_std):
    _dtype_or_skip(backend, dtype)
    X = make_X(dtype=dtype)
    w = make_weights() if weighted else None
    X_new = make_X(n_samples=7, seed=5, dtype=dtype)
    ours = StandardScaler(with_mean=with_mean, with_std=with_std)
    ours.fit(backend.asarray(X), sample_weight=_maybe(backend, w))
    ref = sk.StandardScaler(with_mean=with_mean, with_std=with_std).fit(X, sample_weight=w)
    tol = TOL[dtype]

    for name in ("mean_", "var_", "scale_"):
        expected = getattr(ref, name)
        actual = getattr(ours, name)
        if expected is None:
            assert actual is None, name
        else:
            _check_dtype(actual, backend, dtype)
            assert_allclose_xp(actual, expected, **tol, err_msg=name)
    assert ours.n_samples_seen_ == pytest.approx(ref.n_samples_seen_, rel=tol["rtol"])
    assert ours.n_features_in_ == 5

    Xt = ours.transform(backend.asarray(X_new))
    _check_dtype(Xt, backend, dtype)
    assert_allclose_xp(Xt, ref.transform(X_new), **tol)
    Xi = ours.inverse_transform(Xt)
    _check_dtype(Xi, backend, dtype)
    assert_allclose_xp(Xi, ref.inverse_transform(ref.transform(X_new)), **tol)
    assert_allclose_xp(Xi, X_new, **tol)


def test_standard_scaler_no_mean_no_std(backend):
    X = make_X()
    ours = StandardScaler(with_mean=False, with_std=False).fit(backend.asarray(X))
    ref = sk.StandardScaler(with_mean=False, with_std=False).fit(X)
    assert ours.mean_ is None
    assert ours.var_ is None
    assert ours.scale_ is None
    assert ours.n_samples_seen_ == ref.n_samples_seen_ == 40
    X_b = backend.asarray(X)
    Xt = ours.transform(X_b)
    assert Xt is not X_b
    assert_on_backend(Xt, backend)
    assert_allclose_xp(Xt, X, rtol=0)
    assert_allclose_xp(ours.inverse_transform(Xt), X, rtol=0)


def test_standard_scaler_fit_transform_and_feature_names(backend):
    X = make_X()
    scaler = StandardScaler()
    Xt = scaler.fit_transform(backend.asarray(X))
    assert_allclose_xp(Xt, sk.StandardScaler().fit_transform(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(scaler.get_feature_names_out(), ["x0", "x1", "x2", "x3", "x4"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_standard_scaler_constant_feature(backend, dtype):
    _dtype_or_skip(backend, dtype)
    X = make_X(dtype=dtype)
    X[:, 1] = 3.7  # not a power of two: the mean may carry rounding
    X[:, 3] = 0.0
    X[:, 4] = -1e4
    scaler = StandardScaler().fit(backend.asarray(X))
    scale = to_numpy(scaler.scale_)
    np.testing.assert_array_equal(scale[[1, 3, 4]], 1.0)
    assert np.all(to_numpy(scaler.var_)[[1, 3, 4]] <= 1e-8)
    Xt = to_numpy(scaler.transform(backend.asarray(X)))
    assert np.all(np.isfinite(Xt))
    np.testing.assert_allclose(Xt[:, [1, 3, 4]], 0.0, atol=1e-6)
    assert_allclose_xp(
        scaler.inverse_transform(scaler.transform(backend.asarray(X))), X, **TOL[dtype]
    )
    ref = sk.StandardScaler().fit(X)
    assert_allclose_xp(scaler.scale_, ref.scale_, **TOL[dtype])


def test_standard_scaler_single_sample(backend):
    X = make_X(n_samples=1)
    scaler = StandardScaler().fit(backend.asarray(X))
    assert_allclose_xp(scaler.scale_, np.ones(5), rtol=0)
    assert_allclose_xp(scaler.transform(backend.asarray(X)), np.zeros((1, 5)), atol=1e-12)


def test_standard_scaler_near_constant_features(backend):
    X = make_X(n_samples=60)
    rng = np.random.default_rng(3)
    X[:, 0] = 1e5 + rng.normal(size=60) * 1e-12  # rounding noise of 1e5: constant
    X[:, 1] = 5.0 + rng.normal(size=60) * 1e-4  # tiny, but real, variance
    X[:, 2] = 1.0 + rng.normal(size=60) * 1e-9
    scaler = StandardScaler().fit(backend.asarray(X))
    ref = sk.StandardScaler().fit(X)
    scale = to_numpy(scaler.scale_)
    assert scale[0] == 1.0
    assert scale[1] == pytest.approx(np.std(X[:, 1]), rel=1e-6)
    np.testing.assert_allclose(scale, ref.scale_, rtol=1e-6)
    Xt = to_numpy(scaler.transform(backend.asarray(X)))
    assert np.all(np.isfinite(Xt))
    assert np.max(np.abs(Xt[:, 0])) < 1e-6  # not blown up
    # column 2 divides by 1e-9: one ulp of its mean (1.1e-16) is 1.1e-7 after scaling,
    # so two correctly rounded means may give transforms that far apart
    np.testing.assert_allclose(Xt, ref.transform(X), rtol=1e-6, atol=5e-7)


def test_standard_scaler_integer_weights_equal_repeated_rows(backend):
    X = make_X(n_samples=15)
    repeats = np.array([1, 0, 2, 3, 1, 1, 4, 0, 2, 1, 1, 5, 1, 2, 1])
    weighted = StandardScaler().fit(
        backend.asarray(X), sample_weight=backend.asarray(repeats.astype(np.float64))
    )
    repeated = StandardScaler().fit(backend.asarray(np.repeat(X, repeats, axis=0)))
    for name in ("mean_", "var_", "scale_"):
        assert_allclose_xp(getattr(weighted, name), getattr(repeated, name), rtol=1e-10)
    assert weighted.n_samples_seen_ == repeated.n_samples_seen_ == repeats.sum()
    X_new = backend.asarray(make_X(n_samples=4, seed=9))
    assert_allclose_xp(weighted.transform(X_new), repeated.transform(X_new), rtol=1e-10, atol=1e-12)


def test_standard_scaler_integer_weights_dtype(backend):
    X = make_X(n_samples=6)
    w = np.array([1, 2, 0, 1, 3, 1])
    scaler = StandardScaler().fit(backend.asarray(X), sample_weight=backend.asarray(w))
    ref = sk.StandardScaler().fit(X, sample_weight=w)
    assert_allclose_xp(scaler.mean_, ref.mean_, rtol=1e-10)
    assert_allclose_xp(scaler.var_, ref.var_, rtol=1e-10)


# --------------------------------------------------------------------------- MinMaxScaler


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("feature_range", [(0, 1), (-1, 1), (-3.0, 0.5), (2, 10)])
@pytest.mark.parametrize("clip", [False, True])
def test_min_max_scaler_matches_sklearn(backend, dtype, feature_range, clip):
    _dtype_or_skip(backend, dtype)
    X = make_X(dtype=dtype)
    X_new = make_X(n_samples=9, seed=7, dtype=dtype) * 1.5  # partly outside the fit range
    ours = MinMaxScaler(feature_range=feature_range, clip=clip).fit(backend.asarray(X))
    ref = sk.MinMaxScaler(feature_range=feature_range, clip=clip).fit(X)
    tol = TOL[dtype]
    for name in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
        actual = getattr(ours, name)
        _check_dtype(actual, backend, dtype)
        assert_allclose_xp(actual, getattr(ref, name), **tol, err_msg=name)
    assert ours.n_samples_seen_ == ref.n_samples_seen_ == 40
    Xt = ours.transform(backend.asarray(X_new))
    _check_dtype(Xt, backend, dtype)
    expected = ref.transform(X_new)
    assert_allclose_xp(Xt, expected, **tol)
    low, high = feature_range
    if clip:
        Xt_np = to_numpy(Xt)
        assert Xt_np.min() >= low
        assert Xt_np.max() <= high
    else:
        assert to_numpy(Xt).min() < low or to_numpy(Xt).max() > high  # data was outside
    Xi = ours.inverse_transform(ours.transform(backend.asarray(X)))
    _check_dtype(Xi, backend, dtype)
    assert_allclose_xp(Xi, X, **tol)
    assert_allclose_xp(Xi, ref.inverse_transform(ref.transform(X)), **tol)
    # the training data maps onto the range exactly at the extremes
    Xt_train = to_numpy(ours.transform(backend.asarray(X)))
    np.testing.assert_allclose(Xt_train.min(axis=0), low, **tol)
    np.testing.assert_allclose(Xt_train.max(axis=0), high, **tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_min_max_scaler_constant_and_near_constant(backend, dtype):
    _dtype_or_skip(backend, dtype)
    X = make_X(n_samples=6, dtype=dtype)
    eps = np.finfo(dtype).eps
    X[:, 0] = 4.25  # constant
    X[:, 1] = np.array([1.0, 1.0 + eps, 1.0, 1.0, 1.0 + 2 * eps, 1.0], dtype=dtype)
    X[:, 2] = np.array([0.0, 1e-3, 0.0, 0.0, 2e-3, 0.0], dtype=dtype)  # small real range
    ours = MinMaxScaler().fit(backend.asarray(X))
    ref = sk.MinMaxScaler().fit(X)
    scale = to_numpy(ours.scale_)
    assert scale[0] == 1.0
    assert scale[1] == 1.0  # a range within rounding noise is treated as constant
    assert scale[2] == pytest.approx(500.0, rel=1e-5)
    assert_allclose_xp(ours.scale_, ref.scale_, **TOL[dtype])
    assert_allclose_xp(ours.min_, ref.min_, **TOL[dtype])
    Xt = to_numpy(ours.transform(backend.asarray(X)))
    assert np.all(np.isfinite(Xt))
    np.testing.assert_allclose(Xt, ref.transform(X), **TOL[dtype])


@pytest.mark.parametrize("feature_range", [(1, 0), (0.5, 0.5)])
def test_min_max_scaler_bad_feature_range(feature_range):
    scaler = MinMaxScaler(feature_range=feature_range)
    with pytest.raises(ValueError, match="minimum of the desired feature range") as info:
        scaler.fit(make_X())
    assert str(info.value).startswith("MinMaxScaler.fit(): ")
    with pytest.raises(ValueError, match=r"^MinMaxScaler.partial_fit\(\): minimum"):
        scaler.partial_fit(make_X())
    assert not hasattr(scaler, "n_features_in_")


def test_min_max_scaler_integer_input(backend):
    X = np.arange(20).reshape(10, 2) * np.array([1, 3])
    ours = MinMaxScaler().fit(backend.asarray(X))
    ref = sk.MinMaxScaler().fit(X)
    assert backend.xp.isdtype(ours.scale_.dtype, "real floating")
    assert_allclose_xp(ours.transform(backend.asarray(X)), ref.transform(X), rtol=1e-6)


# ---------------------------------------------------------------------------- partial_fit

BATCHES = [(0, 5), (5, 6), (6, 40)]  # uneven, with a single-row batch


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("with_mean", "with_std"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_standard_scaler_partial_fit_equals_fit(backend, weighted, with_mean, with_std):
    X = make_X()
    w = make_weights() if weighted else None
    params = {"with_mean": with_mean, "with_std": with_std}
    ours = StandardScaler(**params)
    ref = sk.StandardScaler(**params)
    for start, stop in BATCHES:
        batch_w = None if w is None else w[start:stop]
        returned = ours.partial_fit(
            backend.asarray(X[start:stop]), sample_weight=_maybe(backend, batch_w)
        )
        assert returned is ours
        ref.partial_fit(X[start:stop], sample_weight=batch_w)
    full = StandardScaler(**params).fit(backend.asarray(X), sample_weight=_maybe(backend, w))
    for name in ("mean_", "var_", "scale_"):
        actual, expected = getattr(ours, name), getattr(full, name)
        if expected is None:
            assert actual is None
            continue
        assert_on_backend(actual, backend)
        assert_allclose_xp(actual, expected, rtol=1e-10, atol=1e-12, err_msg=name)
        if getattr(ref, name) is not None:
            assert_allclose_xp(actual, getattr(ref, name), rtol=1e-10, atol=1e-12)
    assert ours.n_samples_seen_ == pytest.approx(full.n_samples_seen_, rel=1e-12)
    if with_mean or with_std or not weighted:
        # scikit-learn counts rows, not weights, when it computes neither statistic
        assert ours.n_samples_seen_ == pytest.approx(ref.n_samples_seen_, rel=1e-12)
    X_new = make_X(n_samples=5, seed=11)
    assert_allclose_xp(
        ours.transform(backend.asarray(X_new)), ref.transform(X_new), rtol=1e-9, atol=1e-12
    )


def test_min_max_scaler_partial_fit_equals_fit(backend):
    X = make_X()
    ours = MinMaxScaler(feature_range=(-2, 2))
    ref = sk.MinMaxScaler(feature_range=(-2, 2))
    for start, stop in BATCHES:
        assert ours.partial_fit(backend.asarray(X[start:stop])) is ours
        ref.partial_fit(X[start:stop])
    full = MinMaxScaler(feature_range=(-2, 2)).fit(backend.asarray(X))
    for name in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
        assert_on_backend(getattr(ours, name), backend)
        assert_allclose_xp(getattr(ours, name), getattr(full, name), rtol=0, err_msg=name)
        assert_allclose_xp(getattr(ours, name), getattr(ref, name), rtol=1e-12, atol=1e-14)
    assert ours.n_samples_seen_ == full.n_samples_seen_ == ref.n_samples_seen_ == 40


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_fit_forgets_partial_fit(cls):
    X = make_X()
    scaler = cls().partial_fit(X[:10] + 100.0)
    scaler.fit(X[10:])
    fresh = cls().fit(X[10:])
    assert scaler.n_samples_seen_ == 30
    np.testing.assert_allclose(scaler.scale_, fresh.scale_, rtol=1e-12)


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_partial_fit_after_fit_continues(cls):
    X = make_X()
    scaler = cls().fit(X[:25]).partial_fit(X[25:])
    full = cls().fit(X)
    assert scaler.n_samples_seen_ == 40
    np.testing.assert_allclose(scaler.scale_, full.scale_, rtol=1e-10)


def test_partial_fit_weighted_then_unweighted(backend):
    X = make_X()
    w = np.ones(40)
    w[:20] = make_weights(20)
    scaler = StandardScaler()
    scaler.partial_fit(backend.asarray(X[:20]), sample_weight=backend.asarray(w[:20]))
    scaler.partial_fit(backend.asarray(X[20:]))
    full = StandardScaler().fit(backend.asarray(X), sample_weight=backend.asarray(w))
    assert_allclose_xp(scaler.mean_, full.mean_, rtol=1e-10)
    assert_allclose_xp(scaler.var_, full.var_, rtol=1e-10)
    assert scaler.n_samples_seen_ == pytest.approx(w.sum())


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_partial_fit_batches_must_match_the_first(cls):
    torch = pytest.importorskip("torch")
    import array_api_strict

    X = make_X()
    scaler = cls().partial_fit(X[:10])
    name = cls.__name__
    with pytest.raises(ValueError, match=r"xplearn\.convert") as info:
        scaler.partial_fit(torch.asarray(X[10:20]))
    assert str(info.value).startswith(f"{name}.partial_fit(): X must use the same namespace")
    with pytest.raises(ValueError, match="X has 4 features") as info:
        scaler.partial_fit(X[10:20, :4])
    assert "expecting 5 features" in str(info.value)
    assert scaler.n_samples_seen_ == 10  # failed batches leave the state alone

    on_device = cls().partial_fit(array_api_strict.asarray(X[:10]))
    other = array_api_strict.asarray(X[10:], device=array_api_strict.Device("device1"))
    with pytest.raises(ValueError, match="device1"):
        on_device.partial_fit(other)


def test_standard_scaler_partial_fit_sample_weight_namespace():
    torch = pytest.importorskip("torch")
    X = make_X()
    scaler = StandardScaler().partial_fit(torch.asarray(X[:10]))
    with pytest.raises(ValueError, match="must use the same namespace"):
        scaler.partial_fit(torch.asarray(X[10:]), sample_weight=np.ones(30))
    with pytest.raises(ValueError, match=r"^StandardScaler.partial_fit\(\): sample_weight has"):
        scaler.partial_fit(torch.asarray(X[10:]), sample_weight=-torch.ones(30))


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_partial_fit_keeps_the_first_batch_dtype(backend, cls):
    X = make_X()
    scaler = cls().partial_fit(backend.asarray(X[:20].astype(np.float32)))
    scaler.partial_fit(backend.asarray(X[20:]))  # float64 batch: computed in float32
    assert scaler.scale_.dtype == backend.xp.float32
    scaler.partial_fit(backend.asarray(np.round(X[:3]).astype(np.int64)))
    assert scaler.scale_.dtype == backend.xp.float32
    assert scaler.n_samples_seen_ == 43


def test_partial_fit_mixed_accumulates_in_float64(backend):
    if not backend.has_float64:
        pytest.skip("no float64 on this device")
    X = make_X(n_samples=300, seed=4).astype(np.float32) + np.float32(1e4)
    scaler = StandardScaler(dtype_policy="mixed")
    for start in range(0, 300, 100):
        scaler.partial_fit(backend.asarray(X[start : start + 100]))
    assert scaler.mean_.dtype == backend.xp.float32
    ref = sk.StandardScaler().fit(X.astype(np.float64))
    assert_allclose_xp(scaler.mean_, ref.mean_, rtol=1e-6)
    assert_allclose_xp(scaler.var_, ref.var_, rtol=1e-5)


# ---------------------------------------------------------------------------- dtype policy


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
@pytest.mark.parametrize(
    ("input_dtype", "policy", "expected"),
    [
        ("float32", "preserve", "float32"),
        ("float64", "preserve", "float64"),
        ("float32", "float64", "float64"),
        ("float64", "float32", "float32"),
        ("float32", "mixed", "float32"),
        ("float64", "mixed", "float32"),
        ("int64", "float32", "float32"),
        ("int64", "mixed", "float32"),
    ],
)
def test_dtype_policy_cells(backend, cls, input_dtype, policy, expected):
    if "float64" in (input_dtype, expected) and not backend.has_float64:
        pytest.skip("no float64 on this device")
    X = make_X()
    X_in = X.astype(input_dtype) if input_dtype != "int64" else np.round(X).astype(np.int64)
    scaler = cls(dtype_policy=policy).fit(backend.asarray(X_in))
    for name in ("scale_", "mean_", "var_", "min_", "data_min_"):
        if hasattr(scaler, name):
            _check_dtype(getattr(scaler, name), backend, expected)
    assert scaler._fit_context[2] == getattr(backend.xp, expected)
    Xt = scaler.transform(backend.asarray(X_in))
    # float input keeps its precision under "preserve"; integers take the fitted dtype
    _check_dtype(Xt, backend, expected)
    reference = cls().fit(X_in.astype(np.float64))
    assert_allclose_xp(scaler.scale_, reference.scale_, rtol=1e-5)
    assert_allclose_xp(Xt, reference.transform(X_in.astype(np.float64)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_preserve_integers_use_the_default_float(backend, cls):
    X = np.round(make_X()).astype(np.int64)
    scaler = cls().fit(backend.asarray(X))
    default = backend.xp.__array_namespace_info__().default_dtypes(device=backend.device)[
        "real floating"
    ]
    assert scaler.scale_.dtype == default
    assert scaler.transform(backend.asarray(X)).dtype == default


def test_config_dtype_policy_is_the_default(backend):
    X = backend.asarray(make_X())
    with config_context(dtype_policy="float32"):
        scaler = StandardScaler().fit(X)
    assert scaler.mean_.dtype == backend.xp.float32
    explicit = StandardScaler(dtype_policy="preserve")
    with config_context(dtype_policy="float32"):
        explicit.fit(X)
    assert explicit.mean_.dtype == backend.xp.float64


def test_mixed_is_closer_to_float64_than_float32():
    X = (make_X(n_samples=2000, seed=2) * [1, 0.01, 100, 1, 1] + [1e4, 3, -5e3, 0, 0]).astype(
        np.float32
    )
    exact = sk.StandardScaler().fit(X.astype(np.float64))
    mixed = StandardScaler(dtype_policy="mixed").fit(X)
    single = StandardScaler(dtype_policy="float32").fit(X)
    assert mixed.mean_.dtype == np.float32
    assert mixed.var_.dtype == np.float32

    def error(model):
        return np.max(np.abs(model.var_ - exact.var_) / exact.var_)

    np.testing.assert_allclose(mixed.mean_, exact.mean_, rtol=1e-6)
    np.testing.assert_allclose(mixed.var_, exact.var_, rtol=1e-6)
    assert error(mixed) < error(single)


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_no_float64_device(no_float64, cls):
    xp, device = no_float64.xp, no_float64.device
    X = make_X().astype(np.float32)
    X_dev = xp.asarray(X, device=device)
    for policy in ("preserve", "float32", "mixed", None):
        scaler = cls(dtype_policy=policy).fit(X_dev)
        assert scaler.scale_.dtype == xp.float32
        assert scaler.scale_.device == device
        result = scaler.transform(X_dev)
        assert result.dtype == xp.float32
        assert_allclose_xp(
            result, cls().fit(X.astype(np.float64)).transform(X), rtol=1e-5, atol=1e-5
        )
    with pytest.raises(ValueError, match="does not support float64") as info:
        cls(dtype_policy="float64").fit(X_dev)
    assert str(info.value).startswith(f"{cls.__name__}.fit(): dtype_policy='float64'")
    assert "no_float64" in str(info.value)
    X_int = xp.asarray(np.round(X).astype(np.int64), device=device)
    assert cls().fit(X_int).scale_.dtype == xp.float32


def test_no_float64_partial_fit_and_weights(no_float64):
    xp, device = no_float64.xp, no_float64.device
    X = make_X().astype(np.float32)
    w = make_weights().astype(np.float32)
    scaler = StandardScaler(dtype_policy="mixed")
    for start, stop in BATCHES:
        scaler.partial_fit(
            xp.asarray(X[start:stop], device=device),
            sample_weight=xp.asarray(w[start:stop], device=device),
        )
    ref = sk.StandardScaler().fit(X.astype(np.float64), sample_weight=w.astype(np.float64))
    assert scaler.var_.dtype == xp.float32
    assert_allclose_xp(scaler.mean_, ref.mean_, rtol=1e-5, atol=1e-5)
    assert_allclose_xp(scaler.var_, ref.var_, rtol=1e-5)


# ------------------------------------------------------------------- property-based tests

BACKENDS = available_backends()
FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
MATRICES = st.tuples(st.integers(2, 30), st.integers(1, 6)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=FINITE)
)
SCALERS = [StandardScaler, MinMaxScaler]


def _atol(X):
    return 1e-9 * (1.0 + float(np.max(np.abs(X))))


@pytest.mark.parametrize("hyp_backend", BACKENDS, ids=[b.id for b in BACKENDS])
@pytest.mark.parametrize("cls", SCALERS)
@given(X=MATRICES)
def test_property_inverse_transform_round_trip(hyp_backend, cls, X):
    X_b = hyp_backend.asarray(X)
    scaler = cls().fit(X_b)
    back = scaler.inverse_transform(scaler.transform(X_b))
    assert_on_backend(back, hyp_backend)
    assert_allclose_xp(back, X, rtol=1e-9, atol=_atol(X))


@pytest.mark.parametrize("cls", SCALERS)
@given(X=MATRICES, data=st.data())
def test_property_fit_is_invariant_to_row_order(cls, X, data):
    order = data.draw(st.permutations(range(X.shape[0])))
    a = cls().fit(X)
    b = cls().fit(X[list(order)])
    if cls is MinMaxScaler:
        for name in ("min_", "scale_", "data_min_", "data_max_"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        return
    magnitude = 1.0 + float(np.max(np.abs(X)))
    np.testing.assert_allclose(a.mean_, b.mean_, rtol=1e-12, atol=1e-12 * magnitude)
    np.testing.assert_allclose(a.var_, b.var_, rtol=1e-9, atol=1e-12 * magnitude**2)
    # the scale of a feature is the same unless its variance is at the rounding level,
    # where either order may call it constant
    clear = a.var_ > 1e-9 * magnitude**2
    np.testing.assert_allclose(a.scale_[clear], b.scale_[clear], rtol=1e-9)


@pytest.mark.parametrize("hyp_backend", BACKENDS, ids=[b.id for b in BACKENDS])
@pytest.mark.parametrize("cls", SCALERS)
@given(X=MATRICES)
def test_property_inputs_unchanged(hyp_backend, cls, X):
    original = X.copy()
    X_b = hyp_backend.asarray(X)
    scaler = cls().fit(X_b)
    Xt = scaler.transform(X_b)
    scaler.inverse_transform(Xt)
    scaler.partial_fit(X_b)
    np.testing.assert_array_equal(X, original)
    np.testing.assert_array_equal(to_numpy(X_b), original)


@given(X=MATRICES, data=st.data())
def test_property_partial_fit_any_split_equals_fit(X, data):
    n = X.shape[0]
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=3)))
    bounds = [0, *cuts, n]
    w = data.draw(arrays(np.float64, n, elements=st.floats(0.5, 4.0)))
    standard = StandardScaler()
    minmax = MinMaxScaler()
    for start, stop in itertools.pairwise(bounds):
        standard.partial_fit(X[start:stop], sample_weight=w[start:stop])
        minmax.partial_fit(X[start:stop])
    full = StandardScaler().fit(X, sample_weight=w)
    magnitude = 1.0 + float(np.max(np.abs(X)))
    np.testing.assert_allclose(standard.mean_, full.mean_, rtol=1e-9, atol=1e-11 * magnitude)
    np.testing.assert_allclose(standard.var_, full.var_, rtol=1e-7, atol=1e-10 * magnitude**2)
    assert standard.n_samples_seen_ == pytest.approx(w.sum(), rel=1e-12)
    full_minmax = MinMaxScaler().fit(X)
    np.testing.assert_array_equal(minmax.data_min_, full_minmax.data_min_)
    np.testing.assert_array_equal(minmax.data_max_, full_minmax.data_max_)
    np.testing.assert_array_equal(minmax.scale_, full_minmax.scale_)


# ----------------------------------------------------------------- numerical accuracy
#
# Oracle: exactly rounded sums (math.fsum) of the input values in float64, two-pass
# around the exact mean, on data scaled by a power of two where squares would leave
# float64 (the scaling is exact), and scikit-learn on the same float32 data.

F32_ULP = 2.0**-23


def _exact_moments(X, weights=None):
    """Column means and (ddof=0) variances of X's values, from exactly rounded sums."""
    X = np.asarray(X, dtype=np.float64)
    weights = np.ones(X.shape[0]) if weights is None else np.asarray(weights, np.float64)
    total = math.fsum(weights)
    means, variances = [], []
    for column in X.T:
        top = float(np.max(np.abs(column)))
        scale = 2.0 ** math.floor(math.log2(top)) if top > 0 else 1.0
        scaled = column / scale
        # around the first value (exact differences here): a constant column gets
        # exactly its value and 0, whatever the rounding of the weighted mean
        shifted = scaled - scaled[0]
        mean = math.fsum(weights * shifted) / total
        deviations = shifted - mean
        means.append((scaled[0] + mean) * scale)
        # variance = scale**2 * scaled variance, kept as its square root to stay finite
        variances.append((math.fsum(weights * deviations * deviations) / total, scale))
    return np.array(means), variances


def _exact_std(variances):
    return np.array([math.sqrt(v) * s for v, s in variances])


def _exact_var(variances):
    return np.array([v * s * s for v, s in variances])


def _hard_X(offset, dtype, n_samples=3000, seed=0):
    """Columns of mixed scale around ``offset`` (a few ulps to 1e3 of its magnitude),
    with exact duplicate rows and a constant column."""
    rng = np.random.default_rng(seed)
    spreads = np.array([1.0, 1e-2, 30.0, 1e3, 0.0]) * max(1.0, offset * 1e-6)
    X = offset + rng.normal(size=(n_samples, 5)) * spreads
    X[::7] = X[1::7][: X[::7].shape[0]]  # exact duplicates
    X = X.astype(dtype)
    X[:, 4] = dtype(offset)
    return X


@pytest.mark.parametrize("offset", [1e2, 1e4, 1e6, 1e8])
@pytest.mark.parametrize("weighted", [False, True])
def test_standard_scaler_float32_statistics_exact_far_from_the_origin(backend, offset, weighted):
    """float32 in, float32 out, float64 sums: mean_ and var_ are the exact statistics
    of the float32 values rounded once to float32 (the old float32 sums: var_ off by
    5e-5 at 1e4), and scale_ agrees with scikit-learn on the same float32 data."""
    if not backend.has_float64:
        pytest.skip("float32 accumulation on this device: see the no-float64 tests")
    X = _hard_X(offset, np.float32)
    w = make_weights(X.shape[0], seed=3) if weighted else None
    ours = StandardScaler().fit(backend.asarray(X), sample_weight=_maybe(backend, w))
    _check_dtype(ours.var_, backend, "float32")
    mean, variances = _exact_moments(X, w)
    # one rounding to float32 (half an ulp), plus the float64 sums' error (negligible)
    assert_allclose_xp(ours.mean_, mean, rtol=F32_ULP)
    assert_allclose_xp(ours.var_, _exact_var(variances), rtol=F32_ULP, atol=0)
    ref = sk.StandardScaler().fit(X, sample_weight=w)
    assert_allclose_xp(ours.scale_, ref.scale_, rtol=2 * F32_ULP)
    assert to_numpy(ours.scale_)[4] == 1.0  # the constant column
    Xt = to_numpy(ours.transform(backend.asarray(X))).astype(np.float64)
    varying = np.ptp(X, axis=0) > 0  # at 1e8 the 1e-2 spread rounds away in float32
    _, transformed = _exact_moments(Xt[:, varying], w)
    np.testing.assert_allclose(_exact_std(transformed), 1.0, rtol=1e-5)


@pytest.mark.parametrize("policy", ["preserve", "mixed"])
def test_standard_scaler_same_statistics_on_every_backend(backend, policy):
    """NumPy's numba pass and every array-API path give the same float32 statistics
    (each the exact value rounded to float32, so equal to one float32 rounding)."""
    if not backend.has_float64:
        pytest.skip("no float64 on this device")
    X = _hard_X(1e4, np.float32, seed=5)
    reference = StandardScaler(dtype_policy=policy).fit(X)
    ours = StandardScaler(dtype_policy=policy).fit(backend.asarray(X))
    for name in ("mean_", "var_", "scale_"):
        assert_allclose_xp(getattr(ours, name), getattr(reference, name), rtol=F32_ULP)


EXTREME_F32 = [1e20, 1e30, 1e-20, 1e-30]
EXTREME_F64 = [1e150, 1e200, 1e250, 1e-150, 1e-200, 1e-250]


def _extreme_X(magnitude, dtype, offset, n_samples=500, seed=0):
    """Columns of the given magnitude: centred (spread = magnitude), offset by 30 times
    the spread, tiny spread far out, and constant."""
    rng = np.random.default_rng(seed)
    columns = [
        rng.normal(size=n_samples) * magnitude,
        (30.0 + rng.normal(size=n_samples)) * magnitude if offset else rng.normal(size=n_samples),
        magnitude * (1.0 + rng.uniform(size=n_samples) * 1e-3),
        np.full(n_samples, magnitude),
    ]
    return np.stack(columns, axis=1).astype(dtype)


@pytest.mark.parametrize(
    ("magnitude", "dtype"),
    [(m, "float32") for m in EXTREME_F32] + [(m, "float64") for m in EXTREME_F64],
)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("policy", ["preserve", "float32"])
def test_standard_scaler_extreme_magnitudes(backend, magnitude, dtype, weighted, policy):
    """Shifted and scaled statistics: at 1e20 in float32 (1e200 in float64) the squares
    leave the range, at 1e-20 (1e-200) they underflow; scale_ is still exact, var_ is
    exact where the variance is representable in the stored dtype (inf beyond), no
    feature is mistaken for a constant, and the transform has unit variance. No
    floating-point warning escapes (the suite turns them into errors)."""
    _dtype_or_skip(backend, dtype)
    if policy == "float32" and dtype == "float64":
        pytest.skip("float64 data under 'float32' is float32 data")
    X = _extreme_X(magnitude, getattr(np, dtype), offset=True)
    w = make_weights(X.shape[0], seed=4) if weighted else None
    ours = StandardScaler(dtype_policy=policy).fit(
        backend.asarray(X), sample_weight=_maybe(backend, w)
    )
    mean, variances = _exact_moments(X, w)
    # float32 sums (policy "float32", devices without float64) are compensated:
    # bound (log2(n) + 7) u on the variance, half that on the standard deviation
    accumulates_in_float32 = policy == "float32" or not backend.has_float64
    # float64: the third column (spread 1e-3 of its mean) has condition number ~3e3
    rtol = 2e-6 if accumulates_in_float32 else 2 * F32_ULP if dtype == "float32" else 1e-12
    std = _exact_std(variances)
    scale = to_numpy(ours.scale_).astype(np.float64)
    np.testing.assert_allclose(scale[:3], std[:3], rtol=rtol)
    assert scale[3] == 1.0  # constant
    np.testing.assert_allclose(to_numpy(ours.mean_), mean, rtol=rtol, atol=0)
    var = to_numpy(ours.var_).astype(np.float64)
    exact_var = _exact_var(variances)
    largest, tiny = np.finfo(dtype).max, np.finfo(dtype).smallest_normal
    representable = (exact_var < largest) & (exact_var > tiny)
    np.testing.assert_allclose(var[representable], exact_var[representable], rtol=2 * rtol)
    assert np.all(np.isinf(var[exact_var >= largest]))
    Xt = to_numpy(ours.transform(backend.asarray(X))).astype(np.float64)
    assert np.all(np.isfinite(Xt))
    _, transformed = _exact_moments(Xt[:, :3], w)
    np.testing.assert_allclose(_exact_std(transformed), 1.0, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standard_scaler_constant_rule_is_scikit_learns(backend, dtype):
    """Near-constant features are constant exactly where scikit-learn says so (its
    ``_is_constant_feature`` on float64 sums), on the same float32/float64 data."""
    if not backend.has_float64:
        pytest.skip("no float64 on this device")
    rng = np.random.default_rng(2)
    n = 400
    columns = [
        1e5 + rng.normal(size=n) * 1e-12,  # rounding noise of 1e5 (float64)
        5.0 + rng.normal(size=n) * 1e-4,
        1.0 + rng.normal(size=n) * 1e-9,
        np.where(np.arange(n) == 3, 1.0 + 2.0**-20, 1.0),  # one value an ulp-ish off
        np.where(np.arange(n) % 2 == 0, 7.0, 7.0 + 7.0 * 2.0**-23),  # float32 ulp of 7
        np.full(n, 3.7),
    ]
    X = np.stack(columns, axis=1).astype(dtype)
    ours = StandardScaler().fit(backend.asarray(X))
    ref = sk.StandardScaler().fit(X)
    np.testing.assert_array_equal(to_numpy(ours.scale_) == 1.0, ref.scale_ == 1.0)
    # rtol: the columns' condition numbers |mean| / std reach 1e9
    assert_allclose_xp(ours.scale_, ref.scale_, rtol=1e-6)


def test_standard_scaler_no_float64_device_accumulates_compensated(no_float64):
    """Without float64, float32 sums are shifted, scaled and compensated: on data at
    1e4..1e8 the variances stay within the stated bound (log2(n) + 7) u, u = 2**-24,
    where plain float32 sums lose up to 5e-5; weighted and partial_fit alike."""
    xp, device = no_float64.xp, no_float64.device
    n = 4000
    bound = (math.log2(n) + 7) * 2.0**-24
    for offset in (1e4, 1e6, 1e8):
        X = _hard_X(offset, np.float32, n_samples=n, seed=int(math.log10(offset)))
        w = make_weights(n, seed=2).astype(np.float32)
        for weights in (None, w):
            scaler = StandardScaler().fit(
                xp.asarray(X, device=device),
                sample_weight=None if weights is None else xp.asarray(weights, device=device),
            )
            mean, variances = _exact_moments(X, weights)
            exact = _exact_var(variances)
            var = to_numpy(scaler.var_).astype(np.float64)
            np.testing.assert_allclose(var[:4], exact[:4], rtol=bound + F32_ULP)
            assert var[4] == 0.0
            np.testing.assert_allclose(to_numpy(scaler.mean_), mean, rtol=2 * F32_ULP)
    # partial_fit merges around the stored float32 mean, whose rounding (u |mean|)
    # enters the merge term: near the origin the bound holds, far out it grows as
    # u |mean| / std (documented)
    X = _hard_X(0.0, np.float32, n_samples=n, seed=1)
    batches = StandardScaler()
    for start in range(0, n, 1000):
        batches.partial_fit(xp.asarray(X[start : start + 1000], device=device))
    _, variances = _exact_moments(X)
    assert_allclose_xp(batches.var_[:4], _exact_var(variances)[:4], rtol=2 * bound)


@pytest.mark.parametrize(("magnitude", "dtype"), [(1e20, np.float32), (1e200, np.float64)])
def test_standard_scaler_partial_fit_extreme_magnitudes(backend, magnitude, dtype):
    """Batches merged in scaled form: partial_fit at 1e20 (float32) / 1e200 (float64),
    where var_ itself is not representable, equals the exact statistics."""
    _dtype_or_skip(backend, dtype.__name__)
    X = _extreme_X(magnitude, dtype, offset=True, n_samples=600)
    scaler = StandardScaler()
    for start, stop in [(0, 1), (1, 250), (250, 600)]:
        scaler.partial_fit(backend.asarray(X[start:stop]))
    mean, variances = _exact_moments(X)
    # float64: the third column's condition number |mean| / std is ~3e3
    rtol = 2e-6 if not backend.has_float64 else 4 * F32_ULP if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(to_numpy(scaler.scale_)[:3], _exact_std(variances)[:3], rtol=rtol)
    np.testing.assert_allclose(to_numpy(scaler.mean_), mean, rtol=rtol)
    assert to_numpy(scaler.scale_)[3] == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_min_max_scaler_extreme_magnitudes(backend, dtype):
    """Values of opposite signs near the dtype's maximum (their range overflows), and
    tiny ones: scale_ finite and exact, data_range_ inf only where the range is not
    representable, the transform inside feature_range."""
    if dtype == np.float64 and not backend.has_float64:
        pytest.skip("no float64 on this device")
    big = float(np.finfo(dtype).max) * 0.9
    tiny = 1e-30 if dtype == np.float32 else 1e-250
    X = np.array([[-big, tiny, 1.0], [big, 3 * tiny, 1.0], [0.5 * big, 2 * tiny, 1.0]], dtype=dtype)
    for feature_range in [(0, 1), (-3.0, 5.0)]:
        low, high = feature_range
        ours = MinMaxScaler(feature_range=feature_range).fit(backend.asarray(X))
        scale = to_numpy(ours.scale_).astype(np.float64)
        # halves: the range of the first column exceeds even float64 for float64 data
        half_range = X.astype(np.float64).max(0) / 2 - X.astype(np.float64).min(0) / 2
        np.testing.assert_allclose(scale[:2], (high - low) / 2 / half_range[:2], rtol=1e-6)
        assert scale[2] == high - low  # constant
        data_range = to_numpy(ours.data_range_).astype(np.float64)
        assert np.isinf(data_range[0])  # 1.8 * max: not representable
        np.testing.assert_allclose(data_range[1], 2 * half_range[1], rtol=1e-6)
        Xt = to_numpy(ours.transform(backend.asarray(X))).astype(np.float64)
        assert np.all(np.isfinite(Xt))
        np.testing.assert_allclose(Xt[:, :2].min(0), low, atol=1e-5 * (high - low))
        np.testing.assert_allclose(Xt[:, :2].max(0), high, atol=1e-5 * (high - low))


def test_min_max_scaler_relative_constant_rule(backend):
    """A range within 10 eps of the values' magnitude is constant (the rounding noise
    of 1e5 is not scaled up); a small range near 0 is real and scaled."""
    X = np.stack(
        [1e5 + np.array([0.0, 1e-11, 2e-11, 0.0]), np.array([0.0, 1e-17, 2e-17, 0.0])], axis=1
    )
    ours = MinMaxScaler().fit(backend.asarray(X))
    scale = to_numpy(ours.scale_)
    assert scale[0] == 1.0
    np.testing.assert_allclose(scale[1], 1 / 2e-17, rtol=1e-12)


# ----------------------------------------------------- parameters and failed refits


@pytest.mark.parametrize(
    ("cls", "params", "sklearn_rejects"),
    [
        (StandardScaler, {"with_mean": "yes"}, True),
        (StandardScaler, {"with_std": 1}, True),
        (StandardScaler, {"copy": "False"}, True),
        (MinMaxScaler, {"clip": "no"}, True),
        (MinMaxScaler, {"copy": None}, True),
        (MinMaxScaler, {"feature_range": [0, 1]}, True),
        # scikit-learn fails later here (unpacking, arithmetic), not in its validation
        (MinMaxScaler, {"feature_range": (0, 1, 2)}, False),
        (MinMaxScaler, {"feature_range": ("a", "b")}, False),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_invalid_parameters_raise_scikit_learns_error(cls, params, sklearn_rejects, method):
    from sklearn.utils._param_validation import InvalidParameterError

    X = make_X()
    with pytest.raises(InvalidParameterError, match=rf"^{cls.__name__}\.{method}\(\): ") as info:
        getattr(cls(**params), method)(X)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)
    if sklearn_rejects:  # with the same exception type
        with pytest.raises(InvalidParameterError):
            getattr(getattr(sk, cls.__name__)(**params), method)(X)


@pytest.mark.parametrize(
    "feature_range", [(1, 0), (0, 0), (0.0, float("inf")), (float("nan"), 1.0), (-1e308, 1e308)]
)
def test_min_max_scaler_feature_range_values(feature_range):
    with pytest.raises(ValueError, match=r"^MinMaxScaler\.fit\(\): "):
        MinMaxScaler(feature_range=feature_range).fit(make_X())


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_failed_refit_leaves_the_previous_model_intact(backend, cls, method):
    X = make_X()
    scaler = cls().fit(backend.asarray(X))
    before = {
        name: to_numpy(value) if hasattr(value, "shape") else value
        for name, value in vars(scaler).items()
        if name.endswith("_") and not name.startswith("__")
    }
    context = scaler._fit_context
    bad = make_X(n_samples=10, seed=3)
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.{method}\(\)"):
        getattr(scaler, method)(backend.asarray(bad))
    bad_params = cls(copy="no")
    with pytest.raises(ValueError):
        bad_params.fit(backend.asarray(X))
    assert not hasattr(bad_params, "n_features_in_")
    after = {
        name: to_numpy(value) if hasattr(value, "shape") else value
        for name, value in vars(scaler).items()
        if name.endswith("_") and not name.startswith("__")
    }
    assert after.keys() == before.keys()
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)
    assert scaler._fit_context == context
    expected = cls().fit(X).transform(X)
    assert_allclose_xp(scaler.transform(backend.asarray(X)), expected, rtol=1e-12, atol=1e-12)
