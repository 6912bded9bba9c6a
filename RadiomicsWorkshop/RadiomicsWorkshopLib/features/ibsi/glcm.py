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

from .aggregation import DIRECTIONS, directional

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


def cooccurrence(levels: np.ndarray, n_levels: int, directions=DIRECTIONS) -> np.ndarray:
    """Symmetric co-occurrence counts ``[direction, slice, i - 1, j - 1]`` (slice: of the pair's first voxel)."""
    n_slices = levels.shape[0]
    out = np.zeros((len(directions), n_slices, n_levels, n_levels), dtype=np.float64)
    for d, direction in enumerate(directions):
        i, j, z = shifted_pairs(levels, direction)
        flat = (z * n_levels + (i - 1)) * n_levels + (j - 1)
        counts = np.bincount(flat, minlength=n_slices * n_levels * n_levels).reshape(n_slices, n_levels, n_levels)
        out[d] = counts + counts.transpose(0, 2, 1)
    return out


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def features_from_matrix(counts: np.ndarray, voxels: int = 0) -> dict[str, float]:
    """The GLCM features of one matrix of counts (Ng x Ng); NaN for an empty one."""
    total = counts.sum()
    if total == 0:
        return {name: float("nan") for name in FEATURES}
    n_levels = counts.shape[0]
    p = counts / total
    levels = np.arange(1, n_levels + 1, dtype=float)
    i, j = levels[:, None], levels[None, :]
    px, py = p.sum(axis=1), p.sum(axis=0)
    mu_x, mu_y = float(levels @ px), float(levels @ py)
    sigma_x = float(np.sqrt(((levels - mu_x) ** 2) @ px))
    sigma_y = float(np.sqrt(((levels - mu_y) ** 2) @ py))
    k_diff = np.abs(i - j).astype(int)
    p_diff = np.bincount(k_diff.ravel(), weights=p.ravel(), minlength=n_levels)
    p_sum = np.bincount((i + j).astype(int).ravel(), weights=p.ravel(), minlength=2 * n_levels + 1)
    k = np.arange(n_levels, dtype=float)
    s = np.arange(2 * n_levels + 1, dtype=float)
    difference_average = float(k @ p_diff)
    sum_average = float(s @ p_sum)
    cluster = i + j - mu_x - mu_y
    joint_entropy = _entropy(p)
    pxy = px[:, None] * py[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        hxy1 = float(-(p[pxy > 0] * np.log2(pxy[pxy > 0])).sum())
    hxy2 = _entropy(pxy)
    hx, hy = _entropy(px), _entropy(py)
    correlation = 1.0 if sigma_x * sigma_y == 0 else float(((i - mu_x) * (j - mu_y) * p).sum() / (sigma_x * sigma_y))
    return {
        "Autocorrelation": float((i * j * p).sum()), "JointAverage": mu_x,
        "ClusterProminence": float((cluster ** 4 * p).sum()), "ClusterShade": float((cluster ** 3 * p).sum()),
        "ClusterTendency": float((cluster ** 2 * p).sum()), "Contrast": float(((i - j) ** 2 * p).sum()),
        "Correlation": correlation, "DifferenceAverage": difference_average,
        "DifferenceEntropy": _entropy(p_diff), "DifferenceVariance": float(((k - difference_average) ** 2) @ p_diff),
        "JointEnergy": float((p ** 2).sum()), "JointEntropy": joint_entropy,
        "Imc1": 0.0 if max(hx, hy) == 0 else (joint_entropy - hxy1) / max(hx, hy),
        "Imc2": float(np.sqrt(max(0.0, 1 - np.exp(-2 * (hxy2 - joint_entropy))))),
        "Idm": float(p_diff @ (1 / (1 + k ** 2))), "Idmn": float(p_diff @ (1 / (1 + (k / n_levels) ** 2))),
        "Id": float(p_diff @ (1 / (1 + k))), "Idn": float(p_diff @ (1 / (1 + k / n_levels))),
        "InverseVariance": float(p_diff[1:] @ (1 / k[1:] ** 2)), "MaximumProbability": float(p.max()),
        "SumAverage": sum_average, "SumEntropy": _entropy(p_sum),
        "SumSquares": float(((i - mu_x) ** 2 * p).sum()), "MCC": _mcc(p, px, py),
    }


def _mcc(p: np.ndarray, px: np.ndarray, py: np.ndarray) -> float:
    """Maximal correlation coefficient: the square root of Q's second largest eigenvalue (PyRadiomics' MCC)."""
    rows, columns = px > 0, py > 0
    p, px, py = p[np.ix_(rows, columns)], px[rows], py[columns]
    if p.shape[0] < 2:
        return 1.0
    q = (p / px[:, None]) @ (p / py[None, :]).T
    eigenvalues = np.sort(np.linalg.eigvals(q).real)
    return float(np.sqrt(max(eigenvalues[-2], 0.0)))


def glcm_by_aggregation(levels: np.ndarray, n_levels: int, aggregations: Iterable[str]) -> dict[str, dict[str, float]]:
    """GLCM features of a discretised ROI (grey levels 1..n_levels inside, 0 outside; z, y, x, slices
    along z) for each of the IBSI's directional aggregations (``aggregation.DIRECTIONAL``)."""
    aggregations = tuple(aggregations)
    three_d = any(a.startswith("3D") for a in aggregations)
    matrices = cooccurrence(levels, n_levels, DIRECTIONS if three_d else DIRECTIONS[:4])
    return directional(matrices, (levels > 0).sum(axis=(1, 2)), features_from_matrix, aggregations)
