"""Global and context-local configuration.

The configuration lives in a :class:`contextvars.ContextVar`, so a value set inside
:func:`config_context` is seen by the current thread (and asyncio task) only: two threads
fitting estimators under different settings never see each other's values.
"""

from __future__ import annotations

import contextvars
import math
import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DTYPE_POLICIES = ("preserve", "float32", "float64", "mixed")
KERNELS = ("auto", "numba", "xp")

_DEFAULTS: dict[str, Any] = {
    "dtype_policy": "preserve",
    "working_memory": 256,
    "kernel": "auto",
    "n_threads": None,
    "assume_finite": False,
}

_config: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "xplearn_config", default=_DEFAULTS
)


def _check_option(name: str, value: Any) -> None:
    """Raise a clear error if ``value`` is not allowed for option ``name``."""
    if name == "dtype_policy":
        if value not in DTYPE_POLICIES:
            raise ValueError(
                f"set_config(): dtype_policy must be one of {DTYPE_POLICIES}, got {value!r}."
            )
    elif name == "kernel":
        if value not in KERNELS:
            raise ValueError(f"set_config(): kernel must be one of {KERNELS}, got {value!r}.")
    elif name == "working_memory":
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or not value > 0
        ):
            raise ValueError(
                f"set_config(): working_memory must be a positive number of MiB, got {value!r}."
            )
    elif name == "n_threads":
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
        ):
            raise ValueError(
                f"set_config(): n_threads must be None or a positive integer, got {value!r}."
            )
    elif name == "assume_finite" and not isinstance(value, bool):
        raise TypeError(f"set_config(): assume_finite must be a bool, got {value!r}.")


def _normalized(name: str, value: Any) -> Any:
    """A checked value in its canonical Python type (``numpy.int64(4)`` -> ``4``)."""
    if name == "n_threads" and value is not None:
        return int(value)
    return value


def get_config() -> dict[str, Any]:
    """Return a copy of the current configuration.

    Returns
    -------
    config : dict
        Keys are the option names accepted by :func:`set_config`.

    See Also
    --------
    set_config : Change the configuration.
    config_context : Change the configuration inside a ``with`` block.
    """
    return dict(_config.get())


def set_config(
    dtype_policy: str | None = None,
    working_memory: float | None = None,
    kernel: str | None = None,
    n_threads: int | None = None,
    assume_finite: bool | None = None,
) -> None:
    """Set the configuration for the current context (thread or task).

    Options left as ``None`` keep their current value. To reset ``n_threads`` to ``None``
    (automatic), use :func:`config_context` or ``set_config(**defaults)``.

    Parameters
    ----------
    dtype_policy : {"preserve", "float32", "float64", "mixed"}, default=None
        Default dtype policy of estimators whose ``dtype_policy`` parameter is ``None``.
        See the "Dtype policy" page of the user guide.
    working_memory : float, default=None
        Memory budget, in MiB, for the temporary blocks of chunked computations
        (e.g. a block of pairwise distances). Default 256.
    kernel : {"auto", "numba", "xp"}, default=None
        Which implementation of the distance kernels to use: ``"auto"`` picks numba
        for NumPy arrays on the CPU and the generic array-API code elsewhere; ``"xp"``
        forces the generic code.
    n_threads : int, default=None
        Number of threads of xplearn's parallel kernels. ``None`` follows the limits
        set from outside (threadpoolctl, ``OMP_NUM_THREADS``), then the CPU count.
    assume_finite : bool, default=None
        If True, skip the check for NaN and infinity in validation (faster, unsafe).
    """
    current = dict(_config.get())
    options = {
        "dtype_policy": dtype_policy,
        "working_memory": working_memory,
        "kernel": kernel,
        "n_threads": n_threads,
        "assume_finite": assume_finite,
    }
    for name, value in options.items():
        if value is not None:
            _check_option(name, value)
            current[name] = _normalized(name, value)
    _config.set(current)


@contextmanager
def config_context(**options: Any) -> Iterator[None]:
    """Temporarily change the configuration inside a ``with`` block.

    Unlike :func:`set_config`, an option passed explicitly as ``None`` is set to ``None``
    (meaningful for ``n_threads``).

    Parameters
    ----------
    **options
        Any option of :func:`set_config`.

    Examples
    --------
    >>> import xplearn
    >>> with xplearn.config_context(dtype_policy="float32"):
    ...     xplearn.get_config()["dtype_policy"]
    'float32'
    >>> xplearn.get_config()["dtype_policy"]
    'preserve'
    """
    current = dict(_config.get())
    for name, value in options.items():
        if name not in _DEFAULTS:
            raise TypeError(
                f"config_context(): unknown option {name!r}; expected one of {sorted(_DEFAULTS)}."
            )
        if value is not None or name != "n_threads":
            _check_option(name, value)
        current[name] = _normalized(name, value)
    token = _config.set(current)
    try:
        yield
    finally:
        _config.reset(token)
