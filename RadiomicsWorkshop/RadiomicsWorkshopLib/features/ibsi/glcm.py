"""Grey level co-occurrence matrix (GLCM) features as the IBSI-1 reference manual defines them (section
3.6), named as PyRadiomics names them (IBSI joint variance is PyRadiomics' ``SumSquares``, sum variance its
``ClusterTendency``, dissimilarity its ``DifferenceAverage``).

The matrix of a direction counts voxel pairs (k, k + direction) inside the ROI by their grey levels,
symmetrically (each pair also as (j, i)), at Chebyshev distance 1. Differences from PyRadiomics' GLCM:
``Ng`` is the discretisation's number of grey levels (``n_levels``), not the levels present, which
changes the normalised inverse differences; grey levels are the IBSI's (``families`` numbers them).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .aggregation import DIRECTIONS, by_slice, directional

FEATURES = ("Autocorrelation", "JointAverage", "ClusterProminence", "ClusterShade", "ClusterTendency", "Contrast",
            "Correlation", "DifferenceAverage", "DifferenceEntropy", "DifferenceVariance", "JointEnergy",
            "JointEntropy", "Imc1", "Imc2", "Idm", "Idmn", "Id", "Idn", "InverseVariance", "MaximumProbability",
            "SumAverage", "SumEntropy", "SumSquares", "MCC")


def shifted_pairs(levels: np.ndarray, direction: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grey level at k, grey level at k + direction, slice of k) for every pair inside the ROI.
    ``levels``: grey levels 1.. inside the ROI, 0 outside (z, y, x)."""
    source = tuple(slice(max(-d, 0), n - max(d, 0)) for d, n in zip(direction, levels.shape))
    target = tuple(slice(max(d, 0), n - max(-d, 0)) for d, n in zip(direction, levels.shape))
    a, b = levels[source], levels[target]
    inside = (a > 0) & (b > 0)
    z = np.broadcast_to(np.arange(source[0].start, source[0].stop)[:, None, None], a.shape)
    return a[inside], b[inside], z[inside]


def cooccurrence(levels: np.ndarray, n_levels: int, directions=DIRECTIONS, symmetric: bool = True,
                 by_slice: bool = True) -> np.ndarray:
    """Co-occurrence counts ``[direction, slice, i - 1, j - 1]`` (slice: of the pair's first voxel), each pair
    also counted as (j, i) when ``symmetric``; ``by_slice`` False: all slices in one, ``[direction, 1, ...]``."""
    n_slices = levels.shape[0] if by_slice else 1
    out = np.zeros((len(directions), n_slices, n_levels, n_levels), dtype=np.float64)
    for d, direction in enumerate(directions):
        i, j, z = shifted_pairs(levels, direction)
        flat = ((z * n_levels if by_slice else 0) + (i - 1)) * n_levels + (j - 1)
        counts = np.bincount(flat, minlength=n_slices * n_levels * n_levels).reshape(n_slices, n_levels, n_levels)
        out[d] = counts + counts.transpose(0, 2, 1) if symmetric else counts
    return out


def _plogp(p: np.ndarray) -> np.ndarray:
    return np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0.0)


def features_from_matrix(counts: np.ndarray, voxels=0) -> dict:
    """The GLCM features of one matrix of counts (Ng x Ng: floats) or of a stack (``[k, i, j]``: arrays over
    k); NaN for an empty one."""
    m = np.asarray(counts, dtype=float)
    single = m.ndim == 2
    if single:
        m = m[None]
    k_count, n_levels = m.shape[0], m.shape[1]
    total = m.sum(axis=(1, 2))
    empty = total == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = m / total[:, None, None]
        levels = np.arange(1, n_levels + 1, dtype=float)
        i, j = levels[None, :, None], levels[None, None, :]
        px, py = p.sum(axis=2), p.sum(axis=1)
        mu_x, mu_y = px @ levels, py @ levels
        sigma_x = np.sqrt(((levels[None, :] - mu_x[:, None]) ** 2 * px).sum(axis=1))
        sigma_y = np.sqrt(((levels[None, :] - mu_y[:, None]) ** 2 * py).sum(axis=1))
        flat = p.reshape(k_count, -1)
        diff_index = np.abs(levels[:, None] - levels[None, :]).astype(int).ravel()
        sum_index = (levels[:, None] + levels[None, :]).astype(int).ravel()
        offsets = np.arange(k_count)[:, None]
        p_diff = np.bincount((offsets * n_levels + diff_index[None, :]).ravel(), weights=flat.ravel(),
                             minlength=k_count * n_levels).reshape(k_count, n_levels)
        width = 2 * n_levels + 1
        p_sum = np.bincount((offsets * width + sum_index[None, :]).ravel(), weights=flat.ravel(),
                            minlength=k_count * width).reshape(k_count, width)
        k = np.arange(n_levels, dtype=float)
        s_values = np.arange(width, dtype=float)
        difference_average = p_diff @ k
        sum_average = p_sum @ s_values
        cluster = i + j - (mu_x + mu_y)[:, None, None]
        joint_entropy = -_plogp(p).sum(axis=(1, 2))
        pxy = px[:, :, None] * py[:, None, :]
        hxy1 = -np.where(pxy > 0, p * np.log2(np.where(pxy > 0, pxy, 1)), 0.0).sum(axis=(1, 2))
        hxy2 = -_plogp(pxy).sum(axis=(1, 2))
        hx, hy = -_plogp(px).sum(axis=1), -_plogp(py).sum(axis=1)
        sigma = sigma_x * sigma_y
        covariance = ((i - mu_x[:, None, None]) * (j - mu_y[:, None, None]) * p).sum(axis=(1, 2))
        largest_h = np.maximum(hx, hy)
        out = {
            "Autocorrelation": (i * j * p).sum(axis=(1, 2)), "JointAverage": mu_x,
            "ClusterProminence": (cluster ** 4 * p).sum(axis=(1, 2)), "ClusterShade": (cluster ** 3 * p).sum(axis=(1, 2)),
            "ClusterTendency": (cluster ** 2 * p).sum(axis=(1, 2)), "Contrast": ((i - j) ** 2 * p).sum(axis=(1, 2)),
            "Correlation": np.where(sigma == 0, 1.0, covariance / np.where(sigma == 0, 1, sigma)),
            "DifferenceAverage": difference_average, "DifferenceEntropy": -_plogp(p_diff).sum(axis=1),
            "DifferenceVariance": ((k[None, :] - difference_average[:, None]) ** 2 * p_diff).sum(axis=1),
            "JointEnergy": (p ** 2).sum(axis=(1, 2)), "JointEntropy": joint_entropy,
            "Imc1": np.where(largest_h == 0, 0.0, (joint_entropy - hxy1) / np.where(largest_h == 0, 1, largest_h)),
            "Imc2": np.sqrt(np.maximum(0.0, 1 - np.exp(-2 * (hxy2 - joint_entropy)))),
            "Idm": p_diff @ (1 / (1 + k ** 2)), "Idmn": p_diff @ (1 / (1 + (k / n_levels) ** 2)),
            "Id": p_diff @ (1 / (1 + k)), "Idn": p_diff @ (1 / (1 + k / n_levels)),
            "InverseVariance": p_diff[:, 1:] @ (1 / k[1:] ** 2), "MaximumProbability": p.max(axis=(1, 2)),
            "SumAverage": sum_average, "SumEntropy": -_plogp(p_sum).sum(axis=1),
            "SumSquares": ((i - mu_x[:, None, None]) ** 2 * p).sum(axis=(1, 2)),
            "MCC": _mcc(p, px, py, empty),
        }
    for values in out.values():
        values[empty] = np.nan
    return {name: float(v[0]) for name, v in out.items()} if single else out


features_from_matrix.stacked = True


def _mcc(p: np.ndarray, px: np.ndarray, py: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Maximal correlation coefficient of each matrix of a stack, as PyRadiomics computes it: the square root
    of the second largest eigenvalue of Q (Q_ij = sum_k p_ik p_jk / (px_i py_k + eps)) over the grey levels
    present in the stack's matrices, a level without pairs in one matrix kept as zeros; 1 with one level."""
    present = (np.nansum(p, axis=(0, 2)) + np.nansum(p, axis=(0, 1))) > 0  # empty matrices are NaN
    out = np.full(len(p), np.nan)
    if present.sum() < 2:
        out[~empty] = 1.0
        return out
    eps = np.spacing(1)
    for n in np.nonzero(~empty)[0]:
        sub, pxs, pys = p[n][np.ix_(present, present)], px[n][present], py[n][present]
        q = (sub / (pxs[:, None] * pys[None, :] + eps)) @ sub.T
        eigenvalues = np.sort(np.linalg.eigvals(q))
        out[n] = np.sqrt(eigenvalues[-2]).real
    return out


def glcm_by_aggregation(levels: np.ndarray, n_levels: int, aggregations: Iterable[str], directions=None,
                        symmetric: bool = True, weights=None) -> dict[str, dict[str, float]]:
    """GLCM features of a discretised ROI (grey levels 1..n_levels inside, 0 outside; z, y, x, slices
    along z) for each of the IBSI's directional aggregations (``aggregation.DIRECTIONAL``). ``directions``:
    PyRadiomics' angles where its settings give others (``aggregation.offsets``; all then count as the
    aggregation's directions); ``weights``: per direction, for merging (its ``weightingNorm``)."""
    aggregations = tuple(aggregations)
    if directions is None:
        three_d = any(a.startswith("3D") for a in aggregations)
        directions = DIRECTIONS if three_d else DIRECTIONS[:4]
    matrices = cooccurrence(levels, n_levels, directions, symmetric, by_slice=by_slice(aggregations))
    in_plane = sum(1 for d in directions if d[0] == 0)
    return directional(matrices, (levels > 0).sum(axis=(1, 2)), features_from_matrix, aggregations, in_plane,
                       weights)
