"""Zones: connected groups of voxels of one grey level, as the IBSI's GLSZM and GLDZM count them."""

from __future__ import annotations

import numpy as np


def zone_labels(levels: np.ndarray, mask: np.ndarray, in_plane: bool) -> np.ndarray:
    """Zone ids (1..): connected voxels of one grey level, 26-connected (8 in a slice with ``in_plane``,
    the slices apart); 0 outside the ROI. One labelling of all grey levels at once."""
    from skimage.measure import label

    data = np.where(mask, levels, 0)
    if not in_plane:
        return label(data, background=0, connectivity=data.ndim)
    spaced = np.zeros((2 * data.shape[0] - 1,) + data.shape[1:], dtype=data.dtype)
    spaced[::2] = data  # an empty slice between slices: no zone reaches across
    return label(spaced, background=0, connectivity=3)[::2]
