"""Great-circle distances (haversine) on a sphere of radius 6371.0088 km (the spec's).

Scalar helpers for single checks and vectorised numpy helpers for whole problems. All
functions take degrees and return kilometres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088

FloatArray = npt.NDArray[np.float64]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    # min() guards against a > 1 from rounding on antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def haversine_matrix(
    lat_a: npt.ArrayLike, lon_a: npt.ArrayLike, lat_b: npt.ArrayLike, lon_b: npt.ArrayLike
) -> FloatArray:
    """Distances in km between every point of A (rows) and every point of B (columns).

    ``lat_a``/``lon_a`` have length n, ``lat_b``/``lon_b`` length m; the result is n×m float64.
    Memory is n*m*8 bytes times a few temporaries: callers with big n×m chunk over A.
    """
    la = np.radians(np.asarray(lat_a, dtype=np.float64))[:, None]
    oa = np.radians(np.asarray(lon_a, dtype=np.float64))[:, None]
    lb = np.radians(np.asarray(lat_b, dtype=np.float64))[None, :]
    ob = np.radians(np.asarray(lon_b, dtype=np.float64))[None, :]
    a = np.sin((lb - la) / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin((ob - oa) / 2) ** 2
    np.clip(a, 0.0, 1.0, out=a)
    km: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
    return km


def haversine_pairs(
    lat_a: npt.ArrayLike, lon_a: npt.ArrayLike, lat_b: npt.ArrayLike, lon_b: npt.ArrayLike
) -> FloatArray:
    """Element-wise distances in km between A[i] and B[i] (same-length arrays)."""
    la = np.radians(np.asarray(lat_a, dtype=np.float64))
    oa = np.radians(np.asarray(lon_a, dtype=np.float64))
    lb = np.radians(np.asarray(lat_b, dtype=np.float64))
    ob = np.radians(np.asarray(lon_b, dtype=np.float64))
    a = np.sin((lb - la) / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin((ob - oa) / 2) ** 2
    np.clip(a, 0.0, 1.0, out=a)
    km: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
    return km


def haversine_a_matrix(
    lat_a: npt.ArrayLike, lon_a: npt.ArrayLike, lat_b: npt.ArrayLike, lon_b: npt.ArrayLike
) -> FloatArray:
    """The haversine term ``a`` (monotone in distance) for every A×B pair, fast.

    Uses products of per-point sines and cosines (two small matrix products, no trigonometry
    per pair), so it suits filtering millions of pairs; compare with :func:`km_to_a`. Its
    rounding differs from :func:`haversine_matrix` by ~1e-16 in ``a``: callers confirm
    borderline pairs with the exact function.
    """
    la = np.radians(np.asarray(lat_a, dtype=np.float64))
    oa = np.radians(np.asarray(lon_a, dtype=np.float64))
    lb = np.radians(np.asarray(lat_b, dtype=np.float64))
    ob = np.radians(np.asarray(lon_b, dtype=np.float64))
    cla, clb = np.cos(la), np.cos(lb)
    cos_dlat = np.stack([cla, np.sin(la)], axis=1) @ np.stack([clb, np.sin(lb)], axis=0)
    cos_dlon = np.stack([np.cos(oa), np.sin(oa)], axis=1) @ np.stack([np.cos(ob), np.sin(ob)])
    a = 1.0 - cos_dlat
    a += np.outer(cla, clb) * (1.0 - cos_dlon)
    a *= 0.5
    out: npt.NDArray[np.float64] = a
    return out


def km_to_a(km: npt.ArrayLike) -> FloatArray:
    """The haversine term ``a`` of a distance in km (inverse of the distance formula)."""
    k = np.minimum(np.asarray(km, dtype=np.float64) / (2 * EARTH_RADIUS_KM), np.pi / 2)
    return np.sin(k) ** 2


def points_to_shelters_km(
    points: Sequence[tuple[float, float]], shelter_lat: npt.ArrayLike, shelter_lon: npt.ArrayLike
) -> FloatArray:
    """Matrix points×shelters in km; ``points`` is a sequence of (lat, lon)."""
    if len(points) == 0:
        return np.zeros((0, len(np.asarray(shelter_lat))), dtype=np.float64)
    arr = np.asarray(points, dtype=np.float64)
    return haversine_matrix(arr[:, 0], arr[:, 1], shelter_lat, shelter_lon)


__all__ = [
    "EARTH_RADIUS_KM",
    "haversine_a_matrix",
    "haversine_km",
    "haversine_matrix",
    "haversine_pairs",
    "km_to_a",
    "points_to_shelters_km",
]
