"""Fast paths of xplearn's hot loops, behind one signature per kernel.

Each kernel has two implementations: numba (``_numba/``: NumPy arrays on the CPU,
parallel, chunked for the cache, float32 and float64 specialisations) and generic
array-API code (``_xp_impl.py``: chunked by ``working_memory``; torch, CuPy, Dask,
array-api-strict, and the oracle the numba code is tested against). ``_dispatch.py``
picks one per call; ``config_context(kernel="xp")`` forces the generic one.

This is the only package besides :mod:`xplearn._xp` that knows which array libraries
exist.
"""

from xplearn._kernels._dispatch import (
    LloydResult,
    argkmin,
    column_mean_and_variance,
    kernel_backend,
    kernel_input,
    kernel_session,
    last_session_threads,
    lloyd_pass,
    pairwise_distances,
    radius_neighbors,
    training_index,
)
from xplearn._kernels._xp_impl import (
    STREAM_CHUNK_MIB,
    chunk_rows,
    euclidean_to_centers,
    sq_distances,
)

__all__ = [
    "STREAM_CHUNK_MIB",
    "LloydResult",
    "argkmin",
    "chunk_rows",
    "column_mean_and_variance",
    "euclidean_to_centers",
    "kernel_backend",
    "kernel_input",
    "kernel_session",
    "last_session_threads",
    "lloyd_pass",
    "pairwise_distances",
    "radius_neighbors",
    "sq_distances",
    "training_index",
]
