"""Grey level size zone matrix (GLSZM) features as the IBSI-1 reference manual defines them (section 3.8),
named as PyRadiomics names them.

A zone is a connected group of ROI voxels of one grey level (8-connected in a slice, 26-connected in 3D;
``zones.zone_labels``); the matrix counts zones by grey level and size. Aggregations: ``2D`` features per
slice averaged, ``2.5D`` the slices' matrices summed, ``3D`` the volume's zones.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .aggregation import zonal
from .matrix import matrix_features, renamed
from .zones import zone_labels

FEATURES = ("SmallAreaEmphasis", "LargeAreaEmphasis", "GrayLevelNonUniformity", "GrayLevelNonUniformityNormalized",
            "SizeZoneNonUniformity", "SizeZoneNonUniformityNormalized", "GrayLevelVariance", "ZoneVariance",
            "ZoneEntropy", "LowGrayLevelZoneEmphasis", "HighGrayLevelZoneEmphasis", "SmallAreaLowGrayLevelEmphasis",
            "SmallAreaHighGrayLevelEmphasis", "LargeAreaLowGrayLevelEmphasis", "LargeAreaHighGrayLevelEmphasis",
            "ZonePercentage")
NAMES = dict(zip(FEATURES, ("small_j", "large_j", "i_nonuniformity", "i_nonuniformity_normalised", "j_nonuniformity",
                            "j_nonuniformity_normalised", "i_variance", "j_variance", "j_entropy", "low_i", "high_i",
                            "small_j_low_i", "small_j_high_i", "large_j_low_i", "large_j_high_i", "percentage")))


def zone_matrices(levels: np.ndarray, n_levels: int, in_plane: bool) -> np.ndarray:
    """Zone counts ``[slice, grey level - 1, size - 1]`` of the in-plane zones (``in_plane``), else
    ``[grey level - 1, size - 1]`` of the 3D zones. ``levels``: 1.. inside the ROI, 0 outside."""
    labels = zone_labels(levels, levels > 0, in_plane)
    inside = labels > 0
    ids = labels[inside] - 1
    sizes = np.bincount(ids)
    zone_level = np.zeros(sizes.size, dtype=np.int64)
    zone_level[ids] = levels[inside]
    width = max(int(sizes.max(initial=1)), 1)
    if not in_plane:
        return np.bincount((zone_level - 1) * width + sizes - 1,
                           minlength=n_levels * width).reshape(n_levels, width).astype(np.float64)
    zone_slice = np.zeros(sizes.size, dtype=np.int64)
    zone_slice[ids] = np.nonzero(inside)[0]
    n_slices = levels.shape[0]
    flat = (zone_slice * n_levels + zone_level - 1) * width + sizes - 1
    return np.bincount(flat, minlength=n_slices * n_levels * width).reshape(n_slices, n_levels, width).astype(float)


def features_from_matrix(matrix: np.ndarray, voxels: int) -> dict[str, float]:
    """The GLSZM features of one matrix (grey levels x zone sizes); ``voxels``: the ROI's, for the zone percentage."""
    return renamed(matrix_features(matrix, voxels), NAMES)


features_from_matrix.stacked = True  # a stack [k, i, j] gives arrays over k (``aggregation``)


def glszm_by_aggregation(levels: np.ndarray, n_levels: int, aggregations: Iterable[str]) -> dict[str, dict[str, float]]:
    """GLSZM features of a discretised ROI (1..n_levels inside, 0 outside; z, y, x, slices along z) for each
    aggregation (``aggregation.ZONAL``)."""
    return zonal(lambda: zone_matrices(levels, n_levels, True), lambda: zone_matrices(levels, n_levels, False),
                 (levels > 0).sum(axis=(1, 2)), features_from_matrix, aggregations)
