"""Thread counts for xplearn's parallel regions, and BLAS limits inside them.

A parallel kernel owns the cores: inside it BLAS runs single-threaded, and the kernel's own
thread count follows, in order, ``config_context(n_threads=...)``, the limits set from
outside (threadpoolctl's OpenMP limit, which joblib sets in its workers, and
``OMP_NUM_THREADS``), then the number of CPUs this process may use.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from xplearn._config import get_config

_controller_lock = threading.Lock()
_controller_cache: tuple[int, Any] | None = None


def _controller() -> Any:
    """A threadpoolctl controller of the native thread pools loaded in this process.

    Building one scans the loaded shared libraries (milliseconds: more than a one-row
    ``predict`` should cost), so it is cached, and rebuilt when modules have been imported
    since (a new import is how a new BLAS or OpenMP runtime gets loaded).
    """
    global _controller_cache
    from threadpoolctl import ThreadpoolController

    key = len(sys.modules)
    with _controller_lock:
        if _controller_cache is None or _controller_cache[0] != key:
            _controller_cache = (key, ThreadpoolController())
        return _controller_cache[1]


def available_cpus() -> int:
    """CPUs this process may run on (affinity-aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _outer_limit() -> int | None:
    """The thread limit set from outside xplearn, if any."""
    limits = [
        pool["num_threads"] for pool in _controller().info() if pool.get("user_api") == "openmp"
    ]
    env = _env_limit(os.environ.get("OMP_NUM_THREADS"))
    if env is not None:
        limits.append(env)
    return min(limits) if limits else None


def _env_limit(value: str | None) -> int | None:
    """The outermost level of an ``OMP_NUM_THREADS`` value (``"4"`` or ``"4,2"``), if valid."""
    if not value:
        return None
    first = value.split(",", 1)[0].strip()
    if not first.isdigit() or int(first) < 1:
        return None
    return int(first)


def effective_n_threads() -> int:
    """Number of threads xplearn's parallel kernels use now.

    Returns
    -------
    int
        ``config n_threads`` if set, else the outside limit (threadpoolctl / OpenMP /
        ``OMP_NUM_THREADS``), else the CPU count; always capped by the CPUs available
        (more threads than cores only oversubscribes, and numba refuses more threads
        than it started with).
    """
    configured = get_config()["n_threads"]
    cpus = available_cpus()
    if configured is not None:
        return max(1, min(cpus, configured))
    outer = _outer_limit()
    return max(1, min(cpus, outer) if outer is not None else cpus)


# threadpoolctl's limits are process-wide: each limiter restores what it saw on entry, so
# limiters entered and left out of order by several threads would leave the limit of one
# that entered while another held it (1) for good. One limiter, shared by every thread's
# sessions, entered by the first and restored by the last, keeps the process's limits.
_blas_lock = threading.Lock()
_blas_holders = 0
_blas_limiter: Any = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread while a parallel kernel runs (no oversubscription).

    Safe under concurrency: while any thread is inside, BLAS runs one thread; when the last
    one leaves, every BLAS pool gets back the limit it had before the first one entered.
    """
    global _blas_holders, _blas_limiter
    with _blas_lock:
        if _blas_holders == 0:
            _release_openblas_control()
            _blas_limiter = _controller().limit(limits=1, user_api="blas")
        _blas_holders += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_holders -= 1
            if _blas_holders == 0:
                limiter, _blas_limiter = _blas_limiter, None
                # the last holder may be another thread than the one that set the limit
                _release_openblas_control()
                limiter.restore_original_limits()
                _release_openblas_control()


def _release_openblas_control() -> None:
    """Let this thread set OpenBLAS's (process-wide) thread count.

    threadpoolctl >= 3.6 lets only the thread that last changed OpenBLAS's limit change it
    again while that thread lives, and ignores the others silently; the shared limiter above
    is set and restored under one lock, so handing the control over is safe.
    """
    from threadpoolctl import OpenBLASController

    release = getattr(OpenBLASController, "clear_controlling_thread", None)
    if release is not None:
        try:
            release(force=True)
        except TypeError:  # pragma: no cover - a version without ``force``
            release()
