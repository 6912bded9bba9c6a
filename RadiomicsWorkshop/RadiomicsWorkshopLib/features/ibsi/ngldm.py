"""Neighbouring grey level dependence matrix (NGLDM) features as the IBSI-1 reference manual defines them
(section 3.11): all 17, for the three aggregations. PyRadiomics' GLDM is this matrix (alpha 0) but lacks
the normalised grey level non-uniformity, dependence count percentage and dependence count energy.

Each ROI voxel of grey level i has dependence count j = 1 + the number of its neighbours (Chebyshev
distance 1: 8 in a slice, 26 in 3D) inside the ROI whose grey level differs by at most ``alpha``; the
matrix counts voxels by (i, j). Aggregation: ``3D`` one matrix; ``2D`` per-slice features averaged;
``2.5D`` the slices' matrices summed.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..kernels import texture as kernels
from .aggregation import offsets
from .matrix import matrix_features, renamed

FEATURES = ("LowDependenceEmphasis", "HighDependenceEmphasis", "LowGrayLevelCountEmphasis",
            "HighGrayLevelCountEmphasis", "LowDependenceLowGrayLevelEmphasis", "LowDependenceHighGrayLevelEmphasis",
            "HighDependenceLowGrayLevelEmphasis", "HighDependenceHighGrayLevelEmphasis", "GrayLevelNonUniformity",
            "GrayLevelNonUniformityNormalized", "DependenceCountNonUniformity",
            "DependenceCountNonUniformityNormalized", "DependenceCountPercentage", "GrayLevelVariance",
            "DependenceCountVariance", "DependenceCountEntropy", "DependenceCountEnergy")


def dependence_counts(levels: np.ndarray, mask: np.ndarray, in_plane: bool, alpha: float = 0,
                      distances=(1,)) -> np.ndarray:
    """1 + the dependent neighbours of every voxel (z, y, x arrays; ``in_plane``: neighbours in the slice).
    Neighbours: the voxels at a Chebyshev distance in ``distances`` (PyRadiomics' ``distances``)."""
    roi = np.where(mask.astype(bool), levels, 0).astype(np.int64)
    steps = np.array(offsets(distances, in_plane=in_plane, bidirectional=True), dtype=np.int64).reshape(-1, 3)
    return kernels.neighbourhoods(roi, steps, float(alpha))[2] + 1


def _matrix(levels: np.ndarray, counts: np.ndarray, mask: np.ndarray, n_levels: int, width: int) -> np.ndarray:
    flat = (levels[mask].astype(np.int64) - 1) * width + counts[mask] - 1
    return np.bincount(flat, minlength=n_levels * width).reshape(n_levels, width)


NAMES = dict(zip(FEATURES, ("small_j", "large_j", "low_i", "high_i", "small_j_low_i", "small_j_high_i",
                             "large_j_low_i", "large_j_high_i", "i_nonuniformity", "i_nonuniformity_normalised",
                             "j_nonuniformity", "j_nonuniformity_normalised", "percentage", "i_variance",
                             "j_variance", "j_entropy", "j_energy")))


def features_from_matrix(matrix: np.ndarray, voxels: int) -> dict[str, float]:
    """The IBSI NGLDM features of one matrix (rows: grey levels 1.., columns: dependence counts 1..)."""
    return renamed(matrix_features(matrix, voxels), NAMES)


def ngldm_by_aggregation(levels: np.ndarray, mask: np.ndarray, n_levels: int | None = None,
                         aggregations: Iterable[str] = ("3D",), alpha: float = 0,
                         distances=(1,)) -> dict[str, dict[str, float]]:
    """NGLDM features of a discretised ROI (grey levels 1..n_levels; z, y, x arrays, slices along z) for each
    aggregation; 2D and 2.5D share the in-plane dependence counts."""
    aggregations = tuple(aggregations)
    if not set(aggregations) <= {"2D", "2.5D", "3D"}:
        raise ValueError("aggregation must be 2D, 2.5D or 3D")
    mask = mask.astype(bool)
    n_levels = n_levels or int(levels[mask].max())
    out = {}
    width_3d, width_2d = (1 + len(offsets(distances, plane, bidirectional=True)) for plane in (False, True))
    if "3D" in aggregations:
        counts = dependence_counts(levels, mask, False, alpha, distances)
        out["3D"] = features_from_matrix(_matrix(levels, counts, mask, n_levels, width_3d), int(mask.sum()))
    if {"2D", "2.5D"} & set(aggregations):
        counts = dependence_counts(levels, mask, True, alpha, distances)
        slices = [z for z in range(mask.shape[0]) if mask[z].any()]
        matrices = [_matrix(levels[z], counts[z], mask[z], n_levels, width_2d) for z in slices]
        if "2.5D" in aggregations:
            out["2.5D"] = features_from_matrix(sum(matrices), int(mask.sum()))
        if "2D" in aggregations:
            values = [features_from_matrix(m, int(mask[z].sum())) for m, z in zip(matrices, slices)]
            out["2D"] = {name: float(np.mean([v[name] for v in values])) for name in FEATURES}
    return out


def ngldm_features(levels: np.ndarray, mask: np.ndarray, n_levels: int | None = None, aggregation: str = "3D",
                   alpha: float = 0) -> dict[str, float]:
    """NGLDM features of a discretised ROI for one aggregation (see ``ngldm_by_aggregation``)."""
    return ngldm_by_aggregation(levels, mask, n_levels, (aggregation,), alpha)[aggregation]
