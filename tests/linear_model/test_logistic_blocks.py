"""LogisticRegression.fit on Dask arrays: blockwise loss and gradient, one computation
per L-BFGS evaluation, results equal to the in-memory NumPy fit."""

import numpy as np
import pytest
import sklearn.linear_model as sklm

from xplearn.linear_model import LogisticRegression, _logistic
from xplearn.testing import count_dask_computes

da = pytest.importorskip("dask.array")

# uneven row blocks, an empty one among them, and the columns split in two chunks
CHUNKS = ((700, 0, 550, 750), (3, 3))
N_SAMPLES = sum(CHUNKS[0])
#: relative tolerance of the coefficients per dtype
TOLERANCE = {np.float64: 1e-8, np.float32: 5e-5}


def _data(n_classes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, 6)) * [1.0, 2.0, 0.5, 1.0, 3.0, 1.0] + 0.5
    scores = X @ rng.standard_normal((6, n_classes)) + rng.standard_normal((N_SAMPLES, n_classes))
    y = np.argmax(scores, axis=1).astype(np.int64)
    sample_weight = rng.uniform(0.2, 2.0, N_SAMPLES)
    return X.astype(dtype), y, sample_weight.astype(dtype)


def _lazy(array):
    return da.from_array(array, chunks=CHUNKS if array.ndim == 2 else (CHUNKS[0],))


@pytest.fixture
def evaluations(monkeypatch):
    """The number of objective evaluations of every L-BFGS run, in order."""
    counts = []
    minimize = _logistic.minimize_lbfgs

    def recording(*args, **kwargs):
        result = minimize(*args, **kwargs)
        counts.append(result.n_eval)
        return result

    monkeypatch.setattr(_logistic, "minimize_lbfgs", recording)
    return counts


def _assert_in_memory_backed(model):
    for name in ("coef_", "intercept_", "n_iter_"):
        attribute = getattr(model, name)
        assert len(attribute.__dask_graph__().layers) == 1, name


def _assert_same_fit(lazy, reference, dtype):
    rtol = TOLERANCE[dtype]
    coef, intercept = lazy.coef_.compute(), lazy.intercept_.compute()
    assert coef.dtype == reference.coef_.dtype == dtype
    assert intercept.dtype == dtype
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(coef, reference.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(intercept, reference.intercept_, rtol=rtol, atol=rtol * scale)
    n_iter = int(lazy.n_iter_.compute()[0])
    if dtype == np.float64:
        assert n_iter == int(reference.n_iter_[0])
    else:  # float32 rounding may move the last iterations
        assert abs(n_iter - int(reference.n_iter_[0])) <= 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("weighting", ["none", "sample_weight", "balanced", "dict+sample_weight"])
def test_fit_matches_numpy_with_one_compute_per_evaluation(
    dtype, n_classes, weighting, evaluations
):
    X, y, sample_weight = _data(n_classes, dtype)
    class_weight = {"balanced": "balanced", "dict+sample_weight": {0: 2.0, 1: 0.5}}.get(weighting)
    weights = sample_weight if "sample_weight" in weighting else None
    params = dict(C=0.5, class_weight=class_weight)
    reference = LogisticRegression(**params).fit(X, y, sample_weight=weights)

    Xd, yd = _lazy(X), _lazy(y)
    wd = None if weights is None else _lazy(weights)
    with count_dask_computes() as counter:
        model = LogisticRegression(**params).fit(Xd, yd, sample_weight=wd)
    n_eval = evaluations[-1]
    # X's finiteness check, the classes, the sample weights' checks (finite, >= 0, sum
    # > 0: one computation), the weight total (with the class weights' per-class sums),
    # and one computation per evaluation of the objective
    expected = 1 + 1 + (1 if weights is not None else 0)
    expected += int(weights is not None or class_weight is not None) + n_eval
    assert counter.count == expected

    _assert_in_memory_backed(model)
    _assert_same_fit(model, reference, dtype)
    np.testing.assert_array_equal(model.classes_.compute(), reference.classes_)
    # predictions of the Dask-fitted model: those of the NumPy one
    np.testing.assert_array_equal(model.predict(Xd).compute(), reference.predict(X))
    proba_rtol = 1e-7 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(
        model.predict_proba(Xd).compute(), reference.predict_proba(X), rtol=proba_rtol, atol=1e-6
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_host_labels_need_no_compute(n_classes, evaluations):
    """String labels (NumPy) give host classes: the only computations are X's check and
    the evaluations."""
    X, y, _ = _data(n_classes, np.float64, seed=1)
    labels = np.array(["ant", "bee", "cat"])[y]
    reference = LogisticRegression().fit(X, labels)
    with count_dask_computes() as counter:
        model = LogisticRegression().fit(_lazy(X), labels)
    assert counter.count == 1 + evaluations[-1]
    assert evaluations[-1] == evaluations[0]  # the same L-BFGS path as in memory
    _assert_same_fit(model, reference, np.float64)
    np.testing.assert_array_equal(model.predict(_lazy(X)).compute(), reference.predict(X))


@pytest.mark.parametrize(
    "params",
    [
        dict(fit_intercept=False),
        dict(penalty=None),
        dict(C=np.inf, max_iter=5),
        dict(dtype_policy="mixed"),
        dict(class_weight={1: 3.0}),
    ],
    ids=["no-intercept", "no-penalty", "C=inf-max_iter=5", "mixed", "dict"],
)
def test_options_match_numpy(params, evaluations):
    X, y, _ = _data(3, np.float32, seed=2)
    dtype = np.float64 if params.get("dtype_policy") != "mixed" else np.float32
    X = X.astype(dtype)
    with _maybe_converge_warning(params):
        reference = LogisticRegression(**params).fit(X, y)
    with _maybe_converge_warning(params):
        model = LogisticRegression(**params).fit(_lazy(X), _lazy(y))
    _assert_in_memory_backed(model)
    if params.get("dtype_policy") == "mixed":
        # float64 optimizer state on float32 products: as close as float32 allows
        np.testing.assert_allclose(model.coef_.compute(), reference.coef_, rtol=1e-5, atol=1e-6)
        assert model.coef_.dtype == np.float32
    else:
        _assert_same_fit(model, reference, dtype)
    assert evaluations[0] == evaluations[1]
    if not params.get("fit_intercept", True):
        assert not np.any(model.intercept_.compute())


def _maybe_converge_warning(params):
    from contextlib import nullcontext

    from sklearn.exceptions import ConvergenceWarning

    if params.get("max_iter", 100) < 10:
        return pytest.warns(ConvergenceWarning)
    return nullcontext()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_matches_sklearn(n_classes):
    X, y, sample_weight = _data(n_classes, np.float64, seed=3)
    model = LogisticRegression(C=0.3, class_weight="balanced")
    model.fit(_lazy(X), _lazy(y), sample_weight=_lazy(sample_weight))
    reference = sklm.LogisticRegression(C=0.3, class_weight="balanced").fit(
        X, y, sample_weight=sample_weight
    )
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(model.coef_.compute(), reference.coef_, atol=1e-5 * scale)
    np.testing.assert_allclose(model.intercept_.compute(), reference.intercept_, atol=1e-5 * scale)


def test_nan_in_one_block_raises():
    X, y, _ = _data(2, np.float64)
    X[1500, 4] = np.nan  # in the last row block
    with pytest.raises(ValueError, match=r"LogisticRegression\.fit\(\)"):
        LogisticRegression().fit(_lazy(X), _lazy(y))


def test_block_shares_add_up_to_the_in_memory_objective():
    """The blockwise objective and gradient at a point other than the start are those of
    the in-memory objective."""
    X, y, sample_weight = _data(3, np.float64, seed=4)
    params = np.random.default_rng(5).standard_normal(3 * 7)
    normalized = sample_weight / sample_weight.sum()
    loss = _logistic._LogisticLoss(
        _logistic.numpy_namespace(), X, y, 3, normalized, 0.1, True, np.float64, np.float64
    )
    blockwise = _logistic._BlockwiseLogisticLoss(
        _lazy(X), _lazy(y), 3, _lazy(normalized), 0.1, True, np.float64
    )
    with count_dask_computes() as counter:
        value, grad = blockwise(params)
    assert counter.count == 1
    expected_value, expected_grad = loss(params)
    np.testing.assert_allclose(value, expected_value, rtol=1e-13)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)
