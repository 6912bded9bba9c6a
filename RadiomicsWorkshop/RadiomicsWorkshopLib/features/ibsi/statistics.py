"""IBSI-1 intensity statistics PyRadiomics lacks (section 3.3: median absolute deviation, coefficient of
variation, quartile coefficient of dispersion) and the intensity-histogram family (section 3.4), which
the IBSI defines on the discretised intensities: PyRadiomics' firstorder has most of its features but
computes them on the intensities, and lacks the mode and the histogram gradients.
"""

from __future__ import annotations

import numpy as np


#: the intensity statistics of ``dispersion_features`` (PyRadiomics' firstorder has the IBSI's others)
DISPERSION = ("MedianAbsoluteDeviation", "CoefficientOfVariation", "QuartileCoefficientOfDispersion")


def dispersion_features(values: np.ndarray) -> dict[str, float]:
    """Of the ROI's intensities (raw for the statistics family, discretised for the histogram family):
    mean absolute deviation from the median (the IBSI's "median absolute deviation"), coefficient of
    variation (population standard deviation / mean) and quartile coefficient of dispersion."""
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        return {}
    mean = values.mean()
    p25, p75 = np.percentile(values, [25, 75])
    found = (float(np.abs(values - np.median(values)).mean()), float(values.std() / mean) if mean else float("nan"),
             float((p75 - p25) / (p75 + p25)) if p75 + p25 else float("nan"))
    return dict(zip(DISPERSION, found))


def histogram_features(levels: np.ndarray, level_range: tuple[int, int] | None = None) -> dict[str, float]:
    """The intensity-histogram family of the ROI's discretised intensities (grey levels; ``level_range``:
    lowest and highest level of the discretisation, default those present), but entropy and uniformity
    (PyRadiomics' firstorder computes those on the same grey levels).

    The statistics are those of the grey levels (PyRadiomics' firstorder takes the intensities: the same
    only when the intensities are the grey levels); kurtosis is the IBSI's excess kurtosis. The mode is
    the most frequent level (of several, the one nearest the mean); the histogram gradient is taken over
    every level of the range (absent levels count 0): a one-sided difference at both ends, central
    differences between.
    """
    levels = np.asarray(levels).ravel().astype(int)
    if levels.size == 0:
        return {}
    low, high = level_range or (int(levels.min()), int(levels.max()))
    grid = np.arange(low, high + 1)
    counts = np.bincount(levels - low, minlength=grid.size).astype(float)
    modes = grid[counts == counts.max()]
    mean = levels.mean()
    mode = modes[np.argmin(np.abs(modes - mean))]
    gradient = np.gradient(counts) if counts.size > 1 else np.zeros(1)
    deviation = levels - mean
    variance = float((deviation ** 2).mean())
    p10, p25, p75, p90 = np.percentile(levels, [10, 25, 75, 90])
    robust = levels[(levels >= p10) & (levels <= p90)]
    out = {"Mean": float(mean), "Variance": variance,
           "Skewness": float((deviation ** 3).mean() / variance ** 1.5) if variance else 0.0,
           "ExcessKurtosis": float((deviation ** 4).mean() / variance ** 2 - 3.0) if variance else 0.0,
           "Median": float(np.median(levels)), "Minimum": float(levels.min()), "10Percentile": float(p10),
           "90Percentile": float(p90), "Maximum": float(levels.max()), "InterquartileRange": float(p75 - p25),
           "Range": float(levels.max() - levels.min()), "MeanAbsoluteDeviation": float(np.abs(deviation).mean()),
           "RobustMeanAbsoluteDeviation": float(np.abs(robust - robust.mean()).mean()),
           "Mode": float(mode),
           "MaximumHistogramGradient": float(gradient.max()),
           "MaximumHistogramGradientIntensity": float(grid[int(np.argmax(gradient))]),
           "MinimumHistogramGradient": float(gradient.min()),
           "MinimumHistogramGradientIntensity": float(grid[int(np.argmin(gradient))])}
    return {**out, **dispersion_features(levels)}
