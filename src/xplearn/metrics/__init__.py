"""Pairwise distances and chunked neighbour reductions, as public functions.

Every function takes arrays of any supported namespace (NumPy, PyTorch, CuPy, Dask,
array-api-strict) and returns arrays of the same namespace, on the same device. No
``n_X x n_Y`` intermediate is materialised beyond what a function returns: work is cut
into blocks sized by ``working_memory`` (see :func:`xplearn.config_context`).
"""

from xplearn.metrics._pairwise import (
    PAIRWISE_METRICS,
    pairwise_distances,
    pairwise_distances_argkmin,
    pairwise_distances_radius,
)

__all__ = [
    "PAIRWISE_METRICS",
    "pairwise_distances",
    "pairwise_distances_argkmin",
    "pairwise_distances_radius",
]
