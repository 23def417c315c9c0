"""LogisticRegression on every backend, against scikit-learn's lbfgs solver."""

import warnings

import numpy as np
import pytest
import sklearn.linear_model as sklm
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import xplearn
from xplearn._xp import to_numpy
from xplearn.linear_model import LogisticRegression
from xplearn.linear_model._logistic import _compensated_sum, _LogisticLoss
from xplearn.testing import assert_allclose_xp, assert_on_backend, skip_without_float64

TIGHT = {"tol": 1e-10, "max_iter": 1000}


def _data(n_classes=3, n_samples=150, n_features=5, seed=0):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=min(n_features, 4),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=0.8,
        flip_y=0.05,  # label noise: not separable, so penalty=None has a finite optimum
        random_state=seed,
    )
    return X, y


def _dask_runs_one_case(backend, *, this_one):
    """Dask builds and computes a graph per L-BFGS evaluation: slow on tiny problems.
    It runs one representative case of a parametrized test; the code path is shared."""
    if backend.name == "dask" and not this_one:
        pytest.skip("dask runs one representative case of this test")


def _reference(penalty="l2", **params):
    """scikit-learn's estimator (penalty=None is C=inf there since 1.8)."""
    if penalty is None:
        params["C"] = np.inf
    return sklm.LogisticRegression(**params)


def _assert_coefficients(ours, reference, rtol=1e-4):
    scale = np.abs(reference.coef_).max()
    assert_allclose_xp(ours.coef_, reference.coef_, rtol=rtol, atol=rtol * scale)
    assert_allclose_xp(ours.intercept_, reference.intercept_, rtol=rtol, atol=rtol * scale)


# ---------------------------------------------------------------------------------------
# Against scikit-learn


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("penalty", ["l2", None], ids=["l2", "none"])
def test_matches_sklearn(backend, n_classes, fit_intercept, penalty):
    skip_without_float64(backend, np.float64)
    representative = (penalty == "l2" and fit_intercept) or (
        n_classes == 2 and not fit_intercept and penalty is None
    )
    _dask_runs_one_case(backend, this_one=representative)
    X, y = _data(n_classes)
    params = {"fit_intercept": fit_intercept, **TIGHT}
    reference = _reference(penalty, **params).fit(X, y)
    ours = LogisticRegression(penalty=penalty, **params).fit(backend.asarray(X), backend.asarray(y))
    for name in ("coef_", "intercept_", "n_iter_", "classes_"):
        assert_on_backend(getattr(ours, name), backend)
    n_rows = 1 if n_classes == 2 else n_classes
    assert tuple(ours.coef_.shape) == (n_rows, X.shape[1])
    assert tuple(ours.intercept_.shape) == (n_rows,)
    assert tuple(ours.n_iter_.shape) == (1,)
    assert ours.n_iter_.dtype == backend.xp.int32
    _assert_coefficients(ours, reference)
    Xb = backend.asarray(X)
    predicted = ours.predict(Xb)
    assert_on_backend(predicted, backend)
    np.testing.assert_array_equal(to_numpy(predicted), reference.predict(X))
    assert_allclose_xp(ours.predict_proba(Xb), reference.predict_proba(X), rtol=1e-6, atol=1e-9)
    assert_allclose_xp(
        ours.decision_function(Xb), reference.decision_function(X), rtol=1e-6, atol=1e-8
    )
    assert ours.score(Xb, backend.asarray(y)) == pytest.approx(reference.score(X, y))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_iterations_match_sklearn_at_default_tol(n_classes):
    """The optimizer mirrors SciPy's L-BFGS-B: same iterates, same n_iter_."""
    X, y = _data(n_classes, n_samples=300, seed=1)
    reference = sklm.LogisticRegression().fit(X, y)
    ours = LogisticRegression().fit(X, y)
    assert abs(int(ours.n_iter_[0]) - int(reference.n_iter_[0])) <= 1
    _assert_coefficients(ours, reference, rtol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("class_weight", ["balanced", {0: 0.5, 1: 3.0}], ids=["balanced", "dict"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_class_and_sample_weights_match_sklearn(backend, n_classes, class_weight, weighted):
    skip_without_float64(backend, np.float64)
    _dask_runs_one_case(
        backend, this_one=class_weight == "balanced" and weighted and n_classes == 2
    )
    X, y = _data(n_classes, seed=2)
    weights = np.random.default_rng(0).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    reference = sklm.LogisticRegression(class_weight=class_weight, C=0.5, **TIGHT).fit(
        X, y, sample_weight=weights
    )
    ours = LogisticRegression(class_weight=class_weight, C=0.5, **TIGHT).fit(
        backend.asarray(X),
        backend.asarray(y),
        sample_weight=None if weights is None else backend.asarray(weights),
    )
    _assert_coefficients(ours, reference)


def test_integer_sample_weight_equals_repeated_rows():
    X, y = _data(3, n_samples=80, seed=3)
    repeats = np.random.default_rng(0).integers(0, 4, X.shape[0])
    weighted = LogisticRegression(**TIGHT).fit(X, y, sample_weight=repeats.astype(float))
    repeated = LogisticRegression(**TIGHT).fit(np.repeat(X, repeats, axis=0), np.repeat(y, repeats))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-7, atol=1e-9)


def test_scaling_all_weights_scales_C():
    """As in scikit-learn, the penalty is 1 / (2 C sum(s)): weights times 5 = C times 5."""
    X, y = _data(2)
    scaled = LogisticRegression(**TIGHT).fit(X, y, sample_weight=5.0)
    larger_C = LogisticRegression(C=5.0, **TIGHT).fit(X, y)
    np.testing.assert_allclose(scaled.coef_, larger_C.coef_, rtol=1e-7)
    reference = sklm.LogisticRegression(**TIGHT).fit(X, y, sample_weight=np.full(len(y), 5.0))
    _assert_coefficients(scaled, reference)


def test_loss_and_gradient_match_sklearn():
    """The fused objective is scikit-learn's LinearModelLoss, value and gradient."""
    from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    xp = xplearn._xp.numpy_namespace()
    rng = np.random.default_rng(0)
    for n_classes in (2, 4):
        X, y = _data(n_classes, n_samples=60)
        weights = rng.uniform(0.1, 2.0, X.shape[0])
        l2 = 0.3 / weights.sum()
        loss = _LogisticLoss(
            xp, X, y, n_classes, weights / weights.sum(), l2, True, np.float64, np.float64
        )
        params = rng.standard_normal(loss.n_params)
        value, grad = loss(params)
        coef, intercept = loss.split(params)
        if n_classes == 2:
            base = HalfBinomialLoss()
            flat = np.concatenate([coef[0], intercept])
        else:
            base = HalfMultinomialLoss(n_classes=n_classes)
            flat = np.concatenate([coef, intercept[:, None]], axis=1)
        reference = LinearModelLoss(base, fit_intercept=True)
        ref_value, ref_grad = reference.loss_gradient(
            flat, X, y.astype(float), weights, l2_reg_strength=l2
        )
        assert float(value) == pytest.approx(ref_value, rel=1e-12)
        ref_grad = np.asarray(ref_grad).reshape(flat.shape)
        if n_classes == 2:
            expected = ref_grad
        else:
            expected = np.concatenate([ref_grad[:, :-1].ravel(), ref_grad[:, -1]])
        np.testing.assert_allclose(grad, expected, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------------------
# Labels


def test_string_labels_with_torch_data():
    torch = pytest.importorskip("torch")
    X, y = _data(3)
    names = np.array(["cat", "dog", "emu"])[y]
    model = LogisticRegression().fit(torch.asarray(X), names)
    assert isinstance(model.classes_, np.ndarray)
    np.testing.assert_array_equal(model.classes_, ["cat", "dog", "emu"])
    assert isinstance(model.coef_, torch.Tensor)
    predicted = model.predict(torch.asarray(X))
    assert isinstance(predicted, np.ndarray)
    assert predicted.dtype.kind == "U"
    reference = sklm.LogisticRegression().fit(X, names)
    np.testing.assert_array_equal(predicted, reference.predict(X))
    assert model.score(torch.asarray(X), names) == pytest.approx(reference.score(X, names))


def test_list_labels():
    X, y = _data(2)
    labels = ["no" if value == 0 else "yes" for value in y]
    model = LogisticRegression().fit(X, labels)
    np.testing.assert_array_equal(model.classes_, ["no", "yes"])
    assert set(model.predict(X).tolist()) <= {"no", "yes"}


def test_integer_labels_stay_in_the_namespace(backend):
    X, y = _data(3)
    labels = np.array([10, 20, 40])[y]
    dtype = np.float64 if backend.has_float64 else np.float32
    model = LogisticRegression().fit(backend.asarray(X, dtype), backend.asarray(labels))
    assert_on_backend(model.classes_, backend)
    predicted = model.predict(backend.asarray(X, dtype))
    assert_on_backend(predicted, backend)
    assert set(to_numpy(predicted).tolist()) <= {10, 20, 40}
    reference = sklm.LogisticRegression().fit(X, labels)
    np.testing.assert_array_equal(to_numpy(predicted), reference.predict(X))


def test_host_integer_labels_come_back_as_numpy():
    torch = pytest.importorskip("torch")
    X, y = _data(2)
    model = LogisticRegression().fit(torch.asarray(X), y)  # NumPy labels, torch data
    assert isinstance(model.classes_, np.ndarray)
    assert isinstance(model.predict(torch.asarray(X)), np.ndarray)


# ---------------------------------------------------------------------------------------
# Probabilities and inference


@pytest.mark.parametrize("n_classes", [2, 4])
def test_probabilities(backend, n_classes):
    _dask_runs_one_case(backend, this_one=n_classes == 4)
    X, y = _data(n_classes)
    dtype = np.float64 if backend.has_float64 else np.float32
    model = LogisticRegression().fit(backend.asarray(X, dtype), backend.asarray(y))
    Xb = backend.asarray(X * 3.0, dtype)  # larger scores than in training
    proba = model.predict_proba(Xb)
    assert_on_backend(proba, backend)
    proba_np = to_numpy(proba)
    assert proba_np.shape == (X.shape[0], n_classes)
    assert np.all((proba_np >= 0) & (proba_np <= 1))
    np.testing.assert_allclose(proba_np.sum(axis=1), 1.0, rtol=1e-12)
    log_proba = to_numpy(model.predict_log_proba(Xb))
    np.testing.assert_allclose(np.exp(log_proba), proba_np, rtol=1e-10, atol=1e-15)
    predicted = to_numpy(model.predict(Xb))
    np.testing.assert_array_equal(predicted, proba_np.argmax(axis=1))
    scores = to_numpy(model.decision_function(Xb))
    assert scores.shape == ((X.shape[0],) if n_classes == 2 else (X.shape[0], n_classes))


def test_log_proba_is_finite_for_extreme_scores():
    X, y = _data(2)
    model = LogisticRegression().fit(X, y)
    far = X * 1e4
    assert np.all(np.isfinite(model.predict_log_proba(far)))
    multi = LogisticRegression().fit(*_data(3))
    assert np.all(np.isfinite(multi.predict_log_proba(far)))


def test_convert_moves_the_model():
    torch = pytest.importorskip("torch")
    X, y = _data(3)
    model = LogisticRegression().fit(torch.asarray(X), torch.asarray(y))
    moved = xplearn.convert(model, to="numpy")
    np.testing.assert_array_equal(moved.predict(X), to_numpy(model.predict(torch.asarray(X))))


def test_score_with_sample_weight():
    from sklearn.metrics import accuracy_score

    X, y = _data(3)
    weights = np.random.default_rng(0).uniform(0, 2, X.shape[0])
    model = LogisticRegression().fit(X, y)
    expected = accuracy_score(y, model.predict(X), sample_weight=weights)
    assert model.score(X, y, sample_weight=weights) == pytest.approx(expected)


# ---------------------------------------------------------------------------------------
# Dtype policy


def test_float32_preserved(backend):
    xp = backend.xp
    X, y = _data(3)
    X32 = backend.asarray(X, np.float32)
    model = LogisticRegression().fit(X32, backend.asarray(y))
    assert model.coef_.dtype == xp.float32
    assert model.intercept_.dtype == xp.float32
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        output = getattr(model, method)(X32)
        assert_on_backend(output, backend)
        assert output.dtype == xp.float32
    if backend.has_float64:
        reference = sklm.LogisticRegression().fit(X, y)
        assert_allclose_xp(model.coef_, reference.coef_, rtol=1e-3, atol=1e-3)


def _objective64(X, y, model, C=1.0):
    """scikit-learn's objective in float64 at the model's coefficients (unit weights)."""
    coef = to_numpy(model.coef_).astype(np.float64)
    scores = X.astype(np.float64) @ coef.T + to_numpy(model.intercept_).astype(np.float64)
    if coef.shape[0] == 1:
        losses = np.logaddexp(0.0, scores[:, 0]) - (y == 1) * scores[:, 0]
    else:
        top = scores.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        losses = lse - scores[np.arange(len(y)), y]
    return losses.mean() + (coef * coef).sum() / (2 * C * len(y))


def test_float32_reaches_the_float64_optimum():
    """The compensated float32 objective lets the line search work down to tol: the
    float32 fit's objective equals the float64 fit's to far better than 1e-6."""
    X, y = _data(4, n_samples=3000, n_features=12, seed=4)
    X32 = X.astype(np.float32)
    fit32 = LogisticRegression(tol=1e-6, max_iter=500).fit(X32, y)
    fit64 = LogisticRegression(tol=1e-6, max_iter=500).fit(X32.astype(np.float64), y)
    assert fit32.coef_.dtype == np.float32
    loss32, loss64 = _objective64(X32, y, fit32), _objective64(X32, y, fit64)
    assert abs(loss32 - loss64) <= 1e-7 * loss64


def test_compensated_sum(backend):
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(10_001) * 10.0 ** rng.integers(-4, 4, 10_001)).astype(np.float32)
    hi, lo = _compensated_sum(backend.xp, backend.asarray(values))
    assert_on_backend(hi, backend)
    assert hi.dtype == backend.xp.float32
    total = float(to_numpy(hi)) + float(to_numpy(lo))
    exact = float(np.sum(values.astype(np.float64)))
    assert abs(total - exact) <= 1e-10 * np.abs(values.astype(np.float64)).sum()


def test_mixed_policy(backend):
    skip_without_float64(backend, np.float64)
    _dask_runs_one_case(backend, this_one=False)
    xp = backend.xp
    X, y = _data(3)
    model = LogisticRegression(dtype_policy="mixed", tol=1e-5).fit(
        backend.asarray(X, np.float32), backend.asarray(y)
    )
    assert model.coef_.dtype == xp.float32
    assert model.intercept_.dtype == xp.float32
    # float64 optimizer state and sums; the per-sample terms are float32, whose rounding
    # (about 1e-9 in the objective for 150 samples) bounds how tight tol can be
    reference = sklm.LogisticRegression(**TIGHT).fit(X.astype(np.float32).astype(np.float64), y)
    _assert_coefficients(model, reference, rtol=1e-3)


def test_float64_policy_on_float32_data():
    X, y = _data(2)
    model = LogisticRegression(dtype_policy="float64").fit(X.astype(np.float32), y)
    assert model.coef_.dtype == np.float64


# ---------------------------------------------------------------------------------------
# Convergence and errors


def test_convergence_warning_at_max_iter():
    X, y = _data(3)
    with pytest.warns(ConvergenceWarning, match=r"(?s)LogisticRegression\.fit\(\).*max_iter=1\)"):
        model = LogisticRegression(max_iter=1).fit(X, y)
    assert int(model.n_iter_[0]) == 1
    reference_warning = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reference = sklm.LogisticRegression(max_iter=1).fit(X, y)
        reference_warning = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert reference_warning  # scikit-learn warns too, and took the same first step
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-8)


def test_no_warning_when_converged():
    X, y = _data(2)
    LogisticRegression().fit(X, y)  # warnings are errors in this suite


def test_penalty_none_warns_about_C():
    X, y = _data(2)
    with pytest.warns(UserWarning, match="ignore the C"):
        LogisticRegression(penalty=None, C=0.1).fit(X, y)


def test_C_inf_means_no_penalty():
    X, y = _data(2)
    a = LogisticRegression(C=np.inf, **TIGHT).fit(X, y)
    b = LogisticRegression(penalty=None, **TIGHT).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"C": 0.0}, r"The 'C' parameter of LogisticRegression must be a float in the range"),
        ({"C": -1.0}, r"The 'C' parameter of LogisticRegression must be a float"),
        ({"C": "big"}, r"The 'C' parameter of LogisticRegression must be a float"),
        ({"C": np.nan}, r"The 'C' parameter of LogisticRegression must be a float"),
        ({"max_iter": -1}, r"The 'max_iter' parameter of LogisticRegression must be an int"),
        ({"max_iter": 1.5}, r"The 'max_iter' parameter of LogisticRegression must be an int"),
        ({"tol": -1e-3}, r"The 'tol' parameter of LogisticRegression must be a float"),
        ({"tol": np.inf}, r"The 'tol' parameter of LogisticRegression must be a float"),
        ({"penalty": "l1"}, "penalty must be 'l2' or None"),
        ({"penalty": "elasticnet"}, "penalty must be 'l2' or None"),
        ({"penalty": "l3"}, r"The 'penalty' parameter of LogisticRegression must be a str"),
        ({"solver": "saga"}, "solver='saga' is not supported"),
        ({"solver": "newton"}, r"The 'solver' parameter of LogisticRegression must be a str"),
        ({"class_weight": "auto"}, r"The .class_weight. parameter of LogisticRegression"),
        ({"class_weight": {7: 2.0}}, "class_weight has labels that are not classes"),
        ({"fit_intercept": "yes"}, r"The .fit_intercept. parameter of LogisticRegression"),
        ({"fit_intercept": 1}, r"The .fit_intercept. parameter of LogisticRegression"),
    ],
)
def test_bad_parameters(params, match):
    X, y = _data(2)
    with pytest.raises(ValueError, match=r"LogisticRegression\.fit\(\): " + match):
        LogisticRegression(**params).fit(X, y)


def test_bad_inputs():
    X, y = _data(3)
    prefix = r"LogisticRegression\.fit\(\): "
    with pytest.raises(ValueError, match=prefix + ".*only one class"):
        LogisticRegression().fit(X, np.zeros(X.shape[0]))
    with pytest.raises(ValueError, match=prefix + ".*inconsistent numbers of samples"):
        LogisticRegression().fit(X, y[:-1])
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match=prefix + ".*NaN"):
        LogisticRegression().fit(X_nan, y)
    weights = np.ones(X.shape[0])
    weights[0] = -1.0
    with pytest.raises(ValueError, match=prefix + ".*negative"):
        LogisticRegression().fit(X, y, sample_weight=weights)
    with pytest.raises(ValueError, match=prefix + "Unknown label type: continuous"):
        LogisticRegression().fit(X, np.linspace(0, 1, X.shape[0]))


def test_failed_fit_leaves_the_estimator_unfitted():
    X, _ = _data(2)
    model = LogisticRegression()
    with pytest.raises(ValueError, match="one class"):
        model.fit(X, np.ones(X.shape[0]))
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_not_fitted_and_wrong_features():
    X, y = _data(2)
    with pytest.raises(NotFittedError, match=r"LogisticRegression\.predict\(\)"):
        LogisticRegression().predict(X)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(X[:, :2])


# ---------------------------------------------------------------------------------------
# Properties


def _random_problem(seed, n_samples, n_features, n_classes):
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    centers = rng.standard_normal((n_classes, n_features))
    X = centers[y] + rng.standard_normal((n_samples, n_features))
    return X, y


problems = {
    "seed": st.integers(0, 2**32 - 1),
    "n_samples": st.integers(12, 50),
    "n_features": st.integers(1, 5),
    "n_classes": st.integers(2, 4),
}


@given(**problems, permutation_seed=st.integers(0, 2**32 - 1))
def test_predictions_invariant_to_row_order(
    seed, n_samples, n_features, n_classes, permutation_seed
):
    X, y = _random_problem(seed, n_samples, n_features, n_classes)
    order = np.random.default_rng(permutation_seed).permutation(n_samples)
    reference = LogisticRegression(tol=1e-8, max_iter=500).fit(X, y)
    shuffled = LogisticRegression(tol=1e-8, max_iter=500).fit(X[order], y[order])
    proba = reference.predict_proba(X)
    np.testing.assert_allclose(shuffled.predict_proba(X), proba, atol=1e-6)
    top = np.sort(proba, axis=1)
    clear = top[:, -1] - top[:, -2] > 1e-5  # no tie within the optimizer's tolerance
    np.testing.assert_array_equal(shuffled.predict(X)[clear], reference.predict(X)[clear])


@given(**problems, permutation_seed=st.integers(0, 2**32 - 1))
def test_relabelling_permutes_probability_columns(
    seed, n_samples, n_features, n_classes, permutation_seed
):
    X, y = _random_problem(seed, n_samples, n_features, n_classes)
    mapping = np.random.default_rng(permutation_seed).permutation(n_classes)
    original = LogisticRegression(tol=1e-8, max_iter=500).fit(X, y)
    relabelled = LogisticRegression(tol=1e-8, max_iter=500).fit(X, mapping[y])
    # class k of the original is class mapping[k] of the relabelled model
    np.testing.assert_allclose(
        relabelled.predict_proba(X)[:, mapping], original.predict_proba(X), atol=1e-6
    )


@given(**problems, constant=st.sampled_from([0.0, 1.0, -3.5, 1e3]))
def test_constant_feature_gives_no_nan(seed, n_samples, n_features, n_classes, constant):
    X, y = _random_problem(seed, n_samples, n_features, n_classes)
    X = np.concatenate([X, np.full((n_samples, 1), constant)], axis=1)
    with warnings.catch_warnings():
        # a large constant column is a badly scaled intercept: 100 iterations may not do
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression().fit(X, y)
    assert np.all(np.isfinite(model.coef_))
    assert np.all(np.isfinite(model.intercept_))
    proba = model.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


# ---------------------------------------------------------------------------------------
# Numerical trust (issue 15): huge decision values, labels of another kind


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    ("dtype", "scale"), [(np.float32, 1e20), (np.float32, 1e35), (np.float64, 1e200)]
)
def test_probabilities_on_huge_decision_values(backend, n_classes, dtype, scale):
    """predict_proba / predict_log_proba are finite (log-probabilities -inf only where
    they leave the dtype) and right on rows whose decision values are 1e20..1e200:
    log-softmax with the maximum subtracted, sigmoid through exp(-|z|). Reference: the
    same coefficients' decision values and log-softmax in long double."""
    skip_without_float64(backend, dtype)
    X, y = _data(n_classes)
    X = X.astype(dtype)
    model = LogisticRegression().fit(backend.asarray(X), backend.asarray(y))
    Q = np.concatenate([X[:10] * dtype(scale), X[10:14]]).astype(dtype)
    Q_backend = backend.asarray(Q)
    scores = to_numpy(model.decision_function(Q_backend))
    log_proba = to_numpy(model.predict_log_proba(Q_backend))
    proba = to_numpy(model.predict_proba(Q_backend))
    ld = np.longdouble
    coef, intercept = to_numpy(model.coef_).astype(ld), to_numpy(model.intercept_).astype(ld)
    exact = Q.astype(ld) @ coef.T + intercept
    if n_classes == 2:
        exact = np.concatenate([np.zeros_like(exact), exact], axis=1)
    best = exact.max(axis=1, keepdims=True)
    exact_log = exact - best - np.log(np.sum(np.exp(exact - best), axis=1, keepdims=True))
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(
        scores, np.squeeze(exact[:, 1:] if n_classes == 2 else exact), rtol=1e-4
    )
    assert not np.any(np.isnan(log_proba))
    assert np.all(np.isfinite(proba))
    with np.errstate(over="ignore"):
        expected = exact_log.astype(dtype)
    np.testing.assert_array_equal(np.isneginf(log_proba), np.isneginf(expected))
    finite = np.isfinite(expected)
    # the decision values' own rounding: eps times the sum of |x_j coef_j| (x 16)
    magnitude = np.abs(Q.astype(ld)) @ np.abs(coef).T
    atol = (16 * np.finfo(dtype).eps * magnitude.max(axis=1, keepdims=True)).astype(float)
    error = np.abs(log_proba.astype(float) - expected.astype(float))
    assert np.all(error[finite] <= (atol + 1e-5 * np.abs(expected.astype(float)))[finite])
    np.testing.assert_allclose(proba, np.exp(exact_log).astype(float), rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("fitted_on", ["numbers", "strings"])
def test_score_with_labels_of_another_kind(backend, fitted_on):
    """score with string labels on a model fitted on numbers (or the reverse) is
    scikit-learn's "Mix of label input types" ValueError, on every backend (it returned
    0.0: no label ever matched)."""
    X, y = _data(2)
    strings = np.where(y == 0, "no", "yes")
    fit_y, score_y = (backend.asarray(y), strings) if fitted_on == "numbers" else (strings, y)
    X_backend = backend.asarray(X)
    model = LogisticRegression().fit(X_backend, fit_y)
    reference = sklm.LogisticRegression().fit(X, y if fitted_on == "numbers" else strings)
    with pytest.raises(ValueError) as expected:
        reference.score(X, score_y)
    with pytest.raises(
        type(expected.value),
        match=r"LogisticRegression\.score\(\): Mix of label input types \(string and number\)",
    ):
        model.score(X_backend, score_y)
    # labels of the same kind that never occur are scored, as in scikit-learn
    unseen = backend.asarray(np.full(X.shape[0], 7)) if fitted_on == "numbers" else ["x"] * len(y)
    assert model.score(X_backend, unseen) == 0.0
