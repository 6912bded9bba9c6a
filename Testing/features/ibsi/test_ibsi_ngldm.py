"""NGLDM features (all 17 as the IBSI defines them; PyRadiomics' GLDM lacks three of them) against the
IBSI-1 reference values of the digital phantom (51: 17 x 2D, 2.5D, 3D) and a hand-made case.

(In the extraction as part of the `IBSI` preset: features/ibsi/families.py, test_ibsi_phantom.py.)
"""

from __future__ import annotations

import numpy as np
from ibsitools import texture_family_misses
from RadiomicsWorkshopLib.features.ibsi.ngldm import dependence_counts, ngldm_features

IBSI_NAMES = {
    "Low dependence emphasis": "LowDependenceEmphasis", "High dependence emphasis": "HighDependenceEmphasis",
    "Low grey level count emphasis": "LowGrayLevelCountEmphasis",
    "High grey level count emphasis": "HighGrayLevelCountEmphasis",
    "Low dependence low grey level emphasis": "LowDependenceLowGrayLevelEmphasis",
    "Low dependence high grey level emphasis": "LowDependenceHighGrayLevelEmphasis",
    "High dependence low grey level emphasis": "HighDependenceLowGrayLevelEmphasis",
    "High dependence high grey level emphasis": "HighDependenceHighGrayLevelEmphasis",
    "Grey level non-uniformity": "GrayLevelNonUniformity",
    "Normalised grey level non-uniformity": "GrayLevelNonUniformityNormalized",
    "Dependence count non-uniformity": "DependenceCountNonUniformity",
    "Normalised dependence count non-uniformity": "DependenceCountNonUniformityNormalized",
    "Dependence count percentage": "DependenceCountPercentage", "Grey level variance": "GrayLevelVariance",
    "Dependence count variance": "DependenceCountVariance", "Dependence count entropy": "DependenceCountEntropy",
    "Dependence count energy": "DependenceCountEnergy",
}


def test_every_ibsi_reference_value_of_the_family_is_reproduced():
    assert not texture_family_misses("Neighbouring grey level dependence based features", 51, ngldm_features, IBSI_NAMES)


def test_hand_made_dependence_counts():
    # One slice, 3 x 3, all level 1 but the centre (2): corners have 2 equal neighbours (+1), edges 4 (+1).
    levels = np.ones((1, 3, 3), dtype=int)
    levels[0, 1, 1] = 2
    mask = np.ones(levels.shape, bool)
    counts = dependence_counts(levels, mask, in_plane=True)
    assert counts[0].tolist() == [[3, 5, 3], [5, 1, 5], [3, 5, 3]]
    # A neighbour outside the ROI does not count.
    mask[0, 0, 1] = False
    assert dependence_counts(levels, mask, in_plane=True)[0, 0, 0] == 2
    features = ngldm_features(levels, np.ones(levels.shape, bool), 2, "2D")
    assert features["DependenceCountPercentage"] == 1.0
    assert np.isclose(features["DependenceCountEnergy"], (4 / 9) ** 2 * 2 + (1 / 9) ** 2)
