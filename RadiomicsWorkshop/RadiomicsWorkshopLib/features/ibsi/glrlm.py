"""Grey level run length matrix (GLRLM) features as the IBSI-1 reference manual defines them (section 3.7),
named as PyRadiomics names them.

A run is a line of consecutive ROI voxels of one grey level along a direction; the matrix of a direction
counts runs by grey level and length: a run starts at a voxel whose previous voxel along the direction is
outside the ROI (or the image) or of another level, and is walked to its end (``kernels.run_lengths``).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..kernels import texture as kernels
from .aggregation import DIRECTIONS, by_slice, directional, flat_directions
from .matrix import matrix_features, renamed

FEATURES = ("ShortRunEmphasis", "LongRunEmphasis", "GrayLevelNonUniformity", "GrayLevelNonUniformityNormalized",
            "RunLengthNonUniformity", "RunLengthNonUniformityNormalized", "RunPercentage", "GrayLevelVariance",
            "RunVariance", "RunEntropy", "LowGrayLevelRunEmphasis", "HighGrayLevelRunEmphasis",
            "ShortRunLowGrayLevelEmphasis", "ShortRunHighGrayLevelEmphasis", "LongRunLowGrayLevelEmphasis",
            "LongRunHighGrayLevelEmphasis")
NAMES = dict(zip(FEATURES, ("small_j", "large_j", "i_nonuniformity", "i_nonuniformity_normalised", "j_nonuniformity",
                            "j_nonuniformity_normalised", "percentage", "i_variance", "j_variance", "j_entropy",
                            "low_i", "high_i", "small_j_low_i", "small_j_high_i", "large_j_low_i",
                            "large_j_high_i")))


def run_length_matrices(levels: np.ndarray, n_levels: int, directions=DIRECTIONS, by_slice: bool = True) -> np.ndarray:
    """Run counts ``[direction, slice, grey level - 1, length - 1]`` (slice: of the run's first voxel);
    ``by_slice`` False: all slices in one, ``[direction, 1, ...]``. ``levels``: 1.. inside the ROI, 0 outside
    (z, y, x); ``directions``: steps of -1, 0, 1 per axis (``kernels.run_lengths`` walks each line once)."""
    return kernels.run_lengths(np.ascontiguousarray(levels, dtype=np.int64),
                               np.asarray(directions, dtype=np.int64).reshape(-1, 3), int(n_levels), by_slice)


def features_from_matrix(matrix: np.ndarray, voxels: int) -> dict[str, float]:
    """The GLRLM features of one matrix (grey levels x run lengths); ``voxels``: behind it, for the run
    percentage (a merged matrix: the sum over the matrices merged)."""
    return renamed(matrix_features(matrix, voxels), NAMES)


features_from_matrix.stacked = True  # a stack [k, i, j] gives arrays over k (``aggregation``)


def glrlm_by_aggregation(levels: np.ndarray, n_levels: int, aggregations: Iterable[str],
                         weights=None) -> dict[str, dict[str, float]]:
    """GLRLM features of a discretised ROI (1..n_levels inside, 0 outside; z, y, x, slices along z) for each
    of the IBSI's directional aggregations (``aggregation.DIRECTIONAL``); ``weights``: per direction (13 in
    3D, else the 4 in the slice), for merging (PyRadiomics' ``weightingNorm``)."""
    aggregations = tuple(aggregations)
    three_d = any(a.startswith("3D") for a in aggregations)
    directions = DIRECTIONS if three_d else DIRECTIONS[:4]
    matrices = run_length_matrices(levels, n_levels, directions, by_slice=by_slice(aggregations))
    matrices[flat_directions(levels, directions)] = 0  # runs of one voxel across a flat ROI: no direction
    return directional(matrices, (levels > 0).sum(axis=(1, 2)), features_from_matrix, aggregations,
                       weights=weights)
