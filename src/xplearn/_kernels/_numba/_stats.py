"""Column statistics of a NumPy array in one parallel pass (numba).

Used at the start of a KMeans fit (data mean, mean squared row norm, variances for
``tol``): the generic chunked code makes several single-threaded passes over X for the
same numbers, which on a memory-bound problem costs as much as a few Lloyd iterations.

One pass gives means and variances: each slot (a contiguous range of rows, chosen from
the shape only) sums its rows' deviations from its own first row, and the slots' totals
and squared deviations are merged in order (Chan et al.), so results do not depend on
the thread count, and variances are sums of squared deviations from nearby values, not
``E[x^2] - E[x]^2`` (which loses every digit on data far from the origin). Sums are
accumulated in float64 whatever the data's dtype. Arguments are annotated IN / OUT.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Row slots of one pass (their count depends on the shape only).
N_SLOTS = 16

# rows summed together before they meet the running sums: four rows' deviations share
# one load and store of each running sum (the loop is bound by those, not by X's reads)
_ROWS_AT_ONCE = 4


@njit(cache=True, nogil=True, parallel=True, fastmath={"contract"})
def column_moments(X, n_slots):  # pragma: no cover - compiled
    """Column means and sums of squared deviations from them, in float64, in one pass.

    X : (n, d) float32/float64 IN, n >= n_slots >= 1.
    Returns (mean (d,), squared deviations (d,)): ``sum_i (x_if - mean_f)^2``.
    """
    n, d = X.shape
    firsts = np.empty((n_slots, d), np.float64)
    slot_sums = np.empty((n_slots, d), np.float64)
    slot_squares = np.empty((n_slots, d), np.float64)
    for slot in prange(n_slots):
        # the slot's deviations from its first row, in arrays of its own: with rows of
        # the output arrays as accumulators (or in a helper function) LLVM did not
        # vectorise as well (4.0-4.8 ms instead of 2.7 on 1M x 32 float32, two threads)
        lo = slot * n // n_slots
        hi = (slot + 1) * n // n_slots
        first = np.empty(d, np.float64)
        sums = np.zeros(d, np.float64)
        squares = np.zeros(d, np.float64)
        for f in range(d):
            first[f] = X[lo, f]
        i = lo
        while i + _ROWS_AT_ONCE <= hi:
            r0, r1, r2, r3 = X[i], X[i + 1], X[i + 2], X[i + 3]
            for f in range(d):
                c = first[f]
                a = np.float64(r0[f]) - c
                b = np.float64(r1[f]) - c
                e = np.float64(r2[f]) - c
                g = np.float64(r3[f]) - c
                sums[f] += (a + b) + (e + g)
                squares[f] += (a * a + b * b) + (e * e + g * g)
            i += _ROWS_AT_ONCE
        while i < hi:
            row = X[i]
            for f in range(d):
                a = np.float64(row[f]) - first[f]
                sums[f] += a
                squares[f] += a * a
            i += 1
        firsts[slot] = first
        slot_sums[slot] = sums
        slot_squares[slot] = squares
    # The mean from the slots' totals (size * first row + deviations): exact wherever the
    # sums are (integer-valued data), so the data is centered on the correctly rounded
    # mean, as np.mean (and scikit-learn) would; the squared deviations then merge as in
    # Chan et al.: each slot's own, plus its size times its mean's squared distance to
    # the global mean. Slots are visited in order: the same result on any thread count.
    # The between-slot terms are taken relative to the first row: slot means formed at
    # the data's offset (1e5 from the origin, say) would each carry a rounding of
    # eps * offset, which the squared differences amplify (float64 data lost 3 digits
    # of its variance that way); relative to a data point they are small numbers.
    mean = np.zeros(d, np.float64)
    relative = np.zeros(d, np.float64)
    for slot in range(n_slots):
        size = (slot + 1) * n // n_slots - slot * n // n_slots
        for f in range(d):
            mean[f] += size * firsts[slot, f] + slot_sums[slot, f]
            relative[f] += size * (firsts[slot, f] - firsts[0, f]) + slot_sums[slot, f]
    for f in range(d):
        mean[f] /= n
        relative[f] /= n
    deviations = np.zeros(d, np.float64)
    for slot in range(n_slots):
        size = (slot + 1) * n // n_slots - slot * n // n_slots
        for f in range(d):
            slot_mean = (firsts[slot, f] - firsts[0, f]) + slot_sums[slot, f] / size
            within = slot_squares[slot, f] - slot_sums[slot, f] * (slot_sums[slot, f] / size)
            between = slot_mean - relative[f]
            deviations[f] += within + size * between * between
    return mean, deviations
