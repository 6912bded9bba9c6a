"""IBSI-1 intensity statistics and intensity-histogram features PyRadiomics lacks (sections 3.3 and 3.4):
median absolute deviation, coefficient of variation, quartile coefficient of dispersion, and, for the
histogram of discretised intensities, the mode and the histogram gradient's extremes.
"""

from __future__ import annotations

import numpy as np


def dispersion_features(values: np.ndarray) -> dict[str, float]:
    """Of the ROI's intensities (raw for the statistics family, discretised for the histogram family):
    mean absolute deviation from the median (the IBSI's "median absolute deviation"), coefficient of
    variation (population standard deviation / mean) and quartile coefficient of dispersion."""
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        return {}
    mean = values.mean()
    p25, p75 = np.percentile(values, [25, 75])
    return {"MedianAbsoluteDeviation": float(np.abs(values - np.median(values)).mean()),
            "CoefficientOfVariation": float(values.std() / mean) if mean else float("nan"),
            "QuartileCoefficientOfDispersion": float((p75 - p25) / (p75 + p25)) if p75 + p25 else float("nan")}


def histogram_features(levels: np.ndarray, level_range: tuple[int, int] | None = None) -> dict[str, float]:
    """Of the ROI's discretised intensities (grey levels; ``level_range`` lowest and highest level of the
    discretisation, default those present): the mode (the most frequent level; of several, the one
    nearest the mean) and the largest and smallest histogram gradient with their levels. The gradient is
    taken over every level of the range (absent levels count 0): a one-sided difference at both ends,
    central differences between."""
    levels = np.asarray(levels).ravel().astype(int)
    if levels.size == 0:
        return {}
    low, high = level_range or (int(levels.min()), int(levels.max()))
    grid = np.arange(low, high + 1)
    counts = np.array([(levels == level).sum() for level in grid], dtype=float)
    modes = grid[counts == counts.max()]
    mode = modes[np.argmin(np.abs(modes - levels.mean()))]
    gradient = np.gradient(counts) if counts.size > 1 else np.zeros(1)
    out = {"Mode": float(mode),
           "MaximumHistogramGradient": float(gradient.max()),
           "MaximumHistogramGradientIntensity": float(grid[int(np.argmax(gradient))]),
           "MinimumHistogramGradient": float(gradient.min()),
           "MinimumHistogramGradientIntensity": float(grid[int(np.argmin(gradient))])}
    return {**out, **dispersion_features(levels)}
