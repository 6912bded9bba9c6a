"""Compiled loops of the texture classes: co-occurrences, run lengths, neighbourhoods, and the GLCM's and the
generic matrices' features (one pass per matrix)."""

from __future__ import annotations

import numpy as np
from numba import njit


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
def _padded(levels: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(``levels`` padded with 0s by the offsets' reach and flattened, each ROI voxel's index in it, its slice,
    each offset (z, y, x steps) as a step in it): every neighbour a fixed index away, no bounds to check, and
    a line of voxels ends in the padding."""
    nz, ny, nx = levels.shape
    reach = 0
    for o in range(len(offsets)):
        for c in range(3):
            reach = max(reach, abs(offsets[o, c]))
    wide_y, wide_x = ny + 2 * reach, nx + 2 * reach
    padded = np.zeros((nz + 2 * reach) * wide_y * wide_x, dtype=np.int64)
    where = np.empty(nz * ny * nx, dtype=np.int64)
    slices = np.empty(nz * ny * nx, dtype=np.int64)
    n = 0
    for z in range(nz):
        for y in range(ny):
            start = ((z + reach) * wide_y + y + reach) * wide_x + reach
            for x in range(nx):
                level = levels[z, y, x]
                padded[start + x] = level
                if level > 0:
                    where[n], slices[n] = start + x, z
                    n += 1
    steps = np.empty(len(offsets), dtype=np.int64)
    for o in range(len(offsets)):
        steps[o] = (offsets[o, 0] * wide_y + offsets[o, 1]) * wide_x + offsets[o, 2]
    return padded, where[:n], slices[:n], steps


@njit(cache=True, nogil=True)
def run_lengths(levels: np.ndarray, directions: np.ndarray, n_levels: int, by_slice: bool) -> np.ndarray:
    """Run counts ``[direction, slice, grey level - 1, length - 1]`` (slice: of the run's first voxel; one
    slice holding all where not ``by_slice``) of the runs of equal grey level along each direction (z, y, x
    steps of -1, 0, 1). ``levels``: 1.. inside the ROI, 0 outside. The length axis ends at the longest run."""
    nz, ny, nx = levels.shape
    padded, where, slices, steps = _padded(levels, directions)
    out = np.zeros((len(directions), nz if by_slice else 1, n_levels, max(nz, ny, nx)))
    longest = 1
    for d in range(len(steps)):
        step = steps[d]
        for k in range(len(where)):
            i = where[k]
            level = padded[i]
            if padded[i - step] == level:  # a run starts where the previous voxel differs
                continue
            length = 1
            while padded[i + length * step] == level:
                length += 1
            out[d, slices[k] if by_slice else 0, level - 1, length - 1] += 1
            longest = max(longest, length)
    return out[:, :, :, :longest]


@njit(cache=True, nogil=True)
def cooccurrences(levels: np.ndarray, directions: np.ndarray, n_levels: int, symmetric: bool,
                  by_slice: bool) -> np.ndarray:
    """Co-occurrence counts ``[direction, slice, i - 1, j - 1]`` of the voxel pairs (k, k + direction) inside the
    ROI (slice: of k; one slice holding all where not ``by_slice``), each pair also counted as (j, i) where
    ``symmetric``. ``levels``: 1.. inside the ROI, 0 outside (z, y, x); ``directions``: z, y, x steps."""
    padded, where, slices, steps = _padded(levels, directions)
    out = np.zeros((len(directions), levels.shape[0] if by_slice else 1, n_levels, n_levels))
    for d in range(len(steps)):
        for k in range(len(where)):
            a, b = padded[where[k]], padded[where[k] + steps[d]]
            if b > 0:
                s = slices[k] if by_slice else 0
                out[d, s, a - 1, b - 1] += 1
                if symmetric:
                    out[d, s, b - 1, a - 1] += 1
    return out


@njit(cache=True, nogil=True)
def neighbourhoods(levels: np.ndarray, offsets: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every voxel of the ROI (``levels`` 1.., 0 outside; z, y, x): (its neighbours in the ROI, the sum of
    their grey levels, the dependent ones: |level - neighbour's level| <= ``alpha``), the neighbours being the
    voxels at ``offsets`` (z, y, x steps) from it; 0 outside the ROI. For the NGTDM and the NGLDM."""
    nz, ny, nx = levels.shape
    padded, where, _, steps = _padded(levels, offsets)
    neighbours = np.zeros(nz * ny * nx, dtype=np.int64)
    sums = np.zeros(nz * ny * nx)
    dependent = np.zeros(nz * ny * nx, dtype=np.int64)
    n = 0
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if levels[z, y, x] == 0:
                    continue
                level = padded[where[n]]
                count = total = same = 0
                for o in range(len(steps)):
                    other = padded[where[n] + steps[o]]
                    if other > 0:
                        count += 1
                        total += other
                        if abs(level - other) <= alpha:
                            same += 1
                flat = (z * ny + y) * nx + x
                neighbours[flat], sums[flat], dependent[flat] = count, total, same
                n += 1
    return neighbours.reshape(levels.shape), sums.reshape(levels.shape), dependent.reshape(levels.shape)


@njit(cache=True, nogil=True)
def zone_labels(levels: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Zone ids (1.., numbered in scan order): the ROI's voxels of one grey level connected through ``offsets``
    (z, y, x steps, each with its opposite); 0 outside the ROI (``levels`` 1.., 0 outside). Each zone is
    flooded from its first voxel, every voxel pushed once."""
    nz, ny, nx = levels.shape
    padded, where, _, steps = _padded(levels, offsets)
    labels = np.zeros(len(padded), dtype=np.int64)
    stack = np.empty(len(where), dtype=np.int64)
    zone = 0
    for seed in where:
        if labels[seed] != 0:
            continue
        zone += 1
        level = padded[seed]
        labels[seed] = zone
        stack[0] = seed
        top = 1
        while top > 0:
            top -= 1
            i = stack[top]
            for o in range(len(steps)):
                j = i + steps[o]
                if padded[j] == level and labels[j] == 0:
                    labels[j] = zone
                    stack[top] = j
                    top += 1
    out = np.zeros(levels.shape, dtype=np.int64)
    n = 0
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                if levels[z, y, x] > 0:
                    out[z, y, x] = labels[where[n]]
                    n += 1
    return out
