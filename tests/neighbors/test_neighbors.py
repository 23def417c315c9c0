"""NearestNeighbors, KNeighborsClassifier, KNeighborsRegressor against scikit-learn."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import neighbors as sk

from xplearn._xp import to_numpy
from xplearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from xplearn.testing import assert_allclose_xp, assert_on_backend, skip_without_float64

METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def _data(seed=0, n_train=120, n_query=40, d=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train, d)) * rng.uniform(0.5, 3, d)
    Q = rng.standard_normal((n_query, d)) * rng.uniform(0.5, 3, d)
    return X.astype(dtype), Q.astype(dtype)


# ---------------------------------------------------------------------------------------
# NearestNeighbors


@DTYPES
@pytest.mark.parametrize("metric", METRICS)
def test_kneighbors_matches_sklearn_brute(metric, dtype):
    X, Q = _data(dtype=dtype)
    ours = NearestNeighbors(n_neighbors=6, metric=metric).fit(X)
    ref = sk.NearestNeighbors(n_neighbors=6, metric=metric, algorithm="brute").fit(X)
    for query in (Q, None):
        d, i = ours.kneighbors(query)
        rd, ri = ref.kneighbors(query)
        np.testing.assert_array_equal(i, ri)
        np.testing.assert_allclose(
            d, rd, rtol=RTOL[dtype], atol=1e-6 if dtype == np.float32 else 1e-12
        )
        assert d.dtype == dtype


@pytest.mark.parametrize("metric", METRICS)
def test_radius_neighbors_matches_sklearn(metric):
    X, Q = _data(seed=1)
    radius = 0.05 if metric == "cosine" else 1.5
    ours = NearestNeighbors(radius=radius, metric=metric).fit(X)
    ref = sk.NearestNeighbors(radius=radius, metric=metric, algorithm="brute").fit(X)
    for query in (Q, None):
        d, i = ours.radius_neighbors(query, sort_results=True)
        rd, ri = ref.radius_neighbors(query, sort_results=True)
        assert d.dtype == object
        assert len(i) == len(ri)
        for a, b, c, e in zip(i, ri, d, rd, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(c, e, rtol=1e-10, atol=1e-12)
    indptr, indices, distances = ours.radius_neighbors(Q, return_csr=True)
    assert indptr.shape == (Q.shape[0] + 1,)
    assert indices.shape == distances.shape
    unsorted = ours.radius_neighbors(Q, return_distance=False)
    for row in range(Q.shape[0]):
        np.testing.assert_array_equal(unsorted[row], indices[indptr[row] : indptr[row + 1]])
        assert np.all(np.diff(unsorted[row]) > 0)


@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_graphs_match_sklearn(mode):
    X, Q = _data(seed=2)
    ours = NearestNeighbors(n_neighbors=3, radius=1.2).fit(X)
    ref = sk.NearestNeighbors(n_neighbors=3, radius=1.2, algorithm="brute").fit(X)
    for query in (Q, None):
        got = ours.kneighbors_graph(query, mode=mode)
        expected = ref.kneighbors_graph(query, mode=mode)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got.toarray(), expected.toarray(), atol=1e-12)
        got = ours.radius_neighbors_graph(query, mode=mode)
        expected = ref.radius_neighbors_graph(query, mode=mode)
        np.testing.assert_allclose(got.toarray(), expected.toarray(), atol=1e-12)


@DTYPES
def test_every_backend_agrees_with_numpy(backend, dtype):
    skip_without_float64(backend, dtype)
    X, Q = _data(seed=3, dtype=dtype)
    ref = NearestNeighbors(n_neighbors=4, radius=1.0).fit(X)
    ours = NearestNeighbors(n_neighbors=4, radius=1.0).fit(backend.asarray(X))
    d, i = ours.kneighbors(backend.asarray(Q))
    rd, ri = ref.kneighbors(Q)
    assert_on_backend(d, backend)
    assert_on_backend(i, backend)
    np.testing.assert_array_equal(to_numpy(i), ri)
    assert_allclose_xp(d, rd, rtol=RTOL[dtype])
    _, own = ours.kneighbors()
    np.testing.assert_array_equal(to_numpy(own), ref.kneighbors()[1])
    indptr, indices, distances = ours.radius_neighbors(
        backend.asarray(Q), sort_results=True, return_csr=True
    )
    r_indptr, r_indices, r_distances = ref.radius_neighbors(Q, sort_results=True, return_csr=True)
    assert_on_backend(indptr, backend)
    np.testing.assert_array_equal(to_numpy(indptr), r_indptr)
    np.testing.assert_array_equal(to_numpy(indices), r_indices)
    assert_allclose_xp(distances, r_distances, rtol=RTOL[dtype])
    ragged = ours.radius_neighbors(backend.asarray(Q), return_distance=False)
    assert len(ragged) == Q.shape[0]


def test_duplicates_and_query_equal_to_a_training_point():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 2.0], [0.0, 0.0]])
    nn = NearestNeighbors(n_neighbors=2).fit(X)
    d, i = nn.kneighbors(np.array([[0.0, 0.0], [2.0, 2.0]]))
    assert i.tolist() == [[0, 2], [3, 1]]
    assert np.all(d[:, 0] == 0)
    # X=None: each row's own index is removed, duplicates remain
    d, i = nn.kneighbors()
    assert [i[row].tolist() for row in (0, 2, 4)] == [[2, 4], [0, 4], [0, 2]]
    assert np.all(d[[0, 2, 4]] == 0)


def test_k_equal_to_n_train_is_a_full_sort():
    X, Q = _data(seed=4, n_train=30)
    _, i = NearestNeighbors(n_neighbors=30).fit(X).kneighbors(Q)
    full = sk.NearestNeighbors(n_neighbors=30, algorithm="brute").fit(X).kneighbors(Q)
    np.testing.assert_array_equal(i, full[1])
    assert np.all(np.sort(i, axis=1) == np.arange(30))


# hypothesis properties: translation, permutation of the training rows


@given(
    seed=st.integers(0, 2**32 - 1),
    n_train=st.integers(2, 60),
    d=st.integers(1, 6),
    k=st.integers(1, 8),
    offset=st.sampled_from([0.0, 3.0, -250.0, 1e4]),
)
def test_translation_invariance(seed, n_train, d, k, offset):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train, d))
    Q = rng.standard_normal((15, d))
    k = min(k, n_train)
    shift = offset * rng.uniform(0.5, 1.5, d)
    _, i = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(Q)
    _, i_shifted = NearestNeighbors(n_neighbors=k).fit(X + shift).kneighbors(Q + shift)
    # equal up to ties: compare the exact distances of the neighbours found
    exact = np.sqrt(((Q[:, None] - X[None]) ** 2).sum(-1))
    np.testing.assert_allclose(
        np.take_along_axis(exact, i_shifted, 1), np.take_along_axis(exact, i, 1), rtol=1e-6
    )


@given(
    seed=st.integers(0, 2**32 - 1),
    n_train=st.integers(2, 60),
    k=st.integers(1, 8),
    duplicates=st.booleans(),
)
def test_permuting_training_rows(seed, n_train, k, duplicates):
    rng = np.random.default_rng(seed)
    X = (
        rng.integers(-3, 4, (n_train, 3)).astype(np.float64)
        if duplicates
        else (rng.standard_normal((n_train, 3)))
    )
    Q = rng.standard_normal((10, 3))
    k = min(k, n_train)
    order = rng.permutation(n_train)
    d, i = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(Q)
    d_perm, i_perm = NearestNeighbors(n_neighbors=k).fit(X[order]).kneighbors(Q)
    np.testing.assert_allclose(d_perm, d, rtol=1e-12, atol=1e-12)
    mapped = order[i_perm]
    if not duplicates:
        np.testing.assert_array_equal(mapped, i)
    # the mapped neighbours are at the same exact distances
    exact = np.sqrt(((Q[:, None] - X[None]) ** 2).sum(-1))
    np.testing.assert_allclose(np.take_along_axis(exact, mapped, 1), d, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------
# Classifier and regressor


def _weights(name):
    return (lambda d: 1.0 / (1.0 + d)) if name == "callable" else name


@pytest.mark.parametrize("weights", ["uniform", "distance", "callable"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_classifier_matches_sklearn(weights, metric):
    X, Q = _data(seed=5)
    rng = np.random.default_rng(5)
    y = np.array(["cat", "dog", "eel"])[rng.integers(0, 3, X.shape[0])]
    ours = KNeighborsClassifier(7, weights=_weights(weights), metric=metric).fit(X, y)
    ref = sk.KNeighborsClassifier(7, weights=_weights(weights), metric=metric, algorithm="brute")
    ref.fit(X, y)
    np.testing.assert_array_equal(ours.predict(Q), ref.predict(Q))
    np.testing.assert_allclose(ours.predict_proba(Q), ref.predict_proba(Q), rtol=1e-12)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_array_equal(ours.kneighbors(Q)[1], ref.kneighbors(Q)[1])
    np.testing.assert_allclose(
        ours.kneighbors_graph(Q, mode="distance").toarray(),
        ref.kneighbors_graph(Q, mode="distance").toarray(),
        rtol=1e-10,
    )


def test_classifier_distance_weights_with_zero_distance():
    X = np.array([[0.0], [1.0], [1.0], [3.0]])
    y = np.array([0, 1, 2, 2])
    ours = KNeighborsClassifier(3, weights="distance").fit(X, y)
    ref = sk.KNeighborsClassifier(3, weights="distance", algorithm="brute").fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X))
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@DTYPES
def test_classifier_on_every_backend(backend, dtype):
    skip_without_float64(backend, dtype)
    X, Q = _data(seed=6, dtype=dtype)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 1)
    ref = KNeighborsClassifier(5, weights="distance").fit(X, y)
    ours = KNeighborsClassifier(5, weights="distance").fit(backend.asarray(X), backend.asarray(y))
    proba = ours.predict_proba(backend.asarray(Q))
    assert_on_backend(proba, backend)
    assert_allclose_xp(proba, ref.predict_proba(Q), rtol=RTOL[dtype], atol=1e-6)
    np.testing.assert_array_equal(to_numpy(ours.predict(backend.asarray(Q))), ref.predict(Q))
    # host (string) labels with device data: predictions come back as NumPy (on Dask,
    # lazily: a Dask array of NumPy blocks)
    labels = np.array(["a", "b", "c"])[y]
    host = KNeighborsClassifier(5).fit(backend.asarray(X), labels)
    predicted = host.predict(backend.asarray(Q))
    assert isinstance(predicted._meta if backend.name == "dask" else predicted, np.ndarray)


@pytest.mark.parametrize("weights", ["uniform", "distance", "callable"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_regressor_matches_sklearn(weights, n_targets):
    X, Q = _data(seed=7)
    rng = np.random.default_rng(7)
    y = rng.standard_normal((X.shape[0], n_targets))
    y = y[:, 0] if n_targets == 1 else y
    ours = KNeighborsRegressor(4, weights=_weights(weights)).fit(X, y)
    ref = sk.KNeighborsRegressor(4, weights=_weights(weights), algorithm="brute").fit(X, y)
    np.testing.assert_allclose(ours.predict(Q), ref.predict(Q), rtol=1e-10)
    if weights == "distance":
        # each training row is its own neighbour at distance exactly 0 here (scikit-learn's
        # expansion gives ~1e-8, hence a weight of ~1e8 rather than all of it)
        np.testing.assert_array_equal(ours.predict(X), y)
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-5, atol=1e-6)
    else:
        # weights of the self-distance: exactly 0 here, ~1e-8 through scikit-learn's expansion
        tolerance = {"rtol": 1e-10} if weights == "uniform" else {"rtol": 1e-6, "atol": 1e-7}
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), **tolerance)


@DTYPES
def test_regressor_on_every_backend(backend, dtype):
    skip_without_float64(backend, dtype)
    X, Q = _data(seed=8, dtype=dtype)
    y = np.stack([X[:, 0] * 2, X[:, 1] - X[:, 2]], axis=1).astype(dtype)
    ref = KNeighborsRegressor(3, weights="distance").fit(X, y).predict(Q)
    ours = KNeighborsRegressor(3, weights="distance").fit(backend.asarray(X), backend.asarray(y))
    pred = ours.predict(backend.asarray(Q))
    assert_on_backend(pred, backend)
    assert_allclose_xp(pred, ref, rtol=RTOL[dtype] * 10, atol=1e-5)


# ---------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("make", "call", "match"),
    [
        (
            lambda: NearestNeighbors(n_neighbors=3),
            lambda est, X: est.kneighbors(X, n_neighbors=11),
            r"NearestNeighbors.kneighbors\(\): Expected 1 <= n_neighbors <= n_samples_fit = 10, "
            r"got n_neighbors=11",
        ),
        (
            lambda: NearestNeighbors(n_neighbors=3),
            lambda est, X: est.kneighbors(n_neighbors=10),
            r"n_samples_fit - 1 .* = 9, got n_neighbors=10",
        ),
        (
            lambda: NearestNeighbors(),
            lambda est, X: est.kneighbors(X, n_neighbors=0),
            r"got n_neighbors=0",
        ),
        (
            lambda: KNeighborsClassifier(n_neighbors=20),
            lambda est, X: est.predict(X),
            r"KNeighborsClassifier.predict\(\): Expected 1 <= n_neighbors <= n_samples_fit = 10",
        ),
        (
            lambda: KNeighborsRegressor(),
            lambda est, X: est.predict(X[:, :2]),
            r"KNeighborsRegressor.predict\(\): X has 2 features, but KNeighborsRegressor is "
            r"expecting 3 features",
        ),
        (
            lambda: NearestNeighbors(),
            lambda est, X: est.kneighbors(np.where(X > 0.5, np.nan, X)),
            r"NearestNeighbors.kneighbors\(\): Input X contains NaN",
        ),
        (
            lambda: NearestNeighbors(),
            lambda est, X: est.radius_neighbors(X, radius=-1),
            r"NearestNeighbors.radius_neighbors\(\): radius must be a real number >= 0, got -1",
        ),
    ],
)
def test_errors_name_method_expected_and_got(make, call, match):
    X = np.random.default_rng(0).random((10, 3))
    y = np.arange(10) % 2
    est = make()
    est.fit(X, y) if not isinstance(est, NearestNeighbors) else est.fit(X)
    with pytest.raises(ValueError, match=match):
        call(est, X)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"metric": "chebyshev"}, r"NearestNeighbors.fit\(\): metric must be one of"),
        ({"algorithm": "kd_tree"}, r"algorithm must be 'brute'"),
        ({"n_neighbors": 0}, r"n_neighbors must be an integer >= 1, got 0"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        NearestNeighbors(**params).fit(np.zeros((3, 2)))


def test_bad_weights():
    with pytest.raises(ValueError, match=r"KNeighborsClassifier.fit\(\): weights must be"):
        KNeighborsClassifier(weights="gaussian").fit(np.zeros((3, 2)), [0, 1, 0])


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_vote_without_the_one_hot_table_is_the_same(monkeypatch, weights):
    """Training sets whose one-hot label table would be too large vote by comparing the
    labels with each class: the same probabilities."""
    from xplearn.neighbors import _classification

    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(300, 5)), rng.integers(0, 4, 300)
    queries = rng.normal(size=(40, 5))
    with_table = KNeighborsClassifier(n_neighbors=6, weights=weights).fit(X, y)
    monkeypatch.setattr(_classification, "_ONE_HOT_MAX_VALUES", 0)
    without = KNeighborsClassifier(n_neighbors=6, weights=weights).fit(X, y)
    assert with_table._y_votes is not None
    assert without._y_votes is None
    np.testing.assert_array_equal(without.predict_proba(queries), with_table.predict_proba(queries))
    np.testing.assert_array_equal(without.predict(queries), with_table.predict(queries))


# ---------------------------------------------------------------------------------------
# Exact neighbours on hard data, and the smaller wrong answers of issue 15


def _cities(rng, n, spread, dtype):
    """Latitude/longitude points around Paris and Lyon, ``spread`` degrees."""
    centers = np.array([[48.8566, 2.3522], [45.7640, 4.8357]])
    return (centers[rng.integers(0, 2, n)] + spread * rng.standard_normal((n, 2))).astype(dtype)


def _oracle_order(X, Y, metric="euclidean"):
    A, B = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    diff = A[:, None, :] - B[None, :, :]
    D = np.abs(diff).sum(-1) if metric == "manhattan" else (diff * diff).sum(-1)
    return np.argsort(D, axis=1, kind="stable"), D


@DTYPES
@pytest.mark.parametrize("spread", [1e-2, 1e-3, 1e-5])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan"])
def test_estimators_exact_on_geographic_data(backend, dtype, spread, metric):
    """kneighbors (several queries, one query, the training rows), the classifier and the
    regressor on two cities' lat/lon points: the exact neighbour sets of direct float64
    differences (until issue 15: ~20% of the queries at 0.01 degree, 0% at 0.001)."""
    skip_without_float64(backend, np.float64)
    rng = np.random.default_rng(3)
    Y, X = _cities(rng, 800, spread, dtype), _cities(rng, 30, spread, dtype)
    y = rng.integers(0, 3, 800)
    order, _D = _oracle_order(X, Y, metric)
    expected = order[:, :5]
    nn = NearestNeighbors(n_neighbors=5, metric=metric).fit(backend.asarray(Y))
    np.testing.assert_array_equal(to_numpy(nn.kneighbors(backend.asarray(X))[1]), expected)
    np.testing.assert_array_equal(to_numpy(nn.kneighbors(backend.asarray(X[:1]))[1]), expected[:1])
    own = to_numpy(nn.kneighbors(n_neighbors=4)[1])
    own_order, _ = _oracle_order(Y, Y, metric)
    for row in range(0, 800, 37):  # each row without itself (scikit-learn's rule)
        ranked = own_order[row][own_order[row] != row] if row in own_order[row][:5] else None
        if ranked is not None:
            np.testing.assert_array_equal(own[row], ranked[:4])
    clf = KNeighborsClassifier(5, metric=metric).fit(backend.asarray(Y), backend.asarray(y))
    votes = np.stack([np.bincount(y[row], minlength=3) for row in expected]) / 5
    assert_allclose_xp(clf.predict_proba(backend.asarray(X)), votes, rtol=1e-6)
    reg = KNeighborsRegressor(5, metric=metric).fit(backend.asarray(Y), backend.asarray(y * 1.0))
    assert_allclose_xp(reg.predict(backend.asarray(X)), y[expected].mean(axis=1), rtol=1e-6)


def test_pairwise_distances_argkmin_exact_on_clusters(backend):
    """A float64 cluster of spread 1e-5 plus unrelated far points (until issue 15: 0%)."""
    from xplearn.metrics import pairwise_distances_argkmin

    skip_without_float64(backend, np.float64)
    rng = np.random.default_rng(4)
    Y = np.concatenate([7.0 + 1e-5 * rng.standard_normal((300, 3)), rng.normal(0, 40, (200, 3))])
    X = 7.0 + 1e-5 * rng.standard_normal((25, 3))
    order, D = _oracle_order(X, Y)
    distances, indices = pairwise_distances_argkmin(backend.asarray(X), backend.asarray(Y), 6)
    np.testing.assert_array_equal(to_numpy(indices), order[:, :6])
    np.testing.assert_allclose(
        to_numpy(distances), np.sqrt(np.take_along_axis(D, order[:, :6], 1)), rtol=1e-12
    )


def test_zero_weights_for_all_neighbours_raise_as_scikit_learn(backend):
    """A callable weight that zeroes every neighbour of a query: scikit-learn's
    ValueError (until issue 15: probabilities [0, 0])."""
    X, Q = _data(seed=9)
    y = (X[:, 0] > 0).astype(np.int64)

    def zero(distances):
        return distances * 0

    ref = sk.KNeighborsClassifier(3, weights=zero, algorithm="brute").fit(X, y)
    with pytest.raises(ValueError, match="All neighbors of some sample is getting zero") as sk_err:
        ref.predict_proba(Q)
    clf = KNeighborsClassifier(3, weights=zero).fit(backend.asarray(X), backend.asarray(y))
    for method in ("predict_proba", "predict"):
        with pytest.raises(ValueError, match=f"KNeighborsClassifier.{method}") as err:
            to_numpy(getattr(clf, method)(backend.asarray(Q)))  # Dask: raised when computed
        assert str(sk_err.value) in str(err.value)


def test_query_results_do_not_depend_on_the_number_of_rows():
    """One-row queries scan rows packed at fit, larger ones read the kept rows: both
    read the same data even when the caller later writes into its buffer (until issue
    15 they disagreed)."""
    rng = np.random.default_rng(10)
    Y = rng.standard_normal((200, 4))
    X = rng.standard_normal((6, 4))
    nn = NearestNeighbors(n_neighbors=3).fit(Y)
    Y[:] = rng.standard_normal((200, 4))  # the caller reuses its buffer
    many = nn.kneighbors(X)
    for row in range(X.shape[0]):
        one = nn.kneighbors(X[row : row + 1])
        np.testing.assert_array_equal(one[1][0], many[1][row])
        np.testing.assert_array_equal(one[0][0], many[0][row])


def test_nan_training_row_with_assume_finite_gives_valid_indices(backend):
    """NaN distances order last (as scikit-learn's brute search); never index -1."""
    from xplearn import config_context

    X, Q = _data(seed=11, n_train=20)
    X[3] = np.nan
    with config_context(assume_finite=True):
        nn = NearestNeighbors(n_neighbors=20).fit(backend.asarray(X))
        _, indices = nn.kneighbors(backend.asarray(Q))
    indices = to_numpy(indices)
    assert indices.min() >= 0
    np.testing.assert_array_equal(indices[:, -1], 3)


@pytest.mark.parametrize("radius", [-1.0, float("nan")])
def test_bad_radius_is_rejected_at_fit_and_call(radius):
    with pytest.raises(ValueError, match=r"NearestNeighbors.fit\(\): radius must be"):
        NearestNeighbors(radius=radius).fit(np.zeros((3, 2)))
    nn = NearestNeighbors().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"radius_neighbors\(\): radius must be"):
        nn.radius_neighbors(np.zeros((1, 2)), radius=radius)


def test_radius_1e300_returns_every_row(backend):
    """Until issue 15: a bare OverflowError."""
    X, Q = _data(seed=12, n_train=30, n_query=4)
    nn = NearestNeighbors().fit(backend.asarray(X))
    indptr, indices, _distances = nn.radius_neighbors(
        backend.asarray(Q), radius=1e300, return_csr=True, sort_results=True
    )
    assert int(to_numpy(indptr)[-1]) == 4 * 30
    order, _D = _oracle_order(Q, X)
    np.testing.assert_array_equal(to_numpy(indices).reshape(4, 30), order)


def test_radius_membership_on_geographic_data(backend):
    """Membership by the float64 distance on tight clusters (float32 data)."""
    skip_without_float64(backend, np.float64)
    rng = np.random.default_rng(13)
    Y, X = _cities(rng, 600, 1e-3, np.float32), _cities(rng, 20, 1e-3, np.float32)
    _, D = _oracle_order(X, Y)
    radius = 1.5e-3
    nn = NearestNeighbors(radius=radius).fit(backend.asarray(Y))
    _distances, indices = nn.radius_neighbors(backend.asarray(X), sort_results=True)
    for row in range(20):
        expected = np.flatnonzero(np.sqrt(D[row]) <= radius)
        expected = expected[np.argsort(D[row, expected], kind="stable")]
        np.testing.assert_array_equal(to_numpy(indices[row]), expected)
