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


#: The columns of ``glcm_features``, in its order (``ibsi.glcm`` names them).
GLCM_COLUMNS = ("Autocorrelation", "JointAverage", "ClusterProminence", "ClusterShade", "ClusterTendency", "Contrast",
                "Correlation", "DifferenceAverage", "DifferenceEntropy", "DifferenceVariance", "JointEnergy",
                "JointEntropy", "Imc1", "Imc2", "Idm", "Idmn", "Id", "Idn", "InverseVariance", "MaximumProbability",
                "SumAverage", "SumEntropy", "SumSquares")


@njit(cache=True, nogil=True)
def _plogp(p: float) -> float:
    return p * np.log2(p) if p > 0 else 0.0


@njit(cache=True, nogil=True)
def _difference_sums(p_diff: np.ndarray, n: int) -> tuple:
    """The GLCM features of the grey level difference distribution ``p_diff[k]``, k = |i - j|: average,
    entropy, variance, Idm, Idmn, Id, Idn, inverse variance."""
    average = entropy = idm = idmn = inverse_difference = idn = inverse_variance = 0.0
    for k in range(n):
        average += k * p_diff[k]
        entropy -= _plogp(p_diff[k])
        idm += p_diff[k] / (1 + k * k)
        idmn += p_diff[k] / (1 + (k / n) ** 2)
        inverse_difference += p_diff[k] / (1 + k)
        idn += p_diff[k] / (1 + k / n)
        if k > 0:
            inverse_variance += p_diff[k] / (k * k)
    variance = 0.0
    for k in range(n):
        variance += (k - average) ** 2 * p_diff[k]
    return average, entropy, variance, idm, idmn, inverse_difference, idn, inverse_variance


@njit(cache=True, nogil=True)
def glcm_features(counts: np.ndarray) -> np.ndarray:
    """The GLCM features (``GLCM_COLUMNS``) of each matrix of counts ``[k, i - 1, j - 1]``: ``[k, feature]``,
    NaN for an empty matrix. As ibsi/glcm.py defines them (the IBSI's formulas), in one pass per matrix."""
    n_matrices, n = counts.shape[0], counts.shape[1]
    out = np.empty((n_matrices, len(GLCM_COLUMNS)))
    out[:] = np.nan
    px, py = np.empty(n), np.empty(n)
    p_diff, p_sum = np.empty(n), np.empty(2 * n + 1)
    for m in range(n_matrices):
        total = counts[m].sum()
        if total == 0:
            continue
        px[:] = 0.0
        py[:] = 0.0
        p_diff[:] = 0.0
        p_sum[:] = 0.0
        for a in range(n):
            for b in range(n):
                p = counts[m, a, b] / total
                px[a] += p
                py[b] += p
                p_diff[abs(a - b)] += p
                p_sum[a + b + 2] += p
        mu_x = mu_y = 0.0
        for a in range(n):
            mu_x += (a + 1) * px[a]
            mu_y += (a + 1) * py[a]
        var_x = var_y = hx = hy = 0.0
        for a in range(n):
            var_x += (a + 1 - mu_x) ** 2 * px[a]
            var_y += (a + 1 - mu_y) ** 2 * py[a]
            hx -= _plogp(px[a])
            hy -= _plogp(py[a])
        autocorrelation = prominence = shade = tendency = contrast = covariance = 0.0
        energy = entropy = hxy1 = hxy2 = largest = squares = 0.0
        for a in range(n):
            i = a + 1.0
            for b in range(n):
                j = b + 1.0
                p = counts[m, a, b] / total
                pxy = px[a] * py[b]
                hxy2 -= _plogp(pxy)
                if p == 0:
                    continue
                cluster = i + j - mu_x - mu_y
                autocorrelation += i * j * p
                prominence += cluster ** 4 * p
                shade += cluster ** 3 * p
                tendency += cluster ** 2 * p
                contrast += (i - j) ** 2 * p
                covariance += (i - mu_x) * (j - mu_y) * p
                energy += p * p
                entropy -= p * np.log2(p)
                if pxy > 0:
                    hxy1 -= p * np.log2(pxy)
                largest = max(largest, p)
                squares += (i - mu_x) ** 2 * p
        (difference_average, difference_entropy, difference_variance, idm, idmn, inverse_difference, idn,
         inverse_variance) = _difference_sums(p_diff, n)
        sum_average = sum_entropy = 0.0
        for s in range(2 * n + 1):
            sum_average += s * p_sum[s]
            sum_entropy -= _plogp(p_sum[s])
        sigma = np.sqrt(var_x) * np.sqrt(var_y)
        largest_h = max(hx, hy)
        row = out[m]  # written element by element: a list made into an array costs seconds of compilation
        row[0], row[1], row[2], row[3], row[4], row[5] = autocorrelation, mu_x, prominence, shade, tendency, contrast
        row[6] = 1.0 if sigma == 0 else covariance / sigma
        row[7], row[8], row[9], row[10], row[11] = (difference_average, difference_entropy, difference_variance,
                                                    energy, entropy)
        row[12] = 0.0 if largest_h == 0 else (entropy - hxy1) / largest_h
        row[13] = np.sqrt(max(0.0, 1 - np.exp(-2 * (hxy2 - entropy))))
        row[14], row[15], row[16], row[17], row[18] = idm, idmn, inverse_difference, idn, inverse_variance
        row[19], row[20], row[21], row[22] = largest, sum_average, sum_entropy, squares
    return out


#: The columns of ``matrix_features``, in its order: the generic features of ``ibsi.matrix`` (``j``: the second
#: index, a run length, zone size, distance or dependence count).
MATRIX_COLUMNS = ("small_j", "large_j", "low_i", "high_i", "small_j_low_i", "small_j_high_i", "large_j_low_i",
                  "large_j_high_i", "i_nonuniformity", "i_nonuniformity_normalised", "j_nonuniformity",
                  "j_nonuniformity_normalised", "percentage", "i_mean", "i_variance", "j_mean", "j_variance",
                  "j_entropy", "j_energy")


@njit(cache=True, nogil=True)
def matrix_features(counts: np.ndarray, j_values: np.ndarray, voxels: np.ndarray) -> np.ndarray:
    """The generic features (``MATRIX_COLUMNS``) of each matrix of counts ``[k, i - 1, column]``, column c
    holding second index ``j_values[c]``; ``voxels[k]``: the ROI's voxels behind matrix k. ``[k, feature]``,
    NaN for an empty matrix."""
    n_matrices, n_i, n_j = counts.shape
    out = np.empty((n_matrices, len(MATRIX_COLUMNS)))
    out[:] = np.nan
    by_j = np.empty(n_j)
    for m in range(n_matrices):
        total = counts[m].sum()
        if total == 0:
            continue
        sums = np.zeros(8)
        by_j[:] = 0.0
        i_square_sum = i_mean = j_mean = entropy = energy = 0.0
        for a in range(n_i):
            i2 = (a + 1.0) ** 2
            row = 0.0
            for c in range(n_j):
                count = counts[m, a, c]
                if count == 0:
                    continue
                p = count / total
                j2 = j_values[c] ** 2
                sums[0] += p / j2
                sums[1] += p * j2
                sums[2] += p / i2
                sums[3] += p * i2
                sums[4] += p / (i2 * j2)
                sums[5] += p * i2 / j2
                sums[6] += p * j2 / i2
                sums[7] += p * i2 * j2
                row += count
                by_j[c] += count
                i_mean += (a + 1) * p
                j_mean += j_values[c] * p
                entropy -= p * np.log2(p)
                energy += p * p
            i_square_sum += row * row
        i_variance = j_variance = 0.0
        for a in range(n_i):
            for c in range(n_j):
                if counts[m, a, c] != 0:
                    p = counts[m, a, c] / total
                    i_variance += (a + 1 - i_mean) ** 2 * p
                    j_variance += (j_values[c] - j_mean) ** 2 * p
        j_square_sum = 0.0
        for c in range(n_j):
            j_square_sum += by_j[c] * by_j[c]
        for c in range(8):
            out[m, c] = sums[c]
        result = out[m]
        result[8], result[9] = i_square_sum / total, i_square_sum / total ** 2
        result[10], result[11] = j_square_sum / total, j_square_sum / total ** 2
        result[12], result[13], result[14], result[15] = total / voxels[m], i_mean, i_variance, j_mean
        result[16], result[17], result[18] = j_variance, entropy, energy
    return out


@njit(cache=True, nogil=True)
def run_lengths(levels: np.ndarray, directions: np.ndarray, n_levels: int, by_slice: bool) -> np.ndarray:
    """Run counts ``[direction, slice, grey level - 1, length - 1]`` (slice: of the run's first voxel; one
    slice holding all where not ``by_slice``) of the runs of equal grey level along each direction (z, y, x
    steps). ``levels``: 1.. inside the ROI, 0 outside. The length axis ends at the longest run."""
    nz, ny, nx = levels.shape
    out = np.zeros((len(directions), nz if by_slice else 1, n_levels, max(nz, ny, nx)))
    longest = 1
    for d in range(len(directions)):
        dz, dy, dx = directions[d, 0], directions[d, 1], directions[d, 2]
        for z in range(nz):
            for y in range(ny):
                for x in range(nx):
                    level = levels[z, y, x]
                    if level == 0:
                        continue
                    pz, py, px = z - dz, y - dy, x - dx  # the previous voxel: a run starts where it differs
                    if 0 <= pz < nz and 0 <= py < ny and 0 <= px < nx and levels[pz, py, px] == level:
                        continue
                    length = 1
                    qz, qy, qx = z + dz, y + dy, x + dx
                    while 0 <= qz < nz and 0 <= qy < ny and 0 <= qx < nx and levels[qz, qy, qx] == level:
                        length += 1
                        qz, qy, qx = qz + dz, qy + dy, qx + dx
                    out[d, z if by_slice else 0, level - 1, length - 1] += 1
                    longest = max(longest, length)
    return out[:, :, :, :longest]


@njit(cache=True, nogil=True)
def cooccurrences(levels: np.ndarray, directions: np.ndarray, n_levels: int, symmetric: bool,
                  by_slice: bool) -> np.ndarray:
    """Co-occurrence counts ``[direction, slice, i - 1, j - 1]`` of the voxel pairs (k, k + direction) inside the
    ROI (slice: of k; one slice holding all where not ``by_slice``), each pair also counted as (j, i) where
    ``symmetric``. ``levels``: 1.. inside the ROI, 0 outside (z, y, x); ``directions``: z, y, x steps."""
    nz, ny, nx = levels.shape
    out = np.zeros((len(directions), nz if by_slice else 1, n_levels, n_levels))
    for d in range(len(directions)):
        dz, dy, dx = directions[d, 0], directions[d, 1], directions[d, 2]
        for z in range(max(0, -dz), min(nz, nz - dz)):
            s = z if by_slice else 0
            for y in range(max(0, -dy), min(ny, ny - dy)):
                for x in range(max(0, -dx), min(nx, nx - dx)):
                    a, b = levels[z, y, x], levels[z + dz, y + dy, x + dx]
                    if a > 0 and b > 0:
                        out[d, s, a - 1, b - 1] += 1
                        if symmetric:
                            out[d, s, b - 1, a - 1] += 1
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
