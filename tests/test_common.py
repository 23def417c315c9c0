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
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from xplearn._xp import to_numpy
from xplearn.testing import assert_allclose_xp, assert_on_backend, skip_without_float64
from xplearn.utils.discovery import all_estimators

ESTIMATORS = [cls() for _, cls in all_estimators()]
IDS = [type(estimator).__name__ for estimator in ESTIMATORS]

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
    """The main output of a fitted estimator: predict for regressors, transform otherwise."""
    if is_regressor(estimator):
        return estimator.predict(X)
    if is_classifier(estimator):
        return estimator.predict_proba(X)
    return estimator.transform(X)


data_shapes = {
    "seed": st.integers(0, 2**32 - 1),
    "n_samples": st.integers(12, 40),
    "n_features": st.integers(1, 6),
}


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
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


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@given(**data_shapes, permutation_seed=st.integers(0, 2**32 - 1))
def test_fit_invariant_to_row_order(estimator, seed, n_samples, n_features, permutation_seed):
    """Shuffling the training rows does not change the fitted model's outputs."""
    X, y = _make_data(seed, n_samples, n_features)
    y = _target(estimator, y)
    order = np.random.default_rng(permutation_seed).permutation(n_samples)
    reference = clone(estimator).fit(*_fit_args(estimator, X, y))
    shuffled = clone(estimator).fit(*_fit_args(estimator, X[order], y[order]))
    np.testing.assert_allclose(_output(shuffled, X), _output(reference, X), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
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


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_backend_agrees_with_numpy(estimator, backend, dtype):
    """Every backend gives NumPy's fitted attributes and outputs."""
    skip_without_float64(backend, dtype)
    X, y = _make_data(1, 50, 5, dtype=dtype)
    y = _target(estimator, y)
    reference = clone(estimator).fit(*_fit_args(estimator, X, y))
    X_backend, y_backend = backend.asarray(X), backend.asarray(y)
    fitted = clone(estimator).fit(*_fit_args(estimator, X_backend, y_backend))
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    atol = 1e-9 if dtype == np.float64 else 1e-4
    output = _output(fitted, X_backend)
    assert_on_backend(output, backend)
    assert_allclose_xp(output, _output(reference, X), rtol=rtol, atol=atol)
    for name, value in vars(reference).items():
        if name.endswith("_") and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            fitted_value = getattr(fitted, name)
            assert_on_backend(fitted_value, backend)
            assert_allclose_xp(fitted_value, value, rtol=rtol, atol=atol, err_msg=name)
    assert to_numpy(output).shape == _output(reference, X).shape
