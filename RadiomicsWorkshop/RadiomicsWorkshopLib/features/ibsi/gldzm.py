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

from typing import Iterable

import numpy as np
from scipy import ndimage

from .matrix import matrix_features, renamed
from .zones import zone_labels

FEATURES = ("SmallDistanceEmphasis", "LargeDistanceEmphasis", "LowGrayLevelZoneEmphasis",
            "HighGrayLevelZoneEmphasis", "SmallDistanceLowGrayLevelEmphasis", "SmallDistanceHighGrayLevelEmphasis",
            "LargeDistanceLowGrayLevelEmphasis", "LargeDistanceHighGrayLevelEmphasis", "GrayLevelNonUniformity",
            "GrayLevelNonUniformityNormalized", "ZoneDistanceNonUniformity", "ZoneDistanceNonUniformityNormalized",
            "ZonePercentage", "GrayLevelMean", "GrayLevelVariance", "ZoneDistanceMean", "ZoneDistanceVariance",
            "ZoneDistanceEntropy")
AGGREGATIONS = ("2D", "2.5D", "3D")


def distance_to_edge(mask: np.ndarray, in_plane: bool = False) -> np.ndarray:
    """City-block steps from each ROI voxel to the nearest voxel outside the ROI (the image border counts
    as outside): 1 on the edge, 0 outside. ``in_plane``: steps within each slice (axis 0) only."""
    mask = mask.astype(bool)
    padded = np.pad(mask, 1)
    metric = "taxicab"
    if in_plane:
        metric = np.zeros((3, 3, 3), dtype=bool)
        metric[1] = ndimage.generate_binary_structure(2, 1)
    distance = ndimage.distance_transform_cdt(padded, metric=metric)
    return distance[tuple(slice(1, -1) for _ in range(mask.ndim))]


def _zone_table(levels: np.ndarray, mask: np.ndarray, in_plane: bool,
                distance_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per zone: grey level, distance (its voxels' smallest distance to the edge) and slice (axis 0). Zones
    are found in ``mask`` (the intensity mask), distances to the edge of ``distance_mask`` (the morphological
    mask, as the IBSI defines the GLDZM; default ``mask``)."""
    zones = zone_labels(levels, mask, in_plane)
    distance = distance_to_edge(mask if distance_mask is None else distance_mask, in_plane)
    count = int(zones.max())
    inside = zones > 0
    ids = zones[inside] - 1
    zone_level = np.zeros(count, dtype=np.int64)
    zone_slice = np.zeros(count, dtype=np.int64)
    zone_level[ids] = levels[inside]
    zone_slice[ids] = np.nonzero(inside)[0]
    zone_distance = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(zone_distance, ids, distance[inside])
    return zone_level, zone_distance, zone_slice


def gldzm(levels: np.ndarray, mask: np.ndarray, n_levels: int,
          distance_mask: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """The matrix (grey level 1..n_levels x distance 1..max) of one 2D slice or 3D volume, and its voxel count.

    ``levels`` holds discretised grey levels 1..n_levels inside ``mask``; distances to ``distance_mask``'s edge.
    """
    mask = mask.astype(bool)
    distance_mask = mask if distance_mask is None else distance_mask.astype(bool)
    flat = mask.ndim == 2  # one slice: 8-connected zones, 4-connected distances
    zone_level, zone_distance, _ = _zone_table(levels[None] if flat else levels, mask[None] if flat else mask,
                                               in_plane=flat,
                                               distance_mask=distance_mask[None] if flat else distance_mask)
    matrix = np.zeros((n_levels, max(int(zone_distance.max(initial=1)), 1)), dtype=np.int64)
    np.add.at(matrix, (zone_level - 1, zone_distance - 1), 1)
    return matrix, int(mask.sum())


NAMES = dict(zip(FEATURES, ("small_j", "large_j", "low_i", "high_i", "small_j_low_i", "small_j_high_i",
                             "large_j_low_i", "large_j_high_i", "i_nonuniformity", "i_nonuniformity_normalised",
                             "j_nonuniformity", "j_nonuniformity_normalised", "percentage", "i_mean", "i_variance",
                             "j_mean", "j_variance", "j_entropy")))


def features_from_matrix(matrix: np.ndarray, voxels: int) -> dict[str, float]:
    """The IBSI GLDZM features of one matrix (rows: grey levels 1.., columns: distances 1..)."""
    return renamed(matrix_features(matrix, voxels), NAMES)


def gldzm_by_aggregation(levels: np.ndarray, mask: np.ndarray, n_levels: int | None = None,
                         aggregations: Iterable[str] = ("3D",),
                         distance_mask: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """GLDZM features of a discretised ROI (arrays in z, y, x order; slices along z) for each aggregation;
    2D and 2.5D share the in-plane zones. ``mask``: the intensity mask (zones); ``distance_mask``: the
    morphological mask (distances to its edge; default ``mask``)."""
    aggregations = tuple(aggregations)
    if not set(aggregations) <= set(AGGREGATIONS):
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}")
    mask = mask.astype(bool)
    n_levels = n_levels or int(levels[mask].max(initial=1))
    out = {}
    if "3D" in aggregations:
        out["3D"] = features_from_matrix(*gldzm(levels, mask, n_levels, distance_mask))
    if {"2D", "2.5D"} & set(aggregations):
        zone_level, zone_distance, zone_slice = _zone_table(levels, mask, in_plane=True, distance_mask=distance_mask)
        width = max(int(zone_distance.max(initial=1)), 1)
        if "2.5D" in aggregations:
            matrix = np.zeros((n_levels, width), dtype=np.int64)
            np.add.at(matrix, (zone_level - 1, zone_distance - 1), 1)
            out["2.5D"] = features_from_matrix(matrix, int(mask.sum()))
        if "2D" in aggregations:
            slices = np.nonzero(mask.any(axis=(1, 2)))[0]
            matrices = np.zeros((mask.shape[0], n_levels, width), dtype=np.int64)
            np.add.at(matrices, (zone_slice, zone_level - 1, zone_distance - 1), 1)
            voxels = mask.sum(axis=(1, 2))
            values = [features_from_matrix(matrices[z], int(voxels[z])) for z in slices]
            out["2D"] = {name: float(np.mean([v[name] for v in values])) for name in FEATURES}
    return out


def gldzm_features(levels: np.ndarray, mask: np.ndarray, n_levels: int | None = None,
                   aggregation: str = "3D", distance_mask: np.ndarray | None = None) -> dict[str, float]:
    """GLDZM features of a discretised ROI for one aggregation (see ``gldzm_by_aggregation``)."""
    return gldzm_by_aggregation(levels, mask, n_levels, (aggregation,), distance_mask)[aggregation]
