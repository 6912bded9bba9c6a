"""The feature engine's compiled loops (numba): what numpy cannot vectorise without O(n^2) memory.

Each kernel is compiled on its first call and cached on disk (``cache=True``: in ``__pycache__`` beside this
file, or numba's user-wide cache folder where that is not writable; ``NUMBA_CACHE_DIR`` overrides both), so a
fresh environment compiles once, in seconds (benchmarks/bench_engines.py measures it), and every later process
loads the machine code. Numba ships wheels for every platform and Python that Slicer uses: no compiler needed.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _turns_left(ox: float, oy: float, ax: float, ay: float, bx: float, by: float) -> bool:
    return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox) > 0


@njit(cache=True, nogil=True)
def plane_hulls(u: np.ndarray, v: np.ndarray, starts: np.ndarray) -> tuple[float, np.ndarray]:
    """(largest squared distance between two points of the same plane, which points are hull vertices) of
    points (u, v) sorted by (plane, u, v), plane p being ``[starts[p], starts[p + 1])``. Each plane's convex
    hull by Andrew's monotone chain (collinear points dropped); the farthest pair of a plane is two of its
    hull's vertices, compared pair by pair."""
    best = 0.0
    on_hull = np.zeros(len(u), dtype=np.bool_)
    hull = np.empty(2 * len(u) + 2, dtype=np.int64)
    for p in range(len(starts) - 1):
        start, stop = starts[p], starts[p + 1]
        k = 0
        for i in range(start, stop):  # lower chain
            while k >= 2 and not _turns_left(u[hull[k - 2]], v[hull[k - 2]], u[hull[k - 1]], v[hull[k - 1]], u[i], v[i]):
                k -= 1
            hull[k] = i
            k += 1
        lower = k + 1
        for i in range(stop - 2, start - 1, -1):  # upper chain
            while k >= lower and not _turns_left(u[hull[k - 2]], v[hull[k - 2]], u[hull[k - 1]], v[hull[k - 1]],
                                                 u[i], v[i]):
                k -= 1
            hull[k] = i
            k += 1
        for a in range(k):
            on_hull[hull[a]] = True
            for b in range(a + 1, k):
                squared = (u[hull[a]] - u[hull[b]]) ** 2 + (v[hull[a]] - v[hull[b]]) ** 2
                if squared > best:
                    best = squared
    return best, on_hull


@njit(cache=True, nogil=True)
def farthest_pair(points: np.ndarray) -> float:
    """The largest squared distance between two of ``points`` (n x 3), every pair compared."""
    best = 0.0
    for a in range(len(points)):
        for b in range(a + 1, len(points)):
            squared = 0.0
            for c in range(points.shape[1]):
                squared += (points[a, c] - points[b, c]) ** 2
            if squared > best:
                best = squared
    return best
