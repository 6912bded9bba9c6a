"""The features the IBSI defines alike on grey level x "second index" matrices: the zone distance of the
GLDZM, the dependence count of the NGLDM (rows: grey levels 1.., columns: the second index 1..)."""

from __future__ import annotations

import numpy as np

from ..kernels import texture as kernels

#: Generic names; each family renames them (``j`` is its second index: distance, dependence count).
GENERIC = kernels.MATRIX_COLUMNS


def matrix_features(matrix: np.ndarray, voxels) -> dict:
    """The generic features of one matrix (floats) or of a stack of them (``[k, i, j]``: arrays over k); NaN
    for an empty one. ``voxels``: the ROI's voxel count (one per matrix of a stack). The sums run in one
    compiled pass per matrix (``kernels.matrix_features``)."""
    m = np.asarray(matrix, dtype=float)
    single = m.ndim == 2
    if single:
        m = m[None]
    voxels = np.ascontiguousarray(np.broadcast_to(np.asarray(voxels, dtype=float), m.shape[:1]))
    # columns without counts in any matrix add nothing to any feature: dropped, their j kept (zone sizes run to
    # the ROI's voxel count, mostly absent)
    used = m.any(axis=(0, 1))
    j_values = np.arange(1, m.shape[2] + 1, dtype=float)[used]
    found = kernels.matrix_features(np.ascontiguousarray(m[:, :, used]), j_values, voxels)
    out = {name: found[:, c] for c, name in enumerate(GENERIC)}
    return {name: float(v[0]) for name, v in out.items()} if single else out


def renamed(features: dict, names: dict[str, str]) -> dict:
    """A family's features: ``names`` maps its feature names to the generic ones."""
    return {name: features[generic] for name, generic in names.items()}
