"""The features the IBSI defines alike on grey level x "second index" matrices: the zone distance of the
GLDZM, the dependence count of the NGLDM (rows: grey levels 1.., columns: the second index 1..)."""

from __future__ import annotations

import numpy as np

#: Generic names; each family renames them (``j`` is its second index: distance, dependence count).
GENERIC = ("small_j", "large_j", "low_i", "high_i", "small_j_low_i", "small_j_high_i", "large_j_low_i",
           "large_j_high_i", "i_nonuniformity", "i_nonuniformity_normalised", "j_nonuniformity",
           "j_nonuniformity_normalised", "percentage", "i_mean", "i_variance", "j_mean", "j_variance",
           "j_entropy", "j_energy")


def matrix_features(matrix: np.ndarray, voxels: int) -> dict[str, float]:
    """The generic features of one matrix; NaN for an empty one. ``voxels``: the ROI's voxel count."""
    total = matrix.sum()
    if total == 0:
        return {name: float("nan") for name in GENERIC}
    i = np.arange(1, matrix.shape[0] + 1, dtype=float)[:, None]
    j = np.arange(1, matrix.shape[1] + 1, dtype=float)[None, :]
    p = matrix / total
    by_i, by_j = matrix.sum(axis=1), matrix.sum(axis=0)
    i_mean, j_mean = float((i * p).sum()), float((j * p).sum())
    nonzero = p[p > 0]
    return {
        "small_j": float((p / j ** 2).sum()), "large_j": float((p * j ** 2).sum()),
        "low_i": float((p / i ** 2).sum()), "high_i": float((p * i ** 2).sum()),
        "small_j_low_i": float((p / (i ** 2 * j ** 2)).sum()), "small_j_high_i": float((p * i ** 2 / j ** 2).sum()),
        "large_j_low_i": float((p * j ** 2 / i ** 2).sum()), "large_j_high_i": float((p * i ** 2 * j ** 2).sum()),
        "i_nonuniformity": float((by_i ** 2).sum() / total), "i_nonuniformity_normalised": float((by_i ** 2).sum() / total ** 2),
        "j_nonuniformity": float((by_j ** 2).sum() / total), "j_nonuniformity_normalised": float((by_j ** 2).sum() / total ** 2),
        "percentage": float(total / voxels), "i_mean": i_mean, "i_variance": float(((i - i_mean) ** 2 * p).sum()),
        "j_mean": j_mean, "j_variance": float(((j - j_mean) ** 2 * p).sum()),
        "j_entropy": float(-(nonzero * np.log2(nonzero)).sum()), "j_energy": float((p ** 2).sum()),
    }


def renamed(features: dict[str, float], names: dict[str, str]) -> dict[str, float]:
    """A family's features: ``names`` maps its feature names to the generic ones."""
    return {name: features[generic] for name, generic in names.items()}
