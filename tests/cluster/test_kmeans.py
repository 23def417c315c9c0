"""KMeans against scikit-learn, across backends, properties, errors, threads and memory."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.cluster import KMeans as SKKMeans
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import xplearn
from xplearn.cluster import KMeans, kmeans_plusplus
from xplearn.testing import assert_allclose_xp, assert_on_backend

pytestmark = pytest.mark.filterwarnings("error")


def _blobs(n=300, d=4, k=4, seed=0, dtype=np.float64, spread=4.0, offset=0.0):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-spread, spread, (k, d)) * 3
    labels = rng.integers(0, k, n)
    X = centers[labels] + rng.standard_normal((n, d)) + offset
    return X.astype(dtype)


def _init_for(X, k, seed=1):
    rng = np.random.default_rng(seed)
    return X[rng.choice(X.shape[0], k, replace=False)] + 0.25


# ---------------------------------------------------------------------------------------
# Same results as scikit-learn


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("n", "d", "k", "max_iter"), [(300, 4, 4, 10), (2000, 33, 8, 15), (1500, 20, 40, 8)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_sklearn_lloyd(n, d, k, max_iter, dtype, weighted):
    """Same explicit init, n_init=1, tol=0: same labels, centers, inertia, n_iter."""
    X = _blobs(n, d, min(k, 6), seed=n + k, dtype=dtype, offset=3.0)
    init = _init_for(X, k).astype(dtype)
    rng = np.random.default_rng(2)
    weights = rng.uniform(0.2, 3.0, n).astype(dtype) if weighted else None
    params = {"n_clusters": k, "init": init, "n_init": 1, "tol": 0.0, "max_iter": max_iter}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = SKKMeans(algorithm="lloyd", **params).fit(X, sample_weight=weights)
        ours = KMeans(**params).fit(X, sample_weight=weights)
    rtol = 1e-6 if dtype == np.float64 else 1e-4
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=rtol)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.cluster_centers_.dtype == dtype
    assert ours.labels_.dtype == np.int32
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    # float32 distances come from the expansion in float32 (scikit-learn upcasts): near-zero
    # distances carry an absolute error of about sqrt(eps) * spread
    atol = 1e-6 if dtype == np.float64 else 3e-2
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-3, atol=atol)
    np.testing.assert_allclose(ours.score(X), ref.score(X), rtol=rtol)


@pytest.mark.parametrize("tol", [1e-4, 1e-2])
def test_convergence_matches_sklearn(tol):
    """Strict convergence and the relative tolerance stop at the same iteration."""
    X = _blobs(500, 3, 5, seed=3)
    init = _init_for(X, 5)
    ref = SKKMeans(5, init=init, n_init=1, tol=tol, algorithm="lloyd").fit(X)
    ours = KMeans(5, init=init, n_init=1, tol=tol).fit(X)
    assert ours.n_iter_ == ref.n_iter_ < 300
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


def test_empty_cluster_is_relocated_like_sklearn():
    """A center no point is closest to is moved onto the point farthest from its center."""
    X = _blobs(200, 2, 2, seed=4)
    init = np.array([X[0], X[1], [1e3, 1e3]])
    ref = SKKMeans(3, init=init, n_init=1, max_iter=5, tol=0, algorithm="lloyd").fit(X)
    ours = KMeans(3, init=init, n_init=1, max_iter=5, tol=0).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


def test_numba_and_xp_kernels_agree():
    X = _blobs(800, 6, 5, seed=5, dtype=np.float32)
    init = _init_for(X, 7).astype(np.float32)
    fitted = {}
    for kernel in ("numba", "xp"):
        with xplearn.config_context(kernel=kernel):
            fitted[kernel] = KMeans(7, init=init, tol=0, max_iter=20).fit(X)
    np.testing.assert_array_equal(fitted["numba"].labels_, fitted["xp"].labels_)
    np.testing.assert_allclose(
        fitted["numba"].cluster_centers_, fitted["xp"].cluster_centers_, rtol=1e-5
    )
    assert fitted["numba"].n_iter_ == fitted["xp"].n_iter_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_backend_agrees_with_numpy(backend, dtype):
    if dtype == np.float64 and not backend.has_float64:
        pytest.skip(f"{backend} has no float64")
    n, max_iter = (120, 4) if backend.name == "dask" else (240, 15)  # dask: computes per step
    X = _blobs(n, 5, 4, seed=6, dtype=dtype)
    init = _init_for(X, 4).astype(dtype)
    weights = np.random.default_rng(0).uniform(0.5, 2, n).astype(dtype)
    ref = KMeans(4, init=init, tol=0, max_iter=max_iter).fit(X, sample_weight=weights)
    X_b = backend.asarray(X)
    ours = KMeans(4, init=backend.asarray(init), tol=0, max_iter=max_iter).fit(
        X_b, sample_weight=backend.asarray(weights)
    )
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    for name in ("cluster_centers_", "labels_"):
        assert_on_backend(getattr(ours, name), backend)
    assert ours.cluster_centers_.dtype == backend.xp.float32 or dtype == np.float64
    assert_allclose_xp(ours.labels_, ref.labels_)
    assert_allclose_xp(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=rtol)
    assert ours.n_iter_ == ref.n_iter_
    labels = ours.predict(X_b)
    distances = ours.transform(X_b)
    assert_on_backend(labels, backend)
    assert_on_backend(distances, backend)
    assert_allclose_xp(labels, ref.predict(X))
    assert_allclose_xp(distances, ref.transform(X), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.score(X_b), ref.score(X), rtol=rtol)


def test_kmeans_plusplus_is_seeded_and_greedy(backend):
    """Same random_state, same seeds on every backend; better than random rows."""
    X = _blobs(400, 3, 6, seed=7)
    centers, indices = kmeans_plusplus(X, 6, random_state=0)
    _, indices_b = kmeans_plusplus(backend.asarray(X.astype(np.float32)), 6, random_state=0)
    np.testing.assert_array_equal(indices, indices_b)
    np.testing.assert_allclose(centers, X[indices])
    assert len(set(indices.tolist())) == 6
    fitted = KMeans(6, random_state=0).fit(X)
    random = KMeans(6, init="random", n_init=1, random_state=0, max_iter=1).fit(X)
    assert fitted.inertia_ <= random.inertia_ * 1.01


def test_n_init_runs_and_keeps_the_best():
    X = _blobs(300, 2, 5, seed=8)
    calls = []

    def init(X, n_clusters, random_state):
        calls.append(1)
        return X[random_state.choice(X.shape[0], n_clusters, replace=False)]

    auto = KMeans(5, init=init, random_state=0).fit(X)
    assert len(calls) == 10  # "auto" for a callable, as scikit-learn
    single = [
        KMeans(5, init=init, n_init=1, random_state=seed).fit(X).inertia_ for seed in range(3)
    ]
    assert auto.inertia_ <= min(single) + 1e-9
    calls.clear()
    KMeans(5, init=init, n_init=3, random_state=0).fit(X)
    assert len(calls) == 3


# ---------------------------------------------------------------------------------------
# Properties


@given(seed=st.integers(0, 2**32 - 1), order_seed=st.integers(0, 2**32 - 1))
def test_inertia_invariant_to_row_permutation(seed, order_seed):
    X = _blobs(60, 3, 3, seed=seed % 1000)
    init = X[:3] + 0.1
    order = np.random.default_rng(order_seed).permutation(60)
    a = KMeans(3, init=init, max_iter=30).fit(X)
    b = KMeans(3, init=init, max_iter=30).fit(X[order])
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-9)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(a.labels_[order], b.labels_)


@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-100, 100), axis=st.integers(0, 2))
def test_inertia_invariant_to_translation(seed, shift, axis):
    X = _blobs(50, 3, 3, seed=seed % 1000)
    init = X[[0, 1, 2]] + 0.1
    move = np.zeros(3)
    move[axis] = shift
    a = KMeans(3, init=init, max_iter=30).fit(X)
    b = KMeans(3, init=init + move, max_iter=30).fit(X + move)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(a.cluster_centers_ + move, b.cluster_centers_, atol=1e-7)
    np.testing.assert_array_equal(a.labels_, b.labels_)


@given(seed=st.integers(0, 2**32 - 1), repeats=st.integers(1, 4))
def test_duplicated_points_double_the_inertia(seed, repeats):
    """Every point repeated r times: same centers, r times the inertia."""
    X = _blobs(40, 2, 3, seed=seed % 1000)
    init = X[:3] + 0.1
    single = KMeans(3, init=init, max_iter=30).fit(X)
    repeated = KMeans(3, init=init, max_iter=30).fit(np.repeat(X, repeats, axis=0))
    np.testing.assert_allclose(repeated.cluster_centers_, single.cluster_centers_, atol=1e-9)
    np.testing.assert_allclose(repeated.inertia_, repeats * single.inertia_, rtol=1e-9)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12))
def test_as_many_clusters_as_samples(seed, n):
    X = np.random.default_rng(seed).standard_normal((n, 3))
    fitted = KMeans(n, random_state=seed % 1000).fit(X)
    assert fitted.inertia_ == pytest.approx(0.0, abs=1e-12)
    assert sorted(fitted.labels_.tolist()) == list(range(n))
    np.testing.assert_allclose(np.sort(fitted.cluster_centers_, axis=0), np.sort(X, axis=0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_integer_weights_equal_repeated_rows(dtype):
    X = _blobs(120, 3, 3, seed=9, dtype=dtype)
    weights = np.random.default_rng(1).integers(0, 4, 120)
    init = X[weights > 0][:3] + 0.1
    weighted = KMeans(3, init=init, max_iter=30).fit(X, sample_weight=weights)
    repeated = KMeans(3, init=init, max_iter=30).fit(np.repeat(X, weights, axis=0))
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=rtol)
    np.testing.assert_allclose(weighted.inertia_, repeated.inertia_, rtol=rtol)
    np.testing.assert_array_equal(weighted.predict(X), repeated.predict(X))


# ---------------------------------------------------------------------------------------
# API details


def test_fit_predict_fit_transform_and_feature_names():
    X = _blobs(100, 3, 3, seed=10)
    init = X[:3] + 0.1
    km = KMeans(3, init=init).fit(X)
    np.testing.assert_array_equal(KMeans(3, init=init).fit_predict(X), km.labels_)
    np.testing.assert_allclose(KMeans(3, init=init).fit_transform(X), km.transform(X))
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert list(km.get_feature_names_out()) == ["kmeans0", "kmeans1", "kmeans2"]
    assert km._capabilities.onnx_methods == ("predict", "transform")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_policies(dtype):
    X = _blobs(100, 3, 3, seed=11, dtype=dtype)
    init = (X[:3] + 0.1).astype(dtype)
    assert KMeans(3, init=init).fit(X).cluster_centers_.dtype == dtype
    for policy, expected in [
        ("float32", np.float32),
        ("float64", np.float64),
        ("mixed", np.float32),
    ]:
        fitted = KMeans(3, init=init, dtype_policy=policy).fit(X)
        assert fitted.cluster_centers_.dtype == expected
        assert fitted.transform(X.astype(expected)).dtype == expected


def test_integer_input_is_clustered_in_default_float():
    X = np.array([[0, 0], [0, 1], [10, 10], [10, 11]])
    km = KMeans(2, init=np.array([[0, 0], [10, 10]])).fit(X)
    assert km.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(km.labels_, [0, 0, 1, 1])


def test_duplicate_points_warn_about_fewer_clusters():
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]]), 5, axis=0)
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(2\).*n_clusters \(3\)"):
        KMeans(3, random_state=0).fit(X)


def test_explicit_init_with_n_init_warns_and_runs_once():
    X = _blobs(50, 2, 2, seed=12)
    with pytest.warns(RuntimeWarning, match="performing only one init in KMeans"):
        KMeans(2, init=X[:2], n_init=5).fit(X)


# ---------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_clusters": 0}, r"KMeans\.fit\(\): The 'n_clusters' parameter of KMeans must be"),
        ({"n_clusters": 2.5}, r"'n_clusters' parameter of KMeans must be an int"),
        ({"n_clusters": 11}, r"KMeans\.fit\(\): n_samples=10 should be >= n_clusters=11"),
        ({"init": "kmeans"}, r"'init' parameter of KMeans must be a str among"),
        ({"n_init": 0}, r"'n_init' parameter of KMeans must be a str among \{'auto'\} or an int"),
        ({"max_iter": 0}, r"'max_iter' parameter of KMeans must be an int in the range \[1, inf\)"),
        ({"tol": -1.0}, r"'tol' parameter of KMeans must be a float in the range \[0.0, inf\)"),
        ({"algorithm": "elkan"}, r"algorithm must be 'lloyd'"),
        (
            {"n_clusters": 2, "init": np.zeros((3, 2))},
            r"KMeans\.fit\(\): The shape of the initial centers \(3, 2\)",
        ),
        ({"n_clusters": 2, "init": np.zeros((2, 3))}, r"must have shape \(2, 2\)"),
        ({"n_clusters": 2, "init": np.array([[0.0, np.nan], [1, 1]])}, r"init contains NaN"),
    ],
)
def test_invalid_parameters(params, message):
    X = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(ValueError, match=message):
        KMeans(**params).fit(X)


def test_init_array_of_another_namespace():
    import array_api_strict as xps

    X = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(
        ValueError, match=r"KMeans\.fit\(\): X and init must use the same namespace"
    ):
        KMeans(2, init=xps.asarray(X[:2])).fit(X)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_data(bad, dtype):
    # checked through the data mean's column sums (no pass of its own): same error
    X = np.random.default_rng(0).standard_normal((10, 2)).astype(dtype)
    X[3, 1] = bad
    for tol in (0.0, 1e-4):
        with pytest.raises(
            ValueError,
            match=r"KMeans\.fit\(\): Input X contains (NaN|infinity) \(first in column 1\)",
        ):
            KMeans(2, tol=tol).fit(X)


def test_negative_sample_weight():
    X = np.random.default_rng(0).standard_normal((10, 2))
    weights = np.ones(10)
    weights[2] = -1
    with pytest.raises(ValueError, match=r"KMeans\.fit\(\): sample_weight has negative values"):
        KMeans(2).fit(X, sample_weight=weights)


def test_predict_checks():
    X = np.random.default_rng(0).standard_normal((10, 3))
    with pytest.raises(NotFittedError, match=r"KMeans\.predict\(\)"):
        KMeans(2).predict(X)
    km = KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"KMeans\.predict\(\): X has 2 features"):
        km.predict(X[:, :2])
    with pytest.raises(ValueError, match=r"KMeans\.transform\(\): Input X contains NaN"):
        km.transform(np.full((2, 3), np.nan))


def test_kernel_numba_on_another_namespace_is_an_error():
    import array_api_strict as xps

    X = xps.asarray(np.random.default_rng(0).standard_normal((10, 2)))
    with (
        xplearn.config_context(kernel="numba"),
        pytest.raises(
            ValueError, match=r"KMeans\.fit\(\): config kernel='numba' needs a NumPy array"
        ),
    ):
        KMeans(2, random_state=0).fit(X)


# ---------------------------------------------------------------------------------------
# Threads and memory


def _fit_and_report(seed):
    from xplearn._kernels import last_session_threads
    from xplearn.utils._threads import effective_n_threads

    X = _blobs(3000, 8, 5, seed=seed, dtype=np.float32)
    km = KMeans(5, random_state=seed).fit(X)
    return km.cluster_centers_, km.labels_, last_session_threads(), effective_n_threads()


def test_joblib_parallel_neither_oversubscribes_nor_changes_results():
    from joblib import Parallel, delayed

    serial = [_fit_and_report(seed) for seed in range(4)]
    parallel = Parallel(n_jobs=2)(delayed(_fit_and_report)(seed) for seed in range(4))
    for (centers, labels, _, _), (p_centers, p_labels, threads, effective) in zip(
        serial, parallel, strict=True
    ):
        np.testing.assert_array_equal(p_labels, labels)
        np.testing.assert_array_equal(p_centers, centers)
        assert threads == effective == 1  # each of the 2 workers gets 1 of the 2 cores


def test_threading_backend_shares_the_cores():
    from joblib import Parallel, delayed

    serial = [_fit_and_report(seed) for seed in range(2)]
    threaded = Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_and_report)(seed) for seed in range(2)
    )
    for (centers, labels, _, _), (t_centers, t_labels, _, _) in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(t_labels, labels)
        np.testing.assert_array_equal(t_centers, centers)


def test_results_do_not_depend_on_n_threads():
    X = _blobs(5000, 6, 6, seed=13, dtype=np.float32)
    fits = []
    for n_threads in (1, 2):
        with xplearn.config_context(n_threads=n_threads):
            fits.append(KMeans(6, random_state=0, n_init=2).fit(X))
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert fits[0].inertia_ == fits[1].inertia_


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys
    import numpy as np
    import xplearn
    from xplearn.cluster import KMeans

    def rss_peak_kib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def rss_kib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    init_kind = sys.argv[1]
    X = np.random.default_rng(0).standard_normal((2_000_000, 16), dtype=np.float32)
    init = X[:8].copy() if init_kind == "array" else init_kind
    # compile / load the kernels and warm the allocator on small data first
    KMeans(8, init=X[:8].copy(), max_iter=2).fit(X[:5000])
    KMeans(8, init="k-means++", random_state=0, max_iter=2).fit(X[:5000])
    with open("/proc/self/clear_refs", "w") as refs:  # reset the peak (VmHWM) to now
        refs.write("5")
    before = rss_kib()
    with xplearn.config_context(working_memory=8):
        KMeans(8, init=init, n_init=1, random_state=0, max_iter=5).fit(X)
    print(json.dumps({"extra_kib": rss_peak_kib() - before, "x_kib": X.nbytes // 1024}))
    """
)


@pytest.mark.parametrize("init", ["array", "k-means++"])
def test_float32_fit_does_not_copy_X(init):
    """Peak extra memory < 10% of X + working_memory (2M x 16 float32 = 122 MiB)."""
    import json

    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, init],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    budget_kib = 0.10 * report["x_kib"] + 8 * 1024
    assert report["extra_kib"] < budget_kib, report


def test_fortran_ordered_input_gives_the_same_fit():
    X = _blobs(500, 6, 4, seed=14, dtype=np.float32)
    init = _init_for(X, 4).astype(np.float32)
    c_order = KMeans(4, init=init, max_iter=10).fit(X)
    f_order = KMeans(4, init=init, max_iter=10).fit(np.asfortranarray(X))
    np.testing.assert_array_equal(c_order.labels_, f_order.labels_)
    np.testing.assert_array_equal(c_order.cluster_centers_, f_order.cluster_centers_)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_far_from_origin_float32_data_is_centered(offset):
    """float32 data far from the origin: distances are taken around the data mean (as
    scikit-learn), so the labels stay exact; data near the origin is read in place."""
    X = _blobs(3000, 16, 5, seed=15, dtype=np.float64, spread=1.0) + offset
    X = X.astype(np.float32)
    init = _init_for(X, 5).astype(np.float32)
    params = {"n_clusters": 5, "init": init, "n_init": 1, "tol": 0.0, "max_iter": 10}
    ref = SKKMeans(algorithm="lloyd", **params).fit(X)
    ours = KMeans(**params).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5)


def test_predict_far_from_origin_in_float32(backend):
    """predict on float32 data 5e4 from the origin measures around the centers' mean, on
    every backend: the exact (float64) closest center wherever it is not a near tie.
    The expansion ||x||^2 - 2 x.c + ||c||^2 taken at the origin (what scikit-learn's
    predict does) keeps no digit there: it gets many rows wrong on this data."""
    from xplearn._xp import to_numpy

    X = (_blobs(2000, 7, 5, seed=21, spread=1.0) + 5e4).astype(np.float32)
    init = (_blobs(5, 7, 5, seed=22, spread=1.0) + 5e4).astype(np.float32)
    model = KMeans(5, init=backend.asarray(init), n_init=1, max_iter=1)
    model.fit(backend.asarray(X))
    centers = to_numpy(model.cluster_centers_)
    exact = ((X.astype(np.float64)[:, None, :] - centers.astype(np.float64)[None]) ** 2).sum(-1)
    ordered = np.sort(exact, axis=1)
    clear = ordered[:, 1] - ordered[:, 0] > 1e-3 * ordered[:, 1]
    assert clear.mean() > 0.9
    labels = to_numpy(model.predict(backend.asarray(X)))
    np.testing.assert_array_equal(labels[clear], exact.argmin(1)[clear])
    # the expansion at the origin, in float32, for contrast (it must fail on this data)
    naive = ((X * X).sum(1)[:, None] - 2 * X @ centers.T + (centers**2).sum(1)[None]).argmin(1)
    assert (naive[clear] != exact.argmin(1)[clear]).mean() > 0.2


_AVX2_FEATURES = (
    "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+f16c,+fma,+fsgsbase,+lzcnt,+movbe,+pclmul,"
    "+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave"
)

_FIT_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from xplearn._kernels._numba import _lloyd
    from xplearn.cluster import KMeans

    data = np.load(sys.argv[1])
    out = {"wide": np.array(_lloyd.WIDE_VECTOR_BYTES), "step": np.array(_lloyd.SMALL_STEP)}
    for name in ("few", "few_far", "many", "many_far"):
        X, init = data[name], data[name + "_init"]
        model = KMeans(len(init), init=init, n_init=1, tol=0, max_iter=5).fit(X)
        out[name + "_labels"] = model.labels_
        out[name + "_centers"] = model.cluster_centers_
    np.savez(sys.argv[2], **out)
    """
)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avx2_tiles_fit_like_scikit_learn(tmp_path, dtype):
    """The whole fit compiled for an AVX2 CPU (NUMBA_CPU_NAME / NUMBA_CPU_FEATURES, in a
    subprocess): 256-bit tiles with 4 x 2 accumulators and one feature per step, also on
    an AVX-512 machine. Few and many clusters, near and far from the origin: the labels
    and centers of scikit-learn, and with many clusters the very fit of this process's
    tiles (whatever their width, the same distances to the bit)."""
    data = {}
    for name, k, offset in [("few", 4, 0.0), ("few_far", 4, 1e3), ("many", 40, 0.0)]:
        X = _blobs(3000, 13, k, seed=k, dtype=np.float64, offset=offset).astype(dtype)
        data[name], data[name + "_init"] = X, _init_for(X, k).astype(dtype)
    data["many_far"] = data["many"] + dtype(1e3)
    data["many_far_init"] = data["many_init"] + dtype(1e3)
    np.savez(tmp_path / "data.npz", **data)
    env = {
        **__import__("os").environ,
        "NUMBA_CPU_NAME": "haswell",
        "NUMBA_CPU_FEATURES": _AVX2_FEATURES,
    }
    subprocess.run(
        [sys.executable, "-c", _FIT_SCRIPT, str(tmp_path / "data.npz"), str(tmp_path / "out.npz")],
        check=True,
        timeout=600,
        env=env,
    )
    out = np.load(tmp_path / "out.npz")
    assert int(out["wide"]) == 32
    assert int(out["step"]) == 1
    rtol = 1e-6 if dtype == np.float64 else 1e-4
    for name in ("few", "few_far", "many", "many_far"):
        X, init = data[name], data[name + "_init"]
        ref = SKKMeans(len(init), init=init, n_init=1, tol=0, max_iter=5).fit(X)
        np.testing.assert_array_equal(out[name + "_labels"], ref.labels_)
        np.testing.assert_allclose(
            out[name + "_centers"], ref.cluster_centers_, rtol=rtol, atol=rtol * 1e3
        )
        if name.startswith("many"):
            here = KMeans(len(init), init=init, n_init=1, tol=0, max_iter=5).fit(X)
            np.testing.assert_array_equal(out[name + "_labels"], here.labels_)
            np.testing.assert_array_equal(out[name + "_centers"], here.cluster_centers_)


# ---------------------------------------------------------------------------------------
# Numerical trust (issue 15): one assignment rule, extreme magnitudes, strict parameters


def _coinciding(kind, dtype, seed=0):
    """Data whose fitted centers coincide to rounding: rows within 1e-13 (float64) or
    1e-5 (float32) of one point 100 from the origin ("near"), or three points 1e-15
    apart repeated ("dups": more clusters than distinct rows, exact duplicates)."""
    rng = np.random.default_rng(seed)
    if kind == "near":
        jitter = 1e-13 if dtype == np.float64 else 1e-5
        X = np.array([[100.3, -40.7, 2.1]]) + rng.uniform(-jitter, jitter, (290, 3))
    else:
        points = np.array([[0.3, 0.4, 0.5]]) + rng.standard_normal((3, 3)) * 1e-15
        X = points[rng.integers(0, 3, 290)]
    return X.astype(dtype)


@pytest.mark.parametrize("kind", ["near", "dups"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_labels_are_predict_when_centers_coincide(backend, kind, dtype):
    """labels_ is predict(X) on the training data, row for row, when several centers
    coincide to 1e-15 or are exact duplicates: one assignment rule for fit and predict
    (the fit measured in the data mean's frame, predict around the centers' mean, and
    near-ties went different ways: 3 of 290 rows here before, 147 on the issue's data)."""
    from xplearn._xp import to_numpy

    if dtype == np.float64 and not backend.has_float64:
        pytest.skip("float64 on a device without it")
    X = _coinciding(kind, dtype)
    X_b = backend.asarray(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # duplicate points
        for init in ("k-means++", "random"):
            model = KMeans(5, init=init, n_init=2, random_state=0).fit(X_b)
            np.testing.assert_array_equal(
                to_numpy(model.labels_), to_numpy(model.predict(X_b)), err_msg=init
            )


def _hypot_distances(X, centers):
    """Exact float64 distances, overflow- and underflow-free (hypot over the features)."""
    differences = X.astype(np.float64)[:, None, :] - centers.astype(np.float64)[None]
    return np.hypot.reduce(differences, axis=-1)


@pytest.mark.parametrize(
    ("dtype", "train_scale", "query_scale"),
    [
        (np.float32, 1.0, 1e20),
        (np.float32, 1.0, 1e30),
        (np.float32, 1.0, 1e-20),
        (np.float32, 1e15, 1e25),
        (np.float32, 1e15, 1e-25),
        (np.float64, 1.0, 1e160),
        (np.float64, 1e-150, 1e-150),
        (np.float64, 1e-150, 1e-170),
    ],
)
def test_transform_finite_at_extreme_magnitudes(backend, dtype, train_scale, query_scale):
    """transform is finite and accurate wherever the distances are representable: float32
    queries at 1e20 made its squared norms overflow (inf), rows at 1e-30 made them
    underflow (0). Reference: exact float64 distances of the same values. score sums
    the squares (1e40 here) in float64 where the device has it."""
    from xplearn._xp import to_numpy

    if dtype == np.float64 and not backend.has_float64:
        pytest.skip("float64 on a device without it")
    base = _blobs(200, 5, 3, seed=31)
    X = (base * train_scale).astype(dtype)
    Q = np.concatenate([base[:20] * query_scale, base[20:25] * train_scale]).astype(dtype)
    model = KMeans(3, init=backend.asarray(X[:3]), n_init=1, max_iter=5)
    centers = to_numpy(model.fit(backend.asarray(X)).cluster_centers_)
    distances = to_numpy(model.transform(backend.asarray(Q)))
    exact = _hypot_distances(Q, centers)
    assert np.all(np.isfinite(distances))
    # the expansion's absolute error: a few eps times the spread around the frame
    eps = np.finfo(dtype).eps
    spread = np.abs(Q.astype(np.float64) - centers.astype(np.float64).mean(0)).max(1)
    np.testing.assert_array_less(np.abs(distances - exact), 64 * eps * (exact + spread[:, None]))
    # the score's squares are float64 sums; the assignment's products x.c stay in the
    # dtype, so the score is checked where those are representable too
    products_fit = query_scale * max(train_scale, 1.0) < np.sqrt(float(np.finfo(dtype).max))
    with np.errstate(over="ignore"):
        exact_score = -float(np.sum(exact.min(1) ** 2))
    if backend.has_float64 and products_fit and np.isfinite(exact_score):
        np.testing.assert_allclose(model.score(backend.asarray(Q)), exact_score, rtol=1e-5)
