"""Backend fixtures: every estimator test runs on every installed backend.

``backend`` is parametrized over :func:`xplearn.testing.available_backends` (numpy,
array_api_strict on two devices, torch CPU, dask, and torch CUDA / CuPy where a CUDA
device exists); ``xp`` and ``device`` are its namespace and device.
"""

import os

# scikit-learn's array-API common checks need SciPy's array API mode, which is read once,
# at SciPy's first import: set it before anything imports SciPy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import warnings

import pytest
from hypothesis import HealthCheck, settings

from xplearn.testing import available_backends, no_float64_backend

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=25,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BACKENDS = available_backends()


@pytest.fixture(params=BACKENDS, ids=[backend.id for backend in BACKENDS])
def backend(request):
    """One installed backend (namespace + device)."""
    return request.param


@pytest.fixture
def xp(backend):
    """The array namespace of ``backend``."""
    return backend.xp


@pytest.fixture
def device(backend):
    """The device of ``backend``."""
    return backend.device


@pytest.fixture
def no_float64():
    """array-api-strict's device without float64."""
    found = no_float64_backend()
    if found is None:
        pytest.skip("array-api-strict has no 'no_float64' device in this version")
    return found


@pytest.fixture(scope="session")
def dask_client():
    """A dask.distributed Client of a local cluster of two single-threaded worker processes.

    Not the default scheduler: tests compute on it explicitly (``client.compute``), so that
    Dask tests elsewhere keep their local scheduler. Skipped without ``distributed``.
    """
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        # the slow-disk notice of worker start-up is no test failure
        warnings.filterwarnings("ignore", "Creating scratch directories", UserWarning)
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()
