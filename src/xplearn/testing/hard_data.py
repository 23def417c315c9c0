"""Data that breaks numerically careless code, and exact references to test against.

Every generator returns a NumPy array of the requested dtype made from a
:class:`numpy.random.Generator`; tests move it to a backend with
:meth:`xplearn.testing.Backend.asarray`. The kinds of data are the ones users bring and
naive formulas get wrong:

- :func:`offset_data`: a normal cloud far from the origin (``||x||^2 - 2 x.y + ||y||^2``
  cancels, one-pass variances lose every digit);
- :func:`geographic`: latitude/longitude points in degrees around a few cities, with a
  spread of a kilometre or less (tight clusters far apart);
- :func:`mixed_scales`: columns of very different scales and offsets (rank decisions
  relative to the largest singular value drop the small ones);
- :func:`with_duplicates`: exact and near duplicate rows (ties must go by index);
- :func:`extreme_magnitudes`: values near the edges of the dtype's range, whose squares
  or products overflow or underflow it.

:data:`HARD_CASES` names a representative instance of each for ``pytest.mark.parametrize``,
and :func:`hard_arrays` is a hypothesis strategy over all of them. The references
(:func:`exact_sq_distances`, :func:`exact_argkmin`) use direct float64 differences of the
input values, the rule xplearn's neighbour searches are held to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "HARD_CASES",
    "MAGNITUDES",
    "exact_argkmin",
    "exact_sq_distances",
    "extreme_magnitudes",
    "geographic",
    "hard_arrays",
    "hard_case",
    "mixed_scales",
    "offset_data",
    "with_duplicates",
]

#: (smallest, largest) magnitudes tested per dtype: squares of these stay finite and
#: normal in float64, the dtype xplearn accumulates in.
MAGNITUDES = {
    np.dtype(np.float32): (1e-30, 1e30),
    np.dtype(np.float64): (1e-150, 1e150),
}

#: (latitude, longitude) of a few cities, in degrees
CITIES = np.array(
    [
        [48.8566, 2.3522],  # Paris
        [51.5074, -0.1278],  # London
        [40.7128, -74.0060],  # New York
        [-33.8688, 151.2093],  # Sydney
    ]
)


def offset_data(
    rng: np.random.Generator,
    n_samples: int,
    n_features: int,
    *,
    offset: float = 1e4,
    scale: float = 1.0,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Normal(0, scale) rows moved ``offset`` from the origin in every feature.

    The offset is added in float64 and the result rounded once to ``dtype``.
    """
    X = rng.normal(scale=scale, size=(n_samples, n_features)) + offset
    return X.astype(dtype)


def geographic(
    rng: np.random.Generator,
    n_samples: int,
    *,
    spread: float = 1e-2,
    n_cities: int = 2,
    dtype: Any = np.float64,
) -> np.ndarray:
    """(latitude, longitude) in degrees: ``n_cities`` cities, normal ``spread`` around each.

    A spread of 0.01 degree is about 1 km; rows are assigned to the cities in turn.
    """
    if not 1 <= n_cities <= len(CITIES):
        raise ValueError(f"n_cities must be in [1, {len(CITIES)}], got {n_cities}")
    centers = CITIES[np.arange(n_samples) % n_cities]
    return (centers + rng.normal(scale=spread, size=(n_samples, 2))).astype(dtype)


def mixed_scales(
    rng: np.random.Generator,
    n_samples: int,
    *,
    scales: tuple[float, ...] = (1.0, 1e-2, 0.1, 1.0),
    offsets: tuple[float, ...] = (0.0, 0.0, 300.0, 1e4),
    dtype: Any = np.float64,
) -> np.ndarray:
    """Columns ``offsets[j] + scales[j] * normal``: scales and offsets far apart."""
    if len(scales) != len(offsets):
        raise ValueError("scales and offsets must have the same length")
    X = rng.normal(size=(n_samples, len(scales))) * np.asarray(scales) + np.asarray(offsets)
    return X.astype(dtype)


def with_duplicates(
    rng: np.random.Generator,
    n_samples: int,
    n_features: int,
    *,
    n_unique: int = 10,
    near: float = 0.0,
    offset: float = 0.0,
    dtype: Any = np.float64,
) -> np.ndarray:
    """``n_samples`` rows drawn from ``n_unique`` distinct ones (exact duplicates), each
    moved by ``near`` times a normal vector (near duplicates when ``near > 0``)."""
    unique = rng.normal(size=(n_unique, n_features)) + offset
    X = unique[rng.integers(0, n_unique, size=n_samples)]
    if near:
        X = X + near * rng.normal(size=X.shape)
    return X.astype(dtype)


def extreme_magnitudes(
    rng: np.random.Generator,
    n_samples: int,
    n_features: int,
    *,
    magnitude: float | None = None,
    large: bool = True,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Normal rows times ``magnitude`` (default: :data:`MAGNITUDES` of the dtype, its
    large end or, with ``large=False``, its small end): finite values whose squares leave
    the dtype's range."""
    dtype = np.dtype(dtype)
    if magnitude is None:
        magnitude = MAGNITUDES[dtype][1 if large else 0]
    return (rng.normal(size=(n_samples, n_features)) * magnitude).astype(dtype)


def _cases() -> dict[str, Callable[..., np.ndarray]]:
    def case(function: Callable[..., np.ndarray], *args: Any, **kwargs: Any):
        def make(rng: np.random.Generator, dtype: Any) -> np.ndarray:
            return function(rng, *args, dtype=dtype, **kwargs)

        return make

    return {
        "offset_1e2": case(offset_data, 300, 4, offset=1e2),
        "offset_1e5": case(offset_data, 300, 4, offset=1e5),
        "offset_1e8": case(offset_data, 300, 3, offset=1e8, scale=1e3),
        "geographic_1e-2": case(geographic, 300, spread=1e-2),
        "geographic_1e-3": case(geographic, 300, spread=1e-3, n_cities=3),
        "mixed_scales": case(mixed_scales, 300),
        "duplicates": case(with_duplicates, 300, 3, n_unique=12),
        "near_duplicates": case(with_duplicates, 300, 3, n_unique=12, near=1e-6, offset=10.0),
        "large": case(extreme_magnitudes, 300, 3, large=True),
        "small": case(extreme_magnitudes, 300, 3, large=False),
    }


#: name -> ``make(rng, dtype)``: one representative data set of each kind
HARD_CASES: dict[str, Callable[..., np.ndarray]] = _cases()


def hard_case(name: str, dtype: Any = np.float64, seed: int = 0) -> np.ndarray:
    """The data set :data:`HARD_CASES` ``[name]`` in ``dtype``, from ``seed``."""
    return HARD_CASES[name](np.random.default_rng(seed), np.dtype(dtype))


def hard_arrays(
    dtype: Any = np.float64,
    *,
    min_rows: int = 2,
    max_rows: int = 60,
    max_features: int = 5,
) -> Any:
    """A hypothesis strategy of hard 2-D arrays of ``dtype`` (hypothesis imported here).

    Draws a kind (offset, geographic, tight clusters, mixed scales, duplicates, extreme
    magnitudes), its parameters (offsets 1e2..1e8, spreads 1e-5..1e-2, magnitudes over the
    dtype's tested range) and a seed; the array is built by the generators above, so a
    failing example shrinks to a small, reproducible call.
    """
    from hypothesis import strategies as st

    dtype = np.dtype(dtype)
    low, high = MAGNITUDES[dtype]
    n_rows = st.integers(min_rows, max_rows)
    n_features = st.integers(1, max_features)
    seeds = st.integers(0, 2**32 - 1)

    @st.composite
    def arrays(draw: Any) -> np.ndarray:
        kind = draw(
            st.sampled_from(["offset", "geographic", "mixed", "duplicates", "extreme", "clusters"])
        )
        rng = np.random.default_rng(draw(seeds))
        n = draw(n_rows)
        if kind == "offset":
            exponent = draw(st.integers(2, 8 if dtype == np.float64 else 5))
            return offset_data(rng, n, draw(n_features), offset=10.0**exponent, dtype=dtype)
        if kind == "geographic":
            spread = 10.0 ** draw(st.integers(-5 if dtype == np.float64 else -3, -2))
            return geographic(rng, n, spread=spread, n_cities=draw(st.integers(1, 4)), dtype=dtype)
        if kind == "mixed":
            d = draw(n_features)
            scales = tuple(10.0 ** draw(st.integers(-3, 3)) for _ in range(d))
            offsets = tuple(draw(st.sampled_from([0.0, 1.0, 300.0, 1e4])) for _ in range(d))
            return mixed_scales(rng, n, scales=scales, offsets=offsets, dtype=dtype)
        if kind == "duplicates":
            return with_duplicates(
                rng,
                n,
                draw(n_features),
                n_unique=draw(st.integers(1, max(1, n // 2))),
                near=draw(st.sampled_from([0.0, 1e-6])),
                offset=draw(st.sampled_from([0.0, 1e3])),
                dtype=dtype,
            )
        if kind == "extreme":
            exponent = draw(st.integers(int(np.log10(low)), int(np.log10(high))))
            return extreme_magnitudes(
                rng, n, draw(n_features), magnitude=10.0**exponent, dtype=dtype
            )
        # tight clusters far apart, in any dimension
        d = draw(n_features)
        n_clusters = draw(st.integers(1, 4))
        separation = 10.0 ** draw(st.integers(0, 4))
        spread = separation * 10.0 ** draw(st.integers(-5 if dtype == np.float64 else -3, -1))
        centers = rng.normal(scale=separation, size=(n_clusters, d))
        X = centers[np.arange(n) % n_clusters] + rng.normal(scale=spread, size=(n, d))
        return X.astype(dtype)

    return arrays()


def exact_sq_distances(X: Any, Y: Any) -> np.ndarray:
    """Squared euclidean distances by direct float64 differences of the input values."""
    X64 = np.asarray(X, dtype=np.float64)
    Y64 = np.asarray(Y, dtype=np.float64)
    # scaled by a power of two so that squares of values near the dtype's edges stay finite
    top = max(float(np.max(np.abs(X64), initial=0.0)), float(np.max(np.abs(Y64), initial=0.0)))
    scale = 2.0 ** -np.ceil(np.log2(top)) if top > 0 and np.isfinite(top) else 1.0
    diff = (X64[:, None, :] - Y64[None, :, :]) * scale
    with np.errstate(over="ignore"):  # a square beyond float64 is inf, as it should be
        return (diff * diff).sum(axis=-1) / scale / scale


def exact_argkmin(X: Any, Y: Any, k: int, metric: str = "euclidean") -> tuple[np.ndarray, ...]:
    """The ``k`` nearest rows of ``Y`` to each row of ``X`` by direct float64 differences:
    (float64 distances, indices), ties by smaller index (stable sort)."""
    X64 = np.asarray(X, dtype=np.float64)
    Y64 = np.asarray(Y, dtype=np.float64)
    if metric in ("euclidean", "sqeuclidean"):
        distances = exact_sq_distances(X64, Y64)
        if metric == "euclidean":
            distances = np.sqrt(distances)
    elif metric == "manhattan":
        distances = np.abs(X64[:, None, :] - Y64[None, :, :]).sum(axis=-1)
    elif metric == "cosine":
        # unit rows first (norms of scaled rows: no overflow), zero rows stay zero
        units = []
        for Z in (X64, Y64):
            top = np.max(np.abs(Z), axis=1, keepdims=True)
            Z = Z / np.where(top > 0, top, 1.0)
            norm = np.linalg.norm(Z, axis=1, keepdims=True)
            units.append(Z / np.where(norm > 0, norm, 1.0))
        similarity = units[0] @ units[1].T
        distances = np.clip(1.0 - similarity, 0.0, 2.0)
    else:
        raise ValueError(f"unknown metric {metric!r}")
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(distances, order, axis=1), order
