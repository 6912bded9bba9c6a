"""Neighbourhood grey tone difference matrix (NGTDM) features as the IBSI-1 reference manual defines them
(section 3.10), named as PyRadiomics names them.

Each ROI voxel with at least one neighbour in the ROI (Chebyshev distance 1: 8 in a slice, 26 in 3D)
adds |i - mean grey level of those neighbours| to s_i and one to n_i. The matrix is (n_i, s_i) per grey
level; merged matrices (2.5D) sum both.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..kernels import texture as kernels
from .aggregation import offsets, zonal

FEATURES = ("Coarseness", "Contrast", "Busyness", "Complexity", "Strength")


def ngtdm_matrices(levels: np.ndarray, n_levels: int, in_plane: bool, distances=(1,),
                   every_voxel: bool = False) -> np.ndarray:
    """``[slice, grey level - 1, (n_i, s_i)]`` for in-plane neighbourhoods (``in_plane``), else
    ``[grey level - 1, (n_i, s_i)]`` for 3D ones. ``levels``: 1.. inside the ROI, 0 outside (z, y, x).
    The neighbours: every voxel at a Chebyshev distance in ``distances`` (PyRadiomics' ``distances``).
    ``every_voxel``: n_i counts the voxels without a neighbour in the ROI too, as PyRadiomics counts them
    (the IBSI leaves them out; they add nothing to s_i either way)."""
    steps = np.array(offsets(distances, in_plane, bidirectional=True), dtype=np.int64).reshape(-1, 3)
    neighbours, sums, _ = kernels.neighbourhoods(np.ascontiguousarray(levels, dtype=np.int64), steps, 0.0)
    inside = levels > 0
    valid = inside & (neighbours > 0)
    grey = levels[valid]
    difference = np.abs(grey - sums[valid] / neighbours[valid])
    n_slices = levels.shape[0] if in_plane else 1
    index = (np.nonzero(valid)[0] if in_plane else 0) * n_levels + grey - 1
    counted = inside if every_voxel else valid
    count_index = (np.nonzero(counted)[0] if in_plane else 0) * n_levels + levels[counted] - 1
    out = np.zeros((n_slices * n_levels, 2))
    out[:, 0] = np.bincount(count_index, minlength=n_slices * n_levels)
    out[:, 1] = np.bincount(index, weights=difference, minlength=n_slices * n_levels)
    return out.reshape(n_slices, n_levels, 2) if in_plane else out


def features_from_matrix(matrix: np.ndarray, voxels: int = 0) -> dict[str, float]:
    """The NGTDM features of one matrix (grey levels x (n_i, s_i)); NaN without a voxel that has a neighbour.
    Coarseness of a matrix with all s_i = 0 is 1e6, as PyRadiomics gives it (the IBSI's is infinite)."""
    n, s = matrix[:, 0], matrix[:, 1]
    n_valid = n.sum()
    if n_valid == 0:
        return {name: float("nan") for name in FEATURES}
    present = n > 0
    p, s = (n / n_valid)[present], s[present]
    i = np.arange(1, matrix.shape[0] + 1, dtype=float)[present]
    n_present = int(present.sum())
    ps = p * s
    difference = i[:, None] - i[None, :]
    s_total = s.sum()
    coarseness = 1e6 if ps.sum() == 0 else 1 / ps.sum()
    contrast = 0.0 if n_present < 2 else float((p[:, None] * p[None, :] * difference ** 2).sum()
                                               / (n_present * (n_present - 1)) * s_total / n_valid)
    busyness_denominator = np.abs(i[:, None] * p[:, None] - i[None, :] * p[None, :]).sum()
    busyness = 0.0 if busyness_denominator == 0 else float(ps.sum() / busyness_denominator)
    complexity = float((np.abs(difference) * (ps[:, None] + ps[None, :]) / (p[:, None] + p[None, :])).sum() / n_valid)
    strength = 0.0 if s_total == 0 else float(((p[:, None] + p[None, :]) * difference ** 2).sum() / s_total)
    return {"Coarseness": float(coarseness), "Contrast": contrast, "Busyness": busyness, "Complexity": complexity,
            "Strength": strength}


def ngtdm_by_aggregation(levels: np.ndarray, n_levels: int, aggregations: Iterable[str],
                         distances=(1,), every_voxel: bool = False) -> dict[str, dict[str, float]]:
    """NGTDM features of a discretised ROI (1..n_levels inside, 0 outside; z, y, x, slices along z) for each
    aggregation (``aggregation.ZONAL``); ``every_voxel``: PyRadiomics' n_i (``ngtdm_matrices``)."""
    return zonal(lambda: ngtdm_matrices(levels, n_levels, True, distances, every_voxel),
                 lambda: ngtdm_matrices(levels, n_levels, False, distances, every_voxel),
                 (levels > 0).sum(axis=(1, 2)), features_from_matrix, aggregations)
