"""PCA against scikit-learn, on every backend, every solver and both float dtypes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.decomposition import PCA as SkPCA
from sklearn.exceptions import NotFittedError

import xplearn
from xplearn._xp import to_numpy
from xplearn.decomposition import PCA
from xplearn.testing import assert_allclose_xp, assert_on_backend, skip_without_float64

SOLVERS = ["full", "covariance_eigh", "randomized"]
ATTRIBUTES = [
    "components_",
    "explained_variance_",
    "explained_variance_ratio_",
    "singular_values_",
    "mean_",
    "noise_variance_",
]
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def _make_data(seed, n_samples, n_features, decay=0.7):
    """Rotated Gaussian data with a clearly decaying spectrum and a mean offset.

    Separated variances make the principal directions unique (so they can be compared
    entry by entry) and let the randomized solver converge; the rotation keeps the
    components away from the coordinate axes, where signs would hinge on ties.
    """
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    scales = 4.0 * decay ** np.arange(n_features)
    X = (rng.standard_normal((n_samples, n_features)) * scales) @ rotation.T
    return X + rng.uniform(-3.0, 3.0, n_features)


def _tolerances(dtype, reference):
    """rtol and an atol scaled to the attribute, for entries near zero."""
    scale = float(np.max(np.abs(reference))) if np.size(reference) else 1.0
    if dtype == np.float64:
        return 1e-6, 1e-9 * max(scale, 1.0)
    return 1e-4, 1e-4 * max(scale, 1.0)


def _assert_matches(fitted, reference, dtype, X_backend, X):
    for name in ATTRIBUTES:
        expected = np.asarray(getattr(reference, name))
        rtol, atol = _tolerances(dtype, expected)
        assert_allclose_xp(getattr(fitted, name), expected, rtol=rtol, atol=atol, err_msg=name)
    assert fitted.n_components_ == reference.n_components_
    assert fitted.n_samples_ == reference.n_samples_
    assert fitted.n_features_in_ == reference.n_features_in_
    X_new = fitted.transform(X_backend)
    expected = reference.transform(X)
    rtol, atol = _tolerances(dtype, expected)
    assert_allclose_xp(X_new, expected, rtol=rtol, atol=atol, err_msg="transform")
    X_back = fitted.inverse_transform(X_new)
    expected_back = reference.inverse_transform(expected)
    rtol, atol = _tolerances(dtype, expected_back)
    assert_allclose_xp(X_back, expected_back, rtol=rtol, atol=atol, err_msg="inverse")
    return X_new, X_back


# ---------------------------------------------------------------------------------------
# Agreement with scikit-learn


@DTYPES
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    ("shape", "n_components"),
    [((60, 8), None), ((200, 30), 5), ((20, 30), 4)],
    ids=["tall-all", "tall-5", "wide-4"],
)
def test_matches_sklearn(backend, solver, dtype, shape, n_components):
    """Fitted attributes and outputs equal scikit-learn's, signs included; they live on
    the input's backend, in its float dtype ("preserve")."""
    skip_without_float64(backend, dtype)
    X = _make_data(0, *shape).astype(dtype)
    # float32 fits are compared with the exact (float64) fit of the same values: both
    # scikit-learn's and ours are within float32 rounding of it
    reference = SkPCA(n_components, svd_solver=solver, random_state=0).fit(X.astype(np.float64))
    X_backend = backend.asarray(X)
    pca = PCA(n_components, svd_solver=solver, random_state=0).fit(X_backend)

    X_new, X_back = _assert_matches(pca, reference, dtype, X_backend, X)
    xp = backend.xp
    expected_dtype = xp.float64 if dtype == np.float64 else xp.float32
    for name in ATTRIBUTES:
        assert_on_backend(getattr(pca, name), backend)
        assert getattr(pca, name).dtype == expected_dtype, name
    for output in (X_new, X_back):
        assert_on_backend(output, backend)
        assert output.dtype == expected_dtype
    assert pca.noise_variance_.shape == ()
    assert isinstance(pca.n_components_, int)

    X_fit_new = PCA(n_components, svd_solver=solver, random_state=0).fit_transform(X_backend)
    assert_on_backend(X_fit_new, backend)
    rtol, atol = _tolerances(dtype, to_numpy(X_new))
    assert_allclose_xp(X_fit_new, X_new, rtol=rtol, atol=atol)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize("fraction", [0.5, 0.8, 0.95, 0.99])
def test_n_components_fraction(backend, solver, fraction):
    """A float n_components keeps the components explaining more than that fraction."""
    dtype = np.float64 if backend.has_float64 else np.float32
    X = _make_data(1, 60, 8).astype(dtype)
    reference = SkPCA(fraction, svd_solver=solver).fit(X.astype(np.float64))
    pca = PCA(fraction, svd_solver=solver).fit(backend.asarray(X))
    assert pca.n_components_ == reference.n_components_
    assert 1 <= pca.n_components_ < 8
    _assert_matches(pca, reference, dtype, backend.asarray(X), X)
    ratios = to_numpy(pca.explained_variance_ratio_)
    assert ratios.sum() > fraction
    assert ratios[:-1].sum() <= fraction


@pytest.mark.parametrize("solver", ["auto", *SOLVERS])
def test_n_components_none_keeps_min_dimension(backend, solver):
    """None keeps min(n_samples, n_features), also with the randomized solver (as
    scikit-learn); then there is no noise variance left."""
    for shape in [(30, 6), (6, 10)]:
        X = backend.asarray(_make_data(2, *shape).astype(np.float32))
        pca = PCA(svd_solver=solver, random_state=0).fit(X)
        assert pca.n_components_ == min(shape)
        assert tuple(pca.components_.shape) == (min(shape), shape[1])
        assert float(to_numpy(pca.noise_variance_)) == 0.0


@pytest.mark.parametrize(
    ("shape", "n_components", "expected"),
    [
        ((60, 5), None, "covariance_eigh"),
        ((20, 8), None, "full"),
        ((510, 60), 10, "randomized"),
        ((510, 60), 0.5, "full"),
        ((510, 60), 50, "full"),
    ],
)
def test_auto_solver_policy(shape, n_components, expected):
    """svd_solver="auto" picks what scikit-learn picks."""
    X = _make_data(3, *shape)
    pca = PCA(n_components, random_state=0).fit(X)
    reference = SkPCA(n_components, random_state=0).fit(X)
    assert pca._fit_svd_solver == reference._fit_svd_solver == expected


@pytest.mark.parametrize("solver", SOLVERS)
def test_whiten(backend, solver):
    """Whitening matches scikit-learn, gives unit variances and inverts exactly."""
    dtype = np.float64 if backend.has_float64 else np.float32
    X = _make_data(4, 80, 6).astype(dtype)
    reference = SkPCA(4, whiten=True, svd_solver=solver, random_state=0).fit(X)
    X_backend = backend.asarray(X)
    pca = PCA(4, whiten=True, svd_solver=solver, random_state=0).fit(X_backend)
    X_new, _ = _assert_matches(pca, reference, dtype, X_backend, X)
    rtol = 1e-6 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(np.var(to_numpy(X_new), axis=0, ddof=1), 1.0, rtol=rtol)
    assert_allclose_xp(pca.fit_transform(X_backend), X_new, rtol=rtol, atol=rtol)

    # at full rank, whitening is undone exactly
    full = PCA(whiten=True, svd_solver=solver, random_state=0).fit(X_backend)
    assert_allclose_xp(full.inverse_transform(full.transform(X_backend)), X, rtol=rtol, atol=rtol)


def test_get_feature_names_out():
    X = _make_data(5, 30, 5)
    pca = PCA(3).fit(X)
    assert list(pca.get_feature_names_out()) == ["pca0", "pca1", "pca2"]


# ---------------------------------------------------------------------------------------
# Dtype policies


@pytest.mark.parametrize("solver", SOLVERS)
def test_mixed_policy(backend, solver):
    """ "mixed" stores float32 attributes and outputs, close to the float64 fit."""
    X = _make_data(6, 200, 8)
    X[:, 0] += 1000.0  # a large offset: the float64 mean and centering matter
    reference = SkPCA(5, svd_solver=solver, random_state=0).fit(X)
    X_backend = backend.asarray(X.astype(np.float32))
    pca = PCA(5, svd_solver=solver, random_state=0, dtype_policy="mixed").fit(X_backend)
    xp = backend.xp
    for name in ATTRIBUTES:
        value = getattr(pca, name)
        assert_on_backend(value, backend)
        assert value.dtype == xp.float32, name
        expected = np.asarray(getattr(reference, name))
        scale = float(np.max(np.abs(expected)))
        assert_allclose_xp(value, expected, rtol=1e-4, atol=1e-5 * scale, err_msg=name)
    X_new = pca.transform(X_backend)
    assert X_new.dtype == xp.float32
    expected = reference.transform(X)
    assert_allclose_xp(X_new, expected, rtol=1e-4, atol=1e-4 * np.max(np.abs(expected)))


@pytest.mark.parametrize("policy", ["preserve", "mixed", "float32"])
def test_device_without_float64(no_float64, policy):
    """On a device without float64, float32 fits work (mixed accumulates in float32)."""
    X = _make_data(7, 60, 6)
    reference = SkPCA(3).fit(X)
    X_backend = no_float64.asarray(X.astype(np.float32))
    pca = PCA(3, dtype_policy=policy, svd_solver="randomized", random_state=0).fit(X_backend)
    assert pca.components_.dtype == no_float64.xp.float32
    assert_on_backend(pca.components_, no_float64)
    assert_allclose_xp(pca.components_, reference.components_, rtol=1e-4, atol=1e-4)
    assert_allclose_xp(pca.transform(X_backend), reference.transform(X), rtol=1e-4, atol=1e-3)


def test_float64_policy_without_float64_is_an_error(no_float64):
    X = no_float64.asarray(_make_data(7, 30, 4).astype(np.float32))
    with pytest.raises(ValueError, match=r"PCA\.fit\(\).*float64"):
        PCA(dtype_policy="float64").fit(X)


def test_integer_input_gives_default_float():
    X = np.arange(60).reshape(20, 3) % 7
    pca = PCA(2).fit(X)
    assert pca.components_.dtype == np.float64
    reference = SkPCA(2).fit(X.astype(np.float64))
    expected = reference.transform(X.astype(np.float64))
    assert_allclose_xp(pca.transform(X), expected, rtol=1e-7, atol=1e-12)


# ---------------------------------------------------------------------------------------
# Properties


@given(
    X=st.integers(2, 12).flatmap(
        lambda n_samples: st.integers(1, 6).flatmap(
            lambda n_features: arrays(
                np.float64,
                (n_samples, n_features),
                elements=st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
            )
        )
    ),
    solver=st.sampled_from(SOLVERS),
    whiten=st.booleans(),
)
def test_full_rank_reconstruction_is_exact(X, solver, whiten):
    """Keeping every component, inverse_transform(transform(X)) gives X back.

    covariance_eigh keeps only min(n_samples, n_features) of its n_features
    eigenvectors, so with fewer samples than features it is exact only in the limit
    of well-separated (nonzero) variances; it is tested on n_samples >= n_features.
    """
    if solver == "covariance_eigh" and X.shape[0] < X.shape[1]:
        solver = "full"
    if whiten:
        # whitening divides by the standard deviations: skip nearly collinear data,
        # where a component's variance is rounding noise
        singular = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
        if singular.size and singular[-1] <= 1e-6 * max(singular[0], 1.0):
            whiten = False
    X_before = X.copy()
    pca = PCA(svd_solver=solver, whiten=whiten, random_state=0).fit(X)
    X_back = pca.inverse_transform(pca.transform(X))
    np.testing.assert_allclose(X_back, X, rtol=0, atol=1e-8 * max(1.0, np.max(np.abs(X))))
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("solver", SOLVERS)
def test_full_rank_reconstruction_on_backend(backend, solver):
    X = _make_data(8, 25, 6).astype(np.float32)
    X_backend = backend.asarray(X)
    pca = PCA(svd_solver=solver, random_state=0).fit(X_backend)
    X_back = pca.inverse_transform(pca.transform(X_backend))
    assert_on_backend(X_back, backend)
    assert_allclose_xp(X_back, X, rtol=0, atol=1e-4)


@pytest.mark.parametrize("solver", SOLVERS)
def test_deterministic_signs(backend, solver):
    """Fitting twice, or on two backends, gives identical components: each one's
    largest-magnitude entry is positive (scikit-learn's svd_flip convention)."""
    X = _make_data(9, 50, 6).astype(np.float32)
    X_backend = backend.asarray(X)
    first = to_numpy(PCA(4, svd_solver=solver, random_state=0).fit(X_backend).components_)
    second = to_numpy(PCA(4, svd_solver=solver, random_state=0).fit(X_backend).components_)
    np.testing.assert_array_equal(first, second)
    on_numpy = PCA(4, svd_solver=solver, random_state=0).fit(X).components_
    np.testing.assert_array_equal(np.sign(first), np.sign(on_numpy))
    largest = first[np.arange(4), np.argmax(np.abs(first), axis=1)]
    assert np.all(largest > 0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_inputs_not_modified(backend, solver):
    """Neither fit, fit_transform, transform nor inverse_transform writes to its input."""
    X = _make_data(10, 40, 5).astype(np.float32)
    X_backend = backend.asarray(X)
    pca = PCA(3, svd_solver=solver, whiten=True, random_state=0)
    X_new = pca.fit_transform(X_backend)
    X_new_before = to_numpy(X_new).copy()
    pca.fit(X_backend)
    pca.transform(X_backend)
    pca.inverse_transform(X_new)
    np.testing.assert_array_equal(to_numpy(X_backend), X)
    np.testing.assert_array_equal(to_numpy(X_new), X_new_before)


def test_convert_moves_fitted_model(backend):
    """A model fitted on a backend serves NumPy data after xplearn.convert."""
    X = _make_data(11, 40, 5).astype(np.float32)
    pca = PCA(3, whiten=True).fit(backend.asarray(X))
    moved = xplearn.convert(pca, to="numpy")
    assert isinstance(moved.noise_variance_, np.ndarray)
    expected = pca.transform(backend.asarray(X))
    assert_allclose_xp(moved.transform(X), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_components": 1.5}, r"The 'n_components' parameter of PCA must be .*Got 1\.5"),
        ({"n_components": True}, r"got n_components=True"),
        ({"n_components": "mle"}, r"n_components='mle' is not supported"),
        ({"n_components": 9}, r"n_components=9 must be between 0 and .*=8 with svd_solver"),
        (
            {"n_components": 9, "svd_solver": "covariance_eigh"},
            r"n_components=9 must be between 0 and min\(n_samples, n_features\)=8",
        ),
        (
            {"n_components": 0, "svd_solver": "randomized"},
            r"n_components=0 must be between 1 and min\(n_samples, n_features\)=8",
        ),
        (
            {"n_components": 0.5, "svd_solver": "randomized"},
            r"n_components=0\.5 .*needs svd_solver='full' or 'covariance_eigh'",
        ),
        ({"svd_solver": "arpack"}, r"svd_solver='arpack' is not supported"),
        ({"svd_solver": "lapack"}, r"The 'svd_solver' parameter of PCA must be .*'lapack'"),
        ({"whiten": "yes"}, r"The 'whiten' parameter of PCA must be .*Got 'yes'"),
        ({"copy": None}, r"The 'copy' parameter of PCA must be .*Got None"),
        ({"tol": -1.0}, r"The 'tol' parameter of PCA must be a float in the range \[0\.0, inf\)"),
        ({"tol": float("nan")}, r"The 'tol' parameter of PCA"),
        ({"iterated_power": -1}, r"The 'iterated_power' parameter of PCA must be"),
        ({"iterated_power": "many"}, r"The 'iterated_power' parameter .*Got 'many'"),
        ({"n_oversamples": 0}, r"The 'n_oversamples' parameter of PCA must be an int"),
        ({"n_components": -1}, r"The 'n_components' parameter of PCA must be"),
        ({"n_components": 1.0}, r"The 'n_components' parameter of PCA must be"),
        ({"power_iteration_normalizer": "LU"}, r"'LU' is not supported.*no LU"),
        ({"power_iteration_normalizer": "qr"}, r"The 'power_iteration_normalizer' parameter"),
        ({"random_state": "seed"}, r"The 'random_state' parameter of PCA must be"),
        ({"dtype_policy": "float16"}, r"dtype_policy must be one of"),
    ],
)
def test_bad_parameters(params, match):
    X = _make_data(12, 30, 8)
    with pytest.raises(ValueError, match=r"^PCA\.fit\(\): .*" + match):
        PCA(**params).fit(X)


def test_wrong_number_of_features(backend):
    X = _make_data(13, 30, 5).astype(np.float32)
    pca = PCA(2).fit(backend.asarray(X))
    with pytest.raises(ValueError, match=r"PCA\.transform\(\): X has 3 features.*expecting 5"):
        pca.transform(backend.asarray(X[:, :3]))
    with pytest.raises(ValueError, match=r"PCA\.inverse_transform\(\): X has 3 features.*2"):
        pca.inverse_transform(backend.asarray(X[:, :3]))


def test_not_fitted():
    with pytest.raises(NotFittedError, match=r"PCA\.transform\(\): this PCA instance"):
        PCA().transform(np.ones((3, 2)))
    with pytest.raises(NotFittedError, match=r"PCA\.inverse_transform\(\)"):
        PCA().inverse_transform(np.ones((3, 2)))


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"PCA\.fit\(\): Found array with 1 sample"):
        PCA().fit(np.ones((1, 3)))
    X = _make_data(14, 20, 3)
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"PCA\.fit\(\): Input X contains NaN"):
        PCA().fit(X)
    pca = PCA(2).fit(_make_data(14, 20, 3))
    with pytest.raises(ValueError, match=r"PCA\.inverse_transform\(\): Expected a 2D array"):
        pca.inverse_transform(np.ones(2))
    with pytest.raises(ValueError, match=r"PCA\.inverse_transform\(\): Input X contains inf"):
        pca.inverse_transform(np.array([[1.0, np.inf]]))


# Numerical trust (issue 15): float32 data of mixed column scales and offsets


def _mixed_scales(n_samples=100_000, seed=0):
    """Independent columns of scale 1, 0.01, 300 + 0.1 * noise and 1e4 + 3 * noise:
    variances 9, 1, 1e-2 and 1e-4 (distinct, so each component is defined)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n_samples, 4))
    return noise * np.array([1.0, 0.01, 0.1, 3.0]) + np.array([0.0, 0.0, 300.0, 1e4])


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize("n_components", [4, 3])
def test_float32_mixed_column_scales_match_the_float64_fit(backend, solver, n_components):
    """float32, 100k rows: scikit-learn's float64 fit of the same float32 values to 1%
    (explained variances, noise variance, components up to sign). The float32 mean of
    the 1e4 column was 7 units off (NumPy adds the rows one after another), which made
    the first explained variance 63 instead of 9; a float32 covariance loses the 1e-4
    direction."""
    X32 = _mixed_scales().astype(np.float32)
    reference = SkPCA(n_components=n_components, svd_solver="full").fit(X32.astype(np.float64))
    model = PCA(n_components=n_components, svd_solver=solver).fit(backend.asarray(X32))
    assert model.explained_variance_.dtype == backend.xp.float32
    assert_allclose_xp(model.explained_variance_, reference.explained_variance_, rtol=1e-2)
    assert_allclose_xp(model.mean_, reference.mean_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        np.abs(to_numpy(model.components_)), np.abs(reference.components_), atol=1e-2
    )
    np.testing.assert_allclose(
        float(model.noise_variance_), reference.noise_variance_, rtol=1e-2, atol=1e-12
    )


def test_float32_randomized_on_mixed_column_scales(backend):
    """The randomized solver on the same data: explained variances to 1%."""
    X32 = _mixed_scales().astype(np.float32)
    reference = SkPCA(n_components=3, svd_solver="full").fit(X32.astype(np.float64))
    model = PCA(n_components=3, svd_solver="randomized", random_state=0).fit(backend.asarray(X32))
    assert_allclose_xp(model.explained_variance_, reference.explained_variance_, rtol=1e-2)
    np.testing.assert_allclose(
        np.abs(to_numpy(model.components_)), np.abs(reference.components_), atol=1e-2
    )


def test_float32_covariance_keeps_a_direction_of_tiny_variance(backend):
    """Two nearly collinear columns (their difference of variance 1e-6 next to 9;
    float32, covariance_eigh): the float32 Gram matrix's rounding, of the order of
    ``eps32`` times its entries, is of the order of the small eigenvalue, so the Gram
    matrix is taken in float64; explained variances to 1% of the float64 fit's."""
    rng = np.random.default_rng(1)
    base = rng.standard_normal((50_000, 3))
    X = np.column_stack([3.0 * base[:, 0], 3.0 * base[:, 0] + 1e-3 * base[:, 1], base[:, 2]])
    X32 = (X + np.array([5.0, 0.0, 40.0])).astype(np.float32)
    reference = SkPCA(svd_solver="full").fit(X32.astype(np.float64))
    model = PCA(svd_solver="covariance_eigh").fit(backend.asarray(X32))
    assert_allclose_xp(model.explained_variance_, reference.explained_variance_, rtol=1e-2)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_float32_mixed_column_scales_without_float64(no_float64, solver):
    """On a device without float64 (two-pass float32 mean): explained variances to 1%."""
    X32 = _mixed_scales().astype(np.float32)
    reference = SkPCA(n_components=3, svd_solver="full").fit(X32.astype(np.float64))
    model = PCA(n_components=3, svd_solver=solver, random_state=0).fit(no_float64.asarray(X32))
    np.testing.assert_allclose(
        to_numpy(model.explained_variance_), reference.explained_variance_, rtol=1e-2
    )


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize(
    ("dtype", "magnitude"),
    [(np.float32, 2e18), (np.float32, 1e-18), (np.float64, 1e150), (np.float64, 1e-150)],
)
def test_extreme_magnitudes_with_representable_variances(backend, solver, dtype, magnitude):
    """Data whose squares leave float32 (2e18: the float32 Gram matrix overflows; 1e-18:
    its products are subnormal) or come near float64's ends, variances still in range:
    scikit-learn's float64 fit to 1%, no overflow warning."""
    skip_without_float64(backend, dtype)
    X = np.random.default_rng(3).standard_normal((300, 4)) * [1.0, 2.0, 3.0, 4.0] * magnitude
    X = X.astype(dtype)
    reference = SkPCA(2, svd_solver="full").fit(X.astype(np.float64))
    model = PCA(2, svd_solver=solver).fit(backend.asarray(X))
    assert_allclose_xp(model.explained_variance_, reference.explained_variance_, rtol=1e-2)
    np.testing.assert_allclose(
        np.abs(to_numpy(model.components_)), np.abs(reference.components_), atol=1e-3
    )


@pytest.mark.parametrize("magnitude", [1e30, 1e-30])
def test_variances_beyond_float32_are_a_clear_error(backend, magnitude):
    """float32 data near 1e30 (variances 1e60) or 1e-30 (1e-60): a ValueError naming the
    range, not inf or 0 explained variances (and an overflow warning)."""
    X = (np.random.default_rng(4).standard_normal((300, 4)) * magnitude).astype(np.float32)
    for solver in ("full", "covariance_eigh"):
        with pytest.raises(ValueError, match=r"PCA\.fit\(\): the explained variances .*range"):
            PCA(2, svd_solver=solver).fit(backend.asarray(X))
