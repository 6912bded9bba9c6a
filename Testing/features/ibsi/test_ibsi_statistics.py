"""Intensity statistics and intensity-histogram features PyRadiomics lacks, against the IBSI-1 reference
values of the digital phantom (3 + 8) and a hand-made case.

(In the extraction as part of the `IBSI` preset: features/ibsi/families.py, test_ibsi_phantom.py.)
"""

from __future__ import annotations

import numpy as np
from ibsitools import misses, phantom_arrays, reference_rows
from RadiomicsWorkshopLib.features.ibsi.statistics import dispersion_features, histogram_features

BY_FEATURE = {  # IBSI feature name -> ours
    "Intensity-based median absolute deviation": "MedianAbsoluteDeviation",
    "Intensity-based coefficient of variation": "CoefficientOfVariation",
    "Intensity-based quartile coefficient of dispersion": "QuartileCoefficientOfDispersion",
    "Intensity histogram mode": "Mode", "Intensity histogram median absolute deviation": "MedianAbsoluteDeviation",
    "Intensity histogram coefficient of variation": "CoefficientOfVariation",
    "Intensity histogram quartile coefficient of dispersion": "QuartileCoefficientOfDispersion",
    "Maximum histogram gradient": "MaximumHistogramGradient",
    "Maximum histogram gradient intensity": "MaximumHistogramGradientIntensity",
    "Minimum histogram gradient": "MinimumHistogramGradient",
    "Minimum histogram gradient intensity": "MinimumHistogramGradientIntensity",
}


def test_every_ibsi_reference_value_pyradiomics_lacks_is_reproduced():
    values, mask, _ = phantom_arrays()
    ours = {"Intensity-based statistical features": dispersion_features(values[mask]),
            "Intensity histogram features": histogram_features(values[mask], level_range=(1, 6))}
    rows = reference_rows(lambda r: r["feature"].isin(BY_FEATURE))
    assert len(rows) == 11
    assert not misses(rows, lambda row: ours[row.family][BY_FEATURE[row.feature]])


def test_hand_made_histogram():
    # Levels 1..5: counts 2, 0, 3, 3, 1. Two modes (3 and 4): the one nearest the mean (3.11) wins.
    levels = np.array([1, 1, 3, 3, 3, 4, 4, 4, 5])
    features = histogram_features(levels, level_range=(1, 5))
    assert features["Mode"] == 3.0
    # Gradient: [0-2, (3-2)/2, (3-0)/2, (1-3)/2, 1-3] = [-2, 0.5, 1.5, -1, -2]; the first minimum counts.
    assert features["MaximumHistogramGradient"] == 1.5 and features["MaximumHistogramGradientIntensity"] == 3.0
    assert features["MinimumHistogramGradient"] == -2.0 and features["MinimumHistogramGradientIntensity"] == 1.0
    assert np.isclose(dispersion_features(np.array([1.0, 2.0, 6.0]))["MedianAbsoluteDeviation"], 5 / 3)
