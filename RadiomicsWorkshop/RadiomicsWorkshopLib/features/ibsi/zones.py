"""Zones: connected groups of voxels of one grey level, as the IBSI's GLSZM and GLDZM count them."""

from __future__ import annotations

import numpy as np

from ..kernels import texture as kernels


def zone_labels(levels: np.ndarray, mask: np.ndarray, in_plane: bool) -> np.ndarray:
    """Zone ids (1..): connected voxels of one grey level, 26-connected (8 in a slice with ``in_plane``,
    the slices apart); 0 outside the ROI. One labelling of all grey levels at once (``kernels.zone_labels``)."""
    data = np.ascontiguousarray(np.where(mask, levels, 0), dtype=np.int64)
    steps = np.array([(dz, dy, dx) for dz in ((0,) if in_plane else (-1, 0, 1)) for dy in (-1, 0, 1)
                      for dx in (-1, 0, 1) if (dz, dy, dx) != (0, 0, 0)], dtype=np.int64)
    return kernels.zone_labels(data, steps)
