"""Grey level distance zone matrix (GLDZM) features, as the IBSI-1 reference manual defines them
(section 3.7; PyRadiomics has no GLDZM).

A zone is a connected group of voxels with the same discretised grey level
(8-connected in 2D, 26-connected in 3D). Its distance is the smallest distance to
the ROI edge among its voxels, where a voxel's distance to the edge is the number
of 4- (2D) or 6-connected (3D) steps to the nearest voxel outside the ROI
(voxels on the edge: 1). The matrix counts zones by grey level and distance.

Aggregation as the IBSI names it: ``3D`` one matrix of the volume; ``2D``
features of each slice's matrix, averaged over slices; ``2.5D`` the slices'
matrices summed, then features.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .ibsi_matrix import matrix_features, renamed

FEATURES = ("SmallDistanceEmphasis", "LargeDistanceEmphasis", "LowGrayLevelZoneEmphasis",
            "HighGrayLevelZoneEmphasis", "SmallDistanceLowGrayLevelEmphasis", "SmallDistanceHighGrayLevelEmphasis",
            "LargeDistanceLowGrayLevelEmphasis", "LargeDistanceHighGrayLevelEmphasis", "GrayLevelNonUniformity",
            "GrayLevelNonUniformityNormalized", "ZoneDistanceNonUniformity", "ZoneDistanceNonUniformityNormalized",
            "ZonePercentage", "GrayLevelMean", "GrayLevelVariance", "ZoneDistanceMean", "ZoneDistanceVariance",
            "ZoneDistanceEntropy")
AGGREGATIONS = ("2D", "2.5D", "3D")


def distance_to_edge(mask: np.ndarray) -> np.ndarray:
    """City-block steps from each ROI voxel to the nearest voxel outside the ROI (the image border counts
    as outside): 1 on the edge, 0 outside."""
    padded = np.pad(mask.astype(bool), 1)
    distance = ndimage.distance_transform_cdt(padded, metric="taxicab")
    return distance[tuple(slice(1, -1) for _ in range(mask.ndim))]


def gldzm(levels: np.ndarray, mask: np.ndarray, n_levels: int) -> tuple[np.ndarray, int]:
    """The matrix (grey level 1..n_levels x distance 1..max) of one 2D slice or 3D volume, and its voxel count.

    ``levels`` holds discretised grey levels 1..n_levels inside ``mask``.
    """
    mask = mask.astype(bool)
    distance = distance_to_edge(mask)
    max_distance = int(distance.max()) if mask.any() else 0
    matrix = np.zeros((n_levels, max(max_distance, 1)), dtype=np.int64)
    connectivity = np.ones((3,) * mask.ndim, dtype=bool)  # 8- (2D) or 26-connected (3D) zones
    for level in np.unique(levels[mask]):
        zones, count = ndimage.label(mask & (levels == level), structure=connectivity)
        if count:
            zone_distance = ndimage.minimum(distance, zones, index=np.arange(1, count + 1)).astype(int)
            np.add.at(matrix, (int(level) - 1, zone_distance - 1), 1)
    return matrix, int(mask.sum())


NAMES = dict(zip(FEATURES, ("small_j", "large_j", "low_i", "high_i", "small_j_low_i", "small_j_high_i",
                             "large_j_low_i", "large_j_high_i", "i_nonuniformity", "i_nonuniformity_normalised",
                             "j_nonuniformity", "j_nonuniformity_normalised", "percentage", "i_mean", "i_variance",
                             "j_mean", "j_variance", "j_entropy")))


def features_from_matrix(matrix: np.ndarray, voxels: int) -> dict[str, float]:
    """The IBSI GLDZM features of one matrix (rows: grey levels 1.., columns: distances 1..)."""
    return renamed(matrix_features(matrix, voxels), NAMES)


def _padded_sum(matrices: list[np.ndarray]) -> np.ndarray:
    width = max(m.shape[1] for m in matrices)
    return sum(np.pad(m, ((0, 0), (0, width - m.shape[1]))) for m in matrices)


def gldzm_features(levels: np.ndarray, mask: np.ndarray, n_levels: int | None = None,
                   aggregation: str = "3D") -> dict[str, float]:
    """GLDZM features of a discretised ROI (arrays in z, y, x order; slices along z) for one aggregation."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}")
    mask = mask.astype(bool)
    n_levels = n_levels or int(levels[mask].max())
    if aggregation == "3D":
        return features_from_matrix(*gldzm(levels, mask, n_levels))
    per_slice = [gldzm(levels[z], mask[z], n_levels) for z in range(mask.shape[0]) if mask[z].any()]
    if aggregation == "2.5D":
        return features_from_matrix(_padded_sum([m for m, _ in per_slice]), sum(v for _, v in per_slice))
    values = [features_from_matrix(m, v) for m, v in per_slice]
    return {name: float(np.mean([v[name] for v in values])) for name in FEATURES}
