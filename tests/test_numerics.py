"""The numerics suite: every estimator and public function on hard data, every backend.

Each test runs on the data sets of :data:`xplearn.testing.hard_data.HARD_CASES` (offset
data, geographic coordinates, mixed scales, duplicates, extreme magnitudes), in float32
and float64, on every installed backend, against an exact float64 reference (direct
differences, two-pass statistics, ``numpy.linalg.lstsq``) and, where scikit-learn has the
estimator, scikit-learn on the same dtype. The rule: exact where the dtype allows (neighbour
sets), and never less accurate than scikit-learn beyond :data:`FACTOR` (or a floor of a
few units of the dtype's rounding where scikit-learn is exact too).
"""

import warnings

import numpy as np
import pytest
import sklearn
import sklearn.cluster
import sklearn.decomposition
import sklearn.linear_model
import sklearn.metrics
import sklearn.naive_bayes
import sklearn.preprocessing
from sklearn.exceptions import ConvergenceWarning

from xplearn import config_context
from xplearn.cluster import KMeans
from xplearn.decomposition import PCA
from xplearn.linear_model import LinearRegression, LogisticRegression, Ridge
from xplearn.metrics import pairwise_distances, pairwise_distances_argkmin
from xplearn.naive_bayes import GaussianNB
from xplearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from xplearn.preprocessing import MinMaxScaler, StandardScaler
from xplearn.testing import skip_without_float64
from xplearn.testing.hard_data import HARD_CASES, exact_argkmin, exact_sq_distances, hard_case

#: how much less accurate than scikit-learn (same dtype) xplearn may be
FACTOR = 4.0
DTYPES = [np.float32, np.float64]
CASES = sorted(HARD_CASES)


def _np(array):
    from xplearn._xp import to_numpy

    return np.asarray(to_numpy(array))


def _floor(dtype, units=64):
    return units * float(np.finfo(dtype).eps)


def _relative_error(value, reference, dtype=np.float64):
    """Largest relative error of ``value`` against a float64 ``reference``; where the
    value is the reference correctly rounded to ``dtype`` (an infinity beyond its range,
    zero or a subnormal below it), the error counts as zero."""
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        rounded = value == reference.astype(dtype).astype(np.float64)
    scale = np.maximum(np.abs(reference), np.finfo(np.float64).tiny)
    with np.errstate(invalid="ignore"):
        error = np.where(rounded, 0.0, np.abs(value - reference) / scale)
    return float(np.max(np.where(np.isnan(error), np.inf, error), initial=0.0))


def _data(backend, case, dtype, seed=0):
    skip_without_float64(backend, dtype)
    X = hard_case(case, dtype, seed=seed)
    return X, backend.asarray(X)


def _labels(X):
    """Two classes by a split of the data (the first principal direction, in float64)."""
    X64 = X.astype(np.float64)
    centered = (X64 - X64.mean(axis=0)) / np.where(X64.std(axis=0) > 0, X64.std(axis=0), 1)
    direction = np.linalg.svd(centered, full_matrices=False)[2][0]
    score = centered @ direction
    return (score > np.median(score)).astype(np.int64)


# ------------------------------------------------------------------------------------
# neighbours: exact sets


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan", "cosine"])
def test_kneighbors_exact_set(backend, case, dtype, metric):
    X, X_b = _data(backend, case, dtype)
    queries = X[:40]
    queries_b = backend.asarray(queries)
    model = NearestNeighbors(n_neighbors=5, metric=metric).fit(X_b)
    distances, indices = model.kneighbors(queries_b)
    expected_distances, expected = exact_argkmin(queries, X, 5, metric)
    if metric != "cosine":
        np.testing.assert_array_equal(_np(indices), expected)
        assert _relative_error(_np(distances), expected_distances, dtype) <= _floor(dtype, 1)
        return
    # 1 - cos(x, y) is known to an absolute rounding of float64 only (its cancellation
    # near 0): the neighbours must be a k-nearest set within that, in order
    all_distances, _ = exact_argkmin(queries, X, X.shape[0], metric)
    tol = 64 * float(np.finfo(np.float64).eps)
    _, order = exact_argkmin(queries, X, X.shape[0], metric)
    exact = np.empty_like(all_distances)
    np.put_along_axis(exact, order, all_distances, axis=1)
    chosen = np.take_along_axis(exact, _np(indices), axis=1)
    assert np.all(chosen <= expected_distances[:, -1:] + tol)
    assert np.all(np.diff(chosen, axis=1) >= -tol)
    assert all(len(set(row)) == 5 for row in _np(indices))
    np.testing.assert_allclose(_np(distances), chosen, rtol=0, atol=_floor(dtype, 8))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_distances_argkmin_exact(backend, case, dtype):
    X, _ = _data(backend, case, dtype)
    Y = X[::3]
    Y_b = backend.asarray(Y)
    _, expected = exact_argkmin(X[:50], Y, 3)
    _, indices = pairwise_distances_argkmin(backend.asarray(X[:50]), Y_b, k=3)
    np.testing.assert_array_equal(_np(indices), expected)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_radius_membership_by_exact_distance(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    exact = np.sqrt(exact_sq_distances(X[:30], X))
    radius = float(np.quantile(exact[exact > 0], 0.05)) if np.any(exact > 0) else 1.0
    model = NearestNeighbors(radius=radius).fit(X_b)
    _distances, indices = model.radius_neighbors(backend.asarray(X[:30]), sort_results=True)
    for row in range(30):
        rounded = exact[row].astype(dtype)
        expected = np.flatnonzero(rounded <= dtype(radius))
        expected = expected[np.argsort(exact[row, expected], kind="stable")]
        np.testing.assert_array_equal(_np(indices[row]), expected)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kneighbors_estimators_follow_the_exact_neighbours(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    y = _labels(X)
    _, neighbours = exact_argkmin(X[:60], X, 5)
    classifier = KNeighborsClassifier(n_neighbors=5).fit(X_b, backend.asarray(y))
    votes = y[neighbours].mean(axis=1)
    decided = np.abs(votes - 0.5) > 0  # odd k: always decided
    np.testing.assert_array_equal(
        _np(classifier.predict(backend.asarray(X[:60])))[decided],
        (votes[decided] > 0.5).astype(np.int64),
    )
    target = np.arange(X.shape[0], dtype=dtype)
    regressor = KNeighborsRegressor(n_neighbors=5).fit(X_b, backend.asarray(target))
    np.testing.assert_allclose(
        _np(regressor.predict(backend.asarray(X[:60]))), target[neighbours].mean(axis=1), rtol=1e-6
    )


# ------------------------------------------------------------------------------------
# distances


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_distances_as_accurate_as_scikit_learn(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    X = X[:120]
    Y = X[::2]
    X_b, Y_b = backend.asarray(X), backend.asarray(Y)
    exact = np.sqrt(exact_sq_distances(X, Y))
    ours = _np(pairwise_distances(X_b, Y_b))
    assert np.isfinite(ours).all()
    with warnings.catch_warnings():
        # scikit-learn rounds float32 squared distances to float32 before the square root:
        # they overflow at 1e20 (its error is then infinite, and it says so)
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = sklearn.metrics.pairwise_distances(X, Y)
    off = exact > 0
    error = _relative_error(ours[off], exact[off])
    reference = _relative_error(theirs[off], exact[off])
    assert error <= max(FACTOR * reference, _floor(dtype)), (error, reference)
    same = _np(pairwise_distances(X_b))
    np.testing.assert_array_equal(np.diag(same), 0)


# ------------------------------------------------------------------------------------
# statistics


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_standard_scaler_statistics(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    X64 = X.astype(np.float64)
    mean = X64.mean(axis=0)
    var = ((X64 - mean) ** 2).mean(axis=0)
    scaler = StandardScaler().fit(X_b)
    theirs = sklearn.preprocessing.StandardScaler().fit(X)
    floor = _floor(dtype, 16)
    for name, exact in (("mean_", mean), ("var_", var)):
        ours = _np(getattr(scaler, name))
        assert ours.dtype == dtype
        reference = _relative_error(getattr(theirs, name), exact, dtype)
        error = _relative_error(ours, exact, dtype)
        if name == "mean_":
            # a mean near 0 next to its spread is conditioned by the spread
            scale = np.maximum(np.abs(mean), np.sqrt(var))
            error = min(error, float(np.max(np.abs(ours - mean) / scale)))
        assert error <= max(FACTOR * reference, floor), name
    scaled = _np(scaler.transform(X_b)).astype(np.float64)
    assert np.isfinite(scaled).all()
    varying = var > 0
    np.testing.assert_allclose(scaled[:, varying].std(axis=0), 1.0, rtol=1e-3)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_min_max_scaler_is_exact_on_the_range(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    scaler = MinMaxScaler().fit(X_b)
    np.testing.assert_array_equal(_np(scaler.data_min_), X.min(axis=0))
    np.testing.assert_array_equal(_np(scaler.data_max_), X.max(axis=0))
    scaled = _np(scaler.transform(X_b))
    assert np.isfinite(scaled).all()
    assert scaled.min() >= -_floor(dtype)
    assert scaled.max() <= 1 + _floor(dtype)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_nb_statistics_and_probabilities(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    y = _labels(X)
    model = GaussianNB().fit(X_b, backend.asarray(y))
    X64 = X.astype(np.float64)
    for label in (0, 1):
        rows = X64[y == label]
        mean = rows.mean(axis=0)
        np.testing.assert_allclose(_np(model.theta_)[label], mean, rtol=_floor(dtype, 16), atol=0)
    proba = _np(model.predict_proba(X_b))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    reference = sklearn.naive_bayes.GaussianNB().fit(X64, y)
    agreement = np.mean(_np(model.predict(X_b)) == reference.predict(X64))
    assert agreement >= 0.98


# ------------------------------------------------------------------------------------
# least squares and decompositions


def _regression_target(X, rng):
    X64 = X.astype(np.float64)
    scale = np.where(X64.std(axis=0) > 0, X64.std(axis=0), 1.0)
    coef = rng.normal(size=X.shape[1]) / scale
    signal = (X64 - X64.mean(axis=0)) @ coef
    return signal + 1e-3 * signal.std() * rng.normal(size=X.shape[0])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("Estimator", [LinearRegression, Ridge])
def test_least_squares_recover_the_float64_fit(backend, case, dtype, Estimator):
    X, X_b = _data(backend, case, dtype)
    if case in ("duplicates", "near_duplicates"):
        pytest.skip("rank-deficient by construction: the fit is not unique")
    y = _regression_target(X, np.random.default_rng(1)).astype(dtype)
    X64 = X.astype(np.float64)
    if Estimator is LinearRegression:
        reference = sklearn.linear_model.LinearRegression().fit(X64, y.astype(np.float64))
    else:  # alpha scaled to the data, so that the penalty matters as much in every case
        alpha = 1e-3 * float(np.mean((X64 - X64.mean(axis=0)) ** 2)) * X.shape[0]
        Estimator = lambda: Ridge(alpha=alpha)  # noqa: E731
        reference = sklearn.linear_model.Ridge(alpha=alpha).fit(X64, y.astype(np.float64))
    model = Estimator().fit(X_b, backend.asarray(y))
    assert np.isfinite(_np(model.predict(X_b))).all()
    # each coefficient weighted by its column's spread: its share of the prediction
    spread = X64.std(axis=0)
    ours = _np(model.coef_).astype(np.float64) * spread
    expected = reference.coef_ * spread
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-2 * np.linalg.norm(expected))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pca_explained_variance(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    X64 = X.astype(np.float64)
    n_components = min(2, X.shape[1])
    reference = sklearn.decomposition.PCA(n_components).fit(X64)
    variances = reference.explained_variance_
    info = np.finfo(dtype)
    if np.any(variances > float(info.max)) or np.any(variances < float(info.tiny)):
        # beyond float32's range: a clear error, not an inf or a zero variance
        with pytest.raises(ValueError, match=r"PCA\.fit\(\).*outside the range"):
            PCA(n_components).fit(X_b)
        return
    model = PCA(n_components).fit(X_b)
    ours = _np(model.explained_variance_)
    assert ours.dtype == dtype
    assert _relative_error(ours, reference.explained_variance_, dtype) <= 1e-2


# ------------------------------------------------------------------------------------
# classifiers and clusters


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_regression_probabilities(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    y = _labels(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = LogisticRegression().fit(X_b, backend.asarray(y))
    with warnings.catch_warnings():
        # unscaled data is hard for L-BFGS in scikit-learn too; its warning is no failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = sklearn.linear_model.LogisticRegression().fit(X, y).score(X, y)
    assert all(issubclass(w.category, ConvergenceWarning) for w in caught)
    # as accurate as scikit-learn on the same dtype, or a stated failure to converge
    assert caught or float(_np(model.score(X_b, backend.asarray(y)))) >= reference - 0.02
    proba = _np(model.predict_proba(X_b))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    log_proba = _np(model.predict_log_proba(X_b))
    assert np.all(log_proba <= 0)
    assert not np.isnan(log_proba).any()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kmeans_labels_inertia_and_transform(backend, case, dtype):
    X, X_b = _data(backend, case, dtype)
    init = X[:: X.shape[0] // 3][:3]
    X64 = X.astype(np.float64)
    frame_sq = float(np.mean(np.sum((X64 - X64.mean(axis=0)) ** 2, axis=1)))
    info = np.finfo(dtype)
    if not float(info.smallest_normal) * 1e4 < frame_sq < float(info.max) / 1e4:
        # squares beyond the dtype: the Lloyd pass could only compare infinities or zeros
        with pytest.raises(ValueError, match=r"KMeans\.fit\(\).*squared distances"):
            KMeans(3, init=backend.asarray(init), n_init=1).fit(X_b)
        return
    model = KMeans(3, init=backend.asarray(init), n_init=1, max_iter=20).fit(X_b)
    labels = _np(model.labels_)
    np.testing.assert_array_equal(labels, _np(model.predict(X_b)))
    centers = _np(model.cluster_centers_)
    exact = exact_sq_distances(X, centers)
    # each row goes to an exactly closest center, up to the rounding of the centers' dtype
    chosen = exact[np.arange(X.shape[0]), labels]
    best = exact.min(axis=1)
    assert np.all(chosen <= best + 1e3 * float(np.finfo(dtype).eps) * (best + exact.mean()))
    inertia = float(np.sum(chosen))
    np.testing.assert_allclose(model.inertia_, inertia, rtol=_floor(dtype, 1024))
    distances = _np(model.transform(X_b))
    assert np.isfinite(distances).all()
    np.testing.assert_allclose(
        distances,
        np.sqrt(exact),
        rtol=1e-3 if dtype == np.float32 else 1e-9,
        atol=1e-6 * np.sqrt(exact.mean()),
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_estimators_do_not_overflow_on_large_queries(backend, dtype):
    """Queries far outside the training range (float32 at 1e20): finite outputs wherever
    the true values are representable."""
    skip_without_float64(backend, dtype)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(dtype)
    y = (X[:, 0] > 0).astype(np.int64)
    big = (rng.normal(size=(20, 3)) * 1e20).astype(dtype)
    X_b, y_b, big_b = backend.asarray(X), backend.asarray(y), backend.asarray(big)
    with config_context(assume_finite=False):
        assert np.isfinite(_np(KMeans(2, n_init=1, random_state=0).fit(X_b).transform(big_b))).all()
        for Classifier in (GaussianNB, LogisticRegression):
            model = Classifier().fit(X_b, y_b)
            proba = _np(model.predict_proba(big_b))
            assert np.isfinite(proba).all(), Classifier.__name__
            np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
        from xplearn.discriminant_analysis import LinearDiscriminantAnalysis

        proba = _np(LinearDiscriminantAnalysis().fit(X_b, y_b).predict_proba(big_b))
        assert np.isfinite(proba).all()
