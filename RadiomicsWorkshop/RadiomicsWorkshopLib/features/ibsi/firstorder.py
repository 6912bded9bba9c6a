"""PyRadiomics' first-order features, computed by us on the IBSI chain's intensity mask (``workshop:
convention: ibsi``), with PyRadiomics' definitions and names (its ``firstorder`` module: population
moments, numpy's linear percentiles, entropy and uniformity of the discretised intensities with its
epsilon). The IBSI's intensity statistics are the same numbers (kurtosis: the IBSI's is this minus 3).
Ours so that the intensity mask may be re-segmented by range and outliers together (``workshop:
outliers``), which PyRadiomics' one re-segmentation mode cannot give.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

#: PyRadiomics' first-order features when its section names none (StandardDeviation is deprecated there).
FEATURES = ("10Percentile", "90Percentile", "Energy", "Entropy", "InterquartileRange", "Kurtosis", "Maximum",
            "MeanAbsoluteDeviation", "Mean", "Median", "Minimum", "Range", "RobustMeanAbsoluteDeviation",
            "RootMeanSquared", "Skewness", "TotalEnergy", "Uniformity", "Variance")
ALL = FEATURES + ("StandardDeviation",)


def firstorder_features(values: np.ndarray, levels: np.ndarray, voxel_volume: float, shift: float = 0.0,
                        names: Iterable[str] | None = None) -> dict[str, float]:
    """First-order features of the ROI's intensities ``values`` and their grey levels ``levels`` (the same
    voxels); ``voxel_volume`` in mm^3 (TotalEnergy); ``shift``: PyRadiomics' ``voxelArrayShift``."""
    names = tuple(names) if names else FEATURES
    unknown = set(names) - set(ALL)
    if unknown:
        raise ValueError(f"unknown first-order feature(s) {sorted(unknown)}")
    x = np.asarray(values, dtype=float).ravel()
    mean = x.mean()
    centred = x - mean
    squared = centred * centred  # products, not powers: x ** 3 and x ** 4 cost a pow call a voxel
    m2, m3, m4 = float(squared.mean()), float((squared * centred).mean()), float((squared * squared).mean())
    p10, p25, p75, p90 = np.percentile(x, [10, 25, 75, 90])
    robust = x[(x >= p10) & (x <= p90)]
    counts = np.bincount(np.asarray(levels, dtype=np.int64).ravel() - int(np.min(levels)))
    counts = counts[counts > 0]
    p = counts / counts.sum()
    energy = float(((x + shift) ** 2).sum())
    out = {
        "10Percentile": float(p10), "90Percentile": float(p90), "Energy": energy,
        "Entropy": float(-(p * np.log2(p + np.spacing(1))).sum()), "InterquartileRange": float(p75 - p25),
        "Kurtosis": m4 / m2 ** 2 if m2 else 0.0, "Maximum": float(x.max()),
        "MeanAbsoluteDeviation": float(np.abs(centred).mean()), "Mean": float(mean), "Median": float(np.median(x)),
        "Minimum": float(x.min()), "Range": float(x.max() - x.min()),
        "RobustMeanAbsoluteDeviation": float(np.abs(robust - robust.mean()).mean()),
        "RootMeanSquared": float(np.sqrt(energy / x.size)), "Skewness": m3 / m2 ** 1.5 if m2 else 0.0,
        "TotalEnergy": energy * voxel_volume, "Uniformity": float((p ** 2).sum()), "Variance": float(np.std(x) ** 2),
        "StandardDeviation": float(np.std(x)),
    }
    return {name: out[name] for name in names}
