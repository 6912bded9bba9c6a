"""Grey level run length matrix (GLRLM) features as the IBSI-1 reference manual defines them (section 3.7),
named as PyRadiomics names them.

A run is a line of consecutive ROI voxels of one grey level along a direction; the matrix of a direction
counts runs by grey level and length. Runs are found for all voxels at once: each voxel's line (its
position minus its step count along the direction) and step are one sort key, and a run starts wherever
the line, the step or the grey level does not continue.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

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


def runs(levels: np.ndarray, direction: tuple[int, int, int],
         voxels: tuple[tuple[np.ndarray, ...], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grey level, length, slice of the first voxel) of every run along ``direction`` (a step of -1, 0, 1
    per axis whose first non-zero step is +1). ``levels``: 1.. inside the ROI, 0 outside (z, y, x);
    ``voxels``: its ROI voxels' coordinates and levels, when known (``np.nonzero`` once for every direction)."""
    coordinates, value = voxels if voxels is not None else (np.nonzero(levels), None)
    if value is None:
        value = levels[coordinates]
    axis = next(a for a, d in enumerate(direction) if d)
    step = coordinates[axis]
    line = [c - step * d for c, d in zip(coordinates, direction)]
    size = max(levels.shape)
    key = np.zeros(step.shape, dtype=np.int64)
    for c in line:  # line coordinates lie within (-size, 2 size): shift and combine
        key = key * (3 * size) + (c + size)
    key = key * (levels.shape[axis] + 1) + step  # + 1: the last step of a line and the next line's first differ by 2
    order = np.argsort(key, kind="stable")
    key, value, z = key[order], value[order], coordinates[0][order]
    starts = np.ones(key.shape, dtype=bool)
    starts[1:] = (np.diff(key) != 1) | (value[1:] != value[:-1])
    first = np.nonzero(starts)[0]
    lengths = np.diff(np.append(first, key.size))
    return value[first], lengths, z[first]


def run_length_matrices(levels: np.ndarray, n_levels: int, directions=DIRECTIONS, by_slice: bool = True) -> np.ndarray:
    """Run counts ``[direction, slice, grey level - 1, length - 1]`` (slice: of the run's first voxel);
    ``by_slice`` False: all slices in one, ``[direction, 1, ...]``."""
    coordinates = np.nonzero(levels)
    voxels = (coordinates, levels[coordinates])
    found = [runs(levels, d, voxels) for d in directions]
    width = max((int(length.max()) for _, length, _ in found if length.size), default=1)
    n_slices = levels.shape[0] if by_slice else 1
    out = np.zeros((len(directions), n_slices, n_levels, width), dtype=np.float64)
    for d, (value, length, z) in enumerate(found):
        flat = ((z * n_levels if by_slice else 0) + (value - 1)) * width + (length - 1)
        out[d] = np.bincount(flat, minlength=n_slices * n_levels * width).reshape(n_slices, n_levels, width)
    return out


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
