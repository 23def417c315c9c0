"""GaussianNB against scikit-learn on every backend, its dtype policy, errors, properties."""

import re

import numpy as np
import pytest
import sklearn.naive_bayes
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_iris, load_wine, make_classification
from sklearn.exceptions import NotFittedError

import xplearn
from xplearn._xp import default_float_dtype, to_numpy
from xplearn.naive_bayes import GaussianNB
from xplearn.testing import assert_allclose_xp, assert_on_backend

ATTRIBUTES = ("theta_", "var_", "class_count_", "class_prior_", "epsilon_")
METHODS = ("predict_joint_log_proba", "predict_log_proba", "predict_proba")


def _binary():
    return make_classification(
        n_samples=120, n_features=6, n_informative=4, n_classes=2, random_state=0
    )


DATASETS = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "binary": _binary,
}


def _compare(est, reference, X_backend, X, backend, rtol=1e-8):
    for name in ATTRIBUTES:
        value = getattr(est, name)
        assert_on_backend(value, backend)
        assert_allclose_xp(value, getattr(reference, name), rtol=rtol, err_msg=name)
    # the log-probabilities are differences of joint log-likelihoods: the joint's own
    # rounding (eps * |jll|) bounds their absolute error, in scikit-learn's as in ours
    # (which subtracts the best class first: -1e-18 where scikit-learn rounds to 0)
    jll = reference.predict_joint_log_proba(X)
    difference_atol = 16 * np.finfo(np.float64).eps * np.max(np.abs(jll))
    for method in METHODS:
        output = getattr(est, method)(X_backend)
        assert_on_backend(output, backend)
        atol = difference_atol if method == "predict_log_proba" else 1e-300
        assert_allclose_xp(output, getattr(reference, method)(X), rtol=rtol, atol=atol)
    np.testing.assert_array_equal(to_numpy(est.predict(X_backend)), reference.predict(X))


# ---------------------------------------------------------------------------------------
# Agreement with scikit-learn


@pytest.mark.parametrize("dataset", DATASETS)
def test_fit_matches_sklearn(backend, dataset):
    X, y = DATASETS[dataset]()
    reference = sklearn.naive_bayes.GaussianNB().fit(X, y)
    X_backend = backend.asarray(X)
    est = GaussianNB().fit(X_backend, backend.asarray(y))
    assert_on_backend(est.classes_, backend)
    assert_allclose_xp(est.classes_, reference.classes_)
    assert est.n_features_in_ == X.shape[1]
    _compare(est, reference, X_backend, X, backend)


@pytest.mark.parametrize("dataset", ["iris", "binary"])
def test_sample_weight_matches_sklearn(backend, dataset):
    X, y = DATASETS[dataset]()
    weights = np.random.default_rng(0).uniform(0.1, 3.0, X.shape[0])
    reference = sklearn.naive_bayes.GaussianNB().fit(X, y, sample_weight=weights)
    X_backend = backend.asarray(X)
    est = GaussianNB().fit(X_backend, backend.asarray(y), sample_weight=backend.asarray(weights))
    _compare(est, reference, X_backend, X, backend)


def test_integer_weights_equal_repeated_rows(backend):
    X, y = load_iris(return_X_y=True)
    weights = np.random.default_rng(1).integers(0, 4, X.shape[0])
    weights[[0, 50, 100]] = 1  # every class keeps samples
    # epsilon_ comes from the unweighted variance of X, which repeating rows changes
    weighted = GaussianNB(var_smoothing=0.0).fit(
        backend.asarray(X), backend.asarray(y), sample_weight=backend.asarray(weights)
    )
    repeated = GaussianNB(var_smoothing=0.0).fit(
        backend.asarray(np.repeat(X, weights, axis=0)),
        backend.asarray(np.repeat(y, weights)),
    )
    for name in ("theta_", "var_", "class_count_", "class_prior_"):
        assert_allclose_xp(getattr(weighted, name), getattr(repeated, name), rtol=1e-10)
    X_backend = backend.asarray(X)
    assert_allclose_xp(weighted.predict_proba(X_backend), repeated.predict_proba(X_backend))


def test_class_without_weight_or_samples(backend):
    """A class whose samples all have weight 0, or that the first partial_fit batch lacks,
    keeps zero statistics and a zero prior, as in scikit-learn."""
    X, y = load_iris(return_X_y=True)
    weights = np.ones(X.shape[0])
    weights[y == 2] = 0.0
    with np.errstate(divide="ignore"):  # scikit-learn takes log(0) of the zero prior
        reference = sklearn.naive_bayes.GaussianNB().fit(X, y, sample_weight=weights)
        expected = reference.predict_proba(X)
    X_backend = backend.asarray(X)
    est = GaussianNB().fit(X_backend, backend.asarray(y), sample_weight=backend.asarray(weights))
    for name in ATTRIBUTES:
        assert_allclose_xp(getattr(est, name), getattr(reference, name), rtol=1e-8, err_msg=name)
    assert_allclose_xp(est.predict_proba(X_backend), expected, rtol=1e-8, atol=1e-300)
    online = GaussianNB().partial_fit(
        backend.asarray(X[:100]), backend.asarray(y[:100]), classes=[0, 1, 2]
    )
    reference = sklearn.naive_bayes.GaussianNB().partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    for name in ATTRIBUTES:
        assert_allclose_xp(getattr(online, name), getattr(reference, name), rtol=1e-8, err_msg=name)


def test_priors_match_sklearn(backend):
    X, y = load_wine(return_X_y=True)
    priors = [0.5, 0.3, 0.2]
    reference = sklearn.naive_bayes.GaussianNB(priors=priors).fit(X, y)
    X_backend = backend.asarray(X)
    est = GaussianNB(priors=np.array(priors)).fit(X_backend, backend.asarray(y))
    _compare(est, reference, X_backend, X, backend)


def test_var_smoothing_matches_sklearn(backend):
    X, y = load_iris(return_X_y=True)
    reference = sklearn.naive_bayes.GaussianNB(var_smoothing=0.1).fit(X, y)
    X_backend = backend.asarray(X)
    est = GaussianNB(var_smoothing=0.1).fit(X_backend, backend.asarray(y))
    _compare(est, reference, X_backend, X, backend)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_partial_fit_matches_sklearn_and_fit(backend, weighted):
    X, y = load_wine(return_X_y=True)
    order = np.random.default_rng(2).permutation(X.shape[0])
    X, y = X[order], y[order]
    weights = np.random.default_rng(3).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    reference = sklearn.naive_bayes.GaussianNB()
    est = GaussianNB()
    # uneven batches; the second is a single sample: the other classes' statistics stay
    # unchanged, and its epsilon_ is 0
    batches = [slice(0, 40), slice(40, 41), slice(41, 120), slice(120, None)]
    for i, batch in enumerate(batches):
        classes = [0, 1, 2] if i == 0 else None
        w = None if weights is None else weights[batch]
        reference.partial_fit(X[batch], y[batch], classes=classes, sample_weight=w)
        est.partial_fit(
            backend.asarray(X[batch]),
            backend.asarray(y[batch]),
            classes=classes,
            sample_weight=None if w is None else backend.asarray(w),
        )
    _compare(est, reference, backend.asarray(X), X, backend)
    # the batches give the model of the whole, up to var_smoothing: scikit-learn
    # recomputes epsilon_ on each batch and takes the new one off the running variances
    full = GaussianNB().fit(
        backend.asarray(X),
        backend.asarray(y),
        sample_weight=None if weights is None else backend.asarray(weights),
    )
    for name in ("theta_", "class_count_", "class_prior_"):
        assert_allclose_xp(getattr(est, name), getattr(full, name), rtol=1e-10)
    epsilon = max(float(to_numpy(est.epsilon_)), float(to_numpy(full.epsilon_)))
    assert_allclose_xp(est.var_, full.var_, rtol=1e-10, atol=4 * epsilon)


def test_partial_fit_batches_equal_fit_without_smoothing(backend):
    X, y = load_iris(return_X_y=True)
    est = GaussianNB(var_smoothing=0.0)
    for i, batch in enumerate(np.array_split(np.random.default_rng(4).permutation(150), 5)):
        est.partial_fit(
            backend.asarray(X[batch]),
            backend.asarray(y[batch]),
            classes=np.arange(3) if i == 0 else None,
        )
    full = GaussianNB(var_smoothing=0.0).fit(backend.asarray(X), backend.asarray(y))
    for name in ("theta_", "var_", "class_count_", "class_prior_"):
        assert_allclose_xp(getattr(est, name), getattr(full, name), rtol=1e-10, atol=1e-14)


def test_fit_forgets_partial_fit(backend):
    X, y = load_iris(return_X_y=True)
    est = GaussianNB().partial_fit(
        backend.asarray(X[:20]), backend.asarray(y[:20]), classes=[0, 1, 2]
    )
    est.fit(backend.asarray(X), backend.asarray(y))
    reference = sklearn.naive_bayes.GaussianNB().fit(X, y)
    assert_allclose_xp(est.class_count_, reference.class_count_)


# ---------------------------------------------------------------------------------------
# Labels


def test_string_labels_with_torch_X():
    torch = pytest.importorskip("torch")
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    reference = sklearn.naive_bayes.GaussianNB().fit(X, names)
    est = GaussianNB().fit(torch.asarray(X), names)
    assert isinstance(est.classes_, np.ndarray)
    np.testing.assert_array_equal(est.classes_, reference.classes_)
    assert isinstance(est.theta_, torch.Tensor)
    predicted = est.predict(torch.asarray(X))
    assert isinstance(predicted, np.ndarray)
    np.testing.assert_array_equal(predicted, reference.predict(X))
    # the same with a list of labels and partial_fit
    online = GaussianNB().partial_fit(
        torch.asarray(X[:75]), list(names[:75]), classes=["virginica", "setosa", "versicolor"]
    )
    online.partial_fit(torch.asarray(X[75:]), list(names[75:]))
    np.testing.assert_array_equal(online.classes_, reference.classes_)
    np.testing.assert_array_equal(online.predict(torch.asarray(X)), reference.predict(X))


def test_string_labels_on_backend(backend):
    X, y = load_iris(return_X_y=True)
    names = np.array(["b", "a", "c"])[y]
    est = GaussianNB().fit(backend.asarray(X), names)
    np.testing.assert_array_equal(est.classes_, ["a", "b", "c"])
    predicted = est.predict(backend.asarray(X))
    # NumPy labels; on Dask lazily, as NumPy blocks
    assert isinstance(predicted._meta if backend.name == "dask" else predicted, np.ndarray)
    reference = sklearn.naive_bayes.GaussianNB().fit(X, names)
    np.testing.assert_array_equal(to_numpy(predicted), reference.predict(X))


def test_integer_labels_stay_on_backend(backend):
    X, y = load_iris(return_X_y=True)
    labels = np.array([7, -3, 10])[y]
    est = GaussianNB().fit(backend.asarray(X), backend.asarray(labels))
    assert_on_backend(est.classes_, backend)
    np.testing.assert_array_equal(to_numpy(est.classes_), [-3, 7, 10])
    predicted = est.predict(backend.asarray(X))
    assert_on_backend(predicted, backend)
    reference = sklearn.naive_bayes.GaussianNB().fit(X, labels)
    np.testing.assert_array_equal(to_numpy(predicted), reference.predict(X))


def test_partial_fit_classes_in_any_form(backend):
    X, y = load_iris(return_X_y=True)
    y_backend = backend.asarray(y)
    for classes in ([2, 0, 1], np.array([0, 1, 2]), backend.asarray(np.array([0, 1, 2]))):
        est = GaussianNB().partial_fit(backend.asarray(X), y_backend, classes=classes)
        assert_on_backend(est.classes_, backend)
        np.testing.assert_array_equal(to_numpy(est.classes_), [0, 1, 2])
    # repeating the same classes later is allowed
    est.partial_fit(backend.asarray(X[:10]), backend.asarray(y[:10]), classes=[0, 1, 2])


def test_convert_fitted_model():
    torch = pytest.importorskip("torch")
    X, y = load_iris(return_X_y=True)
    est = GaussianNB().fit(X, y)
    moved = xplearn.convert(est, to="torch")
    assert isinstance(moved.theta_, torch.Tensor)
    assert_allclose_xp(moved.predict_proba(torch.asarray(X)), est.predict_proba(X))


# ---------------------------------------------------------------------------------------
# Dtype policy


def test_float32_preserved(backend):
    X, y = load_iris(return_X_y=True)
    est = GaussianNB().fit(backend.asarray(X, dtype=np.float32), backend.asarray(y))
    xp = backend.xp
    for name in ATTRIBUTES:
        assert getattr(est, name).dtype == xp.float32, name
    X32 = backend.asarray(X, dtype=np.float32)
    for method in METHODS:
        assert getattr(est, method)(X32).dtype == xp.float32, method
    reference = sklearn.naive_bayes.GaussianNB().fit(X, y)
    assert_allclose_xp(est.predict_proba(X32), reference.predict_proba(X), rtol=1e-3, atol=1e-5)


def test_integer_X_uses_default_float(backend):
    X, y = load_iris(return_X_y=True)
    X_int = np.round(X * 10).astype(np.int64)
    est = GaussianNB().fit(backend.asarray(X_int), backend.asarray(y))
    assert est.theta_.dtype == default_float_dtype(backend.xp, backend.device)
    reference = sklearn.naive_bayes.GaussianNB().fit(X_int, y)
    # torch's default float is float32
    tolerance = (
        {}
        if backend.has_float64 and est.theta_.dtype == backend.xp.float64
        else {"rtol": 1e-4, "atol": 1e-6}
    )
    assert_allclose_xp(
        est.predict_proba(backend.asarray(X_int)), reference.predict_proba(X_int), **tolerance
    )


@pytest.mark.parametrize("policy", ["float32", "float64"])
def test_explicit_policies(backend, policy):
    X, y = load_iris(return_X_y=True)
    est = GaussianNB(dtype_policy=policy).fit(backend.asarray(X), backend.asarray(y))
    assert est.theta_.dtype == getattr(backend.xp, policy)
    with xplearn.config_context(dtype_policy=policy):
        configured = GaussianNB().fit(backend.asarray(X), backend.asarray(y))
    assert configured.var_.dtype == getattr(backend.xp, policy)


def test_mixed_accumulates_in_float64(backend):
    """ "mixed" stores float32 attributes computed from float64 sums: the float64 fit of the
    same data, rounded once; partial_fit combines in float64 too."""
    rng = np.random.default_rng(5)
    X = (rng.standard_normal((3000, 4)) * [1.0, 1e-3, 10.0, 0.1] + [1e3, 5.0, 0.0, -7.0]).astype(
        np.float32
    )
    y = rng.integers(0, 3, X.shape[0])
    X_backend, y_backend = backend.asarray(X), backend.asarray(y)
    mixed = GaussianNB(dtype_policy="mixed").fit(X_backend, y_backend)
    exact = GaussianNB(dtype_policy="float64").fit(X_backend, y_backend)
    xp = backend.xp
    for name in ATTRIBUTES:
        value = getattr(mixed, name)
        assert value.dtype == xp.float32, name
        np.testing.assert_array_equal(
            to_numpy(value), to_numpy(getattr(exact, name)).astype(np.float32), err_msg=name
        )
    assert mixed.predict_proba(X_backend).dtype == xp.float32

    online = GaussianNB(dtype_policy="mixed", var_smoothing=0.0)
    online_exact = GaussianNB(dtype_policy="float64", var_smoothing=0.0)
    for i, batch in enumerate(np.array_split(np.arange(X.shape[0]), 3)):
        classes = [0, 1, 2] if i == 0 else None
        online.partial_fit(backend.asarray(X[batch]), backend.asarray(y[batch]), classes=classes)
        online_exact.partial_fit(
            backend.asarray(X[batch]), backend.asarray(y[batch]), classes=classes
        )
    assert online.theta_.dtype == xp.float32
    expected = to_numpy(online_exact.theta_).astype(np.float32)
    np.testing.assert_allclose(to_numpy(online.theta_), expected, rtol=2**-23)
    expected = to_numpy(online_exact.var_).astype(np.float32)
    np.testing.assert_allclose(to_numpy(online.var_), expected, rtol=2**-22)


def test_mixed_without_float64(no_float64):
    X, y = load_iris(return_X_y=True)
    X_backend = no_float64.asarray(X, dtype=np.float32)
    y_backend = no_float64.asarray(y.astype(np.int32))
    est = GaussianNB(dtype_policy="mixed").fit(X_backend, y_backend)
    assert est.theta_.dtype == no_float64.xp.float32
    assert_allclose_xp(
        est.predict_proba(X_backend),
        sklearn.naive_bayes.GaussianNB().fit(X, y).predict_proba(X),
        rtol=1e-3,
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="float64"):
        GaussianNB(dtype_policy="float64").fit(X_backend, y_backend)


# ---------------------------------------------------------------------------------------
# Errors


def _data(backend):
    X, y = load_iris(return_X_y=True)
    return backend.asarray(X), backend.asarray(y), X, y


def test_one_class_is_an_error(backend):
    X_backend, _, X, _ = _data(backend)
    with pytest.raises(ValueError, match=r"GaussianNB\.fit\(\): .*only one class"):
        GaussianNB().fit(X_backend, backend.asarray(np.zeros(X.shape[0], dtype=np.int64)))


def test_y_of_wrong_length(backend):
    X_backend, _, _, y = _data(backend)
    with pytest.raises(ValueError, match=r"GaussianNB\.fit\(\): .*inconsistent numbers"):
        GaussianNB().fit(X_backend, backend.asarray(y[:-1]))
    est = GaussianNB().partial_fit(X_backend, backend.asarray(y), classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"GaussianNB\.partial_fit\(\): .*inconsistent"):
        est.partial_fit(X_backend, backend.asarray(y[:-1]))


def test_nan_in_X(backend):
    _, y_backend, X, _ = _data(backend)
    X = X.copy()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"GaussianNB\.fit\(\): Input X contains NaN"):
        GaussianNB().fit(backend.asarray(X), y_backend)
    est = GaussianNB().fit(backend.asarray(np.nan_to_num(X)), y_backend)
    with pytest.raises(ValueError, match=r"GaussianNB\.predict_proba\(\): Input X contains NaN"):
        to_numpy(est.predict_proba(backend.asarray(X)))  # Dask: raises when computed


def test_negative_sample_weight(backend):
    X_backend, y_backend, X, _ = _data(backend)
    weights = np.ones(X.shape[0])
    weights[4] = -1.0
    with pytest.raises(ValueError, match=r"GaussianNB\.fit\(\): sample_weight has negative"):
        GaussianNB().fit(X_backend, y_backend, sample_weight=backend.asarray(weights))


def test_partial_fit_needs_classes_first(backend):
    X_backend, y_backend, _, _ = _data(backend)
    est = GaussianNB()
    with pytest.raises(ValueError, match=r"GaussianNB\.partial_fit\(\): classes must be passed"):
        est.partial_fit(X_backend, y_backend)
    assert not hasattr(est, "n_features_in_")


def test_partial_fit_unknown_class(backend):
    X_backend, _, X, y = _data(backend)
    est = GaussianNB().partial_fit(
        backend.asarray(X[:100]), backend.asarray(y[:100]), classes=[0, 1]
    )
    with pytest.raises(
        ValueError, match=r"GaussianNB\.partial_fit\(\): y contains labels not in classes: \[2"
    ):
        est.partial_fit(X_backend, backend.asarray(y))
    # the failed call left the model as it was
    reference = sklearn.naive_bayes.GaussianNB().fit(X[:100], y[:100])
    assert_allclose_xp(est.theta_, reference.theta_)
    with pytest.raises(ValueError, match=r"GaussianNB\.partial_fit\(\): y contains labels not"):
        GaussianNB().partial_fit(X_backend, backend.asarray(y), classes=[0, 1])


def test_partial_fit_unknown_string_class():
    X, y = load_iris(return_X_y=True)
    names = np.array(["a", "b", "c"])[y]
    with pytest.raises(ValueError, match=r"GaussianNB\.partial_fit\(\): .*not in classes: \['c'"):
        GaussianNB().partial_fit(X, names, classes=["a", "b"])


def test_partial_fit_changed_classes(backend):
    X_backend, y_backend, _, _ = _data(backend)
    est = GaussianNB().partial_fit(X_backend, y_backend, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"GaussianNB\.partial_fit\(\): classes=\[0, 1, 2, 3\]"):
        est.partial_fit(X_backend, y_backend, classes=[0, 1, 2, 3])


def test_partial_fit_other_number_of_features(backend):
    X_backend, y_backend, X, _ = _data(backend)
    est = GaussianNB().partial_fit(X_backend, y_backend, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"GaussianNB\.partial_fit\(\): X has 3 features"):
        est.partial_fit(backend.asarray(X[:, :3]), y_backend)


@pytest.mark.parametrize(
    ("priors", "message"),
    [
        ([0.5, 0.5], "Number of priors must match number of classes"),
        ([0.5, 0.3, 0.3], "The sum of the priors should be 1"),
        ([1.2, -0.1, -0.1], "Priors must be non-negative"),
        ([[0.2, 0.3, 0.5]], "Number of priors must match number of classes"),
        (["a", "b", "c"], "priors must be an array of numbers"),
    ],
)
def test_bad_priors(backend, priors, message):
    X_backend, y_backend, _, _ = _data(backend)
    est = GaussianNB(priors=priors)
    with pytest.raises(ValueError, match=rf"GaussianNB\.fit\(\): {message}"):
        est.fit(X_backend, y_backend)
    assert not hasattr(est, "classes_")
    with pytest.raises(ValueError, match=rf"GaussianNB\.partial_fit\(\): {message}"):
        est.partial_fit(X_backend, y_backend, classes=[0, 1, 2])
    with pytest.raises(NotFittedError):
        est.predict(X_backend)


@pytest.mark.parametrize("smoothing", [-1e-9, float("nan"), float("inf"), "small"])
def test_bad_var_smoothing(smoothing):
    """Refused as scikit-learn refuses it (its InvalidParameterError and message)."""
    X, y = load_iris(return_X_y=True)
    with pytest.raises(
        ValueError,
        match=r"GaussianNB\.fit\(\): The 'var_smoothing' parameter of GaussianNB must be a "
        r"float in the range \[0.0, inf\)",
    ):
        GaussianNB(var_smoothing=smoothing).fit(X, y)


def test_continuous_target(backend):
    X_backend, _, X, _ = _data(backend)
    y = np.linspace(0.0, 1.0, X.shape[0])
    with pytest.raises(ValueError, match=r"GaussianNB\.fit\(\): Unknown label type: continuous"):
        GaussianNB().fit(X_backend, backend.asarray(y))
    # whole-number floats are class labels, as in scikit-learn
    est = GaussianNB().fit(X_backend, backend.asarray(np.round(y * 2)))
    np.testing.assert_array_equal(to_numpy(est.classes_), [0.0, 1.0, 2.0])


def test_not_fitted(backend):
    X_backend, _, _, _ = _data(backend)
    for method in ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba"):
        with pytest.raises(NotFittedError, match=re.escape(f"GaussianNB.{method}()")):
            getattr(GaussianNB(), method)(X_backend)


# ---------------------------------------------------------------------------------------
# Properties


def _random_problem(seed, n_samples, n_features, n_classes):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    X = centers[y] + rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 2.0, n_features)
    return X, y


problems = {
    "seed": st.integers(0, 2**32 - 1),
    "n_samples": st.integers(12, 40),
    "n_features": st.integers(1, 5),
    "n_classes": st.integers(2, 4),
}


def _assert_same_predictions(proba_a, proba_b, predicted_a, predicted_b):
    """Equal predictions wherever the two best classes are not within rounding of a tie."""
    ordered = np.sort(proba_a, axis=1)
    clear = ordered[:, -1] - ordered[:, -2] > 1e-9
    np.testing.assert_array_equal(predicted_a[clear], predicted_b[clear])


@given(**problems, permutation_seed=st.integers(0, 2**32 - 1))
def test_property_row_order_invariance(seed, n_samples, n_features, n_classes, permutation_seed):
    X, y = _random_problem(seed, n_samples, n_features, n_classes)
    order = np.random.default_rng(permutation_seed).permutation(n_samples)
    reference = GaussianNB().fit(X, y)
    shuffled = GaussianNB().fit(X[order], y[order])
    proba = reference.predict_proba(X)
    np.testing.assert_allclose(shuffled.predict_proba(X), proba, rtol=1e-7, atol=1e-12)
    _assert_same_predictions(proba, proba, reference.predict(X), shuffled.predict(X))


@given(**problems, permutation_seed=st.integers(0, 2**32 - 1))
def test_property_relabelling_permutes_columns(
    seed, n_samples, n_features, n_classes, permutation_seed
):
    X, y = _random_problem(seed, n_samples, n_features, n_classes)
    relabel = np.random.default_rng(permutation_seed).permutation(n_classes) * 10 - 7
    reference = GaussianNB().fit(X, y)
    relabelled = GaussianNB().fit(X, relabel[y])
    np.testing.assert_array_equal(relabelled.classes_, np.sort(relabel))
    # column j of the reference is class j, now named relabel[j]
    columns = np.searchsorted(relabelled.classes_, relabel)
    proba = reference.predict_proba(X)
    np.testing.assert_allclose(
        relabelled.predict_proba(X)[:, columns], proba, rtol=1e-9, atol=1e-14
    )
    _assert_same_predictions(proba, proba, relabel[reference.predict(X)], relabelled.predict(X))


@given(**problems, scale=st.sampled_from([1e-3, 1.0, 1e4]))
def test_property_probabilities(seed, n_samples, n_features, n_classes, scale):
    X, y = _random_problem(seed, n_samples, n_features, n_classes)
    X = X * scale
    est = GaussianNB().fit(X, y)
    X_test = np.concatenate([X, X * 3.0 + 50.0 * scale])  # far away samples too
    proba = est.predict_proba(X_test)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    log_proba = est.predict_log_proba(X_test)
    assert np.all(log_proba <= 0)
    assert not np.any(np.isnan(log_proba))
    np.testing.assert_array_equal(est.predict(X_test), est.classes_[np.argmax(proba, axis=1)])


@given(**problems, value=st.sampled_from([0.0, 0.1, -3.7, 1e6]))
def test_property_constant_feature_gives_no_nan(seed, n_samples, n_features, n_classes, value):
    X, y = _random_problem(seed, n_samples, n_features, n_classes)
    X = np.concatenate([X, np.full((n_samples, 1), value)], axis=1)
    est = GaussianNB().fit(X, y)
    for method in METHODS:
        assert not np.any(np.isnan(getattr(est, method)(X))), method
    reference = sklearn.naive_bayes.GaussianNB().fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), reference.predict_proba(X), atol=1e-8)


# ---------------------------------------------------------------------------------------
# Numerical trust (issue 15): extreme magnitudes, a failed refit keeps the model


def _exact_log_proba(reference, Q):
    """Joint log-likelihood and log-probabilities of the float64 scikit-learn fit at the
    query values, in long double (squared deviations of 1e320 do not overflow there)."""
    ld = np.longdouble
    theta, var = reference.theta_.astype(ld), reference.var_.astype(ld)
    deviation = Q.astype(ld)[:, None, :] - theta[None]
    jll = (
        np.log(reference.class_prior_.astype(ld))
        - 0.5 * np.sum(np.log(2 * ld(np.pi) * var), axis=1)
        - 0.5 * np.sum(deviation * deviation / var[None], axis=2)
    )
    best = jll.max(axis=1, keepdims=True)
    log_proba = jll - best - np.log(np.sum(np.exp(jll - best), axis=1, keepdims=True))
    return jll, log_proba


@pytest.mark.parametrize(
    ("dtype", "train_scale", "query_scale"),
    [
        (np.float32, 1.0, 1e20),
        (np.float32, 1.0, 1e30),
        (np.float32, 1.0, -1e20),
        (np.float32, 1.0, 1e-20),
        (np.float32, 1e-30, 1e-30),
        (np.float32, 1e-30, 1e-10),
        (np.float32, 1e20, 1e25),
        (np.float64, 1.0, 1e20),
        (np.float64, 1.0, 1e160),
        (np.float64, 1e-150, 1e-150),
    ],
)
def test_probabilities_at_extreme_magnitudes(backend, dtype, train_scale, query_scale):
    """predict_proba / predict_log_proba / predict_joint_log_proba are finite (no NaN)
    and right wherever the true values are representable, for queries far outside the
    training range and data of extreme magnitude: float32 queries at 1e20 gave NaN
    (every class's squared deviation overflowed to inf), float32 data at 1e-30 had zero
    variances. Reference: the float64 scikit-learn fit on the same values, evaluated
    exactly in long double."""
    from xplearn._xp import to_numpy

    if dtype == np.float64 and not backend.has_float64:
        pytest.skip("float64 on a device without it")
    X, y = make_classification(
        n_samples=300,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        random_state=0,
    )
    X = (X * train_scale).astype(dtype)
    # rows far outside the training range, and (unless the same) rows inside it
    Q = np.concatenate([X[:12] / dtype(train_scale) * dtype(query_scale), X[12:16]])
    Q = Q.astype(dtype)
    reference = sklearn.naive_bayes.GaussianNB().fit(X.astype(np.float64), y)
    jll, exact = _exact_log_proba(reference, Q)
    model = GaussianNB().fit(backend.asarray(X), backend.asarray(y))
    Q_backend = backend.asarray(Q)
    log_proba = to_numpy(model.predict_log_proba(Q_backend))
    proba = to_numpy(model.predict_proba(Q_backend))
    joint = to_numpy(model.predict_joint_log_proba(Q_backend))
    assert log_proba.dtype == dtype
    assert proba.dtype == dtype
    assert not np.any(np.isnan(log_proba))
    assert np.all(np.isfinite(proba))
    # exp of log-probabilities: their rounding (eps * |jll|) is the sums' relative error
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-4 if dtype == np.float32 else 1e-9)
    # the dtype's rounding of the exact values: -inf beyond its range
    with np.errstate(over="ignore"):
        expected, expected_joint = exact.astype(dtype), jll.astype(dtype)
    # absolute error of differences of rounded joints: a few eps of the largest |jll|
    eps = float(np.finfo(dtype).eps)
    atol = 64 * eps * np.minimum(np.abs(jll).max(axis=1, keepdims=True), 1e300).astype(float)
    for got, want in ((log_proba, expected), (joint, expected_joint)):
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
        finite = np.isfinite(want)
        bound = atol + 1e-4 * np.abs(want.astype(np.float64))
        assert np.all(
            np.abs(got[finite] - want[finite]) <= np.broadcast_to(bound, want.shape)[finite]
        )
    np.testing.assert_allclose(proba, np.exp(exact).astype(np.float64), rtol=1e-3, atol=1e-6)
    np.testing.assert_array_equal(to_numpy(model.predict(Q_backend)), jll.argmax(axis=1))


def test_failed_refit_keeps_the_fitted_model(backend):
    """A refit that fails (NaN in X) raises and leaves the previous model as it was: it
    predicts the same (it was left unfitted)."""
    from xplearn._xp import to_numpy

    X_backend, y_backend, X, _y = _data(backend)
    model = GaussianNB().fit(X_backend, y_backend)
    before = to_numpy(model.predict_proba(X_backend))
    theta = to_numpy(model.theta_)
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"GaussianNB\.fit\(\): Input X contains NaN"):
        model.fit(backend.asarray(bad), y_backend)
    np.testing.assert_array_equal(to_numpy(model.theta_), theta)
    np.testing.assert_array_equal(to_numpy(model.predict_proba(X_backend)), before)
    with pytest.raises(ValueError, match=r"'var_smoothing' parameter"):
        model.set_params(var_smoothing=-1.0).fit(X_backend, y_backend)
    np.testing.assert_array_equal(to_numpy(model.predict_proba(X_backend)), before)
