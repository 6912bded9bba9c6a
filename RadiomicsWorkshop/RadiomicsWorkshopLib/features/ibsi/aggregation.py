"""The IBSI's ways of turning per-slice and per-direction texture matrices into one feature value
(IBSI-1 reference manual, chapter 3, "Aggregating features" of each texture family).

Directional matrices (GLCM, GLRLM) come as an array ``matrices[direction, slice, ...]`` where each 3D
direction's matrix is split by the slice of its first voxel (so that summing over slices gives the 3D
matrix, and an in-plane direction's slice part is that slice's 2D matrix):

==========================  =============================================================
aggregation                 features of ...
==========================  =============================================================
``2D, averaged``            each in-plane direction of each slice, averaged
``2D, slice-merged``        each slice's in-plane directions summed, averaged over slices
``2.5D, direction-merged``  each in-plane direction summed over slices, averaged
``2.5D, merged``            every in-plane direction and slice summed
``3D, averaged``            each 3D direction, averaged
``3D, merged``              every 3D direction summed
==========================  =============================================================

Zone-type matrices (GLSZM, NGTDM, NGLDM): ``2D`` per slice averaged, ``2.5D`` slices summed, ``3D`` the
volume's own matrix (3D zones and neighbourhoods differ from the slices').
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, Mapping

import numpy as np

DIRECTIONAL = ("2D, averaged", "2D, slice-merged", "2.5D, direction-merged", "2.5D, merged", "3D, averaged",
               "3D, merged")
ZONAL = ("2D", "2.5D", "3D")
#: The 13 directions of a 3D neighbourhood at Chebyshev distance 1 (z, y, x; each line once), the first 4
#: in the slice (z = 0).
DIRECTIONS = ((0, 0, 1), (0, 1, 0), (0, 1, 1), (0, 1, -1),
              (1, 0, 0), (1, 0, 1), (1, 0, -1), (1, 1, 0), (1, -1, 0), (1, 1, 1), (1, 1, -1), (1, -1, 1),
              (1, -1, -1))
IN_PLANE = 4

def offsets(distances=(1,), in_plane: bool = False, bidirectional: bool = False) -> list[tuple[int, int, int]]:
    """The neighbours (z, y, x) at a Chebyshev distance in ``distances``, as PyRadiomics' angles: each line
    once (first non-zero step positive) unless ``bidirectional``; ``in_plane``: z = 0 only. For distance 1
    and one direction a line: DIRECTIONS, in its order."""
    reach = max(distances)
    found = []
    for offset in itertools.product(range(-reach, reach + 1), repeat=3):
        if max(abs(o) for o in offset) not in distances or (in_plane and offset[0]):
            continue
        if bidirectional or next(o for o in offset if o) > 0:
            found.append(offset)
    if list(distances) == [1] and not bidirectional:
        return [d for d in DIRECTIONS if not (in_plane and d[0])]
    return found


#: A feature function: (matrix, voxel count behind it) -> {feature: value}.
Features = Callable[[np.ndarray, int], Mapping[str, float]]


def by_slice(aggregations: Iterable[str]) -> bool:
    """Whether these directional aggregations need each slice's matrices (2D), not only their sum."""
    return any(a.startswith("2D") for a in aggregations)


def flat_directions(levels: np.ndarray, directions) -> list[int]:
    """The directions that step along an axis the ROI (levels > 0) spans one voxel of: no pairs or runs
    there but single voxels, which PyRadiomics leaves out (``imageoperations.generateAngles``) and so do we."""
    inside = levels > 0
    extent = [np.nonzero(inside.any(axis=tuple(a for a in range(3) if a != axis)))[0] for axis in range(3)]
    flat = [axis for axis, e in enumerate(extent) if e.size and e[-1] == e[0]]
    return [d for d, direction in enumerate(directions) if any(direction[axis] for axis in flat)]


def mean_features(values: list[Mapping[str, float]]) -> dict[str, float]:
    """Feature-wise mean over matrices, those without a value (NaN: an empty matrix) left out."""
    if not values:
        return {}
    names = list(values[0])
    return _nanmean(np.array([[v[n] for n in names] for v in values], dtype=float), names)


def _nanmean(stacked: np.ndarray, names: list[str]) -> dict[str, float]:
    """Column-wise mean of ``stacked`` ([matrix, feature]) without its NaNs; NaN where a column has no value."""
    with np.errstate(all="ignore"):
        kept = ~np.isnan(stacked)
        means = np.where(kept.any(axis=0), np.nansum(stacked, axis=0) / np.maximum(kept.sum(axis=0), 1), np.nan)
    return dict(zip(names, means.tolist()))


def averaged(features: Features, matrices: np.ndarray, voxels: np.ndarray) -> dict[str, float]:
    """The mean over a stack of matrices of their features: in one call where ``features`` takes a stack
    (its attribute ``stacked``), else matrix by matrix."""
    if len(matrices) == 0:
        return {}
    if getattr(features, "stacked", False):
        found = features(matrices, voxels)
        names = list(found)
        return _nanmean(np.stack([np.asarray(found[n], dtype=float) for n in names], axis=1), names)
    return mean_features([features(m, int(v)) for m, v in zip(matrices, voxels)])


def directional(matrices: np.ndarray, slice_voxels: np.ndarray, features: Features,
                aggregations: Iterable[str], in_plane: int = IN_PLANE,
                weights: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Features of directional matrices for each aggregation. ``slice_voxels``: the ROI's voxels per slice;
    a merged matrix's voxel count is the sum over the matrices merged (the IBSI's run percentage).
    ``in_plane``: how many of the first directions lie in the slice; ``weights``: per direction, for the
    merged ones (PyRadiomics' ``weightingNorm``; default 1)."""
    out = {}
    total = int(slice_voxels.sum())
    slices = np.nonzero(slice_voxels)[0]
    plane = matrices[:in_plane]
    weights = np.ones(len(matrices)) if weights is None else np.asarray(weights, dtype=float)
    present = matrices.reshape(len(matrices), -1).any(axis=1)  # a direction with nothing merges nothing
    for aggregation in aggregations:
        if aggregation == "2D, averaged":
            stack = plane[:, slices].transpose(1, 0, *range(2, plane.ndim)).reshape(-1, *plane.shape[2:])
            out[aggregation] = averaged(features, stack, np.repeat(slice_voxels[slices], in_plane))
        elif aggregation == "2D, slice-merged":
            out[aggregation] = averaged(features, plane[:, slices].sum(axis=0), in_plane * slice_voxels[slices])
        elif aggregation == "2.5D, direction-merged":
            out[aggregation] = averaged(features, plane.sum(axis=1), np.full(in_plane, total))
        elif aggregation == "2.5D, merged":
            w = weights[:in_plane]
            merged = np.tensordot(w, plane.sum(axis=1), axes=1)
            out[aggregation] = averaged(features, merged[None], np.array([(w * present[:in_plane]).sum() * total]))
        elif aggregation == "3D, averaged":
            out[aggregation] = averaged(features, matrices.sum(axis=1), np.full(len(matrices), total))
        elif aggregation == "3D, merged":
            merged = np.tensordot(weights, matrices.sum(axis=1), axes=1)
            out[aggregation] = averaged(features, merged[None], np.array([(weights * present).sum() * total]))
        else:
            raise ValueError(f"unknown directional aggregation {aggregation!r}; known: {DIRECTIONAL}")
    return out


def zonal(slice_matrices: Callable[[], np.ndarray], volume_matrix: Callable[[], np.ndarray],
          slice_voxels: np.ndarray, features: Features, aggregations: Iterable[str]) -> dict[str, dict[str, float]]:
    """Features of zone-type matrices for each aggregation; the matrices are made only when asked for
    (``slice_matrices()``: ``[slice, ...]`` of the in-plane matrices; ``volume_matrix()``: the 3D one)."""
    out = {}
    aggregations = tuple(aggregations)
    total = int(slice_voxels.sum())
    if {"2D", "2.5D"} & set(aggregations):
        per_slice = slice_matrices()
        if "2D" in aggregations:
            slices = np.nonzero(slice_voxels)[0]
            out["2D"] = averaged(features, per_slice[slices], slice_voxels[slices])
        if "2.5D" in aggregations:
            out["2.5D"] = averaged(features, per_slice.sum(axis=0)[None], np.array([total]))
    if "3D" in aggregations:
        out["3D"] = averaged(features, volume_matrix()[None], np.array([total]))
    unknown = set(aggregations) - set(ZONAL)
    if unknown:
        raise ValueError(f"unknown aggregation(s) {sorted(unknown)}; known: {ZONAL}")
    return out
