"""Compiled loops of the shape features: the marching-cubes mesh and the diameters from convex hulls."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _turns_left(ox: float, oy: float, ax: float, ay: float, bx: float, by: float) -> bool:
    return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox) > 0


@njit(cache=True, nogil=True)
def _hull_farthest(u: np.ndarray, v: np.ndarray, n: int, hull: np.ndarray) -> tuple[float, int]:
    """Andrew's monotone chain over the first ``n`` points (u, v), sorted by (u, v): (the largest squared
    distance between two of the hull's vertices, how many vertices); ``hull[:count]`` receives their indices.
    Collinear points are dropped: the farthest pair of a point set is two vertices of its convex hull."""
    k = 0
    for i in range(n):  # lower chain
        while k >= 2 and not _turns_left(u[hull[k - 2]], v[hull[k - 2]], u[hull[k - 1]], v[hull[k - 1]], u[i], v[i]):
            k -= 1
        hull[k] = i
        k += 1
    lower = k + 1
    for i in range(n - 2, -1, -1):  # upper chain, back to the first point
        while k >= lower and not _turns_left(u[hull[k - 2]], v[hull[k - 2]], u[hull[k - 1]], v[hull[k - 1]], u[i], v[i]):
            k -= 1
        hull[k] = i
        k += 1
    k = max(k - 1, 1) if n > 0 else 0  # the chain ends on its first point
    best = 0.0
    for a in range(k):
        for b in range(a + 1, k):
            squared = (u[hull[a]] - u[hull[b]]) ** 2 + (v[hull[a]] - v[hull[b]]) ** 2
            if squared > best:
                best = squared
    return best, k


@njit(cache=True, nogil=True)
def farthest_in_plane(u: np.ndarray, v: np.ndarray) -> float:
    """The largest squared distance between two points (u, v), sorted by (u, v)."""
    return _hull_farthest(u, v, len(u), np.empty(len(u) + 2, dtype=np.int64))[0]


@njit(cache=True, nogil=True)
def lattice_diameters(lattice: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Squared maximum diameters (3D, in the planes of each axis: z, y, x) of points on the half-voxel
    lattice (``lattice``: n x 3 whole numbers, twice the (z, y, x) voxel coordinates; ``spacing``: mm).

    A plane's hull vertices are among each of its lines' two extreme points (any other point lies between
    them), which come out of one pass already sorted: no sort. A vertex of the 3D hull is a vertex of its
    z-plane's hull (else it lies inside that plane's hull), so the 3D diameter compares those only."""
    size = np.ones(3, dtype=np.int64)
    for i in range(len(lattice)):
        for c in range(3):
            size[c] = max(size[c], lattice[i, c] + 1)
    out = np.zeros(4)
    n_candidates = 0
    candidates = np.empty((2 * size[0] * size[1] + 2, 3))  # at most two a line
    for axis in range(3):
        b, c = (1, 2) if axis == 0 else ((0, 2) if axis == 1 else (0, 1))
        low = np.empty((size[axis], size[b]), dtype=np.int64)
        high = np.empty((size[axis], size[b]), dtype=np.int64)
        for p in range(size[axis]):
            for q in range(size[b]):
                low[p, q], high[p, q] = size[c], -1
        for i in range(len(lattice)):
            p, q, r = lattice[i, axis], lattice[i, b], lattice[i, c]
            low[p, q] = min(low[p, q], r)
            high[p, q] = max(high[p, q], r)
        u, v = np.empty(2 * size[b]), np.empty(2 * size[b])
        hull = np.empty(2 * size[b] + 2, dtype=np.int64)
        for p in range(size[axis]):
            n = 0
            for q in range(size[b]):
                if high[p, q] < 0:
                    continue
                u[n] = q * 0.5 * spacing[b]
                v[n] = low[p, q] * 0.5 * spacing[c]
                n += 1
                if high[p, q] != low[p, q]:
                    u[n] = u[n - 1]
                    v[n] = high[p, q] * 0.5 * spacing[c]
                    n += 1
            if n == 0:
                continue
            best, k = _hull_farthest(u, v, n, hull)
            out[1 + axis] = max(out[1 + axis], best)
            if axis == 0:
                for h in range(k):
                    candidates[n_candidates, 0] = p * 0.5 * spacing[0]
                    candidates[n_candidates, 1] = u[hull[h]]
                    candidates[n_candidates, 2] = v[hull[h]]
                    n_candidates += 1
    for a in range(n_candidates):
        for b in range(a + 1, n_candidates):
            squared = 0.0
            for c in range(3):
                squared += (candidates[a, c] - candidates[b, c]) ** 2
            out[0] = max(out[0], squared)
    return out


@njit(cache=True, nogil=True)
def mesh(index: np.ndarray, sign: np.ndarray, triangles: np.ndarray, edge_points: np.ndarray,
         spacing: np.ndarray, vertex_edges: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(surface area, volume, vertices) of a marching-cubes mesh. ``index``/``sign``: each cube's table index
    (0..127) and orientation; ``triangles[index]``: its triangles' edges (-1: none); ``edge_points``: the edges'
    midpoints in the cube; ``vertex_edges``: (corner, edge) pairs, a vertex at the edge's midpoint of every cube
    whose index has the corner's bit. Area and volume in mm (``spacing``: z, y, x); the vertices on the
    half-voxel lattice (twice their voxel coordinates: whole numbers, for ``lattice_diameters``)."""
    nz, ny, nx = index.shape
    area = volume = 0.0
    corners = np.empty((3, 3))
    n_vertices = 0
    for cube in index.ravel():
        for k in range(len(vertex_edges)):
            n_vertices += (cube >> vertex_edges[k, 0]) & 1
    vertices = np.empty((n_vertices, 3), dtype=np.int64)
    n_vertices = 0
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                cube = index[z, y, x]
                if cube == 0:
                    continue
                for t in range(triangles.shape[1]):
                    if triangles[cube, t, 0] < 0:
                        break
                    for c in range(3):
                        edge = triangles[cube, t, c]
                        corners[c, 0] = (z + edge_points[edge, 0]) * spacing[0]
                        corners[c, 1] = (y + edge_points[edge, 1]) * spacing[1]
                        corners[c, 2] = (x + edge_points[edge, 2]) * spacing[2]
                    a, b, c_ = corners[0], corners[1], corners[2]
                    volume += sign[z, y, x] * ((a[1] * b[2] - a[2] * b[1]) * c_[0] + (a[2] * b[0] - a[0] * b[2]) * c_[1]
                                               + (a[0] * b[1] - a[1] * b[0]) * c_[2]) / 6
                    u0, u1, u2 = a[0] - c_[0], a[1] - c_[1], a[2] - c_[2]
                    v0, v1, v2 = b[0] - c_[0], b[1] - c_[1], b[2] - c_[2]
                    area += 0.5 * np.sqrt((u1 * v2 - u2 * v1) ** 2 + (u2 * v0 - u0 * v2) ** 2 + (u0 * v1 - u1 * v0) ** 2)
                for k in range(len(vertex_edges)):
                    corner, edge = vertex_edges[k, 0], vertex_edges[k, 1]
                    if cube & (1 << corner):
                        vertices[n_vertices, 0] = 2 * z + int(2 * edge_points[edge, 0])
                        vertices[n_vertices, 1] = 2 * y + int(2 * edge_points[edge, 1])
                        vertices[n_vertices, 2] = 2 * x + int(2 * edge_points[edge, 2])
                        n_vertices += 1
    return area, volume, vertices
