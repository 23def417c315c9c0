"""PCA on Dask arrays over row blocks: one computation for the exact solvers (a
tall-and-skinny QR), ``n_iter + 2`` for the randomized one, equal to the NumPy fit."""

import numpy as np
import pytest
from sklearn.decomposition import PCA as SkPCA

from xplearn.decomposition import PCA
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")

ATTRIBUTES = [
    "components_",
    "explained_variance_",
    "explained_variance_ratio_",
    "singular_values_",
    "mean_",
    "noise_variance_",
]
# uneven row blocks, one of them empty, and split columns
CHUNKS = ((700, 0, 550, 750), (3, 3))
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def _data(dtype, n_samples=2000, n_features=6, decay=0.6, offset=1e3, seed=0):
    """Rotated Gaussian data with a clear spectral gap, far from the origin (where
    E[x^2] - E[x]^2 would cancel)."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    scales = 4.0 * decay ** np.arange(n_features)
    X = (rng.standard_normal((n_samples, n_features)) * scales) @ rotation.T
    return (X + offset + rng.uniform(-3.0, 3.0, n_features)).astype(dtype)


def _tolerances(dtype, reference):
    """rtol and an atol scaled to the attribute (entries near zero)."""
    scale = max(float(np.max(np.abs(reference))) if np.size(reference) else 1.0, 1.0)
    if dtype == np.float64:
        return 1e-10, 1e-10 * scale
    return 1e-4, 1e-4 * scale


def _assert_same_fit(got, expected, dtype):
    """Every fitted attribute equal, each a small in-memory Dask array of the data's
    dtype."""
    assert got.n_components_ == expected.n_components_
    assert got.n_samples_ == expected.n_samples_
    assert got.n_features_in_ == expected.n_features_in_
    for name in ATTRIBUTES:
        value = getattr(got, name)
        assert isinstance(value, da.Array), name
        assert len(value.__dask_graph__().layers) == 1, name  # no graph over X
        assert value.dtype == dtype, name
        reference = np.asarray(getattr(expected, name))
        rtol, atol = _tolerances(dtype, reference)
        np.testing.assert_allclose(np.asarray(value), reference, rtol=rtol, atol=atol, err_msg=name)


def _assert_same_outputs(got, expected, X, X_lazy, dtype):
    """The Dask-fitted model transforms (lazily) and inverts as the NumPy one.

    The projection of data far from the origin cancels (``X @ C.T - mean @ C.T``), so
    the outputs differ by the components' rounding times the size of X (divided by the
    smallest standard deviation when whitening).
    """
    X_new = got.transform(X_lazy)
    assert isinstance(X_new, da.Array)
    reference = expected.transform(X)
    rtol, _ = _tolerances(dtype, reference)
    scale = float(np.max(np.abs(X)))
    if got.whiten:
        scale /= float(np.sqrt(np.min(expected.explained_variance_)))
    np.testing.assert_allclose(X_new.compute(), reference, rtol=rtol, atol=rtol * scale)
    back = got.inverse_transform(X_new).compute()
    reference_back = expected.inverse_transform(reference)
    np.testing.assert_allclose(back, reference_back, rtol=rtol, atol=rtol * scale)


@DTYPES
@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "auto"])
@pytest.mark.parametrize("n_components", [None, 3, 0, 0.9], ids=["none", "3", "0", "0.9"])
@pytest.mark.parametrize("whiten", [False, True], ids=["plain", "whiten"])
def test_exact_solvers_one_computation(dtype, solver, n_components, whiten):
    """'full', 'covariance_eigh' and 'auto' (which picks 'covariance_eigh' here) fit in
    one computation (finiteness checked inside it) and equal the NumPy fit."""
    X = _data(dtype)
    settings = {"n_components": n_components, "svd_solver": solver, "whiten": whiten}
    expected = PCA(**settings).fit(X)
    X_lazy = da.from_array(X, chunks=CHUNKS)
    with count_dask_computes() as counter:
        got = PCA(**settings).fit(X_lazy)
    assert counter.count == 1
    _assert_same_fit(got, expected, dtype)
    if got.n_components_:
        _assert_same_outputs(got, expected, X, X_lazy, dtype)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_matches_sklearn(solver):
    """The Dask fit equals scikit-learn's (float64), signs included."""
    X = _data(np.float64)
    reference = SkPCA(3, svd_solver=solver, random_state=0).fit(X)
    got = PCA(3, svd_solver=solver, random_state=0).fit(da.from_array(X, chunks=CHUNKS))
    for name in ATTRIBUTES:
        expected = np.asarray(getattr(reference, name))
        _, atol = _tolerances(np.float64, expected)
        # scikit-learn's covariance_eigh forms X.T @ X - n mean mean.T: data far from the
        # origin (1e3) cost it about 6 digits of 16
        rtol = 1e-6 if solver == "covariance_eigh" else 1e-8
        np.testing.assert_allclose(
            np.asarray(getattr(got, name)), expected, rtol=rtol, atol=atol, err_msg=name
        )


@DTYPES
@pytest.mark.parametrize(
    ("n_components", "settings", "passes"),
    [
        (2, {}, 5),  # iterated_power "auto": 4 (n_components >= 0.1 * 6), QR
        (3, {"iterated_power": 1}, 2),  # normalizer "auto": "none"
        (3, {"iterated_power": 3, "power_iteration_normalizer": "none"}, 4),
        (6, {"iterated_power": 2, "power_iteration_normalizer": "QR"}, 3),  # 16 > rank 6
        (2, {"iterated_power": 0}, 1),
    ],
)
def test_randomized_over_blocks(dtype, n_components, settings, passes):
    """The randomized solver: X's finiteness check, then one computation per power
    iteration and one for the projection. On data with a clear spectral gap it equals
    the NumPy randomized fit (same random_state), and the exact top components."""
    X = _data(dtype)
    parameters = {"n_components": n_components, "svd_solver": "randomized", "random_state": 0}
    expected = PCA(**parameters, **settings).fit(X)
    X_lazy = da.from_array(X, chunks=CHUNKS)
    with count_dask_computes() as counter:
        got = PCA(**parameters, **settings).fit(X_lazy)
    assert counter.count == passes + 1
    if settings.get("iterated_power", 4) >= 2:
        _assert_same_fit(got, expected, dtype)
        _assert_same_outputs(got, expected, X, X_lazy, dtype)
    # the exact decomposition's top components, within the randomized error
    exact = PCA(n_components, svd_solver="full").fit(X.astype(np.float64))
    rtol = 1e-2 if settings.get("iterated_power") == 0 else 1e-4
    np.testing.assert_allclose(np.asarray(got.singular_values_), exact.singular_values_, rtol=rtol)
    if settings.get("iterated_power") != 0:
        np.testing.assert_allclose(np.asarray(got.components_), exact.components_, atol=10 * rtol)


def test_randomized_without_power_iterations_equals_numpy():
    """With no power iteration the sketch of the random matrix is projected at once:
    same result as in memory, to rounding."""
    X = _data(np.float64)
    parameters = {"n_components": 2, "svd_solver": "randomized", "random_state": 3}
    expected = PCA(**parameters, iterated_power=0).fit(X)
    got = PCA(**parameters, iterated_power=0).fit(da.from_array(X, chunks=CHUNKS))
    _assert_same_fit(got, expected, np.float64)


@pytest.mark.parametrize("solver", ["full", "randomized"])
def test_fit_transform_is_lazy(solver):
    """fit_transform computes the fit only and returns the lazy transform of X."""
    X = _data(np.float64)
    X_lazy = da.from_array(X, chunks=CHUNKS)
    settings = {"n_components": 3, "svd_solver": solver, "random_state": 0, "whiten": True}
    with count_dask_computes() as counter:
        X_new = PCA(**settings).fit_transform(X_lazy)
    model = PCA(**settings).fit(X_lazy)
    assert counter.count == (1 if solver == "full" else 6)
    assert isinstance(X_new, da.Array)
    expected = PCA(**settings).fit_transform(X)
    np.testing.assert_allclose(X_new.compute(), expected, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(X_new.compute(), model.transform(X_lazy).compute())


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_nan_in_one_block_raises(solver):
    X = _data(np.float64)
    X[1600, 4] = np.nan  # in the last row block, in the second column chunk
    with pytest.raises(ValueError, match=r"PCA\.fit\(\).*NaN"):
        PCA(2, svd_solver=solver).fit(da.from_array(X, chunks=CHUNKS))


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_constant_data(solver):
    """Zero variance: zero variances and ratios (no 0/0), as in memory."""
    X = np.full((300, 4), 7.0)
    expected = PCA(2, svd_solver=solver, random_state=0).fit(X)
    got = PCA(2, svd_solver=solver, random_state=0).fit(da.from_array(X, chunks=110))
    for name in ["explained_variance_", "explained_variance_ratio_", "singular_values_"]:
        np.testing.assert_array_equal(np.asarray(getattr(got, name)), 0.0)
        np.testing.assert_array_equal(getattr(expected, name), 0.0)
    np.testing.assert_allclose(np.asarray(got.mean_), 7.0)


def test_wide_data_exact_solver():
    """Fewer samples than features: the R factor has more rows than the data's rank;
    the kept components equal the NumPy fit's."""
    X = _data(np.float64, n_samples=12, n_features=20, decay=0.8, offset=50.0)
    expected = PCA(5, svd_solver="full").fit(X)
    X_lazy = da.from_array(X, chunks=((5, 7), (20,)))
    with count_dask_computes() as counter:
        got = PCA(5, svd_solver="full").fit(X_lazy)
    assert counter.count == 1
    _assert_same_fit(got, expected, np.float64)
