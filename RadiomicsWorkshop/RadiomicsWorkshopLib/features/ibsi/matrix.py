"""The features the IBSI defines alike on grey level x "second index" matrices: the zone distance of the
GLDZM, the dependence count of the NGLDM (rows: grey levels 1.., columns: the second index 1..)."""

from __future__ import annotations

import numpy as np

#: Generic names; each family renames them (``j`` is its second index: distance, dependence count).
GENERIC = ("small_j", "large_j", "low_i", "high_i", "small_j_low_i", "small_j_high_i", "large_j_low_i",
           "large_j_high_i", "i_nonuniformity", "i_nonuniformity_normalised", "j_nonuniformity",
           "j_nonuniformity_normalised", "percentage", "i_mean", "i_variance", "j_mean", "j_variance",
           "j_entropy", "j_energy")


def matrix_features(matrix: np.ndarray, voxels) -> dict:
    """The generic features of one matrix (floats) or of a stack of them (``[k, i, j]``: arrays over k); NaN
    for an empty one. ``voxels``: the ROI's voxel count (one per matrix of a stack)."""
    m = np.asarray(matrix, dtype=float)
    single = m.ndim == 2
    if single:
        m = m[None]
    voxels = np.broadcast_to(np.asarray(voxels, dtype=float), m.shape[:1])
    # columns without counts in any matrix add nothing to any feature: dropped, their j kept (zone sizes run to
    # the ROI's voxel count, mostly absent)
    used = m.any(axis=(0, 1))
    j = np.arange(1, m.shape[2] + 1, dtype=float)[used][None, None, :]
    m = m[:, :, used]
    total = m.sum(axis=(1, 2))
    empty = total == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = m / total[:, None, None]
        i = np.arange(1, m.shape[1] + 1, dtype=float)[None, :, None]
        by_i, by_j = m.sum(axis=2), m.sum(axis=1)

        def weighted(w) -> np.ndarray:
            return (p * w).sum(axis=(1, 2))

        i_mean, j_mean = weighted(i), weighted(j)
        plogp = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0.0)
        out = {
            "small_j": weighted(1 / j ** 2), "large_j": weighted(j ** 2), "low_i": weighted(1 / i ** 2),
            "high_i": weighted(i ** 2), "small_j_low_i": weighted(1 / (i ** 2 * j ** 2)),
            "small_j_high_i": weighted(i ** 2 / j ** 2), "large_j_low_i": weighted(j ** 2 / i ** 2),
            "large_j_high_i": weighted(i ** 2 * j ** 2),
            "i_nonuniformity": (by_i ** 2).sum(axis=1) / total, "i_nonuniformity_normalised": (by_i ** 2).sum(axis=1) / total ** 2,
            "j_nonuniformity": (by_j ** 2).sum(axis=1) / total, "j_nonuniformity_normalised": (by_j ** 2).sum(axis=1) / total ** 2,
            "percentage": total / voxels, "i_mean": i_mean, "i_variance": weighted((i - i_mean[:, None, None]) ** 2),
            "j_mean": j_mean, "j_variance": weighted((j - j_mean[:, None, None]) ** 2),
            "j_entropy": -plogp.sum(axis=(1, 2)), "j_energy": (p ** 2).sum(axis=(1, 2)),
        }
    for values in out.values():
        values[empty] = np.nan
    return {name: float(v[0]) for name, v in out.items()} if single else out


def renamed(features: dict, names: dict[str, str]) -> dict:
    """A family's features: ``names`` maps its feature names to the generic ones."""
    return {name: features[generic] for name, generic in names.items()}
