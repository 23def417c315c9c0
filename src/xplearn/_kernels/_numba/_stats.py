"""Column statistics of a NumPy array in one parallel pass (numba).

Used at the start of a KMeans fit (data mean, mean squared row norm, variances for
``tol``): the generic chunked code makes several single-threaded passes over X for the
same numbers, which on a memory-bound problem costs as much as a few Lloyd iterations.

Partial results live in a fixed number of slots (contiguous row ranges chosen from the
shape only) merged in order, so results do not depend on the thread count. Sums are
accumulated in float64 whatever the data's dtype. Arguments are annotated IN / OUT.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Row slots of one pass (their count depends on the shape only).
N_SLOTS = 16


@njit(cache=True, nogil=True, parallel=True)
def column_sums(X, center, n_slots):  # pragma: no cover - compiled
    """Per-column sums of ``X - center`` and of its squares, in float64.

    X : (n, d) float32/float64 IN; center : (d,) float64 IN.
    Returns (sums (d,), squares (d,)), float64.
    """
    n, d = X.shape
    slot_sums = np.zeros((n_slots, d), np.float64)
    slot_squares = np.zeros((n_slots, d), np.float64)
    for slot in prange(n_slots):
        sums = slot_sums[slot]
        squares = slot_squares[slot]
        for i in range(slot * n // n_slots, (slot + 1) * n // n_slots):
            row = X[i]
            for f in range(d):
                value = np.float64(row[f]) - center[f]
                sums[f] += value
                squares[f] += value * value
    sums = np.zeros(d, np.float64)
    squares = np.zeros(d, np.float64)
    for slot in range(n_slots):
        sums += slot_sums[slot]
        squares += slot_squares[slot]
    return sums, squares
