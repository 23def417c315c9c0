"""Checks every xplearn estimator must pass.

* scikit-learn's own common checks (``parametrize_with_checks``), including its array-API
  checks (SciPy's array API mode is switched on in conftest.py).
* Properties over random data (hypothesis): inputs unchanged, fit invariant to row
  order, float32 preserved, every backend agrees with NumPy.

The estimators come from :func:`xplearn.utils.discovery.all_estimators`, so a new one is
tested without editing this file; what each supports comes from its ``_capabilities``.
"""

import inspect

import numpy as np
import pytest
from array_api_compat import array_namespace
from array_api_compat import device as array_device
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from xplearn._xp import to_numpy
from xplearn.testing import assert_allclose_xp, assert_on_backend, skip_without_float64
from xplearn.utils.discovery import all_estimators

# Parameters for the instances scikit-learn's checks run on, so that no ConvergenceWarning
# (an error under filterwarnings=error) is provoked by the check data rather than by a
# bug: the checks fit on as few as 12 rows with 4 distinct points (scikit-learn's own
# suite lowers n_clusters too), and on unscaled iris, on which lbfgs (scikit-learn's
# included: 111 iterations) needs more than the default max_iter=100.
CHECK_PARAMS = {
    "KMeans": {"n_clusters": 3},
    "MiniBatchKMeans": {"n_clusters": 3},
    "LogisticRegression": {"max_iter": 1000},
}
ESTIMATORS = [cls(**CHECK_PARAMS.get(name, {})) for name, cls in all_estimators()]


def _order_free_init(X, n_clusters, random_state=None):
    """KMeans init that depends on the set of rows, not their order: evenly spaced rows
    of the lexicographically sorted data (so fits can be compared across row orders)."""
    xp = array_namespace(X)
    host = to_numpy(X)
    ranks = np.lexsort(host.T[::-1])
    chosen = ranks[np.linspace(0, len(ranks) - 1, n_clusters).round().astype(np.int64)]
    return xp.take(X, xp.asarray(chosen, device=array_device(X)), axis=0)


# The property tests below compare fits of the same data (reordered, or on another
# backend), so the estimators must be determined by the data: a seed for random draws, an
# order-free init for KMeans, and a stopping tolerance for lbfgs well below the comparison
# tolerance.
PROPERTY_PARAMS = {
    "KMeans": {"init": _order_free_init, "n_init": 1},
    "MiniBatchKMeans": {"random_state": 0, "n_clusters": 3},
    "LogisticRegression": {"tol": 1e-10, "max_iter": 2000},
}
PROPERTY_ESTIMATORS = [cls(**PROPERTY_PARAMS.get(name, {})) for name, cls in all_estimators()]
IDS = [type(estimator).__name__ for estimator in PROPERTY_ESTIMATORS]

# Mini-batches are drawn by row position, so the same seed picks other rows once the
# rows are shuffled: no order invariance to test.
ORDER_DEPENDENT = {"MiniBatchKMeans"}
ORDER_FREE_ESTIMATORS = [
    estimator
    for estimator in PROPERTY_ESTIMATORS
    if type(estimator).__name__ not in ORDER_DEPENDENT
]

# An iterative solver is determined by the data only up to where it stops, and summing in
# another order (shuffled rows, another backend's reductions) moves its path within that.
# lbfgs stops, as scipy's does for scikit-learn, once the loss decreases by less than
# 64 * eps relative; on these ill-conditioned data that leaves the coefficients (hence
# the probabilities) determined to ~1e-6 in float64; float32 "preserve" also evaluates
# the loss in float32, whose rounding (~1e-7 relative) ends the line searches earlier
# still, leaving the intercepts to ~1e-2 (measured: 0.011 between NumPy and Dask).
# (rtol, atol) per dtype at which fits are compared; test_logistic.py checks the
# solution itself against scikit-learn at the final loss.
# KMeans.transform takes the square root of ||x||^2 - 2 x.c + ||c||^2 (as scikit-learn),
# whose rounding (~eps ||x||^2) becomes ~sqrt(eps) ||x|| absolute for a point on a center.
TOLERANCE = {
    "LogisticRegression": {np.float64: (1e-4, 1e-5), np.float32: (5e-2, 5e-3)},
    "KMeans": {np.float64: (1e-9, 1e-6), np.float32: (1e-4, 1e-3)},
    "MiniBatchKMeans": {np.float64: (1e-9, 1e-6), np.float32: (1e-4, 1e-3)},
}
DEFAULT_TOLERANCE = {np.float64: (1e-9, 1e-9), np.float32: (1e-4, 1e-4)}


def _tolerance(estimator, dtype):
    return TOLERANCE.get(type(estimator).__name__, DEFAULT_TOLERANCE)[dtype]


# scikit-learn >= 1.8 expects "everything follows X": a y or sample_weight of another
# namespace is moved to X's. xplearn deliberately refuses mixed namespaces with a clear
# error (DESIGN.md, "Errors"), so that no array silently crosses a device boundary.
MIXED_INPUTS_REASON = (
    "xplearn rejects mixed namespaces/devices with a clear ValueError by design; "
    "scikit-learn's check expects y and sample_weight to follow X"
)


def _expected_failed_checks(estimator):
    """Checks each estimator declares it fails (its ``_capabilities``), plus the mixed
    inputs check for estimators that read y or sample_weight."""
    # Only estimators that read y or sample_weight see the mixed inputs; the check's name
    # keys every parametrization of it (each namespace pair).
    failures = dict(type(estimator)._capabilities.expected_failed_checks)
    uses_other_inputs = "sample_weight" in inspect.signature(estimator.fit).parameters
    if uses_other_inputs or is_regressor(estimator) or is_classifier(estimator):
        failures["check_array_api_mixed_inputs"] = MIXED_INPUTS_REASON
    return failures


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    """scikit-learn's common estimator checks."""
    check(estimator)


# ---------------------------------------------------------------------------------------
# Properties over random data


def _make_data(seed, n_samples, n_features, dtype=np.float64):
    """Well-conditioned random data: distinct per-feature scales keep PCA's spectrum
    separated, so fitted directions are unique and comparisons meaningful."""
    rng = np.random.default_rng(seed)
    scales = 2.0 ** np.arange(n_features, 0, -1)
    X = rng.standard_normal((n_samples, n_features)) * scales + rng.uniform(-5, 5, n_features)
    coef = rng.uniform(-3, 3, n_features)
    y = X @ coef + 0.1 * rng.standard_normal(n_samples)
    return X.astype(dtype), y.astype(dtype)


def _target(estimator, y):
    """Class labels (three classes, by terciles of y) for classifiers, y otherwise."""
    if not is_classifier(estimator):
        return y
    return np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])).astype(np.int64)


def _fit_args(estimator, X, y):
    return (X, y) if is_regressor(estimator) or is_classifier(estimator) else (X,)


def _output(estimator, X):
    """The main output of a fitted estimator: predict for regressors, predict_proba for
    classifiers, the neighbour distances for neighbour searches, transform otherwise."""
    if is_regressor(estimator):
        return estimator.predict(X)
    if is_classifier(estimator):
        return estimator.predict_proba(X)
    if not hasattr(estimator, "transform") and hasattr(estimator, "kneighbors"):
        return estimator.kneighbors(X)[0]
    return estimator.transform(X)


data_shapes = {
    "seed": st.integers(0, 2**32 - 1),
    "n_samples": st.integers(12, 40),
    "n_features": st.integers(1, 6),
}


@pytest.mark.parametrize("estimator", PROPERTY_ESTIMATORS, ids=IDS)
@given(**data_shapes)
def test_inputs_unchanged(estimator, seed, n_samples, n_features):
    """Neither fit nor predict/transform modifies its inputs."""
    X, y = _make_data(seed, n_samples, n_features)
    y = _target(estimator, y)
    X_before, y_before = X.copy(), y.copy()
    fitted = clone(estimator).fit(*_fit_args(estimator, X, y))
    _output(fitted, X)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize(
    "estimator", ORDER_FREE_ESTIMATORS, ids=[type(e).__name__ for e in ORDER_FREE_ESTIMATORS]
)
@given(**data_shapes, permutation_seed=st.integers(0, 2**32 - 1))
def test_fit_invariant_to_row_order(estimator, seed, n_samples, n_features, permutation_seed):
    """Shuffling the training rows does not change the fitted model's outputs."""
    X, y = _make_data(seed, n_samples, n_features)
    y = _target(estimator, y)
    order = np.random.default_rng(permutation_seed).permutation(n_samples)
    reference = clone(estimator).fit(*_fit_args(estimator, X, y))
    shuffled = clone(estimator).fit(*_fit_args(estimator, X[order], y[order]))
    rtol, atol = _tolerance(estimator, np.float64)
    np.testing.assert_allclose(
        _output(shuffled, X), _output(reference, X), rtol=max(rtol, 1e-7), atol=atol
    )


@pytest.mark.parametrize("estimator", PROPERTY_ESTIMATORS, ids=IDS)
def test_float32_preserved(estimator, backend):
    """Under the default "preserve" policy float32 in gives float32 out, on every backend."""
    xp = backend.xp
    X, y = _make_data(0, 30, 4, dtype=np.float32)
    y = _target(estimator, y)
    X_backend, y_backend = backend.asarray(X), backend.asarray(y)
    fitted = clone(estimator).fit(*_fit_args(estimator, X_backend, y_backend))
    output = _output(fitted, X_backend)
    assert_on_backend(output, backend)
    assert output.dtype == xp.float32
    for name, value in vars(fitted).items():
        if (
            name.endswith("_")
            and hasattr(value, "dtype")
            and xp.isdtype(value.dtype, "real floating")
        ):
            assert value.dtype == xp.float32, f"{name} is {value.dtype}"


@pytest.mark.parametrize("estimator", PROPERTY_ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_backend_agrees_with_numpy(estimator, backend, dtype):
    """Every backend gives NumPy's fitted attributes and outputs."""
    skip_without_float64(backend, dtype)
    if backend.name == "dask" and type(estimator).__name__ == "MiniBatchKMeans":
        pytest.skip(
            "MiniBatchKMeans on Dask draws each batch within one row block, not anywhere in "
            "X: compared with in-memory partial_fit on the same batches in "
            "tests/cluster/test_minibatch_blocks.py"
        )
    X, y = _make_data(1, 50, 5, dtype=dtype)
    y = _target(estimator, y)
    reference = clone(estimator).fit(*_fit_args(estimator, X, y))
    X_backend, y_backend = backend.asarray(X), backend.asarray(y)
    fitted = clone(estimator).fit(*_fit_args(estimator, X_backend, y_backend))
    rtol, atol = _tolerance(estimator, dtype)
    output = _output(fitted, X_backend)
    assert_on_backend(output, backend)
    assert_allclose_xp(output, _output(reference, X), rtol=rtol, atol=atol)
    for name, value in vars(reference).items():
        if name.endswith("_") and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            fitted_value = getattr(fitted, name)
            assert_on_backend(fitted_value, backend)
            assert_allclose_xp(fitted_value, value, rtol=rtol, atol=atol, err_msg=name)
    assert to_numpy(output).shape == _output(reference, X).shape
