"""Thread counts: config first, then outside limits, then the CPU count; BLAS limits."""

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import xplearn.utils._threads as threads_module
from xplearn import config_context
from xplearn.utils._threads import available_cpus, effective_n_threads, single_threaded_blas


def _openmp_pools():
    # scikit-learn ships an OpenMP runtime; make sure it is loaded
    import sklearn.utils._openmp_helpers  # noqa: F401

    return [pool for pool in threadpool_info() if pool["user_api"] == "openmp"]


def _blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def many_cpus(monkeypatch):
    """Pretend the machine has 64 CPUs, so that every limit below is visible."""
    monkeypatch.setattr(threads_module, "available_cpus", lambda: 64)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return 64


def test_available_cpus_is_positive_and_bounded():
    import os

    cpus = available_cpus()
    assert 1 <= cpus <= (os.cpu_count() or cpus)


def test_default_is_bounded_by_cpus():
    assert 1 <= effective_n_threads() <= available_cpus()


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_config_n_threads_wins(many_cpus, monkeypatch, n_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with config_context(n_threads=n_threads):
        assert effective_n_threads() == n_threads
        with threadpool_limits(limits=1, user_api="openmp"):
            assert effective_n_threads() == n_threads


def test_config_n_threads_is_capped_by_cpus(monkeypatch):
    monkeypatch.setattr(threads_module, "available_cpus", lambda: 2)
    with config_context(n_threads=16):
        assert effective_n_threads() == 2


def test_threadpoolctl_openmp_limit(many_cpus):
    if not _openmp_pools():  # pragma: no cover - every supported platform ships one
        pytest.skip("no OpenMP runtime loaded")
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1
    current = min(pool["num_threads"] for pool in _openmp_pools())
    assert effective_n_threads() == min(current, many_cpus)


def test_omp_num_threads(many_cpus, monkeypatch):
    openmp = min((pool["num_threads"] for pool in _openmp_pools()), default=many_cpus)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert effective_n_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")  # nested levels: the outer one counts
    assert effective_n_threads() == min(4, openmp)


@pytest.mark.parametrize("value", ["", "abc", "0", "-3", " ", "1.5"])
def test_invalid_omp_num_threads_is_ignored(many_cpus, monkeypatch, value):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    openmp = min((pool["num_threads"] for pool in _openmp_pools()), default=many_cpus)
    assert effective_n_threads() == min(openmp, many_cpus)


def test_capped_by_cpu_count(monkeypatch):
    monkeypatch.setattr(threads_module, "available_cpus", lambda: 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert effective_n_threads() == 1
    monkeypatch.setattr(threads_module, "available_cpus", lambda: 3)
    monkeypatch.setenv("OMP_NUM_THREADS", "1000")
    openmp = min((pool["num_threads"] for pool in _openmp_pools()), default=3)
    assert effective_n_threads() == min(3, openmp)


def test_tightest_outside_limit_wins(many_cpus, monkeypatch):
    if not _openmp_pools():  # pragma: no cover
        pytest.skip("no OpenMP runtime loaded")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with threadpool_limits(limits=2, user_api="openmp"):
        assert effective_n_threads() == 1


def test_config_none_restores_outside_limits(many_cpus, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with config_context(n_threads=5):
        assert effective_n_threads() == 5
        with config_context(n_threads=None):
            assert effective_n_threads() == 1


def test_single_threaded_blas_limits_and_restores():
    before = _blas_threads()
    if not before:  # pragma: no cover - NumPy always loads a BLAS
        pytest.skip("no BLAS loaded")
    with single_threaded_blas():
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


def test_single_threaded_blas_restores_after_an_exception():
    before = _blas_threads()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), single_threaded_blas():
        raise Boom
    assert _blas_threads() == before


def test_single_threaded_blas_leaves_openmp_alone():
    before = [pool["num_threads"] for pool in _openmp_pools()]
    with single_threaded_blas():
        assert [pool["num_threads"] for pool in _openmp_pools()] == before


def _all_limits():
    return sorted(
        (pool["user_api"], pool["filepath"], pool["num_threads"]) for pool in threadpool_info()
    )


def test_concurrent_sessions_restore_every_limit():
    # 8 threads x 16 calls enter and leave the BLAS limit out of order: the process's
    # thread pools must end exactly as they started (threadpoolctl limits are global)
    import threading

    import numpy as np

    from xplearn.neighbors import NearestNeighbors

    _openmp_pools()  # load scikit-learn's OpenMP runtime, so its pools are compared too
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8))
    model = NearestNeighbors(n_neighbors=3).fit(X)
    model.kneighbors(X[:200])
    before = _all_limits()
    barrier = threading.Barrier(8)
    errors = []

    def work(seed):
        try:
            barrier.wait()
            queries = np.random.default_rng(seed).normal(size=(400, 8))
            for _ in range(16):
                model.kneighbors(queries)
                with single_threaded_blas():
                    pass
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _all_limits() == before


def test_nested_and_interleaved_limits_restore():
    import threading

    before = _blas_threads()
    if not before:  # pragma: no cover
        pytest.skip("no BLAS loaded")
    entered = threading.Event()
    release = threading.Event()

    def other():
        with single_threaded_blas():
            entered.set()
            release.wait(10)

    # this thread enters first, the other enters second, this thread leaves first
    with single_threaded_blas():
        thread = threading.Thread(target=other)
        thread.start()
        assert entered.wait(10)
    assert _blas_threads() == [1] * len(before)  # the other thread's kernel still runs
    release.set()
    thread.join()
    assert _blas_threads() == before
