"""StandardScaler and MinMaxScaler fitted on Dask arrays: one pass, statistics in memory."""

import math
import warnings

import numpy as np
import pytest
from sklearn import preprocessing as sklearn_preprocessing

from xplearn.preprocessing import MinMaxScaler, StandardScaler
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")

#: Uneven row blocks (one of them empty) and split columns.
CHUNKS = ((700, 0, 550, 750), (3, 3))
STANDARD_ATTRIBUTES = ("mean_", "var_", "scale_")
MINMAX_ATTRIBUTES = ("data_min_", "data_max_", "data_range_", "scale_", "min_")


def _data(dtype, seed=0):
    """(2000, 6) values far from the origin, with a constant column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2000, 6)) * [1.0, 3.0, 0.5, 2.0, 1.0, 7.0] + [
        100.0,
        -4.0,
        0.0,
        7.0,
        1.0,
        2,
    ]
    X[:, 4] = 3.7
    weights = rng.uniform(0.0, 3.0, size=2000)
    return X.astype(dtype), weights.astype(dtype)


def _lazy(X, weights=None):
    lazy_weights = None if weights is None else da.from_array(weights, chunks=(CHUNKS[0],))
    return da.from_array(X, chunks=CHUNKS), lazy_weights


#: Computations the validation of Dask sample weights makes (sum and minimum together)
WEIGHT_CHECKS = 1


def _rtol(dtype):
    # float32: the in-memory fit accumulates in float32, the blocks' moments in float64
    return 1e-4 if dtype == np.float32 else 1e-10


def _atol(dtype):
    # for statistics near 0 (a mean of a centered column)
    return 1e-5 if dtype == np.float32 else 1e-12


def _assert_in_memory(model, names):
    for name in names:
        value = getattr(model, name)
        assert isinstance(value, da.Array), name
        # a small in-memory array, not a graph over the training data
        assert len(value.__dask_graph__().layers) == 1, name


def _assert_same(got, expected, names, rtol, atol=0.0):
    for name in names:
        value, reference = getattr(got, name), getattr(expected, name)
        if reference is None:
            assert value is None, name
            continue
        value = np.asarray(value)
        assert value.dtype == reference.dtype, name
        np.testing.assert_allclose(value, reference, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_standard_scaler_fit_on_dask_equals_numpy_in_one_computation(dtype, weighted):
    X, weights = _data(dtype)
    weights = weights if weighted else None
    X_lazy, lazy_weights = _lazy(X, weights)
    expected = StandardScaler().fit(X, sample_weight=weights)
    with count_dask_computes() as counter:
        got = StandardScaler().fit(X_lazy, sample_weight=lazy_weights)
    # one pass (X's finiteness checked inside it), plus the weights' own validation
    weight_checks = 0 if weights is None else WEIGHT_CHECKS
    assert counter.count == 1 + weight_checks
    _assert_in_memory(got, STANDARD_ATTRIBUTES)
    _assert_same(got, expected, STANDARD_ATTRIBUTES, _rtol(dtype), _atol(dtype))
    np.testing.assert_allclose(got.n_samples_seen_, expected.n_samples_seen_, rtol=_rtol(dtype))
    assert type(got.n_samples_seen_) is type(expected.n_samples_seen_)
    assert np.asarray(got.scale_)[4] == 1.0  # the constant column
    # the dask-fitted model transforms as the NumPy one
    transformed = got.transform(X_lazy)
    assert isinstance(transformed, da.Array)
    np.testing.assert_allclose(
        transformed.compute(), expected.transform(X), rtol=_rtol(dtype), atol=_rtol(dtype)
    )


def _exact_moments(X, weights):
    """Weighted column means and (ddof=0) variances by exactly rounded sums (math.fsum),
    two-pass around the exact mean: the oracle."""
    X = np.asarray(X, dtype=np.float64)
    weights = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    total = math.fsum(weights)
    means, variances = [], []
    for column in X.T:
        mean = math.fsum(weights * column) / total
        variances.append(math.fsum(weights * (column - mean) ** 2) / total)
        means.append(mean)
    return np.array(means), np.array(variances)


@pytest.mark.parametrize("weighted", [False, True])
def test_standard_scaler_fit_on_dask_equals_scikit_learn(weighted):
    X, weights = _data(np.float64)
    weights = weights if weighted else None
    got = StandardScaler().fit(*_lazy(X), sample_weight=_lazy(X, weights)[1])
    mean, variance = _exact_moments(X, weights)
    np.testing.assert_allclose(np.asarray(got.mean_), mean, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(got.var_), variance, rtol=1e-12, atol=1e-25)
    constant = np.ptp(X, axis=0) == 0  # the exact mean of 3.7 is not a double
    np.testing.assert_allclose(np.asarray(got.scale_), np.where(constant, 1.0, variance**0.5))
    # scikit-learn's weighted variance of the constant column comes out as a tiny
    # negative number with some BLAS kernels (OpenBLAS on AVX-512), with a
    # RuntimeWarning that depends on that rounding: the comparison must not depend on it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = sklearn_preprocessing.StandardScaler().fit(X, sample_weight=weights)
    for name in ("mean_", "scale_"):
        np.testing.assert_allclose(np.asarray(getattr(got, name)), getattr(expected, name))
    np.testing.assert_allclose(np.asarray(got.var_), expected.var_, rtol=1e-7, atol=1e-20)


@pytest.mark.parametrize(("with_mean", "with_std"), [(True, False), (False, True), (False, False)])
def test_standard_scaler_options_on_dask(with_mean, with_std):
    X, _ = _data(np.float64)
    X_lazy, _ = _lazy(X)
    expected = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    with count_dask_computes() as counter:
        got = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X_lazy)
    # without statistics there is no pass: X's finiteness is checked on its own
    assert counter.count == 1
    _assert_same(got, expected, STANDARD_ATTRIBUTES, 1e-10)
    assert got.n_samples_seen_ == expected.n_samples_seen_
    np.testing.assert_allclose(got.transform(X_lazy).compute(), expected.transform(X), rtol=1e-10)


@pytest.mark.parametrize(
    ("dtype", "policy"),
    [(np.float32, None), (np.float64, None), (np.float32, "mixed")],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_standard_scaler_partial_fit_on_dask_merges_as_in_memory(dtype, policy, weighted):
    X, weights = _data(dtype)
    batches = [slice(0, 1250), slice(1250, 2000)]
    expected = StandardScaler(dtype_policy=policy)
    got = StandardScaler(dtype_policy=policy)
    for index, rows in enumerate(batches):
        batch_weights = weights[rows] if weighted else None
        expected.partial_fit(X[rows], sample_weight=batch_weights)
        X_lazy = da.from_array(X[rows], chunks=(400, 6))
        lazy_weights = None if batch_weights is None else da.from_array(batch_weights, chunks=400)
        with count_dask_computes() as counter:
            got.partial_fit(X_lazy, sample_weight=lazy_weights)
        # the pass, and from the second batch on the running statistics read back
        weight_checks = 0 if lazy_weights is None else WEIGHT_CHECKS
        assert counter.count == 1 + index + weight_checks
    _assert_in_memory(got, STANDARD_ATTRIBUTES)
    _assert_same(got, expected, STANDARD_ATTRIBUTES, _rtol(dtype), _atol(dtype))
    np.testing.assert_allclose(got.n_samples_seen_, expected.n_samples_seen_, rtol=_rtol(dtype))
    if policy == "mixed":
        residual = np.asarray(got._mean_residual)
        assert residual.dtype == np.float32
        np.testing.assert_allclose(
            np.asarray(got.mean_, dtype=np.float64) + residual,
            np.asarray(expected.mean_, dtype=np.float64) + expected._mean_residual,
            rtol=1e-10,
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("feature_range", [(0, 1), (-1.0, 2.5)])
def test_minmax_scaler_fit_on_dask_equals_numpy_in_one_computation(dtype, feature_range):
    X, _ = _data(dtype)
    X_lazy, _ = _lazy(X)
    expected = MinMaxScaler(feature_range=feature_range).fit(X)
    with count_dask_computes() as counter:
        got = MinMaxScaler(feature_range=feature_range).fit(X_lazy)
    assert counter.count == 1  # one pass, X's finiteness checked inside it
    _assert_in_memory(got, MINMAX_ATTRIBUTES)
    # the extremes are exact; the rest is the same arithmetic on them
    _assert_same(got, expected, MINMAX_ATTRIBUTES, 0.0)
    assert got.n_samples_seen_ == expected.n_samples_seen_ == X.shape[0]
    np.testing.assert_array_equal(got.transform(X_lazy).compute(), expected.transform(X))
    if dtype == np.float64:
        reference = sklearn_preprocessing.MinMaxScaler(feature_range=feature_range).fit(X)
        for name in MINMAX_ATTRIBUTES:
            np.testing.assert_allclose(np.asarray(getattr(got, name)), getattr(reference, name))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minmax_scaler_partial_fit_on_dask_merges_as_in_memory(dtype):
    X, _ = _data(dtype)
    expected, got = MinMaxScaler(), MinMaxScaler()
    for index, rows in enumerate([slice(0, 900), slice(900, 2000)]):
        expected.partial_fit(X[rows])
        with count_dask_computes() as counter:
            got.partial_fit(da.from_array(X[rows], chunks=(300, 6)))
        # the pass, and from the second batch on the seen extremes read back
        assert counter.count == 1 + index
    _assert_in_memory(got, MINMAX_ATTRIBUTES)
    _assert_same(got, expected, MINMAX_ATTRIBUTES, 0.0)
    assert got.n_samples_seen_ == expected.n_samples_seen_


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize(
    ("estimator", "method"),
    [
        (StandardScaler, "fit"),
        (StandardScaler, "partial_fit"),
        (MinMaxScaler, "fit"),
        (MinMaxScaler, "partial_fit"),
    ],
)
def test_non_finite_value_in_one_block_raises_naming_the_method(estimator, method, bad):
    X, _ = _data(np.float64)
    X[1500, 2] = bad  # in the third (non-empty) row block
    X_lazy, _ = _lazy(X)
    with pytest.raises(ValueError, match=rf"{estimator.__name__}\.{method}\(\): .*X"):
        getattr(estimator(), method)(X_lazy)


@pytest.mark.parametrize("offset", [1e2, 1e4, 1e8])
@pytest.mark.parametrize("weighted", [False, True])
def test_standard_scaler_on_dask_float32_far_from_the_origin_is_exact(offset, weighted):
    """Uneven blocks, one empty: the float32 statistics are the exact ones rounded to
    float32, as in memory (same values on both paths to one float32 rounding)."""
    X, weights = _data(np.float32)
    X = (X.astype(np.float64) + offset).astype(np.float32)
    weights = weights if weighted else None
    got = StandardScaler().fit(*_lazy(X), sample_weight=_lazy(X, weights)[1])
    mean, variance = _exact_moments(X, weights)
    constant = np.ptp(X, axis=0) == 0
    ulp = 2.0**-23
    np.testing.assert_allclose(np.asarray(got.mean_), mean, rtol=ulp)
    np.testing.assert_allclose(np.asarray(got.var_)[~constant], variance[~constant], rtol=ulp)
    in_memory = StandardScaler().fit(X, sample_weight=weights)
    for name in STANDARD_ATTRIBUTES:
        np.testing.assert_allclose(
            np.asarray(getattr(got, name)), getattr(in_memory, name), rtol=ulp, err_msg=name
        )


@pytest.mark.parametrize("magnitude", [1e200, 1e-200])
def test_standard_scaler_on_dask_float64_out_of_range_takes_a_second_pass(magnitude):
    """float64 squares beyond the range: the flagged columns are redone on X divided by
    powers of two (a second computation only then); scale_ exact, var_ inf only where
    the variance is not representable."""
    X, _ = _data(np.float64)
    X = X * magnitude
    with count_dask_computes() as counter:
        got = StandardScaler().fit(_lazy(X)[0])
    assert counter.count == 2
    scaled = X / magnitude
    mean, variance = _exact_moments(scaled, None)
    np.testing.assert_allclose(np.asarray(got.mean_), mean * magnitude, rtol=1e-13)
    constant = np.ptp(X, axis=0) == 0
    expected_scale = np.where(constant, 1.0, np.sqrt(variance) * magnitude)
    np.testing.assert_allclose(np.asarray(got.scale_), expected_scale, rtol=1e-13)
    var = np.asarray(got.var_)
    if magnitude > 1:
        assert np.all(np.isinf(var[~constant]))
    Xt = got.transform(_lazy(X)[0]).compute()
    np.testing.assert_allclose(Xt.std(axis=0)[~constant], 1.0, rtol=1e-12)
    # ordinary float64 data, with its constant column: one computation
    with count_dask_computes() as counter:
        StandardScaler().fit(_lazy(_data(np.float64)[0])[0])
    assert counter.count == 1


@pytest.mark.parametrize("estimator", [StandardScaler, MinMaxScaler])
def test_failed_refit_on_dask_leaves_the_previous_model_intact(estimator):
    """A NaN found during the pass (after validation recorded the new input) must not
    leave a half-updated model."""
    X, _ = _data(np.float64)
    model = estimator().fit(_lazy(X)[0])
    before = {name: np.asarray(value) for name, value in vars(model).items() if name[-1] == "_"}
    bad = X[:, :3].copy()
    bad[1500, 2] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        model.fit(da.from_array(bad, chunks=(CHUNKS[0], (3,))))
    assert model.n_features_in_ == 6
    for name, value in before.items():
        np.testing.assert_array_equal(np.asarray(getattr(model, name)), value, err_msg=name)
